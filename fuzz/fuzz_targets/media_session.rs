//! Any bytes, split at 0xFF, as what reaches one media session: datagrams from the caller or
//! from strangers, INFO bodies, keys, plays, renegotiations and time passing (by each piece's
//! first byte). The session never panics and its output stays one packet per tick.
#![no_main]

use ivr_core::Time;
use ivr_core::media::g711::Law;
use ivr_core::media::session::{Input, MediaConfig, MediaSession, Output};
use libfuzzer_sys::fuzz_target;
use std::net::SocketAddr;

fuzz_target!(|data: &[u8]| {
    let caller = SocketAddr::from(([10, 0, 0, 2], 4000));
    let stranger = SocketAddr::from(([10, 0, 0, 66], 4000));
    let mut s = MediaSession::new(MediaConfig::default(), Time(0), [1, 2, 3]);
    let mut now = Time(0);
    for piece in data.split(|b| *b == 0xFF) {
        let Some((&op, rest)) = piece.split_first() else {
            continue;
        };
        match op % 6 {
            0 => s.handle_input(
                Input::Datagram {
                    from: caller,
                    bytes: rest,
                },
                now,
            ),
            1 => s.handle_input(
                Input::Datagram {
                    from: stranger,
                    bytes: rest,
                },
                now,
            ),
            2 => s.handle_input(
                Input::Info {
                    content_type: "application/dtmf-relay",
                    body: rest,
                },
                now,
            ),
            3 => {
                let law = if rest.first().is_some_and(|b| b & 1 == 1) {
                    Law::Pcma
                } else {
                    Law::Pcmu
                };
                s.renegotiate(
                    law,
                    rest.get(1).map(|b| b & 0x7F),
                    rest.get(2).is_some_and(|b| b & 1 == 1),
                );
            }
            _ => now = now.plus(u64::from(rest.first().copied().unwrap_or(20))),
        }
        let mut sent = 0;
        while s.poll_timeout().is_some_and(|t| t <= now) {
            s.handle_timeout(now);
            while let Some(o) = s.poll_output() {
                if let Output::Transmit { .. } = o {
                    sent += 1;
                }
            }
            assert!(sent < 100_000);
        }
        while s.poll_output().is_some() {}
    }
});

//! Any bytes as RTP telephone-event packets (and the time between them): the RFC 4733
//! receiver never panics, and its reports are no more than the packets that came.
#![no_main]

use ivr_core::Time;
use ivr_core::media::dtmf::rfc4733::Receiver;
use ivr_core::media::rtp::{self, Datagram};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut rx = Receiver::new(101);
    let mut reports = Vec::new();
    let mut now = Time(0);
    for piece in data.split(|b| *b == 0xFF) {
        now = now.plus(u64::from(piece.first().copied().unwrap_or(0)));
        if let Datagram::Rtp(p) = rtp::parse(piece) {
            let _ = rx.handle(&p, now, &mut reports);
        }
        if rx.poll_timeout().is_some_and(|t| t <= now) {
            rx.handle_timeout(now, &mut reports);
        }
    }
    rx.handle_timeout(now.plus(10_000), &mut reports);
    assert!(reports.len() <= data.len() + 1);
});

//! Any bytes as what the far end sends the softphone: the UAC (responses, requests in and out
//! of its dialog, digest challenges) never panics, and everything it sends is a request it
//! may send or a response. Split at 0xFF into a sequence of datagrams; the first is answered
//! with the UAC's own Call-ID spliced in (`CALLID`), so dialog states are reached.
#![no_main]

use ivr_core::media::g711::Law;
use ivr_core::sip::digest::Challenge;
use ivr_core::sip::transaction::Timers;
use ivr_core::softphone::uac::{Uac, UacConfig};
use ivr_core::{Key, Time};
use libfuzzer_sys::fuzz_target;
use std::net::SocketAddr;

fuzz_target!(|data: &[u8]| {
    let server = SocketAddr::from(([127, 0, 0, 1], 5060));
    let mut uac = Uac::new(
        UacConfig {
            local: SocketAddr::from(([127, 0, 0, 1], 5062)),
            server,
            target: "sip:940@127.0.0.1:5060".into(),
            user: "1000".into(),
            rtp: SocketAddr::from(([127, 0, 0, 1], 30000)),
            prefer: vec![Law::Pcmu, Law::Pcma],
            event_pt: 101,
            timers: Timers::default(),
            credentials: Some(("1000".into(), "secret".into())),
            call_id: None,
        },
        7,
        Time(0),
    );
    let call_id = uac.call_id().to_string();
    let mut now = 0;
    for chunk in data.split(|&b| b == 0xff) {
        now += 100;
        let text = String::from_utf8_lossy(chunk).replace("CALLID", &call_id);
        let _ = Challenge::parse(&text);
        uac.handle_input(
            ivr_core::sip::Input::udp(text.as_bytes(), server),
            Time(now),
        );
        if now % 700 == 0 {
            uac.send_info(Key::D5, 100, Time(now));
        }
        if now % 900 == 0 {
            let rtp = SocketAddr::from(([127, 0, 0, 1], 30_002));
            uac.reinvite(rtp, &[Law::Pcma], Time(now));
        }
        if now % 1100 == 0 {
            uac.hangup(Time(now));
        }
        while let Some(t) = uac.poll_timeout().filter(|t| t.0 <= now) {
            uac.handle_timeout(t);
        }
        while let Some((_, b)) = uac.poll_transmit() {
            assert!(
                [
                    &b"INVITE "[..],
                    b"ACK ",
                    b"CANCEL ",
                    b"BYE ",
                    b"INFO ",
                    b"NOTIFY ",
                    b"SIP/2.0 "
                ]
                .iter()
                .any(|p| b.starts_with(p)),
                "{}",
                String::from_utf8_lossy(&b)
            );
        }
        while uac.poll_event().is_some() {}
    }
});

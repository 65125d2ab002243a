//! Nothing from the network panics the SIP endpoint: requests with random edits, fed to an
//! endpoint that has calls in every state, get an answer that is itself a SIP response, or
//! nothing; the endpoint keeps serving afterwards.

use ivr_core::Time;
use ivr_core::sip::endpoint::{Endpoint, EndpointConfig, Event, Output};
use proptest::prelude::*;
use std::net::SocketAddr;

const INVITE: &str = "INVITE sip:940@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.7:5062;branch=z9hG4bKp1;rport\r\nMax-Forwards: 70\r\nFrom: <sip:c@192.0.2.7>;tag=f1\r\nTo: <sip:940@127.0.0.1>\r\nCall-ID: prop@192.0.2.7\r\nCSeq: 1 INVITE\r\nContact: <sip:c@192.0.2.7:5062>\r\nContent-Type: application/sdp\r\nContent-Length: 91\r\n\r\nv=0\r\no=- 1 1 IN IP4 192.0.2.7\r\ns=-\r\nc=IN IP4 192.0.2.7\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0 101\r\n";

fn source() -> SocketAddr {
    "192.0.2.7:5062".parse().expect("literal address")
}

/// An endpoint with one unanswered call and one answered call.
fn busy_endpoint() -> Endpoint {
    let mut cfg = EndpointConfig::default();
    cfg.allow
        .push("192.0.2.0/24".parse().expect("literal network"));
    let mut ep = Endpoint::new(cfg, 7);
    ep.handle_input(
        ivr_core::sip::Input::udp(INVITE.as_bytes(), source()),
        Time(0),
    );
    let second = INVITE
        .replace("prop@", "prop2@")
        .replace("z9hG4bKp1", "z9hG4bKp2");
    ep.handle_input(
        ivr_core::sip::Input::udp(second.as_bytes(), source()),
        Time(0),
    );
    let mut calls = Vec::new();
    while let Some(o) = ep.poll_output() {
        if let Output::Event(Event::Offered { call, .. }) = o {
            calls.push(call);
        }
    }
    assert_eq!(calls.len(), 2);
    ep.answer(calls[1], 20_000, Time(1)).expect("answers");
    while ep.poll_output().is_some() {}
    ep
}

#[derive(Debug, Clone)]
enum Edit {
    Set(usize, u8),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Set(i, b)),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(i, v)| Edit::Insert(i, v)),
        (any::<usize>(), 1usize..40).prop_map(|(i, n)| Edit::Delete(i, n)),
        // Textual edits that hit the parser's interesting places.
        (
            any::<usize>(),
            prop::sample::select(vec![
                ":",
                ";",
                ",",
                "\r\n",
                " ",
                "<",
                ">",
                "\"",
                "\r\n ",
                "tag=",
                "0",
                "-1",
                "99999999999"
            ])
        )
            .prop_map(|(i, s)| Edit::Insert(i, s.as_bytes().to_vec())),
    ]
}

fn apply(base: &[u8], edits: &[Edit]) -> Vec<u8> {
    let mut v = base.to_vec();
    for e in edits {
        let n = v.len().max(1);
        match e {
            Edit::Set(i, b) => {
                if !v.is_empty() {
                    v[i % n] = *b;
                }
            }
            Edit::Insert(i, bytes) => {
                let at = i % (v.len() + 1);
                v.splice(at..at, bytes.iter().copied());
            }
            Edit::Delete(i, len) => {
                let at = i % n;
                let end = (at + len).min(v.len());
                if at < end {
                    v.drain(at..end);
                }
            }
        }
    }
    v
}

fn bases() -> Vec<Vec<u8>> {
    let answered = |m: &str, cseq: &str| {
        INVITE
            .replace("INVITE sip", &format!("{m} sip"))
            .replace("1 INVITE", cseq)
            .replace("prop@", "prop2@")
            .replace("To: <sip:940@127.0.0.1>", "To: <sip:940@127.0.0.1>;tag=x")
            .into_bytes()
    };
    vec![
        INVITE.as_bytes().to_vec(),
        INVITE.replace("INVITE sip", "CANCEL sip").replace("1 INVITE", "1 CANCEL").into_bytes(),
        answered("BYE", "2 BYE"),
        answered("INFO", "2 INFO"),
        answered("ACK", "1 ACK"),
        b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\nCall-ID: x\r\nCSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n".to_vec(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(512)
    ))]

    #[test]
    fn edited_messages_never_panic_and_answers_are_responses(
        which in 0usize..6,
        edits in prop::collection::vec(edit(), 1..6),
        later in 0u64..100_000,
    ) {
        let mut ep = busy_endpoint();
        let msg = apply(&bases()[which], &edits);
        ep.handle_input(ivr_core::sip::Input::udp(&msg, source()), Time(10));
        ep.handle_timeout(Time(10 + later));
        while let Some(o) = ep.poll_output() {
            if let Output::Transmit { bytes, .. } = o {
                prop_assert!(
                    bytes.starts_with(b"SIP/2.0 ") || bytes.starts_with(b"BYE "),
                    "{}", String::from_utf8_lossy(&bytes)
                );
            }
        }
        // Still serving: a fresh call is offered.
        let fresh = INVITE.replace("prop@", "fresh@").replace("z9hG4bKp1", "z9hG4bKf");
        ep.handle_input(ivr_core::sip::Input::udp(fresh.as_bytes(), source()), Time(20 + later));
        let mut offered = false;
        while let Some(o) = ep.poll_output() {
            offered |= matches!(o, Output::Event(Event::Offered { .. }));
        }
        prop_assert!(offered);
    }
}

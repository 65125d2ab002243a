//! Any bytes as an SDP offer: the parser and the negotiation never panic, and an agreed
//! codec is one we offered to take.
#![no_main]

use ivr_core::media::g711::Law;
use ivr_core::sip::sdp;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(offer) = sdp::parse_offer(text)
        && let Ok(a) = offer.negotiate(&[Law::Pcmu, Law::Pcma])
    {
        assert!(matches!(a.law, Law::Pcmu | Law::Pcma));
        let _ = sdp::write(&a, "127.0.0.1".parse().expect("literal"), 20_000, 1, 1);
    }
});

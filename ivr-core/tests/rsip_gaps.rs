//! Why the SIP codec is our own (DESIGN.md: "if it blocks conformance, the adapter is where a
//! SIP codec of our own replaces it"): the gaps of `rsip` 0.4 that the SIP issue lists,
//! measured on the same inputs our codec passes. If a future rsip closes them, this test
//! fails and the decision should be revisited.

use ivr_core::sip::codec;
use rsip::prelude::HeadersExt;

#[path = "support/shared.rs"]
mod shared;
#[path = "support/wire.rs"]
mod wire;

const INVITE: &str = "INVITE sip:940@10.0.0.1 SIP/2.0\r\n\
Via: SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bKa, SIP/2.0/UDP 10.0.0.3;branch=z9hG4bKb\r\n\
Max-Forwards: 70\r\nFrom: <sip:a@10.0.0.2>;tag=1\r\nTo: <sip:940@10.0.0.1>\r\n\
i: gaps@10.0.0.2\r\nCSeq: 1 INVITE\r\nContact: <sip:a@10.0.0.2>\r\nl: 0\r\n\r\n";

#[test]
fn compact_headers_are_not_understood_by_rsip() {
    let ours = codec::parse_datagram(INVITE.as_bytes()).expect("our codec reads it");
    assert_eq!(ours.header("call-id"), Some("gaps@10.0.0.2"));
    let theirs = rsip::SipMessage::try_from(INVITE).expect("rsip parses the text");
    assert!(
        theirs.call_id_header().is_err(),
        "rsip does not map `i:` to Call-ID (RFC 3261 §7.3.3 requires accepting it)"
    );
}

#[test]
fn unknown_methods_are_refused_by_rsip() {
    let m = INVITE.replacen("INVITE sip", "NEWMETHOD sip", 1);
    assert!(
        codec::parse_datagram(m.as_bytes()).is_ok(),
        "ours reads it (then 501)"
    );
    assert!(
        rsip::SipMessage::try_from(m.as_str()).is_err(),
        "rsip cannot parse a request it does not know, so it cannot be answered 501"
    );
}

#[test]
fn rsip_ignores_content_length() {
    // A body shorter than its Content-Length: a truncated datagram (RFC 3261 §18.3: 400).
    let m = INVITE.replace("l: 0\r\n\r\n", "Content-Length: 100\r\n\r\nv=0\r\n");
    assert!(
        codec::parse_datagram(m.as_bytes()).is_err(),
        "ours rejects it"
    );
    assert!(
        rsip::SipMessage::try_from(m.as_str()).is_ok(),
        "rsip accepts the truncated message"
    );
}

#[test]
fn rsip_keeps_one_via_value_per_line() {
    use rsip::headers::ToTypedHeader;
    let theirs = rsip::SipMessage::try_from(INVITE).expect("parses");
    let typed = theirs.via_header().expect("a Via").typed();
    // The typed Via holds one value; the second (10.0.0.3) on the same line is lost to it.
    let kept = typed.map(|v| format!("{v}")).unwrap_or_default();
    assert!(
        !kept.contains("10.0.0.3"),
        "rsip's typed Via now keeps both values: {kept}"
    );
}

#[test]
fn valid_torture_messages_rsip_cannot_parse() {
    let Some(dir) = shared::testdata("sip-torture") else {
        return;
    };
    // Messages RFC 4475/5118 call valid that our codec accepts.
    let valid = [
        "wsinv",
        "intmeth",
        "esc01",
        "escnull",
        "esc02",
        "lwsdisp",
        "longreq",
        "dblreq",
        "semiuri",
        "transports",
        "mpart01",
        "unreason",
        "noreason",
        "ipv6-ipv6-good",
        "ipv6-port-ambiguous",
        "ipv6-port-unambiguous",
        "ipv6-via-received-param-with-delim",
        "ipv6-via-received-param-no-delim",
        "ipv6-ipv6-in-sdp",
        "ipv6-mult-ip-in-header",
        "ipv6-mult-ip-in-sdp",
        "ipv6-ipv4-mapped-ipv6",
        "ipv6-ipv6-correct-abnf-2-colons",
    ];
    let mut refused = Vec::new();
    for name in valid {
        let bytes = wire::on_the_wire(&dir, name);
        assert!(
            codec::parse_datagram(&bytes).is_ok(),
            "our codec accepts {name}"
        );
        if rsip::SipMessage::try_from(bytes.as_slice()).is_err() {
            refused.push(name);
        }
    }
    println!(
        "rsip 0.4 cannot parse {} valid torture messages: {refused:?}",
        refused.len()
    );
    // docs/sip-conformance.md quotes this figure.
    assert_eq!(
        refused.len(),
        14,
        "rsip now refuses {refused:?}: update docs/sip-conformance.md (and revisit the decision)"
    );
}

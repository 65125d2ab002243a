//! Every RFC 4475 and RFC 5118 torture message through the codec, against the verdicts in
//! shared/testdata/sip-torture/README.md. "Liberal accept" cases are accepted here.

use ivr_core::sip::codec::{self, CodecError, Start};
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Want {
    /// Parses.
    Accept,
    /// Parses; the method is not implemented (501).
    NotImplemented,
    /// A request answered with this code.
    Reject(u16),
    /// A response dropped.
    Drop,
}

#[path = "support/shared.rs"]
mod shared;
#[path = "support/wire.rs"]
mod wire;
use wire::on_the_wire;

fn dir() -> Option<PathBuf> {
    shared::testdata("sip-torture")
}

fn verdict(bytes: &[u8]) -> Want {
    match codec::parse_datagram(bytes) {
        Ok(m) if !codec::method_supported(&m) => Want::NotImplemented,
        Ok(_) => Want::Accept,
        Err(CodecError::Reject { code, .. }) => Want::Reject(code),
        Err(CodecError::Drop(_)) => Want::Drop,
    }
}

const TABLE: &[(&str, Want)] = &[
    ("wsinv", Want::Accept),
    ("intmeth", Want::NotImplemented),
    ("esc01", Want::Accept),
    ("escnull", Want::NotImplemented),
    ("esc02", Want::NotImplemented),
    ("lwsdisp", Want::Accept),
    ("longreq", Want::Accept),
    ("dblreq", Want::NotImplemented),
    ("semiuri", Want::Accept),
    ("transports", Want::Accept),
    ("mpart01", Want::NotImplemented),
    ("unreason", Want::Accept),
    ("noreason", Want::Accept),
    ("badinv01", Want::Reject(400)),
    ("clerr", Want::Reject(400)),
    ("ncl", Want::Reject(400)),
    ("scalar02", Want::Reject(400)),
    ("scalarlg", Want::Drop),
    ("quotbal", Want::Reject(400)),
    ("ltgtruri", Want::Reject(400)),
    ("lwsruri", Want::Reject(400)),
    ("lwsstart", Want::Accept),
    ("trws", Want::Accept),
    ("escruri", Want::Accept),
    ("baddate", Want::Accept),
    ("regbadct", Want::NotImplemented),
    ("badaspec", Want::Accept),
    ("baddn", Want::Reject(400)),
    ("badvers", Want::Reject(505)),
    ("mismatch01", Want::Reject(400)),
    ("mismatch02", Want::NotImplemented),
    ("bigcode", Want::Drop),
    ("badbranch", Want::Accept),
    ("insuf", Want::Reject(400)),
    ("unkscm", Want::Accept),
    ("novelsc", Want::Accept),
    ("unksm2", Want::NotImplemented),
    ("bext01", Want::Accept),
    ("invut", Want::Accept),
    ("regaut01", Want::NotImplemented),
    ("multi01", Want::Reject(400)),
    ("mcl01", Want::Reject(400)),
    ("bcast", Want::Accept),
    ("zeromf", Want::Accept),
    ("cparam01", Want::NotImplemented),
    ("cparam02", Want::NotImplemented),
    ("regescrt", Want::NotImplemented),
    ("sdp01", Want::Accept),
    ("inv2543", Want::Accept),
    ("test", Want::Reject(400)),
    ("ipv6-ipv6-good", Want::NotImplemented),
    ("ipv6-ipv6-bad", Want::Reject(400)),
    ("ipv6-port-ambiguous", Want::NotImplemented),
    ("ipv6-port-unambiguous", Want::NotImplemented),
    ("ipv6-via-received-param-with-delim", Want::Accept),
    ("ipv6-via-received-param-no-delim", Want::Accept),
    ("ipv6-ipv6-in-sdp", Want::Accept),
    ("ipv6-mult-ip-in-header", Want::Accept),
    ("ipv6-mult-ip-in-sdp", Want::Accept),
    ("ipv6-ipv4-mapped-ipv6", Want::Accept),
    ("ipv6-ipv6-bug-abnf-3-colons", Want::Accept),
    ("ipv6-ipv6-correct-abnf-2-colons", Want::Accept),
];

#[test]
fn every_torture_message_gets_its_verdict() {
    let Some(d) = dir() else {
        return;
    };
    let files = std::fs::read_dir(&d)
        .expect("dir")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "dat"))
        })
        .count();
    assert_eq!(files, TABLE.len(), "every file has a verdict");
    let mut wrong = Vec::new();
    for (name, want) in TABLE {
        let bytes = on_the_wire(&d, name);
        let got = verdict(&bytes);
        if got != *want {
            wrong.push(format!(
                "{name}: want {want:?}, got {got:?} ({:?})",
                codec::parse_datagram(&bytes).err()
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[test]
fn details_of_valid_messages() {
    let Some(d) = dir() else { return };
    let read = |n: &str| std::fs::read(d.join(format!("{n}.dat"))).expect("readable");
    // dblreq (a REGISTER, which this endpoint then answers 501): the trailing
    // INVITE-looking octets are not the body.
    let m = codec::parse_datagram(&read("dblreq")).expect("accept");
    assert!(m.body.is_empty());
    // mpart01: the binary body is framed by Content-Length exactly.
    let m = codec::parse_datagram(&read("mpart01")).expect("accept");
    assert_eq!(m.body.len(), 553);
    // wsinv: compact names expanded, folded lines joined, odd case handled.
    let m = codec::parse_datagram(&read("wsinv")).expect("accept");
    assert!(m.values("via").len() >= 2);
    assert_eq!(m.header("max-forwards"), Some("0068"));
    assert!(m.header("subject").is_some());
    // noreason: empty reason phrase.
    let m = codec::parse_datagram(&read("noreason")).expect("accept");
    assert_eq!(
        m.start,
        Start::Response {
            code: 100,
            reason: String::new()
        }
    );
}

#[test]
fn stream_framing() {
    let mut f = codec::Framer::default();
    let msg = b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\nContent-Length: 4\r\n\r\nbody";
    let mut stream = b"\r\n".to_vec();
    stream.extend_from_slice(msg);
    stream.extend_from_slice(msg);
    // Arrives in pieces.
    for chunk in stream.chunks(17) {
        f.push(chunk);
    }
    let mut got = Vec::new();
    while let Some(codec::Framed::Message(m)) = f.next_message() {
        got.push(codec::parse_datagram(&m).expect("parses").body);
    }
    assert_eq!(got, vec![b"body".to_vec(), b"body".to_vec()]);
    let mut f = codec::Framer::default();
    f.push(b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: -5\r\n\r\n");
    assert!(matches!(f.next_message(), Some(codec::Framed::Broken(_))));
}

mod never_panics {
    use proptest::prelude::*;

    const SEED: &[u8] = b"INVITE sip:a@b SIP/2.0\r\nv: SIP/2.0/UDP h;branch=z9hG4bK1\r\nf: <sip:x@y>;tag=1\r\nt: \"A, B\" <sip:a@b>\r\ni: c\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\nl: 3\r\n\r\nabc";

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = ivr_core::sip::codec::parse_datagram(&bytes);
            let mut f = ivr_core::sip::codec::Framer::default();
            f.push(&bytes);
            while let Some(ivr_core::sip::codec::Framed::Message(_)) = f.next_message() {}
        }

        #[test]
        fn mutated_messages(edits in proptest::collection::vec((0usize..SEED.len(), any::<u8>()), 1..8), cut in 0usize..SEED.len()) {
            let mut m = SEED.to_vec();
            for (i, b) in edits {
                m[i] = b;
            }
            let _ = ivr_core::sip::codec::parse_datagram(&m);
            let _ = ivr_core::sip::codec::parse_datagram(&m[..cut]);
        }
    }
}

/// RFC 4475 §3.3: valid messages that the endpoint must still refuse, after the codec accepted
/// them (screening per RFC 3261 §8.2).
#[test]
fn application_layer_answers() {
    use ivr_core::sip::screen::{Refusal, screen};
    let Some(d) = dir() else { return };
    let answer = |name: &str| {
        let bytes = std::fs::read(d.join(format!("{name}.dat"))).expect("readable");
        let m = codec::parse_datagram(&bytes).expect("the codec accepts it");
        screen(&m)
    };
    let code = |name: &str| match answer(name) {
        Err(Refusal::Respond { code, .. }) => Some(code),
        Err(Refusal::Drop) => Some(0),
        Ok(()) => None,
    };
    assert_eq!(code("unkscm"), Some(416));
    assert_eq!(code("novelsc"), Some(416));
    assert_eq!(code("invut"), Some(415));
    assert_eq!(code("sdp01"), Some(406));
    // A non-registrar endpoint answers REGISTER 405 (with Allow).
    assert_eq!(code("regaut01"), Some(405));
    // An endpoint answers an OPTIONS with Max-Forwards 0 normally.
    assert_eq!(code("zeromf"), None);
    // As a UAS only Require counts; Proxy-Require is for proxies.
    assert_eq!(
        answer("bext01"),
        Err(Refusal::Respond {
            code: 420,
            headers: vec![(
                "Unsupported",
                "nothingSupportsThis, nothingSupportsThisEither".to_string()
            )]
        })
    );
    // The valid INVITEs pass screening.
    for ok in ["wsinv", "esc01", "lwsdisp", "longreq", "semiuri", "inv2543"] {
        assert_eq!(answer(ok), Ok(()), "{ok}");
    }
}

#[test]
fn a_stream_cannot_make_the_framer_buffer_without_end() {
    let mut f = codec::Framer::with_limit(256);
    f.push(&[b'A'; 200]);
    assert_eq!(f.next_message(), None, "under the limit: wait for more");
    f.push(&[b'A'; 100]);
    assert!(matches!(f.next_message(), Some(codec::Framed::Broken(_))));
    let mut f = codec::Framer::with_limit(256);
    f.push(b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 100000\r\n\r\n");
    assert!(matches!(f.next_message(), Some(codec::Framed::Broken(m)) if m.contains("limit")));
}

#[test]
fn a_content_length_near_the_integer_limit_closes_the_stream() {
    for n in ["18446744073709551615", "18446744073709551600", "65536"] {
        let mut f = codec::Framer::default();
        f.push(format!("OPTIONS sip:a@b SIP/2.0\r\nContent-Length: {n}\r\n\r\n").as_bytes());
        assert!(
            matches!(f.next_message(), Some(codec::Framed::Broken(m)) if m.contains("limit")),
            "{n}"
        );
    }
    // Too big for the platform's integer: not a number.
    let mut f = codec::Framer::default();
    f.push(b"OPTIONS sip:a@b SIP/2.0\r\nl: 99999999999999999999999\r\n\r\n");
    assert!(matches!(f.next_message(), Some(codec::Framed::Broken(_))));
}

mod framing_is_independent_of_reads {
    use ivr_core::sip::codec::{Framed, Framer};
    use proptest::prelude::*;

    const MSG: &[u8] = b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\nContent-Length: 6\r\n\r\n\r\n\r\nab";

    fn frame(stream: &[u8], cuts: &[usize]) -> Vec<Framed> {
        let mut f = Framer::with_limit(4096);
        let mut out = Vec::new();
        let mut at = 0;
        for &c in cuts.iter().chain([&stream.len()]) {
            let c = c.clamp(at, stream.len());
            f.push(&stream[at..c]);
            at = c;
            while let Some(m) = f.next_message() {
                let broken = matches!(m, Framed::Broken(_));
                out.push(m);
                if broken {
                    return out;
                }
            }
        }
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]

        /// However the stream is cut into reads (a body that holds CRLF CRLF, keep-alives
        /// between messages), the same messages come out, and nothing is held back.
        #[test]
        fn same_messages_however_cut(
            keepalives in proptest::collection::vec(0usize..3, 3),
            mut cuts in proptest::collection::vec(0usize..400, 0..40),
        ) {
            let mut stream = Vec::new();
            for k in &keepalives {
                stream.extend(std::iter::repeat_n(b"\r\n".as_slice(), *k).flatten());
                stream.extend_from_slice(MSG);
            }
            cuts.sort_unstable();
            let whole = frame(&stream, &[]);
            prop_assert_eq!(whole.len(), 3);
            prop_assert_eq!(frame(&stream, &cuts), whole);
        }
    }
}

/// What the endpoint does with one message on its own (fresh endpoint, UDP, a private source).
fn seen_at_endpoint(bytes: &[u8]) -> String {
    use ivr_core::Time;
    use ivr_core::sip::endpoint::{Endpoint, EndpointConfig, Event, Output};
    let mut ep = Endpoint::new(EndpointConfig::default(), 1);
    let src: std::net::SocketAddr = "10.0.0.9:5060".parse().expect("literal address");
    ep.handle_input(ivr_core::sip::Input::udp(bytes, src), Time(0));
    let mut seen = Vec::new();
    while let Some(o) = ep.poll_output() {
        match o {
            Output::Transmit { bytes, .. } => {
                let text = String::from_utf8_lossy(&bytes);
                let line = text
                    .lines()
                    .next()
                    .unwrap_or("")
                    .trim_start_matches("SIP/2.0 ");
                seen.push(format!("answers {line}"));
            }
            Output::Event(Event::Offered { .. }) => seen.push("call offered".into()),
            Output::Event(e) => seen.push(format!("{e:?}")),
        }
    }
    if seen.is_empty() {
        match codec::parse_datagram(bytes) {
            Err(CodecError::Drop(why)) => format!("dropped ({why})"),
            Ok(m) if !m.is_request() => "ignored: a response to nothing we sent".into(),
            Ok(_) => "no answer (an ACK)".into(),
            Err(CodecError::Reject { .. }) => "dropped: nothing to answer to".into(),
        }
    } else {
        seen.join("; ")
    }
}

/// docs/sip-conformance.md holds, for each torture message, the RFC's verdict (from the test
/// data's README) and what the endpoint does; this test keeps the table true
/// (`IVR_BLESS=1` rewrites it).
#[test]
fn conformance_table_is_current() {
    let Some(d) = dir() else { return };
    let readme = std::fs::read_to_string(d.join("README.md")).expect("README beside the data");
    let mut rows = vec![
        "| message | RFC section | RFC verdict | what the endpoint does |".to_string(),
        "|---|---|---|---|".to_string(),
    ];
    for line in readme.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        // | `name.dat` | section | title | category | verdict | …
        let Some(name) = cells
            .get(1)
            .and_then(|c| c.strip_prefix('`'))
            .and_then(|c| c.strip_suffix(".dat`"))
        else {
            continue;
        };
        let bytes = on_the_wire(&d, name);
        let seen = seen_at_endpoint(&bytes).replace('|', "\\|");
        rows.push(format!(
            "| `{name}` | {} | {} | {seen} |",
            cells.get(2).copied().unwrap_or(""),
            cells.get(5).copied().unwrap_or("")
        ));
    }
    assert_eq!(
        rows.len() - 2,
        TABLE.len(),
        "every message is in the README's tables"
    );
    let table = rows.join("\n") + "\n";
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/sip-conformance.md");
    let doc = std::fs::read_to_string(&path).unwrap_or_default();
    let (begin, end) = ("<!-- table begin -->\n", "<!-- table end -->");
    let current = doc
        .split_once(begin)
        .and_then(|(_, rest)| rest.split_once(end))
        .map(|(t, _)| t);
    if std::env::var_os("IVR_BLESS").is_some() {
        let (head, tail) = match (doc.split_once(begin), doc.split_once(end)) {
            (Some((h, _)), Some((_, t))) => (h.to_string(), t.to_string()),
            _ => (String::new(), "\n".to_string()),
        };
        std::fs::write(&path, format!("{head}{begin}{table}{end}{tail}")).expect("writable");
        return;
    }
    assert_eq!(
        current,
        Some(table.as_str()),
        "docs/sip-conformance.md is out of date: run with IVR_BLESS=1"
    );
}

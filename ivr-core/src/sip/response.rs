//! Building responses to requests: every Via value copied in order (the top one with
//! `received` and `rport` filled in when the request came from elsewhere, RFC 3261 §18.2.1 and
//! RFC 3581), From, To (with our tag), Call-ID and CSeq as received, and Content-Length always.

use super::codec::{Message, Start};
use std::fmt::Write;
use std::net::SocketAddr;

/// The reason phrase of the status codes this engine sends.
pub fn reason(code: u16) -> &'static str {
    match code {
        100 => "Trying",
        180 => "Ringing",
        200 => "OK",
        202 => "Accepted",
        400 => "Bad Request",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        415 => "Unsupported Media Type",
        413 => "Request Entity Too Large",
        416 => "Unsupported URI Scheme",
        420 => "Bad Extension",
        481 => "Call/Transaction Does Not Exist",
        483 => "Too Many Hops",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        491 => "Request Pending",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        505 => "Version Not Supported",
        513 => "Message Too Large",
        _ => "Unknown",
    }
}

/// The top Via with `received`/`rport` set from the packet's source.
fn top_via(via: &str, source: SocketAddr) -> String {
    let (sent, params) = via.split_once(';').unwrap_or((via, ""));
    // sent-by is `host[:port]`, with IPv6 hosts in brackets.
    let sent_by = sent.split_whitespace().last().unwrap_or("");
    let host = match sent_by.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(""),
        None => sent_by.split(':').next().unwrap_or(""),
    };
    let mut out = sent.trim_end().to_string();
    let mut has_received = false;
    let mut wants_rport = false;
    for p in params.split(';').filter(|p| !p.trim().is_empty()) {
        let p = p.trim();
        let name = p
            .split('=')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match name.as_str() {
            "rport" if !p.contains('=') => wants_rport = true,
            "received" => {
                has_received = true;
                let _ = write!(out, ";{p}");
            }
            _ => {
                let _ = write!(out, ";{p}");
            }
        }
    }
    let ip = source.ip().to_string();
    if wants_rport {
        let _ = write!(out, ";rport={}", source.port());
    }
    if !has_received && (wants_rport || host != ip) {
        let _ = write!(out, ";received={ip}");
    }
    out
}

/// A response to `req` from `source`. `to_tag` is added to To when it has none; `headers` are
/// extra `(name, value)` lines; `body` goes with its `content_type`.
pub fn build(
    req: &Message,
    source: SocketAddr,
    code: u16,
    to_tag: Option<&str>,
    headers: &[(&str, String)],
    body: Option<(&str, &[u8])>,
) -> Vec<u8> {
    build_with_reason(req, source, code, reason(code), to_tag, headers, body)
}

/// [`build`] with a reason phrase of our own (a 400 that says what was wrong).
pub fn build_with_reason(
    req: &Message,
    source: SocketAddr,
    code: u16,
    phrase: &str,
    to_tag: Option<&str>,
    headers: &[(&str, String)],
    body: Option<(&str, &[u8])>,
) -> Vec<u8> {
    // A phrase is one line of text (RFC 3261 §25.1 Reason-Phrase).
    let phrase: String = phrase.chars().filter(|c| !c.is_control()).collect();
    let mut out = format!("SIP/2.0 {code} {phrase}\r\n");
    let mut first = true;
    for (name, value) in &req.headers {
        if name != "via" {
            continue;
        }
        // Each Via line as received; a line may hold several values.
        for v in super::codec::split_values(value) {
            if first {
                let _ = write!(out, "Via: {}\r\n", top_via(v, source));
                first = false;
            } else {
                let _ = write!(out, "Via: {v}\r\n");
            }
        }
    }
    for (canon, label) in [
        ("from", "From"),
        ("to", "To"),
        ("call-id", "Call-ID"),
        ("cseq", "CSeq"),
    ] {
        if let Some(v) = req.header(canon) {
            if canon == "to"
                && let Some(tag) = to_tag
                && !v.to_ascii_lowercase().contains(";tag=")
            {
                let _ = write!(out, "To: {v};tag={tag}\r\n");
            } else {
                let _ = write!(out, "{label}: {v}\r\n");
            }
        }
    }
    for (n, v) in headers {
        let _ = write!(out, "{n}: {v}\r\n");
    }
    let mut bytes = match body {
        Some((ct, b)) => {
            let _ = write!(
                out,
                "Content-Type: {ct}\r\nContent-Length: {}\r\n\r\n",
                b.len()
            );
            let mut v = out.into_bytes();
            v.extend_from_slice(b);
            v
        }
        None => {
            out.push_str("Content-Length: 0\r\n\r\n");
            out.into_bytes()
        }
    };
    bytes.shrink_to_fit();
    bytes
}

/// The request method, for matching.
pub fn method(m: &Message) -> Option<&str> {
    match &m.start {
        Start::Request { method, .. } => Some(method),
        Start::Response { .. } => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::codec::parse_datagram;

    const INVITE: &str = "INVITE sip:940@10.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 192.168.1.20:5060;branch=z9hG4bKaaa;rport, SIP/2.0/UDP proxy.example.com;branch=z9hG4bKbbb\r\nVia: SIP/2.0/TCP core.example.com;branch=z9hG4bKccc\r\nMax-Forwards: 70\r\nFrom: \"Caller\" <sip:caller@example.com>;tag=abc\r\nTo: <sip:940@10.0.0.1>\r\nCall-ID: xyz@192.168.1.20\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";

    #[test]
    fn copies_every_via_in_order_and_fills_rport_received() {
        let req = parse_datagram(INVITE.as_bytes()).expect("parses");
        let src: SocketAddr = "203.0.113.9:41000".parse().expect("addr");
        let resp = build(
            &req,
            src,
            200,
            Some("ivr1"),
            &[("Contact", "<sip:940@10.0.0.1>".into())],
            Some(("application/sdp", b"v=0\r\n")),
        );
        let text = String::from_utf8(resp.clone()).expect("utf-8");
        let vias: Vec<&str> = text.lines().filter(|l| l.starts_with("Via: ")).collect();
        assert_eq!(
            vias,
            vec![
                "Via: SIP/2.0/UDP 192.168.1.20:5060;branch=z9hG4bKaaa;rport=41000;received=203.0.113.9",
                "Via: SIP/2.0/UDP proxy.example.com;branch=z9hG4bKbbb",
                "Via: SIP/2.0/TCP core.example.com;branch=z9hG4bKccc",
            ]
        );
        assert!(text.contains("To: <sip:940@10.0.0.1>;tag=ivr1\r\n"));
        assert!(text.contains("From: \"Caller\" <sip:caller@example.com>;tag=abc\r\n"));
        assert!(text.ends_with("Content-Length: 5\r\n\r\nv=0\r\n"));
        // It parses as a response.
        let back = parse_datagram(&resp).expect("parses");
        assert_eq!(
            back.start,
            Start::Response {
                code: 200,
                reason: "OK".into()
            }
        );
    }

    #[test]
    fn same_source_and_no_rport_adds_nothing() {
        let req = parse_datagram(INVITE.replace(";rport", "").as_bytes()).expect("parses");
        let src: SocketAddr = "192.168.1.20:5060".parse().expect("addr");
        let text = String::from_utf8(build(&req, src, 100, None, &[], None)).expect("utf-8");
        assert!(
            text.contains("Via: SIP/2.0/UDP 192.168.1.20:5060;branch=z9hG4bKaaa\r\n"),
            "{text}"
        );
        assert!(text.contains("To: <sip:940@10.0.0.1>\r\n"));
    }
}

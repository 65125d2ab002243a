//! Screening a parsed request before any dialog sees it, in the order of RFC 3261 §8.2:
//! hop limit (483), method (501 with Allow), Request-URI scheme (416), `Require` (420 with
//! Unsupported; ignored on ACK and CANCEL, §8.2.2.3), an `Accept` that rules out the SDP of our
//! answer (406), then the body (415 with Accept or Accept-Encoding). A failed ACK is never answered (§17.2.3): it is dropped.

use super::codec::{METHODS, Message, Start, mime_type};

/// Option tags this engine supports (answered in `Supported`, accepted in `Require`).
pub const SUPPORTED: &[&str] = &[];

/// Standard methods this endpoint recognises but does not serve (answered 405, not 501).
pub const KNOWN_NOT_SERVED: &[&str] = &["REGISTER", "SUBSCRIBE", "PUBLISH", "MESSAGE"];

/// Body types accepted per method (lowercase, without parameters).
fn accepted(method: &str) -> &'static [&'static str] {
    match method {
        "INVITE" | "ACK" | "UPDATE" => &["application/sdp"],
        "INFO" => &["application/dtmf-relay", "application/dtmf"],
        "NOTIFY" => &["message/sipfrag"],
        _ => &[],
    }
}

/// Every body type the engine reads, for `Accept` in 415 and OPTIONS answers.
pub const ACCEPT: &str =
    "application/sdp, application/dtmf-relay, application/dtmf, message/sipfrag";

/// The `Allow` header value.
pub fn allow() -> String {
    METHODS.join(", ")
}

/// What to do with a request that failed screening.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Answer with this status and these extra headers.
    Respond {
        /// Status code.
        code: u16,
        /// Extra headers for the response (name, value).
        headers: Vec<(&'static str, String)>,
    },
    /// Say nothing (an ACK cannot be answered).
    Drop,
}

fn respond(code: u16, headers: Vec<(&'static str, String)>) -> Refusal {
    Refusal::Respond { code, headers }
}

/// Screens a request. `Ok(())` means a dialog or the endpoint may handle it.
pub fn screen(req: &Message) -> Result<(), Refusal> {
    let Start::Request { method, uri } = &req.start else {
        return Ok(());
    };
    let method = method.as_str();
    let refuse = |r: Refusal| {
        if method == "ACK" {
            Err(Refusal::Drop)
        } else {
            Err(r)
        }
    };
    // Max-Forwards 0: the request has run out of hops. OPTIONS is still answered by us as the
    // final destination (§11; as a proxy would, §16.3 item 3).
    if req.header("max-forwards").map(str::trim) == Some("0") && method != "OPTIONS" {
        return refuse(respond(483, Vec::new()));
    }
    if !METHODS.contains(&method) {
        // §8.2.1: a method we know but do not serve is 405, one we do not know is 501.
        let code = if KNOWN_NOT_SERVED.contains(&method) {
            405
        } else {
            501
        };
        return refuse(respond(code, vec![("Allow", allow())]));
    }
    let scheme = uri
        .split_once(':')
        .map(|(s, _)| s.to_ascii_lowercase())
        .unwrap_or_default();
    if !matches!(scheme.as_str(), "sip" | "sips" | "tel") {
        return refuse(respond(416, Vec::new()));
    }
    if method != "ACK" && method != "CANCEL" {
        let unsupported: Vec<&str> = req
            .values("require")
            .into_iter()
            .filter(|t| !t.is_empty())
            .filter(|t| !SUPPORTED.iter().any(|s| s.eq_ignore_ascii_case(t)))
            .collect();
        if !unsupported.is_empty() {
            return refuse(respond(420, vec![("Unsupported", unsupported.join(", "))]));
        }
    }
    // Our answers to INVITE and UPDATE carry SDP: a peer that accepts no SDP cannot read them
    // (§21.4.7, RFC 4475 §3.3.15).
    if matches!(method, "INVITE" | "UPDATE") {
        let accept = req.values("accept");
        let takes_sdp = accept.iter().any(|a| {
            let mime = mime_type(a);
            matches!(
                mime.as_str(),
                "application/sdp" | "application/*" | "*/*" | ""
            )
        });
        if !accept.is_empty() && !takes_sdp {
            return refuse(respond(406, vec![("Accept", "application/sdp".into())]));
        }
    }
    if req.body.is_empty() {
        return Ok(());
    }
    let encodings: Vec<&str> = req.values("content-encoding");
    if encodings
        .iter()
        .any(|e| !e.is_empty() && !e.eq_ignore_ascii_case("identity"))
    {
        return refuse(respond(
            415,
            vec![("Accept-Encoding", "identity".to_string())],
        ));
    }
    let Some(ct) = req.header("content-type") else {
        // A body must say what it is (§20.15); without it nothing can read it.
        return refuse(respond(415, vec![("Accept", ACCEPT.to_string())]));
    };
    let mime = mime_type(ct);
    let ok = accepted(method);
    // Bodies on methods that carry none for us (BYE, CANCEL, OPTIONS, REFER, PRACK) are ignored.
    if !ok.is_empty() && !ok.contains(&mime.as_str()) {
        return refuse(respond(415, vec![("Accept", ok.join(", "))]));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::codec::parse_datagram;

    fn req(method: &str, extra: &str, body: &str) -> Message {
        let text = format!(
            "{method} sip:940@10.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n\
             Max-Forwards: 70\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:940@10.0.0.1>\r\n\
             Call-ID: c1\r\nCSeq: 1 {method}\r\n{extra}Content-Length: {}\r\n\r\n{body}",
            body.len()
        );
        parse_datagram(text.as_bytes()).expect("test message parses")
    }

    fn code(r: Result<(), Refusal>) -> Option<u16> {
        match r {
            Err(Refusal::Respond { code, .. }) => Some(code),
            _ => None,
        }
    }

    #[test]
    fn plain_requests_pass() {
        assert_eq!(screen(&req("INVITE", "", "")), Ok(()));
        let sdp = "Content-Type: application/sdp\r\n";
        assert_eq!(screen(&req("INVITE", sdp, "v=0\r\n")), Ok(()));
        let info = "Content-Type: application/dtmf-relay\r\n";
        assert_eq!(screen(&req("INFO", info, "Signal=5\r\n")), Ok(()));
        // A body on BYE is ignored, not refused.
        assert_eq!(
            screen(&req("BYE", "Content-Type: text/plain\r\n", "x")),
            Ok(())
        );
    }

    #[test]
    fn max_forwards_zero_is_483_except_options() {
        let r = req("INVITE", "", "");
        let mut zero = r.clone();
        for h in &mut zero.headers {
            if h.0 == "max-forwards" {
                h.1 = "0".into();
            }
        }
        assert_eq!(code(screen(&zero)), Some(483));
        let mut opt = req("OPTIONS", "", "");
        for h in &mut opt.headers {
            if h.0 == "max-forwards" {
                h.1 = "0".into();
            }
        }
        assert_eq!(screen(&opt), Ok(()));
    }

    #[test]
    fn unknown_method_is_501_with_allow() {
        let text = "FOO sip:940@10.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@y>\r\nCall-ID: c\r\nCSeq: 1 FOO\r\nContent-Length: 0\r\n\r\n";
        let m = parse_datagram(text.as_bytes()).expect("parses");
        match screen(&m) {
            Err(Refusal::Respond { code: 501, headers }) => {
                assert_eq!(headers[0].0, "Allow");
                assert!(headers[0].1.contains("INVITE, ACK, BYE, CANCEL, OPTIONS"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unsupported_require_is_420_listing_the_tags() {
        let m = req("INVITE", "Require: 100rel, foo\r\n", "");
        assert_eq!(
            screen(&m),
            Err(Refusal::Respond {
                code: 420,
                headers: vec![("Unsupported", "100rel, foo".to_string())]
            })
        );
        // Require is ignored on CANCEL and ACK.
        assert_eq!(screen(&req("CANCEL", "Require: foo\r\n", "")), Ok(()));
        assert_eq!(screen(&req("ACK", "Require: foo\r\n", "")), Ok(()));
    }

    #[test]
    fn unknown_scheme_is_416() {
        let text = "INVITE mailto:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@y>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
        let m = parse_datagram(text.as_bytes()).expect("parses");
        assert_eq!(code(screen(&m)), Some(416));
        let tel = text.replace("mailto:a@b", "tel:+966112345678");
        let m = parse_datagram(tel.as_bytes()).expect("parses");
        assert_eq!(screen(&m), Ok(()));
    }

    #[test]
    fn wrong_bodies_are_415_with_accept() {
        let m = req("INVITE", "Content-Type: application/json\r\n", "{}");
        assert_eq!(
            screen(&m),
            Err(Refusal::Respond {
                code: 415,
                headers: vec![("Accept", "application/sdp".to_string())]
            })
        );
        let gz = "Content-Type: application/sdp\r\nContent-Encoding: gzip\r\n";
        assert_eq!(
            screen(&req("INVITE", gz, "v=0")),
            Err(Refusal::Respond {
                code: 415,
                headers: vec![("Accept-Encoding", "identity".to_string())]
            })
        );
        assert_eq!(code(screen(&req("INVITE", "", "v=0"))), Some(415));
        // Parameters and case do not matter.
        let ct = "Content-Type: Application/SDP; charset=utf-8\r\n";
        assert_eq!(screen(&req("INVITE", ct, "v=0")), Ok(()));
    }

    #[test]
    fn known_methods_we_do_not_serve_are_405() {
        let text = "REGISTER sip:940@10.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:a@x>\r\nCall-ID: c\r\nCSeq: 1 REGISTER\r\nContent-Length: 0\r\n\r\n";
        let m = parse_datagram(text.as_bytes()).expect("parses");
        assert_eq!(code(screen(&m)), Some(405));
    }

    #[test]
    fn an_accept_without_sdp_is_406() {
        assert_eq!(
            code(screen(&req("INVITE", "Accept: text/plain\r\n", ""))),
            Some(406)
        );
        let ok = "Accept: text/plain, application/sdp;q=0.5\r\n";
        assert_eq!(screen(&req("INVITE", ok, "")), Ok(()));
        assert_eq!(screen(&req("INVITE", "Accept: */*\r\n", "")), Ok(()));
        // Not our concern on BYE: we answer it without a body.
        assert_eq!(screen(&req("BYE", "Accept: text/plain\r\n", "")), Ok(()));
    }

    #[test]
    fn a_bad_ack_is_dropped_never_answered() {
        let m = req("ACK", "Content-Type: application/json\r\n", "{}");
        assert_eq!(screen(&m), Err(Refusal::Drop));
    }
}

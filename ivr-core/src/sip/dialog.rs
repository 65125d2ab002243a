//! The UAS side of a dialog (RFC 3261 §12): created from the INVITE we answer, it holds the
//! dialog id, the route set from Record-Route, the remote target from Contact and the CSeq in
//! both directions; it checks in-dialog requests (§12.2.2), takes target refreshes, and builds
//! the requests we send inside the dialog (BYE, INFO, REFER; §12.2.1.1, loose and strict
//! routing).

use super::codec::{Message, Start};
use std::fmt::Write;

/// A dialog's identity: Call-ID and both tags, from our side.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DialogId {
    /// Call-ID.
    pub call_id: String,
    /// Our tag (To of requests we receive).
    pub local_tag: String,
    /// The peer's tag (From of requests we receive).
    pub remote_tag: String,
}

impl DialogId {
    /// The id a received request names, if it is inside a dialog (its To has a tag).
    pub fn of_request(req: &Message) -> Option<DialogId> {
        Some(DialogId {
            call_id: req.header("call-id")?.to_string(),
            local_tag: tag(req.header("to")?)?.to_string(),
            remote_tag: tag(req.header("from")?).unwrap_or("").to_string(),
        })
    }
}

/// Why an in-dialog request is refused; each maps to a response code.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DialogError {
    /// The INVITE has no usable Contact (a dialog needs a remote target).
    #[error("the invite has no contact uri")]
    NoContact,
    /// CSeq lower than one already seen (answer 500, §12.2.2).
    #[error("cseq {got} is lower than {seen}")]
    CseqOutOfOrder {
        /// The request's CSeq number.
        got: u32,
        /// The highest seen so far.
        seen: u32,
    },
}

impl DialogError {
    /// Who is at fault: the peer that sent the request.
    pub fn fault(&self) -> crate::vocab::Fault {
        crate::vocab::Fault::Peer
    }
}

impl DialogError {
    /// The status to answer with.
    pub fn status(&self) -> u16 {
        match self {
            DialogError::NoContact => 400,
            DialogError::CseqOutOfOrder { .. } => 500,
        }
    }
}

/// One dialog, UAS side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dialog {
    /// The dialog id.
    pub id: DialogId,
    /// Our URI with our tag (the To of the INVITE plus tag): From of our requests.
    pub local: String,
    /// The peer's URI with its tag (the From of the INVITE): To of our requests.
    pub remote: String,
    /// Where our requests go (Contact URI of the peer, updated by target refreshes).
    pub remote_target: String,
    /// Route set, in the order our requests use it (Record-Route of the INVITE as received).
    pub route_set: Vec<String>,
    /// Last CSeq number we used.
    pub local_cseq: u32,
    /// Highest CSeq number received.
    pub remote_cseq: u32,
}

/// The `tag` parameter of a From/To value (outside the URI's angle brackets and quotes).
pub fn tag(value: &str) -> Option<&str> {
    let params = header_params(value);
    params.split(';').find_map(|p| {
        let (n, v) = p.split_once('=')?;
        n.trim()
            .eq_ignore_ascii_case("tag")
            .then(|| v.trim())
            .filter(|v| !v.is_empty())
    })
}

/// The part of a name-addr / addr-spec value after the address: its header parameters.
fn header_params(value: &str) -> &str {
    let mut quoted = false;
    let mut escape = false;
    for (i, c) in value.char_indices() {
        if escape {
            escape = false;
            continue;
        }
        match c {
            '\\' if quoted => escape = true,
            '"' => quoted = !quoted,
            '<' if !quoted => {
                return value[i..].find('>').map_or("", |end| &value[i + end + 1..]);
            }
            ';' if !quoted => return &value[i..],
            _ => {}
        }
    }
    ""
}

/// The URI of a name-addr (`"x" <sip:a@b>;p`) or addr-spec (`sip:a@b;p`) value.
pub fn uri(value: &str) -> Option<&str> {
    let v = value.trim();
    if let Some(start) = v.find('<') {
        let rest = &v[start + 1..];
        return rest.find('>').map(|end| rest[..end].trim());
    }
    // addr-spec: parameters after ';' belong to the header, not the URI (§20.10).
    let end = v.find(';').unwrap_or(v.len());
    Some(v[..end].trim()).filter(|u| !u.is_empty() && u.contains(':'))
}

fn cseq_number(req: &Message) -> u32 {
    req.header("cseq")
        .and_then(|c| c.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

impl Dialog {
    /// The dialog our 2xx (or 1xx with tag) to `invite` creates, with `local_tag` as our tag.
    pub fn from_invite(invite: &Message, local_tag: &str) -> Result<Dialog, DialogError> {
        let contact = invite
            .values("contact")
            .first()
            .and_then(|c| uri(c))
            .ok_or(DialogError::NoContact)?
            .to_string();
        let to = invite.header("to").unwrap_or("");
        let local = if tag(to).is_some() {
            to.to_string()
        } else {
            format!("{to};tag={local_tag}")
        };
        let route_set = invite
            .values("record-route")
            .into_iter()
            .map(str::to_string)
            .collect();
        Ok(Dialog {
            id: DialogId {
                call_id: invite.header("call-id").unwrap_or("").to_string(),
                local_tag: local_tag.to_string(),
                remote_tag: tag(invite.header("from").unwrap_or(""))
                    .unwrap_or("")
                    .to_string(),
            },
            local,
            remote: invite.header("from").unwrap_or("").to_string(),
            remote_target: contact,
            route_set,
            // Our first request uses 1 (any value works, §8.1.1.5); we keep it small.
            local_cseq: 0,
            remote_cseq: cseq_number(invite),
        })
    }

    /// Checks a request received in this dialog: CSeq must not go backwards (§12.2.2; ACK
    /// and CANCEL carry the INVITE's number and are not checked). A target refresh
    /// (re-INVITE, UPDATE) with a Contact moves the remote target.
    pub fn receive(&mut self, req: &Message) -> Result<(), DialogError> {
        let Start::Request { method, .. } = &req.start else {
            return Ok(());
        };
        if method != "ACK" && method != "CANCEL" {
            let n = cseq_number(req);
            if n < self.remote_cseq {
                return Err(DialogError::CseqOutOfOrder {
                    got: n,
                    seen: self.remote_cseq,
                });
            }
            self.remote_cseq = n;
        }
        if (method == "INVITE" || method == "UPDATE")
            && let Some(target) = req.values("contact").first().and_then(|c| uri(c))
        {
            self.remote_target = target.to_string();
        }
        Ok(())
    }

    /// Builds a request in this dialog. `via` is our sent-protocol and sent-by (`SIP/2.0/UDP
    /// 10.0.0.1:5060`), `branch` a fresh branch (with the `z9hG4bK` cookie), `contact` our
    /// Contact URI; `headers` are extra lines and `body` goes with its content type.
    pub fn request(
        &mut self,
        method: &str,
        via: &str,
        branch: &str,
        contact: &str,
        headers: &[(&str, String)],
        body: Option<(&str, &[u8])>,
    ) -> Vec<u8> {
        self.local_cseq += 1;
        // §12.2.1.1: a first route without `lr` is a strict router: it becomes the
        // Request-URI and the remote target goes last in the Route headers.
        let (target, routes): (String, Vec<String>) = match self.route_set.first() {
            Some(first) if !uri(first).is_some_and(has_lr) => {
                let mut rest: Vec<String> = self.route_set[1..].to_vec();
                rest.push(format!("<{}>", self.remote_target));
                (uri(first).unwrap_or(first).to_string(), rest)
            }
            _ => (self.remote_target.clone(), self.route_set.clone()),
        };
        let mut out = format!("{method} {target} SIP/2.0\r\n");
        let _ = write!(out, "Via: {via};branch={branch};rport\r\n");
        for r in &routes {
            let _ = write!(out, "Route: {r}\r\n");
        }
        let _ = write!(
            out,
            "Max-Forwards: 70\r\nFrom: {}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: {} {method}\r\n\
             Contact: <{contact}>\r\n",
            self.local, self.remote, self.id.call_id, self.local_cseq
        );
        for (n, v) in headers {
            let _ = write!(out, "{n}: {v}\r\n");
        }
        match body {
            Some((ct, b)) => {
                let _ = write!(
                    out,
                    "Content-Type: {ct}\r\nContent-Length: {}\r\n\r\n",
                    b.len()
                );
                let mut bytes = out.into_bytes();
                bytes.extend_from_slice(b);
                bytes
            }
            None => {
                out.push_str("Content-Length: 0\r\n\r\n");
                out.into_bytes()
            }
        }
    }
}

/// Whether a URI carries the `lr` parameter (a loose router, RFC 3261 §19.1.1).
fn has_lr(uri: &str) -> bool {
    let params = uri.split_once(';').map_or("", |(_, p)| p);
    let params = params.split('?').next().unwrap_or("");
    params.split(';').any(|p| {
        p.split('=')
            .next()
            .is_some_and(|n| n.trim().eq_ignore_ascii_case("lr"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::codec::parse_datagram;

    const INVITE: &str = "INVITE sip:940@10.0.0.1 SIP/2.0\r\n\
        Via: SIP/2.0/UDP 192.0.2.7:5060;branch=z9hG4bKx1\r\n\
        Record-Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>\r\n\
        Record-Route: <sip:p3.example.com;lr>\r\n\
        Max-Forwards: 69\r\n\
        From: \"Caller; with semicolon\" <sip:caller@example.com;user=phone>;tag=ab12\r\n\
        To: <sip:940@10.0.0.1>\r\n\
        Call-ID: call-1@192.0.2.7\r\n\
        CSeq: 314 INVITE\r\n\
        Contact: <sip:caller@192.0.2.7:5062;transport=udp>\r\n\
        Content-Length: 0\r\n\r\n";

    fn invite() -> Message {
        parse_datagram(INVITE.as_bytes()).expect("test message parses")
    }

    #[test]
    fn tags_and_uris_are_read_outside_quotes_and_brackets() {
        assert_eq!(tag("\"a;tag=no\" <sip:x@y;tag=no>;tag=yes"), Some("yes"));
        assert_eq!(tag("sip:x@y;tag=t1"), Some("t1"));
        assert_eq!(tag("<sip:x@y>"), None);
        assert_eq!(tag("<sip:x@y>;TAG=up"), Some("up"));
        assert_eq!(uri("\"n\" <sip:a@b;lr>;x=1"), Some("sip:a@b;lr"));
        assert_eq!(uri("sip:a@b;expires=3"), Some("sip:a@b"));
        assert_eq!(uri("*"), None);
    }

    #[test]
    fn uas_dialog_takes_its_state_from_the_invite() {
        let d = Dialog::from_invite(&invite(), "ivr7").expect("has contact");
        assert_eq!(
            d.id,
            DialogId {
                call_id: "call-1@192.0.2.7".into(),
                local_tag: "ivr7".into(),
                remote_tag: "ab12".into()
            }
        );
        assert_eq!(d.local, "<sip:940@10.0.0.1>;tag=ivr7");
        assert_eq!(d.remote_target, "sip:caller@192.0.2.7:5062;transport=udp");
        assert_eq!(
            d.route_set,
            vec![
                "<sip:p1.example.com;lr>",
                "<sip:p2.example.com;lr>",
                "<sip:p3.example.com;lr>"
            ]
        );
        assert_eq!(d.remote_cseq, 314);
    }

    #[test]
    fn an_invite_without_contact_cannot_make_a_dialog() {
        let text = INVITE.replace("Contact: <sip:caller@192.0.2.7:5062;transport=udp>\r\n", "");
        let m = parse_datagram(text.as_bytes()).expect("parses");
        let e = Dialog::from_invite(&m, "t").expect_err("no contact");
        assert_eq!(e.status(), 400);
    }

    #[test]
    fn in_dialog_requests_match_by_id_and_cseq_never_goes_back() {
        let mut d = Dialog::from_invite(&invite(), "ivr7").expect("has contact");
        let bye = INVITE
            .replace("INVITE sip:940", "BYE sip:940")
            .replace("To: <sip:940@10.0.0.1>", "To: <sip:940@10.0.0.1>;tag=ivr7")
            .replace("314 INVITE", "315 BYE");
        let bye = parse_datagram(bye.as_bytes()).expect("parses");
        assert_eq!(DialogId::of_request(&bye).as_ref(), Some(&d.id));
        assert_eq!(d.receive(&bye), Ok(()));
        assert_eq!(d.remote_cseq, 315);
        let old = INVITE
            .replace("INVITE sip:940", "INFO sip:940")
            .replace("314 INVITE", "300 INFO");
        let old = parse_datagram(old.as_bytes()).expect("parses");
        assert_eq!(
            d.receive(&old),
            Err(DialogError::CseqOutOfOrder {
                got: 300,
                seen: 315
            })
        );
        assert_eq!(d.receive(&old).map_err(|e| e.status()), Err(500));
        // ACK carries the INVITE's CSeq: not checked.
        let ack = INVITE
            .replace("INVITE sip:940", "ACK sip:940")
            .replace("314 INVITE", "314 ACK");
        let ack = parse_datagram(ack.as_bytes()).expect("parses");
        assert_eq!(d.receive(&ack), Ok(()));
        // Out of dialog: no To tag.
        assert_eq!(DialogId::of_request(&invite()), None);
    }

    #[test]
    fn reinvite_with_contact_moves_the_remote_target() {
        let mut d = Dialog::from_invite(&invite(), "ivr7").expect("has contact");
        let re = INVITE
            .replace("314 INVITE", "315 INVITE")
            .replace("192.0.2.7:5062", "198.51.100.3:6000");
        let re = parse_datagram(re.as_bytes()).expect("parses");
        d.receive(&re).expect("in order");
        assert_eq!(
            d.remote_target,
            "sip:caller@198.51.100.3:6000;transport=udp"
        );
    }

    #[test]
    fn bye_uses_loose_routes_and_counts_our_cseq() {
        let mut d = Dialog::from_invite(&invite(), "ivr7").expect("has contact");
        let bye = d.request(
            "BYE",
            "SIP/2.0/UDP 10.0.0.1:5060",
            "z9hG4bKb1",
            "sip:940@10.0.0.1:5060",
            &[],
            None,
        );
        let m = parse_datagram(&bye).expect("our BYE parses");
        assert_eq!(
            m.start,
            Start::Request {
                method: "BYE".into(),
                uri: "sip:caller@192.0.2.7:5062;transport=udp".into()
            }
        );
        assert_eq!(
            m.values("route"),
            vec![
                "<sip:p1.example.com;lr>",
                "<sip:p2.example.com;lr>",
                "<sip:p3.example.com;lr>"
            ]
        );
        assert_eq!(m.header("cseq"), Some("1 BYE"));
        assert_eq!(m.header("to").and_then(tag), Some("ab12"));
        assert_eq!(m.header("from").and_then(tag), Some("ivr7"));
        let info = d.request(
            "INFO",
            "SIP/2.0/UDP 10.0.0.1:5060",
            "z9hG4bKb2",
            "sip:940@10.0.0.1:5060",
            &[],
            Some(("application/dtmf-relay", b"Signal=1\r\nDuration=160\r\n")),
        );
        let m = parse_datagram(&info).expect("our INFO parses");
        assert_eq!(m.header("cseq"), Some("2 INFO"));
        assert_eq!(m.body, b"Signal=1\r\nDuration=160\r\n");
    }

    #[test]
    fn strict_router_becomes_the_request_uri() {
        let text = INVITE
            .replace(
                "Record-Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>\r\n",
                "Record-Route: <sip:strict.example.com>\r\n",
            )
            .replace("Record-Route: <sip:p3.example.com;lr>\r\n", "");
        let m = parse_datagram(text.as_bytes()).expect("parses");
        let mut d = Dialog::from_invite(&m, "ivr7").expect("has contact");
        let bye = d.request(
            "BYE",
            "SIP/2.0/UDP 10.0.0.1",
            "z9hG4bKs",
            "sip:940@10.0.0.1",
            &[],
            None,
        );
        let m = parse_datagram(&bye).expect("parses");
        assert_eq!(
            m.start,
            Start::Request {
                method: "BYE".into(),
                uri: "sip:strict.example.com".into()
            }
        );
        assert_eq!(
            m.values("route"),
            vec!["<sip:caller@192.0.2.7:5062;transport=udp>"]
        );
    }
}

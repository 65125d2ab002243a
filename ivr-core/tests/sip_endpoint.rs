//! The SIP endpoint in virtual time: whole calls, loss and retransmission, every dialog rule
//! of the SIP issue that does not need a socket.

use ivr_core::media::g711::Law;
use ivr_core::sip::codec::{Message, Start, parse_datagram};
use ivr_core::sip::dialog::tag;
use ivr_core::sip::endpoint::{
    CallRef, EndReason, Endpoint, EndpointConfig, Event, Output, on_hold, private_networks,
};
use ivr_core::sip::sdp::Direction;
use ivr_core::{Time, TransferOutcome};
use std::net::SocketAddr;

const PEER: &str = "192.0.2.7:5062";

fn peer() -> SocketAddr {
    PEER.parse().expect("literal address")
}

const OFFER: &str = "v=0\r\no=user1 1 1 IN IP4 192.0.2.7\r\ns=-\r\nc=IN IP4 192.0.2.7\r\nt=0 0\r\nm=audio 6000 RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n";

struct Peer {
    call_id: String,
    from_tag: String,
    to_tag: Option<String>,
    cseq: u32,
}

impl Peer {
    fn new(call_id: &str) -> Self {
        Peer {
            call_id: call_id.into(),
            from_tag: "caller1".into(),
            to_tag: None,
            cseq: 1,
        }
    }

    /// A request from the caller; `branch` names its transaction.
    fn request(&self, method: &str, branch: &str, cseq: u32, extra: &str, body: &str) -> Vec<u8> {
        let to_tag = self
            .to_tag
            .as_ref()
            .map(|t| format!(";tag={t}"))
            .unwrap_or_default();
        let ct = if body.is_empty() || extra.contains("Content-Type") {
            String::new()
        } else {
            "Content-Type: application/sdp\r\n".to_string()
        };
        format!(
            "{method} sip:940@127.0.0.1:5060 SIP/2.0\r\n\
             Via: SIP/2.0/UDP {PEER};branch=z9hG4bK{branch};rport\r\n\
             Max-Forwards: 70\r\n\
             From: \"Caller\" <sip:0501234567@192.0.2.7>;tag={}\r\n\
             To: <sip:940@127.0.0.1>{to_tag}\r\n\
             Call-ID: {}\r\n\
             CSeq: {cseq} {method}\r\n\
             Contact: <sip:caller@{PEER}>\r\n\
             {extra}{ct}Content-Length: {}\r\n\r\n{body}",
            self.from_tag,
            self.call_id,
            body.len()
        )
        .into_bytes()
    }
}

/// Drains the endpoint: messages sent (parsed, with destination) and events.
fn drain(ep: &mut Endpoint) -> Drained {
    let (mut sent, mut events) = (Vec::new(), Vec::new());
    while let Some(o) = ep.poll_output() {
        match o {
            Output::Transmit { to, bytes } => {
                sent.push((to, parse_datagram(&bytes).expect("we send valid SIP")))
            }
            Output::Event(e) => events.push(e),
        }
    }
    (sent, events)
}

type Drained = (Vec<(SocketAddr, Message)>, Vec<Event>);

/// Delivers one message from the peer at `t` ms and drains what follows.
fn deliver(ep: &mut Endpoint, msg: Vec<u8>, t: u64) -> Drained {
    ep.handle_input(ivr_core::sip::Input::udp(&msg, peer()), Time(t));
    drain(ep)
}

fn code(m: &Message) -> u16 {
    match &m.start {
        Start::Response { code, .. } => *code,
        Start::Request { method, .. } => panic!("expected a response, got {method}"),
    }
}

fn codes(sent: &[(SocketAddr, Message)]) -> Vec<u16> {
    sent.iter().map(|(_, m)| code(m)).collect()
}

/// Settings for the tests: the peer sits in TEST-NET-1, which is allowed on top of the
/// default private networks.
fn config() -> EndpointConfig {
    let mut allow = private_networks();
    allow.push("192.0.2.0/24".parse().expect("literal network"));
    EndpointConfig {
        local: "127.0.0.1:5060".parse().expect("literal"),
        prefer: vec![Law::Pcmu, Law::Pcma],
        allow,
        ..EndpointConfig::default()
    }
}

fn endpoint() -> Endpoint {
    Endpoint::new(config(), 0xabc)
}

/// INVITE (branch inv1) → 100 + Offered; returns the call.
fn offer(ep: &mut Endpoint, p: &Peer, body: &str) -> CallRef {
    ep.handle_input(
        ivr_core::sip::Input::udp(&p.request("INVITE", "inv1", 1, "", body), peer()),
        Time(0),
    );
    let (sent, events) = drain(ep);
    assert_eq!(codes(&sent), vec![100]);
    assert_eq!(
        sent[0].0,
        peer(),
        "responses go where the request came from"
    );
    match &events[..] {
        [Event::Offered { call, .. }] => *call,
        other => panic!("{other:?}"),
    }
}

/// INVITE → 100 + Offered → answer → 200; returns the call and the 200.
fn offered_and_answered(ep: &mut Endpoint, p: &mut Peer, body: &str) -> (CallRef, Message) {
    let call = offer(ep, p, body);
    ep.answer(call, 20_000, Time(10)).expect("answers");
    let (sent, _) = drain(ep);
    assert_eq!(codes(&sent), vec![200]);
    let ok = sent[0].1.clone();
    p.to_tag = ok.header("to").and_then(tag).map(str::to_string);
    assert!(p.to_tag.is_some(), "200 has our tag");
    (call, ok)
}

/// The peer's answer to a request of ours.
fn answer(req: &Message, code: u16) -> Vec<u8> {
    let h = |n: &str| req.header(n).expect("our requests carry it");
    format!(
        "SIP/2.0 {code} Whatever\r\nVia: {}\r\nFrom: {}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: {}\r\nContent-Length: 0\r\n\r\n",
        h("via"),
        h("from"),
        h("to"),
        h("call-id"),
        h("cseq")
    )
    .into_bytes()
}

/// A call answered and acknowledged at 20 ms.
fn established(ep: &mut Endpoint, p: &mut Peer) -> CallRef {
    let (call, _) = offered_and_answered(ep, p, OFFER);
    ep.handle_input(
        ivr_core::sip::Input::udp(&p.request("ACK", "ack1", 1, "", ""), peer()),
        Time(20),
    );
    let (_, events) = drain(ep);
    assert!(
        matches!(events[..], [Event::Confirmed { .. }]),
        "{events:?}"
    );
    call
}

#[test]
fn basic_call_offer_answer_ack_and_caller_bye() {
    let mut ep = endpoint();
    let mut p = Peer::new("basic@192.0.2.7");
    let (sent, events) = deliver(&mut ep, p.request("INVITE", "inv1", 1, "", OFFER), 0);
    assert_eq!(codes(&sent), vec![100]);
    let Event::Offered {
        call,
        call_id,
        media,
        ..
    } = events[0].clone()
    else {
        panic!("{events:?}")
    };
    assert_eq!(call_id, "basic@192.0.2.7");
    let media = media.expect("offer in the INVITE");
    assert_eq!(
        (media.law, media.pt, media.event),
        (Law::Pcma, 8, Some((101, 8000)))
    );
    ep.answer(call, 20_000, Time(10)).expect("answers");
    let (sent, _) = drain(&mut ep);
    let ok = &sent[0].1;
    assert_eq!(code(ok), 200);
    let body = String::from_utf8(ok.body.clone()).expect("utf-8");
    assert!(body.contains("m=audio 20000 RTP/AVP 8 101"), "{body}");
    assert!(
        ok.header("contact")
            .is_some_and(|c| c.contains("127.0.0.1:5060"))
    );
    assert!(ok.header("allow").is_some());
    p.to_tag = ok.header("to").and_then(tag).map(str::to_string);
    let (sent, events) = deliver(&mut ep, p.request("ACK", "ack1", 1, "", ""), 20);
    assert!(sent.is_empty(), "an ACK is never answered");
    assert!(matches!(events[0], Event::Confirmed { call: c, .. } if c == call));
    // After the ACK the 200 is not retransmitted any more.
    ep.handle_timeout(Time(5_000));
    assert!(drain(&mut ep).0.is_empty());
    let (sent, events) = deliver(&mut ep, p.request("BYE", "bye1", 2, "", ""), 30_000);
    assert_eq!(codes(&sent), vec![200]);
    assert_eq!(
        events,
        vec![Event::Ended {
            call,
            reason: EndReason::RemoteBye
        }]
    );
    assert_eq!(ep.calls(), 0);
    // The BYE retransmitted (its 200 lost) gets the same 200 from the transaction.
    assert_eq!(
        codes(&deliver(&mut ep, p.request("BYE", "bye1", 2, "", ""), 30_400).0),
        vec![200]
    );
}

#[test]
fn lost_acks_make_the_200_repeat_and_then_the_call_ends_with_bye() {
    let mut ep = endpoint();
    let mut p = Peer::new("noack@192.0.2.7");
    let (call, _) = offered_and_answered(&mut ep, &mut p, OFFER);
    let mut resent = Vec::new();
    let mut now = 10;
    while now < 40_000 {
        now += 50;
        if ep.poll_timeout().is_some_and(|t| t.0 <= now) {
            ep.handle_timeout(Time(now));
        }
        let (sent, events) = drain(&mut ep);
        for (_, m) in &sent {
            match &m.start {
                Start::Response { code: 200, .. } => resent.push(now),
                Start::Request { method, .. } => {
                    assert_eq!(method, "BYE");
                    assert_eq!(now, 32_010, "BYE at 64*T1 after the 200 at 10 ms");
                }
                other => panic!("{other:?}"),
            }
        }
        if let Some(e) = events.first() {
            assert_eq!(
                *e,
                Event::Ended {
                    call,
                    reason: EndReason::AckTimeout
                }
            );
            break;
        }
    }
    // T1 doubling up to T2: 0.5, 1.5, 3.5, 7.5, 11.5, ... seconds after the 200 at 10 ms.
    assert_eq!(&resent[..5], &[510, 1_510, 3_510, 7_510, 11_510]);
    assert_eq!(ep.calls(), 0);
    // That BYE's own timers start when it was sent: its first retransmission is T1 later.
    assert_eq!(ep.poll_timeout(), Some(Time(32_510)));
    ep.handle_timeout(Time(32_509));
    assert!(drain(&mut ep).0.is_empty());
    ep.handle_timeout(Time(32_510));
    let (sent, _) = drain(&mut ep);
    assert!(matches!(&sent[..], [(_, m)] if m.is_request()), "{sent:?}");
}

#[test]
fn invite_retransmissions_are_absorbed() {
    let mut ep = endpoint();
    let p = Peer::new("retx@192.0.2.7");
    let call = offer(&mut ep, &p, OFFER);
    let (sent, events) = deliver(&mut ep, p.request("INVITE", "inv1", 1, "", OFFER), 500);
    assert_eq!(codes(&sent), vec![100], "the last response again");
    assert!(events.is_empty(), "no second call");
    ep.answer(call, 20_002, Time(600)).expect("answers");
    drain(&mut ep);
    let (sent, events) = deliver(&mut ep, p.request("INVITE", "inv1", 1, "", OFFER), 700);
    assert_eq!(codes(&sent), vec![200], "now the 200 again");
    assert!(events.is_empty());
    assert_eq!(ep.calls(), 1);
}

#[test]
fn ringing_before_the_answer_has_our_tag_and_repeats_for_a_retransmission() {
    let mut ep = endpoint();
    let p = Peer::new("ring@192.0.2.7");
    let call = offer(&mut ep, &p, OFFER);
    ep.ring(call, Time(10)).expect("an offered call rings");
    let (sent, _) = drain(&mut ep);
    assert_eq!(codes(&sent), vec![180]);
    let tag = sent[0]
        .1
        .header("to")
        .map(str::to_string)
        .unwrap_or_default();
    assert!(tag.contains(";tag="), "180 creates the early dialog: {tag}");
    let (sent, events) = deliver(&mut ep, p.request("INVITE", "inv1", 1, "", OFFER), 500);
    assert_eq!(codes(&sent), vec![180], "the last response again");
    assert!(events.is_empty());
    ep.answer(call, 20_002, Time(600))
        .expect("answers after ringing");
    let (sent, _) = drain(&mut ep);
    assert_eq!(codes(&sent), vec![200]);
    assert_eq!(
        sent[0]
            .1
            .header("to")
            .map(str::to_string)
            .unwrap_or_default(),
        tag
    );
    assert!(
        ep.ring(call, Time(700)).is_err(),
        "an answered call does not ring"
    );
}

#[test]
fn cancel_before_answer_gets_200_then_487_and_the_ack_is_absorbed() {
    let mut ep = endpoint();
    let p = Peer::new("cancel@192.0.2.7");
    let call = offer(&mut ep, &p, OFFER);
    let (sent, events) = deliver(&mut ep, p.request("CANCEL", "inv1", 1, "", ""), 300);
    assert_eq!(codes(&sent), vec![200, 487]);
    assert!(
        sent[0]
            .1
            .header("cseq")
            .is_some_and(|c| c.ends_with("CANCEL"))
    );
    assert!(
        sent[1]
            .1
            .header("cseq")
            .is_some_and(|c| c.ends_with("INVITE"))
    );
    assert_eq!(
        events,
        vec![Event::Ended {
            call,
            reason: EndReason::Cancelled
        }]
    );
    // The 487 repeats (Timer G) until the ACK for it, which matches the INVITE transaction.
    ep.handle_timeout(Time(800));
    assert_eq!(codes(&drain(&mut ep).0), vec![487]);
    assert_eq!(
        deliver(&mut ep, p.request("ACK", "inv1", 1, "", ""), 900),
        (Vec::new(), Vec::new())
    );
    ep.handle_timeout(Time(2_000));
    assert!(drain(&mut ep).0.is_empty(), "no 487 after the ACK");
    // A CANCEL for nothing: 481. Answering the cancelled call: refused.
    assert_eq!(
        codes(&deliver(&mut ep, p.request("CANCEL", "other", 1, "", ""), 1_000).0),
        vec![481]
    );
    assert!(ep.answer(call, 1, Time(1_000)).is_err());
}

#[test]
fn no_common_codec_is_488_with_a_warning() {
    let mut ep = endpoint();
    let p = Peer::new("g729@192.0.2.7");
    let g729 = OFFER
        .replace("RTP/AVP 8 101", "RTP/AVP 18 101")
        .replace("8 PCMA", "18 G729");
    let (sent, events) = deliver(&mut ep, p.request("INVITE", "inv1", 1, "", &g729), 0);
    assert_eq!(codes(&sent), vec![488]);
    assert!(
        sent[0]
            .1
            .header("warning")
            .is_some_and(|w| w.starts_with("304 "))
    );
    assert!(events.is_empty());
}

#[test]
fn options_in_and_out_of_dialog() {
    let mut ep = endpoint();
    let mut p = Peer::new("opt@192.0.2.7");
    let (sent, _) = deliver(&mut ep, p.request("OPTIONS", "o1", 1, "", ""), 0);
    assert_eq!(codes(&sent), vec![200]);
    let m = &sent[0].1;
    assert!(m.header("allow").is_some_and(|a| a.contains("INVITE")));
    assert!(
        m.header("accept")
            .is_some_and(|a| a.contains("application/sdp"))
    );
    let mut p2 = Peer::new("opt2@192.0.2.7");
    offered_and_answered(&mut ep, &mut p2, OFFER);
    p.to_tag = p2.to_tag.clone();
    p2.cseq = 2;
    assert_eq!(
        codes(&deliver(&mut ep, p2.request("OPTIONS", "o2", 2, "", ""), 100).0),
        vec![200]
    );
}

#[test]
fn requests_in_unknown_dialogs_get_481() {
    let mut ep = endpoint();
    let mut p = Peer::new("ghost@192.0.2.7");
    p.to_tag = Some("nosuchtag".into());
    for (m, b) in [
        ("BYE", "b1"),
        ("INFO", "i1"),
        ("UPDATE", "u1"),
        ("INVITE", "r1"),
    ] {
        ep.handle_input(
            ivr_core::sip::Input::udp(&p.request(m, b, 5, "", ""), peer()),
            Time(0),
        );
        assert_eq!(codes(&drain(&mut ep).0), vec![481], "{m}");
    }
    // Out of dialog, BYE is 481 too.
    p.to_tag = None;
    ep.handle_input(
        ivr_core::sip::Input::udp(&p.request("BYE", "b2", 6, "", ""), peer()),
        Time(0),
    );
    assert_eq!(codes(&drain(&mut ep).0), vec![481]);
    // An ACK for nothing: silence.
    ep.handle_input(
        ivr_core::sip::Input::udp(&p.request("ACK", "a1", 6, "", ""), peer()),
        Time(0),
    );
    assert_eq!(drain(&mut ep), (Vec::new(), Vec::new()));
}

#[test]
fn info_bodies_reach_the_call() {
    let mut ep = endpoint();
    let mut p = Peer::new("info@192.0.2.7");
    let call = established(&mut ep, &mut p);
    let ct = "Content-Type: application/dtmf-relay\r\n";
    let (sent, events) = deliver(
        &mut ep,
        p.request("INFO", "i1", 2, ct, "Signal=5\r\nDuration=160\r\n"),
        100,
    );
    assert_eq!(codes(&sent), vec![200]);
    assert_eq!(
        events,
        vec![Event::Info {
            call,
            content_type: "application/dtmf-relay".into(),
            body: b"Signal=5\r\nDuration=160\r\n".to_vec()
        }]
    );
    // The wrong body type: 415 and nothing for the call.
    let ct = "Content-Type: text/plain\r\n";
    let (sent, events) = deliver(&mut ep, p.request("INFO", "i2", 3, ct, "5"), 200);
    assert_eq!(codes(&sent), vec![415]);
    assert!(events.is_empty());
}

#[test]
fn reinvite_hold_and_resume_and_cseq_order() {
    let mut ep = endpoint();
    let mut p = Peer::new("hold@192.0.2.7");
    let call = established(&mut ep, &mut p);
    let hold = OFFER.replace("a=fmtp:101 0-15\r\n", "a=fmtp:101 0-15\r\na=sendonly\r\n");
    let (sent, events) = deliver(&mut ep, p.request("INVITE", "re1", 2, "", &hold), 1_000);
    assert_eq!(codes(&sent), vec![200]);
    let body = String::from_utf8(sent[0].1.body.clone()).expect("utf-8");
    assert!(body.contains("a=recvonly"), "{body}");
    assert!(body.contains(" 1 IN IP4"), "version went up: {body}");
    let Event::MediaChanged { media, .. } = &events[0] else {
        panic!("{events:?}")
    };
    assert_eq!(media.direction, Direction::RecvOnly);
    assert!(on_hold(media));
    deliver(&mut ep, p.request("ACK", "ack2", 2, "", ""), 1_020);
    // A request with an older CSeq: 500.
    assert_eq!(
        codes(&deliver(&mut ep, p.request("INFO", "old", 1, "", ""), 1_100).0),
        vec![500]
    );
    // Resume, at a new address.
    let moved = OFFER.replace("c=IN IP4 192.0.2.7", "c=IN IP4 198.51.100.3");
    let (sent, events) = deliver(&mut ep, p.request("INVITE", "re2", 3, "", &moved), 2_000);
    assert_eq!(codes(&sent), vec![200]);
    let Event::MediaChanged { call: c, media } = &events[0] else {
        panic!("{events:?}")
    };
    assert_eq!(*c, call);
    assert_eq!(
        media.remote,
        Some(("198.51.100.3".parse().expect("ip"), 6000))
    );
    assert!(!on_hold(media));
    // A re-INVITE before the last one is acknowledged overlaps it: 500 with Retry-After.
    let (sent, _) = deliver(&mut ep, p.request("INVITE", "re3", 4, "", OFFER), 2_010);
    assert_eq!(codes(&sent), vec![500]);
    assert!(sent[0].1.header("retry-after").is_some());
    // UPDATE without SDP: accepted, nothing changes.
    deliver(&mut ep, p.request("ACK", "ack3", 3, "", ""), 2_020);
    let (sent, events) = deliver(&mut ep, p.request("UPDATE", "up1", 5, "", ""), 2_100);
    assert_eq!(codes(&sent), vec![200]);
    assert!(sent[0].1.body.is_empty());
    assert!(events.is_empty());
}

#[test]
fn offerless_invite_gets_our_offer_and_the_answer_comes_in_the_ack() {
    let mut ep = endpoint();
    let mut p = Peer::new("late@192.0.2.7");
    let (_, events) = deliver(&mut ep, p.request("INVITE", "inv1", 1, "", ""), 0);
    let Event::Offered { call, media, .. } = events[0].clone() else {
        panic!()
    };
    assert_eq!(media, None);
    ep.answer(call, 20_004, Time(5)).expect("answers");
    let (sent, _) = drain(&mut ep);
    let body = String::from_utf8(sent[0].1.body.clone()).expect("utf-8");
    assert!(body.contains("m=audio 20004 RTP/AVP 0 8 101"), "{body}");
    p.to_tag = sent[0].1.header("to").and_then(tag).map(str::to_string);
    // An UPDATE with an offer crossing ours (its answer is still to come in the ACK): glare.
    let (sent, events) = deliver(&mut ep, p.request("UPDATE", "up0", 2, "", OFFER), 20);
    assert_eq!(codes(&sent), vec![491]);
    assert!(events.is_empty());
    // The caller's answer picks PCMA from our offer.
    let answer = OFFER;
    let (_, events) = deliver(&mut ep, p.request("ACK", "ack1", 1, "", answer), 30);
    let Event::Confirmed { media, .. } = &events[0] else {
        panic!("{events:?}")
    };
    assert_eq!((media.law, media.event), (Law::Pcma, Some((101, 8000))));
    // Once answered, the same UPDATE is an ordinary new offer.
    let (sent, _) = deliver(&mut ep, p.request("UPDATE", "up1", 3, "", OFFER), 40);
    assert_eq!(codes(&sent), vec![200]);
}

#[test]
fn we_hang_up_with_bye_retransmitted_until_answered() {
    let mut ep = endpoint();
    let mut p = Peer::new("local@192.0.2.7");
    let call = established(&mut ep, &mut p);
    ep.hangup(call, Time(1_000)).expect("answered call");
    let (sent, _) = drain(&mut ep);
    let (to, bye) = &sent[0];
    assert_eq!(*to, peer(), "to the Contact's address");
    assert!(
        matches!(&bye.start, Start::Request { method, uri } if method == "BYE" && uri == "sip:caller@192.0.2.7:5062")
    );
    assert_eq!(bye.header("to").and_then(tag), Some("caller1"));
    assert_eq!(bye.header("cseq"), Some("1 BYE"));
    // Lost: it goes again after T1.
    ep.handle_timeout(Time(1_500));
    let (sent, _) = drain(&mut ep);
    assert_eq!(sent.len(), 1);
    // The 200 for it ends the call.
    ep.handle_input(
        ivr_core::sip::Input::udp(&answer(bye, 200), peer()),
        Time(1_600),
    );
    let (_, events) = drain(&mut ep);
    assert_eq!(
        events,
        vec![Event::Ended {
            call,
            reason: EndReason::LocalBye
        }]
    );
}

#[test]
fn an_unanswered_bye_still_ends_the_call_at_64_t1() {
    let mut ep = endpoint();
    let mut p = Peer::new("lostbye@192.0.2.7");
    let call = established(&mut ep, &mut p);
    ep.hangup(call, Time(0)).expect("answered");
    let mut ended = None;
    let mut now = 0;
    while ended.is_none() && now < 60_000 {
        now = ep.poll_timeout().expect("bye timers").0;
        ep.handle_timeout(Time(now));
        ended = drain(&mut ep).1.into_iter().next();
    }
    assert_eq!(now, 32_000);
    assert_eq!(
        ended,
        Some(Event::Ended {
            call,
            reason: EndReason::LocalBye
        })
    );
}

#[test]
fn full_or_draining_is_503_with_retry_after() {
    let cfg = EndpointConfig {
        max_calls: 1,
        ..config()
    };
    let mut ep = Endpoint::new(cfg, 1);
    deliver(
        &mut ep,
        Peer::new("a").request("INVITE", "a", 1, "", OFFER),
        0,
    );
    let (sent, events) = deliver(
        &mut ep,
        Peer::new("b").request("INVITE", "b", 1, "", OFFER),
        0,
    );
    assert_eq!(codes(&sent), vec![503]);
    assert_eq!(sent[0].1.header("retry-after"), Some("5"));
    assert!(events.is_empty());
    let mut ep = endpoint();
    ep.drain();
    assert_eq!(
        codes(
            &deliver(
                &mut ep,
                Peer::new("c").request("INVITE", "c", 1, "", OFFER),
                0
            )
            .0
        ),
        vec![503]
    );
}

#[test]
fn malformed_and_out_of_hops_requests() {
    let mut ep = endpoint();
    let p = Peer::new("bad@192.0.2.7");
    // Two Max-Forwards: 400 with a reason that says so.
    let text = String::from_utf8(p.request("OPTIONS", "x1", 1, "", "")).expect("utf-8");
    let twice = text.replace(
        "Max-Forwards: 70\r\n",
        "Max-Forwards: 70\r\nMax-Forwards: 69\r\n",
    );
    ep.handle_input(ivr_core::sip::Input::udp(twice.as_bytes(), peer()), Time(0));
    let (sent, _) = drain(&mut ep);
    assert_eq!(codes(&sent), vec![400]);
    assert!(
        matches!(&sent[0].1.start, Start::Response { reason, .. } if reason.contains("max-forwards")),
        "{:?}",
        sent[0].1.start
    );
    // Missing Call-ID: still answered 400 (the answer cannot carry a Call-ID either).
    let no_call_id = text.replace("Call-ID: bad@192.0.2.7\r\n", "");
    ep.handle_input(
        ivr_core::sip::Input::udp(no_call_id.as_bytes(), peer()),
        Time(0),
    );
    match ep.poll_output() {
        Some(Output::Transmit { to, bytes }) => {
            assert_eq!(to, peer());
            assert!(bytes.starts_with(b"SIP/2.0 400 Bad Request (missing call-id)\r\n"));
        }
        other => panic!("{other:?}"),
    }
    let hops = String::from_utf8(p.request("INVITE", "x2", 1, "", OFFER))
        .expect("utf-8")
        .replace("Max-Forwards: 70", "Max-Forwards: 0");
    ep.handle_input(ivr_core::sip::Input::udp(hops.as_bytes(), peer()), Time(0));
    assert_eq!(codes(&drain(&mut ep).0), vec![483]);
    // Garbage: nothing to answer, nothing breaks.
    ep.handle_input(
        ivr_core::sip::Input::udp(b"\x00\x01garbage", peer()),
        Time(0),
    );
    assert_eq!(drain(&mut ep), (Vec::new(), Vec::new()));
    assert_eq!(ep.calls(), 0);
}

/// A NOTIFY from the transferee's side about our REFER.
fn notify(p: &Peer, branch: &str, cseq: u32, frag: &str, state: &str) -> Vec<u8> {
    let extra =
        format!("Event: refer\r\nSubscription-State: {state}\r\nContent-Type: message/sipfrag\r\n");
    p.request("NOTIFY", branch, cseq, &extra, frag)
}

/// An established call that has been REFERred to the agents; returns the REFER.
fn referred(ep: &mut Endpoint, p: &mut Peer) -> (CallRef, Message) {
    let call = established(ep, p);
    ep.transfer(call, "sip:agents@127.0.0.1:5080", Time(1_000))
        .expect("established");
    let (sent, _) = drain(ep);
    let (to, refer) = sent[0].clone();
    assert_eq!(to, peer());
    assert!(matches!(&refer.start, Start::Request { method, .. } if method == "REFER"));
    assert_eq!(
        refer.header("refer-to"),
        Some("<sip:agents@127.0.0.1:5080>")
    );
    assert!(refer.header("referred-by").is_some());
    (call, refer)
}

#[test]
fn blind_transfer_follows_the_notifys_to_success() {
    let mut ep = endpoint();
    let mut p = Peer::new("xfer@192.0.2.7");
    let (call, refer) = referred(&mut ep, &mut p);
    assert_eq!(
        deliver(&mut ep, answer(&refer, 202), 1_050),
        (Vec::new(), Vec::new())
    );
    let (sent, events) = deliver(
        &mut ep,
        notify(&p, "n1", 2, "SIP/2.0 100 Trying\r\n", "active;expires=60"),
        1_100,
    );
    assert_eq!(codes(&sent), vec![200]);
    assert!(events.is_empty(), "provisional: wait");
    let (sent, events) = deliver(
        &mut ep,
        notify(
            &p,
            "n2",
            3,
            "SIP/2.0 200 OK\r\n",
            "terminated;reason=noresource",
        ),
        5_000,
    );
    assert_eq!(codes(&sent), vec![200]);
    assert_eq!(
        events,
        vec![Event::Transferred {
            call,
            outcome: TransferOutcome::Success
        }]
    );
    // No REFER pending any more: a stray NOTIFY is 481.
    let (sent, _) = deliver(
        &mut ep,
        notify(&p, "n3", 4, "SIP/2.0 200 OK\r\n", "terminated"),
        5_100,
    );
    assert_eq!(codes(&sent), vec![481]);
}

#[test]
fn transfer_outcomes_busy_no_answer_rejected_and_lost() {
    for (frag, outcome) in [
        ("SIP/2.0 486 Busy Here\r\n", TransferOutcome::Busy),
        (
            "SIP/2.0 480 Temporarily Unavailable\r\n",
            TransferOutcome::NoAnswer,
        ),
        (
            "SIP/2.0 503 Service Unavailable\r\n",
            TransferOutcome::Failed,
        ),
    ] {
        let mut ep = endpoint();
        let mut p = Peer::new("busy@192.0.2.7");
        let (call, refer) = referred(&mut ep, &mut p);
        deliver(&mut ep, answer(&refer, 202), 1_050);
        let (_, events) = deliver(&mut ep, notify(&p, "n1", 2, frag, "terminated"), 2_000);
        assert_eq!(events, vec![Event::Transferred { call, outcome }], "{frag}");
    }
    // The peer refuses the REFER itself.
    let mut ep = endpoint();
    let mut p = Peer::new("refused@192.0.2.7");
    let (call, refer) = referred(&mut ep, &mut p);
    let (_, events) = deliver(&mut ep, answer(&refer, 603), 1_050);
    assert_eq!(
        events,
        vec![Event::Transferred {
            call,
            outcome: TransferOutcome::Failed
        }]
    );
    // The peer repeats its 603 (as a server transaction does on our retransmission): no second event.
    assert_eq!(
        deliver(&mut ep, answer(&refer, 603), 1_100),
        (Vec::new(), Vec::new())
    );
    // Nobody answers the REFER: failed at 64*T1, the call goes on.
    let mut ep = endpoint();
    let mut p = Peer::new("silent@192.0.2.7");
    let (call, _) = referred(&mut ep, &mut p);
    let mut events = Vec::new();
    while events.is_empty() {
        let t = ep.poll_timeout().expect("REFER timers");
        ep.handle_timeout(t);
        events = drain(&mut ep).1;
    }
    assert_eq!(
        events,
        vec![Event::Transferred {
            call,
            outcome: TransferOutcome::Failed
        }]
    );
    assert_eq!(ep.calls(), 1);
    // A NOTIFY when we REFERred nobody: 481.
    let mut ep = endpoint();
    let mut p = Peer::new("nosub@192.0.2.7");
    established(&mut ep, &mut p);
    let (sent, _) = deliver(
        &mut ep,
        notify(&p, "n9", 2, "SIP/2.0 200 OK\r\n", "terminated"),
        100,
    );
    assert_eq!(codes(&sent), vec![481]);
}

#[test]
fn only_allowed_networks_are_heard() {
    // The default allow-list: loopback and private networks. TEST-NET-1 is neither.
    let mut ep = Endpoint::new(EndpointConfig::default(), 1);
    let p = Peer::new("outsider@192.0.2.7");
    assert_eq!(
        deliver(&mut ep, p.request("INVITE", "i", 1, "", OFFER), 0),
        (Vec::new(), Vec::new())
    );
    assert_eq!(ep.refused_sources(), 1);
    for ok in [
        "127.0.0.1:5062",
        "10.1.2.3:5060",
        "192.168.1.9:5060",
        "[::1]:5060",
        "[::ffff:10.0.0.1]:5060",
    ] {
        let src: SocketAddr = ok.parse().expect("literal");
        ep.handle_input(
            ivr_core::sip::Input::udp(&p.request("OPTIONS", ok, 1, "", ""), src),
            Time(0),
        );
        let (sent, _) = drain(&mut ep);
        assert_eq!(codes(&sent), vec![200], "{ok}");
        assert_eq!(sent[0].0, src, "answered where it came from");
    }
    assert_eq!(ep.refused_sources(), 1);
}

#[test]
fn size_limits_answer_513_400_and_413() {
    let cfg = EndpointConfig {
        max_message_bytes: 2_000,
        max_headers: 20,
        max_body_bytes: 100,
        ..config()
    };
    let mut ep = Endpoint::new(cfg, 1);
    let p = Peer::new("big@192.0.2.7");
    let padding = format!("Subject: {}\r\n", "x".repeat(2_000));
    let (sent, _) = deliver(&mut ep, p.request("OPTIONS", "b1", 1, &padding, ""), 0);
    assert_eq!(codes(&sent), vec![513]);
    let many = "X-Filler: 1\r\n".repeat(20);
    let (sent, _) = deliver(&mut ep, p.request("OPTIONS", "b2", 1, &many, ""), 0);
    assert_eq!(codes(&sent), vec![400]);
    let (sent, events) = deliver(&mut ep, p.request("INVITE", "b3", 1, "", OFFER), 0);
    assert_eq!(codes(&sent), vec![413], "the offer is over 100 octets");
    assert!(events.is_empty());
}

#[test]
fn end_all_byes_answered_calls_and_refuses_the_rest() {
    let mut ep = endpoint();
    let mut a = Peer::new("up@192.0.2.7");
    let answered = established(&mut ep, &mut a);
    let b = Peer::new("ringing@192.0.2.7");
    let (_, events) = deliver(&mut ep, b.request("INVITE", "inv2", 1, "", OFFER), 50);
    let Some(Event::Offered { call: waiting, .. }) = events.first().cloned() else {
        panic!("{events:?}")
    };
    ep.end_all(Time(100));
    let (sent, events) = drain(&mut ep);
    let kinds: Vec<String> = sent
        .iter()
        .map(|(_, m)| match &m.start {
            Start::Request { method, .. } => method.clone(),
            Start::Response { code, .. } => code.to_string(),
        })
        .collect();
    assert_eq!(kinds, vec!["BYE", "503"]);
    assert_eq!(sent[1].1.header("retry-after"), Some("5"));
    assert_eq!(
        events,
        vec![Event::Ended {
            call: waiting,
            reason: EndReason::Rejected(503)
        }]
    );
    // The answered call ends when its BYE is answered; new calls are refused meanwhile.
    let (sent, _) = deliver(
        &mut ep,
        Peer::new("late@192.0.2.7").request("INVITE", "inv3", 1, "", OFFER),
        150,
    );
    assert_eq!(codes(&sent), vec![503]);
    // At T1 both the BYE and the 503 (no ACK yet) go again; the BYE's 200 ends the call.
    ep.handle_timeout(Time(600));
    let (sent, _) = drain(&mut ep);
    let bye = sent
        .iter()
        .map(|(_, m)| m)
        .find(|m| m.is_request())
        .expect("the BYE again");
    let (_, events) = deliver(&mut ep, answer(bye, 200), 700);
    assert_eq!(
        events,
        vec![Event::Ended {
            call: answered,
            reason: EndReason::LocalBye
        }]
    );
    assert_eq!(ep.calls(), 0);
}

/// What an outsider sees of the server's identifiers gives away nothing about the next ones:
/// tags and branches carry 96 fresh bits each, SDP session ids are random, and a stateless
/// answer's tag is a keyed digest (the same on a retransmission, different on another server).
#[test]
fn identifiers_are_not_predictable() {
    use ivr_core::sip::ids::Ids;
    let hex24 = |s: &str| s.len() == 24 && s.bytes().all(|b| b.is_ascii_hexdigit());
    let mut ep = Endpoint::with_ids(config(), Ids::from_os().expect("OS generator"));
    let mut seen = Vec::new();
    for i in 0..2 {
        let p = Peer::new(&format!("unpredictable-{i}"));
        let invite = p.request("INVITE", &format!("unpredictable{i}"), 1, "", OFFER);
        let (_, events) = deliver(&mut ep, invite, 0);
        let Some(Event::Offered { call, .. }) = events.first() else {
            panic!("{events:?}")
        };
        let call = *call;
        ep.answer(call, 20_000, Time(10)).expect("answers");
        let (sent, _) = drain(&mut ep);
        let ok = sent[0].1.clone();
        let to_tag = ok.header("to").and_then(tag).expect("our tag").to_string();
        assert!(hex24(&to_tag), "{to_tag}");
        let body = String::from_utf8_lossy(&ok.body).to_string();
        let session = body
            .lines()
            .find_map(|l| l.strip_prefix("o="))
            .and_then(|o| o.split_whitespace().nth(1))
            .expect("an o= line")
            .to_string();
        ep.hangup(call, Time(100)).expect("hangs up");
        let (sent, _) = drain(&mut ep);
        let via = sent[0].1.header("via").expect("BYE has a Via").to_string();
        let branch = via
            .split("branch=z9hG4bK")
            .nth(1)
            .expect("a branch")
            .to_string();
        assert!(hex24(&branch[..24.min(branch.len())]), "{via}");
        seen.push((to_tag, branch, session));
    }
    let (a, b) = (&seen[0], &seen[1]);
    assert_ne!(a.0[..8], b.0[..8], "no shared prefix in the tags");
    assert_ne!(a.1[..8], b.1[..8], "no shared prefix in the branches");
    assert_ne!(a.2, b.2, "each session has its own id");
    assert!(!a.0.contains(&a.2) && !b.1.contains(&a.0[..8]));

    // Stateless answers (here 503 at the call limit) repeat their tag for a retransmission,
    // and another server gives another.
    let stateless_tag = |ep: &mut Endpoint| {
        let p = Peer::new("over-the-limit");
        let (sent, _) = deliver(ep, p.request("INVITE", "full1", 1, "", OFFER), 200);
        let to = sent[0].1.header("to").expect("To").to_string();
        (code(&sent[0].1), tag(&to).map(str::to_string))
    };
    let full = || EndpointConfig {
        max_calls: 0,
        ..config()
    };
    let mut one = Endpoint::with_ids(full(), Ids::from_os().expect("OS generator"));
    let mut two = Endpoint::with_ids(full(), Ids::from_os().expect("OS generator"));
    let first = stateless_tag(&mut one);
    assert_eq!(first.0, 503);
    assert_eq!(
        stateless_tag(&mut one),
        first,
        "a retransmission gets the same answer"
    );
    assert_ne!(stateless_tag(&mut two).1, first.1);
}

#[test]
fn an_asserted_identity_is_handed_up_for_the_runtime_to_judge() {
    let mut ep = endpoint();
    let p = Peer::new("pai@192.0.2.7");
    let (_, events) = deliver(
        &mut ep,
        p.request(
            "INVITE",
            "inv1",
            1,
            "P-Asserted-Identity: <sip:+966511112222@pbx.example>, <tel:+966511112222>\r\n",
            OFFER,
        ),
        0,
    );
    let Event::Offered { asserted, .. } = &events[0] else {
        panic!("{events:?}")
    };
    assert_eq!(asserted.as_deref(), Some("<sip:+966511112222@pbx.example>"));
}

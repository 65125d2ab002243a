//! Floods against the SIP endpoint, in virtual time: an INVITE storm from a hundred thousand
//! sources that never acknowledge, and an OPTIONS storm from one host. The endpoint's state
//! stays within its limits, what is refused gets a stateless 503 with Retry-After, and a
//! caller from elsewhere is still answered while the storm goes on.

use ivr_core::Time;
use ivr_core::media::g711::Law;
use ivr_core::sip::codec::{Start, parse_datagram};
use ivr_core::sip::endpoint::{Endpoint, EndpointConfig, Event, FloodLimits, Output};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

const OFFER: &str = "v=0\r\no=- 1 1 IN IP4 10.9.9.9\r\ns=-\r\nc=IN IP4 10.9.9.9\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

fn request(method: &str, from: SocketAddr, n: u64, body: &str) -> Vec<u8> {
    let ct = if body.is_empty() {
        ""
    } else {
        "Content-Type: application/sdp\r\n"
    };
    format!(
        "{method} sip:940@10.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP {from};branch=z9hG4bKf{n}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:{n}@{}>;tag=f{n}\r\nTo: <sip:940@10.0.0.1>\r\n\
         Call-ID: flood-{n}\r\nCSeq: 1 {method}\r\nContact: <sip:x@{from}>\r\n\
         {ct}Content-Length: {}\r\n\r\n{body}",
        from.ip(),
        body.len()
    )
    .into_bytes()
}

/// What came out: (status codes sent with whether they carried Retry-After, calls offered).
fn drain(ep: &mut Endpoint, answer: bool, now: Time) -> (Vec<(u16, bool)>, usize) {
    let (mut codes, mut offered) = (Vec::new(), Vec::new());
    while let Some(o) = ep.poll_output() {
        match o {
            Output::Transmit { bytes, .. } => {
                let m = parse_datagram(&bytes).expect("we send valid SIP");
                if let Start::Response { code, .. } = m.start {
                    codes.push((code, m.header("retry-after").is_some()));
                }
            }
            Output::Event(Event::Offered { call, .. }) => offered.push(call),
            Output::Event(_) => {}
        }
    }
    let n = offered.len();
    if answer {
        for c in offered {
            let _ = ep.answer(c, 20_000, now);
        }
        // The 200s.
        while ep.poll_output().is_some() {}
    }
    (codes, n)
}

fn config(flood: FloodLimits) -> EndpointConfig {
    EndpointConfig {
        local: "10.0.0.1:5060".parse().expect("literal"),
        prefer: vec![Law::Pcmu],
        max_calls: 500,
        flood,
        ..EndpointConfig::default()
    }
}

#[test]
fn an_invite_storm_from_many_sources_stays_within_the_limits() {
    let flood = FloodLimits {
        max_transactions: 2_000,
        max_sources: 10_000,
        ..FloodLimits::default()
    };
    let mut ep = Endpoint::new(config(flood), 1);
    let mut peak = ep.footprint();
    let (mut refused, mut refused_with_retry) = (0u64, 0u64);
    // 100,000 INVITEs from 100,000 addresses over 10 s, none acknowledged; the server
    // answers every call it takes (its 200 is retransmitted until 32 s).
    for n in 0..100_000u64 {
        let now = Time(n / 10);
        let ip = IpAddr::V4(Ipv4Addr::from(0x0a01_0000 + n as u32));
        let from = SocketAddr::new(ip, 5060);
        ep.handle_input(
            ivr_core::sip::Input::udp(&request("INVITE", from, n, OFFER), from),
            now,
        );
        if ep.poll_timeout().is_some_and(|t| t <= now) {
            ep.handle_timeout(now);
        }
        let (codes, _) = drain(&mut ep, true, now);
        for (c, ra) in codes {
            if c == 503 {
                refused += 1;
                refused_with_retry += u64::from(ra);
            }
        }
        let f = ep.footprint();
        peak.server_transactions = peak.server_transactions.max(f.server_transactions);
        peak.calls = peak.calls.max(f.calls);
        peak.sources = peak.sources.max(f.sources);
        peak.deadlines = peak.deadlines.max(f.deadlines);
    }
    assert!(peak.calls <= 500, "{peak:?}");
    assert!(peak.server_transactions <= 2_000, "{peak:?}");
    assert!(peak.sources <= 10_000, "{peak:?}");
    assert!(peak.deadlines <= 20_000, "{peak:?}");
    assert!(refused > 90_000, "the rest were refused: {refused}");
    assert_eq!(refused, refused_with_retry, "every 503 says when to retry");
    // The storm ends; the unacknowledged calls time out and everything is given back.
    let mut now = Time(10_000);
    while now < Time(60_000) {
        now = now.plus(500);
        ep.handle_timeout(now);
        drain(&mut ep, false, now);
    }
    let f = ep.footprint();
    assert_eq!((f.calls, f.server_transactions), (0, 0), "{f:?}");
    // And a caller is answered again.
    let caller = SocketAddr::from(([10, 2, 0, 1], 5060));
    ep.handle_input(
        ivr_core::sip::Input::udp(&request("INVITE", caller, 1_000_000, OFFER), caller),
        now,
    );
    let (codes, offered) = drain(&mut ep, false, now);
    assert_eq!((codes, offered), (vec![(100, false)], 1));
}

#[test]
fn one_noisy_host_is_held_to_its_rate_and_others_get_through() {
    let flood = FloodLimits {
        per_source: 50.0,
        burst: 100,
        unconfirmed_per_source: 5,
        ..FloodLimits::default()
    };
    let mut ep = Endpoint::new(config(flood), 2);
    let noisy = SocketAddr::from(([10, 3, 0, 1], 5060));
    let caller = SocketAddr::from(([10, 4, 0, 1], 5060));
    let (mut ok, mut refused) = (0, 0);
    // 10,000 OPTIONS in one second from one host.
    for n in 0..10_000u64 {
        let now = Time(n / 10);
        ep.handle_input(
            ivr_core::sip::Input::udp(&request("OPTIONS", noisy, n, ""), noisy),
            now,
        );
        for (c, ra) in drain(&mut ep, false, now).0 {
            match c {
                200 => ok += 1,
                503 => {
                    assert!(ra, "Retry-After");
                    refused += 1;
                }
                other => panic!("{other}"),
            }
        }
        if n == 5_000 {
            ep.handle_input(
                ivr_core::sip::Input::udp(&request("INVITE", caller, 99_999_999, OFFER), caller),
                now,
            );
            let (codes, offered) = drain(&mut ep, false, now);
            assert_eq!(
                (codes, offered),
                (vec![(100, false)], 1),
                "another caller is taken"
            );
        }
    }
    // The burst and one second at the rate.
    assert!(
        (100..=160).contains(&ok),
        "{ok} answered, {refused} refused"
    );
    assert_eq!(ok + refused, 10_000);
    assert!(ep.flood_refused() >= 9_800);
    // Unacknowledged calls from one host: five wait at most, the sixth is refused.
    let host = SocketAddr::from(([10, 5, 0, 1], 5060));
    let mut codes = Vec::new();
    for n in 0..6u64 {
        ep.handle_input(
            ivr_core::sip::Input::udp(&request("INVITE", host, 50_000 + n, OFFER), host),
            Time(2_000),
        );
        codes.extend(drain(&mut ep, true, Time(2_000)).0);
    }
    assert_eq!(
        codes.iter().map(|c| c.0).collect::<Vec<_>>(),
        vec![100, 100, 100, 100, 100, 503]
    );
}

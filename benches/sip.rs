//! SIP signalling cost: parsing one INVITE, answering a request end to end in the endpoint
//! (parse, screen, transaction, response), and a whole call's signalling (INVITE, 100, 200,
//! ACK, BYE, 200), all sans-IO in one thread.
//!
//! `cargo bench --bench sip`; figures go to docs/PERFORMANCE.md.
#![allow(missing_docs)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ivr::core::Time;
use ivr::core::sip::codec;
use ivr::core::sip::endpoint::{Endpoint, EndpointConfig, Event, Output};
use std::hint::black_box;
use std::net::SocketAddr;

const SDP: &str = "v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-11,16\r\n";

/// A SIPp-shaped request; `n` makes Call-ID and branch unique.
fn request(method: &str, n: u64, to_tag: &str, cseq: u32, body: &str) -> Vec<u8> {
    let ct = if body.is_empty() {
        ""
    } else {
        "Content-Type: application/sdp\r\n"
    };
    format!(
        "{method} sip:940@127.0.0.1:5060 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-{n}-{cseq}-{method}\r\n\
         From: sipp <sip:sipp@127.0.0.1:5061>;tag={n}SIPpTag00{n}\r\n\
         To: <sip:940@127.0.0.1:5060>{to_tag}\r\n\
         Call-ID: {n}-4242@127.0.0.1\r\n\
         CSeq: {cseq} {method}\r\n\
         Contact: sip:sipp@127.0.0.1:5061\r\n\
         Max-Forwards: 70\r\n\
         Subject: Performance Test\r\n\
         {ct}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// The To tag of our response, found the cheap way (the caller's side is not measured).
fn to_tag(bytes: &[u8]) -> String {
    let text = std::str::from_utf8(bytes).unwrap_or("");
    text.split("\r\n")
        .find(|l| l.starts_with("To: "))
        .and_then(|l| l.split(";tag=").nth(1))
        .map(|t| format!(";tag={t}"))
        .unwrap_or_default()
}

fn bench(c: &mut Criterion) {
    let src: SocketAddr = "127.0.0.1:5061".parse().expect("literal address");
    let invite = request("INVITE", 1, "", 1, SDP);
    let mut g = c.benchmark_group("sip");
    g.throughput(Throughput::Elements(1));
    g.bench_function("parse INVITE with SDP", |b| {
        b.iter(|| codec::parse_datagram(black_box(&invite)).expect("valid"))
    });
    let options = request("OPTIONS", 1, "", 1, "");
    g.bench_function("OPTIONS answered (parse, screen, transaction, 200)", |b| {
        let mut ep = Endpoint::new(EndpointConfig::default(), 1);
        let mut n = 0u64;
        b.iter(|| {
            n += 1;
            ep.handle_input(
                ivr::core::sip::Input::udp(black_box(&options), src),
                Time(n),
            );
            while let Some(o) = ep.poll_output() {
                let _ = black_box(o);
            }
            // Keep the transaction table from growing: Timer J ends them.
            if n.is_multiple_of(1024) {
                ep.handle_timeout(Time(n + 64_000));
            }
        })
    });
    // Pre-built messages for many calls, so that each iteration is a different call.
    const CALLS: u64 = 4096;
    let calls: Vec<[Vec<u8>; 2]> = (0..CALLS)
        .map(|n| [request("INVITE", n, "", 1, SDP), Vec::new()])
        .collect();
    g.bench_function("whole call: INVITE, 100, 200, ACK, BYE, 200", |b| {
        let mut ep = Endpoint::new(EndpointConfig::default(), 1);
        let mut i = 0u64;
        let mut now = 0u64;
        b.iter(|| {
            let n = i % CALLS;
            i += 1;
            now += 1;
            ep.handle_input(
                ivr::core::sip::Input::udp(&calls[n as usize][0], src),
                Time(now),
            );
            let mut call = None;
            while let Some(o) = ep.poll_output() {
                if let Output::Event(Event::Offered { call: c, .. }) = o {
                    call = Some(c);
                }
            }
            let call = call.expect("offered");
            ep.answer(call, 20_000, Time(now)).expect("answers");
            let mut tag = String::new();
            while let Some(o) = ep.poll_output() {
                if let Output::Transmit { bytes, .. } = o {
                    tag = to_tag(&bytes);
                }
            }
            ep.handle_input(
                ivr::core::sip::Input::udp(&request("ACK", n, &tag, 1, ""), src),
                Time(now),
            );
            ep.handle_input(
                ivr::core::sip::Input::udp(&request("BYE", n, &tag, 2, ""), src),
                Time(now),
            );
            while let Some(o) = ep.poll_output() {
                let _ = black_box(o);
            }
            if i.is_multiple_of(1024) {
                ep.handle_timeout(Time(now + 64_000));
                now += 64_000;
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

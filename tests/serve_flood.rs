//! An INVITE storm against a running `ivr serve`: 20,000 INVITEs from 2,000 loopback
//! addresses, none ever acknowledged. The server's memory stays bounded, what it cannot take
//! gets 503 with Retry-After, and it still answers everyone else meanwhile.

mod common;

use common::serve::Served;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

const OFFER: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

fn request(method: &str, server: SocketAddr, local: SocketAddr, n: u64, body: &str) -> Vec<u8> {
    let ct = if body.is_empty() {
        ""
    } else {
        "Content-Type: application/sdp\r\n"
    };
    format!(
        "{method} sip:940@{server} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bKfl{n}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:{n}@127.0.0.1>;tag=fl{n}\r\nTo: <sip:940@{server}>\r\n\
         Call-ID: storm-{n}\r\nCSeq: 1 {method}\r\nContact: <sip:x@{local}>\r\n\
         {ct}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// The status codes `sock` has received so far, with whether each had Retry-After.
fn codes(sock: &UdpSocket) -> Vec<(u16, bool)> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = sock.recv(&mut buf) {
        let t = String::from_utf8_lossy(&buf[..n]);
        if let Some(c) = t
            .strip_prefix("SIP/2.0 ")
            .and_then(|r| r.get(..3)?.parse().ok())
        {
            out.push((c, t.contains("\r\nRetry-After: ")));
        }
    }
    out
}

#[test]
fn an_invite_storm_leaves_the_server_small_and_answering() {
    let s = Served::start(
        "flood",
        "flows/complaint_940.flow",
        "limits:\n  max_calls: 300\n  grace_seconds: 1\n  rate_per_source: 20\n  burst: 20\n  unconfirmed_per_source: 3\n",
    );
    let before = s.rss_kib();
    let sources: Vec<UdpSocket> = (0..2_000u32)
        .map(|i| {
            let ip = format!("127.1.{}.{}", i / 250, i % 250 + 1);
            let sock = UdpSocket::bind(format!("{ip}:0")).expect("a loopback address");
            sock.set_nonblocking(true).expect("nonblocking");
            sock
        })
        .collect();
    let watcher = UdpSocket::bind("127.0.0.1:0").expect("socket");
    watcher
        .set_read_timeout(Some(Duration::from_millis(50)))
        .expect("timeout");
    let mut peak = before;
    let mut answered_meanwhile = 0;
    let mut n = 0u64;
    let t = Instant::now();
    for round in 0..10 {
        for sock in &sources {
            let local = sock.local_addr().expect("bound");
            let _ = sock.send_to(&request("INVITE", s.addr, local, n, OFFER), s.addr);
            n += 1;
        }
        // Someone else, meanwhile: answered. (Over UDP, retransmitted as a UA does, Timer E:
        // the kernel drops datagrams when the storm fills the socket's buffer.)
        let local = watcher.local_addr().expect("bound");
        let options = request("OPTIONS", s.addr, local, 9_000_000 + round, "");
        let mut buf = [0u8; 4096];
        let until = Instant::now() + Duration::from_secs(4);
        let mut next_send = Instant::now();
        while Instant::now() < until {
            if Instant::now() >= next_send {
                watcher.send_to(&options, s.addr).expect("sent");
                next_send = Instant::now() + Duration::from_millis(250);
            }
            if let Ok(len) = watcher.recv(&mut buf)
                && String::from_utf8_lossy(&buf[..len]).starts_with("SIP/2.0 200")
            {
                answered_meanwhile += 1;
                break;
            }
        }
        peak = peak.max(s.rss_kib());
    }
    let storm = t.elapsed();
    std::thread::sleep(Duration::from_millis(500));
    peak = peak.max(s.rss_kib());
    let seen: Vec<(u16, bool)> = sources.iter().flat_map(codes).collect();
    let refused = seen.iter().filter(|(c, _)| *c == 503).count();
    let log = s.stop().1;
    assert_eq!(
        answered_meanwhile, 10,
        "OPTIONS answered all through the storm\n{log}"
    );
    assert!(
        seen.iter().filter(|(c, _)| *c == 503).all(|(_, ra)| *ra),
        "every 503 says when to retry"
    );
    // (Many INVITEs never reach the server: the kernel drops what overflows its socket
    // buffer. Of those it read, it took 300 calls at most and refused the rest.)
    assert!(
        refused >= 1_000,
        "{refused} of {n} refused ({} responses)",
        seen.len()
    );
    let growth = peak.saturating_sub(before);
    eprintln!(
        "storm: {n} INVITEs from 2,000 addresses in {storm:?}; RSS {before} KiB → peak {peak} KiB (+{growth} KiB); {refused} refused with 503"
    );
    assert!(
        growth < 96 * 1024,
        "memory stays bounded: {before} KiB before, {peak} KiB at the peak"
    );
}

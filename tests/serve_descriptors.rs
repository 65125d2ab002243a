//! Running out of file descriptors does not cost the server its RTP ports. `ivr serve` gets a
//! limit of 64 open files (`prlimit` on the running process), TCP peers take every descriptor
//! left, and an INVITE then gets 503 (no socket for its media); once the peers go away, calls
//! are answered again: the ports were given back, not thrown away.

mod common;

use common::serve::Served;
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::process::Command;
use std::time::{Duration, Instant};

const OFFER: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

/// Sends an INVITE from `sock` and returns the final status code (or 0 on no answer).
fn invite(sock: &UdpSocket, server: SocketAddr, n: u32) -> u16 {
    let local = sock.local_addr().expect("bound");
    let msg = format!(
        "INVITE sip:940@{server} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bKfd{n}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:0500000000@127.0.0.1>;tag=fd{n}\r\nTo: <sip:940@{server}>\r\n\
         Call-ID: descriptors-{n}\r\nCSeq: 1 INVITE\r\nContact: <sip:caller@{local}>\r\n\
         Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{OFFER}",
        OFFER.len()
    );
    sock.send_to(msg.as_bytes(), server).expect("sent");
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        let Ok((len, _)) = sock.recv_from(&mut buf) else {
            continue;
        };
        let text = String::from_utf8_lossy(&buf[..len]);
        if !text.contains(&format!("descriptors-{n}\r\n")) || !text.contains(" INVITE\r\n") {
            continue; // an answer about another call (a retransmitted 503, a BYE's 200)
        }
        let code: u16 = text
            .strip_prefix("SIP/2.0 ")
            .and_then(|r| r.get(..3))
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        if code >= 200 {
            if code != 200 {
                // ACK the refusal (same branch), so the server stops retransmitting it.
                let to = text
                    .lines()
                    .find(|l| l.to_ascii_lowercase().starts_with("to:"))
                    .unwrap_or("To: <sip:940@127.0.0.1>");
                let ack = format!(
                    "ACK sip:940@{server} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bKfd{n}\r\n\
                     Max-Forwards: 70\r\nFrom: <sip:0500000000@127.0.0.1>;tag=fd{n}\r\n{to}\r\n\
                     Call-ID: descriptors-{n}\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n"
                );
                let _ = sock.send_to(ack.as_bytes(), server);
            }
            if code == 200 {
                // Hang up so the call does not hold its port for the rest of the test.
                let to = text
                    .lines()
                    .find(|l| l.to_ascii_lowercase().starts_with("to:"))
                    .unwrap_or("To: <sip:940@127.0.0.1>")
                    .to_string();
                let ack_bye = |method: &str, cseq: u32| {
                    format!(
                        "{method} sip:940@{server} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bKfd{n}{method}\r\n\
                         Max-Forwards: 70\r\nFrom: <sip:0500000000@127.0.0.1>;tag=fd{n}\r\n{to}\r\n\
                         Call-ID: descriptors-{n}\r\nCSeq: {cseq} {method}\r\nContent-Length: 0\r\n\r\n"
                    )
                };
                let _ = sock.send_to(ack_bye("ACK", 1).as_bytes(), server);
                let _ = sock.send_to(ack_bye("BYE", 2).as_bytes(), server);
            }
            return code;
        }
    }
    0
}

#[test]
fn descriptors_running_out_cost_no_ports() {
    let served = Served::start("descriptors", "flows/complaint_940.flow", "");
    let limit = Command::new("prlimit")
        .args(["--pid", &served.pid().to_string(), "--nofile=64:64"])
        .status();
    match limit {
        Ok(s) if s.success() => {}
        other => {
            assert!(
                std::env::var_os("IVR_REQUIRE_EXTERNAL").is_none(),
                "prlimit (util-linux) is needed: {other:?}"
            );
            eprintln!("skipped: prlimit unavailable ({other:?})");
            return;
        }
    }
    let sock = UdpSocket::bind("127.0.0.1:0").expect("a UDP socket");
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    assert_eq!(
        invite(&sock, served.addr, 1),
        200,
        "a call before the flood"
    );

    // TCP peers take every descriptor the server has left.
    let mut peers = Vec::new();
    for _ in 0..100 {
        match TcpStream::connect_timeout(&served.addr, Duration::from_secs(1)) {
            Ok(s) => peers.push(s),
            Err(_) => break,
        }
    }
    std::thread::sleep(Duration::from_millis(500));
    let refused = (2..6)
        .map(|n| invite(&sock, served.addr, n))
        .collect::<Vec<_>>();
    assert!(
        refused.contains(&503),
        "out of descriptors, INVITEs get 503: {refused:?} ({} peers)",
        peers.len()
    );

    drop(peers);
    std::thread::sleep(Duration::from_millis(1_000));
    let again: Vec<u16> = (10..14).map(|n| invite(&sock, served.addr, n)).collect();
    let fds = std::fs::read_dir(format!("/proc/{}/fd", served.pid())).map_or(0, Iterator::count);
    let (_, log) = served.stop();
    assert!(
        again.iter().all(|&c| c == 200),
        "descriptors free again: calls are answered again: {again:?} ({fds} open)\n{log}"
    );
    assert!(log.contains("out of file descriptors"), "{log}");
}

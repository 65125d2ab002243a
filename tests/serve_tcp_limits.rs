//! SIP over TCP against hostile peers, on a running `ivr serve`: connections from outside
//! `sip.allow` and beyond the caps are closed at accept; idle connections and ones that
//! trickle a message byte by byte are closed; a connection that carries a call is not idle;
//! and a peer that sends OPTIONS without ever reading the answers is disconnected while the
//! server stays small.

mod common;

use common::serve::Served;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

fn options(server: SocketAddr, local: SocketAddr, n: u64) -> String {
    format!(
        "OPTIONS sip:940@{server} SIP/2.0\r\nVia: SIP/2.0/TCP {local};branch=z9hG4bKtcp{n}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:probe@127.0.0.1>;tag=t{n}\r\nTo: <sip:940@{server}>\r\n\
         Call-ID: tcp-limits-{n}@{local}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    )
}

/// Connects from `from` (an IP of loopback) to the server.
fn connect_from(from: &str, server: SocketAddr) -> TcpStream {
    let s =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("a socket");
    let local: SocketAddr = format!("{from}:0").parse().expect("addr");
    s.bind(&local.into()).expect("bind on loopback");
    s.connect_timeout(&server.into(), Duration::from_secs(2))
        .expect("connects");
    let s: TcpStream = s.into();
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .expect("timeout");
    s
}

/// What happens to a connection within `within`: `Some(text)` when the server answered
/// (what it sent), `None` when it closed the connection.
fn fate(s: &mut TcpStream, within: Duration) -> Option<String> {
    let until = Instant::now() + within;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while Instant::now() < until {
        match s.read(&mut buf) {
            Ok(0) => return None,
            Ok(n) => {
                got.extend_from_slice(&buf[..n]);
                if got.windows(4).any(|w| w == b"\r\n\r\n") {
                    return Some(String::from_utf8_lossy(&got).into_owned());
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return None,
        }
    }
    Some(String::from_utf8_lossy(&got).into_owned())
}

/// Sends OPTIONS and says whether it was answered (`false`: the connection was closed).
fn answered(s: &mut TcpStream, server: SocketAddr, n: u64) -> bool {
    let local = s.local_addr().expect("local");
    if s.write_all(options(server, local, n).as_bytes()).is_err() {
        return false;
    }
    fate(s, Duration::from_secs(3)).is_some_and(|t| t.starts_with("SIP/2.0 200"))
}

#[test]
fn connections_beyond_the_caps_or_from_outside_are_closed_at_accept() {
    let s = Served::start(
        "tcp-caps",
        "flows/complaint_940.flow",
        "sip:\n  allow: [127.0.0.1, 127.0.0.2]\n  tcp:\n    per_ip: 3\n    max_connections: 5\n",
    );
    let mut mine: Vec<TcpStream> = (0..3).map(|_| connect_from("127.0.0.1", s.addr)).collect();
    for (i, c) in mine.iter_mut().enumerate() {
        assert!(answered(c, s.addr, i as u64), "connection {i} is served");
    }
    let mut fourth = connect_from("127.0.0.1", s.addr);
    assert_eq!(
        fate(&mut fourth, Duration::from_secs(3)),
        None,
        "a fourth from one IP is closed"
    );
    let mut other: Vec<TcpStream> = (0..2).map(|_| connect_from("127.0.0.2", s.addr)).collect();
    for (i, c) in other.iter_mut().enumerate() {
        assert!(
            answered(c, s.addr, 10 + i as u64),
            "another IP has its own places"
        );
    }
    let mut sixth = connect_from("127.0.0.2", s.addr);
    assert_eq!(
        fate(&mut sixth, Duration::from_secs(3)),
        None,
        "beyond the total, closed"
    );
    let mut outside = connect_from("127.0.0.3", s.addr);
    assert_eq!(
        fate(&mut outside, Duration::from_secs(3)),
        None,
        "outside sip.allow: closed at accept, nothing read"
    );
    // A place given back is a place free again.
    drop(mine.pop());
    std::thread::sleep(Duration::from_millis(300));
    let mut again = connect_from("127.0.0.1", s.addr);
    assert!(answered(&mut again, s.addr, 20), "a freed place is taken");
    let (_, log) = s.stop();
    assert!(!log.contains("panicked"), "{log}");
}

#[test]
fn idle_and_trickling_connections_are_closed_but_busy_ones_stay() {
    let s = Served::start(
        "tcp-idle",
        "flows/complaint_940.flow",
        "sip:\n  tcp:\n    idle_seconds: 1\n    message_seconds: 2\n",
    );
    // Silent: closed after the idle time.
    let mut silent = connect_from("127.0.0.1", s.addr);
    let t = Instant::now();
    assert_eq!(
        fate(&mut silent, Duration::from_secs(5)),
        None,
        "idle: closed"
    );
    assert!(
        t.elapsed() >= Duration::from_millis(800),
        "{:?}",
        t.elapsed()
    );

    // Trickling a header, a byte every 300 ms (each read resets no timer): closed once the
    // message has taken longer than 2 s.
    let mut slow = connect_from("127.0.0.1", s.addr);
    let local = slow.local_addr().expect("local");
    let msg = options(s.addr, local, 1);
    let t = Instant::now();
    let mut closed_after = None;
    for b in msg.as_bytes() {
        if slow.write_all(&[*b]).is_err() || fate(&mut slow, Duration::from_millis(300)).is_none() {
            closed_after = Some(t.elapsed());
            break;
        }
    }
    let closed_after = closed_after.expect("the trickle was cut off");
    assert!(
        closed_after >= Duration::from_millis(1_800) && closed_after < Duration::from_secs(6),
        "{closed_after:?}"
    );

    // Talking now and then, under the idle time: stays open.
    let mut chatty = connect_from("127.0.0.1", s.addr);
    for n in 0..5 {
        assert!(
            answered(&mut chatty, s.addr, 100 + n),
            "OPTIONS {n} answered"
        );
        std::thread::sleep(Duration::from_millis(500));
    }

    // A call over TCP, then silence longer than the idle time: the connection stays, and the
    // BYE on it is answered.
    let mut call = connect_from("127.0.0.1", s.addr);
    let local = call.local_addr().expect("local");
    let sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
    let head = |method: &str, cseq: u32, branch: &str, to: &str| {
        format!(
            "{method} sip:940@{} SIP/2.0\r\nVia: SIP/2.0/TCP {local};branch=z9hG4bK{branch}\r\n\
             Max-Forwards: 70\r\nFrom: <sip:0500000000@127.0.0.1>;tag=tc1\r\nTo: {to}\r\n\
             Call-ID: tcp-call@{local}\r\nCSeq: {cseq} {method}\r\nContact: <sip:c@{local};transport=tcp>\r\n",
            s.addr
        )
    };
    let to0 = format!("<sip:940@{}>", s.addr);
    let invite = format!(
        "{}Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
        head("INVITE", 1, "inv1", &to0),
        sdp.len()
    );
    call.write_all(invite.as_bytes()).expect("INVITE sent");
    let mut answer = String::new();
    let until = Instant::now() + Duration::from_secs(5);
    while !answer.contains("SIP/2.0 200") && Instant::now() < until {
        answer.push_str(&fate(&mut call, Duration::from_millis(500)).expect("open"));
    }
    let to = answer
        .lines()
        .skip_while(|l| !l.starts_with("SIP/2.0 200"))
        .find_map(|l| {
            l.strip_prefix("To: ")
                .or_else(|| l.strip_prefix("t: "))
                .map(str::to_string)
        })
        .expect("the 200 has a To with a tag");
    let ack = format!("{}Content-Length: 0\r\n\r\n", head("ACK", 1, "ack1", &to));
    call.write_all(ack.as_bytes()).expect("ACK sent");
    std::thread::sleep(Duration::from_millis(2_500));
    let bye = format!("{}Content-Length: 0\r\n\r\n", head("BYE", 2, "bye1", &to));
    call.write_all(bye.as_bytes())
        .expect("the connection of a call is still open");
    let mut reply = String::new();
    let until = Instant::now() + Duration::from_secs(3);
    while !reply.contains(" BYE\r\n") && Instant::now() < until {
        match fate(&mut call, Duration::from_millis(300)) {
            Some(t) => reply.push_str(&t),
            None => break,
        }
    }
    assert!(
        reply.contains("SIP/2.0 200") && reply.contains("CSeq: 2 BYE"),
        "BYE answered on the call's connection: {reply}"
    );
    let (_, log) = s.stop();
    assert!(!log.contains("panicked"), "{log}");
}

#[test]
fn a_peer_that_never_reads_is_disconnected_and_the_server_stays_small() {
    let s = Served::start("tcp-noread", "flows/complaint_940.flow", "");
    let before = s.rss_kib();
    let mut peer = connect_from("127.0.0.1", s.addr);
    // A small receive buffer, so that the server's answers back up sooner.
    let local = peer.local_addr().expect("local");
    peer.set_write_timeout(Some(Duration::from_secs(2)))
        .expect("timeout");
    let t = Instant::now();
    let mut sent = 0u64;
    let mut cut = false;
    while t.elapsed() < Duration::from_secs(40) {
        let batch: String = (0..64).map(|k| options(s.addr, local, sent + k)).collect();
        match peer.write_all(batch.as_bytes()) {
            Ok(()) => sent += 64,
            Err(_) => {
                cut = true;
                break;
            }
        }
    }
    let peak = s.rss_kib();
    assert!(
        cut,
        "a peer that never reads is disconnected ({sent} OPTIONS sent)"
    );
    assert!(
        peak.saturating_sub(before) < 32 * 1024,
        "the server stayed small: {before} KiB before, {peak} KiB after {sent} OPTIONS"
    );
    // And it still serves others.
    let mut other = connect_from("127.0.0.1", s.addr);
    assert!(answered(&mut other, s.addr, 1));
    let (_, log) = s.stop();
    assert!(log.contains("does not read"), "{log}");
}

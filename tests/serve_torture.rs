//! Every RFC 4475 / RFC 5118 torture message sent to a running `ivr serve`, over UDP and over
//! TCP (a connection each). The server must answer as its SIP endpoint does (the table in
//! docs/sip-conformance.md), never die, and keep serving calls afterwards. The answers seen
//! are kept in a second table of that page (`IVR_BLESS=1` rewrites it).

mod common;

#[path = "../ivr-core/tests/support/shared.rs"]
mod shared;
#[path = "../ivr-core/tests/support/wire.rs"]
mod wire;

use common::serve::{Served, run_sipp, sipp};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

/// Status lines (code and reason) received within `window`, distinct, in order.
fn statuses(raw: &[Vec<u8>]) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    for m in raw {
        let text = String::from_utf8_lossy(m);
        let line = text.lines().next().unwrap_or("");
        if let Some(status) = line.strip_prefix("SIP/2.0 ") {
            let s = status.trim().to_string();
            if !seen.contains(&s) {
                seen.push(s);
            }
        }
    }
    seen
}

fn describe(s: &[String], nothing: &str) -> String {
    if s.is_empty() {
        nothing.to_string()
    } else {
        s.join(", ")
    }
}

/// A header's value in a raw message (full or compact name; folded lines joined).
fn header(bytes: &[u8], full: &str, compact: &str) -> Option<String> {
    let text = String::from_utf8_lossy(bytes);
    let head = text.split("\r\n\r\n").next()?;
    let mut lines: Vec<String> = Vec::new();
    for l in head.split("\r\n") {
        match lines.last_mut() {
            Some(last) if l.starts_with([' ', '\t']) => last.push_str(l),
            _ => lines.push(l.to_string()),
        }
    }
    lines
        .iter()
        .filter_map(|l| l.split_once(':'))
        .find(|(n, _)| {
            let n = n.trim();
            n.eq_ignore_ascii_case(full) || n.eq_ignore_ascii_case(compact)
        })
        .map(|(_, v)| v.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// CSeq as (number, method).
fn cseq(bytes: &[u8]) -> Option<(u64, String)> {
    let v = header(bytes, "cseq", "cseq")?;
    let mut parts = v.split_whitespace();
    let n = parts.next()?.parse().ok()?;
    Some((n, parts.next().unwrap_or("").to_ascii_uppercase()))
}

/// Whether a response belongs to the request (same Call-ID and CSeq): other datagrams on the
/// shared socket are retransmissions for earlier messages.
fn answers(req: &[u8], resp: &[u8]) -> bool {
    header(req, "call-id", "i") == header(resp, "call-id", "i")
        && (cseq(req).is_none() || cseq(req) == cseq(resp))
}

/// Collects until a final answer and a little quiet, or 300 ms of nothing.
fn until_final(
    mut next: impl FnMut() -> Option<Vec<u8>>,
    keep: impl Fn(&[u8]) -> bool,
) -> Vec<Vec<u8>> {
    let start = Instant::now();
    let mut got: Vec<Vec<u8>> = Vec::new();
    let mut final_at: Option<Instant> = None;
    while start.elapsed() < Duration::from_millis(300)
        && final_at.is_none_or(|t| t.elapsed() < Duration::from_millis(40))
    {
        if let Some(m) = next()
            && keep(&m)
        {
            if !m.starts_with(b"SIP/2.0 1") {
                final_at.get_or_insert_with(Instant::now);
            }
            got.push(m);
        }
    }
    got
}

/// Over one UDP socket shared by every message, as one peer would send them.
fn over_udp(sock: &UdpSocket, server: SocketAddr, bytes: &[u8]) -> Vec<String> {
    sock.send_to(bytes, server).expect("send");
    let mut buf = [0u8; 65_535];
    let got = until_final(
        || sock.recv(&mut buf).ok().map(|n| buf[..n].to_vec()),
        |m| answers(bytes, m),
    );
    statuses(&got)
}

fn over_tcp(server: SocketAddr, bytes: &[u8]) -> (Vec<String>, bool) {
    let mut s = TcpStream::connect(server).expect("connect");
    s.set_read_timeout(Some(Duration::from_millis(10)))
        .expect("timeout");
    s.write_all(bytes).expect("write");
    let mut all = Vec::new();
    let mut closed = false;
    let mut buf = [0u8; 65_535];
    let _ = until_final(
        || {
            if closed {
                std::thread::sleep(Duration::from_millis(5));
                return None;
            }
            match s.read(&mut buf) {
                Ok(0) => {
                    closed = true;
                    None
                }
                Ok(n) => {
                    all.extend_from_slice(&buf[..n]);
                    Some(buf[..n].to_vec())
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    None
                }
                Err(_) => {
                    closed = true;
                    None
                }
            }
        },
        |_| true,
    );
    // Split the stream into messages at each status line.
    let text = String::from_utf8_lossy(&all).to_string();
    let msgs: Vec<Vec<u8>> = text
        .split("SIP/2.0 ")
        .filter(|p| p.chars().next().is_some_and(|c| c.is_ascii_digit()))
        .map(|p| format!("SIP/2.0 {p}").into_bytes())
        .collect();
    (statuses(&msgs), closed)
}

/// The first code the endpoint answers with, from the first table of the page.
fn endpoint_first_code(doc: &str, name: &str) -> Option<String> {
    let row = doc
        .lines()
        .find(|l| l.starts_with(&format!("| `{name}` |")))?;
    let seen = row.split('|').nth(4)?.trim();
    seen.strip_prefix("answers ")
        .and_then(|r| r.split_whitespace().next())
        .map(str::to_string)
}

#[test]
fn torture_messages_against_a_running_server() {
    let Some(dir) = shared::testdata("sip-torture") else {
        return;
    };
    let readme = std::fs::read_to_string(dir.join("README.md")).expect("README");
    let names: Vec<String> = readme
        .lines()
        .filter_map(|l| {
            l.split('|')
                .nth(1)
                .map(str::trim)
                .and_then(|c| c.strip_prefix('`'))
                .and_then(|c| c.strip_suffix(".dat`"))
                .map(str::to_string)
        })
        .collect();
    assert!(names.len() > 50, "{} messages", names.len());
    // One server per transport, so that a message sent over TCP is not taken as a
    // retransmission of the same message sent over UDP just before.
    let grace = "limits:\n  grace_seconds: 1\n";
    let s = Served::start("torture-udp", "flows/complaint_940.flow", grace);
    let t = Served::start("torture-tcp", "flows/complaint_940.flow", grace);
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/sip-conformance.md");
    let doc = std::fs::read_to_string(&path).expect("docs/sip-conformance.md");
    let mut rows = vec![
        "| message | over UDP | over TCP |".to_string(),
        "|---|---|---|".to_string(),
    ];
    let mut mismatches = Vec::new();
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
    sock.set_read_timeout(Some(Duration::from_millis(10)))
        .expect("timeout");
    for name in &names {
        let bytes = wire::on_the_wire(&dir, name);
        let udp = over_udp(&sock, s.addr, &bytes);
        let (tcp, closed) = over_tcp(t.addr, &bytes);
        let first = udp.first().and_then(|l| l.split_whitespace().next());
        if let Some(want) = endpoint_first_code(&doc, name)
            && first != Some(want.as_str())
        {
            mismatches.push(format!("{name}: endpoint {want}, server {udp:?}"));
        }
        let tcp_text = match (tcp.is_empty(), closed) {
            (true, true) => "no answer; connection closed".to_string(),
            (true, false) => "no answer".to_string(),
            (false, true) => format!("{}; connection closed", tcp.join(", ")),
            (false, false) => tcp.join(", "),
        };
        rows.push(format!(
            "| `{name}` | {} | {} |",
            describe(&udp, "no answer").replace('|', "\\|"),
            tcp_text.replace('|', "\\|")
        ));
    }
    assert!(
        mismatches.is_empty(),
        "the server answers unlike its endpoint: {mismatches:#?}"
    );
    // Still serving: OPTIONS over both transports, then a call.
    let options = b"OPTIONS sip:940@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK-after\r\n\
From: <sip:t@127.0.0.1>;tag=1\r\nTo: <sip:940@127.0.0.1>\r\nCall-ID: after-torture\r\nCSeq: 1 OPTIONS\r\n\
Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n";
    let after = (
        over_udp(&sock, s.addr, options),
        over_tcp(t.addr, options).0,
    );
    if after != (vec!["200 OK".to_string()], vec!["200 OK".to_string()]) {
        let (_, log) = s.stop();
        let (_, tlog) = t.stop();
        panic!("OPTIONS after the torture got {after:?}; server logs:\n{log}\n{tlog}");
    }
    if let Some(sipp) = sipp() {
        for (server, transport) in [(&s, "u1"), (&t, "t1")] {
            let run = run_sipp(
                &sipp,
                server.addr,
                server.dir(),
                &["-sn", "uac", "-m", "2", "-d", "300", "-t", transport],
            );
            assert!(run.success, "calls after the torture: {}", run.output);
        }
    }
    for server in [s, t] {
        let (code, log) = server.stop();
        assert_eq!(code, Some(0), "the server stops cleanly: {log}");
        assert!(!log.contains("panicked"), "{log}");
    }

    let table = rows.join("\n") + "\n";
    let (begin, end) = ("<!-- server table begin -->\n", "<!-- server table end -->");
    if std::env::var_os("IVR_BLESS").is_some() {
        let (head, tail) = match (doc.split_once(begin), doc.split_once(end)) {
            (Some((h, _)), Some((_, t))) => (h.to_string(), t.to_string()),
            _ => (doc.clone(), "\n".to_string()),
        };
        std::fs::write(&path, format!("{head}{begin}{table}{end}{tail}")).expect("writable");
        return;
    }
    let current = doc
        .split_once(begin)
        .and_then(|(_, rest)| rest.split_once(end))
        .map(|(t, _)| t);
    assert_eq!(
        current,
        Some(table.as_str()),
        "docs/sip-conformance.md's server table is out of date: run with IVR_BLESS=1"
    );
}

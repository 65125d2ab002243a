//! A store that stalls does not stall the calls. While another process holds the complaint
//! store's write lock for three seconds (a backup, an `ivr tickets` run, a slow disk), calls
//! that submit wait for it, and every call's audio keeps its 20 ms pace: no media tick of any
//! call runs late, and the waiting complaints are filed once the lock is gone.

mod common;

use common::serve::{Scratch, Served};
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

/// Plays a prompt, files a complaint at once, reads the ticket back.
const FLOW: &str = "languages en

flow start
    say main-options
    set category = \"roads\"
    set district = \"101\"
    set description = \"\"
    submit create_complaint with category district description into ticket
        on failure hangup
    say your-ticket-number-is
    say ticket as digits
    hangup
";

const OFFER: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

/// A caller over UDP: INVITE, ACK of the 200, and 200 to the server's BYE.
struct Caller {
    sock: UdpSocket,
    server: SocketAddr,
    n: u32,
    done: bool,
}

impl Caller {
    fn call(server: SocketAddr, n: u32) -> Caller {
        let sock = UdpSocket::bind("127.0.0.1:0").expect("a UDP socket");
        sock.set_nonblocking(true).expect("nonblocking");
        let local = sock.local_addr().expect("bound");
        let msg = format!(
            "INVITE sip:940@{server} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bKst{n}\r\n\
             Max-Forwards: 70\r\nFrom: <sip:0500000000@127.0.0.1>;tag=st{n}\r\nTo: <sip:940@{server}>\r\n\
             Call-ID: stall-{n}\r\nCSeq: 1 INVITE\r\nContact: <sip:caller@{local}>\r\n\
             Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{OFFER}",
            OFFER.len()
        );
        sock.send_to(msg.as_bytes(), server).expect("sent");
        Caller {
            sock,
            server,
            n,
            done: false,
        }
    }

    /// Answers what the server sent since the last time.
    fn pump(&mut self) {
        let mut buf = [0u8; 4096];
        let local = self.sock.local_addr().expect("bound");
        let n = self.n;
        while let Ok((len, _)) = self.sock.recv_from(&mut buf) {
            let text = String::from_utf8_lossy(&buf[..len]).into_owned();
            let header = |name: &str| {
                text.lines()
                    .find(|l| l.to_ascii_lowercase().starts_with(name))
                    .unwrap_or_default()
                    .to_string()
            };
            if text.starts_with("SIP/2.0 200") && text.contains(" INVITE\r\n") {
                let to = header("to:");
                let ack = format!(
                    "ACK sip:940@{} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bKsta{n}\r\n\
                     Max-Forwards: 70\r\nFrom: <sip:0500000000@127.0.0.1>;tag=st{n}\r\n{to}\r\n\
                     Call-ID: stall-{n}\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n",
                    self.server
                );
                let _ = self.sock.send_to(ack.as_bytes(), self.server);
            } else if text.starts_with("BYE ") {
                let ok = format!(
                    "SIP/2.0 200 OK\r\n{}\r\n{}\r\n{}\r\n{}\r\n{}\r\nContent-Length: 0\r\n\r\n",
                    header("via:"),
                    header("from:"),
                    header("to:"),
                    header("call-id:"),
                    header("cseq:")
                );
                let _ = self.sock.send_to(ok.as_bytes(), self.server);
                self.done = true;
            }
        }
    }
}

#[test]
fn a_stalled_store_delays_no_calls_audio() {
    let dir = Scratch::new("stall-flow");
    let flow = dir.0.join("stall.flow");
    std::fs::write(&flow, FLOW).expect("flow written");
    let s = Served::start("stall", flow.to_str().expect("utf-8 path"), "");

    // Another process takes the store's write lock and keeps it for three seconds.
    let db = rusqlite::Connection::open(s.data.join("complaints.sqlite")).expect("the store");
    db.execute_batch("BEGIN EXCLUSIVE").expect("the write lock");
    let locked = Instant::now();

    let mut callers: Vec<Caller> = Vec::new();
    let until = Instant::now() + Duration::from_secs(30);
    let mut released = false;
    while Instant::now() < until {
        // A new call every 300 ms for the first two seconds: some submit while others play.
        if callers.len() < 7
            && locked.elapsed() >= Duration::from_millis(300 * callers.len() as u64)
        {
            callers.push(Caller::call(s.addr, callers.len() as u32));
        }
        if !released && locked.elapsed() >= Duration::from_secs(3) {
            db.execute_batch("COMMIT").expect("the lock given back");
            released = true;
        }
        for c in &mut callers {
            c.pump();
        }
        if released && callers.len() == 7 && callers.iter().all(|c| c.done) {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let cdrs = s.wait_cdrs(7);
    let (_, log) = s.stop();
    assert_eq!(cdrs.len(), 7, "every call ended\n{log}");
    let mut stalled = 0;
    for c in &cdrs {
        let media = &c["media"];
        assert!(
            media["ticks"].as_u64().unwrap_or(0) > 100,
            "the call had audio: {c}"
        );
        assert_eq!(
            media["late_ticks"].as_u64(),
            Some(0),
            "no tick ran late while the store stalled: {media}"
        );
        let submit = &c["backend"][0];
        assert_eq!(submit["result"], "ok", "the complaint was filed: {submit}");
        if submit["ms"].as_u64().unwrap_or(0) >= 1_000 {
            stalled += 1;
        }
    }
    assert!(
        stalled >= 3,
        "calls waited for the store (so the test stalled them): {stalled}"
    );
}

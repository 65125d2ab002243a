//! Any bytes as a GeoReport v2 endpoint's answers: the Open311 client (served by a one-shot
//! local HTTP server that answers with the input) never panics, and classifies every answer
//! as an id, a token, a retry or a refusal.
#![no_main]

use ivr_core::backend::Complaint;
use ivr_core::backend::open311::{Open311Client, Open311Config};
use libfuzzer_sys::fuzz_target;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

fuzz_target!(|data: &[u8]| {
    let Ok(l) = TcpListener::bind("127.0.0.1:0") else {
        return;
    };
    let Ok(addr) = l.local_addr() else { return };
    let body = data.to_vec();
    let server = std::thread::spawn(move || {
        if let Ok((mut s, _)) = l.accept() {
            let mut buf = [0u8; 4096];
            let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
            let _ = s.read(&mut buf);
            let code = if body.first().is_some_and(|b| b % 3 == 0) {
                500
            } else {
                200
            };
            let _ = write!(
                s,
                "HTTP/1.1 {code} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(&body);
        }
    });
    let client = Open311Client::new(Open311Config {
        endpoint: format!("http://{addr}/v2"),
        timeout: Duration::from_millis(500),
        ..Open311Config::default()
    });
    let c = Complaint {
        category: "roads".into(),
        district: Some("101".into()),
        location: None,
        recording: None,
        caller: "1".into(),
        language: "ar".into(),
        channel: "ivr".into(),
        call_id: "f".into(),
        at: "2026-11-29T00:00:00Z".into(),
    };
    let _ = client.post("1000015", &c);
    let _ = server.join();
});

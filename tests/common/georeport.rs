//! A minimal GeoReport v2 endpoint for process-level tests: it takes every
//! `POST …/requests.json`, counts the posts per `attribute[ivr_ticket]`, and answers with a
//! request id.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};

#[path = "../../ivr-core/tests/support/http.rs"]
mod http;

/// Posts received, by ticket.
pub type Taken = Arc<Mutex<BTreeMap<String, u32>>>;

/// Serves on `addr` for the rest of the test process.
pub fn serve(addr: SocketAddr) -> Taken {
    let taken: Taken = Arc::default();
    let l = TcpListener::bind(addr).expect("bind the GeoReport endpoint");
    let t = Arc::clone(&taken);
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            let Some(req) = http::read(&s) else { continue };
            let line = req.line.clone();
            let body = String::from_utf8_lossy(&req.body).into_owned();
            let ticket = body
                .split('&')
                .find_map(|kv| kv.strip_prefix("attribute%5Bivr_ticket%5D="))
                .unwrap_or("")
                .to_string();
            let answer = if line.starts_with("POST") && !ticket.is_empty() {
                let mut g = t.lock().expect("lock");
                *g.entry(ticket.clone()).or_default() += 1;
                format!("[{{\"service_request_id\":\"r-{ticket}\"}}]")
            } else {
                "[]".to_string()
            };
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                answer.len()
            );
        }
    });
    taken
}

//! `ivr serve --metrics`: the Prometheus text endpoint counts what calls did.

mod common;

use common::serve::Served;
use std::io::{Read, Write};
use std::process::Command;

fn get(addr: &str, path: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    out
}

#[test]
fn metrics_count_calls_steps_keys_and_outcomes() {
    let s = Served::launch(
        "metrics",
        "flows/complaint_940.flow",
        "",
        "",
        &["--metrics", "127.0.0.1:0"],
    );
    let addr = s
        .banner
        .split("metrics at http://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .expect("the banner names the metrics address")
        .to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_ivr"))
        .args(["call", &format!("sip:940@{}", s.addr)])
        .args([
            "--keys",
            "2 1",
            "--key-timing",
            "pause:800",
            "--hangup-after",
            "3s",
        ])
        .output()
        .expect("ivr call runs");
    assert!(out.status.success());
    s.wait_cdrs(1);
    let text = get(&addr, "/metrics");
    assert!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
    for want in [
        "ivr_calls_active 0",
        "ivr_calls_total{outcome=\"caller_hangup\"} 1",
        "ivr_step_entries_total{step=\"flow main\"} 1",
        "ivr_step_entries_total{step=\"flow new_complaint\"} 1",
        "ivr_step_hangups_total{step=\"flow new_complaint\"} 1",
        "ivr_digits_total{method=\"rfc4733\"} 2",
        "ivr_call_duration_seconds_count 1",
        "# EOF",
    ] {
        assert!(text.contains(want), "missing {want}:\n{text}");
    }
    assert!(get(&addr, "/other").starts_with("HTTP/1.1 404"));
    let (code, _) = s.stop();
    assert_eq!(code, Some(0));
}

//! Notifications from a running server: a complaint filed by phone sends the caller an SMS
//! and staff a notice; a status set by `ivr tickets set-status` (another process) reaches the
//! caller through the same server.

mod common;

use common::serve::{Scratch, Served};
use std::process::Command;
use std::time::{Duration, Instant};

fn notices(path: &std::path::Path, n: usize) -> Vec<serde_json::Value> {
    let until = Instant::now() + Duration::from_secs(15);
    loop {
        let got: Vec<serde_json::Value> = std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("JSON"))
            .collect();
        if got.len() >= n || Instant::now() > until {
            return got;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn sms_for_a_new_ticket_and_for_its_status_change() {
    let dir = Scratch::new("notify");
    let flow = dir.0.join("quick.flow");
    std::fs::write(&flow, common::serve::QUICK_FLOW).expect("write");
    let s = Served::launch(
        "notify",
        flow.to_str().expect("utf-8"),
        "notify:\n  file: notices.jsonl\n  staff: true\n",
        "",
        &[],
    );
    let out = Command::new(env!("CARGO_BIN_EXE_ivr"))
        .args(["call", &format!("sip:940@{}", s.addr)])
        .args([
            "--keys",
            "101",
            "--key-timing",
            "silence:300",
            "--from",
            "+966500000099",
        ])
        .output()
        .expect("ivr call runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let file = s.data.join("notices.jsonl");
    let got = notices(&file, 2);
    assert_eq!(got.len(), 2, "{got:?}");
    let sms = got
        .iter()
        .find(|n| n["kind"] == "ticket_created")
        .expect("the caller's SMS");
    assert_eq!(sms["to"], "caller:+966500000099");
    let ticket = sms["ticket"].as_str().expect("ticket").to_string();
    assert!(sms["text"].as_str().is_some_and(|t| t.contains(&ticket)));
    assert!(got.iter().any(|n| n["to"] == "staff"));
    // The back office moves the ticket on, from another process.
    let set = Command::new(env!("CARGO_BIN_EXE_ivr"))
        .args([
            "tickets",
            "set-status",
            &ticket,
            "in_progress",
            "--note",
            "Crew assigned.",
        ])
        .arg("--data")
        .arg(&s.data)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("ivr tickets runs");
    assert!(set.status.success());
    let got = notices(&file, 3);
    let status = got
        .iter()
        .find(|n| {
            n["kind"]
                .as_str()
                .is_some_and(|k| k.starts_with("status_changed"))
        })
        .unwrap_or_else(|| panic!("{got:?}"));
    assert_eq!(
        status["text"],
        format!("940: ticket {ticket} is now in progress. Crew assigned.")
    );
    let (code, _) = s.stop();
    assert_eq!(code, Some(0));
}

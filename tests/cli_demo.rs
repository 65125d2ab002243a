//! `ivr demo`: a complaint filed in Arabic and tracked in English over real SIP and RTP on
//! loopback, from one command.

mod common;

use common::serve::Scratch;
use std::process::Command;

#[test]
fn the_demo_files_and_tracks_a_complaint() {
    let dir = Scratch::new("demo");
    let data = dir.0.join("data");
    let out = Command::new(env!("CARGO_BIN_EXE_ivr"))
        .args(["demo", "--data"])
        .arg(&data)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("ivr demo runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    // The Arabic caller heard the Arabic menus and a ticket number read back digit by digit.
    assert!(
        stdout.contains("main-options (ar): لتقديم بلاغ جديد"),
        "{stdout}"
    );
    let ticket = stdout
        .lines()
        .find_map(|l| l.strip_prefix("ticket "))
        .and_then(|l| l.split(':').next())
        .expect("a ticket line")
        .to_string();
    assert!(
        ticket.len() >= 6 && ticket.chars().all(|c| c.is_ascii_digit()),
        "{ticket}"
    );
    assert!(stdout.contains(&format!("value:{ticket} (ar)")), "{stdout}");
    // The English caller keyed it and heard its status.
    assert!(
        stdout.contains("main-options (en): To report a new complaint"),
        "{stdout}"
    );
    assert!(stdout.contains("status heard: received"), "{stdout}");
    // Both calls are in the call records, the description is a real recording, and the
    // complaint is in the store with it.
    let cdrs: Vec<serde_json::Value> = std::fs::read_to_string(data.join("cdr.jsonl"))
        .expect("call records")
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    assert_eq!(cdrs.len(), 2);
    let rec = &cdrs[0]["recordings"][0];
    assert_eq!(rec["speech"], true, "{rec}");
    let wav = rec["path"].as_str().expect("a path");
    assert!(
        std::fs::metadata(wav).is_ok_and(|m| m.len() > 16_000),
        "{wav}"
    );
    let list = Command::new(env!("CARGO_BIN_EXE_ivr"))
        .args(["tickets", "list", "--json", "--data"])
        .arg(&data)
        .output()
        .expect("ivr tickets runs");
    let listed = String::from_utf8_lossy(&list.stdout);
    assert!(
        listed.contains(&ticket) && listed.contains("roads"),
        "{listed}"
    );
}

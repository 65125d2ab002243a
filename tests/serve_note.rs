//! A tracking call hears the status, the date of its last change and the note staff wrote,
//! spoken by text-to-speech (espeak-ng) at call time.

mod common;

use common::serve::{Scratch, Served};
use std::process::Command;

#[test]
fn the_staff_note_is_spoken_on_the_tracking_call() {
    if common::serve::tool("espeak-ng", "espeak-ng").is_none() {
        return;
    }
    let dir = Scratch::new("note");
    let data = dir.0.join("data");
    std::fs::create_dir_all(&data).expect("data");
    let ticket = {
        let store = ivr::core::backend::sqlite::SqliteStore::open(&data.join("complaints.sqlite"))
            .expect("store");
        let t = store
            .submit_sync(&ivr::core::backend::Complaint {
                category: "roads".into(),
                district: Some("101".into()),
                location: None,
                recording: None,
                caller: "+966500000001".into(),
                language: "en".into(),
                channel: "ivr".into(),
                call_id: "note-1".into(),
                at: "2026-11-20T08:00:00Z".into(),
            })
            .expect("filed");
        store
            .set_status(
                &t,
                ivr::core::backend::Status::InProgress,
                Some("A crew is booked for Sunday morning."),
                "2026-11-28T09:00:00Z",
            )
            .expect("set");
        t
    };
    let s = Served::launch_data("note", "flows/complaint_940.flow", "", "", &[], Some(&data));
    let out = Command::new(env!("CARGO_BIN_EXE_ivr"))
        .args(["call", &format!("sip:940@{}", s.addr)])
        .args([
            "--keys",
            &format!("2 2 {ticket}#"),
            "--key-timing",
            "pause:1000",
        ])
        .output()
        .expect("ivr call runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("the far end hung up"), "{text}");
    let cdrs = s.wait_cdrs(1);
    let prompts: Vec<String> = cdrs[0]["prompts"]
        .as_array()
        .expect("prompts")
        .iter()
        .map(|p| p["id"].as_str().unwrap_or("").to_string())
        .collect();
    for want in [
        "status-in-progress",
        "status-updated-on",
        "value:2026-11-28",
        "status-note",
        "value:A crew is booked for Sunday morning.",
        "thank-you-goodbye",
    ] {
        assert!(prompts.iter().any(|p| p == want), "{want} in {prompts:?}");
    }
    let (code, log) = s.stop();
    assert_eq!(code, Some(0));
    assert!(!log.contains("not played"), "{log}");
    // The note became audio (espeak-ng, at least a second of it) and was played.
    let spoken_ms: u64 = log
        .lines()
        .find(|l| l.contains("audio loaded"))
        .and_then(|l| l.split("ms=").nth(1))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    assert!(spoken_ms > 1000, "{log}");
}

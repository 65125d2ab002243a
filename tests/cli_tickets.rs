//! The complaint store end to end: a simulated call files a complaint, the back office sets
//! its status with `ivr tickets`, and a tracking call hears that status.

mod common;
use common::{ivr, stdout};

#[test]
fn file_set_status_and_track() {
    let dir = std::env::temp_dir().join(format!("ivr-tickets-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let data = dir.to_str().expect("utf-8");
    let filed = ivr(&[
        "simulate",
        "flows/complaint_940.ar.flow",
        "--data",
        data,
        "--keys",
        "1 1 2 205 # 1",
        "--at",
        "2026-11-29T10:00:00+03:00",
    ]);
    let text = stdout(&filed);
    let ticket = text
        .lines()
        .find_map(|l| l.split_once("result: ").map(|(_, t)| t.trim().to_string()))
        .expect("a ticket number");
    assert_eq!(ticket.len(), 7, "{text}");
    let list = stdout(&ivr(&["tickets", "list", "--data", data, "--json"]));
    let v: serde_json::Value = serde_json::from_str(&list).expect("json");
    assert_eq!(v[0]["ticket"], ticket.as_str());
    assert_eq!(v[0]["status"], "received");
    assert_eq!(v[0]["complaint"]["category"], "lighting");
    assert_eq!(v[0]["complaint"]["district"], "205");
    assert_eq!(v[0]["complaint"]["language"], "ar");
    let set = ivr(&[
        "tickets",
        "set-status",
        &ticket,
        "resolved",
        "--note",
        "lamp replaced",
        "--data",
        data,
    ]);
    assert_eq!(set.status.code(), Some(0));
    let track = stdout(&ivr(&[
        "simulate",
        "flows/complaint_940.flow",
        "--data",
        data,
        "--keys",
        &format!("2 2 {ticket}#"),
        "--at",
        "2026-11-30T10:00:00+03:00",
    ]));
    assert!(track.contains("result: resolved"), "{track}");
    assert!(track.contains("say status-resolved (en)"), "{track}");
    // A mistyped ticket (one digit off) is not found: the check digit catches it.
    let mut wrong: Vec<char> = ticket.chars().collect();
    wrong[3] = if wrong[3] == '9' {
        '0'
    } else {
        char::from(wrong[3] as u8 + 1)
    };
    let wrong: String = wrong.into_iter().collect();
    let miss = stdout(&ivr(&[
        "simulate",
        "flows/complaint_940.flow",
        "--data",
        data,
        "--keys",
        &format!("2 2 {wrong}#"),
        "--at",
        "2026-11-30T10:00:00+03:00",
    ]));
    assert!(miss.contains("result: not found"), "{miss}");
    assert_eq!(
        ivr(&["tickets", "show", &wrong, "--data", data])
            .status
            .code(),
        Some(1)
    );
    assert_eq!(
        ivr(&["tickets", "set-status", &ticket, "lost", "--data", data])
            .status
            .code(),
        Some(2)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

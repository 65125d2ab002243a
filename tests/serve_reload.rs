//! Hot reload: `ivr serve` takes a changed script for new calls (file change or SIGHUP),
//! lets calls in progress finish on the version they started with, and keeps serving the old
//! version when the new one has errors (logging the diagnostics).

mod common;

use common::serve::{Scratch, Served};
use std::process::Command;
use std::thread::sleep;
use std::time::Duration;

fn call(addr: std::net::SocketAddr, hangup_after: &str) -> std::thread::JoinHandle<String> {
    let target = format!("sip:940@{addr}");
    let hangup_after = hangup_after.to_string();
    std::thread::spawn(move || {
        let out = Command::new(env!("CARGO_BIN_EXE_ivr"))
            .args(["call", &target, "--hangup-after", &hangup_after])
            .output()
            .expect("ivr call runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    })
}

fn original() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/flows/complaint_940.flow"
    ))
    .expect("the shipped script")
}

/// The script with its first prompt changed (still valid).
fn changed() -> String {
    original().replacen(
        "    say welcome in ar\n",
        "    say thank-you-goodbye in ar\n",
        1,
    )
}

/// A server on a copy of the shipped script (which the test then edits), reloading by
/// polling every `poll` ms (`0`: on SIGHUP only).
fn serve_copy(name: &str, poll: &str) -> (Scratch, std::path::PathBuf, Served) {
    let dir = Scratch::new(name);
    let flow = dir.0.join("hotline.flow");
    std::fs::write(&flow, original()).expect("write");
    let s = Served::launch(
        name,
        flow.to_str().expect("utf-8 path"),
        "",
        "",
        &["--reload-poll", poll],
    );
    (dir, flow, s)
}

fn first_prompt(c: &serde_json::Value) -> String {
    c["prompts"][0]["id"].as_str().unwrap_or("").to_string()
}

#[test]
fn a_changed_file_is_picked_up_and_a_broken_one_refused() {
    let (_dir, flow, s) = serve_copy("reload-file", "200");
    // A long call under version 1.
    let long = call(s.addr, "4s");
    sleep(Duration::from_millis(800));
    std::fs::write(&flow, changed()).expect("write");
    sleep(Duration::from_millis(800));
    // A new call under version 2.
    assert!(
        call(s.addr, "1s")
            .join()
            .expect("call")
            .contains("answered")
    );
    let long_out = long.join().expect("call");
    assert!(long_out.contains("answered"), "{long_out}");
    let cdrs = s.wait_cdrs(2);
    let (short, long) = if cdrs[0]["prompts"][0]["id"] == "welcome" {
        (&cdrs[1], &cdrs[0])
    } else {
        (&cdrs[0], &cdrs[1])
    };
    assert_eq!(
        first_prompt(long),
        "welcome",
        "the call in progress kept its version"
    );
    assert_eq!(
        first_prompt(short),
        "thank-you-goodbye",
        "the new call runs the new one"
    );
    assert_ne!(long["script"], short["script"]);
    assert!(
        short["script"]
            .as_str()
            .is_some_and(|v| v.starts_with("sha256:"))
    );
    // A broken script: refused; the last good version keeps serving.
    std::fs::write(&flow, "flow main\n    goto nowhere\n").expect("write");
    sleep(Duration::from_millis(800));
    assert!(
        call(s.addr, "1s")
            .join()
            .expect("call")
            .contains("answered")
    );
    let cdrs = s.wait_cdrs(3);
    assert_eq!(cdrs[2]["script"], short["script"], "{:?}", cdrs[2]);
    assert_eq!(first_prompt(&cdrs[2]), "thank-you-goodbye");
    let (code, log) = s.stop();
    assert_eq!(code, Some(0));
    assert!(log.contains("script reloaded"), "{log}");
    assert!(log.contains("script not reloaded"), "{log}");
    assert!(
        log.contains("hotline.flow:2:") && log.contains("error[E"),
        "{log}"
    );
}

#[test]
fn sighup_reloads_when_polling_is_off() {
    let (_dir, flow, s) = serve_copy("reload-hup", "0");
    std::fs::write(&flow, changed()).expect("write");
    sleep(Duration::from_millis(500));
    assert!(
        call(s.addr, "1s")
            .join()
            .expect("call")
            .contains("answered")
    );
    s.signal("HUP");
    sleep(Duration::from_millis(500));
    assert!(
        call(s.addr, "1s")
            .join()
            .expect("call")
            .contains("answered")
    );
    let cdrs = s.wait_cdrs(2);
    assert_eq!(first_prompt(&cdrs[0]), "welcome", "no polling: not yet");
    assert_eq!(first_prompt(&cdrs[1]), "thank-you-goodbye", "after SIGHUP");
    let (code, log) = s.stop();
    assert_eq!(code, Some(0));
    assert!(log.contains("why=SIGHUP"), "{log}");
}

//! `ivr call`, the test softphone: keys by each method reach `ivr serve` (seen in its call
//! records), and it interoperates with SIPp's `uas` scenario.

mod common;

#[path = "../ivr-core/tests/support/shared.rs"]
mod shared;

use common::serve::{Served, free_port, sipp};
use std::process::{Command, Stdio};

fn call(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ivr"))
        .arg("call")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("ivr call runs");
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

#[test]
fn keys_arrive_by_rfc4733_info_and_inband() {
    // End to end through the `ivr call` command and `ivr serve` on real sockets. (The keys'
    // behaviour itself — every method, lossy networks — is tested in virtual time through the
    // same machines: ivr-core/tests/kit_complaint.rs.)
    // In-band detection on for every call, so the in-band keys are heard even though the
    // softphone offers telephone-event.
    let s = Served::start_with_rtp(
        "call-keys",
        "flows/complaint_940.flow",
        "",
        "  inband: on\n",
    );
    let target = format!("sip:940@{}", s.addr);
    for (n, method) in ["rfc4733", "info", "inband"].into_iter().enumerate() {
        let (ok, out) = call(&[
            &target,
            "--keys",
            "2 9",
            "--dtmf",
            method,
            "--key-timing",
            "pause:800",
            "--hangup-after",
            "3s",
        ]);
        assert!(ok, "{out}");
        assert!(out.contains("answered: PCMU"), "{out}");
        assert!(out.contains("keys sent: 29"), "{out}");
        let cdrs = s.wait_cdrs(n + 1);
        let c = &cdrs[n];
        let digits: Vec<(String, String)> = c["digits"]
            .as_array()
            .expect("digits")
            .iter()
            .map(|d| {
                (
                    d["key"].as_str().unwrap_or("").to_string(),
                    d["method"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect();
        assert_eq!(
            digits,
            vec![("2".into(), method.into()), ("9".into(), method.into())],
            "{c}"
        );
        // 2 chose English; 9 repeated the English main menu.
        assert_eq!(c["language"], "en", "{c}");
        assert_eq!(c["hangup_by"], "caller");
    }
}

#[test]
fn a_failed_call_says_why() {
    // A server that takes no calls at all (most calls: 0) answers 503.
    let s = Served::start(
        "call-refused",
        "flows/complaint_940.flow",
        "limits:\n  max_calls: 0\n",
    );
    let (ok, out) = call(&[&format!("sip:940@{}", s.addr), "--hangup-after", "1s"]);
    assert!(!ok, "{out}");
    assert!(out.contains("failed: 503"), "{out}");
}

#[test]
fn calls_sipps_uas_scenario() {
    let Some(sipp) = sipp() else { return };
    let Some(dir) = shared::testdata("sipp") else {
        return;
    };
    let port = free_port();
    let media = free_port();
    let mut uas = Command::new(sipp)
        .args(["-sf"])
        .arg(dir.join("uas.xml"))
        .args([
            "-i",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-mp",
            &media.to_string(),
        ])
        .args(["-m", "1", "-nostdin", "-timeout", "30s", "-timeout_error"])
        .current_dir(std::env::temp_dir())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sipp starts");
    std::thread::sleep(std::time::Duration::from_millis(500));
    let (ok, out) = call(&[
        &format!("sip:service@127.0.0.1:{port}"),
        "--keys",
        "1",
        "--hangup-after",
        "2s",
    ]);
    let status = uas.wait().expect("sipp ends");
    assert!(ok, "{out}");
    assert!(out.contains("180 Ringing"), "{out}");
    assert!(out.contains("answered: PCMU"), "{out}");
    assert!(out.contains("result: answered, we hung up"), "{out}");
    assert!(status.success(), "SIPp's uas saw a whole call: {status:?}");
}

//! Callers' recordings on a running `ivr serve`: two callers who send the same Call-ID (a
//! broken PBX, or someone who wants the other's ticket) each get their own recording file and
//! their own ticket; recordings, call records and the store are readable by the server's user
//! only; and a recording a crash cut short is repaired at the next start, set aside, and
//! listed by `ivr tickets partial`.

mod common;

use common::serve::{Scratch, Served};
use std::path::Path;
use std::process::Command;

/// Records the caller at once, files the complaint, reads the ticket back.
const FLOW: &str = "languages en

flow start
    record description beep max 10s silence 2s
        on noinput hangup
    set category = \"roads\"
    set district = \"101\"
    submit create_complaint with category district description into ticket
        on failure hangup
    say your-ticket-number-is
    say ticket as digits
    hangup
";

fn call(target: &str, call_id: &str, from: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_ivr"))
        .args(["call", target, "--call-id", call_id, "--from", from])
        .args([
            "--say",
            "examples/audio/caller-ar.wav",
            "--hangup-after",
            "30s",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("ivr call runs");
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    text
}

#[cfg(unix)]
fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).map_or(0, |m| m.permissions().mode() & 0o777)
}

#[test]
fn a_reused_call_id_neither_overwrites_a_recording_nor_shares_a_ticket() {
    let dir = Scratch::new("rec-flow");
    let flow = dir.0.join("record.flow");
    std::fs::write(&flow, FLOW).expect("the script");
    let s = Served::start("rec-reuse", flow.to_str().expect("utf-8 path"), "");
    let target = format!("sip:940@{}", s.addr);
    let first = call(&target, "same-call-id@pbx", "+966500000001");
    let second = call(&target, "same-call-id@pbx", "+966500000002");
    let cdrs = s.wait_cdrs(2);
    assert_eq!(cdrs.len(), 2, "{first}\n{second}");
    let ticket = |c: &serde_json::Value| {
        c["backend"]
            .as_array()
            .and_then(|b| b.iter().find(|r| r["op"] == "create_complaint"))
            .map(|r| r["detail"].as_str().unwrap_or_default().to_string())
            .unwrap_or_default()
    };
    let (t1, t2) = (ticket(&cdrs[0]), ticket(&cdrs[1]));
    assert!(!t1.is_empty() && !t2.is_empty(), "both filed: {cdrs:?}");
    assert_ne!(t1, t2, "the second caller got a ticket of its own");
    assert_ne!(cdrs[0]["uid"], cdrs[1]["uid"], "the server's ids differ");
    let path = |c: &serde_json::Value| {
        c["recordings"][0]["path"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    let (p1, p2) = (path(&cdrs[0]), path(&cdrs[1]));
    assert_ne!(p1, p2, "two recordings, two files");
    for (p, c) in [(&p1, &cdrs[0]), (&p2, &cdrs[1])] {
        let bytes = std::fs::read(p).expect("the recording is there");
        use sha2::Digest;
        let hash: String = sha2::Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            c["recordings"][0]["sha256"], hash,
            "each file is still the one its call wrote"
        );
    }
    // Both complaints are in the store, each with its own caller.
    let store = ivr::core::backend::sqlite::SqliteStore::open(&s.data.join("complaints.sqlite"))
        .expect("the store");
    let list = store.list(jiff::Timestamp::now()).expect("listed");
    assert_eq!(list.len(), 2);
    let mut callers: Vec<&str> = list.iter().map(|t| t.complaint.caller.as_str()).collect();
    callers.sort_unstable();
    assert_eq!(callers, vec!["+966500000001", "+966500000002"]);
    #[cfg(unix)]
    {
        assert_eq!(mode(Path::new(&p1)), 0o600, "recordings are private");
        assert_eq!(mode(&s.data.join("recordings")), 0o700);
        assert_eq!(mode(&s.data), 0o700);
        assert_eq!(mode(&s.data.join("cdr.jsonl")), 0o600);
        assert_eq!(mode(&s.data.join("complaints.sqlite")), 0o600);
    }
    let _ = s.stop();
}

#[test]
fn a_recording_cut_short_by_a_crash_is_repaired_and_listed() {
    let dir = Scratch::new("rec-repair");
    let data = dir.0.join("data");
    let recordings = data.join("recordings");
    std::fs::create_dir_all(&recordings).expect("folder");
    // What a writer leaves when the process dies mid-recording: the samples are on disk, the
    // header's sizes are still 0 (as hound writes them at the start).
    let cut = recordings.join("0123456789abcdef01234567-1.wav");
    let mut bytes = Vec::new();
    bytes.extend_from_slice(b"RIFF");
    bytes.extend_from_slice(&0u32.to_le_bytes());
    bytes.extend_from_slice(b"WAVEfmt ");
    bytes.extend_from_slice(&16u32.to_le_bytes());
    bytes.extend_from_slice(&1u16.to_le_bytes()); // PCM
    bytes.extend_from_slice(&1u16.to_le_bytes()); // mono
    bytes.extend_from_slice(&8000u32.to_le_bytes());
    bytes.extend_from_slice(&16000u32.to_le_bytes());
    bytes.extend_from_slice(&2u16.to_le_bytes());
    bytes.extend_from_slice(&16u16.to_le_bytes());
    bytes.extend_from_slice(b"data");
    bytes.extend_from_slice(&0u32.to_le_bytes());
    for i in 0..16_000i32 {
        bytes.extend_from_slice(&((i % 200 - 100) as i16 * 50).to_le_bytes());
    }
    std::fs::write(&cut, &bytes).expect("the partial recording");

    let s = Served::launch_data(
        "rec-repair",
        "flows/complaint_940.flow",
        "",
        "",
        &[],
        Some(&data),
    );
    let (_, log) = s.stop();
    assert!(log.contains("repaired and set aside"), "{log}");
    assert!(!cut.exists(), "moved out of the recordings in use");
    let aside = recordings
        .join("partial")
        .join(cut.file_name().expect("name"));
    let audio = ivr::core::prompts::audio::read_wav(&aside).expect("a valid WAV again");
    assert_eq!(audio.samples.len(), 16_000, "every sample kept");

    let out = Command::new(env!("CARGO_BIN_EXE_ivr"))
        .args(["tickets", "partial", "--data"])
        .arg(&data)
        .output()
        .expect("ivr tickets runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("0123456789abcdef01234567-1.wav") && text.contains("2.0 s"),
        "{text}"
    );
    assert!(text.contains("1 partial recording(s)"), "{text}");
}

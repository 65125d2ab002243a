//! kill -9 `ivr serve` while callers are filing complaints (the Open311 endpoint is down, so
//! everything waits in the outbox), restart it on the same data, bring the endpoint up: every
//! complaint a caller was given a ticket for is stored and delivered, each exactly once.

mod common;

use common::serve::{Scratch, Served, free_port};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Callers(Vec<Child>);

impl Drop for Callers {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn stored(data: &std::path::Path) -> Vec<String> {
    let Ok(store) = ivr::core::backend::sqlite::SqliteStore::open(&data.join("complaints.sqlite"))
    else {
        return Vec::new();
    };
    store
        .list(jiff::Timestamp::now())
        .map(|l| l.into_iter().map(|t| t.ticket).collect())
        .unwrap_or_default()
}

#[test]
fn acknowledged_complaints_survive_kill_9_and_arrive_once() {
    let dir = Scratch::new("kill9");
    let flow = dir.0.join("quick.flow");
    std::fs::write(&flow, common::serve::QUICK_FLOW).expect("write the script");
    let data = dir.0.join("data");
    let endpoint = format!("127.0.0.1:{}", free_port());
    let backend = format!(
        "backend:\n  kind: open311\n  endpoint: http://{endpoint}/open311/v2\n  insecure_http: true\n  timeout_seconds: 1\n"
    );
    let flow_path = flow.to_str().expect("utf-8 path");
    let s = Served::launch_data("kill9-a", flow_path, &backend, "", &[], Some(&data));
    // Eight callers, a quarter of a second apart, each keying district 101 when asked.
    let mut callers = Callers(Vec::new());
    for _ in 0..8 {
        callers.0.push(
            Command::new(env!("CARGO_BIN_EXE_ivr"))
                .args(["call", &format!("sip:940@{}", s.addr)])
                .args([
                    "--keys",
                    "101",
                    "--key-timing",
                    "silence:300",
                    "--hangup-after",
                    "30s",
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("ivr call starts"),
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    // Kill the server once some complaints are filed and others are still on their way.
    let until = Instant::now() + Duration::from_secs(30);
    while stored(&data).len() < 3 {
        assert!(Instant::now() < until, "no complaints filed");
        std::thread::sleep(Duration::from_millis(20));
    }
    let log = s.kill9();
    drop(callers);
    let acknowledged: Vec<String> = log
        .lines()
        .filter(|l| {
            l.contains("backend answered")
                && l.contains("op=create_complaint")
                && l.contains("result=ok")
        })
        .filter_map(|l| l.split("detail=").nth(1))
        .filter_map(|d| d.split_whitespace().next())
        .map(str::to_string)
        .collect();
    assert!(!acknowledged.is_empty(), "{log}");
    let after_crash = stored(&data);
    println!(
        "killed with {} complaint(s) acknowledged, {} stored",
        acknowledged.len(),
        after_crash.len()
    );
    for t in &acknowledged {
        assert!(
            after_crash.contains(t),
            "acknowledged {t} is stored: {after_crash:?}"
        );
    }
    // The endpoint comes up; the restarted server delivers what the outbox holds.
    let taken = common::georeport::serve(endpoint.parse().expect("addr"));
    let s = Served::launch_data("kill9-b", flow_path, &backend, "", &[], Some(&data));
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        let got = taken.lock().expect("lock").clone();
        if after_crash.iter().all(|t| got.contains_key(t)) {
            break;
        }
        assert!(
            Instant::now() < until,
            "not delivered: {after_crash:?} vs {got:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Give a duplicate the chance to show, then stop.
    std::thread::sleep(Duration::from_millis(500));
    let (code, _) = s.stop();
    assert_eq!(code, Some(0));
    // The back office sees where each stands.
    let show = Command::new(env!("CARGO_BIN_EXE_ivr"))
        .args(["tickets", "show", &after_crash[0], "--data"])
        .arg(&data)
        .output()
        .expect("ivr tickets runs");
    let shown = String::from_utf8_lossy(&show.stdout);
    assert!(
        shown.contains("open311: delivered as request r-"),
        "{shown}"
    );
    let got = taken.lock().expect("lock").clone();
    assert_eq!(got.len(), after_crash.len(), "{got:?}");
    assert!(got.values().all(|&n| n == 1), "exactly once: {got:?}");
}

//! Notifications: queued durably, sent by the thread, retried when the notifier fails, and
//! delivered by webhook to an HTTP endpoint that fails at first; a store that cannot record
//! that a notice was sent costs one resend after the lease, not a loop of SMS.

use ivr_core::backend::notify::{
    self, FileNotifier, Notice, Notifications, Notifier, Retry, Templates, WebhookNotifier,
};
use ivr_core::backend::sqlite::SqliteStore;
use ivr_core::backend::{Complaint, Status};
use std::io::Write;
use std::net::TcpListener;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[path = "support/http.rs"]
mod http;

fn complaint(lang: &str) -> Complaint {
    Complaint {
        category: "roads".into(),
        district: Some("101".into()),
        location: None,
        recording: None,
        caller: "+966500000001".into(),
        language: lang.into(),
        channel: "ivr".into(),
        call_id: format!("n-{lang}"),
        at: "2026-11-29T08:00:00Z".into(),
    }
}

fn store(name: &str) -> (Arc<SqliteStore>, std::path::PathBuf) {
    let d = std::env::temp_dir().join(format!("ivr-notify-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("dir");
    (
        Arc::new(SqliteStore::open(&d.join("complaints.sqlite")).expect("store")),
        d,
    )
}

fn templates() -> Templates {
    Templates::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../prompts")).expect("templates")
}

/// Fails the first `fail` deliveries, then writes to a file.
struct Flaky {
    fail: AtomicU32,
    inner: FileNotifier,
}

impl Notifier for Flaky {
    fn deliver(&self, n: &Notice) -> Result<(), String> {
        if self.fail.load(Ordering::SeqCst) > 0 {
            self.fail.fetch_sub(1, Ordering::SeqCst);
            return Err("gateway down".into());
        }
        self.inner.deliver(n)
    }
}

fn wait_for(what: &str, mut ok: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(15);
    while !ok() {
        assert!(Instant::now() < until, "timed out: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn notices_are_retried_until_sent_once() {
    let (store, dir) = store("flaky");
    let t = templates();
    let ticket = store.submit_sync(&complaint("ar")).expect("filed");
    notify::queue_created(&store, &t, &ticket, &complaint("ar"), true).expect("queued");
    // Queued twice (a retried submit): still one notice per recipient.
    notify::queue_created(&store, &t, &ticket, &complaint("ar"), true).expect("queued");
    let out = dir.join("sent.jsonl");
    let flaky = Arc::new(Flaky {
        fail: AtomicU32::new(3),
        inner: FileNotifier::new(&out),
    });
    let n = Notifications::start(
        Arc::clone(&store),
        flaky,
        Retry::from_min(Duration::from_millis(10)),
        true,
    );
    n.wake();
    wait_for("both sent", || {
        store
            .notices()
            .expect("read")
            .iter()
            .all(|(_, s)| s == "sent")
    });
    drop(n);
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&out)
        .expect("sent")
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    let sms = lines
        .iter()
        .find(|l| l["to"] == "caller:+966500000001")
        .expect("the caller's");
    assert_eq!(sms["language"], "ar");
    assert!(
        sms["text"]
            .as_str()
            .is_some_and(|t| t.contains(&format!("\u{2066}{ticket}\u{2069}"))),
        "{sms}"
    );
    let staff = lines.iter().find(|l| l["to"] == "staff").expect("staff's");
    assert!(staff["text"].as_str().is_some_and(|t| t.contains("roads")));
    // A status change queues one more SMS.
    let info = store
        .status_at(&ticket, jiff::Timestamp::now())
        .expect("read")
        .expect("there");
    notify::queue_status(&store, &t, &info, Status::Resolved, Some("تم الإصلاح")).expect("queued");
    assert_eq!(
        store.notices().expect("read").len(),
        4,
        "the caller's SMS and staff's notice"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_webhook_posts_json_and_retries_on_errors() {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = l.local_addr().expect("addr");
    let bodies: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let seen = Arc::clone(&bodies);
    std::thread::spawn(move || {
        for (i, mut s) in l.incoming().flatten().enumerate() {
            let Some(r) = http::read(&s) else { continue };
            let code = if i == 0 { 503 } else { 200 };
            if code == 200 {
                seen.lock().expect("lock").push((
                    String::from_utf8_lossy(&r.body).into_owned(),
                    r.header(notify::SIGNATURE_HEADER).unwrap_or("").to_string(),
                ));
            }
            let _ = write!(
                s,
                "HTTP/1.1 {code} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
        }
    });
    let (store, dir) = store("webhook");
    let t = templates();
    let ticket = store.submit_sync(&complaint("en")).expect("filed");
    notify::queue_created(&store, &t, &ticket, &complaint("en"), false).expect("queued");
    let secret = notify::Secret::new(b"s3cret-from-a-file\n").expect("a secret");
    let hook = Arc::new(WebhookNotifier::new(
        &format!("http://{addr}/sms"),
        Duration::from_secs(2),
        Some(secret.clone()),
    ));
    let n = Notifications::start(
        Arc::clone(&store),
        hook,
        Retry::from_min(Duration::from_millis(10)),
        false,
    );
    n.wake();
    wait_for("the SMS", || !bodies.lock().expect("lock").is_empty());
    drop(n);
    let (raw, signed) = bodies.lock().expect("lock")[0].clone();
    // Signed: t=SECONDS,v1=HMAC-SHA256(secret, "SECONDS." + body), recent.
    let t: i64 = signed
        .strip_prefix("t=")
        .and_then(|r| r.split(',').next())
        .and_then(|t| t.parse().ok())
        .expect("a timestamp");
    assert!(
        (jiff::Timestamp::now().as_second() - t).abs() < 60,
        "{signed}"
    );
    assert_eq!(signed, notify::signature(&secret, t, raw.as_bytes()));
    assert_ne!(
        signed,
        notify::signature(
            &notify::Secret::new(b"other").expect("key"),
            t,
            raw.as_bytes()
        ),
        "another key signs differently"
    );
    assert!(
        !format!("{secret:?}").contains("s3cret"),
        "the secret never shows in Debug output"
    );
    let body: serde_json::Value = serde_json::from_str(&raw).expect("JSON");
    assert_eq!(body["kind"], "ticket_created");
    assert_eq!(
        body["text"],
        format!(
            "940: your complaint is registered as ticket {ticket}. To follow it, call 940 and press 2."
        )
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Counts deliveries.
#[derive(Default)]
struct Counting(AtomicU32);

impl Notifier for Counting {
    fn deliver(&self, _n: &Notice) -> Result<(), String> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

#[test]
fn a_store_that_fails_to_mark_a_notice_sent_does_not_resend_it_in_a_loop() {
    let (store, dir) = store("failmark");
    let t = templates();
    let ticket = store.submit_sync(&complaint("en")).expect("filed");
    notify::queue_created(&store, &t, &ticket, &complaint("en"), false).expect("queued");
    // The fault: the store refuses to mark any notice sent (a full disk, a broken file).
    let db = rusqlite::Connection::open(dir.join("complaints.sqlite")).expect("the store");
    db.execute_batch(
        "CREATE TRIGGER no_sent BEFORE UPDATE ON notices WHEN NEW.state = 'sent'
         BEGIN SELECT RAISE(ABORT, 'disk full'); END;",
    )
    .expect("the fault");
    let sms = Arc::new(Counting::default());
    let n = Notifications::start(
        Arc::clone(&store),
        Arc::clone(&sms) as Arc<dyn Notifier>,
        Retry {
            retry_min: Duration::from_millis(10),
            lease: Duration::from_millis(300),
        },
        false,
    );
    n.wake();
    std::thread::sleep(Duration::from_millis(2_500));
    let during = sms.0.load(Ordering::SeqCst);
    assert!(
        (1..=3).contains(&during),
        "sent once, then again only after the lease and the store's backoff: {during}"
    );
    // The store mends: the notice is marked sent, and sending stops.
    db.execute_batch("DROP TRIGGER no_sent").expect("mended");
    wait_for("marked sent", || {
        store
            .notices()
            .expect("read")
            .iter()
            .all(|(_, s)| s == "sent")
    });
    let after = sms.0.load(Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(1_000));
    assert_eq!(sms.0.load(Ordering::SeqCst), after, "no more once marked");
    assert!(after <= during + 1, "{during} then {after}");
    drop(n);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn texts_go_only_to_phone_numbers_and_at_most_five_a_day() {
    let (store, dir) = store("pumping");
    let t = templates();
    // Someone files twenty complaints under a victim's number (the From header is theirs
    // to write): the victim gets five texts in a day, not twenty.
    for i in 0..20 {
        let mut c = complaint("en");
        c.call_id = format!("pump-{i}");
        c.caller = "+966500000123".into();
        let ticket = store.submit_sync(&c).expect("filed");
        notify::queue_created(&store, &t, &ticket, &c, false).expect("queued");
    }
    // And a caller without a usable number gets none.
    let mut anon = complaint("en");
    anon.call_id = "anon".into();
    anon.caller = "anonymous".into();
    let ticket = store.submit_sync(&anon).expect("filed");
    notify::queue_created(&store, &t, &ticket, &anon, false).expect("queued");
    let notices = store.notices().expect("read");
    assert_eq!(notices.len(), notify::SMS_PER_DAY as usize, "{notices:?}");
    assert!(notices.iter().all(|(n, _)| n.to == "caller:+966500000123"));
    let _ = std::fs::remove_dir_all(&dir);
}

//! The Open311 connector against a local server that behaves like a GeoReport v2 endpoint:
//! down for a while, 500s, a request that times out before the server takes it, a token
//! answer, a definite refusal, and status changes. Every complaint arrives exactly once.

use ivr_core::backend::open311::{Open311Backend, Open311Client, Open311Config, sync_statuses};
use ivr_core::backend::outbox::DeliveryState;
use ivr_core::backend::sqlite::SqliteStore;
use ivr_core::backend::{Complaint, ComplaintBackend, Status};
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[path = "support/http.rs"]
mod http;

/// How the fake endpoint behaves, and what it received.
#[derive(Default)]
struct Georeport {
    /// Answer 500 to this many posts first.
    fail_first: usize,
    /// Posts for these tickets hang past the client's time limit once, and are not taken.
    slow_once: Vec<String>,
    /// Posts for these tickets get a token; the id comes on the third token poll.
    token: Vec<String>,
    token_polls: HashMap<String, u32>,
    /// Requests taken, by ticket: how many times each arrived.
    taken: BTreeMap<String, u32>,
    /// Remote id → (status, notes).
    status: HashMap<String, (String, String)>,
    posts: usize,
    last_form: Vec<(String, String)>,
}

fn decode(s: &str) -> String {
    let b = s.replace('+', " ");
    let bytes = b.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len() + 1
            && let Some(h) = b.get(i + 1..i + 3)
            && let Ok(v) = u8::from_str_radix(h, 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn respond(s: &mut TcpStream, code: u16, body: &str) {
    let _ = write!(
        s,
        "HTTP/1.1 {code} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

fn handle(mut s: TcpStream, g: Arc<Mutex<Georeport>>) {
    let Some(req) = http::read(&s) else { return };
    let (method, path, body) = (req.method().to_string(), req.path().to_string(), req.body);
    let form: Vec<(String, String)> = String::from_utf8_lossy(&body)
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect();
    let field = |n: &str| form.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    if method == "POST" && path.ends_with("/requests.json") {
        let ticket = field("attribute[ivr_ticket]").unwrap_or_default();
        let mut st = g.lock().expect("lock");
        st.posts += 1;
        st.last_form = form.clone();
        if st.posts <= st.fail_first {
            drop(st);
            return respond(&mut s, 500, "[{\"code\":500,\"description\":\"down\"}]");
        }
        if let Some(i) = st.slow_once.iter().position(|t| *t == ticket) {
            st.slow_once.remove(i);
            drop(st);
            // Longer than the client waits; the request is not taken.
            std::thread::sleep(Duration::from_millis(900));
            return;
        }
        if field("service_code").as_deref() == Some("bad") {
            drop(st);
            return respond(
                &mut s,
                400,
                "[{\"code\":400,\"description\":\"service_code not found\"}]",
            );
        }
        *st.taken.entry(ticket.clone()).or_default() += 1;
        let id = format!("req-{}", st.taken.len());
        st.status.insert(id.clone(), ("open".into(), String::new()));
        if st.token.contains(&ticket) {
            st.token_polls.insert(format!("tok-{ticket}"), 0);
            drop(st);
            return respond(&mut s, 200, &format!("[{{\"token\":\"tok-{ticket}\"}}]"));
        }
        drop(st);
        return respond(
            &mut s,
            201,
            &format!("[{{\"service_request_id\":\"{id}\"}}]"),
        );
    }
    if method == "GET"
        && let Some(tok) = path
            .rsplit('/')
            .next()
            .and_then(|f| f.strip_suffix(".json"))
        && path.contains("/tokens/")
    {
        let mut st = g.lock().expect("lock");
        let ticket = tok.trim_start_matches("tok-").to_string();
        let polls = st.token_polls.entry(tok.to_string()).or_default();
        *polls += 1;
        let body = if *polls >= 3 {
            let n = st
                .taken
                .keys()
                .position(|t| *t == ticket)
                .map_or(0, |p| p + 1);
            format!("[{{\"service_request_id\":\"req-{n}\",\"token\":\"{tok}\"}}]")
        } else {
            format!("[{{\"token\":\"{tok}\"}}]")
        };
        drop(st);
        return respond(&mut s, 200, &body);
    }
    if method == "GET" && path.contains("/requests/") {
        let id = path
            .rsplit('/')
            .next()
            .and_then(|f| f.strip_suffix(".json"))
            .unwrap_or("")
            .to_string();
        let st = g.lock().expect("lock");
        return match st.status.get(&id) {
            Some((status, notes)) => respond(
                &mut s,
                200,
                &format!(
                    "[{{\"service_request_id\":\"{id}\",\"status\":\"{status}\",\"status_notes\":\"{notes}\"}}]"
                ),
            ),
            None => respond(&mut s, 404, "[]"),
        };
    }
    respond(&mut s, 404, "[]");
}

/// Serves on `addr` (from now on) until the test ends.
fn serve(addr: SocketAddr, g: Arc<Mutex<Georeport>>) {
    let l = TcpListener::bind(addr).expect("bind the fake endpoint");
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            let g = Arc::clone(&g);
            std::thread::spawn(move || handle(s, g));
        }
    });
}

fn free_addr() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr")
}

fn config(addr: SocketAddr) -> Open311Config {
    Open311Config {
        endpoint: format!("http://{addr}/open311/v2"),
        api_key: Some("k3y".into()),
        service_codes: [("roads".to_string(), "POTHOLE".to_string())].into(),
        media_base_url: Some("https://ivr.example/recordings".into()),
        timeout: Duration::from_millis(300),
        retry_min: Duration::from_millis(20),
        retry_max: Duration::from_millis(200),
        sync_every: Duration::from_secs(3600),
        ..Open311Config::default()
    }
}

fn complaint(call: &str, category: &str) -> Complaint {
    Complaint {
        category: category.into(),
        district: Some("101".into()),
        location: None,
        recording: Some(ivr_core::backend::RecordingRef {
            path: "/data/recordings/c1.wav".into(),
            duration_ms: 4200,
            sha256: Some("ab".into()),
        }),
        caller: "+966500000001".into(),
        language: "ar".into(),
        channel: "ivr".into(),
        call_id: call.into(),
        at: "2026-11-29T08:00:00Z".into(),
    }
}

fn scratch(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("ivr-open311-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("dir");
    d.join("complaints.sqlite")
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn every_complaint_arrives_exactly_once() {
    let addr = free_addr();
    let path = scratch("once");
    let store = Arc::new(SqliteStore::open(&path).expect("store"));
    let backend = Open311Backend::start(Arc::clone(&store), config(addr));
    // The endpoint is down: callers still get tickets at once.
    let mut tickets = Vec::new();
    for i in 0..6 {
        let t = pollster::block_on(backend.submit(&complaint(&format!("call-{i}"), "roads")))
            .expect("a local ticket while the remote system is down");
        tickets.push(t);
    }
    // A retried submit of the same call gets the same ticket and no second delivery.
    let again = pollster::block_on(backend.submit(&complaint("call-0", "roads"))).expect("ok");
    assert_eq!(again, tickets[0]);
    std::thread::sleep(Duration::from_millis(400));
    assert!(
        store
            .all_deliveries()
            .expect("outbox")
            .iter()
            .all(|d| d.state == DeliveryState::Pending && d.attempts > 0)
    );
    // Up, but failing the first two posts, slow once, and answering one with a token.
    let g = Arc::new(Mutex::new(Georeport {
        fail_first: 2,
        slow_once: vec![tickets[2].clone()],
        token: vec![tickets[4].clone()],
        ..Default::default()
    }));
    serve(addr, Arc::clone(&g));
    wait_until("every delivery", || {
        store
            .all_deliveries()
            .expect("outbox")
            .iter()
            .all(|d| matches!(d.state, DeliveryState::Delivered(_)))
    });
    let st = g.lock().expect("lock");
    assert_eq!(st.taken.len(), 6, "{:?}", st.taken);
    assert!(
        st.taken.values().all(|&n| n == 1),
        "exactly once: {:?}",
        st.taken
    );
    for t in &tickets {
        assert_eq!(st.taken.get(t), Some(&1), "{t}");
    }
    drop(st);
    let tokened = store.delivery(&tickets[4]).expect("read").expect("there");
    assert!(
        matches!(tokened.state, DeliveryState::Delivered(ref id) if id.starts_with("req-")),
        "the token was followed to the request id: {tokened:?}"
    );
    drop(backend);
    let _ = std::fs::remove_dir_all(path.parent().expect("dir"));
}

#[test]
fn a_restart_delivers_what_was_left_and_nothing_twice() {
    let addr = free_addr();
    let g = Arc::new(Mutex::new(Georeport::default()));
    serve(addr, Arc::clone(&g));
    let path = scratch("restart");
    // A run that filed two complaints and stopped before delivering them (as after a crash:
    // the outbox rows were committed with the complaints).
    {
        let store = SqliteStore::open(&path).expect("store");
        store
            .submit_for_delivery(&complaint("left-1", "roads"), "x", 0)
            .expect("filed");
        store
            .submit_for_delivery(&complaint("left-2", "lighting"), "x", 0)
            .expect("filed");
    }
    let store = Arc::new(SqliteStore::open(&path).expect("reopen"));
    let backend = Open311Backend::start(Arc::clone(&store), config(addr));
    wait_until("the leftovers", || g.lock().expect("lock").taken.len() == 2);
    wait_until("both marked delivered", || {
        store
            .all_deliveries()
            .expect("outbox")
            .iter()
            .all(|d| matches!(d.state, DeliveryState::Delivered(_)))
    });
    drop(backend);
    // Another restart sends nothing again.
    let backend = Open311Backend::start(Arc::clone(&store), config(addr));
    std::thread::sleep(Duration::from_millis(500));
    drop(backend);
    let st = g.lock().expect("lock");
    assert_eq!(st.posts, 2, "no post after delivery: {:?}", st.taken);
    let form: HashMap<_, _> = st.last_form.iter().cloned().collect();
    assert_eq!(form.get("api_key").map(String::as_str), Some("k3y"));
    assert!(form.contains_key("service_code"));
    let _ = std::fs::remove_dir_all(path.parent().expect("dir"));
}

#[test]
fn refusals_are_kept_and_remote_statuses_reach_the_tracking_line() {
    let addr = free_addr();
    let g = Arc::new(Mutex::new(Georeport::default()));
    serve(addr, Arc::clone(&g));
    let path = scratch("status");
    let store = Arc::new(SqliteStore::open(&path).expect("store"));
    let mut cfg = config(addr);
    cfg.service_codes.insert("graffiti".into(), "bad".into());
    let backend = Open311Backend::start(Arc::clone(&store), cfg.clone());
    let good = pollster::block_on(backend.submit(&complaint("s-1", "roads"))).expect("filed");
    let bad = pollster::block_on(backend.submit(&complaint("s-2", "graffiti"))).expect("filed");
    wait_until("both settled", || {
        store
            .all_deliveries()
            .expect("outbox")
            .iter()
            .all(|d| !matches!(d.state, DeliveryState::Pending))
    });
    let refused = store.delivery(&bad).expect("read").expect("there");
    assert!(
        matches!(refused.state, DeliveryState::Failed(ref e) if e.contains("service_code not found")),
        "{refused:?}"
    );
    // The caller still has a local ticket for the refused one.
    assert!(
        pollster::block_on(backend.status(&bad))
            .expect("ok")
            .is_some()
    );
    // The city closes the delivered one with a note: the next sync brings it home.
    let remote = store.remote_id(&good).expect("read").expect("delivered");
    g.lock()
        .expect("lock")
        .status
        .insert(remote, ("closed".into(), "Repaired on 30 Nov".into()));
    let client = Open311Client::new(cfg);
    assert_eq!(sync_statuses(&store, &client), 1);
    assert_eq!(
        sync_statuses(&store, &client),
        0,
        "a change is applied once"
    );
    let info = pollster::block_on(backend.status(&good))
        .expect("ok")
        .expect("there");
    assert_eq!(info.status, Status::Closed);
    assert_eq!(info.note.as_deref(), Some("Repaired on 30 Nov"));
    drop(backend);
    let _ = std::fs::remove_dir_all(path.parent().expect("dir"));
}

#[test]
fn the_post_carries_what_georeport_asks_for() {
    let client = Open311Client::new(config("127.0.0.1:9".parse().expect("addr")));
    let form: HashMap<String, String> = client
        .form("1000015", &complaint("f-1", "roads"))
        .into_iter()
        .collect();
    assert_eq!(form["service_code"], "POTHOLE", "mapped from the category");
    assert_eq!(form["address_string"], "district 101");
    assert_eq!(form["attribute[district]"], "101");
    assert_eq!(form["attribute[ivr_ticket]"], "1000015");
    assert_eq!(form["media_url"], "https://ivr.example/recordings/c1.wav");
    assert_eq!(form["phone"], "+966500000001");
    assert!(form["description"].contains("4.2 s"));
}

#[test]
fn a_store_that_fails_to_mark_a_delivery_does_not_post_it_in_a_loop() {
    let addr = free_addr();
    let g = Arc::new(Mutex::new(Georeport::default()));
    serve(addr, Arc::clone(&g));
    let path = scratch("failmark");
    let store = Arc::new(SqliteStore::open(&path).expect("store"));
    // The fault: the store refuses to record a delivery as done.
    let db = rusqlite::Connection::open(&path).expect("the store");
    db.execute_batch(
        "CREATE TRIGGER no_done BEFORE UPDATE ON outbox WHEN NEW.state = 'delivered'
         BEGIN SELECT RAISE(ABORT, 'disk full'); END;",
    )
    .expect("the fault");
    let backend = Open311Backend::start(
        Arc::clone(&store),
        Open311Config {
            lease: Duration::from_millis(300),
            ..config(addr)
        },
    );
    let ticket =
        pollster::block_on(backend.submit(&complaint("call-fm", "roads"))).expect("a ticket");
    std::thread::sleep(Duration::from_millis(2_500));
    let during = g.lock().expect("lock").posts;
    assert!(
        (1..=3).contains(&during),
        "posted once, then again only after the lease and the store's backoff: {during}"
    );
    db.execute_batch("DROP TRIGGER no_done").expect("mended");
    wait_until("the delivery recorded", || {
        matches!(
            store.delivery(&ticket).expect("outbox").map(|d| d.state),
            Some(DeliveryState::Delivered(_))
        )
    });
    let after = g.lock().expect("lock").posts;
    std::thread::sleep(Duration::from_millis(1_000));
    assert_eq!(
        g.lock().expect("lock").posts,
        after,
        "no more posts once recorded"
    );
    drop(backend);
}

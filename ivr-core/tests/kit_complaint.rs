//! A whole complaint call and a tracking call through the real composition — the softphone's
//! user agent and media ↔ the SIP endpoint ↔ the call machine — over a link that loses,
//! duplicates, reorders and delays, in virtual time: the shipped hotline files the spoken
//! complaint in a real store and reads the ticket back; the tracking call hears its status.

#[path = "support/hotline.rs"]
mod hotline;

use ivr_core::backend::sqlite::SqliteStore;
use ivr_core::call::CallEvent;
use ivr_core::sim::StoreBackend;
use ivr_core::softphone::{DtmfMode, KeyTiming, parse_steps};
use ivr_core::testkit::{Backend, LinkConfig, Net, NetConfig, Reply};
use ivr_core::{DigitMethod, Key};
use std::sync::Arc;

/// The store, answering after 30 ms.
struct Store(Arc<SqliteStore>);

impl Backend for Store {
    fn answer(
        &mut self,
        ctx: &ivr_core::backend::ops::CallContext,
        req: &ivr_core::flow::BackendRequest,
    ) -> Reply {
        let mut b = StoreBackend { store: &self.0 };
        Reply::After(30, ivr_core::sim::SimBackend::request(&mut b, ctx, req))
    }
}

fn store(name: &str) -> Arc<SqliteStore> {
    let dir = std::env::temp_dir().join(format!("ivr-kit-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    Arc::new(SqliteStore::open(&dir.join("complaints.sqlite")).expect("store"))
}

/// Files a complaint and tracks it; returns both call records and the network's event log.
fn complaint_and_tracking(seed: u64, link: LinkConfig, dtmf: DtmfMode) -> Vec<String> {
    let store = store(&format!("{seed}-{dtmf:?}"));
    // Tones are listened for (beside telephone-events) when the keys come in-band.
    let line = hotline::line("complaint_940.flow", |c| {
        if dtmf == DtmfMode::Inband {
            c.inband = ivr_core::media::session::Inband::On;
        }
    });
    let mut net = Net::new(
        line,
        Box::new(Store(Arc::clone(&store))),
        NetConfig {
            seed,
            sip_link: link,
            rtp_link: link,
            ..NetConfig::default()
        },
    );
    let caller = "10.0.0.2".parse().expect("ip");
    let voice = hotline::voice();
    // Arabic, a new complaint, roads, district 101, the description after the beep, # to
    // end it, 1 to send.
    net.call(caller, |c| {
        c.steps = parse_steps("1 1 1 101 say # 1").expect("steps");
        c.timing = KeyTiming::Pause(1000);
        c.say = Some(Arc::clone(&voice));
        c.dtmf = dtmf;
    });
    assert!(net.run_to_end(300_000), "the complaint call ends");
    let first = net.finished()[0].record.clone();
    assert_eq!(first.outcome, "hangup", "{first:#?}");
    assert_eq!(first.hangup_by, "ivr");
    let keys: String = first.digits.iter().map(|d| d.key.as_char()).collect();
    assert_eq!(keys, "111101#1", "every key once, the finish key too");
    let method = match dtmf {
        DtmfMode::Rfc4733 => DigitMethod::Rfc4733,
        DtmfMode::Info => DigitMethod::Info,
        DtmfMode::Inband => DigitMethod::Inband,
    };
    assert!(
        first.digits.iter().all(|d| d.method == method),
        "{first:#?}"
    );
    let rec = &first.recordings[0];
    assert!(rec.speech && rec.duration_ms > 2_000, "{rec:?}");
    assert_eq!(rec.ended, "key");
    let submit = &first.backend[0];
    assert_eq!(
        (submit.op.as_str(), submit.result.as_str()),
        ("create_complaint", "ok")
    );
    let ticket = submit.detail.clone();
    assert!(
        first
            .prompts
            .iter()
            .any(|p| p.id == format!("value:{ticket}")),
        "the ticket is read back"
    );
    let filed = store.status_at(&ticket, jiff::Timestamp::now());
    assert!(matches!(filed, Ok(Some(_))), "{filed:?}");
    // English, track, the ticket and #.
    net.call(caller, |c| {
        c.steps = parse_steps(&format!("2 2 {ticket}#")).expect("steps");
        c.timing = KeyTiming::Pause(1000);
        c.dtmf = dtmf;
    });
    assert!(net.run_to_end(300_000), "the tracking call ends");
    let second = net.finished()[1].record.clone();
    let lookup = second
        .backend
        .iter()
        .find(|b| b.op == "complaint_status")
        .expect("a status lookup");
    assert_eq!(
        (lookup.result.as_str(), lookup.detail.as_str()),
        ("ok", "received")
    );
    assert!(second.prompts.iter().any(|p| p.id == "status-received"));
    assert_eq!(net.ports_in_use(), 0, "every RTP port is free again");
    let events: Vec<String> = (0..2)
        .flat_map(|n| net.events(n))
        .map(|(t, e)| format!("{} {e:?}", t.0))
        .collect();
    events
}

#[test]
fn a_complaint_is_filed_and_tracked_through_a_bad_network() {
    let events = complaint_and_tracking(11, LinkConfig::BAD, DtmfMode::Rfc4733);
    assert!(events.len() > 100);
}

#[test]
fn the_same_seed_gives_the_same_calls() {
    let a = complaint_and_tracking(5, LinkConfig::BAD, DtmfMode::Rfc4733);
    let b = complaint_and_tracking(5, LinkConfig::BAD, DtmfMode::Rfc4733);
    assert_eq!(a, b);
}

#[test]
fn keys_by_sip_info_and_in_band_tones_work_as_well() {
    let clean = LinkConfig {
        delay_ms: (5, 30),
        loss: 0.0,
        duplicate: 0.0,
    };
    complaint_and_tracking(3, clean, DtmfMode::Info);
    complaint_and_tracking(4, clean, DtmfMode::Inband);
}

#[test]
fn a_kit_call_reports_its_events_in_order() {
    let line = hotline::line("complaint_940.flow", |_| {});
    let mut net = Net::new(line, ivr_core::testkit::canned(), NetConfig::default());
    net.call("10.0.0.2".parse().expect("ip"), |c| {
        c.steps = parse_steps("2").expect("steps");
        c.hangup_after_ms = Some(20_000);
    });
    assert!(net.run_to_end(60_000));
    let events = net.events(0);
    let answered = events
        .iter()
        .position(|(_, e)| matches!(e, CallEvent::Answered { .. }))
        .expect("answered");
    let key = events
        .iter()
        .position(|(_, e)| matches!(e, CallEvent::Key { key: Key::D2, .. }))
        .expect("the key");
    let ended = events
        .iter()
        .position(|(_, e)| matches!(e, CallEvent::Ended { .. }))
        .expect("ended");
    assert!(answered < key && key < ended);
    let r = &net.finished()[0].record;
    assert_eq!(
        (r.outcome.as_str(), r.hangup_by.as_str()),
        ("caller_hangup", "caller")
    );
}

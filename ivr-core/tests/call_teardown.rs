//! Teardown never hangs: text-to-speech that never answers, a disk that never closes a
//! recording, a backend that never replies — the call still ends, frees its RTP port and hands
//! out its call record, within the configured deadlines.

#[path = "support/hotline.rs"]
mod hotline;

use ivr_core::Time;
use ivr_core::call::CallEvent;
use ivr_core::softphone::{KeyTiming, parse_steps};
use ivr_core::testkit::{Backend, Net, NetConfig, Reply, WorkPolicy};

/// A backend that never answers.
struct Silent;

impl Backend for Silent {
    fn answer(
        &mut self,
        _: &ivr_core::backend::ops::CallContext,
        _: &ivr_core::flow::BackendRequest,
    ) -> Reply {
        Reply::Never
    }
}

const NOTE: &str = "languages en

defaults
    after 3 attempts hangup

flow start
    set note = \"the crew is on its way\"
    say note as text
    say thank-you-goodbye
    hangup
";

#[test]
fn hung_text_to_speech_is_given_up_and_the_call_goes_on() {
    let mut line = ivr_core::testkit::line(NOTE);
    line.config = std::sync::Arc::new(ivr_core::call::CallConfig {
        tts: true,
        work_timeout_ms: 4_000,
        ..(*line.config).clone()
    });
    let mut net = Net::new(
        line,
        ivr_core::testkit::canned(),
        NetConfig {
            tts: WorkPolicy::Hang,
            ..NetConfig::default()
        },
    );
    net.call("10.0.0.2".parse().expect("ip"), |_| {});
    assert!(net.run_to_end(60_000));
    let f = &net.finished()[0];
    assert_eq!(f.record.outcome, "hangup");
    let missing = f
        .events
        .iter()
        .find_map(|(t, e)| matches!(e, CallEvent::AudioMissing { .. }).then_some(*t))
        .expect("the text was given up");
    let asked = f
        .events
        .iter()
        .find_map(|(t, e)| matches!(e, CallEvent::PlayQueued { id: 1, .. }).then_some(*t))
        .expect("the text was asked for");
    assert_eq!(missing.since(asked), 4_000, "at the work deadline");
    // The goodbye still plays after it.
    assert!(f.record.prompts.iter().any(|p| p.id == "thank-you-goodbye"));
    assert_eq!(net.ports_in_use(), 0);
}

#[test]
fn a_hung_disk_and_backend_do_not_hold_a_call_that_ended() {
    let line = hotline::line("complaint_940.flow", |c| {
        c.work_timeout_ms = 5_000;
        c.backend_timeout_ms = 7_000;
        c.teardown_ms = 15_000;
    });
    let mut net = Net::new(
        line,
        Box::new(Silent),
        NetConfig {
            disk: WorkPolicy::Hang,
            ..NetConfig::default()
        },
    );
    // English, new complaint, roads, district 101, then talk and hang up while recording.
    net.call("10.0.0.2".parse().expect("ip"), |c| {
        c.steps = parse_steps("2 1 1 101").expect("steps");
        c.timing = KeyTiming::Pause(1_000);
        c.hangup_after_ms = Some(30_000);
    });
    assert!(net.run_to_end(120_000), "everything ended");
    let f = &net.finished()[0];
    let hung_up = f
        .events
        .iter()
        .find_map(|(t, e)| matches!(e, CallEvent::SipEnded { .. }).then_some(*t))
        .expect("the caller hung up");
    assert_eq!(f.record.hangup_by, "caller");
    assert!(
        f.ended.since(hung_up) <= 15_000,
        "the record came {} ms after the hangup",
        f.ended.since(hung_up)
    );
    // The recording's place was never made: it is in the record as lost, not waited for.
    assert!(
        f.record.recordings.iter().all(|r| r.path.is_empty()),
        "{:?}",
        f.record.recordings
    );
    assert_eq!(net.ports_in_use(), 0, "the RTP port is free");
}

#[test]
fn a_backend_that_never_answers_still_lets_the_record_out() {
    let line = hotline::line("complaint_940.flow", |c| {
        c.backend_timeout_ms = 60_000;
        c.teardown_ms = 3_000;
    });
    let mut net = Net::new(line, Box::new(Silent), NetConfig::default());
    // English, track, a ticket; hang up right after keying it (the lookup is out).
    net.call("10.0.0.2".parse().expect("ip"), |c| {
        c.steps = parse_steps("2 2 10000150#").expect("steps");
        c.timing = KeyTiming::Pause(1_000);
        c.hangup_after_ms = Some(14_000);
    });
    net.run_until(Time(200_000));
    let f = &net.finished()[0];
    let lookup = f
        .record
        .backend
        .iter()
        .find(|b| b.op == "complaint_status")
        .expect("the lookup went out");
    assert_eq!(
        lookup.result, "pending",
        "the call ended before it came back"
    );
    let hung_up = f
        .events
        .iter()
        .find_map(|(t, e)| matches!(e, CallEvent::SipEnded { .. }).then_some(*t))
        .expect("the caller hung up");
    assert_eq!(f.ended.since(hung_up), 3_000, "at the teardown deadline");
}

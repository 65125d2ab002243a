//! The call machine under arbitrary input: whatever arrives, in whatever order — RTP garbage
//! and real packets, keys, SIP events out of place, results for requests never made or made
//! twice, time jumping — it never panics, never asks for a past deadline forever, and once
//! the SIP side has ended the call it hands out exactly one record within its teardown time.

use ivr_core::call::{Call, CallSetup, Input, MediaPlan, Output, WorkResult};
use ivr_core::flow::{BackendResult, Value};
use ivr_core::media::g711::Law;
use ivr_core::sip::endpoint::{CallRef, EndReason, Event};
use ivr_core::sip::sdp::{Agreed, Direction};
use ivr_core::{DigitMethod, Key, Time, TransferOutcome};
use proptest::prelude::*;

const SCRIPT: &str = "languages en

defaults
    on noinput repeat
    after 3 attempts hangup

flow start
    menu
        say options
        press 1 goto describe
        press 2 goto ask
        press 3 goto operator
        press 4 hangup

flow operator
    transfer agents timeout 5s
        on noanswer goto start
        on busy goto start
        on failure goto start

flow describe
    record note beep max 20s silence 2s until hash
        say record-now
    say note-taken
    say note
    set words = \"a staff note\"
    say words as text
    goto start

flow ask
    collect ticket digits 2 to 6 until hash
        say enter-ticket
    lookup complaint_status with ticket into status
        on not_found goto start
        on failure goto start
    say status
    goto start
";

fn agreed(law: Law, port: u16, direction: Direction) -> Agreed {
    Agreed {
        law,
        pt: law.payload_type(),
        event: Some((101, 8000)),
        ptime: 20,
        direction,
        remote: Some(([10, 0, 0, 2].into(), port)),
        index: 0,
        refused: Vec::new(),
    }
}

#[derive(Clone, Debug)]
enum Step {
    Wait(u64),
    Garbage(Vec<u8>),
    Rtp { pt: u8, seq: u16, payload: Vec<u8> },
    Key(u8),
    Confirmed,
    Moved(bool, u16),
    Info(Vec<u8>),
    Transferred(u8),
    Backend(u64, u8),
    Work(u64, u8),
    Ended(u8),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0u64..8_000).prop_map(Step::Wait),
        1 => proptest::collection::vec(any::<u8>(), 0..60).prop_map(Step::Garbage),
        3 => (prop_oneof![Just(0u8), Just(8), Just(101), any::<u8>()], any::<u16>(),
              proptest::collection::vec(any::<u8>(), 0..200))
            .prop_map(|(pt, seq, payload)| Step::Rtp { pt, seq, payload }),
        3 => (0u8..16).prop_map(Step::Key),
        1 => Just(Step::Confirmed),
        1 => (any::<bool>(), 4000u16..4010).prop_map(|(a, p)| Step::Moved(a, p)),
        1 => proptest::collection::vec(any::<u8>(), 0..40).prop_map(Step::Info),
        1 => (0u8..4).prop_map(Step::Transferred),
        1 => (0u64..6, 0u8..3).prop_map(|(i, r)| Step::Backend(i, r)),
        1 => (0u64..10, 0u8..5).prop_map(|(i, r)| Step::Work(i, r)),
        1 => (0u8..5).prop_map(Step::Ended),
    ]
}

fn rtp(pt: u8, seq: u16, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, pt & 0x7f];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    p.extend_from_slice(&0x1234_5678u32.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

/// Drains the call's outputs; counts records.
fn drain(call: &mut Call, records: &mut u32) {
    while let Some(o) = call.poll_output() {
        match o {
            Output::Rtp { packet, .. } => call.recycle(packet),
            Output::Record(_) => *records += 1,
            _ => {}
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256)
    ))]

    #[test]
    fn any_input_in_any_order_ends_with_one_record(
        steps in proptest::collection::vec(step(), 0..80),
        ring in any::<bool>(),
    ) {
        let mut line = ivr_core::testkit::line(SCRIPT);
        let mut c = (*line.config).clone();
        c.tts = true;
        c.answer_after_ms = if ring { 500 } else { 0 };
        c.teardown_ms = 4_000;
        line.config = std::sync::Arc::new(c);
        let setup = CallSetup {
            call_id: "prop@test".into(),
            uid: "prop".into(),
            asserted: None,
            from: "<sip:+966500000001@10.0.0.2>;tag=1".into(),
            to: "<sip:940@10.0.0.1>".into(),
            started_at: jiff::Timestamp::UNIX_EPOCH,
            media: MediaPlan::Rtp {
                port: Some(20_000),
                random: [1, 2, 3],
                signalling: Some([10, 0, 0, 2].into()),
                allow: std::sync::Arc::from(Vec::new()),
            },
        };
        let mut now = Time(0);
        let mut call = Call::new(&line, setup, now);
        let mut records = 0;
        let from = std::net::SocketAddr::from(([10, 0, 0, 2], 4000));
        let call_ref = CallRef(1);
        let mut ended = None;
        for s in steps {
            match s {
                Step::Wait(ms) => {
                    let until = now.plus(ms);
                    let mut spins = 0;
                    while let Some(t) = call.poll_timeout().filter(|t| *t <= until) {
                        spins += 1;
                        prop_assert!(spins < 200_000, "a deadline that never passes");
                        now = now.max(t);
                        call.handle_timeout(now);
                        drain(&mut call, &mut records);
                    }
                    now = until;
                }
                Step::Garbage(b) => call.handle_input(Input::Rtp { from, datagram: &b }, now),
                Step::Rtp { pt, seq, payload } => {
                    let p = rtp(pt, seq, &payload);
                    call.handle_input(Input::Rtp { from, datagram: &p }, now);
                }
                Step::Key(k) => call.handle_input(Input::Key {
                    key: Key::from_event(k).unwrap_or(Key::D0),
                    method: DigitMethod::Simulated,
                }, now),
                Step::Confirmed => call.handle_input(Input::Sip(Event::Confirmed {
                    call: call_ref,
                    media: agreed(Law::Pcmu, 4000, Direction::SendRecv),
                }), now),
                Step::Moved(alaw, port) => call.handle_input(Input::Sip(Event::MediaChanged {
                    call: call_ref,
                    media: agreed(
                        if alaw { Law::Pcma } else { Law::Pcmu },
                        port,
                        if port % 3 == 0 { Direction::Inactive } else { Direction::SendRecv },
                    ),
                }), now),
                Step::Info(body) => call.handle_input(Input::Sip(Event::Info {
                    call: call_ref,
                    content_type: "application/dtmf-relay".into(),
                    body,
                }), now),
                Step::Transferred(o) => call.handle_input(Input::Sip(Event::Transferred {
                    call: call_ref,
                    outcome: [TransferOutcome::Success, TransferOutcome::Busy,
                        TransferOutcome::NoAnswer, TransferOutcome::Failed][o as usize],
                }), now),
                Step::Backend(id, r) => call.handle_input(Input::BackendDone {
                    id,
                    result: match r {
                        0 => BackendResult::Ok(Value::Str("closed".into())),
                        1 => BackendResult::NotFound,
                        _ => BackendResult::Failure(ivr_core::Failure::new(
                            ivr_core::FailureKind::Unavailable, "down")),
                    },
                }, now),
                Step::Work(id, r) => call.handle_input(Input::WorkDone {
                    id,
                    result: match r {
                        0 => WorkResult::Audio(vec![100i16; 800].into()),
                        1 => WorkResult::Opened,
                        2 => WorkResult::Closed { location: "/x.wav".into(), sha256: "00".into() },
                        _ => WorkResult::Failed("no".into()),
                    },
                }, now),
                Step::Ended(r) => {
                    let reason = [EndReason::RemoteBye, EndReason::LocalBye,
                        EndReason::AckTimeout, EndReason::Cancelled, EndReason::Rejected(486)][r as usize];
                    call.handle_input(Input::Sip(Event::Ended { call: call_ref, reason }), now);
                    ended.get_or_insert(now);
                }
            }
            drain(&mut call, &mut records);
            prop_assert!(records <= 1, "one record at most");
        }
        // The SIP side ends the call (if it has not): the record comes within the teardown.
        let end = ended.unwrap_or(now);
        call.handle_input(Input::Sip(Event::Ended { call: call_ref, reason: EndReason::RemoteBye }), now);
        drain(&mut call, &mut records);
        while let Some(t) = call.poll_timeout() {
            prop_assert!(t.since(end) <= 4_000 || t.since(now) <= 4_000, "teardown at {} after {}", t.0, end.0);
            now = now.max(t);
            call.handle_timeout(now);
            drain(&mut call, &mut records);
        }
        prop_assert!(call.is_finished());
        prop_assert_eq!(records, 1);
    }
}

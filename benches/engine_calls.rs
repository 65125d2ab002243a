//! The calls the `engine` benchmark and the profiling example run: the complaint hotline
//! driven through the flow machine alone, and a whole simulated complaint call.
#![allow(dead_code)]

use ivr::core::call::Line;
use ivr::core::flow::{Defaults, FlowConfig, FlowMachine, Input, Output, Program};
use ivr::core::sim::{self, CallerStep, CannedBackend, SimOptions};
use ivr::core::{DigitMethod, Key, Time};
use std::collections::VecDeque;
use std::sync::Arc;

/// The shipped hotline, compiled.
pub fn hotline() -> Arc<Program> {
    let src = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/flows/complaint_940.flow"
    ))
    // The shipped script is part of the repository.
    .expect("script");
    let env = ivr::dsl::Environment {
        destinations: Some(["agents".to_string()].into()),
        ..Default::default()
    };
    // The shipped script checks clean (its own test says so).
    Arc::new(Program::compile(&src, &env, Defaults::default()).expect("compiles"))
}

/// The caller of a complaint call: language, category, district, a description, its end
/// key, and a last choice.
pub fn complaint_call() -> VecDeque<CallerStep> {
    ["1", "1", "1", "101"]
        .into_iter()
        .map(|k| CallerStep::Press(k.into()))
        .chain([
            CallerStep::Speak(4000),
            CallerStep::Press("#".into()),
            CallerStep::Press("1".into()),
        ])
        .collect()
}

/// Drives one call through the flow machine alone: answers each play at once and presses keys; returns how many
/// inputs the machine handled.
pub fn machine_call(program: &Arc<Program>, config: &Arc<FlowConfig>) -> u64 {
    let mut call = FlowMachine::new(Arc::clone(program), Arc::clone(config));
    let mut now = 0u64;
    let mut events = 1u64;
    call.handle_input(
        Input::Started {
            caller: "1".into(),
            called: "940".into(),
            at: jiff::Timestamp::UNIX_EPOCH,
        },
        Time(now),
    );
    let keys = [Key::D1, Key::D1, Key::D1, Key::D1, Key::D0, Key::D1];
    let mut k = 0;
    while !call.is_ended() {
        let mut plays = Vec::new();
        let mut other = None;
        while let Some(o) = call.poll_output() {
            match o {
                Output::Play { id, .. } => plays.push(id),
                Output::StartRecording { .. } => other = Some(true),
                Output::Backend(r) => other = Some(r.id > 0),
                _ => {}
            }
        }
        now += 1000;
        for id in plays {
            call.handle_input(Input::PlayFinished { id }, Time(now));
            events += 1;
        }
        if other == Some(true) && k >= keys.len() {
            call.handle_input(Input::CallerHangup, Time(now));
            events += 1;
            break;
        }
        if k < keys.len() {
            call.handle_input(
                Input::Digit {
                    key: keys[k],
                    method: DigitMethod::Rfc4733,
                },
                Time(now),
            );
            k += 1;
            events += 1;
        } else if let Some(t) = call.poll_timeout() {
            call.handle_timeout(t);
            events += 1;
        }
    }
    events
}

/// One simulated complaint call (the whole call machine with the media model and the canned
/// backend); returns its transcript.
pub fn simulated_call(line: &Line) -> sim::Transcript {
    let opts = SimOptions {
        auto_speak_ms: Some(3000),
        ..Default::default()
    };
    let mut caller = complaint_call();
    let mut backend = CannedBackend::new(100_001);
    let t = sim::simulate(line, &mut caller, &mut backend, &opts);
    assert_eq!(t.submitted.len(), 1);
    t
}

//! The flow machine's speed: machine events per second, and complete simulated complaint_940
//! calls per second, on one core.
//!
//! `cargo bench --bench engine`; figures go to docs/PERFORMANCE.md.
#![allow(missing_docs)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ivr::core::flow::{Defaults, FlowConfig, FlowMachine, Input, Output, Program};
use ivr::core::sim::{self, CallerStep, CannedBackend, SimOptions};
use ivr::core::{DigitMethod, Key, Time};
use std::collections::VecDeque;
use std::sync::Arc;

fn hotline() -> Arc<Program> {
    let src = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/flows/complaint_940.flow"
    ))
    .expect("script");
    let env = ivr::dsl::Environment {
        destinations: Some(["agents".to_string()].into()),
        ..Default::default()
    };
    Arc::new(Program::compile(&src, &env, Defaults::default()).expect("compiles"))
}

fn complaint_call() -> VecDeque<CallerStep> {
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

/// Drives one call directly: answers each play at once and presses keys; returns how many
/// inputs the machine handled.
fn machine_call(program: &Arc<Program>, config: &Arc<FlowConfig>) -> u64 {
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

fn bench(c: &mut Criterion) {
    let program = hotline();
    let config = Arc::new(FlowConfig::default());
    let events = machine_call(&program, &config);
    let mut g = c.benchmark_group("engine");
    g.throughput(Throughput::Elements(events));
    g.bench_function("machine events", |b| {
        b.iter(|| machine_call(&program, &config))
    });
    g.throughput(Throughput::Elements(1));
    let opts = SimOptions {
        auto_speak_ms: Some(3000),
        ..Default::default()
    };
    let line = sim::line(Arc::clone(&program));
    g.bench_function("simulated complaint_940 call", |b| {
        b.iter(|| {
            let mut caller = complaint_call();
            let mut backend = CannedBackend::new(100_001);
            let t = sim::simulate(&line, &mut caller, &mut backend, &opts);
            assert_eq!(t.submitted.len(), 1);
            t
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

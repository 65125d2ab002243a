//! The call's deadlines — a transfer nobody reports on, a backend that does not answer, the
//! maximum call length — fire at the same virtual instant in the simulator and in a live call
//! through the test kit: both run the same call machine.

use ivr_core::Time;
use ivr_core::call::{CallConfig, CallEvent};
use ivr_core::flow::{self, BackendResult, FailureKind};
use ivr_core::sim::{self, CannedBackend, SimOptions};
use ivr_core::testkit::{Backend, Net, NetConfig, Reply};
use std::collections::VecDeque;
use std::sync::Arc;

/// A backend that never answers.
struct Silent;

impl Backend for Silent {
    fn answer(
        &mut self,
        _: &ivr_core::backend::ops::CallContext,
        _: &flow::BackendRequest,
    ) -> Reply {
        Reply::Never
    }
}

fn line(src: &str, f: impl FnOnce(&mut CallConfig)) -> ivr_core::call::Line {
    let mut line = ivr_core::testkit::line(src);
    let mut c = (*line.config).clone();
    f(&mut c);
    line.config = Arc::new(c);
    line
}

/// The events of a simulated call (the simulator's far end answers what the kit's would).
fn simulated(line: &ivr_core::call::Line, opts: &SimOptions) -> Vec<(u64, String)> {
    // The simulator's transcript has times; its record has the events' order. Both come
    // from the same events, so the lines are compared by text and time.
    let mut caller = VecDeque::new();
    let mut backend = CannedBackend::new(100_001);
    let t = sim::simulate(line, &mut caller, &mut backend, opts);
    t.lines.iter().map(|l| (l.at, l.text.clone())).collect()
}

fn live(line: ivr_core::call::Line, backend: Box<dyn Backend>) -> Vec<(u64, String)> {
    let mut net = Net::new(line, backend, NetConfig::default());
    net.call("10.0.0.2".parse().expect("ip"), |c| {
        c.hangup_after_ms = Some(600_000)
    });
    assert!(net.run_to_end(900_000));
    net.transcript(0)
        .lines
        .iter()
        .map(|l| (l.at, l.text.clone()))
        .collect()
}

/// Milliseconds from the first line containing `from` to the first containing `to`.
fn between(lines: &[(u64, String)], from: &str, to: &str) -> u64 {
    let at = |s: &str| {
        lines
            .iter()
            .find(|(_, l)| l.contains(s))
            .map(|(t, _)| *t)
            .unwrap_or_else(|| panic!("no `{s}` in {lines:#?}"))
    };
    at(to) - at(from)
}

#[test]
fn a_transfer_nobody_reports_on_counts_as_not_answered_at_its_timeout() {
    let src = "languages en

flow start
    transfer agents timeout 5s
        on noanswer
            say agents-no-answer
            hangup
        on failure hangup
";
    let l = line(src, |_| {});
    let opts = SimOptions {
        transfer_after_ms: None,
        ..SimOptions::default()
    };
    let s = simulated(&l, &opts);
    // The kit's phone accepts the REFER and never says how the transfer went.
    let k = live(l, ivr_core::testkit::canned());
    for lines in [&s, &k] {
        assert_eq!(
            between(lines, "transfer to agents", "transfer: noanswer"),
            5_000,
            "{lines:#?}"
        );
        assert!(lines.iter().any(|(_, l)| l == "say agents-no-answer (en)"));
    }
}

#[test]
fn a_backend_that_does_not_answer_fails_at_its_timeout() {
    let src = "languages en

flow start
    set ticket = \"123456\"
    lookup complaint_status with ticket into status
        on failure
            say lookup-failed
            hangup
    say status-closed
    hangup
";
    let l = line(src, |c| c.backend_timeout_ms = 7_000);
    let opts = SimOptions {
        backend_delay_ms: 60_000,
        ..SimOptions::default()
    };
    let s = simulated(&l, &opts);
    let k = live(l, Box::new(Silent));
    for lines in [&s, &k] {
        assert_eq!(
            between(lines, "lookup complaint_status", "result: failure"),
            7_000,
            "{lines:#?}"
        );
        assert!(
            lines
                .iter()
                .any(|(_, l)| l.contains("no answer in 7000 ms"))
        );
    }
}

#[test]
fn the_maximum_call_length_ends_the_call_at_the_same_instant() {
    let src = "languages en

defaults
    on noinput repeat
    after 10 attempts hangup

flow start
    menu timeout 10s
        say options
        press 1 hangup
";
    let l = line(src, |c| c.max_call_ms = 25_000);
    let s = simulated(&l, &SimOptions::default());
    let k = live(l, ivr_core::testkit::canned());
    for lines in [&s, &k] {
        assert_eq!(
            between(lines, "flow start", "call ends: max_duration"),
            25_000,
            "{lines:#?}"
        );
    }
}

#[test]
fn the_call_machine_reports_its_deadlines_as_events() {
    // The same facts, read from the call machine's own events in the kit.
    let src = "languages en

flow start
    set ticket = \"123456\"
    lookup complaint_status with ticket into status
        on failure hangup
    hangup
";
    let mut net = Net::new(
        line(src, |c| c.backend_timeout_ms = 3_000),
        Box::new(Silent),
        NetConfig::default(),
    );
    net.call("10.0.0.2".parse().expect("ip"), |_| {});
    net.run_until(Time(10_000));
    let answered = net
        .events(0)
        .into_iter()
        .find_map(|(t, e)| match e {
            CallEvent::BackendAnswered {
                result: BackendResult::Failure(f),
                ..
            } => Some((t, f.kind)),
            _ => None,
        })
        .expect("the lookup failed");
    assert_eq!(answered.1, FailureKind::Timeout);
}

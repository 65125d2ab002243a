//! Random callers against the shipped hotline: no panic, never longer than the maximum call
//! duration, always a defined outcome.

use ivr_core::TransferOutcome;
use ivr_core::call::CallConfig;
use ivr_core::flow::{Defaults, FlowConfig, Program};
use ivr_core::sim::{self, CallerStep, CannedBackend, SimOptions};
use proptest::prelude::*;
use std::collections::VecDeque;
use std::sync::Arc;

fn hotline(file: &str) -> Arc<Program> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../flows")
        .join(file);
    let src = std::fs::read(&path).expect("hotline script");
    let env = ivr_dsl::Environment {
        destinations: Some(["agents".to_string()].into()),
        ..Default::default()
    };
    Arc::new(Program::compile(&src, &env, Defaults::default()).expect("hotline compiles"))
}

fn step() -> impl Strategy<Value = CallerStep> {
    prop_oneof![
        4 => "[0-9*#]{1,12}".prop_map(CallerStep::Press),
        1 => "[0-9*#]{1,3}".prop_map(CallerStep::Barge),
        2 => Just(CallerStep::Noinput),
        1 => (0u64..20_000).prop_map(CallerStep::Silence),
        1 => (0u64..200_000).prop_map(CallerStep::Speak),
        1 => Just(CallerStep::Hangup),
        1 => "[a-z-]{1,20}".prop_map(CallerStep::Hear),
    ]
}

/// Cases per property: `PROPTEST_CASES` when set (for long runs), else the default.
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(200)))]

    #[test]
    fn random_callers_always_end_properly(
        steps in proptest::collection::vec(step(), 0..40),
        arabic in any::<bool>(),
        fail_submit in any::<bool>(),
        fail_lookup in any::<bool>(),
        transfer in 0u8..4,
        minutes in 0u64..(7 * 24 * 60),
        max_call_s in 30u64..900,
    ) {
        let program = hotline(if arabic { "complaint_940.ar.flow" } else { "complaint_940.flow" });
        let config = Arc::new(CallConfig {
            max_call_ms: max_call_s * 1000,
            transfer: [("agents".to_string(), "sip:agents@10.0.0.9".to_string())].into(),
            ..Default::default()
        });
        let line = sim::line_with(program, Arc::new(FlowConfig::default()), config, None, 60);
        let mut backend = CannedBackend::new(100_001);
        backend.lookups.entry("complaint_status".into()).or_default()
            .insert("123456".into(), ivr_core::flow::Value::Str("closed".into()));
        if fail_submit { backend.failing.push("create_complaint".into()); }
        if fail_lookup { backend.failing.push("complaint_status".into()); }
        let opts = SimOptions {
            at: jiff::Timestamp::from_second(1_795_000_000 + minutes as i64 * 60).expect("time"),
            transfer: [TransferOutcome::Success, TransferOutcome::Busy, TransferOutcome::NoAnswer, TransferOutcome::Failed][transfer as usize],
            ..Default::default()
        };
        let mut caller: VecDeque<CallerStep> = steps.into_iter().collect();
        let t = sim::simulate(&line, &mut caller, &mut backend, &opts);
        prop_assert!(t.outcome.is_some(), "no outcome:\n{}", t.render());
        prop_assert!(t.duration_ms <= max_call_s * 1000, "{} ms > max\n{}", t.duration_ms, t.render());
        prop_assert!(!t.failures.iter().any(|f| f.contains("stuck") || f.contains("did not end")), "{:?}", t.failures);
        prop_assert!(!matches!(t.outcome, Some(ivr_core::flow::Outcome::Error(_))), "{:?}\n{}", t.outcome, t.render());
    }
}

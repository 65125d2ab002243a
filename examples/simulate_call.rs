//! Embedding the simulator in a test of one's own: compile a script, run a call with a
//! scripted caller and a canned backend, and check what happened.
//!
//! `cargo run --example simulate_call`

use ivr::core::flow::{Defaults, Outcome, Program};
use ivr::core::sim::{self, CallerStep, CannedBackend, SimOptions};
use std::collections::VecDeque;
use std::sync::Arc;

const SCRIPT: &str = "languages en

defaults
    after 3 attempts hangup

flow start
    collect ticket digits 6 until hash
        say enter-ticket
    lookup complaint_status with ticket into status
        on not_found
            say ticket-not-found
            hangup
        on failure hangup
    if status = \"closed\"
        say status-closed
    else
        say status-in-progress
    hangup
";

/// Runs the example.
pub fn main() -> Result<(), Box<dyn std::error::Error>> {
    // `compile` checks the script first; `ivr check` shows why one does not compile.
    let program = Arc::new(Program::compile(
        SCRIPT.as_bytes(),
        &ivr::dsl::Environment::default(),
        Defaults::default(),
    )?);
    let mut backend = CannedBackend::new(100_001);
    backend
        .lookups
        .entry("complaint_status".into())
        .or_default()
        .insert(
            "424242".into(),
            ivr::core::flow::Value::Str("closed".into()),
        );
    let mut caller: VecDeque<CallerStep> = [
        CallerStep::Hear("enter-ticket".into()),
        CallerStep::Press("424242#".into()),
        CallerStep::Hear("status-closed".into()),
    ]
    .into();
    // The same call machine a live call runs, with simulated media and default settings.
    let line = sim::line(program);
    let t = sim::simulate(&line, &mut caller, &mut backend, &SimOptions::default());
    print!("{}", t.render());
    assert_eq!(t.outcome, Some(Outcome::Hangup));
    assert!(t.failures.is_empty(), "{:?}", t.failures);
    println!("ok: the caller heard that ticket 424242 is closed");
    Ok(())
}

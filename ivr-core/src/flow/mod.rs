//! The flow machine: a checked script compiled once ([`Program`]) and run per call ([`FlowMachine`]).
//!
//! Semantics are those of docs/language.md: VoiceXML-style counted handlers with `defaults`,
//! `after N attempts` before the handler of the same event, `repeat` without resetting
//! counters, digit collection with first-digit and inter-digit timeouts, terminator, minimum and
//! maximum length, type-ahead kept across barge-in prompts, subflows, `within hours` in the
//! configured time zone with holidays. The machine is sans-IO: `handle_input(input, now)`,
//! `handle_timeout(now)`, `poll_output()`, `poll_timeout()` (docs/architecture.md).

mod machine;
mod messages;
pub mod program;
pub mod value;

pub use machine::FlowMachine;
pub use messages::{
    BackendRequest, BackendResult, Event, Failure, FailureKind, Fragment, Input, Outcome, Output,
    RecordingResult, style_name,
};
pub use program::{CompileError, Defaults, Program};
pub use value::{Recording, Value};

use ivr_dsl::Lang;

/// Per-deployment settings of the script's semantics (the limits of a call as a whole, such
/// as its maximum length, belong to the call machine: [`crate::call::CallConfig`]).
#[derive(Clone, Debug)]
pub struct FlowConfig {
    /// Time zone for `within hours`.
    pub time_zone: jiff::tz::TimeZone,
    /// Dates on which hours marked `closed on holidays` are closed.
    pub holidays: Vec<jiff::civil::Date>,
    /// Inter-digit timeout for `collect`.
    pub interdigit_ms: u64,
    /// Language before the script sets one.
    pub default_language: Lang,
}

impl Default for FlowConfig {
    fn default() -> Self {
        FlowConfig {
            time_zone: jiff::tz::TimeZone::get("Asia/Riyadh").unwrap_or(jiff::tz::TimeZone::UTC),
            holidays: Vec::new(),
            interdigit_ms: 3_000,
            default_language: Lang::Ar,
        }
    }
}

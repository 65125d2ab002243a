//! The flow machine: a checked script compiled once ([`Program`]) and run per call ([`Call`]).
//!
//! Semantics are those of docs/language.md: VoiceXML-style counted handlers with `defaults`,
//! `after N attempts` before the handler of the same event, `repeat` without resetting
//! counters, digit collection with first-digit and inter-digit timeouts, terminator, minimum and
//! maximum length, type-ahead kept across barge-in prompts, subflows, `within hours` in the
//! configured time zone with holidays, and a maximum call duration.

mod machine;
pub mod program;
pub mod value;

pub use machine::{
    BackendRequest, BackendResult, Call, DigitMethod, Event, Fragment, Input, Outcome, Output,
    RecordingResult, TransferOutcome,
};
pub use program::{CompileError, Defaults, Program};
pub use value::{Recording, Value};

use ivr_dsl::Lang;

/// A point in time: milliseconds on the runtime's monotonic clock (or the simulator's virtual
/// one). Only differences matter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Time(pub u64);

impl Time {
    /// `self` plus `ms` milliseconds.
    pub fn plus(self, ms: u64) -> Time {
        Time(self.0.saturating_add(ms))
    }
}

/// Per-deployment settings every call uses.
#[derive(Clone, Debug)]
pub struct CallConfig {
    /// Time zone for `within hours`.
    pub time_zone: jiff::tz::TimeZone,
    /// Dates on which hours marked `closed on holidays` are closed.
    pub holidays: Vec<jiff::civil::Date>,
    /// A call is ended after this long.
    pub max_call_ms: u64,
    /// Inter-digit timeout for `collect`.
    pub interdigit_ms: u64,
    /// Language before the script sets one.
    pub default_language: Lang,
}

impl Default for CallConfig {
    fn default() -> Self {
        CallConfig {
            time_zone: jiff::tz::TimeZone::get("Asia/Riyadh").unwrap_or(jiff::tz::TimeZone::UTC),
            holidays: Vec::new(),
            max_call_ms: 15 * 60 * 1000,
            interdigit_ms: 3_000,
            default_language: Lang::Ar,
        }
    }
}

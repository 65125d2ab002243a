//! The call simulator: the very same [`crate::call::Call`] machine a live call runs, with the simulated
//! media model ([`crate::call::model`]) and a scripted far end, in virtual time. The far end
//! answers the call's SIP commands at once, performs its backend requests on a
//! [`SimBackend`] after [`SimOptions::backend_delay_ms`], reports transfers after a second,
//! and does what the [`Caller`] says: listen for prompts, press keys, talk into a recording,
//! stay silent, hang up. No sockets, no sleeping, and the same transcript on every run.

mod backend;
mod far_end;
pub mod scenario;
mod transcript;

#[cfg(feature = "sqlite")]
pub use backend::StoreBackend;
pub use backend::{CannedBackend, OpsBackend, SimBackend};
pub use transcript::{Entry, RecordingView, Transcriber, Transcript, clock};

use crate::call::{CallConfig, CallSetup, Line, MediaPlan};
use crate::flow::{FlowConfig, Program};
use crate::prompts::Catalog;
use crate::prompts::bank::PromptBank;
use crate::vocab::TransferOutcome;
use std::collections::VecDeque;
use std::sync::Arc;

/// What the simulated caller does next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallerStep {
    /// Expect the next prompt played to be this id.
    Hear(String),
    /// Press keys (100 ms apart) once the call is waiting for input and nothing is playing.
    Press(String),
    /// Press keys at once, interrupting what is playing.
    Barge(String),
    /// Do nothing until the current input state times out.
    Noinput,
    /// Do nothing for this many milliseconds.
    Silence(u64),
    /// Talk for this many milliseconds (into a recording, once the recorder listens).
    Speak(u64),
    /// Hang up.
    Hangup,
}

/// Where the caller's next steps come from.
pub trait Caller {
    /// The next step; `None` when the caller has nothing more to do (it then stays silent).
    fn next(&mut self, transcript: &Transcript) -> Option<CallerStep>;

    /// Whether to be asked only when the call waits for input with nothing playing (a person
    /// at a terminal), rather than as soon as the previous step is done.
    fn when_idle(&self) -> bool {
        false
    }
}

impl Caller for VecDeque<CallerStep> {
    fn next(&mut self, _: &Transcript) -> Option<CallerStep> {
        self.pop_front()
    }
}

/// Simulation settings.
#[derive(Clone, Debug)]
pub struct SimOptions {
    /// Wall clock at call start.
    pub at: jiff::Timestamp,
    /// The call's id (submits are idempotent by it).
    pub call_id: String,
    /// Calling number.
    pub caller: String,
    /// Called number.
    pub called: String,
    /// When the caller has no step left and a recording starts, talk this long.
    pub auto_speak_ms: Option<u64>,
    /// How long a backend request takes.
    pub backend_delay_ms: u64,
    /// How a transfer ends.
    pub transfer: TransferOutcome,
    /// How long the far end takes to report how a transfer went (`None`: it never does; the
    /// call's deadline decides).
    pub transfer_after_ms: Option<u64>,
    /// Milliseconds of audio per character of prompt text (when there is no audio file).
    pub ms_per_char: u64,
    /// Record which instructions ran.
    pub coverage: bool,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            at: jiff::Timestamp::UNIX_EPOCH,
            call_id: "sim-1".into(),
            caller: "+966500000001".into(),
            called: "940".into(),
            auto_speak_ms: None,
            backend_delay_ms: 200,
            transfer: TransferOutcome::Success,
            transfer_after_ms: Some(1_000),
            ms_per_char: 60,
            coverage: false,
        }
    }
}

/// A line for simulated calls of `program` with default settings and prompt lengths
/// estimated from their text.
pub fn line(program: Arc<Program>) -> Line {
    line_with(
        program,
        Arc::new(FlowConfig::default()),
        Arc::new(CallConfig::default()),
        None,
        SimOptions::default().ms_per_char,
    )
}

/// A line for simulated calls: `program` with its settings, prompt audio from `catalog` where
/// there is some, and lengths estimated from the text (`ms_per_char`) where there is none.
pub fn line_with(
    program: Arc<Program>,
    flow: Arc<FlowConfig>,
    config: Arc<CallConfig>,
    catalog: Option<Arc<Catalog>>,
    ms_per_char: u64,
) -> Line {
    Line {
        program,
        version: Arc::from("simulated"),
        flow,
        config,
        bank: Arc::new(PromptBank::estimating(catalog, ms_per_char)),
    }
}

/// Runs one call to its end.
pub fn simulate(
    line: &Line,
    caller: &mut dyn Caller,
    backend: &mut dyn SimBackend,
    opts: &SimOptions,
) -> Transcript {
    let setup = CallSetup {
        call_id: opts.call_id.clone(),
        uid: opts.call_id.clone(),
        asserted: None,
        from: format!("<sip:{}@sim.invalid>", opts.caller),
        to: format!("<sip:{}@sim.invalid>", opts.called),
        started_at: opts.at,
        media: MediaPlan::Simulated,
    };
    far_end::FarEnd::new(line, setup, backend, opts).run(caller)
}

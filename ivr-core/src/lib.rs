//! The ivr engine. Every protocol, media and flow piece is a sans-IO state machine: it is given
//! input and the time and hands back output (DESIGN.md, docs/architecture.md). The same
//! machines run a live call (`runtime`), a simulated one (`sim`) and a test network
//! (`testkit`).
//!
//! The rooms:
//!
//! - [`vocab`]: what every machine shares — [`Time`], [`Key`], [`DigitMethod`],
//!   [`TransferOutcome`], and [`Fault`] (who is at fault when something fails).
//! - [`flow`]: the flow machine: a checked script compiled once ([`Program`]) and run per call
//!   ([`FlowMachine`]).
//! - [`sip`]: SIP, sans-IO: codec, screening, SDP, transactions, dialogs, and the user agent
//!   server [`Endpoint`].
//! - [`media`]: G.711, RTP, jitter buffer, keys three ways, playback, recording, and the
//!   per-call [`MediaSession`].
//! - [`call`]: one call composed — the [`Call`] machine — with its timers, its media model
//!   for the simulator, its events ([`CallEvent`]) and its record ([`Cdr`]).
//! - [`prompts`]: prompt text (Fluent) and audio per language ([`Catalog`], [`PromptBank`]);
//!   values spoken by language rules.
//! - [`sim`]: the simulator and scenario files (`ivr simulate`, `ivr test`).
//! - [`softphone`]: the test softphone ([`Phone`]) behind `ivr call` and the test kit.
//! - [`backend`]: complaint capture: the [`ComplaintBackend`] trait, [`Operations`], ticket
//!   numbers, the embedded SQLite store (`sqlite`), Open311 (`open311`), notifications.
//! - `metrics` (feature `metrics`): Prometheus metrics fed by call events and records.
//! - `runtime` (feature `runtime`): the tokio shell — `Server`, `Services`, `RuntimeConfig`.
//! - `testkit` (feature `testkit`): the virtual-time test kit.
//!
//! Modules named as building blocks (`sip::codec`, `sip::transaction`, `media::jitter`, …)
//! are public for tests, fuzzing and embedders who assemble their own machines; the types
//! re-exported here are the API an embedder needs.

pub mod backend;
pub mod call;
pub mod flow;
pub mod media;
#[cfg(feature = "metrics")]
pub mod metrics;
pub mod privacy;
pub mod prompts;
#[cfg(feature = "runtime")]
pub mod runtime;
pub mod sim;
pub mod sip;
pub mod softphone;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod vocab;

pub use backend::ops::{CallContext, Operation, Operations};
pub use backend::{BackendError, Complaint, ComplaintBackend, Status, TicketInfo};
pub use call::{
    BackendCall, Call, CallConfig, CallEvent, CallSetup, Cdr, HangupBy, Line, MediaPlan, Work,
    WorkResult,
};
pub use flow::{
    BackendRequest, BackendResult, Failure, FailureKind, FlowConfig, FlowMachine, Program, Value,
};
pub use ivr_dsl as dsl;
pub use media::session::MediaSession;
pub use prompts::Catalog;
pub use prompts::bank::PromptBank;
#[cfg(feature = "runtime")]
pub use runtime::{RuntimeConfig, RuntimeError, Server, ServerEvent, Services};
pub use sip::endpoint::{Endpoint, EndpointConfig};
pub use softphone::{Phone, PhoneConfig};
pub use vocab::{DigitMethod, Fault, Key, Time, TransferOutcome};

//! The ivr engine. Every protocol and flow piece is a sans-IO state machine: it is given input
//! and the time and hands back output (DESIGN.md).
//!
//! - [`flow`]: the flow machine: a checked script compiled once ([`flow::Program`]) and run per
//!   call ([`flow::Call`]).
//! - [`prompts`]: prompt text (Fluent) and audio per language; values spoken by language rules.
//! - [`sim`]: the call simulator and scenario files (`ivr simulate`, `ivr test`).
//! - [`media`]: G.711, RTP, jitter buffer, keypresses three ways, playback, recording, and the
//!   per-call [`media::session::MediaSession`].
//! - [`sip`]: message codec, responses, SDP offer/answer, transactions (dialogs and the runtime
//!   are next).
//! - [`runtime`]: the tokio shell: sockets, timers and tasks around those machines
//!   (`ivr serve`).
//! - [`backend`]: complaint capture: the [`backend::ComplaintBackend`] trait, ticket numbers
//!   and the embedded SQLite store.

pub mod backend;
pub mod flow;
pub mod media;
pub mod prompts;
pub mod runtime;
pub mod sim;
pub mod sip;

pub use ivr_dsl as dsl;

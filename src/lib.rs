//! `ivr`: a bilingual (Arabic/English) IVR engine.
//!
//! This facade re-exports the workspace crates and holds what the `ivr` command shares with
//! embedders:
//!
//! - [`dsl`]: the call-flow language (parse, check, format, graph).
//! - [`core`]: the engine — the sans-IO machines (`core::Call`, `core::FlowMachine`,
//!   `core::Endpoint`, `core::MediaSession`), the simulator, the softphone, the complaint
//!   backends and the tokio runtime (`core::Server`).
//! - [`project`]: a project folder read once — `ivr.yaml` and `prompts/` — and everything
//!   `ivr serve` builds from it ([`project::Project::build`]).
//! - [`reload`]: checking a script again and swapping it into a running server.
//! - [`report`]: the managers' figures from call records and the store.

pub use ivr_core as core;
pub use ivr_dsl as dsl;

pub mod project;
pub mod reload;
pub mod report;

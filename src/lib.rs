//! `ivr`: a bilingual (Arabic/English) IVR engine.
//!
//! This facade re-exports the workspace crates and holds what the `ivr` command shares with
//! embedders: finding a script's project (its `prompts/` folder and `ivr.yaml`).
//!
//! - [`dsl`]: the call-flow language (parse, check, format, graph).
//! - [`core`]: the engine.

pub use ivr_core as core;
pub use ivr_dsl as dsl;

pub mod project;
pub mod reload;
pub mod report;

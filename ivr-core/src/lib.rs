//! The ivr engine.
//!
//! The engine's machines (flow machine, prompts, media, SIP, complaint backends, runtime and
//! simulator) are being built in this crate issue by issue; DESIGN.md gives their shape. So far
//! it re-exports the language it runs.

pub use ivr_dsl as dsl;

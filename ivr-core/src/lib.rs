//! The ivr engine.
//!
//! - [`flow`]: the flow machine: a checked script compiled once and run per call, sans-IO.
//!
//! Media, SIP, complaint backends, the runtime and the simulator are built on it (DESIGN.md).

pub mod backend;
pub mod flow;
pub mod media;
pub mod prompts;
pub mod sim;
pub mod sip;

pub use ivr_dsl as dsl;

//! The ivr engine. Every protocol and flow piece is a sans-IO state machine: it is given input
//! and the time and hands back output (DESIGN.md).

pub mod backend;
pub mod call;
pub mod flow;
pub mod media;
#[cfg(feature = "metrics")]
pub mod metrics;
pub mod prompts;
#[cfg(feature = "runtime")]
pub mod runtime;
pub mod sim;
pub mod sip;
pub mod softphone;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod vocab;

pub use ivr_dsl as dsl;
pub use vocab::{DigitMethod, Fault, Key, Time, TransferOutcome};

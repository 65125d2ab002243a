//! The virtual-time test kit (feature `testkit`): the machines of a real call — the test
//! softphone's user agent and media, the SIP endpoint, the call machine — wired together over
//! links that lose, duplicate, reorder and delay ([`Net`], [`Link`]); and a driver for the
//! flow machine alone ([`FlowDriver`]). Everything is deterministic from a seed: no sockets,
//! no sleeping, a minute-long call in milliseconds.
//!
//! ```
//! # use ivr_core::testkit::{self, Net, NetConfig};
//! let line = testkit::line("languages en\nflow main\n    say welcome\n    hangup\n");
//! let mut net = Net::new(line, testkit::canned(), NetConfig::default());
//! net.call("10.0.0.2".parse().unwrap(), |_| {});
//! assert!(net.run_to_end(60_000));
//! assert_eq!(net.finished()[0].record.outcome, "hangup");
//! ```

mod driver;
mod link;
mod net;

pub use driver::FlowDriver;
pub use link::{Datagram, Link, LinkConfig, LinkStats};
pub use net::{Backend, Delayed, Finished, Net, NetConfig, Reply, WorkPolicy};

use crate::call::{CallConfig, Line};
use crate::flow::{Defaults, FlowConfig, Program};
use crate::prompts::bank::PromptBank;
use std::sync::Arc;

/// Compiles a script for tests (`agents` is a known transfer destination; prompt ids are not
/// checked). Panics with the diagnostics when the script has errors: a test's script is the
/// test's own input.
pub fn program(src: &str) -> Arc<Program> {
    let env = ivr_dsl::Environment {
        destinations: Some(["agents".to_string()].into()),
        ..Default::default()
    };
    match Program::compile(src.as_bytes(), &env, Defaults::default()) {
        Ok(p) => Arc::new(p),
        Err(e) => {
            let c = ivr_dsl::check(src.as_bytes(), &env);
            panic!("{e}: {:?}", c.diagnostics)
        }
    }
}

/// A line running `src` with default settings and estimated prompt audio (silence as long
/// as the text would take).
pub fn line(src: &str) -> Line {
    Line {
        program: program(src),
        version: Arc::from("test"),
        flow: Arc::new(FlowConfig::default()),
        config: Arc::new(CallConfig {
            transfer: [("agents".to_string(), "sip:agents@10.0.0.9".to_string())].into(),
            ..CallConfig::default()
        }),
        bank: Arc::new(PromptBank::estimating(None, 60)),
    }
}

/// Canned backend answers after 200 ms: submits get tickets from 100001, lookups find
/// nothing.
pub fn canned() -> Box<dyn Backend> {
    Box::new(Delayed {
        backend: crate::sim::CannedBackend::new(100_001),
        delay_ms: 200,
    })
}

//! Running the `ivr` binary from the integration tests.
#![allow(dead_code)]

use std::process::{Command, Output};

/// Runs `ivr` with `args` in the repository root.
pub fn ivr(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ivr"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("ivr runs")
}

/// Its standard output as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("utf-8 output")
}
pub mod georeport;
pub mod serve;

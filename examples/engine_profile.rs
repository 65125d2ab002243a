//! Runs the `engine` benchmark's calls a given number of times, for profilers that count
//! (callgrind, dhat) rather than time: `cargo build --release --example engine_profile`, then
//! `valgrind --tool=callgrind target/release/examples/engine_profile sim 200` and the same with
//! `0` (the difference is what 200 calls cost); `flow` in place of `sim` runs the flow machine
//! alone.

#[path = "../benches/engine_calls.rs"]
mod engine_calls;

use engine_calls::{hotline, machine_call, simulated_call};
use ivr::core::flow::FlowConfig;
use ivr::core::sim;
use std::sync::Arc;

fn main() {
    let mut args = std::env::args().skip(1);
    let what = args.next().unwrap_or_else(|| "sim".into());
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(200);
    let program = hotline();
    let mut total = 0u64;
    match what.as_str() {
        "flow" => {
            let config = Arc::new(FlowConfig::default());
            for _ in 0..n {
                total += machine_call(&program, &config);
            }
        }
        "sim" => {
            let line = sim::line(Arc::clone(&program));
            for _ in 0..n {
                total += simulated_call(&line).lines.len() as u64;
            }
        }
        other => {
            eprintln!("engine_profile: `{other}`: use flow or sim");
            std::process::exit(2);
        }
    }
    println!("{total}");
}

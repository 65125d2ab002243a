//! The flow machine's speed: machine events per second, and complete simulated complaint_940
//! calls per second, on one core.
//!
//! `cargo bench --bench engine`; figures go to docs/PERFORMANCE.md.
#![allow(missing_docs)]

#[path = "engine_calls.rs"]
mod engine_calls;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use engine_calls::{hotline, machine_call, simulated_call};
use ivr::core::flow::FlowConfig;
use ivr::core::sim;
use std::sync::Arc;

fn bench(c: &mut Criterion) {
    let program = hotline();
    let config = Arc::new(FlowConfig::default());
    let events = machine_call(&program, &config);
    let mut g = c.benchmark_group("engine");
    g.throughput(Throughput::Elements(events));
    g.bench_function("machine events", |b| {
        b.iter(|| machine_call(&program, &config))
    });
    g.throughput(Throughput::Elements(1));
    let line = sim::line(Arc::clone(&program));
    g.bench_function("simulated complaint_940 call", |b| {
        b.iter(|| simulated_call(&line))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

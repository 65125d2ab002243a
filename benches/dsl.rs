//! Throughput of the language front end: sanitize + parse + validate on a generated script of
//! about 1 MB that alternates English- and Arabic-keyword flows.
//!
//! `cargo bench --bench dsl`; figures go to docs/PERFORMANCE.md.
#![allow(missing_docs)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
#[path = "dsl_gen.rs"]
mod dsl_gen;
use dsl_gen::generate;

fn env() -> ivr_dsl::Environment {
    let mut env = ivr_dsl::Environment::default();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("prompts");
    env.prompts = ivr_dsl::PromptCatalog::load(&dir).ok();
    env
}

fn bench(c: &mut Criterion) {
    let script = generate(1 << 20);
    let env = env();
    let checked = ivr_dsl::check(script.as_bytes(), &env);
    assert!(
        !checked.has_errors(),
        "generated script must be valid: {:?}",
        &checked.diagnostics[..checked.diagnostics.len().min(3)]
    );
    let mut g = c.benchmark_group("dsl");
    g.throughput(Throughput::Bytes(script.len() as u64));
    g.sample_size(20);
    g.bench_function("sanitize+parse+validate 1MB", |b| {
        b.iter(|| ivr_dsl::check(std::hint::black_box(script.as_bytes()), &env))
    });
    g.bench_function("parse only 1MB", |b| {
        b.iter(|| ivr_dsl::parse(std::hint::black_box(script.as_bytes())))
    });
    g.finish();

    // The shipped hotline script: the size operators actually write.
    let hotline = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("flows/complaint_940.flow"),
    )
    .expect("flows/complaint_940.flow is part of the repository");
    let mut g = c.benchmark_group("dsl-hotline");
    g.throughput(Throughput::Bytes(hotline.len() as u64));
    g.bench_function("check complaint_940.flow", |b| {
        b.iter(|| ivr_dsl::check(std::hint::black_box(&hotline), &env))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

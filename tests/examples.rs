//! The embedding examples compile (cargo builds them) and run here, as docs/embedding.md
//! promises: each example's `main` is called in the test process.

#[path = "../examples/simulate_call.rs"]
mod simulate_call;

#[path = "../examples/custom_backend.rs"]
mod custom_backend;

#[path = "../examples/embed_server.rs"]
mod embed_server;

#[test]
fn simulate_call_runs() {
    simulate_call::main().expect("examples/simulate_call.rs");
}

#[test]
fn custom_backend_runs() {
    custom_backend::main().expect("examples/custom_backend.rs");
}

#[test]
fn embed_server_runs() {
    embed_server::main().expect("examples/embed_server.rs");
}

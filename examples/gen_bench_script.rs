//! Writes the benchmark's generated script (used to profile `ivr check` on a large input):
//! `cargo run --release --example gen_bench_script -- 1048576 > /tmp/big.flow`.

#[path = "../benches/dsl_gen.rs"]
mod dsl_gen;

fn main() {
    let bytes = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1 << 20);
    print!("{}", dsl_gen::generate(bytes));
}

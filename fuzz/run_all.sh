#!/bin/sh
# Runs every fuzz target for SECONDS (default 30) from its committed seeds, and fails on the
# first crash. Used by .ci/run; see docs/fuzzing.md. cargo-fuzz needs nightly compiler
# features: on the stable toolchain RUSTC_BOOTSTRAP=1 allows them.
set -eu
cd "$(dirname "$0")"
secs="${1:-30}"
export RUSTC_BOOTSTRAP=1
cargo fuzz build
shared="../../shared/testdata/sip-torture"
for t in $(cargo fuzz list); do
    mkdir -p "corpus/$t"
    case "$t" in
        parse|check_and_format) seeds="corpus_seed" ;;
        sip_endpoint) if [ -d "$shared" ]; then seeds="$shared"; else seeds="seeds/sip_uac"; fi ;;
        *) seeds="seeds/$t" ;;
    esac
    echo "fuzz: $t for ${secs}s (seeds: $seeds)"
    # New inputs go to corpus/$t (ignored by git); the seeds are read only.
    cargo fuzz run "$t" "corpus/$t" "$seeds" -- \
        -max_total_time="$secs" -max_len=8192 -timeout=10 -print_final_stats=1 2>&1 \
        | grep -E "^(stat::number_of_executed_units|stat::peak_rss_mb)|SUMMARY|ERROR|panicked|Done" || true
    # grep's status hides cargo fuzz's: look for an artifact instead.
    if [ -n "$(ls -A "artifacts/$t" 2>/dev/null)" ]; then
        echo "fuzz: $t crashed: $(ls "artifacts/$t")" >&2
        exit 1
    fi
done

#!/usr/bin/env bash
# The whole test suite (the README's test command; CI runs it via .ci/run):
# set-up, guest and tenant builds, formatting, lints, unit/integration/
# differential/conformance tests, wasm builds of the core crate and a quick
# benchmark.
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib/env.sh"

start=$SECONDS

section "bootstrap"
bash scripts/bootstrap.sh

section "build guests and tenants"
GUEST_OUT="$(bash scripts/build-guests.sh | tail -n 1)"
export GUEST_OUT
echo "guests in $GUEST_OUT"
TENANT_OUT="$(bash scripts/build-tenants.sh | tail -n 1)"
export TENANT_OUT
echo "tenants in $TENANT_OUT"

section "cargo fmt --check"
cargo fmt --all -- --check
# The Rust tenant SDK and examples are their own workspace, built for riscv64.
(cd tenants && cargo fmt --all -- --check)

section "cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
(cd tenants && cargo clippy --release --locked --target-dir "$TENANT_OUT/rust-target" -- -D warnings)

section "cargo test"
cargo test --workspace
# The hosts' scripts below skip the per-package tests this has just run.
export RVEDGE_WORKSPACE_TESTED=1

section "wasm builds"
cargo build -p rvedge --target wasm32-unknown-unknown
cargo build -p rvedge --target wasm32-wasip1
# The core without std, as embedders that have none build it.
cargo build -p rvedge --no-default-features --target wasm32-unknown-unknown
# A 32-bit host must not wrap 64-bit guest offsets, forks copy on write there too, and runs
# of loads and stores go as one by one in its `match` loop: those tests inside wasm, under
# Node's WASI. So do the floating-point unit tests: wasm32 has no FMA instruction, and its
# double FMA goes by plain arithmetic (`fma_by_rounding_to_odd`), checked there against the
# exact path in wasm's own arithmetic.
export CARGO_TARGET_WASM32_WASIP1_RUNNER="node $repo/scripts/lib/wasi-run.mjs"
cargo test -p rvedge --target wasm32-wasip1 --test addresses --test forks_in_memory \
    --test access_runs
cargo test -p rvedge --target wasm32-wasip1 --lib -- interp::float
unset CARGO_TARGET_WASM32_WASIP1_RUNNER

section "fuzzing: every fuzz target for a few seconds (scripts/fuzz.sh)"
bash scripts/fuzz.sh 8

section "Miri: the emulator's unsafe code (scripts/miri.sh)"
bash scripts/miri.sh

section "Varnish VMOD (varnishtest, conformance through varnishd, demo check, benchmark)"
bash scripts/test-vmod.sh

section "proxy-wasm host (example filters) and rvedge serve"
bash scripts/test-proxy-wasm-host.sh

section "proxy-wasm filter (conformance through the host, Envoy examples, benchmark)"
bash scripts/test-proxy-wasm-filter.sh

section "demo: rvedge serve with the example tenants (the README's demo.sh serve, --check)"
DEMO_PORT=18080 bash scripts/demo-serve.sh --check

section "Extism plugin (conformance through the extism host, errors, schema, benchmark)"
bash scripts/test-extism.sh

section "browser playground (wasm-pack tests, Playwright, quick benchmark)"
bash scripts/test-playground.sh

section "quick benchmark"
cargo run --release -p rvedge-cli --bin rvedge-bench -- --quick

section "footprint: cache lines a cold hello request misses (cachegrind, scripts/footprint.sh)"
bash scripts/footprint.sh recv 10

section "done in $((SECONDS - start)) s"

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

section "cargo clippy and cargo test"
# `cargo clippy` is a check build with clippy-driver compiling the workspace's own crates, and a
# check build compiles every dependency once more, metadata only (8m42s of a cold run; the
# lints make the test build ~4 min longer, so a cold run saves ~5). Here clippy-driver
# compiles the workspace's crates for the tests instead, so the dependencies are built once
# and a lint fails the build as it fails `cargo clippy --workspace --all-targets -- -D
# warnings` (CLIPPY_ARGS is how cargo clippy hands clippy-driver its arguments). The wrapper
# goes in cargo's configuration, not the environment: the cargo runs the tests start themselves
# (other workspaces, other toolchains) must not inherit it. Cargo keeps these builds of the
# workspace's crates apart from plain ones (the wrapper is in their hash).
clippy_driver="$(rustup which clippy-driver)"
lint_and_test() {
    CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__" \
        cargo --config "build.rustc-workspace-wrapper='$clippy_driver'" test "$@"
}
# What cargo test builds is what cargo clippy --all-targets lints: libraries and binaries (for
# the integration tests) and as tests, integration tests, examples (built as they are, which
# the hosts' scripts then run). Besides: the VMOD library's unit tests, which its `test = false`
# keeps out of `cargo test`.
lint_and_test --workspace
lint_and_test -p vmod-riscv --lib
(cd tenants && cargo clippy --release --locked --target-dir "$TENANT_OUT/rust-target" -- -D warnings)
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
# exact path in wasm's own arithmetic; and 64 x 64 -> 128-bit products, which go
# by 32-bit halves there.
export CARGO_TARGET_WASM32_WASIP1_RUNNER="node $repo/scripts/lib/wasi-run.mjs"
cargo test -p rvedge --target wasm32-wasip1 --test addresses --test forks_in_memory \
    --test access_runs
cargo test -p rvedge --target wasm32-wasip1 --lib -- interp::float interp::wide
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

section "one release build of wasmtime for the CLI and the filter benchmarks"
# proxy-wasm-host/Cargo.toml turns on what the CLI turns on in wasmtime's dependencies; if the
# two drift apart, a cold run builds wasmtime and Cranelift twice (~5 min more). Both builds
# are fresh here (demo-serve.sh and test-proxy-wasm-filter.sh made them): cargo only names
# what they link.
release_wasmtime() { # release_wasmtime CARGO-BUILD-ARGS... -> the wasmtime rlib they link
    cargo build --release -q "$@" --message-format=json | python3 -c '
import json, sys
for line in sys.stdin:
    message = json.loads(line)
    if message.get("reason") == "compiler-artifact" and message["target"]["name"] == "wasmtime":
        print(*(name for name in message["filenames"] if name.endswith(".rlib")))'
}
cli_wasmtime="$(release_wasmtime -p rvedge-cli)"
bench_wasmtime="$(release_wasmtime -p rvedge-proxy-wasm-conformance --bins)"
if [[ -z "$cli_wasmtime" || "$cli_wasmtime" != "$bench_wasmtime" ]]; then
    echo "the CLI links ${cli_wasmtime:-no wasmtime}, filter-bench ${bench_wasmtime:-none}:" \
        "align the features proxy-wasm-host/Cargo.toml turns on" >&2
    exit 1
fi
echo "both link ${cli_wasmtime##*/}"

section "Extism plugin (conformance through the extism host, errors, schema, benchmark)"
bash scripts/test-extism.sh

section "browser playground (wasm-pack tests, Playwright, quick benchmark)"
bash scripts/test-playground.sh

section "quick benchmark"
cargo run --release -p rvedge-cli --bin rvedge-bench -- --quick

section "footprint: cache lines a cold hello request misses (cachegrind, scripts/footprint.sh)"
bash scripts/footprint.sh recv 10

section "filter instructions: host instructions per request through the filter in wasmtime, and per cpubench instruction in wasm and natively (callgrind, scripts/filter-instructions.sh)"
bash scripts/filter-instructions.sh hello 10
bash scripts/filter-instructions.sh cpubench 6

section "done in $((SECONDS - start)) s"

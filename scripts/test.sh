#!/usr/bin/env bash
# The whole test suite (the README's test command; CI runs it via .ci/run):
# set-up, guest builds, formatting, lints, unit/integration/differential
# tests, wasm builds of the core crate and a quick benchmark.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

# A target dir outside the work tree survives fresh clones, so CI reruns are warm.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/rvedge/target}"
mkdir -p "$CARGO_TARGET_DIR"
if [[ -f "$HOME/.cargo/env" ]] && ! command -v cargo >/dev/null; then
    # shellcheck disable=SC1091
    . "$HOME/.cargo/env"
fi

section() { printf '\n==== %s ====\n' "$*"; }
start=$SECONDS

section "bootstrap"
bash scripts/bootstrap.sh

section "build guests"
GUEST_OUT="$(bash scripts/build-guests.sh | tail -n 1)"
export GUEST_OUT
echo "guests in $GUEST_OUT"

section "cargo fmt --check"
cargo fmt --all -- --check

section "cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings

section "cargo test"
cargo test --workspace

section "wasm builds"
cargo build -p rvedge --target wasm32-unknown-unknown
cargo build -p rvedge --target wasm32-wasip1
# The core without std, as embedders that have none build it.
cargo build -p rvedge --no-default-features --target wasm32-unknown-unknown

section "quick benchmark"
# Package names are rvedge and rvedge-cli, so this name can only be a target.
# (Captured first: grep -q closing the pipe early would fail it under pipefail.)
metadata="$(cargo metadata --no-deps --format-version 1)"
if grep -q '"name":"rvedge-bench"' <<<"$metadata"; then
    cargo run --release -p rvedge-cli --bin rvedge-bench -- --quick
else
    echo "skipped: rvedge-bench binary target does not exist yet (cli/src/bin/rvedge-bench.rs)"
fi

section "done in $((SECONDS - start)) s"

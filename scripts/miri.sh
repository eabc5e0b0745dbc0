#!/usr/bin/env bash
# Runs the emulator's tests that exercise its unsafe code under Miri (nightly), which reports
# undefined behaviour the compiler may exploit but the tests cannot see: the interpreter
# reading decoded code through raw pointers (`tests/addresses.rs` runs whole programs built
# in memory; Miri runs the `match` loop, as the threaded dispatch reads the stack pointer with
# inline assembly), forks made in reused heap slots writing copies of frozen pages
# (`tests/forks_in_memory.rs`), runs of accesses done through one TLB check
# (`tests/access_runs.rs`), the TLBs' page pointers and copy-on-write (`mem::` unit tests),
# the spare pools (`spare::`) and the per-thread handles to shared data (`handle::`). Tests
# that read guest files or start processes cannot run there.
# Installs what it needs once: the nightly toolchain and its miri and rust-src components.
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib/env.sh"

if ! rustup toolchain list | grep -q '^nightly-'; then
    rustup toolchain install nightly --profile minimal
fi
if ! rustup component list --toolchain nightly --installed | grep -q '^miri'; then
    rustup component add miri rust-src --toolchain nightly
fi

# cargo-miri keeps, with each test it built, the directory to run Miri in, and Miri reads the
# sources from there when the test runs; a unit test counts as built for as long as its
# dependencies do not change. So checkouts at different paths sharing one target directory
# would run each other's sources (or fail where that path is gone): each path gets its own.
checkout_id="$(printf '%s' "$repo" | sha256sum | cut -c1-12)"
export CARGO_TARGET_DIR="$CARGO_TARGET_DIR/miri-checkouts/$checkout_id"

cargo +nightly miri test -p rvedge --test addresses --test forks_in_memory --test access_runs
cargo +nightly miri test -p rvedge --lib mem::
cargo +nightly miri test -p rvedge --lib spare::
cargo +nightly miri test -p rvedge --lib handle::

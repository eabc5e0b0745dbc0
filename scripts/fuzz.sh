#!/usr/bin/env bash
# Runs every fuzz target in fuzz/ (or the ones named) for a bounded time, one after another,
# one process each, and prints executions and findings per target. Fails if any target found
# a crash.
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]      (default 60 seconds, every target)
# Installs what it needs once: the nightly toolchain (rustup) and cargo-fuzz (crates.io). It
# builds the fuzz tenant (scripts/build-guests.sh); the same_as_qemu target compiles its qemu
# harness on first use. Under $CARGO_TARGET_DIR/fuzz: the build, corpus/<target> (kept between
# runs, so each run starts where the last one stopped) and artifacts/<target> (crashing
# inputs; fuzz/README.md says how to replay one).
# FUZZ_RUNS=N stops each target after N executions (if that comes before the time limit).
# FUZZ_SANITIZER=address builds with AddressSanitizer (about 3x slower); the default is none,
# with debug assertions (overflow checks) on.
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib/env.sh"

seconds="${1:-60}"
shift || true
sanitizer="${FUZZ_SANITIZER:-none}"
fuzz_out="$CARGO_TARGET_DIR/fuzz"
if (($#)); then
    targets=("$@")
else
    targets=()
    for file in fuzz/fuzz_targets/*.rs; do
        targets+=("$(basename "$file" .rs)")
    done
fi

if ! rustup toolchain list | grep -q '^nightly-'; then
    rustup toolchain install nightly --profile minimal
fi
if ! command -v cargo-fuzz >/dev/null; then
    # Unoptimized: it only drives cargo, and builds in half the time (21 s against 41 s).
    cargo install cargo-fuzz --version 0.13.2 --locked --debug
fi

GUEST_OUT="$(bash scripts/build-guests.sh | tail -n 1)"
export GUEST_OUT

build_dir="$fuzz_out/build-$sanitizer"
mkdir -p "$fuzz_out"
if ! (cd fuzz && cargo +nightly fuzz build -O -a -s "$sanitizer" --target-dir "$build_dir") \
    >"$fuzz_out/build.log" 2>&1; then
    cat "$fuzz_out/build.log"
    exit 1
fi
binaries="$build_dir/x86_64-unknown-linux-gnu/release"
# The qemu harness goes next to the builds.
export CARGO_TARGET_DIR="$fuzz_out"

failed=()
summary=()
for target in "${targets[@]}"; do
    corpus="$fuzz_out/corpus/$target"
    artifacts="$fuzz_out/artifacts/$target"
    mkdir -p "$corpus" "$artifacts"
    flags=(-max_total_time="$seconds" -timeout=10 -print_final_stats=1 -artifact_prefix="$artifacts/")
    [[ -n "${FUZZ_RUNS:-}" ]] && flags+=(-runs="$FUZZ_RUNS")
    [[ -f "fuzz/dictionaries/$target.dict" ]] && flags+=(-dict="fuzz/dictionaries/$target.dict")
    log="$fuzz_out/$target.log"
    echo "fuzz: $target for $seconds s (log: $log)"
    status=0
    "$binaries/$target" "${flags[@]}" "$corpus" >"$log" 2>&1 || status=$?
    runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)"
    if ((status != 0)); then
        failed+=("$target")
        grep -E -A12 "panicked at|ERROR: libFuzzer|SUMMARY" "$log" | head -n 40 || true
        echo "fuzz: $target FOUND A CRASH (input in $artifacts; see fuzz/README.md)"
    fi
    summary+=("$(printf '%-14s %12s executions  %s' "$target" "${runs:-?}" "$( ((status)) && echo crash || echo ok)")")
done

printf '\nfuzz summary (%s s per target, sanitizer %s):\n' "$seconds" "$sanitizer"
printf '  %s\n' "${summary[@]}"
if ((${#failed[@]})); then
    echo "fuzz: crashes in ${failed[*]}" >&2
    exit 1
fi

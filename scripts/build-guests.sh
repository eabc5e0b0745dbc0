#!/usr/bin/env bash
# Builds every guest program under tests/guests/ for riscv64 Linux into
# $GUEST_OUT (default ${CARGO_TARGET_DIR:-<repo>/target}/guests), mirroring the
# source tree: c/hello.c -> $GUEST_OUT/c/hello, rust/src/bin/x.rs ->
# $GUEST_OUT/rust/x. Incremental: a binary newer than its source (and than
# this script) is kept. Prints the output directory on the last line.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
src="$repo/tests/guests"
out="${GUEST_OUT:-${CARGO_TARGET_DIR:-$repo/target}/guests}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
self="${BASH_SOURCE[0]}"

CC="${RISCV_CC:-riscv64-linux-gnu-gcc}"
CXX="${RISCV_CXX:-riscv64-linux-gnu-g++}"
for tool in "$CC" "$CXX"; do
    command -v "$tool" >/dev/null || { echo "build-guests: $tool not found; run scripts/bootstrap.sh" >&2; exit 1; }
done
# Plain RV64GC only, so guests never contain instructions the emulator does not implement.
arch=(-march=rv64gc -mabi=lp64d)
cflags=(-O2 -static -Wall -Wextra "${arch[@]}")

jobs_max="$(nproc 2>/dev/null || echo 2)"
failed=0
running=0
built=0

# Waits for one background compile; remembers failure instead of exiting at
# once so every broken guest gets reported.
reap() {
    if ! wait -n; then failed=1; fi
    running=$((running - 1))
}

compile() { # compile LANG SRC DST
    local lang="$1" file="$2" dst="$3" tmp
    tmp="$dst.tmp.$$"
    if [[ "$lang" == c ]]; then
        set -- "$CC" "${cflags[@]}" -o "$tmp" "$file" -lm
    else
        set -- "$CXX" "${cflags[@]}" -o "$tmp" "$file"
    fi
    if "$@"; then
        mv -f "$tmp" "$dst"
    else
        rm -f "$tmp"
        echo "build-guests: FAILED: $*" >&2
        return 1
    fi
}

for dir in c cpp isa bad bench embed; do
    [[ -d "$src/$dir" ]] || continue
    mkdir -p "$out/$dir"
    for file in "$src/$dir"/*.c "$src/$dir"/*.cpp; do
        [[ -e "$file" ]] || continue
        name="$(basename "$file")"
        lang=c
        [[ "$name" == *.cpp ]] && lang=cpp
        dst="$out/$dir/${name%.*}"
        if [[ -f "$dst" && "$dst" -nt "$file" && "$dst" -nt "$self" ]]; then
            continue
        fi
        while ((running >= jobs_max)); do reap; done
        compile "$lang" "$file" "$dst" &
        running=$((running + 1))
        built=$((built + 1))
    done
done
while ((running > 0)); do reap; done
if ((failed)); then
    echo "build-guests: some guests failed to compile (see above)" >&2
    exit 1
fi

# Rust guests: cargo is incremental itself. Its .cargo/config.toml (target,
# linker, +crt-static) applies because cargo runs from that directory;
# RUSTFLAGS from the environment would override the config's rustflags.
if [[ -f "$src/rust/Cargo.toml" ]]; then
    mkdir -p "$out/rust"
    (
        cd "$src/rust"
        unset RUSTFLAGS CARGO_ENCODED_RUSTFLAGS CARGO_BUILD_RUSTFLAGS CARGO_BUILD_TARGET
        cargo build --release --locked --quiet --target-dir "$out/rust-target"
    ) || { echo "build-guests: cargo build of tests/guests/rust failed" >&2; exit 1; }
    for bin in "$src/rust/src/bin"/*.rs; do
        name="$(basename "$bin" .rs)"
        artifact="$out/rust-target/riscv64gc-unknown-linux-gnu/release/$name"
        [[ -f "$artifact" ]] || { echo "build-guests: missing $artifact" >&2; exit 1; }
        if [[ ! -f "$out/rust/$name" || "$artifact" -nt "$out/rust/$name" ]]; then
            cp -p "$artifact" "$out/rust/$name"
        fi
    done
fi

((built)) && echo "build-guests: compiled $built C/C++ guest(s)" >&2
echo "$out"

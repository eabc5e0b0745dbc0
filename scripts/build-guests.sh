#!/usr/bin/env bash
# Builds every guest program under tests/guests/ for riscv64 Linux into
# $GUEST_OUT (default ${CARGO_TARGET_DIR:-<repo>/target}/guests), mirroring the
# source tree: c/hello.c -> $GUEST_OUT/c/hello, rust/src/bin/x.rs ->
# $GUEST_OUT/rust/x. tenant/ holds tenant programs for the runtime's tests,
# compiled against the C SDK (tenants/include). Incremental: a binary newer
# than its source (and than this script, scripts/lib/riscv-build.sh and, for
# tenant/, the SDK headers) is kept. Prints the output directory on the last
# line.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
src="$repo/tests/guests"
out="${GUEST_OUT:-${CARGO_TARGET_DIR:-$repo/target}/guests}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
self="${BASH_SOURCE[0]}"
lib="$repo/scripts/lib/riscv-build.sh"
# shellcheck source-path=SCRIPTDIR source=lib/riscv-build.sh
. "$lib"

riscv_build_init build-guests

for dir in c cpp isa bad bench embed tenant; do
    [[ -d "$src/$dir" ]] || continue
    mkdir -p "$out/$dir"
    flags=()
    deps=("$self" "$lib")
    if [[ "$dir" == tenant ]]; then
        flags=(-I "$repo/tenants/include")
        deps+=("$repo/tenants/include"/*.h)
    fi
    for file in "$src/$dir"/*.c "$src/$dir"/*.cpp; do
        [[ -e "$file" ]] || continue
        name="$(basename "$file")"
        lang=c
        [[ "$name" == *.cpp ]] && lang=cpp
        dst="$out/$dir/${name%.*}"
        riscv_build_stale "$dst" "$file" "${deps[@]}" || continue
        riscv_build_start "$lang" "$file" "$dst" "${flags[@]}"
    done
done
if ! riscv_build_wait; then
    echo "build-guests: some guests failed to compile (see above)" >&2
    exit 1
fi

if [[ -f "$src/rust/Cargo.toml" ]]; then
    mkdir -p "$out/rust"
    riscv_cargo_build "$src/rust" "$out/rust-target" ||
        { echo "build-guests: cargo build of tests/guests/rust failed" >&2; exit 1; }
    for bin in "$src/rust/src/bin"/*.rs; do
        name="$(basename "$bin" .rs)"
        artifact="$(riscv_cargo_artifact "$out/rust-target" "$name")"
        [[ -f "$artifact" ]] || { echo "build-guests: missing $artifact" >&2; exit 1; }
        riscv_copy_if_newer "$artifact" "$out/rust/$name"
    done
fi

((rb_built)) && echo "build-guests: compiled $rb_built C/C++ guest(s)" >&2
echo "$out"

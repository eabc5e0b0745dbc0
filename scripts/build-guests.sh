#!/usr/bin/env bash
# Builds every guest program under tests/guests/ for riscv64 Linux into
# $GUEST_OUT (default $CARGO_TARGET_DIR/guests, scripts/lib/env.sh), mirroring the
# source tree: c/hello.c -> $GUEST_OUT/c/hello, rust/src/bin/x.rs ->
# $GUEST_OUT/rust/x. tenant/ holds tenant programs for the runtime's tests,
# compiled against the C SDK (tenants/include). The same sources are also
# built in other flavours (scripts/lib/riscv-build.sh), each under its own
# prefix: zb/ (riscv64 Linux with -march=rv64gc_zba_zbb_zbs: c, cpp, bench),
# rv32/ and rv64-freestanding/ (picolibc with Zba/Zbb/Zbc/Zbs: c, isa,
# bitmanip, bench, and the tenants that probe the runtime's calls:
# tenant/call_fuzz and tenant/rules). Incremental: a binary
# newer than its source (and than this script, scripts/lib/riscv-build.sh,
# the freestanding runtime and, for tenant/, the SDK headers) is kept. Prints
# the output directory on the last line.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib/env.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/env.sh"
src="$repo/tests/guests"
out="${GUEST_OUT:-$CARGO_TARGET_DIR/guests}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
self="${BASH_SOURCE[0]}"
lib="$repo/scripts/lib/riscv-build.sh"
# shellcheck source-path=SCRIPTDIR source=lib/riscv-build.sh
. "$lib"

riscv_build_init build-guests

# build_sources PREFIX FILE...: each C/C++ source to $out/PREFIX<dir>/<name>.
build_sources() {
    local prefix="$1" file
    shift
    for file in "$@"; do
        [[ -e "$file" ]] || continue
        local dir name lang=c flags=() deps=("$self" "$lib" "$(riscv_freestanding_runtime)")
        dir="$(basename "$(dirname "$file")")"
        name="$(basename "$file")"
        [[ "$name" == *.cpp ]] && lang=cpp
        if [[ "$dir" == tenant ]]; then
            flags=(-I "$repo/tenants/include")
            deps+=("$repo/tenants/include"/*.h)
        fi
        mkdir -p "$out/$prefix$dir"
        local dst="$out/$prefix$dir/${name%.*}"
        riscv_build_stale "$dst" "$file" "${deps[@]}" || continue
        riscv_build_start "$lang" "$file" "$dst" "${flags[@]}"
    done
}

riscv_flavour linux
for dir in c cpp isa glibc bad bench embed tenant; do
    build_sources "" "$src/$dir"/*.c "$src/$dir"/*.cpp
done
riscv_flavour linux-zb
build_sources zb/ "$src"/c/*.c "$src"/cpp/*.cpp "$src"/bench/*.c
for flavour in rv32 rv64-freestanding; do
    riscv_flavour "$flavour"
    build_sources "$flavour/" "$src"/c/*.c "$src"/isa/*.c "$src"/bitmanip/*.c "$src"/bench/*.c \
        "$src"/tenant/{call_fuzz,rules}.c
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

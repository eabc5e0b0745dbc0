#!/usr/bin/env bash
# Tests of the Varnish VMOD `riscv` (vmod/) that `cargo test --workspace` alone does not run:
# the release libvmod_riscv.so (profile-guided, as the demo serves it: scripts/build-vmod.sh)
# and its generated docs, every vmod/tests/*.vtc under varnishtest, the conformance table
# through a real varnishd against the release build, the demo's self-check and a short
# benchmark (printed, never asserted).
#
#   bash scripts/test-vmod.sh            # tests + a short benchmark (7 alternating rounds of 1 s)
#   bash scripts/test-vmod.sh --bench    # tests + a longer one (7 alternating rounds of 3 s)
set -euo pipefail

# Under scripts/test.sh, `cargo test --workspace` has already run every test of this package
# (RVEDGE_WORKSPACE_TESTED=1); testing one package again would rebuild wasmtime and friends
# with that package's feature subset, minutes on a cold target directory.

. "$(dirname "${BASH_SOURCE[0]}")/lib/env.sh"
bench_seconds=1
[[ "${1:-}" == "--bench" ]] && bench_seconds=3

start=$SECONDS

for tool in varnishd varnishtest wrk curl rst2man gdb-multiarch riscv64-linux-gnu-gcc; do
    command -v "$tool" >/dev/null || { echo "test-vmod: $tool missing: run scripts/bootstrap.sh" >&2; exit 1; }
done

section "vmod: build (release, profile-guided: scripts/build-vmod.sh) and tenants"
vmod_dir="$(bash scripts/build-vmod.sh | tail -n 1)"
vmod="$vmod_dir/libvmod_riscv.so"
# The demo's runs below serve this build rather than asking for one again.
export RVEDGE_VMOD_DIR="$vmod_dir"
TENANT_OUT="$(bash scripts/build-tenants.sh | tail -n 1)"
export TENANT_OUT

section "vmod: generated documentation"
for doc in vmod_riscv.rst vmod_riscv.3; do
    file="$vmod_dir/$doc"
    grep -q "live_update" "$file" || { echo "test-vmod: $file lacks the reference" >&2; exit 1; }
    echo "ok    $file"
done

section "vmod: varnishtest"
failed=0
for vtc in vmod/tests/*.vtc; do
    if varnishtest -q -D vmod="$vmod" -D tenants="$TENANT_OUT" "$vtc"; then
        echo "ok    $vtc"
    else
        varnishtest -v -D vmod="$vmod" -D tenants="$TENANT_OUT" "$vtc" | tail -n 80 || true
        echo "FAIL  $vtc" >&2
        failed=1
    fi
done
((failed == 0)) || exit 1

section "vmod: conformance table through varnishd (release VMOD)"
if [[ -z "${RVEDGE_WORKSPACE_TESTED:-}" ]]; then
    RVEDGE_VMOD="$vmod" cargo test -p vmod-riscv --test varnishd
else
    echo "(run by cargo test --workspace, against the debug build)"
fi

section "vmod: demo self-check"
DEMO_PORT="${DEMO_PORT:-16081}" bash scripts/demo-varnish.sh --check

section "vmod: benchmark (${bench_seconds} s rounds; printed, not asserted)"
DEMO_PORT="${DEMO_PORT:-16081}" bash scripts/demo-varnish.sh --bench "$bench_seconds"

section "vmod: done in $((SECONDS - start)) s"

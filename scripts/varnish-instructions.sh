#!/usr/bin/env bash
# Host instructions per Varnish request, counted by valgrind (callgrind) in varnishd itself:
# what the hello tenant (fork + on_recv, then the cache hit) costs over the same header set in
# plain VCL, in total and by function. The same in every run within a few hundred (varnishd
# prints timestamps, whose digits vary), where latencies on a shared machine are not
# (scripts/demo-varnish.sh --bench), so two builds of the VMOD compare closely. Only the request's own work is counted (inside CNT_Request: not the acceptor, not
# varnishd's timers); each host is served twice, with SHORT and LONG keep-alive requests, and
# the runs subtracted, which leaves out loading the tenants and starting varnishd.
#   scripts/varnish-instructions.sh [TOP]     # default: 15 functions listed
# RVEDGE_VMOD_DIR measures the libvmod_riscv.so in that directory (A/B runs), as for the demo.
# valgrind counts every byte a `rep stos` writes as an instruction: the teardown's zeroing of
# the pages a fork wrote (in VCL_TaskLeave) shows as ~8,200 of them, a few hundred cycles.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib/env.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/env.sh"
top="${1:-15}"
command -v valgrind >/dev/null || { echo "varnish-instructions: needs valgrind (scripts/bootstrap.sh installs it)" >&2; exit 1; }
RVEDGE_VMOD_DIR="${RVEDGE_VMOD_DIR:-$(bash scripts/build-vmod.sh | tail -n 1)}"
export RVEDGE_VMOD_DIR
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

short=50
long=250
for host in hello plain; do
    for requests in "$short" "$long"; do
        RVEDGE_VARNISHD_UNDER="valgrind --tool=callgrind --toggle-collect=CNT_Request --callgrind-out-file=$out/$host.$requests.%p" \
            DEMO_PORT="${DEMO_PORT:-6091}" bash scripts/demo-varnish.sh --requests "$host" "$requests" \
            >"$out/log" 2>&1 || { cat "$out/log" >&2; exit 1; }
    done
done

# Instructions by function ("count<TAB>name") of the process that served the requests: the
# only one that ran CNT_Request (the manager and the VCL compiler did not). The compiled VCL's
# functions lose their path, which differs from run to run.
by_function() {
    local served
    served="$(grep -l "CNT_Request" "$out/$1".*)" || { echo "varnish-instructions: no requests in $1's runs" >&2; exit 1; }
    callgrind_annotate --threshold=100 "$served" |
        sed -n 's/^ *\([0-9,]*\) ([ 0-9.]*%)  \(.*\)$/\1\t\2/p' | tr -d , |
        sed 's/ \[[^]]*\]$//; s/\t???:/\t/; s|\t[^\t]*/vgc\.c:|\tvgc.c:|'
}
for host in hello plain; do
    for requests in "$short" "$long"; do
        by_function "$host.$requests" >"$out/functions.$host.$requests"
    done
done

# Per request: each function's difference between the long and the short run, divided by the
# requests between them; then hello's minus plain's.
LC_ALL=C awk -F'\t' -v requests=$((long - short)) -v top="$top" '
    FILENAME ~ /\.hello\.'"$short"'$/ { hello[$2] -= $1; names[$2] = 1; next }
    FILENAME ~ /\.hello\.'"$long"'$/ { hello[$2] += $1; names[$2] = 1; next }
    FILENAME ~ /\.plain\.'"$short"'$/ { plain[$2] -= $1; names[$2] = 1; next }
    FILENAME ~ /\.plain\.'"$long"'$/ { plain[$2] += $1; names[$2] = 1; next }
    END {
        total = "PROGRAM TOTALS"
        printf "varnish-instructions: host instructions per cache hit in varnishd (CNT_Request)\n"
        printf "  hello (fork + on_recv in vcl_recv) %d, plain VCL %d: the tenant adds %d\n",
            hello[total] / requests, plain[total] / requests, (hello[total] - plain[total]) / requests
        printf "  %9s %9s %9s  %s\n", "added", "hello", "plain", "function (largest additions)"
        for (f in names) {
            if (f != total) { added[f] = hello[f] - plain[f] }
        }
        for (listed = 0; listed < top; listed++) {
            best = ""
            for (f in added) {
                if (best == "" || added[f] > added[best]) { best = f }
            }
            if (best == "") { break }
            printf "  %9d %9d %9d  %s\n", added[best] / requests, hello[best] / requests,
                plain[best] / requests, substr(best, 1, 100)
            delete added[best]
        }
    }' "$out"/functions.*

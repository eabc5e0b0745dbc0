#!/usr/bin/env bash
# Host instructions and first-level cache misses per Varnish request, counted by valgrind
# (callgrind, with its cache simulator) in varnishd itself: what the hello tenant (fork +
# on_recv, then the cache hit) costs over the same header set in plain VCL, in total and by
# function. The same in every run within a few hundred instructions (varnishd prints
# timestamps, whose digits vary), where latencies on a shared machine are not
# (scripts/demo-varnish.sh --bench), so two builds of the VMOD compare closely. Only the
# request's own work is counted (inside CNT_Request: not the acceptor, not varnishd's timers);
# each host is served twice, with SHORT and LONG keep-alive requests, and the runs subtracted,
# which leaves out loading the tenants and starting varnishd.
#   scripts/varnish-instructions.sh [TOP]     # default: 15 functions listed
# RVEDGE_VMOD_DIR measures the libvmod_riscv.so in that directory (A/B runs), as for the demo.
# valgrind counts every byte a `rep stos` writes as an instruction: the teardown's zeroing of
# the pages a fork wrote (in VCL_TaskLeave) shows as ~8,200 of them, a few hundred cycles.
# The caches are a common x86-64 core's first level (32 KiB, 8-way, for code and for data)
# and a last level that holds everything: varnishd's own code per request is larger than the
# first level, so nearly every code line a request runs misses there, and the code misses
# count the lines a request runs, each a stall of 10-20 cycles on real hardware. A rerun, or
# a build from a retaken profile (scripts/build-vmod.sh), gives the same misses within ~10
# lines; the same code laid out otherwise can differ by more (a build with line tables for
# annotating sources: 235 more), so compare builds made with the same flags.
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
        RVEDGE_VARNISHD_UNDER="valgrind --tool=callgrind --toggle-collect=CNT_Request --cache-sim=yes --I1=32768,8,64 --D1=32768,8,64 --LL=8388608,16,64 --callgrind-out-file=$out/$host.$requests.%p" \
            DEMO_PORT="${DEMO_PORT:-6091}" bash scripts/demo-varnish.sh --requests "$host" "$requests" \
            >"$out/log" 2>&1 || { cat "$out/log" >&2; exit 1; }
    done
done

# Counts of event $2 (Ir, I1mr, ...) by function ("count<TAB>name") of the process that served
# the requests: the only one that ran CNT_Request (the manager and the VCL compiler did not).
# The compiled VCL's functions lose their path, which differs from run to run.
by_function() {
    local served
    served="$(grep -l "CNT_Request" "$out/$1".*)" || { echo "varnish-instructions: no requests in $1's runs" >&2; exit 1; }
    callgrind_annotate --show="$2" --sort="$2" --show-percs=no --threshold=100 "$served" |
        sed -n 's/^ *\([0-9,]*\)  \(.*\)$/\1\t\2/p' | tr -d , |
        sed 's/ \[[^]]*\]$//; s/\t???:/\t/; s|\t[^\t]*/vgc\.c:|\tvgc.c:|'
}
for event in Ir I1mr D1mr D1mw; do
    for host in hello plain; do
        for requests in "$short" "$long"; do
            by_function "$host.$requests" "$event" >"$out/$event.$host.$requests"
        done
    done
done

# Per request: each function's difference between the long and the short run, divided by the
# requests between them; then hello's minus plain's. `per_request EVENT` prints the totals
# ("hello plain added"); with a heading, also the functions that add the most.
per_request() {
    LC_ALL=C awk -F'\t' -v requests=$((long - short)) -v top="$top" -v heading="${2:-}" '
        FILENAME ~ /\.hello\.'"$short"'$/ { hello[$2] -= $1; names[$2] = 1; next }
        FILENAME ~ /\.hello\.'"$long"'$/ { hello[$2] += $1; names[$2] = 1; next }
        FILENAME ~ /\.plain\.'"$short"'$/ { plain[$2] -= $1; names[$2] = 1; next }
        FILENAME ~ /\.plain\.'"$long"'$/ { plain[$2] += $1; names[$2] = 1; next }
        END {
            total = "PROGRAM TOTALS"
            printf "%d %d %d\n", hello[total] / requests, plain[total] / requests,
                (hello[total] - plain[total]) / requests
            if (heading == "") { exit }
            printf "  %9s %9s %9s  %s\n", "added", "hello", "plain", heading
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
        }' "$out/$1".*
}
read -r hello plain added < <(per_request Ir)
echo "varnish-instructions: host instructions per cache hit in varnishd (CNT_Request)"
echo "  hello (fork + on_recv in vcl_recv) $hello, plain VCL $plain: the tenant adds $added"
per_request Ir "function (largest additions of instructions)" | tail -n +2
read -r hello plain added < <(per_request I1mr)
read -r _ _ read_added < <(per_request D1mr)
read -r _ _ written_added < <(per_request D1mw)
echo "first-level cache misses per cache hit: code lines hello $hello, plain $plain: the tenant adds $added;"
echo "  data lines the tenant adds: $read_added read, $written_added written"
per_request I1mr "function (largest additions of code misses)" | tail -n +2

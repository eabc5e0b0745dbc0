#!/usr/bin/env bash
# Cache lines a cold request misses, counted by valgrind's cache simulator (cachegrind):
# deterministic where timings on a shared machine are not, and without the CPU counters
# that virtual machines often lack. The request is hello's fork + on_recv + teardown (or its
# whole exchange: both forks, every hook, the echo origin) with the caches swept before each
# (rvedge-bench --cold-only), as a proxy's own work between one client's requests leaves
# them. Two runs of different lengths are subtracted, which leaves the requests' misses
# without those of loading the tenant; the sweep's own are left out. Prints misses per
# request (code, data read, data written) in total and by function, and the host instructions
# it executes, a figure for comparing two builds that does not move with the machine's load.
#   scripts/footprint.sh [recv|exchange] [TOP]     # default: recv, 15 functions listed
# RVEDGE_BENCH=path/to/rvedge-bench measures that build instead of building one (A/B runs).
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib/env.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/env.sh"
path="${1:-recv}"
top="${2:-15}"
case "$path" in
    recv) what="fork + on_recv + teardown" ;;
    exchange) what="whole exchange" ;;
    *) echo "usage: $0 [recv|exchange] [TOP]" >&2; exit 2 ;;
esac
command -v valgrind >/dev/null || { echo "footprint: needs valgrind (scripts/bootstrap.sh installs it)" >&2; exit 1; }

bench="${RVEDGE_BENCH:-}"
if [[ -z "$bench" ]]; then
    cargo build --release -q -p rvedge-cli --bin rvedge-bench
    bench="$CARGO_TARGET_DIR/release/rvedge-bench"
fi
[[ -f "$CARGO_TARGET_DIR/tenants/hello" ]] || bash scripts/build-tenants.sh
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

short=50
long=250
for rounds in "$short" "$long"; do
    # An 8 MiB last-level cache: the 16 MiB sweep leaves nothing of the last request in it.
    # The sweep writes data, which never passes the first-level instruction cache: a 1 KiB
    # one sends every code line to the last level, so the code column counts each line a
    # cold request runs (with a 32 KiB one, the lines the last request left there hit and
    # went uncounted: 220-270 of about 550, moving with the binary's layout).
    valgrind --tool=cachegrind --cache-sim=yes --I1=1024,2,64 --LL=8388608,16,64 \
        --cachegrind-out-file="$out/$rounds" "$bench" --cold-only "$path" --rounds "$rounds" 2>"$out/log" \
        || { cat "$out/log" >&2; exit 1; }
done
cg_diff "$out/$short" "$out/$long" >"$out/diff"

# cg_diff's output: "events: Ir I1mr ILmr Dr D1mr DLmr Dw D1mw DLmw", then per function a
# "fn=" line and lines of "<source line> <counts in that order>".
LC_ALL=C awk -v requests=$((long - short)) -v top="$top" -v what="$what" '
    /^fn=/ { function_name = substr($0, 4); next }
    /^[0-9]/ && function_name !~ /sweep_caches/ {
        code[function_name] += $4; read[function_name] += $7; written[function_name] += $10
        instructions += $2
    }
    END {
        for (f in code) {
            total_code += code[f]; total_read += read[f]; total_written += written[f]
            sum[f] = code[f] + read[f] + written[f]
        }
        printf "footprint: last-level cache misses per cold request (hello: %s), %.0f host instructions\n",
            what, instructions / requests
        printf "%8s %8s %8s  %s\n", "code", "read", "written", "function"
        printf "%8.0f %8.0f %8.0f  all (%.0f KiB)\n", total_code / requests, total_read / requests,
            total_written / requests, (total_code + total_read + total_written) / requests * 64 / 1024
        for (shown = 0; shown < top; shown++) {
            best = ""
            for (f in sum) if (best == "" || sum[f] > sum[best]) best = f
            if (best == "" || sum[best] < requests) break
            printf "%8.0f %8.0f %8.0f  %s\n", code[best] / requests, read[best] / requests,
                written[best] / requests, substr(best, 1, 90)
            delete sum[best]
        }
    }' "$out/diff"

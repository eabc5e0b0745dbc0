#!/usr/bin/env bash
# Host instructions per request through the rvedge filter in wasmtime (our proxy-wasm host,
# fuel metering off as in Envoy), counted by valgrind (callgrind): the same in every run, where
# filter-bench's timings on a shared machine are not, so two builds of the filter compare
# closely. Only `FilterVm::handle` is counted (not compiling the filter or booting tenants);
# two runs of different lengths are subtracted, which leaves out a VM's first requests. The
# count is split into the filter's own code (compiled by Cranelift, named through the perf
# map wasmtime writes) and the host's (wasmtime, the proxy-wasm host, libc), and listed by
# function.
# `cpubench` counts instead host instructions per guest instruction of cpubench's kernels
# (`filter-cpubench`: booted in a VM of the filter in wasm, on a `Machine` natively, two
# scales subtracted) in wasm and natively, and their ratio: what filter-bench times as
# "wasm/native" (target >= 0.6), counted.
#   scripts/filter-instructions.sh [hello|rewrite|cpubench] [TOP]     # default: hello, 15 functions listed
# RVEDGE_FILTER=path/to/rvedge_filter.wasm measures that build (A/B runs); without it the
# filter is built with its function names kept (RVEDGE_FILTER_NAMES, in a target directory of
# its own). A stripped filter counts the same; its functions show as wasm[0]::function[N].
# valgrind counts every byte a `rep stos` writes as an instruction: zeroing a fork's pages
# (wasm's memory.fill, done by libc's memset) shows as ~16,800 of them, a few hundred cycles.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib/env.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/env.sh"
subject="${1:-hello}"
top="${2:-15}"
case "$subject" in
    hello) path=/ ;;
    rewrite) path=/old/page ;;
    cpubench) ;;
    *) echo "usage: $0 [hello|rewrite|cpubench] [TOP]" >&2; exit 2 ;;
esac
command -v valgrind >/dev/null || { echo "filter-instructions: needs valgrind (scripts/bootstrap.sh installs it)" >&2; exit 1; }

filter="${RVEDGE_FILTER:-}"
if [[ -z "$filter" ]]; then
    named="$CARGO_TARGET_DIR/filter-names"
    RVEDGE_FILTER_NAMES=1 cargo build --release -q -p rvedge-filter --target wasm32-wasip1 --target-dir "$named"
    filter="$named/wasm32-wasip1/release/rvedge_filter.wasm"
fi
cargo build --release -q -p rvedge-proxy-wasm-conformance --bin filter-requests --bin filter-cpubench
out="$(mktemp -d)"
pids=()
# wasmtime leaves its perf maps behind, named by the runs' pids (valgrind runs the program in
# its own process).
trap 'for pid in "${pids[@]}"; do rm -f "/tmp/perf-$pid.map"; done; rm -rf "$out"' EXIT

# count LABEL TOGGLE COMMAND...: one run under callgrind, counting inside functions matching
# TOGGLE, in the background; its profile is $out/LABEL.<pid>, its output $out/log.LABEL.
count() {
    local label="$1" toggle="$2"
    shift 2
    RVEDGE_FILTER="$filter" valgrind --tool=callgrind --toggle-collect="$toggle" \
        --dump-instr=yes --callgrind-out-file="$out/$label.%p" "$@" >"$out/log.$label" 2>&1 &
    pids+=("$!")
}
if [[ "$subject" == cpubench ]]; then
    # cpubench's fixed part (loading, start-up) is the same at both scales.
    short=0.002
    long=0.008
    for scale in "$short" "$long"; do
        count "wasm.$scale" '*boot_cpubench_in_filter*' "$CARGO_TARGET_DIR/release/filter-cpubench" wasm "$scale"
        count "native.$scale" '*cpubench_natively*' "$CARGO_TARGET_DIR/release/filter-cpubench" native "$scale"
    done
else
    short=20
    long=120
    # Both runs at once (two cores): each spends most of its time compiling the filter.
    for requests in "$short" "$long"; do
        count "wasm.$requests" '*FilterVm*handle*' "$CARGO_TARGET_DIR/release/filter-requests" "$subject" "$path" "$requests"
    done
fi
for pid in "${pids[@]}"; do
    wait "$pid" || { cat "$out"/log.* >&2; exit 1; }
done

python3 - "$out" "$short" "$long" "$top" "$subject" <<'EOF'
import bisect, collections, glob, os, re, sys

out, short, long, top, subject = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]

def jit_functions(pid):
    """Start addresses, ends and names of the functions wasmtime compiled, from its perf map."""
    functions = []
    if not os.path.exists(f"/tmp/perf-{pid}.map"):
        return functions  # a native run: no JIT code
    with open(f"/tmp/perf-{pid}.map") as perf_map:
        for line in perf_map:
            start, size, name = line.rstrip("\n").split(" ", 2)
            # Crate disambiguators (rvedge[f928...]) differ between builds.
            functions.append((int(start, 16), int(start, 16) + int(size, 16), re.sub(r"\[[0-9a-f]{16}\]", "", name)))
    functions.sort()
    return functions

def self_costs(path):
    """Instructions by (in wasm?, function) in one callgrind file: the filter's code by its
    perf-map name, the host's by callgrind's."""
    pid = path.rsplit(".", 1)[1]
    functions = jit_functions(pid)
    starts = [start for start, _, _ in functions]
    names, costs = {}, collections.Counter()
    cost_field, position, function, after_call = 1, 0, None, False
    with open(path) as profile:
        for line in profile:
            if line.startswith("positions:"):
                cost_field = len(line.split()) - 1
            elif line.startswith(("fn=", "cfn=")):
                number, _, name = line.rstrip("\n").split("=", 1)[1].partition(" ")
                if name:
                    names[number] = name
                if line.startswith("fn="):
                    function = names.get(number, number)
            elif line.startswith("calls="):
                after_call = True  # the next line is the call's inclusive cost
            elif line[:1] in "0123456789+-*":
                fields = line.split()
                moved = fields[0]
                if moved.startswith("+"):
                    position += int(moved[1:], 0)
                elif moved.startswith("-"):
                    position -= int(moved[1:], 0)
                elif moved != "*":
                    position = int(moved, 0)
                if after_call:
                    after_call = False
                    continue
                if len(fields) <= cost_field:
                    continue
                index = bisect.bisect_right(starts, position) - 1
                if index >= 0 and position < functions[index][1]:
                    costs[("wasm", functions[index][2])] += int(fields[cost_field])
                else:
                    costs[("host", function or "?")] += int(fields[cost_field])
    return costs

def run_costs(label):
    (path,) = glob.glob(os.path.join(out, f"{label}.[0-9]*"))
    return self_costs(path)

def difference(side):
    """Host instructions by function of the long run less the short one's, and their total."""
    short_costs, long_costs = run_costs(f"{side}.{short}"), run_costs(f"{side}.{long}")
    by_function = {key: long_costs[key] - short_costs[key] for key in set(short_costs) | set(long_costs)}
    return by_function, sum(by_function.values())

def guest_instructions(scale):
    with open(os.path.join(out, f"log.native.{scale}")) as log:
        return int(re.search(r"guest instructions: (\d+)", log.read()).group(1))

def listing(by_function, per):
    print(f"  {'instructions':>12}  side  function")
    for (side, name), cost in sorted(by_function.items(), key=lambda item: -item[1])[:top]:
        print(f"  {cost / per:12,.{2 if per > 1000 else 0}f}  {side:4}  {name[:110]}")

wasm, wasm_total = difference("wasm")
if subject == "cpubench":
    guest = guest_instructions(long) - guest_instructions(short)
    _, native_total = difference("native")
    in_wasm, natively = wasm_total / guest, native_total / guest
    print(f"filter-instructions: cpubench all (scale {long} less {short}: {guest:,} guest instructions), host instructions per guest instruction:")
    print(f"  in the filter in wasmtime (fuel off) {in_wasm:.2f}, natively {natively:.2f}; native/wasm {natively / in_wasm:.2f} (filter-bench times this ratio; target >= 0.6)")
    listing(wasm, guest)
else:
    requests = int(long) - int(short)
    in_filter = sum(cost for (side, _), cost in wasm.items() if side == "wasm")
    print(f"filter-instructions: host instructions per request through the filter in wasmtime ({subject}, fuel off): {wasm_total / requests:,.0f}")
    print(f"  in the filter's code {in_filter / requests:,.0f}, in the host (wasmtime, the proxy-wasm host, libc) {(wasm_total - in_filter) / requests:,.0f}")
    listing(wasm, requests)
EOF

#!/usr/bin/env bash
# Counts the guest instructions a riscv64 program executes under qemu-riscv64
# (via the TCG plugin in qemu-icount-plugin.c, built on first use) and its
# wall time. Guest stdout/stderr pass through; the count goes to stderr.
#   scripts/qemu-icount.sh PROGRAM [ARGS...]
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib/env.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/env.sh"
(($#)) || { echo "usage: $0 PROGRAM [ARGS...]" >&2; exit 2; }

plugin_dir="$CARGO_TARGET_DIR/qemu-icount"
plugin="$plugin_dir/icount.so"
src="$repo/scripts/qemu-icount-plugin.c"
mkdir -p "$plugin_dir"
if [[ ! -f "$plugin" || "$src" -nt "$plugin" ]]; then
    "${HOST_CC:-cc}" -shared -fPIC -O2 -Wall -o "$plugin" "$src"
fi

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
start=$(date +%s.%N)
status=0
# -d plugin -D file: plugin output goes to the log file, not the guest's stderr.
qemu-riscv64 -d plugin -D "$log" -plugin "$plugin" "$@" || status=$?
end=$(date +%s.%N)
count="$(sed -n 's/^instructions: //p' "$log")"
LC_ALL=C awk -v c="$count" -v s="$start" -v e="$end" -v st="$status" 'BEGIN {
    t = e - s
    printf "qemu-icount: %s instructions in %.2f s (%.0f MIPS, with plugin overhead), exit status %d\n", c, t, (t > 0 ? c / t / 1e6 : 0), st
}' >&2
exit "$status"

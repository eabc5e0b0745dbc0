#!/usr/bin/env bash
# Demo: set up, build the guests and the CLI, then run two guests under
# rvedge with execution statistics.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
if [[ -f "$HOME/.cargo/env" ]] && ! command -v cargo >/dev/null; then
    # shellcheck disable=SC1091
    . "$HOME/.cargo/env"
fi

say() { printf '\n>>> %s\n' "$*"; }

say "bash scripts/bootstrap.sh"
bash scripts/bootstrap.sh

say "bash scripts/build-guests.sh"
guests="$(bash scripts/build-guests.sh | tail -n 1)"

say "cargo build --release -p rvedge-cli"
cargo build --release -p rvedge-cli
rvedge="${CARGO_TARGET_DIR:-$repo/target}/release/rvedge"

for g in cpp/json c/hello; do
    say "rvedge run --stats $guests/$g"
    status=0
    "$rvedge" run --stats "$guests/$g" || status=$?
    echo "(exit status $status)"
done

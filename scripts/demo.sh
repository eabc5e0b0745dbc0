#!/usr/bin/env bash
# Demo: set up, build the CLI, send requests through the example tenants
# (tenants/examples/tenants.json) with `rvedge request`, then run two plain
# guest programs under `rvedge run`.
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

say "cargo build --release -p rvedge-cli"
cargo build --release -p rvedge-cli
rvedge="${CARGO_TARGET_DIR:-$repo/target}/release/rvedge"
tenants=tenants/examples/tenants.json

# The example tenants are given as sources in tenants.json: the first request compiles
# them with the cross compilers (cached afterwards by content hash).
demo() {
    say "rvedge request --tenants $tenants $*"
    status=0
    "$rvedge" request --tenants "$tenants" "$@" || status=$?
    printf '\n(exit status %s)\n' "$status"
}

demo --stats http://hello.example/
demo http://hello-rust.example/
demo -H 'X-Internal: secret' http://rewrite.example/old/page
demo -H 'Cookie: beta=1' http://router.example/api/users
demo -X POST --data '{"name": "widget"}' http://json-api.example/api/items
demo -X POST --data '{"name": ' http://json-api.example/api/items
demo -X POST --data '<order><customer>Ada</customer><item sku="X-1"/></order>' http://xml.example/orders
demo http://hmac-token.example/account
demo http://loop.example/
demo http://leak.example/

say "bash scripts/build-guests.sh"
guests="$(bash scripts/build-guests.sh | tail -n 1)"
for g in cpp/json c/hello; do
    say "rvedge run --stats $guests/$g"
    status=0
    "$rvedge" run --stats "$guests/$g" || status=$?
    echo "(exit status $status)"
done

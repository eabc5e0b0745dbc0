#!/usr/bin/env bash
# The README's run command: the example tenants behind a real proxy.
#
#   bash scripts/demo.sh            # Varnish + the riscv VMOD on 127.0.0.1:6081 (Ctrl-C stops it)
#   bash scripts/demo.sh serve      # rvedge serve: the proxy-wasm filter in wasmtime on 127.0.0.1:8080
#   bash scripts/demo.sh requests   # one request per tenant with `rvedge request`, then `rvedge run`
#
# Each mode sets the machine up first (scripts/bootstrap.sh, idempotent), builds what it runs,
# and prints the curl lines to try; the Host header picks the tenant.
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib/env.sh"

say() { printf '\n>>> %s\n' "$*"; }

say "bash scripts/bootstrap.sh"
bash scripts/bootstrap.sh

mode="${1:-varnish}"
case "$mode" in
    varnish)
        exec bash scripts/demo-varnish.sh
        ;;
    serve)
        exec bash scripts/demo-serve.sh
        ;;
    requests) ;;
    *)
        echo "usage: $0 [varnish | serve | requests]" >&2
        exit 2
        ;;
esac

say "cargo build --release -p rvedge-cli"
cargo build --release -p rvedge-cli
rvedge="$CARGO_TARGET_DIR/release/rvedge"
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
demo -H 'Cookie: session=1' http://origin.example/docs
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

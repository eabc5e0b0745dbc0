#!/usr/bin/env bash
# The proxy-wasm host's own steps beyond `cargo test --workspace`: the example
# filters (tests/proxy-wasm-examples, their own wasm32-wasip1 workspace) built,
# formatted and linted; the host's tests against them; the rvedge filter built
# and `rvedge serve` tested end to end with it; and a smoke run of
# `rvedge serve` with no flags (the example tenants, compiled from source).
set -euo pipefail

# Under scripts/test.sh, `cargo test --workspace` has already run every test of this package
# (RVEDGE_WORKSPACE_TESTED=1); testing one package again would rebuild wasmtime and friends
# with that package's feature subset, minutes on a cold target directory.

. "$(dirname "${BASH_SOURCE[0]}")/lib/env.sh"

start=$SECONDS

section "proxy-wasm example filters: fmt, clippy, build (wasm32-wasip1)"
examples_target="$CARGO_TARGET_DIR/proxy-wasm-examples"
(
    cd tests/proxy-wasm-examples
    cargo fmt --all -- --check
    cargo clippy --release --target wasm32-wasip1 --target-dir "$examples_target" -- -D warnings
    cargo build --release --target wasm32-wasip1 --target-dir "$examples_target"
)
PROXY_WASM_EXAMPLES_DIR="$examples_target/wasm32-wasip1/release"
export PROXY_WASM_EXAMPLES_DIR
for wasm in "$PROXY_WASM_EXAMPLES_DIR"/*.wasm; do
    printf '%-24s %8d bytes\n' "$(basename "$wasm")" "$(stat -c %s "$wasm")"
done

section "rvedge filter (wasm32-wasip1, release)"
cargo build -p rvedge-filter --release --target wasm32-wasip1
RVEDGE_FILTER="$CARGO_TARGET_DIR/wasm32-wasip1/release/rvedge_filter.wasm"
export RVEDGE_FILTER
printf 'rvedge_filter.wasm %d bytes\n' "$(stat -c %s "$RVEDGE_FILTER")"

section "proxy-wasm host tests (the SDK-style examples, limits, failures)"
if [[ -z "${RVEDGE_WORKSPACE_TESTED:-}" ]]; then
    cargo test -p rvedge-proxy-wasm-host
else
    echo "(run by cargo test --workspace)"
fi

section "rvedge serve end to end (real filter, upstream on 127.0.0.1)"
if [[ -z "${RVEDGE_WORKSPACE_TESTED:-}" ]]; then
    cargo test -p rvedge-cli --test serve
else
    echo "(run by cargo test --workspace)"
fi

section "rvedge serve with no flags (example tenants, built-in echo origin)"
# cargo test --workspace has built the debug rvedge (and the examples) already.
[[ -n "${RVEDGE_WORKSPACE_TESTED:-}" ]] || cargo build -p rvedge-cli
log="$(mktemp -d)"
# Without RVEDGE_FILTER: serve must find the filter next to its own target dir.
env -u RVEDGE_FILTER "$CARGO_TARGET_DIR/debug/rvedge" serve --listen 127.0.0.1:0 \
    >"$log/access.log" 2>"$log/serve.err" &
serve_pid=$!
stop_serve() { kill "$serve_pid" 2>/dev/null || true; wait "$serve_pid" 2>/dev/null || true; }
trap stop_serve EXIT
address=""
# The example tenants are compiled from source on first use; allow for it.
for _ in $(seq 1 600); do
    address="$(sed -n 's|^rvedge serve: listening on http://\([^ ]*\).*|\1|p' "$log/serve.err")"
    [[ -n "$address" ]] && break
    kill -0 "$serve_pid" 2>/dev/null || break
    sleep 0.5
done
if [[ -z "$address" ]]; then
    cat "$log/serve.err" >&2
    echo "rvedge serve did not start" >&2
    exit 1
fi
hello="$(curl -sS --max-time 10 -H 'Host: hello.example' "http://$address/")"
echo "hello.example -> $hello"
[[ "$hello" == '{"message":"Hello from RISC-V!"}' ]]
echo_body="$(curl -sS --max-time 10 -H 'Host: nobody.example' "http://$address/pass?x=1")"
echo "nobody.example -> $echo_body"
[[ "$echo_body" == *'"url":"/pass?x=1"'* ]]
timeout_status="$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' -H 'Host: loop.example' "http://$address/")"
echo "loop.example -> $timeout_status"
[[ "$timeout_status" == 503 ]]
sleep 0.2
cat "$log/access.log"
[[ "$(grep -c 'source=' "$log/access.log")" == 3 ]]
stop_serve
trap - EXIT
rm -rf "$log"

section "host figures (dev profile: wasmtime's debug assertions on, so upper bounds)"
TENANT_OUT="${TENANT_OUT:-$(bash scripts/build-tenants.sh | tail -n 1)}"
export TENANT_OUT
if [[ -n "${RVEDGE_WORKSPACE_TESTED:-}" ]]; then
    "$CARGO_TARGET_DIR/debug/examples/host_bench" "$PROXY_WASM_EXAMPLES_DIR"
else
    cargo run -q -p rvedge-proxy-wasm-host --example host_bench -- "$PROXY_WASM_EXAMPLES_DIR"
fi

echo
echo "proxy-wasm host: all steps passed in $((SECONDS - start)) s"

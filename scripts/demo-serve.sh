#!/usr/bin/env bash
# Starts `rvedge serve` on 127.0.0.1 (the proxy-wasm filter rvedge_filter.wasm in the
# wasmtime host, the example tenants, a built-in echo origin), prints curl lines to try (the
# Host header picks the tenant) and serves until Ctrl-C.
#
#   bash scripts/demo-serve.sh           # interactive
#   bash scripts/demo-serve.sh --check   # sends the printed requests, checks the answers, exits
#
# DEMO_PORT (default 8080) is the listen port.
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib/env.sh"
check=0
case "${1:-}" in
    --check) check=1 ;;
    "") ;;
    *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

port="${DEMO_PORT:-8080}"

echo "demo-serve: building the filter (wasm32-wasip1) and rvedge (release)" >&2
cargo build --release -p rvedge-filter --target wasm32-wasip1 >&2
cargo build --release -p rvedge-cli >&2
export RVEDGE_FILTER="$CARGO_TARGET_DIR/wasm32-wasip1/release/rvedge_filter.wasm"

work="$(mktemp -d /tmp/rvedge-demo-serve.XXXXXX)"
serve_pid=""
stop() {
    if [[ -n "$serve_pid" ]] && kill -0 "$serve_pid" 2>/dev/null; then
        kill "$serve_pid" 2>/dev/null || true
        wait "$serve_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap stop EXIT
trap 'exit 130' INT TERM

# The access log (stdout) and the filter's log (stderr) stay on the terminal when interactive.
if ((check)); then
    "$CARGO_TARGET_DIR/release/rvedge" serve --listen "127.0.0.1:$port" >"$work/access.log" 2>"$work/serve.log" &
else
    "$CARGO_TARGET_DIR/release/rvedge" serve --listen "127.0.0.1:$port" 2> >(tee "$work/serve.log" >&2) &
fi
serve_pid=$!
# The example tenants are compiled from source the first time.
for _ in $(seq 1 600); do
    grep -q 'listening on' "$work/serve.log" 2>/dev/null && break
    if ! kill -0 "$serve_pid" 2>/dev/null; then
        cat "$work/serve.log" >&2
        echo "demo-serve: rvedge serve did not start" >&2
        exit 1
    fi
    sleep 0.2
done

url="http://127.0.0.1:$port"
# Each line: what to send (curl arguments) | what the answer must contain.
requests=(
    "-H 'Host: hello.example' $url/|Hello from RISC-V!"
    "-H 'Host: hello-rust.example' $url/r|hello from Rust 2"
    "-H 'Host: rewrite.example' '$url/old/page?q=1'|\"url\":\"/new/page?q=1\""
    "-H 'Host: router.example' -H 'Cookie: beta=1' $url/api/users|\"backend\":\"beta\""
    "-H 'Host: json-api.example' --data '{\"name\": \"widget\"}' $url/api/items|{\"valid\":true,\"name\":\"widget\"}"
    "-H 'Host: xml.example' --data '<order><customer>Ada</customer><item sku=\"X-1\"/></order>' $url/orders|\"sku\":\"X-1\""
    "-H 'Host: origin.example' -H 'Cookie: session=1' $url/docs|x-origin-checked: 1"
    "-H 'Host: loop.example' $url/|x-rvedge-error: timeout"
)

if ((check == 0)); then
    echo
    echo "rvedge serve is running the example tenants on $url (pid $serve_pid). Try:"
    echo
    for line in "${requests[@]}"; do
        echo "  curl -si ${line%%|*}"
    done
    echo
    echo "Ctrl-C stops it."
    wait "$serve_pid"
    exit
fi

failed=0
for line in "${requests[@]}"; do
    arguments="${line%%|*}"
    expected="${line#*|}"
    answer="$(eval "curl -si --max-time 10 $arguments" | tr -d '\r')"
    if [[ "$answer" == *"$expected"* ]]; then
        echo "ok    curl $arguments"
    else
        echo "FAIL  curl $arguments: no '$expected' in:" >&2
        echo "$answer" >&2
        failed=1
    fi
done
((failed == 0))

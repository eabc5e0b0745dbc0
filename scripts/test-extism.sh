#!/usr/bin/env bash
# The Extism plugin's tests beyond `cargo test --workspace`:
#   1. the plugin built for wasm32-unknown-unknown (rvedge_extism.wasm), checked to import
#      nothing but the Extism kernel, and linted for that target;
#   2. its tests: unit tests, and tests/extism-host, which loads the built plugin into the
#      `extism` host crate (the conformance table, errors, the JSON Schema);
#   3. the per-call overhead benchmark next to the proxy-wasm filter (quick by default;
#      `--bench` for the long run).
# Honours CARGO_TARGET_DIR and TENANT_OUT.
set -euo pipefail

# Under scripts/test.sh, `cargo test --workspace` has already run every test of this package
# (RVEDGE_WORKSPACE_TESTED=1); testing one package again would rebuild wasmtime and friends
# with that package's feature subset, minutes on a cold target directory.

. "$(dirname "${BASH_SOURCE[0]}")/lib/env.sh"
bench_mode=--quick
for argument in "$@"; do
    case "$argument" in
        --bench) bench_mode= ;;
        *) echo "usage: $0 [--bench]" >&2; exit 2 ;;
    esac
done

section_prefix="extism: "

section "example tenants"
TENANT_OUT="$(bash scripts/build-tenants.sh | tail -n 1)"
export TENANT_OUT
echo "tenants in $TENANT_OUT"

section "build the plugin (wasm32-unknown-unknown)"
cargo build -p rvedge-extism --release --target wasm32-unknown-unknown
wasm="$CARGO_TARGET_DIR/wasm32-unknown-unknown/release/rvedge_extism.wasm"
ls -l "$wasm"
# The plugin must run in any Extism host, WASI or not: its only imports are the kernel's.
imports="$(python3 - "$wasm" <<'EOF'
import sys

data = open(sys.argv[1], "rb").read()

def leb(position):
    result = shift = 0
    while True:
        byte = data[position]
        position += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return result, position

def name(position):
    length, position = leb(position)
    return data[position:position + length].decode(), position + length

position = 8  # magic and version
modules = set()
while position < len(data):
    section_id = data[position]
    size, body = leb(position + 1)
    if section_id == 2:  # imports: module name, field name, kind, type
        count, cursor = leb(body)
        for _ in range(count):
            module, cursor = name(cursor)
            _field, cursor = name(cursor)
            kind = data[cursor]
            cursor += 1
            if kind == 0:
                _, cursor = leb(cursor)
            else:
                raise SystemExit(f"unexpected import kind {kind} from {module}")
            modules.add(module)
    position = body + size
print(" ".join(sorted(modules)))
EOF
)"
echo "imports from: $imports"
if [[ "$imports" != "extism:host/env" ]]; then
    echo "the plugin imports from more than the Extism kernel: $imports" >&2
    exit 1
fi

section "clippy for wasm32-unknown-unknown (the Extism exports)"
cargo clippy -p rvedge-extism --release --target wasm32-unknown-unknown -- -D warnings

section "tests: the plugin in the extism host (conformance, errors, schema)"
if [[ -z "${RVEDGE_WORKSPACE_TESTED:-}" ]]; then
    cargo test -p rvedge-extism -p rvedge-extism-host
else
    echo "(run by cargo test --workspace)"
fi

section "benchmark: per-call overhead vs the proxy-wasm filter ${bench_mode:-(full)}"
# The proxy side of the benchmark (JSON handling, the echo origin) optimised like the
# dependencies, without the bench profile's fat LTO of wasmtime.
optimised=()
for package in rvedge rvedge-conformance rvedge-extism rvedge-extism-host; do
    optimised+=(--config "profile.dev.package.$package.opt-level=3")
done
if [[ -n "${RVEDGE_WORKSPACE_TESTED:-}" && "$bench_mode" == --quick ]]; then
    # The example as cargo test --workspace built it: the wasm sides are release builds
    # either way, only the harness around them is unoptimised.
    "$CARGO_TARGET_DIR/debug/examples/plugin_overhead" --quick
else
    cargo run "${optimised[@]}" -p rvedge-extism-host --example plugin_overhead -- ${bench_mode:+"$bench_mode"}
fi

section "done"

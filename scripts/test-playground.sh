#!/usr/bin/env bash
# The browser playground's tests beyond `cargo test --workspace`:
#   1. the bindings inside wasm: `wasm-pack test --node` and `--headless --chrome`
#      (Debian's chromium + chromedriver), which run the shared conformance table,
#      the debugger, and the DWARF line mapping with the example tenants compiled
#      in (as build-tenants.sh and as the IDE builds them, with debug information);
#   2. `rvedge playground`'s build endpoint and file server as a process
#      (cli/tests/playground.rs: size and time limits, bounded builds, no file
#      outside its directory) and the source-level debugger natively
#      (browser-playground/tests/source_debugging.rs);
#   3. the playground built (scripts/build-playground.sh) and served by
#      `rvedge playground`, driven end to end by Playwright (playwright-core with
#      /usr/bin/chromium): edit, build and run, diagnostics, source breakpoints,
#      share links, every hook; screenshots go to $PLAYGROUND_ARTIFACTS (default
#      $CARGO_TARGET_DIR/playground-artifacts);
#   4. the benchmark: guest MIPS of cpubench in headless Chromium vs native, and
#      time per request in the page. A quick one by default; `--bench` for the
#      full one (scale 0.3).
# Installs wasm-pack, wasm-bindgen-cli (the Cargo.lock version) and the e2e npm
# packages if missing. Honours CARGO_TARGET_DIR, TENANT_OUT and GUEST_OUT.
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib/env.sh"
export PATH="$HOME/.cargo/bin:$PATH"
bench_scale=0.02
bench_requests=300
for argument in "$@"; do
    case "$argument" in
        --bench) bench_scale=0.3; bench_requests=3000 ;;
        *) echo "usage: $0 [--bench]" >&2; exit 2 ;;
    esac
done

section_prefix="playground: "

section "example tenants and guests"
tenants="$(bash "$repo/scripts/build-tenants.sh" | tail -n 1)"
guests="$(bash "$repo/scripts/build-guests.sh" | tail -n 1)"
# build.rs compiles the tenants into the wasm tests from here.
export TENANT_OUT="$tenants"

section "build the playground (wasm-pack, editor bundle, examples built as the IDE does)"
site="$(bash "$repo/scripts/build-playground.sh" | tail -n 1)"
# build.rs compiles the IDE builds of the examples and their sources into the DWARF tests.
export IDE_TENANT_OUT="$site/tenants"

section "wasm-pack test --node"
wasm-pack test --node "$repo/browser-playground"

section "wasm-pack test --headless --chrome"
wasm-pack test --headless --chrome "$repo/browser-playground"

section "rvedge (release) for serving and the native figures"
cargo build --release --quiet -p rvedge-cli
rvedge_bin="$CARGO_TARGET_DIR/release/rvedge"

section "the build endpoint as a process, and the source-level debugger natively"
if [[ -z "${RVEDGE_WORKSPACE_TESTED:-}" ]]; then
    cargo test --release --quiet -p rvedge-cli --test playground
    cargo test --release --quiet -p rvedge-playground --test source_debugging
else
    # Run in release they would build wasmtime and the emulator once more (a test harness
    # unwinds where the release profile aborts): ~5 min of a cold run.
    echo "(run by cargo test --workspace)"
fi

section "npm packages of the e2e tests (playwright-core)"
e2e="$repo/browser-playground/e2e"
if [[ ! -d "$e2e/node_modules/playwright-core" || "$e2e/package-lock.json" -nt "$e2e/node_modules/.package-lock.json" ]]; then
    (cd "$e2e" && npm ci --no-audit --no-fund)
fi

export RVEDGE_BIN="$rvedge_bin" PLAYGROUND_DIR="$site" UPLOAD_ELF="$tenants/hello-rust"
export ARTIFACTS_DIR="${PLAYGROUND_ARTIFACTS:-$CARGO_TARGET_DIR/playground-artifacts}"

section "Playwright end to end (screenshots in $ARTIFACTS_DIR)"
(cd "$e2e" && timeout 600 node --test --test-concurrency=1 playground.test.js)

section "benchmark (scale $bench_scale)"
(cd "$e2e" && BENCH_GUEST="$guests/bench/cpubench" BENCH_SCALE="$bench_scale" \
    BENCH_REQUESTS="$bench_requests" timeout 900 node bench.js)

section "all passed"

#!/usr/bin/env bash
# Builds the browser playground into $PLAYGROUND_OUT (default
# ${CARGO_TARGET_DIR:-<repo>/target}/playground): the wasm-bindgen package of
# browser-playground/ (wasm-pack, --target web), the static app from
# browser-playground/web/, and the example tenant ELFs of
# scripts/build-tenants.sh as tenants/<name> plus tenants/index.json (the
# examples of web/examples.json that were built). Installs wasm-pack and the
# wasm-bindgen CLI matching Cargo.lock if missing. Prints the output directory
# on its last line; serve it with `rvedge playground --dir <it>`.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target="${CARGO_TARGET_DIR:-$repo/target}"
out="${PLAYGROUND_OUT:-$target/playground}"
crate="$repo/browser-playground"
export PATH="$HOME/.cargo/bin:$PATH"

log() { echo "build-playground: $*" >&2; }

# wasm-pack runs the wasm-bindgen on PATH when its version is the one in
# Cargo.lock (otherwise it would try to download one): both come from crates.io.
bindgen_version="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' "$repo/Cargo.lock")"
[[ -n "$bindgen_version" ]] || { log "no wasm-bindgen in Cargo.lock"; exit 1; }
if [[ "$(wasm-pack --version 2>/dev/null)" != "wasm-pack 0.15.1" ]]; then
    log "installing wasm-pack 0.15.1 (a few minutes, once)"
    cargo install wasm-pack --version 0.15.1 --locked >&2
fi
if [[ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $bindgen_version" ]]; then
    log "installing wasm-bindgen-cli $bindgen_version (a few minutes, once)"
    cargo install wasm-bindgen-cli --version "$bindgen_version" --force >&2
fi

tenants="$(bash "$repo/scripts/build-tenants.sh" | tail -n 1)"

log "wasm-pack build (release) into $out/pkg"
mkdir -p "$out"
wasm-pack --quiet build "$crate" --target web --release --no-typescript --no-pack \
    --out-dir "$out/pkg" >&2

cp "$crate/web/index.html" "$crate/web/app.js" "$crate/web/worker.js" "$crate/web/style.css" "$out/"
rm -rf "$out/tenants"
mkdir -p "$out/tenants"
# Bundle the examples that were built, each with its file name and size.
node - "$crate/web/examples.json" "$tenants" "$out/tenants" <<'NODE'
const fs = require('fs');
const path = require('path');
const [examplesFile, tenantsDir, outDir] = process.argv.slice(2);
const index = [];
for (const example of JSON.parse(fs.readFileSync(examplesFile, 'utf8'))) {
  const source = path.join(tenantsDir, example.name);
  if (!fs.existsSync(source)) {
    console.error(`build-playground: ${example.name} was not built; left out`);
    continue;
  }
  fs.copyFileSync(source, path.join(outDir, example.name));
  index.push({ ...example, file: example.name, size: fs.statSync(source).size });
}
if (!index.length) { console.error('build-playground: no example tenants'); process.exit(1); }
fs.writeFileSync(path.join(outDir, 'index.json'), JSON.stringify(index, null, 1));
console.error(`build-playground: bundled ${index.length} example tenants`);
NODE
echo "$out"

#!/usr/bin/env bash
# Builds the browser playground into $PLAYGROUND_OUT (default
# $CARGO_TARGET_DIR/playground, scripts/lib/env.sh): the wasm-bindgen package of
# browser-playground/ (wasm-pack, --target web), the static app from
# browser-playground/web/, and the example tenant ELFs of
# scripts/build-tenants.sh as tenants/<name> plus tenants/index.json (the
# examples of web/examples.json that were built). Installs wasm-pack and the
# wasm-bindgen CLI matching Cargo.lock if missing. The examples' sources go to
# tenants/src/ (Rust ones as one main.rs, `include!`s inlined) and are built as
# the IDE builds them (`rvedge playground --compile-sources`: the build
# endpoint's code path, with debug information); an example that does not build
# so keeps the ELF of build-tenants.sh. The editor (browser-playground/editor,
# CodeMirror 6) is bundled with esbuild from npm packages pinned by its
# package-lock.json. Prints the output directory on its last line; serve it
# with `rvedge playground --dir <it>`.
#
#   bash scripts/build-playground.sh --serve [rvedge playground options]
# builds, then serves it on http://127.0.0.1:8090/ (the IDE in one command).
set -euo pipefail

serve=0
if [[ "${1:-}" == "--serve" ]]; then
    serve=1
    shift
fi

# shellcheck source-path=SCRIPTDIR source=lib/env.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/env.sh"
target="$CARGO_TARGET_DIR"
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
    # Unoptimized: it only drives cargo and wasm-bindgen, and builds in half the time (82 s
    # against 144 s cold).
    cargo install wasm-pack --version 0.15.1 --locked --debug >&2
fi
if [[ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $bindgen_version" ]]; then
    log "installing wasm-bindgen-cli $bindgen_version (a few minutes, once)"
    cargo install wasm-bindgen-cli --version "$bindgen_version" --force >&2
fi

tenants="$(bash "$repo/scripts/build-tenants.sh" | tail -n 1)"

log "rvedge (release), which builds the examples as the IDE does"
cargo build --release --quiet -p rvedge-cli >&2
rvedge_bin="$target/release/rvedge"

editor="$crate/editor"
if [[ ! -d "$editor/node_modules/codemirror" || "$editor/package-lock.json" -nt "$editor/node_modules/.package-lock.json" ]]; then
    log "npm ci of the editor's packages (CodeMirror, esbuild)"
    (cd "$editor" && npm ci --no-audit --no-fund --ignore-scripts >&2)
fi

log "wasm-pack build (release) into $out/pkg"
mkdir -p "$out"
wasm-pack --quiet build "$crate" --target web --release --no-typescript --no-pack \
    --out-dir "$out/pkg" >&2

cp "$crate/web/index.html" "$crate/web/app.js" "$crate/web/worker.js" "$crate/web/style.css" "$out/"
log "esbuild: the editor into $out/editor.js"
"$editor/node_modules/.bin/esbuild" "$editor/editor.js" --bundle --format=esm --minify \
    --log-level=warning --outfile="$out/editor.js" >&2
rm -rf "$out/tenants"
mkdir -p "$out/tenants/src"
# The examples' sources as the editor shows them.
node - "$crate/web/examples.json" "$repo/tenants/examples" "$out/tenants/src" <<'NODE'
const fs = require('fs');
const path = require('path');
const [examplesFile, examplesDir, srcDir] = process.argv.slice(2);
// A Rust example's main.rs with its `include!("x.rs");` lines replaced by x.rs, so the editor
// holds the whole tenant in one file.
const inlined = (file) => fs.readFileSync(file, 'utf8').replace(/^include!\("([^"]+)"\);$/gm,
  (_, name) => fs.readFileSync(path.join(path.dirname(file), name), 'utf8').trimEnd());
for (const example of JSON.parse(fs.readFileSync(examplesFile, 'utf8'))) {
  for (const [extension, file] of [['c', `${example.name}.c`], ['cpp', `${example.name}.cpp`], ['rs', `${example.name}/src/main.rs`]]) {
    const source = path.join(examplesDir, file);
    if (fs.existsSync(source)) fs.writeFileSync(path.join(srcDir, `${example.name}.${extension}`), inlined(source));
  }
}
NODE
# build-tenants.sh's programs first; the IDE builds of the sources replace them.
for file in "$out/tenants/src"/*; do
    name="$(basename "${file%.*}")"
    [[ -f "$tenants/$name" ]] && cp "$tenants/$name" "$out/tenants/$name"
done
log "building the examples' sources as the IDE does (debug information)"
"$rvedge_bin" playground --compile-sources "$out/tenants/src" --output "$out/tenants" >&2 ||
    log "some examples did not build from source; they keep build-tenants.sh's programs (no source-level debugging)"
# The index: each example that has a program, with its size, language and source.
node - "$crate/web/examples.json" "$out/tenants" <<'NODE'
const fs = require('fs');
const path = require('path');
const [examplesFile, outDir] = process.argv.slice(2);
const languages = { c: 'c', cpp: 'cpp', rs: 'rust' };
const index = [];
for (const example of JSON.parse(fs.readFileSync(examplesFile, 'utf8'))) {
  const program = path.join(outDir, example.name);
  if (!fs.existsSync(program)) {
    console.error(`build-playground: ${example.name} was not built; left out`);
    continue;
  }
  const entry = { ...example, file: example.name, size: fs.statSync(program).size };
  for (const [extension, language] of Object.entries(languages)) {
    const source = path.join(outDir, 'src', `${example.name}.${extension}`);
    if (fs.existsSync(source)) Object.assign(entry, { language, source: fs.readFileSync(source, 'utf8') });
  }
  index.push(entry);
}
if (!index.length) { console.error('build-playground: no example tenants'); process.exit(1); }
fs.writeFileSync(path.join(outDir, 'index.json'), JSON.stringify(index, null, 1));
console.error(`build-playground: bundled ${index.length} example tenants`);
NODE
if ((serve)); then
    exec "$rvedge_bin" playground --dir "$out" "$@"
fi
echo "$out"

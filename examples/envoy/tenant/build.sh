#!/usr/bin/env bash
# Rebuilds the freestanding example tenant (edge.c) and writes its base64 into the plugin
# configurations of envoy.yaml and istio-wasmplugin.yaml (the `"edge": "..."` program entry).
# With --check, changes nothing and fails if an embedded copy differs from a fresh build.
set -euo pipefail
check=false
[[ "${1:-}" == "--check" ]] && check=true
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
# No libc: a few hundred bytes of code instead of glibc's ~600 KiB. --no-relax because nothing
# sets up gp (glibc's start code would).
riscv64-linux-gnu-gcc -Os -static -nostdlib -ffreestanding -fno-builtin \
    -march=rv64gc -mabi=lp64d -I "$repo/tenants/include" \
    -Wl,--build-id=none -Wl,--no-relax -s -o "$out/edge" "$here/edge.c"
encoded="$(base64 -w0 "$out/edge")"
for file in "$here/../envoy.yaml" "$here/../istio-wasmplugin.yaml"; do
    if $check; then
        grep -qF "\"edge\": \"${encoded}\"" "$file" || { echo "$file: embedded edge differs" >&2; exit 1; }
        continue
    fi
    sed -i -E "s|(\"edge\": \")[A-Za-z0-9+/=]*(\")|\1${encoded}\2|" "$file"
done
$check && { echo "edge: embedded copies match a fresh build"; exit 0; }
echo "edge: $(stat -c %s "$out/edge") bytes, embedded in envoy.yaml and istio-wasmplugin.yaml"

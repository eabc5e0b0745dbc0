#!/usr/bin/env bash
# Idempotent set-up of a Debian bookworm machine for building and testing
# rvedge: cross compilers and qemu for the guest programs, Varnish and its
# headers for the VMOD, Chromium for the playground, hyperfine, wrk and valgrind for
# benchmarks, and the Rust toolchains pinned in the rust-toolchain.toml files.
# Prints nothing when everything is already present.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib/env.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/env.sh"

apt_packages=(
    gcc-riscv64-linux-gnu
    g++-riscv64-linux-gnu
    # freestanding RV32 and RV64 guests and tenants (picolibc)
    gcc-riscv64-unknown-elf
    picolibc-riscv64-unknown-elf
    qemu-user
    nlohmann-json3-dev
    hyperfine
    wrk
    # the Varnish demo's checks, its training load for the VMOD's profile, the tests' clients
    curl
    # scripts/footprint.sh: cachegrind counts the cache lines a cold request misses
    valgrind
    # the VMOD: varnishd and varnishtest, headers, bindgen's libclang, vmodtool
    varnish
    libvarnishapi-dev
    clang
    libclang-dev
    python3
    python3-docutils
    # live debugging tests: GDB for RISC-V against the VMOD's and the CLI's debugger stub
    gdb-multiarch
    # the proxy-wasm filter's Envoy, installed from PyPI into a venv by test-proxy-wasm-filter.sh
    python3-venv
    # the playground's browser tests; node and npm (nodejs) bundle its editor and drive
    # Playwright; pgrep (procps) checks that stopped builds leave no compiler behind
    chromium
    chromium-driver
    nodejs
    procps
)

missing=()
for p in "${apt_packages[@]}"; do
    # Status is "install ok installed" only for a fully installed package.
    if [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" != "install ok installed" ]]; then
        missing+=("$p")
    fi
done

if ((${#missing[@]})); then
    echo "bootstrap: installing apt packages: ${missing[*]}"
    sudo=()
    if ((EUID != 0)); then
        command -v sudo >/dev/null || { echo "bootstrap: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
        sudo=(sudo)
    fi
    export DEBIAN_FRONTEND=noninteractive
    log="$(mktemp)"
    # apt is chatty even with -qq (debconf notes on stderr): show it only on failure.
    if ! { "${sudo[@]}" apt-get update -qq && "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
        cat "$log" >&2
        rm -f "$log"
        echo "bootstrap: apt-get failed" >&2
        exit 1
    fi
    rm -f "$log"
fi

# Rust: the toolchains, components and targets named in the rust-toolchain.toml files.
if [[ -f "$HOME/.cargo/env" ]] && ! command -v rustup >/dev/null; then
    # shellcheck disable=SC1091
    . "$HOME/.cargo/env"
fi
command -v rustup >/dev/null || {
    echo "bootstrap: rustup not found; install it (https://rustup.rs) and re-run" >&2
    exit 1
}

# Each rust-toolchain.toml of the project: the root workspace's, and the
# riscv64 guest workspaces' (an older channel that has their target).
install_toolchain() { # install_toolchain TOML
    local toml="$1"
    # The file is simple key = value / key = [list] TOML; pull the three fields out.
    field() { sed -n "s/^$1[[:space:]]*=[[:space:]]*//p" "$toml" | tr -d '[]",' ; }
    local channel components targets
    channel="$(field channel | tr -d ' ')"
    read -r -a components <<<"$(field components)"
    read -r -a targets <<<"$(field targets)"

    local need_install=0
    if ! rustup toolchain list 2>/dev/null | grep -q "^$channel"; then
        need_install=1
    else
        local installed_targets installed_components
        installed_targets="$(rustup +"$channel" target list --installed 2>/dev/null || true)"
        for t in "${targets[@]}"; do
            grep -qx "$t" <<<"$installed_targets" || need_install=1
        done
        installed_components="$(rustup +"$channel" component list --installed 2>/dev/null || true)"
        for c in "${components[@]}"; do
            grep -q "^$c" <<<"$installed_components" || need_install=1
        done
    fi

    if ((need_install)); then
        echo "bootstrap: installing Rust $channel (components: ${components[*]}; targets: ${targets[*]})"
        local args=(toolchain install "$channel" --profile minimal)
        for c in "${components[@]}"; do args+=(--component "$c"); done
        for t in "${targets[@]}"; do args+=(--target "$t"); done
        rustup "${args[@]}"
    fi
}

for toml in "$repo/rust-toolchain.toml" "$repo/tenants/rust-toolchain.toml" "$repo/tests/guests/rust/rust-toolchain.toml"; do
    install_toolchain "$toml"
done

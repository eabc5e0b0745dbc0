# shellcheck shell=bash
# Cross-compiling for riscv64 Linux, shared by build-guests.sh and
# build-tenants.sh: the tool check, the common flags, a small pool of parallel
# compiles that reports every failure rather than stopping at the first, and
# the cargo step. Source it, then call riscv_build_init NAME (NAME prefixes
# messages).

riscv_build_init() {
    rb_name="$1"
    CC="${RISCV_CC:-riscv64-linux-gnu-gcc}"
    CXX="${RISCV_CXX:-riscv64-linux-gnu-g++}"
    local tool
    for tool in "$CC" "$CXX"; do
        command -v "$tool" >/dev/null || { echo "$rb_name: $tool not found; run scripts/bootstrap.sh" >&2; exit 1; }
    done
    # Plain RV64GC only, so programs never contain instructions the emulator does not implement.
    rb_cflags=(-O2 -static -Wall -Wextra -march=rv64gc -mabi=lp64d)
    rb_jobs_max="$(nproc 2>/dev/null || echo 2)"
    rb_failed=0
    rb_running=0
    rb_built=0
}

# Succeeds if DST must be (re)built: it is missing or not newer than every DEP.
riscv_build_stale() { # riscv_build_stale DST DEP...
    local dst="$1" dep
    shift
    [[ -f "$dst" ]] || return 0
    for dep in "$@"; do
        [[ "$dst" -nt "$dep" ]] || return 0
    done
    return 1
}

# Waits for one background compile; remembers failure instead of exiting at
# once so every broken program gets reported.
rb_reap() {
    if ! wait -n; then rb_failed=1; fi
    rb_running=$((rb_running - 1))
}

rb_compile() { # rb_compile LANG SRC DST [FLAG...]
    local lang="$1" file="$2" dst="$3" tmp
    shift 3
    tmp="$dst.tmp.$$"
    if [[ "$lang" == c ]]; then
        set -- "$CC" "${rb_cflags[@]}" "$@" -o "$tmp" "$file" -lm
    else
        set -- "$CXX" "${rb_cflags[@]}" "$@" -o "$tmp" "$file"
    fi
    if "$@"; then
        mv -f "$tmp" "$dst"
    else
        rm -f "$tmp"
        echo "$rb_name: FAILED: $*" >&2
        return 1
    fi
}

# Compiles SRC (LANG c or cpp) to DST in the background, with FLAGs added to
# the common ones; at most one job per CPU.
riscv_build_start() { # riscv_build_start LANG SRC DST [FLAG...]
    while ((rb_running >= rb_jobs_max)); do rb_reap; done
    rb_compile "$@" &
    rb_running=$((rb_running + 1))
    rb_built=$((rb_built + 1))
}

# Waits for every compile; fails if any did.
riscv_build_wait() {
    while ((rb_running > 0)); do rb_reap; done
    ((rb_failed == 0))
}

# cargo is incremental itself. The package's .cargo/config.toml (target,
# linker, +crt-static) applies because cargo runs from that directory;
# RUSTFLAGS from the environment would override the config's rustflags, and
# RUSTUP_TOOLCHAIN (set when called under cargo) would override the
# directory's rust-toolchain.toml, the one toolchain with the riscv64 target.
riscv_cargo_build() { # riscv_cargo_build DIR TARGET_DIR
    (
        cd "$1" || exit
        unset RUSTFLAGS CARGO_ENCODED_RUSTFLAGS CARGO_BUILD_RUSTFLAGS CARGO_BUILD_TARGET RUSTUP_TOOLCHAIN
        cargo build --release --locked --quiet --target-dir "$2"
    )
}

# Where riscv_cargo_build leaves binary NAME.
riscv_cargo_artifact() { # riscv_cargo_artifact TARGET_DIR NAME
    echo "$1/riscv64gc-unknown-linux-gnu/release/$2"
}

# Copies SRC to DST unless DST is already at least as new.
riscv_copy_if_newer() { # riscv_copy_if_newer SRC DST
    if [[ ! -f "$2" || "$1" -nt "$2" ]]; then
        cp -p "$1" "$2"
    fi
}

# shellcheck shell=bash
# Cross-compiling RISC-V programs, shared by build-guests.sh and
# build-tenants.sh: the build flavours (compiler, flags, C library), the
# common flags, a small pool of parallel compiles that reports every failure
# rather than stopping at the first, and the cargo step. Source it, then call
# riscv_build_init NAME (NAME prefixes messages); riscv_flavour picks what
# later riscv_build_start calls build.

riscv_build_init() {
    rb_name="$1"
    rb_repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
    rb_jobs_max="$(nproc 2>/dev/null || echo 2)"
    rb_failed=0
    rb_running=0
    rb_built=0
    riscv_flavour linux
}

# The freestanding programs' start-up and system glue (picolibc flavours).
riscv_freestanding_runtime() {
    echo "$rb_repo/tenants/include/rvedge_freestanding.c"
}

# Selects how riscv_build_start compiles from now on:
#   linux              riscv64 Linux, glibc, static, plain RV64GC
#   linux-zb           the same with -march=rv64gc_zba_zbb_zbs
#   rv32               freestanding RV32GC + Zba/Zbb/Zbc, ilp32d, picolibc
#   rv64-freestanding  freestanding RV64GC + Zba/Zbb/Zbc/Zbs, lp64d, picolibc
# Picolibc programs are compiled with the Zb* -march, then linked with plain
# -march=rv{32,64}imafdc, because GCC 12 picks its multilib (picolibc's and
# libgcc's build for the ABI) only from an -march it knows exactly.
riscv_flavour() { # riscv_flavour FLAVOUR
    rb_flavour="$1"
    case "$rb_flavour" in
    linux | linux-zb)
        CC="${RISCV_CC:-riscv64-linux-gnu-gcc}"
        CXX="${RISCV_CXX:-riscv64-linux-gnu-g++}"
        local march=rv64gc
        [[ "$rb_flavour" == linux-zb ]] && march=rv64gc_zba_zbb_zbs
        rb_cflags=(-O2 -static -Wall -Wextra "-march=$march" -mabi=lp64d)
        rb_link_flags=()
        ;;
    rv32 | rv64-freestanding)
        CC="${RISCV_ELF_CC:-riscv64-unknown-elf-gcc}"
        CXX=""
        local bits=32 abi=ilp32d
        [[ "$rb_flavour" == rv64-freestanding ]] && { bits=64; abi=lp64d; }
        local picolibc=(--specs=picolibc.specs -DPICOLIBC_DOUBLE_PRINTF_SCANF)
        local march="rv${bits}gc_zba_zbb_zbc_zbs"
        # Debian's GCC 12.2 stops with an internal compiler error ("unrecognizable insn")
        # on any constant 2048 in RV32 code with Zbs, so RV32 C is compiled without it
        # (hand-written Zbs instructions say `.option arch, +zbs`).
        [[ "$bits" == 32 ]] && march="rv32gc_zba_zbb_zbc"
        rb_cflags=(-O2 -Wall -Wextra "-march=$march" "-mabi=$abi" "${picolibc[@]}")
        # picolibc.ld with room for real programs: code from 0x10000, data from 32 MiB.
        rb_link_flags=("-march=rv${bits}imafdc" "-mabi=$abi" "${picolibc[@]}" -nostartfiles
            -Wl,--defsym=__flash=0x10000,--defsym=__flash_size=0x1000000
            -Wl,--defsym=__ram=0x2000000,--defsym=__ram_size=0x1000000)
        ;;
    *)
        echo "$rb_name: unknown build flavour $rb_flavour" >&2
        exit 1
        ;;
    esac
    local tool
    for tool in "$CC" $CXX; do
        command -v "$tool" >/dev/null || { echo "$rb_name: $tool not found; run scripts/bootstrap.sh" >&2; exit 1; }
    done
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
    if ((${#rb_link_flags[@]})); then
        rb_compile_freestanding "$file" "$tmp" "$@" || { rm -f "$tmp" "$tmp".*.o; return 1; }
        mv -f "$tmp" "$dst"
        return 0
    fi
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

# A picolibc program: the source and the runtime compiled with the flavour's
# flags, then linked with its link flags (C only).
rb_compile_freestanding() { # rb_compile_freestanding SRC OUT [FLAG...]
    local file="$1" out="$2" runtime
    shift 2
    runtime="$(riscv_freestanding_runtime)"
    rb_run "$CC" "${rb_cflags[@]}" "$@" -c "$file" -o "$out.program.o" &&
        rb_run "$CC" "${rb_cflags[@]}" "$@" -c "$runtime" -o "$out.runtime.o" &&
        rb_run "$CC" "${rb_link_flags[@]}" -o "$out" "$out.program.o" "$out.runtime.o" -lm ||
        return 1
    rm -f "$out.program.o" "$out.runtime.o"
}

rb_run() {
    "$@" || { echo "$rb_name: FAILED: $*" >&2; return 1; }
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

//! Chooses the interpreter's dispatch (see `src/interp/threaded.rs`): threaded where the
//! compiler turns each op's jump to the next into a plain jump, which LLVM does when it
//! optimizes fully (opt-level 2 and 3) for x86-64 and AArch64. Unoptimized builds and wasm32
//! (no tail calls without its tail-call proposal) keep the `match` loop, whose stack
//! stays flat whatever the compiler does; so does Miri, which runs no inline assembly (the
//! threaded dispatch reads the stack pointer with it).

use std::env;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(threaded_dispatch)");
    println!("cargo::rerun-if-changed=build.rs");
    // Level 1 leaves some values in stack slots whose address escapes, and a handler with
    // such a slot cannot jump on: the stack would grow with every instruction.
    let optimized = env::var("OPT_LEVEL").is_ok_and(|level| level == "2" || level == "3");
    let arch = env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let miri = env::var_os("CARGO_CFG_MIRI").is_some();
    if optimized && !miri && matches!(arch.as_str(), "x86_64" | "aarch64") {
        println!("cargo::rustc-cfg=threaded_dispatch");
    }
}

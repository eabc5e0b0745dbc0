//! Size: the filter ships as a .wasm that proxies download and compile, so its wasm32 build
//! drops the symbol-name section (about 100 KB) at link time. Profiles cannot do this per
//! package, and the native build keeps its symbols. `RVEDGE_FILTER_NAMES` set keeps the
//! names, for profiling (scripts/filter-instructions.sh).

fn main() {
    let target = std::env::var("TARGET").unwrap_or_default();
    let keep_names = std::env::var_os("RVEDGE_FILTER_NAMES").is_some();
    if target.starts_with("wasm32") && !keep_names {
        println!("cargo:rustc-link-arg-cdylib=--strip-all");
    }
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=RVEDGE_FILTER_NAMES");
}

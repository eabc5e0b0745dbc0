//! Size: the filter ships as a .wasm that proxies download and compile, so its wasm32 build
//! drops the symbol-name section (about 100 KB) at link time. Profiles cannot do this per
//! package, and the native build keeps its symbols.

fn main() {
    let target = std::env::var("TARGET").unwrap_or_default();
    if target.starts_with("wasm32") {
        println!("cargo:rustc-link-arg-cdylib=--strip-all");
    }
    println!("cargo:rerun-if-changed=build.rs");
}

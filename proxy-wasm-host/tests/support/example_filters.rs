//! Builds the example proxy-wasm filters of tests/proxy-wasm-examples for wasm32-wasip1 once
//! per test binary (cargo is incremental, so this is quick when warm) and reads them.
//! `$PROXY_WASM_EXAMPLES_DIR` points at already-built ones instead.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The repository root: the nearest directory above this crate holding `scripts/`.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .find(|dir| dir.join("scripts").is_dir() && dir.join("tests/proxy-wasm-examples").is_dir())
        .expect("crates live inside the repository")
        .to_path_buf()
}

/// The directory holding `<name>.wasm` for every example filter.
pub fn example_filters_dir() -> &'static Path {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match BUILT.get_or_init(build_example_filters) {
        Ok(dir) => dir,
        Err(message) => panic!("{message}"),
    }
}

/// The bytes of example filter `name` (its crate name with underscores: `http_headers`).
pub fn example_filter(name: &str) -> Vec<u8> {
    let path = example_filters_dir().join(format!("{name}.wasm"));
    std::fs::read(&path)
        .unwrap_or_else(|error| panic!("cannot read example filter {}: {error}", path.display()))
}

fn build_example_filters() -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os("PROXY_WASM_EXAMPLES_DIR") {
        return Ok(PathBuf::from(dir));
    }
    let root = repo_root();
    let target_base = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    // A target directory of its own: the test's own cargo may still hold the main one's lock.
    let target_dir = target_base.join("proxy-wasm-examples");
    let output = Command::new("cargo")
        .current_dir(root.join("tests/proxy-wasm-examples"))
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip1",
            "--target-dir",
        ])
        .arg(&target_dir)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|error| format!("cannot run cargo to build the example filters: {error}"))?;
    if !output.status.success() {
        return Err(format!(
            "building tests/proxy-wasm-examples failed (is the wasm32-wasip1 target installed?):\n{}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(target_dir.join("wasm32-wasip1/release"))
}

//! Tenant programs given as source (native hosts only): a `.c` or `.cpp` file is compiled with
//! Debian's stock cross compilers, a directory holding `Cargo.toml` is built with cargo for
//! `riscv64gc-unknown-linux-gnu`. C and C++ builds are cached by a hash of the compiler command
//! and the inputs; cargo caches its own builds.

use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

/// Where `api.h` and `rvedge.h` are: `RVEDGE_TENANT_INCLUDE`, else this checkout's copy.
fn include_dir() -> PathBuf {
    std::env::var_os("RVEDGE_TENANT_INCLUDE")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../tenants/include"))
}

/// Where built programs are kept: `RVEDGE_CACHE_DIR`, else `~/.cache/rvedge/tenants`.
fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("RVEDGE_CACHE_DIR") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    home.join("rvedge").join("tenants")
}

/// Compiles `path` if it is a source file or crate and returns the executable; `None` if it is
/// anything else (an executable to load as it is).
pub fn compile_if_source(path: &Path) -> Result<Option<PathBuf>, String> {
    if path.is_dir() && path.join("Cargo.toml").is_file() {
        return build_crate(path).map(Some);
    }
    let compiler = match path.extension().and_then(|extension| extension.to_str()) {
        Some("c") => "riscv64-linux-gnu-gcc",
        Some("cpp" | "cc" | "cxx") => "riscv64-linux-gnu-g++",
        _ => return Ok(None),
    };
    compile_c(compiler, path).map(Some)
}

fn compile_c(compiler: &str, source: &Path) -> Result<PathBuf, String> {
    let include = include_dir();
    let arguments: Vec<String> = [
        "-O2",
        "-static",
        "-march=rv64gc",
        "-mabi=lp64d",
        "-Wall",
        "-I",
    ]
    .iter()
    .map(|argument| argument.to_string())
    .chain([include.display().to_string()])
    .collect();
    let source_bytes = std::fs::read(source)
        .map_err(|error| format!("cannot read {}: {error}", source.display()))?;
    let mut hasher = Sha256::new();
    hasher.update(compiler);
    for argument in &arguments {
        hasher.update(argument);
    }
    hasher.update(&source_bytes);
    // The SDK headers are inputs too: a changed header must rebuild.
    for header in ["api.h", "rvedge.h"] {
        hasher.update(std::fs::read(include.join(header)).unwrap_or_default());
    }
    let hash: String = hasher
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    let cache = cache_dir();
    let output = cache.join(format!("{hash}.elf"));
    if output.is_file() {
        return Ok(output);
    }
    std::fs::create_dir_all(&cache)
        .map_err(|error| format!("cannot create {}: {error}", cache.display()))?;
    let partial = cache.join(format!("{hash}.{}.tmp", std::process::id()));
    let result = Command::new(compiler)
        .args(&arguments)
        .arg("-o")
        .arg(&partial)
        .arg(source)
        .arg("-lm")
        .output()
        .map_err(|error| {
            format!("cannot run {compiler} (install gcc-riscv64-linux-gnu): {error}")
        })?;
    if !result.status.success() {
        let _ = std::fs::remove_file(&partial);
        return Err(format!(
            "{compiler} failed to compile {}:\n{}",
            source.display(),
            String::from_utf8_lossy(&result.stderr).trim_end()
        ));
    }
    std::fs::rename(&partial, &output)
        .map_err(|error| format!("cannot store {}: {error}", output.display()))?;
    Ok(output)
}

const RUST_TARGET: &str = "riscv64gc-unknown-linux-gnu";

fn build_crate(directory: &Path) -> Result<PathBuf, String> {
    // Absolute, because cargo runs with the crate as its working directory.
    let directory = &std::path::absolute(directory)
        .map_err(|error| format!("cannot resolve {}: {error}", directory.display()))?;
    let manifest = directory.join("Cargo.toml");
    let hash: String = Sha256::digest(directory.display().to_string())
        .iter()
        .take(8)
        .map(|byte| format!("{byte:02x}"))
        .collect();
    let target_dir = cache_dir().join(format!("cargo-{hash}"));
    // rustup's `cargo`, started in the crate's directory with the caller's
    // toolchain choice removed, so the crate's rust-toolchain.toml (or the
    // default toolchain) picks a toolchain that has the riscv64 target.
    let result = Command::new("cargo")
        .current_dir(directory)
        .env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("RUSTC")
        .env_remove("CARGO")
        .args([
            "build",
            "--release",
            "--message-format=json-render-diagnostics",
        ])
        .args(["--target", RUST_TARGET])
        .arg("--manifest-path")
        .arg(&manifest)
        .arg("--target-dir")
        .arg(std::path::absolute(&target_dir).unwrap_or(target_dir))
        .env(
            "CARGO_TARGET_RISCV64GC_UNKNOWN_LINUX_GNU_LINKER",
            "riscv64-linux-gnu-gcc",
        )
        .env("RUSTFLAGS", "-C target-feature=+crt-static")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .output()
        .map_err(|error| format!("cannot run cargo: {error}"))?;
    if !result.status.success() {
        return Err(format!(
            "cargo failed to build {}:\n{}",
            directory.display(),
            String::from_utf8_lossy(&result.stderr).trim_end()
        ));
    }
    // The executable's path is in cargo's artifact messages, one JSON object per line.
    String::from_utf8_lossy(&result.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter_map(|message| message.get("executable")?.as_str().map(PathBuf::from))
        .next_back()
        .ok_or_else(|| format!("cargo built no executable in {}", directory.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_files_are_not_sources() {
        assert_eq!(compile_if_source(Path::new("/bin/sh")), Ok(None));
    }
}

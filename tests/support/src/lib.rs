//! Test support shared by the workspace's tests: builds the guest programs under tests/guests
//! (scripts/build-guests.sh), the example tenants (scripts/build-tenants.sh), the example
//! proxy-wasm filters and the workspace's wasm artifacts once per test binary, in the target
//! directory that binary was built in, and finds them.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The repository root: the nearest directory that holds `scripts/` above the crate cargo is
/// running (cargo sets `CARGO_MANIFEST_DIR` for `cargo test` and `cargo run`), else above this
/// crate as it was compiled, else above the current directory. The run-time directory comes
/// first: two checkouts sharing one target directory share this crate's build too, and the
/// path compiled into it may be the other checkout's, or gone.
pub fn repo_root() -> PathBuf {
    let candidates = [
        std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from),
        Some(PathBuf::from(env!("CARGO_MANIFEST_DIR"))),
        std::env::current_dir().ok(),
    ];
    candidates
        .into_iter()
        .flatten()
        .find_map(|start| {
            start
                .ancestors()
                .find(|dir| dir.join("scripts/build-guests.sh").is_file())
                .map(Path::to_path_buf)
        })
        .expect("tests run inside the repository")
}

/// The cargo target directory the running binary was built in: `$CARGO_TARGET_DIR` when set,
/// else found from the binary's own path (`<target>/<profile>/deps/<test>`,
/// `<target>/<profile>/<bin>` or `<target>/<profile>/examples/<example>`), so the scripts and
/// builds a test starts use the same directory as the test, never a second one.
pub fn target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    let exe = std::env::current_exe().expect("the running binary's path");
    exe.ancestors()
        .skip(1)
        .find(|dir| dir.join(".rustc_info.json").is_file() || dir.join("CACHEDIR.TAG").is_file())
        .unwrap_or_else(|| panic!("{} is not inside a cargo target directory", exe.display()))
        .to_path_buf()
}

/// Builds the guests once per test binary and returns their directory; a build failure fails
/// every test with the build's message.
pub fn guests_dir() -> &'static Path {
    static GUESTS: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match GUESTS.get_or_init(|| run_build_script("scripts/build-guests.sh")) {
        Ok(dir) => dir,
        Err(message) => panic!("{message}"),
    }
}

/// Builds the example tenants once per test binary and returns their directory.
pub fn tenants_dir() -> &'static Path {
    static TENANTS: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match TENANTS.get_or_init(|| run_build_script("scripts/build-tenants.sh")) {
        Ok(dir) => dir,
        Err(message) => panic!("{message}"),
    }
}

/// The bytes of a built guest, e.g. `guest("bad/infinite_loop")`.
pub fn guest(name: &str) -> Vec<u8> {
    let path = guests_dir().join(name);
    std::fs::read(&path)
        .unwrap_or_else(|error| panic!("cannot read guest {}: {error}", path.display()))
}

/// Field `key` of a tenant's `key=value key=value ...` report (tests/guests/tenant/attack.c),
/// as a number.
pub fn report_field(report: &str, key: &str) -> u64 {
    report
        .split(' ')
        .find_map(|pair| pair.strip_prefix(key)?.strip_prefix('='))
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| panic!("no {key} in {report:?}"))
}

/// Fails with a message saying how to install them if any of `tools` is not on PATH.
pub fn require_tools(tools: &[&str]) -> Result<(), String> {
    let on_path = |tool: &&str| {
        std::env::var_os("PATH")
            .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(tool).is_file()))
    };
    let missing: Vec<&str> = tools
        .iter()
        .filter(|tool| !on_path(tool))
        .copied()
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(format!(
        "{} missing from PATH: run scripts/bootstrap.sh",
        missing.join(", ")
    ))
}

/// Runs a build script that prints its output directory on its last line.
fn run_build_script(relative_path: &str) -> Result<PathBuf, String> {
    require_tools(&["riscv64-linux-gnu-gcc", "riscv64-linux-gnu-g++"])?;
    let script = repo_root().join(relative_path);
    let output = Command::new("bash")
        .arg(&script)
        .env("CARGO_TARGET_DIR", target_dir())
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|error| format!("cannot run {}: {error}", script.display()))?;
    if !output.status.success() {
        return Err(format!(
            "{relative_path} failed (run scripts/bootstrap.sh first?):\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let last_line = stdout
        .lines()
        .last()
        .ok_or_else(|| format!("{relative_path} printed nothing"))?;
    Ok(PathBuf::from(last_line.trim()))
}

/// The directory holding `<name>.wasm` for every example proxy-wasm filter of
/// tests/proxy-wasm-examples, built once per test binary for wasm32-wasip1 (cargo is
/// incremental, so this is quick when warm); `$PROXY_WASM_EXAMPLES_DIR` points at already-built
/// ones instead.
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
    // A target directory of its own: the test's own cargo may still hold the main one's lock.
    let target_dir = target_dir().join("proxy-wasm-examples");
    let output = Command::new(cargo())
        .current_dir(repo_root().join("tests/proxy-wasm-examples"))
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

/// Builds workspace `package` for `target` in release, in the target directory this binary was
/// built in, and returns its `file_name` artifact, or why not (with the command that does it by
/// hand). Building rather than only finding it means a test never runs a stale artifact; the
/// release and wasm32 locks are not the debug one a running `cargo test` holds.
pub fn build_wasm(package: &str, target: &str, file_name: &str) -> Result<PathBuf, String> {
    let target_dir = target_dir();
    let how = format!("cargo build -p {package} --release --target {target}");
    let output = Command::new(cargo())
        .current_dir(repo_root())
        .args([
            "build",
            "--quiet",
            "-p",
            package,
            "--release",
            "--target",
            target,
        ])
        .arg("--target-dir")
        .arg(&target_dir)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|error| format!("cannot run cargo ({how}): {error}"))?;
    if !output.status.success() {
        return Err(format!(
            "{how} failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let artifact = target_dir.join(target).join("release").join(file_name);
    if !artifact.is_file() {
        return Err(format!("{} missing after {how}", artifact.display()));
    }
    Ok(artifact)
}

/// The cargo that runs this test, else the one on PATH.
fn cargo() -> std::ffi::OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

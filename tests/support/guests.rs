//! Test support shared by the workspace's integration tests: builds the guest programs under
//! tests/guests (scripts/build-guests.sh) and the example tenants (scripts/build-tenants.sh)
//! once per test binary, and finds them.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The repository root: the nearest directory above the crate that holds `scripts/`.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .find(|dir| dir.join("scripts/build-guests.sh").is_file())
        .expect("crates live inside the repository")
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

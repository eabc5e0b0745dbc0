//! Tenant programs given as source (native hosts only): C and C++ are compiled with Debian's
//! stock cross compilers, Rust with cargo for `riscv64gc-unknown-linux-gnu` against the
//! tenant SDK (`tenants/rust/rvedge-tenant`). Builds are cached by a hash of the compiler
//! command and the inputs, and every compiler run has a wall-clock limit that ends all of its
//! processes.
//!
//! Two entry points, one code path: [`compile_if_source`] for a tenant configuration's
//! `filename` (a `.c`/`.cpp` file or a crate directory), and [`compile_source`] for source text
//! (the playground's build endpoint), built in a temporary directory and answered with the
//! compiler's diagnostics by line when it is rejected.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sha2::{Digest, Sha256};

/// Where `api.h` and `rvedge.h` are: `RVEDGE_TENANT_INCLUDE`, else this checkout's copy.
fn include_dir() -> PathBuf {
    std::env::var_os("RVEDGE_TENANT_INCLUDE")
        .map(PathBuf::from)
        .unwrap_or_else(|| checkout_path("tenants/include"))
}

/// The Rust tenant SDK crate: `RVEDGE_TENANT_SDK`, else this checkout's copy. Its workspace's
/// `rust-toolchain.toml` (one level up from `rust/`) picks the toolchain with the riscv64 target.
fn rust_sdk_dir() -> PathBuf {
    std::env::var_os("RVEDGE_TENANT_SDK")
        .map(PathBuf::from)
        .unwrap_or_else(|| checkout_path("tenants/rust/rvedge-tenant"))
}

/// `relative` (from the repository root) in the checkout being worked in: found above the
/// `CARGO_MANIFEST_DIR` cargo runs this with, else above the current directory (the scripts
/// run the built binaries from the repository root), else in the checkout this crate was
/// compiled in. Run time first: two checkouts sharing one target directory share this crate's
/// build, and the path compiled into it may be the other checkout's, or gone.
pub fn checkout_path(relative: &str) -> PathBuf {
    let run_time_starts = [
        std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from),
        std::env::current_dir().ok(),
    ];
    run_time_starts
        .into_iter()
        .flatten()
        .find_map(|start| {
            start
                .ancestors()
                .map(|dir| dir.join(relative))
                .find(|path| path.exists())
        })
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .join(relative)
        })
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

/// The language of a tenant's source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Language {
    C,
    Cpp,
    Rust,
}

impl Language {
    /// `c`, `cpp` (or `c++`) and `rust`.
    pub fn from_name(name: &str) -> Option<Language> {
        match name {
            "c" => Some(Language::C),
            "cpp" | "c++" => Some(Language::Cpp),
            "rust" => Some(Language::Rust),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Language::C => "c",
            Language::Cpp => "cpp",
            Language::Rust => "rust",
        }
    }

    /// The file the source is written to (and named by in diagnostics).
    pub fn source_file_name(self) -> &'static str {
        match self {
            Language::C => "tenant.c",
            Language::Cpp => "tenant.cpp",
            Language::Rust => "src/main.rs",
        }
    }

    fn c_compiler(self) -> &'static str {
        match self {
            Language::Cpp => "riscv64-linux-gnu-g++",
            _ => "riscv64-linux-gnu-gcc",
        }
    }
}

/// How to build.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildOptions {
    /// Keep debug information and optimize for debugging (`-Og -g -fno-inline`, Rust
    /// `opt-level = 1`, `debug = true`) instead of for speed (`-O2`).
    pub debug: bool,
    /// Wall-clock limit of one compiler run, all of its processes included.
    pub time_limit: Duration,
}

impl Default for BuildOptions {
    fn default() -> BuildOptions {
        BuildOptions {
            debug: false,
            time_limit: Duration::from_secs(600),
        }
    }
}

/// One message of the compiler about a line of the source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// 1-based.
    pub line: u32,
    /// 1-based; 0 when the compiler gave none.
    pub column: u32,
    /// `error`, `warning` or `note` (Rust: also `help`).
    pub severity: String,
    pub message: String,
}

/// Why a source did not become a program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BuildError {
    /// The compiler rejected the source: what it printed, and the messages about lines of the
    /// source found in it.
    Rejected {
        compiler: String,
        output: String,
        diagnostics: Vec<Diagnostic>,
    },
    /// The compiler ran longer than [`BuildOptions::time_limit`] and was stopped.
    TimedOut { seconds: u64 },
    /// The build could not run (no compiler, no SDK, an unwritable cache).
    Failed(String),
}

impl fmt::Display for BuildError {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::Rejected {
                compiler, output, ..
            } => write!(out, "{compiler} failed to compile it:\n{output}"),
            BuildError::TimedOut { seconds } => write!(
                out,
                "the compiler did not finish within {seconds} s and was stopped"
            ),
            BuildError::Failed(message) => out.write_str(message),
        }
    }
}

impl std::error::Error for BuildError {}

/// Compiles `path` if it is a source file or crate and returns the executable; `None` if it is
/// anything else (an executable to load as it is).
pub fn compile_if_source(path: &Path) -> Result<Option<PathBuf>, String> {
    let options = BuildOptions::default();
    if path.is_dir() && path.join("Cargo.toml").is_file() {
        return build_crate(path, &options).map(Some);
    }
    let language = match path.extension().and_then(|extension| extension.to_str()) {
        Some("c") => Language::C,
        Some("cpp" | "cc" | "cxx") => Language::Cpp,
        _ => return Ok(None),
    };
    let source =
        std::fs::read(path).map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    compile_c(language, path, None, &source, &options)
        .map(Some)
        .map_err(|error| match error {
            BuildError::Rejected {
                compiler, output, ..
            } => format!("{compiler} failed to compile {}:\n{output}", path.display()),
            other => format!("{}: {other}", path.display()),
        })
}

/// Compiles `source` as a whole tenant program in `language` (C/C++: one translation unit with
/// the SDK headers on the include path; Rust: `src/main.rs` of a binary crate that depends on
/// the SDK) in a temporary directory, without network, and returns the cached executable.
pub fn compile_source(
    language: Language,
    source: &[u8],
    options: &BuildOptions,
) -> Result<PathBuf, BuildError> {
    let scratch = ScratchDir::new()?;
    if language == Language::Rust {
        return build_rust_source(&scratch.path, source, options);
    }
    let name = language.source_file_name();
    std::fs::write(scratch.path.join(name), source)
        .map_err(|error| BuildError::Failed(format!("cannot write {name}: {error}")))?;
    // Compiled by its bare name in the scratch directory, so diagnostics name it as the page.
    compile_c(
        language,
        Path::new(name),
        Some(&scratch.path),
        source,
        options,
    )
}

/// The flags of every C/C++ tenant build.
fn c_arguments(options: &BuildOptions) -> Vec<String> {
    // A debug build keeps calls as calls: a line whose code gcc inlined whole (an api.h
    // call) would have no address of its own for a breakpoint.
    let optimization: &[&str] = if options.debug {
        &["-Og", "-g", "-fno-inline"]
    } else {
        &["-O2"]
    };
    optimization
        .iter()
        .chain(&[
            "-static",
            "-march=rv64gc",
            "-mabi=lp64d",
            "-Wall",
            "-fno-diagnostics-color",
            "-fmax-errors=20",
            "-I",
        ])
        .map(|argument| argument.to_string())
        .chain([include_dir().display().to_string()])
        .collect()
}

fn hex(digest: &[u8]) -> String {
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Compiles `source` (the bytes of the file at `path`, hashed for the cache) with the cross
/// compiler of `language`, started in `working_dir` if given.
fn compile_c(
    language: Language,
    path: &Path,
    working_dir: Option<&Path>,
    source: &[u8],
    options: &BuildOptions,
) -> Result<PathBuf, BuildError> {
    let compiler = language.c_compiler();
    let arguments = c_arguments(options);
    let mut hasher = Sha256::new();
    hasher.update(compiler);
    for argument in &arguments {
        hasher.update(argument);
    }
    hasher.update(source);
    // The SDK headers are inputs too: a changed header must rebuild.
    for header in ["api.h", "rvedge.h"] {
        hasher.update(std::fs::read(include_dir().join(header)).unwrap_or_default());
    }
    let hash = hex(&hasher.finalize());
    let cache = cache_dir();
    let output = cache.join(format!("{hash}.elf"));
    if output.is_file() {
        return Ok(output);
    }
    create_dir(&cache)?;
    let partial = std::path::absolute(cache.join(format!("{hash}.{}.tmp", unique_suffix())))
        .map_err(|error| BuildError::Failed(format!("cannot resolve the cache: {error}")))?;
    let mut command = bounded_command(compiler, options.time_limit);
    if let Some(directory) = working_dir {
        command.current_dir(directory);
    }
    command
        .args(&arguments)
        .arg("-o")
        .arg(&partial)
        .arg(path)
        .arg("-lm");
    let result = run_bounded(command, compiler, options.time_limit);
    let result = match result {
        Ok(result) => result,
        Err(error) => {
            let _ = std::fs::remove_file(&partial);
            return Err(error);
        }
    };
    if !result.status.success() {
        let _ = std::fs::remove_file(&partial);
        let text = String::from_utf8_lossy(&result.stderr)
            .trim_end()
            .to_string();
        let name = path.display().to_string();
        return Err(BuildError::Rejected {
            compiler: compiler.into(),
            diagnostics: gcc_diagnostics(&text, &name),
            output: text,
        });
    }
    std::fs::rename(&partial, &output).map_err(|error| {
        BuildError::Failed(format!("cannot store {}: {error}", output.display()))
    })?;
    Ok(output)
}

/// gcc's `file:line:column: severity: message` lines about `file`.
fn gcc_diagnostics(output: &str, file: &str) -> Vec<Diagnostic> {
    output
        .lines()
        .filter_map(|line| {
            let rest = line.strip_prefix(file)?.strip_prefix(':')?;
            let mut fields = rest.splitn(3, ':');
            let line_number: u32 = fields.next()?.trim().parse().ok()?;
            let second = fields.next()?;
            let (column, rest) = match second.trim().parse::<u32>() {
                Ok(column) => (column, fields.next()?),
                // `file:line: error: ...` (no column): the third field holds the message.
                Err(_) => (0, &rest[rest.find(':')? + 1..]),
            };
            let (severity, message) = rest.trim_start().split_once(": ")?;
            let severity = severity.trim_start_matches("fatal ");
            matches!(severity, "error" | "warning" | "note").then(|| Diagnostic {
                line: line_number,
                column,
                severity: severity.into(),
                message: message.trim().into(),
            })
        })
        .collect()
}

const RUST_TARGET: &str = "riscv64gc-unknown-linux-gnu";

/// The cargo of the tenants' toolchain, started in `directory` with the caller's toolchain
/// choice removed, so `rust-toolchain.toml` there (or the default toolchain) picks one that
/// has the riscv64 target; linked statically by the cross gcc.
fn cargo_command(directory: &Path, time_limit: Duration) -> Command {
    let mut command = bounded_command("cargo", time_limit);
    command
        .current_dir(directory)
        .env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("RUSTC")
        .env_remove("CARGO")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env(
            "CARGO_TARGET_RISCV64GC_UNKNOWN_LINUX_GNU_LINKER",
            "riscv64-linux-gnu-gcc",
        )
        .env("RUSTFLAGS", "-C target-feature=+crt-static");
    command
}

fn build_crate(directory: &Path, options: &BuildOptions) -> Result<PathBuf, String> {
    // Absolute, because cargo runs with the crate as its working directory.
    let directory = &std::path::absolute(directory)
        .map_err(|error| format!("cannot resolve {}: {error}", directory.display()))?;
    let manifest = directory.join("Cargo.toml");
    let hash = hex(&Sha256::digest(directory.display().to_string())[..8]);
    let target_dir = cache_dir().join(format!("cargo-{hash}"));
    let mut command = cargo_command(directory, options.time_limit);
    command
        .args([
            "build",
            "--release",
            "--message-format=json-render-diagnostics",
        ])
        .args(["--target", RUST_TARGET])
        .arg("--manifest-path")
        .arg(&manifest)
        .arg("--target-dir")
        .arg(std::path::absolute(&target_dir).unwrap_or(target_dir));
    let result = run_bounded(command, "cargo", options.time_limit)
        .map_err(|error| format!("cannot build {}: {error}", directory.display()))?;
    if !result.status.success() {
        return Err(format!(
            "cargo failed to build {}:\n{}",
            directory.display(),
            String::from_utf8_lossy(&result.stderr).trim_end()
        ));
    }
    built_executable(&result.stdout)
        .ok_or_else(|| format!("cargo built no executable in {}", directory.display()))
}

/// The executable's path from cargo's artifact messages, one JSON object per line.
fn built_executable(stdout: &[u8]) -> Option<PathBuf> {
    String::from_utf8_lossy(stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter_map(|message| message.get("executable")?.as_str().map(PathBuf::from))
        .next_back()
}

/// Builds `source` as `src/main.rs` of a crate written into `scratch` that depends on the SDK
/// by path: nothing but the SDK and std, so `--offline` never needs the network. One shared
/// target directory keeps the SDK built between builds.
fn build_rust_source(
    scratch: &Path,
    source: &[u8],
    options: &BuildOptions,
) -> Result<PathBuf, BuildError> {
    let sdk = std::path::absolute(rust_sdk_dir())
        .map_err(|error| BuildError::Failed(format!("cannot resolve the Rust SDK: {error}")))?;
    if !sdk.join("Cargo.toml").is_file() {
        return Err(BuildError::Failed(format!(
            "no Rust tenant SDK at {} (set RVEDGE_TENANT_SDK)",
            sdk.display()
        )));
    }
    let profile = if options.debug {
        "opt-level = 1\ndebug = true\n"
    } else {
        "opt-level = 3\n"
    };
    // Unwinding stays on: the SDK's hook trampolines catch panics to log them.
    let manifest = format!(
        "[package]\nname = \"tenant\"\nversion = \"0.1.0\"\nedition = \"2021\"\npublish = false\n\n\
         [dependencies]\nrvedge-tenant = {{ path = {:?} }}\n\n\
         [profile.release]\npanic = \"unwind\"\n{profile}\n[workspace]\n",
        sdk.display().to_string()
    );
    let toolchain = sdk
        .parent()
        .and_then(Path::parent)
        .map(|workspace| workspace.join("rust-toolchain.toml"))
        .and_then(|path| std::fs::read(path).ok())
        .unwrap_or_default();
    let mut hasher = Sha256::new();
    for part in [manifest.as_bytes(), &toolchain, source] {
        hasher.update(Sha256::digest(part));
    }
    hash_directory(&mut hasher, &sdk.join("src"));
    let hash = hex(&hasher.finalize());
    let cache = cache_dir();
    let output = cache.join(format!("{hash}.elf"));
    if output.is_file() {
        return Ok(output);
    }
    create_dir(&scratch.join("src"))?;
    let write = |name: &str, bytes: &[u8]| {
        std::fs::write(scratch.join(name), bytes)
            .map_err(|error| BuildError::Failed(format!("cannot write {name}: {error}")))
    };
    write("Cargo.toml", manifest.as_bytes())?;
    write("src/main.rs", source)?;
    if !toolchain.is_empty() {
        write("rust-toolchain.toml", &toolchain)?;
    }
    let target_dir = std::path::absolute(cache.join("cargo-playground"))
        .map_err(|error| BuildError::Failed(format!("cannot resolve the cache: {error}")))?;
    let mut command = cargo_command(scratch, options.time_limit);
    command
        .args(["build", "--release", "--offline", "--message-format=json"])
        .args(["--target", RUST_TARGET])
        .arg("--target-dir")
        .arg(&target_dir)
        .env("CARGO_NET_OFFLINE", "true")
        .env("CARGO_TERM_COLOR", "never");
    let result = run_bounded(command, "cargo", options.time_limit)?;
    let (output_text, diagnostics) = rust_diagnostics(&result.stdout, &result.stderr);
    if !result.status.success() {
        return Err(BuildError::Rejected {
            compiler: "cargo".into(),
            output: output_text,
            diagnostics,
        });
    }
    let built = built_executable(&result.stdout)
        .ok_or_else(|| BuildError::Failed("cargo built no executable".into()))?;
    create_dir(&cache)?;
    let partial = cache.join(format!("{hash}.{}.tmp", unique_suffix()));
    std::fs::copy(&built, &partial)
        .and_then(|_| std::fs::rename(&partial, &output))
        .map_err(|error| {
            BuildError::Failed(format!("cannot store {}: {error}", output.display()))
        })?;
    Ok(output)
}

/// Hashes every file under `directory` by path and contents, in name order.
fn hash_directory(hasher: &mut Sha256, directory: &Path) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(directory)
        .map(|listing| {
            listing
                .filter_map(Result::ok)
                .map(|entry| entry.path())
                .collect()
        })
        .unwrap_or_default();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            hash_directory(hasher, &path);
        } else {
            hasher.update(path.display().to_string());
            hasher.update(Sha256::digest(std::fs::read(&path).unwrap_or_default()));
        }
    }
}

/// rustc's messages (cargo `--message-format=json`): the rendered text of each, and those about
/// a line of `src/main.rs` as diagnostics; anything cargo printed itself follows.
fn rust_diagnostics(stdout: &[u8], stderr: &[u8]) -> (String, Vec<Diagnostic>) {
    let mut text = String::new();
    let mut diagnostics = Vec::new();
    for line in String::from_utf8_lossy(stdout).lines() {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if message["reason"] != "compiler-message" {
            continue;
        }
        let message = &message["message"];
        if let Some(rendered) = message["rendered"].as_str() {
            text.push_str(rendered);
        }
        let severity = message["level"].as_str().unwrap_or("error");
        let primary = message["spans"].as_array().and_then(|spans| {
            spans
                .iter()
                .find(|span| span["is_primary"] == true && span["file_name"] == "src/main.rs")
        });
        if let Some(span) = primary {
            let number = |key: &str| {
                let value = span[key].as_u64().unwrap_or(0);
                u32::try_from(value).unwrap_or(u32::MAX)
            };
            diagnostics.push(Diagnostic {
                line: number("line_start"),
                column: number("column_start"),
                severity: severity.trim_start_matches("failure-").into(),
                message: message["message"].as_str().unwrap_or_default().into(),
            });
        }
    }
    let cargo_text = String::from_utf8_lossy(stderr);
    // cargo's own progress lines say nothing the page needs; its errors do.
    for line in cargo_text.lines().filter(|line| {
        let trimmed = line.trim_start();
        !(trimmed.starts_with("Compiling")
            || trimmed.starts_with("Finished")
            || trimmed.starts_with("Blocking"))
    }) {
        text.push_str(line);
        text.push('\n');
    }
    (text.trim_end().to_string(), diagnostics)
}

/// `program` under coreutils' `timeout`, which runs it in a process group of its own and ends
/// the whole group (compiler drivers start cc1, as, ld, rustc) at the limit: TERM, then KILL
/// two seconds later.
fn bounded_command(program: &str, time_limit: Duration) -> Command {
    let mut command = Command::new("timeout");
    command
        .arg("--kill-after=2")
        .arg(format!("{}", time_limit.as_secs_f64().max(0.1)))
        .arg(program);
    command
}

/// Exit statuses of `timeout` when it stopped the command (TERM worked; KILL was needed).
const TIMEOUT_EXIT: i32 = 124;
const KILLED_EXIT: i32 = 128 + 9;

fn run_bounded(
    mut command: Command,
    program: &str,
    time_limit: Duration,
) -> Result<Output, BuildError> {
    let output = command.output().map_err(|error| {
        BuildError::Failed(format!(
            "cannot run {program} under timeout (install coreutils and the cross compilers, \
             scripts/bootstrap.sh): {error}"
        ))
    })?;
    if matches!(output.status.code(), Some(TIMEOUT_EXIT | KILLED_EXIT)) {
        return Err(BuildError::TimedOut {
            seconds: time_limit.as_secs() + u64::from(time_limit.subsec_nanos() > 0),
        });
    }
    if output.status.code() == Some(127) && output.stdout.is_empty() {
        return Err(BuildError::Failed(format!(
            "cannot run {program} (install it: scripts/bootstrap.sh): {}",
            String::from_utf8_lossy(&output.stderr).trim_end()
        )));
    }
    Ok(output)
}

fn create_dir(path: &Path) -> Result<(), BuildError> {
    std::fs::create_dir_all(path)
        .map_err(|error| BuildError::Failed(format!("cannot create {}: {error}", path.display())))
}

/// A name part no other build of this process or any other uses at the same time.
fn unique_suffix() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A temporary directory for one build, removed with everything in it when dropped.
struct ScratchDir {
    path: PathBuf,
}

impl ScratchDir {
    fn new() -> Result<ScratchDir, BuildError> {
        let path = std::env::temp_dir().join(format!("rvedge-build-{}", unique_suffix()));
        std::fs::create_dir(&path).map_err(|error| {
            BuildError::Failed(format!("cannot create {}: {error}", path.display()))
        })?;
        Ok(ScratchDir { path })
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_files_are_not_sources() {
        assert_eq!(compile_if_source(Path::new("/bin/sh")), Ok(None));
    }

    #[test]
    fn gcc_lines_about_the_source_become_diagnostics() {
        let output = "tenant.cpp: In function 'void on_recv(api::Request)':\n\
                      tenant.cpp:4:5: error: expected ';' before '}' token\n\
                      tenant.cpp:9: warning: no column here\n\
                      other.h:1:1: error: not the source\n\
                      tenant.cpp:12:3: note: in expansion of macro 'X'";
        let diagnostics = gcc_diagnostics(output, "tenant.cpp");
        let summary: Vec<(u32, u32, &str, &str)> = diagnostics
            .iter()
            .map(|d| (d.line, d.column, d.severity.as_str(), d.message.as_str()))
            .collect();
        assert_eq!(
            summary,
            [
                (4, 5, "error", "expected ';' before '}' token"),
                (9, 0, "warning", "no column here"),
                (12, 3, "note", "in expansion of macro 'X'"),
            ]
        );
    }
}

//! Differential tests against qemu-riscv64 and qemu-riscv32.
//!
//! Every guest program from tests/guests/{c,cpp,rust,isa} (built by
//! scripts/build-guests.sh) runs under `qemu-riscv64` and under `rvedge run`,
//! as it runs by default (glibc's string functions on the host) and with the
//! host heap tenants use (`--host-heap`); stdout, stderr and the exit status
//! must be identical. qemu is the reference. Guests under bad/ are not compared (they test failure
//! handling, where rvedge reports differently by design) and bench/ only in
//! a small-scale run. The other build flavours run the same way, each under
//! the qemu of its width with the Zb* extensions on: zb/ (riscv64 Linux with
//! Zba/Zbb/Zbs), rv32/ and rv64-freestanding/ (picolibc, Zba/Zbb/Zbc/Zbs).
//! Zicond, which Debian's qemu predates, is checked by a guest against its
//! definition instead.
//!
//! Missing tools are a failure, not a skip: run scripts/bootstrap.sh.
#![cfg(unix)]

use rvedge_test_support as support;

use support::repo_root;

use std::env;
use std::fmt::Write as _;
use std::fs::{self, File};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

/// Defines one `#[test]` per case and the `CASES` table used by the
/// coverage check. Syntax: `test_name: "dir/guest" [, ["arg", ...]];`
macro_rules! differential_tests {
    ($($test:ident: $guest:literal $(, [$($arg:literal),* $(,)?])?;)*) => {
        const CASES: &[(&str, &[&str])] = &[$(($guest, &[$($($arg),*)?])),*];
        $(
            #[test]
            fn $test() {
                check(stringify!($test), $guest, &[$($($arg),*)?]);
            }
        )*
    };
}

differential_tests! {
    c_hello: "c/hello";
    c_malloc: "c/malloc";
    c_printf_float: "c/printf_float";
    c_qsort_strtod: "c/qsort_strtod";
    c_exit_status: "c/exit_status";
    glibc_string_functions: "glibc/string_functions";
    glibc_allocator: "glibc/allocator";
    c_args_none: "c/args";
    // Arguments as qemu passes them: empty, spaces, non-ASCII, and ones that
    // look like options (everything after PROGRAM belongs to the guest).
    c_args: "c/args", ["one", "two words", "", "ünïcödé ☃", "--flag=value", "-x", "last"];
    cpp_containers: "cpp/containers";
    cpp_exceptions: "cpp/exceptions";
    cpp_json: "cpp/json";
    rust_std_collections: "rust/std_collections";
    rust_serde_roundtrip: "rust/serde_roundtrip";
    rust_catch_unwind: "rust/catch_unwind";
    isa_int: "isa/int";
    isa_atomic: "isa/atomic";
    isa_float: "isa/float";
    isa_compressed: "isa/compressed";
    isa_csr: "isa/csr";
    isa_mid_instruction: "isa/mid_instruction";
    bench_cpubench_small: "bench/cpubench", ["all", "0.01"];

    zb_c_hello: "zb/c/hello";
    zb_c_malloc: "zb/c/malloc";
    zb_c_printf_float: "zb/c/printf_float";
    zb_c_qsort_strtod: "zb/c/qsort_strtod";
    zb_c_exit_status: "zb/c/exit_status";
    zb_c_args: "zb/c/args", ["one", "two words", ""];
    zb_cpp_containers: "zb/cpp/containers";
    zb_cpp_exceptions: "zb/cpp/exceptions";
    zb_cpp_json: "zb/cpp/json";
    zb_bench_cpubench_small: "zb/bench/cpubench", ["all", "0.01"];

    rv32_c_hello: "rv32/c/hello";
    rv32_c_malloc: "rv32/c/malloc";
    rv32_c_printf_float: "rv32/c/printf_float";
    rv32_c_qsort_strtod: "rv32/c/qsort_strtod";
    rv32_c_exit_status: "rv32/c/exit_status";
    rv32_c_args: "rv32/c/args", ["one", "two words", "", "ünïcödé ☃", "--flag=value"];
    rv32_isa_int: "rv32/isa/int";
    rv32_isa_atomic: "rv32/isa/atomic";
    rv32_isa_compressed: "rv32/isa/compressed";
    rv32_isa_csr: "rv32/isa/csr";
    rv32_isa_float: "rv32/isa/float";
    rv32_isa_mid_instruction: "rv32/isa/mid_instruction";
    rv32_bitmanip: "rv32/bitmanip/bitmanip";
    rv32_bench_cpubench_small: "rv32/bench/cpubench", ["all", "0.01"];

    rv64_freestanding_c_hello: "rv64-freestanding/c/hello";
    rv64_freestanding_c_malloc: "rv64-freestanding/c/malloc";
    rv64_freestanding_c_printf_float: "rv64-freestanding/c/printf_float";
    rv64_freestanding_c_qsort_strtod: "rv64-freestanding/c/qsort_strtod";
    rv64_freestanding_c_exit_status: "rv64-freestanding/c/exit_status";
    rv64_freestanding_c_args: "rv64-freestanding/c/args", ["one", "two words", ""];
    rv64_freestanding_isa_int: "rv64-freestanding/isa/int";
    rv64_freestanding_isa_atomic: "rv64-freestanding/isa/atomic";
    rv64_freestanding_isa_compressed: "rv64-freestanding/isa/compressed";
    rv64_freestanding_isa_csr: "rv64-freestanding/isa/csr";
    rv64_freestanding_isa_float: "rv64-freestanding/isa/float";
    rv64_freestanding_isa_mid_instruction: "rv64-freestanding/isa/mid_instruction";
    rv64_freestanding_bitmanip: "rv64-freestanding/bitmanip/bitmanip";
    rv64_freestanding_bench_cpubench_small: "rv64-freestanding/bench/cpubench", ["all", "0.01"];
}

/// Guests that check themselves (qemu cannot run them): they must exit with 0 under rvedge.
const SELF_CHECKED: &[&str] = &[
    "rv32/bitmanip/beyond_qemu",
    "rv64-freestanding/bitmanip/beyond_qemu",
];

/// Zicond (and RV64 ctzw where qemu 7.2 is wrong) against definitions the guest computes in
/// C (exit status = mismatches).
#[test]
fn beyond_qemu_matches_the_definitions() {
    for guest in SELF_CHECKED {
        let program = guests_dir().join(guest);
        let output = Command::new(env!("CARGO_BIN_EXE_rvedge"))
            .arg("run")
            .arg(&program)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run rvedge on {guest}: {e}"));
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && stdout.contains("mismatches: 0"),
            "{guest} under rvedge: {}\n{stdout}{}",
            describe(output.status),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// The qemu that runs `guest`, chosen by the flavour prefix of its path.
fn qemu_command(guest: &str) -> Command {
    const ZB_EXTENSIONS: &str = "zba=true,zbb=true,zbc=true,zbs=true";
    let (qemu, cpu) = if guest.starts_with("rv32/") {
        ("qemu-riscv32", Some(format!("rv32,{ZB_EXTENSIONS}")))
    } else if guest.starts_with("zb/") || guest.starts_with("rv64-freestanding/") {
        ("qemu-riscv64", Some(format!("rv64,{ZB_EXTENSIONS}")))
    } else {
        ("qemu-riscv64", None)
    };
    let mut command = Command::new(qemu);
    if let Some(cpu) = cpu {
        command.arg("-cpu").arg(cpu);
    }
    command
}

/// Every guest source under the compared directories must have a case, so a
/// new guest cannot be forgotten.
#[test]
fn every_guest_has_a_case() {
    let src = repo_root().join("tests/guests");
    let mut missing = Vec::new();
    let mut guests = Vec::new();
    // Each flavour prefix (scripts/build-guests.sh) with the source directories it builds
    // whole.
    let flavours: [(&str, &[&str]); 4] = [
        ("", &["c", "cpp", "isa", "glibc"]),
        ("zb/", &["c", "cpp"]),
        ("rv32/", &["c", "isa", "bitmanip"]),
        ("rv64-freestanding/", &["c", "isa", "bitmanip"]),
    ];
    for (prefix, dirs) in flavours {
        for dir in dirs {
            for path in list(&src.join(dir)) {
                if matches!(path.extension().and_then(|e| e.to_str()), Some("c" | "cpp")) {
                    guests.push(format!("{prefix}{dir}/{}", stem(&path)));
                }
            }
        }
    }
    for path in list(&src.join("rust/src/bin")) {
        if path.extension().and_then(|e| e.to_str()) == Some("rs") {
            guests.push(format!("rust/{}", stem(&path)));
        }
    }
    assert!(
        guests.len() >= 10,
        "found only {guests:?} under {}",
        src.display()
    );
    for g in guests {
        if !CASES.iter().any(|(name, _)| *name == g) && !SELF_CHECKED.contains(&g.as_str()) {
            missing.push(g);
        }
    }
    assert!(
        missing.is_empty(),
        "guests without a differential case in cli/tests/differential.rs: {missing:?}"
    );
}

fn list(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    v.sort();
    v
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .expect("file name")
        .to_string_lossy()
        .into_owned()
}

/// Guests are built by the shared support module; qemu is this test's own reference.
fn guests_dir() -> &'static Path {
    static QEMU: OnceLock<Result<(), String>> = OnceLock::new();
    let tools = ["qemu-riscv64", "qemu-riscv32", "riscv64-unknown-elf-gcc"];
    if let Err(message) = QEMU.get_or_init(|| support::require_tools(&tools)) {
        panic!("differential tests need qemu-riscv64, qemu-riscv32 and riscv64-unknown-elf-gcc: {message}");
    }
    support::guests_dir()
}

/// What one run produced.
struct Run {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    status: ExitStatus,
    stdout_file: PathBuf,
    stderr_file: PathBuf,
}

fn timeout_for(tool: &str) -> Duration {
    // rvedge may be a debug build in `cargo test`, so it gets more time.
    let default = if tool == "qemu" { 120 } else { 600 };
    let secs = env::var("RVEDGE_DIFF_TIMEOUT_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default);
    Duration::from_secs(secs)
}

/// Runs `cmd` with stdin closed and stdout/stderr captured to files under
/// `workdir` (kept for inspection), killing it after a timeout.
fn run(mut cmd: Command, tool: &str, workdir: &Path, what: &str) -> Run {
    let stdout_file = workdir.join(format!("{tool}.stdout"));
    let stderr_file = workdir.join(format!("{tool}.stderr"));
    let create =
        |p: &Path| File::create(p).unwrap_or_else(|e| panic!("creating {}: {e}", p.display()));
    // QEMU_* variables (QEMU_STRACE, QEMU_CPU, ...) would change qemu's behaviour.
    for (key, _) in env::vars_os() {
        if key.to_string_lossy().starts_with("QEMU_") {
            cmd.env_remove(&key);
        }
    }
    cmd.stdin(Stdio::null())
        .stdout(create(&stdout_file))
        .stderr(create(&stderr_file));
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("{what}: cannot start {cmd:?}: {e}"));
    let limit = timeout_for(tool);
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if start.elapsed() > limit => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "{what}: {tool} did not finish within {} s: {cmd:?}",
                    limit.as_secs()
                );
            }
            Ok(None) => thread::sleep(Duration::from_millis(5)),
            Err(e) => panic!("{what}: waiting for {tool}: {e}"),
        }
    };
    let read = |p: &Path| fs::read(p).unwrap_or_else(|e| panic!("reading {}: {e}", p.display()));
    Run {
        stdout: read(&stdout_file),
        stderr: read(&stderr_file),
        status,
        stdout_file,
        stderr_file,
    }
}

fn describe(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(sig)) => format!("killed by signal {sig}"),
        _ => format!("{status:?}"),
    }
}

/// Runs one guest under both and panics with a readable report on any difference.
fn check(case: &str, guest: &str, args: &[&str]) {
    let program = guests_dir().join(guest);
    assert!(
        program.is_file(),
        "{case}: guest binary {} was not built by scripts/build-guests.sh",
        program.display()
    );
    let workdir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("differential")
        .join(case);
    fs::create_dir_all(&workdir).unwrap_or_else(|e| panic!("creating {}: {e}", workdir.display()));
    let what = format!("{case} ({guest} {args:?})");

    let mut qemu = qemu_command(guest);
    qemu.arg(&program).args(args);
    let expected = run(qemu, "qemu", &workdir, &what);

    for configuration in RVEDGE_CONFIGURATIONS {
        let mut rvedge = Command::new(env!("CARGO_BIN_EXE_rvedge"));
        rvedge
            .arg("run")
            .args(configuration.flags)
            .arg(&program)
            .args(args);
        let actual = run(rvedge, configuration.name, &workdir, &what);
        compare(guest, args, configuration, &expected, &actual);
    }
}

/// One way of running guests under rvedge.
struct Configuration {
    name: &'static str,
    flags: &'static [&'static str],
}

const RVEDGE_CONFIGURATIONS: &[Configuration] = &[
    Configuration {
        name: "rvedge",
        flags: &[],
    },
    Configuration {
        name: "rvedge-host-heap",
        flags: &["--host-heap"],
    },
];

/// Panics with a readable report if `actual` differs from qemu's `expected`.
fn compare(
    guest: &str,
    args: &[&str],
    configuration: &Configuration,
    expected: &Run,
    actual: &Run,
) {
    let mut report = String::new();
    compare_stream(&mut report, "stdout", &expected.stdout, &actual.stdout);
    compare_stream(&mut report, "stderr", &expected.stderr, &actual.stderr);
    if expected.status.code() != actual.status.code()
        || expected.status.signal() != actual.status.signal()
    {
        let _ = writeln!(
            report,
            "exit status differs: qemu {}, rvedge {}",
            describe(expected.status),
            describe(actual.status)
        );
    }
    if !report.is_empty() {
        panic!(
            "guest {guest} with args {args:?} behaves differently under rvedge {:?} than under qemu:\n\
             {report}full outputs:\n  {}\n  {}\n  {}\n  {}",
            configuration.flags,
            expected.stdout_file.display(),
            actual.stdout_file.display(),
            expected.stderr_file.display(),
            actual.stderr_file.display(),
        );
    }
}

/// Appends to `report` where `actual` first departs from `expected`.
fn compare_stream(report: &mut String, stream: &str, expected: &[u8], actual: &[u8]) {
    if expected == actual {
        return;
    }
    let exp: Vec<&[u8]> = expected.split(|&b| b == b'\n').collect();
    let act: Vec<&[u8]> = actual.split(|&b| b == b'\n').collect();
    let first = exp
        .iter()
        .zip(&act)
        .position(|(a, b)| a != b)
        .unwrap_or(exp.len().min(act.len()));
    let show = |lines: &[&[u8]], i: usize| -> String {
        match lines.get(i) {
            Some(l) => {
                let text = String::from_utf8_lossy(l);
                if text.chars().count() > 300 {
                    format!("{:?}...", text.chars().take(300).collect::<String>())
                } else {
                    format!("{text:?}")
                }
            }
            None => "<end of output>".to_string(),
        }
    };
    let _ = writeln!(
        report,
        "{stream} differs (qemu: {} bytes, rvedge: {} bytes); first difference at line {}:",
        expected.len(),
        actual.len(),
        first + 1
    );
    if first > 0 {
        let _ = writeln!(report, "  both   : {}", show(&exp, first - 1));
    }
    let _ = writeln!(report, "  qemu   : {}", show(&exp, first));
    let _ = writeln!(report, "  rvedge : {}", show(&act, first));
}

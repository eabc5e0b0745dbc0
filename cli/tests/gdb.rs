//! `--gdb PORT`: gdb-multiarch debugs a program under `rvedge run` and a tenant under
//! `rvedge request` through the runtime's GDB remote-protocol stub: break on a function, step,
//! print a variable and a floating-point register, continue to the end.

use rvedge_test_support as support;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, Command, Stdio};

/// Builds the C file `source` with debug information into `output`.
fn build(source: &Path, output: &Path) {
    support::require_tools(&["riscv64-linux-gnu-gcc", "gdb-multiarch"])
        .unwrap_or_else(|message| panic!("{message}"));
    let include = support::repo_root().join("tenants/include");
    let status = Command::new("riscv64-linux-gnu-gcc")
        .args(["-g", "-O0", "-static", "-I"])
        .arg(&include)
        .arg("-o")
        .arg(output)
        .arg(source)
        .status()
        .expect("the cross compiler runs");
    assert!(status.success(), "compiling {} failed", source.display());
}

/// Builds the C file `source` as a freestanding RV32 program with debug information, through
/// the build scripts' own `rv32` flavour (picolibc, ilp32d).
fn build_rv32(source: &Path, output: &Path) {
    support::require_tools(&["riscv64-unknown-elf-gcc", "gdb-multiarch"])
        .unwrap_or_else(|message| panic!("{message}"));
    let library = support::repo_root().join("scripts/lib/riscv-build.sh");
    let script = "set -e; . \"$1\"; riscv_build_init gdb-test; riscv_flavour rv32; \
                  riscv_build_start c \"$2\" \"$3\" -g -O0 -I \"$4\"; riscv_build_wait";
    let status = Command::new("bash")
        .args(["-c", script, "build-rv32"])
        .arg(&library)
        .arg(source)
        .arg(output)
        .arg(support::repo_root().join("tenants/include"))
        .status()
        .expect("bash runs");
    assert!(
        status.success(),
        "compiling {} for RV32 failed",
        source.display()
    );
}

fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rvedge-gdb-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    dir
}

/// A port on 127.0.0.1 that was free a moment ago.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a port");
    listener.local_addr().expect("its address").port()
}

/// Starts `rvedge arguments...` and waits until it says it waits for a debugger; returns it
/// and the rest of its stderr.
#[expect(
    clippy::zombie_processes,
    reason = "the child is returned to be waited on; a failed read panics the test"
)]
fn start_waiting(arguments: &[&str]) -> (Child, BufReader<ChildStderr>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rvedge"))
        .args(arguments)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("rvedge starts");
    let mut stderr = BufReader::new(child.stderr.take().expect("piped stderr"));
    let mut line = String::new();
    loop {
        line.clear();
        let read = stderr.read_line(&mut line).expect("rvedge's stderr");
        if read == 0 {
            let status = child.wait().expect("rvedge ended");
            panic!("rvedge ended ({status}) before waiting for a debugger");
        }
        if line.contains("waiting for a debugger") {
            return (child, stderr);
        }
    }
}

/// Runs gdb-multiarch in batch mode on 127.0.0.1:`port` with `commands`, with the symbols of
/// `program`; its output.
fn gdb(port: u16, program: &Path, commands: &[&str]) -> String {
    let mut command = Command::new("gdb-multiarch");
    command.args(["-batch", "-nx", "-ex", "set pagination off"]);
    command.args(["-ex", &format!("target remote 127.0.0.1:{port}")]);
    for line in commands {
        command.args(["-ex", line]);
    }
    let output = command.arg(program).output().expect("gdb-multiarch runs");
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The child's exit status and stdout once it ended.
fn finish(mut child: Child, mut stderr: BufReader<ChildStderr>) -> (Option<i32>, String, String) {
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .expect("piped stdout")
        .read_to_string(&mut stdout)
        .expect("rvedge's stdout");
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).expect("rvedge's stderr");
    let status = child.wait().expect("rvedge ends").code();
    (status, stdout, rest)
}

fn assert_contains(text: &str, expected: &str) {
    assert!(text.contains(expected), "expected {expected:?} in:\n{text}");
}

#[test]
fn gdb_debugs_a_program_under_rvedge_run() {
    let dir = scratch_dir("run");
    let source = dir.join("squares.c");
    std::fs::write(
        &source,
        "#include <stdio.h>\n\
         int square(int value) {\n\
             int result = value * value;\n\
             return result;\n\
         }\n\
         int main(void) {\n\
             double half = 0.5;\n\
             int total = 0;\n\
             for (int i = 1; i <= 3; i++) total += square(i);\n\
             printf(\"total=%d half=%.1f\\n\", total, half);\n\
             return total;\n\
         }\n",
    )
    .expect("write the program");
    let program = dir.join("squares");
    build(&source, &program);
    let port = free_port();
    let (child, stderr) = start_waiting(&[
        "run",
        "--gdb",
        &port.to_string(),
        &program.display().to_string(),
    ]);
    let output = gdb(
        port,
        &program,
        &[
            "break square",
            "continue",
            "print value",
            "next",
            "print result",
            // The loaded 0.5 in a floating-point register, read through the stub.
            "finish",
            "info registers fcsr",
            "delete",
            "continue",
        ],
    );
    assert_contains(&output, "Breakpoint 1, square (value=1)");
    assert_contains(&output, "$1 = 1");
    assert_contains(&output, "$2 = 1");
    assert_contains(&output, "fcsr");
    assert_contains(&output, "exited with code 016");
    let (status, stdout, _) = finish(child, stderr);
    assert_eq!(status, Some(14));
    assert_eq!(stdout, "total=14 half=0.5\n");
}

#[test]
fn gdb_debugs_a_tenant_under_rvedge_request() {
    let dir = scratch_dir("request");
    let program = dir.join("debug-me");
    build(
        &support::repo_root().join("tenants/examples/debug-me.c"),
        &program,
    );
    debug_the_tenant(&dir, &program);
}

/// An RV32 tenant: GDB is told the target is riscv:rv32 and gets 32-bit registers.
#[test]
fn gdb_debugs_an_rv32_tenant_under_rvedge_request() {
    let dir = scratch_dir("request-rv32");
    let program = dir.join("debug-me");
    build_rv32(
        &support::repo_root().join("tenants/examples/debug-me.c"),
        &program,
    );
    debug_the_tenant(&dir, &program);
}

/// Debugs `program` (built from debug-me.c, in `dir`) as a tenant under `rvedge request`.
fn debug_the_tenant(dir: &Path, program: &Path) {
    let tenants = dir.join("tenants.json");
    std::fs::write(&tenants, r#"{ "debug": { "filename": "debug-me" } }"#)
        .expect("write the configuration");
    let port = free_port();
    let (child, stderr) = start_waiting(&[
        "request",
        "--gdb",
        &port.to_string(),
        "--tenants",
        &tenants.display().to_string(),
        "http://debug/",
    ]);
    // The exchange stops before on_recv's first instruction; breakpoints and steps go
    // through the tenant's code (and the host calls it makes) to the exchange's end.
    let output = gdb(
        port,
        program,
        &[
            "break compute",
            "continue",
            "next",
            "print doubled",
            "print $pc",
            "delete",
            "continue",
        ],
    );
    assert_contains(&output, "Breakpoint 1, compute (count=20)");
    assert_contains(&output, "$1 = 40");
    assert_contains(&output, "<compute+");
    assert_contains(&output, "exited normally");
    let (status, stdout, _) = finish(child, stderr);
    assert_eq!(status, Some(0));
    assert!(stdout.starts_with("HTTP/1.1 200"), "{stdout}");
    assert!(stdout.ends_with("\n\n41"), "{stdout}");
}

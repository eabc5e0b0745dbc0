//! `rvedge run` options: instruction and memory limits, statistics, and the exit statuses of
//! guests that fault or cannot load.

use rvedge_test_support as support;

use std::process::{Command, Output};

fn rvedge(arguments: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rvedge"))
        .arg("run")
        .args(arguments)
        .output()
        .expect("rvedge runs")
}

fn guest_path(name: &str) -> String {
    support::guests_dir().join(name).display().to_string()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn max_instructions_stops_a_looping_guest_with_status_124() {
    let output = rvedge(&[
        "--max-instructions",
        "1000000",
        &guest_path("bad/infinite_loop"),
    ]);
    assert_eq!(output.status.code(), Some(124));
    assert!(
        stderr(&output).contains("instruction limit reached"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn max_memory_caps_what_the_guest_can_allocate() {
    let output = rvedge(&["--max-memory", "24MB", &guest_path("bad/memory_bomb")]);
    assert_eq!(output.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mebibytes: u64 = stdout
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("a count");
    assert!(mebibytes < 24, "{stdout}");
}

#[test]
fn stats_report_instructions_mips_and_peak_memory() {
    let output = rvedge(&["--stats", &guest_path("c/hello")]);
    assert_eq!(output.status.code(), Some(0));
    let stats = stderr(&output);
    let instructions: u64 = stats
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no instruction count in {stats:?}"));
    assert!(instructions > 1000, "{stats}");
    assert!(
        stats.contains("MIPS") && stats.contains("peak guest memory"),
        "{stats}"
    );
}

#[test]
fn faults_end_with_the_signal_status_a_shell_would_show() {
    for (guest, status, message) in [
        (
            "bad/load_unmapped",
            139,
            "load from unmapped or unreadable address 0x7000000000",
        ),
        (
            "bad/illegal_instruction",
            132,
            "illegal instruction 0x00000000",
        ),
    ] {
        let output = rvedge(&[&guest_path(guest)]);
        assert_eq!(output.status.code(), Some(status), "{guest}");
        assert!(
            stderr(&output).contains(message),
            "{guest}: {}",
            stderr(&output)
        );
    }
}

#[test]
fn a_file_that_is_not_a_program_is_refused_with_a_reason() {
    let this_file = support::repo_root().join("cli/tests/run_limits.rs");
    let output = rvedge(&[this_file.to_str().expect("a UTF-8 path")]);
    assert_eq!(output.status.code(), Some(126));
    assert!(
        stderr(&output).contains("not an ELF file"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_bad_size_is_refused_with_a_reason() {
    let output = rvedge(&["--max-memory", "lots", &guest_path("c/hello")]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("invalid size"),
        "{}",
        stderr(&output)
    );
}

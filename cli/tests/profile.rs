//! `--profile` of `rvedge run` and `rvedge request`: guest instructions and pages first written
//! per function, summing to what `--stats` counts.

use rvedge_test_support as support;

use std::process::{Command, Output};

fn rvedge(arguments: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rvedge"))
        .args(arguments)
        .output()
        .expect("rvedge runs")
}

/// The profile's rows: (instructions, pages, function) per line after the header.
fn profile_rows(stderr: &str, prefix: &str) -> Vec<(u64, u64, String)> {
    stderr
        .lines()
        .filter_map(|line| line.strip_prefix(prefix))
        .filter_map(|row| {
            let mut fields = row.split_whitespace();
            let instructions = fields.next()?.parse().ok()?;
            let _share = fields.next()?;
            let pages = fields.next()?.parse().ok()?;
            Some((instructions, pages, fields.collect::<Vec<_>>().join(" ")))
        })
        .collect()
}

/// The total the profile's first line states.
fn stated_total(stderr: &str) -> u64 {
    let line = stderr
        .lines()
        .find(|line| line.contains("profile: "))
        .unwrap_or_else(|| panic!("no profile in {stderr}"));
    line.split("profile: ")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn run_profile_names_functions_and_adds_up_to_the_instruction_count() {
    let guest = support::guests_dir().join("glibc/string_functions");
    let output = rvedge(&["run", "--profile", "--stats", &guest.display().to_string()]);
    assert_eq!(output.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let rows = profile_rows(&stderr, "rvedge: ");
    let function = |name: &str| rows.iter().find(|(_, _, function)| function == name);
    assert!(function("main").is_some_and(|row| row.0 > 1000), "{stderr}");
    assert!(function("memcpy (host)").is_some(), "{stderr}");
    // The rows cover every instruction --stats counts (the tail is summed in one row).
    let counted: u64 = rows.iter().map(|row| row.0).sum();
    let stats: u64 = stderr
        .lines()
        .find_map(|line| {
            line.strip_prefix("rvedge: ")?
                .split(" instructions in")
                .next()?
                .parse()
                .ok()
        })
        .expect("--stats line");
    assert_eq!(counted, stats);
    assert_eq!(stated_total(&stderr), stats);
}

#[test]
fn a_stripped_program_is_profiled_by_address() {
    support::require_tools(&["riscv64-linux-gnu-strip"]).unwrap();
    let stripped = std::env::temp_dir().join(format!("rvedge-profile-{}", std::process::id()));
    let status = Command::new("riscv64-linux-gnu-strip")
        .arg("-o")
        .arg(&stripped)
        .arg(support::guests_dir().join("c/hello"))
        .status()
        .unwrap();
    assert!(status.success());
    let output = rvedge(&["run", "--profile", &stripped.display().to_string()]);
    let _ = std::fs::remove_file(&stripped);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let rows = profile_rows(&stderr, "rvedge: ");
    assert!(!rows.is_empty(), "{stderr}");
    assert!(
        rows.iter()
            .all(|(_, _, name)| name.starts_with("0x") || name.ends_with("more functions)")),
        "{stderr}"
    );
}

#[test]
fn request_profile_covers_both_forks_of_the_seed() {
    let tenants = support::tenants_dir();
    let config = std::env::temp_dir().join(format!("rvedge-profile-{}.json", std::process::id()));
    std::fs::write(
        &config,
        format!(
            r#"{{ "hello": {{ "filename": "{}" }} }}"#,
            tenants.join("hello").display()
        ),
    )
    .unwrap();
    let output = rvedge(&[
        "request",
        "--tenants",
        &config.display().to_string(),
        "--stats",
        "--profile",
        "http://hello/",
    ]);
    let _ = std::fs::remove_file(&config);
    assert_eq!(output.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let rows = profile_rows(&stderr, "* ");
    let names: Vec<&str> = rows.iter().map(|row| row.2.as_str()).collect();
    assert!(names.contains(&"on_recv"), "{stderr}");
    assert!(names.contains(&"malloc (host)"), "{stderr}");
    // The forge callback's JSON runs in the backend fork.
    assert!(
        names.iter().any(|name| name.starts_with("nlohmann::")),
        "{stderr}"
    );
    let stats_line = stderr
        .lines()
        .find(|line| line.starts_with("* stats: "))
        .expect("--stats line");
    // The budget counts the price of tenant calls too; the profile what ran.
    let numbers: Vec<u64> = stats_line["* stats: ".len()..]
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|word| word.parse().ok())
        .take(2)
        .collect();
    let (used, charged) = (numbers[0], numbers[1]);
    assert!(charged > 0, "{stats_line}");
    assert_eq!(stated_total(&stderr), used - charged);
}

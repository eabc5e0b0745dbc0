//! docs/abi.md, the runtime and the SDKs agree: the tables of the doc ("Header sets", "Hooks",
//! "Calls", "Error codes", "Request error kinds") are read and compared with the runtime's
//! enums and constants, the C header's `#define`s and the Rust SDK's `pub const`s.

use std::collections::BTreeMap;

use rvedge::runtime::abi::{errno, Call, Decision, HeaderSet, Hook};
use rvedge::runtime::ErrorKind;

use rvedge_test_support::repo_root;

fn read(relative_path: &str) -> String {
    let path = repo_root().join(relative_path);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()))
}

/// The rows of the first table under the heading `## {section}` of `markdown`, as trimmed
/// cells without backticks; the header row and the separator are left out.
fn table(markdown: &str, section: &str) -> Vec<Vec<String>> {
    let heading = format!("## {section}");
    let mut lines = markdown.lines().skip_while(|line| line.trim() != heading);
    assert!(
        lines.next().is_some(),
        "docs/abi.md has no section \"{heading}\""
    );
    let rows: Vec<Vec<String>> = lines
        .take_while(|line| !line.starts_with("## "))
        .skip_while(|line| !line.trim_start().starts_with('|'))
        .take_while(|line| line.trim_start().starts_with('|'))
        .map(|line| {
            let line = line.trim().trim_start_matches('|').trim_end_matches('|');
            line.split('|')
                .map(|cell| cell.trim().replace('`', ""))
                .collect()
        })
        .collect();
    assert!(
        rows.len() > 2,
        "docs/abi.md section \"{section}\" has no table rows"
    );
    rows.into_iter().skip(2).collect()
}

/// `(name, number)` from the columns `name_column` and `number_column` of a doc table.
fn numbered_rows(section: &str, name_column: usize, number_column: usize) -> BTreeMap<String, u64> {
    let mut rows = BTreeMap::new();
    for row in table(&read("docs/abi.md"), section) {
        let name = row[name_column].clone();
        let number = row[number_column].parse().unwrap_or_else(|_| {
            panic!(
                "docs/abi.md \"{section}\": row {name:?}: {:?} is not a number",
                row[number_column]
            )
        });
        assert!(
            rows.insert(name.clone(), number).is_none(),
            "docs/abi.md \"{section}\": {name} is listed twice"
        );
    }
    rows
}

fn doc_calls() -> BTreeMap<String, u64> {
    numbered_rows("Calls", 1, 0)
}

fn doc_header_sets() -> BTreeMap<String, u64> {
    numbered_rows("Header sets", 1, 0)
}

fn doc_hooks() -> BTreeMap<String, u64> {
    numbered_rows("Hooks", 1, 0)
}

fn doc_errnos() -> BTreeMap<String, u64> {
    numbered_rows("Error codes", 0, 1)
}

/// Compares what `source` says with `reference` (usually a table of the doc): every name in
/// both, with the same number. Returns one sentence per mismatch.
fn check(
    reference: &str,
    source: &str,
    expected: &BTreeMap<String, u64>,
    found: &BTreeMap<String, u64>,
) -> Vec<String> {
    let mut problems = Vec::new();
    for (name, number) in expected {
        match found.get(name) {
            None => problems.push(format!(
                "{name} = {number} ({reference}) is missing from {source}"
            )),
            Some(other) if other != number => problems.push(format!(
                "{name} is {number} in {reference} but {other} in {source}"
            )),
            Some(_) => {}
        }
    }
    for (name, number) in found {
        if !expected.contains_key(name) {
            problems.push(format!(
                "{source} has {name} = {number}, which {reference} does not list"
            ));
        }
    }
    problems
}

/// Fails listing every problem the checks found.
fn agree(problems: impl IntoIterator<Item = Vec<String>>) {
    let problems: Vec<String> = problems.into_iter().flatten().collect();
    assert!(
        problems.is_empty(),
        "{} disagreement(s):\n  {}",
        problems.len(),
        problems.join("\n  ")
    );
}

const CALLS: &str = "docs/abi.md \"Calls\"";
const HEADER_SETS: &str = "docs/abi.md \"Header sets\"";
const HOOKS: &str = "docs/abi.md \"Hooks\"";
const ERROR_CODES: &str = "docs/abi.md \"Error codes\"";

/// `(name(), number())` of every value of a runtime enum.
fn runtime_rows<T: Copy>(
    all: &[T],
    name: fn(T) -> &'static str,
    number: fn(T) -> u64,
) -> BTreeMap<String, u64> {
    all.iter()
        .map(|&value| (name(value).to_string(), number(value)))
        .collect()
}

fn upper(rows: &BTreeMap<String, u64>, prefix: &str) -> BTreeMap<String, u64> {
    rows.iter()
        .map(|(name, &number)| (format!("{prefix}{}", name.to_ascii_uppercase()), number))
        .collect()
}

/// The entries of `all` that `keep` accepts.
fn select(all: &BTreeMap<String, u64>, keep: impl Fn(&str, u64) -> bool) -> BTreeMap<String, u64> {
    all.iter()
        .filter(|(name, &number)| keep(name, number))
        .map(|(name, &number)| (name.clone(), number))
        .collect()
}

#[test]
fn calls_agree_with_the_runtime() {
    let doc = doc_calls();
    let by_number: Vec<String> = doc
        .iter()
        .filter(|&(name, &number)| Call::from_number(number).map(Call::name) != Some(name))
        .map(|(name, number)| format!("Call::from_number({number}) is not {name}"))
        .collect();
    agree([
        check(
            CALLS,
            "runtime::abi::Call",
            &doc,
            &runtime_rows(Call::ALL, Call::name, Call::number),
        ),
        by_number,
    ]);
}

#[test]
fn header_sets_agree_with_the_runtime() {
    agree([check(
        HEADER_SETS,
        "runtime::abi::HeaderSet",
        &doc_header_sets(),
        &runtime_rows(HeaderSet::ALL, HeaderSet::name, HeaderSet::number),
    )]);
}

#[test]
fn hooks_agree_with_the_runtime() {
    agree([check(
        HOOKS,
        "runtime::abi::Hook",
        &doc_hooks(),
        &runtime_rows(Hook::ALL, Hook::name, Hook::number),
    )]);
}

#[test]
fn error_codes_agree_with_the_runtime() {
    let constants = [
        ("EPERM", errno::EPERM),
        ("ENOENT", errno::ENOENT),
        ("E2BIG", errno::E2BIG),
        ("EINVAL", errno::EINVAL),
        ("ENOSYS", errno::ENOSYS),
    ];
    let typed: BTreeMap<String, u64> = constants
        .iter()
        .map(|&(name, value)| (name.to_string(), value as u64))
        .collect();
    // The list above is written by hand; the module's source says whether it is complete.
    let source = read("emulator/src/runtime/abi.rs");
    let module = source
        .split("pub mod errno {")
        .nth(1)
        .and_then(|rest| rest.split('}').next())
        .expect("emulator/src/runtime/abi.rs has `pub mod errno { … }`");
    agree([
        check(ERROR_CODES, "runtime::abi::errno", &doc_errnos(), &typed),
        check(
            ERROR_CODES,
            "emulator/src/runtime/abi.rs (mod errno)",
            &doc_errnos(),
            &rust_constants(module, "i64"),
        ),
    ]);
}

#[test]
fn request_error_kinds_agree_with_the_runtime() {
    let doc: Vec<String> = table(&read("docs/abi.md"), "Request error kinds")
        .into_iter()
        .map(|row| row[0].clone())
        .collect();
    let runtime: Vec<String> = ErrorKind::ALL
        .iter()
        .map(|kind| kind.name().to_string())
        .collect();
    assert_eq!(
        doc, runtime,
        "docs/abi.md \"Request error kinds\" (left) and ErrorKind::ALL (right) disagree"
    );
    for kind in ErrorKind::ALL {
        assert_eq!(ErrorKind::from_name(kind.name()), Some(*kind));
        assert_eq!(kind.to_string(), kind.name());
    }
}

/// Every `#define RVEDGE_<NAME> <number>` of the C header, by `RVEDGE_<NAME>`.
fn c_defines() -> BTreeMap<String, u64> {
    let mut defines = BTreeMap::new();
    for line in read("tenants/include/rvedge.h").lines() {
        let mut words = line.split_whitespace();
        let (Some("#define"), Some(name), Some(value), None) =
            (words.next(), words.next(), words.next(), words.next())
        else {
            continue;
        };
        if let (true, Ok(number)) = (name.starts_with("RVEDGE_"), value.parse::<u64>()) {
            defines.insert(name.to_string(), number);
        }
    }
    defines
}

/// Every `pub const NAME: {type} = N;` in `source`, by `NAME`.
fn rust_constants(source: &str, type_name: &str) -> BTreeMap<String, u64> {
    let mut constants = BTreeMap::new();
    for line in source.lines() {
        let Some(rest) = line.trim().strip_prefix("pub const ") else {
            continue;
        };
        let Some((name, value)) = rest.split_once(&format!(": {type_name} = ")) else {
            continue;
        };
        let Some(value) = value.strip_suffix(';') else {
            continue;
        };
        if let Ok(number) = value.trim().parse::<u64>() {
            constants.insert(name.trim().to_string(), number);
        }
    }
    constants
}

#[test]
fn the_c_header_agrees_with_the_doc() {
    const SOURCE: &str = "tenants/include/rvedge.h";
    let defines = c_defines();
    // Calls and hooks have prefixes, so extra defines are caught too; header sets, error codes
    // and forge decisions do not, so the expected names are looked up.
    let starting = |prefix: &str| select(&defines, |name, _| name.starts_with(prefix));
    let named =
        |expected: &BTreeMap<String, u64>| select(&defines, |name, _| expected.contains_key(name));
    let sets = upper(&doc_header_sets(), "RVEDGE_");
    let errnos = upper(&doc_errnos(), "RVEDGE_");
    let decisions = upper(
        &runtime_rows(Decision::ALL, Decision::name, Decision::number),
        "RVEDGE_",
    );
    agree([
        check(
            CALLS,
            SOURCE,
            &upper(&doc_calls(), "RVEDGE_CALL_"),
            &starting("RVEDGE_CALL_"),
        ),
        check(
            HOOKS,
            SOURCE,
            &upper(&doc_hooks(), "RVEDGE_HOOK_"),
            &starting("RVEDGE_HOOK_"),
        ),
        check(HEADER_SETS, SOURCE, &sets, &named(&sets)),
        check(ERROR_CODES, SOURCE, &errnos, &named(&errnos)),
        check(
            "runtime::abi::Decision",
            SOURCE,
            &decisions,
            &named(&decisions),
        ),
    ]);
}

#[test]
fn the_rust_sdk_agrees_with_the_doc() {
    const SOURCE: &str = "tenants/rust/rvedge-tenant/src/abi.rs";
    let constants = rust_constants(&read(SOURCE), "u64");
    let named = |expected: &BTreeMap<String, u64>| {
        select(&constants, |name, _| expected.contains_key(name))
    };
    let sets = upper(&doc_header_sets(), "");
    let errnos = upper(&doc_errnos(), "");
    agree([
        // Calls are the constants numbered from 500, hooks the ones named HOOK_*.
        check(
            CALLS,
            SOURCE,
            &upper(&doc_calls(), ""),
            &select(&constants, |_, number| number >= 500),
        ),
        check(
            HOOKS,
            SOURCE,
            &upper(&doc_hooks(), "HOOK_"),
            &select(&constants, |name, _| name.starts_with("HOOK_")),
        ),
        check(HEADER_SETS, SOURCE, &sets, &named(&sets)),
        check(ERROR_CODES, SOURCE, &errnos, &named(&errnos)),
    ]);
}

/// The parsers themselves, on rows that are known to be there: first and last rows of each
/// table, and defines and constants of each kind.
#[test]
fn the_parsers_read_first_and_last_rows() {
    let calls = doc_calls();
    assert_eq!(calls.get("wait_for_requests"), Some(&500));
    assert_eq!(calls.get("state_restore"), Some(&551));
    assert_eq!(doc_header_sets().get("req"), Some(&0));
    assert_eq!(doc_header_sets().get("beresp"), Some(&3));
    assert_eq!(doc_hooks().get("on_recv"), Some(&0));
    assert_eq!(doc_hooks().get("on_resume_update"), Some(&6));
    assert_eq!(doc_errnos().get("EPERM"), Some(&1));
    assert_eq!(doc_errnos().get("ENOSYS"), Some(&38));
    let defines = c_defines();
    assert_eq!(defines.get("RVEDGE_CALL_WAIT_FOR_REQUESTS"), Some(&500));
    assert_eq!(defines.get("RVEDGE_HOOK_ON_RECV"), Some(&0));
    assert_eq!(defines.get("RVEDGE_BERESP"), Some(&3));
    let constants = rust_constants(&read("tenants/rust/rvedge-tenant/src/abi.rs"), "u64");
    assert_eq!(constants.get("STATE_RESTORE"), Some(&551));
    assert_eq!(constants.get("HOOK_ON_RESUME_UPDATE"), Some(&6));
    assert_eq!(constants.get("ENOSYS"), Some(&38));
}

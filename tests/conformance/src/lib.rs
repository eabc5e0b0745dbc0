//! The conformance table: requests to the example tenants and what every host must answer.
//!
//! `tenants.json` is an ordinary tenant configuration whose filenames are relative to the
//! directory `scripts/build-tenants.sh` builds into; `cases.json` lists the cases. A host runs
//! each case's request through the named tenant (with [`rvedge::runtime::EchoOrigin`]'s
//! behaviour behind it), turns what came back into an [`Observed`] response and calls
//! [`Expect::check`]. Failed requests are answered as [`rvedge::runtime::error_response`] does:
//! 503 with the error kind in `x-rvedge-error`.
//!
//! The table runs in every [`Configuration`] of the tenants ([`configurations`]): the
//! riscv64 Linux builds, and the C examples built freestanding for RV32 and RV64.

use serde::Deserialize;
use serde_json::Value;

use rvedge::runtime::{
    error_response, exchange, EchoOrigin, JsonRequest, ProgramDirectory, TenantBundle, Tenants,
    ERROR_HEADER,
};

/// The tenant configuration of the table, with the riscv64 Linux builds.
pub const TENANTS_JSON: &str = include_str!("../tenants.json");

/// The example tenants written in C that `scripts/build-tenants.sh` also builds as
/// freestanding picolibc programs: every `tenants/examples/*.c` but `leak.c` (which checks
/// Linux mmap and brk hygiene).
pub const FREESTANDING_EXAMPLES: &[&str] = &[
    "ab-split",
    "debug-me",
    "illegal",
    "loop",
    "memory-bomb",
    "origin",
    "rewrite",
    "stack-overflow",
    "wild-pointer",
    "xml",
];

/// One set of builds of the table's tenants.
#[derive(Clone, Debug)]
pub struct Configuration {
    /// Says which builds, for messages.
    pub name: &'static str,
    /// [`TENANTS_JSON`] with each tenant's `filename` naming the build to run, relative to
    /// the directory `scripts/build-tenants.sh` builds into (as in `TENANTS_JSON`).
    pub tenants_json: String,
}

/// Every configuration the table must pass in, the riscv64 Linux builds first; then the
/// [`FREESTANDING_EXAMPLES`] built for RV32 (`rv32/`) and for RV64 (`rv64-freestanding/`),
/// each with the other tenants (C++, Rust, `leak`) kept at their Linux builds. A host runs the
/// whole table once per configuration.
pub fn configurations() -> Vec<Configuration> {
    let mut configurations = vec![Configuration {
        name: "riscv64 Linux builds",
        tenants_json: TENANTS_JSON.to_owned(),
    }];
    for (name, prefix) in [
        ("RV32 builds of the C examples", "rv32/"),
        (
            "freestanding RV64 builds of the C examples",
            "rv64-freestanding/",
        ),
    ] {
        configurations.push(Configuration {
            name,
            tenants_json: with_builds_under(prefix),
        });
    }
    configurations
}

/// [`TENANTS_JSON`] with the filenames of the freestanding examples under `prefix`.
fn with_builds_under(prefix: &str) -> String {
    let mut tenants: serde_json::Map<String, Value> =
        serde_json::from_str(TENANTS_JSON).expect("tenants.json is a JSON object");
    for entry in tenants.values_mut() {
        let Some(filename) = entry.get_mut("filename") else {
            continue;
        };
        if let Some(name) = filename
            .as_str()
            .filter(|name| FREESTANDING_EXAMPLES.contains(name))
        {
            *filename = Value::String(format!("{prefix}{name}"));
        }
    }
    serde_json::to_string_pretty(&tenants).expect("a JSON object serializes")
}

const CASES_JSON: &str = include_str!("../cases.json");

/// One request and what must come back.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    pub name: String,
    pub tenant: String,
    pub request: JsonRequest,
    pub expect: Expect,
    /// Send the request this many times; each answer must match (state must not leak).
    #[serde(default = "one")]
    pub repeat: u32,
}

fn one() -> u32 {
    1
}

/// What a response must show. Every field is optional; headers match case-insensitively by
/// name and exactly by value.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    pub status: Option<u16>,
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    #[serde(default)]
    pub absent_headers: Vec<String>,
    pub body: Option<String>,
    pub body_contains: Option<String>,
    /// For requests that reach the echo origin: fields its JSON body must have (`backend`,
    /// `method`, `url`, `body`, and `headers` as a subset with lower-case names).
    pub origin: Option<Value>,
    /// Header names (lower case) that must not have reached the origin.
    #[serde(default)]
    pub origin_absent_headers: Vec<String>,
    /// Whether the host may cache the response (forged `Cached`).
    pub cached: Option<bool>,
    /// The request fails with this error kind (`docs/abi.md`).
    pub error: Option<String>,
}

/// A response as a host observed it.
#[derive(Clone, Debug, Default)]
pub struct Observed {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Whether the host treats it as cacheable; `None` if the host cannot tell.
    pub cached: Option<bool>,
}

impl Observed {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

impl Expect {
    /// Every way `observed` differs from this expectation, or `Ok`.
    pub fn check(&self, observed: &Observed) -> Result<(), String> {
        let mut problems = Vec::new();
        let body = String::from_utf8_lossy(&observed.body);
        if let Some(kind) = &self.error {
            if observed.status != 503 || observed.header(ERROR_HEADER) != Some(kind) {
                problems.push(format!(
                    "expected error {kind} (503 with {ERROR_HEADER}: {kind}), got {} with {ERROR_HEADER}: {:?}",
                    observed.status,
                    observed.header(ERROR_HEADER)
                ));
            }
        } else if let Some(kind) = observed.header(ERROR_HEADER) {
            problems.push(format!("unexpected tenant error {kind}"));
        }
        if let Some(status) = self.status {
            if observed.status != status {
                problems.push(format!("status {} instead of {status}", observed.status));
            }
        }
        for (name, value) in &self.headers {
            match observed.header(name) {
                Some(found) if found == value => {}
                found => problems.push(format!("header {name}: {found:?} instead of {value:?}")),
            }
        }
        for name in &self.absent_headers {
            if let Some(found) = observed.header(name) {
                problems.push(format!("header {name} should be absent, is {found:?}"));
            }
        }
        if let Some(expected) = &self.body {
            if body != *expected {
                problems.push(format!("body {body:?} instead of {expected:?}"));
            }
        }
        if let Some(part) = &self.body_contains {
            if !body.contains(part.as_str()) {
                problems.push(format!("body {body:?} does not contain {part:?}"));
            }
        }
        if self.origin.is_some() || !self.origin_absent_headers.is_empty() {
            match serde_json::from_slice::<Value>(&observed.body) {
                Ok(echo) => {
                    if let Some(expected) = &self.origin {
                        subset_problems(expected, &echo, "origin", &mut problems);
                    }
                    for name in &self.origin_absent_headers {
                        if let Some(found) = echo.pointer(&format!("/headers/{name}")) {
                            problems.push(format!(
                                "header {name} reached the origin ({found}), should not have"
                            ));
                        }
                    }
                }
                Err(_) => problems.push(format!("body is not the echo origin's JSON: {body:?}")),
            }
        }
        if let (Some(expected), Some(found)) = (self.cached, observed.cached) {
            if expected != found {
                problems.push(format!("cacheable {found} instead of {expected}"));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }
}

/// Adds a problem for each value of `expected` (recursively through objects) that `found`
/// lacks or has different.
fn subset_problems(expected: &Value, found: &Value, path: &str, problems: &mut Vec<String>) {
    match (expected, found) {
        (Value::Object(wanted), Value::Object(have)) => {
            for (key, value) in wanted {
                let path = format!("{path}.{key}");
                match have.get(key) {
                    Some(actual) => subset_problems(value, actual, &path, problems),
                    None => problems.push(format!("{path} missing (wanted {value})")),
                }
            }
        }
        _ if expected == found => {}
        _ => problems.push(format!("{path} is {found} instead of {expected}")),
    }
}

/// The table's tenants with their programs read from `programs_dir` (the built example
/// tenants), for hosts configured by a bundle.
pub fn table_bundle(programs_dir: &std::path::Path) -> TenantBundle {
    TenantBundle::gather(TENANTS_JSON, &ProgramDirectory::new(programs_dir))
        .unwrap_or_else(|error| panic!("the table's tenants: {error}"))
}

/// The table's cases, in order.
pub fn cases() -> Vec<Case> {
    serde_json::from_str(CASES_JSON).unwrap_or_else(|error| panic!("cases.json: {error}"))
}

/// Runs a case's request once through the in-memory host (the runtime's `exchange` with the
/// echo origin), as the reference every other host is compared with.
pub fn observe_in_memory(tenants: &Tenants, case: &Case) -> Observed {
    let tenant = tenants
        .get(&case.tenant)
        .unwrap_or_else(|| panic!("case {:?}: no tenant {:?}", case.name, case.tenant));
    let outcome = exchange(tenant, case.request.to_http(), &mut EchoOrigin, || 0);
    match outcome.result {
        Ok((response, _)) => Observed {
            status: response.status,
            headers: response.headers,
            body: response.body,
            cached: Some(outcome.cache.is_some_and(|cache| cache.cacheable)),
        },
        Err(error) => {
            let response = error_response(&error);
            Observed {
                status: response.status,
                headers: response.headers,
                body: response.body,
                cached: Some(false),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_parses_and_names_only_configured_tenants() {
        let configured: Vec<String> = rvedge::runtime::parse_tenants(TENANTS_JSON)
            .expect("tenants.json is a valid configuration")
            .into_iter()
            .map(|spec| spec.name)
            .collect();
        let cases = cases();
        assert!(cases.len() >= 20, "only {} cases", cases.len());
        for case in &cases {
            assert!(
                configured.contains(&case.tenant),
                "{}: unknown tenant",
                case.name
            );
            if let Some(kind) = &case.expect.error {
                assert!(
                    rvedge::runtime::ErrorKind::from_name(kind).is_some(),
                    "{}: unknown error kind {kind}",
                    case.name
                );
            }
        }
    }

    #[test]
    fn the_freestanding_examples_are_the_c_examples_but_leak() {
        let examples = rvedge_test_support::repo_root().join("tenants/examples");
        let mut c_examples: Vec<String> = std::fs::read_dir(&examples)
            .expect("tenants/examples")
            .filter_map(|entry| {
                let path = entry.ok()?.path();
                if path.extension()? != "c" {
                    return None;
                }
                path.file_stem()?.to_str().map(String::from)
            })
            .filter(|name| name != "leak")
            .collect();
        c_examples.sort();
        assert_eq!(c_examples, FREESTANDING_EXAMPLES);
    }

    #[test]
    fn every_configuration_configures_the_same_tenants() {
        let names = |json: &str| -> Vec<String> {
            rvedge::runtime::parse_tenants(json)
                .expect("a valid configuration")
                .into_iter()
                .map(|spec| spec.name)
                .collect()
        };
        let configurations = configurations();
        assert_eq!(configurations.len(), 3);
        for configuration in &configurations {
            assert_eq!(names(&configuration.tenants_json), names(TENANTS_JSON));
        }
        let rv32 = &configurations[1].tenants_json;
        assert!(rv32.contains("\"rv32/rewrite\""), "{rv32}");
        assert!(rv32.contains("\"filename\": \"hello\""), "{rv32}");
        assert!(rv32.contains("\"filename\": \"leak\""), "{rv32}");
    }

    #[test]
    fn check_reports_every_difference() {
        let expect = Expect {
            status: Some(200),
            headers: vec![("X-A".into(), "1".into())],
            absent_headers: vec!["x-b".into()],
            body: Some("ok".into()),
            ..Expect::default()
        };
        let good = Observed {
            status: 200,
            headers: vec![("x-a".into(), "1".into())],
            body: b"ok".to_vec(),
            cached: None,
        };
        assert_eq!(expect.check(&good), Ok(()));
        let bad = Observed {
            status: 404,
            headers: vec![("x-b".into(), "2".into())],
            body: b"no".to_vec(),
            cached: None,
        };
        let problems = expect.check(&bad).unwrap_err();
        for part in [
            "status 404",
            "header X-A",
            "header x-b should be absent",
            "body \"no\"",
        ] {
            assert!(problems.contains(part), "{problems}");
        }
        let origin = Expect {
            origin: Some(serde_json::json!({"url": "/x", "headers": {"x-t": "1"}})),
            ..Expect::default()
        };
        let echo = Observed {
            status: 200,
            body: br#"{"url": "/y", "headers": {}}"#.to_vec(),
            ..Observed::default()
        };
        let problems = origin.check(&echo).unwrap_err();
        assert!(problems.contains("origin.url"), "{problems}");
        assert!(
            problems.contains("origin.headers.x-t missing"),
            "{problems}"
        );
    }
}

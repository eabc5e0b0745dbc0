//! Tenant configuration: the JSON document hosts are given (libvmod-riscv's keys), and where
//! programs come from.
//!
//! ```json
//! { "edge": { "max_instructions": 2000000, "max_memory": "64MB" },
//!   "example.com": { "filename": "hello", "group": "edge", "arguments": ["--fast"] } }
//! ```
//! An entry with `filename` is a tenant; one without is a group of defaults that tenants name
//! with `group`. As in libvmod-riscv, a tenant without `group` is in the built-in group `test`
//! (the defaults, unless the document configures `test`), sizes given as plain integers are
//! megabytes (`"max_memory": 64` is 64 MiB) and `max_heap` is accepted. Sizes may also have an
//! explicit unit (`"64MB"`); durations need one (`"30s"`).

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Map, Value};

use crate::size::parse_size;

/// The limits and arguments a tenant runs with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Instructions one request may execute, over all its hooks on one side.
    pub max_instructions: u64,
    /// Instructions `main()` may take to reach `wait_for_requests`.
    pub max_boot_instructions: u64,
    /// Guest memory that may be mapped (segments, stack, heap, mmap), in bytes.
    pub max_memory: u64,
    /// Bytes of memory one request may write (pages it copies or creates).
    pub max_request_memory: u64,
    /// Main stack size, counted in `max_memory`.
    pub stack_size: u64,
    /// `argv[1..]`; `argv[0]` is the tenant's name.
    pub arguments: Vec<String>,
    /// Longest time a cache may keep a response the tenant marks cacheable (`max_ttl`);
    /// longer TTLs are cut to it.
    pub max_ttl_seconds: u64,
    /// The backends `backend_set` may choose (`backends`); `None`: any the host has.
    pub backends: Option<Vec<String>>,
    /// Where the tenant's random bytes come from (`random`: `"os"` or `"fixed"`).
    pub random: RandomSource,
    /// Whether glibc's allocator is served by the host's per-fork heap
    /// (`crate::native::heap`), so requests write few pages; `"host_heap": false` keeps the
    /// program's own.
    pub host_heap: bool,
    /// Whether glibc's memcpy, strlen, ... run as host code (`crate::native`);
    /// `"host_string_functions": false` runs the program's own.
    pub host_string_functions: bool,
}

/// Where a tenant's random bytes (`getrandom`, and `AT_RANDOM` when its template starts) come
/// from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RandomSource {
    /// The operating system's CSPRNG: every fork takes a seed from it at its first random
    /// byte. What production hosts use, and the default where the target has one.
    Os,
    /// The same pseudo-random sequence in every fork and every load, so runs repeat (tests,
    /// and targets without an OS source: wasm32-unknown-unknown).
    Fixed,
}

impl RandomSource {
    /// Whether this build can read the operating system's randomness: every target but
    /// wasm32-unknown-unknown, which has no source to import.
    pub const OS_AVAILABLE: bool = cfg!(not(all(target_arch = "wasm32", target_os = "unknown")));

    /// `Os` where the target has it, else `Fixed`.
    pub const DEFAULT: RandomSource = if RandomSource::OS_AVAILABLE {
        RandomSource::Os
    } else {
        RandomSource::Fixed
    };
}

/// TTL cap when the configuration gives none: one day.
pub const DEFAULT_MAX_TTL_SECONDS: u64 = 24 * 3600;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_instructions: 10_000_000,
            max_boot_instructions: 1_000_000_000,
            max_memory: 64 << 20,
            max_request_memory: 16 << 20,
            stack_size: 1 << 20,
            arguments: Vec::new(),
            max_ttl_seconds: DEFAULT_MAX_TTL_SECONDS,
            backends: None,
            random: RandomSource::DEFAULT,
            host_heap: true,
            host_string_functions: true,
        }
    }
}

/// One tenant as configured: its name, where its program is, and its limits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TenantSpec {
    pub name: String,
    pub filename: String,
    pub limits: Limits,
}

/// A configuration mistake, naming the entry and key it is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub entry: Option<String>,
    pub key: Option<String>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        out.write_str("tenant configuration: ")?;
        if let Some(entry) = &self.entry {
            write!(out, "\"{entry}\": ")?;
        }
        if let Some(key) = &self.key {
            write!(out, "key \"{key}\": ")?;
        }
        out.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}

const LIMIT_KEYS: &[&str] = &[
    "max_instructions",
    "max_boot_instructions",
    "max_memory",
    "max_heap",
    "max_request_memory",
    "stack_size",
    "arguments",
    "max_ttl",
    "backends",
    "random",
    "host_heap",
    "host_string_functions",
];

/// The group of tenants that name none (libvmod-riscv's).
pub const DEFAULT_GROUP: &str = "test";

/// Parses a tenant configuration document into tenants, with group defaults applied.
pub fn parse_tenants(json: &str) -> Result<Vec<TenantSpec>, ConfigError> {
    let document: Value = serde_json::from_str(json).map_err(|error| ConfigError {
        entry: None,
        key: None,
        message: format!("not valid JSON: {error}"),
    })?;
    let Value::Object(entries) = document else {
        return Err(ConfigError {
            entry: None,
            key: None,
            message: "must be a JSON object of tenants and groups".into(),
        });
    };
    let mut groups = BTreeMap::new();
    groups.insert(DEFAULT_GROUP, Limits::default());
    for (name, entry) in &entries {
        let fields = entry_fields(name, entry)?;
        if !fields.contains_key("filename") {
            let mut limits = Limits::default();
            apply_limits(name, fields, &mut limits, &[])?;
            groups.insert(name.as_str(), limits);
        }
    }
    let mut tenants = Vec::new();
    for (name, entry) in &entries {
        let fields = entry_fields(name, entry)?;
        let Some(filename) = fields.get("filename") else {
            continue;
        };
        let error = |key: &str, message: String| ConfigError {
            entry: Some(name.clone()),
            key: Some(key.into()),
            message,
        };
        let filename = match filename {
            Value::String(text) if !text.is_empty() => text.clone(),
            _ => return Err(error("filename", "must be a non-empty string".into())),
        };
        let mut limits = match fields.get("group") {
            None => groups[DEFAULT_GROUP].clone(),
            Some(Value::String(group)) => groups
                .get(group.as_str())
                .cloned()
                .ok_or_else(|| error("group", format!("no group named \"{group}\"")))?,
            Some(_) => return Err(error("group", "must be a string".into())),
        };
        apply_limits(name, fields, &mut limits, &["filename", "group"])?;
        tenants.push(TenantSpec {
            name: name.clone(),
            filename,
            limits,
        });
    }
    Ok(tenants)
}

/// Applies the settings of a document's entry `name` (no `filename`) to a tenant of that name
/// configured earlier (libvmod-riscv reconfigures a tenant this way).
pub fn reconfigure(name: &str, entry: &Value, limits: &mut Limits) -> Result<(), ConfigError> {
    apply_limits(name, entry_fields(name, entry)?, limits, &[])
}

fn entry_fields<'a>(name: &str, entry: &'a Value) -> Result<&'a Map<String, Value>, ConfigError> {
    entry.as_object().ok_or_else(|| ConfigError {
        entry: Some(name.into()),
        key: None,
        message: "must be an object of settings".into(),
    })
}

/// Applies the limit keys of one entry over `limits`; any key that is neither a limit nor in
/// `other_keys` is an error.
fn apply_limits(
    entry: &str,
    fields: &Map<String, Value>,
    limits: &mut Limits,
    other_keys: &[&str],
) -> Result<(), ConfigError> {
    for (key, value) in fields {
        let error = |message: String| ConfigError {
            entry: Some(entry.into()),
            key: Some(key.clone()),
            message,
        };
        match key.as_str() {
            "max_instructions" => limits.max_instructions = positive_count(value).map_err(error)?,
            "max_boot_instructions" => {
                limits.max_boot_instructions = positive_count(value).map_err(error)?
            }
            "max_memory" => limits.max_memory = size(value).map_err(error)?,
            // rvedge bounds the heap (brk and mmap) with max_memory: checked, then counted there.
            "max_heap" => {
                size(value).map_err(error)?;
            }
            "max_request_memory" => limits.max_request_memory = size(value).map_err(error)?,
            "stack_size" => limits.stack_size = size(value).map_err(error)?,
            "arguments" => limits.arguments = strings(value).map_err(error)?,
            "max_ttl" => limits.max_ttl_seconds = duration_seconds(value).map_err(error)?,
            "backends" => limits.backends = Some(strings(value).map_err(error)?),
            "random" => limits.random = random_source(value).map_err(error)?,
            "host_heap" => limits.host_heap = boolean(value).map_err(error)?,
            "host_string_functions" => {
                limits.host_string_functions = boolean(value).map_err(error)?
            }
            other if other_keys.contains(&other) => {}
            other => {
                let mut known: Vec<&str> = LIMIT_KEYS.to_vec();
                known.extend_from_slice(other_keys);
                return Err(error(format!(
                    "unknown key \"{other}\" (known: {})",
                    known.join(", ")
                )));
            }
        }
    }
    if limits.stack_size >= limits.max_memory {
        return Err(ConfigError {
            entry: Some(entry.into()),
            key: Some("stack_size".into()),
            message: "must be smaller than max_memory".into(),
        });
    }
    Ok(())
}

fn positive_count(value: &Value) -> Result<u64, String> {
    match value.as_u64() {
        Some(count) if count > 0 => Ok(count),
        _ => Err(format!("must be a positive integer, not {value}")),
    }
}

fn size(value: &Value) -> Result<u64, String> {
    if let Value::Number(number) = value {
        // A plain integer is megabytes, as in libvmod-riscv.
        return match number
            .as_u64()
            .and_then(|megabytes| megabytes.checked_mul(1 << 20))
        {
            Some(bytes) if bytes > 0 => Ok(bytes),
            _ => Err(format!(
                "must be a positive number of megabytes or a size with a unit, not {value}"
            )),
        };
    }
    let Value::String(text) = value else {
        return Err(format!(
            "must be a size with a unit, like \"64MB\", or megabytes, not {value}"
        ));
    };
    if text.trim().bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(format!("\"{text}\" needs a unit, like \"{text}MB\""));
    }
    let bytes = parse_size(text).map_err(|error| error.to_string())?;
    if bytes == 0 {
        return Err("must be larger than zero".into());
    }
    Ok(bytes)
}

/// A duration with a unit: `"30s"`, `"10m"`, `"12h"`, `"1d"`.
fn duration_seconds(value: &Value) -> Result<u64, String> {
    let Value::String(text) = value else {
        return Err(format!(
            "must be a duration with a unit, like \"1h\", not {value}"
        ));
    };
    let trimmed = text.trim();
    let digits_end = trimmed
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(digits_end);
    let unit_seconds = match unit.trim() {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 24 * 3600,
        "" => return Err(format!("\"{text}\" needs a unit: s, m, h or d")),
        _ => return Err(format!("\"{text}\": the unit must be s, m, h or d")),
    };
    number
        .parse::<u64>()
        .ok()
        .and_then(|number| number.checked_mul(unit_seconds))
        .ok_or_else(|| format!("\"{text}\" is not a duration"))
}

fn random_source(value: &Value) -> Result<RandomSource, String> {
    match value.as_str() {
        Some("os") if RandomSource::OS_AVAILABLE => Ok(RandomSource::Os),
        Some("os") => Err("this host has no operating-system randomness".into()),
        Some("fixed") => Ok(RandomSource::Fixed),
        _ => Err(format!("must be \"os\" or \"fixed\", not {value}")),
    }
}

fn boolean(value: &Value) -> Result<bool, String> {
    value
        .as_bool()
        .ok_or_else(|| format!("must be true or false, not {value}"))
}

fn strings(value: &Value) -> Result<Vec<String>, String> {
    let items = value.as_array().ok_or("must be an array of strings")?;
    items
        .iter()
        .map(|item| {
            item.as_str()
                .map(String::from)
                .ok_or_else(|| format!("must be an array of strings, found {item}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_of(json: &str) -> String {
        parse_tenants(json).unwrap_err().to_string()
    }

    #[test]
    fn tenants_inherit_their_group_and_override_it() {
        let tenants = parse_tenants(
            r#"{ "edge": { "max_instructions": 5000, "max_memory": "32MB", "arguments": ["a"] },
                 "one.com": { "filename": "hello", "group": "edge", "max_memory": "16MiB" },
                 "two.com": { "filename": "/abs/other" },
                 "three.com": { "filename": "x", "host_heap": false } }"#,
        )
        .unwrap();
        assert_eq!(tenants.len(), 3);
        let one = &tenants[0];
        assert_eq!(one.name, "one.com");
        assert_eq!(one.filename, "hello");
        assert_eq!(one.limits.max_instructions, 5000);
        assert_eq!(one.limits.max_memory, 16 << 20);
        assert_eq!(one.limits.arguments, ["a"]);
        assert!(one.limits.host_heap);
        assert_eq!(tenants[2].limits, Limits::default());
        assert!(!tenants[1].limits.host_heap);
    }

    #[test]
    fn ttl_cap_backends_and_randomness_are_tenant_settings() {
        let tenants = parse_tenants(
            r#"{ "edge": { "max_ttl": "2h", "backends": ["api"], "random": "fixed" },
                 "t": { "filename": "x", "group": "edge" },
                 "u": { "filename": "x", "group": "edge", "max_ttl": "30s", "backends": [] } }"#,
        )
        .unwrap();
        let (t, u) = (&tenants[0].limits, &tenants[1].limits);
        assert_eq!(t.max_ttl_seconds, 7200);
        assert_eq!(t.backends.as_deref(), Some(&["api".to_string()][..]));
        assert_eq!(t.random, RandomSource::Fixed);
        assert_eq!(
            (u.max_ttl_seconds, u.backends.as_deref()),
            (30, Some(&[][..]))
        );
        assert_eq!(Limits::default().max_ttl_seconds, 86_400);
        for (json, expected) in [
            (
                r#"{"t": {"filename": "x", "max_ttl": 60}}"#,
                "must be a duration",
            ),
            (
                r#"{"t": {"filename": "x", "max_ttl": "60"}}"#,
                "needs a unit",
            ),
            (
                r#"{"t": {"filename": "x", "max_ttl": "1y"}}"#,
                "the unit must be",
            ),
            (
                r#"{"t": {"filename": "x", "backends": "api"}}"#,
                "array of strings",
            ),
            (
                r#"{"t": {"filename": "x", "random": "dice"}}"#,
                "\"os\" or \"fixed\"",
            ),
        ] {
            let message = error_of(json);
            assert!(message.contains(expected), "{json}: {message}");
        }
    }

    #[test]
    fn libvmod_riscv_configurations_load() {
        // Its documentation's example: integer sizes in megabytes, max_heap, no group.
        let tenants = parse_tenants(
            r#"{ "default": { "max_instructions": 2000000, "max_memory": 64, "max_heap": 4 },
                 "xpizza.com": { "filename": "/tmp/my_program", "group": "default" },
                 "plain.com": { "filename": "/tmp/other" } }"#,
        )
        .unwrap();
        assert_eq!(tenants[1].name, "xpizza.com");
        assert_eq!(tenants[1].limits.max_memory, 64 << 20);
        assert_eq!(tenants[1].limits.max_instructions, 2_000_000);
        assert_eq!(tenants[0].limits, Limits::default());
        // The built-in group `test` is what tenants without a group get, and can be changed.
        let tenants = parse_tenants(
            r#"{ "test": { "max_instructions": 77 },
                 "a": { "filename": "a" }, "b": { "filename": "b", "group": "test" } }"#,
        )
        .unwrap();
        assert!(tenants.iter().all(|t| t.limits.max_instructions == 77));
        // An entry that names an existing tenant reconfigures it.
        let mut limits = tenants[0].limits.clone();
        let entry = serde_json::json!({ "max_memory": 8, "arguments": ["x"] });
        reconfigure("a", &entry, &mut limits).unwrap();
        assert_eq!(limits.max_memory, 8 << 20);
        assert_eq!(limits.arguments, ["x"]);
        assert_eq!(limits.max_instructions, 77);
    }

    #[test]
    fn mistakes_name_the_entry_and_key() {
        let cases = [
            (
                r#"{"t": {"filename": "x", "max_memory": -64}}"#,
                "\"t\": key \"max_memory\": must be a positive number of megabytes",
            ),
            (
                r#"{"t": {"filename": "x", "max_memory": true}}"#,
                "\"t\": key \"max_memory\": must be a size with a unit",
            ),
            (
                r#"{"t": {"filename": "x", "max_memory": "64 parsecs"}}"#,
                "\"t\": key \"max_memory\"",
            ),
            (
                r#"{"t": {"filename": "x", "max_memory": "64"}}"#,
                "needs a unit",
            ),
            (
                r#"{"t": {"filename": "x", "max_instructons": 5}}"#,
                "\"t\": key \"max_instructons\": unknown key",
            ),
            (
                r#"{"t": {"filename": "x", "max_instructions": -1}}"#,
                "must be a positive integer",
            ),
            (
                r#"{"t": {"filename": "x", "group": "nope"}}"#,
                "\"t\": key \"group\": no group named \"nope\"",
            ),
            (
                r#"{"g": {"filename2": "x"}}"#,
                "\"g\": key \"filename2\": unknown key",
            ),
            (
                r#"{"t": {"filename": ""}}"#,
                "key \"filename\": must be a non-empty string",
            ),
            (
                r#"{"t": {"filename": "x", "arguments": [1]}}"#,
                "key \"arguments\": must be an array of strings",
            ),
            (
                r#"{"t": {"filename": "x", "host_heap": "no"}}"#,
                "key \"host_heap\": must be true or false",
            ),
            (
                r#"{"t": {"filename": "x", "stack_size": "64MB"}}"#,
                "key \"stack_size\": must be smaller",
            ),
            (r#"{"t": 5}"#, "\"t\": must be an object"),
            (r#"[1]"#, "must be a JSON object"),
            (r#"{"t": "#, "not valid JSON"),
        ];
        for (json, expected) in cases {
            let message = error_of(json);
            assert!(message.contains(expected), "{json}: {message}");
        }
    }
}

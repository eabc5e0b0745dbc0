//! Tenant configuration: the JSON document hosts are given (libvmod-riscv's keys), and where
//! programs come from.
//!
//! ```json
//! { "edge": { "max_instructions": 2000000, "max_memory": "64MB" },
//!   "example.com": { "filename": "hello", "group": "edge", "arguments": ["--fast"] } }
//! ```
//! An entry with `filename` is a tenant; one without is a group of defaults that tenants name
//! with `group`. Sizes need an explicit unit.

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
    /// Whether glibc's allocator is served by the host's per-fork heap
    /// (`crate::native::heap`), so requests write few pages; `"host_heap": false` keeps the
    /// program's own.
    pub host_heap: bool,
    /// Whether glibc's memcpy, strlen, ... run as host code (`crate::native`);
    /// `"host_string_functions": false` runs the program's own.
    pub host_string_functions: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_instructions: 10_000_000,
            max_boot_instructions: 1_000_000_000,
            max_memory: 64 << 20,
            max_request_memory: 16 << 20,
            stack_size: 1 << 20,
            arguments: Vec::new(),
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
    "max_request_memory",
    "stack_size",
    "arguments",
    "host_heap",
    "host_string_functions",
];

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
            None => Limits::default(),
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
            "max_request_memory" => limits.max_request_memory = size(value).map_err(error)?,
            "stack_size" => limits.stack_size = size(value).map_err(error)?,
            "arguments" => limits.arguments = strings(value).map_err(error)?,
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
    let Value::String(text) = value else {
        return Err(format!(
            "must be a size with a unit, like \"64MB\", not {value}"
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
    fn mistakes_name_the_entry_and_key() {
        let cases = [
            (
                r#"{"t": {"filename": "x", "max_memory": 64}}"#,
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

//! Tenants and their programs in one JSON document, for hosts that get their configuration as
//! bytes rather than files (the proxy-wasm filter, the Extism plugin) and for what hands it
//! to them (`rvedge serve`, tests):
//!
//! ```json
//! { "tenants": { "example.com": { "filename": "hello", "max_instructions": 5000000 } },
//!   "programs": { "hello": "<base64 of the ELF>" } }
//! ```

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::tenant::ClockSource;
use super::{parse_tenants, read_tenant_program, LoadError, ProgramSource, Tenants};

/// A tenant configuration with the programs it names.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TenantBundle {
    /// The tenant configuration: entries by tenant or group name (`config`'s JSON).
    pub tenants: Map<String, Value>,
    /// Programs by the `filename` the tenants give.
    pub programs: BTreeMap<String, Vec<u8>>,
}

/// The bundle as written; unknown keys are mistakes worth a message.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WrittenBundle {
    #[serde(default)]
    tenants: Map<String, Value>,
    #[serde(default)]
    programs: BTreeMap<String, String>,
}

impl TenantBundle {
    /// The configuration `tenants_json` with every program it names read from `source`.
    pub fn gather(
        tenants_json: &str,
        source: &dyn ProgramSource,
    ) -> Result<TenantBundle, LoadError> {
        let specs = parse_tenants(tenants_json).map_err(LoadError::Config)?;
        let tenants = match serde_json::from_str(tenants_json) {
            Ok(Value::Object(tenants)) => tenants,
            // parse_tenants accepted it, so it is an object.
            _ => Map::new(),
        };
        let mut programs = BTreeMap::new();
        for spec in specs {
            if programs.contains_key(&spec.filename) {
                continue;
            }
            let program = read_tenant_program(source, &spec)?;
            programs.insert(spec.filename, program);
        }
        Ok(TenantBundle { tenants, programs })
    }

    /// Parses a bundle; `programs` are base64 (surrounding whitespace ignored). Errors are
    /// sentences naming the key.
    pub fn from_json(json: &[u8]) -> Result<TenantBundle, String> {
        let written: WrittenBundle =
            serde_json::from_slice(json).map_err(|error| error.to_string())?;
        TenantBundle::from_written(written)
    }

    /// [`TenantBundle::from_json`] of an already parsed value.
    pub fn from_value(json: Value) -> Result<TenantBundle, String> {
        let written: WrittenBundle =
            serde_json::from_value(json).map_err(|error| error.to_string())?;
        TenantBundle::from_written(written)
    }

    fn from_written(written: WrittenBundle) -> Result<TenantBundle, String> {
        let mut programs = BTreeMap::new();
        for (filename, text) in written.programs {
            let program = BASE64.decode(text.trim()).map_err(|error| {
                format!("programs: \"{filename}\" is not valid base64: {error}")
            })?;
            programs.insert(filename, program);
        }
        Ok(TenantBundle {
            tenants: written.tenants,
            programs,
        })
    }

    /// The bundle as JSON, programs in base64.
    pub fn to_json(&self) -> Value {
        let programs: Map<String, Value> = self
            .programs
            .iter()
            .map(|(filename, program)| (filename.clone(), BASE64.encode(program).into()))
            .collect();
        serde_json::json!({ "tenants": self.tenants, "programs": programs })
    }

    /// Adds `other`'s programs that this bundle does not have (this bundle's win).
    pub fn add_missing_programs(&mut self, other: TenantBundle) {
        for (filename, program) in other.programs {
            self.programs.entry(filename).or_insert(program);
        }
    }

    /// Loads every tenant (runs each `main()` to `wait_for_requests`).
    pub fn load(&self, clock: Option<ClockSource>) -> Result<Tenants, LoadError> {
        let json = Value::Object(self.tenants.clone()).to_string();
        Tenants::load(&json, &self.programs, clock)
    }
}

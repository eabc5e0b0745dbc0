//! The tenant runtime: what every host shares.
//!
//! A tenant configuration ([`config`]) names programs and limits; [`Tenants::load`] boots each
//! program into a [`Tenant`] (its template); each request runs in a [`Fork`] of it, whose
//! tenant calls ([`abi`], `docs/abi.md`) reach the host through the [`Host`] trait, each paid
//! for in instructions and held to the per-request caps of [`usage`].
//! An [`Exchange`] is one request's way through a tenant's hooks, driven by a host step by step;
//! [`exchange`] drives one to its end with the messages in memory (tests, the conformance
//! table, the CLI).

pub mod abi;
mod bundle;
mod calls;
#[cfg(feature = "compile")]
pub mod compile;
pub mod config;
pub mod exchange;
pub mod gdb;
pub mod helpers;
pub mod host;
pub mod http;
pub mod memory;
pub mod regex;
mod tenant;
pub mod usage;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use bundle::TenantBundle;
pub use calls::{
    CacheSetting, ForgeRequest, GuestFunction, Hooks, Phase, RegisteredFunctions, Response,
    TenantDecision,
};
pub use config::{parse_tenants, reconfigure, ConfigError, Limits, RandomSource, TenantSpec};
pub use exchange::{
    BackendPlan, BackendSide, CacheDecision, ClientDecision, ClientSide, Exchange, ExchangeStats,
    Next, Side, Source, DEFAULT_BACKEND,
};
pub use host::{Host, HostError, HostResult};
pub use http::{
    error_response, vary_adding, HeaderList, HttpRequest, HttpResponse, JsonRequest, ERROR_HEADER,
};
pub use memory::{
    echo_body, exchange, exchange_with_debugger, EchoOrigin, EchoedRequest, ExchangeOutcome,
    ExchangeTarget, MemoryHost, Origin,
};
pub use tenant::{
    ClockSource, ErrorKind, Fork, FunctionCallError, PauseReason, RequestError, StepOutcome,
    Tenant, TenantError, MAX_FUNCTION_STRING,
};
pub use usage::{MAX_HASH_BYTES, MAX_LOG_BYTES, MAX_LOG_LINES};

/// Where tenant programs come from, by the `filename` of their configuration.
pub trait ProgramSource {
    /// The ELF bytes of `filename`, or why not.
    fn read_program(&self, filename: &str) -> Result<Vec<u8>, String>;
}

/// The program `spec` names, from `source`; the error names the tenant and the file.
fn read_tenant_program(
    source: &(impl ProgramSource + ?Sized),
    spec: &TenantSpec,
) -> Result<Vec<u8>, LoadError> {
    source
        .read_program(&spec.filename)
        .map_err(|message| LoadError::Program {
            tenant: spec.name.clone(),
            filename: spec.filename.clone(),
            message,
        })
}

/// Programs given as bytes, for hosts without a filesystem.
impl ProgramSource for BTreeMap<String, Vec<u8>> {
    fn read_program(&self, filename: &str) -> Result<Vec<u8>, String> {
        self.get(filename)
            .cloned()
            .ok_or_else(|| format!("no program named \"{filename}\" was provided"))
    }
}

/// Programs as files, relative paths resolved against `base`. With the `compile` feature,
/// `.c`/`.cpp` files and Rust crate directories are compiled first (see [`compile`]).
#[derive(Clone, Debug)]
pub struct ProgramDirectory {
    pub base: PathBuf,
}

impl ProgramDirectory {
    pub fn new(base: impl Into<PathBuf>) -> ProgramDirectory {
        ProgramDirectory { base: base.into() }
    }

    /// Where `filename` is: relative to `base`, without a `rust:` prefix.
    pub fn resolve(&self, filename: &str) -> PathBuf {
        // libvmod-riscv marks Rust crates `rust:/path`; the path is what matters here.
        let filename = filename.strip_prefix("rust:").unwrap_or(filename);
        let path = Path::new(filename);
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.base.join(path)
        }
    }
}

impl ProgramSource for ProgramDirectory {
    fn read_program(&self, filename: &str) -> Result<Vec<u8>, String> {
        let path = self.resolve(filename);
        #[cfg(feature = "compile")]
        if let Some(built) = compile::compile_if_source(&path)? {
            return std::fs::read(&built)
                .map_err(|error| format!("cannot read {}: {error}", built.display()));
        }
        std::fs::read(&path).map_err(|error| format!("cannot read {}: {error}", path.display()))
    }
}

/// Why a set of tenants could not be loaded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoadError {
    Config(ConfigError),
    Program {
        tenant: String,
        filename: String,
        message: String,
    },
    Tenant(TenantError),
}

impl fmt::Display for LoadError {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Config(error) => error.fmt(out),
            LoadError::Program {
                tenant,
                filename,
                message,
            } => write!(
                out,
                "tenant \"{tenant}\": key \"filename\": \"{filename}\": {message}"
            ),
            LoadError::Tenant(error) => error.fmt(out),
        }
    }
}

impl std::error::Error for LoadError {}

/// Loaded tenants by name.
#[derive(Clone, Debug, Default)]
pub struct Tenants {
    by_name: BTreeMap<String, Arc<Tenant>>,
}

impl Tenants {
    /// Parses a configuration and loads every tenant in it.
    pub fn load(
        json: &str,
        programs: &dyn ProgramSource,
        clock: Option<ClockSource>,
    ) -> Result<Tenants, LoadError> {
        let mut tenants = Tenants::default();
        for spec in parse_tenants(json).map_err(LoadError::Config)? {
            let program = read_tenant_program(programs, &spec)?;
            let tenant = Tenant::load(&spec.name, &program, spec.limits, clock)
                .map_err(LoadError::Tenant)?;
            tenants.by_name.insert(spec.name, tenant);
        }
        Ok(tenants)
    }

    pub fn get(&self, name: &str) -> Option<&Arc<Tenant>> {
        self.by_name.get(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(String::as_str)
    }

    /// Adds or replaces a tenant (e.g. after a live update).
    pub fn insert(&mut self, tenant: Arc<Tenant>) {
        self.by_name.insert(tenant.name().into(), tenant);
    }
}

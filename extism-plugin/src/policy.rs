//! The plugin's state and its hooks, independent of Extism so they also run natively.
//!
//! A request's exchange follows `rvedge::runtime::exchange` step for step; the one difference
//! is that the proxy fetches from the origin itself, between `vcl_recv` and
//! `vcl_backend_response`. So a request that goes to the origin is kept in the plugin
//! ([`Pending`]: its client fork, its backend fork and its messages) until the proxy brings
//! the origin's response back, and `on_backend_response` and `on_deliver` then run in the same
//! forks as they would in one in-memory exchange.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use rvedge::runtime::abi::{Decision, Hook, DEFAULT_TTL_SECONDS};
use rvedge::runtime::exchange::DEFAULT_BACKEND;
use rvedge::runtime::{
    error_response, Fork, HttpRequest, HttpResponse, MemoryHost, RequestError, Tenant, Tenants,
};

use crate::messages::{
    error_kind, hex, BackendResponseInput, Configuration, ErrorReport, ForwardRequest, Message,
    Output, RecvInput, ResponseSource,
};

/// Requests waiting for their origin response at most; past it the oldest is dropped (its
/// proxy never called back: an origin failure it did not report, or a client that went away).
pub const MAX_PENDING_REQUESTS: usize = 1024;

/// Pages the forks of waiting requests may own together (256 MiB): each may own up to its
/// tenant's `max_request_memory`, and a wasm32 plugin has 4 GiB in all, so the count alone
/// does not bound memory. Past it the oldest requests are dropped too.
pub const MAX_PENDING_PAGES: usize = (256 << 20) / rvedge::mem::PAGE_SIZE as usize;

/// Everything the plugin keeps between calls.
#[derive(Debug, Default)]
pub struct Plugin {
    tenants: Option<Tenants>,
    /// Why the Extism config could not be loaded, kept so every call reports it without
    /// parsing the configuration again.
    config_error: Option<String>,
    pending: BTreeMap<u64, Pending>,
    /// Pages the waiting requests' forks own, together.
    pending_pages: usize,
    next_request_id: u64,
}

/// A request passed to the origin, waiting for `vcl_backend_response`.
#[derive(Debug)]
struct Pending {
    tenant: Arc<Tenant>,
    client: Fork,
    backend: Option<Box<Fork>>,
    host: MemoryHost,
    pages: usize,
}

/// How one side of the exchange ended: a response for the client, or a tenant failure.
type Outcome = Result<(HttpResponse, ResponseSource, CacheDecision), RequestError>;

#[derive(Clone, Copy, Debug, Default)]
struct CacheDecision {
    cacheable: bool,
    ttl_seconds: u64,
}

fn input_error(kind: &str, tenant: Option<&str>, detail: impl Into<String>) -> Output {
    Output::Error {
        error: report(kind, tenant, detail),
    }
}

fn report(kind: &str, tenant: Option<&str>, detail: impl Into<String>) -> ErrorReport {
    ErrorReport {
        kind: kind.into(),
        tenant: tenant.map(str::to_owned),
        during: None,
        detail: detail.into(),
    }
}

impl Plugin {
    /// Loads `json` (a [`Configuration`]) and replaces every tenant. On failure the tenants
    /// loaded before stay.
    pub fn configure(&mut self, json: &[u8]) -> Output {
        match load_configuration(json) {
            Ok(tenants) => {
                let names = tenants.names().map(str::to_owned).collect();
                self.tenants = Some(tenants);
                self.config_error = None;
                Output::Configured { tenants: names }
            }
            Err(detail) => input_error(error_kind::BAD_CONFIG, None, detail),
        }
    }

    /// Loads the Extism config once if nothing is configured yet: `read_config` gives the
    /// config key's value, if there is one.
    pub fn ensure_configured(&mut self, read_config: impl FnOnce() -> Option<String>) {
        if self.tenants.is_some() || self.config_error.is_some() {
            return;
        }
        let Some(json) = read_config() else {
            return;
        };
        match load_configuration(json.as_bytes()) {
            Ok(tenants) => self.tenants = Some(tenants),
            Err(detail) => self.config_error = Some(detail),
        }
    }

    fn tenant(&self, name: &str) -> Result<Arc<Tenant>, ErrorReport> {
        let Some(tenants) = &self.tenants else {
            return Err(match &self.config_error {
                Some(detail) => report(error_kind::BAD_CONFIG, None, detail.clone()),
                None => report(
                    error_kind::NOT_CONFIGURED,
                    None,
                    "no tenants: set the Extism config key \"rvedge\" or call configure first",
                ),
            });
        };
        tenants.get(name).cloned().ok_or_else(|| {
            report(
                error_kind::UNKNOWN_TENANT,
                Some(name),
                format!("no tenant named \"{name}\" is configured"),
            )
        })
    }

    /// `vcl_recv`: the client side up to the origin. A synthetic or forged response is
    /// delivered at once; a request for the origin is kept and handed back as `continue`.
    pub fn recv(&mut self, json: &[u8]) -> Output {
        let input: RecvInput = match serde_json::from_slice(json) {
            Ok(input) => input,
            Err(error) => return input_error(error_kind::BAD_INPUT, None, error.to_string()),
        };
        let body =
            match crate::messages::decode_body(input.body.as_deref(), input.body_base64.as_deref())
            {
                Ok(body) => body,
                Err(detail) => {
                    return input_error(error_kind::BAD_INPUT, Some(&input.tenant), detail)
                }
            };
        let tenant = match self.tenant(&input.tenant) {
            Ok(tenant) => tenant,
            Err(error) => return Output::Error { error },
        };
        let request = HttpRequest {
            method: input.method,
            url: input.url,
            headers: input.headers,
            body,
        };
        let mut host = MemoryHost::new(request);
        let mut client = tenant.fork();
        match client_side(&tenant, &mut client, &mut host) {
            Err(error) => respond(&tenant, Err(error), &mut host),
            Ok(ClientStep::Respond(response, source, cache)) => {
                let outcome = deliver(&mut client, &mut host, response, source, cache);
                respond(&tenant, outcome, &mut host)
            }
            Ok(ClientStep::Origin(backend)) => self.keep_pending(tenant, client, backend, host),
        }
    }

    fn keep_pending(
        &mut self,
        tenant: Arc<Tenant>,
        mut client: Fork,
        mut backend: Option<Box<Fork>>,
        mut host: MemoryHost,
    ) -> Output {
        let pages =
            client.pages_written() + backend.as_mut().map_or(0, |fork| fork.pages_written());
        while self.pending.len() >= MAX_PENDING_REQUESTS
            || (self.pending_pages + pages > MAX_PENDING_PAGES && !self.pending.is_empty())
        {
            self.forget_oldest();
        }
        self.pending_pages += pages;
        self.next_request_id += 1;
        let request_id = self.next_request_id;
        let bereq = host.bereq.as_ref().unwrap_or(&host.req);
        let output = Output::Continue {
            request_id,
            tenant: tenant.name().into(),
            backend: host
                .backend
                .clone()
                .unwrap_or_else(|| DEFAULT_BACKEND.into()),
            request: ForwardRequest {
                method: bereq.method.clone(),
                url: bereq.url.clone(),
                headers: bereq.headers.clone(),
            },
            hash: hex(&host.hash),
            // Each call reports the lines logged during it, so a proxy logs each line once.
            logs: std::mem::take(&mut host.log),
        };
        self.pending.insert(
            request_id,
            Pending {
                tenant,
                client,
                backend,
                host,
                pages,
            },
        );
        output
    }

    fn forget_oldest(&mut self) {
        if let Some((_, oldest)) = self.pending.pop_first() {
            self.pending_pages -= oldest.pages;
        }
    }

    /// `vcl_backend_response`: the origin's response to a `continue`d request through
    /// `on_backend_response` and `on_deliver`.
    pub fn backend_response(&mut self, json: &[u8]) -> Output {
        let input: BackendResponseInput = match serde_json::from_slice(json) {
            Ok(input) => input,
            Err(error) => return input_error(error_kind::BAD_INPUT, None, error.to_string()),
        };
        let body = match input.response.body_bytes() {
            Ok(body) => body,
            Err(detail) => return input_error(error_kind::BAD_INPUT, Some(&input.tenant), detail),
        };
        let unknown = || {
            input_error(
                error_kind::UNKNOWN_REQUEST,
                Some(&input.tenant),
                format!(
                    "no request {} of tenant \"{}\" is waiting for its origin response",
                    input.request_id, input.tenant
                ),
            )
        };
        let mut pending = match self.pending.remove(&input.request_id) {
            Some(pending) if pending.tenant.name() == input.tenant => {
                self.pending_pages -= pending.pages;
                pending
            }
            Some(other_tenants) => {
                self.pending.insert(input.request_id, other_tenants);
                return unknown();
            }
            None => return unknown(),
        };
        let beresp = HttpResponse {
            status: input.response.status,
            headers: input.response.headers,
            body,
        };
        let host = &mut pending.host;
        let outcome = backend_response(
            pending.backend.as_deref_mut(),
            host,
            beresp,
            ResponseSource::Backend,
            CacheDecision::default(),
        )
        .and_then(|(response, source, cache)| {
            deliver(&mut pending.client, host, response, source, cache)
        });
        respond(&pending.tenant, outcome, host)
    }

    /// Requests waiting for `vcl_backend_response`.
    pub fn pending_requests(&self) -> usize {
        self.pending.len()
    }
}

fn load_configuration(json: &[u8]) -> Result<Tenants, String> {
    let configuration: Configuration =
        serde_json::from_slice(json).map_err(|error| format!("configuration: {error}"))?;
    let mut programs = BTreeMap::new();
    for (filename, encoded) in &configuration.programs {
        let program = BASE64
            .decode(encoded)
            .map_err(|error| format!("programs: \"{filename}\": {error}"))?;
        programs.insert(filename.clone(), program);
    }
    let tenants_json = serde_json::Value::Object(configuration.tenants).to_string();
    // No clock: wasm32-unknown-unknown has none, and Extism gives plugins none; tenants see
    // time 0, which also keeps their answers reproducible.
    Tenants::load(&tenants_json, &programs, None).map_err(|error| error.to_string())
}

/// Where the client side leads.
enum ClientStep {
    /// A response is ready (synthesized in `on_recv`, or forged on the backend side).
    Respond(HttpResponse, ResponseSource, CacheDecision),
    /// The request goes to the origin; the backend fork, if the tenant needs one, waits too.
    Origin(Option<Box<Fork>>),
}

/// `on_recv`, `on_hash`, then the backend side up to the origin, as `exchange` runs them.
fn client_side(
    tenant: &Arc<Tenant>,
    client: &mut Fork,
    host: &mut MemoryHost,
) -> Result<ClientStep, RequestError> {
    client.run_hook(Hook::Recv, host)?;
    client.run_hook(Hook::Hash, host)?;
    if let Some(response) = client.take_response() {
        return Ok(ClientStep::Respond(
            HttpResponse::from_tenant(response),
            ResponseSource::Synthesized,
            CacheDecision::default(),
        ));
    }
    let forge = client.forge_request();
    // A plain pass to the origin runs no tenant code on the backend side.
    let needs_fork = forge.is_some()
        || tenant.has_hook(Hook::BackendFetch)
        || tenant.has_hook(Hook::BackendResponse);
    // Boxed: a fork is a few KiB, and a waiting request keeps it.
    let mut backend = needs_fork.then(|| Box::new(tenant.fork()));
    host.bereq = Some(host.req.clone());
    if let Some(fork) = &mut backend {
        fork.run_hook(Hook::BackendFetch, host)?;
    }
    let (forge, mut fork) = match (forge, backend) {
        (Some(forge), Some(fork)) => (forge, fork),
        // No forge: the origin answers; the backend fork waits for its response.
        (_, backend) => return Ok(ClientStep::Origin(backend)),
    };
    let response = fork.run_forge(forge, host)?;
    let cacheable = forge.decision == Decision::Cached;
    let cache = CacheDecision {
        cacheable,
        ttl_seconds: if cacheable { DEFAULT_TTL_SECONDS } else { 0 },
    };
    let (response, source, cache) = backend_response(
        Some(&mut fork),
        host,
        HttpResponse::from_tenant(response),
        ResponseSource::Forged,
        cache,
    )?;
    Ok(ClientStep::Respond(response, source, cache))
}

/// `on_backend_response` on the backend response (forged or the origin's); `cache_set`
/// there decides a forged response's caching.
fn backend_response(
    backend: Option<&mut Fork>,
    host: &mut MemoryHost,
    beresp: HttpResponse,
    source: ResponseSource,
    mut cache: CacheDecision,
) -> Result<(HttpResponse, ResponseSource, CacheDecision), RequestError> {
    host.beresp = Some(beresp);
    if let Some(fork) = backend {
        fork.run_hook(Hook::BackendResponse, host)?;
        if let (Some(setting), ResponseSource::Forged) = (fork.cache_setting(), source) {
            cache = CacheDecision {
                cacheable: setting.cacheable,
                ttl_seconds: if setting.cacheable {
                    setting.ttl_seconds
                } else {
                    0
                },
            };
        }
    }
    Ok((host.beresp.take().unwrap_or_default(), source, cache))
}

/// `on_deliver` in the client fork on the response going to the client.
fn deliver(
    client: &mut Fork,
    host: &mut MemoryHost,
    response: HttpResponse,
    source: ResponseSource,
    cache: CacheDecision,
) -> Outcome {
    host.resp = Some(response);
    client.run_hook(Hook::Deliver, host)?;
    Ok((host.resp.take().unwrap_or_default(), source, cache))
}

/// The `respond` output for an outcome: the response, or the 503 every host gives for a
/// failed request with the error described.
fn respond(tenant: &Tenant, outcome: Outcome, host: &mut MemoryHost) -> Output {
    let (response, source, cache, error) = match outcome {
        Ok((response, source, cache)) => (response, source, cache, None),
        Err(error) => {
            let report = ErrorReport {
                kind: error.kind.name().into(),
                tenant: Some(error.tenant.clone()),
                during: Some(error.during.into()),
                detail: error.detail.clone(),
            };
            let response = error_response(&error);
            let cache = CacheDecision::default();
            (response, ResponseSource::Error, cache, Some(report))
        }
    };
    Output::Respond {
        tenant: tenant.name().into(),
        response: Message::new(response.status, response.headers, response.body),
        source,
        cacheable: cache.cacheable,
        ttl: cache.ttl_seconds,
        hash: hex(&host.hash),
        logs: std::mem::take(&mut host.log),
        error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(output: &Output) -> &str {
        match output {
            Output::Error { error } => &error.kind,
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn calls_before_configuration_say_so() {
        let mut plugin = Plugin::default();
        let request = br#"{"tenant": "hello", "url": "/"}"#;
        assert_eq!(kind(&plugin.recv(request)), error_kind::NOT_CONFIGURED);
        plugin.ensure_configured(|| None);
        assert_eq!(kind(&plugin.recv(request)), error_kind::NOT_CONFIGURED);
    }

    #[test]
    fn input_is_checked_before_tenants_are_looked_up() {
        let mut plugin = Plugin::default();
        assert_eq!(kind(&plugin.recv(b"{")), error_kind::BAD_INPUT);
        assert_eq!(
            kind(&plugin.backend_response(br#"{"request_id": -1}"#)),
            error_kind::BAD_INPUT
        );
    }

    #[test]
    fn a_bad_config_key_is_reported_on_every_call_until_configure() {
        let mut plugin = Plugin::default();
        let mut reads = 0;
        for _ in 0..3 {
            plugin.ensure_configured(|| {
                reads += 1;
                Some(r#"{"tenants": {"t": {"filename": "p"}}, "programs": {"p": "AAAA"}}"#.into())
            });
            let output = plugin.recv(br#"{"tenant": "t", "url": "/"}"#);
            assert_eq!(kind(&output), error_kind::BAD_CONFIG);
        }
        // Parsed and refused once, not on every call.
        assert_eq!(reads, 1);
        let output = plugin.configure(br#"{"tenants": {}}"#);
        assert_eq!(output, Output::Configured { tenants: vec![] });
        let output = plugin.recv(br#"{"tenant": "t", "url": "/"}"#);
        assert_eq!(kind(&output), error_kind::UNKNOWN_TENANT);
    }
}

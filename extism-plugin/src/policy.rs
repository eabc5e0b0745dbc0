//! The plugin's state and its hooks, independent of Extism so they also run natively.
//!
//! A request is the runtime's [`Exchange`] with its messages in a [`MemoryHost`]; the one
//! thing the proxy does itself is the origin fetch, between `vcl_recv` and
//! `vcl_backend_response`. So a request that goes to the origin is kept in the plugin
//! ([`Pending`]) until the proxy brings the origin's response, and the exchange resumes
//! where it stopped.

use std::collections::BTreeMap;
use std::sync::Arc;

use rvedge::runtime::{
    error_response, CacheDecision, Exchange, HttpRequest, HttpResponse, MemoryHost, Next,
    RequestError, Source, Tenant, TenantBundle, Tenants,
};

use crate::messages::{
    decode_body, error_kind, hex, BackendResponseInput, ErrorReport, ForwardRequest, Message,
    Output, RecvInput, ResponseSource,
};

/// Requests waiting for their origin response at most; past it the oldest is dropped (its
/// proxy never called back: an origin failure it did not report, or a client that went away).
pub const MAX_PENDING_REQUESTS: usize = 1024;

/// Memory the waiting requests may hold together (256 MiB): the pages their forks own (each
/// up to its tenant's `max_request_memory`) and the messages kept for them (the client
/// request with its body, and the backend request). A wasm32 plugin has 4 GiB in all, so the
/// count alone does not bound memory. Past it the oldest requests are dropped too.
pub const MAX_PENDING_BYTES: usize = 256 << 20;

/// Largest input of `vcl_recv` and `vcl_backend_response` (JSON text, bodies included): a
/// larger one is `bad_input`, before it is parsed.
pub const MAX_INPUT_BYTES: usize = 32 << 20;

/// Bytes of `random` a `vcl_recv` input must give at least, when it gives any.
pub const MIN_RANDOM_BYTES: usize = 32;

/// Everything the plugin keeps between calls.
#[derive(Debug, Default)]
pub struct Plugin {
    tenants: Option<Tenants>,
    /// Why the Extism config could not be loaded, kept so every call reports it without
    /// parsing the configuration again.
    config_error: Option<String>,
    pending: BTreeMap<u64, Pending>,
    /// Bytes the waiting requests hold, together.
    pending_bytes: usize,
    next_request_id: u64,
}

/// A request passed to the origin, waiting for `vcl_backend_response`.
#[derive(Debug)]
struct Pending {
    exchange: Exchange,
    host: MemoryHost,
    /// Memory it holds: pages its forks own and its messages.
    bytes: usize,
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
    /// Loads `json` (a [`TenantBundle`]) and replaces every tenant. On failure the tenants
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

    /// `vcl_recv`: the exchange up to the origin. A synthetic or forged response is
    /// delivered at once; a request for the origin is kept and handed back as `continue`.
    pub fn recv(&mut self, json: &[u8]) -> Output {
        if let Some(error) = too_big(json) {
            return error;
        }
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
        let random_seed = match random_seed(input.random.as_deref()) {
            Ok(seed) => seed,
            Err(detail) => return input_error(error_kind::BAD_INPUT, Some(&input.tenant), detail),
        };
        let tenant = match self.tenant(&input.tenant) {
            Ok(tenant) => tenant,
            Err(error) => return Output::Error { error },
        };
        let mut host = MemoryHost::new(HttpRequest {
            method: input.method,
            url: input.url,
            headers: input.headers,
            body,
        });
        let mut exchange = Exchange::new(&tenant);
        if let Some(seed) = random_seed {
            exchange.seed_random(seed);
        }
        match resume(&mut exchange, &mut host) {
            Next::Fetch { backend } => self.keep_pending(exchange, host, backend),
            end => respond(&mut exchange, end, &mut host),
        }
    }

    fn keep_pending(
        &mut self,
        mut exchange: Exchange,
        mut host: MemoryHost,
        backend: String,
    ) -> Output {
        let bytes = exchange.stats().pages_written * rvedge::PAGE_SIZE as usize
            + message_bytes(&host.req)
            + host.bereq.as_ref().map_or(0, message_bytes);
        while self.pending.len() >= MAX_PENDING_REQUESTS
            || (self.pending_bytes + bytes > MAX_PENDING_BYTES && !self.pending.is_empty())
        {
            self.forget_oldest();
        }
        self.pending_bytes += bytes;
        self.next_request_id += 1;
        let request_id = self.next_request_id;
        let bereq = host.bereq.as_ref().unwrap_or(&host.req);
        let output = Output::Continue {
            request_id,
            tenant: exchange.tenant().name().into(),
            backend,
            request: ForwardRequest {
                method: bereq.method.clone(),
                url: bereq.url.clone(),
                headers: bereq.headers.clone(),
            },
            hash: hex(exchange.hash_data()),
            // Each call reports the lines logged during it, so a proxy logs each line once.
            logs: std::mem::take(&mut host.log),
        };
        self.pending.insert(
            request_id,
            Pending {
                exchange,
                host,
                bytes,
            },
        );
        output
    }

    fn forget_oldest(&mut self) {
        if let Some((_, oldest)) = self.pending.pop_first() {
            self.pending_bytes -= oldest.bytes;
        }
    }

    /// `vcl_backend_response`: the origin's response to a `continue`d request; the exchange
    /// resumes with it (`on_backend_response`, `on_deliver`).
    pub fn backend_response(&mut self, json: &[u8]) -> Output {
        if let Some(error) = too_big(json) {
            return error;
        }
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
            Some(pending) if pending.exchange.tenant().name() == input.tenant => {
                self.pending_bytes -= pending.bytes;
                pending
            }
            Some(other_tenants) => {
                self.pending.insert(input.request_id, other_tenants);
                return unknown();
            }
            None => return unknown(),
        };
        pending.host.response = Some(HttpResponse {
            status: input.response.status,
            headers: input.response.headers,
            body,
        });
        let end = resume(&mut pending.exchange, &mut pending.host);
        respond(&mut pending.exchange, end, &mut pending.host)
    }

    /// Requests waiting for `vcl_backend_response`.
    pub fn pending_requests(&self) -> usize {
        self.pending.len()
    }
}

/// `bad_input` for an input past [`MAX_INPUT_BYTES`].
fn too_big(json: &[u8]) -> Option<Output> {
    (json.len() > MAX_INPUT_BYTES).then(|| {
        input_error(
            error_kind::BAD_INPUT,
            None,
            format!(
                "the input is {} bytes, more than the {MAX_INPUT_BYTES} a call takes",
                json.len()
            ),
        )
    })
}

/// The seed for a request's randomness from the input's `random` (base64 bytes the proxy
/// drew from its CSPRNG): their SHA-256. None without `random`.
fn random_seed(random: Option<&str>) -> Result<Option<[u8; 32]>, String> {
    let Some(encoded) = random else {
        return Ok(None);
    };
    let bytes =
        decode_body(None, Some(encoded)).map_err(|error| error.replace("body_base64", "random"))?;
    if bytes.len() < MIN_RANDOM_BYTES {
        return Err(format!(
            "random: {} bytes, fewer than the {MIN_RANDOM_BYTES} needed",
            bytes.len()
        ));
    }
    Ok(Some(rvedge::runtime::helpers::sha256(&bytes)))
}

/// Memory a kept request's message holds.
fn message_bytes(request: &HttpRequest) -> usize {
    let headers: usize = request
        .headers
        .iter()
        .map(|(name, value)| name.len() + value.len())
        .sum();
    request.method.len() + request.url.len() + headers + request.body.len()
}

fn load_configuration(json: &[u8]) -> Result<Tenants, String> {
    let bundle =
        TenantBundle::from_json(json).map_err(|error| format!("configuration: {error}"))?;
    // No clock: wasm32-unknown-unknown has none, and Extism gives plugins none; tenants see
    // time 0, which also keeps their answers reproducible.
    bundle.load(None).map_err(|error| error.to_string())
}

/// Resumes `exchange` to the next thing only the proxy can do: the origin fetch, or the end.
fn resume(exchange: &mut Exchange, host: &mut MemoryHost) -> Next {
    loop {
        match exchange.resume(host) {
            // The body came with the request, and nothing steps.
            Next::RequestBody | Next::Paused { .. } => {}
            next => return next,
        }
    }
}

/// The `respond` output at the end of an exchange: the response, or the 503 every host gives
/// for a failed request with the error described.
fn respond(exchange: &mut Exchange, end: Next, host: &mut MemoryHost) -> Output {
    let (response, source, cache, error) = match end {
        Next::Respond {
            response,
            source,
            cache,
        } => (response, response_source(&source), cache, None),
        Next::Deliver { source, cache } => (
            host.response.take().unwrap_or_default(),
            response_source(&source),
            cache.unwrap_or(CacheDecision::UNCACHEABLE),
            None,
        ),
        Next::Failed(error) => failure(error),
        other => failure(RequestError {
            kind: rvedge::runtime::ErrorKind::NoResponse,
            tenant: exchange.tenant().name().into(),
            during: "the plugin",
            detail: format!("the exchange stopped at {other:?}"),
        }),
    };
    Output::Respond {
        tenant: exchange.tenant().name().into(),
        response: Message::new(response.status, response.headers, response.body),
        source,
        cacheable: cache.cacheable,
        ttl: cache.ttl_seconds,
        hash: hex(exchange.hash_data()),
        logs: std::mem::take(&mut host.log),
        error,
    }
}

fn failure(
    error: RequestError,
) -> (
    HttpResponse,
    ResponseSource,
    CacheDecision,
    Option<ErrorReport>,
) {
    let report = ErrorReport {
        kind: error.kind.name().into(),
        tenant: Some(error.tenant.clone()),
        during: Some(error.during.into()),
        detail: error.detail.clone(),
    };
    (
        error_response(&error),
        ResponseSource::Error,
        CacheDecision::UNCACHEABLE,
        Some(report),
    )
}

fn response_source(source: &Source) -> ResponseSource {
    match source {
        Source::Synthesized => ResponseSource::Synthesized,
        Source::Forged => ResponseSource::Forged,
        Source::Backend { .. } => ResponseSource::Backend,
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

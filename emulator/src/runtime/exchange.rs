//! One HTTP exchange through a tenant, with HTTP messages kept in memory: the in-memory host
//! used by tests, the conformance table and the CLI, and the reference for the order in which
//! every host runs hooks.
//!
//! Client side (one fork): `on_recv`, `on_hash`, then either the synthetic response `on_recv`
//! gave, or the backend side (a second fork): `on_backend_fetch`, the forge callback or the
//! origin, `on_backend_response`. Then `on_deliver` back in the client fork.

use std::borrow::Cow;
use std::sync::Arc;

use super::abi::{Decision, HeaderSet, Hook, DEFAULT_TTL_SECONDS};
use super::calls::Response;
use super::host::{Host, HostError, HostResult};
use super::tenant::{Fork, RequestError, Tenant};

/// An HTTP request: method, URL (path and query), headers in order, body.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// An HTTP response.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Headers as a list, looked up case-insensitively.
pub trait HeaderList {
    fn header_value(&self, name: &str) -> Option<&str>;
}

impl HeaderList for Vec<(String, String)> {
    fn header_value(&self, name: &str) -> Option<&str> {
        self.iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

impl HttpResponse {
    /// The HTTP form of a response a tenant built with `respond`.
    pub fn from_tenant(response: Response) -> HttpResponse {
        HttpResponse {
            status: response.status,
            headers: vec![
                ("content-type".into(), response.content_type),
                ("content-length".into(), response.body.len().to_string()),
            ],
            body: response.body,
        }
    }
}

/// The backends behind the proxy: answers a request sent to the backend called `backend`.
pub trait Origin {
    fn fetch(&mut self, backend: &str, request: &HttpRequest) -> HttpResponse;
}

/// The backend name used when the tenant chooses none.
pub const DEFAULT_BACKEND: &str = "default";

/// The conformance table's origin, which every host can run: it answers 200 with a JSON
/// description of what reached it (`backend`, `method`, `url`, `headers` with lower-case
/// names, `body`), so expectations can check what the tenant changed.
#[derive(Clone, Copy, Debug, Default)]
pub struct EchoOrigin;

impl Origin for EchoOrigin {
    fn fetch(&mut self, backend: &str, request: &HttpRequest) -> HttpResponse {
        let body = echo_body(backend, request);
        HttpResponse {
            status: 200,
            headers: vec![
                ("content-type".into(), "application/json".into()),
                ("content-length".into(), body.len().to_string()),
            ],
            body,
        }
    }
}

/// The JSON the echo origin answers with.
pub fn echo_body(backend: &str, request: &HttpRequest) -> Vec<u8> {
    let mut headers = serde_json::Map::new();
    for (name, value) in &request.headers {
        headers
            .entry(name.to_ascii_lowercase())
            .or_insert_with(|| value.clone().into());
    }
    serde_json::json!({
        "backend": backend,
        "method": request.method,
        "url": request.url,
        "headers": headers,
        "body": String::from_utf8_lossy(&request.body),
    })
    .to_string()
    .into_bytes()
}

/// Header naming the error kind on a host's answer to a failed request.
pub const ERROR_HEADER: &str = "x-rvedge-error";

/// What every host answers when a tenant fails a request: 503, the error kind in
/// [`ERROR_HEADER`], a short body. The details go to the host's log, not to the client.
pub fn error_response(error: &RequestError) -> HttpResponse {
    let body = format!("tenant error: {}\n", error.kind).into_bytes();
    HttpResponse {
        status: 503,
        headers: vec![
            ("content-type".into(), "text/plain".into()),
            ("content-length".into(), body.len().to_string()),
            (ERROR_HEADER.into(), error.kind.name().into()),
        ],
        body,
    }
}

/// Where the response came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// `respond` in `on_recv`: no backend, never cached.
    Synthesized,
    /// A forge callback; cacheable for `ttl_seconds` when `cached`.
    Forged { cached: bool, ttl_seconds: u64 },
    /// The origin's backend of this name.
    Backend { name: String },
}

/// Counters of one exchange, for `--stats` and benchmarks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExchangeStats {
    pub instructions: u64,
    pub pages_written: usize,
    pub forks: u32,
    /// Time spent making forks and running tenant code, by the caller's clock.
    pub fork_nanos: u64,
    pub call_nanos: u64,
}

/// The outcome of one exchange.
#[derive(Clone, Debug)]
pub struct Exchange {
    pub result: Result<(HttpResponse, Source), RequestError>,
    /// The request as the tenant left it (what went to the backend).
    pub request: HttpRequest,
    /// What `hash_add` added to the cache key.
    pub hash: Vec<u8>,
    /// The tenant's log lines.
    pub log: Vec<String>,
    pub stats: ExchangeStats,
}

/// Runs `request` through `tenant` in memory, with `origin` behind it. `clock` (monotonic
/// nanoseconds) only feeds the statistics.
pub fn exchange(
    tenant: &Arc<Tenant>,
    request: HttpRequest,
    origin: &mut dyn Origin,
    clock: fn() -> u64,
) -> Exchange {
    let mut run = Run {
        tenant,
        host: MemoryHost::new(request),
        stats: ExchangeStats::default(),
        clock,
    };
    let result = run.client_side(origin);
    Exchange {
        result,
        request: run.host.bereq.take().unwrap_or(run.host.req),
        hash: run.host.hash,
        log: run.host.log,
        stats: run.stats,
    }
}

struct Run<'a> {
    tenant: &'a Arc<Tenant>,
    host: MemoryHost,
    stats: ExchangeStats,
    clock: fn() -> u64,
}

impl Run<'_> {
    fn fork(&mut self) -> Fork {
        let start = (self.clock)();
        let fork = self.tenant.fork();
        self.stats.fork_nanos += (self.clock)() - start;
        self.stats.forks += 1;
        fork
    }

    fn timed<T>(&mut self, work: impl FnOnce(&mut MemoryHost) -> T) -> T {
        let start = (self.clock)();
        let result = work(&mut self.host);
        self.stats.call_nanos += (self.clock)() - start;
        result
    }

    fn count(&mut self, fork: &mut Fork) {
        self.stats.instructions += fork.instructions();
        self.stats.pages_written += fork.pages_written();
    }

    fn client_side(
        &mut self,
        origin: &mut dyn Origin,
    ) -> Result<(HttpResponse, Source), RequestError> {
        let mut client = self.fork();
        let result = self.client_hooks(&mut client, origin);
        self.count(&mut client);
        result
    }

    fn client_hooks(
        &mut self,
        client: &mut Fork,
        origin: &mut dyn Origin,
    ) -> Result<(HttpResponse, Source), RequestError> {
        self.timed(|host| client.run_hook(Hook::Recv, host))?;
        self.timed(|host| client.run_hook(Hook::Hash, host))?;
        let (response, source) = match client.take_response() {
            Some(response) => (HttpResponse::from_tenant(response), Source::Synthesized),
            None => {
                let forge = client.forge_request();
                // A plain pass to the origin runs no tenant code on the backend side.
                let needs_fork = forge.is_some()
                    || self.tenant.has_hook(Hook::BackendFetch)
                    || self.tenant.has_hook(Hook::BackendResponse);
                let mut backend = needs_fork.then(|| self.fork());
                let result = self.backend_side(backend.as_mut(), forge, origin);
                if let Some(backend) = &mut backend {
                    self.count(backend);
                }
                result?
            }
        };
        self.host.resp = Some(response);
        self.timed(|host| client.run_hook(Hook::Deliver, host))?;
        let response = self.host.resp.take().unwrap_or_default();
        Ok((response, source))
    }

    fn backend_side(
        &mut self,
        mut backend: Option<&mut Fork>,
        forge: Option<super::calls::ForgeRequest>,
        origin: &mut dyn Origin,
    ) -> Result<(HttpResponse, Source), RequestError> {
        self.host.bereq = Some(self.host.req.clone());
        if let Some(fork) = backend.as_deref_mut() {
            self.timed(|host| fork.run_hook(Hook::BackendFetch, host))?;
        }
        let (beresp, mut source) = match (forge, backend.as_deref_mut()) {
            (Some(forge), Some(fork)) => {
                let response = self.timed(|host| fork.run_forge(forge, host))?;
                let cached = forge.decision == Decision::Cached;
                let source = Source::Forged {
                    cached,
                    ttl_seconds: if cached { DEFAULT_TTL_SECONDS } else { 0 },
                };
                (HttpResponse::from_tenant(response), source)
            }
            // No forge (a forge always has a backend fork): the origin answers.
            _ => {
                let name = self.host.backend.as_deref().unwrap_or(DEFAULT_BACKEND);
                let bereq = self.host.bereq.as_ref().expect("set above");
                let response = origin.fetch(name, bereq);
                let source = Source::Backend { name: name.into() };
                (response, source)
            }
        };
        self.host.beresp = Some(beresp);
        if let Some(fork) = backend {
            self.timed(|host| fork.run_hook(Hook::BackendResponse, host))?;
            if let (
                Some(setting),
                Source::Forged {
                    cached,
                    ttl_seconds,
                },
            ) = (fork.cache_setting(), &mut source)
            {
                *cached = setting.cacheable;
                *ttl_seconds = if setting.cacheable {
                    setting.ttl_seconds
                } else {
                    0
                };
            }
        }
        Ok((self.host.beresp.take().unwrap_or_default(), source))
    }
}

/// HTTP messages in memory, as the `Host` the tenant's calls reach. [`exchange`] fills in the
/// backend request and the responses as the exchange goes on; on its own it is a host for
/// `on_recv` with the client request.
///
/// Its messages are public so hosts that keep a request between calls (the Extism plugin)
/// can fill them in as their own exchange goes on.
#[derive(Debug, Default)]
pub struct MemoryHost {
    /// The client request.
    pub req: HttpRequest,
    /// The backend request: exists from the backend side on.
    pub bereq: Option<HttpRequest>,
    /// The response to the client, for `on_deliver`.
    pub resp: Option<HttpResponse>,
    /// The backend response, once one arrived or a forge callback made one.
    pub beresp: Option<HttpResponse>,
    /// The backend the tenant chose.
    pub backend: Option<String>,
    /// What the tenant added to the cache key.
    pub hash: Vec<u8>,
    /// The tenant's log lines (at most `MAX_LOG_LINES`).
    pub log: Vec<String>,
}

/// Log lines an exchange keeps; later ones are counted, not stored.
const MAX_LOG_LINES: usize = 1000;

impl MemoryHost {
    pub fn new(req: HttpRequest) -> MemoryHost {
        MemoryHost {
            req,
            ..MemoryHost::default()
        }
    }

    fn headers(&mut self, set: HeaderSet) -> HostResult<&mut Vec<(String, String)>> {
        match set {
            HeaderSet::Request => Some(&mut self.req.headers),
            HeaderSet::BackendRequest => self.bereq.as_mut().map(|request| &mut request.headers),
            HeaderSet::Response => self.resp.as_mut().map(|response| &mut response.headers),
            HeaderSet::BackendResponse => {
                self.beresp.as_mut().map(|response| &mut response.headers)
            }
        }
        .ok_or(HostError::NotAllowed)
    }

    fn request(&mut self, set: HeaderSet) -> HostResult<&mut HttpRequest> {
        match set {
            HeaderSet::Request => Ok(&mut self.req),
            HeaderSet::BackendRequest => self.bereq.as_mut().ok_or(HostError::NotAllowed),
            _ => Err(HostError::NotAllowed),
        }
    }

    fn response(&mut self, set: HeaderSet) -> HostResult<&mut HttpResponse> {
        match set {
            HeaderSet::Response => self.resp.as_mut(),
            HeaderSet::BackendResponse => self.beresp.as_mut(),
            _ => None,
        }
        .ok_or(HostError::NotAllowed)
    }
}

impl Host for MemoryHost {
    fn header(&mut self, set: HeaderSet, name: &str) -> HostResult<Option<Cow<'_, str>>> {
        let headers = self.headers(set)?;
        Ok(headers.header_value(name).map(Cow::Borrowed))
    }

    fn set_header(&mut self, set: HeaderSet, name: &str, value: &str) -> HostResult<()> {
        let headers = self.headers(set)?;
        headers.retain(|(key, _)| !key.eq_ignore_ascii_case(name));
        headers.push((name.into(), value.into()));
        Ok(())
    }

    fn append_header(&mut self, set: HeaderSet, name: &str, value: &str) -> HostResult<()> {
        self.headers(set)?.push((name.into(), value.into()));
        Ok(())
    }

    fn unset_header(&mut self, set: HeaderSet, name: &str) -> HostResult<usize> {
        let headers = self.headers(set)?;
        let before = headers.len();
        headers.retain(|(key, _)| !key.eq_ignore_ascii_case(name));
        Ok(before - headers.len())
    }

    fn header_count(&mut self, set: HeaderSet) -> HostResult<usize> {
        Ok(self.headers(set)?.len())
    }

    fn header_at(
        &mut self,
        set: HeaderSet,
        index: usize,
    ) -> HostResult<Option<(Cow<'_, str>, Cow<'_, str>)>> {
        let headers = self.headers(set)?;
        Ok(headers
            .get(index)
            .map(|(name, value)| (Cow::Borrowed(name.as_str()), Cow::Borrowed(value.as_str()))))
    }

    fn url(&mut self, set: HeaderSet) -> HostResult<Cow<'_, str>> {
        Ok(Cow::Borrowed(self.request(set)?.url.as_str()))
    }

    fn set_url(&mut self, set: HeaderSet, url: &str) -> HostResult<()> {
        self.request(set)?.url = url.into();
        Ok(())
    }

    fn method(&mut self, set: HeaderSet) -> HostResult<Cow<'_, str>> {
        Ok(Cow::Borrowed(self.request(set)?.method.as_str()))
    }

    fn set_method(&mut self, set: HeaderSet, method: &str) -> HostResult<()> {
        self.request(set)?.method = method.into();
        Ok(())
    }

    fn status(&mut self, set: HeaderSet) -> HostResult<u16> {
        Ok(self.response(set)?.status)
    }

    fn set_status(&mut self, set: HeaderSet, status: u16) -> HostResult<()> {
        self.response(set)?.status = status;
        Ok(())
    }

    fn request_body(&mut self) -> HostResult<Cow<'_, [u8]>> {
        Ok(Cow::Borrowed(&self.req.body))
    }

    fn set_backend(&mut self, name: &str) -> HostResult<()> {
        self.backend = Some(name.into());
        Ok(())
    }

    fn add_hash(&mut self, data: &[u8]) -> HostResult<()> {
        self.hash.extend_from_slice(data);
        Ok(())
    }

    fn log(&mut self, message: &str) {
        if self.log.len() < MAX_LOG_LINES {
            self.log.push(message.into());
        }
    }
}

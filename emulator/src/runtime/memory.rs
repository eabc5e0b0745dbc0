//! An exchange with every HTTP message in memory: the host of tests, the conformance table, the
//! CLI, the playground and the Extism plugin. [`exchange`] drives an [`Exchange`] to its end
//! against an in-memory [`Origin`].

use std::borrow::Cow;
use std::sync::Arc;

use super::abi::HeaderSet;
use super::exchange::{CacheDecision, Exchange, ExchangeStats, Next, Source};
use super::gdb::{DebugTarget, Stepped};
use super::host::{Host, HostError, HostResult};
use super::http::{HeaderList, HttpRequest, HttpResponse};
use super::tenant::{Fork, RequestError, StepOutcome, Tenant};
use super::usage::MAX_LOG_LINES;
use crate::Machine;

/// The backends behind the proxy: answers a request sent to the backend called `backend`.
pub trait Origin {
    fn fetch(&mut self, backend: &str, request: &HttpRequest) -> HttpResponse;
}

/// The conformance table's origin, which every host can run: it answers 200 with a JSON
/// description of what reached it (`backend`, `method`, `url`, `headers` with lower-case
/// names, `body`), so expectations can check what the tenant changed.
#[derive(Clone, Copy, Debug, Default)]
pub struct EchoOrigin;

impl Origin for EchoOrigin {
    fn fetch(&mut self, backend: &str, request: &HttpRequest) -> HttpResponse {
        let body = echo_body(backend, request.into());
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

/// A request as the echo origin describes it, borrowed: proxies hold requests in types of
/// their own, and lending their parts spares a copy of each request echoed.
#[derive(Clone, Copy, Debug)]
pub struct EchoedRequest<'a> {
    pub method: &'a str,
    pub url: &'a str,
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
}

impl<'a> From<&'a HttpRequest> for EchoedRequest<'a> {
    fn from(request: &'a HttpRequest) -> EchoedRequest<'a> {
        EchoedRequest {
            method: &request.method,
            url: &request.url,
            headers: &request.headers,
            body: &request.body,
        }
    }
}

/// The JSON the echo origin answers with.
pub fn echo_body(backend: &str, request: EchoedRequest<'_>) -> Vec<u8> {
    let mut header_map = serde_json::Map::new();
    for (name, value) in request.headers {
        header_map
            .entry(name.to_ascii_lowercase())
            .or_insert_with(|| value.clone().into());
    }
    serde_json::json!({
        "backend": backend,
        "method": request.method,
        "url": request.url,
        "headers": header_map,
        "body": String::from_utf8_lossy(request.body),
    })
    .to_string()
    .into_bytes()
}

/// The outcome of one in-memory exchange.
#[derive(Clone, Debug)]
pub struct ExchangeOutcome {
    pub result: Result<(HttpResponse, Source), RequestError>,
    /// How caches may keep the response, as the tenant decided (`None`: it did not say).
    pub cache: Option<CacheDecision>,
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
) -> ExchangeOutcome {
    let host = MemoryHost::new(request);
    let exchange = Exchange::with_clock(tenant, Some(clock));
    finish_exchange(exchange, host, origin, None)
}

/// [`exchange`] with a debugger (`rvedge request --gdb`): `debug` gets the exchange stopped
/// before the first instruction of its first hook, as a [`DebugTarget`] that steps through
/// every hook and callback in the exchange's order; once it returns (the debugger detached, or
/// the exchange ended), the exchange runs on to its end.
pub fn exchange_with_debugger(
    tenant: &Arc<Tenant>,
    request: HttpRequest,
    origin: &mut dyn Origin,
    clock: fn() -> u64,
    debug: &mut dyn FnMut(&mut dyn DebugTarget),
) -> ExchangeOutcome {
    let mut host = MemoryHost::new(request);
    let mut exchange = Exchange::with_clock(tenant, Some(clock));
    exchange.set_stepping(true);
    let mut next = exchange.resume(&mut host);
    loop {
        match next {
            Next::Paused { .. } => break,
            Next::RequestBody => next = exchange.resume(&mut host),
            Next::Fetch { .. } => {
                next = fetch_and_resume(&mut exchange, &mut host, origin, next);
            }
            ended => return finish_exchange(exchange, host, origin, Some(ended)),
        }
    }
    let mut target = ExchangeTarget {
        exchange: &mut exchange,
        host: &mut host,
        origin,
        end: None,
    };
    debug(&mut target);
    let end = target.end.take();
    exchange.set_stepping(false);
    finish_exchange(exchange, host, origin, end)
}

/// Gives `host` the origin's response to the fetch `next` asks for, and resumes.
fn fetch_and_resume(
    exchange: &mut Exchange,
    host: &mut MemoryHost,
    origin: &mut dyn Origin,
    next: Next,
) -> Next {
    if let Next::Fetch { backend } = next {
        let bereq = host.bereq.as_ref().unwrap_or(&host.req);
        host.response = Some(origin.fetch(&backend, bereq));
    }
    exchange.resume(host)
}

/// An exchange being debugged: stepping runs its hooks and callbacks in order, fetching from
/// the origin in between.
#[expect(
    missing_debug_implementations,
    reason = "holds an origin, which need not be Debug"
)]
pub struct ExchangeTarget<'a> {
    exchange: &'a mut Exchange,
    host: &'a mut MemoryHost,
    origin: &'a mut dyn Origin,
    /// Where the exchange ended, if it did while debugged.
    end: Option<Next>,
}

impl DebugTarget for ExchangeTarget<'_> {
    fn machine(&mut self) -> Option<&mut Machine> {
        self.exchange.paused_fork_mut().map(Fork::machine_mut)
    }

    fn step(&mut self) -> Stepped {
        if self.end.is_some() {
            return Stepped::Exited(0);
        }
        if let StepOutcome::Running = self.exchange.step(self.host) {
            return Stepped::Running;
        }
        // The call ended: on to the next one (entered, not run), or the exchange's end.
        let mut next = self.exchange.resume(self.host);
        loop {
            match next {
                Next::Paused { .. } => return Stepped::Running,
                Next::RequestBody => next = self.exchange.resume(self.host),
                Next::Fetch { .. } => {
                    next = fetch_and_resume(self.exchange, self.host, self.origin, next);
                }
                ended => {
                    let failed = matches!(ended, Next::Failed(_));
                    self.end = Some(ended);
                    return if failed {
                        Stepped::Killed(6)
                    } else {
                        Stepped::Exited(0)
                    };
                }
            }
        }
    }
}

/// Drives `exchange` to its end (from `next`, if the host already has it) with the origin
/// behind it.
fn finish_exchange(
    mut exchange: Exchange,
    mut host: MemoryHost,
    origin: &mut dyn Origin,
    mut next: Option<Next>,
) -> ExchangeOutcome {
    let (result, cache) = loop {
        let step = match next.take() {
            Some(step) => step,
            None => exchange.resume(&mut host),
        };
        match step {
            // The body is in memory already; a call left paused by a debugger runs on.
            Next::RequestBody | Next::Paused { .. } => {}
            Next::Fetch { backend } => {
                let bereq = host.bereq.as_ref().unwrap_or(&host.req);
                host.response = Some(origin.fetch(&backend, bereq));
            }
            Next::Respond {
                response,
                source,
                cache,
            } => break (Ok((response, source)), Some(cache)),
            Next::Deliver { source, cache } => {
                let response = host.response.take().unwrap_or_default();
                break (Ok((response, source)), cache);
            }
            Next::Failed(error) => break (Err(error), None),
        }
    };
    ExchangeOutcome {
        result,
        cache,
        hash: exchange.hash_data().to_vec(),
        stats: exchange.stats(),
        request: host.bereq.take().unwrap_or(host.req),
        log: host.log,
    }
}

/// HTTP messages in memory, as the `Host` the tenant's calls reach: the client request, the
/// backend request once the backend side began, and the response (the origin's, which is both
/// `beresp` and, for `on_deliver`, `resp`).
///
/// Its messages are public so hosts that keep a request between calls (the Extism plugin)
/// fill them in as the exchange goes on.
#[derive(Debug, Default)]
pub struct MemoryHost {
    /// The client request.
    pub req: HttpRequest,
    /// The backend request: exists from the backend side on.
    pub bereq: Option<HttpRequest>,
    /// The origin's response, once it arrived.
    pub response: Option<HttpResponse>,
    /// The tenant's log lines: the runtime caps them per fork (`MAX_LOG_LINES`), and this
    /// host keeps at most that many per exchange.
    pub log: Vec<String>,
}

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
            HeaderSet::Response | HeaderSet::BackendResponse => {
                self.response.as_mut().map(|response| &mut response.headers)
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
            HeaderSet::Response | HeaderSet::BackendResponse => self.response.as_mut(),
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
        self.headers(set)?.set_header(name, value);
        Ok(())
    }

    fn append_header(&mut self, set: HeaderSet, name: &str, value: &str) -> HostResult<()> {
        self.headers(set)?.push((name.into(), value.into()));
        Ok(())
    }

    fn unset_header(&mut self, set: HeaderSet, name: &str) -> HostResult<usize> {
        Ok(self.headers(set)?.unset_header(name))
    }

    fn header_count(&mut self, set: HeaderSet) -> HostResult<usize> {
        Ok(self.headers(set)?.len())
    }

    fn header_at(
        &mut self,
        set: HeaderSet,
        index: usize,
    ) -> HostResult<Option<(Cow<'_, str>, Cow<'_, str>)>> {
        Ok(self.headers(set)?.header_at(index))
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

    fn set_backend(&mut self, _name: &str) -> HostResult<()> {
        Ok(())
    }

    fn begin_backend_request(&mut self) {
        self.bereq = Some(self.req.clone());
    }

    fn log(&mut self, message: &str) {
        if self.log.len() < MAX_LOG_LINES {
            self.log.push(message.into());
        }
    }
}

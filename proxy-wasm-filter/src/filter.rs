//! One HTTP stream through a tenant: the runtime's [`Exchange`] driven across the stream's
//! callbacks. The exchange says what it needs next; this only maps that onto the stream:
//!
//! - [`Next::RequestBody`]: pause the request headers and buffer the body. A proxy that
//!   cannot hold the request headers while the body comes (Envoy without
//!   `allow_on_headers_stop_iteration`) gets them at once: a forge still waits for the body
//!   (its answer is a local reply), other backend sides run on the headers alone (`body_get`
//!   fails rather than show an empty body);
//! - [`Next::Fetch`]: let the request go upstream, the tenant's backend in [`BACKEND_HEADER`];
//!   resume at the response headers;
//! - [`Next::Respond`]: a local reply with the tenant's response, `cache-control` from its
//!   cache decision;
//! - every answer a tenant made or touched varies on the tenant header (`Vary`), so a cache in
//!   front of or behind the proxy that keys on the URL keeps tenants' answers apart;
//! - [`Next::Deliver`]: the upstream's response goes on;
//! - [`Next::Failed`]: a local 503 (`rvedge::runtime::error_response`) and a log line naming
//!   the tenant and the cause. The VM keeps serving; nothing traps.

use rvedge::runtime::HeaderList as _;
use rvedge::runtime::{
    error_response, vary_adding, BackendPlan, Exchange, HttpResponse, Next, DEFAULT_BACKEND,
};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::config::{tenant_name, FilterConfiguration};
use crate::stream::{LogLevel, Message, Stream, StreamHost};

/// Request header carrying the backend the tenant chose (`backend_set`); the proxy routes on
/// it (Envoy: a route `headers` match). Absent when the tenant chose none. A client's own
/// value is removed before the tenant runs, so clients cannot pick backends themselves.
pub const BACKEND_HEADER: &str = "x-rvedge-backend";

/// Response header with the nanoseconds spent forking and running tenant code for the request,
/// when the configuration asks for it (`report_tenant_time`).
pub const TENANT_TIME_HEADER: &str = "x-rvedge-tenant-nanos";

/// Most bytes of a request body the filter copies into the VM for a tenant; a longer body is
/// answered 413, so clients cannot fill the VM's memory (a proxy may well buffer more: Envoy's
/// own buffer limit answers 413 before this for bodies it will not hold).
pub const MAX_REQUEST_BODY_BYTES: usize = 8 << 20;

/// Requests a plugin (one configuration in one VM) holds between callbacks at most: forks
/// waiting for a body or for the upstream. Past it, or past [`MAX_HELD_BYTES`], a request is
/// answered 503 when it would be held, so slow clients and upstreams cannot fill the VM.
pub const MAX_HELD_REQUESTS: usize = 1024;

/// Memory the held requests may take: the pages their forks wrote and their bodies.
pub const MAX_HELD_BYTES: usize = 256 << 20;

/// What a plugin's held requests take, shared by its streams.
#[derive(Debug, Default)]
pub struct HeldRequests {
    count: AtomicUsize,
    bytes: AtomicUsize,
}

impl HeldRequests {
    /// Counts a request of `bytes` if there is room for it.
    fn try_hold(&self, bytes: usize) -> bool {
        let count = self.count.load(Ordering::Relaxed);
        let held = self.bytes.load(Ordering::Relaxed);
        if count >= MAX_HELD_REQUESTS || held.saturating_add(bytes) > MAX_HELD_BYTES {
            return false;
        }
        self.count.store(count + 1, Ordering::Relaxed);
        self.bytes.store(held + bytes, Ordering::Relaxed);
        true
    }

    fn release(&self, bytes: usize) {
        self.count.fetch_sub(1, Ordering::Relaxed);
        self.bytes.fetch_sub(bytes, Ordering::Relaxed);
    }

    /// Requests held now.
    pub fn count(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }
}

/// A held request's place in [`HeldRequests`], given back when it is dropped (the request
/// resumes, or the stream ends).
#[derive(Debug)]
struct Held {
    configuration: Arc<FilterConfiguration>,
    bytes: usize,
}

impl Drop for Held {
    fn drop(&mut self) {
        self.configuration.held.release(self.bytes);
    }
}

/// What the proxy should do with the stream after a callback.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Continue,
    /// Stop iteration: wait for more body, or the filter answered locally.
    Pause,
}

/// A request being served by a tenant, kept between the stream's callbacks.
#[derive(Debug)]
struct Ongoing {
    exchange: Exchange,
    /// The whole request body, once the filter has it; `None` while it is to come, or when
    /// the backend side runs without it.
    body: Option<Vec<u8>>,
    log_lines: u32,
    tenant_nanos: u64,
    /// Set while the request waits between callbacks.
    held: Option<Held>,
}

#[derive(Debug, Default)]
enum State {
    /// No tenant for this request, or the exchange is over: the filter stays out of the way.
    #[default]
    Idle,
    /// The exchange asked for the request body; buffering it.
    AwaitingBody(Box<Ongoing>),
    /// Sent upstream; the exchange resumes at the response headers.
    Forwarded(Box<Ongoing>),
}

/// The filter's state for one HTTP stream.
#[derive(Debug)]
pub struct StreamFilter {
    configuration: Arc<FilterConfiguration>,
    state: State,
}

impl StreamFilter {
    pub fn new(configuration: Arc<FilterConfiguration>) -> StreamFilter {
        StreamFilter {
            configuration,
            state: State::Idle,
        }
    }

    pub fn on_request_headers(&mut self, stream: &mut dyn Stream, end_of_stream: bool) -> Action {
        // Only the tenant may choose a backend. Removed only where the client sent one: Envoy
        // matches the route table again after any removal from the request, of an absent
        // header too (with 3,000 regex routes: 135 us of CPU per request where 33 is the
        // filter's floor).
        if !matches!(stream.header(Message::Request, BACKEND_HEADER), Ok(None)) {
            let _ = stream.set_header(Message::Request, BACKEND_HEADER, None);
        }
        let header = &self.configuration.tenant_header;
        let Ok(Some(value)) = stream.header(Message::Request, header) else {
            return Action::Continue;
        };
        let Some(tenant) = self.configuration.tenant_for(&value) else {
            stream.log(
                LogLevel::Debug,
                &format!(
                    "rvedge: no tenant \"{}\" ({header}); passing the request through",
                    tenant_name(&value)
                ),
            );
            return Action::Continue;
        };
        let start = self.clock_start(stream);
        let mut exchange = Exchange::new(tenant);
        if !end_of_stream {
            exchange.request_body_follows();
        }
        let mut ongoing = Box::new(Ongoing {
            exchange,
            // A request that ended with its headers has a body, an empty one; any other
            // body is known only once it arrived (until then `body_get` fails).
            body: end_of_stream.then(Vec::new),
            log_lines: 0,
            tenant_nanos: 0,
            held: None,
        });
        self.clock_stop(stream, start, &mut ongoing);
        self.resume(stream, ongoing, false)
    }

    pub fn on_request_body(
        &mut self,
        stream: &mut dyn Stream,
        body_size: usize,
        end_of_stream: bool,
    ) -> Action {
        if !matches!(self.state, State::AwaitingBody(_)) {
            return Action::Continue;
        }
        if body_size > MAX_REQUEST_BODY_BYTES {
            self.state = State::Idle;
            stream.log(
                LogLevel::Warn,
                &format!("rvedge: request body over {MAX_REQUEST_BODY_BYTES} bytes: 413"),
            );
            let headers = [("content-type".to_string(), "text/plain".to_string())];
            stream.send_response(413, &headers, b"request body too large\n");
            return Action::Pause;
        }
        if !end_of_stream {
            // Keep buffering: the proxy holds the body until the callback says continue.
            return Action::Pause;
        }
        let State::AwaitingBody(mut ongoing) = std::mem::take(&mut self.state) else {
            return Action::Continue;
        };
        ongoing.body = Some(stream.request_body(body_size));
        self.resume(stream, ongoing, false)
    }

    /// Whether a later callback of this stream will run tenant hooks, so what they read of
    /// the request must outlive the proxy's request headers.
    pub fn has_later_hooks(&self) -> bool {
        matches!(self.state, State::AwaitingBody(_) | State::Forwarded(_))
    }

    pub fn on_response_headers(&mut self, stream: &mut dyn Stream) -> Action {
        let State::Forwarded(ongoing) = std::mem::take(&mut self.state) else {
            return Action::Continue;
        };
        self.resume(stream, ongoing, true)
    }

    /// Runs the exchange to what it needs next and does that on the stream.
    fn resume(
        &mut self,
        stream: &mut dyn Stream,
        mut ongoing: Box<Ongoing>,
        has_response: bool,
    ) -> Action {
        ongoing.held = None;
        let start = self.clock_start(stream);
        let next = {
            let Ongoing {
                exchange,
                body,
                log_lines,
                ..
            } = &mut *ongoing;
            let tenant = Arc::clone(exchange.tenant());
            let mut host = StreamHost {
                stream: &mut *stream,
                has_response,
                tenant: tenant.name(),
                body: body.as_deref(),
                log_lines,
            };
            exchange.resume(&mut host)
        };
        self.clock_stop(stream, start, &mut ongoing);
        match next {
            Next::RequestBody => self.await_body(stream, ongoing),
            Next::Fetch { backend } => {
                if backend != DEFAULT_BACKEND {
                    let _ = stream.set_header(Message::Request, BACKEND_HEADER, Some(&backend));
                }
                self.hold(stream, ongoing, State::Forwarded, Action::Continue)
            }
            Next::Respond {
                mut response,
                cache,
                ..
            } => {
                response
                    .headers
                    .set_header("cache-control", &cache.cache_control());
                if let Some(header) = self.tenant_vary() {
                    let existing = response.header("vary").map(str::to_owned);
                    if let Some(vary) = vary_adding(existing.as_deref(), header) {
                        response.headers.set_header("vary", &vary);
                    }
                }
                self.report_time(&ongoing, |name, value| {
                    response.headers.set_header(name, value)
                });
                stream.send_response(response.status, &response.headers, &response.body);
                Action::Pause
            }
            Next::Deliver { cache, .. } => {
                if let Some(cache) = cache {
                    let value = cache.cache_control();
                    let _ = stream.set_header(Message::Response, "cache-control", Some(&value));
                }
                if let Some(header) = self.tenant_vary() {
                    let existing = stream.header(Message::Response, "vary").ok().flatten();
                    if let Some(vary) = vary_adding(existing.as_deref(), header) {
                        let _ = stream.set_header(Message::Response, "vary", Some(&vary));
                    }
                }
                self.report_time(&ongoing, |name, value| {
                    let _ = stream.set_header(Message::Response, name, Some(value));
                });
                Action::Continue
            }
            Next::Failed(error) => {
                stream.log(LogLevel::Warn, &format!("rvedge: request failed: {error}"));
                let response: HttpResponse = error_response(&error);
                stream.send_response(response.status, &response.headers, &response.body);
                Action::Pause
            }
            // Never asked for: this exchange does not step.
            Next::Paused { .. } => self.resume(stream, ongoing, has_response),
        }
    }

    /// The backend side reads the body, so it waits for it. Holding the request headers
    /// meanwhile needs a proxy that still delivers the body after a pause in the headers
    /// callback (`allow_on_headers_stop_iteration`); any other proxy sends the headers on
    /// when this callback returns. Then a forge still waits (its answer is a local reply, and
    /// the proxy abandons the upstream request for it), and any other backend side runs now,
    /// on the headers, without the body.
    fn await_body(&mut self, stream: &mut dyn Stream, ongoing: Box<Ongoing>) -> Action {
        if self.configuration.allow_on_headers_stop_iteration {
            return self.hold(stream, ongoing, State::AwaitingBody, Action::Pause);
        }
        if let Some(BackendPlan::Forge(_)) = ongoing.exchange.plan_awaiting_body() {
            return self.hold(stream, ongoing, State::AwaitingBody, Action::Continue);
        }
        self.resume(stream, ongoing, false)
    }

    /// Keeps `ongoing` for a later callback in `state`, and lets the stream go on with
    /// `action`; or, when the plugin's held requests have no room for it, answers 503.
    fn hold(
        &mut self,
        stream: &mut dyn Stream,
        mut ongoing: Box<Ongoing>,
        state: fn(Box<Ongoing>) -> State,
        action: Action,
    ) -> Action {
        let pages = ongoing.exchange.stats().pages_written;
        let bytes = pages.saturating_mul(rvedge::PAGE_SIZE as usize)
            + ongoing.body.as_ref().map_or(0, Vec::len);
        if !self.configuration.held.try_hold(bytes) {
            stream.log(
                LogLevel::Warn,
                "rvedge: too many requests held in this VM (MAX_HELD_REQUESTS, MAX_HELD_BYTES): 503",
            );
            let headers = [("content-type".to_string(), "text/plain".to_string())];
            stream.send_response(503, &headers, b"the proxy is busy\n");
            return Action::Pause;
        }
        ongoing.held = Some(Held {
            configuration: Arc::clone(&self.configuration),
            bytes,
        });
        self.state = state(ongoing);
        action
    }

    /// The header answers vary on: the tenant header, unless it is the authority, which every
    /// cache key has already.
    fn tenant_vary(&self) -> Option<&str> {
        let header = self.configuration.tenant_header.as_str();
        let is_authority =
            header.eq_ignore_ascii_case(":authority") || header.eq_ignore_ascii_case("host");
        (!is_authority).then_some(header)
    }

    /// Adds [`TENANT_TIME_HEADER`] through `set_header` when the configuration asks for it.
    fn report_time(&self, ongoing: &Ongoing, mut set_header: impl FnMut(&str, &str)) {
        if self.configuration.report_tenant_time {
            set_header(TENANT_TIME_HEADER, &ongoing.tenant_nanos.to_string());
        }
    }

    fn clock_start(&self, stream: &mut dyn Stream) -> u64 {
        if self.configuration.report_tenant_time {
            stream.now_nanos()
        } else {
            0
        }
    }

    fn clock_stop(&self, stream: &mut dyn Stream, start: u64, ongoing: &mut Ongoing) {
        if self.configuration.report_tenant_time {
            ongoing.tenant_nanos += stream.now_nanos().saturating_sub(start);
        }
    }
}

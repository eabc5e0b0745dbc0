//! One HTTP stream through a tenant, in the hook order of `rvedge::runtime::exchange`, with
//! the proxy's stream in place of in-memory messages:
//!
//! - request headers: client fork runs `on_recv`, `on_hash`. A `respond` there is answered
//!   locally (after `on_deliver`). Otherwise, when the tenant has a backend side (a forge, or
//!   `on_backend_fetch`/`on_backend_response`), it runs in a second fork: at once for a request
//!   without a body, else after the whole body has been buffered (so `body_get` sees it). A
//!   proxy that cannot hold the request headers while the body comes (Envoy without
//!   `allow_on_headers_stop_iteration`) gets them at once: a forge still waits for the body
//!   (its answer is local), other backend sides run on the headers alone (`body_get` fails).
//! - forge: the callback builds the response, `on_backend_response` and `on_deliver` see it,
//!   and it goes out as a local reply with `cache-control` from the decision.
//! - no forge: the request goes upstream with the tenant's backend choice in
//!   [`BACKEND_HEADER`]; at response headers the backend fork runs `on_backend_response` and
//!   the client fork `on_deliver`, both on the upstream's response.
//! - a tenant error anywhere: a local 503 (`rvedge::runtime::error_response`) and a log line
//!   naming the tenant and the cause. The VM keeps serving; nothing traps.

use std::sync::Arc;

use rvedge::runtime::abi::{Decision, Hook, DEFAULT_TTL_SECONDS};
use rvedge::runtime::{error_response, ForgeRequest, Fork, HttpResponse, RequestError, Tenant};

use crate::config::{tenant_name, FilterConfiguration};
use crate::stream::{LogLevel, Message, ResponseView, Stream, StreamHost};

/// Request header carrying the backend the tenant chose (`backend_set`); the proxy routes on
/// it (Envoy: a route `headers` match). Absent when the tenant chose none. A client's own
/// value is removed before the tenant runs, so clients cannot pick backends themselves.
pub const BACKEND_HEADER: &str = "x-rvedge-backend";

/// Response header with the nanoseconds spent forking and running tenant code for the request,
/// when the configuration asks for it (`report_tenant_time`).
pub const TENANT_TIME_HEADER: &str = "x-rvedge-tenant-nanos";

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
    tenant: Arc<Tenant>,
    client: Fork,
    backend_fork: Option<Fork>,
    forge: Option<ForgeRequest>,
    backend_name: Option<String>,
    /// The whole request body, once the filter has it; `None` while it is to come, or when
    /// the backend side runs without it.
    body: Option<Vec<u8>>,
    log_lines: u32,
    tenant_nanos: u64,
}

impl Ongoing {
    /// Whether tenant code runs on the backend side: a forge, or backend hooks. A plain pass
    /// to the upstream runs none (as in `exchange`).
    fn has_backend_side(&self) -> bool {
        self.forge.is_some()
            || self.tenant.has_hook(Hook::BackendFetch)
            || self.tenant.has_hook(Hook::BackendResponse)
    }
}

#[derive(Debug, Default)]
enum State {
    /// No tenant for this request, or the exchange is over: the filter stays out of the way.
    #[default]
    Idle,
    /// The backend side needs the request body; buffering it.
    AwaitingBody(Box<Ongoing>),
    /// Sent upstream; the response hooks are left.
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
        // Only the tenant may choose a backend.
        let _ = stream.set_header(Message::Request, BACKEND_HEADER, None);
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
        let mut ongoing = Box::new(Ongoing {
            client: tenant.fork(),
            tenant: Arc::clone(tenant),
            backend_fork: None,
            forge: None,
            backend_name: None,
            body: None,
            log_lines: 0,
            tenant_nanos: 0,
        });
        self.clock_stop(stream, start, &mut ongoing);
        for hook in [Hook::Recv, Hook::Hash] {
            if let Err(error) =
                self.run_client_hook(stream, &mut ongoing, hook, ResponseView::Absent)
            {
                return self.fail(stream, &error);
            }
        }
        if let Some(response) = ongoing.client.take_response() {
            // A synthetic answer from on_recv: never cached, no backend side.
            let mut response = HttpResponse::from_tenant(response);
            set_memory_header(&mut response, "cache-control", "no-store");
            return self.deliver_locally(stream, ongoing, response);
        }
        ongoing.forge = ongoing.client.forge_request();
        if ongoing.has_backend_side() && !end_of_stream {
            return self.await_body(stream, ongoing);
        }
        ongoing.body = Some(Vec::new());
        self.backend_side(stream, ongoing)
    }

    /// Whether a later callback of this stream will run tenant hooks, so what they read of
    /// the request must outlive the proxy's request headers.
    pub fn has_later_hooks(&self) -> bool {
        matches!(self.state, State::AwaitingBody(_) | State::Forwarded(_))
    }

    /// The backend side reads the body, so it waits for it. Holding the request headers
    /// meanwhile needs a proxy that still delivers the body after a pause in the headers
    /// callback (`allow_on_headers_stop_iteration`); any other proxy sends the headers on
    /// when this callback returns. Then a forge still waits (its answer is a local reply, and
    /// the proxy abandons the upstream request for it), and any other backend side runs now,
    /// on the headers, without the body.
    fn await_body(&mut self, stream: &mut dyn Stream, ongoing: Box<Ongoing>) -> Action {
        if self.configuration.allow_on_headers_stop_iteration {
            self.state = State::AwaitingBody(ongoing);
            return Action::Pause;
        }
        if ongoing.forge.is_some() {
            self.state = State::AwaitingBody(ongoing);
            return Action::Continue;
        }
        // `ongoing.body` stays `None`: `body_get` fails rather than show an empty body.
        self.backend_side(stream, ongoing)
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
        if !end_of_stream {
            // Keep buffering: the proxy holds the body until the callback says continue.
            return Action::Pause;
        }
        let State::AwaitingBody(mut ongoing) = std::mem::take(&mut self.state) else {
            return Action::Continue;
        };
        ongoing.body = Some(stream.request_body(body_size));
        self.backend_side(stream, ongoing)
    }

    pub fn on_response_headers(&mut self, stream: &mut dyn Stream) -> Action {
        let State::Forwarded(mut ongoing) = std::mem::take(&mut self.state) else {
            return Action::Continue;
        };
        if let Some(mut backend_fork) = ongoing.backend_fork.take() {
            let result = self.run_backend_hook(
                stream,
                &mut ongoing,
                &mut backend_fork,
                Hook::BackendResponse,
                ResponseView::Stream,
            );
            if let Err(error) = result {
                return self.fail(stream, &error);
            }
        }
        if let Err(error) =
            self.run_client_hook(stream, &mut ongoing, Hook::Deliver, ResponseView::Stream)
        {
            return self.fail(stream, &error);
        }
        if self.configuration.report_tenant_time {
            let nanos = ongoing.tenant_nanos.to_string();
            let _ = stream.set_header(Message::Response, TENANT_TIME_HEADER, Some(&nanos));
        }
        Action::Continue
    }

    /// The backend side: `on_backend_fetch`, then the forge callback (answered locally) or the
    /// upstream (the request continues).
    fn backend_side(&mut self, stream: &mut dyn Stream, mut ongoing: Box<Ongoing>) -> Action {
        if !ongoing.has_backend_side() {
            return self.forward(stream, ongoing);
        }
        let start = self.clock_start(stream);
        let mut backend_fork = ongoing.tenant.fork();
        self.clock_stop(stream, start, &mut ongoing);
        if let Err(error) = self.run_backend_hook(
            stream,
            &mut ongoing,
            &mut backend_fork,
            Hook::BackendFetch,
            ResponseView::Absent,
        ) {
            return self.fail(stream, &error);
        }
        let Some(forge) = ongoing.forge else {
            ongoing.backend_fork = Some(backend_fork);
            return self.forward(stream, ongoing);
        };
        let forged = self.timed(stream, &mut ongoing, |stream, ongoing| {
            let mut host = StreamHost {
                stream,
                response: ResponseView::Absent,
                tenant: ongoing.tenant.name(),
                body: ongoing.body.as_deref(),
                backend: &mut ongoing.backend_name,
                log_lines: &mut ongoing.log_lines,
            };
            backend_fork.run_forge(forge, &mut host)
        });
        let mut response = match forged {
            Ok(response) => HttpResponse::from_tenant(response),
            Err(error) => return self.fail(stream, &error),
        };
        let backend_response = self.timed(stream, &mut ongoing, |stream, ongoing| {
            let mut host = StreamHost {
                stream,
                response: ResponseView::Memory(&mut response),
                tenant: ongoing.tenant.name(),
                body: ongoing.body.as_deref(),
                backend: &mut ongoing.backend_name,
                log_lines: &mut ongoing.log_lines,
            };
            backend_fork.run_hook(Hook::BackendResponse, &mut host)
        });
        if let Err(error) = backend_response {
            return self.fail(stream, &error);
        }
        let mut cacheable = forge.decision == Decision::Cached;
        let mut ttl_seconds = DEFAULT_TTL_SECONDS;
        if let Some(setting) = backend_fork.cache_setting() {
            cacheable = setting.cacheable;
            ttl_seconds = setting.ttl_seconds;
        }
        let cache_control = if cacheable {
            format!("max-age={ttl_seconds}")
        } else {
            "no-store".into()
        };
        set_memory_header(&mut response, "cache-control", &cache_control);
        drop(backend_fork);
        self.deliver_locally(stream, ongoing, response)
    }

    /// Lets the request go upstream, routed by the tenant's backend choice.
    fn forward(&mut self, stream: &mut dyn Stream, ongoing: Box<Ongoing>) -> Action {
        if let Some(backend) = &ongoing.backend_name {
            let _ = stream.set_header(Message::Request, BACKEND_HEADER, Some(backend));
        }
        self.state = State::Forwarded(ongoing);
        Action::Continue
    }

    /// Runs `on_deliver` on a response the filter built and sends it as a local reply.
    fn deliver_locally(
        &mut self,
        stream: &mut dyn Stream,
        mut ongoing: Box<Ongoing>,
        mut response: HttpResponse,
    ) -> Action {
        let delivered = self.run_client_hook(
            stream,
            &mut ongoing,
            Hook::Deliver,
            ResponseView::Memory(&mut response),
        );
        if let Err(error) = delivered {
            return self.fail(stream, &error);
        }
        if self.configuration.report_tenant_time {
            set_memory_header(
                &mut response,
                TENANT_TIME_HEADER,
                &ongoing.tenant_nanos.to_string(),
            );
        }
        send_local(stream, &response);
        self.state = State::Idle;
        Action::Pause
    }

    /// Answers a failed request: 503 with the error kind, and a log line with the detail.
    fn fail(&mut self, stream: &mut dyn Stream, error: &RequestError) -> Action {
        stream.log(LogLevel::Warn, &format!("rvedge: request failed: {error}"));
        send_local(stream, &error_response(error));
        self.state = State::Idle;
        Action::Pause
    }

    fn run_client_hook(
        &self,
        stream: &mut dyn Stream,
        ongoing: &mut Ongoing,
        hook: Hook,
        response: ResponseView<'_>,
    ) -> Result<bool, RequestError> {
        let start = self.clock_start(stream);
        let mut host = StreamHost {
            stream: &mut *stream,
            response,
            tenant: ongoing.tenant.name(),
            body: None,
            backend: &mut ongoing.backend_name,
            log_lines: &mut ongoing.log_lines,
        };
        let result = ongoing.client.run_hook(hook, &mut host);
        self.clock_stop(stream, start, ongoing);
        result
    }

    fn run_backend_hook(
        &self,
        stream: &mut dyn Stream,
        ongoing: &mut Ongoing,
        backend_fork: &mut Fork,
        hook: Hook,
        response: ResponseView<'_>,
    ) -> Result<bool, RequestError> {
        let start = self.clock_start(stream);
        let mut host = StreamHost {
            stream: &mut *stream,
            response,
            tenant: ongoing.tenant.name(),
            body: ongoing.body.as_deref(),
            backend: &mut ongoing.backend_name,
            log_lines: &mut ongoing.log_lines,
        };
        let result = backend_fork.run_hook(hook, &mut host);
        self.clock_stop(stream, start, ongoing);
        result
    }

    fn timed<T>(
        &self,
        stream: &mut dyn Stream,
        ongoing: &mut Ongoing,
        work: impl FnOnce(&mut dyn Stream, &mut Ongoing) -> T,
    ) -> T {
        let start = self.clock_start(stream);
        let result = work(stream, ongoing);
        self.clock_stop(stream, start, ongoing);
        result
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

fn set_memory_header(response: &mut HttpResponse, name: &str, value: &str) {
    response
        .headers
        .retain(|(key, _)| !key.eq_ignore_ascii_case(name));
    response.headers.push((name.into(), value.into()));
}

/// Sends `response` as a local reply. The proxy frames the body itself, so a
/// `content-length` of ours would only risk a duplicate.
fn send_local(stream: &mut dyn Stream, response: &HttpResponse) {
    let headers: Vec<(String, String)> = response
        .headers
        .iter()
        .filter(|(name, _)| !name.eq_ignore_ascii_case("content-length"))
        .cloned()
        .collect();
    stream.send_response(response.status, &headers, &response.body);
}

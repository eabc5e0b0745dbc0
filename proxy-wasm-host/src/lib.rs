//! A proxy-wasm ABI 0.2.1 host on wasmtime, with Envoy's semantics, for running proxy-wasm
//! filters (the rvedge filter among them) outside Envoy: in tests, benchmarks and
//! `rvedge serve`.
//!
//! Roles follow wasmtime's: a [`FilterModule`] is the compiled filter with its host functions
//! registered once (cheap to clone and share between threads); a [`FilterVm`] is one
//! instance with its root context configured (Envoy keeps one per worker thread). Each HTTP
//! exchange is a stream context in that VM: [`FilterVm::on_request`] runs the request
//! callbacks, [`FilterVm::on_response`] the response callbacks and the end of the stream,
//! [`FilterVm::handle`] both with an [`Upstream`] in between.
//!
//! # Semantics, and where they differ from Envoy
//!
//! - Header maps carry Envoy's pseudo-headers: `:method`, `:path`, `:authority`, `:scheme` on
//!   requests, `:status` on responses. Names the filter writes are lower-cased, as Envoy's
//!   header maps do. `proxy_get_header_map_value` returns the first value of a repeated header
//!   (Envoy's behaviour too).
//! - Bodies arrive whole: the headers callback gets `end_of_stream = false` when a body
//!   follows, then one body callback with `end_of_stream = true`. (Envoy calls the body
//!   callback once per chunk it reads, often with a last empty one carrying the end of
//!   stream; a filter must not count on either.) Trailers are never sent.
//! - What the request headers callback returns decides the rest, as in Envoy 1.40 (each rule
//!   observed in Envoy with host-probe's `/late` and `/late-paused`, tests/proxy-wasm-conformance
//!   `tests/envoy.rs`):
//!   - Continue: the request headers are gone for the filter. Every read and write of the
//!     request header map is BadArgument (status 2), in the body callbacks and the response
//!     callbacks alike; in `proxy_on_log` reads work again (Envoy's access-log view) and
//!     writes stay BadArgument. A filter that needs the request later keeps its own copy.
//!     The response headers go the same way once the response headers callback continued
//!     (BadArgument in the response body callbacks, readable in `proxy_on_log`).
//!   - Pause (StopIteration) with a body to come: only with
//!     [`FilterVm::allow_on_headers_stop_iteration`] (Envoy's PluginConfig field, default
//!     false) does the body come to the body callback; the headers then stay readable and
//!     writable for the rest of the stream. Without it Envoy turns the pause into
//!     StopAllIterationAndWatermark, never calls the body callback and the request hangs until
//!     Envoy's stream idle timeout; this host answers such a stream at once with a local 500
//!     and a critical log line ("stream N stalled").
//! - Failure policy: Envoy's default (`FAIL_CLOSED`) answers 503 for every request of a failed
//!   VM for the life of the worker; `failure_policy: FAIL_RELOAD` (what examples/envoy sets)
//!   answers 503 during a backoff (1 s by default) and then starts a fresh VM. This host
//!   always restarts a failed VM before the next request (see Failure below).
//! - `proxy_send_local_response` is deferred until the current callback returns (as Envoy
//!   does). A local reply from a request callback ends the request phase; the response
//!   callbacks then run on the local reply, as Envoy runs encoder filters on local replies.
//!   A local reply from a response callback replaces the response and no response callbacks
//!   run again on it (Envoy would re-enter the filter; the spec discourages relying on it).
//!   Local replies get `content-length`, and `content-type: text/plain` when they have a body
//!   and the filter gave no content type (Envoy's `sendLocalReply` does the same).
//! - Any other pause still in force when a message's callbacks are done (the body callback
//!   pausing at the end of the stream, a pause without a body), with nothing pending that
//!   could resume it (this host has no `proxy_http_call`/gRPC), is continued rather than left
//!   to time out. Envoy would hang there too.
//! - `proxy_close_stream` on an HTTP stream (a reset in Envoy) is answered with a local 503.
//! - A stream ends as the spec orders it: `proxy_on_done`, `proxy_on_log`, `proxy_on_delete`.
//!   A false from `proxy_on_done` (wait for `proxy_done`) does not defer the end, since
//!   nothing could complete later.
//! - Besides the request header rules above, the spec restricts buffers and header maps to
//!   certain callbacks (the VM configuration to `proxy_on_vm_start`, ...). This host is
//!   lenient there: other maps and buffers can be read and written until the stream ends
//!   (writes after a phase was forwarded have no effect on what was sent). Unknown map,
//!   buffer and stream ids are BadArgument as the spec says; known ones that do not exist
//!   yet are NotFound; TCP stream ids are Unimplemented for `proxy_continue_stream`.
//! - Unsupported calls (`proxy_http_call`, gRPC, shared queues, foreign functions, and any
//!   import this host does not define) trap with a message naming the call, so the filter is
//!   failed closed like any trap. Shared data is per VM, not shared between VMs.
//! - Properties: a subset (see [`hostcalls`]); values the filter sets with
//!   `proxy_set_property` are readable again on the same stream.
//! - Failure: a trap, the CPU limit (wasmtime fuel refilled per callback, and/or a time limit
//!   per callback by epoch interruption: [`HostLimits`]) or the memory limit
//!   (a `memory.grow` past [`HostLimits::max_memory_bytes`] returns -1, as a VM out of memory
//!   does; the filter then traps) fails the stream closed: a local 503 with no body (Envoy's
//!   `failStream`), a critical log line naming the cause, and the VM is discarded and started
//!   again from its configuration before the next request (Envoy restarts a failed VM too).
//!   Streams opened in the failed VM are answered 503 when their response arrives.
//! - The log a VM keeps until it is taken ([`FilterVm::take_logs`]) holds at most
//!   [`MAX_LOG_BYTES`] of messages (`proxy_log` and WASI output alike); later lines are dropped
//!   with one critical line saying so, so a filter logging in a loop cannot fill the host's
//!   memory. Envoy writes a filter's lines to its own log as they come.

mod abi;
pub mod hostcalls;
mod output;
mod vm;

pub use abi::LogLevel;
pub use hostcalls::MAX_LOG_BYTES;
pub use vm::{FilterModule, FilterVm, StreamId};

use std::fmt;
use std::time::Duration;

/// Limits every VM of a module runs under. Build with `..HostLimits::default()` so fields can
/// be added.
///
/// The CPU limit is fuel (deterministic: the same filter and input stop at the same point)
/// and/or a wall-clock limit per callback through wasmtime's epoch interruption (cheaper to
/// run: fuel metering costs the filter some speed). Setting `fuel_per_callback` to 0 turns
/// fuel metering off; then set `callback_time_limit`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostLimits {
    /// Fuel (about one unit per wasm instruction) for each callback into the filter, refilled
    /// before every callback; 0: no fuel metering.
    pub fuel_per_callback: u64,
    /// Fuel for starting a VM: `_initialize`, `proxy_on_vm_start` and `proxy_on_configure`
    /// together (a filter may do much of its work once, at configuration).
    pub fuel_for_start: u64,
    /// Wall-clock time each callback may take (measured in 1 ms epochs); starting a VM has no
    /// time limit.
    pub callback_time_limit: Option<Duration>,
    /// Largest linear memory a VM may have.
    pub max_memory_bytes: usize,
}

impl Default for HostLimits {
    fn default() -> Self {
        HostLimits {
            fuel_per_callback: 2_000_000_000,
            fuel_for_start: 50_000_000_000,
            callback_time_limit: None,
            max_memory_bytes: 512 << 20,
        }
    }
}

/// An HTTP request as the client sent it or as the filter left it. `headers` holds no
/// pseudo-headers (and no `host`: that is `authority`); names are lower-case as Envoy has them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub authority: String,
    pub scheme: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        first_header(&self.headers, name)
    }
}

/// An HTTP response. `local_reply` is true when the filter (or the host, failing a stream
/// closed) answered instead of the upstream.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub local_reply: bool,
}

impl Response {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        first_header(&self.headers, name)
    }
}

fn first_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.as_str())
}

/// What the request callbacks decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RequestOutcome {
    /// Send `request` upstream, then give its response to [`FilterVm::on_response`] with
    /// `stream`.
    Forward { stream: StreamId, request: Request },
    /// The filter answered (or the stream failed closed); the stream is finished.
    LocalReply(Response),
}

/// Where forwarded requests go.
pub trait Upstream {
    fn send(&mut self, request: &Request) -> Response;
}

/// An origin that answers every request `200 ok` and does nothing else: for measuring the
/// host and a filter without an origin's own work (host_bench, filter-requests).
#[derive(Debug)]
pub struct FixedUpstream;

impl Upstream for FixedUpstream {
    fn send(&mut self, _request: &Request) -> Response {
        Response {
            status: 200,
            headers: vec![("content-type".into(), "text/plain".into())],
            body: b"ok".to_vec(),
            local_reply: false,
        }
    }
}

/// One line a filter logged (`proxy_log`, or its WASI stdout/stderr), or a line the host
/// logged about the filter (a failed stream, a VM restart).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogEntry {
    pub level: LogLevel,
    pub message: String,
}

impl fmt::Display for LogEntry {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(out, "[{}] {}", self.level.name(), self.message)
    }
}

/// Why a module could not be used or a VM not be started.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostError {
    /// The bytes are not a valid module for this engine.
    Compile(String),
    /// The module does not export `proxy_abi_version_0_2_1` (or `_0_2_0`).
    UnsupportedAbi,
    /// Instantiation or `_initialize` failed, or a start callback trapped.
    Start(String),
    /// `proxy_on_vm_start` returned false; the filter's log lines say why.
    VmStartRejected { logs: Vec<LogEntry> },
    /// `proxy_on_configure` returned false; the filter's log lines say why.
    ConfigurationRejected { logs: Vec<LogEntry> },
    /// [`FilterVm::on_response`] was given a stream this VM never opened or already finished.
    UnknownStream(StreamId),
}

impl fmt::Display for HostError {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        let write_logs = |out: &mut fmt::Formatter<'_>, logs: &[LogEntry]| {
            for entry in logs {
                write!(out, "\n  {entry}")?;
            }
            Ok(())
        };
        match self {
            HostError::Compile(message) => write!(out, "cannot compile the filter: {message}"),
            HostError::UnsupportedAbi => out.write_str(
                "the module is not a proxy-wasm 0.2.x filter (no proxy_abi_version_0_2_1 export)",
            ),
            HostError::Start(message) => write!(out, "cannot start the filter: {message}"),
            HostError::VmStartRejected { logs } => {
                out.write_str("the filter refused to start (proxy_on_vm_start returned false)")?;
                write_logs(out, logs)
            }
            HostError::ConfigurationRejected { logs } => {
                out.write_str(
                    "the filter refused its configuration (proxy_on_configure returned false)",
                )?;
                write_logs(out, logs)
            }
            HostError::UnknownStream(stream) => write!(out, "unknown stream {stream:?}"),
        }
    }
}

impl std::error::Error for HostError {}

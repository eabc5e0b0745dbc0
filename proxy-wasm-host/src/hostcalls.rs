//! The `env` functions a proxy-wasm 0.2.1 filter imports, on the state of one VM.
//!
//! Properties this host knows (`proxy_get_property`, path segments joined by NUL as the ABI
//! serializes them): `request.path`, `request.url_path`, `request.query`, `request.host`,
//! `request.method`, `request.scheme`, `request.protocol`, `request.id` (`x-request-id`),
//! `request.useragent`, `request.referer`, `response.code` (8-byte little-endian integer, as
//! Envoy gives integers), `plugin_name`, `plugin_root_id` (also as `root_id`),
//! `plugin_vm_id`, and whatever the filter set with `proxy_set_property`. Anything else is
//! NotFound.

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::time::{SystemTime, UNIX_EPOCH};

use wasmtime::{Caller, Linker, Memory, TypedFunc};
use wasmtime_wasi::p1::WasiP1Ctx;

use crate::abi::{self, LogLevel, Status};
use crate::output::CapturedOutput;
use crate::{LogEntry, Response};

/// Who the plugin is, for the `plugin_*` properties.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PluginIdentity {
    pub name: String,
    pub root_id: String,
    pub vm_id: String,
}

/// Counts linear memory against the limit; a growth past it fails (`memory.grow` returns -1)
/// and is remembered, so the trap that usually follows is reported as the memory limit.
#[derive(Debug)]
pub(crate) struct MemoryLimiter {
    pub max_memory_bytes: usize,
    pub exceeded: bool,
}

/// Tables only hold function references; this bounds them far above what compilers emit.
const MAX_TABLE_ELEMENTS: usize = 1 << 20;

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_memory_bytes {
            self.exceeded = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}

/// One HTTP stream (context) of the VM.
#[derive(Debug, Default)]
pub(crate) struct StreamState {
    /// With pseudo-headers first, as Envoy orders them.
    pub request_headers: Vec<(String, String)>,
    /// Whether the filter may still use `request_headers` (Envoy's rules, see [`HeaderAccess`]).
    pub request_headers_access: HeaderAccess,
    pub request_body: Vec<u8>,
    /// Present once the response phase started; `:status` first.
    pub response_headers: Option<Vec<(String, String)>>,
    pub response_headers_access: HeaderAccess,
    pub response_body: Vec<u8>,
    /// A `proxy_send_local_response` waiting for the current callback to return.
    pub local_reply: Option<Response>,
    /// `proxy_close_stream` was called on the HTTP stream.
    pub reset: bool,
    /// What the filter set with `proxy_set_property`, by dotted path.
    pub properties: HashMap<String, Vec<u8>>,
}

/// What the filter may do with a stream's request or response headers, as Envoy 1.40 decides
/// it (observed with host-probe's `/late` and `/late-paused` in Envoy, see
/// tests/proxy-wasm-conformance's `tests/envoy.rs`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum HeaderAccess {
    /// Read and write: during the message's headers callback, and for the rest of the stream
    /// when that callback paused (Envoy keeps the map of a filter that stopped iteration).
    #[default]
    Held,
    /// The headers callback continued, so the headers went on: every read and write is
    /// BadArgument, in the later callbacks of the stream.
    Released,
    /// `proxy_on_log` after `Released`: Envoy shows the message as it logs it; reads work,
    /// writes are BadArgument.
    Logged,
}

impl HeaderAccess {
    fn allows(self, access: Access) -> bool {
        matches!(
            (self, access),
            (HeaderAccess::Held, _) | (HeaderAccess::Logged, Access::Read)
        )
    }
}

/// Whether a host call reads or changes a header map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Access {
    Read,
    Write,
}

/// Bytes of log messages a VM may leave between two takes of its log (`FilterVm::take_logs`,
/// or its end); later lines are dropped and the log says so once, so a filter that logs in a
/// loop cannot fill the host's memory.
pub const MAX_LOG_BYTES: usize = 4 << 20;

/// A VM's log lines not yet taken, within [`MAX_LOG_BYTES`].
#[derive(Debug, Default)]
pub(crate) struct LogBuffer {
    entries: Vec<LogEntry>,
    bytes: usize,
    dropped: bool,
}

impl LogBuffer {
    /// Whether a message of `bytes` bytes would be kept.
    fn has_room(&self, bytes: usize) -> bool {
        self.bytes.saturating_add(bytes) <= MAX_LOG_BYTES
    }

    pub fn push(&mut self, level: LogLevel, message: String) {
        if !self.has_room(message.len()) {
            self.drop_line();
            return;
        }
        self.bytes += message.len();
        self.entries.push(LogEntry { level, message });
    }

    /// A line of the host's own (a failure, a restart): few, so kept whatever the filter
    /// logged.
    pub fn push_host_line(&mut self, entry: LogEntry) {
        self.entries.push(entry);
    }

    /// Drops a line that does not fit; the first dropped line is noted in the log.
    fn drop_line(&mut self) {
        if !std::mem::replace(&mut self.dropped, true) {
            self.entries.push(LogEntry {
                level: LogLevel::Critical,
                message: format!(
                    "proxy-wasm: the filter logged more than {MAX_LOG_BYTES} bytes since its log \
                     was last taken; later lines are dropped"
                ),
            });
        }
    }

    /// The lines so far; the buffer starts empty again.
    pub fn take(&mut self) -> Vec<LogEntry> {
        std::mem::take(self).entries
    }

    pub fn entries(&self) -> &[LogEntry] {
        &self.entries
    }
}

/// The store data of one VM.
pub(crate) struct HostState {
    pub wasi: WasiP1Ctx,
    pub limiter: MemoryLimiter,
    pub stdout: CapturedOutput,
    pub stderr: CapturedOutput,
    pub vm_configuration: Vec<u8>,
    pub plugin_configuration: Vec<u8>,
    pub identity: PluginIdentity,
    pub logs: LogBuffer,
    pub root_context_id: u32,
    /// The context host calls act on: the stream whose callback runs, or the root context.
    pub effective_context_id: u32,
    pub streams: StreamMap,
    pub tick_period_millis: u32,
    pub root_properties: HashMap<String, Vec<u8>>,
    pub shared_data: HashMap<String, (Vec<u8>, u32)>,
    pub metrics: Vec<(String, u64)>,
    /// Set after instantiation; host calls that return data allocate with it.
    pub memory: Option<Memory>,
    pub allocate: Option<TypedFunc<i32, i32>>,
}

/// Streams by context id. The ids are this host's own sequence numbers, never a client's, so
/// one multiplication hashes them (std's SipHash, per host call, was 2% of a request the
/// filter passes through).
pub(crate) type StreamMap = HashMap<u32, StreamState, BuildHasherDefault<ContextIdHasher>>;

#[derive(Default)]
pub(crate) struct ContextIdHasher(u64);

impl Hasher for ContextIdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.mix(u64::from(byte));
        }
    }

    fn write_u32(&mut self, id: u32) {
        self.mix(u64::from(id));
    }
}

impl ContextIdHasher {
    /// Fibonacci hashing: the table takes its bucket and tag bits from all of the product.
    fn mix(&mut self, value: u64) {
        self.0 = (self.0 ^ value).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

impl HostState {
    fn stream(&mut self) -> Option<&mut StreamState> {
        let id = self.effective_context_id;
        self.streams.get_mut(&id)
    }

    fn log(&mut self, level: LogLevel, message: String) {
        self.logs.push(level, message);
    }

    /// Moves WASI output written so far into the log.
    pub fn drain_output(&mut self, flush_partial: bool) {
        for line in self.stdout.take_lines(flush_partial) {
            self.log(LogLevel::Info, line);
        }
        for line in self.stderr.take_lines(flush_partial) {
            self.log(LogLevel::Error, line);
        }
    }
}

type HostResult = wasmtime::Result<i32>;

fn status(status: Status) -> HostResult {
    Ok(status as i32)
}

fn memory(caller: &Caller<'_, HostState>) -> Option<Memory> {
    caller.data().memory
}

/// Guest bytes at (pointer, length), or `None` when they are not all inside its memory.
fn guest_bytes<'a>(
    caller: &'a Caller<'_, HostState>,
    pointer: i32,
    length: i32,
) -> Option<&'a [u8]> {
    memory(caller)?
        .data(caller)
        .get(guest_range(pointer, length as u32 as usize)?)
}

/// The bytes of guest memory a (pointer, length) pair names, as the guest's unsigned 32-bit
/// values; `None` where the end does not fit.
fn guest_range(pointer: i32, length: usize) -> Option<std::ops::Range<usize>> {
    let start = pointer as u32 as usize;
    Some(start..start.checked_add(length)?)
}

/// A copy of [`guest_bytes`].
fn read_guest(caller: &Caller<'_, HostState>, pointer: i32, length: i32) -> Option<Vec<u8>> {
    guest_bytes(caller, pointer, length).map(<[u8]>::to_vec)
}

fn write_guest(caller: &mut Caller<'_, HostState>, pointer: i32, bytes: &[u8]) -> bool {
    let Some(memory) = memory(caller) else {
        return false;
    };
    let Some(range) = guest_range(pointer, bytes.len()) else {
        return false;
    };
    match memory.data_mut(caller).get_mut(range) {
        Some(target) => {
            target.copy_from_slice(bytes);
            true
        }
        None => false,
    }
}

/// Returns `bytes` to the filter the ABI's way: in memory the filter allocates with
/// `proxy_on_memory_allocate` (it frees it), with its address and size written to the two
/// return pointers.
fn return_bytes(
    caller: &mut Caller<'_, HostState>,
    bytes: &[u8],
    return_data: i32,
    return_size: i32,
) -> HostResult {
    let mut address = 0i32;
    if !bytes.is_empty() {
        let Some(allocate) = caller.data().allocate.clone() else {
            return status(Status::InternalFailure);
        };
        address = allocate.call(&mut *caller, bytes.len() as i32)?;
        if address == 0 || !write_guest(caller, address, bytes) {
            return status(Status::InternalFailure);
        }
    }
    if !write_guest(caller, return_data, &address.to_le_bytes())
        || !write_guest(caller, return_size, &(bytes.len() as u32).to_le_bytes())
    {
        return status(Status::BadArgument);
    }
    status(Status::Ok)
}

fn guest_string(caller: &Caller<'_, HostState>, pointer: i32, length: i32) -> Option<String> {
    // Straight from guest memory: header calls read two strings each, and a copy first
    // doubled their allocations.
    guest_bytes(caller, pointer, length).map(|bytes| text(bytes).into_owned())
}

/// Guest bytes as text. They are nearly always UTF-8, which `from_utf8` checks a word at a
/// time; the lossy decoder, which walks byte by byte, only for the rest.
fn text(bytes: &[u8]) -> Cow<'_, str> {
    std::str::from_utf8(bytes).map_or_else(|_| String::from_utf8_lossy(bytes), Cow::Borrowed)
}

/// `lookup` on header map `map_type` of the current stream, given the header name at
/// (`key`, `key_size`) as the guest wrote it, read in place: the maps hold lower-cased names,
/// so `lookup` compares with `eq_ignore_ascii_case` and no copy of the name is made.
fn with_header_map<R>(
    caller: &mut Caller<'_, HostState>,
    map_type: i32,
    (key, key_size): (i32, i32),
    access: Access,
    lookup: impl FnOnce(&mut Vec<(String, String)>, &str) -> R,
) -> Result<R, Status> {
    let memory = memory(caller).ok_or(Status::BadArgument)?;
    let (data, state) = memory.data_and_store_mut(&mut *caller);
    let name = guest_range(key, key_size as u32 as usize)
        .and_then(|range| data.get(range))
        .ok_or(Status::BadArgument)?;
    let name = text(name);
    let map = header_map(state, map_type, access)?;
    Ok(lookup(map, &name))
}

/// `pairs` with their names lower-cased in place, as the header maps keep them.
pub(crate) fn lower_case_names(mut pairs: Vec<(String, String)>) -> Vec<(String, String)> {
    for (name, _) in &mut pairs {
        name.make_ascii_lowercase();
    }
    pairs
}

/// The header map `map_type` of the current stream: BadArgument for an id the ABI does not
/// define (as the spec says), NotFound for a map that does not exist now (response headers
/// before the response, maps outside a stream, the HTTP/gRPC call maps this host never has).
fn header_map(
    state: &mut HostState,
    map_type: i32,
    access: Access,
) -> Result<&mut Vec<(String, String)>, Status> {
    if !(0..=abi::map::LAST).contains(&map_type) {
        return Err(Status::BadArgument);
    }
    let stream = state.stream().ok_or(Status::NotFound)?;
    match map_type {
        abi::map::HTTP_REQUEST_HEADERS if stream.request_headers_access.allows(access) => {
            Ok(&mut stream.request_headers)
        }
        abi::map::HTTP_RESPONSE_HEADERS if stream.response_headers_access.allows(access) => {
            stream.response_headers.as_mut().ok_or(Status::NotFound)
        }
        abi::map::HTTP_REQUEST_HEADERS | abi::map::HTTP_RESPONSE_HEADERS => {
            Err(Status::BadArgument)
        }
        _ => Err(Status::NotFound),
    }
}

/// Whether `map_type` names a map this host knows but never fills (trailers).
fn is_empty_map_type(map_type: i32) -> bool {
    matches!(
        map_type,
        abi::map::HTTP_REQUEST_TRAILERS | abi::map::HTTP_RESPONSE_TRAILERS
    )
}

/// The buffer `buffer_type`: BadArgument for an id the ABI does not define, NotFound for one
/// that does not exist now. The spec restricts each buffer to its callbacks (the VM
/// configuration to `proxy_on_vm_start`, ...); this host is lenient and keeps them readable.
fn buffer(state: &mut HostState, buffer_type: i32) -> Result<&mut Vec<u8>, Status> {
    if !(0..=abi::buffer::LAST).contains(&buffer_type) {
        return Err(Status::BadArgument);
    }
    match buffer_type {
        abi::buffer::VM_CONFIGURATION => Ok(&mut state.vm_configuration),
        abi::buffer::PLUGIN_CONFIGURATION => Ok(&mut state.plugin_configuration),
        abi::buffer::HTTP_REQUEST_BODY => state
            .stream()
            .map(|stream| &mut stream.request_body)
            .ok_or(Status::NotFound),
        abi::buffer::HTTP_RESPONSE_BODY => state
            .stream()
            .map(|stream| &mut stream.response_body)
            .ok_or(Status::NotFound),
        _ => Err(Status::NotFound),
    }
}

/// A property path as the ABI sends it (segments joined by NUL) in dotted form.
fn property_name(path: &[u8]) -> String {
    String::from_utf8_lossy(path).replace('\0', ".")
}

fn property(state: &mut HostState, name: &str) -> Option<Vec<u8>> {
    let identity = &state.identity;
    match name {
        "plugin_name" => return Some(identity.name.clone().into_bytes()),
        "plugin_root_id" | "root_id" => return Some(identity.root_id.clone().into_bytes()),
        "plugin_vm_id" => return Some(identity.vm_id.clone().into_bytes()),
        _ => {}
    }
    if let Some(value) = state.root_properties.get(name) {
        return Some(value.clone());
    }
    let stream = state.stream()?;
    if let Some(value) = stream.properties.get(name) {
        return Some(value.clone());
    }
    let request_header = |key: &str| {
        stream
            .request_headers
            .iter()
            .find(|(header, _)| header == key)
            .map(|(_, value)| value.clone().into_bytes())
    };
    let path = request_header(":path").unwrap_or_default();
    let query_at = path.iter().position(|&byte| byte == b'?');
    match name {
        "request.path" => Some(path),
        "request.url_path" => Some(path[..query_at.unwrap_or(path.len())].to_vec()),
        "request.query" => Some(query_at.map_or(Vec::new(), |at| path[at + 1..].to_vec())),
        "request.host" => request_header(":authority"),
        "request.method" => request_header(":method"),
        "request.scheme" => request_header(":scheme"),
        "request.protocol" => Some(b"HTTP/1.1".to_vec()),
        "request.id" => request_header("x-request-id"),
        "request.useragent" => request_header("user-agent"),
        "request.referer" => request_header("referer"),
        "response.code" => {
            let headers = stream.response_headers.as_ref()?;
            let code: i64 = headers
                .iter()
                .find(|(header, _)| header == ":status")?
                .1
                .parse()
                .ok()?;
            Some(code.to_le_bytes().to_vec())
        }
        _ => None,
    }
}

/// A local reply as Envoy's `sendLocalReply` builds it.
pub(crate) fn local_reply(
    status_code: u16,
    mut headers: Vec<(String, String)>,
    body: Vec<u8>,
) -> Response {
    headers.retain(|(name, _)| !name.starts_with(':') && name != "content-length");
    if !body.is_empty() && !headers.iter().any(|(name, _)| name == "content-type") {
        headers.push(("content-type".into(), "text/plain".into()));
    }
    headers.push(("content-length".into(), body.len().to_string()));
    Response {
        status: status_code,
        headers,
        body,
        local_reply: true,
    }
}

/// Registers every `env` function of the ABI this host implements.
pub(crate) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.func_wrap(
        "env",
        "proxy_log",
        |mut caller: Caller<'_, HostState>, level: i32, pointer: i32, length: i32| -> HostResult {
            let Some(level) = LogLevel::from_abi(level) else {
                return status(Status::BadArgument);
            };
            let Some(bytes) = guest_bytes(&caller, pointer, length) else {
                return status(Status::BadArgument);
            };
            // A line past the cap is not even copied: flooding costs the filter its calls only.
            let message = caller
                .data()
                .logs
                .has_room(bytes.len())
                .then(|| text(bytes).into_owned());
            // WASI output written before this line keeps its place in the log.
            let state = caller.data_mut();
            state.drain_output(false);
            match message {
                Some(message) => state.log(level, message),
                None => state.logs.drop_line(),
            }
            status(Status::Ok)
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_get_log_level",
        |mut caller: Caller<'_, HostState>, return_level: i32| -> HostResult {
            // Every level is captured; the filter's own filtering decides what it sends.
            if !write_guest(
                &mut caller,
                return_level,
                &(LogLevel::Trace as u32).to_le_bytes(),
            ) {
                return status(Status::BadArgument);
            }
            status(Status::Ok)
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_get_current_time_nanoseconds",
        |mut caller: Caller<'_, HostState>, return_time: i32| -> HostResult {
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |since| since.as_nanos() as u64);
            if !write_guest(&mut caller, return_time, &nanos.to_le_bytes()) {
                return status(Status::BadArgument);
            }
            status(Status::Ok)
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_set_tick_period_milliseconds",
        |mut caller: Caller<'_, HostState>, period: i32| -> HostResult {
            caller.data_mut().tick_period_millis = period as u32;
            status(Status::Ok)
        },
    )?;
    add_buffer_calls(linker)?;
    add_header_calls(linker)?;
    add_property_calls(linker)?;
    add_stream_calls(linker)?;
    add_shared_data_and_metric_calls(linker)?;
    Ok(())
}

fn add_buffer_calls(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.func_wrap(
        "env",
        "proxy_get_buffer_bytes",
        |mut caller: Caller<'_, HostState>,
         buffer_type: i32,
         start: i32,
         max_size: i32,
         return_data: i32,
         return_size: i32|
         -> HostResult {
            let buffer = match buffer(caller.data_mut(), buffer_type) {
                Ok(buffer) => buffer,
                Err(error) => return status(error),
            };
            let start = start as u32 as usize;
            if start > buffer.len() {
                return status(Status::BadArgument);
            }
            let end = start
                .saturating_add(max_size as u32 as usize)
                .min(buffer.len());
            let bytes = buffer[start..end].to_vec();
            return_bytes(&mut caller, &bytes, return_data, return_size)
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_get_buffer_status",
        |mut caller: Caller<'_, HostState>,
         buffer_type: i32,
         return_size: i32,
         return_ignored: i32|
         -> HostResult {
            let size = match buffer(caller.data_mut(), buffer_type) {
                Ok(buffer) => buffer.len() as u32,
                Err(error) => return status(error),
            };
            if !write_guest(&mut caller, return_size, &size.to_le_bytes())
                || !write_guest(&mut caller, return_ignored, &0u32.to_le_bytes())
            {
                return status(Status::BadArgument);
            }
            status(Status::Ok)
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_set_buffer_bytes",
        |mut caller: Caller<'_, HostState>,
         buffer_type: i32,
         start: i32,
         size: i32,
         data: i32,
         data_size: i32|
         -> HostResult {
            let Some(bytes) = read_guest(&caller, data, data_size) else {
                return status(Status::BadArgument);
            };
            let buffer = match buffer(caller.data_mut(), buffer_type) {
                Ok(buffer) => buffer,
                Err(error) => return status(error),
            };
            // The spec: replace `size` bytes from `start` with the data (prepend, inject,
            // replace, or append when `start` is at or past the end). Envoy implements only
            // prepend, replace-all and append; this is the general splice.
            let start = (start as u32 as usize).min(buffer.len());
            let end = start.saturating_add(size as u32 as usize).min(buffer.len());
            buffer.splice(start..end, bytes);
            status(Status::Ok)
        },
    )?;
    Ok(())
}

fn add_header_calls(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.func_wrap(
        "env",
        "proxy_get_header_map_pairs",
        |mut caller: Caller<'_, HostState>,
         map_type: i32,
         return_data: i32,
         return_size: i32|
         -> HostResult {
            let serialized = match header_map(caller.data_mut(), map_type, Access::Read) {
                Ok(map) => abi::serialize_map(map),
                Err(Status::NotFound) if is_empty_map_type(map_type) => abi::serialize_map(&[]),
                Err(error) => return status(error),
            };
            return_bytes(&mut caller, &serialized, return_data, return_size)
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_get_header_map_size",
        |mut caller: Caller<'_, HostState>, map_type: i32, return_size: i32| -> HostResult {
            let map = match header_map(caller.data_mut(), map_type, Access::Read) {
                Ok(map) => map,
                Err(error) => return status(error),
            };
            let size = abi::serialize_map(map).len() as u32;
            if !write_guest(&mut caller, return_size, &size.to_le_bytes()) {
                return status(Status::BadArgument);
            }
            status(Status::Ok)
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_set_header_map_pairs",
        |mut caller: Caller<'_, HostState>, map_type: i32, data: i32, size: i32| -> HostResult {
            let Some(bytes) = read_guest(&caller, data, size) else {
                return status(Status::BadArgument);
            };
            let Some(pairs) = abi::deserialize_map(&bytes) else {
                return status(Status::BadArgument);
            };
            let map = match header_map(caller.data_mut(), map_type, Access::Write) {
                Ok(map) => map,
                Err(error) => return status(error),
            };
            *map = lower_case_names(pairs);
            status(Status::Ok)
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_get_header_map_value",
        |mut caller: Caller<'_, HostState>,
         map_type: i32,
         key: i32,
         key_size: i32,
         return_data: i32,
         return_size: i32|
         -> HostResult {
            let found = with_header_map(
                &mut caller,
                map_type,
                (key, key_size),
                Access::Read,
                |map, name| {
                    map.iter()
                        .find(|(header, _)| header.eq_ignore_ascii_case(name))
                        .map(|(_, value)| value.clone())
                },
            );
            match found {
                Ok(Some(value)) => {
                    return_bytes(&mut caller, value.as_bytes(), return_data, return_size)
                }
                Ok(None) => status(Status::NotFound),
                Err(error) => status(error),
            }
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_replace_header_map_value",
        |mut caller: Caller<'_, HostState>,
         map_type: i32,
         key: i32,
         key_size: i32,
         value: i32,
         value_size: i32|
         -> HostResult {
            let (Some(mut name), Some(value)) = (
                guest_string(&caller, key, key_size),
                guest_string(&caller, value, value_size),
            ) else {
                return status(Status::BadArgument);
            };
            name.make_ascii_lowercase();
            let map = match header_map(caller.data_mut(), map_type, Access::Write) {
                Ok(map) => map,
                Err(error) => return status(error),
            };
            // Envoy's setCopy (1.40, seen in tests/envoy.rs): every entry of that name goes
            // and one is added at the end.
            map.retain(|(header, _)| *header != name);
            map.push((name, value));
            status(Status::Ok)
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_add_header_map_value",
        |mut caller: Caller<'_, HostState>,
         map_type: i32,
         key: i32,
         key_size: i32,
         value: i32,
         value_size: i32|
         -> HostResult {
            let (Some(mut name), Some(value)) = (
                guest_string(&caller, key, key_size),
                guest_string(&caller, value, value_size),
            ) else {
                return status(Status::BadArgument);
            };
            name.make_ascii_lowercase();
            let map = match header_map(caller.data_mut(), map_type, Access::Write) {
                Ok(map) => map,
                Err(error) => return status(error),
            };
            map.push((name, value));
            status(Status::Ok)
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_remove_header_map_value",
        |mut caller: Caller<'_, HostState>, map_type: i32, key: i32, key_size: i32| -> HostResult {
            let removed = with_header_map(
                &mut caller,
                map_type,
                (key, key_size),
                Access::Write,
                |map, name| map.retain(|(header, _)| !header.eq_ignore_ascii_case(name)),
            );
            status(removed.err().unwrap_or(Status::Ok))
        },
    )?;
    Ok(())
}

fn add_property_calls(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.func_wrap(
        "env",
        "proxy_get_property",
        |mut caller: Caller<'_, HostState>,
         path: i32,
         path_size: i32,
         return_data: i32,
         return_size: i32|
         -> HostResult {
            let Some(path) = read_guest(&caller, path, path_size) else {
                return status(Status::BadArgument);
            };
            let name = property_name(&path);
            let Some(value) = property(caller.data_mut(), &name) else {
                return status(Status::NotFound);
            };
            return_bytes(&mut caller, &value, return_data, return_size)
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_set_property",
        |mut caller: Caller<'_, HostState>,
         path: i32,
         path_size: i32,
         value: i32,
         value_size: i32|
         -> HostResult {
            let (Some(path), Some(value)) = (
                read_guest(&caller, path, path_size),
                read_guest(&caller, value, value_size),
            ) else {
                return status(Status::BadArgument);
            };
            let name = property_name(&path);
            let state = caller.data_mut();
            match state.stream() {
                Some(stream) => stream.properties.insert(name, value),
                None => state.root_properties.insert(name, value),
            };
            status(Status::Ok)
        },
    )?;
    Ok(())
}

fn add_stream_calls(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    // With whole messages delivered at once nothing waits to be resumed: continuing is
    // accepted and has no further effect (see the crate docs on paused streams).
    linker.func_wrap(
        "env",
        "proxy_continue_stream",
        |mut caller: Caller<'_, HostState>, stream_type: i32| -> HostResult {
            if !(0..=abi::stream::LAST).contains(&stream_type) {
                return status(Status::BadArgument);
            }
            if !matches!(
                stream_type,
                abi::stream::HTTP_REQUEST | abi::stream::HTTP_RESPONSE
            ) {
                // TCP streams: the spec's answer for a stream type a host cannot continue.
                return status(Status::Unimplemented);
            }
            match caller.data_mut().stream() {
                Some(_) => status(Status::Ok),
                None => status(Status::NotFound),
            }
        },
    )?;
    for name in ["proxy_resume_http_request", "proxy_resume_http_response"] {
        linker.func_wrap(
            "env",
            name,
            |mut caller: Caller<'_, HostState>| -> HostResult {
                match caller.data_mut().stream() {
                    Some(_) => status(Status::Ok),
                    None => status(Status::NotFound),
                }
            },
        )?;
    }
    linker.func_wrap(
        "env",
        "proxy_close_stream",
        |mut caller: Caller<'_, HostState>, stream_type: i32| -> HostResult {
            if !matches!(
                stream_type,
                abi::stream::HTTP_REQUEST | abi::stream::HTTP_RESPONSE
            ) {
                return status(Status::BadArgument);
            }
            match caller.data_mut().stream() {
                Some(stream) => {
                    stream.reset = true;
                    status(Status::Ok)
                }
                None => status(Status::NotFound),
            }
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_send_local_response",
        |mut caller: Caller<'_, HostState>,
         status_code: i32,
         _details: i32,
         _details_size: i32,
         body: i32,
         body_size: i32,
         headers: i32,
         headers_size: i32,
         _grpc_status: i32|
         -> HostResult {
            let (Some(body), Some(headers)) = (
                read_guest(&caller, body, body_size),
                read_guest(&caller, headers, headers_size),
            ) else {
                return status(Status::BadArgument);
            };
            let Some(headers) = abi::deserialize_map(&headers) else {
                return status(Status::BadArgument);
            };
            let Ok(status_code) = u16::try_from(status_code) else {
                return status(Status::BadArgument);
            };
            if !(100..=999).contains(&status_code) {
                return status(Status::BadArgument);
            }
            let headers = lower_case_names(headers);
            let Some(stream) = caller.data_mut().stream() else {
                return status(Status::NotFound);
            };
            stream.local_reply = Some(local_reply(status_code, headers, body));
            status(Status::Ok)
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_set_effective_context",
        |mut caller: Caller<'_, HostState>, context_id: i32| -> HostResult {
            let state = caller.data_mut();
            let context_id = context_id as u32;
            if context_id != state.root_context_id && !state.streams.contains_key(&context_id) {
                return status(Status::BadArgument);
            }
            state.effective_context_id = context_id;
            status(Status::Ok)
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_done",
        |_caller: Caller<'_, HostState>| -> HostResult { status(Status::Ok) },
    )?;
    Ok(())
}

fn add_shared_data_and_metric_calls(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.func_wrap(
        "env",
        "proxy_get_shared_data",
        |mut caller: Caller<'_, HostState>,
         key: i32,
         key_size: i32,
         return_data: i32,
         return_size: i32,
         return_cas: i32|
         -> HostResult {
            let Some(key) = guest_string(&caller, key, key_size) else {
                return status(Status::BadArgument);
            };
            let Some((value, cas)) = caller.data().shared_data.get(&key).cloned() else {
                return status(Status::NotFound);
            };
            if !write_guest(&mut caller, return_cas, &cas.to_le_bytes()) {
                return status(Status::BadArgument);
            }
            return_bytes(&mut caller, &value, return_data, return_size)
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_set_shared_data",
        |mut caller: Caller<'_, HostState>,
         key: i32,
         key_size: i32,
         value: i32,
         value_size: i32,
         cas: i32|
         -> HostResult {
            let (Some(key), Some(value)) = (
                guest_string(&caller, key, key_size),
                read_guest(&caller, value, value_size),
            ) else {
                return status(Status::BadArgument);
            };
            let entry = caller.data_mut().shared_data.entry(key).or_default();
            // The ABI's compare-and-swap: 0 sets unconditionally, otherwise it must match.
            if cas != 0 && entry.1 != cas as u32 {
                return status(Status::CasMismatch);
            }
            entry.0 = value;
            entry.1 = entry.1.wrapping_add(1).max(1);
            status(Status::Ok)
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_define_metric",
        |mut caller: Caller<'_, HostState>,
         _metric_type: i32,
         name: i32,
         name_size: i32,
         return_id: i32|
         -> HostResult {
            let Some(name) = guest_string(&caller, name, name_size) else {
                return status(Status::BadArgument);
            };
            let metrics = &mut caller.data_mut().metrics;
            let id = match metrics.iter().position(|(known, _)| *known == name) {
                Some(index) => index,
                None => {
                    metrics.push((name, 0));
                    metrics.len() - 1
                }
            } as u32;
            if !write_guest(&mut caller, return_id, &id.to_le_bytes()) {
                return status(Status::BadArgument);
            }
            status(Status::Ok)
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_increment_metric",
        |mut caller: Caller<'_, HostState>, id: i32, offset: i64| -> HostResult {
            let Some((_, value)) = caller.data_mut().metrics.get_mut(id as u32 as usize) else {
                return status(Status::NotFound);
            };
            *value = value.wrapping_add_signed(offset);
            status(Status::Ok)
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_record_metric",
        |mut caller: Caller<'_, HostState>, id: i32, recorded: i64| -> HostResult {
            let Some((_, value)) = caller.data_mut().metrics.get_mut(id as u32 as usize) else {
                return status(Status::NotFound);
            };
            *value = recorded as u64;
            status(Status::Ok)
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_get_metric",
        |mut caller: Caller<'_, HostState>, id: i32, return_value: i32| -> HostResult {
            let Some((_, value)) = caller.data().metrics.get(id as u32 as usize).cloned() else {
                return status(Status::NotFound);
            };
            if !write_guest(&mut caller, return_value, &value.to_le_bytes()) {
                return status(Status::BadArgument);
            }
            status(Status::Ok)
        },
    )?;
    Ok(())
}

//! The proxy-wasm glue (wasm32 only): root context (configuration, templates once per VM),
//! HTTP contexts (one [`StreamFilter`] per stream), and [`Stream`] over the hostcalls.
//!
//! The SDK's hostcall helpers panic on any status they do not expect (and its map decoder on a
//! name that is not UTF-8), and a panic traps the VM: in Envoy every later request on that
//! worker then gets a 503. Envoy does answer such statuses in normal operation (BadArgument for
//! the request headers once the request headers callback continued), so this module calls the
//! ABI itself ([`abi`]): every status comes back as a value, and what tenants read of the
//! request after the proxy sent it on comes from the filter's copy ([`HeaderCopy`]).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::Arc;

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{self, ContextType};

use rvedge::runtime::HostResult;

use crate::config::FilterConfiguration;
use crate::filter::{Action, StreamFilter};
use crate::stream::{LogLevel, Message, PackedHeaders, Stream};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(types::LogLevel::Info);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(FilterRoot::default()) });
}}

/// How long a stream paused for its body may wait for the first body callback. With
/// `allow_on_headers_stop_iteration` Envoy calls it as soon as body bytes arrive; a stream
/// still waiting this long means the proxy holds the body back (its own
/// `allow_on_headers_stop_iteration` is off), and would otherwise hang for minutes.
const BODY_WAIT_LIMIT_NANOS: u64 = 5_000_000_000;

/// How often the root context looks for such streams.
const BODY_WATCH_PERIOD_MILLIS: u32 = 1000;

thread_local! {
    /// Streams paused in the request headers callback for their body (context id → when, by
    /// the proxy's clock), until the body callback comes. One VM runs on one thread, so
    /// this is the VM's.
    static AWAITING_BODY: RefCell<BTreeMap<u32, u64>> = const { RefCell::new(BTreeMap::new()) };
}

/// One plugin's root: the VM configuration (from `on_vm_start`) and the loaded tenants.
#[derive(Default)]
struct FilterRoot {
    vm_configuration: Vec<u8>,
    configuration: Option<Arc<FilterConfiguration>>,
}

impl Context for FilterRoot {}

impl RootContext for FilterRoot {
    fn on_vm_start(&mut self, _vm_configuration_size: usize) -> bool {
        // Hosts hand out the VM configuration only during on_vm_start (Envoy's rule).
        self.vm_configuration = abi::buffer(abi::BUFFER_VM_CONFIGURATION).unwrap_or_default();
        true
    }

    fn on_configure(&mut self, _plugin_configuration_size: usize) -> bool {
        let plugin_configuration =
            abi::buffer(abi::BUFFER_PLUGIN_CONFIGURATION).unwrap_or_default();
        match FilterConfiguration::load(&plugin_configuration, &self.vm_configuration, None) {
            Ok(configuration) => {
                let names: Vec<&str> = configuration.tenants.names().collect();
                abi::log(
                    LogLevel::Info,
                    &format!(
                        "rvedge: {} tenant(s) loaded ({}), chosen by {}",
                        names.len(),
                        names.join(", "),
                        configuration.tenant_header
                    ),
                );
                if configuration.allow_on_headers_stop_iteration
                    && abi::set_tick_period(BODY_WATCH_PERIOD_MILLIS).is_err()
                {
                    abi::log(
                        LogLevel::Warn,
                        "rvedge: no tick: a proxy that holds request bodies back cannot be noticed",
                    );
                }
                self.configuration = Some(Arc::new(configuration));
                true
            }
            Err(error) => {
                abi::log(
                    LogLevel::Error,
                    &format!("rvedge: configuration refused: {error}"),
                );
                false
            }
        }
    }

    fn on_tick(&mut self) {
        answer_streams_whose_body_never_came();
    }

    fn create_http_context(&self, context_id: u32) -> Option<Box<dyn HttpContext>> {
        // The SDK panics on None, so a VM without a configuration gets pass-through streams.
        Some(Box::new(FilterStream {
            context_id,
            filter: self.configuration.clone().map(StreamFilter::new),
            headers: HeaderMaps::default(),
        }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

/// Answers (500) every stream paused for a body that did not come within
/// [`BODY_WAIT_LIMIT_NANOS`]: the filter was told the proxy holds request headers for it, and
/// the proxy does not.
fn answer_streams_whose_body_never_came() {
    let Ok(now) = abi::now_nanos() else {
        return;
    };
    let overdue: Vec<u32> = AWAITING_BODY.with_borrow_mut(|awaiting| {
        let overdue: Vec<u32> = awaiting
            .iter()
            .filter(|(_, since)| now.saturating_sub(**since) >= BODY_WAIT_LIMIT_NANOS)
            .map(|(context_id, _)| *context_id)
            .collect();
        for context_id in &overdue {
            awaiting.remove(context_id);
        }
        overdue
    });
    for context_id in overdue {
        abi::log(
            LogLevel::Error,
            "rvedge: the proxy did not deliver a request body the filter paused for: the \
             configuration sets allow_on_headers_stop_iteration, so Envoy's Wasm PluginConfig \
             needs allow_on_headers_stop_iteration: true as well",
        );
        if abi::set_effective_context(context_id).is_ok() {
            let body = b"rvedge: the proxy held the request body back\n";
            let headers = [("content-type".to_string(), "text/plain".to_string())];
            let _ = abi::send_local_response(500, &headers, body);
        }
    }
}

struct FilterStream {
    context_id: u32,
    filter: Option<StreamFilter>,
    headers: HeaderMaps,
}

impl Context for FilterStream {
    fn on_done(&mut self) -> bool {
        AWAITING_BODY.with_borrow_mut(|awaiting| awaiting.remove(&self.context_id));
        true
    }
}

impl FilterStream {
    /// After a request callback: when the proxy sends the request on and hooks still come,
    /// keeps the request as the filter left it (Envoy answers BadArgument for the request
    /// headers from then on).
    fn request_callback_done(&mut self, action: Action) -> types::Action {
        let hooks_to_come = self
            .filter
            .as_ref()
            .is_some_and(StreamFilter::has_later_hooks);
        self.headers
            .request
            .callback_done(action == Action::Continue && hooks_to_come);
        match action {
            Action::Continue => types::Action::Continue,
            Action::Pause => types::Action::Pause,
        }
    }
}

impl HttpContext for FilterStream {
    fn on_http_request_headers(
        &mut self,
        _num_headers: usize,
        end_of_stream: bool,
    ) -> types::Action {
        let Some(filter) = &mut self.filter else {
            return types::Action::Continue;
        };
        let mut stream = HostcallStream {
            headers: &mut self.headers,
        };
        let action = filter.on_request_headers(&mut stream, end_of_stream);
        if action == Action::Pause && filter.has_later_hooks() {
            // Paused for the body: watched until the body callback comes.
            let since = abi::now_nanos().unwrap_or(0);
            AWAITING_BODY.with_borrow_mut(|awaiting| awaiting.insert(self.context_id, since));
        }
        self.request_callback_done(action)
    }

    fn on_http_request_body(&mut self, body_size: usize, end_of_stream: bool) -> types::Action {
        let Some(filter) = &mut self.filter else {
            return types::Action::Continue;
        };
        AWAITING_BODY.with_borrow_mut(|awaiting| awaiting.remove(&self.context_id));
        let mut stream = HostcallStream {
            headers: &mut self.headers,
        };
        let action = filter.on_request_body(&mut stream, body_size, end_of_stream);
        self.request_callback_done(action)
    }

    fn on_http_response_headers(
        &mut self,
        _num_headers: usize,
        _end_of_stream: bool,
    ) -> types::Action {
        let Some(filter) = &mut self.filter else {
            return types::Action::Continue;
        };
        let mut stream = HostcallStream {
            headers: &mut self.headers,
        };
        let action = filter.on_response_headers(&mut stream);
        // The response goes on (or was answered locally): no hook reads it again.
        self.headers.response.callback_done(false);
        match action {
            Action::Continue => types::Action::Continue,
            Action::Pause => types::Action::Pause,
        }
    }
}

/// Reads of a header map in one callback that go to the proxy's map; a further read, or a
/// listing, fetches the whole map instead (one hostcall, where each read is one, and in
/// Envoy each read that finds a value also calls back into the VM to allocate it). Fetching
/// the map costs about two reads' worth in the wasmtime host (its decoding), one in Envoy.
const READS_BEFORE_COPY: u32 = 2;

/// The request's: one more, for the filter's own reads of the backend and tenant headers (two
/// per request). A request no tenant serves never fetches the map, nor does a tenant that
/// reads one header.
const REQUEST_READS_BEFORE_COPY: u32 = READS_BEFORE_COPY + 1;

/// The stream's two header maps as the filter knows them.
#[derive(Debug)]
struct HeaderMaps {
    request: HeaderCopy,
    response: HeaderCopy,
}

impl Default for HeaderMaps {
    fn default() -> HeaderMaps {
        HeaderMaps {
            request: HeaderCopy::of(abi::MAP_REQUEST_HEADERS, REQUEST_READS_BEFORE_COPY),
            response: HeaderCopy::of(abi::MAP_RESPONSE_HEADERS, READS_BEFORE_COPY),
        }
    }
}

/// One header map as the filter knows it. Reads go to the proxy's map until a callback has
/// made `reads_before_copy` of them; then the whole map is fetched once and later reads and
/// listings in that callback come from this copy, which the filter's writes keep in step with
/// the proxy's map. A tenant listing headers one call at a time walks the copy, not a fresh
/// fetch of the whole map per call.
///
/// When the proxy sends the request on and hooks still come (`on_backend_response`,
/// `on_deliver`, a forge waiting for the body), the request's copy is the request from then
/// on: Envoy keeps the request header map only while the filter holds the request
/// (BadArgument after), and a change to a request already sent reaches nothing in any host.
#[derive(Debug)]
struct HeaderCopy {
    map_type: u32,
    /// Reads in a callback that go to the proxy before the copy is fetched.
    reads_before_copy: u32,
    copy: Option<PackedHeaders>,
    /// Reads of the proxy's map in the current callback.
    reads: u32,
    /// The proxy sent the request on: the copy is all there is.
    sent: bool,
}

impl HeaderCopy {
    fn of(map_type: u32, reads_before_copy: u32) -> HeaderCopy {
        HeaderCopy {
            map_type,
            reads_before_copy,
            copy: None,
            reads: 0,
            sent: false,
        }
    }

    /// The copy, fetched from the proxy now if there is none yet.
    fn fetched(&mut self) -> HostResult<&mut PackedHeaders> {
        let copy = match self.copy.take() {
            Some(copy) => copy,
            None => abi::header_pairs(self.map_type)?,
        };
        Ok(self.copy.insert(copy))
    }

    /// The first value of `name`: from the proxy for a callback's first reads, from the copy
    /// after them.
    fn read(&mut self, name: &str) -> HostResult<Option<String>> {
        self.reads = self.reads.saturating_add(1);
        let copy = if self.reads > self.reads_before_copy {
            self.fetched().ok().map(|copy| &*copy)
        } else {
            self.copy.as_ref()
        };
        match copy {
            Some(copy) => Ok(copy.get(name).map(str::to_owned)),
            None => abi::header_value(self.map_type, name),
        }
    }

    /// Makes a change: in the proxy's map (`change_proxy`) while it has the map, and in the
    /// copy (`change_copy`) where there is one.
    fn change(
        &mut self,
        change_proxy: impl FnOnce(u32) -> HostResult<()>,
        change_copy: impl FnOnce(&mut PackedHeaders),
    ) -> HostResult<()> {
        if !self.sent || self.copy.is_none() {
            change_proxy(self.map_type)?;
        }
        if let Some(copy) = &mut self.copy {
            change_copy(copy);
        }
        Ok(())
    }

    /// At the end of a callback. While the proxy holds the map the copy lasts one callback;
    /// once it sent the request on and hooks still come, the copy is kept for them.
    fn callback_done(&mut self, sent_on_with_hooks_to_come: bool) {
        if self.sent {
            return;
        }
        if sent_on_with_hooks_to_come {
            // A copy that cannot be fetched leaves later reads to the proxy, which refuses
            // them: the hooks get errors, not a request that is not the one sent.
            let _ = self.fetched();
            self.sent = true;
        } else {
            self.copy = None;
            self.reads = 0;
        }
    }
}

/// The current stream through the hostcalls (the host knows which stream is current), its
/// header maps through [`HeaderCopy`].
struct HostcallStream<'a> {
    headers: &'a mut HeaderMaps,
}

impl HostcallStream<'_> {
    fn map(&mut self, message: Message) -> &mut HeaderCopy {
        match message {
            Message::Request => &mut self.headers.request,
            Message::Response => &mut self.headers.response,
        }
    }
}

impl Stream for HostcallStream<'_> {
    fn headers(&mut self, message: Message) -> HostResult<&PackedHeaders> {
        self.map(message).fetched().map(|copy| &*copy)
    }

    fn header(&mut self, message: Message, name: &str) -> HostResult<Option<String>> {
        self.map(message).read(name)
    }

    fn set_header(&mut self, message: Message, name: &str, value: Option<&str>) -> HostResult<()> {
        let map = self.map(message);
        match value {
            Some(value) => map.change(
                |map_type| abi::replace_header(map_type, name, value),
                // As Envoy's setCopy does: every `name` goes, one is added at the end.
                |copy| {
                    copy.remove(name);
                    copy.push(name, value);
                },
            ),
            None => map.change(
                |map_type| abi::remove_header(map_type, name),
                |copy| copy.remove(name),
            ),
        }
    }

    fn add_header(&mut self, message: Message, name: &str, value: &str) -> HostResult<()> {
        self.map(message).change(
            |map_type| abi::add_header(map_type, name, value),
            |copy| copy.push(name, value),
        )
    }

    fn request_body(&self, size: usize) -> Vec<u8> {
        abi::buffer_part(abi::BUFFER_REQUEST_BODY, size).unwrap_or_default()
    }

    fn send_response(&mut self, status: u16, headers: &[(String, String)], body: &[u8]) {
        if let Err(status) = abi::send_local_response(status, headers, body) {
            abi::log(
                LogLevel::Error,
                &format!("rvedge: the host refused a local reply (status {status})"),
            );
        }
    }

    fn log(&self, level: LogLevel, message: &str) {
        abi::log(level, message);
    }

    fn now_nanos(&self) -> u64 {
        abi::now_nanos().unwrap_or(0)
    }
}

/// The proxy-wasm ABI 0.2.1 hostcalls the filter makes, declared with plain integers so any
/// status the host returns is a value (the SDK declares them returning its `Status` enum,
/// which a status it does not list would make undefined behaviour), and wrapped so a
/// status other than Ok or NotFound is an error value.
mod abi {
    use rvedge::runtime::{HostError, HostResult};

    use crate::header_pairs::{decode_pairs, encode_pairs, text};
    use crate::stream::{LogLevel, PackedHeaders};

    pub const MAP_REQUEST_HEADERS: u32 = 0;
    pub const MAP_RESPONSE_HEADERS: u32 = 2;
    pub const BUFFER_REQUEST_BODY: u32 = 0;
    pub const BUFFER_VM_CONFIGURATION: u32 = 6;
    pub const BUFFER_PLUGIN_CONFIGURATION: u32 = 7;

    const STATUS_OK: u32 = 0;
    const STATUS_NOT_FOUND: u32 = 1;

    #[link(wasm_import_module = "env")]
    extern "C" {
        fn proxy_log(level: u32, message_data: *const u8, message_size: usize) -> u32;
        fn proxy_get_current_time_nanoseconds(return_time: *mut u64) -> u32;
        fn proxy_set_tick_period_milliseconds(period: u32) -> u32;
        fn proxy_set_effective_context(context_id: u32) -> u32;
        fn proxy_get_buffer_bytes(
            buffer_type: u32,
            start: usize,
            max_size: usize,
            return_buffer_data: *mut *mut u8,
            return_buffer_size: *mut usize,
        ) -> u32;
        fn proxy_get_header_map_pairs(
            map_type: u32,
            return_map_data: *mut *mut u8,
            return_map_size: *mut usize,
        ) -> u32;
        fn proxy_get_header_map_value(
            map_type: u32,
            key_data: *const u8,
            key_size: usize,
            return_value_data: *mut *mut u8,
            return_value_size: *mut usize,
        ) -> u32;
        fn proxy_replace_header_map_value(
            map_type: u32,
            key_data: *const u8,
            key_size: usize,
            value_data: *const u8,
            value_size: usize,
        ) -> u32;
        fn proxy_remove_header_map_value(
            map_type: u32,
            key_data: *const u8,
            key_size: usize,
        ) -> u32;
        fn proxy_add_header_map_value(
            map_type: u32,
            key_data: *const u8,
            key_size: usize,
            value_data: *const u8,
            value_size: usize,
        ) -> u32;
        fn proxy_send_local_response(
            status_code: u32,
            status_code_details_data: *const u8,
            status_code_details_size: usize,
            body_data: *const u8,
            body_size: usize,
            headers_data: *const u8,
            headers_size: usize,
            grpc_status: i32,
        ) -> u32;
    }

    /// A status other than Ok as the runtime's error: NotFound stays NotFound, anything
    /// else (BadArgument for a map the host no longer has, ...) is NotAllowed.
    fn error(status: u32) -> HostError {
        if status == STATUS_NOT_FOUND {
            HostError::NotFound
        } else {
            HostError::NotAllowed
        }
    }

    fn status(status: u32) -> HostResult<()> {
        if status == STATUS_OK {
            Ok(())
        } else {
            Err(error(status))
        }
    }

    /// Takes ownership of bytes the host returned: it allocated them through the SDK's
    /// `proxy_on_memory_allocate` (a boxed slice of exactly `size` bytes).
    ///
    /// # Safety
    /// `data` is null, or the host's allocation of `size` bytes made for this call and not
    /// yet taken.
    unsafe fn take_returned(data: *mut u8, size: usize) -> Vec<u8> {
        if data.is_null() {
            return Vec::new();
        }
        // SAFETY: per this function's contract the allocation is a `Box<[u8]>` of `size`
        // bytes, whose layout is a Vec's with length and capacity `size`.
        unsafe { Vec::from_raw_parts(data, size, size) }
    }

    pub fn log(level: LogLevel, message: &str) {
        let level = match level {
            LogLevel::Debug => 1,
            LogLevel::Info => 2,
            LogLevel::Warn => 3,
            LogLevel::Error => 4,
        };
        // SAFETY: the message slice is valid for the call; the host only reads it. A refused
        // log line has nowhere else to go, so its status is dropped.
        unsafe {
            proxy_log(level, message.as_ptr(), message.len());
        }
    }

    pub fn now_nanos() -> HostResult<u64> {
        let mut nanos = 0u64;
        // SAFETY: the out-parameter lives for the call.
        status(unsafe { proxy_get_current_time_nanoseconds(&mut nanos) })?;
        Ok(nanos)
    }

    pub fn set_tick_period(millis: u32) -> HostResult<()> {
        // SAFETY: plain values, no memory is shared.
        status(unsafe { proxy_set_tick_period_milliseconds(millis) })
    }

    /// Makes later hostcalls of this callback act on stream `context_id`.
    pub fn set_effective_context(context_id: u32) -> HostResult<()> {
        // SAFETY: plain values, no memory is shared.
        status(unsafe { proxy_set_effective_context(context_id) })
    }

    /// Up to `max_size` bytes of buffer `buffer_type` from its start.
    pub fn buffer_part(buffer_type: u32, max_size: usize) -> HostResult<Vec<u8>> {
        let mut data = std::ptr::null_mut();
        let mut size = 0usize;
        // SAFETY: the out-parameters live for the call.
        let code =
            unsafe { proxy_get_buffer_bytes(buffer_type, 0, max_size, &mut data, &mut size) };
        // SAFETY: on Ok the host returned its allocation of `size` bytes (or null).
        let bytes = unsafe { take_returned(data, size) };
        status(code).map(|()| bytes)
    }

    /// The whole buffer `buffer_type`.
    pub fn buffer(buffer_type: u32) -> HostResult<Vec<u8>> {
        // Hosts clamp the size to what the buffer holds; a u32 keeps 32-bit hosts' checks
        // from overflowing.
        buffer_part(buffer_type, u32::MAX as usize)
    }

    pub fn header_pairs(map_type: u32) -> HostResult<PackedHeaders> {
        let mut data = std::ptr::null_mut();
        let mut size = 0usize;
        // SAFETY: the out-parameters live for the call.
        let code = unsafe { proxy_get_header_map_pairs(map_type, &mut data, &mut size) };
        // SAFETY: on Ok the host returned its allocation of `size` bytes (or null).
        let bytes = unsafe { take_returned(data, size) };
        status(code)?;
        decode_pairs(bytes).ok_or(HostError::Invalid)
    }

    pub fn header_value(map_type: u32, name: &str) -> HostResult<Option<String>> {
        let mut data = std::ptr::null_mut();
        let mut size = 0usize;
        // SAFETY: the name slice and the out-parameters are valid for the call.
        let code = unsafe {
            proxy_get_header_map_value(map_type, name.as_ptr(), name.len(), &mut data, &mut size)
        };
        // SAFETY: on Ok the host returned its allocation of `size` bytes (or null).
        let bytes = unsafe { take_returned(data, size) };
        match code {
            STATUS_OK => Ok(Some(text(bytes))),
            STATUS_NOT_FOUND => Ok(None),
            other => Err(error(other)),
        }
    }

    pub fn replace_header(map_type: u32, name: &str, value: &str) -> HostResult<()> {
        // SAFETY: both slices are valid for the call; the host only reads them.
        status(unsafe {
            proxy_replace_header_map_value(
                map_type,
                name.as_ptr(),
                name.len(),
                value.as_ptr(),
                value.len(),
            )
        })
    }

    pub fn remove_header(map_type: u32, name: &str) -> HostResult<()> {
        // SAFETY: the name slice is valid for the call; the host only reads it.
        status(unsafe { proxy_remove_header_map_value(map_type, name.as_ptr(), name.len()) })
    }

    pub fn add_header(map_type: u32, name: &str, value: &str) -> HostResult<()> {
        // SAFETY: both slices are valid for the call; the host only reads them.
        status(unsafe {
            proxy_add_header_map_value(
                map_type,
                name.as_ptr(),
                name.len(),
                value.as_ptr(),
                value.len(),
            )
        })
    }

    /// Answers the stream locally; the status on failure.
    pub fn send_local_response(
        status_code: u16,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<(), u32> {
        let pairs = encode_pairs(headers);
        // SAFETY: every slice is valid for the call; the host only reads them.
        let code = unsafe {
            proxy_send_local_response(
                u32::from(status_code),
                std::ptr::null(),
                0,
                body.as_ptr(),
                body.len(),
                pairs.as_ptr(),
                pairs.len(),
                -1,
            )
        };
        if code == STATUS_OK {
            Ok(())
        } else {
            Err(code)
        }
    }
}

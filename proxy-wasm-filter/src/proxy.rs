//! The proxy-wasm glue (wasm32 only): root context (configuration, templates once per VM),
//! HTTP contexts (one [`StreamFilter`] per stream), and [`Stream`] over the hostcalls.
//!
//! The SDK's `Context` helpers unwrap hostcall results, and its string getters unwrap UTF-8,
//! so a client's odd header bytes would trap the VM: this module calls the `_bytes` hostcalls
//! and turns every failure into a value.

use std::sync::Arc;
use std::time::UNIX_EPOCH;

use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{self, BufferType, ContextType, MapType};

use rvedge::runtime::{HostError, HostResult};

use crate::config::FilterConfiguration;
use crate::filter::{Action, StreamFilter};
use crate::stream::{LogLevel, Message, Stream};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(types::LogLevel::Info);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(FilterRoot::default()) });
}}

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
        self.vm_configuration = buffer(BufferType::VmConfiguration);
        true
    }

    fn on_configure(&mut self, _plugin_configuration_size: usize) -> bool {
        let plugin_configuration = buffer(BufferType::PluginConfiguration);
        match FilterConfiguration::load(&plugin_configuration, &self.vm_configuration, None) {
            Ok(configuration) => {
                let names: Vec<&str> = configuration.tenants.names().collect();
                log(
                    LogLevel::Info,
                    &format!(
                        "rvedge: {} tenant(s) loaded ({}), chosen by {}",
                        names.len(),
                        names.join(", "),
                        configuration.tenant_header
                    ),
                );
                self.configuration = Some(Arc::new(configuration));
                true
            }
            Err(error) => {
                log(
                    LogLevel::Error,
                    &format!("rvedge: configuration refused: {error}"),
                );
                false
            }
        }
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        // The SDK panics on None, so a VM without a configuration gets pass-through streams.
        Some(Box::new(FilterStream {
            filter: self.configuration.clone().map(StreamFilter::new),
        }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

struct FilterStream {
    filter: Option<StreamFilter>,
}

impl Context for FilterStream {}

fn action(action: Action) -> types::Action {
    match action {
        Action::Continue => types::Action::Continue,
        Action::Pause => types::Action::Pause,
    }
}

impl HttpContext for FilterStream {
    fn on_http_request_headers(
        &mut self,
        _num_headers: usize,
        end_of_stream: bool,
    ) -> types::Action {
        match &mut self.filter {
            Some(filter) => action(filter.on_request_headers(&mut HostcallStream, end_of_stream)),
            None => types::Action::Continue,
        }
    }

    fn on_http_request_body(&mut self, body_size: usize, end_of_stream: bool) -> types::Action {
        match &mut self.filter {
            Some(filter) => {
                action(filter.on_request_body(&mut HostcallStream, body_size, end_of_stream))
            }
            None => types::Action::Continue,
        }
    }

    fn on_http_response_headers(
        &mut self,
        _num_headers: usize,
        _end_of_stream: bool,
    ) -> types::Action {
        match &mut self.filter {
            Some(filter) => action(filter.on_response_headers(&mut HostcallStream)),
            None => types::Action::Continue,
        }
    }
}

fn buffer(buffer_type: BufferType) -> Vec<u8> {
    hostcalls::get_buffer(buffer_type, 0, usize::MAX)
        .ok()
        .flatten()
        .unwrap_or_default()
}

fn log(level: LogLevel, message: &str) {
    let level = match level {
        LogLevel::Debug => types::LogLevel::Debug,
        LogLevel::Info => types::LogLevel::Info,
        LogLevel::Warn => types::LogLevel::Warn,
        LogLevel::Error => types::LogLevel::Error,
    };
    let _ = hostcalls::log(level, message);
}

fn map_type(message: Message) -> MapType {
    match message {
        Message::Request => MapType::HttpRequestHeaders,
        Message::Response => MapType::HttpResponseHeaders,
    }
}

fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes)
        .unwrap_or_else(|error| String::from_utf8_lossy(error.as_bytes()).into_owned())
}

/// The current stream through the hostcalls (the host knows which stream is current).
struct HostcallStream;

impl Stream for HostcallStream {
    fn headers(&self, message: Message) -> HostResult<Vec<(String, String)>> {
        let pairs =
            hostcalls::get_map_bytes(map_type(message)).map_err(|_| HostError::NotAllowed)?;
        Ok(pairs
            .into_iter()
            .map(|(name, value)| (name, text(value)))
            .collect())
    }

    fn header(&self, message: Message, name: &str) -> HostResult<Option<String>> {
        let value = hostcalls::get_map_value_bytes(map_type(message), name)
            .map_err(|_| HostError::NotAllowed)?;
        Ok(value.map(text))
    }

    fn set_header(&mut self, message: Message, name: &str, value: Option<&str>) -> HostResult<()> {
        hostcalls::set_map_value_bytes(map_type(message), name, value.map(str::as_bytes))
            .map_err(|_| HostError::NotAllowed)
    }

    fn add_header(&mut self, message: Message, name: &str, value: &str) -> HostResult<()> {
        hostcalls::add_map_value_bytes(map_type(message), name, value.as_bytes())
            .map_err(|_| HostError::NotAllowed)
    }

    fn request_body(&self, size: usize) -> Vec<u8> {
        hostcalls::get_buffer(BufferType::HttpRequestBody, 0, size)
            .ok()
            .flatten()
            .unwrap_or_default()
    }

    fn send_response(&mut self, status: u16, headers: &[(String, String)], body: &[u8]) {
        let headers: Vec<(&str, &str)> = headers
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
            .collect();
        if hostcalls::send_http_response(u32::from(status), headers, Some(body)).is_err() {
            log(LogLevel::Error, "rvedge: the host refused a local reply");
        }
    }

    fn log(&self, level: LogLevel, message: &str) {
        log(level, message);
    }

    fn now_nanos(&self) -> u64 {
        hostcalls::get_current_time()
            .ok()
            .and_then(|time| time.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |elapsed| {
                u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX)
            })
    }
}

//! Logs every request and response header with the stream's id, adds
//! `Powered-By: proxy-wasm` to responses, and logs when the stream completes.

use log::{info, trace};
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Trace);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(HeadersRoot) });
}}

struct HeadersRoot;

impl Context for HeadersRoot {}

impl RootContext for HeadersRoot {
    fn create_http_context(&self, context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(HeaderLogger { context_id }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

struct HeaderLogger {
    context_id: u32,
}

impl Context for HeaderLogger {}

impl HttpContext for HeaderLogger {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        for (name, value) in self.get_http_request_headers() {
            info!("#{} -> {name}: {value}", self.context_id);
        }
        Action::Continue
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        for (name, value) in self.get_http_response_headers() {
            info!("#{} <- {name}: {value}", self.context_id);
        }
        self.set_http_response_header("Powered-By", Some("proxy-wasm"));
        Action::Continue
    }

    fn on_log(&mut self) {
        trace!("#{} completed.", self.context_id);
    }
}

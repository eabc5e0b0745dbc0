//! Redacts response bodies that contain the word "secret": the whole body is replaced by a
//! note giving its original size.

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Trace);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(BodyRoot) });
}}

struct BodyRoot;

impl Context for BodyRoot {}

impl RootContext for BodyRoot {
    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Redactor))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

struct Redactor;

impl Context for Redactor {}

impl HttpContext for Redactor {
    fn on_http_response_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        // The body may change size, so its length is no longer known here.
        self.set_http_response_header("content-length", None);
        Action::Continue
    }

    fn on_http_response_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        if !end_of_stream {
            // Wait for the whole body: the host buffers it and calls again.
            return Action::Pause;
        }
        if let Some(body) = self.get_http_response_body(0, body_size) {
            if String::from_utf8_lossy(&body).contains("secret") {
                let note = format!("Original message body ({body_size} bytes) redacted.\n");
                self.set_http_response_body(0, body_size, note.as_bytes());
            }
        }
        Action::Continue
    }
}

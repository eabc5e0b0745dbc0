//! Lets a random half of the requests through and answers the others 403. The SDK's
//! version asks httpbin.org for the random byte with an HTTP call; this one draws it from
//! WASI's random source, so it needs no upstream. Responses carry `Powered-By: proxy-wasm`.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;

use log::info;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Trace);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(AuthRoot) });
}}

struct AuthRoot;

impl Context for AuthRoot {}

impl RootContext for AuthRoot {
    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(RandomAuth))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

struct RandomAuth;

impl Context for RandomAuth {}

impl HttpContext for RandomAuth {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let random_byte = RandomState::new().hash_one(0u8) as u8;
        if random_byte.is_multiple_of(2) {
            info!("Access granted.");
            return Action::Continue;
        }
        info!("Access forbidden.");
        self.send_http_response(
            403,
            vec![("Powered-By", "proxy-wasm")],
            Some(b"Access forbidden.\n"),
        );
        Action::Pause
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        self.set_http_response_header("Powered-By", Some("proxy-wasm"));
        Action::Continue
    }
}

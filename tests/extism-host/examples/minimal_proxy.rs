//! The README's "wiring it into a Rust proxy" example, kept compiling (cargo builds examples
//! with the tests) and runnable:
//! `cargo run -p rvedge-extism-host --example minimal_proxy`.
//! It uses only the `extism` crate and `serde_json`, as a proxy outside this repository would.

use extism::{Manifest, Plugin, Wasm};
use serde_json::{json, Value};

/// A proxy's view of a request and a response.
struct Request {
    tenant: String,
    method: String,
    url: String,
    headers: Vec<(String, String)>,
    body: String,
}

struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

fn headers_of(value: &Value) -> Vec<(String, String)> {
    serde_json::from_value(value.clone()).unwrap_or_default()
}

fn call(plugin: &mut Plugin, export: &str, input: &Value) -> Result<Value, extism::Error> {
    let output: &str = plugin.call(export, input.to_string())?;
    Ok(serde_json::from_str(output)?)
}

/// One request through the plugin; `origin` is the proxy's upstream client.
fn handle(
    plugin: &mut Plugin,
    request: Request,
    origin: impl FnOnce(&str, &str, &str, &[(String, String)], &str) -> Response,
) -> Result<Response, extism::Error> {
    let mut output = call(
        plugin,
        "vcl_recv",
        &json!({ "tenant": request.tenant, "method": request.method, "url": request.url,
                 "headers": request.headers, "body": request.body }),
    )?;
    if output["action"] == "continue" {
        let forwarded = &output["request"];
        let answer = origin(
            output["backend"].as_str().unwrap_or("default"),
            forwarded["method"].as_str().unwrap_or("GET"),
            forwarded["url"].as_str().unwrap_or("/"),
            &headers_of(&forwarded["headers"]),
            &request.body,
        );
        output = call(
            plugin,
            "vcl_backend_response",
            &json!({ "request_id": output["request_id"], "tenant": output["tenant"],
                     "response": { "status": answer.status, "headers": answer.headers,
                                   "body": answer.body } }),
        )?;
    }
    for line in output["logs"].as_array().into_iter().flatten() {
        eprintln!("tenant log: {line}");
    }
    if output["action"] != "respond" {
        // The call was wrong (unknown tenant, bad input…): the proxy's own error page.
        eprintln!("rvedge: {}", output["error"]);
        return Ok(Response {
            status: 500,
            headers: Vec::new(),
            body: String::new(),
        });
    }
    // Tenant failures arrive here too, as a 503 with x-rvedge-error (and `error` set).
    let response = &output["response"];
    Ok(Response {
        status: response["status"].as_u64().unwrap_or(500) as u16,
        headers: headers_of(&response["headers"]),
        body: response["body"].as_str().unwrap_or_default().to_owned(),
    })
}

fn main() -> Result<(), extism::Error> {
    let wasm = rvedge_extism_host::plugin_wasm();
    // { "tenants": { <tenant JSON> }, "programs": { "<filename>": "<base64 ELF>" } }
    let configuration = rvedge_extism_host::conformance_configuration();
    let manifest = Manifest::new([Wasm::file(wasm)]).with_config_key("rvedge", configuration);
    // One instance per worker thread: an instance runs one call at a time.
    let mut plugin = Plugin::new(&manifest, [], false)?;

    for (tenant, url) in [("hello", "/"), ("rewrite", "/old/page"), ("loop", "/")] {
        let request = Request {
            tenant: tenant.into(),
            method: "GET".into(),
            url: url.into(),
            headers: vec![("accept".into(), "*/*".into())],
            body: String::new(),
        };
        let response = handle(
            &mut plugin,
            request,
            |backend, method, url, _headers, _body| Response {
                status: 200,
                headers: vec![("content-type".into(), "text/plain".into())],
                body: format!("origin {backend} got {method} {url}"),
            },
        )?;
        println!(
            "{tenant} {url} -> {} {:?} {}",
            response.status, response.headers, response.body
        );
    }
    Ok(())
}

//! Runs the rvedge Extism plugin (`rvedge_extism.wasm`) in the `extism` host crate, playing the
//! proxy: `vcl_recv`, the echo origin for `continue`d requests, `vcl_backend_response`.
//! Shared by the tests and the overhead benchmark.

use rvedge_test_support as support;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use extism::{Manifest, Plugin, Wasm};
use rvedge::runtime::{EchoOrigin, HttpRequest, Origin};
use rvedge_conformance::{Case, Observed};
use rvedge_extism::messages::{BackendResponseInput, Message, Output, RecvInput, CONFIG_KEY};

pub use support::{build_wasm, repo_root, tenants_dir};

/// Builds the plugin once per process (`cargo build -p rvedge-extism --release --target
/// wasm32-unknown-unknown`, a no-op when it is fresh) in the target directory this binary was
/// built in, and returns the `.wasm`'s path. Building here rather than only finding it means
/// a test never runs a stale plugin.
pub fn plugin_wasm() -> &'static Path {
    static WASM: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let built = WASM.get_or_init(|| {
        support::build_wasm(
            "rvedge-extism",
            "wasm32-unknown-unknown",
            "rvedge_extism.wasm",
        )
    });
    match built {
        Ok(path) => path,
        Err(message) => panic!("{message}"),
    }
}

/// The conformance table's tenants as the plugin's configuration, the programs from the built
/// tenants directory.
pub fn conformance_configuration() -> String {
    rvedge_conformance::table_bundle(tenants_dir())
        .to_json()
        .to_string()
}

/// A fresh plugin instance; with `configuration`, it is set as the Extism config key `rvedge`.
pub fn new_plugin(configuration: Option<&str>) -> Plugin {
    let mut manifest = Manifest::new([Wasm::file(plugin_wasm())]);
    if let Some(json) = configuration {
        manifest = manifest.with_config_key(CONFIG_KEY, json);
    }
    Plugin::new(&manifest, [], false).unwrap_or_else(|error| panic!("loading the plugin: {error}"))
}

/// One call of an export: its input and output JSON, as the proxy sent and got them.
#[derive(Clone, Debug)]
pub struct Call {
    pub export: &'static str,
    pub input: serde_json::Value,
    pub output: serde_json::Value,
}

/// Calls `export` with `input` and returns the output text; an Extism-level failure (a trap,
/// a missing export) panics, because the plugin promises JSON for every input.
pub fn call_raw(plugin: &mut Plugin, export: &str, input: &[u8]) -> String {
    let output: &str = plugin
        .call(export, input)
        .unwrap_or_else(|error| panic!("{export} failed at the Extism level: {error:#}"));
    output.to_owned()
}

/// Calls `export` with a serializable input, records the call, and parses the output.
pub fn call(
    plugin: &mut Plugin,
    export: &'static str,
    input: &impl serde::Serialize,
    calls: &mut Vec<Call>,
) -> Output {
    let input = serde_json::to_value(input).expect("serializable");
    let text = call_raw(plugin, export, input.to_string().as_bytes());
    let output: serde_json::Value = serde_json::from_str(&text)
        .unwrap_or_else(|error| panic!("{export} returned invalid JSON ({error}): {text}"));
    calls.push(Call {
        export,
        input,
        output: output.clone(),
    });
    serde_json::from_value(output)
        .unwrap_or_else(|error| panic!("{export} returned an unknown output ({error}): {text}"))
}

/// A `vcl_recv` input: GET `url` for `tenant`, nothing else.
pub fn get(tenant: &str, url: &str) -> RecvInput {
    RecvInput {
        tenant: tenant.into(),
        method: "GET".into(),
        url: url.into(),
        ..RecvInput::default()
    }
}

/// The `vcl_recv` input for a conformance case.
pub fn recv_input(case: &Case) -> RecvInput {
    RecvInput {
        tenant: case.tenant.clone(),
        method: case.request.method.clone(),
        url: case.request.url.clone(),
        headers: case.request.headers.clone(),
        body: Some(case.request.body.clone()),
        body_base64: None,
        random: None,
    }
}

/// Plays the proxy for one request: `vcl_recv`; for `continue`, the echo origin answers the
/// forwarded request (with the client's body) and `vcl_backend_response` runs. Returns what
/// the client would get.
pub fn observe(plugin: &mut Plugin, input: &RecvInput, calls: &mut Vec<Call>) -> Observed {
    match call(plugin, "vcl_recv", input, calls) {
        Output::Respond {
            response,
            cacheable,
            ..
        } => observed(response, cacheable),
        Output::Continue {
            request_id,
            tenant,
            backend,
            request,
            ..
        } => {
            let body = rvedge_extism::messages::decode_body(
                input.body.as_deref(),
                input.body_base64.as_deref(),
            )
            .expect("the test's own body is valid");
            let forwarded = HttpRequest {
                method: request.method,
                url: request.url,
                headers: request.headers,
                body,
            };
            let origin = EchoOrigin.fetch(&backend, &forwarded);
            let input = BackendResponseInput {
                request_id,
                tenant,
                response: Message::new(origin.status, origin.headers, origin.body),
            };
            match call(plugin, "vcl_backend_response", &input, calls) {
                Output::Respond {
                    response,
                    cacheable,
                    ..
                } => observed(response, cacheable),
                other => panic!("vcl_backend_response answered {other:?}"),
            }
        }
        other => panic!("vcl_recv answered {other:?}"),
    }
}

fn observed(response: Message, cacheable: bool) -> Observed {
    let body = response
        .body_bytes()
        .unwrap_or_else(|error| panic!("the plugin's response body: {error}"));
    Observed {
        status: response.status,
        headers: response.headers,
        body,
        cached: Some(cacheable),
    }
}

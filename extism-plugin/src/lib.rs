//! rvedge as an Extism plugin: a JSON policy interface for Extism-based proxies.
//!
//! Exports (each takes JSON and returns JSON; `README.md` and `schema.json` give the shapes):
//! - `configure`: loads tenants (the runtime's tenant JSON plus base64 programs). The Extism
//!   config key `rvedge` holding the same JSON does this on the first call instead.
//! - `vcl_recv`: a client request through the tenant's client side; answers `respond` (a
//!   synthetic or forged response) or `continue` (send this request to that backend).
//! - `vcl_backend_response`: the origin's answer to a `continue`d request through
//!   `on_backend_response` and `on_deliver`; answers `respond`.
//! - `noop`: parses a `vcl_recv` input and returns it, to measure the call and JSON overhead.
//!
//! Templates and requests waiting for their origin response live in the plugin instance
//! between calls. Every failure is an output (`error`, or a 503 `respond` for a tenant
//! failure), never a trap, so the instance stays usable.

pub mod messages;
pub mod policy;

pub use policy::Plugin;

/// The Extism exports: only in the WebAssembly build, where the Extism kernel exists.
#[cfg(target_arch = "wasm32")]
mod exports {
    use std::cell::Cell;

    use extism_pdk::{config, plugin_fn, FnResult};

    use crate::messages::{error_kind, ErrorReport, Output, RecvInput, CONFIG_KEY};
    use crate::policy::Plugin;

    thread_local! {
        // A plugin instance runs one call at a time, so one state per instance is all there
        // is. Each call takes the state out and puts it back when done: if a call ever traps
        // half-way (a bug, or wasm memory exhausted), the next call starts from a fresh state
        // instead of finding it half-changed.
        static PLUGIN: Cell<Option<Box<Plugin>>> = const { Cell::new(None) };
    }

    fn with_plugin(call: impl FnOnce(&mut Plugin) -> Output) -> String {
        let mut plugin = PLUGIN.take().unwrap_or_default();
        let output = call(&mut plugin);
        PLUGIN.set(Some(plugin));
        // Serializing these types cannot fail; answer valid JSON even so.
        serde_json::to_string(&output).unwrap_or_else(|_| {
            r#"{"action":"error","error":{"kind":"bad_input","detail":"unserializable output"}}"#
                .into()
        })
    }

    fn with_configured_plugin(call: impl FnOnce(&mut Plugin) -> Output) -> String {
        with_plugin(|plugin| {
            plugin.ensure_configured(|| config::get(CONFIG_KEY).ok().flatten());
            call(plugin)
        })
    }

    #[plugin_fn]
    pub fn configure(input: Vec<u8>) -> FnResult<String> {
        Ok(with_plugin(|plugin| plugin.configure(&input)))
    }

    #[plugin_fn]
    pub fn vcl_recv(input: Vec<u8>) -> FnResult<String> {
        Ok(with_configured_plugin(|plugin| plugin.recv(&input)))
    }

    #[plugin_fn]
    pub fn vcl_backend_response(input: Vec<u8>) -> FnResult<String> {
        Ok(with_configured_plugin(|plugin| {
            plugin.backend_response(&input)
        }))
    }

    #[plugin_fn]
    pub fn noop(input: Vec<u8>) -> FnResult<String> {
        let echoed = serde_json::from_slice::<RecvInput>(&input)
            .and_then(|request| serde_json::to_string(&request));
        Ok(match echoed {
            Ok(json) => json,
            Err(error) => serde_json::to_string(&Output::Error {
                error: ErrorReport {
                    kind: error_kind::BAD_INPUT.into(),
                    tenant: None,
                    during: None,
                    detail: error.to_string(),
                },
            })?,
        })
    }
}

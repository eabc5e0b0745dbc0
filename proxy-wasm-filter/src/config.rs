//! The filter's configuration: the plugin configuration names the tenants (the runtime's tenant
//! JSON) and carries their programs; programs it does not carry come from the VM
//! configuration, so several plugins on one VM can share large ELFs.
//!
//! ```json
//! { "tenant_header": ":authority",
//!   "tenants": { "example.com": { "filename": "hello", "max_instructions": 5000000 } },
//!   "programs": { "hello": "<base64 of the ELF>" } }
//! ```
//! Besides `tenant_header` and `report_tenant_time` it is a [`TenantBundle`]. VM
//! configuration: a bundle of programs only, `{ "programs": { "<filename>": "<base64>" } }`
//! (or empty).

use std::fmt;

use serde::Deserialize;

use rvedge::runtime::{ClockSource, TenantBundle, Tenants};

use crate::filter::HeldRequests;

/// The header that picks the tenant when the configuration names none. Its port is dropped.
pub const DEFAULT_TENANT_HEADER: &str = ":authority";

/// The plugin configuration's own keys; the rest is a [`TenantBundle`].
#[derive(Debug, Default, Deserialize)]
struct FilterKeys {
    #[serde(default)]
    tenant_header: Option<String>,
    /// Adds `x-rvedge-tenant-nanos` (time spent forking and running tenant code) to every
    /// response, for benchmarks.
    #[serde(default)]
    report_tenant_time: bool,
    /// The proxy keeps request headers back while the filter waits for the body (Envoy ≥ 1.35
    /// with the Wasm PluginConfig's own `allow_on_headers_stop_iteration: true`).
    #[serde(default)]
    allow_on_headers_stop_iteration: bool,
}

const FILTER_KEYS: [&str; 3] = [
    "tenant_header",
    "report_tenant_time",
    "allow_on_headers_stop_iteration",
];

/// A configuration the filter refuses, with the sentence it logs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigurationError(pub String);

impl fmt::Display for ConfigurationError {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        out.write_str(&self.0)
    }
}

impl std::error::Error for ConfigurationError {}

/// Everything one VM's filter needs: its tenants (templates built once) and how it picks one.
#[derive(Debug)]
pub struct FilterConfiguration {
    /// Lower-case header name, pseudo-headers included (`:authority`).
    pub tenant_header: String,
    pub tenants: Tenants,
    pub report_tenant_time: bool,
    /// Whether the proxy honours a pause in the request headers callback by holding the headers
    /// and still delivering the body (Envoy's `allow_on_headers_stop_iteration: true`). Without
    /// it Envoy turns that pause into StopAllIterationAndWatermark, which also stops the body
    /// callbacks: the stream would hang. So by default the filter never pauses there.
    pub allow_on_headers_stop_iteration: bool,
    /// The requests its streams hold between callbacks.
    pub held: HeldRequests,
}

impl FilterConfiguration {
    /// Parses both configurations and loads every tenant (runs each `main()` to
    /// `wait_for_requests`).
    pub fn load(
        plugin_configuration: &[u8],
        vm_configuration: &[u8],
        clock: Option<ClockSource>,
    ) -> Result<FilterConfiguration, ConfigurationError> {
        let error = |message: String| ConfigurationError(message);
        let mut plugin: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(plugin_configuration)
                .map_err(|problem| error(format!("plugin configuration: {problem}")))?;
        let own_keys = FILTER_KEYS
            .iter()
            .filter_map(|key| Some((key.to_string(), plugin.remove(*key)?)))
            .collect();
        let keys: FilterKeys = serde_json::from_value(serde_json::Value::Object(own_keys))
            .map_err(|problem| error(format!("plugin configuration: {problem}")))?;
        if !plugin.contains_key("tenants") {
            return Err(error(
                "plugin configuration: missing field `tenants`".into(),
            ));
        }
        let mut bundle = TenantBundle::from_value(serde_json::Value::Object(plugin))
            .map_err(|problem| error(format!("plugin configuration: {problem}")))?;
        if !vm_configuration.iter().all(u8::is_ascii_whitespace) {
            let shared = TenantBundle::from_json(vm_configuration)
                .map_err(|problem| error(format!("VM configuration: {problem}")))?;
            // Plugin programs win over the VM's of the same name: the plugin is the more
            // specific.
            bundle.add_missing_programs(shared);
        }
        let tenant_header = keys
            .tenant_header
            .unwrap_or_else(|| DEFAULT_TENANT_HEADER.into())
            .to_ascii_lowercase();
        if tenant_header.is_empty() || tenant_header.trim_start_matches(':').is_empty() {
            return Err(error(
                "plugin configuration: tenant_header must name a header".into(),
            ));
        }
        let tenants = bundle
            .load(clock)
            .map_err(|problem| error(format!("plugin configuration: tenants: {problem}")))?;
        Ok(FilterConfiguration {
            tenant_header,
            tenants,
            report_tenant_time: keys.report_tenant_time,
            allow_on_headers_stop_iteration: keys.allow_on_headers_stop_iteration,
            held: HeldRequests::default(),
        })
    }
}

/// The tenant name a header value names: a `:authority`/`host` value loses its port
/// (`example.com:8080` → `example.com`, `[::1]:80` → `[::1]`).
pub fn tenant_name(header_value: &str) -> &str {
    let value = header_value.trim();
    let without_port = match value.rsplit_once(':') {
        Some((host, port))
            if !port.is_empty()
                && port.bytes().all(|byte| byte.is_ascii_digit())
                && (!host.contains(':') || host.ends_with(']')) =>
        {
            host
        }
        _ => value,
    };
    without_port
}

impl FilterConfiguration {
    /// The tenant a request names: exactly as configured, or else in lower case (host names
    /// are case-insensitive; configurations usually write them in lower case).
    pub fn tenant_for(
        &self,
        header_value: &str,
    ) -> Option<&std::sync::Arc<rvedge::runtime::Tenant>> {
        let name = tenant_name(header_value);
        self.tenants
            .get(name)
            .or_else(|| self.tenants.get(&name.to_ascii_lowercase()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_dropped_from_host_names() {
        assert_eq!(tenant_name("Example.com:8080"), "Example.com");
        assert_eq!(tenant_name("example.com"), "example.com");
        assert_eq!(tenant_name("[::1]:80"), "[::1]");
        assert_eq!(tenant_name("[::1]"), "[::1]");
        assert_eq!(tenant_name("hello:"), "hello:");
    }

    #[test]
    fn mistakes_are_refused_with_a_sentence() {
        let cases: [(&[u8], &[u8], &str); 6] = [
            (b"{", b"", "plugin configuration: EOF"),
            (
                b"{\"tenants\": {}, \"tenant_heder\": 1}",
                b"",
                "unknown field `tenant_heder`",
            ),
            (
                b"{\"tenants\": {\"a\": {\"filename\": \"x\"}}, \"programs\": {\"x\": \"!!\"}}",
                b"",
                "programs: \"x\" is not valid base64",
            ),
            (
                b"{\"tenants\": {\"a\": {\"filename\": \"x\"}}}",
                b"",
                "no program named \"x\"",
            ),
            (
                b"{\"tenants\": {\"a\": {\"filename\": \"x\"}}, \"programs\": {\"x\": \"AAAA\"}}",
                b"",
                "tenant \"a\"",
            ),
            (b"{\"tenants\": {}}", b"[1]", "VM configuration: "),
        ];
        for (plugin, vm, expected) in cases {
            let message = FilterConfiguration::load(plugin, vm, None)
                .unwrap_err()
                .to_string();
            assert!(message.contains(expected), "{message}");
        }
    }

    #[test]
    fn an_empty_tenant_list_is_a_valid_configuration() {
        let configuration = FilterConfiguration::load(
            b"{\"tenants\": {}, \"tenant_header\": \"X-Tenant\"}",
            b"",
            None,
        )
        .unwrap();
        assert_eq!(configuration.tenant_header, "x-tenant");
        assert_eq!(configuration.tenants.names().count(), 0);
    }
}

//! The shared conformance table through the rvedge filter in the wasmtime proxy-wasm host,
//! with the same tenant binaries as the native runtime (inlined as base64 in the plugin
//! configuration), one VM for the whole table as a proxy worker would have; in both ways a
//! proxy can run the filter: Envoy's default (the filter never pauses request headers) and
//! with `allow_on_headers_stop_iteration` on both sides (it pauses them for the body).

use rvedge_test_support as support;

use rvedge_conformance::{cases, TENANTS_JSON};
use rvedge_proxy_wasm_conformance::{filter_module, observe_through_filter, plugin_configuration};
use rvedge_proxy_wasm_host::FilterVm;

fn every_case_passes(hold_request_headers: bool) {
    let module = filter_module();
    let mut configuration: serde_json::Value =
        serde_json::from_slice(&plugin_configuration(TENANTS_JSON, support::tenants_dir()))
            .expect("the plugin configuration is JSON");
    configuration["allow_on_headers_stop_iteration"] = hold_request_headers.into();
    let mut vm = FilterVm::start(&module, b"", configuration.to_string().as_bytes())
        .unwrap_or_else(|error| panic!("{error}"));
    vm.allow_on_headers_stop_iteration(hold_request_headers);
    let mut failures = Vec::new();
    let mut requests = 0;
    for case in cases() {
        for attempt in 1..=case.repeat {
            requests += 1;
            let observed = observe_through_filter(&mut vm, &case);
            if let Err(problems) = case.expect.check(&observed) {
                failures.push(format!("{} (attempt {attempt}): {problems}", case.name));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {requests} requests failing (holding request headers: {hold_request_headers}):\n{}\nfilter log:\n{}",
        failures.len(),
        failures.join("\n"),
        vm.take_logs()
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    );
    // Tenant failures are answered by the filter, never by the host failing the VM.
    assert_eq!(vm.restarts(), 0, "the VM trapped and was restarted");
}

#[test]
fn every_case_passes_through_the_filter() {
    every_case_passes(false);
}

#[test]
fn every_case_passes_through_the_filter_holding_request_headers_for_the_body() {
    every_case_passes(true);
}

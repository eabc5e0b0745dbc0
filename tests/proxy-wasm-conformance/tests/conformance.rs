//! The shared conformance table through the rvedge filter in the wasmtime proxy-wasm host,
//! with the same tenant binaries as the native runtime (inlined as base64 in the plugin
//! configuration), one VM for the whole table as a proxy worker would have.

#[path = "../../support/guests.rs"]
#[allow(dead_code, reason = "each test binary uses part of the shared support")]
mod support;

use rvedge_conformance::{cases, TENANTS_JSON};
use rvedge_proxy_wasm_conformance::{filter_module, observe_through_filter, plugin_configuration};
use rvedge_proxy_wasm_host::FilterVm;

#[test]
fn every_case_passes_through_the_filter() {
    let module = filter_module();
    let configuration = plugin_configuration(TENANTS_JSON, support::tenants_dir());
    let mut vm =
        FilterVm::start(&module, b"", &configuration).unwrap_or_else(|error| panic!("{error}"));
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
        "{} of {requests} requests failing:\n{}\nfilter log:\n{}",
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

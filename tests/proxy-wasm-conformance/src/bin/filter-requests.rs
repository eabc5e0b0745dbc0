//! Runs requests through the rvedge filter in the wasmtime host, fuel metering off (as Envoy
//! runs filters), to an origin that does next to nothing (the conformance table's echo origin
//! writes each request back as JSON, over a quarter of a forwarded request's count), and
//! nothing else: for profilers (scripts/filter-instructions.sh counts them with callgrind).
//! wasmtime lists the filter's compiled functions in `/tmp/perf-<pid>.map`.
//!
//! `filter-requests TENANT PATH COUNT`: COUNT GETs of PATH for TENANT (a tenant of the
//! conformance table), each answered 200.

use rvedge_proxy_wasm_conformance::{
    get_request, profiled_filter_module, table_plugin_configuration,
};
use rvedge_proxy_wasm_host::{FilterVm, FixedUpstream};
use rvedge_test_support as support;

fn main() {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let [tenant, path, count] = arguments.as_slice() else {
        eprintln!("usage: filter-requests TENANT PATH COUNT");
        std::process::exit(2);
    };
    let count: u32 = count.parse().expect("COUNT is a number");
    let module = profiled_filter_module();
    let configuration = table_plugin_configuration(&[tenant], support::tenants_dir());
    let mut vm = FilterVm::start(&module, b"", &configuration).unwrap();
    for _ in 0..count {
        let response = vm
            .handle(get_request(tenant, path), &mut FixedUpstream)
            .unwrap();
        assert_eq!(response.status, 200, "{tenant} {path}: {response:?}");
    }
}

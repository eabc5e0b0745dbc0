//! Runs cpubench (all kernels at SCALE) once, for profilers: booted as a tenant inside the
//! rvedge filter in the wasmtime host (fuel metering off, as Envoy runs filters; the work is
//! inside `FilterVm::start`), or natively on a `Machine` (`cpubench_natively`), whose guest
//! instruction count it prints. scripts/filter-instructions.sh cpubench counts both with
//! callgrind. wasmtime lists the filter's compiled functions in `/tmp/perf-<pid>.map`.
//!
//! `filter-cpubench wasm|native SCALE`

use rvedge_proxy_wasm_conformance::{
    boot_cpubench_in_filter, cpubench_natively, cpubench_tenant, filter_wasm, plugin_configuration,
};
use rvedge_proxy_wasm_host::{FilterModule, HostLimits};

fn main() {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let [side, scale] = arguments.as_slice() else {
        eprintln!("usage: filter-cpubench wasm|native SCALE");
        std::process::exit(2);
    };
    let (directory, tenants_json) = cpubench_tenant(scale);
    match side.as_str() {
        "wasm" => {
            let limits = HostLimits {
                fuel_per_callback: 0,
                ..HostLimits::default()
            };
            let module = FilterModule::new_with_perf_map(filter_wasm(), limits).unwrap();
            let configuration = plugin_configuration(&tenants_json, &directory);
            boot_cpubench_in_filter(&module, &configuration);
        }
        "native" => {
            let instructions = cpubench_natively(&directory, scale);
            println!("guest instructions: {instructions}");
        }
        _ => {
            eprintln!("usage: filter-cpubench wasm|native SCALE");
            std::process::exit(2);
        }
    }
}

//! Runs cpubench (all kernels at SCALE) once, for profilers: booted as a tenant inside the
//! rvedge filter in the wasmtime host (fuel metering off, as Envoy runs filters; the work is
//! inside `boot_cpubench_in_filter`), or natively on a `Machine` (`cpubench_natively`), whose
//! guest instruction count it prints. scripts/filter-instructions.sh cpubench counts both with
//! callgrind. wasmtime lists the filter's compiled functions in `/tmp/perf-<pid>.map`.
//!
//! `filter-cpubench wasm|native SCALE`

use rvedge_proxy_wasm_conformance::{
    boot_cpubench_in_filter, cpubench_natively, cpubench_tenant, plugin_configuration,
    profiled_filter_module,
};

fn main() {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let (side, scale) = match arguments.as_slice() {
        [side, scale] if side == "wasm" || side == "native" => (side, scale),
        _ => {
            eprintln!("usage: filter-cpubench wasm|native SCALE");
            std::process::exit(2);
        }
    };
    let (directory, tenants_json) = cpubench_tenant(scale);
    if side == "wasm" {
        let configuration = plugin_configuration(&tenants_json, &directory);
        boot_cpubench_in_filter(&profiled_filter_module(), &configuration);
    } else {
        let instructions = cpubench_natively(&directory, scale);
        println!("guest instructions: {instructions}");
    }
}

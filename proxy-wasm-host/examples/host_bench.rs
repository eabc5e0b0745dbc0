//! Prints what the host costs: compile and start times, and time per request through a small
//! filter, with the fuel CPU limit and with the epoch (time) limit. With `$RVEDGE_FILTER` and
//! `$TENANT_OUT` set, also guest MIPS of the rvedge filter on the `loop` tenant (it runs
//! until its instruction budget is used up) under both CPU limits.
//!
//! `cargo run -p rvedge-proxy-wasm-host --example host_bench -- <example filters dir>`
//! (scripts/test-proxy-wasm-host.sh runs it). Figures only: nothing here asserts timings.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64::Engine as _;
use rvedge_proxy_wasm_host::{FilterModule, FilterVm, FixedUpstream, HostLimits, Request};

fn request(authority: &str) -> Request {
    Request {
        method: "GET".into(),
        path: "/bench".into(),
        authority: authority.into(),
        scheme: "http".into(),
        headers: vec![("user-agent".into(), "bench".into())],
        body: Vec::new(),
    }
}

fn cpu_limits() -> [(&'static str, HostLimits); 2] {
    [
        ("fuel", HostLimits::default()),
        (
            "epoch",
            HostLimits {
                fuel_per_callback: 0,
                callback_time_limit: Some(Duration::from_secs(1)),
                ..HostLimits::default()
            },
        ),
    ]
}

fn per_request(vm: &mut FilterVm, authority: &str, n_requests: u32) -> Duration {
    let mut upstream = FixedUpstream;
    for _ in 0..n_requests / 10 {
        vm.handle(request(authority), &mut upstream).unwrap();
    }
    let started = Instant::now();
    for _ in 0..n_requests {
        vm.handle(request(authority), &mut upstream).unwrap();
    }
    vm.take_logs();
    started.elapsed() / n_requests
}

fn main() {
    let examples_dir = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("PROXY_WASM_EXAMPLES_DIR").map(PathBuf::from))
        .expect("usage: host_bench <dir with the example filters' .wasm>");
    let wasm = std::fs::read(examples_dir.join("http_config.wasm")).unwrap();
    for (name, limits) in cpu_limits() {
        let started = Instant::now();
        let module = FilterModule::new(&wasm, limits).unwrap();
        let compiled = started.elapsed();
        let started = Instant::now();
        let mut vm = FilterVm::start(&module, b"", b"x-bench: 1").unwrap();
        let instantiated = started.elapsed();
        let request_time = per_request(&mut vm, "bench.example", 20_000);
        println!(
            "http_config ({} bytes), {name} limit: compile {:.1} ms, start {:.0} µs, \
             {:.2} µs per request (headers both ways, upstream in memory)",
            wasm.len(),
            compiled.as_secs_f64() * 1e3,
            instantiated.as_secs_f64() * 1e6,
            request_time.as_secs_f64() * 1e6,
        );
    }
    if let (Some(filter), Some(tenants)) = (
        std::env::var_os("RVEDGE_FILTER"),
        std::env::var_os("TENANT_OUT"),
    ) {
        rvedge_filter_mips(Path::new(&filter), Path::new(&tenants));
    } else {
        println!("(set RVEDGE_FILTER and TENANT_OUT for the rvedge filter's figures)");
    }
}

/// Guest instructions per second of the rvedge filter running the `loop` tenant to its
/// budget, under each CPU limit.
fn rvedge_filter_mips(filter: &Path, tenants: &Path) {
    const BUDGET: u64 = 20_000_000;
    let wasm = std::fs::read(filter).unwrap();
    let program = std::fs::read(tenants.join("loop")).unwrap();
    let configuration = serde_json::json!({
        "tenants": { "loop.example": { "filename": "loop", "max_instructions": BUDGET } },
        "programs": { "loop": base64::engine::general_purpose::STANDARD.encode(program) },
    })
    .to_string();
    for (name, limits) in cpu_limits() {
        let started = Instant::now();
        let module = FilterModule::new(&wasm, limits).unwrap();
        let compiled = started.elapsed();
        let started = Instant::now();
        let mut vm = FilterVm::start(&module, b"", configuration.as_bytes()).unwrap();
        let instantiated = started.elapsed();
        let mut upstream = FixedUpstream;
        let started = Instant::now();
        let n_requests = 5;
        for _ in 0..n_requests {
            let response = vm.handle(request("loop.example"), &mut upstream).unwrap();
            assert_eq!(response.status, 503, "the loop tenant times out");
        }
        let elapsed = started.elapsed();
        let mips = (BUDGET * n_requests) as f64 / elapsed.as_secs_f64() / 1e6;
        println!(
            "rvedge_filter ({} bytes), {name} limit: compile {:.0} ms, start {:.1} ms, \
             guest {mips:.0} MIPS (loop tenant, {BUDGET} instructions per request)",
            wasm.len(),
            compiled.as_secs_f64() * 1e3,
            instantiated.as_secs_f64() * 1e3,
        );
    }
}

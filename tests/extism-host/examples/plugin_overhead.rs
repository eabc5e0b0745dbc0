//! Per-call overhead of the Extism plugin, next to the proxy-wasm filter in the same run.
//!
//! `cargo run -p rvedge-extism-host --example plugin_overhead [-- --quick]`
//!
//! An example rather than a `cargo bench` target: the bench profile's fat LTO would rebuild
//! wasmtime and Cranelift for many minutes, while what is measured is Cranelift's code for the
//! two `.wasm` files (always built in release) and wasmtime's call path, which the dev profile
//! already builds optimised (`[profile.dev.package."*"]`). Figures are printed, never asserted.

use std::hint::black_box;
use std::time::{Duration, Instant};

use extism::Plugin;
use rvedge::runtime::{EchoOrigin, HttpRequest, Origin};
use rvedge_extism::messages::RecvInput;
use rvedge_extism_host::{
    build_wasm, call_raw, conformance_configuration, new_plugin, observe, plugin_wasm,
};
use rvedge_proxy_wasm_host::{FilterModule, FilterVm, HostLimits, Request, Response, Upstream};

fn main() {
    let quick = std::env::args().any(|argument| argument == "--quick");
    let iterations = if quick { 200 } else { 3000 };
    println!("rvedge Extism plugin: per-call overhead ({iterations} iterations per row, after a warm-up)");
    let configuration = conformance_configuration();
    let n_tenants = count_tenants(&configuration);

    plugin_wasm(); // Builds it first, so the start-up time below is the plugin's own.
    let started = Instant::now();
    let mut plugin = new_plugin(Some(&configuration));
    let hello = input("hello", "/index.html");
    let rewrite = input("rewrite", "/old/page?q=1");
    let hello_bytes = serde_json::to_vec(&hello).expect("serializable");
    let rewrite_bytes = serde_json::to_vec(&rewrite).expect("serializable");
    call_raw(&mut plugin, "vcl_recv", &hello_bytes);
    println!(
        "extism: plugin compiled, instantiated, {n_tenants} tenants loaded from config: {:.0} ms",
        started.elapsed().as_secs_f64() * 1e3
    );

    let mut rows = vec![
        measure(
            "extism noop (call + JSON parse/serialize)",
            iterations,
            || call_raw(&mut plugin, "noop", &hello_bytes).len(),
        ),
        measure(
            "extism vcl_recv hello (whole forged exchange)",
            iterations,
            || call_raw(&mut plugin, "vcl_recv", &hello_bytes).len(),
        ),
        measure(
            "extism vcl_recv rewrite (to `continue`)",
            iterations,
            || call_raw(&mut plugin, "vcl_recv", &rewrite_bytes).len(),
        ),
        measure(
            "extism rewrite: vcl_recv + echo origin + vcl_backend_response",
            iterations,
            || exchange_through_plugin(&mut plugin, &rewrite),
        ),
    ];

    match start_filter(&configuration, n_tenants) {
        Ok(mut vm) => {
            let mut upstream = EchoUpstream;
            rows.push(measure(
                "proxy-wasm filter hello (whole forged exchange)",
                iterations,
                || handle(&mut vm, "hello", "/index.html", &mut upstream),
            ));
            rows.push(measure(
                "proxy-wasm filter rewrite: request + echo origin + response",
                iterations,
                || handle(&mut vm, "rewrite", "/old/page?q=1", &mut upstream),
            ));
        }
        Err(reason) => println!("proxy-wasm filter: not measured: {reason}"),
    }

    println!();
    println!(
        "{:<66} {:>10} {:>10} {:>10} {:>12}",
        "what", "mean µs", "median µs", "p99 µs", "per second"
    );
    for row in &rows {
        println!(
            "{:<66} {:>10.1} {:>10.1} {:>10.1} {:>12.0}",
            row.name,
            micros(row.mean),
            micros(row.median),
            micros(row.p99),
            1.0 / row.mean.as_secs_f64()
        );
    }
}

/// Entries of the configuration's tenant JSON that are tenants (groups have no filename).
fn count_tenants(configuration: &str) -> usize {
    let json: serde_json::Value = serde_json::from_str(configuration).expect("valid JSON");
    json["tenants"].as_object().map_or(0, |tenants| {
        tenants
            .values()
            .filter(|entry| entry.get("filename").is_some())
            .count()
    })
}

fn input(tenant: &str, url: &str) -> RecvInput {
    RecvInput {
        tenant: tenant.into(),
        url: url.into(),
        headers: vec![
            ("X-Internal".into(), "secret".into()),
            ("Accept".into(), "*/*".into()),
        ],
        ..RecvInput::default()
    }
}

fn exchange_through_plugin(plugin: &mut Plugin, input: &RecvInput) -> usize {
    let mut calls = Vec::new();
    let observed = observe(plugin, input, &mut calls);
    assert_eq!(observed.status, 200, "the rewrite exchange works");
    observed.body.len()
}

fn start_filter(configuration: &str, n_tenants: usize) -> Result<FilterVm, String> {
    let wasm = build_wasm("rvedge-filter", "wasm32-wasip1", "rvedge_filter.wasm")?;
    let bytes = std::fs::read(&wasm).map_err(|error| format!("{}: {error}", wasm.display()))?;
    let started = Instant::now();
    let module =
        FilterModule::new(&bytes, HostLimits::default()).map_err(|error| error.to_string())?;
    let vm = FilterVm::start(&module, b"", configuration.as_bytes())
        .map_err(|error| error.to_string())?;
    println!(
        "proxy-wasm: filter compiled, VM started, {n_tenants} tenants loaded: {:.0} ms",
        started.elapsed().as_secs_f64() * 1e3
    );
    Ok(vm)
}

/// The echo origin behind the filter; the filter names the tenant's backend in a header.
struct EchoUpstream;

impl Upstream for EchoUpstream {
    fn send(&mut self, request: &Request) -> Response {
        let backend = request
            .header("x-rvedge-backend")
            .unwrap_or("default")
            .to_owned();
        let forwarded = HttpRequest {
            method: request.method.clone(),
            url: request.path.clone(),
            headers: request.headers.clone(),
            body: request.body.clone(),
        };
        let answer = EchoOrigin.fetch(&backend, &forwarded);
        Response {
            status: answer.status,
            headers: answer.headers,
            body: answer.body,
            local_reply: false,
        }
    }
}

fn handle(vm: &mut FilterVm, tenant: &str, path: &str, upstream: &mut EchoUpstream) -> usize {
    let request = Request {
        method: "GET".into(),
        path: path.into(),
        authority: tenant.into(),
        scheme: "http".into(),
        headers: vec![
            ("x-internal".into(), "secret".into()),
            ("accept".into(), "*/*".into()),
        ],
        body: Vec::new(),
    };
    let response = vm.handle(request, upstream).expect("the filter's VM runs");
    assert_eq!(
        response.status, 200,
        "{tenant} through the filter: {response:?}"
    );
    vm.take_logs();
    response.body.len()
}

struct Row {
    name: &'static str,
    mean: Duration,
    median: Duration,
    p99: Duration,
}

fn measure(name: &'static str, iterations: usize, mut work: impl FnMut() -> usize) -> Row {
    for _ in 0..iterations / 10 {
        black_box(work());
    }
    let mut times = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let start = Instant::now();
        black_box(work());
        times.push(start.elapsed());
    }
    times.sort_unstable();
    let total: Duration = times.iter().sum();
    Row {
        name,
        mean: total / iterations as u32,
        median: times[iterations / 2],
        p99: times[(iterations * 99 / 100).min(iterations - 1)],
    }
}

fn micros(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e6
}

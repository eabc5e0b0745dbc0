//! What the rvedge filter costs in a real Envoy: per-request time of the `hello` tenant
//! (forged at the edge) and the `rewrite` tenant (changed, then passed to the origin) through
//! Envoy with the filter, against the same Envoy without it. `wrk -c1` (one connection, one
//! request at a time: the time per request is the latency), rounds alternating between the
//! two Envoys; printed as the difference and the ratio of the medians, and as Envoy's CPU time
//! per request (its process, all threads), which the client's and the origin's scheduling on
//! the same cores move less. The plain Envoy answers `hello` itself too (a direct response
//! with the same body), and sends `rewrite` to the same echo origin, so both sides do the same
//! HTTP work. A third Envoy, whose filter reports the time spent forking and running tenant
//! code (`report_tenant_time`, by Envoy's clock), splits the difference into the tenant part
//! and the rest (filter glue, hostcalls, V8). A request for a host no tenant serves gives the
//! floor: the filter in Envoy's chain, no tenant run.
//!
//! Then what one tenant call costs through the filter in Envoy: the attack guest's `on_recv`
//! making a call once and 101 times (`/loop/<call>/16/<times>`), by the filter's tenant time;
//! filter-bench prints the same in wasmtime and natively. And what a hostile tenant gets out
//! of the filter: calls looped to the budget against spinning through it.
//!
//! Needs Envoy (scripts/test-proxy-wasm-filter.sh installs it) and wrk (scripts/bootstrap.sh).
//!
//! `cargo run --release -p rvedge-proxy-wasm-conformance --bin envoy-bench [-- --quick]`

use rvedge_test_support as support;

use std::process::Command;
use std::time::Instant;

use serde_json::json;

use rvedge_proxy_wasm_conformance::envoy::{
    bootstrap, plugin_config, wasm_filter, EchoOrigins, Envoy,
};
use rvedge_proxy_wasm_conformance::{
    attack_plugin_configuration, filter_path, large_request_headers, table_plugin_configuration,
    tenant_call_header, ATTACK_BUDGET, ATTACK_CALLS, TENANT_CALLS, TENANT_CALL_REPEATS,
};
use rvedge_proxy_wasm_host::Request;

/// The two tenants measured: name and path.
const TENANTS: &[(&str, &str)] = &[("hello", "/index.html"), ("rewrite", "/old/page?q=1")];

/// A host no tenant serves, and a path: the filter passes the request to the origin untouched.
const PASS_THROUGH: (&str, &str) = ("nobody", "/page?q=1");

struct Settings {
    rounds: usize,
    seconds_per_round: u32,
}

fn settings() -> Settings {
    if std::env::args().any(|argument| argument == "--quick") {
        Settings {
            rounds: 3,
            seconds_per_round: 1,
        }
    } else {
        Settings {
            rounds: 10,
            seconds_per_round: 3,
        }
    }
}

/// Requests per second of one wrk run (one thread, one connection).
fn wrk(port: u16, host: &str, path: &str, seconds: u32) -> f64 {
    let output = Command::new("wrk")
        .args(["-t1", "-c1", &format!("-d{seconds}s")])
        .args(["-H", &format!("Host: {host}")])
        .arg(format!("http://127.0.0.1:{port}{path}"))
        .output()
        .unwrap_or_else(|error| {
            panic!("cannot run wrk (scripts/bootstrap.sh installs it): {error}")
        });
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && !text.contains("Non-2xx"),
        "wrk failed or saw errors:\n{text}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    text.lines()
        .find_map(|line| line.strip_prefix("Requests/sec:"))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("no Requests/sec in wrk's output:\n{text}"))
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// A GET of `path` for `tenant`.
fn get(tenant: &str, path: &str) -> Request {
    Request {
        method: "GET".into(),
        path: path.into(),
        authority: tenant.into(),
        ..Request::default()
    }
}

/// One row's figures: µs per request through the filter's Envoy and the plain one, by
/// latency and by Envoy's CPU time.
struct Row {
    filtered_us: f64,
    plain_us: f64,
    filtered_cpu_us: f64,
    plain_cpu_us: f64,
    /// The median of the rounds' CPU differences: steadier than the latencies, which the
    /// client's and the origin's scheduling on the same cores move by tens of µs.
    cpu_difference_us: f64,
}

impl Row {
    fn print(&self, host: &str, tail: &str) {
        println!(
            "{host:<8} through the filter {:>7.1} µs/request | plain Envoy {:>7.1} µs | difference {:+.1} µs | ratio {:.2}x | Envoy CPU {:.1} vs {:.1} µs/request ({:+.1}) | {tail}",
            self.filtered_us,
            self.plain_us,
            self.filtered_us - self.plain_us,
            self.filtered_us / self.plain_us,
            self.filtered_cpu_us,
            self.plain_cpu_us,
            self.cpu_difference_us,
        );
    }
}

/// What one side measured in one round, per request.
#[derive(Clone, Copy, Default)]
struct Side {
    latency_us: f64,
    cpu_us: f64,
}

/// Medians per request through `filtered` and through `plain`, for `host` and `path`, in
/// rounds that alternate which goes first, so drift over time hits both alike.
fn alternating_rounds(
    filtered: &Envoy,
    plain: &Envoy,
    host: &str,
    path: &str,
    settings: &Settings,
) -> Row {
    // Per round: the filtered side, then the plain one.
    let mut rounds: Vec<[Side; 2]> = Vec::new();
    for round in 0..settings.rounds {
        let mut figures = [Side::default(); 2];
        let mut sides = [(filtered, 0), (plain, 1)];
        if round % 2 == 1 {
            sides.reverse();
        }
        for (envoy, side) in sides {
            let cpu_before = envoy.cpu_time();
            let per_second = wrk(envoy.port, host, path, settings.seconds_per_round);
            let requests = per_second * f64::from(settings.seconds_per_round);
            figures[side] = Side {
                latency_us: 1e6 / per_second,
                cpu_us: (envoy.cpu_time() - cpu_before).as_secs_f64() * 1e6 / requests,
            };
        }
        rounds.push(figures);
    }
    let median_by = |figure: fn(&[Side; 2]) -> f64| {
        median(&mut rounds.iter().map(figure).collect::<Vec<f64>>())
    };
    Row {
        filtered_us: median_by(|[filtered, _]| filtered.latency_us),
        plain_us: median_by(|[_, plain]| plain.latency_us),
        filtered_cpu_us: median_by(|[filtered, _]| filtered.cpu_us),
        plain_cpu_us: median_by(|[_, plain]| plain.cpu_us),
        cpu_difference_us: median_by(|[filtered, plain]| filtered.cpu_us - plain.cpu_us),
    }
}

/// The median of the tenant time the filter reports for `requests` copies of `request`.
fn tenant_time_us(envoy: &Envoy, request: &Request, requests: usize) -> f64 {
    let mut times: Vec<f64> = (0..requests)
        .map(|_| {
            let response = envoy
                .send(request)
                .unwrap_or_else(|error| panic!("{error}"));
            let nanos: f64 = response
                .header(rvedge_filter::TENANT_TIME_HEADER)
                .and_then(|value| value.parse().ok())
                .unwrap_or_else(|| panic!("no tenant time for {}: {response:?}", request.path));
            nanos / 1e3
        })
        .collect();
    median(&mut times)
}

/// An Envoy whose filter runs the attack guest (`attack_plugin_configuration`).
fn attack_envoy(origins: &EchoOrigins, max_instructions: u64, report_tenant_time: bool) -> Envoy {
    let configuration = attack_plugin_configuration(max_instructions, report_tenant_time);
    let configuration = String::from_utf8(configuration).expect("the configuration is JSON");
    let plugin = plugin_config("rvedge", filter_path(), &configuration);
    Envoy::start(&bootstrap(origins, vec![wasm_filter(plugin)], Vec::new()))
        .unwrap_or_else(|error| panic!("{error}"))
}

/// Prints what a hostile tenant gets out of the filter in Envoy: `ATTACK_CALLS` looped to the
/// budget against spinning through it (filter-bench prints the same in wasmtime). Requests
/// are timed by the client: a request that runs out of budget gets no tenant time.
fn attack_amplification(origins: &EchoOrigins) -> Envoy {
    let envoy = attack_envoy(origins, ATTACK_BUDGET, false);
    let time_to_budget_ms = |path: &str| {
        let request = Request {
            headers: large_request_headers(),
            ..get("attack", path)
        };
        let mut times: Vec<f64> = (0..5)
            .map(|_| {
                let started = Instant::now();
                let response = envoy
                    .send(&request)
                    .unwrap_or_else(|error| panic!("{error}"));
                assert_eq!(response.status, 503, "{path} runs out of budget");
                started.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        median(&mut times)
    };
    let ordinary = time_to_budget_ms(&format!("/spin/{ATTACK_BUDGET}"));
    println!(
        "attack: spinning through {ATTACK_BUDGET} instructions in Envoy takes {ordinary:.1} ms"
    );
    for call in ATTACK_CALLS {
        let elapsed = time_to_budget_ms(&format!("/loop/{call}/16/0"));
        println!(
            "attack: {call:<10} to the budget {elapsed:>7.1} ms, {:.2}x spinning",
            elapsed / ordinary
        );
    }
    envoy
}

/// Prints what each of `TENANT_CALLS` costs through the filter in an Envoy that runs the
/// attack guest; returns that Envoy, for its VM failures.
fn tenant_call_costs(origins: &EchoOrigins, requests: usize) -> Envoy {
    let envoy = attack_envoy(origins, 100_000_000, true);
    let attack = |path: String| Request {
        headers: vec![tenant_call_header()],
        ..get("attack", &path)
    };
    for call in TENANT_CALLS {
        let once = tenant_time_us(&envoy, &attack(format!("/loop/{call}/16/1")), requests);
        let repeated = tenant_time_us(
            &envoy,
            &attack(format!("/loop/{call}/16/{}", 1 + TENANT_CALL_REPEATS)),
            requests,
        );
        println!(
            "tenant call {call:<11} {:>6.2} µs each through the filter in Envoy (tenant time with 1 call {once:.1} µs, with {} {repeated:.1} µs)",
            (repeated - once) / TENANT_CALL_REPEATS as f64,
            1 + TENANT_CALL_REPEATS
        );
    }
    envoy
}

fn main() {
    let settings = settings();
    let origins = EchoOrigins::start(&["default"]);
    let names: Vec<&str> = TENANTS.iter().map(|(name, _)| *name).collect();
    let filter_envoy = |report_tenant_time: bool| {
        let mut configuration: serde_json::Value =
            serde_json::from_slice(&table_plugin_configuration(&names, support::tenants_dir()))
                .expect("the configuration is JSON");
        configuration["report_tenant_time"] = report_tenant_time.into();
        let plugin = plugin_config("rvedge", filter_path(), &configuration.to_string());
        Envoy::start(&bootstrap(&origins, vec![wasm_filter(plugin)], Vec::new()))
            .unwrap_or_else(|error| panic!("{error}"))
    };
    let filtered = filter_envoy(false);
    let timed = filter_envoy(true);

    // The plain Envoy's own answer for hello: what the tenant forges.
    let probe = |envoy: &Envoy, host: &str, path: &str| {
        envoy
            .send(&get(host, path))
            .unwrap_or_else(|error| panic!("{error}"))
    };
    let forged = probe(&filtered, "hello", TENANTS[0].1);
    assert_eq!(forged.status, 200);
    let direct_hello = json!({
        "match": { "prefix": "/", "headers": [
            { "name": ":authority", "string_match": { "exact": "hello" } }
        ] },
        "direct_response": {
            "status": 200,
            "body": { "inline_string": String::from_utf8_lossy(&forged.body) }
        },
        "response_headers_to_add": [
            { "header": { "key": "content-type", "value": "application/json" } }
        ]
    });
    let plain = Envoy::start(&bootstrap(&origins, Vec::new(), vec![direct_hello]))
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(probe(&plain, "hello", TENANTS[0].1).body, forged.body);

    println!(
        "Envoy {} (--concurrency 1), wrk -c1, {} alternating rounds of {} s per side",
        rvedge_proxy_wasm_conformance::envoy::ENVOY_VERSION,
        settings.rounds,
        settings.seconds_per_round
    );
    for (tenant, path) in TENANTS {
        let row = alternating_rounds(&filtered, &plain, tenant, path, &settings);
        let tenant_part = tenant_time_us(&timed, &get(tenant, path), settings.rounds * 50);
        row.print(
            tenant,
            &format!("tenant code (fork + hooks, in V8) {tenant_part:.1} µs"),
        );
    }
    // The floor of the rows above: the filter in the chain, no tenant run.
    let (host, path) = PASS_THROUGH;
    alternating_rounds(&filtered, &plain, host, path, &settings)
        .print(host, "no tenant: passed through to the origin");
    let calls_timed = tenant_call_costs(&origins, settings.rounds * 20);
    let attacked = attack_amplification(&origins);
    let mut failures = filtered.vm_failures();
    failures.extend(timed.vm_failures());
    failures.extend(calls_timed.vm_failures());
    failures.extend(attacked.vm_failures());
    assert!(
        failures.is_empty(),
        "the VM failed:\n{}",
        failures.join("\n")
    );
}

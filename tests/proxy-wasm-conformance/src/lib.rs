//! The rvedge filter (`rvedge_filter.wasm`) inside the wasmtime proxy-wasm host and inside a
//! real Envoy ([`envoy`]): what the tests, `filter-bench` and `envoy-bench` share. Finds or
//! builds the filter, writes its plugin configuration from a tenant configuration and the
//! built programs, runs a conformance case through a VM with an echo upstream, and turns the
//! answer into the table's `Observed`.

pub mod envoy;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use rvedge::runtime::{echo_body, EchoedRequest, ProgramDirectory, TenantBundle, DEFAULT_BACKEND};
use rvedge::{Isolated, Machine, Options, Stop};
use rvedge_conformance::{Case, Observed};
use rvedge_filter::BACKEND_HEADER;
use rvedge_proxy_wasm_host::{
    FilterModule, FilterVm, HostError, HostLimits, Request, Response, Upstream,
};

/// The artifact the filter crate builds, as Envoy and Istio configurations name it.
pub const FILTER_ARTIFACT: &str = "rvedge_filter.wasm";

pub use rvedge_test_support::repo_root;

/// The filter's bytes: `$RVEDGE_FILTER` if set (scripts/test-proxy-wasm-filter.sh builds
/// it first), else built once with `cargo build -p rvedge-filter --release --target
/// wasm32-wasip1`. That build takes the release and wasm32 profile locks, never the debug one
/// a running `cargo test` holds.
pub fn filter_wasm() -> &'static [u8] {
    static WASM: OnceLock<Result<Vec<u8>, String>> = OnceLock::new();
    let built = WASM.get_or_init(|| {
        let path = filter_path();
        std::fs::read(path).map_err(|error| format!("cannot read {}: {error}", path.display()))
    });
    match built {
        Ok(bytes) => bytes,
        Err(message) => panic!("{message}"),
    }
}

/// Where the filter is: `$RVEDGE_FILTER`, or built once as [`filter_wasm`] says.
pub fn filter_path() -> &'static Path {
    static PATH: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let found = PATH.get_or_init(|| match std::env::var_os("RVEDGE_FILTER") {
        Some(path) => Ok(PathBuf::from(path)),
        None => build_filter(),
    });
    match found {
        Ok(path) => path,
        Err(message) => panic!("{message}"),
    }
}

/// The filter compiled once per process with the host's default limits (compiling takes
/// seconds; modules are cheap to clone).
pub fn filter_module() -> FilterModule {
    static MODULE: OnceLock<FilterModule> = OnceLock::new();
    MODULE
        .get_or_init(|| {
            FilterModule::new(filter_wasm(), HostLimits::default())
                .unwrap_or_else(|error| panic!("{error}"))
        })
        .clone()
}

/// Limits without fuel metering, as Envoy runs filters (our host meters fuel by default).
pub fn unmetered_limits() -> HostLimits {
    HostLimits {
        fuel_per_callback: 0,
        ..HostLimits::default()
    }
}

/// The filter compiled with [`unmetered_limits`], wasmtime listing its compiled functions in
/// `/tmp/perf-<pid>.map`: what the profiled bins run (scripts/filter-instructions.sh).
pub fn profiled_filter_module() -> FilterModule {
    FilterModule::new_with_perf_map(filter_wasm(), unmetered_limits())
        .unwrap_or_else(|error| panic!("{error}"))
}

fn build_filter() -> Result<PathBuf, String> {
    let root = repo_root();
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .args([
            "build",
            "--quiet",
            "-p",
            "rvedge-filter",
            "--release",
            "--target",
            "wasm32-wasip1",
        ])
        .current_dir(&root)
        .env("CARGO_TARGET_DIR", &target_dir)
        .output()
        .map_err(|error| format!("cannot run cargo to build the filter: {error}"))?;
    if !output.status.success() {
        return Err(format!(
            "building rvedge_filter.wasm failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(target_dir
        .join("wasm32-wasip1/release")
        .join(FILTER_ARTIFACT))
}

/// A plugin configuration for `tenants_json` (the runtime's tenant configuration) with every
/// program it names read from `programs_dir` and inlined as base64.
pub fn plugin_configuration(tenants_json: &str, programs_dir: &Path) -> Vec<u8> {
    TenantBundle::gather(tenants_json, &ProgramDirectory::new(programs_dir))
        .unwrap_or_else(|error| panic!("tenant configuration: {error}"))
        .to_json()
        .to_string()
        .into_bytes()
}

/// The tenants JSON of `tests/guests/tenant/attack.c` as tenant `attack` with a budget of
/// `max_instructions`, which filter-bench and envoy-bench run their call figures on.
pub fn attack_tenants_json(max_instructions: u64) -> String {
    format!(r#"{{"attack": {{"filename": "attack", "max_instructions": {max_instructions}}}}}"#)
}

/// [`plugin_configuration`] of [`attack_tenants_json`], the filter reporting tenant time or not.
pub fn attack_plugin_configuration(max_instructions: u64, report_tenant_time: bool) -> Vec<u8> {
    let configuration = plugin_configuration(
        &attack_tenants_json(max_instructions),
        &rvedge_test_support::guests_dir().join("tenant"),
    );
    let mut configuration: serde_json::Value =
        serde_json::from_slice(&configuration).expect("the configuration is JSON");
    configuration["report_tenant_time"] = report_tenant_time.into();
    configuration.to_string().into_bytes()
}

/// The header the requests of the call figures carry: `header_get` reads it, so it finds a
/// value.
pub fn tenant_call_header() -> (String, String) {
    ("x-big".into(), "0123456789abcdef".into())
}

/// Tenant calls whose cost per call filter-bench and envoy-bench print: the attack guest
/// makes one of them once, then `1 + TENANT_CALL_REPEATS` times, in `on_recv`
/// (`/loop/<call>/<bytes>/<times>`); the difference is the repeats' cost.
pub const TENANT_CALLS: [&str; 4] = ["header_get", "header_set", "url_get", "url_set"];
/// Few enough that every header_set succeeds: a request may add at most 128 headers
/// (`MAX_HEADERS_ADDED` in the runtime), and past that a set fails early.
pub const TENANT_CALL_REPEATS: u64 = 100;

/// Calls a hostile tenant loops on until its budget is spent, which filter-bench and
/// envoy-bench time against spinning through the same budget (`ATTACK_BUDGET` instructions),
/// on a request with [`large_request_headers`]: calls are charged as instructions, so a
/// ratio far above 1 is work a tenant gets from the filter without paying for it.
pub const ATTACK_CALLS: [&str; 5] = [
    "header_at",
    "header_get",
    "url_get",
    "url_set",
    "header_set",
];
pub const ATTACK_BUDGET: u64 = 20_000_000;

/// 90 headers of 500 bytes: what the attack loops walk, within Envoy's default limits (100
/// headers, 60 KiB).
pub fn large_request_headers() -> Vec<(String, String)> {
    (0..90)
        .map(|index| (format!("x-h{index}"), "v".repeat(500)))
        .collect()
}

/// The request headers `request_every_hook`'s "/in-step" changes (its x-a, x-b, x-d) and
/// reads back, with one it leaves (x-c).
pub fn in_step_headers() -> Vec<(String, String)> {
    [("x-a", "1"), ("x-b", "2"), ("x-c", "3")]
        .into_iter()
        .map(|(name, value)| (name.into(), value.into()))
        .collect()
}

/// What "/in-step" reads back after its changes, in `on_recv` (the origin gets it as
/// x-read-back) and in `on_deliver` (the response's x-read-back-deliver): x-a replaced, which
/// in Envoy moves it to the end (its `setCopy` removes, then adds), x-b gone, x-d twice after
/// it, the new URL.
pub const IN_STEP_READ_BACK: &str = "x-a=one x-b=- x-d=4 url=/changed?x=1 names=x-c,x-a,x-d,x-d";

/// [`plugin_configuration`] of the conformance table's tenants cut to `tenants` (and the
/// groups: entries without a filename), so a VM boots only their templates.
pub fn table_plugin_configuration(tenants: &[&str], programs_dir: &Path) -> Vec<u8> {
    let mut entries: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(rvedge_conformance::TENANTS_JSON).expect("tenants.json is JSON");
    entries
        .retain(|name, entry| tenants.contains(&name.as_str()) || entry.get("filename").is_none());
    plugin_configuration(
        &serde_json::Value::Object(entries).to_string(),
        programs_dir,
    )
}

/// The conformance table's origin behind the proxy: answers 200 with
/// `rvedge::runtime::echo_body`, the backend being the tenant's choice as the filter passes
/// it on (`x-rvedge-backend`, "default" without one).
#[derive(Debug, Default)]
pub struct EchoUpstream {
    /// Requests that reached it.
    pub requests: u32,
}

impl Upstream for EchoUpstream {
    fn send(&mut self, request: &Request) -> Response {
        self.requests += 1;
        let backend = request
            .header(BACKEND_HEADER)
            .unwrap_or(DEFAULT_BACKEND)
            .to_string();
        let body = echo_body(
            &backend,
            EchoedRequest {
                method: &request.method,
                url: &request.path,
                headers: &request.headers,
                body: &request.body,
            },
        );
        Response {
            status: 200,
            headers: vec![
                ("content-type".into(), "application/json".into()),
                ("content-length".into(), body.len().to_string()),
            ],
            body,
            local_reply: false,
        }
    }
}

/// A GET of `path` for `tenant` (its authority), as the benchmarks send it.
pub fn get_request(tenant: &str, path: &str) -> Request {
    Request {
        method: "GET".into(),
        path: path.into(),
        authority: tenant.into(),
        scheme: "http".into(),
        headers: vec![("accept".into(), "*/*".into())],
        body: Vec::new(),
    }
}

/// cpubench (`tests/guests/bench/cpubench.c`, all its kernels at `scale`) as a tenant: the
/// directory of its ELF, and a tenants JSON whose start-up runs the benchmark. It is not a
/// tenant (its `main()` exits instead of waiting for requests), so loading it runs it and
/// then refuses it; the benchmarks time or count that.
pub fn cpubench_tenant(scale: &str) -> (PathBuf, String) {
    let directory = std::env::var_os("GUEST_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| rvedge_test_support::guests_dir().to_path_buf())
        .join("bench");
    let tenants_json = serde_json::json!({ "cpubench": {
        "filename": "cpubench", "arguments": ["all", scale],
        "max_boot_instructions": 1_000_000_000_000u64, "max_memory": "256MB" } })
    .to_string();
    (directory, tenants_json)
}

/// cpubench as [`cpubench_tenant`] runs it, run to its exit on a native `Machine` (the build's
/// dispatch): its guest instruction count.
pub fn cpubench_natively(directory: &Path, scale: &str) -> u64 {
    let elf_path = directory.join("cpubench");
    let elf =
        std::fs::read(&elf_path).unwrap_or_else(|error| panic!("{}: {error}", elf_path.display()));
    let options = Options {
        arguments: ["cpubench", "all", scale].map(String::from).to_vec(),
        ..Options::default()
    };
    let mut machine = Machine::from_elf(&elf, &options, Box::new(Isolated::default())).unwrap();
    assert_eq!(machine.run(u64::MAX), Stop::Exited(0), "cpubench natively");
    machine.instructions()
}

/// Starts a VM of `module` whose configuration boots cpubench ([`cpubench_tenant`]): the
/// benchmark runs inside `proxy_on_configure`, which then refuses the tenant; panics unless
/// it exited with status 0.
pub fn boot_cpubench_in_filter(module: &FilterModule, configuration: &[u8]) {
    match FilterVm::start(module, b"", configuration) {
        Err(HostError::ConfigurationRejected { logs }) => {
            let text: Vec<String> = logs.iter().map(ToString::to_string).collect();
            let text = text.join("\n");
            assert!(text.contains("exited with status 0"), "{text}");
        }
        Err(other) => panic!("cpubench in wasm: {other}"),
        Ok(_) => panic!("cpubench in wasm: the tenant was accepted"),
    }
}

/// A case's request as the proxy receives it: the tenant is the `:authority`.
pub fn case_request(case: &Case) -> Request {
    Request {
        method: case.request.method.clone(),
        path: case.request.url.clone(),
        authority: case.tenant.clone(),
        scheme: "http".into(),
        headers: case
            .request
            .headers
            .iter()
            .map(|(name, value)| (name.to_ascii_lowercase(), value.clone()))
            .collect(),
        body: case.request.body.clone().into_bytes(),
    }
}

/// What the client got, in the table's terms; cacheable means `cache-control: max-age=…`.
pub fn observed(response: &Response) -> Observed {
    let cached = response
        .header("cache-control")
        .is_some_and(|value| value.trim_start().starts_with("max-age="));
    Observed {
        status: response.status,
        headers: response.headers.clone(),
        body: response.body.clone(),
        cached: Some(cached),
    }
}

/// Runs one case's request through `vm` with an echo upstream.
pub fn observe_through_filter(vm: &mut FilterVm, case: &Case) -> Observed {
    let response = vm
        .handle(case_request(case), &mut EchoUpstream::default())
        .unwrap_or_else(|error| panic!("case {:?}: the host failed: {error}", case.name));
    observed(&response)
}

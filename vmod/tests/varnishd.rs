//! The VMOD in a real varnishd (Debian's 7.1): the shared conformance table sent over HTTP,
//! and every `tests/*.vtc` under varnishtest.
//!
//! The VMOD is the `libvmod_riscv.so` cargo built beside this test (or `$RVEDGE_VMOD`).
//! Requests that reach an origin go to an echo origin on 127.0.0.1 that answers like
//! `rvedge::runtime::EchoOrigin`, one listener per backend name, so the table's expectations
//! about what reached which backend are checked against real backend traffic.

use rvedge_test_support as support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rvedge::runtime::echo_body;
use rvedge::runtime::HttpRequest;
use rvedge_conformance::{cases, Observed, TENANTS_JSON};

/// The backend names the example tenants choose.
const BACKENDS: &[&str] = &["default", "api", "beta", "ab-a", "ab-b"];

fn vmod_path() -> PathBuf {
    if let Some(path) = std::env::var_os("RVEDGE_VMOD") {
        return PathBuf::from(path);
    }
    // Cargo does not build a cdylib-only library for integration tests, so build it here
    // (the outer cargo holds no lock while tests run), once per test binary.
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let status = Command::new(env!("CARGO"))
                .args(["build", "-p", "vmod-riscv"])
                .current_dir(support::repo_root())
                .status()
                .expect("run cargo build -p vmod-riscv");
            assert!(status.success(), "cargo build -p vmod-riscv failed");
            // Test binaries live in <target>/<profile>/deps; the cdylib in <profile>.
            let exe = std::env::current_exe().expect("the test binary has a path");
            let profile_dir = exe
                .parent()
                .and_then(Path::parent)
                .expect("test binaries live two levels below the target directory");
            profile_dir.join("libvmod_riscv.so")
        })
        .clone()
}

/// An HTTP/1.1 request: head as sent, body.
fn read_request(stream: &mut BufReader<TcpStream>) -> Option<HttpRequest> {
    let mut line = String::new();
    stream.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let url = parts.next()?.to_string();
    let mut headers = Vec::new();
    let mut content_length = 0usize;
    loop {
        let mut line = String::new();
        stream.read_line(&mut line).ok()?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':')?;
        let value = value.trim().to_string();
        if name.eq_ignore_ascii_case("content-length") {
            content_length = value.parse().ok()?;
        }
        headers.push((name.to_string(), value));
    }
    let mut body = vec![0; content_length];
    stream.read_exact(&mut body).ok()?;
    Some(HttpRequest {
        method,
        url,
        headers,
        body,
    })
}

/// The echo origin: a listener per backend name, answering one request per connection.
struct EchoOrigin {
    ports: Vec<(String, u16)>,
    stop: Arc<AtomicBool>,
}

impl EchoOrigin {
    fn start() -> EchoOrigin {
        let stop = Arc::new(AtomicBool::new(false));
        let mut ports = Vec::new();
        for &name in BACKENDS {
            let listener = TcpListener::bind("127.0.0.1:0").expect("bind an echo origin");
            ports.push((name.to_string(), listener.local_addr().unwrap().port()));
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let mut reader = BufReader::new(stream);
                    let Some(request) = read_request(&mut reader) else {
                        continue;
                    };
                    let body = echo_body(name, (&request).into());
                    let mut stream = reader.into_inner();
                    let head = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                         content-length: {}\r\nconnection: close\r\n\r\n",
                        body.len()
                    );
                    stream.write_all(head.as_bytes()).ok();
                    stream.write_all(&body).ok();
                    stream.shutdown(Shutdown::Both).ok();
                }
            });
        }
        EchoOrigin { ports, stop }
    }
}

impl Drop for EchoOrigin {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for (_, port) in &self.ports {
            // Wakes the accept loop so the thread sees `stop`.
            TcpStream::connect(("127.0.0.1", *port)).ok();
        }
    }
}

/// A varnishd started for one test, stopped when dropped.
struct Varnishd {
    child: Child,
    port: u16,
    workdir: TempDir,
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(label: &str) -> TempDir {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "rvedge-vmod-{label}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).expect("create a temporary directory");
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.0).ok();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port on 127.0.0.1")
        .port()
}

impl Varnishd {
    /// What varnishd has written to stderr (with `-F`, the child's panics among it).
    fn log(&self) -> String {
        std::fs::read_to_string(self.workdir.0.join("stderr")).unwrap_or_default()
    }

    fn start(vcl: &str) -> Varnishd {
        let workdir = TempDir::new("varnishd");
        let vcl_path = workdir.0.join("test.vcl");
        std::fs::write(&vcl_path, vcl).expect("write the VCL");
        let port = free_port();
        let child = Command::new("varnishd")
            .arg("-F")
            .args(["-j", "none"])
            .arg("-n")
            .arg(workdir.0.join("n"))
            .args(["-a", &format!("127.0.0.1:{port}")])
            .args(["-T", "127.0.0.1:0"])
            .args(["-s", "malloc,64m"])
            .args(["-p", "thread_pools=1"])
            // Backends are reached by name through riscv.add_backend, which VCC cannot see.
            .args(["-p", "vcc_err_unref=off"])
            .arg("-f")
            .arg(&vcl_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(workdir.0.join("stderr")).expect("create a log file"))
            .spawn()
            .expect("varnishd must be installed (scripts/bootstrap.sh)");
        let mut varnishd = Varnishd {
            child,
            port,
            workdir,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = varnishd.child.try_wait() {
                panic!("varnishd exited ({status}):\n{}", varnishd.log());
            }
            assert!(
                Instant::now() < deadline,
                "varnishd did not start listening"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        varnishd
    }
}

impl Drop for Varnishd {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

/// Sends one request and reads the whole response; an I/O error is returned, not panicked
/// on, so the test can say which case met it and what varnishd logged.
fn send(port: u16, host: &str, request: &HttpRequest) -> std::io::Result<Observed> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut head = format!(
        "{} {} HTTP/1.1\r\nHost: {host}\r\n",
        request.method, request.url
    );
    for (name, value) in &request.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        request.body.len()
    ));
    stream.write_all(head.as_bytes())?;
    stream.write_all(&request.body)?;
    // Read as an HTTP client does, until the response is complete: a reset that follows a
    // whole response (the close racing our last read) is not the case's failure.
    let mut raw = Vec::new();
    let mut buffer = [0u8; 16 * 1024];
    while !Response::split(&raw).is_some_and(|response| response.complete()) {
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(count) => raw.extend_from_slice(&buffer[..count]),
            Err(error) => {
                return Err(std::io::Error::new(
                    error.kind(),
                    format!("{error} after {} bytes of response", raw.len()),
                ))
            }
        }
    }
    Ok(parse_response(&raw))
}

/// A response as far as its head goes: the status, the headers and the bytes after the head.
struct Response<'a> {
    status: u16,
    headers: Vec<(String, String)>,
    body: &'a [u8],
}

impl Response<'_> {
    /// `raw`'s head and what follows it, once the whole head is in.
    fn split(raw: &[u8]) -> Option<Response<'_>> {
        let split = raw.windows(4).position(|window| window == b"\r\n\r\n")?;
        let head = String::from_utf8_lossy(&raw[..split]);
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .and_then(|line| line.split_whitespace().nth(1))
            .and_then(|code| code.parse().ok())
            .expect("a status line");
        let headers = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (name.to_string(), value.trim().to_string()))
            .collect();
        Some(Response {
            status,
            headers,
            body: &raw[split + 4..],
        })
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(found, _)| found.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    fn chunked(&self) -> bool {
        self.header("transfer-encoding")
            .is_some_and(|value| value.eq_ignore_ascii_case("chunked"))
    }

    /// Whether the body is all in: as long as the head says, or up to the last chunk. A
    /// response with neither ends at the close.
    fn complete(&self) -> bool {
        if self.chunked() {
            return self.body.ends_with(b"0\r\n\r\n");
        }
        self.header("content-length")
            .and_then(|length| length.parse::<usize>().ok())
            .is_some_and(|length| self.body.len() >= length)
    }
}

fn parse_response(raw: &[u8]) -> Observed {
    let response = Response::split(raw)
        .unwrap_or_else(|| panic!("no response head in {:?}", String::from_utf8_lossy(raw)));
    let body = if response.chunked() {
        dechunk(response.body)
    } else {
        response.body.to_vec()
    };
    let cached = response
        .header("x-test-cacheable")
        .map(|value| value == "true");
    Observed {
        status: response.status,
        headers: response.headers,
        body,
        cached,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    loop {
        let Some(end) = data.windows(2).position(|window| window == b"\r\n") else {
            return body;
        };
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&data[..end]).trim(), 16).unwrap_or(0);
        if size == 0 {
            return body;
        }
        let start = end + 2;
        body.extend_from_slice(&data[start..start + size]);
        data = &data[start + size + 2..];
    }
}

/// The full VCL: every hook, the tenant's decision acted on, tenant-chosen backends.
fn conformance_vcl(vmod: &Path, tenants_dir: &Path, origin: &EchoOrigin) -> String {
    let mut vcl = format!("vcl 4.1;\nimport riscv from \"{}\";\n", vmod.display());
    for (name, port) in &origin.ports {
        vcl.push_str(&format!(
            "backend {} {{ .host = \"127.0.0.1\"; .port = \"{port}\"; }}\n",
            name.replace('-', "_")
        ));
    }
    vcl.push_str("sub vcl_init {\n");
    vcl.push_str(&format!(
        "    riscv.embed_tenants({{\"{}\"}}, \"{}\");\n",
        TENANTS_JSON,
        tenants_dir.display()
    ));
    for (name, _) in &origin.ports {
        vcl.push_str(&format!(
            "    riscv.add_backend(\"{}\", \"{name}\");\n",
            name.replace('-', "_")
        ));
    }
    vcl.push_str(
        r#"}
sub vcl_recv {
    if (riscv.fork(req.http.Host)) {
        riscv.run();
        if (riscv.want_result() == "synth") {
            return (synth(riscv.want_status()));
        }
        if (riscv.want_result() == "backend" && riscv.result_value(0) == 1) {
            return (hash);
        }
        # Uncached forges, and origin requests: never cached, so cases cannot see each other.
        return (pass);
    }
}
sub vcl_hash { riscv.run(); }
sub vcl_deliver {
    riscv.run();
    set resp.http.x-test-cacheable = !obj.uncacheable;
}
sub vcl_synth {
    if (riscv.active()) {
        riscv.run();
        return (deliver);
    }
}
sub vcl_backend_fetch { riscv.run(); }
sub vcl_backend_response { riscv.run(); }
sub vcl_backend_error {
    if (riscv.active()) {
        riscv.run();
        return (deliver);
    }
}
"#,
    );
    vcl
}

#[test]
fn the_conformance_table_passes_through_varnishd() {
    support::require_tools(&["varnishd"]).unwrap_or_else(|message| panic!("{message}"));
    let tenants_dir = support::tenants_dir();
    let origin = EchoOrigin::start();
    let varnishd = Varnishd::start(&conformance_vcl(&vmod_path(), tenants_dir, &origin));
    let mut failures = Vec::new();
    'cases: for case in cases() {
        for attempt in 1..=case.repeat {
            let observed = match send(varnishd.port, &case.tenant, &case.request.to_http()) {
                Ok(observed) => observed,
                Err(error) => {
                    failures.push(format!("{} (attempt {attempt}): {error}", case.name));
                    break 'cases;
                }
            };
            if let Err(problems) = case.expect.check(&observed) {
                failures.push(format!("{} (attempt {attempt}): {problems}", case.name));
            }
            let body = String::from_utf8_lossy(&observed.body);
            if body.contains("x-rvedge-handoff") {
                failures.push(format!(
                    "{}: the hand-off header reached the origin",
                    case.name
                ));
            }
        }
    }
    // A child that crashed and was restarted between two cases would go unseen otherwise.
    let log = varnishd.log();
    if log.contains("Panic") || log.contains("died") {
        failures.push("varnishd's child panicked or died".into());
    }
    assert!(
        failures.is_empty(),
        "{} failing:\n{}\nvarnishd's log:\n{log}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_vtc_passes_under_varnishtest() {
    support::require_tools(&["varnishtest"]).unwrap_or_else(|message| panic!("{message}"));
    let tenants_dir = support::tenants_dir();
    let vmod = vmod_path();
    let tests_dir = support::repo_root().join("vmod/tests");
    let mut vtcs: Vec<PathBuf> = std::fs::read_dir(&tests_dir)
        .expect("vmod/tests exists")
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|extension| extension == "vtc"))
        .collect();
    vtcs.sort();
    assert!(vtcs.len() >= 5, "only {} .vtc files", vtcs.len());
    let mut failures = Vec::new();
    for vtc in &vtcs {
        let output = Command::new("varnishtest")
            .arg("-D")
            .arg(format!("vmod={}", vmod.display()))
            .arg("-D")
            .arg(format!("tenants={}", tenants_dir.display()))
            .arg(vtc)
            .output()
            .expect("run varnishtest");
        if !output.status.success() {
            let log = String::from_utf8_lossy(&output.stdout);
            let tail: Vec<&str> = log.lines().rev().take(60).collect();
            failures.push(format!(
                "{} failed:\n{}",
                vtc.display(),
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

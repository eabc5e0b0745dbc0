//! `rvedge playground` as a process on 127.0.0.1: its build endpoint with the real cross
//! compilers (an ELF or diagnostics by line, the size limit, the time limit, the bound on
//! concurrent builds) and its file server's refusal to serve anything outside its directory.

use rvedge_test_support as support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Upper bound for any single wait, so a broken server fails a test instead of hanging it.
const DEADLINE: Duration = Duration::from_secs(120);

/// A running `rvedge playground` over a directory of its own, killed when dropped.
struct Playground {
    child: Child,
    port: u16,
    root: PathBuf,
}

impl Playground {
    fn start(name: &str, arguments: &[&str]) -> Playground {
        support::require_tools(&[
            "riscv64-linux-gnu-gcc",
            "riscv64-linux-gnu-g++",
            "timeout",
            "pgrep",
        ])
        .unwrap_or_else(|error| panic!("{error}"));
        let root =
            std::env::temp_dir().join(format!("rvedge-playground-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let site = root.join("site");
        std::fs::create_dir_all(site.join("pkg")).unwrap();
        std::fs::write(
            site.join("index.html"),
            "<!doctype html><title>test</title>",
        )
        .unwrap();
        std::fs::write(site.join("pkg/app.js"), "export {};").unwrap();
        std::fs::write(root.join("secret.txt"), "outside the site").unwrap();
        std::os::unix::fs::symlink(root.join("secret.txt"), site.join("link.txt")).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_rvedge"))
            .args(["playground", "--listen", "127.0.0.1:0", "--dir"])
            .arg(&site)
            .args(arguments)
            .env("RVEDGE_CACHE_DIR", root.join("cache"))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .split("http://127.0.0.1:")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .and_then(|port| port.parse().ok())
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        assert!(
            line.contains("loopback"),
            "the server says where it listens: {line}"
        );
        Playground { child, port, root }
    }

    /// Sends `head` (request line and headers, without the blank line) and `body`; returns
    /// the status code and the body.
    fn request(&self, head: &str, body: &[u8]) -> (u16, Vec<u8>) {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream.set_read_timeout(Some(DEADLINE)).unwrap();
        let head = format!(
            "{head}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).unwrap();
        // The server may answer (413) before it reads a body it refuses.
        let _ = stream.write_all(body);
        let mut response = Vec::new();
        stream.read_to_end(&mut response).unwrap();
        let split = response
            .windows(4)
            .position(|window| window == b"\r\n\r\n")
            .expect("a response head");
        let status_line = String::from_utf8_lossy(&response[..split]).to_string();
        let status = status_line
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("status line {status_line:?}"));
        (status, response[split + 4..].to_vec())
    }

    fn get(&self, target: &str) -> (u16, Vec<u8>) {
        self.request(
            &format!("GET {target} HTTP/1.1\r\nhost: 127.0.0.1:{}", self.port),
            b"",
        )
    }

    fn build(&self, language: &str, source: &str) -> (u16, Vec<u8>) {
        let body = serde_json::json!({ "language": language, "source": source }).to_string();
        self.request(
            &format!(
                "POST /build HTTP/1.1\r\nhost: 127.0.0.1:{}\r\ncontent-type: application/json",
                self.port
            ),
            body.as_bytes(),
        )
    }
}

impl Drop for Playground {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn json(body: &[u8]) -> serde_json::Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|error| panic!("{error}: {}", String::from_utf8_lossy(body)))
}

const TENANT: &str = r#"#include <rvedge.h>
static void on_recv(uint64_t data, uint64_t req, uint64_t resp) {
    (void)data; (void)req; (void)resp;
    rvedge_respond_str(200, "text/plain", "built by the playground");
}
int main(void) { rvedge_wait_for_requests(on_recv, 0); }
"#;

#[test]
fn a_source_becomes_an_elf_with_debug_information_or_diagnostics_at_its_lines() {
    let playground = Playground::start("build", &[]);
    let (status, elf) = playground.build("c", TENANT);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&elf));
    assert_eq!(&elf[..4], b"\x7fELF");
    assert!(
        has_line_information(&elf),
        "the ELF carries DWARF line information"
    );

    let broken = TENANT.replace("(void)data;", "(void)data\n    int x = ;");
    let (status, body) = playground.build("c", &broken);
    assert_eq!(status, 422);
    let result = json(&body);
    assert_eq!(result["file"], "tenant.c");
    let diagnostics = result["diagnostics"].as_array().unwrap();
    assert!(
        diagnostics
            .iter()
            .any(|diagnostic| diagnostic["line"] == 3 && diagnostic["severity"] == "error"),
        "{result}"
    );
    assert!(
        result["output"].as_str().unwrap().contains("tenant.c:3:"),
        "{result}"
    );

    let (status, body) = playground.build("fortran", TENANT);
    assert_eq!(status, 400);
    assert_eq!(json(&body)["error"], "language");
}

/// Whether `elf` has a `.debug_line` section (read with the cross binutils' readelf).
fn has_line_information(elf: &[u8]) -> bool {
    let path = std::env::temp_dir().join(format!("rvedge-playground-elf-{}", std::process::id()));
    std::fs::write(&path, elf).unwrap();
    let sections = Command::new("riscv64-linux-gnu-readelf")
        .arg("-S")
        .arg(&path)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&path);
    String::from_utf8_lossy(&sections.stdout).contains(".debug_line")
}

#[test]
fn oversized_sources_are_refused_before_they_are_read() {
    let playground = Playground::start("size", &["--max-source-bytes", "2000"]);
    let (status, body) = playground.build("c", &format!("{TENANT}/*{}*/", "x".repeat(3000)));
    assert_eq!(status, 413, "{}", String::from_utf8_lossy(&body));
    assert_eq!(json(&body)["error"], "too_large");
    // A huge declared body is refused from its length alone.
    let (status, _) = playground.request(
        &format!(
            "POST /build HTTP/1.1\r\nhost: 127.0.0.1:{}\r\ncontent-type: application/json",
            playground.port
        ),
        &vec![b' '; 1 << 20],
    );
    assert_eq!(status, 413);
    // Within the limit it builds.
    assert_eq!(playground.build("c", TENANT).0, 200);
}

/// Constant evaluation that would take minutes: gcc bounds each evaluation (its loop and
/// operation limits) but not how many there are, so 200 static assertions of about a second
/// each (a million iterations) run one after another.
const SLOW_TO_COMPILE: &str = r#"
template <int N> constexpr long spin() {
    long total = 0;
    for (long i = 0; i < 1000; ++i)
        for (long j = 0; j < 1000; ++j)
            total += i ^ j ^ N;
    return total;
}
template <int N> struct Slow {
    static_assert(spin<N>() != 1, "never decided in time");
    static constexpr int depth = Slow<N - 1>::depth + 1;
};
template <> struct Slow<0> {
    static constexpr int depth = 0;
};
int main() { return Slow<200>::depth; }
"#;

#[test]
fn a_pathological_compile_is_stopped_at_the_time_limit_and_builds_are_bounded() {
    let playground = Playground::start("time", &["--build-seconds", "3", "--max-builds", "1"]);
    let started = Instant::now();
    let slow = std::thread::scope(|scope| {
        let slow = scope.spawn(|| playground.build("cpp", SLOW_TO_COMPILE));
        // While the slow build holds the only slot, another build is turned away.
        std::thread::sleep(Duration::from_millis(800));
        let (status, body) = playground.build("c", TENANT);
        assert_eq!(status, 503, "{}", String::from_utf8_lossy(&body));
        assert_eq!(json(&body)["error"], "busy");
        slow.join().unwrap()
    });
    let elapsed = started.elapsed();
    let (status, body) = slow;
    assert_eq!(status, 504, "{}", String::from_utf8_lossy(&body));
    assert_eq!(json(&body)["error"], "timeout");
    assert!(
        elapsed < Duration::from_secs(20),
        "stopped after {elapsed:?}"
    );
    // No compiler is left running for it (their output goes to this server's cache), and the
    // slot is free again.
    let leftover = Command::new("pgrep")
        .arg("-f")
        .arg(playground.root.join("cache"))
        .output()
        .expect("pgrep (procps)");
    assert_eq!(
        String::from_utf8_lossy(&leftover.stdout),
        "",
        "compilers still running"
    );
    assert_eq!(playground.build("c", TENANT).0, 200);
}

#[test]
fn no_file_outside_the_directory_is_ever_served() {
    let playground = Playground::start("files", &[]);
    assert_eq!(playground.get("/").0, 200);
    let (status, body) = playground.get("/pkg/app.js");
    assert_eq!((status, body.as_slice()), (200, b"export {};".as_slice()));
    for target in [
        "/../secret.txt",
        "/pkg/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/pkg/%2E%2E/%2e%2e/secret.txt",
        "/link.txt",
        "//etc/passwd",
    ] {
        let (status, body) = playground.get(target);
        assert!(
            status == 403 || status == 404,
            "{target}: {status} {}",
            String::from_utf8_lossy(&body)
        );
        assert!(
            !String::from_utf8_lossy(&body).contains("outside the site"),
            "{target}"
        );
    }
    // Only requests that name this server: a page of another site cannot reach it by DNS
    // rebinding, nor post a build without the JSON content type (a CORS preflight).
    let (status, _) = playground.request("GET / HTTP/1.1\r\nhost: attacker.example", b"");
    assert_eq!(status, 421);
    let (status, _) = playground.request(
        &format!(
            "POST /build HTTP/1.1\r\nhost: localhost:{}\r\ncontent-type: text/plain",
            playground.port
        ),
        br#"{"language": "c", "source": ""}"#,
    );
    assert_eq!(status, 415);
}

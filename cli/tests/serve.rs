//! `rvedge serve` end to end: the real binary listening on 127.0.0.1, the real rvedge filter
//! (or an example proxy-wasm filter) in the wasmtime host, a real upstream HTTP server on
//! 127.0.0.1, and real HTTP/1.1 requests over TCP.

use rvedge_test_support as support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Upper bound for any single wait in these tests, so a broken server fails them instead of
/// hanging.
const DEADLINE: Duration = Duration::from_secs(60);

/// A tiny HTTP/1.1 upstream: answers every request 200 with `upstream saw <method> <path>`,
/// records the request heads, closes each connection after one exchange.
struct TestUpstream {
    port: u16,
    heads: Arc<Mutex<Vec<String>>>,
}

impl TestUpstream {
    fn start() -> TestUpstream {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let heads = Arc::new(Mutex::new(Vec::new()));
        let recorded = Arc::clone(&heads);
        std::thread::spawn(move || {
            for connection in listener.incoming() {
                let Ok(mut connection) = connection else {
                    continue;
                };
                connection.set_read_timeout(Some(DEADLINE)).unwrap();
                let Some((head, _body)) = read_message(&mut connection) else {
                    continue;
                };
                let request_line = head.lines().next().unwrap_or_default().to_string();
                let mut words = request_line.split(' ');
                let (method, path) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
                let body = format!("upstream saw {method} {path}");
                // Recorded before answering: once the client has the answer, the test may
                // look at what reached the upstream.
                recorded.lock().unwrap().push(head);
                let _ = write!(
                    connection,
                    "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nx-upstream: test\r\n\
                     content-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        TestUpstream { port, heads }
    }

    fn heads(&self) -> Vec<String> {
        self.heads.lock().unwrap().clone()
    }
}

/// Reads one HTTP/1.1 message (head and a content-length body).
fn read_message(stream: &mut impl Read) -> Option<(String, Vec<u8>)> {
    let mut reader = BufReader::new(stream);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    let length = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some((head, body))
}

/// A running `rvedge serve`, stopped on drop.
struct Server {
    child: Child,
    address: String,
    access_log: mpsc::Receiver<String>,
}

impl Server {
    fn start(arguments: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_rvedge"))
            .arg("serve")
            .args(["--listen", "127.0.0.1:0", "--workers", "2"])
            .args(arguments)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (address_sender, address_receiver) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("serve: {line}");
                if let Some(rest) = line.strip_prefix("rvedge serve: listening on http://") {
                    let address = rest.split(' ').next().unwrap_or_default().to_string();
                    let _ = address_sender.send(address);
                }
            }
        });
        let access_log = forward_lines(child.stdout.take().unwrap());
        let address = match address_receiver.recv_timeout(DEADLINE) {
            Ok(address) => address,
            Err(_) => {
                let _ = child.kill();
                panic!("rvedge serve did not start listening (see its stderr above)");
            }
        };
        Server {
            child,
            address,
            access_log,
        }
    }

    /// Sends one request with `host`, returns status, lower-cased headers and body.
    fn get(&self, host: &str, path: &str) -> (u16, Vec<(String, String)>, Vec<u8>) {
        let mut stream = TcpStream::connect(&self.address).unwrap();
        stream.set_read_timeout(Some(DEADLINE)).unwrap();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: serve-test\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let (head, body) = read_message(&mut stream).expect("a response");
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|line| line.split(' ').nth(1))
            .and_then(|code| code.parse().ok())
            .expect("a status line");
        let headers = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (name.to_ascii_lowercase(), value.trim().to_string()))
            .collect();
        (status, headers, body)
    }

    /// The next access log line.
    fn next_access_line(&self) -> String {
        self.access_log
            .recv_timeout(DEADLINE)
            .expect("an access log line")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn forward_lines(stdout: ChildStdout) -> mpsc::Receiver<String> {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    receiver
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

/// The rvedge filter: `$RVEDGE_FILTER`, else built with cargo into this test's target dir.
fn rvedge_filter() -> PathBuf {
    if let Some(path) = std::env::var_os("RVEDGE_FILTER") {
        return PathBuf::from(path);
    }
    let root = support::repo_root();
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    // Its own target dir: the cargo running this test may still hold the main one's lock.
    let target = target.join("serve-test-filter");
    let status = Command::new("cargo")
        .current_dir(&root)
        .args([
            "build",
            "-p",
            "rvedge-filter",
            "--release",
            "--target",
            "wasm32-wasip1",
        ])
        .arg("--target-dir")
        .arg(&target)
        .stdin(Stdio::null())
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building rvedge-filter failed");
    target.join("wasm32-wasip1/release/rvedge_filter.wasm")
}

/// A tenants.json naming built example tenants by absolute path.
fn tenants_config(dir: &Path) -> PathBuf {
    let tenants = support::tenants_dir();
    let entry = |name: &str, program: &str| {
        format!(
            r#""{name}": {{ "filename": "{}", "max_instructions": 2000000 }}"#,
            tenants.join(program).display()
        )
    };
    let body = [
        entry("hello.example", "hello"),
        entry("rewrite.example", "rewrite"),
        entry("loop.example", "loop"),
    ]
    .join(",\n");
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("tenants.json");
    std::fs::write(&path, format!("{{ {body} }}")).unwrap();
    path
}

#[test]
fn serve_runs_tenants_through_the_rvedge_filter_in_front_of_an_upstream() {
    let upstream = TestUpstream::start();
    let scratch = std::env::temp_dir().join(format!("rvedge-serve-{}", std::process::id()));
    let config = tenants_config(&scratch);
    let filter = rvedge_filter();
    let server = Server::start(&[
        "--config",
        config.to_str().unwrap(),
        "--filter",
        filter.to_str().unwrap(),
        "--upstream",
        &format!("http://127.0.0.1:{}", upstream.port),
    ]);

    // The tenant forges the response itself: nothing reaches the upstream.
    let (status, headers, body) = server.get("hello.example", "/greet");
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "content-type"), Some("application/json"));
    assert_eq!(
        String::from_utf8_lossy(&body),
        r#"{"message":"Hello from RISC-V!"}"#
    );
    let line = server.next_access_line();
    assert!(
        line.contains("\"GET /greet\" authority=hello.example status=200")
            && line.contains("source=local"),
        "{line}"
    );

    // The tenant rewrites the URL, adds headers both ways, and passes the request upstream.
    let (status, headers, body) = server.get("rewrite.example", "/old/path");
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "x-upstream"), Some("test"));
    assert_eq!(header(&headers, "x-served-by"), Some("rvedge"));
    assert_eq!(String::from_utf8_lossy(&body), "upstream saw GET /new/path");
    let line = server.next_access_line();
    assert!(
        line.contains("status=200") && line.contains("source=upstream"),
        "{line}"
    );

    // A tenant that loops is stopped; the client gets the runtime's 503.
    let (status, headers, _) = server.get("loop.example", "/");
    assert_eq!(status, 503);
    assert_eq!(header(&headers, "x-rvedge-error"), Some("timeout"));
    let line = server.next_access_line();
    assert!(
        line.contains("status=503") && line.contains("source=local"),
        "{line}"
    );

    // No tenant for this host: the request passes through untouched.
    let (status, _, body) = server.get("nobody.example", "/plain");
    assert_eq!(status, 200);
    assert_eq!(String::from_utf8_lossy(&body), "upstream saw GET /plain");
    server.next_access_line();

    let heads = upstream.heads();
    assert_eq!(
        heads.len(),
        2,
        "only the pass-through requests reach the upstream: {heads:?}"
    );
    let rewritten = heads[0].to_ascii_lowercase();
    assert!(rewritten.contains("host: rewrite.example"), "{rewritten}");
    assert!(rewritten.contains("x-tenant: rewrite"), "{rewritten}");
    assert!(rewritten.contains("x-rewritten: 1"), "{rewritten}");
    let _ = std::fs::remove_dir_all(&scratch);
}

#[test]
fn serve_runs_any_proxy_wasm_filter_and_echoes_without_an_upstream() {
    let scratch = std::env::temp_dir().join(format!("rvedge-serve-echo-{}", std::process::id()));
    let config = tenants_config(&scratch);
    let filter = support::example_filters_dir().join("http_headers.wasm");
    let server = Server::start(&[
        "--config",
        config.to_str().unwrap(),
        "--filter",
        filter.to_str().unwrap(),
    ]);
    let (status, headers, body) = server.get("any.example", "/echo?q=1");
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "powered-by"), Some("proxy-wasm"));
    let echoed: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(echoed["url"], "/echo?q=1");
    assert_eq!(echoed["method"], "GET");
    assert_eq!(echoed["backend"], "default");
    assert_eq!(echoed["headers"]["host"], "any.example");
    assert_eq!(echoed["headers"]["user-agent"], "serve-test");
    let line = server.next_access_line();
    assert!(
        line.contains("\"GET /echo?q=1\" authority=any.example status=200")
            && line.contains("source=upstream"),
        "{line}"
    );
    let _ = std::fs::remove_dir_all(&scratch);
}

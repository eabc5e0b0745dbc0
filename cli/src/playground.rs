//! `rvedge playground`: serves the built browser playground (scripts/build-playground.sh) and
//! its build endpoint on 127.0.0.1. A small HTTP/1.1 server on std::net, one thread per
//! connection:
//!
//! - GET and HEAD of files under one directory, with the MIME types the page needs
//!   (`application/wasm` above all, which `WebAssembly.instantiateStreaming` insists on);
//! - `POST /build` with `{"language": "c" | "cpp" | "rust", "source": "...", "debug": true}`:
//!   the source compiled by `rvedge::runtime::compile` (the same code path as tenants given as
//!   source), answered with the ELF (200), the compiler's diagnostics (422, JSON), or why not
//!   (413 too large, 503 busy, 504 too slow). Sources and concurrent builds are bounded.
//!
//! The build endpoint runs the cross compilers on whatever it is sent, so the server is for
//! the developer at this machine: it listens on loopback by default, answers only requests
//! whose `Host` is the address it listens on (no DNS rebinding), and takes builds only as
//! `application/json`, which a page of another origin cannot send without a CORS preflight
//! that this server never grants.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rvedge::runtime::compile::{compile_source, BuildError, BuildOptions, Language};

#[derive(clap::Args, Debug)]
pub struct PlaygroundArguments {
    /// Address to listen on; keep it on loopback: the build endpoint compiles what it is sent.
    #[arg(long, default_value = "127.0.0.1:8090")]
    listen: SocketAddr,
    /// The built playground; default: $CARGO_TARGET_DIR/playground (or target/playground), where
    /// scripts/build-playground.sh puts it.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Largest source the build endpoint accepts, in bytes.
    #[arg(long, default_value_t = 256 * 1024)]
    max_source_bytes: usize,
    /// Wall-clock limit of one build, in seconds (all compiler processes are stopped at it).
    #[arg(long, default_value_t = 120.0)]
    build_seconds: f64,
    /// Builds that may run at once; more are answered 503.
    #[arg(long, default_value_t = 2)]
    max_builds: usize,
    /// Instead of serving: build every `<name>.c`, `.cpp` and `.rs` (a Rust tenant's
    /// `src/main.rs`) in this directory as the build endpoint does (with debug information),
    /// write each program as `<name>` into --output, and exit (scripts/build-playground.sh
    /// prepares the examples so).
    #[arg(long, requires = "output")]
    compile_sources: Option<PathBuf>,
    /// Where --compile-sources writes the programs.
    #[arg(long)]
    output: Option<PathBuf>,
}

/// What every connection's thread shares.
#[derive(Debug)]
struct Server {
    dir: PathBuf,
    listen: SocketAddr,
    max_source_bytes: usize,
    build_time_limit: Duration,
    max_builds: usize,
    builds_running: AtomicUsize,
}

/// Longest request line or header line read, and most header lines.
const MAX_HEAD_LINE: u64 = 8 * 1024;
const MAX_HEADERS: usize = 100;
/// Most of a refused request body read (and dropped) before the connection closes.
const MAX_DRAINED_BYTES: u64 = 4 * 1024 * 1024;
/// Diagnostics text sent back at most (a template error can print megabytes).
const MAX_COMPILER_OUTPUT: usize = 64 * 1024;

pub fn playground(arguments: PlaygroundArguments) -> ExitCode {
    if let (Some(sources), Some(output)) = (&arguments.compile_sources, &arguments.output) {
        let options = BuildOptions {
            debug: true,
            time_limit: Duration::from_secs_f64(arguments.build_seconds.max(0.1)),
        };
        return compile_sources(sources, output, &options);
    }
    let dir = arguments.dir.unwrap_or_else(default_dir);
    if !dir.join("index.html").is_file() {
        eprintln!(
            "rvedge playground: no index.html in {}: build it with `bash scripts/build-playground.sh` (or pass --dir)",
            dir.display()
        );
        return ExitCode::from(2);
    }
    let dir = match dir.canonicalize() {
        Ok(dir) => dir,
        Err(error) => {
            eprintln!("rvedge playground: {}: {error}", dir.display());
            return ExitCode::from(2);
        }
    };
    let listener = match TcpListener::bind(arguments.listen) {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!(
                "rvedge playground: cannot listen on {}: {error}",
                arguments.listen
            );
            return ExitCode::from(2);
        }
    };
    let address = listener.local_addr().unwrap_or(arguments.listen);
    if !address.ip().is_loopback() {
        eprintln!(
            "rvedge playground: WARNING: listening on {address}, not loopback: anyone who can \
             reach it can run the cross compilers on this machine"
        );
    }
    // The test harness reads this line to find the port when it asks for port 0.
    println!(
        "rvedge playground: serving {} at http://{address}/ (builds: POST /build, at most {} at once, {} s each; loopback only by default)",
        dir.display(),
        arguments.max_builds,
        arguments.build_seconds
    );
    let _ = std::io::stdout().flush();
    let server = Arc::new(Server {
        dir,
        listen: address,
        max_source_bytes: arguments.max_source_bytes,
        build_time_limit: Duration::from_secs_f64(arguments.build_seconds.max(0.1)),
        max_builds: arguments.max_builds.max(1),
        builds_running: AtomicUsize::new(0),
    });
    for stream in listener.incoming().flatten() {
        let server = Arc::clone(&server);
        std::thread::spawn(move || {
            // A failed connection only concerns its client.
            let _ = server.serve_connection(stream);
        });
    }
    ExitCode::SUCCESS
}

/// `--compile-sources`: every source in `sources` built into `output`; fails if any fails.
fn compile_sources(sources: &Path, output: &Path, options: &BuildOptions) -> ExitCode {
    let mut files: Vec<PathBuf> = match std::fs::read_dir(sources) {
        Ok(listing) => listing
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .collect(),
        Err(error) => {
            eprintln!("rvedge playground: {}: {error}", sources.display());
            return ExitCode::from(2);
        }
    };
    files.sort();
    let mut failed = false;
    for file in files {
        let language = match file.extension().and_then(|extension| extension.to_str()) {
            Some("c") => Language::C,
            Some("cpp") => Language::Cpp,
            Some("rs") => Language::Rust,
            _ => continue,
        };
        let Some(name) = file.file_stem().and_then(|stem| stem.to_str()) else {
            continue;
        };
        let built = std::fs::read(&file)
            .map_err(|error| BuildError::Failed(error.to_string()))
            .and_then(|source| compile_source(language, &source, options))
            .and_then(|elf| {
                std::fs::copy(&elf, output.join(name))
                    .map_err(|error| BuildError::Failed(error.to_string()))
            });
        if let Err(error) = built {
            eprintln!("rvedge playground: {}: {error}", file.display());
            failed = true;
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn default_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| PathBuf::from("target"), PathBuf::from)
        .join("playground")
}

/// Content types by file extension; anything else is served as bytes.
pub fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|extension| extension.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json") => "application/json",
        Some("wasm") => "application/wasm",
        Some("png") => "image/png",
        Some("svg") => "image/svg+xml",
        Some("ico") => "image/x-icon",
        Some("txt" | "md" | "c" | "cpp" | "rs") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// The file a request path names under `dir`, or `None` if it tries to leave `dir`.
fn resolve(dir: &Path, target: &str) -> Option<PathBuf> {
    let path = target.split(['?', '#']).next().unwrap_or("/");
    let decoded = percent_decode(path)?;
    let mut file = dir.to_path_buf();
    for component in Path::new(decoded.trim_start_matches('/')).components() {
        match component {
            Component::Normal(part) => file.push(part),
            Component::CurDir => {}
            _ => return None,
        }
    }
    if file.is_dir() {
        file.push("index.html");
    }
    Some(file)
}

/// Whether `file` (which exists) is inside `dir` (canonical) once symbolic links are followed.
fn stays_inside(dir: &Path, file: &Path) -> bool {
    file.canonicalize().is_ok_and(|real| real.starts_with(dir))
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let hex = std::str::from_utf8(bytes.get(index + 1..index + 3)?).ok()?;
            decoded.push(u8::from_str_radix(hex, 16).ok()?);
            index += 3;
        } else {
            decoded.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8(decoded).ok()
}

/// A request's line and the headers the server looks at.
#[derive(Debug, Default)]
struct RequestHead {
    method: String,
    target: String,
    keep_alive: bool,
    host: Option<String>,
    content_type: Option<String>,
    content_length: Option<usize>,
}

/// One line of at most [`MAX_HEAD_LINE`] bytes; `None` at the end of the stream or for a longer
/// line.
fn read_head_line(reader: &mut BufReader<TcpStream>) -> std::io::Result<Option<String>> {
    let mut line = String::new();
    let read = reader.by_ref().take(MAX_HEAD_LINE).read_line(&mut line)?;
    if read == 0 || !line.ends_with('\n') {
        return Ok(None);
    }
    Ok(Some(line.trim_end().to_string()))
}

fn read_head(reader: &mut BufReader<TcpStream>) -> std::io::Result<Option<RequestHead>> {
    let Some(request_line) = read_head_line(reader)? else {
        return Ok(None);
    };
    let mut parts = request_line.split_whitespace();
    let mut head = RequestHead {
        method: parts.next().unwrap_or_default().into(),
        target: parts.next().unwrap_or_default().into(),
        keep_alive: parts.next() != Some("HTTP/1.0"),
        ..RequestHead::default()
    };
    for _ in 0..=MAX_HEADERS {
        let Some(line) = read_head_line(reader)? else {
            return Ok(None);
        };
        if line.is_empty() {
            return Ok(Some(head));
        }
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match name.to_ascii_lowercase().as_str() {
            "connection" if value.eq_ignore_ascii_case("close") => head.keep_alive = false,
            "host" => head.host = Some(value.into()),
            "content-type" => head.content_type = Some(value.to_ascii_lowercase()),
            "content-length" => head.content_length = value.parse().ok(),
            _ => {}
        }
    }
    // Too many headers.
    Ok(None)
}

/// A response: status line text, content type, body.
struct Reply {
    status: &'static str,
    content_type: &'static str,
    body: Vec<u8>,
}

impl Reply {
    fn text(status: &'static str, text: &str) -> Reply {
        Reply {
            status,
            content_type: "text/plain; charset=utf-8",
            body: format!("{text}\n").into_bytes(),
        }
    }

    fn json(status: &'static str, value: serde_json::Value) -> Reply {
        Reply {
            status,
            content_type: "application/json",
            body: value.to_string().into_bytes(),
        }
    }

    /// A JSON error: `{"error": kind, "message": text}`.
    fn error(status: &'static str, kind: &str, message: &str) -> Reply {
        Reply::json(
            status,
            serde_json::json!({ "error": kind, "message": message }),
        )
    }
}

/// Takes one build slot, given back when dropped.
struct BuildSlot<'a>(&'a AtomicUsize);

impl Drop for BuildSlot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Server {
    fn serve_connection(&self, stream: TcpStream) -> std::io::Result<()> {
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        let mut reader = BufReader::new(stream.try_clone()?);
        let mut writer = stream;
        loop {
            let Some(head) = read_head(&mut reader)? else {
                let reply = Reply::text("400 Bad Request", "bad request");
                return respond(&mut writer, &reply, false, false);
            };
            let head_only = head.method == "HEAD";
            let (reply, keep_alive) = self.handle(&head, &mut reader);
            respond(&mut writer, &reply, head_only, keep_alive)?;
            if !keep_alive {
                // Closing with a refused body unread would reset the connection before the
                // client read the answer: say we are done, then read a bounded rest.
                writer.shutdown(Shutdown::Write)?;
                writer.set_read_timeout(Some(Duration::from_secs(2)))?;
                let _ = std::io::copy(&mut reader.take(MAX_DRAINED_BYTES), &mut std::io::sink());
                return Ok(());
            }
        }
    }

    /// The reply to one request, and whether the connection can go on (not when a body was
    /// left unread).
    fn handle(&self, head: &RequestHead, reader: &mut BufReader<TcpStream>) -> (Reply, bool) {
        if !self.host_is_ours(head.host.as_deref()) {
            let reply = Reply::text(
                "421 Misdirected Request",
                "the Host header does not name this server's address",
            );
            return (reply, false);
        }
        let path = head.target.split(['?', '#']).next().unwrap_or("/");
        match (head.method.as_str(), path) {
            ("POST", "/build") => (self.build(head, reader), false),
            ("GET" | "HEAD", _) => (self.file(&head.target), head.keep_alive),
            _ => (
                Reply::text("405 Method Not Allowed", "only GET, HEAD and POST /build"),
                false,
            ),
        }
    }

    /// Accepts `localhost`, the listening IP, and either with the listening port; none is fine
    /// for HTTP/1.0 clients.
    fn host_is_ours(&self, host: Option<&str>) -> bool {
        let Some(host) = host else {
            return true;
        };
        let port = self.listen.port().to_string();
        let name = match host.rsplit_once(':') {
            Some((name, host_port)) if host_port == port => name,
            Some(_) if !host.ends_with(']') => return false,
            _ => host,
        };
        let ip = self.listen.ip().to_string();
        name.eq_ignore_ascii_case("localhost")
            || name == ip
            || name.trim_start_matches('[').trim_end_matches(']') == ip
    }

    fn file(&self, target: &str) -> Reply {
        let Some(file) = resolve(&self.dir, target) else {
            return Reply::text("403 Forbidden", "forbidden");
        };
        if !file.is_file() {
            return Reply::text("404 Not Found", "not found");
        }
        if !stays_inside(&self.dir, &file) {
            return Reply::text("403 Forbidden", "forbidden");
        }
        match std::fs::read(&file) {
            Ok(body) => Reply {
                status: "200 OK",
                content_type: content_type(&file),
                body,
            },
            Err(_) => Reply::text("404 Not Found", "not found"),
        }
    }

    fn build(&self, head: &RequestHead, reader: &mut BufReader<TcpStream>) -> Reply {
        if head.content_type.as_deref() != Some("application/json") {
            return Reply::error(
                "415 Unsupported Media Type",
                "content_type",
                "send the build as application/json",
            );
        }
        let Some(length) = head.content_length else {
            return Reply::error("411 Length Required", "length", "send a content-length");
        };
        // The JSON around the source adds a little; escapes can double it.
        let max_body = self.max_source_bytes * 2 + 1024;
        if length > max_body {
            return too_large(self.max_source_bytes);
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return Reply::error("400 Bad Request", "body", "the body ended early");
        }
        let request: serde_json::Value = match serde_json::from_slice(&body) {
            Ok(request) => request,
            Err(error) => return Reply::error("400 Bad Request", "json", &error.to_string()),
        };
        let Some(language) = request["language"].as_str().and_then(Language::from_name) else {
            return Reply::error(
                "400 Bad Request",
                "language",
                "\"language\" must be \"c\", \"cpp\" or \"rust\"",
            );
        };
        let Some(source) = request["source"].as_str() else {
            return Reply::error("400 Bad Request", "source", "\"source\" must be a string");
        };
        if source.len() > self.max_source_bytes {
            return too_large(self.max_source_bytes);
        }
        let Some(_slot) = self.take_build_slot() else {
            return Reply::error(
                "503 Service Unavailable",
                "busy",
                &format!(
                    "{} builds are running already; try again when one is done",
                    self.max_builds
                ),
            );
        };
        let options = BuildOptions {
            debug: request["debug"].as_bool().unwrap_or(true),
            time_limit: self.build_time_limit,
        };
        let started = Instant::now();
        let built = compile_source(language, source.as_bytes(), &options).and_then(|path| {
            std::fs::read(&path).map_err(|error| {
                BuildError::Failed(format!("cannot read {}: {error}", path.display()))
            })
        });
        match built {
            Ok(elf) => {
                eprintln!(
                    "rvedge playground: built {} bytes of {} into {} bytes in {} ms",
                    source.len(),
                    language.name(),
                    elf.len(),
                    started.elapsed().as_millis()
                );
                Reply {
                    status: "200 OK",
                    content_type: "application/x-elf",
                    body: elf,
                }
            }
            Err(BuildError::Rejected {
                compiler,
                mut output,
                diagnostics,
            }) => {
                truncate_at_char(&mut output, MAX_COMPILER_OUTPUT);
                let diagnostics: Vec<serde_json::Value> = diagnostics
                    .iter()
                    .map(|diagnostic| {
                        serde_json::json!({
                            "line": diagnostic.line,
                            "column": diagnostic.column,
                            "severity": diagnostic.severity,
                            "message": diagnostic.message,
                        })
                    })
                    .collect();
                Reply::json(
                    "422 Unprocessable Entity",
                    serde_json::json!({
                        "error": "rejected",
                        "message": format!("{compiler} rejected the source"),
                        "file": language.source_file_name(),
                        "output": output,
                        "diagnostics": diagnostics,
                    }),
                )
            }
            Err(error @ BuildError::TimedOut { .. }) => {
                Reply::error("504 Gateway Timeout", "timeout", &error.to_string())
            }
            Err(error) => Reply::error("500 Internal Server Error", "failed", &error.to_string()),
        }
    }

    fn take_build_slot(&self) -> Option<BuildSlot<'_>> {
        self.builds_running
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |running| {
                (running < self.max_builds).then_some(running + 1)
            })
            .ok()
            .map(|_| BuildSlot(&self.builds_running))
    }
}

fn too_large(max_source_bytes: usize) -> Reply {
    Reply::error(
        "413 Content Too Large",
        "too_large",
        &format!("sources are limited to {max_source_bytes} bytes"),
    )
}

fn truncate_at_char(text: &mut String, max: usize) {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push_str("\n[… output cut]");
    }
}

fn respond(
    writer: &mut TcpStream,
    reply: &Reply,
    head_only: bool,
    keep_alive: bool,
) -> std::io::Result<()> {
    let connection = if keep_alive { "keep-alive" } else { "close" };
    // no-cache: a rebuilt playground is picked up on reload.
    let head = format!(
        "HTTP/1.1 {}\r\ncontent-type: {}\r\ncontent-length: {}\r\ncache-control: no-cache\r\nx-content-type-options: nosniff\r\nconnection: {connection}\r\n\r\n",
        reply.status,
        reply.content_type,
        reply.body.len()
    );
    writer.write_all(head.as_bytes())?;
    if !head_only {
        writer.write_all(&reply.body)?;
    }
    writer.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside_the_directory() {
        let dir = Path::new("/srv/site");
        assert_eq!(resolve(dir, "/a/b.js?x=1"), Some(dir.join("a/b.js")));
        assert_eq!(
            resolve(dir, "/pkg/x%20y.wasm"),
            Some(dir.join("pkg/x y.wasm"))
        );
        assert_eq!(resolve(dir, "/../etc/passwd"), None);
        assert_eq!(resolve(dir, "/a/%2e%2e/%2e%2e/etc"), None);
    }

    #[test]
    fn wasm_and_modules_get_the_types_browsers_require() {
        assert_eq!(content_type(Path::new("x_bg.wasm")), "application/wasm");
        assert!(content_type(Path::new("app.js")).starts_with("text/javascript"));
        assert_eq!(
            content_type(Path::new("tenants/hello")),
            "application/octet-stream"
        );
    }

    #[test]
    fn only_hosts_naming_the_listening_address_are_ours() {
        let server = Server {
            dir: PathBuf::from("/srv"),
            listen: "127.0.0.1:8090".parse().unwrap(),
            max_source_bytes: 1,
            build_time_limit: Duration::from_secs(1),
            max_builds: 1,
            builds_running: AtomicUsize::new(0),
        };
        for host in ["127.0.0.1:8090", "localhost:8090", "LOCALHOST", "127.0.0.1"] {
            assert!(server.host_is_ours(Some(host)), "{host}");
        }
        assert!(server.host_is_ours(None));
        for host in ["evil.example:8090", "127.0.0.1:9999", "attacker.test", ""] {
            assert!(!server.host_is_ours(Some(host)), "{host}");
        }
    }
}

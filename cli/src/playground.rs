//! `rvedge playground`: serves the built browser playground (scripts/build-playground.sh) on
//! 127.0.0.1. A small HTTP/1.1 static file server on std::net: GET and HEAD of files under one
//! directory, with the MIME types the page needs (`application/wasm` above all, which
//! `WebAssembly.instantiateStreaming` insists on), one thread per connection.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

#[derive(clap::Args, Debug)]
pub struct PlaygroundArguments {
    /// Address to listen on; keep it on loopback, the page is for the developer at this machine.
    #[arg(long, default_value = "127.0.0.1:8090")]
    listen: SocketAddr,
    /// The built playground; default: $CARGO_TARGET_DIR/playground (or target/playground), where
    /// scripts/build-playground.sh puts it.
    #[arg(long)]
    dir: Option<PathBuf>,
}

pub fn playground(arguments: PlaygroundArguments) -> ExitCode {
    let dir = arguments.dir.unwrap_or_else(default_dir);
    if !dir.join("index.html").is_file() {
        eprintln!(
            "rvedge playground: no index.html in {}: build it with `bash scripts/build-playground.sh` (or pass --dir)",
            dir.display()
        );
        return ExitCode::from(2);
    }
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
    // The test harness reads this line to find the port when it asks for port 0.
    println!(
        "rvedge playground: serving {} at http://{address}/",
        dir.display()
    );
    let _ = std::io::stdout().flush();
    for stream in listener.incoming().flatten() {
        let dir = dir.clone();
        std::thread::spawn(move || {
            // A failed connection only concerns its client.
            let _ = serve_connection(stream, &dir);
        });
    }
    ExitCode::SUCCESS
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
        Some("txt" | "md") => "text/plain; charset=utf-8",
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

fn serve_connection(stream: TcpStream, dir: &Path) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line)? == 0 {
            return Ok(());
        }
        let mut keep_alive = true;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line)? == 0 {
                return Ok(());
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("connection")
                    && value.trim().eq_ignore_ascii_case("close")
                {
                    keep_alive = false;
                }
            }
        }
        let mut parts = request_line.split_whitespace();
        let (method, target, version) = (parts.next(), parts.next(), parts.next());
        if version == Some("HTTP/1.0") {
            keep_alive = false;
        }
        match (method, target) {
            (Some(method @ ("GET" | "HEAD")), Some(target)) => {
                respond_with_file(&mut writer, dir, target, method == "HEAD", keep_alive)?
            }
            (Some(_), Some(_)) => respond(
                &mut writer,
                "405 Method Not Allowed",
                "text/plain",
                b"only GET and HEAD\n",
                false,
                keep_alive,
            )?,
            _ => {
                respond(
                    &mut writer,
                    "400 Bad Request",
                    "text/plain",
                    b"bad request\n",
                    false,
                    false,
                )?;
                return Ok(());
            }
        }
        if !keep_alive {
            return Ok(());
        }
    }
}

fn respond_with_file(
    writer: &mut TcpStream,
    dir: &Path,
    target: &str,
    head_only: bool,
    keep_alive: bool,
) -> std::io::Result<()> {
    let Some(file) = resolve(dir, target) else {
        return respond(
            writer,
            "403 Forbidden",
            "text/plain",
            b"forbidden\n",
            head_only,
            keep_alive,
        );
    };
    match std::fs::read(&file) {
        Ok(body) => respond(
            writer,
            "200 OK",
            content_type(&file),
            &body,
            head_only,
            keep_alive,
        ),
        Err(_) => respond(
            writer,
            "404 Not Found",
            "text/plain",
            b"not found\n",
            head_only,
            keep_alive,
        ),
    }
}

fn respond(
    writer: &mut TcpStream,
    status: &str,
    content_type: &str,
    body: &[u8],
    head_only: bool,
    keep_alive: bool,
) -> std::io::Result<()> {
    let connection = if keep_alive { "keep-alive" } else { "close" };
    // no-cache: a rebuilt playground is picked up on reload.
    let head = format!(
        "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\ncache-control: no-cache\r\nx-content-type-options: nosniff\r\nconnection: {connection}\r\n\r\n",
        body.len()
    );
    writer.write_all(head.as_bytes())?;
    if !head_only {
        writer.write_all(body)?;
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
}

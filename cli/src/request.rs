//! `rvedge request`: one HTTP request through a tenant, printed like `curl -i`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::OnceLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use rvedge::runtime::gdb::{self, TcpConnection};
use rvedge::runtime::{
    error_response, exchange, exchange_with_debugger, EchoOrigin, HttpRequest, HttpResponse,
    ProgramDirectory, Source, Tenants,
};
use rvedge::Clock;

#[derive(clap::Args, Debug)]
pub struct RequestArguments {
    /// Tenant configuration (JSON); filenames in it are relative to its directory and may be
    /// ELF executables, .c/.cpp sources or Rust crate directories.
    #[arg(long)]
    tenants: PathBuf,
    /// The tenant to run; defaults to the URL's host.
    #[arg(long)]
    tenant: Option<String>,
    /// Request method.
    #[arg(short = 'X', long = "request", default_value = "GET")]
    method: String,
    /// A request header, `Name: value`; repeatable.
    #[arg(short = 'H', long = "header")]
    headers: Vec<String>,
    /// Request body; `@path` reads it from a file.
    #[arg(long)]
    data: Option<String>,
    /// Print instructions, fork and call time and pages written on stderr.
    #[arg(long)]
    stats: bool,
    /// Wait for a debugger on 127.0.0.1:PORT before the tenant's first hook (GDB remote
    /// protocol); stepping and continuing go through every hook and callback in order.
    #[arg(long, value_name = "PORT")]
    gdb: Option<u16>,
    /// Print the request's guest instructions and pages first written per tenant function
    /// on stderr (both forks, all hooks and callbacks).
    #[arg(long)]
    profile: bool,
    /// `http://host/path?query` or just `/path?query`.
    url: String,
}

/// Exit status when the tenant failed the request (the 503 is still printed).
const TENANT_FAILED: u8 = 3;

pub fn request(arguments: RequestArguments) -> ExitCode {
    match prepare(&arguments) {
        Ok((tenants, tenant, request)) => send(&arguments, &tenants, &tenant, request),
        Err(message) => {
            eprintln!("rvedge: {message}");
            ExitCode::FAILURE
        }
    }
}

fn prepare(arguments: &RequestArguments) -> Result<(Tenants, String, HttpRequest), String> {
    let (host, path) = split_url(&arguments.url)?;
    let mut headers = Vec::new();
    if let Some(host) = &host {
        headers.push(("Host".to_string(), host.clone()));
    }
    for line in &arguments.headers {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| format!("header {line:?} is not `Name: value`"))?;
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
    let body = match arguments.data.as_deref() {
        None => Vec::new(),
        Some(text) => match text.strip_prefix('@') {
            Some(path) => std::fs::read(path).map_err(|error| format!("{path}: {error}"))?,
            None => text.as_bytes().to_vec(),
        },
    };
    let tenant = arguments
        .tenant
        .clone()
        .or(host)
        .ok_or("name the tenant with --tenant or give a URL with a host")?;

    let json = std::fs::read_to_string(&arguments.tenants)
        .map_err(|error| format!("{}: {error}", arguments.tenants.display()))?;
    let base = arguments
        .tenants
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default();
    let tenants = Tenants::load(&json, &ProgramDirectory::new(base), Some(host_clock))
        .map_err(|error| error.to_string())?;
    let request = HttpRequest {
        method: arguments.method.clone(),
        url: path,
        headers,
        body,
    };
    Ok((tenants, tenant, request))
}

/// `(host, path)` of `http://host/path` or `/path`.
fn split_url(url: &str) -> Result<(Option<String>, String), String> {
    let Some(rest) = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
    else {
        if url.starts_with('/') {
            return Ok((None, url.to_string()));
        }
        return Err(format!(
            "URL {url:?} must start with http://, https:// or /"
        ));
    };
    let (host, path) = match rest.find(['/', '?']) {
        Some(index) => (&rest[..index], rest[index..].to_string()),
        None => (rest, "/".to_string()),
    };
    let path = if path.starts_with('?') {
        format!("/{path}")
    } else {
        path
    };
    Ok((Some(host.to_string()), path))
}

/// The tenant's `clock_gettime`: the real clock.
fn host_clock(clock: Clock) -> u64 {
    match clock {
        Clock::Realtime => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_nanos() as u64),
        Clock::Monotonic => monotonic_nanos(),
    }
}

fn monotonic_nanos() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

fn send(
    arguments: &RequestArguments,
    tenants: &Tenants,
    name: &str,
    request: HttpRequest,
) -> ExitCode {
    let Some(tenant) = tenants.get(name) else {
        let known: Vec<&str> = tenants.names().collect();
        eprintln!(
            "rvedge: no tenant \"{name}\" in {} (tenants: {})",
            arguments.tenants.display(),
            known.join(", ")
        );
        return ExitCode::FAILURE;
    };
    let profiled = arguments.profile.then(|| tenant.profiled());
    let tenant = profiled.as_ref().unwrap_or(tenant);
    let outcome = match arguments.gdb {
        None => exchange(tenant, request, &mut EchoOrigin, monotonic_nanos),
        Some(port) => exchange_with_debugger(
            tenant,
            request,
            &mut EchoOrigin,
            monotonic_nanos,
            &mut |target| {
                eprintln!("* waiting for a debugger on 127.0.0.1:{port} (target remote :{port})");
                match TcpConnection::accept(port, None) {
                    Ok(mut connection) => {
                        gdb::serve(&mut connection, target);
                    }
                    Err(error) => eprintln!("* cannot serve a debugger on port {port}: {error}"),
                }
            },
        ),
    };
    for line in &outcome.log {
        eprintln!("* log: {line}");
    }
    let (response, status) = match &outcome.result {
        Ok((response, source)) => {
            let request = &outcome.request;
            match (source, outcome.cache) {
                (Source::Synthesized, _) => eprintln!("* {name}: answered from on_recv"),
                (Source::Forged, Some(cache)) if cache.cacheable => {
                    eprintln!("* {name}: forged, cacheable for {} s", cache.ttl_seconds)
                }
                (Source::Forged, _) => eprintln!("* {name}: forged, uncached"),
                (Source::Backend { name: backend }, _) => {
                    eprintln!(
                        "* {name}: passed to backend \"{backend}\" (the echo origin): {} {}",
                        request.method, request.url
                    );
                    for (header, value) in &request.headers {
                        eprintln!("> {header}: {value}");
                    }
                }
            }
            (response.clone(), ExitCode::SUCCESS)
        }
        Err(error) => {
            eprintln!("* {error}");
            (error_response(error), ExitCode::from(TENANT_FAILED))
        }
    };
    if arguments.stats {
        let stats = outcome.stats;
        eprintln!(
            "* stats: {} instructions ({} of them the price of tenant calls), {} forks in {:.1} µs, tenant code {:.1} µs, {} pages written ({} KiB)",
            stats.instructions,
            stats.charged_by_calls,
            stats.forks,
            stats.fork_nanos as f64 / 1e3,
            stats.call_nanos as f64 / 1e3,
            stats.pages_written,
            stats.pages_written * 4
        );
    }
    if let Some(report) = profiled.and_then(|tenant| tenant.profile_report()) {
        crate::profile::print_profile("* ", &report);
    }
    print_response(&response);
    status
}

fn print_response(response: &HttpResponse) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "HTTP/1.1 {} {}",
        response.status,
        reason_phrase(response.status)
    );
    for (name, value) in &response.headers {
        let _ = writeln!(out, "{name}: {value}");
    }
    // Responses the runtime makes carry no framing; a server would add this one.
    if response.header("content-length").is_none() {
        let _ = writeln!(out, "content-length: {}", response.body.len());
    }
    let _ = writeln!(out);
    let _ = out.write_all(&response.body);
    let _ = out.flush();
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        422 => "Unprocessable Content",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_host_and_path() {
        let split = |url| split_url(url).unwrap();
        assert_eq!(
            split("http://a.com/x?y=1"),
            (Some("a.com".into()), "/x?y=1".into())
        );
        assert_eq!(split("https://a.com"), (Some("a.com".into()), "/".into()));
        assert_eq!(
            split("http://a.com?q"),
            (Some("a.com".into()), "/?q".into())
        );
        assert_eq!(split("/p"), (None, "/p".into()));
        assert!(split_url("a.com/x").is_err());
    }
}

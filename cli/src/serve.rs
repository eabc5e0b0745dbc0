//! `rvedge serve`: a local HTTP/1.1 proxy that passes every request through the rvedge
//! proxy-wasm filter, running in the wasmtime proxy-wasm host, and forwards what the tenants
//! do not answer themselves to an upstream (or to a built-in echo origin).
//!
//! Filter VMs run on worker threads of their own, one VM each (Envoy's VM per worker): a
//! request's callbacks and later its response's callbacks go to the same worker, and no VM is
//! held while the upstream is awaited, so other requests use it meanwhile.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rvedge::runtime::{echo_body, EchoedRequest, ProgramDirectory, TenantBundle, DEFAULT_BACKEND};
use rvedge_proxy_wasm_host::{
    FilterModule, FilterVm, HostError, HostLimits, LogEntry, Request, RequestOutcome, Response,
    StreamId,
};
use tokio::sync::oneshot;

/// Request header carrying the backend the tenant chose; the echo origin names it.
const BACKEND_HEADER: &str = "x-rvedge-backend";
/// Largest request or upstream response body the proxy buffers.
const MAX_BODY_BYTES: usize = 16 << 20;
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(clap::Args, Debug)]
pub struct ServeArguments {
    /// Tenant configuration (the runtime's tenant JSON); programs are read relative to it and
    /// compiled when they are sources. Default: the example tenants.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Address to listen on (port 0 picks a free one; the address is printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Where requests the tenants do not answer go, as http://host:port. Default: a built-in
    /// echo origin answering with a JSON description of the request.
    #[arg(long)]
    upstream: Option<String>,
    /// The filter module. Default: $RVEDGE_FILTER, else rvedge_filter.wasm in this build's
    /// target directory (wasm32-wasip1/release).
    #[arg(long)]
    filter: Option<PathBuf>,
    /// The header that picks the tenant (the filter's default is :authority).
    #[arg(long)]
    tenant_header: Option<String>,
    /// Filter VMs (worker threads).
    #[arg(long, default_value_t = 2)]
    workers: usize,
}

pub fn serve(arguments: ServeArguments) -> ExitCode {
    match try_serve(arguments) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("rvedge serve: {message}");
            ExitCode::FAILURE
        }
    }
}

fn try_serve(arguments: ServeArguments) -> Result<(), String> {
    let config_path = arguments.config.clone().unwrap_or_else(example_tenants);
    let plugin_configuration =
        plugin_configuration(&config_path, arguments.tenant_header.as_deref())?;
    let filter_path = arguments.filter.clone().map_or_else(default_filter, Ok)?;
    let wasm = std::fs::read(&filter_path)
        .map_err(|error| format!("cannot read the filter {}: {error}", filter_path.display()))?;
    let module = FilterModule::new(&wasm, HostLimits::default())
        .map_err(|error| format!("{}: {error}", filter_path.display()))?;
    let upstream = match &arguments.upstream {
        Some(url) => Some(UpstreamUrl::parse(url)?),
        None => None,
    };

    let workers = (0..arguments.workers.max(1))
        .map(|index| Worker::spawn(index, &module, &plugin_configuration))
        .collect::<Result<Vec<_>, String>>()?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|error| format!("cannot start the async runtime: {error}"))?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(arguments.listen)
            .await
            .map_err(|error| format!("cannot listen on {}: {error}", arguments.listen))?;
        let address = listener
            .local_addr()
            .map_err(|error| format!("no local address: {error}"))?;
        eprintln!(
            "rvedge serve: listening on http://{address} (tenants {}, filter {}, upstream {})",
            config_path.display(),
            filter_path.display(),
            arguments
                .upstream
                .as_deref()
                .unwrap_or("built-in echo origin"),
        );
        let proxy = Arc::new(Proxy {
            workers,
            next_worker: AtomicUsize::new(0),
            upstream,
            client: Client::builder(TokioExecutor::new()).build_http(),
        });
        loop {
            let (connection, peer) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(error) => {
                    eprintln!("rvedge serve: accept failed: {error}");
                    continue;
                }
            };
            let proxy = Arc::clone(&proxy);
            tokio::spawn(async move {
                let service = service_fn(move |request| {
                    let proxy = Arc::clone(&proxy);
                    async move { Ok::<_, Infallible>(proxy.handle(peer, request).await) }
                });
                let served = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(connection), service)
                    .await;
                if let Err(error) = served {
                    eprintln!("rvedge serve: connection from {peer}: {error}");
                }
            });
        }
    })
}

/// The example tenants of the checkout this is run in, else of the one it was built from.
fn example_tenants() -> PathBuf {
    rvedge::runtime::compile::checkout_path("tenants/examples/tenants.json")
}

fn default_filter() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("RVEDGE_FILTER") {
        return Ok(PathBuf::from(path));
    }
    // This binary is <target>/<profile>/rvedge; the filter is built into the same target.
    let executable = std::env::current_exe()
        .map_err(|error| format!("cannot find the running binary: {error}"))?;
    let candidate = executable
        .ancestors()
        .skip(1)
        .map(|dir| dir.join("wasm32-wasip1/release/rvedge_filter.wasm"))
        .take(3)
        .find(|path| path.is_file());
    candidate.ok_or_else(|| {
        "no filter found: build it with `cargo build -p rvedge-filter --release --target \
         wasm32-wasip1`, or pass --filter / set RVEDGE_FILTER"
            .to_string()
    })
}

/// The filter's plugin configuration for a tenants.json: the tenants as written, with every
/// program they name read (compiled if it is a source) and inlined as base64.
pub fn plugin_configuration(
    config_path: &Path,
    tenant_header: Option<&str>,
) -> Result<Vec<u8>, String> {
    let text = std::fs::read_to_string(config_path)
        .map_err(|error| format!("cannot read {}: {error}", config_path.display()))?;
    let base = config_path.parent().unwrap_or(Path::new("."));
    let bundle = TenantBundle::gather(&text, &ProgramDirectory::new(base))
        .map_err(|error| error.to_string())?;
    let mut configuration = bundle.to_json();
    if let Some(header) = tenant_header {
        configuration["tenant_header"] = header.into();
    }
    Ok(configuration.to_string().into_bytes())
}

/// One filter VM on its own thread.
struct Worker {
    jobs: mpsc::Sender<Job>,
}

enum Job {
    Request {
        request: Request,
        reply: oneshot::Sender<Result<RequestOutcome, HostError>>,
    },
    Response {
        stream: StreamId,
        response: Response,
        reply: oneshot::Sender<Result<Response, HostError>>,
    },
}

impl Worker {
    fn spawn(index: usize, module: &FilterModule, configuration: &[u8]) -> Result<Worker, String> {
        // Started here so a configuration the filter refuses stops `serve` before it listens.
        let mut vm =
            FilterVm::start(module, b"", configuration).map_err(|error| error.to_string())?;
        print_logs(index, vm.take_logs());
        let (jobs, queue) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name(format!("filter-vm-{index}"))
            .spawn(move || {
                for job in queue {
                    match job {
                        Job::Request { request, reply } => {
                            let _ = reply.send(vm.on_request(request));
                        }
                        Job::Response {
                            stream,
                            response,
                            reply,
                        } => {
                            let _ = reply.send(vm.on_response(stream, response));
                        }
                    }
                    print_logs(index, vm.take_logs());
                }
            })
            .map_err(|error| format!("cannot start a filter thread: {error}"))?;
        Ok(Worker { jobs })
    }

    async fn on_request(&self, request: Request) -> Result<RequestOutcome, String> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job::Request { request, reply })
            .map_err(|_| "the filter thread stopped".to_string())?;
        let outcome = answer.await.map_err(|_| "the filter thread stopped")?;
        outcome.map_err(|error| error.to_string())
    }

    async fn on_response(&self, stream: StreamId, response: Response) -> Result<Response, String> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job::Response {
                stream,
                response,
                reply,
            })
            .map_err(|_| "the filter thread stopped".to_string())?;
        let response = answer.await.map_err(|_| "the filter thread stopped")?;
        response.map_err(|error| error.to_string())
    }
}

fn print_logs(worker: usize, logs: Vec<LogEntry>) {
    for entry in logs {
        eprintln!("filter[{worker}] {entry}");
    }
}

/// `http://host:port` with an optional path prefix.
struct UpstreamUrl {
    authority: String,
    prefix: String,
}

impl UpstreamUrl {
    fn parse(url: &str) -> Result<UpstreamUrl, String> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| format!("--upstream {url}: only http:// upstreams are supported"))?;
        let (authority, prefix) = match rest.find('/') {
            Some(slash) => (&rest[..slash], rest[slash..].trim_end_matches('/')),
            None => (rest, ""),
        };
        if authority.is_empty() {
            return Err(format!("--upstream {url}: no host"));
        }
        Ok(UpstreamUrl {
            authority: authority.to_string(),
            prefix: prefix.to_string(),
        })
    }
}

type HttpClient = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

struct Proxy {
    workers: Vec<Worker>,
    next_worker: AtomicUsize,
    upstream: Option<UpstreamUrl>,
    client: HttpClient,
}

impl Proxy {
    async fn handle(
        &self,
        peer: SocketAddr,
        incoming: hyper::Request<Incoming>,
    ) -> hyper::Response<Full<Bytes>> {
        let started = Instant::now();
        let (method, path, authority) = (
            incoming.method().to_string(),
            incoming
                .uri()
                .path_and_query()
                .map_or("/".to_string(), |path| path.to_string()),
            request_authority(&incoming),
        );
        let (response, source) = match self.exchange(incoming).await {
            Ok(answered) => answered,
            Err(message) => {
                eprintln!("rvedge serve: {method} {path}: {message}");
                (plain_response(500, "proxy error\n"), "error")
            }
        };
        // The access log: one line per request, on stdout.
        println!(
            "{peer} \"{method} {path}\" authority={authority} status={} bytes={} duration_us={} source={source}",
            response.status,
            response.body.len(),
            started.elapsed().as_micros(),
        );
        to_hyper_response(response)
    }

    async fn exchange(
        &self,
        incoming: hyper::Request<Incoming>,
    ) -> Result<(Response, &'static str), String> {
        let request = from_hyper_request(incoming).await?;
        let worker_index = self.next_worker.fetch_add(1, Ordering::Relaxed) % self.workers.len();
        let worker = &self.workers[worker_index];
        match worker.on_request(request).await? {
            RequestOutcome::LocalReply(response) => Ok((response, "local")),
            RequestOutcome::Forward { stream, request } => {
                let upstream_response = self.forward(&request).await;
                let response = worker.on_response(stream, upstream_response).await?;
                let source = if response.local_reply {
                    "local"
                } else {
                    "upstream"
                };
                Ok((response, source))
            }
        }
    }

    /// The upstream's answer, or a 502 when it cannot be reached (the filter still sees it,
    /// as Envoy's filters see its upstream-failure replies).
    async fn forward(&self, request: &Request) -> Response {
        let Some(upstream) = &self.upstream else {
            return echo_origin(request);
        };
        match self.send_upstream(upstream, request).await {
            Ok(response) => response,
            Err(message) => {
                eprintln!("rvedge serve: upstream {}: {message}", upstream.authority);
                plain_response(502, "upstream unavailable\n")
            }
        }
    }

    async fn send_upstream(
        &self,
        upstream: &UpstreamUrl,
        request: &Request,
    ) -> Result<Response, String> {
        let uri = format!(
            "http://{}{}{}",
            upstream.authority, upstream.prefix, request.path
        );
        let mut builder = hyper::Request::builder()
            .method(request.method.as_str())
            .uri(&uri)
            // The client's authority goes on, as Envoy forwards the Host by default.
            .header(hyper::header::HOST, &request.authority);
        for (name, value) in &request.headers {
            if !is_hop_by_hop(name) {
                builder = builder.header(name.as_str(), value.as_str());
            }
        }
        let outgoing = builder
            .body(Full::new(Bytes::from(request.body.clone())))
            .map_err(|error| format!("bad request for {uri}: {error}"))?;
        let answered = tokio::time::timeout(UPSTREAM_TIMEOUT, self.client.request(outgoing))
            .await
            .map_err(|_| "timed out".to_string())?
            .map_err(|error| error.to_string())?;
        let (parts, body) = answered.into_parts();
        let body = Limited::new(body, MAX_BODY_BYTES)
            .collect()
            .await
            .map_err(|error| format!("reading the body: {error}"))?
            .to_bytes();
        Ok(Response {
            status: parts.status.as_u16(),
            headers: parts
                .headers
                .iter()
                .filter(|(name, _)| !is_hop_by_hop(name.as_str()))
                .map(|(name, value)| {
                    (
                        name.as_str().to_string(),
                        String::from_utf8_lossy(value.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            body: body.to_vec(),
            local_reply: false,
        })
    }
}

fn request_authority<B>(request: &hyper::Request<B>) -> String {
    request
        .headers()
        .get(hyper::header::HOST)
        .and_then(|value| value.to_str().ok())
        .map(str::to_string)
        .or_else(|| {
            request
                .uri()
                .authority()
                .map(|authority| authority.to_string())
        })
        .unwrap_or_default()
}

async fn from_hyper_request(incoming: hyper::Request<Incoming>) -> Result<Request, String> {
    let authority = request_authority(&incoming);
    let (parts, body) = incoming.into_parts();
    let body = Limited::new(body, MAX_BODY_BYTES)
        .collect()
        .await
        .map_err(|error| format!("reading the request body: {error}"))?
        .to_bytes();
    Ok(Request {
        method: parts.method.to_string(),
        path: parts
            .uri
            .path_and_query()
            .map_or("/".to_string(), |path| path.to_string()),
        authority,
        scheme: "http".into(),
        // Envoy's view: the Host header is :authority, hop-by-hop headers are the proxy's.
        headers: parts
            .headers
            .iter()
            .filter(|(name, _)| *name != hyper::header::HOST && !is_hop_by_hop(name.as_str()))
            .map(|(name, value)| {
                (
                    name.as_str().to_string(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: body.to_vec(),
    })
}

/// Headers about one connection, not the message, plus the framing headers the proxy sets
/// itself from the body it sends.
fn is_hop_by_hop(name: &str) -> bool {
    [
        "connection",
        "keep-alive",
        "proxy-connection",
        "transfer-encoding",
        "te",
        "trailer",
        "upgrade",
        "content-length",
    ]
    .iter()
    .any(|hop| name.eq_ignore_ascii_case(hop))
}

fn to_hyper_response(response: Response) -> hyper::Response<Full<Bytes>> {
    let mut builder = hyper::Response::builder().status(response.status);
    for (name, value) in &response.headers {
        if !is_hop_by_hop(name) {
            builder = builder.header(name.as_str(), value.as_str());
        }
    }
    builder
        .body(Full::new(Bytes::from(response.body)))
        .unwrap_or_else(|error| {
            eprintln!("rvedge serve: the filter's response is not valid HTTP: {error}");
            let mut fallback =
                hyper::Response::new(Full::new(Bytes::from_static(b"bad response\n")));
            *fallback.status_mut() = hyper::StatusCode::BAD_GATEWAY;
            fallback
        })
}

fn plain_response(status: u16, body: &str) -> Response {
    Response {
        status,
        headers: vec![("content-type".into(), "text/plain".into())],
        body: body.as_bytes().to_vec(),
        local_reply: false,
    }
}

/// The conformance table's echo origin, so `serve` works without an upstream.
fn echo_origin(request: &Request) -> Response {
    let backend = request
        .header(BACKEND_HEADER)
        .unwrap_or(DEFAULT_BACKEND)
        .to_string();
    let mut headers = vec![("host".to_string(), request.authority.clone())];
    headers.extend(request.headers.iter().cloned());
    Response {
        status: 200,
        headers: vec![("content-type".into(), "application/json".into())],
        body: echo_body(
            &backend,
            EchoedRequest {
                method: &request.method,
                url: &request.path,
                headers: &headers,
                body: &request.body,
            },
        ),
        local_reply: false,
    }
}

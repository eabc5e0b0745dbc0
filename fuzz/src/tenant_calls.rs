//! Tenant calls with wild arguments, in every hook: the generator of requests for the tenant
//! `tests/guests/tenant/fuzz_hooks.c` and the oracle of their exchanges.
//!
//! The fuzz input becomes one request: a script of tenant calls per hook (and one for forge
//! callbacks) in the headers the tenant reads them from, a body, and the origin's answer. The
//! request runs through an [`Exchange`] with a [`MemoryHost`], once plainly and once with the
//! body arriving late and the hooks stepped an instruction at a time for a while; both runs
//! must end the same way, so a fork that changed its template, or a resumed exchange that went
//! differently, shows up.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use crate::InputReader;
use rvedge::runtime::{
    ErrorKind, Exchange, HttpRequest, HttpResponse, Limits, MemoryHost, Next, RandomSource, Source,
    StepOutcome, Tenant,
};

/// Scripts: one per hook id the tenant registers (`x-fuzz-0` .. `x-fuzz-4`) and one for forge
/// callbacks that the scripts pass data 5 (`x-fuzz-5`).
const N_SCRIPTS: usize = 6;

/// Largest script the tenant takes (its `MAX_SCRIPT`).
const MAX_SCRIPT_BYTES: usize = 512;

/// Resumes after which an exchange counts as stuck: a request has at most five hooks and a
/// forge callback, each paused once, plus a fetch and a body.
const MAX_RESUMES: usize = 20;

/// Most instructions stepped one at a time per paused call; the rest runs in one go.
const MAX_STEPS: usize = 4096;

/// Most log lines and `hash_add` bytes a request may leave with the host.
const MAX_LOG_LINES: usize = 1000;
const MAX_HASH_BYTES: usize = 64 << 10;

/// The tenant, loaded once per process; every input runs in fresh forks of it.
pub fn tenant() -> &'static Arc<Tenant> {
    static TENANT: OnceLock<Arc<Tenant>> = OnceLock::new();
    TENANT.get_or_init(|| {
        let path = fuzz_hooks_path();
        let program = std::fs::read(&path).unwrap_or_else(|error| {
            panic!(
                "cannot read the fuzz tenant {}: {error} (scripts/fuzz.sh builds it; or set \
                 GUEST_OUT to the output of scripts/build-guests.sh)",
                path.display()
            )
        });
        // Fixed randomness: the oracle runs each request twice and compares the runs.
        let limits = Limits {
            random: RandomSource::Fixed,
            ..Limits::default()
        };
        Tenant::load("fuzz", &program, limits, None)
            .unwrap_or_else(|error| panic!("the fuzz tenant does not load: {error}"))
    })
}

/// `$GUEST_OUT/tenant/fuzz_hooks`, where scripts/build-guests.sh puts it.
fn fuzz_hooks_path() -> PathBuf {
    crate::guests_dir().join("tenant/fuzz_hooks")
}

/// One request, as the fuzz input describes it.
#[derive(Clone, Debug, Default)]
pub struct TenantCallsInput {
    scripts: [Vec<u8>; N_SCRIPTS],
    method: &'static str,
    body: Vec<u8>,
    origin: HttpResponse,
    /// Second run: the body arrives only when the exchange asks for it.
    body_follows: bool,
    /// Second run: each hook and callback is stepped this many instructions before it runs on.
    steps: Option<usize>,
}

impl TenantCallsInput {
    pub fn from_bytes(data: &[u8]) -> TenantCallsInput {
        let mut reader = InputReader::new(data);
        let flags = reader.byte();
        let steps = reader.byte();
        let method = ["GET", "POST", "HEAD", "PUT", "PURGE"][usize::from(flags >> 4) % 5];
        let origin_status = 200 + u16::from(reader.byte()) % 400;
        let mut input = TenantCallsInput {
            method,
            body_follows: flags & 1 != 0,
            steps: (flags & 2 != 0).then_some(usize::from(steps) * 16 % MAX_STEPS),
            ..TenantCallsInput::default()
        };
        for script in &mut input.scripts {
            *script = reader.bytes(MAX_SCRIPT_BYTES);
        }
        input.body = reader.bytes(4096);
        input.origin = HttpResponse {
            status: origin_status,
            headers: vec![
                ("content-type".into(), "text/html".into()),
                ("x-origin".into(), hex(&reader.bytes(64))),
            ],
            body: reader.bytes(4096),
        };
        input
    }

    fn request(&self, with_body: bool) -> HttpRequest {
        let mut headers = vec![
            ("host".into(), "fuzz.example".into()),
            ("content-type".into(), "application/json".into()),
        ];
        for (index, script) in self.scripts.iter().enumerate() {
            if !script.is_empty() {
                headers.push((format!("x-fuzz-{index}"), hex(script)));
            }
        }
        HttpRequest {
            method: self.method.into(),
            url: "/fuzz?x=1".into(),
            headers,
            body: if with_body {
                self.body.clone()
            } else {
                Vec::new()
            },
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// How an exchange ended and what it left with the host: two runs of one request compare
/// equal exactly when they went the same way.
#[derive(Debug, PartialEq, Eq)]
pub struct ExchangeEnd {
    /// The response and its source and cache decision, or the error's kind, hook and detail.
    pub result: Result<(HttpResponse, Source, String), (ErrorKind, &'static str, String)>,
    pub req: HttpRequest,
    pub bereq: Option<HttpRequest>,
    pub log: Vec<String>,
    pub hash: Vec<u8>,
    pub instructions: u64,
}

/// Runs `input`'s request through the tenant to its end. `late_body` holds the body back until
/// the exchange asks for it; `steps` pauses every hook and steps it that far first.
pub fn run_exchange(
    input: &TenantCallsInput,
    late_body: bool,
    steps: Option<usize>,
) -> ExchangeEnd {
    let mut host = MemoryHost::new(input.request(!late_body));
    let mut exchange = Exchange::new(tenant());
    if late_body {
        exchange.request_body_follows();
    }
    exchange.set_stepping(steps.is_some());
    let mut body_asked = false;
    for _ in 0..MAX_RESUMES {
        let result = match exchange.resume(&mut host) {
            Next::RequestBody => {
                assert!(
                    late_body && !body_asked,
                    "the body was asked for twice, or unasked"
                );
                body_asked = true;
                host.req.body = input.body.clone();
                continue;
            }
            Next::Paused { .. } => {
                for _ in 0..steps.unwrap_or(0) {
                    if let StepOutcome::Finished(_) = exchange.step(&mut host) {
                        break;
                    }
                }
                continue;
            }
            Next::Fetch { .. } => {
                host.response = Some(input.origin.clone());
                continue;
            }
            Next::Respond {
                response,
                source,
                cache,
            } => Ok((response, source, format!("{cache:?}"))),
            Next::Deliver { source, cache } => {
                let response = host.response.take().expect("the origin answered");
                Ok((response, source, format!("{cache:?}")))
            }
            Next::Failed(error) => Err((error.kind, error.during, error.detail)),
        };
        if late_body && !body_asked {
            // No tenant code that may read it ran; the body counts as arrived, as in the
            // other run.
            host.req.body = input.body.clone();
        }
        return ExchangeEnd {
            result,
            hash: exchange.hash_data().to_vec(),
            instructions: exchange.stats().instructions,
            req: host.req,
            bereq: host.bereq,
            log: host.log,
        };
    }
    panic!("the exchange did not end after {MAX_RESUMES} resumes");
}

/// Oracle: the request ends in a response or in an error its calls explain (a wild pointer,
/// a forge callback that never responds, memory a Linux call unmapped), the tenant never saw
/// a result the ABI does not allow, what it leaves with the host is within the caps, and a second run with a late body
/// and stepped hooks ends exactly the same way.
pub fn check_tenant_calls(data: &[u8]) {
    let input = TenantCallsInput::from_bytes(data);
    let plain = run_exchange(&input, false, None);
    // A Linux call may have unmapped or protected the tenant's own memory, or cost more than
    // the budget (a price per page of a huge length).
    let made_linux_calls = plain.log.iter().any(|line| line.starts_with("linux "));
    match &plain.result {
        Ok((response, _, _)) => check_response(response),
        Err((kind, during, detail)) => assert!(
            matches!(kind, ErrorKind::BadArgument | ErrorKind::NoResponse)
                || made_linux_calls
                    && matches!(
                        kind,
                        ErrorKind::Fault
                            | ErrorKind::Timeout
                            | ErrorKind::StackOverflow
                            | ErrorKind::MemoryLimit
                            | ErrorKind::IllegalInstruction
                    ),
            "{kind} in {during}: {detail}\nlog: {:?}",
            plain.log
        ),
    }
    assert!(plain.log.len() <= MAX_LOG_LINES);
    assert!(plain.hash.len() <= MAX_HASH_BYTES);
    for request in std::iter::once(&plain.req).chain(&plain.bereq) {
        check_request(request);
    }
    let varied = run_exchange(&input, input.body_follows, input.steps);
    assert_eq!(
        plain, varied,
        "the same request ended differently with body_follows={} steps={:?}",
        input.body_follows, input.steps
    );
}

/// What a tenant may set in a message stays valid HTTP: no line breaks or NUL in header
/// values, token header names.
fn check_headers(headers: &[(String, String)]) {
    for (name, value) in headers {
        assert!(
            rvedge::runtime::host::is_valid_header_name(name),
            "header name {name:?}"
        );
        assert!(
            rvedge::runtime::host::is_valid_header_value(value),
            "header {name}: {value:?}"
        );
    }
}

fn check_request(request: &HttpRequest) {
    check_headers(&request.headers);
    assert!(
        rvedge::runtime::host::is_valid_header_name(&request.method),
        "method {:?}",
        request.method
    );
    assert!(
        request.url.starts_with('/') && !request.url.bytes().any(|byte| byte <= b' '),
        "url {:?}",
        request.url
    );
}

fn check_response(response: &HttpResponse) {
    check_headers(&response.headers);
    assert!(
        (100..=999).contains(&response.status),
        "status {}",
        response.status
    );
}

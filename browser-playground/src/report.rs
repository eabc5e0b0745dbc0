//! What the page shows after Run: the response, where it came from, what the tenant changed in
//! the request, its log, counters, and errors explained in words. Built from the runtime's
//! [`exchange`] with the echo origin behind it, as every host's reference.

use std::sync::Arc;

use rvedge::runtime::{
    error_response, exchange, CacheDecision, EchoOrigin, ErrorKind, HttpRequest, JsonRequest,
    RequestError, Source, Tenant,
};
use serde::Serialize;

/// A request failure for people: the kind, a sentence saying what it means, and the
/// runtime's detail.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct ErrorReport {
    pub kind: String,
    pub explanation: String,
    pub during: String,
    pub detail: String,
}

impl ErrorReport {
    pub fn new(error: &RequestError) -> ErrorReport {
        ErrorReport {
            kind: error.kind.name().into(),
            explanation: explain(error.kind).into(),
            during: error.during.into(),
            detail: error.detail.clone(),
        }
    }
}

/// One sentence per error kind of `docs/abi.md`, saying what went wrong and what to look at.
pub fn explain(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Timeout => {
            "Timeout: the tenant used up its instruction budget (max_instructions) before it \
             finished; it may loop forever or do too much work per request."
        }
        ErrorKind::MemoryLimit => {
            "Memory limit: the tenant wrote more memory in this request than max_request_memory \
             allows, or could not allocate within max_memory and died."
        }
        ErrorKind::BadArgument => {
            "Bad argument: the tenant passed the host a pointer or length outside its own memory."
        }
        ErrorKind::IllegalInstruction => {
            "Illegal instruction: the tenant executed something that is not an RV64GC \
             instruction (corrupt code, or a deliberate trap such as __builtin_trap)."
        }
        ErrorKind::StackOverflow => {
            "Stack overflow: the tenant's stack grew past its end (deep or endless recursion, or \
             large local arrays); stack_size sets its size."
        }
        ErrorKind::Fault => {
            "Crash (memory fault): the tenant read or wrote an address it has no memory at, such \
             as a null or wild pointer."
        }
        ErrorKind::Crashed => {
            "Crash: the tenant exited, aborted or hit a breakpoint in the middle of the request."
        }
        ErrorKind::NoResponse => {
            "No response: a forge callback returned without calling respond, so there was \
             nothing to send back."
        }
    }
}

/// One thing the tenant changed in the request on its way to the backend.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Change {
    /// `method`, `url`, `header` or `body`.
    pub field: String,
    /// The header's name, for header changes.
    pub name: Option<String>,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// What the tenant changed between `before` (the client's request) and `after` (what reached
/// the backend, or the request as `on_recv` left it when nothing did). Headers compare by
/// lower-case name, all values of a name together, in order.
pub fn request_changes(before: &HttpRequest, after: &HttpRequest) -> Vec<Change> {
    let mut changes = Vec::new();
    let mut field = |field: &str, name: Option<&str>, old: Option<String>, new: Option<String>| {
        if old != new {
            changes.push(Change {
                field: field.into(),
                name: name.map(str::to_string),
                before: old,
                after: new,
            });
        }
    };
    field(
        "method",
        None,
        Some(before.method.clone()),
        Some(after.method.clone()),
    );
    field(
        "url",
        None,
        Some(before.url.clone()),
        Some(after.url.clone()),
    );
    let mut names: Vec<String> = Vec::new();
    for (name, _) in before.headers.iter().chain(&after.headers) {
        let lower = name.to_ascii_lowercase();
        if !names.contains(&lower) {
            names.push(lower);
        }
    }
    let values = |request: &HttpRequest, name: &str| -> Option<String> {
        let found: Vec<&str> = request
            .headers
            .iter()
            .filter(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
            .collect();
        (!found.is_empty()).then(|| found.join(", "))
    };
    for name in &names {
        field(
            "header",
            Some(name),
            values(before, name),
            values(after, name),
        );
    }
    field(
        "body",
        None,
        Some(String::from_utf8_lossy(&before.body).into_owned()),
        Some(String::from_utf8_lossy(&after.body).into_owned()),
    );
    changes
}

/// Where the response came from, for the page.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SourceReport {
    /// `respond` in `on_recv`.
    Synthesized,
    Forged {
        cached: bool,
        ttl_seconds: u64,
    },
    Backend {
        name: String,
    },
    /// The tenant failed; the response is the 503 every host gives.
    Error,
}

/// Everything the page shows after Run.
#[derive(Clone, Debug, Serialize)]
pub struct RunReport {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub source: SourceReport,
    pub error: Option<ErrorReport>,
    pub request_in: JsonRequest,
    pub request_out: JsonRequest,
    pub changes: Vec<Change>,
    pub log: Vec<String>,
    pub instructions: u64,
    pub forks: u32,
    pub pages_written: usize,
    /// Making forks plus running tenant code, by the page's clock.
    pub tenant_micros: f64,
    pub hash: String,
}

/// Runs `request` through `tenant` as every host would, with the echo origin behind it.
pub fn run(tenant: &Arc<Tenant>, request: &JsonRequest, clock: fn() -> u64) -> RunReport {
    let request_in = request.to_http();
    let outcome = exchange(tenant, request_in.clone(), &mut EchoOrigin, clock);
    let (response, source, error) = match &outcome.result {
        Ok((response, source)) => {
            let source = match source {
                Source::Synthesized => SourceReport::Synthesized,
                Source::Forged => {
                    let cache = outcome.cache.unwrap_or(CacheDecision::UNCACHEABLE);
                    SourceReport::Forged {
                        cached: cache.cacheable,
                        ttl_seconds: cache.ttl_seconds,
                    }
                }
                Source::Backend { name } => SourceReport::Backend { name: name.clone() },
            };
            (response.clone(), source, None)
        }
        Err(error) => (
            error_response(error),
            SourceReport::Error,
            Some(ErrorReport::new(error)),
        ),
    };
    let stats = outcome.stats;
    RunReport {
        status: response.status,
        headers: response.headers,
        body: String::from_utf8_lossy(&response.body).into_owned(),
        source,
        error,
        changes: request_changes(&request_in, &outcome.request),
        request_in: JsonRequest::from_http(&request_in),
        request_out: JsonRequest::from_http(&outcome.request),
        log: outcome.log,
        instructions: stats.instructions,
        forks: stats.forks,
        pages_written: stats.pages_written,
        tenant_micros: (stats.fork_nanos + stats.call_nanos) as f64 / 1000.0,
        hash: String::from_utf8_lossy(&outcome.hash).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: &str, url: &str, headers: &[(&str, &str)]) -> HttpRequest {
        HttpRequest {
            method: method.into(),
            url: url.into(),
            headers: headers
                .iter()
                .map(|(name, value)| (name.to_string(), value.to_string()))
                .collect(),
            body: Vec::new(),
        }
    }

    #[test]
    fn changes_name_method_url_and_each_header_by_lower_case_name() {
        let before = request("GET", "/a", &[("Cookie", "x=1"), ("X-Keep", "1")]);
        let after = request(
            "POST",
            "/b",
            &[("x-keep", "1"), ("X-Added", "2"), ("x-added", "3")],
        );
        let changes = request_changes(&before, &after);
        let summary: Vec<String> = changes
            .into_iter()
            .map(|change| {
                format!(
                    "{} {} {:?} -> {:?}",
                    change.field,
                    change.name.unwrap_or_default(),
                    change.before,
                    change.after
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                r#"method  Some("GET") -> Some("POST")"#,
                r#"url  Some("/a") -> Some("/b")"#,
                r#"header cookie Some("x=1") -> None"#,
                r#"header x-added None -> Some("2, 3")"#,
            ]
        );
    }

    #[test]
    fn an_unchanged_request_has_no_changes() {
        let same = request("GET", "/", &[("Host", "a")]);
        assert_eq!(request_changes(&same, &same), Vec::new());
    }

    #[test]
    fn every_error_kind_is_explained_in_a_sentence_that_names_it() {
        for kind in ErrorKind::ALL {
            let sentence = explain(*kind);
            assert!(sentence.ends_with('.'), "{kind}: {sentence}");
            let first_word = kind.name().split('_').next().unwrap();
            assert!(
                sentence.to_ascii_lowercase().contains(first_word)
                    || matches!(kind, ErrorKind::Fault | ErrorKind::Crashed),
                "{kind}: {sentence}"
            );
        }
    }
}

//! HTTP messages as the runtime keeps them in memory, and the answer every host gives for a
//! failed request.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::calls::Response;
use super::tenant::RequestError;

/// An HTTP request: method, URL (path and query), headers in order, body.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// A request as JSON describes it (the playground's page, the conformance table): `method`
/// (GET when absent), `url`, `headers` as `[name, value]` pairs in order, `body` as text; any
/// other field is an error.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct JsonRequest {
    #[serde(default = "get")]
    pub method: String,
    pub url: String,
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    #[serde(default)]
    pub body: String,
}

fn get() -> String {
    "GET".into()
}

impl JsonRequest {
    pub fn from_json(json: &str) -> Result<JsonRequest, String> {
        serde_json::from_str(json).map_err(|error| format!("request: {error}"))
    }

    pub fn to_http(&self) -> HttpRequest {
        HttpRequest {
            method: self.method.clone(),
            url: self.url.clone(),
            headers: self.headers.clone(),
            body: self.body.clone().into_bytes(),
        }
    }

    /// A body that is not UTF-8 shows with replacement characters.
    pub fn from_http(request: &HttpRequest) -> JsonRequest {
        JsonRequest {
            method: request.method.clone(),
            url: request.url.clone(),
            headers: request.headers.clone(),
            body: String::from_utf8_lossy(&request.body).into_owned(),
        }
    }
}

/// An HTTP response. Responses the runtime makes carry no framing headers
/// (`content-length`, `transfer-encoding`): framing is the host's.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The HTTP form of a response a tenant built with `respond`.
    pub fn from_tenant(response: Response) -> HttpResponse {
        HttpResponse {
            status: response.status,
            headers: vec![("content-type".into(), response.content_type)],
            body: response.body,
        }
    }

    /// First value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.header_value(name)
    }
}

/// Header lists in memory, with the `Host` semantics of each operation; names compare
/// case-insensitively.
pub trait HeaderList {
    fn header_value(&self, name: &str) -> Option<&str>;
    /// Replaces every `name` header with one `name: value`.
    fn set_header(&mut self, name: &str, value: &str);
    /// Removes every `name` header; returns how many.
    fn unset_header(&mut self, name: &str) -> usize;
    /// The `index`th header, borrowed.
    fn header_at(&self, index: usize) -> Option<(Cow<'_, str>, Cow<'_, str>)>;
}

impl HeaderList for Vec<(String, String)> {
    fn header_value(&self, name: &str) -> Option<&str> {
        self.iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    fn set_header(&mut self, name: &str, value: &str) {
        self.unset_header(name);
        self.push((name.into(), value.into()));
    }

    fn unset_header(&mut self, name: &str) -> usize {
        let before = self.len();
        self.retain(|(key, _)| !key.eq_ignore_ascii_case(name));
        before - self.len()
    }

    fn header_at(&self, index: usize) -> Option<(Cow<'_, str>, Cow<'_, str>)> {
        self.get(index)
            .map(|(name, value)| (Cow::Borrowed(name.as_str()), Cow::Borrowed(value.as_str())))
    }
}

/// Header naming the error kind on a host's answer to a failed request.
pub const ERROR_HEADER: &str = "x-rvedge-error";

/// The `Vary` value that also names `header`, given a response's `existing` one; `None` when it
/// already does (or is `*`). Hosts make what tenants answer vary on the header that chose the
/// tenant, so a cache keyed on the URL keeps each tenant's answers apart.
pub fn vary_adding(existing: Option<&str>, header: &str) -> Option<String> {
    let existing = existing.map(str::trim).unwrap_or_default();
    let named = |name: &str| name.trim() == "*" || name.trim().eq_ignore_ascii_case(header);
    if existing.split(',').any(named) {
        None
    } else if existing.is_empty() {
        Some(header.to_string())
    } else {
        Some(format!("{existing}, {header}"))
    }
}

/// What every host answers when a tenant fails a request: 503, the error kind in
/// [`ERROR_HEADER`], a short body. The details go to the host's log, not to the client.
pub fn error_response(error: &RequestError) -> HttpResponse {
    let body = format!("tenant error: {}\n", error.kind).into_bytes();
    HttpResponse {
        status: 503,
        headers: vec![
            ("content-type".into(), "text/plain".into()),
            (ERROR_HEADER.into(), error.kind.name().into()),
        ],
        body,
    }
}

#[cfg(test)]
mod tests {
    use super::{vary_adding, HttpRequest, JsonRequest};

    #[test]
    fn json_requests_parse_with_defaults_reject_unknown_fields_and_come_back_as_written() {
        let parsed = JsonRequest::from_json(r#"{"url": "/x"}"#).unwrap();
        assert_eq!(parsed.method, "GET");
        assert!(JsonRequest::from_json(r#"{"url": "/x", "verb": "PUT"}"#)
            .unwrap_err()
            .contains("verb"));
        let request = JsonRequest::from_json(
            r#"{"method": "POST", "url": "/y", "headers": [["A", "1"], ["a", "2"]], "body": "hi"}"#,
        )
        .unwrap();
        let http = request.to_http();
        assert_eq!(
            http.headers,
            [("A".into(), "1".into()), ("a".into(), "2".into())]
        );
        assert_eq!(http.body, b"hi");
        assert_eq!(JsonRequest::from_http(&http), request);
        let binary = HttpRequest {
            body: vec![0xff, b'!'],
            ..http
        };
        assert_eq!(JsonRequest::from_http(&binary).body, "\u{fffd}!");
    }

    #[test]
    fn vary_gains_the_header_once() {
        assert_eq!(vary_adding(None, "x-tenant").as_deref(), Some("x-tenant"));
        assert_eq!(
            vary_adding(Some(" "), "x-tenant").as_deref(),
            Some("x-tenant")
        );
        assert_eq!(
            vary_adding(Some("Accept-Encoding"), "x-tenant").as_deref(),
            Some("Accept-Encoding, x-tenant")
        );
        assert_eq!(vary_adding(Some("accept, X-Tenant"), "x-tenant"), None);
        assert_eq!(vary_adding(Some("*"), "x-tenant"), None);
    }
}

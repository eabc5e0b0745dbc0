//! The JSON the plugin reads and writes; `schema.json` describes the same shapes, and the
//! Extism host tests validate real inputs and outputs against it.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use serde::{Deserialize, Serialize};

/// Headers in order, as `[name, value]` pairs: order and repeated names survive.
pub type Headers = Vec<(String, String)>;

/// The Extism config key holding the configuration (a `rvedge::runtime::TenantBundle`) as JSON
/// text; `configure` takes the same JSON.
pub const CONFIG_KEY: &str = "rvedge";

/// Input of `vcl_recv`: the client request and the tenant that handles it.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RecvInput {
    pub tenant: String,
    #[serde(default = "get")]
    pub method: String,
    pub url: String,
    #[serde(default)]
    pub headers: Headers,
    /// The request body as text; binary bodies go in `body_base64` instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_base64: Option<String>,
    /// At least 32 bytes, base64, that the proxy drew from its CSPRNG for this request: the
    /// tenant's `getrandom` bytes come from them. Without it tenants get the fixed sequence
    /// (Extism gives plugins no randomness of their own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub random: Option<String>,
}

fn get() -> String {
    "GET".into()
}

/// Input of `vcl_backend_response`: what the origin answered to a request `vcl_recv` passed
/// on with `continue`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BackendResponseInput {
    /// The `request_id` of the `continue` output.
    pub request_id: u64,
    /// The tenant named in `vcl_recv`; checked against the request, so a proxy that mixes up
    /// ids gets an error instead of another request's response.
    pub tenant: String,
    pub response: Message,
}

/// A response (or, in outputs, any message): status, headers in order, body.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Message {
    pub status: u16,
    #[serde(default)]
    pub headers: Headers,
    /// UTF-8 bodies as text; any other body is in `body_base64`. At most one of the two.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_base64: Option<String>,
}

/// The request a `continue` output asks the proxy to send to the origin. Its body is the
/// client's, unchanged (tenants cannot replace bodies).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ForwardRequest {
    pub method: String,
    pub url: String,
    /// The complete header list to send, after the tenant's changes.
    pub headers: Headers,
}

/// What a hook tells the proxy to do next.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum Output {
    /// Send `request` to the origin's `backend`, then call `vcl_backend_response` with
    /// `request_id` and the origin's answer.
    Continue {
        request_id: u64,
        tenant: String,
        backend: String,
        request: ForwardRequest,
        /// Hex of what `hash_add` added to the cache key ("" if nothing).
        hash: String,
        logs: Vec<String>,
    },
    /// Answer the client with `response`. A tenant failure is a `respond` too: 503 with the
    /// error kind in `x-rvedge-error`, and `error` says what happened.
    Respond {
        tenant: String,
        response: Message,
        source: ResponseSource,
        /// The tenant asked for this response to be cached for `ttl` seconds.
        cacheable: bool,
        ttl: u64,
        hash: String,
        logs: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<ErrorReport>,
    },
    /// `configure` (or the first call with an Extism config) loaded these tenants.
    Configured { tenants: Vec<String> },
    /// The call itself was wrong (malformed JSON, unknown tenant or request id, no or bad
    /// configuration): there is no response to give; the proxy decides what to answer.
    Error { error: ErrorReport },
}

/// Where a `respond` output's response came from.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ResponseSource {
    /// `respond` in `on_recv`: never cached.
    Synthesized,
    /// A forge callback: cacheable if the tenant said so.
    Forged,
    /// The origin's response given to `vcl_backend_response`.
    Backend,
    /// The tenant failed; the response is the 503 every host gives.
    Error,
}

/// What went wrong. `kind` is a tenant error kind of `docs/abi.md` (`timeout`,
/// `memory_limit`, …) or one of the plugin's own: `bad_input`, `unknown_tenant`,
/// `unknown_request`, `not_configured`, `bad_config`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ErrorReport {
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// The hook or callback that was running, for tenant errors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub during: Option<String>,
    pub detail: String,
}

/// Error kinds of the plugin itself (tenant error kinds are the runtime's).
pub mod error_kind {
    pub const BAD_INPUT: &str = "bad_input";
    pub const UNKNOWN_TENANT: &str = "unknown_tenant";
    pub const UNKNOWN_REQUEST: &str = "unknown_request";
    pub const NOT_CONFIGURED: &str = "not_configured";
    pub const BAD_CONFIG: &str = "bad_config";
}

/// A body from its two JSON forms; giving both is an error.
pub fn decode_body(text: Option<&str>, base64: Option<&str>) -> Result<Vec<u8>, String> {
    match (text, base64) {
        (Some(_), Some(_)) => Err("give either body or body_base64, not both".into()),
        (Some(text), None) => Ok(text.as_bytes().to_vec()),
        (None, Some(encoded)) => BASE64
            .decode(encoded)
            .map_err(|error| format!("body_base64: {error}")),
        (None, None) => Ok(Vec::new()),
    }
}

/// `(body, body_base64)` for `bytes`: text when it is UTF-8.
pub fn encode_body(bytes: Vec<u8>) -> (Option<String>, Option<String>) {
    match String::from_utf8(bytes) {
        Ok(text) => (Some(text), None),
        Err(error) => (None, Some(BASE64.encode(error.as_bytes()))),
    }
}

impl Message {
    pub fn new(status: u16, headers: Headers, body: Vec<u8>) -> Message {
        let (body, body_base64) = encode_body(body);
        Message {
            status,
            headers,
            body,
            body_base64,
        }
    }

    /// The body's bytes, whichever form it came in.
    pub fn body_bytes(&self) -> Result<Vec<u8>, String> {
        decode_body(self.body.as_deref(), self.body_base64.as_deref())
    }
}

/// Lower-case hex, for cache-key data.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_round_trip_as_text_or_base64() {
        let (text, encoded) = encode_body(b"hello".to_vec());
        assert_eq!((text.as_deref(), encoded.as_deref()), (Some("hello"), None));
        let (text, encoded) = encode_body(vec![0xff, 0x00]);
        assert_eq!((text.as_deref(), encoded.as_deref()), (None, Some("/wA=")));
        assert_eq!(decode_body(None, Some("/wA=")), Ok(vec![0xff, 0x00]));
        assert!(decode_body(Some("a"), Some("YQ==")).is_err());
        assert!(decode_body(None, Some("not base64!")).is_err());
    }

    #[test]
    fn outputs_are_tagged_by_action() {
        let output = Output::Error {
            error: ErrorReport {
                kind: error_kind::BAD_INPUT.into(),
                tenant: None,
                during: None,
                detail: "x".into(),
            },
        };
        let json = serde_json::to_value(&output).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"action": "error", "error": {"kind": "bad_input", "detail": "x"}})
        );
    }
}

//! The `Host` trait: what a proxy (Varnish, a proxy-wasm host, the playground, the in-memory
//! host of tests and the CLI) lends a tenant during a request.

use std::borrow::Cow;

use super::abi::{errno, HeaderSet};

/// Why the host refused a call; the guest receives it as `-errno`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostError {
    /// Not available in this hook, e.g. a header set the current phase does not have.
    NotAllowed,
    /// No such header, value or index.
    NotFound,
    /// Larger than the host accepts.
    TooBig,
    /// A value the host rejects (bad header name, bad status, …).
    Invalid,
}

impl HostError {
    pub fn errno(self) -> i64 {
        match self {
            HostError::NotAllowed => errno::EPERM,
            HostError::NotFound => errno::ENOENT,
            HostError::TooBig => errno::E2BIG,
            HostError::Invalid => errno::EINVAL,
        }
    }
}

pub type HostResult<T> = Result<T, HostError>;

/// One method per capability. Header sets that a host does not have in the current phase
/// answer `HostError::NotAllowed`, which is also every method's default, so a host implements
/// what it offers. Values are returned as `Cow` so hosts that keep headers in their own memory
/// lend them, and hosts that must copy (proxy-wasm) can.
pub trait Host {
    /// First value of header `name` (case-insensitive).
    fn header(&mut self, _set: HeaderSet, _name: &str) -> HostResult<Option<Cow<'_, str>>> {
        Err(HostError::NotAllowed)
    }
    /// Replaces every header `name` with one `name: value`.
    fn set_header(&mut self, _set: HeaderSet, _name: &str, _value: &str) -> HostResult<()> {
        Err(HostError::NotAllowed)
    }
    /// Adds `name: value`, keeping existing ones.
    fn append_header(&mut self, _set: HeaderSet, _name: &str, _value: &str) -> HostResult<()> {
        Err(HostError::NotAllowed)
    }
    /// Removes every header `name`; returns how many.
    fn unset_header(&mut self, _set: HeaderSet, _name: &str) -> HostResult<usize> {
        Err(HostError::NotAllowed)
    }
    fn header_count(&mut self, _set: HeaderSet) -> HostResult<usize> {
        Err(HostError::NotAllowed)
    }
    /// The `index`th header as (name, value).
    fn header_at(
        &mut self,
        _set: HeaderSet,
        _index: usize,
    ) -> HostResult<Option<(Cow<'_, str>, Cow<'_, str>)>> {
        Err(HostError::NotAllowed)
    }

    fn url(&mut self, _set: HeaderSet) -> HostResult<Cow<'_, str>> {
        Err(HostError::NotAllowed)
    }
    fn set_url(&mut self, _set: HeaderSet, _url: &str) -> HostResult<()> {
        Err(HostError::NotAllowed)
    }
    fn method(&mut self, _set: HeaderSet) -> HostResult<Cow<'_, str>> {
        Err(HostError::NotAllowed)
    }
    fn set_method(&mut self, _set: HeaderSet, _method: &str) -> HostResult<()> {
        Err(HostError::NotAllowed)
    }
    fn status(&mut self, _set: HeaderSet) -> HostResult<u16> {
        Err(HostError::NotAllowed)
    }
    fn set_status(&mut self, _set: HeaderSet, _status: u16) -> HostResult<()> {
        Err(HostError::NotAllowed)
    }

    /// The client request's body. Hosts that stream bodies buffer it first.
    fn request_body(&mut self) -> HostResult<Cow<'_, [u8]>> {
        Err(HostError::NotAllowed)
    }

    /// Sends the request to the host's backend called `name`: `NotFound` if the host has no
    /// such backend for this tenant.
    fn set_backend(&mut self, _name: &str) -> HostResult<()> {
        Err(HostError::NotAllowed)
    }

    /// The backend side starts: the backend request (`bereq`) is the client request as the
    /// client side left it. Hosts whose proxy makes the backend request itself (Varnish) need
    /// nothing here; an in-memory host copies, a proxy-wasm stream keeps what later hooks may
    /// read of the client request.
    fn begin_backend_request(&mut self) {}
    /// Invalidates cached objects of this tenant that match a Varnish-style ban `expression`
    /// (`ban`): hosts with a cache keep the tenant to its own objects; hosts without one
    /// refuse (`NotAllowed`, the default).
    fn ban(&mut self, _expression: &str) -> HostResult<()> {
        Err(HostError::NotAllowed)
    }
    /// A line for the host's log, from `log` or the tenant's stdout/stderr; the runtime passes
    /// at most [`MAX_LOG_LINES`](super::usage::MAX_LOG_LINES) lines per fork.
    fn log(&mut self, message: &str);
}

/// Header names are RFC 9110 tokens.
pub fn is_valid_header_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|byte| TOKEN_BYTES[usize::from(byte)])
}

/// The bytes of RFC 9110 tokens, by value: a tenant call checks every byte of a name, and a
/// table look-up is one load where a search of the punctuation list was a `memchr` call.
static TOKEN_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte: u8 = 0;
    loop {
        table[byte as usize] = byte.is_ascii_alphanumeric();
        if byte == u8::MAX {
            break;
        }
        byte += 1;
    }
    let punctuation = b"!#$%&'*+-.^_`|~";
    let mut index = 0;
    while index < punctuation.len() {
        table[punctuation[index] as usize] = true;
        index += 1;
    }
    table
};

/// Header values may not carry line breaks or NUL (header injection).
pub fn is_valid_header_value(value: &str) -> bool {
    !has_byte(value, |byte| matches!(byte, b'\r' | b'\n' | 0))
}

/// URLs a tenant sets have no spaces or control characters.
pub fn is_valid_url(url: &str) -> bool {
    url.starts_with('/') && !has_byte(url, |byte| byte <= b' ' || byte == 0x7f)
}

/// Whether any byte of `text` passes `test`. Every byte is looked at (no early exit), which
/// the compiler turns into a loop over many bytes at a time: these run on every header and
/// URL a tenant sets.
fn has_byte(text: &str, test: impl Fn(u8) -> bool) -> bool {
    text.bytes().fold(false, |found, byte| found | test(byte))
}

/// Whether a tenant may set, append or remove header `name` (any case). The proxy owns the
/// rest: the request's authority (`Host`, pseudo-headers such as `:authority` and `:path`),
/// message framing and hop-by-hop headers, and the headers by which proxies and rvedge
/// itself route and mark requests (`x-rvedge-*`, `x-envoy-*`).
pub fn is_tenant_writable_header(name: &str) -> bool {
    // This runs on every header a tenant writes, and in a proxy it runs cold: one branch on
    // the first letter picks the few names and prefixes to compare, in place (a loop over
    // all of them ran through 12 cache lines of code).
    let Some(first) = name.bytes().next() else {
        return true;
    };
    // Each comparison is with a constant, which the compiler unrolls.
    let is = |reserved: &str| name.eq_ignore_ascii_case(reserved);
    let starts_with = |prefix: &str| {
        name.get(..prefix.len())
            .is_some_and(|start| start.eq_ignore_ascii_case(prefix))
    };
    let reserved = match first.to_ascii_lowercase() {
        b':' => true,
        b'c' => is("connection") || is("content-length"),
        b'h' => is("host"),
        b'k' => is("keep-alive"),
        b'p' => starts_with("proxy-"),
        b't' => is("te") || is("trailer") || is("transfer-encoding"),
        b'u' => is("upgrade"),
        b'x' => starts_with("x-rvedge-") || starts_with("x-envoy-"),
        _ => false,
    };
    !reserved
}

#[cfg(test)]
mod tests {
    use super::{
        is_tenant_writable_header, is_valid_header_name, is_valid_header_value, is_valid_url,
    };

    #[test]
    fn urls_start_with_a_slash_and_have_no_spaces_or_control_characters() {
        for byte in 0..=u8::MAX {
            let url = [b'/', b'a', byte, b'b'];
            let Ok(url) = std::str::from_utf8(&url) else {
                continue;
            };
            let expected = byte > b' ' && byte != 0x7f;
            assert_eq!(is_valid_url(url), expected, "byte {byte:#04x}");
        }
        assert!(is_valid_url("/path?q=é"));
        assert!(!is_valid_url("path"));
        assert!(!is_valid_url(""));
    }

    #[test]
    fn header_names_are_tokens_and_values_have_no_line_breaks_or_nul() {
        // RFC 9110's tchar, spelled out, against the table for every byte.
        let tchar = |byte: u8| byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte);
        for byte in 0..=u8::MAX {
            let name = [b'x', byte, b'y'];
            let valid = std::str::from_utf8(&name).is_ok_and(is_valid_header_name);
            assert_eq!(valid, tchar(byte), "byte {byte:#04x} in a name");
        }
        assert!(!is_valid_header_name(""));
        assert!(is_valid_header_name("X-Hello_1"));
        for value in [
            "a\rb",
            "a\nb",
            "a\0b",
            "\n",
            "long value before the break\r",
        ] {
            assert!(!is_valid_header_value(value), "{value:?}");
        }
        for value in ["", "plain", "tab\tand é", "\u{7f}"] {
            assert!(is_valid_header_value(value), "{value:?}");
        }
    }

    #[test]
    fn reserved_headers_and_prefixes_are_not_writable_in_any_case() {
        let reserved = [
            "host",
            "content-length",
            "transfer-encoding",
            "connection",
            "keep-alive",
            "upgrade",
            "te",
            "trailer",
            ":authority",
            ":",
            "proxy-authorization",
            "proxy-",
            "x-rvedge-tenant",
            "x-envoy-upstream",
        ];
        for name in reserved {
            for name in [name.to_string(), name.to_ascii_uppercase()] {
                assert!(!is_tenant_writable_header(&name), "{name}");
            }
        }
        assert!(!is_tenant_writable_header("Transfer-Encoding"));
        for name in [
            "X-Hello",
            "Hostname",
            "Tea",
            "X-Proxy-Id",
            "x-rvedge",
            "proxy",
            "connections",
            "upgrades",
            "trailers",
            "keep-alive-x",
            "content-type",
            "é-name",
            "",
        ] {
            assert!(is_tenant_writable_header(name), "{name}");
        }
    }
}

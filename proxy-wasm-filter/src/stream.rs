//! The proxy's HTTP stream as the filter sees it ([`Stream`]: proxy-wasm hostcalls in the
//! filter), and the runtime's [`Host`] over it, so tenant calls read and change the real
//! stream's headers.

use std::borrow::Cow;

use rvedge::runtime::abi::HeaderSet;
use rvedge::runtime::{Host, HostError, HostResult};

/// The header map of one side of the stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Message {
    Request,
    Response,
}

/// One header of a stream's map, with a hash of its name: a lookup compares names only where
/// the hashes agree, so finding that a map of many headers lacks a name costs a pass over
/// integers, not a string comparison per header (which a tenant looping on such lookups made
/// 4x as slow as its budget's worth of instructions in Envoy).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub name: String,
    pub value: String,
    name_hash: u64,
}

impl Header {
    pub fn new(name: String, value: String) -> Header {
        let name_hash = name_hash(&name);
        Header {
            name,
            value,
            name_hash,
        }
    }

    /// Whether this is a `name` header, given `hash`, the [`name_hash`] of `name`.
    pub fn is(&self, name: &str, hash: u64) -> bool {
        self.name_hash == hash && self.name == name
    }
}

/// FNV-1a of a header name.
pub fn name_hash(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// How loud a log line is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogLevel {
    Debug,
    Info,
    Warn,
    Error,
}

/// The proxy's side of one HTTP stream: header maps with Envoy's semantics (lower-case names,
/// pseudo-headers `:method`, `:path`, `:authority`, `:status` in the same map), the buffered
/// request body, local replies, the log and the clock. Failures are values, never traps.
pub trait Stream {
    /// Every header of `message`, pseudo-headers included, in order.
    fn headers(&mut self, message: Message) -> HostResult<&[Header]>;
    /// First value of `name` (lower case).
    fn header(&mut self, message: Message, name: &str) -> HostResult<Option<String>>;
    /// Replaces every `name` header with one `name: value`, or removes them all with `None`.
    fn set_header(&mut self, message: Message, name: &str, value: Option<&str>) -> HostResult<()>;
    /// Adds one more `name: value`.
    fn add_header(&mut self, message: Message, name: &str, value: &str) -> HostResult<()>;
    /// The request body buffered so far, up to `size` bytes.
    fn request_body(&self, size: usize) -> Vec<u8>;
    /// Answers the client with a local reply instead of the upstream's response.
    fn send_response(&mut self, status: u16, headers: &[(String, String)], body: &[u8]);
    fn log(&self, level: LogLevel, message: &str);
    /// Monotonic-enough nanoseconds, for the optional tenant timing.
    fn now_nanos(&self) -> u64;
}

/// Log lines a request may write; later ones are dropped so a chatty tenant cannot flood the
/// proxy's log.
pub const MAX_LOG_LINES_PER_REQUEST: u32 = 200;

/// The runtime's `Host` during one of the stream's callbacks: requests (`req`, `bereq`) are
/// the stream's request headers, responses (`resp`, `beresp`) the stream's response headers
/// once the upstream answered. The runtime checks which sets a hook may use and keeps the
/// responses a tenant makes itself, so this only maps sets to the stream.
pub struct StreamHost<'a> {
    pub stream: &'a mut dyn Stream,
    /// Whether the upstream's response headers have arrived.
    pub has_response: bool,
    pub tenant: &'a str,
    /// The whole client request body, or `None` where the filter does not have it: before it
    /// is buffered, and for a backend side that had to run before the body arrived.
    pub body: Option<&'a [u8]>,
    pub log_lines: &'a mut u32,
}

impl std::fmt::Debug for StreamHost<'_> {
    fn fmt(&self, out: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        out.debug_struct("StreamHost")
            .field("tenant", &self.tenant)
            .field("has_response", &self.has_response)
            .finish_non_exhaustive()
    }
}

fn is_pseudo_header(name: &str) -> bool {
    name.starts_with(':')
}

impl StreamHost<'_> {
    /// The stream's message a header set is.
    fn target(&self, set: HeaderSet) -> HostResult<Message> {
        match set {
            HeaderSet::Request | HeaderSet::BackendRequest => Ok(Message::Request),
            HeaderSet::Response | HeaderSet::BackendResponse if self.has_response => {
                Ok(Message::Response)
            }
            HeaderSet::Response | HeaderSet::BackendResponse => Err(HostError::NotAllowed),
        }
    }

    /// Tenant-visible headers of a stream map: pseudo-headers are URL, method and status,
    /// which have calls of their own, so header lists leave them out as other hosts do.
    fn visible_headers(&mut self, message: Message) -> HostResult<impl Iterator<Item = &Header>> {
        let headers = self.stream.headers(message)?;
        Ok(headers
            .iter()
            .filter(|header| !is_pseudo_header(&header.name)))
    }

    fn request_pseudo_header(&mut self, set: HeaderSet, name: &str) -> HostResult<String> {
        if !matches!(set, HeaderSet::Request | HeaderSet::BackendRequest) {
            return Err(HostError::NotAllowed);
        }
        Ok(self
            .stream
            .header(Message::Request, name)?
            .unwrap_or_default())
    }

    fn set_request_pseudo_header(
        &mut self,
        set: HeaderSet,
        name: &str,
        value: &str,
    ) -> HostResult<()> {
        if !matches!(set, HeaderSet::Request | HeaderSet::BackendRequest) {
            return Err(HostError::NotAllowed);
        }
        self.stream.set_header(Message::Request, name, Some(value))
    }
}

impl Host for StreamHost<'_> {
    fn header(&mut self, set: HeaderSet, name: &str) -> HostResult<Option<Cow<'_, str>>> {
        let message = self.target(set)?;
        let name = name.to_ascii_lowercase();
        Ok(self.stream.header(message, &name)?.map(Cow::Owned))
    }

    fn set_header(&mut self, set: HeaderSet, name: &str, value: &str) -> HostResult<()> {
        let message = self.target(set)?;
        let name = name.to_ascii_lowercase();
        self.stream.set_header(message, &name, Some(value))
    }

    fn append_header(&mut self, set: HeaderSet, name: &str, value: &str) -> HostResult<()> {
        let message = self.target(set)?;
        let name = name.to_ascii_lowercase();
        self.stream.add_header(message, &name, value)
    }

    fn unset_header(&mut self, set: HeaderSet, name: &str) -> HostResult<usize> {
        let message = self.target(set)?;
        let name = name.to_ascii_lowercase();
        // Usually the header is not there: one lookup says so without fetching and decoding
        // the whole map.
        if self.stream.header(message, &name)?.is_none() {
            return Ok(0);
        }
        let hash = name_hash(&name);
        let present = self
            .stream
            .headers(message)?
            .iter()
            .filter(|header| header.is(&name, hash))
            .count();
        if present > 0 {
            self.stream.set_header(message, &name, None)?;
        }
        Ok(present)
    }

    fn header_count(&mut self, set: HeaderSet) -> HostResult<usize> {
        let message = self.target(set)?;
        Ok(self.visible_headers(message)?.count())
    }

    fn header_at(
        &mut self,
        set: HeaderSet,
        index: usize,
    ) -> HostResult<Option<(Cow<'_, str>, Cow<'_, str>)>> {
        let message = self.target(set)?;
        let entry = self.visible_headers(message)?.nth(index);
        Ok(entry.map(|header| (Cow::Borrowed(&*header.name), Cow::Borrowed(&*header.value))))
    }

    fn url(&mut self, set: HeaderSet) -> HostResult<Cow<'_, str>> {
        self.request_pseudo_header(set, ":path").map(Cow::Owned)
    }

    fn set_url(&mut self, set: HeaderSet, url: &str) -> HostResult<()> {
        self.set_request_pseudo_header(set, ":path", url)
    }

    fn method(&mut self, set: HeaderSet) -> HostResult<Cow<'_, str>> {
        self.request_pseudo_header(set, ":method").map(Cow::Owned)
    }

    fn set_method(&mut self, set: HeaderSet, method: &str) -> HostResult<()> {
        self.set_request_pseudo_header(set, ":method", method)
    }

    fn status(&mut self, set: HeaderSet) -> HostResult<u16> {
        if self.target(set)? != Message::Response {
            return Err(HostError::NotAllowed);
        }
        self.stream
            .header(Message::Response, ":status")?
            .and_then(|status| status.parse().ok())
            .ok_or(HostError::NotFound)
    }

    fn set_status(&mut self, set: HeaderSet, status: u16) -> HostResult<()> {
        if self.target(set)? != Message::Response {
            return Err(HostError::NotAllowed);
        }
        let status = status.to_string();
        self.stream
            .set_header(Message::Response, ":status", Some(&status))
    }

    fn request_body(&mut self) -> HostResult<Cow<'_, [u8]>> {
        self.body.map(Cow::Borrowed).ok_or(HostError::NotAllowed)
    }

    fn set_backend(&mut self, _name: &str) -> HostResult<()> {
        // Any name: the proxy routes on it (`BACKEND_HEADER`).
        Ok(())
    }

    fn log(&mut self, message: &str) {
        *self.log_lines += 1;
        if *self.log_lines <= MAX_LOG_LINES_PER_REQUEST {
            self.stream.log(
                LogLevel::Info,
                &format!("rvedge tenant \"{}\": {message}", self.tenant),
            );
        }
    }
}

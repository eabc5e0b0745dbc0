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

/// A header map's headers packed into one text: each header is its name's and value's place
/// in it, with a hash of its name. A map fetched from the proxy becomes one without a
/// `String` per name and value (in wasm an allocation costs about as much as a tenant call's
/// hostcall), and a lookup compares names only where the hashes agree, scanning the hashes as
/// one dense array, so finding that a map of many headers lacks a name costs a pass over
/// integers, not a string comparison per header (which a tenant looping on such lookups made
/// 4x as slow as its budget's worth of instructions in Envoy).
#[derive(Clone, Debug, Default)]
pub struct PackedHeaders {
    text: String,
    /// Each header's place in `text`: name start, name end, value start, value end.
    spans: Vec<[usize; 4]>,
    /// Each header's [`name_hash`], in the order of `spans`.
    name_hashes: Vec<u64>,
    /// Bytes of `text` no header uses any more: removed and replaced headers.
    unused: usize,
}

/// Below this many unused bytes a packed map is not compacted: small maps are not rebuilt for
/// a few bytes.
const COMPACT_MIN_UNUSED: usize = 4096;

impl PackedHeaders {
    /// The headers at `spans` of `text` (name start, name end, value start, value end each).
    /// A span that is out of `text` or not on character boundaries reads as empty.
    pub fn from_spans(text: String, spans: Vec<[usize; 4]>) -> PackedHeaders {
        let name_hashes = spans
            .iter()
            .map(|&[start, end, ..]| name_hash(text.get(start..end).unwrap_or_default()))
            .collect();
        PackedHeaders {
            text,
            spans,
            name_hashes,
            unused: 0,
        }
    }

    fn text(&self, start: usize, end: usize) -> &str {
        self.text.get(start..end).unwrap_or_default()
    }

    fn header(&self, &[name_start, name_end, value_start, value_end]: &[usize; 4]) -> (&str, &str) {
        (
            self.text(name_start, name_end),
            self.text(value_start, value_end),
        )
    }

    /// Every header in order, as (name, value).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.spans.iter().map(|span| self.header(span))
    }

    /// Whether the header at `place` is a `name` header; `hash` is the [`name_hash`] of
    /// `name`, compared first.
    fn is_named(&self, place: usize, name: &str, hash: u64) -> bool {
        let [name_start, name_end, ..] = self.spans[place];
        self.name_hashes[place] == hash && self.text(name_start, name_end) == name
    }

    /// The place of the first `name` header at or after `from`; `hash` is its [`name_hash`].
    /// The hashes are scanned on their own: a loop over one array of integers, which wasm
    /// compilers keep in registers (with the spans alongside, Cranelift spilled on every
    /// header).
    fn find(&self, name: &str, hash: u64, mut from: usize) -> Option<usize> {
        loop {
            let rest = self.name_hashes.get(from..)?;
            let place = from + rest.iter().position(|&other| other == hash)?;
            if self.is_named(place, name, hash) {
                return Some(place);
            }
            from = place + 1;
        }
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        let place = self.find(name, name_hash(name), 0)?;
        Some(self.header(&self.spans[place]).1)
    }

    /// How many `name` headers there are.
    pub fn count(&self, name: &str) -> usize {
        let hash = name_hash(name);
        let mut count = 0;
        let mut from = 0;
        while let Some(place) = self.find(name, hash, from) {
            count += 1;
            from = place + 1;
        }
        count
    }

    /// The spans of the headers that are not pseudo-headers (`:path`, `:status`...): header
    /// lists leave those out, as they have calls of their own. Told by their first byte, so
    /// walking past many headers slices none of them.
    fn regular_spans(&self) -> impl Iterator<Item = &[usize; 4]> + '_ {
        self.spans
            .iter()
            .filter(|&&[name_start, ..]| self.text.as_bytes().get(name_start) != Some(&b':'))
    }

    /// How many headers are not pseudo-headers.
    pub fn regular_count(&self) -> usize {
        self.regular_spans().count()
    }

    /// The `index`th header that is not a pseudo-header, as (name, value).
    pub fn regular_at(&self, index: usize) -> Option<(&str, &str)> {
        let span = self.regular_spans().nth(index)?;
        Some(self.header(span))
    }

    /// Adds `name: value` at the end.
    pub fn push(&mut self, name: &str, value: &str) {
        let name_start = self.text.len();
        self.text.push_str(name);
        let value_start = self.text.len();
        self.text.push_str(value);
        self.spans
            .push([name_start, value_start, value_start, self.text.len()]);
        self.name_hashes.push(name_hash(name));
    }

    /// Removes every `name` header. The text they used is reclaimed once most of the text is
    /// unused, so a tenant replacing a header in a loop keeps the map its live size.
    pub fn remove(&mut self, name: &str) {
        let hash = name_hash(name);
        let mut kept = 0;
        for place in 0..self.spans.len() {
            let span = self.spans[place];
            if self.is_named(place, name, hash) {
                self.unused += span[3] - span[0];
            } else {
                self.spans[kept] = span;
                self.name_hashes[kept] = self.name_hashes[place];
                kept += 1;
            }
        }
        self.spans.truncate(kept);
        self.name_hashes.truncate(kept);
        if self.unused > COMPACT_MIN_UNUSED && self.unused * 2 > self.text.len() {
            let mut compact = PackedHeaders::default();
            for (name, value) in self.iter() {
                compact.push(name, value);
            }
            *self = compact;
        }
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
    fn headers(&mut self, message: Message) -> HostResult<&PackedHeaders>;
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

/// Header names up to this long are lower-cased on the stack.
const STACK_NAME_BYTES: usize = 128;

/// Calls `with` on `name` in lower case, as the proxy's maps hold names (a tenant's call names
/// a header in any case), without allocating for a name of usual length.
fn with_lower_case<T>(name: &str, with: impl FnOnce(&str) -> T) -> T {
    let mut buffer = [0; STACK_NAME_BYTES];
    let lowered = buffer.get_mut(..name.len()).and_then(|lowered| {
        lowered.copy_from_slice(name.as_bytes());
        std::str::from_utf8_mut(lowered).ok()
    });
    match lowered {
        Some(lowered) => {
            lowered.make_ascii_lowercase();
            with(lowered)
        }
        None => with(&name.to_ascii_lowercase()),
    }
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

    /// A request pseudo-header (`:path`, `:method`), for the calls that read it.
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
        with_lower_case(name, |name| {
            Ok(self.stream.header(message, name)?.map(Cow::Owned))
        })
    }

    fn set_header(&mut self, set: HeaderSet, name: &str, value: &str) -> HostResult<()> {
        let message = self.target(set)?;
        with_lower_case(name, |name| {
            self.stream.set_header(message, name, Some(value))
        })
    }

    fn append_header(&mut self, set: HeaderSet, name: &str, value: &str) -> HostResult<()> {
        let message = self.target(set)?;
        with_lower_case(name, |name| self.stream.add_header(message, name, value))
    }

    fn unset_header(&mut self, set: HeaderSet, name: &str) -> HostResult<usize> {
        let message = self.target(set)?;
        with_lower_case(name, |name| {
            // Usually the header is not there: one lookup says so without fetching and
            // decoding the whole map.
            if self.stream.header(message, name)?.is_none() {
                return Ok(0);
            }
            let present = self.stream.headers(message)?.count(name);
            if present > 0 {
                self.stream.set_header(message, name, None)?;
            }
            Ok(present)
        })
    }

    fn header_count(&mut self, set: HeaderSet) -> HostResult<usize> {
        let message = self.target(set)?;
        Ok(self.stream.headers(message)?.regular_count())
    }

    fn header_at(
        &mut self,
        set: HeaderSet,
        index: usize,
    ) -> HostResult<Option<(Cow<'_, str>, Cow<'_, str>)>> {
        let message = self.target(set)?;
        let entry = self.stream.headers(message)?.regular_at(index);
        Ok(entry.map(|(name, value)| (Cow::Borrowed(name), Cow::Borrowed(value))))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(headers: &PackedHeaders) -> Vec<(&str, &str)> {
        headers.iter().collect()
    }

    #[test]
    fn packed_headers_find_replace_and_remove_by_name() {
        let mut headers = PackedHeaders::default();
        headers.push("a", "1");
        headers.push("b", "2");
        headers.push("a", "3");
        assert_eq!(headers.get("a"), Some("1"));
        assert_eq!(headers.get("c"), None);
        assert_eq!(headers.count("a"), 2);
        headers.remove("a");
        headers.push("a", "4");
        assert_eq!(listed(&headers), [("b", "2"), ("a", "4")]);
        headers.remove("missing");
        assert_eq!(listed(&headers), [("b", "2"), ("a", "4")]);
    }

    #[test]
    fn header_lists_leave_pseudo_headers_out() {
        let mut headers = PackedHeaders::default();
        for (name, value) in [(":path", "/"), ("a", "1"), (":method", "GET"), ("b", "2")] {
            headers.push(name, value);
        }
        assert_eq!(headers.regular_count(), 2);
        assert_eq!(headers.regular_at(0), Some(("a", "1")));
        assert_eq!(headers.regular_at(1), Some(("b", "2")));
        assert_eq!(headers.regular_at(2), None);
        assert_eq!(headers.get(":path"), Some("/"));
    }

    #[test]
    fn replacing_a_header_in_a_loop_keeps_the_text_near_its_live_size() {
        let mut headers = PackedHeaders::from_spans("x-keep\0kept".into(), vec![[0, 6, 7, 11]]);
        let value = "v".repeat(1000);
        for _ in 0..10_000 {
            headers.remove("x-loop");
            headers.push("x-loop", &value);
        }
        assert!(
            headers.text.len() < 4 * (COMPACT_MIN_UNUSED + value.len()),
            "{} bytes of text for 1 KiB of headers",
            headers.text.len()
        );
        assert_eq!(listed(&headers), [("x-keep", "kept"), ("x-loop", &*value)]);
    }

    #[test]
    fn spans_outside_the_text_or_inside_a_character_read_as_empty() {
        let headers = PackedHeaders::from_spans("é\0v".into(), vec![[0, 1, 3, 4], [5, 9, 0, 2]]);
        assert_eq!(listed(&headers), [("", "v"), ("", "é")]);
    }

    #[test]
    fn names_are_lower_cased_on_the_stack_or_off_it() {
        assert_eq!(with_lower_case("X-Tenant", str::to_owned), "x-tenant");
        let long = "X".repeat(STACK_NAME_BYTES + 1);
        assert_eq!(
            with_lower_case(&long, str::to_owned),
            "x".repeat(long.len())
        );
    }
}

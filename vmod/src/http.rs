//! Varnish's HTTP messages (`struct http`) as the tenant's [`Host`].
//!
//! Header lines live in the task's workspace as `Name: value` text; reads borrow them, writes
//! go through varnishd's own functions (`http_SetHeader`, `http_SetH`) or, for unsets, do
//! what `http_Unset` does, so VSL records every change as it does for VCL. Nothing here
//! trusts header bytes to be UTF-8: clients may send any octets, and a tenant gets them
//! lossily converted.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::ffi::{c_char, c_int, c_uint, c_void};

use rvedge::runtime::abi::HeaderSet;
use rvedge::runtime::{vary_adding, Host, HostError, HostResult};

use crate::ffi;
use crate::handoff::{HANDOFF_HEADER, TENANT_HEADER};

/// One `struct http` of the current task: req, resp, bereq or beresp.
#[derive(Clone, Copy, Debug)]
pub struct Message(*mut ffi::http);

impl Message {
    /// `None` for a null pointer (the message does not exist in this VCL subroutine).
    ///
    /// # Safety
    /// `http` is null or a valid `struct http` that outlives every use of the result (the
    /// ctx's messages live as long as the task).
    pub unsafe fn new(http: *mut ffi::http) -> Option<Message> {
        (!http.is_null()).then_some(Message(http))
    }

    fn raw(&self) -> &ffi::http {
        // SAFETY: `new` requires a valid `struct http` that outlives self.
        unsafe { &*self.0 }
    }

    /// The text of field `index` (a header line, or the method, URL, ...), if set.
    fn field(&self, index: usize) -> Option<&[u8]> {
        let http = self.raw();
        if index >= usize::from(http.nhd) {
            return None;
        }
        // SAFETY: `hd` has `shd >= nhd` entries; an entry in use points at `e - b` bytes in the
        // workspace (or at static text), unchanged while we read it.
        unsafe {
            let text = *http.hd.add(index);
            if text.b.is_null() || text.e.is_null() {
                return None;
            }
            let length = usize::try_from(text.e.offset_from(text.b)).ok()?;
            Some(std::slice::from_raw_parts(text.b.cast::<u8>(), length))
        }
    }

    /// Header lines as (name, value), in order, without the hand-off header.
    pub fn headers(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        self.header_lines()
            .filter_map(split_header)
            .filter(|(name, _)| !name.eq_ignore_ascii_case(HANDOFF_HEADER.as_bytes()))
    }

    /// The first value of header `name`, including the hand-off header.
    pub fn raw_header(&self, name: &str) -> Option<&[u8]> {
        self.header_lines()
            .find_map(|line| value_if_named(line, name))
    }

    pub fn header(&self, name: &str) -> Option<&[u8]> {
        if name.eq_ignore_ascii_case(HANDOFF_HEADER) {
            return None;
        }
        self.raw_header(name)
    }

    /// Every header line, the hand-off header included.
    fn header_lines(&self) -> impl Iterator<Item = &[u8]> + '_ {
        (ffi::HTTP_HDR_FIRST as usize..usize::from(self.raw().nhd))
            .filter_map(|index| self.field(index))
    }

    /// Adds `name: value` (copied into the message's workspace).
    pub fn append(&self, name: &str, value: &str) -> HostResult<()> {
        let http = self.raw();
        if http.nhd >= http.shd {
            return Err(HostError::TooBig);
        }
        // The line is written into the workspace here rather than by http_PrintfHeader: its
        // vsnprintf cost more than the rest of an append.
        let line = [name.as_bytes(), b": ", value.as_bytes()];
        let copy = copy_to_workspace(http.ws, &line)?;
        // SAFETY: `copy` is a NUL-terminated line in this message's workspace, which lives as
        // long as the message; http_SetHeader only stores the pointer (and logs the line).
        unsafe { ffi::http_SetHeader(self.0, copy) };
        Ok(())
    }

    /// Removes every header `name`; returns how many there were. What varnishd's http_Unset
    /// does (each removal logged as this message's `*Unset`), in one pass that compares
    /// names as `value_if_named` does: http_Unset's own comparison of every header cost more
    /// than the rest of vcl_deliver's work for a tenant (which unsets the tenant header).
    pub fn unset(&self, name: &str) -> HostResult<usize> {
        let first = ffi::HTTP_HDR_FIRST as usize;
        let mut kept = first;
        let mut removed = 0;
        for index in first..usize::from(self.raw().nhd) {
            let named = self
                .field(index)
                .is_some_and(|line| value_if_named(line, name).is_some());
            // SAFETY: `index` and `kept <= index` are below `nhd <= shd`, within `hd` and
            // `hdf`; nothing else uses the message meanwhile (the task's thread runs this).
            unsafe {
                let http = &mut *self.0;
                if named {
                    if !http.vsl.is_null() {
                        let unset = http.logtag + ffi::HTTP_HDR_UNSET - ffi::HTTP_HDR_METHOD;
                        ffi::VSLbt(http.vsl, unset, *http.hd.add(index));
                    }
                    removed += 1;
                    continue;
                }
                if kept != index {
                    *http.hd.add(kept) = *http.hd.add(index);
                    *http.hdf.add(kept) = *http.hdf.add(index);
                }
            }
            kept += 1;
        }
        // SAFETY: as above; `kept` counts entries that were below `nhd`, a u16.
        unsafe { (*self.0).nhd = kept as u16 };
        Ok(removed)
    }

    pub fn set(&self, name: &str, value: &str) -> HostResult<()> {
        self.unset(name)?;
        self.append(name, value)
    }

    /// Marks a backend response as `tenant`'s: it varies on the tenant header (keeping any other
    /// `Vary`), and carries the name, which the tenant's bans match.
    pub fn mark_tenant(&self, tenant: &str) -> HostResult<()> {
        self.set(TENANT_HEADER, tenant)?;
        self.vary_on_tenant()
    }

    /// Makes the response vary on the tenant header (see `TENANT_HEADER`), keeping any other
    /// `Vary` it has.
    fn vary_on_tenant(&self) -> HostResult<()> {
        let existing = self
            .header("Vary")
            .map(|value| String::from_utf8_lossy(value).into_owned());
        match vary_adding(existing.as_deref(), TENANT_HEADER) {
            Some(vary) => self.set("Vary", &vary),
            None => Ok(()),
        }
    }

    fn set_field(&self, index: c_uint, value: &str) -> HostResult<()> {
        let copy = copy_to_workspace(self.raw().ws, &[value.as_bytes()])?;
        // SAFETY: `copy` is NUL-terminated text in the message's workspace, which lives as
        // long as the message; requests always have their method and URL fields.
        unsafe { ffi::http_SetH(self.0, index, copy) };
        Ok(())
    }

    pub fn url(&self) -> Option<&[u8]> {
        self.field(ffi::HTTP_HDR_URL as usize)
    }

    pub fn method(&self) -> Option<&[u8]> {
        self.field(ffi::HTTP_HDR_METHOD as usize)
    }

    pub fn status(&self) -> u16 {
        self.raw().status
    }

    pub fn set_status(&self, status: u16) {
        // SAFETY: a valid message; a null reason makes varnishd use the standard one.
        unsafe { ffi::http_SetStatus(self.0, status, std::ptr::null()) };
    }

    /// Starts a response: protocol, status and standard reason.
    pub fn put_response(&self, status: u16) {
        // SAFETY: a valid message; http_Status2Reason returns static text.
        unsafe {
            let reason = ffi::http_Status2Reason(c_uint::from(status), std::ptr::null_mut());
            ffi::http_PutResponse(self.0, c"HTTP/1.1".as_ptr(), status, reason);
        }
    }
}

/// `Name: value` split at the colon, the value without leading blanks.
fn split_header(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let colon = line.iter().position(|&byte| byte == b':')?;
    Some((&line[..colon], without_leading_blanks(&line[colon + 1..])))
}

/// The value of header line `line` if its name is `name` (any case). Looks only at the
/// name's length of the line, not for the colon: lookups run over every header, several
/// times per request.
fn value_if_named<'a>(line: &'a [u8], name: &str) -> Option<&'a [u8]> {
    let name = name.as_bytes();
    let (start, rest) = line.split_at_checked(name.len())?;
    let value = rest.strip_prefix(b":")?;
    start
        .eq_ignore_ascii_case(name)
        .then(|| without_leading_blanks(value))
}

fn without_leading_blanks(value: &[u8]) -> &[u8] {
    let blanks = value
        .iter()
        .take_while(|&&byte| byte == b' ' || byte == b'\t')
        .count();
    &value[blanks..]
}

/// `parts` one after another and a NUL in `workspace`, or `TooBig` when it is full.
fn copy_to_workspace(workspace: *mut ffi::ws, parts: &[&[u8]]) -> HostResult<*const c_char> {
    let total: usize = parts.iter().map(|part| part.len()).sum();
    let length = c_uint::try_from(total + 1).map_err(|_| HostError::TooBig)?;
    // SAFETY: WS_Alloc returns null (marking the workspace overflowed) or `length` writable
    // bytes in the task's workspace; we fill exactly that many.
    unsafe {
        let copy = ffi::WS_Alloc(workspace, length).cast::<u8>();
        if copy.is_null() {
            return Err(HostError::TooBig);
        }
        let mut filled = 0;
        for part in parts {
            std::ptr::copy_nonoverlapping(part.as_ptr(), copy.add(filled), part.len());
            filled += part.len();
        }
        *copy.add(filled) = 0;
        Ok(copy.cast_const().cast::<c_char>())
    }
}

/// Writes `message` to the task's log (VSL) with `tag`.
pub fn log(vsl: *mut ffi::vsl_log, tag: ffi::VSL_tag_e, message: &str) {
    if vsl.is_null() {
        return;
    }
    let text = ffi::txt {
        b: message.as_ptr().cast::<c_char>(),
        e: message
            .as_ptr()
            .wrapping_add(message.len())
            .cast::<c_char>(),
    };
    // SAFETY: `text` spans `message`, which outlives the call; VSLbt copies it.
    unsafe { ffi::VSLbt(vsl, tag, text) };
}

/// Where a tenant-chosen backend goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendTarget {
    /// `req.backend_hint` (client side).
    Hint,
    /// `bereq.backend` (backend side).
    Bereq,
}

/// The messages of one VCL subroutine, lent to a tenant hook.
pub struct VarnishHost<'a> {
    pub ctx: *const ffi::vrt_ctx,
    pub req: Option<Message>,
    pub resp: Option<Message>,
    pub bereq: Option<Message>,
    pub beresp: Option<Message>,
    /// Backends the tenant may choose, by VCL name (registered in vcl_init).
    pub backends: &'a BTreeMap<String, Backend>,
    pub backend_target: BackendTarget,
    /// The client request's body (backend side only), read when the tenant asks for it.
    pub body: Option<&'a mut RequestBody>,
    pub max_request_body: usize,
    pub tenant: &'a str,
}

/// A VCL backend (a director pointer, valid as long as the VCL).
#[derive(Clone, Copy, Debug)]
pub struct Backend(pub ffi::VCL_BACKEND);

// SAFETY: directors are shared by every worker thread of a VCL by design; the pointer is only
// handed back to varnishd.
unsafe impl Send for Backend {}
// SAFETY: as above; we never dereference it ourselves.
unsafe impl Sync for Backend {}

impl VarnishHost<'_> {
    /// Borrowed, so what is read from it is too: the values the tenant reads are not copied.
    fn message(&self, set: HeaderSet) -> HostResult<&Message> {
        match set {
            HeaderSet::Request => &self.req,
            HeaderSet::Response => &self.resp,
            HeaderSet::BackendRequest => &self.bereq,
            HeaderSet::BackendResponse => &self.beresp,
        }
        .as_ref()
        .ok_or(HostError::NotAllowed)
    }

    fn request(&self, set: HeaderSet) -> HostResult<&Message> {
        match set {
            HeaderSet::Request | HeaderSet::BackendRequest => self.message(set),
            _ => Err(HostError::NotAllowed),
        }
    }

    fn response(&self, set: HeaderSet) -> HostResult<&Message> {
        match set {
            HeaderSet::Response | HeaderSet::BackendResponse => self.message(set),
            _ => Err(HostError::NotAllowed),
        }
    }
}

/// Headers only this VMOD writes: the hand-off and the tenant's name.
fn is_handoff(name: &str) -> bool {
    name.eq_ignore_ascii_case(HANDOFF_HEADER) || name.eq_ignore_ascii_case(TENANT_HEADER)
}

impl Host for VarnishHost<'_> {
    fn header(&mut self, set: HeaderSet, name: &str) -> HostResult<Option<Cow<'_, str>>> {
        Ok(self.message(set)?.header(name).map(String::from_utf8_lossy))
    }

    fn set_header(&mut self, set: HeaderSet, name: &str, value: &str) -> HostResult<()> {
        if is_handoff(name) {
            return Err(HostError::NotAllowed);
        }
        self.message(set)?.set(name, value)
    }

    fn append_header(&mut self, set: HeaderSet, name: &str, value: &str) -> HostResult<()> {
        if is_handoff(name) {
            return Err(HostError::NotAllowed);
        }
        self.message(set)?.append(name, value)
    }

    fn unset_header(&mut self, set: HeaderSet, name: &str) -> HostResult<usize> {
        if is_handoff(name) {
            return Err(HostError::NotAllowed);
        }
        self.message(set)?.unset(name)
    }

    fn header_count(&mut self, set: HeaderSet) -> HostResult<usize> {
        Ok(self.message(set)?.headers().count())
    }

    fn header_at(
        &mut self,
        set: HeaderSet,
        index: usize,
    ) -> HostResult<Option<(Cow<'_, str>, Cow<'_, str>)>> {
        let message = self.message(set)?;
        let found = message.headers().nth(index).map(|(name, value)| {
            (
                String::from_utf8_lossy(name),
                String::from_utf8_lossy(value),
            )
        });
        Ok(found)
    }

    fn url(&mut self, set: HeaderSet) -> HostResult<Cow<'_, str>> {
        let url = self.request(set)?.url().unwrap_or_default();
        Ok(String::from_utf8_lossy(url))
    }

    fn set_url(&mut self, set: HeaderSet, url: &str) -> HostResult<()> {
        self.request(set)?.set_field(ffi::HTTP_HDR_URL, url)
    }

    fn method(&mut self, set: HeaderSet) -> HostResult<Cow<'_, str>> {
        let method = self.request(set)?.method().unwrap_or_default();
        Ok(String::from_utf8_lossy(method))
    }

    fn set_method(&mut self, set: HeaderSet, method: &str) -> HostResult<()> {
        self.request(set)?.set_field(ffi::HTTP_HDR_METHOD, method)
    }

    fn status(&mut self, set: HeaderSet) -> HostResult<u16> {
        Ok(self.response(set)?.status())
    }

    fn set_status(&mut self, set: HeaderSet, status: u16) -> HostResult<()> {
        self.response(set)?.set_status(status);
        Ok(())
    }

    fn request_body(&mut self) -> HostResult<Cow<'_, [u8]>> {
        let ctx = self.ctx;
        let limit = self.max_request_body;
        let body = self.body.as_deref_mut().ok_or(HostError::NotAllowed)?;
        // SAFETY: a body is only lent to hosts of backend-side subroutines, whose ctx is valid.
        unsafe { body.get(ctx, limit) }.map(Cow::Borrowed)
    }

    fn set_backend(&mut self, name: &str) -> HostResult<()> {
        let backend = self.backends.get(name).ok_or(HostError::NotFound)?;
        // SAFETY: a valid ctx of the current subroutine; the setter matches the side (VCL
        // allows req.backend_hint on the client side, bereq.backend on the backend side).
        unsafe {
            match self.backend_target {
                BackendTarget::Hint => ffi::VRT_l_req_backend_hint(self.ctx, backend.0),
                BackendTarget::Bereq => ffi::VRT_l_bereq_backend(self.ctx, backend.0),
            }
        }
        Ok(())
    }

    fn ban(&mut self, expression: &str) -> HostResult<()> {
        // Only objects this tenant made carry its name (see `TENANT_HEADER`), and Varnish's ban
        // expressions join conditions with `&&` only: nothing the tenant appends can widen it.
        // VRT_ban_string splits at blanks and keeps quotes as text: the name goes unquoted.
        if self.tenant.is_empty()
            || self
                .tenant
                .contains(|c: char| c.is_whitespace() || c == '"')
        {
            return Err(HostError::Invalid);
        }
        let scoped = format!(
            "obj.http.{TENANT_HEADER} == {} && {expression}",
            self.tenant
        );
        let scoped = std::ffi::CString::new(scoped).map_err(|_| HostError::Invalid)?;
        // SAFETY: a valid ctx; varnishd copies the expression.
        let error = unsafe { ffi::VRT_ban_string(self.ctx, scoped.as_ptr()) };
        if error.is_null() {
            Ok(())
        } else {
            Err(HostError::Invalid)
        }
    }

    fn log(&mut self, message: &str) {
        // SAFETY: a valid ctx; its vsl is the task's log (or null outside a task).
        let vsl = unsafe { (*self.ctx).vsl };
        log(
            vsl,
            ffi::VSL_tag_e_SLT_VCL_Log,
            &format!("riscv {}: {message}", self.tenant),
        );
    }
}

/// The client request's body on the backend side. It is read only when a tenant asks for it
/// (`body_get`), and only up to the VCL's limit, so no client can make varnishd buffer more.
#[derive(Debug, Default)]
pub enum RequestBody {
    #[default]
    Unread,
    Read(Vec<u8>),
    /// Longer than the limit: the request is answered 413.
    TooLarge,
}

impl RequestBody {
    /// The body, read now if it was not yet.
    ///
    /// # Safety
    /// `ctx` is a valid backend-side context of the task this body belongs to.
    pub unsafe fn get(&mut self, ctx: *const ffi::vrt_ctx, limit: usize) -> HostResult<&[u8]> {
        if matches!(self, RequestBody::Unread) {
            // SAFETY: the caller's ctx is a valid backend ctx.
            *self = match unsafe { read_request_body(ctx, limit) } {
                Some(body) => RequestBody::Read(body),
                None => RequestBody::TooLarge,
            };
        }
        match self {
            RequestBody::Read(body) => Ok(body),
            _ => Err(HostError::TooBig),
        }
    }

    pub fn is_too_large(&self) -> bool {
        matches!(self, RequestBody::TooLarge)
    }
}

/// What `read_request_body` collects into: the bytes so far and the most it may hold.
struct BodyCollector {
    bytes: Vec<u8>,
    limit: usize,
    too_large: bool,
}

/// Reads the client request's body on the backend side (the body Varnish cached with
/// `std.cache_req_body`, or the one still waiting on the client connection): `None` once it
/// is longer than `limit` bytes, which stops the reading there.
///
/// # Safety
/// `ctx` is a valid backend-side context.
pub unsafe fn read_request_body(ctx: *const ffi::vrt_ctx, limit: usize) -> Option<Vec<u8>> {
    unsafe extern "C" fn collect(
        destination: *mut c_void,
        _flush: c_uint,
        bytes: *const c_void,
        length: ffi::ssize_t,
    ) -> c_int {
        let Ok(length) = usize::try_from(length) else {
            return -1;
        };
        // SAFETY: varnishd passes the BodyCollector we gave as `priv`.
        let collector = unsafe { &mut *destination.cast::<BodyCollector>() };
        if length > collector.limit - collector.bytes.len() {
            collector.too_large = true;
            // Non-zero ends the iteration: nothing more is read.
            return -1;
        }
        if length > 0 {
            // SAFETY: varnishd passes `length` readable bytes.
            collector.bytes.extend_from_slice(unsafe {
                std::slice::from_raw_parts(bytes.cast::<u8>(), length)
            });
        }
        0
    }
    let mut collector = BodyCollector {
        bytes: Vec::new(),
        limit,
        too_large: false,
    };
    // SAFETY: the caller gives a valid backend ctx, so `bo` is a valid busyobj; its
    // `bereq_body` or `req` (both may be null) are varnishd's own objects, and `collect`
    // matches objiterate_f.
    unsafe {
        let bo = (*ctx).bo;
        if bo.is_null() {
            return Some(Vec::new());
        }
        let destination = (&mut collector as *mut BodyCollector).cast::<c_void>();
        if !(*bo).bereq_body.is_null() {
            ffi::ObjIterate((*bo).wrk, (*bo).bereq_body, destination, Some(collect), 0);
        } else if !(*bo).req.is_null() && (*(*bo).req).req_body_status != ffi::BS_NONE.as_ptr() {
            ffi::VRB_Iterate(
                (*bo).wrk,
                (*bo).vsl.as_mut_ptr(),
                (*bo).req,
                Some(collect),
                destination,
            );
        }
    }
    (!collector.too_large).then_some(collector.bytes)
}

#[cfg(test)]
mod tests {
    use super::{split_header, value_if_named};

    #[test]
    fn a_named_lookup_agrees_with_splitting_the_line() {
        let lines: [&[u8]; 7] = [
            b"X-Hello: url=/",
            b"x-hello:\t a",
            b"X-Hello-World: b",
            b"X-Hell: c",
            b"X-Hello : d",
            b"X-Hello",
            b"",
        ];
        for line in lines {
            let split = split_header(line)
                .filter(|(name, _)| name.eq_ignore_ascii_case(b"x-HELLO"))
                .map(|(_, value)| value);
            assert_eq!(value_if_named(line, "x-HELLO"), split, "{line:?}");
        }
        assert_eq!(
            value_if_named(b"X-Hello: url=/", "X-Hello"),
            Some(&b"url=/"[..])
        );
        assert_eq!(value_if_named(b"X-Hello-World: b", "X-Hello"), None);
    }
}

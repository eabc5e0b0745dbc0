//! SDK for rvedge tenant programs written in Rust.
//!
//! A tenant is a static riscv64 Linux program. Its `main` sets things up, registers hooks and
//! ends with [`wait_for_requests`]; the host then runs each request in a fresh fork of the
//! program as it was at that moment, calling the registered hooks. The contract is
//! `docs/abi.md`; [`abi`] has its raw numbers.
//!
//! ```no_run
//! use rvedge_tenant::*;
//!
//! fn on_client_request(_req: u32, _resp: u32) {
//!     add_req_header("X-Hello", &get_url());
//!     forge(CachingDecision::Uncached, |_bereq: u32, _beresp: u32| BackendResponse {
//!         status: 200,
//!         content_type: "text/plain",
//!         body: "hello".to_string(),
//!     });
//! }
//!
//! fn main() {
//!     wait_for_requests(on_client_request);
//! }
//! ```
//!
//! Errors: calls whose failure a tenant can act on return [`Result`] with [`Error`] (or
//! `Option` for "absent"). The request/response shortcuts (`get_url`, `add_req_header`,
//! `forge`, `respond`, ...) fail only when used in the wrong hook or with a bad argument,
//! which is a bug in the tenant: they panic, the hook trampoline logs the panic and aborts,
//! and the host reports the request as `crashed`. The `header_*`, `url_*`, `method_*` and
//! `status_*` functions are the same calls returning `Result`.
#![warn(missing_docs)]

pub mod abi;
mod helpers;

pub use helpers::{hmac_sha256, json_query, json_validate, sha256, xml_query, xml_validate};

use std::fmt;
use std::panic::{self, UnwindSafe};

/// Why a tenant call failed: the host's `-errno`, by meaning.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Error {
    /// `EPERM`: not allowed in this hook, or the header set does not exist here.
    NotAllowed,
    /// `ENOENT`: no such header, value or index.
    NotFound,
    /// `E2BIG`: the value is too large for the host.
    TooBig,
    /// `EINVAL`: bad argument value (bad header name, status, malformed document, ...).
    Invalid,
    /// `ENOSYS`: the host does not know this call.
    Unsupported,
    /// An errno this SDK does not know.
    Other(u64),
}

impl Error {
    /// The error for a positive errno value.
    pub fn from_errno(errno: u64) -> Error {
        match errno {
            abi::EPERM => Error::NotAllowed,
            abi::ENOENT => Error::NotFound,
            abi::E2BIG => Error::TooBig,
            abi::EINVAL => Error::Invalid,
            abi::ENOSYS => Error::Unsupported,
            other => Error::Other(other),
        }
    }

    /// The positive errno value of this error.
    pub fn errno(self) -> u64 {
        match self {
            Error::NotAllowed => abi::EPERM,
            Error::NotFound => abi::ENOENT,
            Error::TooBig => abi::E2BIG,
            Error::Invalid => abi::EINVAL,
            Error::Unsupported => abi::ENOSYS,
            Error::Other(errno) => errno,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotAllowed => f.write_str("not allowed in this hook"),
            Error::NotFound => f.write_str("not found"),
            Error::TooBig => f.write_str("too large for the host"),
            Error::Invalid => f.write_str("invalid argument"),
            Error::Unsupported => f.write_str("not supported by this host"),
            Error::Other(errno) => write!(f, "error {errno}"),
        }
    }
}

impl std::error::Error for Error {}

/// One of the four header sets a hook can see (`docs/abi.md`, "Header sets").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HeaderSet {
    /// The client request.
    Req,
    /// The response to the client.
    Resp,
    /// The request sent to the backend (or given to a forge callback).
    Bereq,
    /// The backend's response (or the forged one).
    Beresp,
}

impl HeaderSet {
    /// The set's ABI id.
    pub fn id(self) -> u64 {
        match self {
            HeaderSet::Req => abi::REQ,
            HeaderSet::Resp => abi::RESP,
            HeaderSet::Bereq => abi::BEREQ,
            HeaderSet::Beresp => abi::BERESP,
        }
    }

    /// The set with this ABI id, e.g. a hook argument; `None` for an unknown id.
    pub fn from_id(id: u32) -> Option<HeaderSet> {
        match u64::from(id) {
            abi::REQ => Some(HeaderSet::Req),
            abi::RESP => Some(HeaderSet::Resp),
            abi::BEREQ => Some(HeaderSet::Bereq),
            abi::BERESP => Some(HeaderSet::Beresp),
            _ => None,
        }
    }
}

/// A point in request processing where the host calls the tenant (`docs/abi.md`, "Hooks").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Hook {
    /// Client request arrived; arguments (req, resp). Registered by [`wait_for_requests`].
    OnRecv,
    /// Cache key is computed (add data with [`hash_add`]); arguments (req, resp).
    OnHash,
    /// Response is about to go to the client; arguments (req, resp).
    OnDeliver,
    /// Before a request goes to the backend; arguments (bereq, beresp).
    OnBackendFetch,
    /// Backend (or forged) response headers arrived; arguments (bereq, beresp).
    OnBackendResponse,
    /// Old program, before a live update (save with [`state_save`]); arguments (0, 0).
    OnLiveUpdate,
    /// New program's template after a live update ([`state_restore`]); arguments (length, 0).
    OnResumeUpdate,
}

impl Hook {
    /// The hook's ABI id.
    pub fn id(self) -> u64 {
        match self {
            Hook::OnRecv => abi::HOOK_ON_RECV,
            Hook::OnHash => abi::HOOK_ON_HASH,
            Hook::OnDeliver => abi::HOOK_ON_DELIVER,
            Hook::OnBackendFetch => abi::HOOK_ON_BACKEND_FETCH,
            Hook::OnBackendResponse => abi::HOOK_ON_BACKEND_RESPONSE,
            Hook::OnLiveUpdate => abi::HOOK_ON_LIVE_UPDATE,
            Hook::OnResumeUpdate => abi::HOOK_ON_RESUME_UPDATE,
        }
    }
}

/// Whether the host may cache a forged response.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CachingDecision {
    /// Cache it (TTL 120 s unless the callback calls [`set_cache`]).
    Cached,
    /// Do not cache it.
    Uncached,
}

/// A response made by a [`forge`] callback; the SDK passes it to [`respond`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackendResponse {
    /// HTTP status code, a final one: 200..=599.
    pub status: u16,
    /// The `Content-Type` header value.
    pub content_type: &'static str,
    /// The response body.
    pub body: String,
}

// ---------------------------------------------------------------------------------------
// Plumbing: results, output buffers, the hook trampolines.

/// Turns a raw call result into the success value or the error.
pub(crate) fn check(result: i64) -> Result<u64, Error> {
    if result >= 0 {
        Ok(result.unsigned_abs())
    } else {
        Err(Error::from_errno(result.unsigned_abs()))
    }
}

/// Unwraps the result of a shortcut, panicking at the tenant's call site: a failure there
/// means the call was used in the wrong hook or with a bad argument.
#[track_caller]
fn expect_ok<T>(result: Result<T, Error>, call: &str) -> T {
    match result {
        Ok(value) => value,
        Err(error) => panic!("rvedge-tenant: {call} failed: {error}"),
    }
}

/// A pointer or length as a call argument.
pub(crate) fn arg<T>(pointer: *const T) -> u64 {
    pointer as usize as u64
}

/// Size of the first output buffer; most headers, urls and messages fit.
const FIRST_OUTPUT_CAPACITY: usize = 256;

/// Makes a call whose last two arguments are an output buffer `(out, out_cap)` after
/// `inputs`, and returns the whole output: when the full length returned is larger than the
/// buffer, the call is made again with a buffer of that size.
///
/// # Safety
///
/// `inputs` (at most four values) must be valid arguments for `number`: every pointer in it
/// readable for its length until this returns.
pub(crate) unsafe fn call_with_output(number: u64, inputs: &[u64]) -> Result<Vec<u8>, Error> {
    let call = |out: &mut [u8]| -> Result<usize, Error> {
        let mut args = [0; 6];
        args[..inputs.len()].copy_from_slice(inputs);
        args[inputs.len()] = arg(out.as_mut_ptr());
        args[inputs.len() + 1] = out.len() as u64;
        // SAFETY: the caller vouches for `inputs`; `out` is a live, exclusively borrowed
        // buffer of exactly the capacity passed, so the host may write all of it.
        let full_len = check(unsafe { abi::ecall(number, args) })?;
        usize::try_from(full_len).map_err(|_| Error::TooBig)
    };

    let mut first = [0u8; FIRST_OUTPUT_CAPACITY];
    let full_len = call(&mut first)?;
    if full_len <= first.len() {
        return Ok(first[..full_len].to_vec());
    }
    let mut buffer = vec![0u8; full_len];
    loop {
        let full_len = call(&mut buffer)?;
        if full_len <= buffer.len() {
            buffer.truncate(full_len);
            return Ok(buffer);
        }
        // The value grew between the two calls; ask again with the new size.
        buffer.resize(full_len, 0);
    }
}

/// Host output as text. Hosts hand back UTF-8, but header values from clients need not be:
/// invalid bytes become U+FFFD rather than an error nobody can act on.
fn into_string(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes)
        .unwrap_or_else(|error| String::from_utf8_lossy(error.as_bytes()).into_owned())
}

/// The signature every hook entry has: `entry(data, arg1, arg2)`.
type Entry = extern "C" fn(u64, u64, u64);

/// Runs user code called from the host. A panic must not unwind into the host (there is no
/// Rust frame above the trampoline), so it is logged and the tenant aborts, which the host
/// reports as the request error `crashed`.
fn run_guarded(what: &str, body: impl FnOnce() + UnwindSafe) {
    let Err(payload) = panic::catch_unwind(body) else {
        return;
    };
    let message = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(non-string panic payload)");
    log(&format!(
        "rvedge-tenant: {what} panicked: {message}; aborting"
    ));
    std::process::abort();
}

/// Entry for hooks: `data` is the user's `fn(u32, u32)`.
extern "C" fn hook_trampoline(data: u64, arg1: u64, arg2: u64) {
    run_guarded("hook", || {
        assert!(data != 0, "hook called with data 0");
        // SAFETY: `data` is the value registered together with this trampoline by
        // `wait_for_requests` or `set_hook`: a non-null `fn(u32, u32)` cast to an integer,
        // which the host hands back unchanged.
        let hook = unsafe { std::mem::transmute::<usize, fn(u32, u32)>(data as usize) };
        // Hook arguments are header-set ids or a state length; all fit in 32 bits.
        hook(arg1 as u32, arg2 as u32);
    });
}

/// Entry for forge callbacks: `data` is the user's `fn(u32, u32) -> BackendResponse`.
extern "C" fn forge_trampoline(data: u64, bereq: u64, beresp: u64) {
    run_guarded("forge callback", || {
        assert!(data != 0, "forge callback called with data 0");
        // SAFETY: `data` is the value `forge` registered together with this trampoline: a
        // non-null `fn(u32, u32) -> BackendResponse` cast to an integer, handed back
        // unchanged by the host.
        let callback =
            unsafe { std::mem::transmute::<usize, fn(u32, u32) -> BackendResponse>(data as usize) };
        let response = callback(bereq as u32, beresp as u32);
        respond(response.status, response.content_type, response.body);
    });
}

// ---------------------------------------------------------------------------------------
// Start-up and hooks.

/// Registers `on_recv` as the handler for client requests and ends start-up: the program
/// as it is now becomes the template every request forks from. Never returns.
///
/// `on_recv` gets the ids of the `req` and `resp` header sets. Outside rvedge (e.g. under
/// plain qemu) the call is unknown; this then prints a message and exits with status 1.
pub fn wait_for_requests(on_recv: fn(u32, u32)) -> ! {
    let entry: Entry = hook_trampoline;
    // SAFETY: no memory is passed; the host later calls `entry` with `data` = `on_recv`,
    // which is what `hook_trampoline` expects.
    let result = unsafe {
        abi::ecall(
            abi::WAIT_FOR_REQUESTS,
            [entry as usize as u64, on_recv as usize as u64, 0, 0, 0, 0],
        )
    };
    eprintln!("rvedge-tenant: wait_for_requests returned {result}: not running under rvedge");
    std::process::exit(1);
}

/// Registers `hook_fn` for `hook`, replacing any earlier one. During start-up the hook
/// applies to every request; during a request, to the rest of that request only.
///
/// # Panics
///
/// If the host refuses the call.
#[track_caller]
pub fn set_hook(hook: Hook, hook_fn: fn(u32, u32)) {
    let entry: Entry = hook_trampoline;
    // SAFETY: no memory is passed; the host later calls `entry` with `data` = `hook_fn`,
    // which is what `hook_trampoline` expects.
    let result = unsafe {
        abi::ecall(
            abi::SET_HOOK,
            [
                hook.id(),
                entry as usize as u64,
                hook_fn as usize as u64,
                0,
                0,
                0,
            ],
        )
    };
    expect_ok(check(result), "set_hook");
}

/// Removes the function registered for `hook`, if any.
///
/// # Panics
///
/// If the host refuses the call.
#[track_caller]
pub fn remove_hook(hook: Hook) {
    // SAFETY: no memory is passed; entry 0 removes the hook.
    let result = unsafe { abi::ecall(abi::SET_HOOK, [hook.id(), 0, 0, 0, 0, 0]) };
    expect_ok(check(result), "set_hook");
}

/// Answers the request from `callback` instead of a backend. Only in `on_recv`.
///
/// The host calls `callback(bereq, beresp)` later, in a separate backend-side fork of the
/// template (so it sees none of `on_recv`'s memory, only its header changes), and sends the
/// [`BackendResponse`] it returns as the backend response. With [`CachingDecision::Cached`]
/// the host may cache it and reuse it for later requests.
///
/// # Panics
///
/// If called outside `on_recv`.
#[track_caller]
pub fn forge(decision: CachingDecision, callback: fn(u32, u32) -> BackendResponse) {
    let decision = match decision {
        CachingDecision::Uncached => 0,
        CachingDecision::Cached => 1,
    };
    let entry: Entry = forge_trampoline;
    // SAFETY: no memory is passed; the host later calls `entry` with `data` = `callback`,
    // which is what `forge_trampoline` expects.
    let result = unsafe {
        abi::ecall(
            abi::FORGE,
            [
                decision,
                entry as usize as u64,
                callback as usize as u64,
                0,
                0,
                0,
            ],
        )
    };
    expect_ok(check(result), "forge");
}

/// Sends a response. In `on_recv` it answers the client at once (never cached, no
/// backend); in a forge callback it is the backend response (the SDK does this for you with
/// the returned [`BackendResponse`]).
///
/// # Panics
///
/// In any other hook, or if `status` is not in 200..=599.
#[track_caller]
pub fn respond(status: u16, content_type: &str, body: impl AsRef<[u8]>) {
    let body = body.as_ref();
    // SAFETY: both ranges are live borrows, readable for their lengths during the call.
    let result = unsafe {
        abi::ecall(
            abi::RESPOND,
            [
                u64::from(status),
                arg(content_type.as_ptr()),
                content_type.len() as u64,
                arg(body.as_ptr()),
                body.len() as u64,
                0,
            ],
        )
    };
    expect_ok(check(result), "respond");
}

/// Sends the request to the host's backend called `name`. Only in `on_recv` and
/// `on_backend_fetch`.
///
/// # Panics
///
/// In any other hook.
#[track_caller]
pub fn set_backend(name: &str) {
    // SAFETY: `name` is a live borrow, readable for its length during the call.
    let result = unsafe {
        abi::ecall(
            abi::BACKEND_SET,
            [arg(name.as_ptr()), name.len() as u64, 0, 0, 0, 0],
        )
    };
    expect_ok(check(result), "backend_set");
}

/// Sets whether the response being built may be cached, and for how long.
///
/// # Panics
///
/// If the host refuses the call in this hook.
#[track_caller]
pub fn set_cache(cacheable: bool, ttl_secs: u64) {
    // SAFETY: no memory is passed.
    let result =
        unsafe { abi::ecall(abi::CACHE_SET, [u64::from(cacheable), ttl_secs, 0, 0, 0, 0]) };
    expect_ok(check(result), "cache_set");
}

/// Adds `data` to the cache key. Only in `on_hash`.
///
/// # Panics
///
/// In any other hook.
#[track_caller]
pub fn hash_add(data: &[u8]) {
    // SAFETY: `data` is a live borrow, readable for its length during the call.
    let result = unsafe {
        abi::ecall(
            abi::HASH_ADD,
            [arg(data.as_ptr()), data.len() as u64, 0, 0, 0, 0],
        )
    };
    expect_ok(check(result), "hash_add");
}

/// Writes `message` to the tenant's log.
pub fn log(message: &str) {
    // The result is ignored: the host accepts any UTF-8 message, and logging is what runs
    // when something already went wrong, so it must not panic itself.
    // SAFETY: `message` is a live borrow, readable for its length during the call.
    unsafe {
        abi::ecall(
            abi::LOG,
            [arg(message.as_ptr()), message.len() as u64, 0, 0, 0, 0],
        );
    }
}

/// Saves bytes for the next program version. Only in `on_live_update`.
pub fn state_save(data: &[u8]) -> Result<(), Error> {
    // SAFETY: `data` is a live borrow, readable for its length during the call.
    let result = unsafe {
        abi::ecall(
            abi::STATE_SAVE,
            [arg(data.as_ptr()), data.len() as u64, 0, 0, 0, 0],
        )
    };
    check(result).map(drop)
}

/// The bytes the previous program version saved with [`state_save`]. Only in
/// `on_resume_update`.
///
/// # Panics
///
/// In any other hook.
#[track_caller]
pub fn state_restore() -> Vec<u8> {
    // SAFETY: no inputs.
    expect_ok(
        unsafe { call_with_output(abi::STATE_RESTORE, &[]) },
        "state_restore",
    )
}

// ---------------------------------------------------------------------------------------
// Headers, url, method, status, body: generic over the header set, returning `Result`.

/// The value of the first header called `name` in `set`, or `None` if there is none.
pub fn header_get(set: HeaderSet, name: &str) -> Result<Option<String>, Error> {
    // SAFETY: `name` is a live borrow, readable for its length during the call.
    let result = unsafe {
        call_with_output(
            abi::HEADER_GET,
            &[set.id(), arg(name.as_ptr()), name.len() as u64],
        )
    };
    match result {
        Ok(value) => Ok(Some(into_string(value))),
        Err(Error::NotFound) => Ok(None),
        Err(error) => Err(error),
    }
}

/// Replaces every header called `name` in `set` with one `name: value`.
pub fn header_set(set: HeaderSet, name: &str, value: &str) -> Result<(), Error> {
    // SAFETY: `name` and `value` are live borrows, readable for their lengths.
    let result = unsafe {
        abi::ecall(
            abi::HEADER_SET,
            [
                set.id(),
                arg(name.as_ptr()),
                name.len() as u64,
                arg(value.as_ptr()),
                value.len() as u64,
                0,
            ],
        )
    };
    check(result).map(drop)
}

/// Adds one more header `name: value` to `set`, keeping existing ones.
pub fn header_append(set: HeaderSet, name: &str, value: &str) -> Result<(), Error> {
    // SAFETY: `name` and `value` are live borrows, readable for their lengths.
    let result = unsafe {
        abi::ecall(
            abi::HEADER_APPEND,
            [
                set.id(),
                arg(name.as_ptr()),
                name.len() as u64,
                arg(value.as_ptr()),
                value.len() as u64,
                0,
            ],
        )
    };
    check(result).map(drop)
}

/// Removes every header called `name` from `set`; returns how many there were.
pub fn header_unset(set: HeaderSet, name: &str) -> Result<usize, Error> {
    // SAFETY: `name` is a live borrow, readable for its length during the call.
    let result = unsafe {
        abi::ecall(
            abi::HEADER_UNSET,
            [set.id(), arg(name.as_ptr()), name.len() as u64, 0, 0, 0],
        )
    };
    Ok(check(result)? as usize)
}

/// The number of headers in `set`.
pub fn header_count(set: HeaderSet) -> Result<usize, Error> {
    // SAFETY: no memory is passed.
    let result = unsafe { abi::ecall(abi::HEADER_COUNT, [set.id(), 0, 0, 0, 0, 0]) };
    Ok(check(result)? as usize)
}

/// Header number `index` of `set` as one `Name: value` line, or `None` past the end.
pub fn header_at(set: HeaderSet, index: usize) -> Result<Option<String>, Error> {
    // SAFETY: no input pointers.
    let result = unsafe { call_with_output(abi::HEADER_AT, &[set.id(), index as u64]) };
    match result {
        Ok(line) => Ok(Some(into_string(line))),
        Err(Error::NotFound) => Ok(None),
        Err(error) => Err(error),
    }
}

/// Every header of `set` as `(name, value)`, in order.
pub fn headers(set: HeaderSet) -> Result<Vec<(String, String)>, Error> {
    let mut headers = Vec::new();
    while let Some(line) = header_at(set, headers.len())? {
        let (name, value) = line.split_once(':').unwrap_or((&line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        headers.push((name.to_string(), value.to_string()));
    }
    Ok(headers)
}

/// The url (path and query) of `set`.
pub fn url_get(set: HeaderSet) -> Result<String, Error> {
    // SAFETY: no input pointers.
    unsafe { call_with_output(abi::URL_GET, &[set.id()]) }.map(into_string)
}

/// Replaces the url (path and query) of `set`.
pub fn url_set(set: HeaderSet, url: &str) -> Result<(), Error> {
    // SAFETY: `url` is a live borrow, readable for its length during the call.
    let result = unsafe {
        abi::ecall(
            abi::URL_SET,
            [set.id(), arg(url.as_ptr()), url.len() as u64, 0, 0, 0],
        )
    };
    check(result).map(drop)
}

/// The method of `set`.
pub fn method_get(set: HeaderSet) -> Result<String, Error> {
    // SAFETY: no input pointers.
    unsafe { call_with_output(abi::METHOD_GET, &[set.id()]) }.map(into_string)
}

/// Replaces the method of `set`.
pub fn method_set(set: HeaderSet, method: &str) -> Result<(), Error> {
    // SAFETY: `method` is a live borrow, readable for its length during the call.
    let result = unsafe {
        abi::ecall(
            abi::METHOD_SET,
            [set.id(), arg(method.as_ptr()), method.len() as u64, 0, 0, 0],
        )
    };
    check(result).map(drop)
}

/// The status code of `set` (a response set).
pub fn status_get(set: HeaderSet) -> Result<u16, Error> {
    // SAFETY: no memory is passed.
    let result = unsafe { abi::ecall(abi::STATUS_GET, [set.id(), 0, 0, 0, 0, 0]) };
    u16::try_from(check(result)?).map_err(|_| Error::Invalid)
}

/// Replaces the status code of `set` (a response set); it must be in 200..=599.
pub fn status_set(set: HeaderSet, status: u16) -> Result<(), Error> {
    // SAFETY: no memory is passed.
    let result = unsafe { abi::ecall(abi::STATUS_SET, [set.id(), u64::from(status), 0, 0, 0, 0]) };
    check(result).map(drop)
}

// ---------------------------------------------------------------------------------------
// Shortcuts for the client request and response; they panic where the calls above fail.

/// The client request's url (path and query).
///
/// # Panics
///
/// Where the `req` set does not exist (the backend side).
#[track_caller]
pub fn get_url() -> String {
    expect_ok(url_get(HeaderSet::Req), "url_get(req)")
}

/// Replaces the client request's url.
///
/// # Panics
///
/// Where the `req` set does not exist, or if the host rejects the url.
#[track_caller]
pub fn set_url(url: &str) {
    expect_ok(url_set(HeaderSet::Req, url), "url_set(req)");
}

/// The client request's method.
///
/// # Panics
///
/// Where the `req` set does not exist (the backend side).
#[track_caller]
pub fn get_method() -> String {
    expect_ok(method_get(HeaderSet::Req), "method_get(req)")
}

/// Replaces the client request's method.
///
/// # Panics
///
/// Where the `req` set does not exist, or if the host rejects the method.
#[track_caller]
pub fn set_method(method: &str) {
    expect_ok(method_set(HeaderSet::Req, method), "method_set(req)");
}

/// The value of the client request's first header called `name` (case-insensitive).
///
/// # Panics
///
/// Where the `req` set does not exist, or if `name` is not a valid header name.
#[track_caller]
pub fn get_req_header(name: &str) -> Option<String> {
    expect_ok(header_get(HeaderSet::Req, name), "header_get(req)")
}

/// Replaces every client request header called `name` with one `name: value`.
///
/// # Panics
///
/// Where the `req` set does not exist, or if the host rejects the name or value.
#[track_caller]
pub fn set_req_header(name: &str, value: &str) {
    expect_ok(header_set(HeaderSet::Req, name, value), "header_set(req)");
}

/// Adds a header `name: value` to the client request.
///
/// # Panics
///
/// Where the `req` set does not exist, or if the host rejects the name or value.
#[track_caller]
pub fn add_req_header(name: &str, value: &str) {
    expect_ok(
        header_append(HeaderSet::Req, name, value),
        "header_append(req)",
    );
}

/// Removes every client request header called `name`; returns how many there were.
///
/// # Panics
///
/// Where the `req` set does not exist, or if `name` is not a valid header name.
#[track_caller]
pub fn remove_req_header(name: &str) -> usize {
    expect_ok(header_unset(HeaderSet::Req, name), "header_unset(req)")
}

/// Every client request header as `(name, value)`, in order.
///
/// # Panics
///
/// Where the `req` set does not exist.
#[track_caller]
pub fn req_headers() -> Vec<(String, String)> {
    expect_ok(headers(HeaderSet::Req), "header_at(req)")
}

/// The value of the client response's first header called `name` (case-insensitive).
///
/// # Panics
///
/// Where the `resp` set does not exist (e.g. in `on_recv`).
#[track_caller]
pub fn get_resp_header(name: &str) -> Option<String> {
    expect_ok(header_get(HeaderSet::Resp, name), "header_get(resp)")
}

/// Replaces every client response header called `name` with one `name: value`.
///
/// # Panics
///
/// Where the `resp` set does not exist (e.g. in `on_recv`), or on a bad name or value.
#[track_caller]
pub fn set_resp_header(name: &str, value: &str) {
    expect_ok(header_set(HeaderSet::Resp, name, value), "header_set(resp)");
}

/// Adds a header `name: value` to the client response.
///
/// # Panics
///
/// Where the `resp` set does not exist (e.g. in `on_recv`), or on a bad name or value.
#[track_caller]
pub fn add_resp_header(name: &str, value: &str) {
    expect_ok(
        header_append(HeaderSet::Resp, name, value),
        "header_append(resp)",
    );
}

/// Removes every client response header called `name`; returns how many there were.
///
/// # Panics
///
/// Where the `resp` set does not exist (e.g. in `on_recv`), or on a bad name.
#[track_caller]
pub fn remove_resp_header(name: &str) -> usize {
    expect_ok(header_unset(HeaderSet::Resp, name), "header_unset(resp)")
}

/// The client request's body. The host reads it after `on_recv` (which sees headers only),
/// so call this on the backend side, e.g. in a [`forge`] callback.
///
/// # Panics
///
/// Where the host does not allow it (e.g. in `on_recv`).
#[track_caller]
pub fn get_body() -> Vec<u8> {
    // SAFETY: no inputs.
    expect_ok(unsafe { call_with_output(abi::BODY_GET, &[]) }, "body_get")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_round_trips() {
        for errno in [
            abi::EPERM,
            abi::ENOENT,
            abi::E2BIG,
            abi::EINVAL,
            abi::ENOSYS,
            5,
        ] {
            assert_eq!(Error::from_errno(errno).errno(), errno);
        }
        assert_eq!(check(-(abi::ENOENT as i64)), Err(Error::NotFound));
        assert_eq!(check(32), Ok(32));
    }

    #[test]
    fn header_set_ids_round_trip() {
        for set in [
            HeaderSet::Req,
            HeaderSet::Resp,
            HeaderSet::Bereq,
            HeaderSet::Beresp,
        ] {
            assert_eq!(HeaderSet::from_id(set.id() as u32), Some(set));
        }
        assert_eq!(HeaderSet::from_id(4), None);
    }
}

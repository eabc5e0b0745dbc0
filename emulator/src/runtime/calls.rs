//! Tenant calls (ecall ≥ 500): argument checking against guest memory, the per-hook rules of
//! `docs/abi.md`, and dispatch to the `Host` or the runtime's own state. The calls libvmod-riscv's
//! API needs beyond the core set are in `extended`.

mod extended;

pub use extended::{RegisteredFunctions, TenantDecision};

use std::borrow::Cow;
use std::cell::Cell;
use std::sync::Arc;

use super::abi::{errno, Call, Decision, HeaderSet, Hook};
use super::helpers::{self, QueryError};
use super::host::{
    is_tenant_writable_header, is_valid_header_name, is_valid_header_value, is_valid_url, Host,
    HostError,
};
use super::regex::RegexTable;
use super::usage::{
    Meter, RequestUsage, CALL_COST, HASH_COST_PER_KIB, JSON_PARSE_COST_PER_KIB,
    MAX_BACKEND_NAME_BYTES, MAX_HEADER_BYTES_ADDED, XML_PARSE_COST_PER_KIB,
};
use crate::mem::{Access as MemoryAccess, Perms};
use crate::Machine;

/// Largest input a call copies out of the guest; bigger is `-E2BIG`, so a tenant cannot make the
/// host allocate without bound.
const MAX_INPUT_BYTES: u64 = 16 << 20;

/// Where in a tenant's life a call is made; it decides which calls and header sets are allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// `main()`, before `wait_for_requests`.
    Boot,
    Hook(Hook),
    /// A forge callback building the backend response.
    Forge,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::Boot => "main()",
            Phase::Hook(hook) => hook.name(),
            Phase::Forge => "forge callback",
        }
    }

    fn allows_set(self, set: HeaderSet) -> bool {
        use HeaderSet::*;
        let allowed: &[HeaderSet] = match self {
            Phase::Hook(Hook::Recv | Hook::Hash | Hook::Hit | Hook::Miss) => &[Request],
            Phase::Hook(Hook::Deliver | Hook::Synth) => &[Request, Response],
            Phase::Hook(Hook::BackendFetch) => &[BackendRequest],
            Phase::Hook(Hook::BackendResponse | Hook::BackendError) | Phase::Forge => {
                &[BackendRequest, BackendResponse]
            }
            Phase::Boot | Phase::Hook(Hook::LiveUpdate | Hook::ResumeUpdate) => &[],
        };
        allowed.contains(&set)
    }

    fn is_backend_side(self) -> bool {
        match self {
            Phase::Forge => true,
            Phase::Hook(hook) => hook.is_backend_side(),
            Phase::Boot => false,
        }
    }
}

/// A guest function and the value it gets as `a0`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GuestFunction {
    pub entry: u64,
    pub data: u64,
}

/// The hooks a tenant registered, by hook id.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Hooks([Option<GuestFunction>; 11]);

impl Hooks {
    pub fn get(&self, hook: Hook) -> Option<GuestFunction> {
        self.0.get(Self::slot(hook)).copied().flatten()
    }

    fn set(&mut self, hook: Hook, function: Option<GuestFunction>) {
        if let Some(slot) = self.0.get_mut(Self::slot(hook)) {
            *slot = function;
        }
    }

    fn slot(hook: Hook) -> usize {
        usize::try_from(hook.number()).unwrap_or(usize::MAX)
    }
}

/// A `forge` request made in `on_recv`: the callback builds the response on the backend side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ForgeRequest {
    pub decision: Decision,
    pub callback: GuestFunction,
}

/// A response the tenant built with `respond`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
}

/// What `cache_set` asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheSetting {
    pub cacheable: bool,
    pub ttl_seconds: u64,
}

/// What calls leave behind for the runtime, per machine.
#[derive(Clone, Debug, Default)]
pub struct CallState {
    pub hooks: Hooks,
    pub forge: Option<ForgeRequest>,
    pub response: Option<Response>,
    pub cache: Option<CacheSetting>,
    /// Bytes `state_save` handed over in `on_live_update`.
    pub saved_state: Option<Vec<u8>>,
    /// Bytes `state_restore` gives in `on_resume_update`.
    pub restore_state: Option<Vec<u8>>,
    /// The backend `backend_set` chose (the host accepted it).
    pub backend: Option<String>,
    /// The backends `backend_set` may choose (the tenant's `backends`); `None`: any.
    pub allowed_backends: Option<Arc<[String]>>,
    /// What `hash_add` added to the cache key and the host has not taken yet.
    pub hash: Vec<u8>,
    /// What the fork took from its host so far, against the per-request caps.
    pub usage: RequestUsage,
    /// What `decision` asked the host to do.
    pub decision: Option<TenantDecision>,
    /// Functions `register_function` named, for calls by name.
    pub functions: RegisteredFunctions,
    /// Regular expressions (`regex_*`).
    pub regexes: RegexTable,
    /// A debug program's machine: `breakpoint` stops for a debugger.
    pub debug: bool,
}

impl CallState {
    /// A fork's state at the start of a request: the template's hooks, backends, functions
    /// and expressions, nothing else yet.
    pub fn for_fork(
        hooks: Hooks,
        allowed_backends: Option<Arc<[String]>>,
        functions: RegisteredFunctions,
        regexes: RegexTable,
        debug: bool,
    ) -> CallState {
        CallState {
            hooks,
            forge: None,
            response: None,
            cache: None,
            saved_state: None,
            restore_state: None,
            backend: None,
            allowed_backends,
            hash: Vec::new(),
            usage: RequestUsage::default(),
            decision: None,
            functions,
            regexes,
            debug,
        }
    }
}

/// Why a call ends the guest's run instead of returning to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallEnd {
    /// `wait_for_requests` in `main()`: start-up is over.
    Waiting,
    /// A pointer or length outside guest memory.
    BadArgument(String),
    /// Writing the result needed memory past the request's limit.
    MemoryLimit(String),
    /// The call's price did not fit in what is left of the budget.
    BudgetExhausted,
    /// `decision` ended the hook; when `paused`, the host may resume it where it stopped.
    Decided { paused: bool },
    /// `end_hook` ended the hook or callback as if its function had returned.
    Returned,
    /// `breakpoint` in a debug program: the host may attach a debugger, then resume.
    Breakpoint,
}

/// The value of a `Result<T, i64>`, or return the errno to the guest.
macro_rules! or_errno {
    ($result:expr) => {
        match $result {
            Ok(value) => value,
            Err(code) => return Ok(code),
        }
    };
}

/// Runs tenant call `number`, charging its price to what is left of the budget
/// (`budget_left`), and returns its `a0` or why the run must end, with the instructions it
/// charged.
pub fn dispatch(
    machine: &mut Machine,
    number: u64,
    phase: Phase,
    state: &mut CallState,
    host: &mut dyn Host,
    budget_left: u64,
) -> (Result<i64, CallEnd>, u64) {
    let meter = Meter::new(budget_left, &state.usage);
    let missed_page = Cell::new(None);
    let result = meter
        .charge(CALL_COST)
        .and_then(|()| run_call(machine, number, phase, state, host, &meter, &missed_page));
    if let Some(addr) = missed_page.get() {
        machine.memory().hold_for_read(addr);
    }
    state.usage.host_bytes = meter.host_bytes();
    (result, meter.charged())
}

fn run_call(
    machine: &mut Machine,
    number: u64,
    phase: Phase,
    state: &mut CallState,
    host: &mut dyn Host,
    meter: &Meter,
    missed_page: &Cell<Option<u64>>,
) -> Result<i64, CallEnd> {
    let Some(call) = Call::from_number(number) else {
        return Ok(-errno::ENOSYS);
    };
    // Pointers and lengths as the guest passed them: 32-bit on RV32, 64-bit on RV64.
    let args: [u64; 6] = core::array::from_fn(|index| machine.argument(index));
    let mut guest = Guest {
        machine,
        call,
        meter,
        missed_page,
    };
    if let Some(result) = extended::dispatch(&mut guest, call, args, phase, state, host) {
        return result;
    }
    let result = match call {
        Call::WaitForRequests => {
            if phase != Phase::Boot {
                return Ok(-errno::EPERM);
            }
            let function = guest.function(args[0], args[1])?;
            state.hooks.set(Hook::Recv, Some(function));
            return Err(CallEnd::Waiting);
        }
        Call::SetHook => {
            let Some(hook) = Hook::from_number(args[0]) else {
                return Ok(-errno::EINVAL);
            };
            let function = match args[1] {
                0 => None,
                entry => Some(guest.function(entry, args[2])?),
            };
            state.hooks.set(hook, function);
            Ok(0)
        }
        Call::HeaderGet => {
            let (set, name) = or_errno!(guest.header_set_and_name(phase, args, Access::Read)?);
            let found = host.header(set, &name);
            // The name is read in guest memory, which the output writes.
            drop(name);
            match found {
                Ok(Some(value)) => guest.output(args[3], args[4], value.as_bytes())?,
                Ok(None) => Err(HostError::NotFound),
                Err(error) => Err(error),
            }
        }
        Call::HeaderSet | Call::HeaderAppend => {
            let (set, name) = or_errno!(guest.header_set_and_name(phase, args, Access::Write)?);
            let value = or_errno!(guest.text(args[3], args[4])?);
            if !is_valid_header_value(&value) {
                return Ok(-errno::EINVAL);
            }
            or_errno!(state.usage.admit_header(name.len() + value.len(), true));
            if call == Call::HeaderSet {
                host.set_header(set, &name, &value).map(|()| 0)
            } else {
                host.append_header(set, &name, &value).map(|()| 0)
            }
        }
        Call::HeaderUnset => {
            let (set, name) = or_errno!(guest.header_set_and_name(phase, args, Access::Write)?);
            host.unset_header(set, &name).map(|removed| removed as i64)
        }
        Call::HeaderCount => {
            let set = or_errno!(header_set(phase, args[0]));
            host.header_count(set).map(|count| count as i64)
        }
        Call::HeaderAt => {
            let set = or_errno!(header_set(phase, args[0]));
            // An index beyond usize (on a 32-bit host) is past every header, not a wrap.
            let header = match usize::try_from(args[1]) {
                Ok(index) => host.header_at(set, index),
                Err(_) => Ok(None),
            };
            match header {
                Ok(Some((name, value))) => {
                    let line = format!("{name}: {value}");
                    guest.output(args[2], args[3], line.as_bytes())?
                }
                Ok(None) => Err(HostError::NotFound),
                Err(error) => Err(error),
            }
        }
        Call::UrlGet | Call::MethodGet => {
            let set = or_errno!(header_set(phase, args[0]));
            let value = if call == Call::UrlGet {
                host.url(set)
            } else {
                host.method(set)
            };
            match value {
                Ok(value) => guest.output(args[1], args[2], value.as_bytes())?,
                Err(error) => Err(error),
            }
        }
        Call::UrlSet | Call::MethodSet => {
            let set = or_errno!(header_set(phase, args[0]));
            let value = or_errno!(guest.text(args[1], args[2])?);
            let valid = if call == Call::UrlSet {
                is_valid_url(&value)
            } else {
                is_valid_header_name(&value)
            };
            if !valid {
                return Ok(-errno::EINVAL);
            }
            or_errno!(state.usage.admit_header(value.len(), false));
            if call == Call::UrlSet {
                host.set_url(set, &value).map(|()| 0)
            } else {
                host.set_method(set, &value).map(|()| 0)
            }
        }
        Call::StatusGet => {
            let set = or_errno!(header_set(phase, args[0]));
            host.status(set).map(i64::from)
        }
        Call::StatusSet => {
            let set = or_errno!(header_set(phase, args[0]));
            let Some(status) = final_status(args[1]) else {
                return Ok(-errno::EINVAL);
            };
            host.set_status(set, status).map(|()| 0)
        }
        Call::BodyGet => {
            if !phase.is_backend_side() {
                return Ok(-errno::EPERM);
            }
            match host.request_body() {
                Ok(body) => guest.output(args[0], args[1], &body)?,
                Err(error) => Err(error),
            }
        }
        Call::Forge => {
            if phase != Phase::Hook(Hook::Recv) {
                return Ok(-errno::EPERM);
            }
            let Some(decision) = Decision::from_number(args[0]) else {
                return Ok(-errno::EINVAL);
            };
            let callback = guest.function(args[1], args[2])?;
            state.forge = Some(ForgeRequest { decision, callback });
            Ok(0)
        }
        Call::Respond => {
            let answers = matches!(
                phase,
                Phase::Forge | Phase::Hook(Hook::Recv | Hook::Synth | Hook::BackendError)
            );
            if !answers {
                return Ok(-errno::EPERM);
            }
            let Some(status) = final_status(args[0]) else {
                return Ok(-errno::EINVAL);
            };
            let content_type = or_errno!(guest.text(args[1], args[2])?);
            if !is_valid_header_value(&content_type) {
                return Ok(-errno::EINVAL);
            }
            if content_type.len() > MAX_HEADER_BYTES_ADDED {
                return Ok(-errno::E2BIG);
            }
            let body = or_errno!(guest.bytes(args[3], args[4])?).into_owned();
            state.response = Some(Response {
                status,
                content_type: content_type.into_string(),
                body,
            });
            Ok(0)
        }
        Call::BackendSet => {
            if !matches!(phase, Phase::Hook(Hook::Recv | Hook::BackendFetch)) {
                return Ok(-errno::EPERM);
            }
            let name = or_errno!(guest.text(args[0], args[1])?);
            if name.is_empty() || !is_valid_header_value(&name) {
                return Ok(-errno::EINVAL);
            }
            if name.len() > MAX_BACKEND_NAME_BYTES {
                return Ok(-errno::E2BIG);
            }
            if let Some(allowed) = &state.allowed_backends {
                if !allowed.iter().any(|backend| *backend == *name) {
                    return Ok(-errno::EPERM);
                }
            }
            host.set_backend(&name).map(|()| {
                state.backend = Some(name.into_string());
                0
            })
        }
        Call::CacheSet => {
            if !extended::may_cache(phase) {
                return Ok(-errno::EPERM);
            }
            state.cache = Some(CacheSetting {
                cacheable: args[0] != 0,
                ttl_seconds: args[1],
            });
            Ok(0)
        }
        Call::HashAdd => {
            if !matches!(phase, Phase::Hook(Hook::Recv | Hook::Hash)) {
                return Ok(-errno::EPERM);
            }
            or_errno!(state
                .usage
                .admit_hash(usize::try_from(args[1]).unwrap_or(usize::MAX)));
            let data = or_errno!(guest.bytes(args[0], args[1])?);
            state.hash.extend_from_slice(&data);
            Ok(0)
        }
        Call::Log => {
            if !state
                .usage
                .admit_log_line(usize::try_from(args[1]).unwrap_or(usize::MAX))
            {
                return Ok(-errno::E2BIG);
            }
            let message = or_errno!(guest.bytes(args[0], args[1])?);
            host.log(String::from_utf8_lossy(&message).trim_end());
            Ok(0)
        }
        Call::JsonValidate | Call::XmlValidate => {
            let document = or_errno!(guest.bytes(args[0], args[1])?);
            guest.meter.charge_work(args[1], parse_cost_per_kib(call))?;
            let verdict = if call == Call::JsonValidate {
                helpers::json_validate(&document)
            } else {
                helpers::xml_validate(&document)
            };
            match verdict {
                Ok(()) => Ok(0),
                Err(message) => guest.output(args[2], args[3], message.as_bytes())?,
            }
        }
        Call::JsonQuery | Call::XmlQuery => {
            let document = or_errno!(guest.bytes(args[0], args[1])?);
            let path = or_errno!(guest.text(args[2], args[3])?);
            guest.meter.charge_work(args[1], parse_cost_per_kib(call))?;
            let found = if call == Call::JsonQuery {
                helpers::json_query(&document, &path)
            } else {
                helpers::xml_query(&document, &path)
            };
            drop(path);
            match found {
                Ok(value) => guest.output(args[4], args[5], value.as_bytes())?,
                Err(QueryError::NotFound) => Err(HostError::NotFound),
                Err(QueryError::Invalid) => Err(HostError::Invalid),
                Err(QueryError::TooBig) => Err(HostError::TooBig),
            }
        }
        Call::Sha256 => {
            let data = or_errno!(guest.bytes(args[0], args[1])?);
            guest.meter.charge_work(args[1], HASH_COST_PER_KIB)?;
            let digest = helpers::sha256(&data);
            guest.output(args[2], 32, &digest)?
        }
        Call::HmacSha256 => {
            let key = or_errno!(guest.bytes(args[0], args[1])?);
            let message = or_errno!(guest.bytes(args[2], args[3])?);
            let hashed = args[1].saturating_add(args[3]);
            guest.meter.charge_work(hashed, HASH_COST_PER_KIB)?;
            let digest = helpers::hmac_sha256(&key, &message);
            guest.output(args[4], 32, &digest)?
        }
        Call::StateSave => {
            if phase != Phase::Hook(Hook::LiveUpdate) {
                return Ok(-errno::EPERM);
            }
            let data = or_errno!(guest.bytes(args[0], args[1])?);
            state.saved_state = Some(data.into_owned());
            Ok(0)
        }
        // Served by `extended::dispatch` above.
        Call::Decision
        | Call::EndHook
        | Call::RegisterFunction
        | Call::CacheGet
        | Call::Ban
        | Call::Breakpoint
        | Call::RegexCompile
        | Call::RegexMatch
        | Call::RegexSubst
        | Call::RegexFree => Ok(-errno::ENOSYS),
        Call::StateRestore => {
            if phase != Phase::Hook(Hook::ResumeUpdate) {
                return Ok(-errno::EPERM);
            }
            let saved = state.restore_state.as_deref().unwrap_or_default();
            guest.output(args[0], args[1], saved)?
        }
    };
    Ok(result.unwrap_or_else(|error| -error.errno()))
}

fn header_set(phase: Phase, number: u64) -> Result<HeaderSet, i64> {
    let set = HeaderSet::from_number(number).ok_or(-errno::EINVAL)?;
    if !phase.allows_set(set) {
        return Err(-errno::EPERM);
    }
    Ok(set)
}

/// A status a response may end with: 1xx are interim and 600 up are not HTTP.
fn final_status(value: u64) -> Option<u16> {
    u16::try_from(value)
        .ok()
        .filter(|status| (200..=599).contains(status))
}

/// Whether a call reads or changes a header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Access {
    Read,
    Write,
}

/// UTF-8 text a tenant call read from guest memory ([`Guest::text`]); it derefs to `str`.
/// Texts in one page are read where they are (nearly all: names, values, URLs); one that
/// crosses a page is copied into a buffer that comes from a few this thread keeps and goes
/// back there.
pub(crate) enum GuestText<'m> {
    InPlace(&'m str),
    Copied(String),
}

/// `bytes` as text, if they are UTF-8. Names, URLs and most values are ASCII, which `is_ascii`
/// confirms a word at a time where the full UTF-8 check goes a byte at a time through short
/// texts.
fn utf8(bytes: &[u8]) -> Option<&str> {
    if bytes.is_ascii() {
        // SAFETY: ASCII is UTF-8.
        return Some(unsafe { core::str::from_utf8_unchecked(bytes) });
    }
    core::str::from_utf8(bytes).ok()
}

/// Spare text buffers per thread, and the largest kept.
const SPARE_TEXT_BUFFERS: usize = 8;
const MAX_SPARE_TEXT_BYTES: usize = 512;

/// A text's buffer, kept for the next text (`crate::spare`).
struct TextBuffer(Vec<u8>);

impl crate::spare::Spare for TextBuffer {
    const BYTES: usize = MAX_SPARE_TEXT_BYTES;
}

crate::spare::spare_pool!(static SPARE_TEXTS: TextBuffer);

/// An empty buffer for a text, a spare one if this thread has one.
fn text_buffer() -> Vec<u8> {
    crate::spare::take(&SPARE_TEXTS).map_or_else(Vec::new, |spare| spare.0)
}

/// Keeps `buffer` for the next text if it is small enough.
fn give_back_text_buffer(mut buffer: Vec<u8>) {
    if buffer.capacity() == 0 || buffer.capacity() > MAX_SPARE_TEXT_BYTES {
        return;
    }
    buffer.clear();
    crate::spare::give(&SPARE_TEXTS, TextBuffer(buffer), SPARE_TEXT_BUFFERS);
}

impl GuestText<'_> {
    pub(crate) fn into_string(mut self) -> String {
        match &mut self {
            GuestText::InPlace(text) => (*text).to_owned(),
            GuestText::Copied(text) => core::mem::take(text),
        }
    }
}

impl Drop for GuestText<'_> {
    fn drop(&mut self) {
        if let GuestText::Copied(text) = self {
            give_back_text_buffer(core::mem::take(text).into_bytes());
        }
    }
}

impl core::ops::Deref for GuestText<'_> {
    type Target = str;

    fn deref(&self) -> &str {
        match self {
            GuestText::InPlace(text) => text,
            GuestText::Copied(text) => text,
        }
    }
}

/// Guest memory as one call sees it: every range is checked before it is touched, and every
/// byte copied is paid for before it is.
struct Guest<'a> {
    machine: &'a mut Machine,
    call: Call,
    meter: &'a Meter,
    /// A page a text was read from that the read TLB did not hold, for `dispatch` to put
    /// there after the call (texts are read through shared references): tenants pass texts
    /// from pages their own code rarely loads from (string literals), and the next call, and
    /// the snapshot warmed by requests (`MemorySnapshot::warmed_by`), find it there.
    missed_page: &'a Cell<Option<u64>>,
}

/// The price per KiB of the document a parsing call reads.
fn parse_cost_per_kib(call: Call) -> u64 {
    match call {
        Call::XmlValidate | Call::XmlQuery => XML_PARSE_COST_PER_KIB,
        _ => JSON_PARSE_COST_PER_KIB,
    }
}

impl Guest<'_> {
    fn bad_argument(&self, what: &str, addr: u64, len: u64) -> CallEnd {
        CallEnd::BadArgument(format!(
            "{}: {what} at {addr:#x} (length {len}) is outside guest memory",
            self.call
        ))
    }

    /// Bytes at `(addr, len)`: `Ok(Err(-E2BIG))` if too large to copy, `Err` if unmapped.
    fn bytes(&self, addr: u64, len: u64) -> Result<Result<Cow<'static, [u8]>, i64>, CallEnd> {
        if len == 0 {
            return Ok(Ok(Cow::Borrowed(&[])));
        }
        let len_in_bytes = match self.checked_input(addr, len)? {
            Ok(len_in_bytes) => len_in_bytes,
            Err(code) => return Ok(Err(code)),
        };
        Ok(Ok(Cow::Owned(self.copy_to_vec(addr, len, len_in_bytes)?)))
    }

    /// UTF-8 text at `(addr, len)`: `Ok(Err(-EINVAL))` if it is not UTF-8, `Ok(Err(-E2BIG))`
    /// if too large to copy, `Err` if unmapped. It borrows the call's view of guest memory,
    /// so nothing writes there while it is read; it is paid for as a copy either way.
    fn text(&self, addr: u64, len: u64) -> Result<Result<GuestText<'_>, i64>, CallEnd> {
        let len_in_bytes = match len {
            0 => return Ok(Ok(GuestText::InPlace(""))),
            _ => match self.checked_input(addr, len)? {
                Ok(len_in_bytes) => len_in_bytes,
                Err(code) => return Ok(Err(code)),
            },
        };
        let memory = &self.machine.memory;
        if !memory.hits_tlb(addr, 1, MemoryAccess::Read) {
            self.missed_page.set(Some(addr));
        }
        let in_page = memory
            .bytes_in_page(addr, len_in_bytes)
            .map_err(|fault| self.bad_argument("input", fault.addr, len))?;
        if in_page.len() == len_in_bytes {
            return Ok(utf8(in_page).map(GuestText::InPlace).ok_or(-errno::EINVAL));
        }
        let mut bytes = text_buffer();
        bytes.reserve(len_in_bytes);
        self.copy_input(addr, len, |chunk| bytes.extend_from_slice(chunk))?;
        if utf8(&bytes).is_some() {
            // SAFETY: `utf8` just accepted these bytes.
            return Ok(Ok(GuestText::Copied(unsafe {
                String::from_utf8_unchecked(bytes)
            })));
        }
        give_back_text_buffer(bytes);
        Ok(Err(-errno::EINVAL))
    }

    /// Checks that `(addr, len)`, `len > 0`, is readable guest memory and not too large to
    /// copy, and charges the copy: its length, `Ok(Err(-E2BIG))`, or `Err` if unmapped.
    fn checked_input(&self, addr: u64, len: u64) -> Result<Result<usize, i64>, CallEnd> {
        let end = addr
            .checked_add(len)
            .ok_or_else(|| self.bad_argument("input", addr, len))?;
        if !self.machine.memory.is_mapped(addr, end, Perms::READ) {
            return Err(self.bad_argument("input", addr, len));
        }
        if len > MAX_INPUT_BYTES {
            return Ok(Err(-errno::E2BIG));
        }
        let Ok(len_in_bytes) = usize::try_from(len) else {
            return Ok(Err(-errno::E2BIG));
        };
        if let Err(code) = self.meter.charge_copy(len)? {
            return Ok(Err(code));
        }
        Ok(Ok(len_in_bytes))
    }

    /// The checked input at `(addr, len)`, `len_in_bytes` long, in a new vector. Filled chunk
    /// by chunk rather than zeroed first: glibc serves zeroed allocations (calloc) past its
    /// fast per-thread cache.
    fn copy_to_vec(&self, addr: u64, len: u64, len_in_bytes: usize) -> Result<Vec<u8>, CallEnd> {
        let mut buffer = Vec::with_capacity(len_in_bytes);
        self.copy_input(addr, len, |chunk| buffer.extend_from_slice(chunk))?;
        Ok(buffer)
    }

    /// Hands the checked input at `(addr, len)` to `visit`, chunk by chunk.
    fn copy_input(&self, addr: u64, len: u64, visit: impl FnMut(&[u8])) -> Result<(), CallEnd> {
        self.machine
            .memory
            .for_each_chunk(addr, len, visit)
            .map_err(|fault| self.bad_argument("input", fault.addr, len))
    }

    /// Writes as much of `value` as fits `capacity` at `addr`; returns the full length. The
    /// whole value is paid for (the host made all of it), before anything is written;
    /// `Ok(Err(TooBig))` past the request's host bytes.
    fn output(
        &mut self,
        addr: u64,
        capacity: u64,
        value: &[u8],
    ) -> Result<Result<i64, HostError>, CallEnd> {
        if self.meter.charge_copy(value.len() as u64)?.is_err() {
            return Ok(Err(HostError::TooBig));
        }
        let n_bytes = usize::try_from(capacity).map_or(value.len(), |cap| cap.min(value.len()));
        if n_bytes > 0 {
            let length = n_bytes as u64;
            let end = addr
                .checked_add(length)
                .ok_or_else(|| self.bad_argument("output buffer", addr, length))?;
            if !self
                .machine
                .memory()
                .is_mapped(addr, end, Perms::READ_WRITE)
            {
                return Err(self.bad_argument("output buffer", addr, length));
            }
            if self.machine.write_memory(addr, &value[..n_bytes]).is_err() {
                return Err(CallEnd::MemoryLimit(format!(
                    "{}: writing its result needed more memory than the request may use",
                    self.call
                )));
            }
        }
        Ok(Ok(value.len() as i64))
    }

    /// A hook or callback: its entry must be program code.
    fn function(&self, entry: u64, data: u64) -> Result<GuestFunction, CallEnd> {
        if !self.machine.program().is_executable(entry) {
            return Err(self.bad_argument("function", entry, 0));
        }
        Ok(GuestFunction { entry, data })
    }

    /// The header set in `args[0]` and the header name in `args[1..3]`, or the errno to return:
    /// for a write, `-EPERM` for a name tenants may not change (even one that is not a token,
    /// like `:authority`).
    fn header_set_and_name(
        &self,
        phase: Phase,
        args: [u64; 6],
        access: Access,
    ) -> Result<Result<(HeaderSet, GuestText<'_>), i64>, CallEnd> {
        let set = match header_set(phase, args[0]) {
            Ok(set) => set,
            Err(code) => return Ok(Err(code)),
        };
        Ok(match self.text(args[1], args[2])? {
            Ok(name) if access == Access::Write && !is_tenant_writable_header(&name) => {
                Err(-errno::EPERM)
            }
            Ok(name) if is_valid_header_name(&name) => Ok((set, name)),
            Ok(_) => Err(-errno::EINVAL),
            Err(code) => Err(code),
        })
    }
}

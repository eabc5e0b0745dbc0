//! The calls libvmod-riscv's tenant API needs beyond the core set (`docs/abi.md`, calls 570
//! and up): decisions for the host's configuration (VCL) to act on, ending a hook early,
//! functions registered by name, the cache decision read back, bans, breakpoints for a
//! debugger and regular expressions. Same rules as every call: arguments are checked against
//! guest memory first, and what a phase may not do is `-EPERM`.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{errno, final_status, Call, CallEnd, CallState, Guest, Hook, Phase};
use crate::registers::A0;
use crate::runtime::abi::{MAX_DECISION_NAME, MAX_FUNCTION_NAME};
use crate::runtime::host::Host;
use crate::runtime::regex::RegexError;

/// What `decision` asked for: a name the host's configuration acts on (`synth`, `pass`,
/// `hash`, ... any word), a status, and whether the hook is paused to be resumed later.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TenantDecision {
    pub name: String,
    pub status: u16,
    pub paused: bool,
}

/// Functions a tenant registered by name (`register_function`), found by `Fork::call_function`
/// before the symbol table. Shared by a template's forks until one registers its own; `None`
/// while there are none, so forks of a tenant without any share no count to write.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RegisteredFunctions(Option<Arc<BTreeMap<String, u64>>>);

/// Most functions one tenant may register.
const MAX_REGISTERED_FUNCTIONS: usize = 256;

/// Longest ban expression, in bytes.
const MAX_BAN_BYTES: u64 = 4 << 10;

impl RegisteredFunctions {
    pub fn get(&self, name: &str) -> Option<u64> {
        self.0.as_ref()?.get(name).copied()
    }

    fn insert(&mut self, name: String, entry: u64) -> bool {
        let functions = self.0.get_or_insert_with(Arc::default);
        if functions.len() >= MAX_REGISTERED_FUNCTIONS && !functions.contains_key(&name) {
            return false;
        }
        Arc::make_mut(functions).insert(name, entry);
        true
    }
}

/// Where `cache_set` and `cache_get` may be called: while a backend response is made or
/// arrives (it is the response they are about).
pub(super) fn may_cache(phase: Phase) -> bool {
    matches!(
        phase,
        Phase::Forge | Phase::Hook(Hook::BackendResponse | Hook::BackendError)
    )
}

fn in_request(phase: Phase) -> bool {
    matches!(phase, Phase::Hook(_) | Phase::Forge)
}

/// A decision name: a short word.
fn is_decision_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_DECISION_NAME
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-')
}

fn regex_errno(error: RegexError) -> i64 {
    match error {
        RegexError::Invalid => -errno::EINVAL,
        RegexError::TooBig => -errno::E2BIG,
    }
}

/// The value of a `Result<T, i64>`, or return the errno to the guest.
macro_rules! or_errno {
    ($result:expr) => {
        match $result {
            Ok(value) => value,
            Err(code) => return Some(Ok(code)),
        }
    };
}

/// UTF-8 text at `(addr, len)` (see `Guest::text`): returns the errno to the guest, or ends
/// the run for a range outside guest memory.
macro_rules! text {
    ($guest:expr, $addr:expr, $len:expr) => {
        match $guest.text($addr, $len) {
            Ok(Ok(text)) => text,
            Ok(Err(code)) => return Some(Ok(code)),
            Err(end) => return Some(Err(end)),
        }
    };
}

/// Runs `call` if it is one of these; `None` for the core calls.
pub(super) fn dispatch(
    guest: &mut Guest<'_>,
    call: Call,
    args: [u64; 6],
    phase: Phase,
    state: &mut CallState,
    host: &mut dyn Host,
) -> Option<Result<i64, CallEnd>> {
    let result = match call {
        Call::Decision => {
            if !matches!(phase, Phase::Hook(_)) {
                return Some(Ok(-errno::EPERM));
            }
            let name = text!(guest, args[0], args[1]);
            let status = match args[2] {
                0 => 0,
                value => or_errno!(final_status(value).ok_or(-errno::EINVAL)),
            };
            if !is_decision_name(&name) {
                return Some(Ok(-errno::EINVAL));
            }
            let paused = args[3] != 0;
            state.decision = Some(TenantDecision {
                name: name.into_string(),
                status,
                paused,
            });
            // A paused hook resumes after the ecall with this result.
            guest.machine.set_register(A0, 0);
            Err(CallEnd::Decided { paused })
        }
        Call::EndHook => {
            if !in_request(phase) {
                return Some(Ok(-errno::EPERM));
            }
            Err(CallEnd::Returned)
        }
        Call::RegisterFunction => {
            let name = text!(guest, args[0], args[1]);
            if name.is_empty() || name.len() > MAX_FUNCTION_NAME {
                return Some(Ok(-errno::EINVAL));
            }
            let function = match guest.function(args[2], 0) {
                Ok(function) => function,
                Err(end) => return Some(Err(end)),
            };
            if !state.functions.insert(name.into_string(), function.entry) {
                return Some(Ok(-errno::E2BIG));
            }
            Ok(0)
        }
        Call::CacheGet => {
            if !may_cache(phase) {
                return Some(Ok(-errno::EPERM));
            }
            match (state.cache, args[0]) {
                (None, 0 | 1) => Ok(-errno::ENOENT),
                (Some(setting), 0) => Ok(i64::from(setting.cacheable)),
                (Some(setting), 1) => Ok(i64::try_from(setting.ttl_seconds).unwrap_or(i64::MAX)),
                _ => Ok(-errno::EINVAL),
            }
        }
        Call::Ban => {
            if !in_request(phase) {
                return Some(Ok(-errno::EPERM));
            }
            if args[1] > MAX_BAN_BYTES {
                return Some(Ok(-errno::E2BIG));
            }
            let expression = text!(guest, args[0], args[1]);
            Ok(match host.ban(&expression) {
                Ok(()) => 0,
                Err(error) => -error.errno(),
            })
        }
        Call::Breakpoint => {
            if !state.debug || !in_request(phase) {
                // Outside a debug program a breakpoint is nothing.
                return Some(Ok(0));
            }
            guest.machine.set_register(A0, 0);
            Err(CallEnd::Breakpoint)
        }
        Call::RegexCompile => {
            let pattern = text!(guest, args[0], args[1]);
            Ok(match state.regexes.compile(&pattern) {
                Ok(index) => index as i64,
                Err(error) => regex_errno(error),
            })
        }
        Call::RegexMatch => {
            let subject = text!(guest, args[1], args[2]);
            Ok(match state.regexes.is_match(args[0], &subject) {
                Ok(matched) => i64::from(matched),
                Err(error) => regex_errno(error),
            })
        }
        Call::RegexSubst => {
            // index | all << 31 (fits RV32), text, text_len, replacement, replacement_len, out;
            // out_cap in a6.
            let all = args[0] & (1 << 31) != 0;
            let index = args[0] & !(1 << 31);
            let out_cap = guest.machine.argument(6);
            let text_value = text!(guest, args[1], args[2]);
            let replacement = text!(guest, args[3], args[4]);
            let substituted = state
                .regexes
                .substitute(index, &text_value, &replacement, all);
            // The texts are read in guest memory, which the output writes.
            drop((text_value, replacement));
            match substituted {
                Ok(result) => guest
                    .output(args[5], out_cap, result.as_bytes())
                    .map(|written| written.unwrap_or_else(|error| -error.errno())),
                Err(error) => Ok(regex_errno(error)),
            }
        }
        Call::RegexFree => Ok(match state.regexes.free(args[0]) {
            Ok(()) => 0,
            Err(error) => regex_errno(error),
        }),
        _ => return None,
    };
    Some(result)
}

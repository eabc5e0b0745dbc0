//! The raw tenant ABI: the numbers from `docs/abi.md` and the `ecall` that carries them.
//!
//! Every constant here is named after a row of one of that page's tables, upper-cased
//! (`emulator/tests/abi_agreement.rs` checks them). Most tenants want the safe functions
//! at the crate root instead.

// Calls: `ecall` with a7 = number, arguments in a0..a5, result in a0.
/// Ends start-up: registers `on_recv` as (entry, data); does not return.
pub const WAIT_FOR_REQUESTS: u64 = 500;
/// Registers a hook: (hook, entry, data); entry 0 removes it.
pub const SET_HOOK: u64 = 501;
/// (set, name, name_len, out, out_cap) → value length, `-ENOENT` if absent.
pub const HEADER_GET: u64 = 502;
/// (set, name, name_len, value, value_len): replaces every header of that name.
pub const HEADER_SET: u64 = 503;
/// (set, name, name_len, value, value_len): adds one more header.
pub const HEADER_APPEND: u64 = 504;
/// (set, name, name_len) → number of headers removed.
pub const HEADER_UNSET: u64 = 505;
/// (set) → number of headers.
pub const HEADER_COUNT: u64 = 506;
/// (set, index, out, out_cap) → length of `Name: value`, `-ENOENT` past the end.
pub const HEADER_AT: u64 = 507;
/// (set, out, out_cap) → url length (path and query).
pub const URL_GET: u64 = 508;
/// (set, url, url_len).
pub const URL_SET: u64 = 509;
/// (set, out, out_cap) → method length.
pub const METHOD_GET: u64 = 510;
/// (set, method, method_len).
pub const METHOD_SET: u64 = 511;
/// (set) → status code.
pub const STATUS_GET: u64 = 512;
/// (set, status); status must be a final status, 200..=599.
pub const STATUS_SET: u64 = 513;
/// (out, out_cap) → length of the client request's body.
pub const BODY_GET: u64 = 514;
/// (decision, entry, data); decision 0 = uncached, 1 = cached.
pub const FORGE: u64 = 515;
/// (status, content_type, content_type_len, body, body_len).
pub const RESPOND: u64 = 516;
/// (name, name_len): the request goes to this named backend.
pub const BACKEND_SET: u64 = 517;
/// (cacheable, ttl_seconds) for the response being built.
pub const CACHE_SET: u64 = 518;
/// (data, data_len): adds data to the cache key.
pub const HASH_ADD: u64 = 519;
/// (message, message_len): writes to the tenant's log.
pub const LOG: u64 = 520;
/// (doc, doc_len, err, err_cap) → 0 if valid, else the error message length.
pub const JSON_VALIDATE: u64 = 530;
/// (doc, doc_len, pointer, pointer_len, out, out_cap) → value length.
pub const JSON_QUERY: u64 = 531;
/// (doc, doc_len, err, err_cap) → 0 if valid, else the error message length.
pub const XML_VALIDATE: u64 = 532;
/// (doc, doc_len, path, path_len, out, out_cap) → value length.
pub const XML_QUERY: u64 = 533;
/// (data, data_len, out) → 32; `out` receives 32 bytes.
pub const SHA256: u64 = 540;
/// (key, key_len, message, message_len, out) → 32; `out` receives 32 bytes.
pub const HMAC_SHA256: u64 = 541;
/// (data, data_len); only in `on_live_update`.
pub const STATE_SAVE: u64 = 550;
/// (out, out_cap) → saved state length; only in `on_resume_update`.
pub const STATE_RESTORE: u64 = 551;
/// (name, name_len, status, paused); ends (or pauses) the hook.
pub const DECISION: u64 = 570;
/// (); ends the hook or callback as if it returned.
pub const END_HOOK: u64 = 571;
/// (name, name_len, entry) → 0; a function for calls by name.
pub const REGISTER_FUNCTION: u64 = 572;
/// (what) → cacheable (what 0) or TTL (what 1); `-ENOENT` if `cache_set` was not called.
pub const CACHE_GET: u64 = 573;
/// (expression, expression_len) → 0; bans this tenant's matching cached objects.
pub const BAN: u64 = 574;
/// (); stops for a debugger in a debug program, else nothing.
pub const BREAKPOINT: u64 = 575;
/// (pattern, pattern_len) → index.
pub const REGEX_COMPILE: u64 = 580;
/// (index, subject, subject_len) → 1 match, 0 none.
pub const REGEX_MATCH: u64 = 581;
/// (index | all << 63, text, text_len, replacement, replacement_len, out, out_cap in a6).
pub const REGEX_SUBST: u64 = 582;
/// (index) → 0.
pub const REGEX_FREE: u64 = 583;

// Header sets.
/// The client request.
pub const REQ: u64 = 0;
/// The response to the client.
pub const RESP: u64 = 1;
/// The request sent to the backend (or given to a forge callback).
pub const BEREQ: u64 = 2;
/// The backend's response (or the forged one).
pub const BERESP: u64 = 3;

// Hooks: the host calls entry(data, arg1, arg2).
/// Client request arrived; args (req, resp).
pub const HOOK_ON_RECV: u64 = 0;
/// Cache key is computed; args (req, resp).
pub const HOOK_ON_HASH: u64 = 1;
/// Response is about to go to the client; args (req, resp).
pub const HOOK_ON_DELIVER: u64 = 2;
/// Before a request goes to the backend; args (bereq, beresp).
pub const HOOK_ON_BACKEND_FETCH: u64 = 3;
/// Backend (or forged) response headers arrived; args (bereq, beresp).
pub const HOOK_ON_BACKEND_RESPONSE: u64 = 4;
/// Old program, before a live update; args (0, 0).
pub const HOOK_ON_LIVE_UPDATE: u64 = 5;
/// New program's template, after a live update; args (state length, 0).
pub const HOOK_ON_RESUME_UPDATE: u64 = 6;
/// vcl_synth: write the synthetic response (req, resp).
pub const HOOK_ON_SYNTH: u64 = 7;
/// A cache hit (req).
pub const HOOK_ON_HIT: u64 = 8;
/// A cache miss, before the backend side (req).
pub const HOOK_ON_MISS: u64 = 9;
/// The backend fetch failed (bereq, beresp).
pub const HOOK_ON_BACKEND_ERROR: u64 = 10;

// Error codes: a call returns `-errno`.
/// Not allowed in this hook (or the header set does not exist here).
pub const EPERM: u64 = 1;
/// No such header / value / index.
pub const ENOENT: u64 = 2;
/// Value too large for the host.
pub const E2BIG: u64 = 7;
/// Bad argument value.
pub const EINVAL: u64 = 22;
/// Unknown call number.
pub const ENOSYS: u64 = 38;

/// Makes tenant call `number` with up to six arguments (unused ones are passed as 0) and
/// returns the host's result: `>= 0` on success, `-errno` on failure.
///
/// Off riscv64 (host-side `cargo check`, `cargo doc`, unit tests of pure code) there is no
/// host to call, so this panics; the rest of the crate still type-checks there.
///
/// # Safety
///
/// Every pointer argument must be valid for what `number` does with it: readable for its
/// length for inputs; for outputs, writable for its capacity and not borrowed elsewhere,
/// since the host writes there. (The host ends the request on an unmapped pointer, but it
/// cannot know whether a mapped one points at data Rust considers immutable.)
#[inline]
pub unsafe fn ecall(number: u64, args: [u64; 6]) -> i64 {
    #[cfg(target_arch = "riscv64")]
    {
        let result: i64;
        // SAFETY: `ecall` traps into the host, which reads and writes only the ranges the
        // caller vouched for above; no `nomem`/`readonly` option, so the compiler assumes
        // memory may change. The host does not touch the stack below sp (`nostack`).
        unsafe {
            core::arch::asm!(
                "ecall",
                in("a7") number,
                inlateout("a0") args[0] => result,
                in("a1") args[1],
                in("a2") args[2],
                in("a3") args[3],
                in("a4") args[4],
                in("a5") args[5],
                options(nostack),
            );
        }
        result
    }
    #[cfg(not(target_arch = "riscv64"))]
    {
        let _ = args;
        panic!("rvedge tenant call {number}: only available in a riscv64 guest");
    }
}

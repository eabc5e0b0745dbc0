//! The tenant ABI's numbers, as `docs/abi.md` lists them (a test checks the two agree).

/// Linux errno values returned (negated) by tenant calls.
pub mod errno {
    pub const EPERM: i64 = 1;
    pub const ENOENT: i64 = 2;
    pub const E2BIG: i64 = 7;
    pub const EINVAL: i64 = 22;
    pub const ENOSYS: i64 = 38;
}

macro_rules! numbered_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $number:literal => $text:literal,)* }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($variant,)*
        }

        impl $name {
            /// Every value, in number order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            pub fn from_number(number: u64) -> Option<$name> {
                match number {
                    $($number => Some($name::$variant),)*
                    _ => None,
                }
            }

            pub fn number(self) -> u64 {
                match self {
                    $($name::$variant => $number,)*
                }
            }

            /// The name `docs/abi.md` uses.
            pub fn name(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)*
                }
            }
        }

        impl core::fmt::Display for $name {
            fn fmt(&self, out: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                out.write_str(self.name())
            }
        }
    };
}

numbered_enum! {
    /// A tenant call (`ecall` with this number in `a7`).
    Call {
        WaitForRequests = 500 => "wait_for_requests",
        SetHook = 501 => "set_hook",
        HeaderGet = 502 => "header_get",
        HeaderSet = 503 => "header_set",
        HeaderAppend = 504 => "header_append",
        HeaderUnset = 505 => "header_unset",
        HeaderCount = 506 => "header_count",
        HeaderAt = 507 => "header_at",
        UrlGet = 508 => "url_get",
        UrlSet = 509 => "url_set",
        MethodGet = 510 => "method_get",
        MethodSet = 511 => "method_set",
        StatusGet = 512 => "status_get",
        StatusSet = 513 => "status_set",
        BodyGet = 514 => "body_get",
        Forge = 515 => "forge",
        Respond = 516 => "respond",
        BackendSet = 517 => "backend_set",
        CacheSet = 518 => "cache_set",
        HashAdd = 519 => "hash_add",
        Log = 520 => "log",
        JsonValidate = 530 => "json_validate",
        JsonQuery = 531 => "json_query",
        XmlValidate = 532 => "xml_validate",
        XmlQuery = 533 => "xml_query",
        Sha256 = 540 => "sha256",
        HmacSha256 = 541 => "hmac_sha256",
        StateSave = 550 => "state_save",
        StateRestore = 551 => "state_restore",
        Decision = 570 => "decision",
        EndHook = 571 => "end_hook",
        RegisterFunction = 572 => "register_function",
        CacheGet = 573 => "cache_get",
        Ban = 574 => "ban",
        Breakpoint = 575 => "breakpoint",
        RegexCompile = 580 => "regex_compile",
        RegexMatch = 581 => "regex_match",
        RegexSubst = 582 => "regex_subst",
        RegexFree = 583 => "regex_free",
    }
}

numbered_enum! {
    /// Which HTTP message a header call works on.
    HeaderSet {
        Request = 0 => "req",
        Response = 1 => "resp",
        BackendRequest = 2 => "bereq",
        BackendResponse = 3 => "beresp",
    }
}

numbered_enum! {
    /// A guest function the host calls at a point of a request's life.
    Hook {
        Recv = 0 => "on_recv",
        Hash = 1 => "on_hash",
        Deliver = 2 => "on_deliver",
        BackendFetch = 3 => "on_backend_fetch",
        BackendResponse = 4 => "on_backend_response",
        LiveUpdate = 5 => "on_live_update",
        ResumeUpdate = 6 => "on_resume_update",
        Synth = 7 => "on_synth",
        Hit = 8 => "on_hit",
        Miss = 9 => "on_miss",
        BackendError = 10 => "on_backend_error",
    }
}

numbered_enum! {
    /// Whether a forged response may be cached by the host.
    Decision {
        Uncached = 0 => "uncached",
        Cached = 1 => "cached",
    }
}

impl Hook {
    /// The two arguments the host passes after `data`.
    pub fn arguments(self) -> [u64; 2] {
        let sets = match self {
            Hook::Recv | Hook::Hash | Hook::Deliver | Hook::Synth => {
                [HeaderSet::Request, HeaderSet::Response]
            }
            // The cached object's headers are not a header set (yet): on_hit sees req only.
            Hook::Hit | Hook::Miss => return [HeaderSet::Request.number(), NO_HEADER_SET],
            Hook::BackendFetch | Hook::BackendResponse | Hook::BackendError => {
                [HeaderSet::BackendRequest, HeaderSet::BackendResponse]
            }
            Hook::LiveUpdate | Hook::ResumeUpdate => return [0, 0],
        };
        sets.map(HeaderSet::number)
    }
}

impl Hook {
    /// Whether the hook runs in the backend fork (else in the client's, or outside requests).
    pub fn is_backend_side(self) -> bool {
        matches!(
            self,
            Hook::BackendFetch | Hook::BackendResponse | Hook::BackendError
        )
    }
}

/// The hook argument of a header set the hook does not have.
pub const NO_HEADER_SET: u64 = u64::MAX;

/// Longest decision name (`decision`), in bytes.
pub const MAX_DECISION_NAME: usize = 32;

/// Longest function name `register_function` takes, in bytes.
pub const MAX_FUNCTION_NAME: usize = 256;

/// TTL of a cached forged response when the tenant sets none.
pub const DEFAULT_TTL_SECONDS: u64 = 120;

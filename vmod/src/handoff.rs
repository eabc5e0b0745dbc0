//! What the client side tells the backend side about a request.
//!
//! Varnish runs `vcl_backend_*` and backends in another task (often another thread, and a cached
//! result may serve later requests), which shares nothing with the client's task but the
//! backend request, copied from the client request when the fetch starts. So the client side
//! leaves one request header, [`HANDOFF_HEADER`], that the backend side takes off `bereq`
//! before any tenant code or origin sees it. It carries the VCL's secret nonce, so a header a
//! client sends itself is never believed (`fork()` also removes it from the client request).

use std::borrow::Cow;

use rvedge::runtime::{BackendPlan, ErrorKind};

/// Lower case, as header lookups compare case-insensitively.
pub const HANDOFF_HEADER: &str = "x-rvedge-handoff";

/// The request header `fork()` sets to the tenant's name. Every response a tenant made or
/// touched on the backend side varies on it (`Vary`), so a cached object is only ever served to
/// requests of the tenant that made it, whatever the VCL's vcl_hash does.
pub const TENANT_HEADER: &str = "x-rvedge-tenant";

/// What the backend side must do. The client side borrows its tenant's name to encode one;
/// the backend side owns what it decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Handoff<'a> {
    /// The backend side of the runtime's plan: a forge callback, or backend hooks around the
    /// origin.
    Plan {
        tenant: Cow<'a, str>,
        plan: BackendPlan,
    },
    /// The client side failed: answer the error response.
    Error {
        tenant: Cow<'a, str>,
        kind: ErrorKind,
    },
    /// Replace the tenant's program (or, with `debug`, its debug program) with the request
    /// body, of at most `max_size` bytes.
    LiveUpdate {
        tenant: Cow<'a, str>,
        max_size: usize,
        debug: bool,
    },
}

impl Handoff<'_> {
    pub fn tenant(&self) -> &str {
        match self {
            Handoff::Plan { tenant, .. }
            | Handoff::Error { tenant, .. }
            | Handoff::LiveUpdate { tenant, .. } => tenant,
        }
    }

    /// The header value: `<nonce> <mode> [field] <tenant>`, the tenant last because it is the
    /// only field that may contain spaces.
    pub fn encode(&self, nonce: &str) -> String {
        let mut value = String::new();
        self.encode_into(nonce, &mut value);
        value
    }

    /// Calls `use_value` with the header value, built in a buffer this thread keeps: it is
    /// written on every request with a backend side, which then allocates nothing for it.
    pub fn with_encoded<R>(&self, nonce: &str, use_value: impl FnOnce(&str) -> R) -> R {
        std::thread_local! {
            static VALUE: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
        }
        VALUE.with(|value| match value.try_borrow_mut() {
            Ok(mut value) => {
                value.clear();
                self.encode_into(nonce, &mut value);
                use_value(&value)
            }
            Err(_) => use_value(&self.encode(nonce)),
        })
    }

    /// Appends the header value to `value`, in one string (`format!` cost as much as the rest
    /// of the hand-off).
    fn encode_into(&self, nonce: &str, value: &mut String) {
        let tenant = self.tenant();
        // The longest field is a forge plan's: "forge:", a digit and two 16-digit numbers.
        value.reserve(nonce.len() + tenant.len() + 64);
        value.push_str(nonce);
        value.push(' ');
        match self {
            Handoff::Plan { plan, .. } => {
                value.push_str("plan ");
                plan.encode_into(value);
            }
            Handoff::Error { kind, .. } => {
                value.push_str("error ");
                value.push_str(kind.name());
            }
            Handoff::LiveUpdate {
                max_size, debug, ..
            } => {
                value.push_str(if *debug { "debug " } else { "update " });
                value.push_str(&max_size.to_string());
            }
        }
        value.push(' ');
        value.push_str(tenant);
    }

    /// The hand-off in `value`, if it is well-formed and carries `nonce`.
    pub fn decode(value: &str, nonce: &str) -> Option<Handoff<'static>> {
        let (found_nonce, rest) = value.split_once(' ')?;
        if found_nonce != nonce {
            return None;
        }
        let (mode, rest) = rest.split_once(' ')?;
        match mode {
            "plan" => {
                let (plan, tenant) = rest.split_once(' ')?;
                Some(Handoff::Plan {
                    tenant: Cow::Owned(tenant.into()),
                    plan: BackendPlan::decode(plan)?,
                })
            }
            "error" => {
                let (kind, tenant) = rest.split_once(' ')?;
                Some(Handoff::Error {
                    tenant: Cow::Owned(tenant.into()),
                    kind: ErrorKind::from_name(kind)?,
                })
            }
            "update" | "debug" => {
                let (max_size, tenant) = rest.split_once(' ')?;
                Some(Handoff::LiveUpdate {
                    tenant: Cow::Owned(tenant.into()),
                    max_size: max_size.parse().ok()?,
                    debug: mode == "debug",
                })
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use rvedge::runtime::abi::Decision;
    use rvedge::runtime::{ForgeRequest, GuestFunction};

    use super::*;

    #[test]
    fn every_hand_off_reads_back_with_its_nonce_and_only_with_it() {
        let forge = BackendPlan::Forge(ForgeRequest {
            decision: Decision::Cached,
            callback: GuestFunction {
                entry: 0x10_2a4e,
                data: u64::MAX,
            },
        });
        let tenant = "a tenant with spaces";
        let mut handoffs = vec![
            Handoff::Error {
                tenant: tenant.into(),
                kind: ErrorKind::Timeout,
            },
            Handoff::LiveUpdate {
                tenant: tenant.into(),
                max_size: 1 << 20,
                debug: true,
            },
            Handoff::LiveUpdate {
                tenant: tenant.into(),
                max_size: 0,
                debug: false,
            },
        ];
        for plan in [
            forge,
            BackendPlan::Origin { hooks: false },
            BackendPlan::Origin { hooks: true },
        ] {
            handoffs.push(Handoff::Plan {
                tenant: tenant.into(),
                plan,
            });
        }
        for handoff in handoffs {
            let value = handoff.encode("nonce");
            // The thread's buffer, and the fresh string when that buffer is in use.
            handoff.with_encoded("nonce", |buffered| {
                assert_eq!(buffered, value);
                handoff.with_encoded("nonce", |nested| assert_eq!(nested, value));
            });
            assert_eq!(Handoff::decode(&value, "nonce"), Some(handoff), "{value}");
            assert_eq!(Handoff::decode(&value, "other"), None, "{value}");
        }
        let plan = Handoff::Plan {
            tenant: "t".into(),
            plan: forge,
        };
        assert_eq!(
            plan.encode("n"),
            format!(
                "n plan forge:{}:102a4e:ffffffffffffffff t",
                Decision::Cached.number()
            )
        );
    }
}

//! What the client side tells the backend side about a request.
//!
//! Varnish runs `vcl_backend_*` and backends in another task (often another thread, and a cached
//! result may serve later requests), which shares nothing with the client's task but the
//! backend request, copied from the client request when the fetch starts. So the client side
//! leaves one request header, [`HANDOFF_HEADER`], that the backend side takes off `bereq`
//! before any tenant code or origin sees it. It carries the VCL's secret nonce, so a header a
//! client sends itself is never believed (`fork()` also removes it from the client request).

use rvedge::runtime::{BackendPlan, ErrorKind};

/// Lower case, as header lookups compare case-insensitively.
pub const HANDOFF_HEADER: &str = "x-rvedge-handoff";

/// The request header `fork()` sets to the tenant's name. Every response a tenant made or
/// touched on the backend side varies on it (`Vary`), so a cached object is only ever served to
/// requests of the tenant that made it, whatever the VCL's vcl_hash does.
pub const TENANT_HEADER: &str = "x-rvedge-tenant";

/// What the backend side must do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Handoff {
    /// The backend side of the runtime's plan: a forge callback, or backend hooks around the
    /// origin.
    Plan { tenant: String, plan: BackendPlan },
    /// The client side failed: answer the error response.
    Error { tenant: String, kind: ErrorKind },
    /// Replace the tenant's program (or, with `debug`, its debug program) with the request
    /// body, of at most `max_size` bytes.
    LiveUpdate {
        tenant: String,
        max_size: usize,
        debug: bool,
    },
}

impl Handoff {
    pub fn tenant(&self) -> &str {
        match self {
            Handoff::Plan { tenant, .. }
            | Handoff::Error { tenant, .. }
            | Handoff::LiveUpdate { tenant, .. } => tenant,
        }
    }

    /// The header value: `<nonce> <mode> [field] <tenant>`, the tenant last because it is the
    /// only field that may contain spaces. Built by concatenation: it is written on every
    /// request with a backend side, and `format!` cost as much as the rest of the hand-off.
    pub fn encode(&self, nonce: &str) -> String {
        let (mode, field) = match self {
            Handoff::Plan { plan, .. } => ("plan", plan.encode()),
            Handoff::Error { kind, .. } => ("error", kind.to_string()),
            Handoff::LiveUpdate {
                max_size, debug, ..
            } => (
                if *debug { "debug" } else { "update" },
                max_size.to_string(),
            ),
        };
        let tenant = self.tenant();
        let mut value =
            String::with_capacity(nonce.len() + mode.len() + field.len() + tenant.len() + 3);
        for part in [nonce, " ", mode, " ", &field, " ", tenant] {
            value.push_str(part);
        }
        value
    }

    /// The hand-off in `value`, if it is well-formed and carries `nonce`.
    pub fn decode(value: &str, nonce: &str) -> Option<Handoff> {
        let (found_nonce, rest) = value.split_once(' ')?;
        if found_nonce != nonce {
            return None;
        }
        let (mode, rest) = rest.split_once(' ')?;
        match mode {
            "plan" => {
                let (plan, tenant) = rest.split_once(' ')?;
                Some(Handoff::Plan {
                    tenant: tenant.into(),
                    plan: BackendPlan::decode(plan)?,
                })
            }
            "error" => {
                let (kind, tenant) = rest.split_once(' ')?;
                Some(Handoff::Error {
                    tenant: tenant.into(),
                    kind: ErrorKind::from_name(kind)?,
                })
            }
            "update" | "debug" => {
                let (max_size, tenant) = rest.split_once(' ')?;
                Some(Handoff::LiveUpdate {
                    tenant: tenant.into(),
                    max_size: max_size.parse().ok()?,
                    debug: mode == "debug",
                })
            }
            _ => None,
        }
    }
}

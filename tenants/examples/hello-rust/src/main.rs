//! The Rust seed tenant from DESIGN.md ("Tenant ABI"), compiled unmodified: it adds
//! `X-Hello: <url>` to the request and forges an uncached plain-text response.
use rvedge_tenant::*;

// Kept verbatim (and so not rustfmt-formatted): the seed must build as written.
include!("seed.rs");

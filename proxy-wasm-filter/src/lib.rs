//! rvedge as a proxy-wasm (ABI 0.2.1) HTTP filter: every request runs through the tenant its
//! `:authority` (or a configured header) names, in a fork of that tenant's template.
//!
//! The filter reuses the runtime (`rvedge::runtime`) whole: [`config`] turns the plugin
//! configuration into `Tenants`, [`stream`] is the runtime's `Host` over the proxy's stream,
//! [`filter`] follows `rvedge::runtime::exchange`'s hook order across the stream's callbacks.
//! The proxy-wasm glue (`proxy`) exists on wasm32 only; the rest builds and tests natively.

pub mod config;
pub mod filter;
pub mod header_pairs;
#[cfg(target_arch = "wasm32")]
mod proxy;
pub mod stream;

pub use config::{ConfigurationError, FilterConfiguration};
pub use filter::{
    Action, HeldRequests, StreamFilter, BACKEND_HEADER, MAX_HELD_BYTES, MAX_HELD_REQUESTS,
    MAX_REQUEST_BODY_BYTES, TENANT_TIME_HEADER,
};
pub use stream::{LogLevel, Message, Stream};

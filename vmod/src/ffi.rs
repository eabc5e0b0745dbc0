//! What the VMOD needs from varnishd beyond varnish-sys's bindings: the VCL method and return
//! numbers (`vcl.h` defines them as macros bindgen does not carry over) and the VCL variable
//! setters of `vrt_obj.h` (varnishd exports them for compiled VCL).

use std::ffi::c_uint;

pub use varnish_sys::*;

// vcl.h: the subroutine a VCL context is in (`ctx->method`).
pub const VCL_MET_RECV: c_uint = 1 << 1;
pub const VCL_MET_HASH: c_uint = 1 << 4;
pub const VCL_MET_MISS: c_uint = 1 << 6;
pub const VCL_MET_HIT: c_uint = 1 << 7;
pub const VCL_MET_DELIVER: c_uint = 1 << 8;
pub const VCL_MET_SYNTH: c_uint = 1 << 9;
pub const VCL_MET_BACKEND_FETCH: c_uint = 1 << 10;
pub const VCL_MET_BACKEND_RESPONSE: c_uint = 1 << 11;
pub const VCL_MET_BACKEND_ERROR: c_uint = 1 << 12;
pub const VCL_MET_INIT: c_uint = 1 << 13;

// vcl.h: `return (...)` actions.
pub const VCL_RET_ERROR: c_uint = 3;
pub const VCL_RET_SYNTH: c_uint = 14;

extern "C" {
    // vrt_obj.h
    pub fn VRT_l_req_backend_hint(ctx: *const vrt_ctx, backend: VCL_BACKEND);
    pub fn VRT_l_bereq_backend(ctx: *const vrt_ctx, backend: VCL_BACKEND);
    pub fn VRT_l_beresp_ttl(ctx: *const vrt_ctx, ttl: VCL_DURATION);
    pub fn VRT_l_beresp_uncacheable(ctx: *const vrt_ctx, uncacheable: VCL_BOOL);
}

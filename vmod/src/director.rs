//! This VMOD's two backends (Varnish directors, made with `VRT_AddDirector`):
//!
//! * `riscv_vm` answers with what the tenant forged: it runs the forge callback in the backend
//!   task's fork and gives Varnish the response headers, then the body through a fetch
//!   processor (VFP) that copies it out. Client-side failures handed to it are answered with
//!   the error response.
//! * `riscv_live_update` swaps a tenant's program for the request body.
//!
//! Every answer is a complete response (errors are 503s with `x-rvedge-error`), so `gethdrs`
//! always succeeds and Varnish's own error path is never needed.

use std::ffi::{c_int, c_void};

use rvedge::runtime::{
    error_response, BackendPlan, CacheDecision, ErrorKind, HttpResponse, RequestError,
};

use crate::ffi;
use crate::handoff::{Handoff, HANDOFF_HEADER, TENANT_HEADER};
use crate::http::{self, Backend, Message};
use crate::run::{backend_task, request_body_too_large, varnish_host};
use crate::state::{Side, Task, VclState};

/// `vdi_methods` in a static: varnishd only reads it.
struct Methods(ffi::vdi_methods);

// SAFETY: immutable data (a magic number, a static C string and function pointers).
unsafe impl Sync for Methods {}

const fn methods(
    name: &'static std::ffi::CStr,
    gethdrs: unsafe extern "C" fn(*const ffi::vrt_ctx, ffi::VCL_BACKEND) -> c_int,
) -> Methods {
    Methods(ffi::vdi_methods {
        magic: ffi::VDI_METHODS_MAGIC,
        type_: name.as_ptr(),
        http1pipe: None,
        healthy: None,
        resolve: None,
        gethdrs: Some(gethdrs),
        getip: None,
        finish: Some(finish),
        event: None,
        destroy: None,
        panic: None,
        list: None,
    })
}

static VM_METHODS: Methods = methods(c"riscv_vm", vm_gethdrs);
static UPDATE_METHODS: Methods = methods(c"riscv_live_update", update_gethdrs);

/// Creates the VCL's two directors, whose private pointer is `state`.
///
/// # Safety
/// `ctx` is a valid context of the VCL being loaded; `state` stays at its address until
/// `delete_directors`.
pub unsafe fn add_directors(ctx: *const ffi::vrt_ctx, state: &mut VclState) -> Result<(), String> {
    let private = (state as *mut VclState).cast::<c_void>();
    // SAFETY: valid ctx and methods; "%s" consumes the one C string given.
    unsafe {
        state.vm_backend = Backend(ffi::VRT_AddDirector(
            ctx,
            &VM_METHODS.0,
            private,
            c"%s".as_ptr(),
            c"riscv_vm".as_ptr(),
        ));
        state.update_backend = Backend(ffi::VRT_AddDirector(
            ctx,
            &UPDATE_METHODS.0,
            private,
            c"%s".as_ptr(),
            c"riscv_live_update".as_ptr(),
        ));
    }
    if state.vm_backend.0.is_null() || state.update_backend.0.is_null() {
        return Err("riscv: Varnish refused to add the VMOD's backends".into());
    }
    // Static, as VCL-declared backends are: they live as long as the VCL, so setting
    // req.backend_hint to one on every request takes no reference, which is a lock shared by
    // all worker threads. In a profile of varnishd serving hello hits, VRT_Assign_Backend
    // fell from 1.5% of its CPU to 0.1%.
    // SAFETY: directors just added, not assigned anywhere yet.
    unsafe {
        ffi::VRT_StaticDirector(state.vm_backend.0);
        ffi::VRT_StaticDirector(state.update_backend.0);
    }
    Ok(())
}

/// Removes the directors `add_directors` made.
///
/// # Safety
/// No task of the VCL may still use them (true at the VCL's discard event).
pub unsafe fn delete_directors(state: &mut VclState) {
    for backend in [&mut state.vm_backend, &mut state.update_backend] {
        if !backend.0.is_null() {
            // SAFETY: a director we added and nobody else deletes.
            unsafe { ffi::VRT_DelDirector(&mut backend.0) };
        }
    }
}

/// The VclState behind one of our directors.
///
/// # Safety
/// `director` is one `add_directors` made.
unsafe fn vcl_of<'a>(director: ffi::VCL_BACKEND) -> &'a VclState {
    // SAFETY: our directors' private pointer is the VclState, alive while they exist.
    unsafe { &*(*director).priv_.cast::<VclState>() }
}

fn text_response(status: u16, body: String) -> HttpResponse {
    HttpResponse {
        status,
        headers: vec![("Content-Type".into(), "text/plain".into())],
        body: body.into_bytes(),
    }
}

fn error_answer(tenant: &str, kind: ErrorKind, during: &'static str) -> HttpResponse {
    error_response(&RequestError {
        kind,
        tenant: tenant.into(),
        during,
        detail: String::new(),
    })
}

unsafe extern "C" fn vm_gethdrs(ctx: *const ffi::vrt_ctx, director: ffi::VCL_BACKEND) -> c_int {
    // SAFETY: varnishd calls gethdrs with a valid backend ctx and our director.
    unsafe {
        let vcl = vcl_of(director);
        let (response, cache_control) = forged(ctx, vcl);
        answer(ctx, response, &cache_control)
    }
}

/// What `riscv_vm` answers, and its Cache-Control.
unsafe fn forged(ctx: *const ffi::vrt_ctx, vcl: &VclState) -> (HttpResponse, String) {
    let uncached = || CacheDecision::UNCACHEABLE.cache_control();
    // SAFETY: a valid backend ctx (gethdrs).
    let Some(task) = (unsafe { backend_task(ctx, vcl) }) else {
        let message = "riscv_vm: this request carries no tenant decision (use riscv.fork() and \
                       riscv.run() in vcl_recv)";
        // SAFETY: as above.
        http::log(unsafe { (*ctx).vsl }, ffi::VSL_tag_e_SLT_Error, message);
        return (text_response(503, format!("{message}\n")), uncached());
    };
    if let Some(error) = &task.error {
        return (error_response(error), uncached());
    }
    if let Some(Handoff::Error { kind, tenant }) = &task.handoff {
        return (error_answer(tenant, *kind, "on_recv"), uncached());
    }
    if task.body.is_too_large() {
        return (request_body_too_large(vcl.max_request_body), uncached());
    }
    let Task {
        tenant, side, body, ..
    } = &mut *task;
    let Side::Backend(backend) = side else {
        let body = "riscv_vm: the tenant forged no response\n".to_string();
        return (text_response(503, body), uncached());
    };
    if !matches!(backend.plan(), BackendPlan::Forge(_)) {
        let body = "riscv_vm: the tenant forged no response\n".to_string();
        return (text_response(503, body), uncached());
    }
    // SAFETY: a valid backend ctx; its bereq is this task's.
    // As in libvmod-riscv, headers the callback adds to beresp are kept (`answer` adds its own).
    let mut host = unsafe { varnish_host(ctx, vcl, tenant.name(), Some(&mut *body), true) };
    let forged = backend.run_forge(&mut host).map(|_| ());
    match forged {
        Ok(()) if body.is_too_large() => (request_body_too_large(vcl.max_request_body), uncached()),
        Ok(()) => {
            // From here on the response is Varnish's beresp: on_backend_response sees it there.
            let mut response = backend.take_forged_response().unwrap_or_default();
            // The object is this tenant's: others never get it, its bans match it.
            response
                .headers
                .retain(|(name, _)| !name.eq_ignore_ascii_case(TENANT_HEADER));
            response.headers.push(("Vary".into(), TENANT_HEADER.into()));
            response
                .headers
                .push((TENANT_HEADER.into(), tenant.name().into()));
            let cache_control = backend
                .cache_decision()
                .unwrap_or(CacheDecision::UNCACHEABLE)
                .cache_control();
            (response, cache_control)
        }
        Err(error) => {
            // SAFETY: a valid ctx.
            http::log(
                unsafe { (*ctx).vsl },
                ffi::VSL_tag_e_SLT_Error,
                &format!("riscv: {error}"),
            );
            let response = error_response(&error);
            task.error = Some(error);
            (response, uncached())
        }
    }
}

unsafe extern "C" fn update_gethdrs(ctx: *const ffi::vrt_ctx, director: ffi::VCL_BACKEND) -> c_int {
    // SAFETY: varnishd calls gethdrs with a valid backend ctx and our director.
    unsafe {
        let vcl = vcl_of(director);
        let response = live_update(ctx, vcl);
        answer(ctx, response, "no-store")
    }
}

unsafe fn live_update(ctx: *const ffi::vrt_ctx, vcl: &VclState) -> HttpResponse {
    // SAFETY: a valid backend ctx: bereq is this task's.
    let Some(bereq) = (unsafe { Message::new((*ctx).http_bereq) }) else {
        return text_response(503, "riscv_live_update: no backend request\n".into());
    };
    let handoff = bereq
        .raw_header(HANDOFF_HEADER)
        .map(|value| String::from_utf8_lossy(value).into_owned())
        .and_then(|value| Handoff::decode(&value, &vcl.nonce));
    bereq.unset(HANDOFF_HEADER).ok();
    let Some(Handoff::LiveUpdate {
        tenant,
        max_size,
        debug,
    }) = handoff
    else {
        return text_response(
            503,
            "riscv_live_update: use riscv.live_update(tenant) to choose this backend\n".into(),
        );
    };
    // Fails closed: without a configured secret nobody may replace a program.
    if !vcl.update_secrets.is_configured(&tenant) {
        return text_response(
            403,
            format!("live update of \"{tenant}\" refused: no update secret is configured\n"),
        );
    }
    let given = bereq.header("X-Live-Update-Secret").unwrap_or_default();
    if !vcl.update_secrets.allows(&tenant, given) {
        return text_response(403, format!("live update of \"{tenant}\" refused\n"));
    }
    let Some(slot) = vcl.tenants.get(tenant.as_ref()) else {
        return text_response(404, format!("no tenant named \"{tenant}\"\n"));
    };
    // SAFETY: a valid backend ctx.
    let Some(program) = (unsafe { http::read_request_body(ctx, max_size) }) else {
        return request_body_too_large(max_size);
    };
    // SAFETY: as above.
    let vsl = unsafe { (*ctx).vsl };
    let result = if debug {
        slot.install_debug_program(&program)
    } else {
        slot.live_update(&program)
    };
    let what = if debug {
        "debug program of"
    } else {
        "program of"
    };
    match result {
        Ok(()) => {
            let message = format!(
                "riscv: {what} tenant \"{tenant}\" updated ({} bytes)",
                program.len()
            );
            http::log(vsl, ffi::VSL_tag_e_SLT_VCL_Log, &message);
            if debug {
                text_response(200, format!("debug program of \"{tenant}\" installed\n"))
            } else {
                text_response(200, format!("tenant \"{tenant}\" updated\n"))
            }
        }
        Err(error) => {
            let message =
                format!("riscv: live update failed, the old program keeps serving: {error}");
            http::log(vsl, ffi::VSL_tag_e_SLT_Error, &message);
            text_response(400, format!("live update failed: {error}\n"))
        }
    }
}

/// A response body being handed to Varnish by the fetch processor.
struct BodyReader {
    body: Vec<u8>,
    sent: usize,
}

struct Processor(ffi::vfp);

// SAFETY: immutable data (a static C string and a function pointer).
unsafe impl Sync for Processor {}

static BODY_PROCESSOR: Processor = Processor(ffi::vfp {
    name: c"riscv_body".as_ptr(),
    init: None,
    pull: Some(pull_body),
    fini: None,
    priv1: std::ptr::null(),
});

unsafe extern "C" fn pull_body(
    _vfp_ctx: *mut ffi::vfp_ctx,
    entry: *mut ffi::vfp_entry,
    buffer: *mut c_void,
    length: *mut ffi::ssize_t,
) -> ffi::vfp_status {
    // SAFETY: varnishd passes our entry (priv1 is the BodyReader `answer` made, freed only in
    // `finish` after the fetch) and a buffer of `*length` writable bytes.
    unsafe {
        let reader = &mut *(*entry).priv1.cast::<BodyReader>();
        let room = usize::try_from(*length).unwrap_or(0);
        let rest = &reader.body[reader.sent..];
        let n_bytes = rest.len().min(room);
        std::ptr::copy_nonoverlapping(rest.as_ptr(), buffer.cast::<u8>(), n_bytes);
        reader.sent += n_bytes;
        *length = n_bytes as ffi::ssize_t;
        if reader.sent == reader.body.len() {
            ffi::vfp_status_VFP_END
        } else {
            ffi::vfp_status_VFP_OK
        }
    }
}

/// Gives Varnish `response` as the backend response: headers now, the body through
/// `BODY_PROCESSOR`. Returns gethdrs' result (0: headers are there).
unsafe fn answer(ctx: *const ffi::vrt_ctx, response: HttpResponse, cache_control: &str) -> c_int {
    // SAFETY: a valid backend ctx in gethdrs: bo, its workspace, beresp and vfc exist.
    unsafe {
        let bo = (*ctx).bo;
        let Some(beresp) = Message::new((*ctx).http_beresp) else {
            return -1;
        };
        beresp.put_response(response.status);
        for (name, value) in &response.headers {
            beresp.append(name, value).ok();
        }
        beresp
            .append("Content-Length", &response.body.len().to_string())
            .ok();
        beresp.append("Cache-Control", cache_control).ok();

        let size = std::mem::size_of::<ffi::http_conn>() as std::ffi::c_uint;
        let connection = ffi::WS_Alloc((*bo).ws.as_mut_ptr(), size).cast::<ffi::http_conn>();
        if connection.is_null() {
            http::log(
                (*ctx).vsl,
                ffi::VSL_tag_e_SLT_Error,
                "riscv: out of workspace",
            );
            return -1;
        }
        let has_body = !response.body.is_empty();
        let body_length = response.body.len();
        let reader = Box::into_raw(Box::new(BodyReader {
            body: response.body,
            sent: 0,
        }));
        connection.write(ffi::http_conn {
            magic: ffi::HTTP_CONN_MAGIC,
            rfd: std::ptr::null_mut(),
            doclose: ffi::SC_REM_CLOSE.as_ptr(),
            body_status: if has_body {
                ffi::BS_LENGTH.as_ptr()
            } else {
                ffi::BS_NONE.as_ptr()
            },
            ws: std::ptr::null_mut(),
            rxbuf_b: std::ptr::null_mut(),
            rxbuf_e: std::ptr::null_mut(),
            pipeline_b: std::ptr::null_mut(),
            pipeline_e: std::ptr::null_mut(),
            content_length: body_length as ffi::ssize_t,
            priv_: reader.cast::<c_void>(),
            first_byte_timeout: 0.0,
            between_bytes_timeout: 0.0,
        });
        if has_body {
            let entry = ffi::VFP_Push((*bo).vfc, &BODY_PROCESSOR.0);
            if entry.is_null() {
                drop(Box::from_raw(reader));
                http::log(
                    (*ctx).vsl,
                    ffi::VSL_tag_e_SLT_Error,
                    "riscv: cannot add the body processor",
                );
                return -1;
            }
            (*entry).priv1 = reader.cast::<c_void>();
        }
        (*bo).htc = connection;
        0
    }
}

unsafe extern "C" fn finish(ctx: *const ffi::vrt_ctx, _director: ffi::VCL_BACKEND) {
    // SAFETY: varnishd calls finish with the valid backend ctx whose htc `answer` made (the
    // reader is freed once, and htc cleared so nothing reads it after).
    unsafe {
        let bo = (*ctx).bo;
        if bo.is_null() || (*bo).htc.is_null() {
            return;
        }
        let reader = (*(*bo).htc).priv_.cast::<BodyReader>();
        if !reader.is_null() {
            drop(Box::from_raw(reader));
        }
        (*bo).htc = std::ptr::null_mut();
    }
}

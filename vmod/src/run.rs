//! `riscv.run()`: the tenant hook of the current VCL subroutine. Varnish's own state machine
//! orders the subroutines; each runs its hook in the runtime's half of the exchange the task
//! holds (`rvedge::runtime::ClientSide` on the client side, `BackendSide` on the backend
//! side), and the client side hands the runtime's `BackendPlan` to the backend side.

use rvedge::runtime::abi::{Decision, Hook};
use rvedge::runtime::{
    error_response, BackendPlan, ClientDecision, FunctionCallError, HttpResponse, RequestError,
};

use crate::ffi;
use crate::handoff::{Handoff, HANDOFF_HEADER};
use crate::http::{self, BackendTarget, Message, RequestBody, VarnishHost};
use crate::state::{self, Side, Task, VclState, Want};

/// Runs the hook of `ctx`'s subroutine: 1 if one ran, 0 if none applies, -1 if the tenant
/// failed (the failure is logged and the request answered 503).
///
/// # Safety
/// `ctx` is the valid context of a VCL subroutine of a task of `vcl`'s VCL.
pub unsafe fn run(ctx: *const ffi::vrt_ctx, vcl: &VclState) -> Result<i64, String> {
    // SAFETY: the caller's ctx is valid; every branch below keeps to its subroutine's messages.
    unsafe {
        match (*ctx).method {
            ffi::VCL_MET_RECV => Ok(client(ctx).map_or(0, |task| recv(ctx, task))),
            ffi::VCL_MET_HASH => Ok(client(ctx).map_or(0, |task| hash(ctx, task))),
            ffi::VCL_MET_DELIVER => Ok(client(ctx).map_or(0, |task| deliver(ctx, task))),
            ffi::VCL_MET_SYNTH => Ok(client(ctx).map_or(0, |task| synth(ctx, task))),
            ffi::VCL_MET_BACKEND_FETCH => Ok(match backend_task(ctx, vcl) {
                Some(task) => backend_fetch(ctx, task),
                None => 0,
            }),
            ffi::VCL_MET_BACKEND_RESPONSE => Ok(match backend_task(ctx, vcl) {
                Some(task) => backend_response(ctx, task),
                None => 0,
            }),
            ffi::VCL_MET_BACKEND_ERROR => Ok(state::task(ctx).map_or(0, |task| {
                backend_error(ctx, task);
                1
            })),
            _ => Err(
                "riscv.run() belongs in vcl_recv, vcl_hash, vcl_deliver, vcl_synth or \
                      vcl_backend_{fetch,response,error}"
                    .into(),
            ),
        }
    }
}

/// `riscv.call(function, argument)`: the tenant's function `function` in this task's fork,
/// under the call rules of the hook `run()` runs in the same subroutine. `None` (NULL in VCL)
/// when it cannot be called or fails; either is logged, and a failure fails the request as a
/// failing hook does.
///
/// # Safety
/// `ctx` is the valid context of a VCL subroutine of a task of `vcl`'s VCL.
pub unsafe fn call(
    ctx: *const ffi::vrt_ctx,
    vcl: &VclState,
    function: &str,
    argument: &str,
) -> Result<Option<String>, String> {
    // SAFETY: the caller's ctx is valid; each subroutine's task is looked up as run() does.
    unsafe {
        let (hook, task) = match (*ctx).method {
            ffi::VCL_MET_RECV => (Hook::Recv, client(ctx)),
            ffi::VCL_MET_HASH => (Hook::Hash, client(ctx)),
            ffi::VCL_MET_DELIVER | ffi::VCL_MET_SYNTH => (Hook::Deliver, client(ctx)),
            ffi::VCL_MET_BACKEND_FETCH => (Hook::BackendFetch, backend_task(ctx, vcl)),
            ffi::VCL_MET_BACKEND_RESPONSE => (Hook::BackendResponse, backend_task(ctx, vcl)),
            _ => {
                return Err(
                    "riscv.call() belongs in vcl_recv, vcl_hash, vcl_deliver, vcl_synth \
                            or vcl_backend_{fetch,response}"
                        .into(),
                )
            }
        };
        let vsl = (*ctx).vsl;
        let Some(task) = task else {
            http::log(
                vsl,
                ffi::VSL_tag_e_SLT_Error,
                &format!("riscv.call(\"{function}\"): no tenant was selected for this task"),
            );
            return Ok(None);
        };
        if let Some(error) = &task.error {
            let message = format!(
                "riscv: tenant \"{}\": {function}() not called: the tenant already failed \
                 this request ({})",
                task.tenant.name(),
                error.kind
            );
            http::log(vsl, ffi::VSL_tag_e_SLT_Error, &message);
            return Ok(None);
        }
        let vcl = &*task.vcl;
        let Task {
            tenant, side, body, ..
        } = &mut *task;
        let body = matches!(side, Side::Backend(_)).then_some(body);
        let mut host = varnish_host(ctx, vcl, tenant.name(), body, hook == Hook::BackendResponse);
        let fork = match side {
            Side::Client(client) => client.fork(),
            Side::Backend(backend) => match backend.fork() {
                Some(fork) => fork,
                None => return Ok(None),
            },
        };
        match fork.call_function(function, argument, hook, &mut host) {
            Ok(result) => Ok(Some(result)),
            Err(error @ FunctionCallError::NotCallable { .. }) => {
                // Nothing ran: the request goes on; the VCL sees NULL.
                http::log(vsl, ffi::VSL_tag_e_SLT_Error, &format!("riscv: {error}"));
                Ok(None)
            }
            Err(FunctionCallError::Failed(error)) => {
                let handoff = Handoff::Error {
                    tenant: task.tenant.name().into(),
                    kind: error.kind,
                };
                fail(ctx, task, error);
                // As when the hook itself fails: the request is answered with the error.
                match hook {
                    Hook::Recv => hand_off_to_vm(ctx, task, &handoff),
                    Hook::BackendFetch => {
                        ffi::VRT_l_bereq_backend(ctx, task.vcl().vm_backend.0);
                    }
                    _ => {}
                }
                Ok(None)
            }
        }
    }
}

/// The client task's state, if `fork()` selected a tenant.
unsafe fn client<'a>(ctx: *const ffi::vrt_ctx) -> Option<&'a mut Task> {
    // SAFETY: the caller's ctx is valid.
    unsafe { state::task(ctx) }.filter(|task| task.is_client())
}

/// The backend task's state: made from the client's hand-off the first time it is needed.
///
/// # Safety
/// `ctx` is a valid backend-side context of `vcl`.
pub unsafe fn backend_task<'a>(ctx: *const ffi::vrt_ctx, vcl: &VclState) -> Option<&'a mut Task> {
    // SAFETY: a valid backend ctx: its bereq is this task's; the task reference from
    // `state::task` is dropped before `install_task`.
    unsafe {
        if let Some(task) = state::task(ctx) {
            return Some(task);
        }
        let bereq = Message::new((*ctx).http_bereq)?;
        let value = String::from_utf8_lossy(bereq.raw_header(HANDOFF_HEADER)?).into_owned();
        // Neither tenant code nor an origin may see it.
        bereq.unset(HANDOFF_HEADER).ok();
        let vsl = (*ctx).vsl;
        let Some(handoff) = Handoff::decode(&value, vcl.nonce) else {
            http::log(
                vsl,
                ffi::VSL_tag_e_SLT_Error,
                "riscv: ignored a hand-off header this VCL did not write",
            );
            return None;
        };
        if matches!(handoff, Handoff::LiveUpdate { .. }) {
            return None;
        }
        let slot = vcl.tenants.get(handoff.tenant())?;
        let plan = match &handoff {
            Handoff::Plan { plan, .. } => *plan,
            // A failed client side: no tenant code runs here, the VMOD's backend answers.
            _ => BackendPlan::Origin { hooks: false },
        };
        let mut task = Task::backend(vcl, slot.current(), plan);
        task.forge_decision = match plan {
            BackendPlan::Forge(forge) => forge.decision.number() as i64,
            BackendPlan::Origin { .. } => -1,
        };
        task.handoff = Some(handoff);
        match state::install_task(ctx, task) {
            Ok(task) => Some(task),
            Err(message) => {
                http::log(vsl, ffi::VSL_tag_e_SLT_Error, &format!("riscv: {message}"));
                None
            }
        }
    }
}

/// A host for `ctx`'s messages. `beresp` is left out where the ABI says it does not exist yet.
///
/// # Safety
/// `ctx` is the valid context of the current VCL subroutine (or backend method).
pub unsafe fn varnish_host<'a>(
    ctx: *const ffi::vrt_ctx,
    vcl: &'a VclState,
    tenant: &'a str,
    body: Option<&'a mut RequestBody>,
    with_beresp: bool,
) -> VarnishHost<'a> {
    let backend_side = body.is_some();
    let backend_target = if backend_side {
        BackendTarget::Bereq
    } else {
        BackendTarget::Hint
    };
    // SAFETY: the ctx's messages are valid for the subroutine (null where they do not exist).
    let (req, resp, bereq, beresp) = unsafe {
        (
            Message::new((*ctx).http_req),
            Message::new((*ctx).http_resp),
            Message::new((*ctx).http_bereq),
            Message::new((*ctx).http_beresp).filter(|_| with_beresp),
        )
    };
    VarnishHost {
        ctx,
        req,
        resp,
        bereq,
        beresp,
        backends: &vcl.backends,
        backend_target,
        body,
        max_request_body: vcl.max_request_body,
        tenant,
    }
}

/// Runs `hook` in the task's half of the exchange, with `ctx`'s messages as the host.
///
/// # Safety
/// `ctx` is the valid context of the subroutine `hook` belongs to, of `task`'s task.
unsafe fn run_hook(
    ctx: *const ffi::vrt_ctx,
    task: &mut Task,
    hook: Hook,
) -> Result<bool, RequestError> {
    // SAFETY: a task never outlives its VCL (see `Task::vcl`).
    let vcl = unsafe { &*task.vcl };
    let Task {
        tenant, side, body, ..
    } = task;
    let body = matches!(side, Side::Backend(_)).then_some(body);
    // SAFETY: the caller's ctx is valid for this subroutine.
    let mut host =
        unsafe { varnish_host(ctx, vcl, tenant.name(), body, hook == Hook::BackendResponse) };
    match side {
        Side::Client(client) => client.run_hook(hook, &mut host),
        Side::Backend(backend) => backend.run_hook(hook, &mut host),
    }
}

/// Logs a tenant failure (tenant and cause, for varnishlog) and remembers it.
unsafe fn fail(ctx: *const ffi::vrt_ctx, task: &mut Task, error: RequestError) {
    // SAFETY: a valid ctx.
    let vsl = unsafe { (*ctx).vsl };
    http::log(vsl, ffi::VSL_tag_e_SLT_Error, &format!("riscv: {error}"));
    task.want = Want::Synth;
    task.status = 503;
    task.error = Some(error);
}

/// Points the client request at this VMOD's backend with `handoff`.
unsafe fn hand_off_to_vm(ctx: *const ffi::vrt_ctx, task: &Task, handoff: &Handoff) {
    let vcl = task.vcl();
    // SAFETY: a valid client ctx (vcl_recv or vcl_hash): req exists and req.backend_hint may be
    // set there.
    unsafe {
        if let Some(req) = Message::new((*ctx).http_req) {
            if req.set(HANDOFF_HEADER, &handoff.encode(vcl.nonce)).is_err() {
                http::log(
                    (*ctx).vsl,
                    ffi::VSL_tag_e_SLT_Error,
                    "riscv: out of workspace for the hand-off header",
                );
            }
        }
        ffi::VRT_l_req_backend_hint(ctx, vcl.vm_backend.0);
    }
}

unsafe fn recv(ctx: *const ffi::vrt_ctx, task: &mut Task) -> i64 {
    // SAFETY: a valid ctx in vcl_recv.
    unsafe {
        let ran = match run_hook(ctx, task, Hook::Recv) {
            Ok(ran) => ran,
            Err(error) => {
                let handoff = Handoff::Error {
                    tenant: task.tenant.name().into(),
                    kind: error.kind,
                };
                fail(ctx, task, error);
                hand_off_to_vm(ctx, task, &handoff);
                return -1;
            }
        };
        let Side::Client(client) = &mut task.side else {
            return i64::from(ran);
        };
        let tenant = task.tenant.name().to_string();
        match client.decision() {
            ClientDecision::Respond(response) => {
                task.want = Want::Synth;
                task.status = response.status;
                task.synth = Some(response);
            }
            ClientDecision::Backend(plan @ BackendPlan::Forge(forge)) => {
                let cached = forge.decision == Decision::Cached;
                task.want = if cached { Want::Hash } else { Want::Pass };
                task.forge_decision = i64::from(cached);
                hand_off_to_vm(ctx, task, &Handoff::Plan { tenant, plan });
            }
            ClientDecision::Backend(plan @ BackendPlan::Origin { hooks: true }) => {
                let handoff = Handoff::Plan { tenant, plan }.encode(task.vcl().nonce);
                if let Some(req) = Message::new((*ctx).http_req) {
                    req.set(HANDOFF_HEADER, &handoff).ok();
                }
            }
            // A plain pass to the origin: no tenant code on the backend side.
            ClientDecision::Backend(BackendPlan::Origin { hooks: false }) => {}
        }
        i64::from(ran)
    }
}

unsafe fn hash(ctx: *const ffi::vrt_ctx, task: &mut Task) -> i64 {
    // SAFETY: a valid ctx in vcl_hash.
    if let Err(message) = unsafe { hash_tenant_identity(ctx, task) } {
        // SAFETY: as above.
        http::log(unsafe { (*ctx).vsl }, ffi::VSL_tag_e_SLT_Error, &message);
    }
    if task.error.is_some() {
        return 0;
    }
    // SAFETY: a valid ctx in vcl_hash.
    unsafe {
        match run_hook(ctx, task, Hook::Hash) {
            Ok(ran) => {
                if let Err(message) = apply_hash(ctx, task) {
                    http::log((*ctx).vsl, ffi::VSL_tag_e_SLT_Error, &message);
                }
                i64::from(ran)
            }
            Err(error) => {
                let handoff = Handoff::Error {
                    tenant: task.tenant.name().into(),
                    kind: error.kind,
                };
                fail(ctx, task, error);
                // A failed request must not be answered from the cache: its own hash misses.
                hash_data(ctx, b"rvedge failed request").ok();
                hand_off_to_vm(ctx, task, &handoff);
                -1
            }
        }
    }
}

/// Makes the tenant's name part of the request's cache key (once), so that no two tenants
/// share a cached object whatever they do to the URL and headers.
///
/// # Safety
/// `ctx` is a valid context in vcl_hash.
pub unsafe fn hash_tenant_identity(
    ctx: *const ffi::vrt_ctx,
    task: &mut Task,
) -> Result<(), String> {
    if task.hashed {
        return Ok(());
    }
    let identity = format!("rvedge-tenant:{}", task.tenant.name());
    // SAFETY: the caller's ctx is in vcl_hash.
    unsafe { hash_data(ctx, identity.as_bytes())? };
    task.hashed = true;
    Ok(())
}

/// Gives the tenant's pending hash data to Varnish; returns whether there was any.
///
/// # Safety
/// `ctx` is a valid context in vcl_hash.
pub unsafe fn apply_hash(ctx: *const ffi::vrt_ctx, task: &mut Task) -> Result<bool, String> {
    // SAFETY: the caller's ctx is in vcl_hash.
    unsafe { hash_tenant_identity(ctx, task)? };
    let Side::Client(client) = &mut task.side else {
        return Ok(false);
    };
    let data = client.take_hash_data();
    if data.is_empty() {
        return Ok(false);
    }
    // SAFETY: the caller's ctx is in vcl_hash.
    unsafe { hash_data(ctx, &data)? };
    Ok(true)
}

/// Adds `data` to the request's cache key.
///
/// # Safety
/// `ctx` is a valid context in vcl_hash.
unsafe fn hash_data(ctx: *const ffi::vrt_ctx, data: &[u8]) -> Result<(), String> {
    // VRT_hashdata takes C strings; data with NUL bytes is given in hex.
    let text = if data.contains(&0) {
        data.iter()
            .map(|byte| format!("{byte:02x}"))
            .collect::<String>()
            .into_bytes()
    } else {
        data.to_vec()
    };
    // SAFETY: a valid ctx; the copy lives in the task's workspace for the call.
    unsafe {
        let copy = http::copy_to_workspace((*ctx).ws, &text)
            .map_err(|_| "riscv: out of workspace for hash data".to_string())?;
        let mut pointers = [copy];
        let strands = ffi::strands {
            n: 1,
            p: pointers.as_mut_ptr(),
        };
        ffi::VRT_hashdata(ctx, &strands);
    }
    Ok(())
}

unsafe fn deliver(ctx: *const ffi::vrt_ctx, task: &mut Task) -> i64 {
    if task.error.is_some() {
        return 0;
    }
    // SAFETY: a valid ctx in vcl_deliver.
    unsafe {
        match run_hook(ctx, task, Hook::Deliver) {
            Ok(ran) => i64::from(ran),
            Err(error) => {
                fail(ctx, task, error);
                // The delivered body cannot be replaced here: answer with synth, whose run()
                // writes the error response.
                ffi::VRT_synth(ctx, 503, std::ptr::null());
                ffi::VRT_handling(ctx, ffi::VCL_RET_SYNTH);
                -1
            }
        }
    }
}

/// The error response every host gives, written to `message` and the synthetic body.
unsafe fn write_error(ctx: *const ffi::vrt_ctx, message: Message, error: &RequestError) {
    let response = error_response(error);
    write_head(message, &response);
    // SAFETY: a valid ctx in vcl_synth or vcl_backend_error, where the body is synthetic.
    unsafe { write_synthetic_body(ctx, &response.body) };
}

/// The answer to a request whose body is longer than a tenant may read.
pub fn request_body_too_large(limit: usize) -> HttpResponse {
    HttpResponse {
        status: 413,
        headers: vec![("Content-Type".into(), "text/plain".into())],
        body: format!("the request body is longer than {limit} bytes\n").into_bytes(),
    }
}

/// A response's status and headers, written to `message` (Varnish frames the body itself).
fn write_head(message: Message, response: &HttpResponse) {
    message.set_status(response.status);
    for (name, value) in &response.headers {
        message.set(name, value).ok();
    }
}

unsafe fn write_synthetic_body(ctx: *const ffi::vrt_ctx, body: &[u8]) {
    let blob = ffi::vrt_blob {
        type_: 0,
        len: body.len() as _,
        blob: body.as_ptr().cast(),
    };
    // SAFETY: a valid ctx in vcl_synth or vcl_backend_error; varnishd copies the blob.
    unsafe { ffi::VRT_synth_blob(ctx, &blob) };
}

unsafe fn synth(ctx: *const ffi::vrt_ctx, task: &mut Task) -> i64 {
    // SAFETY: a valid ctx in vcl_synth: resp exists.
    unsafe {
        let Some(resp) = Message::new((*ctx).http_resp) else {
            return 0;
        };
        if let Some(error) = &task.error {
            write_error(ctx, resp, error);
            return -1;
        }
        let Some(response) = task.synth.take() else {
            return 0;
        };
        write_head(resp, &response);
        match run_hook(ctx, task, Hook::Deliver) {
            Ok(_) => {
                write_synthetic_body(ctx, &response.body);
                1
            }
            Err(error) => {
                write_error(ctx, resp, &error);
                fail(ctx, task, error);
                -1
            }
        }
    }
}

unsafe fn backend_fetch(ctx: *const ffi::vrt_ctx, task: &mut Task) -> i64 {
    if task.error.is_some() || !task.tenant.has_hook(Hook::BackendFetch) {
        return 0;
    }
    // SAFETY: a valid ctx in vcl_backend_fetch: bereq exists, bereq.backend may be set.
    unsafe {
        match run_hook(ctx, task, Hook::BackendFetch) {
            Ok(ran) => {
                if task.body.is_too_large() {
                    // This VMOD's backend answers 413.
                    ffi::VRT_l_bereq_backend(ctx, task.vcl().vm_backend.0);
                }
                i64::from(ran)
            }
            Err(error) => {
                fail(ctx, task, error);
                // This VMOD's backend answers the error response.
                ffi::VRT_l_bereq_backend(ctx, task.vcl().vm_backend.0);
                -1
            }
        }
    }
}

unsafe fn backend_response(ctx: *const ffi::vrt_ctx, task: &mut Task) -> i64 {
    if task.error.is_some() {
        return 0;
    }
    // SAFETY: a valid ctx in vcl_backend_response: bereq and beresp exist.
    unsafe {
        match run_hook(ctx, task, Hook::BackendResponse) {
            Ok(ran) if task.body.is_too_large() => {
                // vcl_backend_error's run() writes the 413.
                ffi::VRT_synth(ctx, 413, std::ptr::null());
                ffi::VRT_handling(ctx, ffi::VCL_RET_ERROR);
                i64::from(ran)
            }
            Ok(ran) => {
                apply_cache_decision(ctx, task);
                // Whatever the hook did to it, the object stays this tenant's.
                if let Some(beresp) = Message::new((*ctx).http_beresp) {
                    beresp.vary_on_tenant().ok();
                }
                i64::from(ran)
            }
            Err(error) => {
                fail(ctx, task, error);
                // vcl_backend_error's run() writes the error response.
                ffi::VRT_synth(ctx, 503, std::ptr::null());
                ffi::VRT_handling(ctx, ffi::VCL_RET_ERROR);
                -1
            }
        }
    }
}

/// The tenant's cache decision for the backend response (a forged one's, or `cache_set` on
/// an origin's): TTL or uncacheable, and the Cache-Control header that says so.
unsafe fn apply_cache_decision(ctx: *const ffi::vrt_ctx, task: &mut Task) {
    let Side::Backend(backend) = &task.side else {
        return;
    };
    let Some(decision) = backend.cache_decision() else {
        return;
    };
    // SAFETY: a valid ctx in vcl_backend_response.
    unsafe {
        let Some(beresp) = Message::new((*ctx).http_beresp) else {
            return;
        };
        beresp.set("Cache-Control", &decision.cache_control()).ok();
        if decision.cacheable {
            ffi::VRT_l_beresp_ttl(ctx, decision.ttl_seconds as f64);
        } else {
            ffi::VRT_l_beresp_uncacheable(ctx, 1);
        }
    }
}

unsafe fn backend_error(ctx: *const ffi::vrt_ctx, task: &mut Task) {
    if task.body.is_too_large() {
        // SAFETY: a valid ctx in vcl_backend_error.
        unsafe {
            if let Some(beresp) = Message::new((*ctx).http_beresp) {
                let response = request_body_too_large(task.vcl().max_request_body);
                write_head(beresp, &response);
                write_synthetic_body(ctx, &response.body);
                ffi::VRT_l_beresp_uncacheable(ctx, 1);
            }
        }
        return;
    }
    let Some(error) = task.error.clone() else {
        return;
    };
    // SAFETY: a valid ctx in vcl_backend_error: beresp exists and the body is synthetic.
    unsafe {
        if let Some(beresp) = Message::new((*ctx).http_beresp) {
            write_error(ctx, beresp, &error);
            ffi::VRT_l_beresp_uncacheable(ctx, 1);
        }
    }
}

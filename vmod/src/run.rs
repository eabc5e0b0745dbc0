//! `riscv.run()`: the tenant hook of the current VCL subroutine. Varnish's own state machine
//! orders the subroutines; each runs its hook in the runtime's half of the exchange the task
//! holds (`rvedge::runtime::ClientSide` on the client side, `BackendSide` on the backend
//! side), and the client side hands the runtime's `BackendPlan` to the backend side.

use rvedge::runtime::abi::{Decision, Hook};
use rvedge::runtime::gdb::{self, ForkTarget, TcpConnection};
use rvedge::runtime::{
    error_response, BackendPlan, ClientDecision, ForgeRequest, Fork, FunctionCallError,
    GuestFunction, HttpResponse, PauseReason, RequestError,
};

use crate::ffi;
use crate::handoff::{Handoff, HANDOFF_HEADER, TENANT_HEADER};
use crate::http::{self, BackendTarget, Message, RequestBody, VarnishHost};
use crate::state::{self, Side, Task, TenantSlot, VclState, Want};

/// The hook that belongs to a VCL subroutine.
pub fn hook_of_method(method: std::ffi::c_uint) -> Option<Hook> {
    Some(match method {
        ffi::VCL_MET_RECV => Hook::Recv,
        ffi::VCL_MET_HASH => Hook::Hash,
        ffi::VCL_MET_HIT => Hook::Hit,
        ffi::VCL_MET_MISS => Hook::Miss,
        ffi::VCL_MET_DELIVER => Hook::Deliver,
        ffi::VCL_MET_SYNTH => Hook::Synth,
        ffi::VCL_MET_BACKEND_FETCH => Hook::BackendFetch,
        ffi::VCL_MET_BACKEND_RESPONSE => Hook::BackendResponse,
        ffi::VCL_MET_BACKEND_ERROR => Hook::BackendError,
        _ => return None,
    })
}

const WHERE_RUN_BELONGS: &str = "riscv.run() and riscv.vcall() belong in vcl_recv, vcl_hash, \
     vcl_hit, vcl_miss, vcl_deliver, vcl_synth or vcl_backend_{fetch,response,error}";

/// Runs the hook of `ctx`'s subroutine, with `argument` for it: 1 if one ran, 0 if none
/// applies, -1 if the tenant failed (the failure is logged and the request answered 503).
///
/// # Safety
/// `ctx` is the valid context of a VCL subroutine of a task of `vcl`'s VCL.
pub unsafe fn run(
    ctx: *const ffi::vrt_ctx,
    vcl: &VclState,
    argument: Option<&str>,
) -> Result<i64, String> {
    // SAFETY: the caller's ctx is valid.
    let hook = hook_of_method(unsafe { (*ctx).method }).ok_or(WHERE_RUN_BELONGS)?;
    // SAFETY: as above; `hook` is the subroutine's.
    Ok(unsafe { run_subroutine_hook(ctx, vcl, hook, argument) })
}

/// `riscv.vcall(hook, argument)`: the hook of the current subroutine as `run()` runs it, or
/// another hook, run as it is in this subroutine's task and messages.
///
/// # Safety
/// `ctx` is the valid context of a VCL subroutine of a task of `vcl`'s VCL.
pub unsafe fn vcall(
    ctx: *const ffi::vrt_ctx,
    vcl: &VclState,
    hook: Hook,
    argument: Option<&str>,
) -> Result<i64, String> {
    // SAFETY: the caller's ctx is valid.
    let method = unsafe { (*ctx).method };
    let own_hook = hook_of_method(method).ok_or(WHERE_RUN_BELONGS)?;
    if hook == own_hook {
        // SAFETY: as above.
        return Ok(unsafe { run_subroutine_hook(ctx, vcl, hook, argument) });
    }
    if matches!(hook, Hook::LiveUpdate | Hook::ResumeUpdate) {
        return Err(format!(
            "riscv.vcall(): {hook} runs during live updates, not in requests"
        ));
    }
    // SAFETY: as above: the task of the subroutine's side.
    let task = unsafe {
        if own_hook.is_backend_side() {
            backend_task(ctx, vcl)
        } else {
            client(ctx)
        }
    };
    let Some(task) = task else {
        return Ok(0);
    };
    if task.error.is_some() {
        return Ok(0);
    }
    task.argument = argument.map(String::from);
    // SAFETY: as above.
    let result = match unsafe { run_hook(ctx, task, hook) } {
        Ok(ran) => i64::from(ran),
        Err(error) => {
            // SAFETY: as above.
            unsafe { fail(ctx, task, error) };
            -1
        }
    };
    task.argument = None;
    Ok(result)
}

/// Runs `hook`, the hook of `ctx`'s subroutine, with what the subroutine does around it.
///
/// # Safety
/// `ctx` is the valid context of the VCL subroutine `hook` belongs to.
unsafe fn run_subroutine_hook(
    ctx: *const ffi::vrt_ctx,
    vcl: &VclState,
    hook: Hook,
    argument: Option<&str>,
) -> i64 {
    // SAFETY: the caller's ctx is valid; every branch keeps to its subroutine's messages.
    unsafe {
        let task = if hook.is_backend_side() {
            backend_task(ctx, vcl)
        } else {
            client(ctx)
        };
        let Some(task) = task else {
            return 0;
        };
        task.argument = argument.map(String::from);
        let result = match hook {
            Hook::Recv => recv(ctx, task),
            Hook::Hash => hash(ctx, task),
            Hook::Hit | Hook::Miss => lookup(ctx, task, hook),
            Hook::Deliver => deliver(ctx, task),
            Hook::Synth => synth(ctx, task),
            Hook::BackendFetch => backend_fetch(ctx, task),
            Hook::BackendResponse => backend_response(ctx, task),
            Hook::BackendError => backend_error(ctx, task),
            Hook::LiveUpdate | Hook::ResumeUpdate => 0,
        };
        task.argument = None;
        result
    }
}

/// `riscv.resume()`: runs on the hook `decision` paused, with the current subroutine's
/// messages; in vcl_synth a response it makes (`respond`) is the synthetic answer. 1 if one
/// ran, 0 if none was paused, -1 if the tenant failed.
///
/// # Safety
/// `ctx` is the valid context of a VCL subroutine of a task of `vcl`'s VCL.
pub unsafe fn resume(ctx: *const ffi::vrt_ctx, task: &mut Task) -> i64 {
    let vcl = task.vcl;
    // SAFETY: a task never outlives its VCL.
    let vcl = unsafe { &*vcl };
    let Task {
        tenant, side, body, ..
    } = &mut *task;
    let body = matches!(side, Side::Backend(_)).then_some(body);
    // SAFETY: the caller's ctx is valid.
    let mut host = unsafe { varnish_host(ctx, vcl, tenant.name(), body, true) };
    let resumed = match side {
        Side::Client(client) => client.fork().resume(&mut host),
        Side::Backend(backend) => match backend.fork() {
            Some(fork) => fork.resume(&mut host),
            None => Ok(false),
        },
    };
    note_decision(task);
    match resumed {
        Ok(ran) => {
            // SAFETY: as above.
            if unsafe { (*ctx).method } == ffi::VCL_MET_SYNTH {
                // SAFETY: in vcl_synth, resp exists and the body is synthetic.
                unsafe { write_tenant_response(ctx, task) };
            }
            i64::from(ran)
        }
        Err(error) => {
            // SAFETY: as above.
            unsafe { fail(ctx, task, error) };
            -1
        }
    }
}

/// Writes a response the client fork made with `respond` (in on_synth, or resumed) as the
/// synthetic answer.
///
/// # Safety
/// `ctx` is a valid context in vcl_synth.
unsafe fn write_tenant_response(ctx: *const ffi::vrt_ctx, task: &mut Task) -> bool {
    let Side::Client(client) = &mut task.side else {
        return false;
    };
    let Some(response) = client.take_response() else {
        return false;
    };
    // SAFETY: the caller's ctx is in vcl_synth.
    unsafe {
        let Some(resp) = Message::new((*ctx).http_resp) else {
            return false;
        };
        write_head(resp, &response);
        write_synthetic_body(ctx, &response.body);
    }
    true
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
        let hook = hook_of_method((*ctx).method).ok_or(
            "riscv.call() belongs in vcl_recv, vcl_hash, vcl_hit, vcl_miss, vcl_deliver, \
             vcl_synth or vcl_backend_{fetch,response,error}",
        )?;
        let task = if hook.is_backend_side() {
            backend_task(ctx, vcl)
        } else {
            client(ctx)
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
                let kind = error.kind;
                fail(ctx, task, error);
                let handoff = Handoff::Error {
                    tenant: task.tenant.name().into(),
                    kind,
                };
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
        let Some(handoff) = Handoff::decode(&value, &vcl.nonce) else {
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
        let mut task = Task::backend(vcl, slot.current()?, plan);
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

/// `fork(tenant)` in vcl_backend_fetch: the backend side of the request for `tenant`. The
/// client side's plan for it when there is one (a forge, or backend hooks), else the tenant's
/// backend hooks around the origin. False (and a log line) without such a tenant or program.
///
/// # Safety
/// `ctx` is a valid vcl_backend_fetch context of `vcl`.
pub unsafe fn fork_backend(ctx: *const ffi::vrt_ctx, vcl: &VclState, tenant: &str) -> bool {
    // SAFETY: the caller's ctx is a valid backend ctx.
    unsafe {
        if let Some(task) = backend_task(ctx, vcl) {
            if task.tenant.name() == tenant {
                return true;
            }
        }
        let vsl = (*ctx).vsl;
        let Some(program) = vcl.tenants.get(tenant).and_then(TenantSlot::current) else {
            let message = format!("riscv: no tenant \"{tenant}\" with a program to fork");
            http::log(vsl, ffi::VSL_tag_e_SLT_Error, &message);
            return false;
        };
        let task = Task::backend(vcl, program, BackendPlan::Origin { hooks: true });
        match state::install_task(ctx, task) {
            Ok(_) => true,
            Err(message) => {
                http::log(vsl, ffi::VSL_tag_e_SLT_Error, &format!("riscv: {message}"));
                false
            }
        }
    }
}

/// `vm_backend(function, argument)`: the backend side answers with the tenant's function
/// `function` (a number, as `result_value(1)` gives it, or a name the tenant registered or
/// its symbol table has), called as a forge callback with `argument` (a number, as
/// `result_value(2)` gives it) as its data.
///
/// # Safety
/// `ctx` is a valid context of `vcl`; on the backend side its bereq is this task's.
pub unsafe fn forge_with(
    ctx: *const ffi::vrt_ctx,
    vcl: &VclState,
    function: &str,
    argument: &str,
) -> Result<(), String> {
    // SAFETY: the caller's ctx is valid.
    let task = unsafe { backend_task(ctx, vcl) }.ok_or(
        "riscv.vm_backend(function): no tenant on this backend side (use riscv.fork() in \
         vcl_backend_fetch)",
    )?;
    let data = match argument {
        "" => 0,
        text => parse_number(text)
            .ok_or_else(|| format!("riscv.vm_backend: the argument \"{text}\" is not a number"))?,
    };
    let Task { tenant, side, .. } = &mut *task;
    let Side::Backend(backend) = side else {
        return Err("riscv.vm_backend(function) belongs on the backend side".into());
    };
    let decision = match backend.plan() {
        BackendPlan::Forge(forge) => forge.decision,
        // The VCL chose pass or hash; Varnish keeps what it may.
        BackendPlan::Origin { .. } => Decision::Cached,
    };
    // A side that runs no tenant code yet has no fork: look the function up in a fresh one.
    let mut fresh = None;
    let fork = match backend.fork() {
        Some(fork) => fork,
        None => fresh.insert(tenant.fork()),
    };
    let entry = match parse_number(function) {
        Some(entry) => entry,
        None => fork
            .function_entry(function)
            .map_err(|reason| format!("riscv.vm_backend: {reason}"))?,
    };
    if !fork.machine().program().is_executable(entry) {
        return Err(format!(
            "riscv.vm_backend: {function} is not a function of tenant \"{}\"",
            tenant.name()
        ));
    }
    backend.forge_with(ForgeRequest {
        decision,
        callback: GuestFunction { entry, data },
    });
    Ok(())
}

/// A decimal number (VCL's INT as text) or a `0x` hexadecimal one.
fn parse_number(text: &str) -> Option<u64> {
    let text = text.trim();
    match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse::<i64>().ok().map(|value| value as u64),
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
    // Most tenants have a hook or two: the others' subroutines (vcl_hash, vcl_deliver for
    // hello) skip building a host for a call that would find nothing to run.
    if !task.fork().is_some_and(|fork| fork.has_hook(hook)) {
        note_decision(task);
        return Ok(false);
    }
    // SAFETY: a task never outlives its VCL (see `Task::vcl`).
    let vcl = unsafe { &*task.vcl };
    let Task {
        tenant,
        side,
        body,
        argument,
        ..
    } = &mut *task;
    let body = matches!(side, Side::Backend(_)).then_some(body);
    let with_beresp = matches!(hook, Hook::BackendResponse | Hook::BackendError);
    // SAFETY: the caller's ctx is valid for this subroutine.
    let mut host = unsafe { varnish_host(ctx, vcl, tenant.name(), body, with_beresp) };
    let argument = argument.as_deref();
    let ran = match side {
        Side::Client(client) => client.run_hook_with_argument(hook, argument, &mut host),
        Side::Backend(backend) => backend.run_hook_with_argument(hook, argument, &mut host),
    };
    let fork = match side {
        Side::Client(client) => Some(client.fork()),
        Side::Backend(backend) => backend.fork(),
    };
    let ran = match (ran, fork) {
        (Ok(ran), Some(fork)) => {
            // SAFETY: the caller's ctx is valid.
            unsafe { debug_breakpoints(ctx, vcl, fork, &mut host) }.map(|()| ran)
        }
        (ran, _) => ran,
    };
    note_decision(task);
    ran
}

/// A debug program stopped at `breakpoint()`: serves a debugger (GDB remote protocol) on the
/// VCL's debug port, on 127.0.0.1 only, then runs the hook on; without a debugger in time it
/// just runs on. Only this request waits: other requests run on other threads meanwhile.
///
/// # Safety
/// `ctx` is a valid context of the subroutine the hook ran in.
unsafe fn debug_breakpoints(
    ctx: *const ffi::vrt_ctx,
    vcl: &VclState,
    fork: &mut Fork,
    host: &mut VarnishHost<'_>,
) -> Result<(), RequestError> {
    // SAFETY: the caller's ctx is valid.
    let vsl = unsafe { (*ctx).vsl };
    while fork.paused() == Some(PauseReason::Breakpoint) {
        let port = vcl.debug_port;
        let message = format!(
            "riscv: breakpoint at {:#x}: waiting {} s for a debugger on 127.0.0.1:{port}",
            fork.machine().pc(),
            vcl.debug_timeout.as_secs()
        );
        http::log(vsl, ffi::VSL_tag_e_SLT_Debug, &message);
        let mut connection = match TcpConnection::accept(port, Some(vcl.debug_timeout)) {
            Ok(connection) => connection,
            Err(error) => {
                let message = format!("riscv: no debugger on port {port} ({error}): running on");
                http::log(vsl, ffi::VSL_tag_e_SLT_Debug, &message);
                fork.resume(host)?;
                continue;
            }
        };
        fork.enter_paused();
        let mut target = ForkTarget {
            fork: &mut *fork,
            host: &mut *host,
            finished: None,
        };
        let end = gdb::serve(&mut connection, &mut target);
        let finished = target.finished.take();
        http::log(
            vsl,
            ffi::VSL_tag_e_SLT_Debug,
            &format!("riscv: debugger session ended: {end:?}"),
        );
        match finished {
            Some(result) => result?,
            // Detached (or gone) mid-call: the rest runs without it.
            None => fork.finish(host)?,
        }
    }
    Ok(())
}

/// Remembers a `decision` the tenant made, for `want_result()`.
fn note_decision(task: &mut Task) {
    let decision = task.fork().and_then(|fork| fork.decision().cloned());
    if let Some(decision) = decision {
        task.want = Want::Decision(decision);
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
            if handoff
                .with_encoded(&vcl.nonce, |value| req.set(HANDOFF_HEADER, value))
                .is_err()
            {
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
                let kind = error.kind;
                fail(ctx, task, error);
                let handoff = Handoff::Error {
                    tenant: task.tenant.name().into(),
                    kind,
                };
                hand_off_to_vm(ctx, task, &handoff);
                return -1;
            }
        };
        let Side::Client(client) = &mut task.side else {
            return i64::from(ran);
        };
        let tenant = task.tenant.name().into();
        let decided = matches!(task.want, Want::Decision(_));
        match client.decision() {
            ClientDecision::Respond(response) => {
                if !decided {
                    task.want = Want::Synth;
                }
                task.status = response.status;
                task.synth = Some(response);
            }
            ClientDecision::Backend(plan @ BackendPlan::Forge(forge)) => {
                if !decided {
                    task.want = Want::Backend {
                        cached: forge.decision == Decision::Cached,
                        entry: forge.callback.entry,
                        data: forge.callback.data,
                    };
                }
                hand_off_to_vm(ctx, task, &Handoff::Plan { tenant, plan });
            }
            ClientDecision::Backend(plan @ BackendPlan::Origin { hooks: true }) => {
                if let Some(req) = Message::new((*ctx).http_req) {
                    Handoff::Plan { tenant, plan }
                        .with_encoded(&task.vcl().nonce, |value| req.set(HANDOFF_HEADER, value))
                        .ok();
                }
            }
            // A plain pass to the origin: no tenant code on the backend side.
            ClientDecision::Backend(BackendPlan::Origin { hooks: false }) => {}
        }
        i64::from(ran)
    }
}

/// vcl_hit's on_hit and vcl_miss's on_miss: a failure is answered from vcl_synth.
unsafe fn lookup(ctx: *const ffi::vrt_ctx, task: &mut Task, hook: Hook) -> i64 {
    if task.error.is_some() {
        return 0;
    }
    // SAFETY: a valid ctx in vcl_hit or vcl_miss, both of which may return synth.
    unsafe {
        match run_hook(ctx, task, hook) {
            Ok(ran) => i64::from(ran),
            Err(error) => {
                fail(ctx, task, error);
                ffi::VRT_synth(ctx, 503, std::ptr::null());
                ffi::VRT_handling(ctx, ffi::VCL_RET_SYNTH);
                -1
            }
        }
    }
}

unsafe fn hash(ctx: *const ffi::vrt_ctx, task: &mut Task) -> i64 {
    // SAFETY: a valid ctx in vcl_hash.
    unsafe { hash_tenant_identity(ctx, task) };
    if task.error.is_some() {
        return 0;
    }
    // SAFETY: a valid ctx in vcl_hash.
    unsafe {
        match run_hook(ctx, task, Hook::Hash) {
            Ok(ran) => {
                apply_hash(ctx, task);
                i64::from(ran)
            }
            Err(error) => {
                let kind = error.kind;
                fail(ctx, task, error);
                let handoff = Handoff::Error {
                    tenant: task.tenant.name().into(),
                    kind,
                };
                // A failed request must not be answered from the cache: its own hash misses.
                hash_data(ctx, &[b"rvedge failed request"]);
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
pub unsafe fn hash_tenant_identity(ctx: *const ffi::vrt_ctx, task: &mut Task) {
    if task.hashed {
        return;
    }
    let identity = [b"rvedge-tenant:".as_slice(), task.tenant.name().as_bytes()];
    // SAFETY: the caller's ctx is in vcl_hash.
    unsafe { hash_data(ctx, &identity) };
    task.hashed = true;
}

/// Gives the tenant's pending hash data to Varnish; returns whether there was any.
///
/// # Safety
/// `ctx` is a valid context in vcl_hash.
pub unsafe fn apply_hash(ctx: *const ffi::vrt_ctx, task: &mut Task) -> bool {
    // SAFETY: the caller's ctx is in vcl_hash.
    unsafe { hash_tenant_identity(ctx, task) };
    let Side::Client(client) = &mut task.side else {
        return false;
    };
    let data = client.take_hash_data();
    if data.is_empty() {
        return false;
    }
    // SAFETY: the caller's ctx is in vcl_hash.
    unsafe { hash_data(ctx, &[&data]) };
    true
}

/// Adds `parts`, one after another, to the request's cache key: one C string, built once
/// (the tenant identity is two parts, so it is not concatenated first and copied again), on
/// the stack when it is short, as keys are: this runs on every request.
///
/// # Safety
/// `ctx` is a valid context in vcl_hash.
unsafe fn hash_data(ctx: *const ffi::vrt_ctx, parts: &[&[u8]]) {
    // VRT_hashdata takes C strings; data with NUL bytes is given in hex.
    if parts.iter().any(|part| part.contains(&0)) {
        let hex = parts
            .iter()
            .flat_map(|part| part.iter())
            .map(|byte| format!("{byte:02x}"))
            .collect::<String>();
        // SAFETY: as the caller's.
        return unsafe { hash_data(ctx, &[hex.as_bytes()]) };
    }
    let length = parts.iter().map(|part| part.len()).sum::<usize>() + 1;
    let mut on_stack = [0u8; 256];
    let mut on_heap = Vec::new();
    let text = if length <= on_stack.len() {
        &mut on_stack[..length]
    } else {
        on_heap.resize(length, 0);
        on_heap.as_mut_slice()
    };
    let mut filled = 0;
    for part in parts {
        text[filled..filled + part.len()].copy_from_slice(part);
        filled += part.len();
    }
    text[filled] = 0;
    let mut pointers = [text.as_ptr().cast::<std::ffi::c_char>()];
    let strands = ffi::strands {
        n: 1,
        p: pointers.as_mut_ptr(),
    };
    // SAFETY: a valid ctx in vcl_hash; VRT_hashdata hashes (and logs) the NUL-terminated
    // string during the call and keeps no pointer to it, so it need not be in the workspace.
    unsafe { ffi::VRT_hashdata(ctx, &strands) };
}

unsafe fn deliver(ctx: *const ffi::vrt_ctx, task: &mut Task) -> i64 {
    // The object's mark is for bans, not for clients.
    // SAFETY: a valid ctx in vcl_deliver: resp exists.
    if let Some(resp) = unsafe { Message::new((*ctx).http_resp) } {
        resp.unset(TENANT_HEADER).ok();
    }
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

/// vcl_synth: the tenant's synthetic answer (`respond` in on_recv) or the VCL's, then on_synth
/// (which may write it with `respond`), then on_deliver when the answer is the tenant's.
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
        let mut body = None;
        if let Some(response) = task.synth.take() {
            write_head(resp, &response);
            body = Some(response.body);
        }
        let ran_synth = match run_hook(ctx, task, Hook::Synth) {
            Ok(ran) => ran,
            Err(error) => {
                write_error(ctx, resp, &error);
                fail(ctx, task, error);
                return -1;
            }
        };
        if let Side::Client(client) = &mut task.side {
            if let Some(response) = client.take_response() {
                write_head(resp, &response);
                body = Some(response.body);
            }
        }
        let Some(body) = body else {
            return i64::from(ran_synth);
        };
        match run_hook(ctx, task, Hook::Deliver) {
            Ok(_) => {
                write_synthetic_body(ctx, &body);
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
                    beresp.mark_tenant(task.tenant.name()).ok();
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

/// vcl_backend_error: the answer to a request whose body was too large, the error response of
/// a tenant failure, or, when the origin fetch failed, on_backend_error (which may write the
/// answer with `respond`).
unsafe fn backend_error(ctx: *const ffi::vrt_ctx, task: &mut Task) -> i64 {
    // SAFETY: a valid ctx in vcl_backend_error: beresp exists and the body is synthetic.
    unsafe {
        let Some(beresp) = Message::new((*ctx).http_beresp) else {
            return 0;
        };
        if task.body.is_too_large() {
            let response = request_body_too_large(task.vcl().max_request_body);
            write_head(beresp, &response);
            write_synthetic_body(ctx, &response.body);
            ffi::VRT_l_beresp_uncacheable(ctx, 1);
            return 1;
        }
        if let Some(error) = task.error.clone() {
            write_error(ctx, beresp, &error);
            ffi::VRT_l_beresp_uncacheable(ctx, 1);
            return 1;
        }
        match run_hook(ctx, task, Hook::BackendError) {
            Ok(ran) => {
                let made = match &mut task.side {
                    Side::Backend(backend) => backend.fork().and_then(|fork| fork.take_response()),
                    Side::Client(_) => None,
                };
                if let Some(response) = made.map(HttpResponse::from_tenant) {
                    write_head(beresp, &response);
                    write_synthetic_body(ctx, &response.body);
                }
                i64::from(ran)
            }
            Err(error) => {
                write_error(ctx, beresp, &error);
                ffi::VRT_l_beresp_uncacheable(ctx, 1);
                fail(ctx, task, error);
                -1
            }
        }
    }
}

//! Tenants and their per-request forks.
//!
//! Loading a tenant runs its `main()` until `wait_for_requests`; the paused machine is frozen
//! into the tenant's template. Every request runs in a [`Fork`]: a machine made from the
//! template copy-on-write, with its own registers, a budget and a cap on the memory it writes.

use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};

use super::abi::HeaderSet;
use super::abi::Hook;
use super::calls::{dispatch, CallEnd, CallState, ForgeRequest, GuestFunction, Phase, Response};
use super::calls::{CacheSetting, Hooks, RegisteredFunctions, TenantDecision};
use super::config::{Limits, RandomSource};
use super::helpers::sha256;
use super::host::Host;
use super::regex::{RegexTable, RegexTemplate};
use super::usage::MAX_LOG_BYTES;
use crate::mem::PAGE_SIZE;
use crate::native::HostFunctionOptions;
use crate::profile::ProfileReport;
use crate::{
    BoxedMachine, Clock, Environment, Isolated, Machine, Options, Program, SetupError, Snapshot,
    Stop, TrapKind,
};

/// The host's clock for the tenant's `clock_gettime`; `None` keeps time at 0 (reproducible).
pub type ClockSource = fn(Clock) -> u64;

/// A loaded tenant: its template and what it registered. Shared by every request (`Arc`), and
/// never changed after loading, but for where its forks' read TLB starts ([`Template`]).
#[derive(Debug)]
pub struct Tenant {
    /// Given to every fork, for its error messages.
    name: TenantName,
    limits: Limits,
    /// `limits.backends`, shared with every fork without a copy per request.
    allowed_backends: Option<Arc<[String]>>,
    clock: Option<ClockSource>,
    template: Arc<Template>,
    hooks: Hooks,
    boot_log: Vec<String>,
    /// What `main()` left for every request besides memory: functions registered by name,
    /// compiled regular expressions, and whether this is a debug program.
    extras: TemplateExtras,
    /// Where forks add their profiles when they end, for a tenant made with
    /// [`Tenant::profiled`].
    profile: Option<Arc<Mutex<ProfileReport>>>,
}

/// The part of a template's call state that forks start from (see [`Tenant::fork`]).
#[derive(Clone, Debug, Default)]
struct TemplateExtras {
    functions: RegisteredFunctions,
    regexes: RegexTemplate,
    debug: bool,
}

/// Why a tenant could not be loaded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TenantError {
    /// The program is not a loadable RISC-V executable, or does not fit its memory limit.
    Setup { tenant: String, error: SetupError },
    /// `main()` ended, crashed or ran out of budget before calling `wait_for_requests`.
    Boot { tenant: String, reason: String },
}

impl fmt::Display for TenantError {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TenantError::Setup { tenant, error } => write!(out, "tenant \"{tenant}\": {error}"),
            TenantError::Boot { tenant, reason } => write!(
                out,
                "tenant \"{tenant}\": {reason} before calling wait_for_requests"
            ),
        }
    }
}

impl std::error::Error for TenantError {}

/// How a request failed; the names are `docs/abi.md`'s error kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    Timeout,
    MemoryLimit,
    BadArgument,
    IllegalInstruction,
    StackOverflow,
    Fault,
    Crashed,
    NoResponse,
}

impl ErrorKind {
    pub const ALL: &'static [ErrorKind] = &[
        ErrorKind::Timeout,
        ErrorKind::MemoryLimit,
        ErrorKind::BadArgument,
        ErrorKind::IllegalInstruction,
        ErrorKind::StackOverflow,
        ErrorKind::Fault,
        ErrorKind::Crashed,
        ErrorKind::NoResponse,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Timeout => "timeout",
            ErrorKind::MemoryLimit => "memory_limit",
            ErrorKind::BadArgument => "bad_argument",
            ErrorKind::IllegalInstruction => "illegal_instruction",
            ErrorKind::StackOverflow => "stack_overflow",
            ErrorKind::Fault => "fault",
            ErrorKind::Crashed => "crashed",
            ErrorKind::NoResponse => "no_response",
        }
    }

    pub fn from_name(name: &str) -> Option<ErrorKind> {
        ErrorKind::ALL
            .iter()
            .copied()
            .find(|kind| kind.name() == name)
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        out.write_str(self.name())
    }
}

/// A request the tenant could not finish. The template is untouched; the next request runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestError {
    pub kind: ErrorKind,
    pub tenant: String,
    /// The hook or callback that was running.
    pub during: &'static str,
    pub detail: String,
}

impl fmt::Display for RequestError {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            out,
            "tenant \"{}\": {} in {}: {}",
            self.tenant, self.kind, self.during, self.detail
        )
    }
}

impl std::error::Error for RequestError {}

/// Longest argument and result string of [`Fork::call_function`], NUL excluded.
pub const MAX_FUNCTION_STRING: usize = 64 << 10;

/// Why [`Fork::call_function`] gave no result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FunctionCallError {
    /// The function cannot be called (no such function, no symbol table, argument too long).
    /// Nothing ran: the request goes on.
    NotCallable {
        tenant: String,
        function: String,
        reason: String,
    },
    /// The function ran and failed the request, as a failing hook does.
    Failed(RequestError),
}

impl fmt::Display for FunctionCallError {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FunctionCallError::NotCallable {
                tenant,
                function,
                reason,
            } => write!(
                out,
                "tenant \"{tenant}\": cannot call {function}(): {reason}"
            ),
            FunctionCallError::Failed(error) => error.fmt(out),
        }
    }
}

impl std::error::Error for FunctionCallError {}

impl Tenant {
    /// Loads `program` (a static RISC-V ELF executable) and runs its `main()` to
    /// `wait_for_requests`.
    pub fn load(
        name: &str,
        program: &[u8],
        limits: Limits,
        clock: Option<ClockSource>,
    ) -> Result<Arc<Tenant>, TenantError> {
        Tenant::boot(name, program, limits, clock, None, false)
    }

    /// [`Tenant::load`] for a debug program: its `main()` sees `RISCV_DEBUG=1` in the
    /// environment (libvmod-riscv's `is_debug()`), and `breakpoint` in its requests stops for
    /// a debugger ([`Fork::is_paused`]) instead of doing nothing.
    pub fn load_debug(
        name: &str,
        program: &[u8],
        limits: Limits,
        clock: Option<ClockSource>,
    ) -> Result<Arc<Tenant>, TenantError> {
        Tenant::boot(name, program, limits, clock, None, true)
    }

    /// Whether this is a debug program ([`Tenant::load_debug`]).
    pub fn is_debug(&self) -> bool {
        self.extras.debug
    }

    /// Replaces this tenant's program with `program`: the old program's `on_live_update` may
    /// save state, the new one's `on_resume_update` (registered in its `main()`) gets it before
    /// the new template is frozen. On any error the old tenant is unchanged and keeps serving.
    pub fn live_update(&self, program: &[u8]) -> Result<Arc<Tenant>, TenantError> {
        let saved_state = match self.hooks.get(Hook::LiveUpdate) {
            Some(_) => {
                let mut fork = self.fork_unshared();
                fork.run_hook(Hook::LiveUpdate, &mut NoHost::default())
                    .map_err(|error| TenantError::Boot {
                        tenant: self.name.to_string(),
                        reason: format!("saving state for the update failed: {error}"),
                    })?;
                fork.state.saved_state.take()
            }
            None => None,
        };
        Tenant::boot(
            &self.name,
            program,
            self.limits.clone(),
            self.clock,
            Some(saved_state.unwrap_or_default()),
            self.extras.debug,
        )
    }

    fn boot(
        name: &str,
        program: &[u8],
        limits: Limits,
        clock: Option<ClockSource>,
        restore_state: Option<Vec<u8>>,
        debug: bool,
    ) -> Result<Arc<Tenant>, TenantError> {
        let boot_error = |reason: String| TenantError::Boot {
            tenant: name.into(),
            reason,
        };
        let mut arguments = vec![name.to_string()];
        arguments.extend(limits.arguments.iter().cloned());
        let options = Options {
            max_memory: limits.max_memory,
            stack_size: limits.stack_size,
            arguments,
            environment: if debug {
                vec!["RISCV_DEBUG=1".to_string()]
            } else {
                Vec::new()
            },
        };
        let host_functions = HostFunctionOptions {
            heap: limits.host_heap,
            string_functions: limits.host_string_functions,
        };
        // The environment of main() fills AT_RANDOM: from the OS, it is fresh for every load.
        let environment = TenantEnvironment::boxed(clock, limits.random);
        let mut machine = Program::from_elf_with(program, host_functions)
            .map_err(SetupError::from)
            .and_then(|program| Machine::new(program, &options, environment))
            .map_err(|error| TenantError::Setup {
                tenant: name.into(),
                error,
            })?;
        let mut state = CallState {
            debug,
            ..CallState::default()
        };
        let mut log = NoHost::default();
        let budget = limits.max_boot_instructions;
        let run = run_tenant_code(&mut machine, &mut state, Phase::Boot, budget, &mut log);
        match (run.stop, run.ended) {
            (_, Some(CallEnd::Waiting)) => {}
            (_, Some(CallEnd::BadArgument(detail) | CallEnd::MemoryLimit(detail))) => {
                return Err(boot_error(format!("main() made a bad call ({detail})")));
            }
            // A budget that ran out in a call ends the run as BudgetExhausted, never here.
            (_, Some(CallEnd::BudgetExhausted)) => {
                return Err(boot_error("main() ran out of budget in a call".into()));
            }
            // Only hooks may end themselves; main() gets -EPERM for these calls.
            (stop, Some(CallEnd::Decided { .. } | CallEnd::Returned | CallEnd::Breakpoint)) => {
                return Err(boot_error(format!("main() stopped: {stop}")));
            }
            (Stop::Exited(status), None) => {
                return Err(boot_error(format!("main() exited with status {status}")));
            }
            (Stop::BudgetExhausted, None) => {
                return Err(boot_error(format!(
                    "main() ran {budget} instructions (max_boot_instructions)"
                )));
            }
            (other, None) => return Err(boot_error(format!("main() stopped: {other}"))),
        }
        if let (Some(saved), Some(resume)) = (restore_state, state.hooks.get(Hook::ResumeUpdate)) {
            let phase = Phase::Hook(Hook::ResumeUpdate);
            machine.enter_function(resume.entry, &[resume.data, saved.len() as u64, 0]);
            state.restore_state = Some(saved);
            let run = run_tenant_code(&mut machine, &mut state, phase, budget, &mut log);
            match (run.stop, run.ended) {
                (Stop::Returned(_), None) => {}
                (stop, ended) => {
                    return Err(boot_error(format!(
                        "on_resume_update failed ({})",
                        ended.map_or_else(|| stop.to_string(), |end| format!("{end:?}"))
                    )))
                }
            }
        }
        // Hooks run below main()'s frames, on a page every fork zero-fills instead of copying.
        machine.clear_stack_below_pointer();
        let extras = TemplateExtras {
            functions: state.functions,
            regexes: state.regexes.into_template(),
            debug,
        };
        Ok(Arc::new(Tenant {
            name: name.into(),
            allowed_backends: limits.backends.as_deref().map(Arc::from),
            limits,
            clock,
            template: Arc::new(Template {
                snapshot: machine.snapshot(),
                warmed: OnceLock::new(),
                warming: Mutex::new((0, None)),
            }),
            hooks: state.hooks,
            boot_log: log.lines,
            extras,
            profile: None,
        }))
    }

    /// This tenant (the same template) with forks that count where their instructions and
    /// written pages go, per function ([`crate::profile`]); [`Tenant::profile_report`] sums
    /// the forks that ended. Profiled forks run slower: for finding costs, not for serving.
    pub fn profiled(&self) -> Arc<Tenant> {
        Arc::new(Tenant {
            name: self.name.clone(),
            limits: self.limits.clone(),
            clock: self.clock,
            template: Arc::clone(&self.template),
            hooks: self.hooks,
            boot_log: self.boot_log.clone(),
            allowed_backends: self.allowed_backends.clone(),
            extras: self.extras.clone(),
            profile: Some(Arc::default()),
        })
    }

    /// What the forks of a [`Tenant::profiled`] tenant counted, summed, once they ended.
    pub fn profile_report(&self) -> Option<ProfileReport> {
        let profile = self.profile.as_ref()?.lock();
        Some(profile.map_or_else(
            |poisoned| poisoned.into_inner().clone(),
            |report| report.clone(),
        ))
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Lines the tenant logged while starting.
    pub fn boot_log(&self) -> &[String] {
        &self.boot_log
    }

    pub fn has_hook(&self, hook: Hook) -> bool {
        self.hooks.get(hook).is_some()
    }

    /// Pages of the template, shared by every fork.
    pub fn template_pages(&self) -> usize {
        self.template.snapshot.memory().frozen_pages()
    }

    /// A new request's machine. Cheap: registers are copied, memory and code are shared.
    pub fn fork(self: &Arc<Self>) -> Fork {
        self.fork_unshared()
    }

    fn fork_unshared(&self) -> Fork {
        let environment = TenantEnvironment::boxed(self.clock, self.limits.random);
        let warmed = self.template.warmed.get();
        let snapshot = warmed.unwrap_or(&self.template.snapshot);
        let mut machine = Machine::boxed_from_snapshot(snapshot, environment);
        let max_pages = self.limits.max_request_memory.div_ceil(PAGE_SIZE);
        machine
            .memory()
            .set_owned_page_limit(usize::try_from(max_pages).unwrap_or(usize::MAX));
        if self.profile.is_some() {
            machine.start_profile();
        }
        Fork {
            tenant: self.name.clone(),
            machine,
            state: CallState::for_fork(
                self.hooks,
                self.allowed_backends.clone(),
                self.extras.functions.clone(),
                RegexTable::from_template(&self.extras.regexes),
                self.extras.debug,
            ),
            budget_left: self.limits.max_instructions,
            instructions: 0,
            charged_by_calls: 0,
            entered: None,
            step_enters_block: true,
            paused: None,
            saved_stack_pointer: None,
            profile: self.profile.clone(),
            warms: warmed.is_none().then(|| Arc::clone(&self.template)),
        }
    }
}

/// A tenant's name as every fork of it keeps one: inline when short, so a fork copies a few
/// bytes instead of writing a count that every thread's forks of the tenant write.
#[derive(Clone)]
enum TenantName {
    Inline {
        bytes: [u8; INLINE_NAME_BYTES],
        len: u8,
    },
    Shared(Arc<str>),
}

const INLINE_NAME_BYTES: usize = 31;

impl From<&str> for TenantName {
    fn from(name: &str) -> TenantName {
        match u8::try_from(name.len()) {
            Ok(len) if name.len() <= INLINE_NAME_BYTES => {
                let mut bytes = [0; INLINE_NAME_BYTES];
                bytes[..name.len()].copy_from_slice(name.as_bytes());
                TenantName::Inline { bytes, len }
            }
            _ => TenantName::Shared(name.into()),
        }
    }
}

impl core::ops::Deref for TenantName {
    type Target = str;

    fn deref(&self) -> &str {
        match self {
            TenantName::Inline { bytes, len } => {
                let name = bytes.get(..usize::from(*len)).unwrap_or_default();
                // Checked, this cost ~75 instructions per call; a Varnish request asks for its
                // tenant's name five times.
                // SAFETY: `From<&str>`, the only maker of an inline name, copied `len` bytes
                // of a whole `str` there, and nothing changes them after.
                unsafe { core::str::from_utf8_unchecked(name) }
            }
            TenantName::Shared(name) => name,
        }
    }
}

impl fmt::Debug for TenantName {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, out)
    }
}

impl fmt::Display for TenantName {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        out.write_str(self)
    }
}

/// The snapshot forks are made from, and the same once the first forks have ended with the
/// pages those forks read in its read TLB ([`Snapshot::warmed_by`]): `main()` leaves in its
/// TLB what it read last, a request what requests read. Seen in the seed: every fork missed
/// the TLB on the pages of the GOT and of `.rodata`'s start, which `main()` had not read
/// last; and with one fork warming it, the other side of an exchange (the backend fork after
/// a client fork) missed on nine pages whose slots were empty.
#[derive(Debug)]
struct Template {
    snapshot: Snapshot,
    warmed: OnceLock<Snapshot>,
    /// How many forks have ended, and the snapshot warmed by them, until
    /// [`WARMING_FORKS`] have and `warmed` is set.
    warming: Mutex<(usize, Option<Snapshot>)>,
}

/// Forks whose reads warm a template: the first to end, enough for a request's forks of
/// both sides to be among them.
const WARMING_FORKS: usize = 4;

impl Template {
    fn warm_with(&self, machine: &Machine) {
        if self.warmed.get().is_some() {
            return;
        }
        let Ok(mut warming) = self.warming.lock() else {
            return;
        };
        let (ended, so_far) = &mut *warming;
        // Where two forks read pages that want one slot, the later fork's wins.
        let warmed = so_far
            .as_ref()
            .unwrap_or(&self.snapshot)
            .warmed_by(machine, &self.snapshot);
        *ended += 1;
        if *ended < WARMING_FORKS {
            *so_far = Some(warmed);
        } else {
            let _ = self.warmed.set(warmed);
            *so_far = None;
        }
    }
}

use crate::registers::{A0, SP};

/// One request's machine on one side (client or backend). Dropping it frees all it owns.
#[derive(Debug)]
pub struct Fork {
    tenant: TenantName,
    machine: BoxedMachine,
    state: CallState,
    budget_left: u64,
    instructions: u64,
    charged_by_calls: u64,
    /// The phase of a call entered ([`Fork::enter_hook`], [`Fork::enter_forge`]) and not
    /// finished yet.
    entered: Option<Phase>,
    /// Whether the next [`Fork::step`] enters a basic block, as a run would: there a run
    /// charges the whole block and stops if it does not fit, and so does the step.
    step_enters_block: bool,
    /// A call that stopped part-way (`decision` with pause, `breakpoint` in a debug program)
    /// and may be resumed ([`Fork::resume`]).
    paused: Option<(Phase, PauseReason)>,
    /// The stack pointer before a hook's argument string was copied below it; restored when
    /// the call ends.
    saved_stack_pointer: Option<u64>,
    /// The profiled tenant's sum, which this fork's profile joins when it ends.
    profile: Option<Arc<Mutex<ProfileReport>>>,
    /// The template, while no fork has warmed it yet: this one does when it ends.
    warms: Option<Arc<Template>>,
}

impl Drop for Fork {
    fn drop(&mut self) {
        if let Some(template) = &self.warms {
            template.warm_with(&self.machine);
        }
        if let Some(sum) = &self.profile {
            if let (Some(report), Ok(mut sum)) = (self.machine.profile_report(), sum.lock()) {
                sum.merge(&report);
            }
        }
        TenantEnvironment::give_back(&mut self.machine);
    }
}

/// Why a call stopped part-way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PauseReason {
    /// `decision` with pause: the host acts on it, then may resume the hook.
    Decision,
    /// `breakpoint` in a debug program: a debugger may take over the fork.
    Breakpoint,
}

/// Where a hook run one instruction at a time ([`Fork::step`]) stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StepOutcome {
    /// The instruction ran; the hook goes on.
    Running,
    /// The hook returned (`Ok`) or failed as [`Fork::run_hook`] would have failed.
    Finished(Result<(), RequestError>),
}

impl Fork {
    /// Runs `hook` if the tenant registered it; returns whether it did.
    pub fn run_hook(&mut self, hook: Hook, host: &mut dyn Host) -> Result<bool, RequestError> {
        if !self.enter_hook(hook) {
            return Ok(false);
        }
        self.finish(host)?;
        Ok(true)
    }

    /// The `forge` request `on_recv` made, if any.
    pub fn forge_request(&self) -> Option<ForgeRequest> {
        self.state.forge
    }

    /// Runs a forge callback (normally in a fresh backend-side fork) and returns the response
    /// it built.
    pub fn run_forge(
        &mut self,
        forge: ForgeRequest,
        host: &mut dyn Host,
    ) -> Result<Response, RequestError> {
        self.enter_forge(forge);
        self.finish(host)?;
        self.take_forged_response()
    }

    /// Enters a forge callback without running it (see [`Fork::enter_hook`]); its response
    /// is [`Fork::take_forged_response`] once it finished.
    pub fn enter_forge(&mut self, forge: ForgeRequest) {
        self.state.response = None;
        let sets = [HeaderSet::BackendRequest, HeaderSet::BackendResponse].map(HeaderSet::number);
        self.enter(Phase::Forge, forge.callback, sets);
    }

    /// The response a finished forge callback built.
    pub fn take_forged_response(&mut self) -> Result<Response, RequestError> {
        self.state.response.take().ok_or_else(|| RequestError {
            kind: ErrorKind::NoResponse,
            tenant: self.tenant.to_string(),
            during: Phase::Forge.name(),
            detail: "the callback returned without calling respond".into(),
        })
    }

    /// Calls the tenant's function `name` (`const char *name(const char *argument)`, C
    /// linkage, found in the program's symbol table) with `argument` copied NUL-terminated
    /// below the stack, and returns the NUL-terminated string at the pointer it returns
    /// (NULL is an empty string). The call runs under this fork's budget and the call rules of
    /// `hook`, with tenant calls served by `host`; decisions it makes (forge, respond, ...)
    /// are this fork's as if `hook` had made them.
    pub fn call_function(
        &mut self,
        name: &str,
        argument: &str,
        hook: Hook,
        host: &mut dyn Host,
    ) -> Result<String, FunctionCallError> {
        let not_callable = |reason: String| FunctionCallError::NotCallable {
            tenant: self.tenant.to_string(),
            function: name.to_string(),
            reason,
        };
        let entry = self.function_entry(name).map_err(not_callable)?;
        if argument.len() > MAX_FUNCTION_STRING {
            return Err(not_callable(format!(
                "the argument is {} bytes, more than the {MAX_FUNCTION_STRING} allowed",
                argument.len()
            )));
        }
        let phase = Phase::Hook(hook);
        let saved_stack_pointer = self.machine.register(SP);
        let argument_address = self
            .push_string(argument, phase, name)
            .map_err(FunctionCallError::Failed)?;
        let function = GuestFunction {
            entry,
            data: argument_address,
        };
        self.enter(phase, function, [0, 0]);
        let result = self.finish(host);
        let returned = self.machine.register(A0);
        self.machine.set_register(SP, saved_stack_pointer);
        result.map_err(|mut error| {
            error.detail = format!("{name}(): {}", error.detail);
            FunctionCallError::Failed(error)
        })?;
        self.read_result_string(returned).map_err(|detail| {
            FunctionCallError::Failed(RequestError {
                kind: ErrorKind::BadArgument,
                tenant: self.tenant.to_string(),
                during: phase.name(),
                detail: format!("{name}() returned {detail}"),
            })
        })
    }

    /// Copies `text` NUL-terminated just below the stack and moves the stack pointer below it
    /// (callers restore it); returns its address.
    fn push_string(&mut self, text: &str, phase: Phase, what: &str) -> Result<u64, RequestError> {
        let stack_pointer = self.machine.register(SP);
        // Below the stack pointer is free stack; the callee's frame goes below the copy.
        let address = stack_pointer.wrapping_sub(text.len() as u64 + 1) & !0xf;
        let mut copy = Vec::with_capacity(text.len() + 1);
        copy.extend_from_slice(text.as_bytes());
        copy.push(0);
        if let Err(fault) = self.machine.memory().write_bytes(address, &copy) {
            let kind = if self.machine.memory().limit_reached() {
                ErrorKind::MemoryLimit
            } else {
                ErrorKind::StackOverflow
            };
            return Err(RequestError {
                kind,
                tenant: self.tenant.to_string(),
                during: phase.name(),
                detail: format!(
                    "no room for {what}()'s argument below the stack at {:#x}",
                    fault.addr
                ),
            });
        }
        self.machine.set_register(SP, address);
        Ok(address)
    }

    /// Runs `hook` like [`Fork::run_hook`], with `argument` (VCL's `run(arg)`) copied into
    /// the fork NUL-terminated and passed as the hook's fourth argument (`a3`; 0 without one).
    pub fn run_hook_with_argument(
        &mut self,
        hook: Hook,
        argument: Option<&str>,
        host: &mut dyn Host,
    ) -> Result<bool, RequestError> {
        let Some(function) = self.state.hooks.get(hook) else {
            return Ok(false);
        };
        let phase = Phase::Hook(hook);
        let [first, second] = hook.arguments();
        let argument_address = match argument {
            Some(argument) if argument.len() > MAX_FUNCTION_STRING => {
                return Err(RequestError {
                    kind: ErrorKind::BadArgument,
                    tenant: self.tenant.to_string(),
                    during: phase.name(),
                    detail: format!(
                        "the argument is {} bytes, more than the {MAX_FUNCTION_STRING} allowed",
                        argument.len()
                    ),
                })
            }
            Some(argument) => {
                let saved = self.machine.register(SP);
                let address = self.push_string(argument, phase, hook.name())?;
                self.saved_stack_pointer = Some(saved);
                address
            }
            None => 0,
        };
        self.machine.enter_function(
            function.entry,
            &[function.data, first, second, argument_address],
        );
        self.begin(phase);
        self.finish(host)?;
        Ok(true)
    }

    /// Whether a call stopped part-way and may be resumed, and why.
    pub fn paused(&self) -> Option<PauseReason> {
        self.paused.map(|(_, reason)| reason)
    }

    /// Whether a call stopped part-way (see [`Fork::paused`]).
    pub fn is_paused(&self) -> bool {
        self.paused.is_some()
    }

    /// Runs a paused call on from where it stopped, to its end (or its next pause); false if
    /// none was paused.
    pub fn resume(&mut self, host: &mut dyn Host) -> Result<bool, RequestError> {
        let Some((phase, _)) = self.paused.take() else {
            return Ok(false);
        };
        self.begin(phase);
        self.finish(host)?;
        Ok(true)
    }

    /// Enters the paused call again without running it, for a debugger that steps it
    /// ([`Fork::step`]); false if none was paused.
    pub fn enter_paused(&mut self) -> bool {
        let Some((phase, _)) = self.paused.take() else {
            return false;
        };
        self.begin(phase);
        true
    }

    /// The entry of the tenant's function `name`: one it registered, else its symbol.
    pub fn function_entry(&self, name: &str) -> Result<u64, String> {
        match self.state.functions.get(name) {
            Some(entry) => Ok(entry),
            None => self
                .machine
                .program()
                .function_address(name)
                .map_err(|error| error.to_string()),
        }
    }

    /// The NUL-terminated string at `address` in the fork's memory (NULL: empty), at most
    /// [`MAX_FUNCTION_STRING`] bytes (libvmod-riscv's `result_as_string`).
    pub fn read_string(&mut self, address: u64) -> Result<String, String> {
        self.read_result_string(address)
    }

    /// Whether the fork has a function for `hook` (registered in main() or since).
    pub fn has_hook(&self, hook: Hook) -> bool {
        self.state.hooks.get(hook).is_some()
    }

    /// What `decision` asked for in this fork, if anything.
    pub fn decision(&self) -> Option<&TenantDecision> {
        self.state.decision.as_ref()
    }

    /// The fork's machine, for debuggers that change registers and memory.
    pub fn machine_mut(&mut self) -> &mut Machine {
        &mut self.machine
    }

    /// The NUL-terminated string at `address` (NULL: empty), at most
    /// [`MAX_FUNCTION_STRING`] bytes, read a page at a time so a string that ends just before
    /// unmapped memory is fine.
    fn read_result_string(&mut self, address: u64) -> Result<String, String> {
        if address == 0 {
            return Ok(String::new());
        }
        let mut bytes = Vec::new();
        let mut cursor = address;
        loop {
            let page_left = PAGE_SIZE - cursor % PAGE_SIZE;
            let room = MAX_FUNCTION_STRING + 1 - bytes.len();
            let mut chunk =
                vec![0u8; usize::try_from(page_left).map_or(room, |left| left.min(room))];
            self.machine
                .memory()
                .read_bytes(cursor, &mut chunk)
                .map_err(|_| format!("a pointer to unmapped memory ({cursor:#x})"))?;
            if let Some(end) = chunk.iter().position(|&byte| byte == 0) {
                bytes.extend_from_slice(&chunk[..end]);
                return Ok(String::from_utf8_lossy(&bytes).into_owned());
            }
            bytes.extend_from_slice(&chunk);
            if bytes.len() > MAX_FUNCTION_STRING {
                return Err(format!(
                    "a string longer than {MAX_FUNCTION_STRING} bytes (no NUL)"
                ));
            }
            cursor = cursor.wrapping_add(chunk.len() as u64);
        }
    }

    /// A response `on_recv` gave with `respond` (a synthetic answer), taken once.
    pub fn take_response(&mut self) -> Option<Response> {
        self.state.response.take()
    }

    /// What `cache_set` asked for, if it was called.
    pub fn cache_setting(&self) -> Option<CacheSetting> {
        self.state.cache
    }

    /// The backend `backend_set` chose in this fork, if any.
    pub fn backend_choice(&self) -> Option<&str> {
        self.state.backend.as_deref()
    }

    /// What `hash_add` added to the cache key in this fork.
    pub fn hash_data(&self) -> &[u8] {
        &self.state.hash
    }

    /// [`Fork::hash_data`], taken out; later `hash_add`s start a new list, and the per-request
    /// cap still counts what was taken.
    pub fn take_hash_data(&mut self) -> Vec<u8> {
        core::mem::take(&mut self.state.hash)
    }

    /// Instructions this fork has executed, with the price of its tenant calls (docs/abi.md,
    /// "What calls cost"): what counts against `max_instructions`.
    pub fn instructions(&self) -> u64 {
        self.instructions
    }

    /// The part of [`Fork::instructions`] that is the price of tenant calls, not executed.
    pub fn charged_by_calls(&self) -> u64 {
        self.charged_by_calls
    }

    /// Pages this fork copied or created (what it costs beyond the shared template).
    pub fn pages_written(&mut self) -> usize {
        self.machine.memory().peak_owned_pages()
    }

    /// Gives this fork's random bytes (`getrandom`) from a stream derived from `seed` instead
    /// of its tenant's `random` source, for the rest of the fork: for hosts whose build has
    /// no OS source but which can draw 32 bytes per request from their own (the Extism
    /// plugin, through its input). The stream is SHA-256 of the seed and a counter, so it is
    /// as unpredictable as the seed.
    pub fn seed_random(&mut self, seed: [u8; 32]) {
        let environment: &mut dyn core::any::Any = self.machine.environment();
        if let Some(environment) = environment.downcast_mut::<TenantEnvironment>() {
            environment.seeded_random = Some(SeededRandom::new(seed));
        }
    }

    /// The fork's machine, for debuggers: pc, registers, the program's code.
    pub fn machine(&self) -> &Machine {
        &self.machine
    }

    /// Copies the fork's memory at `address` into `buffer`, for debuggers (variables); false if
    /// any of it is not mapped.
    pub fn read_memory(&mut self, address: u64, buffer: &mut [u8]) -> bool {
        self.machine.read_memory(address, buffer).is_ok()
    }

    /// Enters `hook` without running it, for a debugger that then runs it with
    /// [`Fork::step`] (or to its end with [`Fork::finish`]); false if the tenant did not
    /// register it.
    pub fn enter_hook(&mut self, hook: Hook) -> bool {
        let Some(function) = self.state.hooks.get(hook) else {
            return false;
        };
        self.enter(Phase::Hook(hook), function, hook.arguments());
        true
    }

    fn enter(&mut self, phase: Phase, function: GuestFunction, [first, second]: [u64; 2]) {
        // a3 is the argument string of `run_hook_with_argument`: none here.
        self.machine
            .enter_function(function.entry, &[function.data, first, second, 0]);
        self.begin(phase);
    }

    /// Makes `phase` the call that runs; a step enters its first block.
    fn begin(&mut self, phase: Phase) {
        self.entered = Some(phase);
        self.step_enters_block = true;
    }

    /// What runs now: the phase entered and not finished, if any.
    pub fn entered(&self) -> Option<Phase> {
        self.entered
    }

    /// Runs the call entered with [`Fork::enter_hook`] or [`Fork::enter_forge`] to its end,
    /// serving its tenant calls through `host`, under the fork's budget.
    pub fn finish(&mut self, host: &mut dyn Host) -> Result<(), RequestError> {
        let Some(phase) = self.entered.take() else {
            return Ok(());
        };
        let run = run_tenant_code(
            &mut self.machine,
            &mut self.state,
            phase,
            self.budget_left,
            host,
        );
        self.charge(run.executed, run.charged);
        self.outcome(phase, run.stop, run.ended)
    }

    /// Runs one instruction of the call entered with [`Fork::enter_hook`] or
    /// [`Fork::enter_forge`], serving a tenant call it makes through `host`, under the same
    /// budget and rules as [`Fork::finish`].
    pub fn step(&mut self, host: &mut dyn Host) -> StepOutcome {
        let Some(phase) = self.entered else {
            return StepOutcome::Finished(Ok(()));
        };
        let start = self.machine.instructions();
        let (program, pc) = (self.machine.program(), self.machine.pc());
        let block_does_not_fit =
            self.step_enters_block && program.block_charge_at(pc) > self.budget_left;
        self.step_enters_block = program.ends_block_at(pc);
        let stop = if self.budget_left == 0 || block_does_not_fit {
            Some(Stop::BudgetExhausted)
        } else {
            self.machine.step_within(self.budget_left)
        };
        let mut ended = None;
        let mut charged = 0;
        let stop = match stop {
            Some(Stop::HostCall(number)) => {
                let executed = self.machine.instructions() - start;
                let left = self.budget_left.saturating_sub(executed);
                let (result, call_charged) = dispatch(
                    &mut self.machine,
                    number,
                    phase,
                    &mut self.state,
                    host,
                    left,
                );
                charged = call_charged;
                match result {
                    Ok(value) => {
                        self.machine.set_register(A0, value as u64);
                        None
                    }
                    Err(CallEnd::BudgetExhausted) => Some(Stop::BudgetExhausted),
                    Err(end) => {
                        ended = Some(end);
                        Some(Stop::HostCall(number))
                    }
                }
            }
            other => other,
        };
        drain_output(&mut self.machine, &mut self.state, host, stop.is_some());
        self.charge(self.machine.instructions() - start, charged);
        match stop {
            None => StepOutcome::Running,
            Some(stop) => {
                self.entered = None;
                StepOutcome::Finished(self.outcome(phase, stop, ended))
            }
        }
    }

    /// Puts the stack pointer back where it was before a hook's argument was copied below it.
    fn restore_stack_pointer(&mut self) {
        if let Some(stack_pointer) = self.saved_stack_pointer.take() {
            self.machine.set_register(SP, stack_pointer);
        }
    }

    /// Why a run that stopped at its budget did, in the budget's terms: a basic block or a
    /// Linux call's price that did not fit in what was left stops the run before it, so fewer
    /// instructions than the budget may have run.
    fn budget_exhausted_detail(&self) -> String {
        let budget = self.instructions + self.budget_left;
        let mut detail = format!("used up its {budget} instructions (max_instructions)");
        if self.budget_left > 0 {
            detail += &format!(
                ": {} ran, and the next block or call cost more than the {} left",
                self.instructions, self.budget_left
            );
        }
        detail
    }

    /// Counts instructions `executed` and `charged` by tenant calls against the budget.
    fn charge(&mut self, executed: u64, charged: u64) {
        let used = executed + charged;
        self.instructions += used;
        self.charged_by_calls += charged;
        self.budget_left = self.budget_left.saturating_sub(used);
    }

    /// What the end of a call means for the request: Ok when the function returned, else the
    /// error kind of why it stopped.
    fn outcome(
        &mut self,
        phase: Phase,
        stop: Stop,
        ended: Option<CallEnd>,
    ) -> Result<(), RequestError> {
        // Given the fork rather than capturing a clone of its name: a long name's clone is an
        // atomic write, on a line every thread's forks of this tenant write, per call.
        let error = |fork: &Fork, kind: ErrorKind, detail: String| RequestError {
            kind,
            tenant: fork.tenant.to_string(),
            during: phase.name(),
            detail,
        };
        match ended {
            Some(CallEnd::BadArgument(detail)) => {
                return Err(error(self, ErrorKind::BadArgument, detail))
            }
            Some(CallEnd::MemoryLimit(detail)) => {
                return Err(error(self, ErrorKind::MemoryLimit, detail))
            }
            Some(CallEnd::Decided { paused: false } | CallEnd::Returned) => {
                self.restore_stack_pointer();
                return Ok(());
            }
            Some(CallEnd::Decided { paused: true }) => {
                self.paused = Some((phase, PauseReason::Decision));
                return Ok(());
            }
            Some(CallEnd::Breakpoint) => {
                self.paused = Some((phase, PauseReason::Breakpoint));
                return Ok(());
            }
            // wait_for_requests outside main() returns -EPERM, so it cannot end a request, and
            // a call's price that does not fit ends the run as BudgetExhausted.
            Some(CallEnd::Waiting | CallEnd::BudgetExhausted) | None => {}
        }
        if matches!(stop, Stop::Returned(_)) {
            self.restore_stack_pointer();
        }
        let (kind, detail) = match stop {
            Stop::Returned(_) => return Ok(()),
            Stop::BudgetExhausted => (ErrorKind::Timeout, self.budget_exhausted_detail()),
            _ if self.machine.memory().limit_reached() => (
                ErrorKind::MemoryLimit,
                format!("{stop} after reaching its memory limit"),
            ),
            Stop::Exited(status) => (
                ErrorKind::Crashed,
                format!("exited with status {status} during a request"),
            ),
            Stop::Trap(trap) => match trap.kind {
                TrapKind::IllegalInstruction { .. } => {
                    (ErrorKind::IllegalInstruction, trap.to_string())
                }
                TrapKind::Load { addr } | TrapKind::Store { addr }
                    if self.machine.is_below_stack(addr) =>
                {
                    (ErrorKind::StackOverflow, trap.to_string())
                }
                TrapKind::Signal { .. } | TrapKind::Breakpoint => {
                    (ErrorKind::Crashed, trap.to_string())
                }
                _ => (ErrorKind::Fault, trap.to_string()),
            },
            Stop::HostCall(_) => (ErrorKind::Crashed, stop.to_string()),
        };
        Err(error(self, kind, detail))
    }
}

/// How a run of tenant code ended.
struct Run {
    stop: Stop,
    /// The call that ended the run, and why.
    ended: Option<CallEnd>,
    /// Instructions executed.
    executed: u64,
    /// Instructions the price of its tenant calls came to.
    charged: u64,
}

/// Runs `machine` from where it stands, dispatching tenant calls and charging their price,
/// until it stops, a call ends the run, or `budget` is used up; then moves its output into
/// the host's log.
fn run_tenant_code(
    machine: &mut Machine,
    state: &mut CallState,
    phase: Phase,
    budget: u64,
    host: &mut dyn Host,
) -> Run {
    let start = machine.instructions();
    let mut charged = 0;
    let left = |machine: &Machine, charged: u64| {
        budget.saturating_sub(machine.instructions() - start + charged)
    };
    let (stop, ended) = loop {
        match machine.run(left(machine, charged)) {
            Stop::HostCall(number) => {
                drain_output(machine, state, host, false);
                let budget_left = left(machine, charged);
                let (result, call_charged) =
                    dispatch(machine, number, phase, state, host, budget_left);
                charged += call_charged;
                match result {
                    Ok(value) => machine.set_register(A0, value as u64),
                    Err(CallEnd::BudgetExhausted) => break (Stop::BudgetExhausted, None),
                    Err(end) => break (Stop::HostCall(number), Some(end)),
                }
            }
            stop => break (stop, None),
        }
    };
    drain_output(machine, state, host, true);
    Run {
        stop,
        ended,
        executed: machine.instructions() - start,
        charged,
    }
}

/// Moves what the guest wrote to stdout/stderr into the host's log, a line at a time, within
/// the request's log caps (output stops at the first line dropped, and the log says so): its
/// complete lines, or at the end of a run (`all`) everything. Draining complete lines before every
/// tenant call keeps them in order with what the calls log, and a call stepped an instruction
/// at a time logs exactly what it logs when it runs in one go.
fn drain_output(machine: &mut Machine, state: &mut CallState, host: &mut dyn Host, all: bool) {
    // Before nearly every tenant call the guest wrote nothing since the last drain.
    let Some(environment) = machine.touched_environment() else {
        return;
    };
    let environment: &mut dyn core::any::Any = environment;
    let Some(environment) = environment.downcast_mut::<TenantEnvironment>() else {
        return;
    };
    if environment.output.is_empty() && !environment.os_random_failed && !environment.output_dropped
    {
        return;
    }
    drain_pending_output(environment, state, host, all);
    // A line not ended yet, or the note that output was dropped, waits for a later drain.
    let pending = !environment.output.is_empty() || environment.output_dropped;
    machine.environment_touched |= pending;
}

#[inline(never)]
fn drain_pending_output(
    environment: &mut TenantEnvironment,
    state: &mut CallState,
    host: &mut dyn Host,
    all: bool,
) {
    if core::mem::take(&mut environment.os_random_failed) {
        host.log("rvedge: the operating system gave no random bytes; this fork got fixed ones");
    }
    let end = if all {
        environment.output.len()
    } else {
        match environment.output.iter().rposition(|&byte| byte == b'\n') {
            Some(line_break) => line_break + 1,
            None => 0,
        }
    };
    let dropped = all && core::mem::take(&mut environment.output_dropped);
    if end == 0 && !dropped {
        return;
    }
    let output: Vec<u8> = environment.output.drain(..end).collect();
    // Output stops at the first line the caps refuse, so the log reads the same however
    // often it is drained (run drains at tenant calls, step after every instruction).
    for line in String::from_utf8_lossy(&output).lines() {
        if state.usage.log_cut {
            return;
        }
        if state.usage.admit_log_line(line.len()) {
            host.log(line);
        } else {
            cut_output(state, host);
        }
    }
    if dropped && !state.usage.log_cut {
        cut_output(state, host);
    }
}

/// Ends the request's output in the log, saying so.
fn cut_output(state: &mut CallState, host: &mut dyn Host) {
    state.usage.log_cut = true;
    host.log("rvedge: output cut at this request's log limit");
}

/// A tenant's outside world: output is kept for the host's log, the clock is the host's (or
/// stands still), randomness is the OS's or a fixed sequence per fork (`random`).
struct TenantEnvironment {
    /// Output not in the host's log yet.
    output: Vec<u8>,
    /// Output taken in all, logged or not: the cap counts these.
    output_bytes: usize,
    /// Output did not fit [`MAX_LOG_BYTES`] and was dropped.
    output_dropped: bool,
    clock: Option<ClockSource>,
    random: RandomSource,
    /// The stream random bytes come from: seeded by the host ([`Fork::seed_random`], which
    /// wins over `random`) or, for `RandomSource::Os`, from the OS at the first use.
    seeded_random: Option<SeededRandom>,
    /// The fixed sequence, and the fallback should the OS fail.
    fixed_random: Isolated,
    os_random_failed: bool,
}

/// Random bytes from a 32-byte seed: SHA-256(seed ‖ counter) for counter 0, 1, 2…
struct SeededRandom {
    seed: [u8; 32],
    counter: u64,
    block: [u8; 32],
    /// Bytes of `block` given out.
    used: usize,
}

impl SeededRandom {
    fn new(seed: [u8; 32]) -> SeededRandom {
        SeededRandom {
            seed,
            counter: 0,
            block: [0; 32],
            used: 32,
        }
    }

    fn fill(&mut self, buffer: &mut [u8]) {
        // Byte by byte: getrandom hands the environment 256 bytes at a time.
        for byte in buffer {
            if self.used == self.block.len() {
                let mut input = [0u8; 40];
                input[..32].copy_from_slice(&self.seed);
                input[32..].copy_from_slice(&self.counter.to_le_bytes());
                self.block = sha256(&input);
                self.counter += 1;
                self.used = 0;
            }
            *byte = self.block[self.used];
            self.used += 1;
        }
    }
}

impl TenantEnvironment {
    /// A fresh environment, in the box of one a fork of this thread gave back
    /// ([`TenantEnvironment::give_back`]) if there is one: a fork then allocates nothing.
    fn boxed(clock: Option<ClockSource>, random: RandomSource) -> Box<dyn Environment> {
        let fresh = TenantEnvironment {
            output: Vec::new(),
            output_bytes: 0,
            output_dropped: false,
            clock,
            random,
            seeded_random: None,
            fixed_random: Isolated::default(),
            os_random_failed: false,
        };
        match crate::spare::take(&SPARE_ENVIRONMENTS) {
            Some(mut spare) => {
                *spare = fresh;
                spare
            }
            None => Box::new(fresh),
        }
    }

    /// Keeps the box of an ending fork's environment for the next fork of this thread; the
    /// machine is left one that needs no allocation. What the fork wrote goes now, not when
    /// the box is used again.
    fn give_back(machine: &mut Machine) {
        let environment: Box<dyn core::any::Any> = machine.replace_environment(Box::new(Ended));
        if let Ok(mut environment) = environment.downcast::<TenantEnvironment>() {
            environment.output = Vec::new();
            crate::spare::give(&SPARE_ENVIRONMENTS, environment, MAX_SPARE_ENVIRONMENTS);
        }
    }
}

/// Spare environment boxes per thread: one per fork a thread has alive at once is enough.
const MAX_SPARE_ENVIRONMENTS: usize = 8;

crate::spare::spare_pool!(static SPARE_ENVIRONMENTS: Box<TenantEnvironment>);

/// The environment of a fork's machine after the fork gave its own back, as it ends.
struct Ended;

impl Environment for Ended {
    fn write_output(&mut self, _fd: u32, _bytes: &[u8]) -> bool {
        false
    }

    fn random_bytes(&mut self, buffer: &mut [u8]) {
        buffer.fill(0);
    }
}

impl Environment for TenantEnvironment {
    fn write_output(&mut self, _fd: u32, bytes: &[u8]) -> bool {
        let room = MAX_LOG_BYTES.saturating_sub(self.output_bytes);
        self.output_dropped |= bytes.len() > room;
        let taken = &bytes[..bytes.len().min(room)];
        self.output.extend_from_slice(taken);
        self.output_bytes += taken.len();
        true
    }

    fn clock_nanos(&mut self, clock: Clock) -> u64 {
        self.clock.map_or(0, |source| source(clock))
    }

    fn random_bytes(&mut self, buffer: &mut [u8]) {
        // The OS is asked once per fork, for a seed, when the fork first wants random bytes:
        // forks that want none pay nothing, and a guest asking for megabytes costs hashing,
        // not a system call per chunk.
        if self.seeded_random.is_none() && self.random == RandomSource::Os {
            let mut seed = [0; 32];
            if os_random(&mut seed) {
                self.seeded_random = Some(SeededRandom::new(seed));
            } else {
                self.os_random_failed = true;
            }
        }
        match &mut self.seeded_random {
            Some(seeded) => seeded.fill(buffer),
            None => self.fixed_random.random_bytes(buffer),
        }
    }
}

/// Fills `buffer` from the operating system's CSPRNG (WASI `random_get` on wasm32-wasip1);
/// false if it failed or the target has none.
fn os_random(buffer: &mut [u8]) -> bool {
    #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
    return getrandom::fill(buffer).is_ok();
    #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    {
        let _ = buffer;
        false
    }
}

/// The host of `main()` and of live-update hooks: no HTTP messages, only a log.
#[derive(Debug, Default)]
struct NoHost {
    lines: Vec<String>,
}

impl Host for NoHost {
    fn log(&mut self, message: &str) {
        self.lines.push(message.into());
    }
}

#[cfg(test)]
mod tests {
    use super::{TenantName, INLINE_NAME_BYTES};

    #[test]
    fn names_read_back_as_given_inline_or_shared() {
        // Multi-byte characters up to the inline limit, and one byte past it.
        let full = "é".repeat(INLINE_NAME_BYTES / 2) + "x";
        let over = full.clone() + "y";
        assert_eq!(full.len(), INLINE_NAME_BYTES);
        for name in ["", "hello", "ünïcödé-tenant", full.as_str(), over.as_str()] {
            let kept = TenantName::from(name);
            let inline = matches!(kept, TenantName::Inline { .. });
            assert_eq!(inline, name.len() <= INLINE_NAME_BYTES, "{name}");
            assert_eq!(&*kept, name);
            assert_eq!(&*kept.clone(), name);
        }
    }
}

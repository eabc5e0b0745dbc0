//! Tenants and their per-request forks.
//!
//! Loading a tenant runs its `main()` until `wait_for_requests`; the paused machine is frozen
//! into the tenant's template. Every request runs in a [`Fork`]: a machine made from the
//! template copy-on-write, with its own registers, a budget and a cap on the memory it writes.

use std::fmt;
use std::sync::Arc;

use super::abi::HeaderSet;
use super::abi::Hook;
use super::calls::{dispatch, CallEnd, CallState, ForgeRequest, GuestFunction, Phase, Response};
use super::calls::{CacheSetting, Hooks};
use super::config::Limits;
use super::host::Host;
use crate::mem::PAGE_SIZE;
use crate::{Clock, Environment, Isolated, Machine, Options, SetupError, Snapshot, Stop, TrapKind};

/// The host's clock for the tenant's `clock_gettime`; `None` keeps time at 0 (reproducible).
pub type ClockSource = fn(Clock) -> u64;

/// A loaded tenant: its template and what it registered. Shared by every request (`Arc`), and
/// never changed after loading.
#[derive(Debug)]
pub struct Tenant {
    /// Shared with every fork (for its error messages) without a copy per request.
    name: Arc<str>,
    limits: Limits,
    clock: Option<ClockSource>,
    template: Snapshot,
    hooks: Hooks,
    boot_log: Vec<String>,
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
        Tenant::boot(name, program, limits, clock, None)
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
        )
    }

    fn boot(
        name: &str,
        program: &[u8],
        limits: Limits,
        clock: Option<ClockSource>,
        restore_state: Option<Vec<u8>>,
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
            environment: Vec::new(),
        };
        let mut machine = Machine::from_elf(program, &options, TenantEnvironment::boxed(clock))
            .map_err(|error| TenantError::Setup {
                tenant: name.into(),
                error,
            })?;
        let mut state = CallState::default();
        let mut log = NoHost::default();
        let budget = limits.max_boot_instructions;
        let (stop, ended) =
            run_tenant_code(&mut machine, &mut state, Phase::Boot, budget, &mut log);
        match (stop, ended) {
            (_, Some(CallEnd::Waiting)) => {}
            (_, Some(CallEnd::BadArgument(detail) | CallEnd::MemoryLimit(detail))) => {
                return Err(boot_error(format!("main() made a bad call ({detail})")));
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
            match run_tenant_code(&mut machine, &mut state, phase, budget, &mut log) {
                (Stop::Returned(_), None) => {}
                (stop, ended) => {
                    return Err(boot_error(format!(
                        "on_resume_update failed ({})",
                        ended.map_or_else(|| stop.to_string(), |end| format!("{end:?}"))
                    )))
                }
            }
        }
        Ok(Arc::new(Tenant {
            name: name.into(),
            limits,
            clock,
            template: machine.snapshot(),
            hooks: state.hooks,
            boot_log: log.lines,
        }))
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
        self.template.memory().frozen_pages()
    }

    /// A new request's machine. Cheap: registers are copied, memory and code are shared.
    pub fn fork(self: &Arc<Self>) -> Fork {
        self.fork_unshared()
    }

    fn fork_unshared(&self) -> Fork {
        let mut machine =
            Machine::from_snapshot(&self.template, TenantEnvironment::boxed(self.clock));
        let max_pages = self.limits.max_request_memory.div_ceil(PAGE_SIZE);
        machine
            .memory()
            .set_owned_page_limit(usize::try_from(max_pages).unwrap_or(usize::MAX));
        Fork {
            tenant: Arc::clone(&self.name),
            machine,
            state: CallState {
                hooks: self.hooks,
                ..CallState::default()
            },
            budget_left: self.limits.max_instructions,
            instructions: 0,
            stepping: None,
        }
    }
}

use crate::registers::{A0, SP};

/// One request's machine on one side (client or backend). Dropping it frees all it owns.
#[derive(Debug)]
pub struct Fork {
    tenant: Arc<str>,
    machine: Machine,
    state: CallState,
    budget_left: u64,
    instructions: u64,
    /// The phase of a hook entered with [`Fork::enter_hook`] and not finished yet.
    stepping: Option<Phase>,
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
        let Some(function) = self.state.hooks.get(hook) else {
            return Ok(false);
        };
        let [first, second] = hook.arguments();
        self.call(Phase::Hook(hook), function, [first, second], host)?;
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
        self.state.response = None;
        let sets = [HeaderSet::BackendRequest, HeaderSet::BackendResponse].map(HeaderSet::number);
        self.call(Phase::Forge, forge.callback, sets, host)?;
        self.state.response.take().ok_or_else(|| RequestError {
            kind: super::tenant::ErrorKind::NoResponse,
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
        let entry = self
            .machine
            .program()
            .function_address(name)
            .map_err(|error| not_callable(error.to_string()))?;
        if argument.len() > MAX_FUNCTION_STRING {
            return Err(not_callable(format!(
                "the argument is {} bytes, more than the {MAX_FUNCTION_STRING} allowed",
                argument.len()
            )));
        }
        let phase = Phase::Hook(hook);
        let saved_stack_pointer = self.machine.register(SP);
        // Below the stack pointer is free stack; the callee's frame goes below the copy.
        let argument_address = saved_stack_pointer.wrapping_sub(argument.len() as u64 + 1) & !0xf;
        let mut copy = Vec::with_capacity(argument.len() + 1);
        copy.extend_from_slice(argument.as_bytes());
        copy.push(0);
        if let Err(fault) = self.machine.memory().write_bytes(argument_address, &copy) {
            let kind = if self.machine.memory().limit_reached() {
                ErrorKind::MemoryLimit
            } else {
                ErrorKind::StackOverflow
            };
            return Err(FunctionCallError::Failed(RequestError {
                kind,
                tenant: self.tenant.to_string(),
                during: phase.name(),
                detail: format!(
                    "no room for {name}()'s argument below the stack at {:#x}",
                    fault.addr
                ),
            }));
        }
        self.machine.set_register(SP, argument_address);
        let function = GuestFunction {
            entry,
            data: argument_address,
        };
        let result = self.call(phase, function, [0, 0], host);
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
            let room = (MAX_FUNCTION_STRING + 1 - bytes.len()) as u64;
            let mut chunk = vec![0u8; page_left.min(room) as usize];
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

    /// Instructions this fork has executed.
    pub fn instructions(&self) -> u64 {
        self.instructions
    }

    /// Pages this fork copied or created (what it costs beyond the shared template).
    pub fn pages_written(&mut self) -> usize {
        self.machine.memory().peak_owned_pages()
    }

    /// The fork's machine, for debuggers: pc, registers, the program's code.
    pub fn machine(&self) -> &Machine {
        &self.machine
    }

    /// Enters `hook` without running it, for a debugger that then runs it with
    /// [`Fork::step`]; false if the tenant did not register it.
    pub fn enter_hook(&mut self, hook: Hook) -> bool {
        let Some(function) = self.state.hooks.get(hook) else {
            return false;
        };
        let [first, second] = hook.arguments();
        self.machine
            .enter_function(function.entry, &[function.data, first, second]);
        self.stepping = Some(Phase::Hook(hook));
        true
    }

    /// Runs one instruction of the hook entered with [`Fork::enter_hook`], serving a tenant
    /// call it makes through `host`, under the same budget and rules as [`Fork::run_hook`].
    pub fn step(&mut self, host: &mut dyn Host) -> StepOutcome {
        let Some(phase) = self.stepping else {
            return StepOutcome::Finished(Ok(()));
        };
        let start = self.machine.instructions();
        let stop = if self.budget_left == 0 {
            Some(Stop::BudgetExhausted)
        } else {
            self.machine.step()
        };
        let mut ended = None;
        let stop = match stop {
            Some(Stop::HostCall(number)) => {
                match dispatch(&mut self.machine, number, phase, &mut self.state, host) {
                    Ok(result) => {
                        self.machine.set_register(A0, result as u64);
                        None
                    }
                    Err(end) => {
                        ended = Some(end);
                        Some(Stop::HostCall(number))
                    }
                }
            }
            other => other,
        };
        drain_output(&mut self.machine, host);
        self.charge(start);
        match stop {
            None => StepOutcome::Running,
            Some(stop) => {
                self.stepping = None;
                StepOutcome::Finished(self.outcome(phase, stop, ended))
            }
        }
    }

    /// Counts what ran since the machine's count was `start` against the budget.
    fn charge(&mut self, start: u64) {
        let used = self.machine.instructions() - start;
        self.instructions += used;
        self.budget_left = self.budget_left.saturating_sub(used);
    }

    fn call(
        &mut self,
        phase: Phase,
        function: GuestFunction,
        [first, second]: [u64; 2],
        host: &mut dyn Host,
    ) -> Result<(), RequestError> {
        let start = self.machine.instructions();
        self.machine
            .enter_function(function.entry, &[function.data, first, second]);
        let (stop, ended) = run_tenant_code(
            &mut self.machine,
            &mut self.state,
            phase,
            self.budget_left,
            host,
        );
        self.charge(start);
        self.outcome(phase, stop, ended)
    }

    /// What the end of a call means for the request: Ok when the function returned, else the
    /// error kind of why it stopped.
    fn outcome(
        &mut self,
        phase: Phase,
        stop: Stop,
        ended: Option<CallEnd>,
    ) -> Result<(), RequestError> {
        let error = |kind: ErrorKind, detail: String| RequestError {
            kind,
            tenant: self.tenant.to_string(),
            during: phase.name(),
            detail,
        };
        match ended {
            Some(CallEnd::BadArgument(detail)) => {
                return Err(error(ErrorKind::BadArgument, detail))
            }
            Some(CallEnd::MemoryLimit(detail)) => {
                return Err(error(ErrorKind::MemoryLimit, detail))
            }
            // wait_for_requests outside main() returns -EPERM, so it cannot end a request.
            Some(CallEnd::Waiting) | None => {}
        }
        let (kind, detail) = match stop {
            Stop::Returned(_) => return Ok(()),
            Stop::BudgetExhausted => (
                ErrorKind::Timeout,
                format!(
                    "used up its {} instructions (max_instructions)",
                    self.instructions
                ),
            ),
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
        Err(error(kind, detail))
    }
}

/// Runs `machine` from where it stands, dispatching tenant calls, until it stops or a call
/// ends the run; then moves its output into the host's log.
fn run_tenant_code(
    machine: &mut Machine,
    state: &mut CallState,
    phase: Phase,
    budget: u64,
    host: &mut dyn Host,
) -> (Stop, Option<CallEnd>) {
    let mut ended = None;
    let stop = machine.run_with_host_calls(budget, &mut |machine, number| match dispatch(
        machine, number, phase, state, host,
    ) {
        Ok(result) => {
            machine.set_register(A0, result as u64);
            None
        }
        Err(end) => {
            ended = Some(end);
            Some(Stop::HostCall(number))
        }
    });
    drain_output(machine, host);
    (stop, ended)
}

/// Moves what the guest wrote to stdout/stderr into the host's log, a line at a time.
fn drain_output(machine: &mut Machine, host: &mut dyn Host) {
    let environment: &mut dyn core::any::Any = machine.environment();
    let Some(environment) = environment.downcast_mut::<TenantEnvironment>() else {
        return;
    };
    if environment.output.is_empty() {
        return;
    }
    let output = core::mem::take(&mut environment.output);
    for line in String::from_utf8_lossy(&output).lines() {
        host.log(line);
    }
}

/// A tenant's outside world: output is kept for the host's log, the clock is the host's (or
/// stands still), randomness is a fixed sequence per fork so runs repeat.
struct TenantEnvironment {
    output: Vec<u8>,
    clock: Option<ClockSource>,
    random: Isolated,
}

/// Output a request may log; more is dropped so a chatty tenant cannot fill host memory.
const MAX_OUTPUT_BYTES: usize = 64 << 10;

impl TenantEnvironment {
    fn boxed(clock: Option<ClockSource>) -> Box<dyn Environment> {
        Box::new(TenantEnvironment {
            output: Vec::new(),
            clock,
            random: Isolated::default(),
        })
    }
}

impl Environment for TenantEnvironment {
    fn write_output(&mut self, _fd: u32, bytes: &[u8]) -> bool {
        let room = MAX_OUTPUT_BYTES.saturating_sub(self.output.len());
        self.output
            .extend_from_slice(&bytes[..bytes.len().min(room)]);
        true
    }

    fn clock_nanos(&mut self, clock: Clock) -> u64 {
        self.clock.map_or(0, |source| source(clock))
    }

    fn random_bytes(&mut self, buffer: &mut [u8]) {
        self.random.random_bytes(buffer);
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

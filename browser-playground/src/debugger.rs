//! The debugger: one request's whole exchange, driven by the runtime's resumable
//! [`Exchange`] with stepping on, so it stops before every hook and callback the tenant
//! registered (on_recv, on_hash, the backend side's on_backend_fetch, forge callback and
//! on_backend_response, then on_deliver), in the order the runtime runs them for every host.
//! Within a hook it runs an instruction at a time; with the program's DWARF ([`DebugInfo`]) it
//! steps by source line, stops at source-line breakpoints, and shows the call stack and local
//! variables. Tenant calls are served by the runtime's [`MemoryHost`] with the echo origin
//! behind it, so a debugged request behaves exactly as under Run.
//!
//! The call stack comes from watching calls and returns as the debugger steps (a shadow stack
//! of return addresses and stack pointers), which needs no unwinding tables; function names
//! and inlined frames come from DWARF, else from the symbol table.

use std::rc::Rc;
use std::sync::Arc;

use rvedge::decode::Op;
use rvedge::registers::INT_REGISTER_NAMES;
use rvedge::runtime::{
    error_response, EchoOrigin, Exchange, Fork, HttpRequest, HttpResponse, JsonRequest, MemoryHost,
    Next, Origin, Phase, RequestError, Side, StepOutcome, Tenant,
};
use rvedge::{Program, CALL_RETURN_ADDRESS};
use serde::{Deserialize, Serialize};

use crate::dwarf::{DebugInfo, FrameName, SourceLine, TargetAccess, Variable};
use crate::report::{request_changes, Change, ErrorReport};

/// Decoded instructions shown before and after pc.
const LINES_BEFORE_PC: usize = 8;
const LINES_AFTER_PC: usize = 16;
/// Most instructions one command runs before it gives control back to the page (the hooks'
/// own budgets still end a looping tenant sooner).
pub const MAX_STEPS_PER_COMMAND: u64 = 200_000_000;

const RA: usize = 1;
const SP: usize = 2;
/// The alternate link register (`t0`), used by millicode calls.
const T0: usize = 5;

/// What one debugger command does.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum CommandKind {
    /// One machine instruction.
    #[default]
    Instruction,
    /// To the next source line, into calls that have line information.
    Into,
    /// To the next source line of this function (or its caller), over calls.
    Over,
    /// Until the current function returns to a line of its caller.
    Out,
    /// Until a breakpoint, the next hook when `stop_at_hooks`, or the end.
    Continue,
    /// Until the next hook is entered (or the end).
    NextHook,
}

/// A breakpoint on a line of a source file.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct LineBreakpoint {
    pub file: String,
    pub line: u32,
}

/// A command from the page.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Command {
    pub kind: CommandKind,
    pub lines: Vec<LineBreakpoint>,
    /// Hex addresses (from clicks in the disassembly).
    pub addresses: Vec<String>,
    pub stop_at_hooks: bool,
}

/// Why the last command stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    Started,
    Step,
    Breakpoint,
    HookEntered,
    Ended,
    StepLimit,
}

/// A hook or callback the exchange ran or is running, in order.
#[derive(Clone, Debug, Serialize)]
pub struct HookRun {
    pub hook: &'static str,
    pub side: &'static str,
    /// `running`, `returned` or `failed`.
    pub status: &'static str,
    pub instructions: u64,
}

/// A frame of the call stack, innermost first.
#[derive(Clone, Debug, Serialize)]
pub struct FrameView {
    pub function: String,
    pub file: Option<String>,
    pub line: Option<u32>,
    pub pc: String,
    pub inlined: bool,
}

/// A register for the page.
#[derive(Clone, Debug, Serialize)]
pub struct RegisterView {
    pub number: usize,
    pub name: &'static str,
    pub value: String,
}

/// One disassembled instruction.
#[derive(Clone, Debug, Serialize)]
pub struct LineView {
    pub pc: String,
    pub bits: String,
    pub text: String,
    pub current: bool,
    /// The function that starts here, if one does.
    pub label: Option<String>,
}

/// The response at the end of the exchange.
#[derive(Clone, Debug, Serialize)]
pub struct EndView {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub error: Option<ErrorReport>,
}

/// What the debugger panel shows.
#[derive(Clone, Debug, Serialize)]
pub struct DebugState {
    pub hook: Option<&'static str>,
    pub side: Option<&'static str>,
    pub hooks: Vec<HookRun>,
    pub pc: String,
    /// `<function+offset>` at pc.
    pub symbol: Option<String>,
    pub source: Option<SourceLine>,
    pub frames: Vec<FrameView>,
    pub locals: Vec<Variable>,
    pub registers: Vec<RegisterView>,
    pub disassembly: Vec<LineView>,
    /// Instructions of the exchange so far (both forks).
    pub instructions: u64,
    pub steps_last_command: u64,
    pub stop: StopReason,
    pub finished: bool,
    pub error: Option<ErrorReport>,
    pub end: Option<EndView>,
    pub log: Vec<String>,
    /// The client request as the hooks have left it, and how it differs from the sent one.
    pub request: JsonRequest,
    pub changes: Vec<Change>,
    /// The backend request, once the backend side began.
    pub backend_request: Option<JsonRequest>,
    /// The origin's response, once it answered.
    pub origin_response: Option<EndView>,
}

/// Instructions one function executed in a profiled exchange.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct FunctionProfile {
    pub function: String,
    pub instructions: u64,
}

/// Where an exchange spent its instructions, by function (the symbol that covers each
/// instruction executed), most first.
#[derive(Clone, Debug, Serialize)]
pub struct Profile {
    pub functions: Vec<FunctionProfile>,
    /// Instructions executed, as the forks count them (each in the function it belongs to).
    pub instructions: u64,
    /// Whether the exchange ended within the step limit (else the counts are of its start).
    pub complete: bool,
    pub status: Option<u16>,
}

/// Functions a profile lists; the rest are summed as one line.
const PROFILE_FUNCTIONS: usize = 25;

/// A call the debugger saw being made: where it returns to and the stack pointer at the call.
#[derive(Clone, Copy, Debug)]
struct ShadowFrame {
    call_site: u64,
    return_address: u64,
    stack_pointer: u64,
}

/// One request's exchange, stopped between instructions of a hook (or ended).
#[derive(Debug)]
pub struct DebugSession {
    exchange: Exchange,
    host: MemoryHost,
    request_in: HttpRequest,
    info: Rc<DebugInfo>,
    program: Arc<Program>,
    current: Option<(Side, Phase)>,
    hooks: Vec<HookRun>,
    /// Instructions of the forks of hooks that ended.
    shadow: Vec<ShadowFrame>,
    end: Option<Result<HttpResponse, RequestError>>,
    stop: StopReason,
    steps_last_command: u64,
    /// What the fork counted for the last step (a hook's return counts its trap too).
    last_step_instructions: u64,
}

/// What one instruction step led to.
enum Event {
    Stepped,
    HookEntered,
    Ended,
}

fn side_name(side: Side) -> &'static str {
    match side {
        Side::Client => "client",
        Side::Backend => "backend",
    }
}

/// The paused fork as variables see it.
struct ForkAccess<'a>(&'a mut Fork);

impl TargetAccess for ForkAccess<'_> {
    fn register(&self, number: u16) -> Option<u64> {
        let machine = self.0.machine();
        match number {
            0..=31 => Some(machine.register(usize::from(number))),
            32..=63 => Some(machine.float_register(usize::from(number - 32))),
            _ => None,
        }
    }

    fn read_memory(&mut self, address: u64, buffer: &mut [u8]) -> bool {
        self.0.read_memory(address, buffer)
    }
}

impl DebugSession {
    /// Starts `request`'s exchange with `tenant` and stops before its first hook.
    pub fn start(tenant: &Arc<Tenant>, info: Rc<DebugInfo>, request: &JsonRequest) -> DebugSession {
        let mut exchange = Exchange::new(tenant);
        exchange.set_stepping(true);
        let program = Arc::clone(tenant.fork().machine().program());
        let mut session = DebugSession {
            exchange,
            host: MemoryHost::new(request.to_http()),
            request_in: request.to_http(),
            info,
            program,
            current: None,
            hooks: Vec::new(),
            shadow: Vec::new(),
            end: None,
            stop: StopReason::Started,
            steps_last_command: 0,
            last_step_instructions: 0,
        };
        session.resume();
        session
    }

    pub fn is_finished(&self) -> bool {
        self.end.is_some()
    }

    /// pc of the paused hook (0 once the exchange ended).
    pub fn pc(&self) -> u64 {
        self.exchange
            .paused_fork()
            .map_or(0, |fork| fork.machine().pc())
    }

    /// The source line at pc, if the program has line information there.
    pub fn source_line(&self) -> Option<SourceLine> {
        self.info.line_at(self.pc())
    }

    /// Drives the exchange to its next stop: the next hook entered, or the end.
    fn resume(&mut self) -> Event {
        loop {
            match self.exchange.resume(&mut self.host) {
                Next::Paused { side, phase } => {
                    self.current = Some((side, phase));
                    self.shadow.clear();
                    self.hooks.push(HookRun {
                        hook: phase.name(),
                        side: side_name(side),
                        status: "running",
                        instructions: 0,
                    });
                    return Event::HookEntered;
                }
                // The body is in memory already.
                Next::RequestBody => {}
                Next::Fetch { backend } => {
                    let bereq = self.host.bereq.as_ref().unwrap_or(&self.host.req);
                    self.host.response = Some(EchoOrigin.fetch(&backend, bereq));
                }
                Next::Respond { response, .. } => return self.finish(Ok(response)),
                Next::Deliver { .. } => {
                    let response = self.host.response.take().unwrap_or_default();
                    return self.finish(Ok(response));
                }
                Next::Failed(error) => return self.finish(Err(error)),
            }
        }
    }

    fn finish(&mut self, end: Result<HttpResponse, RequestError>) -> Event {
        self.current = None;
        self.end = Some(end);
        Event::Ended
    }

    /// Runs one instruction of the paused hook; at its end, goes on to the next stop.
    fn step_instruction(&mut self) -> Event {
        if self.end.is_some() {
            return Event::Ended;
        }
        let Some(fork) = self.exchange.paused_fork() else {
            return self.resume();
        };
        let machine = fork.machine();
        let (pc, stack_pointer) = (machine.pc(), machine.register(SP));
        let call_length = call_length(&self.program, pc);
        let before = fork.instructions();
        let outcome = self.exchange.step(&mut self.host);
        let after = self
            .exchange
            .paused_fork()
            .map_or(before, Fork::instructions);
        self.last_step_instructions = after - before;
        if let Some(run) = self.hooks.last_mut() {
            run.instructions += after - before;
        }
        match outcome {
            StepOutcome::Running => {
                if let Some(length) = call_length {
                    self.shadow.push(ShadowFrame {
                        call_site: pc,
                        return_address: pc + length,
                        stack_pointer,
                    });
                }
                self.pop_returned_frames();
                Event::Stepped
            }
            StepOutcome::Finished(result) => {
                if let Some(run) = self.hooks.last_mut() {
                    run.status = if result.is_ok() { "returned" } else { "failed" };
                }
                self.resume()
            }
        }
    }

    /// Drops the frames the machine has returned from (or unwound past).
    fn pop_returned_frames(&mut self) {
        let Some(fork) = self.exchange.paused_fork() else {
            return;
        };
        let (pc, stack_pointer) = (fork.machine().pc(), fork.machine().register(SP));
        while let Some(top) = self.shadow.last() {
            let returned = pc == top.return_address && stack_pointer >= top.stack_pointer;
            if returned || stack_pointer > top.stack_pointer {
                self.shadow.pop();
            } else {
                break;
            }
        }
    }

    /// Runs `command`; returns with the session stopped where it says.
    pub fn run(&mut self, command: &Command) {
        self.steps_last_command = 0;
        if self.end.is_some() {
            self.stop = StopReason::Ended;
            return;
        }
        let mut breakpoints: Vec<u64> = command
            .addresses
            .iter()
            .filter_map(|text| parse_address(text).ok())
            .collect();
        for line in &command.lines {
            if let Some((_, addresses)) = self.info.breakpoint_addresses(&line.file, line.line) {
                breakpoints.extend(addresses);
            }
        }
        breakpoints.sort_unstable();
        let start_line = self.info.line_key(self.pc());
        let start_depth = self.shadow.len();
        self.stop = loop {
            if self.steps_last_command >= MAX_STEPS_PER_COMMAND {
                break StopReason::StepLimit;
            }
            self.steps_last_command += 1;
            let event = self.step_instruction();
            let pc = self.pc();
            let at_breakpoint = breakpoints.binary_search(&pc).is_ok();
            match event {
                Event::Ended => break StopReason::Ended,
                Event::HookEntered => {
                    let continues = command.kind == CommandKind::Continue && !command.stop_at_hooks;
                    if at_breakpoint && command.kind == CommandKind::Continue {
                        break StopReason::Breakpoint;
                    }
                    if !continues {
                        break StopReason::HookEntered;
                    }
                    continue;
                }
                Event::Stepped => {}
            }
            let depth = self.shadow.len();
            let line = self.info.line_key(pc);
            let new_line = line.is_some()
                && self.info.starts_line(pc)
                && (line != start_line || depth != start_depth);
            match command.kind {
                CommandKind::Instruction => break StopReason::Step,
                CommandKind::Continue | CommandKind::NextHook => {
                    if at_breakpoint {
                        break StopReason::Breakpoint;
                    }
                }
                CommandKind::Into => {
                    if new_line {
                        break StopReason::Step;
                    }
                }
                CommandKind::Over => {
                    if depth <= start_depth && new_line {
                        break StopReason::Step;
                    }
                }
                CommandKind::Out => {
                    if depth < start_depth && line.is_some() {
                        break StopReason::Step;
                    }
                }
            }
        };
    }

    /// Runs the rest of the exchange an instruction at a time (at most `max_steps`), counting
    /// each instruction for the function at its address: a profile that needs nothing from the
    /// interpreter but single steps.
    pub fn profile(&mut self, max_steps: u64) -> Profile {
        let mut counts: std::collections::HashMap<Option<u64>, u64> = Default::default();
        let mut instructions = 0;
        let mut steps = 0;
        while self.end.is_none() && steps < max_steps {
            steps += 1;
            let function = self
                .exchange
                .paused_fork()
                .and_then(|_| self.info.function_start(self.pc()));
            self.last_step_instructions = 0;
            self.step_instruction();
            *counts.entry(function).or_default() += self.last_step_instructions;
            instructions += self.last_step_instructions;
        }
        counts.retain(|_, count| *count > 0);
        let mut functions: Vec<FunctionProfile> = counts
            .into_iter()
            .map(|(start, instructions)| FunctionProfile {
                function: start
                    .and_then(|start| self.info.symbol_starting_at(start))
                    .map_or_else(|| "(no symbol)".to_string(), str::to_string),
                instructions,
            })
            .collect();
        functions.sort_by(|a, b| {
            b.instructions
                .cmp(&a.instructions)
                .then(a.function.cmp(&b.function))
        });
        if functions.len() > PROFILE_FUNCTIONS {
            let rest: u64 = functions[PROFILE_FUNCTIONS..]
                .iter()
                .map(|entry| entry.instructions)
                .sum();
            let others = functions.len() - PROFILE_FUNCTIONS;
            functions.truncate(PROFILE_FUNCTIONS);
            functions.push(FunctionProfile {
                function: format!("({others} other functions)"),
                instructions: rest,
            });
        }
        Profile {
            functions,
            instructions,
            complete: self.end.is_some(),
            status: match &self.end {
                Some(Ok(response)) => Some(response.status),
                Some(Err(_)) => Some(503),
                None => None,
            },
        }
    }

    pub fn state(&mut self) -> DebugState {
        let pc = self.pc();
        let mut frames = Vec::new();
        let mut locals = Vec::new();
        let mut registers = Vec::new();
        let mut disassembly = Vec::new();
        let paused = self.exchange.paused_fork().is_some();
        if paused {
            frames = self.frames(pc);
            if let Some(fork) = self.exchange.paused_fork_mut() {
                locals = self.info.variables_at(pc, &mut ForkAccess(fork));
            }
            if let Some(fork) = self.exchange.paused_fork() {
                let machine = fork.machine();
                registers = (0..32)
                    .map(|number| RegisterView {
                        number,
                        name: INT_REGISTER_NAMES[number],
                        value: format!("{:#018x}", machine.register(number)),
                    })
                    .collect();
                disassembly = disassembly_around(&self.program, &self.info, pc);
            }
        }
        let (error, end) = match &self.end {
            Some(Ok(response)) => (None, Some(response_view(response, None))),
            Some(Err(error)) => (
                Some(ErrorReport::new(error)),
                Some(response_view(&error_response(error), Some(error))),
            ),
            None => (None, None),
        };
        let instructions = self.exchange.stats().instructions;
        DebugState {
            hook: self.current.map(|(_, phase)| phase.name()),
            side: self.current.map(|(side, _)| side_name(side)),
            hooks: self.hooks.clone(),
            pc: if !paused {
                "ended".into()
            } else if pc == CALL_RETURN_ADDRESS {
                "returned".into()
            } else {
                format!("{pc:#x}")
            },
            symbol: paused
                .then(|| self.info.symbol_at(pc))
                .flatten()
                .map(|(name, offset)| format!("{name}+{offset:#x}")),
            source: paused.then(|| self.info.line_at(pc)).flatten(),
            frames,
            locals,
            registers,
            disassembly,
            instructions,
            steps_last_command: self.steps_last_command,
            stop: self.stop,
            finished: self.end.is_some(),
            error,
            end,
            log: self.host.log.clone(),
            request: JsonRequest::from_http(&self.host.req),
            changes: request_changes(
                &self.request_in,
                self.host.bereq.as_ref().unwrap_or(&self.host.req),
            ),
            backend_request: self.host.bereq.as_ref().map(JsonRequest::from_http),
            origin_response: self
                .host
                .response
                .as_ref()
                .map(|response| response_view(response, None)),
        }
    }

    /// The call stack at pc: the inlined chain and function at pc, then each call site the
    /// shadow stack recorded, innermost first.
    fn frames(&self, pc: u64) -> Vec<FrameView> {
        let view = |address: u64, frame: FrameName| FrameView {
            function: frame.function,
            file: frame.file,
            line: frame.line,
            pc: format!("{address:#x}"),
            inlined: frame.inlined,
        };
        let mut frames: Vec<FrameView> = self
            .info
            .frames_at(pc)
            .into_iter()
            .map(|frame| view(pc, frame))
            .collect();
        for call in self.shadow.iter().rev() {
            frames.extend(
                self.info
                    .frames_at(call.call_site)
                    .into_iter()
                    .map(|frame| view(call.call_site, frame)),
            );
        }
        frames
    }
}

/// The length of the call instruction at `pc` (`jal`/`jalr` that link through `ra` or `t0`),
/// or `None` if it is not one.
fn call_length(program: &Program, pc: u64) -> Option<u64> {
    let insn = program.insn_at(pc)?;
    let links = usize::from(insn.rd) == RA || usize::from(insn.rd) == T0;
    if !(matches!(insn.op, Op::Jal | Op::Jalr) && links) {
        return None;
    }
    let bits = program.instruction_bits(pc)?;
    Some(if bits & 0b11 == 0b11 { 4 } else { 2 })
}

fn response_view(response: &HttpResponse, error: Option<&RequestError>) -> EndView {
    EndView {
        status: response.status,
        headers: response.headers.clone(),
        body: String::from_utf8_lossy(&response.body).into_owned(),
        error: error.map(ErrorReport::new),
    }
}

/// The decoded instructions around `pc`, as the program decoded them once at load, with the
/// names of functions that start there and of call and jump targets.
pub fn disassembly_around(program: &Program, info: &DebugInfo, pc: u64) -> Vec<LineView> {
    let Some(index) = program.index_of(pc) else {
        return Vec::new();
    };
    let first = index.saturating_sub(LINES_BEFORE_PC);
    let last = (index + LINES_AFTER_PC).min(program.code.len());
    (first..last)
        .filter_map(|index| program.insn(index))
        .filter(|insn| insn.op != Op::FallThrough)
        .map(|insn| {
            let address = program.code_start + u64::from(insn.offset);
            let bits = program.instruction_bits(address).unwrap_or(0);
            let mut text = insn.disassemble(address).to_string();
            if let Some(target) = last_hex_number(&text) {
                if let Some(name) = info.symbol_starting_at(target) {
                    text.push_str(&format!(" <{name}>"));
                }
            }
            LineView {
                pc: format!("{address:#x}"),
                bits: if bits & 0b11 == 0b11 {
                    format!("{bits:08x}")
                } else {
                    format!("{bits:04x}")
                },
                text,
                current: address == pc,
                label: info.symbol_starting_at(address).map(str::to_string),
            }
        })
        .collect()
}

/// The last `0x…` number in a disassembled instruction: a branch or call target.
fn last_hex_number(text: &str) -> Option<u64> {
    let start = text.rfind("0x")?;
    let digits: String = text[start + 2..]
        .chars()
        .take_while(char::is_ascii_hexdigit)
        .collect();
    u64::from_str_radix(&digits, 16).ok()
}

/// Parses an address as the page writes it: hex with or without `0x`.
pub fn parse_address(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    let digits = trimmed
        .strip_prefix("0x")
        .or_else(|| trimmed.strip_prefix("0X"))
        .unwrap_or(trimmed);
    u64::from_str_radix(digits, 16).map_err(|_| format!("\"{text}\" is not a hex address"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_hex_number_of_an_instruction_is_its_target() {
        assert_eq!(last_hex_number("jal ra, 0x10a2c"), Some(0x10a2c));
        assert_eq!(last_hex_number("addi sp, sp, -32"), None);
    }
}

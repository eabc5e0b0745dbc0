//! The debugger: a request's `on_recv` in a fork of the tenant, run one instruction at a time
//! with its tenant calls served by the runtime's [`MemoryHost`], so it behaves exactly as the
//! hook does under Run.

use std::sync::Arc;

use rvedge::decode::{Op, INT_REGISTER_NAMES};
use rvedge::runtime::abi::Hook;
use rvedge::runtime::{Fork, HttpRequest, MemoryHost, RequestError, StepOutcome, Tenant};
use rvedge::CALL_RETURN_ADDRESS;
use serde::Serialize;

use crate::report::{request_changes, Change, ErrorReport, PageRequest};

/// Decoded instructions shown before and after pc.
const LINES_BEFORE_PC: usize = 8;
const LINES_AFTER_PC: usize = 16;

/// `on_recv` of one request, stopped between instructions.
#[derive(Debug)]
pub struct DebugSession {
    fork: Fork,
    host: MemoryHost,
    /// The request as the client sent it, to show what the hook has changed so far.
    request_in: HttpRequest,
    hook: Hook,
    /// Set once the hook returned or failed.
    outcome: Option<Result<(), RequestError>>,
    /// Whether the last `run_to` stopped at its breakpoint.
    at_breakpoint: bool,
    steps_last_command: u64,
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
}

/// What the debugger panel shows.
#[derive(Clone, Debug, Serialize)]
pub struct DebugState {
    pub hook: &'static str,
    pub pc: String,
    pub registers: Vec<RegisterView>,
    pub disassembly: Vec<LineView>,
    /// Instructions the hook has executed.
    pub instructions: u64,
    pub steps_last_command: u64,
    pub at_breakpoint: bool,
    pub finished: bool,
    pub error: Option<ErrorReport>,
    pub log: Vec<String>,
    /// The client request as the hook has left it so far, and how it differs from the sent one.
    pub request: PageRequest,
    pub changes: Vec<Change>,
}

impl DebugSession {
    /// Forks `tenant` for `request` and stops at the first instruction of its `on_recv`.
    pub fn start(tenant: &Arc<Tenant>, request: &PageRequest) -> Result<DebugSession, String> {
        let hook = Hook::Recv;
        let mut fork = tenant.fork();
        if !fork.enter_hook(hook) {
            return Err(format!(
                "tenant \"{}\" registered no {}",
                tenant.name(),
                hook.name()
            ));
        }
        Ok(DebugSession {
            fork,
            host: MemoryHost::new(request.to_http()),
            request_in: request.to_http(),
            hook,
            outcome: None,
            at_breakpoint: false,
            steps_last_command: 0,
        })
    }

    pub fn pc(&self) -> u64 {
        self.fork.machine().pc()
    }

    pub fn is_finished(&self) -> bool {
        self.outcome.is_some()
    }

    fn step_once(&mut self) {
        if self.outcome.is_some() {
            return;
        }
        self.steps_last_command += 1;
        if let StepOutcome::Finished(result) = self.fork.step(&mut self.host) {
            self.outcome = Some(result);
        }
    }

    /// Runs one instruction (a tenant call it makes is served as part of it).
    pub fn step(&mut self) {
        self.steps_last_command = 0;
        self.at_breakpoint = false;
        self.step_once();
    }

    /// Runs until pc reaches one of `breakpoints` (after at least one instruction), the hook
    /// ends, or `max_steps` instructions ran. The hook's own budget still applies.
    pub fn run_to(&mut self, breakpoints: &[u64], max_steps: u64) {
        self.steps_last_command = 0;
        self.at_breakpoint = false;
        while !self.is_finished() && self.steps_last_command < max_steps {
            self.step_once();
            if breakpoints.contains(&self.pc()) && !self.is_finished() {
                self.at_breakpoint = true;
                return;
            }
        }
    }

    pub fn state(&self) -> DebugState {
        let machine = self.fork.machine();
        let registers = (0..32)
            .map(|number| RegisterView {
                number,
                name: INT_REGISTER_NAMES[number],
                value: format!("{:#018x}", machine.register(number)),
            })
            .collect();
        let pc = machine.pc();
        DebugState {
            hook: self.hook.name(),
            pc: if pc == CALL_RETURN_ADDRESS {
                "returned".into()
            } else {
                format!("{pc:#x}")
            },
            registers,
            disassembly: disassembly_around(machine.program(), pc),
            instructions: self.fork.instructions(),
            steps_last_command: self.steps_last_command,
            at_breakpoint: self.at_breakpoint,
            finished: self.is_finished(),
            error: match &self.outcome {
                Some(Err(error)) => Some(ErrorReport::new(error)),
                _ => None,
            },
            log: self.host.log.clone(),
            request: PageRequest {
                method: self.host.req.method.clone(),
                url: self.host.req.url.clone(),
                headers: self.host.req.headers.clone(),
                body: String::from_utf8_lossy(&self.host.req.body).into_owned(),
            },
            changes: request_changes(&self.request_in, &self.host.req),
        }
    }
}

/// The decoded instructions around `pc`, as the program decoded them once at load.
pub fn disassembly_around(program: &rvedge::Program, pc: u64) -> Vec<LineView> {
    let Some(index) = program.index_of(pc) else {
        return Vec::new();
    };
    let first = index.saturating_sub(LINES_BEFORE_PC);
    let last = (index + LINES_AFTER_PC).min(program.code.len());
    program.code[first..last]
        .iter()
        .filter(|insn| insn.op != Op::FallThrough)
        .map(|insn| {
            let address = program.code_start + u64::from(insn.offset);
            let bits = program.instruction_bits(address).unwrap_or(0);
            LineView {
                pc: format!("{address:#x}"),
                bits: if bits & 0b11 == 0b11 {
                    format!("{bits:08x}")
                } else {
                    format!("{bits:04x}")
                },
                text: insn.disassemble(address).to_string(),
                current: address == pc,
            }
        })
        .collect()
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

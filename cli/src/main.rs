//! `rvedge`: runs RISC-V guest programs on the rvedge emulator, and requests through tenants.

mod playground;
mod profile;
mod request;
mod serve;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use clap::{Parser, Subcommand};
use rvedge::runtime::gdb::{self, SessionEnd, Stepped};
use rvedge::HostFunctionOptions;
use rvedge::{Clock, Environment, Isolated, Machine, Options, Program, SetupError, Stop, TrapKind};

#[derive(Parser, Debug)]
#[command(
    name = "rvedge",
    version,
    about = "RISC-V sandbox for per-request edge programs"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a static riscv64 Linux program, as qemu-riscv64 would: its output, errors and exit
    /// status pass through.
    Run(RunArguments),
    /// Send one HTTP request through a tenant (in memory, with an echo origin behind it) and
    /// print the response like `curl -i`; what the tenant decided goes to stderr.
    Request(request::RequestArguments),
    /// Serve the browser playground (built by scripts/build-playground.sh) on 127.0.0.1.
    Playground(playground::PlaygroundArguments),
    /// Serve HTTP on a local port through the rvedge proxy-wasm filter in the wasmtime host,
    /// forwarding what the tenants do not answer to an upstream (or a built-in echo origin).
    Serve(serve::ServeArguments),
}

#[derive(clap::Args, Debug)]
struct RunArguments {
    /// Stop the guest after this many instructions (exit status 124).
    #[arg(long)]
    max_instructions: Option<u64>,
    /// Most guest memory, with a unit: 64MB, 1G, ...
    #[arg(long, default_value = "1GiB", value_parser = parse_size)]
    max_memory: u64,
    /// Print instructions, wall time, MIPS and peak guest memory on stderr.
    #[arg(long)]
    stats: bool,
    /// Wait for a debugger on 127.0.0.1:PORT before the first instruction (GDB remote
    /// protocol: `gdb-multiarch -ex 'target remote :PORT' PROGRAM`); once it detaches the
    /// program runs on.
    #[arg(long, value_name = "PORT")]
    gdb: Option<u16>,
    /// Print guest instructions and pages first written per function on stderr (the
    /// program's symbol table names them; a stripped program's code is named by address).
    #[arg(long)]
    profile: bool,
    /// Serve glibc's malloc family from the host heap, as tenants do (see README).
    #[arg(long)]
    host_heap: bool,
    /// Run glibc's memcpy, strlen, ... as the guest's own code instead of on the host.
    #[arg(long)]
    no_host_string_functions: bool,
    /// The ELF executable.
    program: PathBuf,
    /// Arguments passed to the guest.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    arguments: Vec<String>,
}

fn parse_size(text: &str) -> Result<u64, String> {
    rvedge::size::parse_size(text).map_err(|error| error.to_string())
}

/// The guest's window on this process: its stdout and stderr are ours, and it reads the real
/// clock. Randomness stays the deterministic default so runs are reproducible.
struct ProcessEnvironment {
    random: Isolated,
    started: Instant,
}

impl Environment for ProcessEnvironment {
    fn write_output(&mut self, fd: u32, bytes: &[u8]) -> bool {
        let written = match fd {
            1 => std::io::stdout().lock().write_all(bytes),
            _ => std::io::stderr().lock().write_all(bytes),
        };
        written.is_ok()
    }

    fn clock_nanos(&mut self, clock: Clock) -> u64 {
        match clock {
            Clock::Realtime => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |since| since.as_nanos() as u64),
            Clock::Monotonic => self.started.elapsed().as_nanos() as u64,
        }
    }

    fn random_bytes(&mut self, buffer: &mut [u8]) {
        self.random.random_bytes(buffer);
    }
}

/// Shell-style status of a process killed by `signal`, which is what qemu-riscv64's caller
/// sees when the guest faults.
fn killed_by(signal: u8) -> ExitCode {
    ExitCode::from(128 + signal)
}

const SIGILL: u8 = 4;
const SIGTRAP: u8 = 5;
const SIGKILL: u8 = 9;
const SIGBUS: u8 = 7;
const SIGSEGV: u8 = 11;
/// The exit status `timeout(1)` uses when it stops a command.
const TIMED_OUT: u8 = 124;

fn run(arguments: RunArguments) -> ExitCode {
    let elf = match std::fs::read(&arguments.program) {
        Ok(bytes) => bytes,
        Err(error) => {
            eprintln!(
                "rvedge: cannot read {}: {error}",
                arguments.program.display()
            );
            return ExitCode::from(127);
        }
    };
    let mut argv = vec![arguments.program.display().to_string()];
    argv.extend(arguments.arguments);
    let options = Options {
        max_memory: arguments.max_memory,
        arguments: argv,
        ..Options::default()
    };
    let environment = ProcessEnvironment {
        random: Isolated::default(),
        started: Instant::now(),
    };
    let host_functions = HostFunctionOptions {
        string_functions: !arguments.no_host_string_functions,
        heap: arguments.host_heap,
    };
    let machine = Program::from_elf_with(&elf, host_functions)
        .map_err(SetupError::from)
        .and_then(|program| Machine::new(program, &options, Box::new(environment)));
    let mut machine = match machine {
        Ok(machine) => machine,
        Err(error) => {
            eprintln!("rvedge: {}: {error}", arguments.program.display());
            return ExitCode::from(126);
        }
    };

    if let Some(port) = arguments.gdb {
        if let Some(exit) = debug(&mut machine, port) {
            return exit;
        }
    }
    if arguments.profile {
        machine.start_profile();
    }
    let started = Instant::now();
    let stop = machine.run(arguments.max_instructions.unwrap_or(u64::MAX));
    let elapsed = started.elapsed();
    let _ = std::io::stdout().flush();

    if arguments.stats {
        let instructions = machine.instructions();
        let mips = instructions as f64 / elapsed.as_secs_f64() / 1e6;
        let peak_kib = machine.memory().peak_owned_pages() * 4;
        eprintln!(
            "rvedge: {instructions} instructions in {:.3} s ({mips:.1} MIPS), peak guest memory {peak_kib} KiB",
            elapsed.as_secs_f64()
        );
    }
    if let Some(report) = machine.profile_report() {
        profile::print_profile("rvedge: ", &report);
    }

    match stop {
        Stop::Exited(status) => ExitCode::from(status as u8),
        Stop::BudgetExhausted => {
            eprintln!(
                "rvedge: instruction limit reached at pc {:#x}",
                machine.pc()
            );
            ExitCode::from(TIMED_OUT)
        }
        Stop::HostCall(number) => {
            eprintln!(
                "rvedge: the guest made host call {number}, which plain programs have no host for"
            );
            killed_by(SIGSEGV)
        }
        Stop::Returned(_) => killed_by(SIGSEGV),
        Stop::Trap(trap) => {
            eprintln!("rvedge: {trap}");
            match trap.kind {
                TrapKind::IllegalInstruction { .. } => killed_by(SIGILL),
                TrapKind::Breakpoint => killed_by(SIGTRAP),
                TrapKind::MisalignedAtomic { .. } => killed_by(SIGBUS),
                TrapKind::Signal { signal } => killed_by(signal as u8),
                TrapKind::InstructionFetch | TrapKind::Load { .. } | TrapKind::Store { .. } => {
                    killed_by(SIGSEGV)
                }
            }
        }
    }
}

/// Serves a debugger on `port` until it detaches (then `None`: the program runs on) or the
/// program ends under it (its exit).
fn debug(machine: &mut Machine, port: u16) -> Option<ExitCode> {
    eprintln!("rvedge: waiting for a debugger on 127.0.0.1:{port} (target remote :{port})");
    let mut connection = match gdb::TcpConnection::accept(port, None) {
        Ok(connection) => connection,
        Err(error) => {
            eprintln!("rvedge: cannot serve a debugger on 127.0.0.1:{port}: {error}");
            return Some(ExitCode::FAILURE);
        }
    };
    match gdb::serve(&mut connection, &mut gdb::MachineTarget(machine)) {
        SessionEnd::TargetEnded(Stepped::Exited(status)) => Some(ExitCode::from(status)),
        SessionEnd::TargetEnded(Stepped::Killed(signal)) => Some(killed_by(signal)),
        SessionEnd::Killed => Some(killed_by(SIGKILL)),
        SessionEnd::TargetEnded(Stepped::Running)
        | SessionEnd::Detached
        | SessionEnd::Disconnected => None,
    }
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Run(arguments) => run(arguments),
        Command::Request(arguments) => request::request(arguments),
        Command::Playground(arguments) => playground::playground(arguments),
        Command::Serve(arguments) => serve::serve(arguments),
    }
}

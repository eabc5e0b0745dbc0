//! The machine: one guest hart with its registers, memory and Linux process state, built from
//! a shared [`Program`] or from a [`Snapshot`] of another machine.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;
use core::mem::{ManuallyDrop, MaybeUninit};

use crate::handle::{self, Handles, Shared};
use crate::interp::Redecoded;
use crate::mem::{Memory, MemoryFault, MemorySnapshot, Slot};
use crate::native::heap::HostHeap;
use crate::profile::Profile;
use crate::program::{Program, ProgramError};
use crate::registers::{A0, RA, SP};
use crate::syscall::{self, LinuxState};
use crate::xlen::Xlen;

/// Where a `vmcall`'s function returns to. Nothing is ever mapped there, so reaching it can
/// only mean the called function returned. It is also the sign extension of 0xffff_f000, so
/// an RV32 function returns there too.
pub const CALL_RETURN_ADDRESS: u64 = 0xffff_ffff_ffff_f000;

/// First ecall number handed to the embedder; lower numbers are Linux system calls.
pub const FIRST_HOST_CALL: u64 = 500;

/// Settings of a new machine.
#[derive(Clone, Debug)]
pub struct Options {
    /// Most guest memory that may be mapped at once (segments, stack, heap, mmap), in bytes.
    pub max_memory: u64,
    /// Size of the main stack mapping, in bytes; counted in `max_memory`.
    pub stack_size: u64,
    /// `argv`; the first is the program name.
    pub arguments: Vec<String>,
    /// `envp` entries, `KEY=value`.
    pub environment: Vec<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_memory: 256 << 20,
            stack_size: 8 << 20,
            arguments: alloc::vec![String::from("program")],
            environment: Vec::new(),
        }
    }
}

/// Which clock `clock_gettime` asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Clock {
    Realtime,
    Monotonic,
}

/// What the guest sees of the world outside: output, time and randomness. The emulator does
/// no I/O of its own; embedders provide this. `Any` lets an embedder get its own type back from
/// [`Machine::environment`].
pub trait Environment: Send + core::any::Any {
    /// Guest output to stdout (1) or stderr (2). Returns false if the output is closed.
    fn write_output(&mut self, fd: u32, bytes: &[u8]) -> bool;
    /// Nanoseconds on `clock`.
    fn clock_nanos(&mut self, _clock: Clock) -> u64 {
        0
    }
    /// Fills `buffer` with random bytes (`getrandom`, `AT_RANDOM`).
    fn random_bytes(&mut self, buffer: &mut [u8]);
}

/// An environment with no outside world: output is discarded, the clock stands at 0 and
/// "random" bytes are a fixed pseudo-random sequence, so runs are reproducible.
#[derive(Clone, Debug)]
pub struct Isolated {
    random_state: u64,
}

impl Default for Isolated {
    fn default() -> Self {
        Isolated {
            random_state: 0x9e37_79b9_7f4a_7c15,
        }
    }
}

impl Environment for Isolated {
    fn write_output(&mut self, _fd: u32, _bytes: &[u8]) -> bool {
        true
    }

    fn random_bytes(&mut self, buffer: &mut [u8]) {
        for byte in buffer {
            // xorshift64: deterministic, not secure; real randomness comes from embedders.
            self.random_state ^= self.random_state << 13;
            self.random_state ^= self.random_state >> 7;
            self.random_state ^= self.random_state << 17;
            *byte = self.random_state.to_le_bytes()[0];
        }
    }
}

/// Why `run` returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// The guest called `exit` or `exit_group` with this status.
    Exited(i32),
    /// The instruction budget ran out at a block boundary; `run` again to continue.
    BudgetExhausted,
    /// The guest made ecall number ≥ [`FIRST_HOST_CALL`]; pc is past the ecall. Set the
    /// result registers and `run` again to continue.
    HostCall(u64),
    /// A function entered with [`Machine::enter_function`] returned with this `a0`.
    Returned(u64),
    /// The guest did something that ends it.
    Trap(Trap),
}

/// A fault that ends the guest, at the instruction `pc`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trap {
    pub pc: u64,
    pub kind: TrapKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrapKind {
    /// Not an instruction of the program's ISA (RV32GC or RV64GC with Zba, Zbb, Zbc, Zbs and
    /// Zicond), or a reserved rounding mode, or an unknown CSR.
    IllegalInstruction { bits: u32 },
    /// Jump to memory that is not executable program code.
    InstructionFetch,
    /// Load from unmapped or unreadable memory.
    Load { addr: u64 },
    /// Store to unmapped or read-only memory.
    Store { addr: u64 },
    /// An atomic instruction on a misaligned address.
    MisalignedAtomic { addr: u64 },
    /// `ebreak`.
    Breakpoint,
    /// The guest sent itself a fatal signal (e.g. `abort()`).
    Signal { signal: u32 },
}

impl fmt::Display for Trap {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pc = self.pc;
        match self.kind {
            TrapKind::IllegalInstruction { bits } => {
                write!(out, "illegal instruction {bits:#010x} at pc {pc:#x}")
            }
            TrapKind::InstructionFetch => write!(out, "jump to non-executable address {pc:#x}"),
            TrapKind::Load { addr } => {
                write!(
                    out,
                    "load from unmapped or unreadable address {addr:#x} at pc {pc:#x}"
                )
            }
            TrapKind::Store { addr } => {
                write!(
                    out,
                    "store to unmapped or read-only address {addr:#x} at pc {pc:#x}"
                )
            }
            TrapKind::MisalignedAtomic { addr } => {
                write!(out, "misaligned atomic access to {addr:#x} at pc {pc:#x}")
            }
            TrapKind::Breakpoint => write!(out, "breakpoint (ebreak) at pc {pc:#x}"),
            TrapKind::Signal { signal } => write!(out, "killed by signal {signal} at pc {pc:#x}"),
        }
    }
}

impl fmt::Display for Stop {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stop::Exited(status) => write!(out, "exited with status {status}"),
            Stop::BudgetExhausted => out.write_str("instruction budget exhausted"),
            Stop::HostCall(number) => write!(out, "host call {number}"),
            Stop::Returned(value) => write!(out, "returned {value:#x}"),
            Stop::Trap(trap) => trap.fmt(out),
        }
    }
}

/// Register state of the hart.
#[derive(Clone, Debug)]
pub(crate) struct Cpu {
    /// x0..x31, then the discard register that decoded writes to x0 go to; padded to a slot
    /// per value of a register field (`REGISTER_SLOTS`).
    pub x: [u64; REGISTER_SLOTS],
    /// f0..f31, padded as `x` is.
    pub f: [u64; REGISTER_SLOTS],
    pub pc: u64,
    pub fflags: u8,
    pub frm: u8,
    /// Address and value loaded by the last LR; SC succeeds while memory still holds it.
    pub reservation: Option<(u64, u64)>,
    /// Where the last call the threaded dispatch ran returns to, and that address's entry:
    /// every host function and every leaf function returns there, and finds its entry
    /// without the program's entry index (a table twice the code's size, often a cache miss).
    /// An odd address, which no jump targets, until a call.
    #[cfg(threaded_dispatch)]
    pub last_return: (u64, u32),
}

/// Integer registers a decoded op may name: x0..x31 and the discard register.
const NAMED_REGISTERS: usize = crate::decode::DISCARD_REGISTER as usize + 1;

/// Floating-point registers: f0..f31.
const FLOAT_REGISTERS: usize = 32;

/// A register file's slots: one per value of an `Insn` register field (a `u8`), so the
/// handlers index by a field as it is, with neither a mask nor a bounds check (a mask on each
/// operand was 3 of an `add`'s 13 host instructions). Slots past the named registers are
/// padding no op names: never read or written after a machine's first fill, so they cost
/// memory (3.5 KiB a machine) but no cache lines.
const REGISTER_SLOTS: usize = 1 << u8::BITS;

impl Cpu {
    /// Writes a copy of `source` to `cpu` field by field. The register slots past the named
    /// registers are padding that no op names, zero in every machine: written only into a
    /// fresh slot, whose bytes are not initialized.
    ///
    /// # Safety
    /// `cpu` must be valid for writes of a `Cpu`; with [`Slot::HeldMachine`] it must hold a
    /// `Cpu` already (dropping one leaves its bytes). Afterwards it holds an initialized one.
    #[inline(always)]
    unsafe fn write_from(cpu: *mut Cpu, source: &Cpu, slot: Slot) {
        let Cpu {
            x,
            f,
            pc,
            fflags,
            frm,
            reservation,
            #[cfg(threaded_dispatch)]
            last_return,
        } = source;
        // SAFETY: the caller gives a pointer valid for writes; each field is written through
        // a raw field pointer; the padding is initialized already in a held slot.
        unsafe {
            for (file, source, named) in [
                ((&raw mut (*cpu).x).cast::<u64>(), x, NAMED_REGISTERS),
                ((&raw mut (*cpu).f).cast::<u64>(), f, FLOAT_REGISTERS),
            ] {
                core::ptr::copy_nonoverlapping(source.as_ptr(), file, named);
                if slot == Slot::Fresh {
                    core::ptr::write_bytes(file.add(named), 0, REGISTER_SLOTS - named);
                }
            }
            (&raw mut (*cpu).pc).write(*pc);
            (&raw mut (*cpu).fflags).write(*fflags);
            (&raw mut (*cpu).frm).write(*frm);
            (&raw mut (*cpu).reservation).write(*reservation);
            #[cfg(threaded_dispatch)]
            (&raw mut (*cpu).last_return).write(*last_return);
        }
    }

    fn new(pc: u64) -> Cpu {
        Cpu {
            x: [0; REGISTER_SLOTS],
            f: [0; REGISTER_SLOTS],
            pc,
            fflags: 0,
            frm: 0,
            reservation: None,
            #[cfg(threaded_dispatch)]
            last_return: (NO_RETURN, 0),
        }
    }
}

/// `Cpu::last_return` before any call: odd, so no jump target equals it.
#[cfg(threaded_dispatch)]
const NO_RETURN: u64 = u64::MAX;

/// A frozen machine from which new machines are made cheaply: memory pages are shared
/// copy-on-write and the decoded program is shared, so making one copies only registers.
#[derive(Clone, Debug)]
pub struct Snapshot {
    program: Handles<Program>,
    cpu: Cpu,
    memory: MemorySnapshot,
    linux: LinuxState,
    instret: u64,
    heap: Option<HostHeap>,
}

impl Snapshot {
    pub fn program(&self) -> &Arc<Program> {
        self.program.arc()
    }

    pub fn memory(&self) -> &MemorySnapshot {
        &self.memory
    }

    /// This snapshot with machines made from it starting with the pages `machine` (made from
    /// `made_from`: this snapshot, or one this was warmed from) read in their read TLB
    /// ([`MemorySnapshot::warmed_by`]). Only where guest memory is found faster differs.
    pub fn warmed_by(&self, machine: &Machine, made_from: &Snapshot) -> Snapshot {
        Snapshot {
            memory: self.memory.warmed_by(&machine.memory, &made_from.memory),
            ..self.clone()
        }
    }
}

/// One guest: registers, memory and process state.
pub struct Machine {
    pub(crate) program: Shared<Program>,
    pub(crate) cpu: Cpu,
    pub(crate) memory: Memory,
    pub(crate) linux: LinuxState,
    pub(crate) environment: Box<dyn Environment>,
    /// Set whenever the environment may have taken something its embedder drains (output,
    /// a failed OS source): the tenant runtime checks before every tenant call, and this
    /// spares it the look at the environment's type when nothing was written.
    pub(crate) environment_touched: bool,
    pub(crate) instret: u64,
    /// The host heap, when the program's allocator is the host's (`crate::native::heap`).
    pub(crate) heap: Option<HostHeap>,
    /// Instructions and pages per block, when profiling (`crate::profile`).
    pub(crate) profile: Option<Box<Profile>>,
    /// Made when the machine first decodes an instruction outside its program's decoded code.
    pub(crate) redecoded: Option<Box<Redecoded>>,
}

impl fmt::Debug for Machine {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        out.debug_struct("Machine")
            .field("pc", &format_args!("{:#x}", self.cpu.pc))
            .field("instret", &self.instret)
            .field("memory", &self.memory)
            .finish_non_exhaustive()
    }
}

/// A machine on the heap whose allocation goes back to a per-thread pool when it is dropped
/// ([`Machine::boxed_from_snapshot`]); it derefs to [`Machine`].
pub struct BoxedMachine(ManuallyDrop<Box<Machine>>);

/// Spare machine slots per thread: one per fork a thread has alive at once is enough.
const MAX_SPARE_MACHINES: usize = 8;

crate::spare::spare_pool!(static SPARE_MACHINES: Box<MaybeUninit<Machine>>);

impl Drop for BoxedMachine {
    fn drop(&mut self) {
        // SAFETY: `self.0` is taken once, here, and not used after.
        let machine = unsafe { ManuallyDrop::take(&mut self.0) };
        let slot = Box::into_raw(machine);
        // SAFETY: `slot` is the allocation of a `Box<Machine>`, dropped exactly once here;
        // `MaybeUninit<Machine>` has `Machine`'s layout, so the allocation is a box of it.
        let slot = unsafe {
            core::ptr::drop_in_place(slot);
            Box::from_raw(slot.cast::<MaybeUninit<Machine>>())
        };
        crate::spare::give(&SPARE_MACHINES, slot, MAX_SPARE_MACHINES);
    }
}

impl core::ops::Deref for BoxedMachine {
    type Target = Machine;

    fn deref(&self) -> &Machine {
        &self.0
    }
}

impl core::ops::DerefMut for BoxedMachine {
    fn deref_mut(&mut self) -> &mut Machine {
        &mut self.0
    }
}

/// Names every field of `Machine` without `..`: adding one fails to compile here, a reminder
/// that [`Machine::write_from_snapshot`] must write it too.
#[expect(dead_code, reason = "checked by the compiler, never called")]
fn every_machine_field_is_written(machine: Machine) {
    let Machine {
        program: _,
        cpu: _,
        memory: _,
        linux: _,
        environment: _,
        instret: _,
        heap: _,
        profile: _,
        redecoded: _,
        environment_touched: _,
    } = machine;
}

impl fmt::Debug for BoxedMachine {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(out)
    }
}

/// Why a machine could not be created.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SetupError {
    Load(ProgramError),
    /// Segments, stack and arguments do not fit in `max_memory`.
    OutOfMemory {
        needed_more_than: u64,
    },
    /// Arguments and environment do not fit in the stack.
    ArgumentsTooLarge,
}

impl fmt::Display for SetupError {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SetupError::Load(error) => error.fmt(out),
            SetupError::OutOfMemory { needed_more_than } => write!(
                out,
                "program segments and stack need more than the memory limit of {needed_more_than} bytes"
            ),
            SetupError::ArgumentsTooLarge => out.write_str("arguments and environment do not fit on the stack"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for SetupError {}

impl From<ProgramError> for SetupError {
    fn from(error: ProgramError) -> Self {
        SetupError::Load(error)
    }
}

impl Machine {
    /// Loads `elf` and prepares it to start like a Linux process.
    pub fn from_elf(
        elf: &[u8],
        options: &Options,
        environment: Box<dyn Environment>,
    ) -> Result<Machine, SetupError> {
        Machine::new(Program::from_elf(elf)?, options, environment)
    }

    /// A machine at the entry point of `program`, with its stack set up as the Linux kernel
    /// does (argc, argv, envp, auxv).
    pub fn new(
        program: Arc<Program>,
        options: &Options,
        environment: Box<dyn Environment>,
    ) -> Result<Machine, SetupError> {
        let mut machine = Machine {
            cpu: Cpu::new(program.entry),
            memory: Memory::new(options.max_memory),
            linux: LinuxState::default(),
            environment,
            instret: 0,
            heap: program.host_functions.heap_errno_offset.map(HostHeap::new),
            profile: None,
            redecoded: None,
            environment_touched: false,
            program: Shared::from_arc(program),
        };
        syscall::start_process(&mut machine, options)?;
        Ok(machine)
    }

    /// Freezes this machine's state. This machine goes on running copy-on-write over the
    /// snapshot, like every machine made from it.
    pub fn snapshot(&mut self) -> Snapshot {
        if let Some(heap) = &mut self.heap {
            heap.freeze(&mut self.memory);
        }
        Snapshot {
            program: Handles::of(&self.program),
            cpu: self.cpu.clone(),
            memory: self.memory.freeze(),
            linux: self.linux.clone(),
            instret: self.instret,
            heap: self.heap.clone(),
        }
    }

    /// A new machine in the state of `snapshot`, sharing its pages copy-on-write.
    pub fn from_snapshot(snapshot: &Snapshot, environment: Box<dyn Environment>) -> Machine {
        let mut machine = MaybeUninit::uninit();
        // SAFETY: `machine` is valid for writes of a `Machine`.
        unsafe {
            Machine::write_from_snapshot(machine.as_mut_ptr(), snapshot, environment, Slot::Fresh);
            machine.assume_init()
        }
    }

    /// [`Machine::from_snapshot`] in a heap slot that a dropped [`BoxedMachine`] of this
    /// thread left behind (with `std`), so a fork per request neither moves its machine
    /// (about 7.6 KB) nor makes a slow allocation for it.
    pub fn boxed_from_snapshot(
        snapshot: &Snapshot,
        environment: Box<dyn Environment>,
    ) -> BoxedMachine {
        let (mut slot, held) = match crate::spare::take(&SPARE_MACHINES) {
            Some(slot) => (slot, Slot::HeldMachine),
            None => (Box::new_uninit(), Slot::Fresh),
        };
        // SAFETY: the slot is valid for writes of a `Machine`; a pooled one held a machine
        // that `BoxedMachine::drop` dropped in place.
        let machine = unsafe {
            Machine::write_from_snapshot(slot.as_mut_ptr(), snapshot, environment, held);
            slot.assume_init()
        };
        BoxedMachine(ManuallyDrop::new(machine))
    }

    /// Writes a machine in the state of `snapshot` to `machine` field by field, so nothing is
    /// built on the stack and then copied. Adding a field to `Machine` breaks the build in
    /// [`every_machine_field_is_written`] until it is written here too.
    ///
    /// # Safety
    /// `machine` must be valid for writes of a `Machine`; what it held is overwritten, not
    /// dropped. Afterwards it holds an initialized `Machine`.
    #[inline(always)]
    unsafe fn write_from_snapshot(
        machine: *mut Machine,
        snapshot: &Snapshot,
        environment: Box<dyn Environment>,
        slot: Slot,
    ) {
        let copy = handle::this_thread();
        // SAFETY: the caller gives a pointer valid for writes; each field is written through
        // a raw field pointer (no reference to uninitialized memory), once.
        unsafe {
            (&raw mut (*machine).program).write(snapshot.program.get(copy));
            Cpu::write_from(&raw mut (*machine).cpu, &snapshot.cpu, slot);
            Memory::write_from_snapshot(&raw mut (*machine).memory, &snapshot.memory, copy, slot);
            (&raw mut (*machine).linux).write(snapshot.linux.clone());
            (&raw mut (*machine).environment).write(environment);
            (&raw mut (*machine).instret).write(snapshot.instret);
            (&raw mut (*machine).heap).write(snapshot.heap.as_ref().map(HostHeap::thawed));
            (&raw mut (*machine).profile).write(None);
            (&raw mut (*machine).redecoded).write(None);
            (&raw mut (*machine).environment_touched).write(false);
        }
    }

    pub fn program(&self) -> &Arc<Program> {
        self.program.arc()
    }

    pub fn pc(&self) -> u64 {
        self.cpu.pc
    }

    /// RV32 or RV64, from the program.
    pub fn xlen(&self) -> Xlen {
        self.program.xlen
    }

    pub fn set_pc(&mut self, pc: u64) {
        self.cpu.pc = pc;
    }

    /// Integer register `index` (0..32, see [`crate::registers`]); out-of-range indices read
    /// as 0. On RV32 it reads as the sign extension of its 32-bit value, so `as i64` is the
    /// signed value on both widths and `as u32` the unsigned one there.
    pub fn register(&self, index: usize) -> u64 {
        if index == 0 || index >= 32 {
            return 0;
        }
        self.cpu.x[index]
    }

    /// Sets integer register `index`; writes to x0 or out of range are ignored. On RV32 only
    /// the low 32 bits count (the register holds their sign extension).
    pub fn set_register(&mut self, index: usize, value: u64) {
        if index != 0 && index < 32 {
            self.cpu.x[index] = self.program.xlen.register(value);
        }
    }

    /// Argument `index` of a system call or host call (register `a0 + index`, `index` < 8) as
    /// the unsigned XLEN-bit value the guest passed: pointers, lengths and `unsigned long`s
    /// read the same on both widths.
    pub fn argument(&self, index: usize) -> u64 {
        self.program
            .xlen
            .unsigned(self.register(A0.saturating_add(index).min(32)))
    }

    /// Raw bits of floating-point register `index` (0..32).
    pub fn float_register(&self, index: usize) -> u64 {
        if index >= FLOAT_REGISTERS {
            return 0;
        }
        self.cpu.f[index]
    }

    pub fn set_float_register(&mut self, index: usize, bits: u64) {
        if index < FLOAT_REGISTERS {
            self.cpu.f[index] = bits;
        }
    }

    /// The `fcsr` CSR: rounding mode (bits 5..8) and accrued exception flags (bits 0..5).
    pub fn float_csr(&self) -> u32 {
        u32::from(self.cpu.frm) << 5 | u32::from(self.cpu.fflags)
    }

    pub fn set_float_csr(&mut self, value: u32) {
        self.cpu.fflags = (value & 0x1f) as u8;
        self.cpu.frm = ((value >> 5) & 0x7) as u8;
    }

    /// Instructions retired since the machine (or its snapshot's origin) started.
    pub fn instructions(&self) -> u64 {
        self.instret
    }

    pub fn memory(&mut self) -> &mut Memory {
        &mut self.memory
    }

    /// Whether `addr` is in the gap kept free below the main stack, where a stack overflow
    /// faults.
    pub fn is_below_stack(&self, addr: u64) -> bool {
        let layout = crate::syscall::layout::of(self.program.xlen);
        let stack_bottom = layout.stack_top - self.linux.stack_size;
        (stack_bottom - layout.stack_guard..stack_bottom).contains(&addr)
    }

    /// Makes the main stack below the stack pointer's page read as zero, as never written, and
    /// moves the stack pointer down to the top of that cleared part. Functions called from
    /// here on (a tenant's hooks, in forks of a snapshot taken now) then build their frames in
    /// a page no snapshot holds: a fork's first push fills a page with zeros instead of
    /// copying one of main()'s, so a cold request reads 64 fewer cache lines. Only memory
    /// below the stack pointer changes, which no code may rely on (the RISC-V psABI has no red
    /// zone). Does nothing when the stack pointer is outside the main stack.
    #[cfg(feature = "std")]
    pub(crate) fn clear_stack_below_pointer(&mut self) {
        let layout = crate::syscall::layout::of(self.program.xlen);
        let stack_bottom = layout.stack_top - self.linux.stack_size;
        let cleared_top = crate::mem::page_round_down(self.cpu.x[SP]);
        if cleared_top <= stack_bottom || cleared_top >= layout.stack_top {
            return;
        }
        self.memory.forget_writes(stack_bottom, cleared_top);
        self.cpu.x[SP] = cleared_top;
    }

    pub fn environment(&mut self) -> &mut dyn Environment {
        self.environment_touched = true;
        &mut *self.environment
    }

    /// The environment, if it may have taken something since the last time this gave it
    /// (`environment_touched`); the caller marks it again if it leaves something there.
    #[cfg(feature = "std")]
    pub(crate) fn touched_environment(&mut self) -> Option<&mut dyn Environment> {
        if !core::mem::take(&mut self.environment_touched) {
            return None;
        }
        Some(&mut *self.environment)
    }

    pub fn replace_environment(
        &mut self,
        environment: Box<dyn Environment>,
    ) -> Box<dyn Environment> {
        self.environment_touched = true;
        core::mem::replace(&mut self.environment, environment)
    }

    /// Copies guest memory into `buffer`.
    pub fn read_memory(&mut self, addr: u64, buffer: &mut [u8]) -> Result<(), MemoryFault> {
        self.memory.read_bytes(addr, buffer)
    }

    /// Copies `bytes` into writable guest memory.
    pub fn write_memory(&mut self, addr: u64, bytes: &[u8]) -> Result<(), MemoryFault> {
        self.memory.write_bytes(addr, bytes)
    }

    /// Prepares a call of the guest function at `function` with up to 8 integer arguments:
    /// `run` then executes it and stops with [`Stop::Returned`] when it returns. The call runs
    /// on the current stack, below the current stack pointer.
    pub fn enter_function(&mut self, function: u64, arguments: &[u64]) {
        for (index, value) in arguments.iter().take(8).enumerate() {
            self.set_register(A0 + index, *value);
        }
        self.cpu.x[RA] = CALL_RETURN_ADDRESS;
        self.cpu.x[SP] &= !0xf;
        self.cpu.pc = function;
    }

    /// Runs until the guest stops for a reason other than a host call, giving each host call
    /// to `on_host_call` (which sets result registers and returns `None` to continue, or a
    /// `Stop` to end the run). The budget covers the whole run.
    pub fn run_with_host_calls(
        &mut self,
        budget: u64,
        on_host_call: &mut dyn FnMut(&mut Machine, u64) -> Option<Stop>,
    ) -> Stop {
        let limit = self.instret.saturating_add(budget);
        loop {
            match self.run(limit - self.instret) {
                Stop::HostCall(number) => {
                    if let Some(stop) = on_host_call(self, number) {
                        return stop;
                    }
                }
                stop => return stop,
            }
        }
    }

    /// Calls the guest function at `function` (vmcall) and returns its `a0`, or why it did
    /// not return.
    pub fn call(
        &mut self,
        function: u64,
        arguments: &[u64],
        budget: u64,
        on_host_call: &mut dyn FnMut(&mut Machine, u64) -> Option<Stop>,
    ) -> Result<u64, Stop> {
        self.enter_function(function, arguments);
        match self.run_with_host_calls(budget, on_host_call) {
            Stop::Returned(value) => Ok(value),
            stop => Err(stop),
        }
    }
}

/// An environment that keeps the guest's output for the embedder to read, with the
/// deterministic clock and randomness of [`Isolated`]. Clones share the same buffers, so keep a
/// clone and give the machine another.
#[cfg(feature = "std")]
#[derive(Clone, Debug, Default)]
pub struct CapturedOutput {
    stdout: Arc<std::sync::Mutex<Vec<u8>>>,
    stderr: Arc<std::sync::Mutex<Vec<u8>>>,
    isolated: Isolated,
}

#[cfg(feature = "std")]
impl CapturedOutput {
    /// Everything the guest wrote to stdout so far.
    pub fn stdout(&self) -> Vec<u8> {
        self.stdout
            .lock()
            .map(|buffer| buffer.clone())
            .unwrap_or_default()
    }

    /// Everything the guest wrote to stderr so far.
    pub fn stderr(&self) -> Vec<u8> {
        self.stderr
            .lock()
            .map(|buffer| buffer.clone())
            .unwrap_or_default()
    }
}

#[cfg(feature = "std")]
impl Environment for CapturedOutput {
    fn write_output(&mut self, fd: u32, bytes: &[u8]) -> bool {
        let stream = if fd == 1 { &self.stdout } else { &self.stderr };
        stream
            .lock()
            .map(|mut buffer| buffer.extend_from_slice(bytes))
            .is_ok()
    }

    fn random_bytes(&mut self, buffer: &mut [u8]) {
        self.isolated.random_bytes(buffer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mem::{page_round_down, PAGE_SIZE};

    const BUDGET: u64 = 10_000_000;

    /// tests/guests/embed/vmcall waiting in its "wait here" host call, and the address of the
    /// function it handed to the host.
    fn waiting_vmcall_guest() -> (Machine, u64) {
        let elf = rvedge_test_support::guest("embed/vmcall");
        let mut machine =
            Machine::from_elf(&elf, &Options::default(), Box::new(Isolated::default())).unwrap();
        let mut function = 0;
        let stop = machine.run_with_host_calls(BUDGET, &mut |machine, number| {
            if number != 500 {
                return Some(Stop::HostCall(number));
            }
            function = machine.register(A0);
            None
        });
        assert_eq!(stop, Stop::HostCall(501));
        (machine, function)
    }

    fn read_u64(machine: &mut Machine, addr: u64) -> u64 {
        let mut bytes = [0; 8];
        machine.read_memory(addr, &mut bytes).unwrap();
        u64::from_le_bytes(bytes)
    }

    #[test]
    fn clearing_the_stack_below_the_pointer_zeroes_dead_frames_and_keeps_live_ones() {
        let (mut machine, function) = waiting_vmcall_guest();
        let stack_pointer = machine.register(SP);
        let cleared_top = page_round_down(stack_pointer);
        let live: Vec<u64> = (0..8)
            .map(|word| read_u64(&mut machine, stack_pointer + 8 * word))
            .collect();
        // Leftovers of dead frames: just below the stack pointer's page, and a page deeper.
        let dead = [cleared_top - 8, cleared_top - PAGE_SIZE - 8];
        for addr in dead {
            machine.write_memory(addr, &[0xaa; 8]).unwrap();
        }

        machine.clear_stack_below_pointer();
        assert_eq!(machine.register(SP), cleared_top);
        for addr in dead {
            assert_eq!(read_u64(&mut machine, addr), 0, "{addr:#x} was cleared");
        }
        for (word, value) in live.iter().enumerate() {
            let addr = stack_pointer + 8 * word as u64;
            assert_eq!(read_u64(&mut machine, addr), *value, "{addr:#x} is kept");
        }
        // Forks of the snapshot call functions on the cleared stack.
        let snapshot = machine.snapshot();
        let mut fork = Machine::from_snapshot(&snapshot, Box::new(Isolated::default()));
        let mut no_host_calls = |_: &mut Machine, number: u64| Some(Stop::HostCall(number));
        assert_eq!(
            fork.call(function, &[1, 2], BUDGET, &mut no_host_calls),
            Ok(104)
        );
        assert_eq!(read_u64(&mut fork, dead[1]), 0);
    }

    #[test]
    fn a_stack_pointer_outside_the_main_stack_clears_nothing() {
        let (mut machine, _) = waiting_vmcall_guest();
        let stack_pointer = machine.register(SP);
        let dead = page_round_down(stack_pointer) - 8;
        machine.write_memory(dead, &[0xaa; 8]).unwrap();
        // As if main() had switched to a stack of its own in its data.
        let elsewhere = machine.program().segments[0].vaddr + 0x100;
        machine.set_register(SP, elsewhere);

        machine.clear_stack_below_pointer();
        assert_eq!(machine.register(SP), elsewhere);
        assert_eq!(read_u64(&mut machine, dead), 0xaaaa_aaaa_aaaa_aaaa);
    }
}

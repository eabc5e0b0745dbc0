//! The interpreter: dispatches on the program's pre-decoded instructions.
//!
//! Control enters at a block boundary, where the whole basic block's instruction count is
//! charged against the budget at once; inside a block instructions run back to back with no
//! further checks. Ops that end a block return to the block entry.

pub mod float;
#[cfg(threaded_dispatch)]
mod threaded;
mod wide;

use alloc::boxed::Box;

use crate::decode::{decode_bytes, Insn, Op};
use crate::machine::{Cpu, Machine, Stop, Trap, TrapKind, CALL_RETURN_ADDRESS, FIRST_HOST_CALL};
use crate::mem::{Access, Memory, MemoryFault, Scalar};
use crate::native::Failure;
use crate::registers::{A0, A7, RA};
use crate::xlen::Xlen;
use float::RoundingMode;

/// Whether this build runs guests by threaded dispatch (`threaded.rs`), as optimized x86-64
/// and AArch64 builds do, or by the `match` loop.
pub const THREADED_DISPATCH: bool = cfg!(threaded_dispatch);

const CSR_FFLAGS: u32 = 0x001;
const CSR_FRM: u32 = 0x002;
const CSR_FCSR: u32 = 0x003;
const CSR_CYCLE: u32 = 0xc00;
const CSR_TIME: u32 = 0xc01;
const CSR_INSTRET: u32 = 0xc02;
/// RV32 only: the high halves of the 64-bit counters.
const CSR_CYCLEH: u32 = 0xc80;
const CSR_TIMEH: u32 = 0xc81;
const CSR_INSTRETH: u32 = 0xc82;

#[expect(
    clippy::cast_possible_truncation,
    reason = "keeping the low 32 bits is the point"
)]
fn sign_extend_32(value: u64) -> u64 {
    value as i32 as i64 as u64
}

/// How [`Machine::run_decoded`] ended: the run goes on or stops as the exit says, a rare event
/// is handled with the whole machine, or the run reached a pc that does not start a decoded
/// instruction.
enum Decoded {
    Exit(Exit),
    Rare(Rare),
    Undecoded(u64),
    /// The host function at this pc ran and gave no value.
    HostFunctionFailed(u64, Failure),
}

/// Outcome of an op that leaves the inner loop.
enum Exit {
    /// Continue at this pc (a new block).
    Jump(u64),
    Stop(Stop),
}

/// Instructions a machine decoded off its program's decoded code ([`Machine::decode_at`]):
/// where jumps landed inside decoded instructions, and the CSR instructions it ran. Slots are
/// chosen by address, so a guest looping through a few such places decodes each once (a
/// loop of mid-instruction jumps decoding each time cost ~20x an ordinary instruction's host
/// time), and a guest visiting many costs what it did before.
pub(crate) struct Redecoded([Option<(u64, Insn, u8)>; REDECODED_SLOTS]);

const REDECODED_SLOTS: usize = 64;

/// What an instruction where no decoded one starts (reached by a jump into the middle of
/// another; only hand-written code does that) is charged: it is decoded and run on its own,
/// and a guest that keeps more such places than [`Redecoded`] holds (two whose slots collide
/// are enough) decodes every time, about 7 times an ordinary instruction's host time.
pub const UNDECODED_PRICE: u64 = 8;

/// What reading the cycle, time or instret counter is charged: each read ends its basic block
/// and leaves the handlers' chain for the machine's loop, about 5 times an ordinary
/// instruction's host time. Code rarely reads them (clocks go through `clock_gettime`).
pub const COUNTER_READ_PRICE: u64 = 8;

impl Redecoded {
    const EMPTY: Redecoded = Redecoded([None; REDECODED_SLOTS]);

    fn slot(&mut self, pc: u64) -> &mut Option<(u64, Insn, u8)> {
        // Instructions start on halfwords.
        &mut self.0[(pc >> 1) as usize % REDECODED_SLOTS]
    }
}

impl Machine {
    /// Runs at most `budget` instructions (checked per basic block, so it never overshoots).
    pub fn run(&mut self, budget: u64) -> Stop {
        // Profiling is a separate instance of the loop, so an unprofiled run pays nothing.
        if self.profile.is_some() {
            self.run_blocks::<true>(budget)
        } else {
            self.run_blocks::<false>(budget)
        }
    }

    fn run_blocks<const PROFILE: bool>(&mut self, budget: u64) -> Stop {
        let limit = self.instret.saturating_add(budget);
        let mut pc = self.cpu.pc;
        loop {
            // The program is borrowed, not cloned (an atomic count per tenant call), up to the
            // next exit that needs the whole machine.
            let exit = match self.run_decoded::<PROFILE>(pc, limit) {
                Decoded::Exit(exit) => exit,
                // The common ones, taken apart here: moving the whole event to `handle_rare`
                // copies it through memory in pieces of other sizes than its fields were
                // written with, which stalls on store forwarding.
                Decoded::Rare(Rare::HostFunction(pc, function)) => {
                    self.host_function(pc, function, limit)
                }
                Decoded::Rare(Rare::Ecall(pc)) => self.ecall_at(pc, limit),
                Decoded::HostFunctionFailed(pc, failure) => {
                    self.host_function_failed(pc, failure, limit)
                }
                Decoded::Rare(event) => self.handle_rare(event, limit),
                Decoded::Undecoded(undecoded) => {
                    pc = undecoded;
                    // Not the start of a decoded instruction: stop, or run one instruction
                    // decoded from where a jump into the middle of another landed.
                    self.cpu.pc = pc;
                    if pc == CALL_RETURN_ADDRESS {
                        return Stop::Returned(self.cpu.x[A0]);
                    }
                    if !self.program.is_executable(pc) {
                        return Stop::Trap(Trap {
                            pc: self.guest_address(pc),
                            kind: TrapKind::InstructionFetch,
                        });
                    }
                    self.run_undecoded(pc, limit)
                }
            };
            match exit {
                Exit::Jump(target) => pc = target,
                // Every tenant call stops here: rebuilt from its field, not moved whole, for
                // the same reason as the events above.
                Exit::Stop(Stop::HostCall(number)) => return Stop::HostCall(number),
                Exit::Stop(stop) => return stop,
            }
        }
    }

    /// Runs decoded blocks from `pc` until a jump leaves the decoded code or an event needs
    /// the whole machine; `self.instret` is up to date when it returns.
    #[inline(always)]
    fn run_decoded<const PROFILE: bool>(&mut self, pc: u64, limit: u64) -> Decoded {
        #[cfg(threaded_dispatch)]
        if !PROFILE {
            return self.run_threaded(pc, limit);
        }
        let program = &*self.program;
        let code: &[Insn] = &program.code;
        debug_assert!(code.last().is_some_and(|last| last.op == Op::FallThrough));
        let code_start = program.code_start;
        // Instructions the run may still execute, in a local so the hot loop need not store
        // the count to the machine on every block; one counter, not the count and its limit,
        // so the loop keeps one register fewer.
        let Some(mut left) = limit.checked_sub(self.instret) else {
            return Decoded::Exit(Exit::Stop(Stop::BudgetExhausted));
        };
        let mut pc = pc;
        loop {
            let Some(index) = program.index_of(pc) else {
                self.instret = limit - left;
                return Decoded::Undecoded(pc);
            };
            // Straight-line code and direct branches go from entry to entry without guest
            // addresses, and by the entry's host address, not its index, as in the threaded
            // dispatch: a block's end is the next block's entry as it is (the filter's hello
            // in wasm 1.5% fewer host instructions than converting).
            // SAFETY: `index_of` gives indices of entries.
            let mut entry = unsafe { code.as_ptr().add(index) };
            loop {
                // SAFETY: `entry` is an entry: from `index_of`, or from a block's end, which
                // `run_block` only gives as an entry.
                let insn = unsafe { &*entry };
                let block = u64::from(insn.block_rest);
                if block > left {
                    self.instret = limit - left;
                    self.cpu.pc = code_start + u64::from(insn.offset);
                    return Decoded::Exit(Exit::Stop(Stop::BudgetExhausted));
                }
                left -= block;
                if PROFILE {
                    // SAFETY: `entry` points into `code`.
                    let index = unsafe { entry.offset_from_unsigned(code.as_ptr()) };
                    crate::profile::enter_block(&mut self.profile, &self.memory, index, block);
                }
                match run_block(&mut self.cpu, &mut self.memory, code_start, entry) {
                    // SAFETY: `execute` gives only indices of entries.
                    (Event::Next(next), _) => entry = unsafe { code.as_ptr().add(next) },
                    // SAFETY: the entry after a block's last is in `code`, which ends with a
                    // `FallThrough`, a block end that never goes on to the next entry.
                    (Event::NextEntry, last) => entry = unsafe { last.add(1) },
                    // `run_block` goes on after a run itself; this is where it would.
                    // SAFETY: a run ends before the code's last entry.
                    (Event::Skip(done), last) => entry = unsafe { last.add(done) },
                    (Event::Jump(target), _) => {
                        pc = target;
                        break;
                    }
                    // Run here, as the threaded dispatch does, not by leaving the loop
                    // (profiles charge the work to the function, with the whole machine).
                    (Event::Other(Rare::HostFunction(at, number)), _) if !PROFILE => {
                        let heap = self.heap.as_mut();
                        match crate::native::run(
                            &mut self.cpu,
                            &mut self.memory,
                            heap,
                            number,
                            at,
                            left,
                        ) {
                            Ok(used) => {
                                left -= used;
                                pc = self.cpu.x[RA] & !1;
                                break;
                            }
                            Err(failure) => {
                                self.instret = limit - left;
                                return Decoded::HostFunctionFailed(at, failure);
                            }
                        }
                    }
                    (Event::Other(event), _) => {
                        self.instret = limit - left;
                        return Decoded::Rare(event);
                    }
                }
            }
        }
    }

    /// Runs exactly one instruction, for debuggers: `None` when it ran and the machine can go
    /// on (pc is the next instruction's), else why the machine stopped, as [`Machine::run`]
    /// reports it. At the entry of a host-run libc function (`crate::native`) the step is the
    /// whole call, as in `run`. It costs a decode per instruction and leaves `run`'s loop
    /// untouched.
    pub fn step(&mut self) -> Option<Stop> {
        self.step_within(u64::MAX)
    }

    /// [`Machine::step`] with at most `budget` instructions to spend: what a host function or
    /// a system call may be charged beyond the instruction itself, as `run(budget)` allows it
    /// (a price that does not fit stops the machine with `BudgetExhausted` before the work).
    pub fn step_within(&mut self, budget: u64) -> Option<Stop> {
        let limit = self.instret.saturating_add(budget);
        let pc = self.cpu.pc;
        if pc == CALL_RETURN_ADDRESS {
            return Some(Stop::Returned(self.cpu.x[A0]));
        }
        if !self.program.is_executable(pc) {
            return Some(Stop::Trap(Trap {
                pc: self.guest_address(pc),
                kind: TrapKind::InstructionFetch,
            }));
        }
        // Host functions run on the host here too, as in `run` (one step runs the whole
        // call): the guest's own allocator must never run on the host heap's blocks.
        let exit = match crate::native::host_function_at(&self.program, pc) {
            Some(function) => {
                self.instret += 1;
                self.host_function(pc, function, limit)
            }
            None if self.program.index_of(pc).is_none() => self.run_undecoded(pc, limit),
            None => self.run_one_undecoded(pc, limit),
        };
        match exit {
            Exit::Jump(target) => {
                self.cpu.pc = target;
                None
            }
            Exit::Stop(stop) => Some(stop),
        }
    }

    /// Runs the instruction at `pc`, where no decoded one starts, at [`UNDECODED_PRICE`]: all
    /// but the one instruction `run_one_undecoded` counts is paid first.
    fn run_undecoded(&mut self, pc: u64, limit: u64) -> Exit {
        // The limit leaves room for that one instruction.
        if !self.pay(pc, UNDECODED_PRICE - 1, limit.saturating_sub(1)) {
            return Exit::Stop(Stop::BudgetExhausted);
        }
        self.run_one_undecoded(pc, limit)
    }

    /// Charges `price` instructions for work at `pc` beyond the instruction itself (a system
    /// call's, an undecoded instruction's, a counter read's), where profiles count it too;
    /// false, charging nothing, if the instruction count would pass `limit`: the work is not
    /// done, and the machine stops at `pc` with `BudgetExhausted`.
    pub(crate) fn pay(&mut self, pc: u64, price: u64, limit: u64) -> bool {
        if self.instret.saturating_add(price) > limit {
            self.cpu.pc = pc;
            return false;
        }
        self.instret += price;
        crate::profile::charge_host_work(self, pc, price);
        true
    }

    /// Runs the single instruction at `pc` by decoding it on the spot: where a jump lands
    /// inside another decoded instruction (rare: only hand-written code jumps there), and for
    /// [`Machine::step`].
    #[cold]
    fn run_one_undecoded(&mut self, pc: u64, limit: u64) -> Exit {
        let code_start = self.program.code_start;
        let (mut insn, size) = self.decode_at(pc);
        // `pc` is executable, so its offset is within the code's span (MAX_CODE_SPAN), far
        // below i32::MAX; anything else decoded as illegal above.
        let offset = i32::try_from(pc.wrapping_sub(code_start)).unwrap_or(i32::MAX - 4);
        // The instruction, then where it falls through to, then where a direct jump goes: as
        // in a program's code, a direct jump's `imm` is its target's index.
        let jump_target = offset.wrapping_add(insn.imm);
        if insn.op.is_direct_jump() {
            insn.imm = 2;
        }
        insn.offset = offset as u32;
        insn.block_rest = 1;
        let code = [
            insn,
            Insn::fall_through(offset + i32::from(size)),
            Insn::fall_through(jump_target),
        ];
        self.instret += 1;
        match run_block(&mut self.cpu, &mut self.memory, code_start, code.as_ptr()) {
            // Every entry but the first is a `FallThrough`, whose `imm` is where it goes.
            (Event::Next(index), _) => {
                Exit::Jump(code_start.wrapping_add(code[index].imm as i64 as u64))
            }
            // An instruction decoded on its own is no run's first (`Skip`).
            (Event::NextEntry | Event::Skip(_), _) => {
                Exit::Jump(code_start.wrapping_add(code[1].imm as i64 as u64))
            }
            (Event::Jump(target), _) => Exit::Jump(target),
            // Undecoded code is never a host function's entry.
            (Event::Other(event), _) => self.handle_rare(event, limit),
        }
    }

    /// Handles a rare block end; `limit` is the instruction count the run may reach.
    #[cold]
    fn handle_rare(&mut self, event: Rare, limit: u64) -> Exit {
        match event {
            Rare::Trap(pc, kind, unexecuted) => self.trap(pc, kind, unexecuted),
            Rare::MemoryFault(fault, pc, unexecuted) => {
                let kind = match fault.access {
                    Access::Read => TrapKind::Load { addr: fault.addr },
                    Access::Write => TrapKind::Store { addr: fault.addr },
                };
                self.trap(pc, kind, unexecuted)
            }
            Rare::Illegal(pc, unexecuted) => self.illegal_instruction(pc, unexecuted),
            Rare::Ecall(pc) => self.ecall_at(pc, limit),
            Rare::Csr(pc) => self.csr_instruction(pc, limit),
            Rare::HostFunction(pc, function) => self.host_function(pc, function, limit),
        }
    }

    fn ecall_at(&mut self, pc: u64, limit: u64) -> Exit {
        self.cpu.pc = pc;
        self.ecall(pc, limit)
    }

    /// A libc function the host runs (`crate::native`) over guest memory. Its entry was
    /// charged as one instruction; the host charges the rest by bytes. Where the guest's own
    /// code would fault, the guest's code runs instead, from its first instruction, so faults
    /// are the guest's own.
    fn host_function(&mut self, pc: u64, function: u8, limit: u64) -> Exit {
        let available = limit.saturating_sub(self.instret);
        let heap = self.heap.as_mut();
        match crate::native::run(
            &mut self.cpu,
            &mut self.memory,
            heap,
            function,
            pc,
            available,
        ) {
            Ok(used) => {
                self.instret += used;
                crate::profile::charge_host_work(self, pc, used);
                Exit::Jump(self.cpu.x[RA] & !1)
            }
            Err(failure) => self.host_function_failed(pc, failure, limit),
        }
    }

    /// Goes on after the host function at `pc` gave no value: its entry, charged with its
    /// block, did not run.
    fn host_function_failed(&mut self, pc: u64, failure: Failure, limit: u64) -> Exit {
        self.instret -= 1;
        match failure {
            Failure::RunGuestCode => self.run_one_undecoded(pc, limit),
            Failure::Stop(stop) => {
                self.cpu.pc = pc;
                Exit::Stop(stop)
            }
            Failure::Abort(message) => {
                self.environment_touched = true;
                self.environment.write_output(2, message.as_bytes());
                self.environment.write_output(2, b"\n");
                self.cpu.pc = pc;
                Exit::Stop(Stop::Trap(Trap {
                    pc,
                    kind: TrapKind::Signal {
                        signal: crate::native::ABORT_SIGNAL,
                    },
                }))
            }
        }
    }
}

/// What ended a block: usually a jump to an entry of the code or to an address.
enum Event {
    Next(usize),
    /// On at the entry after the one that ended the block (a branch not taken, for one).
    NextEntry,
    /// On at the entry this many after this one, in the same block: a run's first entry did
    /// the run's accesses (`access_run`). The block goes on.
    Skip(usize),
    Jump(u64),
    Other(Rare),
}

/// Block ends that need the whole machine, at the instruction's pc. Traps carry how many
/// charged instructions of their block did not run.
enum Rare {
    Trap(u64, TrapKind, u32),
    MemoryFault(MemoryFault, u64, u32),
    Illegal(u64, u32),
    Ecall(u64),
    Csr(u64),
    /// The entry of a host-run libc function: pc and `HostFunction` number.
    HostFunction(u64, u8),
}

/// Executes from `entry`, an entry of decoded code, to the end of its basic block; returns
/// how it ended and the entry that ended it.
#[inline(always)]
fn run_block(
    cpu: &mut Cpu,
    memory: &mut Memory,
    code_start: u64,
    mut entry: *const Insn,
) -> (Event, *const Insn) {
    loop {
        // SAFETY: `entry` starts at an entry and moves only to the entries after it in its
        // block; every op that is not a block end is followed by another entry, because
        // decoded code ends with a `FallThrough`.
        let op = unsafe { (*entry).op };
        // A run's first entry is an arm of `execute` like every other op's, not a test before
        // it: one `execute` and one jump table, where Cranelift dispatches in 12 host
        // instructions, not 14 (the wasm filter: hello's exchange and cpubench 0.7% fewer
        // counted by callgrind; 18 with the test before).
        match execute(op, cpu, memory, code_start, entry) {
            // SAFETY: as above.
            None => entry = unsafe { entry.add(1) },
            // SAFETY: a run ends before the code's last entry, as said above.
            Some(Event::Skip(done)) => entry = unsafe { entry.add(done) },
            Some(event) => return (event, entry),
        }
    }
}

/// Does the accesses of a run's first entry (`op`: `SdRun`, `LdRun`, `SwRun`, `LwRun`) and
/// of the plain loads or stores after it that it covers, one after the other with no
/// dispatch in between (a prologue's register saves, an epilogue's restores), up to the first
/// that misses the TLB; returns how many it did. The rest run entry by entry, the one that
/// missed through its slow path (and its fault, with its own pc). The block was charged whole
/// where it was entered, so counting is as exact as entry by entry.
#[inline(always)]
#[expect(
    clippy::cast_possible_truncation,
    reason = "sw stores a register's low 32 bits by definition"
)]
fn access_run(op: Op, cpu: &mut Cpu, memory: &mut Memory, entry: *const Insn) -> usize {
    // Each `host` comes from `cached`: the access's bytes of a live page are behind it, of a
    // page this memory owns for a write.
    match op {
        Op::SdRun => each_access(
            op,
            cpu,
            memory,
            entry,
            8,
            Access::Write,
            |cpu, insn, host| {
                // SAFETY: as said above.
                unsafe { cpu.x[usize::from(insn.rs2)].store_le(host) }
            },
        ),
        Op::SwRun => each_access(
            op,
            cpu,
            memory,
            entry,
            4,
            Access::Write,
            |cpu, insn, host| {
                // SAFETY: as said above.
                unsafe { (cpu.x[usize::from(insn.rs2)] as u32).store_le(host) }
            },
        ),
        Op::LdRun => each_access(
            op,
            cpu,
            memory,
            entry,
            8,
            Access::Read,
            |cpu, insn, host| {
                // SAFETY: as said above.
                cpu.x[usize::from(insn.rd)] = unsafe { u64::read_le(host) };
            },
        ),
        Op::LwRun => each_access(
            op,
            cpu,
            memory,
            entry,
            4,
            Access::Read,
            |cpu, insn, host| {
                // SAFETY: as said above.
                let word = unsafe { u32::read_le(host) };
                cpu.x[usize::from(insn.rd)] = word as i32 as i64 as u64;
            },
        ),
        _ => 0,
    }
}

/// The loop of `access_run` over a run whose first entry's op is `op`: `access` does an
/// entry's `size`-byte access at `host`, where the TLB for `direction` maps the entry's
/// address.
#[inline(always)]
fn each_access(
    op: Op,
    cpu: &mut Cpu,
    memory: &mut Memory,
    entry: *const Insn,
    size: usize,
    direction: Access,
    access: impl Fn(&mut Cpu, &Insn, *mut u8),
) -> usize {
    // SAFETY: `entry` points at an entry of decoded code.
    let first = unsafe { &*entry };
    let length = first.run_length_as(op);
    // SAFETY: the loader marks a run only over entries of the code (`mark_access_runs`).
    let last = unsafe { &*entry.add(length - 1) };
    let (low, high) = (first.imm.min(last.imm), first.imm.max(last.imm));
    let start = cpu.x[usize::from(first.rs1)].wrapping_add(low as i64 as u64);
    // Offsets a page or more apart cannot share one (checked before the span becomes a
    // usize: up to 2^32 would wrap one of 32 bits).
    let spread = high.abs_diff(low);
    if u64::from(spread) < crate::mem::PAGE_SIZE {
        if let Some(host) = memory.cached(start, spread as usize + size, direction) {
            for done in 0..length {
                // SAFETY: as above; a run's accesses lie between its first's and its last's
                // (`program::run_length`), so in the bytes `cached` checked, (imm - low)
                // bytes after `host`.
                unsafe {
                    let insn = &*entry.add(done);
                    access(cpu, insn, host.add((insn.imm - low) as u32 as usize));
                }
            }
            return length;
        }
    }
    access_by_access(cpu, memory, entry, length, size, direction, access)
}

/// The rest of `each_access`: a run that does not lie in one page the TLB holds, entry by
/// entry, up to the first access that misses the TLB; rare now that runs are in order
/// through one base. Out of line in wasm32, where the loop inlined it into every run's arm
/// and Cranelift's code of the loop took more for it (the filter's hello 0.8%, cpubench 0.6%);
/// in line natively, where a call would make each run's handler save registers (0.5%).
#[cfg_attr(target_arch = "wasm32", inline(never))]
#[cfg_attr(not(target_arch = "wasm32"), inline(always))]
fn access_by_access(
    cpu: &mut Cpu,
    memory: &mut Memory,
    entry: *const Insn,
    length: usize,
    size: usize,
    direction: Access,
    access: impl Fn(&mut Cpu, &Insn, *mut u8),
) -> usize {
    for done in 0..length {
        // SAFETY: the loader marks a run only over entries of the code (`mark_access_runs`).
        let insn = unsafe { &*entry.add(done) };
        let addr = cpu.x[usize::from(insn.rs1)].wrapping_add(insn.imm as i64 as u64);
        let Some(host) = memory.cached(addr, size, direction) else {
            return done;
        };
        access(cpu, insn, host);
    }
    length
}

/// Executes `entry`, a pointer to an entry of decoded code (one with the whole code's
/// provenance, so the next entry can be read through it) whose op is `op` (a constant where
/// the caller knows it): `None` when the block goes on with the next entry, else how the
/// block ended.
#[inline(always)]
#[expect(
    clippy::cast_possible_truncation,
    reason = "W-forms, narrow stores and RV32 ops take a register's low bits by definition"
)]
fn execute(
    op: Op,
    cpu: &mut Cpu,
    memory: &mut Memory,
    code_start: u64,
    entry: *const Insn,
) -> Option<Event> {
    // SAFETY: `entry` points at an entry of decoded code.
    let insn = unsafe { &*entry };
    // The entry after `insn`, which every entry that links has: decoded code ends with a
    // `FallThrough`.
    macro_rules! next_entry {
        () => {
            // SAFETY: as said above.
            unsafe { &*entry.add(1) }
        };
    }
    macro_rules! pc {
        () => {
            code_start + u64::from(insn.offset)
        };
    }
    // Address of the next instruction, for links.
    macro_rules! next_pc {
        () => {
            code_start + u64::from(next_entry!().offset)
        };
    }
    macro_rules! unexecuted {
        () => {
            insn.block_rest - 1
        };
    }
    // Fields are read where an op uses them, not all before the dispatch: fewer live
    // registers in the loop.
    // Register fields index the register files as they are (`machine::REGISTER_SLOTS`).
    macro_rules! rd {
        () => {
            usize::from(insn.rd)
        };
    }
    macro_rules! imm {
        () => {
            insn.imm as i64 as u64
        };
    }
    macro_rules! frd {
        () => {
            usize::from(insn.rd)
        };
    }
    // Operands are read only by the ops that use them: rs1!() is cpu.x[insn.rs1], fs2!()
    // is cpu.f[insn.rs2], and so on.
    macro_rules! operand {
        ($name:ident, $file:ident, $field:ident) => {
            macro_rules! $name {
                () => {
                    cpu.$file[usize::from(insn.$field)]
                };
            }
        };
    }
    operand!(rs1, x, rs1);
    operand!(rs2, x, rs2);
    operand!(fs1, f, rs1);
    operand!(fs2, f, rs2);

    macro_rules! load {
        ($t:ty, $extend:expr) => {{
            let addr = rs1!().wrapping_add(imm!());
            match memory.load::<$t>(addr) {
                Ok(value) => {
                    cpu.x[rd!()] = $extend(value);
                }
                Err(fault) => {
                    return Some(Event::Other(Rare::MemoryFault(fault, pc!(), unexecuted!())))
                }
            }
        }};
    }
    macro_rules! store {
        ($t:ty) => {{
            let addr = rs1!().wrapping_add(imm!());
            if let Err(fault) = memory.store::<$t>(addr, rs2!() as $t) {
                return Some(Event::Other(Rare::MemoryFault(fault, pc!(), unexecuted!())));
            }
        }};
    }
    // A run's first entry: the run's accesses without a dispatch each (`access_run`), or where
    // the first misses the TLB, that one through the slow path (the `load!` or `store!` after).
    // Each run op has an arm of its own, not one shared with its plain op and a test of `op`
    // inside: shared, the filter's hello took 10.5% more host instructions in wasm, cpubench
    // 12% more.
    macro_rules! run_of_accesses {
        ($op:expr) => {{
            let done = access_run($op, cpu, memory, entry);
            if done > 0 {
                return Some(Event::Skip(done));
            }
        }};
    }
    macro_rules! branch {
        ($taken:expr) => {{
            if !$taken {
                return Some(Event::NextEntry);
            }
            return Some(Event::Next(insn.imm as u32 as usize));
        }};
    }
    macro_rules! rounding {
        () => {
            match resolve_rounding_mode(insn.rounding_mode(), cpu.frm) {
                Some(mode) => mode,
                None => return Some(Event::Other(Rare::Illegal(pc!(), unexecuted!()))),
            }
        };
    }
    // Single-precision sources, unboxed (an improperly boxed one reads as the canonical NaN).
    macro_rules! single_operands {
        () => {
            (float::unbox_s(fs1!()), float::unbox_s(fs2!()))
        };
    }
    macro_rules! single_arithmetic {
        ($operation:path) => {{
            let rm = rounding!();
            let (a, b) = single_operands!();
            cpu.f[frd!()] = float::box_s($operation(a, b, rm, &mut cpu.fflags));
        }};
    }
    macro_rules! double_arithmetic {
        ($operation:path) => {{
            let rm = rounding!();
            cpu.f[frd!()] = $operation(fs1!(), fs2!(), rm, &mut cpu.fflags);
        }};
    }
    macro_rules! atomic {
        ($t:ty, $extend:expr, $combine:expr) => {{
            let addr = rs1!();
            if !addr.is_multiple_of(core::mem::size_of::<$t>() as u64) {
                return Some(Event::Other(Rare::Trap(
                    pc!(),
                    TrapKind::MisalignedAtomic { addr },
                    unexecuted!(),
                )));
            }
            let old = match memory.load::<$t>(addr) {
                Ok(value) => value,
                Err(fault) => {
                    return Some(Event::Other(Rare::MemoryFault(fault, pc!(), unexecuted!())))
                }
            };
            let new: $t = $combine(old, rs2!() as $t);
            if let Err(fault) = memory.store::<$t>(addr, new) {
                // An AMO on read-only memory is a store fault.
                return Some(Event::Other(Rare::MemoryFault(fault, pc!(), unexecuted!())));
            }
            cpu.x[rd!()] = $extend(old);
        }};
    }

    match op {
        Op::Lui => cpu.x[rd!()] = imm!(),
        Op::Auipc => cpu.x[rd!()] = pc!().wrapping_add(imm!()),
        Op::AuipcRv32 => cpu.x[rd!()] = sign_extend_32(pc!().wrapping_add(imm!())),
        Op::Jal => {
            cpu.x[rd!()] = next_pc!();
            return Some(Event::Next(insn.imm as u32 as usize));
        }
        Op::Jalr => {
            let target = rs1!().wrapping_add(imm!()) & !1;
            cpu.x[rd!()] = next_pc!();
            return Some(Event::Jump(target));
        }
        Op::Beq => branch!(rs1!() == rs2!()),
        Op::Bne => branch!(rs1!() != rs2!()),
        Op::Blt => branch!((rs1!() as i64) < (rs2!() as i64)),
        Op::Bge => branch!((rs1!() as i64) >= (rs2!() as i64)),
        Op::Bltu => branch!(rs1!() < rs2!()),
        Op::Bgeu => branch!(rs1!() >= rs2!()),
        Op::Lb => load!(u8, |v: u8| v as i8 as i64 as u64),
        Op::Lh => load!(u16, |v: u16| v as i16 as i64 as u64),
        Op::Lw => load!(u32, |v: u32| v as i32 as i64 as u64),
        Op::LwRun => {
            run_of_accesses!(Op::LwRun);
            load!(u32, |v: u32| v as i32 as i64 as u64)
        }
        Op::Ld => load!(u64, |v: u64| v),
        Op::LdRun => {
            run_of_accesses!(Op::LdRun);
            load!(u64, |v: u64| v)
        }
        Op::Lbu => load!(u8, u64::from),
        Op::Lhu => load!(u16, u64::from),
        Op::Lwu => load!(u32, u64::from),
        Op::Sb => store!(u8),
        Op::Sh => store!(u16),
        Op::Sw => store!(u32),
        Op::SwRun => {
            run_of_accesses!(Op::SwRun);
            store!(u32)
        }
        Op::Sd => store!(u64),
        Op::SdRun => {
            run_of_accesses!(Op::SdRun);
            store!(u64)
        }
        Op::Addi => cpu.x[rd!()] = rs1!().wrapping_add(imm!()),
        // A fused pair's first entry, outside the threaded dispatch's handlers: its first op.
        #[cfg(threaded_dispatch)]
        Op::AddiJal
        | Op::AddiBltu
        | Op::AddiAddi
        | Op::AddiAdd
        | Op::AddiJalr
        | Op::AddiBeq
        | Op::AddiBne => cpu.x[rd!()] = rs1!().wrapping_add(imm!()),
        Op::Slti => cpu.x[rd!()] = u64::from((rs1!() as i64) < (imm!() as i64)),
        Op::Sltiu => cpu.x[rd!()] = u64::from(rs1!() < imm!()),
        Op::Xori => cpu.x[rd!()] = rs1!() ^ imm!(),
        Op::Ori => cpu.x[rd!()] = rs1!() | imm!(),
        Op::Andi => cpu.x[rd!()] = rs1!() & imm!(),
        Op::Slli => cpu.x[rd!()] = rs1!() << (imm!() & 63),
        Op::Srli => cpu.x[rd!()] = rs1!() >> (imm!() & 63),
        Op::Srai => cpu.x[rd!()] = ((rs1!() as i64) >> (imm!() & 63)) as u64,
        Op::Add => cpu.x[rd!()] = rs1!().wrapping_add(rs2!()),
        #[cfg(threaded_dispatch)]
        Op::AddAdd | Op::AddAddi | Op::AddJal => cpu.x[rd!()] = rs1!().wrapping_add(rs2!()),
        Op::Sub => cpu.x[rd!()] = rs1!().wrapping_sub(rs2!()),
        Op::Sll => cpu.x[rd!()] = rs1!() << (rs2!() & 63),
        Op::Slt => cpu.x[rd!()] = u64::from((rs1!() as i64) < (rs2!() as i64)),
        Op::Sltu => cpu.x[rd!()] = u64::from(rs1!() < rs2!()),
        Op::Xor => cpu.x[rd!()] = rs1!() ^ rs2!(),
        Op::Srl => cpu.x[rd!()] = rs1!() >> (rs2!() & 63),
        Op::Sra => cpu.x[rd!()] = ((rs1!() as i64) >> (rs2!() & 63)) as u64,
        Op::Or => cpu.x[rd!()] = rs1!() | rs2!(),
        Op::And => cpu.x[rd!()] = rs1!() & rs2!(),
        Op::Addiw | Op::AddiRv32 => cpu.x[rd!()] = sign_extend_32(rs1!().wrapping_add(imm!())),
        Op::Slliw | Op::SlliRv32 => {
            cpu.x[rd!()] = sign_extend_32(u64::from((rs1!() as u32) << (imm!() & 31)))
        }
        Op::Srliw | Op::SrliRv32 => {
            cpu.x[rd!()] = sign_extend_32(u64::from((rs1!() as u32) >> (imm!() & 31)))
        }
        Op::Sraiw | Op::SraiRv32 => cpu.x[rd!()] = ((rs1!() as i32) >> (imm!() & 31)) as i64 as u64,
        Op::Addw | Op::AddRv32 => cpu.x[rd!()] = sign_extend_32(rs1!().wrapping_add(rs2!())),
        Op::Subw | Op::SubRv32 => cpu.x[rd!()] = sign_extend_32(rs1!().wrapping_sub(rs2!())),
        Op::Sllw | Op::SllRv32 => {
            cpu.x[rd!()] = sign_extend_32(u64::from((rs1!() as u32) << (rs2!() & 31)))
        }
        Op::Srlw | Op::SrlRv32 => {
            cpu.x[rd!()] = sign_extend_32(u64::from((rs1!() as u32) >> (rs2!() & 31)))
        }
        Op::Sraw | Op::SraRv32 => cpu.x[rd!()] = ((rs1!() as i32) >> (rs2!() & 31)) as i64 as u64,
        // A single hart that sees its own memory in order: fences have nothing to do.
        Op::Fence => {}
        Op::Mul => cpu.x[rd!()] = rs1!().wrapping_mul(rs2!()),
        Op::Mulh => cpu.x[rd!()] = wide::high_signed(rs1!(), rs2!()),
        Op::Mulhsu => cpu.x[rd!()] = wide::high_signed_unsigned(rs1!(), rs2!()),
        Op::Mulhu => cpu.x[rd!()] = wide::high_unsigned(rs1!(), rs2!()),
        Op::Div => cpu.x[rd!()] = divide_signed(rs1!() as i64, rs2!() as i64) as u64,
        Op::Divu => cpu.x[rd!()] = rs1!().checked_div(rs2!()).unwrap_or(u64::MAX),
        Op::Rem => cpu.x[rd!()] = remainder_signed(rs1!() as i64, rs2!() as i64) as u64,
        Op::Remu => cpu.x[rd!()] = rs1!().checked_rem(rs2!()).unwrap_or(rs1!()),
        Op::Mulw | Op::MulRv32 => cpu.x[rd!()] = sign_extend_32(rs1!().wrapping_mul(rs2!())),
        Op::Divw | Op::DivRv32 => {
            cpu.x[rd!()] = divide_signed_32(rs1!() as i32, rs2!() as i32) as i64 as u64
        }
        Op::Divuw | Op::DivuRv32 => {
            cpu.x[rd!()] = sign_extend_32(u64::from(
                (rs1!() as u32)
                    .checked_div(rs2!() as u32)
                    .unwrap_or(u32::MAX),
            ))
        }
        Op::Remw | Op::RemRv32 => {
            cpu.x[rd!()] = remainder_signed_32(rs1!() as i32, rs2!() as i32) as i64 as u64
        }
        Op::Remuw | Op::RemuRv32 => {
            cpu.x[rd!()] = sign_extend_32(u64::from(
                (rs1!() as u32)
                    .checked_rem(rs2!() as u32)
                    .unwrap_or(rs1!() as u32),
            ))
        }
        Op::LrW | Op::LrD => {
            let size = if op == Op::LrW { 4 } else { 8 };
            let addr = rs1!();
            if !addr.is_multiple_of(size) {
                return Some(Event::Other(Rare::Trap(
                    pc!(),
                    TrapKind::MisalignedAtomic { addr },
                    unexecuted!(),
                )));
            }
            let loaded = if size == 4 {
                memory
                    .load::<u32>(addr)
                    .map(|v| sign_extend_32(u64::from(v)))
            } else {
                memory.load::<u64>(addr)
            };
            match loaded {
                Ok(value) => {
                    cpu.x[rd!()] = value;
                    cpu.reservation = Some((addr, value));
                }
                Err(fault) => {
                    return Some(Event::Other(Rare::MemoryFault(fault, pc!(), unexecuted!())))
                }
            }
        }
        Op::ScW | Op::ScD => {
            let size = if op == Op::ScW { 4 } else { 8 };
            let addr = rs1!();
            if !addr.is_multiple_of(size) {
                return Some(Event::Other(Rare::Trap(
                    pc!(),
                    TrapKind::MisalignedAtomic { addr },
                    unexecuted!(),
                )));
            }
            // Like qemu: SC succeeds while the reserved address still holds the value
            // LR loaded.
            let reserved = cpu.reservation.take();
            let current = if size == 4 {
                memory
                    .load::<u32>(addr)
                    .map(|v| sign_extend_32(u64::from(v)))
            } else {
                memory.load::<u64>(addr)
            };
            let current = match current {
                Ok(value) => value,
                Err(fault) => {
                    return Some(Event::Other(Rare::MemoryFault(fault, pc!(), unexecuted!())))
                }
            };
            let succeeded = reserved == Some((addr, current));
            if succeeded {
                let stored = if size == 4 {
                    memory.store::<u32>(addr, rs2!() as u32)
                } else {
                    memory.store::<u64>(addr, rs2!())
                };
                if let Err(fault) = stored {
                    return Some(Event::Other(Rare::MemoryFault(fault, pc!(), unexecuted!())));
                }
            }
            cpu.x[rd!()] = u64::from(!succeeded);
        }
        Op::AmoswapW => atomic!(u32, |v: u32| sign_extend_32(u64::from(v)), |_old, new| new),
        Op::AmoaddW => atomic!(
            u32,
            |v: u32| sign_extend_32(u64::from(v)),
            |old: u32, new| old.wrapping_add(new)
        ),
        Op::AmoxorW => atomic!(
            u32,
            |v: u32| sign_extend_32(u64::from(v)),
            |old: u32, new| old ^ new
        ),
        Op::AmoandW => atomic!(
            u32,
            |v: u32| sign_extend_32(u64::from(v)),
            |old: u32, new| old & new
        ),
        Op::AmoorW => atomic!(
            u32,
            |v: u32| sign_extend_32(u64::from(v)),
            |old: u32, new| old | new
        ),
        Op::AmominW => atomic!(
            u32,
            |v: u32| sign_extend_32(u64::from(v)),
            |old: u32, new: u32| (old as i32).min(new as i32) as u32
        ),
        Op::AmomaxW => atomic!(
            u32,
            |v: u32| sign_extend_32(u64::from(v)),
            |old: u32, new: u32| (old as i32).max(new as i32) as u32
        ),
        Op::AmominuW => atomic!(
            u32,
            |v: u32| sign_extend_32(u64::from(v)),
            |old: u32, new| old.min(new)
        ),
        Op::AmomaxuW => atomic!(
            u32,
            |v: u32| sign_extend_32(u64::from(v)),
            |old: u32, new| old.max(new)
        ),
        Op::AmoswapD => atomic!(u64, |v| v, |_old, new| new),
        Op::AmoaddD => atomic!(u64, |v| v, |old: u64, new| old.wrapping_add(new)),
        Op::AmoxorD => atomic!(u64, |v| v, |old: u64, new| old ^ new),
        Op::AmoandD => atomic!(u64, |v| v, |old: u64, new| old & new),
        Op::AmoorD => atomic!(u64, |v| v, |old: u64, new| old | new),
        Op::AmominD => atomic!(
            u64,
            |v| v,
            |old: u64, new: u64| (old as i64).min(new as i64) as u64
        ),
        Op::AmomaxD => atomic!(
            u64,
            |v| v,
            |old: u64, new: u64| (old as i64).max(new as i64) as u64
        ),
        Op::AmominuD => atomic!(u64, |v| v, |old: u64, new| old.min(new)),
        Op::AmomaxuD => atomic!(u64, |v| v, |old: u64, new| old.max(new)),

        // F
        Op::Flw => {
            let addr = rs1!().wrapping_add(imm!());
            match memory.load::<u32>(addr) {
                Ok(bits) => cpu.f[frd!()] = float::box_s(bits),
                Err(fault) => {
                    return Some(Event::Other(Rare::MemoryFault(fault, pc!(), unexecuted!())))
                }
            }
        }
        Op::Fsw => {
            let addr = rs1!().wrapping_add(imm!());
            if let Err(fault) = memory.store::<u32>(addr, fs2!() as u32) {
                return Some(Event::Other(Rare::MemoryFault(fault, pc!(), unexecuted!())));
            }
        }
        Op::FmaddS | Op::FmsubS | Op::FnmsubS | Op::FnmaddS => {
            let rm = rounding!();
            let fs3 = float::unbox_s(cpu.f[usize::from(insn.rs3())]);
            let (negate_product, negate_addend) = fma_signs(op);
            let result = float::fma_s(
                float::unbox_s(fs1!()),
                float::unbox_s(fs2!()),
                fs3,
                negate_product,
                negate_addend,
                rm,
                &mut cpu.fflags,
            );
            cpu.f[frd!()] = float::box_s(result);
        }
        Op::FaddS => single_arithmetic!(float::add_s),
        Op::FsubS => single_arithmetic!(float::sub_s),
        Op::FmulS => single_arithmetic!(float::mul_s),
        Op::FdivS => single_arithmetic!(float::div_s),
        Op::FsqrtS => {
            let rm = rounding!();
            cpu.f[frd!()] =
                float::box_s(float::sqrt_s(float::unbox_s(fs1!()), rm, &mut cpu.fflags));
        }
        Op::FsgnjS | Op::FsgnjnS | Op::FsgnjxS => {
            const SIGN: u32 = 1 << 31;
            let (a, b) = single_operands!();
            let sign = match op {
                Op::FsgnjS => b & SIGN,
                Op::FsgnjnS => !b & SIGN,
                _ => (a ^ b) & SIGN,
            };
            cpu.f[frd!()] = float::box_s((a & !SIGN) | sign);
        }
        Op::FminS => {
            let (a, b) = single_operands!();
            cpu.f[frd!()] = float::box_s(float::min_s(a, b, &mut cpu.fflags));
        }
        Op::FmaxS => {
            let (a, b) = single_operands!();
            cpu.f[frd!()] = float::box_s(float::max_s(a, b, &mut cpu.fflags));
        }
        Op::FcvtWS | Op::FcvtWuS | Op::FcvtLS | Op::FcvtLuS => {
            let rm = rounding!();
            let value = float::unbox_s(fs1!());
            cpu.x[rd!()] = match op {
                Op::FcvtWS => float::to_i32_s(value, rm, &mut cpu.fflags),
                Op::FcvtWuS => float::to_u32_s(value, rm, &mut cpu.fflags),
                Op::FcvtLS => float::to_i64_s(value, rm, &mut cpu.fflags),
                _ => float::to_u64_s(value, rm, &mut cpu.fflags),
            };
        }
        Op::FmvXW => cpu.x[rd!()] = sign_extend_32(fs1!() & 0xffff_ffff),
        Op::FeqS => {
            let (a, b) = single_operands!();
            cpu.x[rd!()] = u64::from(float::eq_s(a, b, &mut cpu.fflags));
        }
        Op::FltS => {
            let (a, b) = single_operands!();
            cpu.x[rd!()] = u64::from(float::lt_s(a, b, &mut cpu.fflags));
        }
        Op::FleS => {
            let (a, b) = single_operands!();
            cpu.x[rd!()] = u64::from(float::le_s(a, b, &mut cpu.fflags));
        }
        Op::FclassS => cpu.x[rd!()] = float::classify_s(float::unbox_s(fs1!())),
        Op::FcvtSW | Op::FcvtSWu | Op::FcvtSL | Op::FcvtSLu => {
            let rm = rounding!();
            let result = match op {
                Op::FcvtSW => float::from_i32_s(rs1!(), rm, &mut cpu.fflags),
                Op::FcvtSWu => float::from_u32_s(rs1!(), rm, &mut cpu.fflags),
                Op::FcvtSL => float::from_i64_s(rs1!(), rm, &mut cpu.fflags),
                _ => float::from_u64_s(rs1!(), rm, &mut cpu.fflags),
            };
            cpu.f[frd!()] = float::box_s(result);
        }
        Op::FmvWX => cpu.f[frd!()] = float::box_s(rs1!() as u32),

        // D
        Op::Fld => {
            let addr = rs1!().wrapping_add(imm!());
            match memory.load::<u64>(addr) {
                Ok(bits) => cpu.f[frd!()] = bits,
                Err(fault) => {
                    return Some(Event::Other(Rare::MemoryFault(fault, pc!(), unexecuted!())))
                }
            }
        }
        Op::Fsd => {
            let addr = rs1!().wrapping_add(imm!());
            if let Err(fault) = memory.store::<u64>(addr, fs2!()) {
                return Some(Event::Other(Rare::MemoryFault(fault, pc!(), unexecuted!())));
            }
        }
        Op::FmaddD | Op::FmsubD | Op::FnmsubD | Op::FnmaddD => {
            let rm = rounding!();
            let fs3 = cpu.f[usize::from(insn.rs3())];
            let (negate_product, negate_addend) = fma_signs(op);
            cpu.f[frd!()] = float::fma_d(
                fs1!(),
                fs2!(),
                fs3,
                negate_product,
                negate_addend,
                rm,
                &mut cpu.fflags,
            );
        }
        Op::FaddD => double_arithmetic!(float::add_d),
        Op::FsubD => double_arithmetic!(float::sub_d),
        Op::FmulD => double_arithmetic!(float::mul_d),
        Op::FdivD => double_arithmetic!(float::div_d),
        Op::FsqrtD => {
            let rm = rounding!();
            cpu.f[frd!()] = float::sqrt_d(fs1!(), rm, &mut cpu.fflags);
        }
        Op::FsgnjD | Op::FsgnjnD | Op::FsgnjxD => {
            const SIGN: u64 = 1 << 63;
            let sign = match op {
                Op::FsgnjD => fs2!() & SIGN,
                Op::FsgnjnD => !fs2!() & SIGN,
                _ => (fs1!() ^ fs2!()) & SIGN,
            };
            cpu.f[frd!()] = (fs1!() & !SIGN) | sign;
        }
        Op::FminD => cpu.f[frd!()] = float::min_d(fs1!(), fs2!(), &mut cpu.fflags),
        Op::FmaxD => cpu.f[frd!()] = float::max_d(fs1!(), fs2!(), &mut cpu.fflags),
        Op::FcvtSD => {
            let rm = rounding!();
            cpu.f[frd!()] = float::box_s(float::d_to_s(fs1!(), rm, &mut cpu.fflags));
        }
        Op::FcvtDS => {
            // Exact, but the rounding-mode field must still be valid.
            let _ = rounding!();
            cpu.f[frd!()] = float::s_to_d(float::unbox_s(fs1!()), &mut cpu.fflags);
        }
        Op::FcvtWD | Op::FcvtWuD | Op::FcvtLD | Op::FcvtLuD => {
            let rm = rounding!();
            cpu.x[rd!()] = match op {
                Op::FcvtWD => float::to_i32_d(fs1!(), rm, &mut cpu.fflags),
                Op::FcvtWuD => float::to_u32_d(fs1!(), rm, &mut cpu.fflags),
                Op::FcvtLD => float::to_i64_d(fs1!(), rm, &mut cpu.fflags),
                _ => float::to_u64_d(fs1!(), rm, &mut cpu.fflags),
            };
        }
        Op::FmvXD => cpu.x[rd!()] = fs1!(),
        Op::FeqD => cpu.x[rd!()] = u64::from(float::eq_d(fs1!(), fs2!(), &mut cpu.fflags)),
        Op::FltD => cpu.x[rd!()] = u64::from(float::lt_d(fs1!(), fs2!(), &mut cpu.fflags)),
        Op::FleD => cpu.x[rd!()] = u64::from(float::le_d(fs1!(), fs2!(), &mut cpu.fflags)),
        Op::FclassD => cpu.x[rd!()] = float::classify_d(fs1!()),
        Op::FcvtDW | Op::FcvtDWu | Op::FcvtDL | Op::FcvtDLu => {
            let rm = rounding!();
            cpu.f[frd!()] = match op {
                Op::FcvtDW => float::from_i32_d(rs1!(), rm, &mut cpu.fflags),
                Op::FcvtDWu => float::from_u32_d(rs1!(), rm, &mut cpu.fflags),
                Op::FcvtDL => float::from_i64_d(rs1!(), rm, &mut cpu.fflags),
                _ => float::from_u64_d(rs1!(), rm, &mut cpu.fflags),
            };
        }
        Op::FmvDX => cpu.f[frd!()] = rs1!(),

        // RV32 M: the high halves of 32 × 32-bit products (operands are sign-extended).
        Op::MulhRv32 => {
            cpu.x[rd!()] = sign_extend_32(((rs1!() as i64 * rs2!() as i64) >> 32) as u64)
        }
        Op::MulhsuRv32 => {
            cpu.x[rd!()] = sign_extend_32(((rs1!() as i64 * i64::from(rs2!() as u32)) >> 32) as u64)
        }
        Op::MulhuRv32 => {
            cpu.x[rd!()] =
                sign_extend_32((u64::from(rs1!() as u32) * u64::from(rs2!() as u32)) >> 32)
        }

        // Zba
        Op::AddUw => cpu.x[rd!()] = rs2!().wrapping_add(rs1!() & 0xffff_ffff),
        Op::Sh1add => cpu.x[rd!()] = rs2!().wrapping_add(rs1!() << 1),
        Op::Sh2add => cpu.x[rd!()] = rs2!().wrapping_add(rs1!() << 2),
        Op::Sh3add => cpu.x[rd!()] = rs2!().wrapping_add(rs1!() << 3),
        Op::Sh1addUw => cpu.x[rd!()] = rs2!().wrapping_add((rs1!() & 0xffff_ffff) << 1),
        Op::Sh2addUw => cpu.x[rd!()] = rs2!().wrapping_add((rs1!() & 0xffff_ffff) << 2),
        Op::Sh3addUw => cpu.x[rd!()] = rs2!().wrapping_add((rs1!() & 0xffff_ffff) << 3),
        Op::SlliUw => cpu.x[rd!()] = (rs1!() & 0xffff_ffff) << (imm!() & 63),
        Op::Sh1addRv32 => cpu.x[rd!()] = sign_extend_32(rs2!().wrapping_add(rs1!() << 1)),
        Op::Sh2addRv32 => cpu.x[rd!()] = sign_extend_32(rs2!().wrapping_add(rs1!() << 2)),
        Op::Sh3addRv32 => cpu.x[rd!()] = sign_extend_32(rs2!().wrapping_add(rs1!() << 3)),

        // Zbb
        Op::Andn => cpu.x[rd!()] = rs1!() & !rs2!(),
        Op::Orn => cpu.x[rd!()] = rs1!() | !rs2!(),
        Op::Xnor => cpu.x[rd!()] = !(rs1!() ^ rs2!()),
        Op::Clz => cpu.x[rd!()] = u64::from(rs1!().leading_zeros()),
        Op::Ctz => cpu.x[rd!()] = u64::from(rs1!().trailing_zeros()),
        Op::Cpop => cpu.x[rd!()] = u64::from(rs1!().count_ones()),
        Op::Clzw | Op::ClzRv32 => cpu.x[rd!()] = u64::from((rs1!() as u32).leading_zeros()),
        Op::Ctzw | Op::CtzRv32 => cpu.x[rd!()] = u64::from((rs1!() as u32).trailing_zeros()),
        Op::Cpopw | Op::CpopRv32 => cpu.x[rd!()] = u64::from((rs1!() as u32).count_ones()),
        Op::Max => cpu.x[rd!()] = (rs1!() as i64).max(rs2!() as i64) as u64,
        Op::Maxu => cpu.x[rd!()] = rs1!().max(rs2!()),
        Op::Min => cpu.x[rd!()] = (rs1!() as i64).min(rs2!() as i64) as u64,
        Op::Minu => cpu.x[rd!()] = rs1!().min(rs2!()),
        Op::SextB => cpu.x[rd!()] = rs1!() as i8 as i64 as u64,
        Op::SextH => cpu.x[rd!()] = rs1!() as i16 as i64 as u64,
        Op::ZextH => cpu.x[rd!()] = rs1!() & 0xffff,
        Op::Rol => cpu.x[rd!()] = rs1!().rotate_left((rs2!() & 63) as u32),
        Op::Ror => cpu.x[rd!()] = rs1!().rotate_right((rs2!() & 63) as u32),
        Op::Rori => cpu.x[rd!()] = rs1!().rotate_right((imm!() & 63) as u32),
        Op::Rolw | Op::RolRv32 => {
            cpu.x[rd!()] =
                sign_extend_32(u64::from((rs1!() as u32).rotate_left((rs2!() & 31) as u32)))
        }
        Op::Rorw | Op::RorRv32 => {
            cpu.x[rd!()] = sign_extend_32(u64::from(
                (rs1!() as u32).rotate_right((rs2!() & 31) as u32),
            ))
        }
        Op::Roriw | Op::RoriRv32 => {
            cpu.x[rd!()] = sign_extend_32(u64::from(
                (rs1!() as u32).rotate_right((imm!() & 31) as u32),
            ))
        }
        Op::OrcB => cpu.x[rd!()] = or_combine_bytes(rs1!()),
        Op::Rev8 => cpu.x[rd!()] = rs1!().swap_bytes(),
        Op::Rev8Rv32 => cpu.x[rd!()] = sign_extend_32(u64::from((rs1!() as u32).swap_bytes())),

        // Zbc
        Op::Clmul => cpu.x[rd!()] = carryless_product(rs1!(), rs2!()) as u64,
        Op::Clmulh => cpu.x[rd!()] = (carryless_product(rs1!(), rs2!()) >> 64) as u64,
        Op::Clmulr => cpu.x[rd!()] = (carryless_product(rs1!(), rs2!()) >> 63) as u64,
        Op::ClmulRv32 => cpu.x[rd!()] = sign_extend_32(carryless_product_32(rs1!(), rs2!())),
        Op::ClmulhRv32 => cpu.x[rd!()] = sign_extend_32(carryless_product_32(rs1!(), rs2!()) >> 32),
        Op::ClmulrRv32 => cpu.x[rd!()] = sign_extend_32(carryless_product_32(rs1!(), rs2!()) >> 31),

        // Zbs: the bit index is taken modulo XLEN.
        Op::Bclr => cpu.x[rd!()] = rs1!() & !(1 << (rs2!() & 63)),
        Op::Bclri => cpu.x[rd!()] = rs1!() & !(1 << (imm!() & 63)),
        Op::Bext => cpu.x[rd!()] = (rs1!() >> (rs2!() & 63)) & 1,
        Op::Bexti => cpu.x[rd!()] = (rs1!() >> (imm!() & 63)) & 1,
        Op::Binv => cpu.x[rd!()] = rs1!() ^ (1 << (rs2!() & 63)),
        Op::Binvi => cpu.x[rd!()] = rs1!() ^ (1 << (imm!() & 63)),
        Op::Bset => cpu.x[rd!()] = rs1!() | (1 << (rs2!() & 63)),
        Op::Bseti => cpu.x[rd!()] = rs1!() | (1 << (imm!() & 63)),
        Op::BclrRv32 => cpu.x[rd!()] = sign_extend_32(rs1!() & !(1 << (rs2!() & 31))),
        Op::BclriRv32 => cpu.x[rd!()] = sign_extend_32(rs1!() & !(1 << (imm!() & 31))),
        Op::BextRv32 => cpu.x[rd!()] = (rs1!() >> (rs2!() & 31)) & 1,
        Op::BinvRv32 => cpu.x[rd!()] = sign_extend_32(rs1!() ^ (1 << (rs2!() & 31))),
        Op::BinviRv32 => cpu.x[rd!()] = sign_extend_32(rs1!() ^ (1 << (imm!() & 31))),
        Op::BsetRv32 => cpu.x[rd!()] = sign_extend_32(rs1!() | (1 << (rs2!() & 31))),
        Op::BsetiRv32 => cpu.x[rd!()] = sign_extend_32(rs1!() | (1 << (imm!() & 31))),

        // Zicond
        Op::CzeroEqz => cpu.x[rd!()] = if rs2!() == 0 { 0 } else { rs1!() },
        Op::CzeroNez => cpu.x[rd!()] = if rs2!() != 0 { 0 } else { rs1!() },

        // Block-ending ops that need the whole machine.
        Op::Ecall => return Some(Event::Other(Rare::Ecall(pc!()))),
        Op::Ebreak => {
            return Some(Event::Other(Rare::Trap(
                pc!(),
                TrapKind::Breakpoint,
                unexecuted!(),
            )))
        }
        // Code is immutable and decoded once, so there is no instruction cache to sync.
        Op::FenceI => return Some(Event::NextEntry),
        Op::Csrrw | Op::Csrrs | Op::Csrrc | Op::Csrrwi | Op::Csrrsi | Op::Csrrci => {
            if float_csr_instruction(cpu, insn) {
                return Some(Event::NextEntry);
            }
            return Some(Event::Other(Rare::Csr(pc!())));
        }
        Op::Illegal => return Some(Event::Other(Rare::Illegal(pc!(), unexecuted!()))),
        Op::HostFunction => return Some(Event::Other(Rare::HostFunction(pc!(), insn.imm as u8))),
        Op::FallThrough => return Some(Event::Jump(code_start.wrapping_add(imm!()))),
    }
    None
}

impl Machine {
    /// A trap at `pc`. Its block was charged in full on entry; the `unexecuted` instructions
    /// after the trapping one are given back, so the count stays exact.
    #[cold]
    fn trap(&mut self, pc: u64, kind: TrapKind, unexecuted: u32) -> Exit {
        self.cpu.pc = pc;
        self.instret -= u64::from(unexecuted);
        Exit::Stop(Stop::Trap(Trap {
            pc: self.guest_address(pc),
            kind: match kind {
                TrapKind::Load { addr } => TrapKind::Load {
                    addr: self.guest_address(addr),
                },
                TrapKind::Store { addr } => TrapKind::Store {
                    addr: self.guest_address(addr),
                },
                TrapKind::MisalignedAtomic { addr } => TrapKind::MisalignedAtomic {
                    addr: self.guest_address(addr),
                },
                other => other,
            },
        }))
    }

    /// An address as the guest knows it: RV32 computes addresses in 64 bits on sign-extended
    /// registers, but reports them in 32.
    fn guest_address(&self, addr: u64) -> u64 {
        self.program.xlen.unsigned(addr)
    }

    #[cold]
    fn illegal_instruction(&mut self, pc: u64, unexecuted: u32) -> Exit {
        let bits = self.program.instruction_bits(pc).unwrap_or(0);
        self.trap(pc, TrapKind::IllegalInstruction { bits }, unexecuted)
    }

    /// The instruction at `pc` and its length, decoded again for the rare ops that need more
    /// than the hot loop keeps, and where a jump lands inside a decoded instruction; through
    /// the machine's [`Redecoded`] cache, so a guest looping through such a place decodes it
    /// once.
    fn decode_at(&mut self, pc: u64) -> (Insn, u8) {
        let program = &self.program;
        let slot = self
            .redecoded
            .get_or_insert_with(|| Box::new(Redecoded::EMPTY))
            .slot(pc);
        match *slot {
            Some((cached_pc, insn, size)) if cached_pc == pc => (insn, size),
            _ => {
                let bytes = usize::try_from(pc.wrapping_sub(program.code_start))
                    .ok()
                    .and_then(|offset| program.code_bytes.get(offset..))
                    .unwrap_or(&[]);
                let (insn, size) = decode_bytes(bytes, program.xlen);
                *slot = Some((pc, insn, size));
                (insn, size)
            }
        }
    }

    fn ecall(&mut self, pc: u64, limit: u64) -> Exit {
        // ecall has no compressed form: no need to decode it again for its length.
        let next_pc = pc.wrapping_add(4);
        let number = self.program.xlen.unsigned(self.cpu.x[A7]);
        if number >= FIRST_HOST_CALL {
            self.cpu.pc = next_pc;
            return Exit::Stop(Stop::HostCall(number));
        }
        match crate::syscall::linux_syscall(self, number, pc, limit) {
            None => Exit::Jump(next_pc),
            Some(stop) => {
                // A trap, or a price the budget cannot pay, leaves the call unmade.
                self.cpu.pc = match stop {
                    Stop::Trap(_) | Stop::BudgetExhausted => pc,
                    _ => next_pc,
                };
                Exit::Stop(stop)
            }
        }
    }

    /// Zicsr on the user-level CSRs: fflags, frm and fcsr (which `run_block` runs itself),
    /// and the read-only cycle/time/instret counters (and on RV32 their high halves).
    fn csr_instruction(&mut self, pc: u64, limit: u64) -> Exit {
        let (insn, size) = self.decode_at(pc);
        let next_pc = pc.wrapping_add(u64::from(size));
        if float_csr_instruction(&mut self.cpu, &insn) {
            return Exit::Jump(next_pc);
        }
        let xlen = self.program.xlen;
        let high_half = match (insn.imm.cast_unsigned() & 0xfff, xlen) {
            (CSR_CYCLE | CSR_TIME | CSR_INSTRET, _) => false,
            (CSR_CYCLEH | CSR_TIMEH | CSR_INSTRETH, Xlen::Rv32) => true,
            _ => return self.illegal_instruction(pc, 0),
        };
        // The counters are read-only; whether an instruction writes does not depend on the
        // value it read.
        if csr_written(&self.cpu, &insn, 0).is_some() {
            return self.illegal_instruction(pc, 0);
        }
        // Beyond the instruction its block paid for.
        if !self.pay(pc, COUNTER_READ_PRICE - 1, limit) {
            return Exit::Stop(Stop::BudgetExhausted);
        }
        // Time advances with retired instructions, so runs are reproducible.
        let count = if high_half {
            self.instret >> 32
        } else {
            self.instret
        };
        self.cpu.x[usize::from(insn.rd)] = xlen.register(count);
        Exit::Jump(next_pc)
    }
}

/// A Zicsr instruction on fflags, frm or fcsr, which live in the CPU: runs it and says so;
/// any other CSR is the machine's (`Machine::csr_instruction`). Float code reads and writes
/// these often (fenv, libm), so they do not end the run loop.
#[inline(always)]
fn float_csr_instruction(cpu: &mut Cpu, insn: &Insn) -> bool {
    let old = match insn.imm.cast_unsigned() & 0xfff {
        CSR_FFLAGS => u64::from(cpu.fflags),
        CSR_FRM => u64::from(cpu.frm),
        CSR_FCSR => u64::from(cpu.frm) << 5 | u64::from(cpu.fflags),
        _ => return false,
    };
    if let Some(value) = csr_written(cpu, insn, old) {
        match insn.imm.cast_unsigned() & 0xfff {
            CSR_FFLAGS => cpu.fflags = (value & 0x1f) as u8,
            CSR_FRM => cpu.frm = (value & 0x7) as u8,
            _ => {
                cpu.fflags = (value & 0x1f) as u8;
                cpu.frm = ((value >> 5) & 0x7) as u8;
            }
        }
    }
    cpu.x[usize::from(insn.rd)] = old;
    true
}

/// The value a Zicsr instruction writes to a CSR holding `old`, or `None` when it only reads
/// (csrrs/csrrc and their immediate forms with a zero source).
#[inline(always)]
fn csr_written(cpu: &Cpu, insn: &Insn, old: u64) -> Option<u64> {
    let source = match insn.op {
        Op::Csrrw | Op::Csrrs | Op::Csrrc => cpu.x[usize::from(insn.rs1)],
        _ => u64::from(insn.rs1),
    };
    match insn.op {
        Op::Csrrw | Op::Csrrwi => Some(source),
        Op::Csrrs | Op::Csrrsi if insn.rs1 != 0 => Some(old | source),
        Op::Csrrc | Op::Csrrci if insn.rs1 != 0 => Some(old & !source),
        _ => None,
    }
}

/// The rounding mode of an instruction: its static field, or frm when the field says dynamic.
/// Reserved modes (and a reserved frm under dynamic) make the instruction illegal.
#[inline(always)]
fn resolve_rounding_mode(field: u8, frm: u8) -> Option<RoundingMode> {
    const DYNAMIC: u8 = 7;
    RoundingMode::from_bits(if field == DYNAMIC { frm } else { field })
}

fn fma_signs(op: Op) -> (bool, bool) {
    match op {
        Op::FmaddS | Op::FmaddD => (false, false),
        Op::FmsubS | Op::FmsubD => (false, true),
        Op::FnmsubS | Op::FnmsubD => (true, false),
        _ => (true, true),
    }
}

/// Zbb `orc.b`: each byte becomes 0xff if any of its bits is set, else 0.
fn or_combine_bytes(value: u64) -> u64 {
    let bytes = value
        .to_le_bytes()
        .map(|byte| if byte == 0 { 0 } else { 0xff });
    u64::from_le_bytes(bytes)
}

/// Zbc: the 128-bit carry-less (XOR) product of two 64-bit values.
fn carryless_product(a: u64, b: u64) -> u128 {
    (0..64)
        .filter(|bit| (b >> bit) & 1 != 0)
        .fold(0, |product, bit| product ^ (u128::from(a) << bit))
}

/// Zbc on RV32: the 64-bit carry-less product of the low 32 bits of each operand.
fn carryless_product_32(a: u64, b: u64) -> u64 {
    let a = a & 0xffff_ffff;
    (0..32)
        .filter(|bit| (b >> bit) & 1 != 0)
        .fold(0, |product, bit| product ^ (a << bit))
}

fn divide_signed(dividend: i64, divisor: i64) -> i64 {
    match divisor {
        0 => -1,
        // i64::MIN / -1 overflows; RISC-V defines the result as the dividend.
        _ => dividend.wrapping_div(divisor),
    }
}

fn remainder_signed(dividend: i64, divisor: i64) -> i64 {
    match divisor {
        0 => dividend,
        _ => dividend.wrapping_rem(divisor),
    }
}

fn divide_signed_32(dividend: i32, divisor: i32) -> i32 {
    match divisor {
        0 => -1,
        _ => dividend.wrapping_div(divisor),
    }
}

fn remainder_signed_32(dividend: i32, divisor: i32) -> i32 {
    match divisor {
        0 => dividend,
        _ => dividend.wrapping_rem(divisor),
    }
}

//! Threaded dispatch, for optimized native builds (`build.rs` sets `threaded_dispatch`).
//!
//! Every op has a handler of its own: `execute` with the op a constant, so only that op's
//! code is left. A handler ends by calling the next entry's handler with the same
//! arguments, which the optimizer turns into a jump (a sibling call). So the machine's
//! state lives in argument registers from op to op instead of being spilled around one big
//! `match`, and each op has its own indirect jump for the branch predictor to learn.
//! Blocks are still charged on entry, exactly as in the `match` loop, which profiled runs and
//! wasm32 keep using. A chain of handlers returns only where the `match` loop would leave
//! `run_decoded`.

use super::{execute, Decoded, Event, Exit, Rare};
use crate::decode::{Insn, Op, DISCARD_REGISTER};
use crate::machine::{Cpu, Machine, Stop};
use crate::mem::{Access, Memory};
use crate::native::heap::HostHeap;
use crate::native::Failure;
use crate::program::Program;
use crate::registers::RA;

/// What a chain of handlers shares that the hot path reads rarely (so it is not an argument
/// register), and how the chain ended.
struct Chain<'a> {
    program: &'a Program,
    /// The program's code, which entries point into: read only to turn an entry into its
    /// index or back, so it is not an argument register (a sixth argument left loads and
    /// stores too few scratch registers: they saved one on the stack on every run). A copy of
    /// `program.code`'s pointer, one load instead of two on every taken branch (derived, the
    /// whole exchange ran 0.4% more host instructions).
    code: *const Insn,
    /// The machine's host heap, for the host functions the chain runs (`host_function`).
    heap: Option<&'a mut HostHeap>,
    /// The chain ends at a block entry where the stack pointer is below this (see
    /// `MAX_CHAIN_STACK`).
    stack_floor: usize,
    end: ChainEnd,
}

/// Why a chain of handlers returned.
enum ChainEnd {
    /// The block at this entry does not fit in what is left of the budget.
    Budget(usize),
    /// The chain grew the stack by more than `MAX_CHAIN_STACK`, and goes on afresh from the
    /// block at this entry.
    Deep(usize),
    /// A jump to an address where no decoded instruction starts.
    Undecoded(u64),
    Rare(Rare),
    /// The host function at this pc gave no value (`Machine::host_function_failed`).
    HostFunctionFailed(u64, Failure),
}

/// A handler: runs `entry`, an entry of the chain's code (and, by jumping on, everything up
/// to the end of the chain) with `left` instructions of budget; returns what is left. The
/// entry goes by address, not index, so straight-line code steps by one add (int code ran
/// 14% faster than with indices).
type Handler = fn(&mut Cpu, &mut Memory, &mut Chain, *const Insn, u64) -> u64;

impl Machine {
    /// `run_decoded` by threaded dispatch.
    #[inline(always)]
    pub(super) fn run_threaded(&mut self, pc: u64, limit: u64) -> Decoded {
        let program = &*self.program;
        let Some(mut left) = limit.checked_sub(self.instret) else {
            return Decoded::Exit(Exit::Stop(Stop::BudgetExhausted));
        };
        let Some(mut index) = program.index_of(pc) else {
            return Decoded::Undecoded(pc);
        };
        let code = program.code.as_ptr();
        let mut chain = Chain {
            program,
            code,
            heap: self.heap.as_mut(),
            stack_floor: stack_pointer().saturating_sub(MAX_CHAIN_STACK),
            end: ChainEnd::Budget(index),
        };
        loop {
            // SAFETY: `index` is an entry of the program's code.
            let entry = unsafe { code.add(index) };
            left = enter(&mut self.cpu, &mut self.memory, &mut chain, entry, left);
            self.instret = limit - left;
            match chain.end {
                ChainEnd::Deep(next) => index = next,
                ChainEnd::Budget(index) => {
                    self.cpu.pc = program.code_start + u64::from(program.code[index].offset);
                    return Decoded::Exit(Exit::Stop(Stop::BudgetExhausted));
                }
                ChainEnd::Undecoded(pc) => return Decoded::Undecoded(pc),
                ChainEnd::Rare(event) => return Decoded::Rare(event),
                ChainEnd::HostFunctionFailed(pc, failure) => {
                    return Decoded::HostFunctionFailed(pc, failure)
                }
            }
        }
    }
}

/// How much stack a chain of handlers may use. Handlers jump on without growing it, as long
/// as the compiler makes their calls to the next handler jumps, which nothing guarantees
/// (`become` is not stable yet); past this, `enter` ends the chain and the run goes on from a
/// fresh one. So the stack stays bounded whatever the compiler does: a host thread's stack
/// (varnishd's are small) can never overflow on a guest's loop.
const MAX_CHAIN_STACK: usize = 16 << 10;

/// The stack pointer, read without touching memory.
#[inline(always)]
fn stack_pointer() -> usize {
    let pointer: usize;
    // SAFETY: copies the stack pointer register into a general one; nothing else.
    #[cfg(target_arch = "x86_64")]
    unsafe {
        core::arch::asm!("mov {}, rsp", out(reg) pointer, options(nomem, nostack, preserves_flags));
    }
    // SAFETY: as above.
    #[cfg(target_arch = "aarch64")]
    unsafe {
        core::arch::asm!("mov {}, sp", out(reg) pointer, options(nomem, nostack, preserves_flags));
    }
    pointer
}

/// Enters the block at `entry`: charges it whole, as the `match` loop does, then runs it.
#[inline(always)]
fn enter(
    cpu: &mut Cpu,
    memory: &mut Memory,
    chain: &mut Chain,
    entry: *const Insn,
    left: u64,
) -> u64 {
    // SAFETY: `entry` is an entry of the program's code: from `index_of`, or a block end's
    // next entry, which `execute` gives only as the index of an entry.
    let block = u64::from(unsafe { (*entry).block_rest });
    if stack_pointer() < chain.stack_floor {
        debug_assert!(false, "a handler called the next instead of jumping to it");
        chain.end = ChainEnd::Deep(index_of_entry(chain.code, entry));
        return left;
    }
    if block > left {
        chain.end = ChainEnd::Budget(index_of_entry(chain.code, entry));
        return left;
    }
    dispatch(cpu, memory, chain, entry, left - block)
}

/// Jumps to the handler of `entry`.
#[inline(always)]
fn dispatch(
    cpu: &mut Cpu,
    memory: &mut Memory,
    chain: &mut Chain,
    entry: *const Insn,
    left: u64,
) -> u64 {
    // SAFETY: as in `enter`; within a block, the next entry exists because the code ends with
    // a `FallThrough`, which ends every block.
    let op = unsafe { (*entry).op };
    HANDLERS[usize::from(op as u8)](cpu, memory, chain, entry, left)
}

/// The handler of the op numbered `OP` (numbers no op has are never dispatched to). Never
/// inlined: the handlers of fused pairs jump to their second op's.
#[inline(never)]
fn handler<const OP: u8>(
    cpu: &mut Cpu,
    memory: &mut Memory,
    chain: &mut Chain,
    entry: *const Insn,
    left: u64,
) -> u64 {
    // A load or store that misses the TLB runs in a handler of its own, so the common hit
    // has no slow path whose call would make this one save registers on every run.
    if let Some((size, access)) = const { plain_access(numbered::<OP>()) } {
        // SAFETY: as in `dispatch`.
        let insn = unsafe { &*entry };
        let addr = cpu.x[usize::from(insn.rs1)].wrapping_add(insn.imm as i64 as u64);
        if !memory.hits_tlb(addr, size, access) {
            return tlb_miss::<OP>(cpu, memory, chain, entry, left);
        }
    }
    if const { OP == Op::HostFunction as u8 } {
        return host_function(cpu, memory, chain, entry, left);
    }
    if let Some((first, second)) = const { numbered::<OP>().fused_pair() } {
        // The first op of a pair neither faults nor ends the block.
        let first_ended = execute(first, cpu, memory, chain.program.code_start, entry);
        debug_assert!(first_ended.is_none());
        // SAFETY: the pair's second entry is in the first's block, so in the code.
        let second_entry = unsafe { entry.add(1) };
        // The second op's own handler, jumped to directly: the pair still saves the dispatch
        // (the op's load, the indirect jump), and a request that runs the pair cold loads no
        // second copy of that handler's code.
        return HANDLERS[usize::from(second as u8)](cpu, memory, chain, second_entry, left);
    }
    run_op::<OP>(cpu, memory, chain, entry, left)
}

/// Runs the libc function the host runs for the guest (`crate::native`) whose entry is
/// `entry`, and jumps on to its return address: without leaving the chain, which the `match`
/// loop does for each call (a malloc, a memcpy) and goes on afresh. A call that gives no value
/// ends the chain, for the machine to finish it.
#[expect(
    clippy::cast_possible_truncation,
    reason = "the loader puts the function's number, a u8, in `imm`"
)]
fn host_function(
    cpu: &mut Cpu,
    memory: &mut Memory,
    chain: &mut Chain,
    entry: *const Insn,
    left: u64,
) -> u64 {
    // SAFETY: as in `dispatch`.
    let insn = unsafe { &*entry };
    let pc = chain.program.code_start + u64::from(insn.offset);
    let number = insn.imm as u8;
    let Some(used) = run_host_function(cpu, memory, chain, number, pc, left) else {
        return left;
    };
    jump(cpu, memory, chain, cpu.x[RA] & !1, left - used)
}

/// After a `jal` or `jalr` (`entry`): if it linked, the return address and its entry are
/// the likeliest target of the next return (`Cpu::last_return`).
#[inline(always)]
#[expect(
    clippy::cast_possible_truncation,
    reason = "entry indices fit in a u32: the program's entry index holds them so"
)]
fn note_call(cpu: &mut Cpu, code: *const Insn, entry: *const Insn) {
    // SAFETY: as in `dispatch`.
    let rd = usize::from(unsafe { (*entry).rd });
    if rd != usize::from(DISCARD_REGISTER) {
        // The entry after a jump is in the code (`run_entry`).
        let next = index_of_entry(code, entry) as u32 + 1;
        cpu.last_return = (cpu.x[rd], next);
    }
}

/// Enters the block at `target`, an address reached by an indirect jump: through the
/// last call's return entry when it is that, else the program's entry index.
#[inline(always)]
fn jump(cpu: &mut Cpu, memory: &mut Memory, chain: &mut Chain, target: u64, left: u64) -> u64 {
    let (return_address, return_entry) = cpu.last_return;
    let next = if target == return_address && (return_entry as usize) < chain.program.code.len() {
        Some(return_entry as usize)
    } else {
        chain.program.index_of(target)
    };
    enter_found(cpu, memory, chain, target, next, left)
}

/// Enters the entry `next` found for `target`, or ends the chain there if there is none.
#[inline(always)]
fn enter_found(
    cpu: &mut Cpu,
    memory: &mut Memory,
    chain: &mut Chain,
    target: u64,
    next: Option<usize>,
    left: u64,
) -> u64 {
    match next {
        // SAFETY: an index below the code's length, as `index_of` gives too.
        Some(next) => enter(cpu, memory, chain, unsafe { chain.code.add(next) }, left),
        None => {
            chain.end = ChainEnd::Undecoded(target);
            left
        }
    }
}

/// `native::run` for `host_function`, with `left` available (what the whole machine would
/// make available: the function's entry, a block of its own, is charged): the instructions
/// the call charged, or `None` with the chain ended. Never inlined: the call's result comes
/// back through memory, and a local whose address escapes keeps the handler's call to the
/// next handler from being a jump (in test builds it did).
#[inline(never)]
fn run_host_function(
    cpu: &mut Cpu,
    memory: &mut Memory,
    chain: &mut Chain,
    number: u8,
    pc: u64,
    left: u64,
) -> Option<u64> {
    match crate::native::run(cpu, memory, chain.heap.as_deref_mut(), number, pc, left) {
        Ok(used) => Some(used),
        Err(failure) => {
            chain.end = ChainEnd::HostFunctionFailed(pc, failure);
            None
        }
    }
}

#[cold]
#[inline(never)]
fn tlb_miss<const OP: u8>(
    cpu: &mut Cpu,
    memory: &mut Memory,
    chain: &mut Chain,
    entry: *const Insn,
    left: u64,
) -> u64 {
    run_op::<OP>(cpu, memory, chain, entry, left)
}

/// Runs `entry`, whose op is numbered `OP`, and jumps on to the next.
#[inline(always)]
fn run_op<const OP: u8>(
    cpu: &mut Cpu,
    memory: &mut Memory,
    chain: &mut Chain,
    entry: *const Insn,
    left: u64,
) -> u64 {
    // A constant, so `execute` keeps only this op's arm.
    let op = const { numbered::<OP>() };
    run_entry(op, cpu, memory, chain, entry, left)
}

/// Runs `entry` as `op` (a constant wherever this is inlined) and jumps on to the next.
#[inline(always)]
fn run_entry(
    op: Op,
    cpu: &mut Cpu,
    memory: &mut Memory,
    chain: &mut Chain,
    entry: *const Insn,
    left: u64,
) -> u64 {
    let code_start = chain.program.code_start;
    // An entry that goes on to the next is not the code's last: that is a `FallThrough`, which
    // jumps.
    // SAFETY: that next entry is in the program's code.
    let next_entry = || unsafe { entry.add(1) };
    let event = execute(op, cpu, memory, code_start, entry);
    if matches!(op, Op::Jal | Op::Jalr) {
        note_call(cpu, chain.code, entry);
    }
    match event {
        None => dispatch(cpu, memory, chain, next_entry(), left),
        Some(Event::NextEntry) => enter(cpu, memory, chain, next_entry(), left),
        // SAFETY: a run ends before the code's last entry, a `FallThrough`.
        Some(Event::Skip(done)) => dispatch(cpu, memory, chain, unsafe { entry.add(done) }, left),
        // SAFETY: `execute` gives only indices of entries.
        Some(Event::Next(next)) => enter(cpu, memory, chain, unsafe { chain.code.add(next) }, left),
        // A `FallThrough` goes on at its own address, which is the last call's return address
        // when that call was the last instruction of its code: the return entry there is this
        // `FallThrough` again, which the shortcut would enter forever, uncharged.
        Some(Event::Jump(target)) if op == Op::FallThrough => {
            let next = chain.program.index_of(target);
            enter_found(cpu, memory, chain, target, next, left)
        }
        Some(Event::Jump(target)) => jump(cpu, memory, chain, target, left),
        Some(Event::Other(event)) => {
            chain.end = ChainEnd::Rare(event);
            left
        }
    }
}

/// The index of `entry` in the code at `code`.
#[inline(always)]
fn index_of_entry(code: *const Insn, entry: *const Insn) -> usize {
    // SAFETY: both point into the program's code.
    unsafe { entry.offset_from_unsigned(code) }
}

/// The op numbered `OP`; `Illegal` for numbers no op has.
const fn numbered<const OP: u8>() -> Op {
    if (OP as usize) < Op::ALL.len() {
        Op::ALL[OP as usize]
    } else {
        Op::Illegal
    }
}

/// The size and direction of the memory access of a load or store whose handler checks the
/// TLB first (`handler`); atomics and the rest run their slow path in line, and a run's first
/// entry checks its accesses in `access_run` (checking the first here too cost ten
/// instructions per run). Only speed depends on this: `execute` checks the access again
/// either way.
const fn plain_access(op: Op) -> Option<(usize, Access)> {
    match op {
        Op::Lb | Op::Lbu => Some((1, Access::Read)),
        Op::Lh | Op::Lhu => Some((2, Access::Read)),
        Op::Lw | Op::Lwu | Op::Flw => Some((4, Access::Read)),
        Op::Ld | Op::Fld => Some((8, Access::Read)),
        Op::Sb => Some((1, Access::Write)),
        Op::Sh => Some((2, Access::Write)),
        Op::Sw | Op::Fsw => Some((4, Access::Write)),
        Op::Sd | Op::Fsd => Some((8, Access::Write)),
        _ => None,
    }
}

/// Sixteen handlers, from op number `$base`.
macro_rules! sixteen_handlers {
    ($base:literal) => {
        [
            handler::<{ $base }>,
            handler::<{ $base + 1 }>,
            handler::<{ $base + 2 }>,
            handler::<{ $base + 3 }>,
            handler::<{ $base + 4 }>,
            handler::<{ $base + 5 }>,
            handler::<{ $base + 6 }>,
            handler::<{ $base + 7 }>,
            handler::<{ $base + 8 }>,
            handler::<{ $base + 9 }>,
            handler::<{ $base + 10 }>,
            handler::<{ $base + 11 }>,
            handler::<{ $base + 12 }>,
            handler::<{ $base + 13 }>,
            handler::<{ $base + 14 }>,
            handler::<{ $base + 15 }>,
        ]
    };
}

/// A handler for every possible op number, so an op's `u8` indexes it without a check.
static HANDLERS: [Handler; 256] = {
    let rows: [[Handler; 16]; 16] = [
        sixteen_handlers!(0),
        sixteen_handlers!(16),
        sixteen_handlers!(32),
        sixteen_handlers!(48),
        sixteen_handlers!(64),
        sixteen_handlers!(80),
        sixteen_handlers!(96),
        sixteen_handlers!(112),
        sixteen_handlers!(128),
        sixteen_handlers!(144),
        sixteen_handlers!(160),
        sixteen_handlers!(176),
        sixteen_handlers!(192),
        sixteen_handlers!(208),
        sixteen_handlers!(224),
        sixteen_handlers!(240),
    ];
    let mut table = [rows[0][0]; 256];
    let mut number = 0;
    while number < 256 {
        table[number] = rows[number / 16][number % 16];
        number += 1;
    }
    table
};

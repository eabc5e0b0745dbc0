//! A loaded guest program: its segments and its code, decoded once and shared (through `Arc`)
//! by every machine that runs it.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use crate::decode::{decode_bytes, Insn, Op, NO_TARGET};
use crate::elf::{self, ElfError, SymbolTableError};
use crate::mem::Perms;
use crate::native::{self, HostFunction, HostFunctionOptions, HostFunctions};
use crate::syscall::layout;
use crate::xlen::Xlen;

/// Highest address (exclusive) a segment of an RV64 program may reach. Above it lie the mmap
/// area and the stack (see `syscall::layout`).
pub const PROGRAM_ADDRESS_LIMIT: u64 = layout::RV64.program_limit;

/// Highest address (exclusive) a segment of a program of width `xlen` may reach.
pub fn program_address_limit(xlen: Xlen) -> u64 {
    layout::of(xlen).program_limit
}

/// Most machine code (file bytes of executable segments) a program may have. Decoded code is
/// about 8 times larger, so this bounds what a hostile program makes the loader allocate;
/// real programs have a few MiB at most.
pub const MAX_CODE_BYTES: u64 = 16 << 20;

/// Most address space the executable segments may span, first byte to last decoded one: the
/// loader keeps a copy of that span and an index of its halfwords, so far-apart segments
/// must not make it allocate more than the code itself would.
pub const MAX_CODE_SPAN: u64 = 2 * MAX_CODE_BYTES;

/// Why a program could not be loaded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProgramError {
    Elf(ElfError),
    /// No segment is executable.
    NoCode,
    /// The executable segments hold more than [`MAX_CODE_BYTES`] of machine code.
    CodeTooLarge {
        bytes: u64,
    },
    /// The executable segments lie more than [`MAX_CODE_SPAN`] bytes apart.
    CodeTooSpread {
        span: u64,
    },
}

impl fmt::Display for ProgramError {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProgramError::Elf(error) => write!(out, "invalid program: {error}"),
            ProgramError::NoCode => out.write_str("invalid program: no executable segment"),
            ProgramError::CodeTooLarge { bytes } => write!(
                out,
                "invalid program: executable segments hold {bytes} bytes of code, more than the {MAX_CODE_BYTES} supported"
            ),
            ProgramError::CodeTooSpread { span } => write!(
                out,
                "invalid program: executable segments span {span} bytes, more than the {MAX_CODE_SPAN} supported"
            ),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for ProgramError {}

impl From<ElfError> for ProgramError {
    fn from(error: ElfError) -> Self {
        ProgramError::Elf(error)
    }
}

/// A segment to map into every new machine.
#[derive(Debug)]
pub struct LoadSegment {
    pub vaddr: u64,
    pub mem_size: u64,
    pub data: Vec<u8>,
    pub perms: Perms,
}

/// An immutable, shareable program.
#[derive(Debug)]
pub struct Program {
    /// RV32 or RV64, from the ELF class; the code was decoded for it.
    pub xlen: Xlen,
    pub entry: u64,
    pub segments: Vec<LoadSegment>,
    pub program_headers_vaddr: u64,
    pub program_header_count: u16,
    pub program_header_entry_size: u16,
    /// Lowest address of executable memory; instruction offsets are relative to it.
    pub code_start: u64,
    /// The decoded bytes of executable memory from `code_start` (file bytes and the zeros
    /// between them), for decoding again where a jump lands inside an instruction. Executable
    /// memory beyond them is zero.
    pub code_bytes: Vec<u8>,
    /// Every instruction of each executable segment, decoded in address order, so straight-line
    /// code is consecutive entries; a `FallThrough` ends each segment's run. Direct branches
    /// and `jal` hold their target's index in `imm`; a target that is no decoded instruction
    /// has a `FallThrough` of its own, after all segments.
    pub code: Vec<Insn>,
    /// For every halfword from `code_start`: the index in `code` of the instruction starting
    /// there, or [`NO_TARGET`] where none does.
    pub entry_index: Vec<u32>,
    /// The functions a host may call by name (see [`Program::function_address`]).
    pub functions: FunctionTable,
    /// The libc functions the host runs for this program (their entries in `code` are
    /// `Op::HostFunction`).
    pub host_functions: HostFunctions,
    /// Every function's start and name (local ones too), sorted by address, for naming code
    /// in profiles; empty for a stripped program.
    pub function_names: Vec<(u64, Box<str>)>,
}

/// A program's defined functions by name, read once from its symbol table. A missing or
/// malformed table is kept as such, so asking for a function can say why there is none;
/// neither stops the program from loading.
#[derive(Debug)]
pub enum FunctionTable {
    Functions(BTreeMap<Box<str>, u64>),
    /// The executable has no symbol table (it was stripped).
    Stripped,
    Malformed(SymbolTableError),
}

/// Why [`Program::function_address`] found no function.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FunctionLookupError {
    /// The program has no symbol table.
    Stripped,
    /// The symbol table could not be read.
    Malformed(SymbolTableError),
    /// No defined function of that name starts at an instruction of the program.
    NotFound,
}

impl fmt::Display for FunctionLookupError {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FunctionLookupError::Stripped => out.write_str(
                "the program has no symbol table (it was stripped), so no function can be found by name",
            ),
            FunctionLookupError::Malformed(error) => {
                write!(out, "the program's symbol table is malformed: {error}")
            }
            FunctionLookupError::NotFound => {
                out.write_str("no function of that name in the program's symbol table")
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for FunctionLookupError {}

impl Program {
    /// Parses and decodes a static RISC-V ELF executable, with the default host functions
    /// (glibc's string functions; the allocator stays the guest's).
    pub fn from_elf(bytes: &[u8]) -> Result<Arc<Program>, ProgramError> {
        Program::from_elf_with(bytes, HostFunctionOptions::default())
    }

    /// [`Program::from_elf`] with a choice of host functions.
    pub fn from_elf_with(
        bytes: &[u8],
        host_function_options: HostFunctionOptions,
    ) -> Result<Arc<Program>, ProgramError> {
        let image = elf::parse(bytes, program_address_limit)?;
        let segments: Vec<LoadSegment> = image
            .segments
            .iter()
            .map(|segment| LoadSegment {
                vaddr: segment.vaddr,
                mem_size: segment.mem_size,
                data: segment.file_data.to_vec(),
                perms: Perms {
                    read: segment.flags.read,
                    write: segment.flags.write,
                    execute: segment.flags.execute,
                },
            })
            .collect();
        let (code_start, code_bytes, mut code, entry_index) = decode_code(&segments, image.xlen)?;
        // The host functions stand in for glibc's RV64 code, with 64-bit pointers.
        let host_functions = match image.xlen {
            Xlen::Rv64 => patch_host_functions(
                native::find_host_functions(bytes, host_function_options),
                &mut code,
                &entry_index,
                code_start,
            ),
            Xlen::Rv32 => HostFunctions::default(),
        };
        mark_access_runs(&mut code);
        #[cfg(threaded_dispatch)]
        if image.xlen == Xlen::Rv64 {
            mark_fused_pairs(&mut code);
        }
        fill_block_lengths(&mut code);
        let mut program = Program {
            xlen: image.xlen,
            entry: image.entry,
            segments,
            program_headers_vaddr: image.program_headers_vaddr,
            program_header_count: image.program_header_count,
            program_header_entry_size: image.program_header_entry_size,
            code_start,
            code_bytes,
            code,
            entry_index,
            functions: FunctionTable::Stripped,
            host_functions,
            function_names: Vec::new(),
        };
        program.functions = program.function_table(bytes);
        program.function_names = function_names(bytes);
        Ok(Arc::new(program))
    }

    /// The function `pc` lies in: its start and name, by the symbol table (the nearest
    /// function starting at or below `pc`).
    pub fn function_at(&self, pc: u64) -> Option<(u64, &str)> {
        let after = self
            .function_names
            .partition_point(|(start, _)| *start <= pc);
        let (start, name) = self.function_names.get(after.checked_sub(1)?)?;
        Some((*start, name))
    }

    /// Reads the symbol table's functions, keeping those that start at a decoded instruction
    /// (so a call lands on code); a global definition wins over a weak one.
    fn function_table(&self, bytes: &[u8]) -> FunctionTable {
        let symbols = match elf::function_symbols(bytes) {
            Ok(Some(symbols)) => symbols,
            Ok(None) => return FunctionTable::Stripped,
            Err(error) => return FunctionTable::Malformed(error),
        };
        let mut functions = BTreeMap::new();
        let starts_an_instruction = |symbol: &elf::FunctionSymbol<'_>| {
            self.index_of(symbol.address).is_some_and(|index| {
                self.code
                    .get(index)
                    .is_some_and(|insn| insn.op != Op::FallThrough)
            })
        };
        for symbol in symbols
            .iter()
            .filter(|symbol| starts_an_instruction(symbol))
        {
            if symbol.weak && functions.contains_key(symbol.name) {
                continue;
            }
            functions.insert(Box::from(symbol.name), symbol.address);
        }
        FunctionTable::Functions(functions)
    }

    /// The address of the defined function `name` (C linkage: the symbol's name as written).
    pub fn function_address(&self, name: &str) -> Result<u64, FunctionLookupError> {
        match &self.functions {
            FunctionTable::Functions(functions) => functions
                .get(name)
                .copied()
                .ok_or(FunctionLookupError::NotFound),
            FunctionTable::Stripped => Err(FunctionLookupError::Stripped),
            FunctionTable::Malformed(error) => Err(FunctionLookupError::Malformed(error.clone())),
        }
    }

    /// Index in `code` of the instruction starting at `pc`, if one does.
    #[inline(always)]
    pub fn index_of(&self, pc: u64) -> Option<usize> {
        if pc & 1 != 0 {
            return None;
        }
        // Checked: on a 32-bit host an offset beyond usize must not wrap onto real code.
        let slot = usize::try_from(pc.wrapping_sub(self.code_start) >> 1).ok()?;
        match self.entry_index.get(slot) {
            Some(&index) if index != NO_TARGET => usize::try_from(index).ok(),
            _ => None,
        }
    }

    /// The instructions a run charges when it enters the code at `pc`: the rest of the basic
    /// block from there ([`UNDECODED_PRICE`](crate::interp::UNDECODED_PRICE) where no decoded
    /// instruction starts: a run decodes and runs that one on its own).
    pub fn block_charge_at(&self, pc: u64) -> u64 {
        self.index_of(pc)
            .map_or(crate::interp::UNDECODED_PRICE, |index| {
                u64::from(self.code[index].block_rest)
            })
    }

    /// Whether the instruction at `pc` ends a basic block, so the code after it is entered as
    /// a run enters a block (true where no decoded instruction starts).
    pub fn ends_block_at(&self, pc: u64) -> bool {
        self.index_of(pc)
            .is_none_or(|index| self.code[index].op.ends_block())
    }

    /// The decoded instruction starting at `pc`, if one does, as [`Program::insn`] gives it.
    pub fn insn_at(&self, pc: u64) -> Option<Insn> {
        self.insn(self.index_of(pc)?)
    }

    /// `code[index]` as the decoder made it, for disassembly: a direct jump's `imm` is its
    /// target's offset from it again (in `code` it is the target's index).
    pub fn insn(&self, index: usize) -> Option<Insn> {
        let mut insn = *self.code.get(index)?;
        if insn.op.is_direct_jump() {
            // A target's `offset` is its address's offset from `code_start`, also for the
            // `FallThrough` of a target that is no decoded instruction (see `Insn::fall_through`).
            let target = self.code.get(usize::try_from(insn.imm).ok()?)?;
            insn.imm = (target.offset as i32).wrapping_sub(insn.offset as i32);
        }
        Some(insn)
    }

    /// Whether `pc` lies in an executable segment.
    pub fn is_executable(&self, pc: u64) -> bool {
        self.segments.iter().any(|segment| {
            segment.perms.execute && segment.vaddr <= pc && pc - segment.vaddr < segment.mem_size
        })
    }

    /// Raw instruction bits at `pc` (for trap reports and the disassembler).
    pub fn instruction_bits(&self, pc: u64) -> Option<u32> {
        let segment = self.segments.iter().find(|segment| {
            segment.perms.execute && segment.vaddr <= pc && pc < segment.vaddr + segment.mem_size
        })?;
        let offset = usize::try_from(pc - segment.vaddr).ok()?;
        let byte = |index: usize| {
            offset
                .checked_add(index)
                .and_then(|at| segment.data.get(at))
                .copied()
                .unwrap_or(0)
        };
        let low = u16::from_le_bytes([byte(0), byte(1)]);
        if low & 0b11 != 0b11 {
            return Some(u32::from(low));
        }
        Some(u32::from_le_bytes([byte(0), byte(1), byte(2), byte(3)]))
    }
}

/// Decodes each executable segment once, front to back: straight-line code becomes consecutive
/// entries, so the interpreter steps to the next entry without looking at addresses. Direct
/// branch targets are resolved to entry indices here.
#[expect(
    clippy::type_complexity,
    reason = "the four parts of decoded code, used once"
)]
fn decode_code(
    segments: &[LoadSegment],
    xlen: Xlen,
) -> Result<(u64, Vec<u8>, Vec<Insn>, Vec<u32>), ProgramError> {
    let executable = || segments.iter().filter(|segment| segment.perms.execute);
    let start = executable()
        .map(|segment| segment.vaddr)
        .min()
        .ok_or(ProgramError::NoCode)?;
    // Only file bytes are decoded (plus 2 bytes of the zeros after them, for an instruction
    // cut off by the file's end): a segment's zero-filled tail decodes to illegal
    // instructions, which `run` finds without a table, however large the tail.
    let decode_end = |segment: &LoadSegment| {
        let offset = segment.vaddr - start;
        (offset + segment.mem_size).min(offset + segment.data.len() as u64 + 2)
    };
    let bytes_end = executable()
        .map(decode_end)
        .max()
        .ok_or(ProgramError::NoCode)?;
    let machine_code_size: u64 = executable().map(|segment| segment.data.len() as u64).sum();
    if machine_code_size > MAX_CODE_BYTES {
        return Err(ProgramError::CodeTooLarge {
            bytes: machine_code_size,
        });
    }
    // Bounded by MAX_CODE_SPAN, so offsets below fit in u32 and usize on every host.
    if bytes_end > MAX_CODE_SPAN {
        return Err(ProgramError::CodeTooSpread { span: bytes_end });
    }
    let span = to_usize(bytes_end);
    let mut bytes = vec![0u8; span];
    for segment in executable() {
        let offset = to_usize(segment.vaddr - start);
        bytes[offset..offset + segment.data.len()].copy_from_slice(&segment.data);
    }

    let mut code: Vec<Insn> = Vec::new();
    let mut entry_index = vec![NO_TARGET; span.div_ceil(2)];
    for segment in executable() {
        // Instructions are 2-byte aligned; an odd segment start has none at its first byte.
        let mut offset = to_usize((segment.vaddr - start).next_multiple_of(2));
        let file_end = to_usize(segment.vaddr - start) + segment.data.len();
        let segment_end = to_usize(decode_end(segment));
        while offset < file_end {
            let (mut insn, size) = decode_bytes(&bytes[offset..segment_end], xlen);
            insn.offset = to_u32(offset);
            entry_index[offset / 2] = to_u32(code.len());
            code.push(insn);
            offset += usize::from(size);
        }
        code.push(Insn::fall_through(to_i32(offset)));
    }
    // Direct branches and `jal` go by entry index: their `imm` becomes the target's index. A
    // target where no decoded instruction starts (inside one, or outside the code) gets a
    // `FallThrough` of its own after the code, which leaves the decoded code for that address.
    for index in 0..code.len() {
        let insn = code[index];
        if !insn.op.is_direct_jump() {
            continue;
        }
        let target = i64::from(insn.offset) + i64::from(insn.imm);
        let entry = usize::try_from(target)
            .ok()
            .filter(|target| target % 2 == 0)
            .and_then(|target| entry_index.get(target / 2))
            .copied()
            .filter(|&entry| entry != NO_TARGET);
        code[index].imm = match entry {
            Some(entry) => to_i32(entry as usize),
            None => {
                #[expect(
                    clippy::cast_possible_truncation,
                    reason = "a jump reaches 1 MiB around code that MAX_CODE_SPAN keeps small"
                )]
                code.push(Insn::fall_through(target as i32));
                to_i32(code.len() - 1)
            }
        };
    }
    Ok((start, bytes, code, entry_index))
}

/// Puts an `Op::HostFunction` entry over the first instruction of each host function (the
/// guest's bytes stay), keeping those whose address starts a decoded instruction; the
/// allocator only if all its entries do.
fn patch_host_functions(
    mut host_functions: HostFunctions,
    code: &mut [Insn],
    entry_index: &[u32],
    code_start: u64,
) -> HostFunctions {
    let index_of = |address: u64| -> Option<usize> {
        if !address.is_multiple_of(2) {
            return None;
        }
        let slot = usize::try_from(address.wrapping_sub(code_start) / 2).ok()?;
        let index = *entry_index.get(slot).filter(|index| **index != NO_TARGET)? as usize;
        (code.get(index)?.op != Op::FallThrough).then_some(index)
    };
    let allocator_complete = host_functions
        .entries
        .iter()
        .filter(|(_, function)| function.is_allocator())
        .all(|(address, _)| index_of(*address).is_some());
    if !allocator_complete {
        host_functions.heap_errno_offset = None;
    }
    let keep_allocator = host_functions.heap_errno_offset.is_some();
    host_functions.entries.retain(|&(address, function)| {
        index_of(address).is_some() && (keep_allocator || !function.is_allocator())
    });
    let patches: Vec<(usize, HostFunction)> = host_functions
        .entries
        .iter()
        .filter_map(|&(address, function)| Some((index_of(address)?, function)))
        .collect();
    for (index, function) in patches {
        code[index] = Insn {
            offset: code[index].offset,
            ..Insn::new(Op::HostFunction, 0, 0, 0, i32::from(function.number()))
        };
    }
    host_functions
}

/// Every function symbol by address, one name per address: one without a leading underscore
/// if there is one (`malloc` over `__libc_malloc`), else the shortest.
fn function_names(bytes: &[u8]) -> Vec<(u64, Box<str>)> {
    let Ok(Some(symbols)) = elf::all_function_symbols(bytes) else {
        return Vec::new();
    };
    let preference = |name: &str| (name.starts_with('_'), name.len());
    let mut by_address: BTreeMap<u64, &str> = BTreeMap::new();
    for symbol in symbols {
        let best = by_address.entry(symbol.address).or_insert(symbol.name);
        if preference(symbol.name) < preference(best) {
            *best = symbol.name;
        }
    }
    by_address
        .into_iter()
        .map(|(address, name)| (address, Box::from(name)))
        .collect()
}

/// An offset or count within the decoded code, which [`MAX_CODE_SPAN`] keeps far below
/// `u32::MAX` (and so below `usize::MAX` on every host).
fn to_usize(value: u64) -> usize {
    usize::try_from(value).unwrap_or(usize::MAX)
}

/// See [`to_usize`].
#[expect(
    clippy::cast_possible_truncation,
    reason = "offsets and entry counts are below MAX_CODE_SPAN, far below u32::MAX"
)]
fn to_u32(value: usize) -> u32 {
    value as u32
}

/// See [`to_usize`].
#[expect(
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    reason = "offsets and entry counts are below MAX_CODE_SPAN, far below i32::MAX"
)]
fn to_i32(value: usize) -> i32 {
    value as i32
}

/// Marks each run of `Insn::MIN_RUN` or more `sd`s in a row (`ld`s, `sw`s, `lw`s) on its
/// first entry (`Op::run_op`), after host functions are patched in, so a run never covers one.
fn mark_access_runs(code: &mut [Insn]) {
    let mut index = 0;
    while index < code.len() {
        let length = run_length(&code[index..]);
        if length >= Insn::MIN_RUN {
            code[index].mark_run(length);
        }
        index += length;
    }
}

/// How many entries from `code`'s first (at least that one) make a run: loads or stores of one
/// op through one base register that no entry but the last changes, at offsets in order (a
/// prologue's register saves, an epilogue's restores), so their accesses lie between the
/// first's and the last's whatever the registers hold, and one TLB check covers them. Where a
/// row of them breaks this (gcc interleaves a frame's saves, a struct copy two bases), the
/// run ends and the next starts.
fn run_length(code: &[Insn]) -> usize {
    let first = &code[0];
    if first.op.run_op().is_none() {
        return 1;
    }
    let base = first.rs1;
    let is_load = matches!(first.op, Op::Ld | Op::Lw);
    let mut rising = None;
    let mut length = 1;
    for pair in code.windows(2).take(Insn::MAX_RUN - 1) {
        let (previous, next) = (&pair[0], &pair[1]);
        // A store writes no register; a load that changes the base ends the run.
        if next.op != first.op || next.rs1 != base || (is_load && previous.rd == base) {
            break;
        }
        if next.imm != previous.imm {
            let rises = next.imm > previous.imm;
            if *rising.get_or_insert(rises) != rises {
                break;
            }
        }
        length += 1;
    }
    length
}

/// Puts the fused op on the first entry of each pair of ops that `Op::fused` fuses, left to
/// right, no entry in two pairs; the second entry stays as it was, for jumps to it.
#[cfg(threaded_dispatch)]
fn mark_fused_pairs(code: &mut [Insn]) {
    let mut index = 0;
    while index + 1 < code.len() {
        match Op::fused(code[index].op, code[index + 1].op) {
            Some(fused) => {
                code[index].op = fused;
                index += 2;
            }
            None => index += 1,
        }
    }
}

/// Fills in every entry's `block_rest`, backwards so each successor already knows its own.
fn fill_block_lengths(code: &mut [Insn]) {
    for index in (0..code.len()).rev() {
        let op = code[index].op;
        code[index].block_rest = match op {
            Op::FallThrough => 0,
            _ if op.ends_block() => 1,
            _ => code
                .get(index + 1)
                .map_or(1, |next| next.block_rest.saturating_add(1)),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code_segment(mem_size: u64, data: Vec<u8>) -> LoadSegment {
        LoadSegment {
            vaddr: 0x10000,
            mem_size,
            data,
            perms: Perms::READ_EXECUTE,
        }
    }

    #[test]
    fn a_block_longer_than_65535_instructions_is_counted_whole() {
        let mut data = Vec::new();
        for _ in 0..70_000 {
            data.extend_from_slice(&0x0015_0513u32.to_le_bytes()); // addi a0, a0, 1
        }
        data.extend_from_slice(&0x0000_006fu32.to_le_bytes()); // jal zero, 0
        let segments = [code_segment(data.len() as u64, data)];
        let (_, _, mut code, _) = decode_code(&segments, Xlen::Rv64).unwrap();
        fill_block_lengths(&mut code);
        assert_eq!(code[0].block_rest, 70_001);
    }

    #[test]
    fn runs_of_loads_and_of_stores_are_marked_on_their_first_entry() {
        let sd = 0x00b1_3023u32; // sd a1, 0(sp)
        let ld = 0x0001_3303u32; // ld t1, 0(sp)
        let sw = 0x00b1_2023u32; // sw a1, 0(sp)
        let lw = 0x0001_2683u32; // lw a3, 0(sp)
        let addi = 0x0015_0513u32; // addi a0, a0, 1
        let min = Insn::MIN_RUN;
        let mut words = vec![sd; min + 1];
        words.push(addi);
        words.extend(std::iter::repeat_n(ld, min - 1));
        words.push(addi);
        let long_run = words.len();
        words.extend(std::iter::repeat_n(sd, Insn::MAX_RUN + min));
        words.push(addi);
        let short_rest = words.len();
        words.extend(std::iter::repeat_n(sd, Insn::MAX_RUN + min - 1));
        words.push(addi);
        let narrow = words.len();
        words.extend(std::iter::repeat_n(sw, min));
        words.extend(std::iter::repeat_n(lw, min));
        words.push(addi);
        let data: Vec<u8> = words.iter().flat_map(|word| word.to_le_bytes()).collect();
        let (_, _, mut code, _) =
            decode_code(&[code_segment(data.len() as u64, data)], Xlen::Rv64).unwrap();
        mark_access_runs(&mut code);
        let ops = |range: std::ops::Range<usize>| -> Vec<Op> {
            code[range].iter().map(|insn| insn.op).collect()
        };
        use Op::*;
        let mut expected = vec![SdRun];
        expected.extend(std::iter::repeat_n(Sd, min));
        expected.push(Addi);
        expected.extend(std::iter::repeat_n(Ld, min - 1));
        assert_eq!(
            ops(0..long_run - 1),
            expected,
            "{} loads are no run",
            min - 1
        );
        assert_eq!(code[0].run_length(), min + 1);
        assert_eq!(
            code[long_run].run_length(),
            Insn::MAX_RUN,
            "a run is at most MAX_RUN long"
        );
        let rest = long_run + Insn::MAX_RUN;
        assert_eq!(code[rest].op, SdRun, "the rest is a run of its own");
        assert_eq!(code[rest].run_length(), min);
        assert_eq!(code[short_rest].op, SdRun);
        assert_eq!(
            ops(short_rest + Insn::MAX_RUN..narrow - 1),
            vec![Sd; min - 1],
            "a rest shorter than MIN_RUN stays plain"
        );
        assert_eq!((code[narrow].op, code[narrow + min].op), (SwRun, LwRun));
        assert_eq!(
            (code[narrow].run_length(), code[narrow + min].run_length()),
            (min, min)
        );
        // The register fields the instructions use are untouched.
        assert_eq!((code[0].rs1, code[0].rs2, code[0].imm), (2, 11, 0));
        assert_eq!(
            (
                code[narrow + min].rd,
                code[narrow + min].rs1,
                code[narrow + min].imm
            ),
            (13, 2, 0)
        );
    }

    #[test]
    fn a_run_goes_through_one_kept_base_at_offsets_in_order() {
        let groups: [(&[u32], usize); 7] = [
            // A prologue.
            (&[0xfe11_3c23, 0xfe81_3823], 2), // sd ra, -8(sp); sd s0, -16(sp)
            // An epilogue.
            (&[0x0001_3083, 0x0081_3403], 2), // ld ra, 0(sp); ld s0, 8(sp)
            // Offsets falling, then rising: the run ends before the rise.
            (&[0x0001_3423, 0x0001_3023, 0x0001_3823], 2), // sd zero, 8(sp); 0(sp); 16(sp)
            // The same offset twice goes either way.
            (&[0x0001_3423, 0x0001_3423, 0x0001_3023], 3), // sd zero, 8(sp); 8(sp); 0(sp)
            // Two bases.
            (&[0x0001_3023, 0x0005_3023], 1), // sd zero, 0(sp); sd zero, 0(a0)
            // The base changed before the last load...
            (&[0x0001_3103, 0x0081_3503], 1), // ld sp, 0(sp); ld a0, 8(sp)
            // ...and by the last.
            (&[0x0081_3503, 0x0001_3103], 2), // ld a0, 8(sp); ld sp, 0(sp)
        ];
        for (words, length) in groups {
            let data: Vec<u8> = words.iter().flat_map(|word| word.to_le_bytes()).collect();
            let segment = code_segment(data.len() as u64, data);
            let (_, _, code, _) = decode_code(&[segment], Xlen::Rv64).unwrap();
            assert_eq!(run_length(&code[..words.len()]), length, "{words:x?}");
        }
    }

    #[test]
    fn a_row_out_of_order_is_marked_as_the_runs_in_it() {
        // Offsets below 32 fit `sd`'s low immediate field.
        let sd_zero_at = |offset: u32| 0x0001_3023 | (offset << 7); // sd zero, offset(sp)
        let min = u32::try_from(Insn::MIN_RUN).unwrap();
        // Rising, then rising again from below: two runs (gcc's interleaved saves).
        let offsets: Vec<u32> = (0..min).chain(0..min).map(|slot| slot * 4).collect();
        let data: Vec<u8> = offsets
            .iter()
            .flat_map(|&offset| sd_zero_at(offset).to_le_bytes())
            .collect();
        let (_, _, mut code, _) =
            decode_code(&[code_segment(data.len() as u64, data)], Xlen::Rv64).unwrap();
        mark_access_runs(&mut code);
        let second = Insn::MIN_RUN;
        assert_eq!((code[0].op, code[second].op), (Op::SdRun, Op::SdRun));
        assert_eq!(
            (code[0].run_length(), code[second].run_length()),
            (Insn::MIN_RUN, Insn::MIN_RUN)
        );
    }

    #[test]
    #[cfg(threaded_dispatch)]
    fn common_pairs_are_fused_on_their_first_entry_left_to_right() {
        let addi = 0x0015_0513u32; // addi a0, a0, 1
        let add = 0x00b5_0533u32; // add a0, a0, a1
        let sd = 0x00b1_3023u32; // sd a1, 0(sp)
        let jal = 0x0000_006fu32; // jal zero, 0
        let words = [addi, addi, addi, add, add, sd, addi, jal];
        let data: Vec<u8> = words.iter().flat_map(|word| word.to_le_bytes()).collect();
        let (_, _, mut code, _) =
            decode_code(&[code_segment(data.len() as u64, data)], Xlen::Rv64).unwrap();
        let decoded = code.clone();
        mark_fused_pairs(&mut code);
        let ops: Vec<Op> = code[..8].iter().map(|insn| insn.op).collect();
        use Op::*;
        assert_eq!(ops, [AddiAddi, Addi, AddiAdd, Add, Add, Sd, AddiJal, Jal]);
        // Only the op changes: operands, offsets and the second entries stay as decoded.
        for (fused, plain) in code.iter().zip(&decoded) {
            assert_eq!(
                (fused.rd, fused.rs1, fused.rs2, fused.imm, fused.offset),
                (plain.rd, plain.rs1, plain.rs2, plain.imm, plain.offset)
            );
            assert_eq!(
                fused.op.fused_pair().map_or(fused.op, |(first, _)| first),
                plain.op
            );
        }
    }

    #[test]
    fn straight_line_code_is_consecutive_and_branches_resolve_to_entries() {
        // addi a0,a0,1 ; c.addi a0,1 ; beq zero,zero,-6 (back to the first instruction)
        let data = vec![0x13, 0x05, 0x15, 0x00, 0x05, 0x05, 0xe3, 0x0d, 0x00, 0xfe];
        let (start, _, mut code, entry_index) =
            decode_code(&[code_segment(10, data)], Xlen::Rv64).unwrap();
        assert_eq!(start, 0x10000);
        let ops: Vec<Op> = code.iter().map(|insn| insn.op).collect();
        assert_eq!(ops, [Op::Addi, Op::Addi, Op::Beq, Op::FallThrough]);
        assert_eq!(
            code.iter().map(|insn| insn.offset).collect::<Vec<_>>(),
            [0, 4, 6, 10]
        );
        assert_eq!(code[2].imm, 0);
        assert_eq!(entry_index[..3], [0, NO_TARGET, 1]);
        fill_block_lengths(&mut code);
        let block_rest: Vec<u32> = code.iter().map(|insn| insn.block_rest).collect();
        assert_eq!(block_rest, [3, 2, 1, 0]);
    }

    #[test]
    fn a_branch_into_the_middle_of_an_instruction_goes_to_a_fall_through_of_its_own() {
        // addi a0,a0,1 ; beq zero,zero,-2 (into the addi's second half)
        let data = vec![0x13, 0x05, 0x15, 0x00, 0xe3, 0x0f, 0x00, 0xfe];
        let (_, _, code, _) = decode_code(&[code_segment(8, data)], Xlen::Rv64).unwrap();
        let ops: Vec<Op> = code.iter().map(|insn| insn.op).collect();
        assert_eq!(ops, [Op::Addi, Op::Beq, Op::FallThrough, Op::FallThrough]);
        assert_eq!(code[1].imm, 3, "the branch goes to the last entry");
        assert_eq!(code[2].imm, 8, "the segment's end falls through to its end");
        assert_eq!(
            code[3].imm, 2,
            "the branch's own entry leaves for its target"
        );
    }

    #[test]
    fn a_huge_zero_filled_code_segment_costs_nothing_to_load() {
        let data = vec![0x13, 0, 0, 0];
        let (_, bytes, code, entry_index) =
            decode_code(&[code_segment(1 << 30, data)], Xlen::Rv64).unwrap();
        assert_eq!(
            code.len(),
            2,
            "the addi and the fall-through into the zeros"
        );
        assert!(bytes.len() <= 8 && entry_index.len() <= 4);
    }

    #[test]
    fn executable_segments_far_apart_are_refused() {
        let near = code_segment(4, vec![0x13, 0, 0, 0]);
        let far = LoadSegment {
            vaddr: 0x10000 + (1 << 36),
            ..code_segment(4, vec![0x13, 0, 0, 0])
        };
        let result = decode_code(&[near, far], Xlen::Rv64);
        assert_eq!(
            result.err(),
            Some(ProgramError::CodeTooSpread {
                span: (1 << 36) + 4
            })
        );
    }

    #[test]
    fn too_much_machine_code_is_refused() {
        let size = MAX_CODE_BYTES + 2;
        let result = decode_code(&[code_segment(size, vec![0; to_usize(size)])], Xlen::Rv64);
        assert_eq!(
            result.err(),
            Some(ProgramError::CodeTooLarge { bytes: size })
        );
    }
}

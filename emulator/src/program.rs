//! A loaded guest program: its segments and its code, decoded once and shared (through `Arc`)
//! by every machine that runs it.

use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use crate::decode::{decode_bytes, Insn, Op, Xlen};
use crate::elf::{self, ElfError};
use crate::mem::Perms;

/// Highest address (exclusive) an ELF segment may reach. Above it lie the mmap area and the
/// stack (see `syscall::layout`).
pub const PROGRAM_ADDRESS_LIMIT: u64 = 1 << 37;

/// Decoded code is about 6 times the size of the machine code; this bounds what a hostile
/// program can make the loader allocate.
pub const MAX_CODE_BYTES: u64 = 64 << 20;

/// Why a program could not be loaded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoadError {
    Elf(ElfError),
    /// No segment is executable.
    NoCode,
    /// The executable segments span more than [`MAX_CODE_BYTES`].
    CodeTooLarge {
        bytes: u64,
    },
}

impl fmt::Display for LoadError {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Elf(error) => write!(out, "invalid program: {error}"),
            LoadError::NoCode => out.write_str("invalid program: no executable segment"),
            LoadError::CodeTooLarge { bytes } => write!(
                out,
                "invalid program: executable segments span {bytes} bytes, more than the {MAX_CODE_BYTES} supported"
            ),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for LoadError {}

impl From<ElfError> for LoadError {
    fn from(error: ElfError) -> Self {
        LoadError::Elf(error)
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
    pub entry: u64,
    pub segments: Vec<LoadSegment>,
    pub program_headers_vaddr: u64,
    pub program_header_count: u16,
    pub program_header_entry_size: u16,
    /// Guest address of `code[0]`; `code[i]` is the instruction at `code_start + 2 * i`.
    pub code_start: u64,
    pub code: Vec<Insn>,
}

impl Program {
    /// Parses and decodes a static RISC-V ELF executable.
    pub fn from_elf(bytes: &[u8]) -> Result<Arc<Program>, LoadError> {
        let image = elf::parse(bytes, PROGRAM_ADDRESS_LIMIT)?;
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
        let (code_start, code) = decode_code(&segments)?;
        Ok(Arc::new(Program {
            entry: image.entry,
            segments,
            program_headers_vaddr: image.program_headers_vaddr,
            program_header_count: image.program_header_count,
            program_header_entry_size: image.program_header_entry_size,
            code_start,
            code,
        }))
    }

    /// The pre-decoded instruction at `pc`, if `pc` is in executable memory.
    pub fn insn_at(&self, pc: u64) -> Option<&Insn> {
        if pc & 1 != 0 {
            return None;
        }
        let slot = usize::try_from(pc.wrapping_sub(self.code_start) >> 1).ok()?;
        self.code
            .get(slot)
            .filter(|insn| insn.op != Op::NotExecutable)
    }

    /// Raw instruction bits at `pc` (for trap reports and the disassembler).
    pub fn instruction_bits(&self, pc: u64) -> Option<u32> {
        let segment = self.segments.iter().find(|segment| {
            segment.perms.execute && segment.vaddr <= pc && pc < segment.vaddr + segment.mem_size
        })?;
        let offset = usize::try_from(pc - segment.vaddr).ok()?;
        let byte = |index: usize| segment.data.get(offset + index).copied().unwrap_or(0);
        let low = u16::from_le_bytes([byte(0), byte(1)]);
        if low & 0b11 != 0b11 {
            return Some(u32::from(low));
        }
        Some(u32::from_le_bytes([byte(0), byte(1), byte(2), byte(3)]))
    }
}

/// Decodes every halfword position of the executable span once. Positions inside a 4-byte
/// instruction decode too: a jump there executes whatever those bytes mean, as on hardware.
fn decode_code(segments: &[LoadSegment]) -> Result<(u64, Vec<Insn>), LoadError> {
    let executable = || segments.iter().filter(|segment| segment.perms.execute);
    let start = executable()
        .map(|segment| segment.vaddr)
        .min()
        .ok_or(LoadError::NoCode)?;
    let end = executable()
        .map(|segment| segment.vaddr + segment.mem_size)
        .max()
        .ok_or(LoadError::NoCode)?;
    let span = end - start;
    if span > MAX_CODE_BYTES {
        return Err(LoadError::CodeTooLarge { bytes: span });
    }
    let mut bytes = vec![0u8; span as usize];
    let mut is_executable = vec![false; span as usize];
    for segment in executable() {
        let offset = (segment.vaddr - start) as usize;
        bytes[offset..offset + segment.data.len()].copy_from_slice(&segment.data);
        is_executable[offset..offset + segment.mem_size as usize].fill(true);
    }
    let n_slots = span.div_ceil(2) as usize;
    let mut code: Vec<Insn> = (0..n_slots)
        .map(|slot| {
            let offset = slot * 2;
            if !is_executable[offset] {
                return Insn {
                    op: Op::NotExecutable,
                    ..Insn::illegal(0, 2)
                };
            }
            decode_bytes(&bytes[offset..], Xlen::Rv64)
        })
        .collect();
    // Backwards, so each instruction's successor already knows its own block length.
    for slot in (0..n_slots).rev() {
        let insn = code[slot];
        let next = slot + usize::from(insn.size / 2);
        code[slot].block_rest = match code.get(next) {
            Some(successor) if !insn.op.ends_block() && successor.op != Op::NotExecutable => {
                successor.block_rest.saturating_add(1)
            }
            _ => 1,
        };
    }
    Ok((start, code))
}

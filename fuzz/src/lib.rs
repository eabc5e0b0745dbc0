//! Generators and oracles shared by the fuzz targets; the targets themselves stay thin.

use rvedge::{Isolated, Machine, Options};

/// Where `program_with_code` puts the code, and the writable page after it.
pub const CODE_ADDRESS: u64 = 0x10000;
pub const DATA_ADDRESS: u64 = 0x20000;

const ELF_HEADER_SIZE: usize = 64;
const PROGRAM_HEADER_SIZE: usize = 56;
const PT_LOAD: u32 = 1;
const PF_X: u32 = 1;
const PF_W: u32 = 2;
const PF_R: u32 = 4;
const EM_RISCV: u16 = 243;
const ET_EXEC: u16 = 2;

/// A static RISC-V ELF executable whose code is `code` (at most 64 KiB of it), entered at its
/// first byte, with one zeroed read-write page for data.
pub fn program_with_code(code: &[u8]) -> Vec<u8> {
    let code = &code[..code.len().min(0x10000)];
    let code_offset = ELF_HEADER_SIZE + 2 * PROGRAM_HEADER_SIZE;
    let mut elf = Vec::with_capacity(code_offset + code.len());
    elf.extend_from_slice(b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0");
    elf.extend_from_slice(&ET_EXEC.to_le_bytes());
    elf.extend_from_slice(&EM_RISCV.to_le_bytes());
    elf.extend_from_slice(&1u32.to_le_bytes()); // e_version
    elf.extend_from_slice(&CODE_ADDRESS.to_le_bytes()); // e_entry
    elf.extend_from_slice(&(ELF_HEADER_SIZE as u64).to_le_bytes()); // e_phoff
    elf.extend_from_slice(&0u64.to_le_bytes()); // e_shoff
    elf.extend_from_slice(&0u32.to_le_bytes()); // e_flags
    elf.extend_from_slice(&(ELF_HEADER_SIZE as u16).to_le_bytes());
    elf.extend_from_slice(&(PROGRAM_HEADER_SIZE as u16).to_le_bytes());
    elf.extend_from_slice(&2u16.to_le_bytes()); // e_phnum
    elf.extend_from_slice(&[0; 6]); // no section headers
                                    // The code segment also maps the headers, so AT_PHDR points into memory.
    let code_size = (code_offset + code.len()) as u64;
    let segments = [
        (
            PF_R | PF_X,
            0u64,
            CODE_ADDRESS - code_offset as u64,
            code_size,
            code_size.max(2),
        ),
        (PF_R | PF_W, 0, DATA_ADDRESS, 0, 0x1000),
    ];
    for (flags, offset, vaddr, file_size, mem_size) in segments {
        elf.extend_from_slice(&PT_LOAD.to_le_bytes());
        elf.extend_from_slice(&flags.to_le_bytes());
        elf.extend_from_slice(&offset.to_le_bytes());
        elf.extend_from_slice(&vaddr.to_le_bytes());
        elf.extend_from_slice(&vaddr.to_le_bytes());
        elf.extend_from_slice(&file_size.to_le_bytes());
        elf.extend_from_slice(&mem_size.to_le_bytes());
        elf.extend_from_slice(&0x1000u64.to_le_bytes());
    }
    elf.extend_from_slice(code);
    elf
}

/// Small limits, so a fuzz input cannot make one run expensive.
pub fn small_options() -> Options {
    Options {
        max_memory: 8 << 20,
        stack_size: 64 << 10,
        ..Options::default()
    }
}

/// Oracle: a machine made from a snapshot of a fresh machine behaves exactly like the fresh
/// machine: same stop, same instruction count, same registers.
pub fn check_fork_behaves_as_fresh(elf: &[u8], budget: u64) {
    let Ok(mut fresh) = Machine::from_elf(elf, &small_options(), Box::new(Isolated::default()))
    else {
        return;
    };
    let snapshot = fresh.snapshot();
    let mut fork = Machine::from_snapshot(&snapshot, Box::new(Isolated::default()));
    let fresh_stop = fresh.run(budget);
    let fork_stop = fork.run(budget);
    assert_eq!(fresh_stop, fork_stop);
    assert_eq!(fresh.instructions(), fork.instructions());
    assert!(
        fresh.instructions() <= budget,
        "the budget is never overshot"
    );
    for register in 0..32 {
        assert_eq!(
            fresh.register(register),
            fork.register(register),
            "x{register}"
        );
    }
    assert_eq!(fresh.pc(), fork.pc());
}

//! Jumps far outside the code trap on every host. A jump to `code_start + 2^33 + 16` once ran
//! the instruction at `code_start + 16` on 32-bit hosts (wasm32), where an offset cast to
//! `usize` lost its high bits. This test runs natively and, with
//! `scripts/lib/wasi-run.mjs` as the runner, inside wasm32-wasip1 (scripts/test.sh).
//!
//! The program is built here, byte by byte, so the test needs no files.

use rvedge::{Isolated, Machine, Options, Stop, Trap, TrapKind};

const CODE_START: u64 = 0x10000;

/// An ELF64 RISC-V executable with one read+execute segment holding `code` at CODE_START.
fn executable(code: &[u32]) -> Vec<u8> {
    const HEADER: usize = 64;
    const PROGRAM_HEADER: usize = 56;
    let code_offset = HEADER + PROGRAM_HEADER;
    let code_bytes: Vec<u8> = code.iter().flat_map(|word| word.to_le_bytes()).collect();
    let file_size = (code_offset + code_bytes.len()) as u64;
    let mut elf = Vec::new();
    elf.extend_from_slice(b"\x7fELF");
    elf.extend_from_slice(&[2, 1, 1]); // ELFCLASS64, little-endian, version 1
    elf.resize(16, 0);
    elf.extend_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    elf.extend_from_slice(&243u16.to_le_bytes()); // EM_RISCV
    elf.extend_from_slice(&1u32.to_le_bytes());
    elf.extend_from_slice(&(CODE_START + code_offset as u64).to_le_bytes()); // entry
    elf.extend_from_slice(&(HEADER as u64).to_le_bytes()); // e_phoff
    elf.extend_from_slice(&0u64.to_le_bytes()); // e_shoff
    elf.extend_from_slice(&0u32.to_le_bytes()); // e_flags
    elf.extend_from_slice(&(HEADER as u16).to_le_bytes());
    elf.extend_from_slice(&(PROGRAM_HEADER as u16).to_le_bytes());
    elf.extend_from_slice(&1u16.to_le_bytes()); // e_phnum
    elf.resize(HEADER, 0);
    elf.extend_from_slice(&1u32.to_le_bytes()); // PT_LOAD
    elf.extend_from_slice(&5u32.to_le_bytes()); // PF_R | PF_X
    elf.extend_from_slice(&0u64.to_le_bytes()); // p_offset: the headers are loaded too
    elf.extend_from_slice(&CODE_START.to_le_bytes());
    elf.extend_from_slice(&CODE_START.to_le_bytes());
    elf.extend_from_slice(&file_size.to_le_bytes());
    elf.extend_from_slice(&file_size.to_le_bytes());
    elf.extend_from_slice(&0x1000u64.to_le_bytes());
    elf.extend_from_slice(&code_bytes);
    elf
}

#[test]
fn a_jump_2_to_the_33_bytes_past_the_code_is_a_fetch_fault() {
    let program = executable(&[
        0x0000_0297, // auipc t0, 0          t0 = this instruction's address
        0x0010_031b, // addiw t1, zero, 1
        0x0213_1313, // slli t1, t1, 33
        0x0062_82b3, // add t0, t0, t1
        0x0182_8293, // addi t0, t0, 24      the exit below, 2^33 bytes further on
        0x0002_8067, // jr t0
        0x02a0_0513, // li a0, 42
        0x05d0_0893, // li a7, 93
        0x0000_0073, // ecall                exit(42)
    ]);
    let mut machine =
        Machine::from_elf(&program, &Options::default(), Box::new(Isolated::default()))
            .expect("the program loads");
    let entry = machine.pc();
    assert_eq!(
        machine.run(1000),
        Stop::Trap(Trap {
            pc: entry + (1 << 33) + 24,
            kind: TrapKind::InstructionFetch,
        })
    );
}

#[test]
fn a_jump_within_the_code_runs() {
    // The same program with the jump kept near: it reaches the exit.
    let program = executable(&[
        0x0000_0297, // auipc t0, 0
        0x0182_8293, // addi t0, t0, 24
        0x0002_8067, // jr t0
        0x0000_0013, // nop
        0x0000_0013, // nop
        0x0000_0013, // nop
        0x02a0_0513, // li a0, 42
        0x05d0_0893, // li a7, 93
        0x0000_0073, // ecall
    ]);
    let mut machine =
        Machine::from_elf(&program, &Options::default(), Box::new(Isolated::default()))
            .expect("the program loads");
    assert_eq!(machine.run(1000), Stop::Exited(42));
}

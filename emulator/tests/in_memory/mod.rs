//! Programs built here byte by byte, so tests need no files: they run inside wasm (under
//! Node's WASI) and under Miri too.

use rvedge::{Isolated, Machine, Options, Stop, Trap, TrapKind, Xlen};

pub const CODE_START: u64 = 0x10000;

/// A RISC-V executable of width `xlen` with one read+execute segment holding `code` at
/// CODE_START (headers included), entered at the first instruction.
pub fn executable(xlen: Xlen, code: &[u32]) -> Vec<u8> {
    let (class, header, program_header) = match xlen {
        Xlen::Rv32 => (1u8, 52usize, 32usize),
        Xlen::Rv64 => (2, 64, 56),
    };
    let word = |value: u64| -> Vec<u8> {
        match xlen {
            Xlen::Rv32 => u32::try_from(value).unwrap().to_le_bytes().to_vec(),
            Xlen::Rv64 => value.to_le_bytes().to_vec(),
        }
    };
    let code_offset = header + program_header;
    let code_bytes: Vec<u8> = code.iter().flat_map(|insn| insn.to_le_bytes()).collect();
    let file_size = (code_offset + code_bytes.len()) as u64;
    let mut elf = Vec::new();
    elf.extend_from_slice(b"\x7fELF");
    elf.extend_from_slice(&[class, 1, 1]); // little-endian, version 1
    elf.resize(16, 0);
    elf.extend_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    elf.extend_from_slice(&243u16.to_le_bytes()); // EM_RISCV
    elf.extend_from_slice(&1u32.to_le_bytes());
    elf.extend(word(CODE_START + code_offset as u64)); // e_entry
    elf.extend(word(header as u64)); // e_phoff
    elf.extend(word(0)); // e_shoff
    elf.extend_from_slice(&0u32.to_le_bytes()); // e_flags
    elf.extend_from_slice(&(header as u16).to_le_bytes());
    elf.extend_from_slice(&(program_header as u16).to_le_bytes());
    elf.extend_from_slice(&1u16.to_le_bytes()); // e_phnum
    elf.resize(header, 0);
    let (flags, load) = (5u32.to_le_bytes(), 1u32.to_le_bytes()); // PF_R | PF_X, PT_LOAD
    elf.extend_from_slice(&load);
    if xlen == Xlen::Rv64 {
        elf.extend_from_slice(&flags);
    }
    elf.extend(word(0)); // p_offset: the headers are loaded too
    elf.extend(word(CODE_START)); // p_vaddr
    elf.extend(word(CODE_START)); // p_paddr
    elf.extend(word(file_size)); // p_filesz
    elf.extend(word(file_size)); // p_memsz
    if xlen == Xlen::Rv32 {
        elf.extend_from_slice(&flags);
    }
    elf.extend(word(0x1000)); // p_align
    elf.extend_from_slice(&code_bytes);
    elf
}

/// The machine for `code` (of width `xlen`) as built, and the same one profiled: tests of the
/// interpreter's fast paths run both, the threaded dispatch (optimized native builds) and the
/// `match` loop (profiled runs, wasm32).
#[allow(
    dead_code,
    reason = "some of the test crates that include this module use it"
)]
pub fn machines(xlen: Xlen, code: &[u32]) -> [Machine; 2] {
    let mut profiled = machine(xlen, code);
    profiled.start_profile();
    [machine(xlen, code), profiled]
}

/// The machine for `code` (of width `xlen`), isolated, with the default options.
pub fn machine(xlen: Xlen, code: &[u32]) -> Machine {
    Machine::from_elf(
        &executable(xlen, code),
        &Options::default(),
        Box::new(Isolated::default()),
    )
    .expect("the program loads")
}

/// Steps `machine` until it stops: why, and the instructions it has counted by then.
#[allow(
    dead_code,
    reason = "some of the test crates that include this module use it"
)]
pub fn step_until_stopped(machine: &mut Machine) -> (Stop, u64) {
    loop {
        if let Some(stop) = machine.step() {
            return (stop, machine.instructions());
        }
    }
}

/// Runs `machine` (with at most `budget` instructions) and checks that it stopped at the store
/// `offset` bytes into its code, faulting on the code's first byte: the programs that take
/// the code's address (`auipc t0, 0`) and store through it, since code is not writable.
#[allow(
    dead_code,
    reason = "some of the test crates that include this module use it"
)]
pub fn assert_store_to_code_faults_at(machine: &mut Machine, budget: u64, offset: u64) {
    let entry = machine.pc();
    assert_eq!(
        machine.run(budget),
        Stop::Trap(Trap {
            pc: entry + offset,
            kind: TrapKind::Store { addr: entry },
        })
    );
}

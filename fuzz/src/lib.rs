//! Generators and oracles shared by the fuzz targets; the targets themselves stay thin.

pub mod host_functions;
pub mod qemu;
pub mod tenant_calls;

use rvedge::{Isolated, Machine, Options, Stop};

/// Where scripts/build-guests.sh puts the guests: `$GUEST_OUT`, else `guests/` in the target
/// directory.
fn guests_dir() -> std::path::PathBuf {
    std::env::var_os("GUEST_OUT")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            let target = std::env::var_os("CARGO_TARGET_DIR")
                .map(std::path::PathBuf::from)
                .unwrap_or_else(|| {
                    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target")
                });
            target.join("guests")
        })
}

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

/// Reads a fuzz input front to back; bytes past its end read as 0, so every input means
/// something.
pub struct InputReader<'a> {
    data: &'a [u8],
}

impl<'a> InputReader<'a> {
    pub fn new(data: &'a [u8]) -> InputReader<'a> {
        InputReader { data }
    }

    pub fn remaining(&self) -> usize {
        self.data.len()
    }

    pub fn byte(&mut self) -> u8 {
        let [byte] = self.array();
        byte
    }

    pub fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut bytes = [0; N];
        let n_bytes = N.min(self.data.len());
        bytes[..n_bytes].copy_from_slice(&self.data[..n_bytes]);
        self.data = &self.data[n_bytes..];
        bytes
    }

    /// A length byte (in units of `max / 256`), then that many bytes (fewer at the end of the
    /// input).
    pub fn bytes(&mut self, max: usize) -> Vec<u8> {
        let unit = max.div_ceil(256);
        let length = (usize::from(self.byte()) * unit)
            .min(max)
            .min(self.data.len());
        let (taken, rest) = self.data.split_at(length);
        self.data = rest;
        taken.to_vec()
    }
}

/// Small limits, so a fuzz input cannot make one run expensive.
pub fn small_options() -> Options {
    Options {
        max_memory: 8 << 20,
        stack_size: 64 << 10,
        ..Options::default()
    }
}

/// A fresh machine for `elf`, if it loads.
fn fresh_machine(elf: &[u8]) -> Option<Machine> {
    Machine::from_elf(elf, &small_options(), Box::new(Isolated::default())).ok()
}

/// A copy of `machine`'s environment, for its forks, so `getrandom` goes on from the same
/// point in all of them (the fuzz machines all use [`Isolated`]).
fn environment_of(machine: &mut Machine) -> Isolated {
    let environment: &mut dyn core::any::Any = machine.environment();
    environment
        .downcast_mut::<Isolated>()
        .expect("fuzz machines run in Isolated")
        .clone()
}

/// What can be seen of a machine after a run: how it stopped, its registers, and memory that
/// its registers, its stack and its data page point at. Two machines that ran the same way
/// compare equal.
#[derive(Debug, PartialEq, Eq)]
pub struct MachineState {
    pub stop: Stop,
    pub instructions: u64,
    pub pc: u64,
    pub registers: [u64; 32],
    pub float_registers: [u64; 32],
    /// (address, bytes there or None where not readable): 64 bytes at each register's value,
    /// the data page, and the 256 bytes around the stack pointer.
    pub memory: Vec<(u64, Option<Vec<u8>>)>,
}

/// Asserts that two machines ended in the same state, naming what differs.
#[track_caller]
pub fn assert_same_state(left: &MachineState, right: &MachineState, context: &str) {
    if left == right {
        return;
    }
    let mut differences = Vec::new();
    let mut differ = |what: String, left: String, right: String| {
        if left != right {
            differences.push(format!("{what}: {left} vs {right}"));
        }
    };
    differ(
        "stop".into(),
        format!("{:?}", left.stop),
        format!("{:?}", right.stop),
    );
    differ(
        "instructions".into(),
        left.instructions.to_string(),
        right.instructions.to_string(),
    );
    differ(
        "pc".into(),
        format!("{:#x}", left.pc),
        format!("{:#x}", right.pc),
    );
    for index in 0..32 {
        let hex = |value: u64| format!("{value:#x}");
        differ(
            format!("x{index}"),
            hex(left.registers[index]),
            hex(right.registers[index]),
        );
        differ(
            format!("f{index}"),
            hex(left.float_registers[index]),
            hex(right.float_registers[index]),
        );
    }
    for ((address, left_bytes), (_, right_bytes)) in left.memory.iter().zip(&right.memory) {
        match (left_bytes, right_bytes) {
            (Some(left_bytes), Some(right_bytes)) => {
                let first = left_bytes.iter().zip(right_bytes).position(|(a, b)| a != b);
                if let Some(offset) = first {
                    let end = (offset + 16).min(left_bytes.len());
                    differ(
                        format!("memory at {:#x}", *address + offset as u64),
                        format!("{:02x?}", &left_bytes[offset..end]),
                        format!("{:02x?}", &right_bytes[offset..end]),
                    );
                }
            }
            _ => differ(
                format!("memory at {address:#x} readable"),
                left_bytes.is_some().to_string(),
                right_bytes.is_some().to_string(),
            ),
        }
    }
    panic!(
        "{context}: the machines differ\n  {}",
        differences.join("\n  ")
    );
}

impl MachineState {
    pub fn capture(machine: &mut Machine, stop: Stop) -> MachineState {
        let registers: [u64; 32] = core::array::from_fn(|index| machine.register(index));
        let float_registers = core::array::from_fn(|index| machine.float_register(index));
        let mut windows: Vec<(u64, usize)> = registers.iter().map(|&addr| (addr, 64)).collect();
        windows.push((DATA_ADDRESS, 0x1000));
        windows.push((registers[2].wrapping_sub(128), 256));
        let memory = windows
            .into_iter()
            .map(|(addr, length)| {
                let mut bytes = vec![0; length];
                (
                    addr,
                    machine.read_memory(addr, &mut bytes).ok().map(|()| bytes),
                )
            })
            .collect();
        MachineState {
            stop,
            instructions: machine.instructions(),
            pc: machine.pc(),
            registers,
            float_registers,
            memory,
        }
    }
}

/// Oracle: a machine made from a snapshot of a fresh machine behaves exactly like the fresh
/// machine: same stop, same instruction count, same registers and memory.
pub fn check_fork_behaves_as_fresh(elf: &[u8], budget: u64) {
    let Some(mut fresh) = fresh_machine(elf) else {
        return;
    };
    let snapshot = fresh.snapshot();
    let mut fork = Machine::from_snapshot(&snapshot, Box::new(environment_of(&mut fresh)));
    let fresh_stop = fresh.run(budget);
    let fork_stop = fork.run(budget);
    assert!(
        fresh.instructions() <= budget,
        "the budget is never overshot"
    );
    assert_same_state(
        &MachineState::capture(&mut fresh, fresh_stop),
        &MachineState::capture(&mut fork, fork_stop),
        "a fresh machine and a fork of its snapshot",
    );
}

/// The midway split point and the code of a [`check_fork_midway`] input.
pub fn midway_input(data: &[u8]) -> (u64, &[u8]) {
    match data {
        [low, high, code @ ..] => (u64::from(u16::from_le_bytes([*low, *high])), code),
        _ => (0, &[]),
    }
}

/// Oracle: a machine snapshotted in the middle of a run (after `split` instructions, or at a
/// host call) goes on exactly like a fork made from that snapshot, and like a second fork
/// made after both ran, so neither the original nor a fork wrote into the snapshot's pages.
pub fn check_fork_midway(elf: &[u8], split: u64, budget: u64) {
    let Some(mut original) = fresh_machine(elf) else {
        return;
    };
    let first_stop = original.run(split.min(budget));
    if !matches!(first_stop, Stop::BudgetExhausted | Stop::HostCall(_)) {
        return;
    }
    let rest = budget - original.instructions().min(budget);
    let snapshot = original.snapshot();
    let environment = environment_of(&mut original);
    let mut fork = Machine::from_snapshot(&snapshot, Box::new(environment.clone()));
    let original_stop = original.run(rest);
    assert!(
        original.instructions() <= budget,
        "the budget is never overshot"
    );
    let original_state = MachineState::capture(&mut original, original_stop);
    let fork_stop = fork.run(rest);
    assert_same_state(
        &original_state,
        &MachineState::capture(&mut fork, fork_stop),
        &format!(
            "the original and a fork made {}",
            snapshot_point(split, first_stop)
        ),
    );
    let mut later_fork = Machine::from_snapshot(&snapshot, Box::new(environment));
    let later_stop = later_fork.run(rest);
    assert_same_state(
        &original_state,
        &MachineState::capture(&mut later_fork, later_stop),
        "the original and a fork made after the original and another fork ran",
    );
}

fn snapshot_point(split: u64, stop: Stop) -> String {
    match stop {
        Stop::HostCall(number) => format!("at host call {number} (before instruction {split})"),
        _ => format!("after {split} instructions"),
    }
}

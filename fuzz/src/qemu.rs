//! "Same as qemu": short straight-line programs run in rvedge and in qemu-riscv64 (an RV64GC
//! CPU, in one long-lived process running `fuzz/qemu/harness.c`) from the same registers, and
//! must stop at the same instruction for the same reason with the same registers.
//!
//! Programs hold no jumps, branches or system calls: integer and floating-point arithmetic,
//! conversions, moves, `fence`, the floating-point CSRs, loads, stores and atomics, and
//! encodings that are illegal in RV64GC. Every memory access is based on x30, which points
//! into the middle of a data page and which no instruction may change (the generator rewrites
//! the base register of accesses and destinations x30), so a program can reach nothing but
//! its page (and the unmapped page after it) and cannot touch the harness it runs in.
//! Compressed loads and stores, whose base registers cannot be x30, are left out.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Mutex;

use rvedge::decode::{decode_bytes, Xlen};
use rvedge::{Isolated, Machine, Stop, TrapKind};

use crate::{program_with_code, small_options, InputReader, CODE_ADDRESS, DATA_ADDRESS};

/// RV64GC as rvedge implements it: qemu 7.2's `rv64` also has the bit-manipulation
/// extensions, which we turn off.
const QEMU_CPU: &str = "rv64,zba=true,zbb=true,zbc=true,zbs=true,v=false,h=false";

/// Most instructions in a program's body.
const MAX_BODY_INSTRUCTIONS: usize = 32;

/// The data page's size, and the register every memory access is based on: it points at the
/// middle of the page, so 12-bit offsets reach all of it (and just past its end).
const DATA_BYTES: usize = 0x1000;
const BASE_REGISTER: u32 = 30;
const BASE_ADDRESS: u64 = DATA_ADDRESS + 0x800;
/// What a destination x30 becomes.
const SPARE_REGISTER: u32 = 29;

/// The data page's first contents, byte by byte: `data_byte` of `qemu/harness.c`.
fn data_byte(offset: usize) -> u8 {
    (offset as u8).wrapping_mul(0x9d).wrapping_add(0x17)
}

/// Register values the inputs choose from (then mixed with the input's bytes), so programs
/// meet the edge cases of integer and floating-point arithmetic.
const INTEGER_VALUES: [u64; 16] = [
    0,
    1,
    u64::MAX,
    i64::MIN as u64,
    i64::MAX as u64,
    0x8000_0000,
    0x7fff_ffff,
    0xffff_ffff,
    0xffff_ffff_8000_0000,
    0x1_0000_0000,
    2,
    31,
    32,
    63,
    64,
    0x5555_5555_5555_5555,
];

const FLOAT_VALUES: [u64; 24] = [
    0,                     // +0.0
    0x8000_0000_0000_0000, // -0.0
    0x3ff0_0000_0000_0000, // 1.0
    0xbff0_0000_0000_0000, // -1.0
    0x7ff0_0000_0000_0000, // +inf
    0xfff0_0000_0000_0000, // -inf
    0x7ff8_0000_0000_0000, // canonical NaN
    0x7ff4_0000_0000_0000, // signaling NaN
    0x0000_0000_0000_0001, // smallest subnormal
    0x7fef_ffff_ffff_ffff, // largest finite
    0x43e0_0000_0000_0000, // 2^63
    0x43f0_0000_0000_0000, // 2^64
    0x3fe0_0000_0000_0000, // 0.5
    0x4004_0000_0000_0000, // 2.5
    0xc1e0_0000_0000_0000, // -2^31
    0x41e0_0000_0000_0000, // 2^31
    0xffff_ffff_0000_0000, // boxed +0.0f
    0xffff_ffff_8000_0000, // boxed -0.0f
    0xffff_ffff_3f80_0000, // boxed 1.0f
    0xffff_ffff_7f80_0000, // boxed +inf f
    0xffff_ffff_7fc0_0000, // boxed canonical NaN f
    0xffff_ffff_7fa0_0000, // boxed signaling NaN f
    0xffff_ffff_0000_0001, // boxed subnormal f
    0x0000_0000_3f80_0000, // 1.0f, not boxed (reads as NaN)
];

/// One program: the registers it starts with and its code (prologue, body, epilogue).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StraightLineProgram {
    /// x1..x31.
    pub registers: [u64; 31],
    pub float_registers: [u64; 32],
    pub code: Vec<u8>,
}

/// A value from `pool` chosen by `choice`'s low bits, its high bits flipping some low bits, so
/// values near the edge cases come up too.
fn pooled(pool: &[u64], choice: u8) -> u64 {
    let value = pool[usize::from(choice) % pool.len()];
    match choice >> 6 {
        0 | 1 => value,
        2 => value ^ 1,
        _ => value.wrapping_add(u64::from(choice & 0x3f) << 20),
    }
}

const LOAD: u32 = 0x03;
const LOAD_FP: u32 = 0x07;
const MISC_MEM: u32 = 0x0f;
const STORE: u32 = 0x23;
const STORE_FP: u32 = 0x27;
const AMO: u32 = 0x2f;
const OP: u32 = 0x33;
const OP_IMM_32: u32 = 0x1b;
const OP_V: u32 = 0x57;
const BRANCH: u32 = 0x63;
const JALR: u32 = 0x67;
const JAL: u32 = 0x6f;
const SYSTEM: u32 = 0x73;

/// A 32-bit instruction confined to registers and the data page: memory accesses based on
/// x30, destination x30 moved to x29. None for jumps, branches, system calls, CSRs other than
/// the floating-point ones (counters differ between machines), cache-block operations, and
/// the vector loads, stores and moves qemu runs without V.
fn confined(word: u32) -> Option<u32> {
    let funct3 = (word >> 12) & 7;
    let opcode = word & 0x7f;
    let allowed = match opcode {
        BRANCH | JALR | JAL => false,
        // Scalar widths only: qemu 7.2 runs the whole-register vector loads and stores
        // (vl1r.v, vs1r.v) even with V turned off.
        LOAD_FP | STORE_FP => (1..=4).contains(&funct3),
        // Likewise the whole-register moves (vmv1r.v .. vmv8r.v: OPIVI, funct6 0b100111).
        OP_V => !(funct3 == 3 && word >> 26 == 0b10_0111),
        // fence and fence.i; the rest of the space holds cache-block operations.
        MISC_MEM => funct3 <= 1,
        SYSTEM => funct3 != 0 && funct3 != 4 && (1..=3).contains(&(word >> 20)),
        // Where qemu 7.2 cannot be the reference (tests/guests/bitmanip/beyond_qemu.c):
        // Zicond (czero.eqz, czero.nez), which it predates, and ctzw, which it counts into the
        // high word.
        OP => !(word >> 25 == 0b000_0111 && (funct3 == 5 || funct3 == 7)),
        OP_IMM_32 => !(word >> 20 == 0x601 && funct3 == 1),
        _ => true,
    };
    if !allowed {
        return None;
    }
    let mut word = word;
    // An SC of another width than its LR may succeed or fail (the ISA leaves it to the
    // implementation: qemu 7.2 fails sc.w after lr.d, rvedge does not), so every LR/SC pair
    // here is a doubleword one; the ISA tests check lr.w/sc.w.
    let lr_or_sc = matches!(word >> 27, 0b00010 | 0b00011);
    if opcode == AMO && lr_or_sc && (funct3 == 2 || funct3 == 3) {
        word = (word & !(7 << 12)) | 3 << 12;
    }
    if matches!(opcode, LOAD | LOAD_FP | STORE | STORE_FP | AMO) {
        word = (word & !(0x1f << 15)) | BASE_REGISTER << 15;
    }
    // Stores keep an immediate where other instructions have rd.
    if !matches!(opcode, STORE | STORE_FP) && (word >> 7) & 0x1f == BASE_REGISTER {
        word = (word & !(0x1f << 7)) | SPARE_REGISTER << 7;
    }
    Some(word)
}

/// A compressed instruction confined to registers (destination x30 moved to x29), or None
/// for loads, stores, jumps and branches.
fn compressed_confined(halfword: u16) -> Option<u16> {
    let funct3 = halfword >> 13;
    let full_register_destination = match halfword & 3 {
        // c.addi4spn (and the all-zero illegal instruction) has a 3-bit rd; the rest of
        // quadrant 0 are loads and stores.
        0 if funct3 == 0 => false,
        0 => return None,
        // c.addi, c.addiw, c.li, c.lui; c.srli .. c.and have 3-bit registers; 101..111 are
        // c.j, c.beqz, c.bnez.
        1 if funct3 <= 3 => true,
        1 if funct3 == 4 => false,
        1 => return None,
        // c.slli, and c.mv / c.add (rs2 != 0); rs2 == 0 is c.jr, c.jalr, c.ebreak; the rest
        // are stack loads and stores.
        _ if funct3 == 0 || (funct3 == 4 && (halfword >> 2) & 0x1f != 0) => true,
        _ => return None,
    };
    if full_register_destination && u32::from((halfword >> 7) & 0x1f) == BASE_REGISTER {
        return Some((halfword & !(0x1f << 7)) | (SPARE_REGISTER as u16) << 7);
    }
    Some(halfword)
}

const EBREAK: u32 = 0x0010_0073;
/// `csrrwi zero, frm, imm` and `csrrwi zero, fflags, imm` without the immediate.
const WRITE_FRM: u32 = 0x0020_5073;
const WRITE_FFLAGS: u32 = 0x0010_5073;
/// `csrrs t6, fcsr, zero`: the epilogue makes `fcsr` visible in x31.
const READ_FCSR_INTO_T6: u32 = 0x0030_2ff3;

impl StraightLineProgram {
    pub fn from_bytes(data: &[u8]) -> StraightLineProgram {
        let mut reader = InputReader::new(data);
        let integer_choices: [u8; 31] = reader.array();
        let float_choices: [u8; 32] = reader.array();
        let fcsr = reader.byte();
        let mut registers = integer_choices.map(|choice| pooled(&INTEGER_VALUES, choice));
        registers[BASE_REGISTER as usize - 1] = BASE_ADDRESS;
        let float_registers = float_choices.map(|choice| pooled(&FLOAT_VALUES, choice));
        let mut code = Vec::new();
        let immediate = |value: u8| u32::from(value & 0x1f) << 15;
        code.extend_from_slice(&(WRITE_FRM | immediate(fcsr & 7)).to_le_bytes());
        code.extend_from_slice(&(WRITE_FFLAGS | immediate(fcsr >> 3)).to_le_bytes());
        let mut body_instructions = 0;
        while body_instructions < MAX_BODY_INSTRUCTIONS && reader.remaining() >= 2 {
            let low = u16::from_le_bytes(reader.array());
            let confined_bytes = if low & 3 != 3 {
                compressed_confined(low).map(|halfword| halfword.to_le_bytes().to_vec())
            } else {
                let high = u16::from_le_bytes(reader.array());
                confined(u32::from(high) << 16 | u32::from(low))
                    .map(|word| word.to_le_bytes().to_vec())
            };
            if let Some(bytes) = confined_bytes {
                code.extend_from_slice(&bytes);
                body_instructions += 1;
            }
        }
        code.extend_from_slice(&READ_FCSR_INTO_T6.to_le_bytes());
        code.extend_from_slice(&EBREAK.to_le_bytes());
        StraightLineProgram {
            registers,
            float_registers,
            code,
        }
    }

    /// The address of the final `ebreak`.
    fn end(&self) -> u64 {
        CODE_ADDRESS + self.code.len() as u64 - 4
    }

    /// The program's instructions, one per line, for failure messages.
    pub fn listing(&self) -> String {
        let mut listing = String::new();
        let mut offset = 0;
        while offset < self.code.len() {
            let (insn, size) = decode_bytes(&self.code[offset..], Xlen::Rv64);
            let pc = CODE_ADDRESS + offset as u64;
            let bits = &self.code[offset..offset + usize::from(size)];
            let hex: String = bits
                .iter()
                .rev()
                .map(|byte| format!("{byte:02x}"))
                .collect();
            listing += &format!("  {pc:#x}: {hex:>8}  {}\n", insn.disassemble(pc));
            offset += usize::from(size);
        }
        listing
    }
}

/// How a program stopped and the registers and data it left, in rvedge or in qemu.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// "end" (the final ebreak), "breakpoint", "illegal instruction", "memory fault",
    /// "misaligned atomic", or anything else that happened.
    pub stop: String,
    pub pc: u64,
    pub registers: [u64; 31],
    pub float_registers: [u64; 32],
    pub data: Vec<u8>,
}

/// Runs `program` in rvedge.
pub fn run_in_rvedge(program: &StraightLineProgram) -> Outcome {
    let elf = program_with_code(&program.code);
    let mut machine = Machine::from_elf(&elf, &small_options(), Box::new(Isolated::default()))
        .expect("a straight-line program loads");
    for (index, &value) in program.registers.iter().enumerate() {
        machine.set_register(index + 1, value);
    }
    for (index, &bits) in program.float_registers.iter().enumerate() {
        machine.set_float_register(index, bits);
    }
    let data: Vec<u8> = (0..DATA_BYTES).map(data_byte).collect();
    machine
        .write_memory(DATA_ADDRESS, &data)
        .expect("the data page is writable");
    let stop = machine.run(1000);
    let (stop, pc) = match stop {
        Stop::Trap(trap) => {
            let name = match trap.kind {
                TrapKind::Breakpoint if trap.pc == program.end() => "end".into(),
                TrapKind::Breakpoint => "breakpoint".into(),
                TrapKind::IllegalInstruction { .. } => "illegal instruction".into(),
                TrapKind::Load { .. } | TrapKind::Store { .. } => "memory fault".into(),
                TrapKind::MisalignedAtomic { .. } => "misaligned atomic".into(),
                other => format!("{other:?}"),
            };
            (name, trap.pc)
        }
        other => (format!("{other:?}"), machine.pc()),
    };
    let mut data = vec![0; DATA_BYTES];
    machine
        .read_memory(DATA_ADDRESS, &mut data)
        .expect("the data page is readable");
    Outcome {
        stop,
        pc,
        registers: core::array::from_fn(|index| machine.register(index + 1)),
        float_registers: core::array::from_fn(|index| machine.float_register(index)),
        data,
    }
}

/// The qemu-riscv64 process running the harness.
struct Harness {
    child: Child,
    input: ChildStdin,
    output: ChildStdout,
}

const SIGILL: u32 = 4;
const SIGTRAP: u32 = 5;
const SIGBUS: u32 = 7;
const SIGSEGV: u32 = 11;

/// Runs `program` in qemu-riscv64 (starting the harness the first time).
pub fn run_in_qemu(program: &StraightLineProgram) -> Outcome {
    static HARNESS: Mutex<Option<Harness>> = Mutex::new(None);
    let mut harness = HARNESS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let harness = harness.get_or_insert_with(start_harness);
    let mut request = Vec::with_capacity(4 + 63 * 8 + program.code.len());
    request.extend_from_slice(&(program.code.len() as u32).to_le_bytes());
    for value in program.registers.iter().chain(&program.float_registers) {
        request.extend_from_slice(&value.to_le_bytes());
    }
    request.extend_from_slice(&program.code);
    let mut answer = [0u8; 4 + 8 + 63 * 8 + 8 + DATA_BYTES];
    let exchanged = harness
        .input
        .write_all(&request)
        .and_then(|()| harness.input.flush())
        .and_then(|()| harness.output.read_exact(&mut answer));
    if let Err(error) = exchanged {
        let status = harness.child.try_wait();
        panic!("the qemu harness died ({error}; exit status {status:?})");
    }
    let signal = u32::from_le_bytes(answer[..4].try_into().expect("4 bytes"));
    let word = |index: usize| {
        let start = 4 + 8 * index;
        u64::from_le_bytes(answer[start..start + 8].try_into().expect("8 bytes"))
    };
    let pc = word(0);
    let stop = match signal {
        SIGTRAP if pc == program.end() => "end".into(),
        SIGTRAP => "breakpoint".into(),
        SIGILL => "illegal instruction".into(),
        SIGSEGV => "memory fault".into(),
        SIGBUS => "misaligned atomic".into(),
        other => format!("signal {other}"),
    };
    Outcome {
        stop,
        pc,
        registers: core::array::from_fn(|index| word(1 + index)),
        float_registers: core::array::from_fn(|index| word(32 + index)),
        data: answer[answer.len() - DATA_BYTES..].to_vec(),
    }
}

fn start_harness() -> Harness {
    let binary = build_harness();
    let mut child = Command::new("qemu-riscv64")
        .args(["-cpu", QEMU_CPU])
        .arg(&binary)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| {
            panic!("cannot start qemu-riscv64 (scripts/bootstrap.sh installs it): {error}")
        });
    Harness {
        input: child.stdin.take().expect("piped"),
        output: child.stdout.take().expect("piped"),
        child,
    }
}

/// Compiles the harness if it is missing or older than its source, and returns its path.
fn build_harness() -> PathBuf {
    // The checkout the fuzzer runs in first (scripts/fuzz.sh runs it from the repository
    // root): checkouts sharing a target directory share the fuzz build, and the path compiled
    // in may be another checkout's, or gone.
    let in_checkout = Path::new("fuzz/qemu/harness.c");
    let source = if in_checkout.is_file() {
        in_checkout.to_path_buf()
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("qemu/harness.c")
    };
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let binary = target.join("qemu-harness");
    let modified = |path: &Path| {
        std::fs::metadata(path)
            .and_then(|meta| meta.modified())
            .ok()
    };
    if modified(&binary).is_some() && modified(&binary) >= modified(&source) {
        return binary;
    }
    std::fs::create_dir_all(&target).expect("the target directory can be created");
    // Linked high, so the programs' code address is free; -mno-relax because the signal
    // handler runs with the program's gp.
    let status = Command::new("riscv64-linux-gnu-gcc")
        .args([
            "-static",
            "-O2",
            "-mno-relax",
            "-Wl,-Ttext-segment=0x40000000",
            "-o",
        ])
        .arg(&binary)
        .arg(&source)
        .status()
        .unwrap_or_else(|error| {
            panic!("cannot run riscv64-linux-gnu-gcc (scripts/bootstrap.sh installs it): {error}")
        });
    assert!(status.success(), "the qemu harness does not compile");
    binary
}

/// Oracle: rvedge runs a straight-line program as qemu-riscv64 does.
pub fn check_same_as_qemu(data: &[u8]) {
    let program = StraightLineProgram::from_bytes(data);
    let ours = run_in_rvedge(&program);
    let theirs = run_in_qemu(&program);
    if ours == theirs {
        return;
    }
    let mut report = format!(
        "rvedge and qemu differ on\n{}rvedge: {} at {:#x}; qemu: {} at {:#x}\n",
        program.listing(),
        ours.stop,
        ours.pc,
        theirs.stop,
        theirs.pc
    );
    for index in 0..31 {
        if ours.registers[index] != theirs.registers[index] {
            report += &format!(
                "  x{}: started {:#x}, rvedge {:#x}, qemu {:#x}\n",
                index + 1,
                program.registers[index],
                ours.registers[index],
                theirs.registers[index]
            );
        }
    }
    for index in 0..32 {
        if ours.float_registers[index] != theirs.float_registers[index] {
            report += &format!(
                "  f{index}: started {:#x}, rvedge {:#x}, qemu {:#x}\n",
                program.float_registers[index],
                ours.float_registers[index],
                theirs.float_registers[index]
            );
        }
    }
    if let Some(offset) = (0..DATA_BYTES).find(|&offset| ours.data[offset] != theirs.data[offset]) {
        let end = (offset + 16).min(DATA_BYTES);
        report += &format!(
            "  data at {:#x}: rvedge {:02x?}, qemu {:02x?}\n",
            DATA_ADDRESS + offset as u64,
            &ours.data[offset..end],
            &theirs.data[offset..end]
        );
    }
    panic!("{report}");
}

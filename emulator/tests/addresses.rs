//! Guest addresses at the edges, on programs built here byte by byte (so the tests need no
//! files and run inside wasm too: scripts/test.sh runs this file in wasm32-wasip1 under
//! Node's WASI, `scripts/lib/wasi-run.mjs`).
//!
//! - A jump to `code_start + 2^33 + 24` once ran the instruction at `code_start + 24` on
//!   32-bit hosts (wasm32), where an offset cast to `usize` lost its high bits.
//! - An RV32 program computes addresses in 64 bits on sign-extended registers: what wraps in
//!   32 bits must fault or land exactly as on a 32-bit machine, and traps report 32-bit
//!   addresses.

mod in_memory;

use rvedge::interp::UNDECODED_PRICE;
use rvedge::syscall::SYSCALL_COST;
use rvedge::{Stop, Trap, TrapKind, Xlen};

fn run(xlen: Xlen, code: &[u32]) -> (Stop, u64) {
    let mut machine = in_memory::machine(xlen, code);
    let entry = machine.pc();
    (machine.run(1000), entry)
}

const EXIT_42: [u32; 3] = [
    0x02a0_0513, // li a0, 42
    0x05d0_0893, // li a7, 93
    0x0000_0073, // ecall
];

#[test]
fn a_jump_2_to_the_33_bytes_past_the_code_is_a_fetch_fault() {
    let mut code = vec![
        0x0000_0297, // auipc t0, 0          t0 = this instruction's address
        0x0010_031b, // addiw t1, zero, 1
        0x0213_1313, // slli t1, t1, 33
        0x0062_82b3, // add t0, t0, t1
        0x0182_8293, // addi t0, t0, 24      the exit below, 2^33 bytes further on
        0x0002_8067, // jr t0
    ];
    code.extend(EXIT_42);
    let (stop, entry) = run(Xlen::Rv64, &code);
    assert_eq!(
        stop,
        Stop::Trap(Trap {
            pc: entry + (1 << 33) + 24,
            kind: TrapKind::InstructionFetch,
        })
    );
}

#[test]
fn a_jump_within_the_code_runs() {
    // The same shape with the jump kept near: it reaches the exit, on both widths.
    let mut code = vec![
        0x0000_0297, // auipc t0, 0
        0x0182_8293, // addi t0, t0, 24
        0x0002_8067, // jr t0
        0x0000_0013, // nop
        0x0000_0013, // nop
        0x0000_0013, // nop
    ];
    code.extend(EXIT_42);
    for xlen in [Xlen::Rv32, Xlen::Rv64] {
        assert_eq!(run(xlen, &code).0, Stop::Exited(42), "{xlen:?}");
    }
}

#[test]
fn rv32_addresses_wrap_at_32_bits_and_traps_report_them_in_32() {
    // lui a0, 0x80000 (a0 = 0x8000_0000, held as its sign extension); lw a1, 0(a0)
    let (stop, _) = run(Xlen::Rv32, &[0x8000_0537, 0x0005_2583]);
    assert_eq!(trap_kind(stop), TrapKind::Load { addr: 0x8000_0000 });

    // li a0, -16; sw a0, 32(a0): the address wraps to 16, which is unmapped.
    let (stop, _) = run(Xlen::Rv32, &[0xff00_0513, 0x02a5_2023]);
    assert_eq!(trap_kind(stop), TrapKind::Store { addr: 16 });

    // li a0, -4; jr a0: a jump to 0xffff_fffc.
    let (stop, _) = run(Xlen::Rv32, &[0xffc0_0513, 0x0005_0067]);
    assert_eq!(
        stop,
        Stop::Trap(Trap {
            pc: 0xffff_fffc,
            kind: TrapKind::InstructionFetch
        })
    );

    // pc + 2^31 + 2^31 is pc again in 32 bits: a load through it reads the program's first
    // instruction (auipc a0, 0 = 0x517), whose low byte is the exit status.
    let (stop, _) = run(
        Xlen::Rv32,
        &[
            0x0000_0517, // auipc a0, 0
            0x0010_0593, // li a1, 1
            0x01f5_9593, // slli a1, a1, 31
            0x00b5_0533, // add a0, a0, a1
            0x00b5_0533, // add a0, a0, a1     a0 = pc + 2^32, which wraps to pc
            0x0005_2603, // lw a2, 0(a0)
            0x0ff6_7513, // andi a0, a2, 255
            0x05d0_0893, // li a7, 93
            0x0000_0073, // ecall
        ],
    );
    assert_eq!(stop, Stop::Exited(0x17), "the wrapped load read the auipc");
}

fn trap_kind(stop: Stop) -> TrapKind {
    match stop {
        Stop::Trap(Trap { kind, .. }) => kind,
        other => panic!("expected a trap, got {other:?}"),
    }
}

/// A jump into the second half of a 4-byte instruction runs the compressed instruction found
/// there, decoded apart from the program's code, at a price (`UNDECODED_PRICE`); a machine
/// keeps such decodes by address. Two of them 128 bytes apart (the same slot of that cache),
/// called in turn 50 times, each add what their own bytes say.
#[test]
fn jumps_into_the_middle_of_instructions_run_what_is_there_each_time() {
    let mut code = vec![
        0x0000_0593, // li a1, 0
        0x0320_0613, // li a2, 50
        0x03a0_00ef, // loop: jal ra, first+2
        0x0b60_00ef, // jal ra, second+2
        0xfff6_0613, // addi a2, a2, -1
        0xfe06_1ae3, // bnez a2, loop
        0x0005_8513, // mv a0, a1
        0x05d0_0893, // li a7, 93
        0x0000_0073, // ecall: exit(a1)
    ];
    let nop = 0x0000_0013;
    code.resize(16, nop);
    // `addi x0, x0, ...`, whose upper half is `c.addi a1, 1`, then ret.
    code.extend([0x0585_0013, 0x0000_8067]);
    code.resize(48, nop);
    // The same with `c.addi a1, 3`, 128 bytes further on.
    code.extend([0x058d_0013, 0x0000_8067]);
    // Each pass: jal, ret, jal, ret, addi, bnez and the two undecoded ones; two instructions
    // before the loop, and three after, the exit's ecall with its price.
    let instructions = 2 + 50 * (6 + 2 * UNDECODED_PRICE) + 3 + SYSCALL_COST;
    for mut machine in in_memory::machines(Xlen::Rv64, &code) {
        assert_eq!(machine.run(10_000), Stop::Exited(200));
        assert_eq!(machine.instructions(), instructions);
    }
    assert_eq!(
        in_memory::step_until_stopped(&mut in_memory::machine(Xlen::Rv64, &code)),
        (Stop::Exited(200), instructions)
    );
    // The first block (li, li, jal) and one instruction less than the price: the run stops
    // before the first undecoded instruction, as before a block that does not fit.
    let mut short = in_memory::machine(Xlen::Rv64, &code);
    let entry = short.pc();
    assert_eq!(short.run(3 + UNDECODED_PRICE - 1), Stop::BudgetExhausted);
    assert_eq!((short.instructions(), short.pc()), (3, entry + 64 + 2));
}

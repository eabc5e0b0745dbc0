//! Pairs of instructions the loader fuses (`Op::fused_pair`: an `addi` or `add` and the
//! instruction after it), which the threaded dispatch runs with one dispatch: they run as the
//! two instructions they are, straight through and where a jump enters at the second. Each
//! test runs a machine as built (threaded dispatch in optimized native builds) and a
//! profiled one (the `match` loop). Programs built in memory (no files).

mod in_memory;

use in_memory::{assert_store_to_code_faults_at, machines};
use rvedge::{Stop, Xlen};

const BUDGET: u64 = 1000;

#[test]
fn a_jump_to_the_second_instruction_of_a_fused_pair_runs_only_that_one() {
    for mut machine in machines(
        Xlen::Rv64,
        &[
            0x0000_0513, // li a0, 0              (fused with the next: addi, addi)
            0x0000_0313, // li t1, 0
            0x0070_0293, // li t0, 7              (fused: addi, jal)
            0x0080_006f, // j second
            0x0645_0513, // first: addi a0, a0, 100   (fused: addi, add)
            0x00a2_82b3, // second: add t0, t0, a0    entered here first: t0 = 7 + 0
            0x0013_0313, // addi t1, t1, 1        (fused: addi, addi)
            0x0020_0393, // li t2, 2
            0xfe73_68e3, // bltu t1, t2, first    the second time round: a0 = 100, t0 = 107
            0x0002_8533, // add a0, t0, zero      (fused: add, addi)
            0x05d0_0893, // li a7, 93
            0x0000_0073, // ecall                 exit(a0)
        ],
    ) {
        assert_eq!(machine.run(BUDGET), Stop::Exited(107));
        // 16 instructions ran, and exit's ecall was charged its price.
        assert_eq!(
            machine.instructions(),
            16 + rvedge::syscall::SYSCALL_COST,
            "every instruction counted once"
        );
    }
}

#[test]
fn a_fault_after_a_fused_pair_reports_its_own_pc_with_the_pair_done() {
    for mut machine in machines(
        Xlen::Rv64,
        &[
            0x0000_0297, // auipc t0, 0           t0: the code, which is not writable
            0x0070_0513, // li a0, 7              (fused: addi, add)
            0x00a5_0533, // add a0, a0, a0
            0x00a2_b023, // sd a0, 0(t0)          faults
        ],
    ) {
        assert_store_to_code_faults_at(&mut machine, BUDGET, 12);
        assert_eq!(machine.register(rvedge::registers::A0), 14);
    }
}

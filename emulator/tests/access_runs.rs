//! Runs of `sd`s or `ld`s in a row through one base at offsets in order (a prologue's register
//! saves, an epilogue's restores; `Insn::MIN_RUN` or more), which both interpreter loops do
//! without a dispatch per access (and, where the run stays in one page, with one TLB check):
//! each access still happens in order, reads the registers the one before it wrote, and a
//! fault or a TLB miss midway stops the run at that access exactly as one by one. Each test runs a machine as built
//! (threaded dispatch in optimized native builds) and a profiled one (the `match` loop).
//! Programs built in memory (no files), so scripts/test.sh runs these in wasm too.

mod in_memory;

use in_memory::{assert_store_to_code_faults_at, machines};
use rvedge::registers::{A1, SP};
use rvedge::{Stop, Trap, TrapKind, Xlen};

const BUDGET: u64 = 1000;

// The tests below make runs of five.
const _: () = assert!(
    rvedge::decode::Insn::MIN_RUN <= 5,
    "lengthen the runs of these tests with MIN_RUN"
);

#[test]
fn a_store_run_stops_at_the_store_that_faults_with_the_ones_before_it_done() {
    // The stack ends where the address space does (2^38 on RV64): nothing is mapped above.
    let end = 1u64 << 38;
    for mut machine in machines(
        Xlen::Rv64,
        &[
            0x0010_0293, // li t0, 1
            0x0262_9293, // slli t0, t0, 38
            0xff02_8293, // addi t0, t0, -16     t0: 16 bytes below the stack's end
            0x0002_b023, // sd zero, 0(t0)       its page into the write TLB
            0x00b0_0593, // li a1, 11
            0x0160_0613, // li a2, 22
            0x00b2_b023, // sd a1, 0(t0)         a run of five stores...
            0x00c2_b423, // sd a2, 8(t0)
            0x00b2_b823, // sd a1, 16(t0)        ...whose third faults
            0x00c2_bc23, // sd a2, 24(t0)
            0x02c2_b023, // sd a2, 32(t0)
            0x05d0_0893, // li a7, 93
            0x0000_0073, // ecall
        ],
    ) {
        let entry = machine.pc();
        assert_eq!(
            machine.run(BUDGET),
            Stop::Trap(Trap {
                pc: entry + 32,
                kind: TrapKind::Store { addr: end },
            })
        );
        assert_eq!(
            machine.instructions(),
            9,
            "counted up to the faulting store, as one by one"
        );
        let memory = machine.memory();
        assert_eq!(memory.load::<u64>(end - 16).unwrap(), 11);
        assert_eq!(memory.load::<u64>(end - 8).unwrap(), 22);
        assert_eq!(machine.register(A1), 11);
    }
}

#[test]
fn a_load_run_reads_what_the_load_before_it_loaded() {
    for mut machine in machines(
        Xlen::Rv64,
        &[
            0xfe01_0113, // addi sp, sp, -32
            0x0021_3023, // sd sp, 0(sp)
            0x02a0_0293, // li t0, 42
            0x0051_3423, // sd t0, 8(sp)
            0x0081_3e03, // ld t3, 8(sp)         five loads: a run through sp...
            0x0001_3e83, // ld t4, 0(sp)
            0x0001_3303, // ld t1, 0(sp)         t1 = sp
            0x0003_3383, // ld t2, 0(t1)         ...then t2 = sp, through t1
            0x0083_b503, // ld a0, 8(t2)         a0 = 42, through t2
            0x05d0_0893, // li a7, 93
            0x0000_0073, // ecall
        ],
    ) {
        assert_eq!(machine.run(BUDGET), Stop::Exited(42));
    }
}

#[test]
fn a_load_that_misses_the_tlb_midway_goes_on_with_the_rest_of_the_run() {
    // 64 pages apart, two stack pages share a slot of the (direct-mapped) TLB.
    for mut machine in machines(
        Xlen::Rv64,
        &[
            0xffff_f2b7, // lui t0, 0xfffff      t0 = -4096
            0x0051_7133, // and sp, sp, t0       sp at a page boundary
            0x0010_0593, // li a1, 1
            0xfeb1_3823, // sd a1, -16(sp)
            0x0020_0593, // li a1, 2
            0xfeb1_3c23, // sd a1, -8(sp)
            0x0900_0593, // li a1, 0x90
            0x00b1_3023, // sd a1, 0(sp)
            0x0040_0593, // li a1, 4
            0x00b1_3423, // sd a1, 8(sp)
            0xff81_3383, // ld t2, -8(sp)        the lower page into the read TLB
            0xfffc_02b7, // lui t0, 0xfffc0
            0x0051_02b3, // add t0, sp, t0       t0 = sp - 64 pages
            0x0002_b303, // ld t1, 0(t0)         t0's page takes the upper page's slot
            0xff01_3e03, // ld t3, -16(sp)       a run: hits in the lower page...
            0xff81_3e83, // ld t4, -8(sp)
            0x0001_3f03, // ld t5, 0(sp)         ...a miss in the upper...
            0x0081_3f83, // ld t6, 8(sp)         ...and the rest
            0x0081_3603, // ld a2, 8(sp)
            0x01de_0533, // add a0, t3, t4
            0x01e5_0533, // add a0, a0, t5
            0x01f5_0533, // add a0, a0, t6
            0x00c5_0533, // add a0, a0, a2       1 + 2 + 0x90 + 4 + 4
            0x05d0_0893, // li a7, 93
            0x0000_0073, // ecall
        ],
    ) {
        assert_eq!(machine.run(BUDGET), Stop::Exited(0x9b));
    }
}

#[test]
fn an_ordered_run_across_a_page_boundary_goes_access_by_access() {
    // One base register and offsets in order, so one TLB check would cover the run if it
    // stayed in one page; these reach into the next.
    for mut machine in machines(
        Xlen::Rv64,
        &[
            0xffff_f2b7, // lui t0, 0xfffff      t0 = -4096
            0x0051_7133, // and sp, sp, t0       sp at a page boundary
            0x0001_3423, // sd zero, 8(sp)       both pages into the write TLB
            0xfe01_3823, // sd zero, -16(sp)
            0x00b0_0593, // li a1, 11
            0x0160_0613, // li a2, 22
            0xfeb1_3823, // sd a1, -16(sp)       an ordered run: below the boundary...
            0xfeb1_3c23, // sd a1, -8(sp)
            0x00c1_3023, // sd a2, 0(sp)         ...and above it
            0x00c1_3423, // sd a2, 8(sp)
            0x00c1_3823, // sd a2, 16(sp)
            0xfe81_3683, // ld a3, -24(sp)       the same for loads
            0xff01_3783, // ld a5, -16(sp)
            0xff81_3803, // ld a6, -8(sp)
            0x0181_3303, // ld t1, 24(sp)
            0x0201_3703, // ld a4, 32(sp)
            0x00e6_8533, // add a0, a3, a4
            0x05d0_0893, // li a7, 93
            0x0000_0073, // ecall
        ],
    ) {
        let boundary = machine.register(SP) & !0xfff;
        machine.memory().store::<u64>(boundary - 24, 5).unwrap();
        machine.memory().store::<u64>(boundary + 32, 6).unwrap();
        assert_eq!(
            machine.run(BUDGET),
            Stop::Exited(11),
            "loaded from both pages"
        );
        let memory = machine.memory();
        assert_eq!(memory.load::<u64>(boundary - 8).unwrap(), 11);
        assert_eq!(
            memory.load::<u64>(boundary).unwrap(),
            22,
            "stored in the upper page"
        );
        assert_eq!(memory.load::<u64>(boundary + 16).unwrap(), 22);
    }
}

/// Runs a run of five stores and one of five loads back at offsets falling, all in one page
/// below a page boundary, with `before` run before the stores and `between` between the two
/// runs; checks that every access was done.
fn assert_runs_in_one_page_do_every_access(before: &[u32], between: &[u32]) {
    let mut code = vec![
        0xffff_f2b7, // lui t0, 0xfffff      t0 = -4096
        0x0051_7133, // and sp, sp, t0       sp at a page boundary
        0xfc01_0113, // addi sp, sp, -64     the runs' bytes in the page below
    ];
    code.extend_from_slice(before);
    code.extend_from_slice(&[
        0x0010_0593, // li a1, 1
        0x0020_0613, // li a2, 2
        0x0040_0693, // li a3, 4
        0x0080_0713, // li a4, 8
        0x0100_0793, // li a5, 16
        0x00b1_3023, // sd a1, 0(sp)         a run of stores in one page...
        0x00c1_3423, // sd a2, 8(sp)
        0x00d1_3823, // sd a3, 16(sp)
        0x00e1_3c23, // sd a4, 24(sp)
        0x02f1_3023, // sd a5, 32(sp)
    ]);
    code.extend_from_slice(between);
    code.extend_from_slice(&[
        0x0201_3f03, // ld t5, 32(sp)        ...and one of loads, offsets falling
        0x0181_3e83, // ld t4, 24(sp)
        0x0101_3e03, // ld t3, 16(sp)
        0x0081_3383, // ld t2, 8(sp)
        0x0001_3303, // ld t1, 0(sp)
        0x0073_0533, // add a0, t1, t2
        0x01c5_0533, // add a0, a0, t3
        0x01d5_0533, // add a0, a0, t4
        0x01e5_0533, // add a0, a0, t5       31: every access done
        0x05d0_0893, // li a7, 93
        0x0000_0073, // ecall
    ]);
    for mut machine in machines(Xlen::Rv64, &code) {
        assert_eq!(machine.run(BUDGET), Stop::Exited(31));
    }
}

#[test]
fn an_ordered_run_in_one_page_does_every_access() {
    assert_runs_in_one_page_do_every_access(
        &[0x0201_3823], // sd zero, 48(sp)      the page into both TLBs
        &[],
    );
}

#[test]
fn a_run_whose_first_access_misses_the_tlb_does_the_rest_as_well() {
    assert_runs_in_one_page_do_every_access(
        // Nothing before: the page was never written, so the first store misses.
        &[],
        &[
            0xfffc_02b7, // lui t0, 0xfffc0
            0x0051_02b3, // add t0, sp, t0       t0 = sp - 64 pages
            0x0002_bf83, // ld t6, 0(t0)         t0's page takes the runs' page's slot: the
                         //                      first load misses
        ],
    );
}

#[test]
fn a_load_run_that_changes_its_base_midway_uses_the_new_base() {
    for mut machine in machines(
        Xlen::Rv64,
        &[
            0xfe01_0113, // addi sp, sp, -32
            0x0101_0293, // addi t0, sp, 16
            0x0051_3023, // sd t0, 0(sp)
            0x0050_0313, // li t1, 5
            0x0061_3423, // sd t1, 8(sp)
            0x0070_0313, // li t1, 7
            0x0061_3c23, // sd t1, 24(sp)
            0x0001_3103, // ld sp, 0(sp)         a row whose first load changes its base
            0x0081_3503, // ld a0, 8(sp)         7 through the new sp, 5 through the old
            0x0081_3583, // ld a1, 8(sp)
            0x0081_3603, // ld a2, 8(sp)
            0x0081_3683, // ld a3, 8(sp)
            0x05d0_0893, // li a7, 93
            0x0000_0073, // ecall
        ],
    ) {
        assert_eq!(machine.run(BUDGET), Stop::Exited(7));
    }
}

/// Handlers jump on to the next; a run's handler too, whatever its length. Two million
/// instructions of runs on a 64 KiB stack; test builds assert that no chain of handlers grows
/// the stack by 16 KiB. (scripts/fuzz.sh found run handlers that called: a closure in the
/// ordered path, not inlined in the fuzz build's instrumented code, though it is here.)
#[test]
#[cfg_attr(miri, ignore = "two million instructions take Miri hours")]
fn a_long_loop_of_runs_keeps_the_stack_flat() {
    for mut machine in machines(
        Xlen::Rv64,
        &[
            0xfc01_0113, // addi sp, sp, -64
            0x00b1_3023, // sd a1, 0(sp)         loop: ordered runs of stores...
            0x00c1_3423, // sd a2, 8(sp)
            0x00d1_3823, // sd a3, 16(sp)
            0x00e1_3c23, // sd a4, 24(sp)
            0x02f1_3023, // sd a5, 32(sp)
            0x0001_2703, // lw a4, 0(sp)         ...of word loads...
            0x0041_2783, // lw a5, 4(sp)
            0x0081_2803, // lw a6, 8(sp)
            0x00c1_2883, // lw a7, 12(sp)
            0x0101_2303, // lw t1, 16(sp)
            0x0001_3583, // ld a1, 0(sp)         ...and of loads
            0x0081_3603, // ld a2, 8(sp)
            0x0101_3683, // ld a3, 16(sp)
            0x0181_3383, // ld t2, 24(sp)
            0x0201_3e03, // ld t3, 32(sp)
            0xfc5f_f06f, // j loop
        ],
    ) {
        // wasm32-wasip1 has no threads (nor the threaded dispatch): there it runs in place.
        let stop = if cfg!(target_arch = "wasm32") {
            machine.run(2_000_000)
        } else {
            std::thread::Builder::new()
                .stack_size(64 << 10)
                .spawn(move || machine.run(2_000_000))
                .unwrap()
                .join()
                .unwrap()
        };
        assert_eq!(stop, Stop::BudgetExhausted);
    }
}

#[test]
fn rv32_runs_of_sws_and_lws_go_as_one_by_one() {
    for mut machine in machines(
        Xlen::Rv32,
        &[
            0xff01_0113, // addi sp, sp, -16
            0x00b0_0593, // li a1, 11
            0xfff0_0613, // li a2, -1
            0x00c1_2223, // sw a2, 4(sp)
            0x00b1_2023, // sw a1, 0(sp)        4 bytes: sp + 4 keeps a2
            0x00b1_2423, // sw a1, 8(sp)
            0x00b1_2623, // sw a1, 12(sp)
            0x00c1_2823, // sw a2, 16(sp)
            0x0001_2683, // lw a3, 0(sp)
            0x0041_2703, // lw a4, 4(sp)        sign-extended, as every RV32 register
            0x0081_2303, // lw t1, 8(sp)
            0x00c1_2383, // lw t2, 12(sp)
            0x0101_2e03, // lw t3, 16(sp)
            0x0007_2793, // slti a5, a4, 0
            0x0057_9813, // slli a6, a5, 5
            0x40f8_0833, // sub a6, a6, a5      31 when a4 is negative
            0x0106_8533, // add a0, a3, a6
            0x05d0_0893, // li a7, 93
            0x0000_0073, // ecall
        ],
    ) {
        assert_eq!(machine.run(BUDGET), Stop::Exited(42));
    }
    for mut machine in machines(
        Xlen::Rv32,
        &[
            0x0000_0297, // auipc t0, 0
            0xff01_0113, // addi sp, sp, -16
            0x00b1_2023, // sw a1, 0(sp)
            0x00b2_a023, // sw a1, 0(t0)        faults
            0x00b1_2223, // sw a1, 4(sp)
            0x00b1_2423, // sw a1, 8(sp)
            0x00b1_2623, // sw a1, 12(sp)
        ],
    ) {
        assert_store_to_code_faults_at(&mut machine, BUDGET, 12);
    }
}

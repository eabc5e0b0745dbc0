//! Forks of a snapshot, on a program built in memory (no files), so Miri runs them too
//! (scripts/miri.sh): machines made in the heap slots dropped forks left
//! (`boxed_from_snapshot`), copy-on-write of a page the template wrote, and forks that do not
//! see each other's writes.

mod in_memory;

use rvedge::registers::A0;
use rvedge::{Isolated, Machine, Stop, Xlen};

/// Stores 7 on the stack, stops at host call 500 (where the test snapshots), then adds a0 to
/// the stored value, stores the sum back, and exits with it.
const STORE_WAIT_ADD_EXIT: [u32; 11] = [
    0xff01_0113, // addi sp, sp, -16
    0x0070_0293, // li t0, 7
    0x0051_3023, // sd t0, 0(sp)
    0x1f40_0893, // li a7, 500
    0x0000_0073, // ecall
    0x0001_3303, // ld t1, 0(sp)
    0x00a3_0333, // add t1, t1, a0
    0x0061_3023, // sd t1, 0(sp)
    0x0001_3503, // ld a0, 0(sp)
    0x05d0_0893, // li a7, 93
    0x0000_0073, // ecall
];

/// Enough for the program and the price of its system calls.
const BUDGET: u64 = 1000;

#[test]
fn forks_write_their_own_copies_in_reused_slots_and_the_template_keeps_its_own() {
    let mut template = in_memory::machine(Xlen::Rv64, &STORE_WAIT_ADD_EXIT);
    assert_eq!(template.run(BUDGET), Stop::HostCall(500));
    let snapshot = template.snapshot();
    // Each fork after the first is made in the slot the one before it dropped.
    for number in 1..=3 {
        let mut fork = Machine::boxed_from_snapshot(&snapshot, Box::new(Isolated::default()));
        fork.set_register(A0, number);
        assert_eq!(fork.run(BUDGET), Stop::Exited(7 + number as i32));
    }
    // Two forks alive at once write their own copies of the same frozen page.
    let mut first = Machine::boxed_from_snapshot(&snapshot, Box::new(Isolated::default()));
    let mut second = Machine::boxed_from_snapshot(&snapshot, Box::new(Isolated::default()));
    first.set_register(A0, 10);
    second.set_register(A0, 20);
    assert_eq!(first.run(BUDGET), Stop::Exited(17));
    assert_eq!(second.run(BUDGET), Stop::Exited(27));
    template.set_register(A0, 0);
    assert_eq!(template.run(BUDGET), Stop::Exited(7));
}

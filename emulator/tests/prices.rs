//! Instructions that cost more than one: a counter read ends its block and leaves the
//! handlers for the machine's loop, so it is charged `COUNTER_READ_PRICE`, in both dispatches
//! and stepped alike, and a price the budget cannot pay stops the machine before the read.
//! (Undecoded instructions, charged `UNDECODED_PRICE`: `addresses.rs` and `stepping.rs`.)

mod in_memory;

use rvedge::interp::COUNTER_READ_PRICE;
use rvedge::syscall::SYSCALL_COST;
use rvedge::{Stop, Xlen};

/// Exits with the difference of two instret reads in a row: the second read's price.
const TWO_READS: [u32; 5] = [
    0xc020_2573, // rdinstret a0
    0xc020_25f3, // rdinstret a1
    0x40a5_8533, // sub a0, a1, a0
    0x05d0_0893, // li a7, 93
    0x0000_0073, // ecall: exit(a0)
];

/// Both reads with their prices, then sub, li and the exit's ecall with its own.
const INSTRUCTIONS: u64 = 2 * COUNTER_READ_PRICE + 3 + SYSCALL_COST;

#[test]
fn a_counter_read_costs_its_price_run_or_stepped() {
    let expected_exit = Stop::Exited(i32::try_from(COUNTER_READ_PRICE).unwrap());
    for mut machine in in_memory::machines(Xlen::Rv64, &TWO_READS) {
        assert_eq!(machine.run(1000), expected_exit);
        assert_eq!(machine.instructions(), INSTRUCTIONS);
    }
    assert_eq!(
        in_memory::step_until_stopped(&mut in_memory::machine(Xlen::Rv64, &TWO_READS)),
        (expected_exit, INSTRUCTIONS)
    );
}

#[test]
fn a_counter_read_the_budget_cannot_pay_is_not_made() {
    for mut machine in in_memory::machines(Xlen::Rv64, &TWO_READS) {
        let entry = machine.pc();
        // The first read and one instruction less than the second one's price.
        assert_eq!(
            machine.run(2 * COUNTER_READ_PRICE - 1),
            Stop::BudgetExhausted
        );
        assert_eq!(machine.pc(), entry + 4, "stopped at the second read");
        assert_eq!(machine.register(rvedge::registers::A1), 0, "not read");
    }
}

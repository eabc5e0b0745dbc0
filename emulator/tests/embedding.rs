//! The embedding API on a real guest (tests/guests/embed/vmcall.c): host calls, snapshots,
//! machines made from a snapshot, and vmcalls of guest functions on them.

use rvedge_test_support as support;

use rvedge::registers::A0;
use rvedge::{CapturedOutput, Isolated, Machine, Options, Stop, TrapKind};

const BUDGET: u64 = 10_000_000;

fn no_host_calls(_: &mut Machine, number: u64) -> Option<Stop> {
    panic!("unexpected host call {number}");
}

/// Runs the guest to its "wait here" host call and returns it with the function address it
/// handed to the host.
fn template(output: &CapturedOutput) -> (Machine, u64) {
    let elf = support::guest("embed/vmcall");
    let mut machine =
        Machine::from_elf(&elf, &Options::default(), Box::new(output.clone())).unwrap();
    let mut function = 0;
    let stop = machine.run_with_host_calls(BUDGET, &mut |machine, number| match number {
        500 => {
            function = machine.register(A0);
            machine.set_register(A0, 42);
            None
        }
        _ => Some(Stop::HostCall(number)),
    });
    assert_eq!(stop, Stop::HostCall(501));
    assert!(
        machine.program().insn_at(function).is_some(),
        "{function:#x} is guest code"
    );
    (machine, function)
}

#[test]
fn machines_made_from_a_snapshot_are_isolated_from_each_other_and_the_template() {
    let output = CapturedOutput::default();
    let (mut template, function) = template(&output);
    let snapshot = template.snapshot();

    let mut first = Machine::from_snapshot(&snapshot, Box::new(Isolated::default()));
    // counter and heap byte both start at 0 in every fork: 1 + 2 + 1 * 100 + 1.
    assert_eq!(
        first.call(function, &[1, 2], BUDGET, &mut no_host_calls),
        Ok(104)
    );
    assert_eq!(
        first.call(function, &[1, 2], BUDGET, &mut no_host_calls),
        Ok(205)
    );
    // Globals and heap were written: only those pages (and the stack) are owned.
    let owned = first.memory().owned_pages();
    assert!((1..=8).contains(&owned), "fork owns {owned} pages");

    let mut second = Machine::from_snapshot(&snapshot, Box::new(Isolated::default()));
    assert_eq!(
        second.call(function, &[1, 2], BUDGET, &mut no_host_calls),
        Ok(104)
    );

    // The template resumes where it was frozen, unaffected by its forks.
    assert_eq!(template.run(BUDGET), Stop::Exited(0));
    let stdout = String::from_utf8(output.stdout()).unwrap();
    assert_eq!(stdout, "host answered 42\nresumed with counter 0\n");
}

#[test]
fn a_boxed_machine_reuses_a_dropped_ones_slot_and_starts_in_the_snapshots_state() {
    let (mut template, function) = template(&CapturedOutput::default());
    let snapshot = template.snapshot();

    let mut first = Machine::boxed_from_snapshot(&snapshot, Box::new(Isolated::default()));
    assert_eq!(
        first.call(function, &[1, 2], BUDGET, &mut no_host_calls),
        Ok(104)
    );
    let first_slot: *const Machine = &*first;
    drop(first);

    // The slot comes back from this thread's pool, holding nothing of the dropped machine:
    // counter and heap byte start at 0 again, and no page is owned yet.
    let mut second = Machine::boxed_from_snapshot(&snapshot, Box::new(Isolated::default()));
    assert_eq!(&*second as *const Machine, first_slot);
    assert_eq!(second.memory().owned_pages(), 0);
    assert_eq!(
        second.call(function, &[1, 2], BUDGET, &mut no_host_calls),
        Ok(104)
    );
}

#[test]
fn a_vmcall_that_faults_reports_the_trap_and_leaves_the_snapshot_usable() {
    let (mut template, function) = template(&CapturedOutput::default());
    let snapshot = template.snapshot();

    let mut fork = Machine::from_snapshot(&snapshot, Box::new(Isolated::default()));
    let result = fork.call(0x1234_5678, &[], BUDGET, &mut no_host_calls);
    let Err(Stop::Trap(trap)) = result else {
        panic!("{result:?}")
    };
    assert_eq!(trap.kind, TrapKind::InstructionFetch);
    assert_eq!(trap.pc, 0x1234_5678);

    let mut next = Machine::from_snapshot(&snapshot, Box::new(Isolated::default()));
    assert_eq!(
        next.call(function, &[5, 5], BUDGET, &mut no_host_calls),
        Ok(111)
    );
}

#[test]
fn a_vmcall_is_bounded_by_its_budget() {
    let (mut template, function) = template(&CapturedOutput::default());
    let snapshot = template.snapshot();
    let mut fork = Machine::from_snapshot(&snapshot, Box::new(Isolated::default()));
    assert_eq!(
        fork.call(function, &[1, 2], 3, &mut no_host_calls),
        Err(Stop::BudgetExhausted)
    );
}

#[test]
fn registers_and_memory_are_readable_and_writable() {
    let (mut machine, function) = template(&CapturedOutput::default());
    machine.set_register(0, 99);
    assert_eq!(machine.register(0), 0, "x0 stays zero");
    // Past x31 and f31 are no registers (the register files' padding is not one either).
    machine.set_register(31, 7);
    machine.set_float_register(31, 7);
    for index in [32, 33, 200, 255] {
        machine.set_register(index, 99);
        machine.set_float_register(index, 99);
    }
    let indices = [31, 32, 33, 200, 255, 300];
    let past_the_last = [7, 0, 0, 0, 0, 0];
    assert_eq!(indices.map(|index| machine.register(index)), past_the_last);
    assert_eq!(
        indices.map(|index| machine.float_register(index)),
        past_the_last
    );
    let sp = machine.register(rvedge::registers::SP);
    machine.write_memory(sp - 64, b"rvedge").unwrap();
    let mut back = [0u8; 6];
    machine.read_memory(sp - 64, &mut back).unwrap();
    assert_eq!(&back, b"rvedge");
    // Code is not writable through the embedding API either.
    assert!(machine.write_memory(function, &[0]).is_err());
}

//! Guests that misbehave end with a clear `Stop` value, never a host crash: faults carry the
//! pc and address, loops end at the instruction budget, memory is capped.

#[path = "../../tests/support/guests.rs"]
#[allow(
    dead_code,
    reason = "each test crate uses a different part of the shared support"
)]
mod support;

use rvedge::{CapturedOutput, Isolated, Machine, Options, SetupError, Stop, Trap, TrapKind};

const BUDGET: u64 = 50_000_000;

/// Runs a bad guest under `options` and returns why it stopped and what it printed.
fn run(name: &str, options: &Options) -> (Stop, String, Machine) {
    let output = CapturedOutput::default();
    let mut machine = Machine::from_elf(&support::guest(name), options, Box::new(output.clone()))
        .unwrap_or_else(|error| panic!("{name} loads: {error}"));
    let stop = machine.run(BUDGET);
    let stdout = String::from_utf8_lossy(&output.stdout()).into_owned();
    (stop, stdout, machine)
}

fn trap_kind(stop: Stop) -> TrapKind {
    match stop {
        Stop::Trap(Trap { kind, .. }) => kind,
        other => panic!("expected a trap, got {other:?}"),
    }
}

#[test]
fn jump_to_unmapped_memory_is_a_fetch_fault_at_the_target() {
    let (stop, stdout, _) = run("bad/jump_unmapped", &Options::default());
    assert_eq!(
        stop,
        Stop::Trap(Trap {
            pc: 0x70_0000_0000,
            kind: TrapKind::InstructionFetch
        })
    );
    assert!(stdout.contains("jumping to"), "{stdout}");
}

#[test]
fn load_from_unmapped_memory_reports_the_address() {
    let (stop, _, machine) = run("bad/load_unmapped", &Options::default());
    assert_eq!(
        trap_kind(stop),
        TrapKind::Load {
            addr: 0x70_0000_0000
        }
    );
    // The pc is that of the faulting load, inside the program.
    assert!(machine.program().insn_at(machine.pc()).is_some());
}

#[test]
fn store_to_unmapped_memory_reports_the_address() {
    let (stop, _, _) = run("bad/store_unmapped", &Options::default());
    assert_eq!(
        trap_kind(stop),
        TrapKind::Store {
            addr: 0x70_0000_0008
        }
    );
}

#[test]
fn stores_to_read_only_segments_fault() {
    for name in ["bad/store_rodata", "bad/store_text"] {
        let (stop, stdout, _) = run(name, &Options::default());
        let TrapKind::Store { addr } = trap_kind(stop) else {
            panic!("{name}: {stop:?}")
        };
        assert!(
            addr < rvedge::PROGRAM_ADDRESS_LIMIT,
            "{name}: fault inside the program image"
        );
        assert!(!stdout.contains("unreachable"), "{name}: {stdout}");
    }
}

#[test]
fn illegal_instruction_reports_its_bits_and_pc() {
    let (stop, stdout, machine) = run("bad/illegal_instruction", &Options::default());
    let Stop::Trap(trap) = stop else {
        panic!("{stop:?}")
    };
    assert_eq!(trap.kind, TrapKind::IllegalInstruction { bits: 0 });
    assert_eq!(trap.pc, machine.pc());
    assert!(trap.to_string().contains("illegal instruction"), "{trap}");
    assert!(!stdout.contains("unreachable"));
}

#[test]
fn an_infinite_loop_ends_at_the_budget_and_can_resume() {
    let (stop, stdout, mut machine) = run("bad/infinite_loop", &Options::default());
    assert_eq!(stop, Stop::BudgetExhausted);
    assert!(stdout.contains("looping forever"));
    // The budget is checked per block, so it is never overshot.
    assert!(machine.instructions() <= BUDGET);
    assert!(machine.instructions() > BUDGET - 100);
    let before = machine.instructions();
    assert_eq!(machine.run(1000), Stop::BudgetExhausted);
    assert!(machine.instructions() - before <= 1000);
}

#[test]
fn a_memory_bomb_stops_at_the_memory_limit() {
    let options = Options {
        max_memory: 32 << 20,
        ..Options::default()
    };
    let (stop, stdout, mut machine) = run("bad/memory_bomb", &options);
    assert_eq!(stop, Stop::Exited(0), "{stdout}");
    let mebibytes: u64 = stdout
        .split_whitespace()
        .nth(1)
        .and_then(|count| count.parse().ok())
        .unwrap_or_else(|| panic!("unexpected output {stdout:?}"));
    assert!(
        mebibytes > 4 && mebibytes < 32,
        "allocated {mebibytes} MiB under a 32 MiB cap"
    );
    assert!(machine.memory().mapped_bytes() <= 32 << 20);
}

#[test]
fn malformed_programs_are_load_errors() {
    let hello = support::guest("c/hello");
    for (bytes, expected) in [
        (Vec::new(), "not an ELF file"),
        (b"#!/bin/sh\necho hi\n".to_vec(), "not an ELF file"),
        (hello[..100].to_vec(), "outside the file"),
    ] {
        let error = Machine::from_elf(&bytes, &Options::default(), Box::new(Isolated::default()))
            .expect_err("malformed program must not load");
        assert!(matches!(error, SetupError::Load(_)));
        assert!(error.to_string().contains(expected), "{error}");
    }
}

#[test]
fn a_program_larger_than_the_memory_limit_does_not_start() {
    let options = Options {
        max_memory: 64 << 10,
        ..Options::default()
    };
    let error = Machine::from_elf(
        &support::guest("c/hello"),
        &options,
        Box::new(Isolated::default()),
    )
    .expect_err("hello does not fit in 64 KiB");
    assert!(matches!(error, SetupError::OutOfMemory { .. }), "{error}");
}

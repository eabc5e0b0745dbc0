//! Guests that misbehave end with a clear `Stop` value, never a host crash: faults carry the
//! pc and address, loops end at the instruction budget, memory is capped.

use rvedge_test_support as support;

use rvedge::registers::{A0, A5, A7};
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
fn the_text_cannot_be_made_writable_or_unmapped_up_to_its_last_page() {
    let (stop, stdout, _) = run("bad/unprotect_text_end", &Options::default());
    assert_eq!(stop, Stop::Exited(0), "{stdout}");
    assert!(
        stdout.contains("mprotect(last text page, rwx): -1"),
        "{stdout}"
    );
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

/// The threaded dispatch jumps from op to op without returning, so a long run must not grow
/// the stack: 50 million instructions on a 64 KiB stack (varnishd's worker threads are small).
#[test]
fn a_long_run_keeps_the_stack_flat() {
    // Test builds optimize the emulator (Cargo.toml), so on these hosts they run it.
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    const {
        assert!(rvedge::interp::THREADED_DISPATCH);
    };
    let output = CapturedOutput::default();
    let mut machine = Machine::from_elf(
        &support::guest("bad/infinite_loop"),
        &Options::default(),
        Box::new(output),
    )
    .unwrap();
    let stop = std::thread::Builder::new()
        .stack_size(64 << 10)
        .spawn(move || machine.run(BUDGET))
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(stop, Stop::BudgetExhausted);
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
    let hello32 = support::guest("rv32/c/hello");
    let mut bad_class = hello32.clone();
    bad_class[4] = 3;
    let mut wrapping = hello32.clone();
    // The second program header (the text's PT_LOAD) gets a p_memsz (ELF32: header at
    // 52 + 32, field at + 20) that runs past the 32-bit address space.
    wrapping[104..108].copy_from_slice(&u32::MAX.to_le_bytes());
    for (bytes, expected) in [
        (Vec::new(), "not an ELF file"),
        (b"#!/bin/sh\necho hi\n".to_vec(), "not an ELF file"),
        (hello[..100].to_vec(), "outside the file"),
        (hello32[..40].to_vec(), "shorter than its ELF header"),
        (hello32[..100].to_vec(), "outside the file"),
        (bad_class, "ELF class is invalid (3)"),
        (wrapping, "wraps around the address space"),
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

/// Garbage as code: the text of a real program overwritten with pseudo-random bytes, run under
/// small limits. Whatever the bytes do (wild jumps, loads and stores, random system calls with
/// random arguments, illegal instructions), the machine stops with a `Stop` value.
#[test]
fn random_code_never_crashes_the_host() {
    for guest in ["c/hello", "rv32/c/hello"] {
        random_code_in(guest);
    }
}

fn random_code_in(guest: &str) {
    let original = support::guest(guest);
    let image = rvedge::elf::parse(&original, rvedge::program_address_limit).unwrap();
    let text = image
        .segments
        .iter()
        .find(|segment| segment.flags.execute)
        .unwrap();
    let text_file_offset = text.file_data.as_ptr() as usize - original.as_ptr() as usize;
    let entry_offset = text_file_offset + (image.entry - text.vaddr) as usize;
    let scrambled_end = (entry_offset + 64 * 1024).min(text_file_offset + text.file_data.len());

    let options = Options {
        max_memory: 16 << 20,
        ..Options::default()
    };
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut outcomes = std::collections::BTreeMap::<String, u32>::new();
    for _ in 0..300 {
        let mut program = original.clone();
        for byte in &mut program[entry_offset..scrambled_end] {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            *byte = state as u8;
        }
        let mut machine =
            Machine::from_elf(&program, &options, Box::new(Isolated::default())).unwrap();
        let stop = machine.run(200_000);
        let outcome = match stop {
            Stop::Trap(trap) => format!("{:?}", trap.kind)
                .split([' ', '{'])
                .next()
                .unwrap()
                .to_string(),
            other => format!("{other:?}").split('(').next().unwrap().to_string(),
        };
        *outcomes.entry(outcome).or_default() += 1;
        assert!(machine.instructions() <= 200_000);
    }
    eprintln!("outcomes of random code: {outcomes:?}");
    // Random code mostly faults, in several ways.
    assert!(outcomes.len() >= 3, "{outcomes:?}");
}

/// Every Linux system call number with pseudo-random arguments (wild, null, and pointers into
/// the stack), made from a real `ecall` of the program: each returns to the guest or stops it
/// cleanly, and the machine stays usable.
#[test]
fn system_calls_with_wild_arguments_fail_cleanly() {
    for guest in ["c/hello", "rv32/c/hello"] {
        wild_system_calls_in(guest);
    }
}

fn wild_system_calls_in(guest: &str) {
    let program = rvedge::Program::from_elf(&support::guest(guest)).unwrap();
    let ecall_pc = program
        .code
        .iter()
        .find(|insn| insn.op == rvedge::decode::Op::Ecall)
        .map(|insn| program.code_start + u64::from(insn.offset))
        .expect("hello makes system calls");
    let options = Options {
        max_memory: 16 << 20,
        ..Options::default()
    };
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut returned = 0;
    for round in 0..4000u64 {
        let mut machine =
            Machine::new(program.clone(), &options, Box::new(Isolated::default())).unwrap();
        let sp = machine.register(rvedge::registers::SP);
        for register in A0..=A5 {
            let value = match next() % 4 {
                0 => 0,
                1 => sp.wrapping_sub(next() % 4096),
                2 => next() % 65536,
                _ => next(),
            };
            machine.set_register(register, value);
        }
        // The numbers in use end at 435 (RV32's *_time64 calls are 403 and up).
        machine.set_register(A7, round % 450);
        machine.set_pc(ecall_pc);
        match machine.run(1) {
            // The ecall returned to the guest, which the budget then stopped.
            Stop::BudgetExhausted => returned += 1,
            Stop::Exited(_) | Stop::Trap(_) => {}
            other => panic!(
                "{guest}: system call {} stopped with {other:?}",
                round % 450
            ),
        }
    }
    assert!(
        returned > 3000,
        "{guest}: {returned} of 4000 calls returned to the guest"
    );
}

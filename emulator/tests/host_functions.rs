//! Host-side libc (`rvedge::native`) on real programs: string functions that fault stop the
//! machine exactly where glibc's own code does; stripped programs keep their own code; the
//! host heap serves a snapshot's forks from fresh pages and keeps the template's blocks; a
//! program stepped one instruction at a time uses the same allocator as one that runs.
//! Results without faults are compared with qemu in cli/tests/differential.rs.

use rvedge_test_support as support;

use std::process::Command;
use std::sync::Arc;

use rvedge::native::{HostFunction, HostFunctionOptions};
use rvedge::{CapturedOutput, Isolated, Machine, Options, Program, Stop, TrapKind};

const BUDGET: u64 = 2_000_000_000;

fn load(elf: &[u8], options: HostFunctionOptions) -> Arc<Program> {
    Program::from_elf_with(elf, options).expect("guest loads")
}

const GUEST_CODE: HostFunctionOptions = HostFunctionOptions {
    string_functions: false,
    heap: false,
};
const HOST_STRINGS: HostFunctionOptions = HostFunctionOptions {
    string_functions: true,
    heap: false,
};
const HOST_EVERYTHING: HostFunctionOptions = HostFunctionOptions {
    string_functions: true,
    heap: true,
};

/// How a run of `program` with `arguments` ended, and what it printed.
fn run(program: &Arc<Program>, arguments: &[&str]) -> (Stop, Vec<u8>) {
    run_with_budget(program, arguments, BUDGET)
}

fn run_with_budget(program: &Arc<Program>, arguments: &[&str], budget: u64) -> (Stop, Vec<u8>) {
    let output = CapturedOutput::default();
    let options = Options {
        arguments: arguments.iter().map(|text| text.to_string()).collect(),
        ..Options::default()
    };
    let mut machine =
        Machine::new(Arc::clone(program), &options, Box::new(output.clone())).unwrap();
    let stop = machine.run(budget);
    (stop, output.stdout())
}

#[test]
fn string_functions_fault_where_the_guests_own_code_faults() {
    let elf = support::guest("embed/string_faults");
    let (guest, host) = (load(&elf, GUEST_CODE), load(&elf, HOST_STRINGS));
    assert!(guest.host_functions.entries.is_empty());
    assert!(
        host.host_functions
            .entries
            .iter()
            .any(|(_, function)| *function == HostFunction::Memcpy),
        "glibc's memcpy is found"
    );
    let mut faults = 0;
    for case in 1..=16 {
        let argument = case.to_string();
        let arguments = ["string_faults", argument.as_str()];
        let (expected_stop, expected_output) = run(&guest, &arguments);
        let (stop, output) = run(&host, &arguments);
        assert_eq!(stop, expected_stop, "case {case}");
        assert_eq!(
            String::from_utf8_lossy(&output),
            String::from_utf8_lossy(&expected_output),
            "case {case}"
        );
        if let Stop::Trap(trap) = stop {
            assert!(
                matches!(trap.kind, TrapKind::Load { .. } | TrapKind::Store { .. }),
                "case {case}: {trap}"
            );
            faults += 1;
        }
    }
    // Every case but the zero-length, overlap and early-difference ones faults.
    assert!(faults >= 12, "only {faults} cases faulted");
}

/// A length near 2^64 whose price the budget covers (`rvedge run` has none): the host's
/// memset must fault where glibc's does, not wrap the TLB's page check around and write
/// past the page on the host (it did: the host process crashed).
#[test]
fn a_length_that_wraps_the_address_space_faults_where_the_guests_code_does() {
    let elf = support::guest("embed/string_faults");
    let arguments = ["string_faults", "17"];
    let (expected_stop, expected_output) =
        run_with_budget(&load(&elf, GUEST_CODE), &arguments, u64::MAX);
    assert!(
        matches!(expected_stop, Stop::Trap(ref trap) if matches!(trap.kind, TrapKind::Store { .. })),
        "{expected_stop}"
    );
    let (stop, output) = run_with_budget(&load(&elf, HOST_STRINGS), &arguments, u64::MAX);
    assert_eq!(stop, expected_stop);
    assert_eq!(output, expected_output);
}

#[test]
fn a_stripped_program_runs_its_own_code() {
    support::require_tools(&["riscv64-linux-gnu-strip"]).unwrap();
    let unstripped = support::guests_dir().join("glibc/string_functions");
    let stripped = std::env::temp_dir().join(format!("rvedge-stripped-{}", std::process::id()));
    let status = Command::new("riscv64-linux-gnu-strip")
        .arg("-o")
        .arg(&stripped)
        .arg(&unstripped)
        .status()
        .unwrap();
    assert!(status.success());
    let elf = std::fs::read(&stripped).unwrap();
    let _ = std::fs::remove_file(&stripped);
    let program = load(&elf, HOST_EVERYTHING);
    assert_eq!(program.host_functions, Default::default());
    assert!(program.function_names.is_empty());
    let (stop, output) = run(&program, &["string_functions"]);
    let (expected_stop, expected_output) = run(
        &load(&std::fs::read(&unstripped).unwrap(), HOST_EVERYTHING),
        &["string_functions"],
    );
    assert_eq!((stop, &output), (expected_stop, &expected_output));
}

#[test]
fn host_functions_charge_the_budget_and_never_exceed_it() {
    let elf = support::guest("glibc/string_functions");
    let host = load(&elf, HOST_STRINGS);
    let (_, full_output) = run(&host, &["string_functions"]);
    let mut machine = Machine::new(
        Arc::clone(&host),
        &Options::default(),
        Box::new(Isolated::default()),
    )
    .unwrap();
    let mut budget_stops = 0;
    // Small budgets end anywhere, host functions included; the count never overshoots.
    loop {
        let before = machine.instructions();
        let stop = machine.run(997);
        assert!(machine.instructions() - before <= 997);
        match stop {
            Stop::BudgetExhausted => budget_stops += 1,
            Stop::Exited(status) => {
                assert_eq!(status, 0);
                break;
            }
            other => panic!("{other}"),
        }
    }
    assert!(budget_stops > 100 && !full_output.is_empty());
}

/// The threaded dispatch runs host functions without leaving its chain of handlers, so what
/// follows one must jump on too, not call: the allocator guest's thousands of host calls on a
/// 64 KiB stack (and test builds assert that no chain grows the stack by 16 KiB).
#[test]
fn a_long_run_of_host_function_calls_keeps_the_stack_flat() {
    let program = load(&support::guest("glibc/allocator"), HOST_EVERYTHING);
    assert!(!program.host_functions.entries.is_empty());
    let (stop, output) = std::thread::Builder::new()
        .stack_size(64 << 10)
        .spawn(move || run(&program, &["allocator"]))
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(
        stop,
        Stop::Exited(0),
        "{}",
        String::from_utf8_lossy(&output)
    );
}

/// The vmcall guest's template (paused in its "wait here" host call) with the host heap.
fn heap_template() -> (Machine, u64) {
    let elf = support::guest("embed/vmcall");
    let program = load(&elf, HOST_EVERYTHING);
    assert!(program.host_functions.heap_errno_offset.is_some());
    let mut machine =
        Machine::new(program, &Options::default(), Box::new(Isolated::default())).unwrap();
    let mut function = 0;
    let stop = machine.run_with_host_calls(BUDGET, &mut |machine, number| match number {
        500 => {
            function = machine.register(10);
            None
        }
        _ => Some(Stop::HostCall(number)),
    });
    assert_eq!(stop, Stop::HostCall(501));
    (machine, function)
}

#[test]
fn forks_of_a_host_heap_allocate_on_fresh_pages_and_keep_the_templates_blocks() {
    let (mut template, _) = heap_template();
    let heap_symbol = |machine: &Machine, name: &str| {
        machine
            .program()
            .host_functions
            .entries
            .iter()
            .find(|(_, function)| function.name() == name)
            .map(|(address, _)| *address)
            .unwrap()
    };
    let malloc = heap_symbol(&template, "malloc");
    let free = heap_symbol(&template, "free");
    let realloc = heap_symbol(&template, "realloc");
    let no_calls = &mut |_: &mut Machine, number: u64| Some(Stop::HostCall(number));
    // A block of the template, written before the snapshot.
    let kept = template.call(malloc, &[64], BUDGET, no_calls).unwrap();
    template.write_memory(kept, b"template's").unwrap();
    let snapshot = template.snapshot();

    for _ in 0..3 {
        let mut fork = Machine::from_snapshot(&snapshot, Box::new(Isolated::default()));
        // Freeing the template's block is a no-op; realloc copies it.
        assert_eq!(fork.call(free, &[kept], BUDGET, no_calls), Ok(0));
        let moved = fork.call(realloc, &[kept, 5000], BUDGET, no_calls).unwrap();
        assert_ne!(moved, kept);
        let mut text = [0u8; 10];
        fork.read_memory(moved, &mut text).unwrap();
        assert_eq!(&text, b"template's");
        let fresh = fork.call(malloc, &[100], BUDGET, no_calls).unwrap();
        assert!(fresh > kept && moved > kept);
        fork.write_memory(fresh, &[1; 100]).unwrap();
        // The blocks' pages, and the stack's: never a page of the template's heap.
        assert!(
            fork.memory().owned_pages() <= 4,
            "{} pages",
            fork.memory().owned_pages()
        );
        let mut original = [0u8; 10];
        fork.read_memory(kept, &mut original).unwrap();
        assert_eq!(&original, b"template's");
    }
}

#[test]
fn heap_misuse_aborts_as_glibc_does() {
    let (template, _) = heap_template();
    let free = template
        .program()
        .host_functions
        .entries
        .iter()
        .find(|(_, function)| *function == HostFunction::Free)
        .map(|(address, _)| *address)
        .unwrap();
    let malloc = template
        .program()
        .host_functions
        .entries
        .iter()
        .find(|(_, function)| *function == HostFunction::Malloc)
        .map(|(address, _)| *address)
        .unwrap();
    let output = CapturedOutput::default();
    let mut machine = template;
    machine.replace_environment(Box::new(output.clone()));
    let no_calls = &mut |_: &mut Machine, number: u64| Some(Stop::HostCall(number));
    let block = machine.call(malloc, &[24], BUDGET, no_calls).unwrap();
    let _other = machine.call(malloc, &[24], BUDGET, no_calls).unwrap();
    assert_eq!(machine.call(free, &[block], BUDGET, no_calls), Ok(0));
    let abort = Err(Stop::Trap(rvedge::Trap {
        pc: free,
        kind: TrapKind::Signal { signal: 6 },
    }));
    assert_eq!(machine.call(free, &[block], BUDGET, no_calls), abort);
    assert_eq!(machine.call(free, &[block + 8], BUDGET, no_calls), abort);
    assert_eq!(
        String::from_utf8_lossy(&output.stderr()),
        "free(): double free detected in tcache 2\nfree(): invalid pointer\n"
    );
}

#[test]
fn stepping_uses_the_host_heap_too() {
    let elf = support::guest("glibc/allocator");
    let program = load(&elf, HOST_EVERYTHING);
    let (_, expected) = run(&program, &["allocator"]);
    let output = CapturedOutput::default();
    let mut machine = Machine::new(
        program,
        &Options {
            arguments: vec!["allocator".into()],
            ..Options::default()
        },
        Box::new(output.clone()),
    )
    .unwrap();
    // Step through the start (stdio's first malloc included), then run the rest.
    for _ in 0..200_000 {
        assert_eq!(machine.step(), None);
    }
    assert_eq!(machine.run(u64::MAX), Stop::Exited(0));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout()),
        String::from_utf8_lossy(&expected)
    );
}

//! Single-stepping for debuggers: `Machine::step` runs exactly one instruction and a program
//! stepped to its end behaves as it does under `run`; `Fork::enter_hook` + `Fork::step` run a
//! tenant hook as `Fork::run_hook` does, with the same calls, budget and errors.

use rvedge_test_support as support;

use std::sync::Arc;

use rvedge::decode::Op;
use rvedge::runtime::abi::Hook;
use rvedge::runtime::{ErrorKind, HttpRequest, Limits, MemoryHost, StepOutcome, Tenant};
use rvedge::{CapturedOutput, Machine, Options, Stop, TrapKind};

const BUDGET: u64 = 50_000_000;

fn machine(guest: &str) -> (Machine, CapturedOutput) {
    let output = CapturedOutput::default();
    let machine = Machine::from_elf(
        &support::guest(guest),
        &Options::default(),
        Box::new(output.clone()),
    )
    .unwrap();
    (machine, output)
}

/// The encoding of `ecall`.
const ECALL: u32 = 0x0000_0073;

/// Steps until the machine stops; returns why and the instructions it counted.
fn step_to_end(machine: &mut Machine) -> (Stop, u64) {
    let mut steps = 0;
    loop {
        let before = machine.instructions();
        // A host-run libc function is one step, and a system call's price is charged with its
        // ecall, as run charges them.
        let host_function = machine.program().host_functions.at(machine.pc()).is_some();
        let mut word = [0u8; 4];
        let ecall = machine.read_memory(machine.pc(), &mut word).is_ok()
            && u32::from_le_bytes(word) == ECALL;
        let stop = machine.step();
        steps += machine.instructions() - before;
        assert!(steps <= BUDGET, "stepping never ended");
        if let Some(stop) = stop {
            return (stop, steps);
        }
        if !host_function && !ecall {
            assert_eq!(
                machine.instructions(),
                before + 1,
                "one step is one instruction"
            );
        }
    }
}

#[test]
fn a_program_stepped_to_its_end_matches_run() {
    for guest in ["c/hello", "c/qsort_strtod", "c/printf_float", "cpp/json"] {
        let (mut running, run_output) = machine(guest);
        let run_stop = running.run(BUDGET);
        let (mut stepping, step_output) = machine(guest);
        let (step_stop, steps) = step_to_end(&mut stepping);
        assert_eq!(step_stop, run_stop, "{guest}");
        assert!(matches!(run_stop, Stop::Exited(_)), "{guest}: {run_stop}");
        assert_eq!(stepping.instructions(), running.instructions(), "{guest}");
        assert_eq!(steps, running.instructions(), "{guest}: steps");
        assert_eq!(step_output.stdout(), run_output.stdout(), "{guest}");
        assert!(!step_output.stdout().is_empty(), "{guest} printed nothing");
        for register in 0..32 {
            assert_eq!(
                stepping.register(register),
                running.register(register),
                "{guest}: x{register}"
            );
        }
    }
}

#[test]
fn a_step_runs_one_instruction_and_moves_pc_past_it() {
    let (mut machine, _) = machine("c/hello");
    let entry = machine.pc();
    // glibc's _start begins with `jal ra, load_gp`: the step jumps and links.
    let insn = machine.program().insn_at(entry).expect("entry is decoded");
    assert_eq!(insn.op, Op::Jal, "{insn:?}");
    assert_eq!(machine.step(), None);
    assert_eq!(machine.instructions(), 1);
    assert_eq!(machine.pc(), entry.wrapping_add(insn.imm as i64 as u64));
    assert_eq!(
        machine.register(rvedge::registers::RA),
        entry + 4,
        "ra links past the jal"
    );
    // Then straight-line code: each step moves pc by the instruction's length.
    for _ in 0..3 {
        let pc = machine.pc();
        let insn = machine.program().insn_at(pc).unwrap();
        if insn.op.ends_block() {
            break;
        }
        let length = if machine.program().instruction_bits(pc).unwrap() & 0b11 == 0b11 {
            4
        } else {
            2
        };
        assert_eq!(machine.step(), None);
        assert_eq!(machine.pc(), pc + length, "after {insn:?}");
    }
}

#[test]
fn stepping_a_faulting_program_reports_the_same_trap_as_run() {
    for guest in [
        "bad/load_unmapped",
        "bad/illegal_instruction",
        "bad/jump_unmapped",
    ] {
        let (mut running, _) = machine(guest);
        let run_stop = running.run(BUDGET);
        let (mut stepping, _) = machine(guest);
        let (step_stop, _) = step_to_end(&mut stepping);
        assert!(matches!(run_stop, Stop::Trap(_)), "{guest}: {run_stop}");
        assert_eq!(step_stop, run_stop, "{guest}");
        assert_eq!(stepping.pc(), running.pc(), "{guest}");
        assert_eq!(stepping.instructions(), running.instructions(), "{guest}");
    }
    let (mut machine, _) = machine("c/hello");
    machine.set_pc(0x10);
    assert_eq!(
        machine.step(),
        Some(Stop::Trap(rvedge::Trap {
            pc: 0x10,
            kind: TrapKind::InstructionFetch
        }))
    );
}

fn tenant(name: &str, limits: Limits) -> Arc<Tenant> {
    let program = std::fs::read(support::tenants_dir().join(name)).unwrap();
    Tenant::load(name, &program, limits, None).unwrap()
}

fn request(url: &str) -> HttpRequest {
    HttpRequest {
        method: "GET".into(),
        url: url.into(),
        headers: vec![("X-Internal".into(), "secret".into())],
        body: Vec::new(),
    }
}

#[test]
fn a_hook_stepped_to_its_end_matches_run_hook() {
    let tenant = tenant("rewrite", Limits::default());
    let mut host_run = MemoryHost::new(request("/old/page"));
    let mut fork_run = tenant.fork();
    assert_eq!(fork_run.run_hook(Hook::Recv, &mut host_run), Ok(true));

    let mut host_step = MemoryHost::new(request("/old/page"));
    let mut fork_step = tenant.fork();
    assert!(fork_step.enter_hook(Hook::Recv));
    let mut steps = 0;
    let outcome = loop {
        steps += 1;
        match fork_step.step(&mut host_step) {
            StepOutcome::Running => assert!(steps < 1_000_000),
            StepOutcome::Finished(outcome) => break outcome,
        }
    };
    assert_eq!(outcome, Ok(()));
    assert_eq!(fork_step.instructions(), fork_run.instructions());
    assert!(fork_step.instructions() > 10);
    // The host calls made while stepping changed the request as the run did.
    assert_eq!(host_step.req, host_run.req);
    assert_eq!(host_step.req.url, "/new/page");
    assert_eq!(host_step.log, host_run.log);
    // Stepping past the end keeps reporting the end without running anything.
    assert_eq!(
        fork_step.step(&mut host_step),
        StepOutcome::Finished(Ok(()))
    );
}

#[test]
fn a_looping_hook_stepped_ends_in_timeout_at_its_budget() {
    let limits = Limits {
        max_instructions: 5_000,
        ..Limits::default()
    };
    let tenant = tenant("loop", limits);
    let mut host = MemoryHost::new(request("/"));
    let mut fork = tenant.fork();
    assert!(fork.enter_hook(Hook::Recv));
    let mut steps = 0u64;
    let error = loop {
        steps += 1;
        match fork.step(&mut host) {
            StepOutcome::Running => assert!(steps <= 5_000),
            StepOutcome::Finished(outcome) => break outcome.unwrap_err(),
        }
    };
    assert_eq!(error.kind, ErrorKind::Timeout);
    assert_eq!(fork.instructions(), 5_000);
    assert_eq!(steps, 5_001, "the budget's instructions, then the stop");
}

#[test]
fn a_hook_the_tenant_did_not_register_cannot_be_entered() {
    let tenant = tenant("loop", Limits::default());
    let mut fork = tenant.fork();
    assert!(!fork.enter_hook(Hook::Deliver));
    let mut host = MemoryHost::new(request("/"));
    assert_eq!(fork.step(&mut host), StepOutcome::Finished(Ok(())));
    assert_eq!(fork.instructions(), 0);
}

/// Hooks that loop on instructions with a price (the attack tenant's `/midjump`, jumping
/// into the middle of an instruction: `UNDECODED_PRICE`; `/counters`, reading the cycle and
/// instret counters: `COUNTER_READ_PRICE`): stepped, each stops at the same instruction count
/// as run, for budgets ending anywhere within those prices.
#[test]
fn hooks_looping_on_priced_instructions_stepped_stop_where_run_hook_does() {
    let program = support::guest("tenant/attack");
    let price = rvedge::interp::UNDECODED_PRICE.max(rvedge::interp::COUNTER_READ_PRICE);
    for budget in 20_000..20_000 + 2 * price {
        let limits = Limits {
            max_instructions: budget,
            ..Limits::default()
        };
        let tenant = Tenant::load("attack", &program, limits, None).unwrap();
        for url in ["/midjump", "/counters"] {
            let mut ran = tenant.fork();
            let error = ran
                .run_hook(Hook::Recv, &mut MemoryHost::new(request(url)))
                .unwrap_err();
            assert_eq!(error.kind, ErrorKind::Timeout, "{url}");

            let mut stepped = tenant.fork();
            let mut host = MemoryHost::new(request(url));
            assert!(stepped.enter_hook(Hook::Recv));
            let outcome = loop {
                if let StepOutcome::Finished(outcome) = stepped.step(&mut host) {
                    break outcome;
                }
            };
            assert_eq!(outcome.unwrap_err().kind, ErrorKind::Timeout, "{url}");
            let instructions = (ran.instructions(), stepped.instructions());
            assert_eq!(instructions.0, instructions.1, "{url}, budget {budget}");
            assert!(instructions.0 > budget - price, "{url}, budget {budget}");
        }
    }
}

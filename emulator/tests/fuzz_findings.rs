//! Reproducers of what the fuzz targets (`fuzz/`, `scripts/fuzz.sh`) found, one test each, on
//! the smallest program that shows it.

mod in_memory;

use rvedge_test_support as support;

use rvedge::runtime::abi::Hook;
use std::sync::Arc;

use rvedge::runtime::{
    ErrorKind, Exchange, HttpRequest, HttpResponse, Limits, MemoryHost, Next, StepOutcome, Tenant,
};

/// Found by `tenant_calls` (a stepped run logged differently from a plain one): the tenant's
/// stdout reached the log only when its hook ended, after lines it logged with `log` later
/// on, while a stepped hook (the playground's debugger) logged them in program order. Found
/// next: a line past the log caps was dropped but shorter ones after it were not, so the note
/// that output was cut came before them when stepped and after them when not; output now
/// ends at the first line dropped.
#[test]
fn stdout_and_log_lines_reach_the_log_in_program_order() {
    let tenant = Tenant::load(
        "log_order",
        &support::guest("tenant/log_order"),
        Limits::default(),
        None,
    )
    .expect("log_order loads");
    for stepping in [false, true] {
        let (host, _) = respond(&tenant, "/", stepping);
        // Long lines by their length, so a failure reads.
        let log: Vec<String> = host
            .log
            .iter()
            .map(|line| match line.len() {
                0..100 => line.clone(),
                long => format!("<{long} bytes>"),
            })
            .collect();
        assert_eq!(
            log,
            [
                "before",
                "logged",
                "after",
                "<61440 bytes>",
                "rvedge: output cut at this request's log limit"
            ],
            "stepping {stepping}"
        );
    }
}

/// Found by `tenant_calls`: a stepped hook paid a Linux call's price even when it did not fit
/// in what was left of its budget, so it ran the call and went past its budget where a run
/// stops before the call. And (found when the attack guest's loop changed shape): a stepped
/// hook ran on into a basic block that did not fit in what was left, where a run, which
/// charges a block whole on entering it, stops before the block.
#[test]
fn a_stepped_hook_stops_before_a_system_call_it_cannot_afford() {
    // mprotect of 8 MiB in a loop: a price of 2,048 pages per call, most of an iteration, so
    // across these budgets several runs end at a call they cannot afford.
    let request = HttpRequest {
        method: "GET".into(),
        url: "/loop/mprotect/8388608/0".into(),
        ..HttpRequest::default()
    };
    for budget in (200_000..204_000).step_by(500) {
        let limits = Limits {
            max_instructions: budget,
            ..Limits::default()
        };
        let tenant = Tenant::load("attack", &support::guest("tenant/attack"), limits, None)
            .expect("attack loads");
        let mut ran = tenant.fork();
        let error = ran
            .run_hook(Hook::Recv, &mut MemoryHost::new(request.clone()))
            .expect_err("the loop runs out of budget");
        assert_eq!(error.kind, ErrorKind::Timeout);
        assert!(ran.instructions() <= budget);
        // Named by the budget, not by what ran before a call it could not afford.
        let used_up = format!("used up its {budget} instructions (max_instructions)");
        assert!(error.detail.starts_with(&used_up), "{error}");

        let mut stepped = tenant.fork();
        let mut host = MemoryHost::new(request.clone());
        assert!(stepped.enter_hook(Hook::Recv));
        let outcome = loop {
            match stepped.step(&mut host) {
                StepOutcome::Running => {}
                StepOutcome::Finished(outcome) => break outcome,
            }
        };
        let error = outcome.expect_err("the stepped loop runs out of budget");
        assert_eq!(error.kind, ErrorKind::Timeout);
        assert!(error.detail.starts_with(&used_up), "{error}");
        assert_eq!(
            stepped.instructions(),
            ran.instructions(),
            "budget {budget}"
        );
    }
}

/// Found by `tenant_calls` (a stepped request ran fewer instructions): a hook that paused
/// itself with a decision (`pause_for`) goes on at once in memory when it runs, but when it was
/// stepped to the pause the exchange ended the hook there. libvmod-hooks' "/pause" answers
/// only after the pause.
#[test]
fn a_hook_stepped_to_its_pause_goes_on_as_a_run_does() {
    let path = support::tenants_dir().join("libvmod-hooks");
    let program =
        std::fs::read(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    let tenant = Tenant::load("libvmod-hooks", &program, Limits::default(), None)
        .expect("libvmod-hooks loads");
    for stepping in [false, true] {
        let (_, response) = respond(&tenant, "/pause", stepping);
        assert_eq!(
            (response.status, response.body.as_slice()),
            (202, &b"resumed after the pause\n"[..]),
            "stepping {stepping}"
        );
    }
}

/// Found by `execute` (a run that never ended): a `jal` that links as the last instruction of
/// its code noted the entry after it, the `FallThrough` that ends the code, as its return
/// entry; that `FallThrough` goes on at its own address, the return address, and the threaded
/// dispatch's return shortcut entered it again, forever and uncharged (it is no instruction).
/// Both programs must stop at the end of their code, as the `match` loop always did.
#[test]
fn a_call_as_the_last_instruction_of_the_code_returns_to_its_end() {
    let programs: [&[u32]; 2] = [
        &[0x0040_036f], // jal t1, 4: links and jumps to the end of the code
        &[
            0x0080_006f, // j main
            0x0000_8067, // f: ret                to the end of the code
            0xffdf_f0ef, // main: jal ra, f       the code's last instruction
        ],
    ];
    for code in programs {
        // On a thread, so that a run that never ends fails the test instead of hanging it.
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let stops = in_memory::machines(rvedge::Xlen::Rv64, code).map(|mut machine| {
                let stop = machine.run(1000);
                (stop, machine.instructions())
            });
            sender.send(stops).unwrap();
        });
        let [run, profiled] = receiver
            .recv_timeout(std::time::Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("{code:x?} never stopped"));
        assert!(
            matches!(run.0, rvedge::Stop::Trap(_)),
            "{code:x?} stopped with {:?}",
            run.0
        );
        assert_eq!(run, profiled, "{code:x?}: both dispatches stop alike");
    }
}

/// A GET of `url` through `tenant`'s exchange to the tenant's response, run or (`stepping`)
/// stepped an instruction at a time through every hook; the host and the response.
fn respond(tenant: &Arc<Tenant>, url: &str, stepping: bool) -> (MemoryHost, HttpResponse) {
    let mut host = MemoryHost::new(HttpRequest {
        method: "GET".into(),
        url: url.into(),
        ..HttpRequest::default()
    });
    let mut exchange = Exchange::new(tenant);
    exchange.set_stepping(stepping);
    loop {
        match exchange.resume(&mut host) {
            Next::Paused { .. } => while exchange.step(&mut host) == StepOutcome::Running {},
            Next::Respond { response, .. } => return (host, response),
            other => panic!("stepping {stepping}: {other:?}"),
        }
    }
}

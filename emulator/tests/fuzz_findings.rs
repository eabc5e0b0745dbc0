//! Reproducers of what the fuzz targets (`fuzz/`, `scripts/fuzz.sh`) found, one test each, on
//! the smallest program that shows it.

use rvedge_test_support as support;

use rvedge::runtime::{Exchange, HttpRequest, Limits, MemoryHost, Next, StepOutcome, Tenant};

/// Found by `tenant_calls` (a stepped run logged differently from a plain one): the tenant's
/// stdout reached the log only when its hook ended, after lines it logged with `log` later
/// on, while a stepped hook (the playground's debugger) logged them in program order.
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
        let mut host = MemoryHost::new(HttpRequest {
            method: "GET".into(),
            url: "/".into(),
            ..HttpRequest::default()
        });
        let mut exchange = Exchange::new(&tenant);
        exchange.set_stepping(stepping);
        loop {
            match exchange.resume(&mut host) {
                Next::Paused { .. } => while exchange.step(&mut host) == StepOutcome::Running {},
                Next::Respond { .. } => break,
                other => panic!("stepping {stepping}: {other:?}"),
            }
        }
        assert_eq!(
            host.log,
            ["before", "logged", "after"],
            "stepping {stepping}"
        );
    }
}

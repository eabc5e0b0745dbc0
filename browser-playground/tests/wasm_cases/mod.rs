//! The checks both wasm runs make: every conformance case through the runtime's in-memory
//! reference and through the playground's own Run path, and the debugger, with the example
//! tenants compiled in by build.rs (a wasm test has no filesystem).

use std::collections::BTreeMap;

use rvedge::runtime::Tenants;
use rvedge_conformance::{cases, observe_in_memory, Observed, TENANTS_JSON};
use rvedge_playground::report::{run, PageRequest, SourceReport};
use wasm_bindgen_test::wasm_bindgen_test;

mod bundled {
    include!(concat!(env!("OUT_DIR"), "/bundled_tenants.rs"));
}

fn tenants() -> Tenants {
    let programs: BTreeMap<String, Vec<u8>> = bundled::TENANTS
        .iter()
        .map(|(name, bytes)| (name.to_string(), bytes.to_vec()))
        .collect();
    assert!(
        !programs.is_empty(),
        "no tenants were compiled in from {}: run scripts/build-tenants.sh before the wasm tests",
        bundled::TENANT_DIR
    );
    Tenants::load(TENANTS_JSON, &programs, None).unwrap_or_else(|error| panic!("{error}"))
}

fn observe_in_playground(tenants: &Tenants, case: &rvedge_conformance::Case) -> Observed {
    let tenant = tenants.get(&case.tenant).expect("configured tenant");
    let request = PageRequest {
        method: case.request.method.clone(),
        url: case.request.url.clone(),
        headers: case.request.headers.clone(),
        body: case.request.body.clone(),
    };
    let report = run(tenant, &request, || 0);
    Observed {
        status: report.status,
        headers: report.headers,
        body: report.body.into_bytes(),
        cached: Some(matches!(
            report.source,
            SourceReport::Forged { cached: true, .. }
        )),
    }
}

#[wasm_bindgen_test]
fn every_conformance_case_passes_inside_wasm() {
    let tenants = tenants();
    let mut failures = Vec::new();
    let mut checked = 0;
    for case in cases() {
        for attempt in 1..=case.repeat {
            for (host, observed) in [
                ("in-memory", observe_in_memory(&tenants, &case)),
                ("playground", observe_in_playground(&tenants, &case)),
            ] {
                checked += 1;
                if let Err(problems) = case.expect.check(&observed) {
                    failures.push(format!(
                        "{} ({host}, attempt {attempt}): {problems}",
                        case.name
                    ));
                }
            }
        }
    }
    assert!(checked >= 40, "only {checked} checks");
    assert!(
        failures.is_empty(),
        "{} failing:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[wasm_bindgen_test]
fn the_debugger_steps_a_tenant_inside_wasm() {
    use rvedge_playground::debugger::{Command, CommandKind, DebugSession};
    let (name, elf) = bundled::TENANTS
        .iter()
        .find(|(name, _)| *name == "rewrite")
        .expect("rewrite was compiled in");
    let tenant = rvedge_playground::load_tenant(name, elf, "{}").unwrap();
    let info = std::rc::Rc::new(rvedge_playground::dwarf::DebugInfo::new(elf).unwrap());
    let request = PageRequest {
        url: "/old/x".into(),
        ..PageRequest::default()
    };
    let mut session = DebugSession::start(&tenant, info, &request);
    let first_pc = session.pc();
    session.run(&Command::default());
    assert_ne!(session.pc(), first_pc);
    session.run(&Command {
        kind: CommandKind::Continue,
        ..Command::default()
    });
    let state = session.state();
    assert!(state.finished && state.error.is_none(), "{state:?}");
    assert_eq!(state.request.url, "/new/x");
}

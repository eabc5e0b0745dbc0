//! The checks both wasm runs make: every conformance case through the runtime's in-memory
//! reference and through the playground's own Run path, the debugger, and the DWARF line
//! mapping of the examples as the IDE builds them, with the example tenants compiled in by
//! build.rs (a wasm test has no filesystem).

use std::collections::BTreeMap;

use rvedge::runtime::JsonRequest;
use rvedge::runtime::Tenants;
use rvedge_conformance::{cases, observe_in_memory, Observed, TENANTS_JSON};
use rvedge_playground::report::{run, SourceReport};
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
    // The table's request is the page's type: run as the page sends it.
    let report = run(tenant, &case.request, || 0);
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
    let request = JsonRequest {
        url: "/old/x".into(),
        ..JsonRequest::default()
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

/// The IDE builds of the examples, or a failure that says what to run.
fn ide_tenants() -> &'static [(&'static str, &'static [u8], &'static str, &'static str)] {
    assert!(
        bundled::IDE_TENANTS.len() >= 10,
        "only {} IDE-built examples were compiled in: set IDE_TENANT_OUT to the tenants/ of \
         scripts/build-playground.sh's output (scripts/test-playground.sh does)",
        bundled::IDE_TENANTS.len()
    );
    bundled::IDE_TENANTS
}

#[wasm_bindgen_test]
fn every_source_line_with_code_maps_to_addresses_and_back_inside_wasm() {
    use rvedge_playground::dwarf::DebugInfo;
    for (name, elf, source, file) in ide_tenants() {
        let info = DebugInfo::new(elf).unwrap_or_else(|error| panic!("{name}: {error}"));
        assert!(info.has_lines(), "{name}: no line information");
        let mut mapped = 0;
        for line in 1..=source.lines().count() as u32 {
            let Some((actual, addresses)) = info.breakpoint_addresses(file, line) else {
                continue;
            };
            assert!(actual >= line, "{name}:{line} moved back to {actual}");
            assert!(!addresses.is_empty(), "{name}:{line}");
            if actual != line {
                continue;
            }
            mapped += 1;
            for address in addresses {
                let found = info.line_at(address).expect("a line at a line's address");
                assert!(found.file.ends_with(file), "{name}: {found:?}");
                assert_eq!(found.line, line, "{name} at {address:#x}");
            }
        }
        assert!(mapped >= 3, "{name}: only {mapped} lines have code");
    }
}

#[wasm_bindgen_test]
fn lines_of_the_examples_belong_to_the_functions_that_hold_them_inside_wasm() {
    use rvedge_playground::dwarf::DebugInfo;
    let cases = [
        ("hello", "json[\"message\"] = ", "operator()"),
        ("hello", "req.append(", "on_recv"),
        ("rewrite", "memcpy(url, new_prefix", "on_recv"),
        ("rewrite", "\"X-Served-By\"", "on_deliver"),
        ("hello-rust", "add_req_header(", "on_client_request"),
    ];
    let tenants = ide_tenants();
    for (example, fragment, function) in cases {
        let (_, elf, source, file) = tenants
            .iter()
            .find(|(name, ..)| *name == example)
            .unwrap_or_else(|| panic!("{example} was built for the IDE"));
        let line = source
            .lines()
            .position(|text| text.contains(fragment))
            .unwrap_or_else(|| panic!("{fragment} in {example}")) as u32
            + 1;
        let info = DebugInfo::new(elf).unwrap();
        let (actual, addresses) = info
            .breakpoint_addresses(file, line)
            .unwrap_or_else(|| panic!("{example}:{line} has no code"));
        assert_eq!(actual, line, "{example}: {fragment}");
        let frames = info.frames_at(addresses[0]);
        assert!(
            frames.iter().any(|frame| frame.function.contains(function)),
            "{example}:{line} is in {frames:?}, not {function}"
        );
    }
}

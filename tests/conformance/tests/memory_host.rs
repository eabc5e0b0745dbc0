//! The conformance table through the in-memory host (the runtime's `exchange`).

use rvedge_test_support as support;

use rvedge::runtime::{ProgramDirectory, Tenants};
use rvedge_conformance::{cases, configurations, observe_in_memory};

#[test]
fn every_case_passes_on_the_in_memory_host_in_every_configuration() {
    let programs = ProgramDirectory::new(support::tenants_dir());
    let mut failures = Vec::new();
    for configuration in configurations() {
        let tenants = Tenants::load(&configuration.tenants_json, &programs, None)
            .unwrap_or_else(|error| panic!("{}: {error}", configuration.name));
        for case in cases() {
            for attempt in 1..=case.repeat {
                let observed = observe_in_memory(&tenants, &case);
                if let Err(problems) = case.expect.check(&observed) {
                    failures.push(format!(
                        "{}: {} (attempt {attempt}): {problems}",
                        configuration.name, case.name
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failing:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

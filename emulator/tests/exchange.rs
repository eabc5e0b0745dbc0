//! The runtime's resumable exchange, driven the way hosts drive it: the hook order it owns, the
//! request body it asks for only when tenant code on the backend side may read it, stepping
//! through every hook in order, and the end of an exchange.

use rvedge_test_support as support;

use std::sync::Arc;

use rvedge::runtime::abi::Hook;
use rvedge::runtime::{
    exchange, EchoOrigin, Exchange, HttpRequest, HttpResponse, Limits, MemoryHost, Next, Origin,
    Phase, Side, StepOutcome, Tenant,
};

fn load(program: &str) -> Arc<Tenant> {
    Tenant::load(program, &support::guest(program), Limits::default(), None)
        .unwrap_or_else(|error| panic!("{program} loads: {error}"))
}

fn load_example(name: &str) -> Arc<Tenant> {
    let path = support::tenants_dir().join(name);
    let elf = std::fs::read(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    Tenant::load(name, &elf, Limits::default(), None).expect("example tenant loads")
}

fn post(url: &str, body: &str) -> HttpRequest {
    HttpRequest {
        method: "POST".into(),
        url: url.into(),
        headers: vec![("X-Probe".into(), "p1".into())],
        body: body.into(),
    }
}

/// What a host saw of one exchange: each step's name, and the response it sent.
#[derive(Debug, PartialEq)]
struct Drive {
    steps: Vec<String>,
    response: Option<HttpResponse>,
}

/// Drives an exchange as a host does, with the messages in memory and the echo origin;
/// `on_pause` decides how a paused call goes on (by `step`s, or by `resume`).
fn drive(
    tenant: &Arc<Tenant>,
    request: HttpRequest,
    body_follows: bool,
    stepping: bool,
    mut on_pause: impl FnMut(&mut Exchange, &mut MemoryHost),
) -> Drive {
    let mut host = MemoryHost::new(request);
    let mut exchange = Exchange::new(tenant);
    exchange.set_stepping(stepping);
    if body_follows {
        exchange.request_body_follows();
    }
    let mut steps = Vec::new();
    for _ in 0..100 {
        match exchange.resume(&mut host) {
            Next::RequestBody => steps.push("body".into()),
            Next::Paused { side, phase } => {
                assert_eq!(
                    exchange.paused_fork().and_then(|fork| fork.entered()),
                    Some(phase)
                );
                steps.push(format!("{side:?} {}", phase.name()));
                on_pause(&mut exchange, &mut host);
            }
            Next::Fetch { backend } => {
                steps.push(format!("fetch {backend}"));
                let bereq = host.bereq.clone().expect("the backend request exists");
                host.response = Some(EchoOrigin.fetch(&backend, &bereq));
            }
            Next::Respond { response, .. } => {
                steps.push("respond".into());
                return Drive {
                    steps,
                    response: Some(response),
                };
            }
            Next::Deliver { .. } => {
                steps.push("deliver".into());
                return Drive {
                    steps,
                    response: host.response.take(),
                };
            }
            Next::Failed(error) => {
                steps.push(format!("failed {}", error.kind));
                return Drive {
                    steps,
                    response: None,
                };
            }
        }
    }
    panic!("the exchange did not end: {steps:?}");
}

fn names(steps: &[&str]) -> Vec<String> {
    steps.iter().map(|step| step.to_string()).collect()
}

#[test]
fn every_hook_stops_in_exchange_order_when_stepping() {
    let tenant = load("tenant/rules");
    let forged = drive(&tenant, post("/forge", "the body"), true, true, |_, _| {});
    assert_eq!(
        forged.steps,
        names(&[
            "Client on_recv",
            "Client on_hash",
            "body",
            "Backend on_backend_fetch",
            "Backend forge callback",
            "Backend on_backend_response",
            "Client on_deliver",
            "respond"
        ])
    );
    let passed = drive(&tenant, post("/to-origin", ""), false, true, |_, _| {});
    assert_eq!(
        passed.steps,
        names(&[
            "Client on_recv",
            "Client on_hash",
            "Backend on_backend_fetch",
            // on_backend_fetch chose this backend.
            "fetch second",
            "Backend on_backend_response",
            "Client on_deliver",
            "deliver"
        ])
    );
    // Synthesized in on_recv: no backend side at all.
    let probes = drive(&tenant, post("/probes", ""), true, true, |_, _| {});
    assert_eq!(
        probes.steps,
        names(&[
            "Client on_recv",
            "Client on_hash",
            "Client on_deliver",
            "respond"
        ])
    );
}

#[test]
fn stepping_instruction_by_instruction_ends_as_running_does() {
    let tenant = load("tenant/rules");
    for url in ["/forge", "/to-origin", "/probes"] {
        let run = drive(&tenant, post(url, "the body"), false, false, |_, _| {
            panic!("nothing pauses without stepping")
        });
        let mut instructions_stepped = 0;
        let stepped = drive(
            &tenant,
            post(url, "the body"),
            false,
            true,
            |exchange, host| {
                // Step the first call to its end one instruction at a time; the others resume.
                if instructions_stepped > 0 {
                    return;
                }
                loop {
                    instructions_stepped += 1;
                    if let StepOutcome::Finished(result) = exchange.step(host) {
                        result.expect("the hook succeeds");
                        break;
                    }
                }
            },
        );
        assert!(instructions_stepped > 10, "{url}: {instructions_stepped}");
        assert_eq!(stepped.response, run.response, "{url}");
        assert!(run.response.is_some(), "{url}: {:?}", run.steps);
    }
}

#[test]
fn the_body_is_asked_for_only_before_tenant_code_on_the_backend_side() {
    // rewrite has no backend side: a plain pass never waits for the body.
    let rewrite = load_example("rewrite");
    let passed = drive(&rewrite, post("/old/x", "data"), true, false, |_, _| {});
    assert_eq!(passed.steps, names(&["fetch default", "deliver"]));
    // json-api reads the body in its forge callback.
    let json_api = load_example("json-api");
    let forged = drive(
        &json_api,
        post("/", "{\"name\": 1}"),
        true,
        false,
        |_, _| {},
    );
    assert_eq!(forged.steps, names(&["body", "respond"]));
    // Told nothing follows, it never asks.
    let forged = drive(
        &json_api,
        post("/", "{\"name\": 1}"),
        false,
        false,
        |_, _| {},
    );
    assert_eq!(forged.steps, names(&["respond"]));
}

#[test]
fn the_driven_exchange_answers_as_the_in_memory_one() {
    let tenant = load("tenant/rules");
    for url in ["/forge", "/to-origin", "/probes", "/unhook"] {
        let reference = exchange(&tenant, post(url, "b"), &mut EchoOrigin, || 0);
        let driven = drive(&tenant, post(url, "b"), true, false, |_, _| {});
        let (response, _) = reference.result.expect("the reference succeeds");
        assert_eq!(driven.response, Some(response), "{url}");
    }
}

#[test]
fn a_failure_ends_the_exchange_and_it_stays_ended() {
    let tenant = load_example("loop");
    let mut host = MemoryHost::new(post("/", ""));
    let mut exchange = Exchange::new(&tenant);
    let Next::Failed(error) = exchange.resume(&mut host) else {
        panic!("the looping tenant fails");
    };
    assert_eq!(error.kind.name(), "timeout");
    assert_eq!(error.during, Hook::Recv.name());
    assert!(matches!(exchange.resume(&mut host), Next::Failed(_)));
}

#[test]
fn a_paused_call_is_the_one_the_fork_has_entered() {
    let tenant = load("tenant/rules");
    let mut host = MemoryHost::new(post("/forge", "x"));
    let mut exchange = Exchange::new(&tenant);
    exchange.set_stepping(true);
    let mut seen = Vec::new();
    loop {
        match exchange.resume(&mut host) {
            Next::Paused { side, phase } => {
                let fork = exchange.paused_fork().expect("a paused call has a fork");
                assert_eq!(fork.entered(), Some(phase));
                seen.push((side, phase));
            }
            Next::Respond { .. } => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(exchange.paused_fork().is_none());
    assert_eq!(seen[3], (Side::Backend, Phase::Forge));
    assert_eq!(seen.len(), 6);
}

#[test]
fn on_miss_runs_before_the_backend_side_and_on_synth_writes_synthetic_answers() {
    // libvmod-hooks registers on_miss, on_synth, on_hit, on_backend_error and
    // on_backend_response (with sys_register_callback).
    let tenant = load_example("libvmod-hooks");
    let to_origin = drive(&tenant, post("/cached/a", ""), false, true, |_, _| {});
    assert_eq!(
        to_origin.steps,
        names(&[
            "Client on_recv",
            "Client on_miss",
            "fetch default",
            "Backend on_backend_response",
            "deliver"
        ])
    );
    // A paused hook (pause_for) goes on at once in memory: it answers itself.
    let paused = exchange_response(&tenant, post("/pause", ""));
    assert_eq!(paused.status, 202);
    assert_eq!(paused.body, b"resumed after the pause\n");
    // libvmod-c-api: the decision "synth" with no response of its own; on_synth writes it
    // (and ends the hook there), with no backend side.
    let c_api = load_example("libvmod-c-api");
    let synth = drive(&c_api, post("/synth/other", ""), false, true, |_, _| {});
    assert_eq!(
        synth.steps,
        names(&["Client on_recv", "Client on_synth", "respond"])
    );
    let response = synth.response.expect("a synthetic answer");
    assert_eq!(
        (response.status, response.body.as_slice()),
        (500, &b"Not root URL"[..])
    );
    let root = exchange_response(&c_api, post("/synth", ""));
    assert_eq!(
        (root.status, root.body.as_slice()),
        (200, &b"Hello World"[..])
    );
}

fn exchange_response(tenant: &Arc<Tenant>, request: HttpRequest) -> HttpResponse {
    let mut origin = EchoOrigin;
    let outcome = exchange(tenant, request, &mut origin, || 0);
    outcome.result.expect("the tenant answers").0
}

//! The playground's Rust side natively, on the real example tenants: the conformance table
//! through its Run path, the report's diff and errors, the debugger, and the benchmark's
//! program runner. (The same checks run inside wasm in conformance_wasm.rs.)

#![cfg(not(target_arch = "wasm32"))]

use rvedge_test_support as support;

use rvedge::runtime::JsonRequest;
use rvedge_playground::debugger::{parse_address, Command, CommandKind, DebugSession, StopReason};
use rvedge_playground::dwarf::DebugInfo;
use rvedge_playground::report::{run, SourceReport};
use rvedge_playground::{load_tenant, run_program_native};

fn example(name: &str, limits: &str) -> std::sync::Arc<rvedge::runtime::Tenant> {
    let elf = std::fs::read(support::tenants_dir().join(name)).unwrap();
    load_tenant(name, &elf, limits).unwrap_or_else(|error| panic!("{error}"))
}

fn request(json: &str) -> JsonRequest {
    JsonRequest::from_json(json).unwrap()
}

fn debug(name: &str, limits: &str, request_json: &str) -> DebugSession {
    let elf = std::fs::read(support::tenants_dir().join(name)).unwrap();
    let tenant = load_tenant(name, &elf, limits).unwrap_or_else(|error| panic!("{error}"));
    let info = std::rc::Rc::new(DebugInfo::new(&elf).unwrap());
    DebugSession::start(&tenant, info, &request(request_json))
}

fn command(kind: CommandKind) -> Command {
    Command {
        kind,
        ..Command::default()
    }
}

#[test]
fn run_shows_the_forged_response_and_the_header_the_seed_added() {
    let tenant = example("hello", "{}");
    let report = run(&tenant, &request(r#"{"url": "/hi"}"#), || 0);
    assert_eq!(report.status, 200);
    assert_eq!(report.body, r#"{"message":"Hello from RISC-V!"}"#);
    assert_eq!(
        report.source,
        SourceReport::Forged {
            cached: true,
            ttl_seconds: 120
        }
    );
    assert!(report.error.is_none());
    assert!(report.instructions > 100, "{}", report.instructions);
    let added: Vec<_> = report
        .changes
        .iter()
        .filter(|change| change.field == "header")
        .map(|change| {
            (
                change.name.clone(),
                change.before.clone(),
                change.after.clone(),
            )
        })
        .collect();
    assert_eq!(
        added,
        vec![(Some("x-hello".into()), None, Some("url=/hi".into()))]
    );
}

#[test]
fn run_shows_the_url_rewrite_as_a_change_and_the_echo_of_it() {
    let tenant = example("rewrite", "{}");
    let report = run(
        &tenant,
        &request(r#"{"url": "/old/a", "headers": [["X-Internal", "1"]]}"#),
        || 0,
    );
    assert_eq!(report.status, 200);
    assert_eq!(report.request_out.url, "/new/a");
    let fields: Vec<String> = report
        .changes
        .iter()
        .map(|change| {
            format!(
                "{}:{}",
                change.field,
                change.name.clone().unwrap_or_default()
            )
        })
        .collect();
    assert!(fields.contains(&"url:".to_string()), "{fields:?}");
    assert!(
        fields.contains(&"header:x-internal".to_string()),
        "{fields:?}"
    );
    assert!(
        report.body.contains("\"url\":\"/new/a\""),
        "{}",
        report.body
    );
    assert_eq!(
        report.source,
        SourceReport::Backend {
            name: "default".into()
        }
    );
}

#[test]
fn a_looping_tenant_times_out_with_an_explanation() {
    let tenant = example("loop", r#"{"max_instructions": 100000}"#);
    let report = run(&tenant, &request(r#"{"url": "/"}"#), || 0);
    assert_eq!(report.status, 503);
    let error = report.error.expect("an error");
    assert_eq!(error.kind, "timeout");
    assert!(
        error.explanation.contains("max_instructions"),
        "{}",
        error.explanation
    );
    assert_eq!(report.instructions, 100_000);
    assert!(report
        .headers
        .contains(&("x-rvedge-error".into(), "timeout".into())));
}

#[test]
fn limits_are_checked_by_the_configuration_parser() {
    let elf = std::fs::read(support::tenants_dir().join("hello")).unwrap();
    let error = load_tenant("hello", &elf, r#"{"max_memory": true}"#).unwrap_err();
    assert!(error.contains("max_memory"), "{error}");
    let error = load_tenant("hello", &elf, r#"{"max_instuctions": 5}"#).unwrap_err();
    assert!(error.contains("max_instuctions"), "{error}");
    let error = load_tenant("junk", b"not an elf", "{}").unwrap_err();
    assert!(error.contains("junk"), "{error}");
}

#[test]
fn the_debugger_steps_on_recv_with_real_host_calls_and_stops_at_a_breakpoint() {
    let mut session = debug("rewrite", "{}", r#"{"url": "/old/x"}"#);
    let state = session.state();
    assert_eq!(state.hook, Some("on_recv"));
    assert_eq!(state.side, Some("client"));
    assert_eq!(state.instructions, 0);
    let current: Vec<_> = state
        .disassembly
        .iter()
        .filter(|line| line.current)
        .collect();
    assert_eq!(current.len(), 1, "{:?}", state.disassembly);
    assert_eq!(current[0].pc, state.pc);
    // The symbol table names the hook's function even without debug information.
    assert!(
        state
            .symbol
            .as_deref()
            .is_some_and(|symbol| symbol.starts_with("on_recv+")),
        "{:?}",
        state.symbol
    );
    assert_eq!(current[0].label.as_deref(), Some("on_recv"));
    let entry = parse_address(&state.pc).unwrap();

    session.run(&command(CommandKind::Instruction));
    let after = session.state();
    assert_eq!(after.instructions, 1);
    assert_ne!(after.pc, state.pc);

    // A breakpoint a few instructions on is reached exactly.
    let target = after
        .disassembly
        .iter()
        .map(|line| parse_address(&line.pc).unwrap())
        .find(|&pc| pc > entry + 8)
        .expect("code after the entry");
    session.run(&Command {
        kind: CommandKind::Continue,
        addresses: vec![format!("{target:#x}")],
        ..Command::default()
    });
    let stopped = session.state();
    assert_eq!(stopped.stop, StopReason::Breakpoint);
    assert_eq!(parse_address(&stopped.pc).unwrap(), target);

    session.run(&command(CommandKind::Continue));
    let done = session.state();
    assert!(done.finished && done.error.is_none(), "{done:?}");
    assert_eq!(done.pc, "ended");
    assert_eq!(done.request.url, "/new/x");
    assert_eq!(done.end.expect("a response").status, 200);
    let hooks: Vec<_> = done
        .hooks
        .iter()
        .map(|run| (run.hook, run.status))
        .collect();
    assert_eq!(hooks, [("on_recv", "returned"), ("on_deliver", "returned")]);
}

#[test]
fn the_debugger_reports_a_timeout_as_run_does() {
    let mut session = debug("loop", r#"{"max_instructions": 2000}"#, r#"{"url": "/"}"#);
    session.run(&command(CommandKind::Continue));
    let state = session.state();
    assert!(state.finished);
    assert_eq!(state.error.expect("timeout").kind, "timeout");
    assert_eq!(state.instructions, 2000);
    assert_eq!(state.end.expect("the 503").status, 503);
}

#[test]
fn the_benchmark_runner_runs_a_program_to_its_exit() {
    let elf = support::guest("c/hello");
    let run = run_program_native(&elf, vec!["hello".into()], 10_000_000).unwrap();
    assert_eq!(run.exit_status, Some(0), "{}", run.stop);
    assert!(run.stdout.contains("ello"), "{}", run.stdout);
    assert!(run.instructions > 1000);
}

//! The debugger at source level, natively, on tenants built from source for the IDE
//! (`rvedge::runtime::compile::compile_source` with debug information, as `rvedge playground`
//! builds them): every hook in exchange order, line breakpoints, stepping by line, the call
//! stack and local variables.

#![cfg(not(target_arch = "wasm32"))]

use std::rc::Rc;

use rvedge::runtime::compile::{compile_source, BuildOptions, Language};
use rvedge::runtime::JsonRequest;
use rvedge_playground::debugger::{Command, CommandKind, DebugSession, LineBreakpoint};
use rvedge_playground::dwarf::DebugInfo;
use rvedge_playground::load_tenant;

fn build(language: Language, source: &str) -> Vec<u8> {
    let options = BuildOptions {
        debug: true,
        ..BuildOptions::default()
    };
    let path = compile_source(language, source.as_bytes(), &options)
        .unwrap_or_else(|error| panic!("{error}"));
    std::fs::read(path).unwrap()
}

fn session(language: Language, source: &str) -> DebugSession {
    let elf = build(language, source);
    let tenant = load_tenant("ide", &elf, "{}").unwrap_or_else(|error| panic!("{error}"));
    let info = Rc::new(DebugInfo::new(&elf).unwrap());
    let request = JsonRequest::from_json(r#"{"url": "/hi"}"#).unwrap();
    DebugSession::start(&tenant, info, &request)
}

fn command(kind: CommandKind) -> Command {
    Command {
        kind,
        ..Command::default()
    }
}

const SEED: &str = include_str!("../../tenants/examples/hello.cpp");

#[test]
fn every_hook_stops_in_exchange_order_and_the_forge_callback_is_on_the_backend_side() {
    let mut session = session(Language::Cpp, SEED);
    let mut seen = Vec::new();
    loop {
        let state = session.state();
        if state.finished {
            let end = state.end.unwrap();
            assert_eq!(end.status, 200);
            assert_eq!(end.body, r#"{"message":"Hello from RISC-V!"}"#);
            break;
        }
        seen.push(format!("{} ({})", state.hook.unwrap(), state.side.unwrap()));
        session.run(&command(CommandKind::NextHook));
    }
    assert_eq!(seen, ["on_recv (client)", "forge callback (backend)"]);
}

#[test]
fn a_line_breakpoint_in_the_forge_callback_stops_there_and_a_step_shows_a_local() {
    let source = SEED.replace(
        "        json[\"message\"] = \"Hello from RISC-V!\";",
        "        int answer = 6 * 7;\n        json[\"message\"] = \"Hello from RISC-V!\";\n        json[\"answer\"] = answer;",
    );
    let mut session = session(Language::Cpp, &source);
    let line = |text: &str| source.lines().position(|l| l.contains(text)).unwrap() as u32 + 1;
    let breakpoint_line = line("int answer");
    let mut run = Command {
        kind: CommandKind::Continue,
        lines: vec![LineBreakpoint {
            file: "tenant.cpp".into(),
            line: breakpoint_line,
        }],
        ..Command::default()
    };
    session.run(&run);
    let state = session.state();
    let stopped = state.source.clone().unwrap();
    assert_eq!(state.hook, Some("forge callback"), "{state:#?}");
    assert!(stopped.file.ends_with("tenant.cpp"), "{stopped:?}");
    assert!(
        stopped.line >= breakpoint_line && stopped.line <= breakpoint_line + 1,
        "{stopped:?}"
    );
    assert!(
        state.frames[0].function.starts_with("operator()")
            && state
                .frames
                .iter()
                .any(|frame| frame.function.contains("forge_entry")),
        "{:#?}",
        state.frames
    );
    session.run(&command(CommandKind::Over));
    let state = session.state();
    let answer = state
        .locals
        .iter()
        .find(|variable| variable.name == "answer");
    assert_eq!(
        answer.map(|variable| variable.value.as_str()),
        Some("42"),
        "{:#?}",
        state.locals
    );
    run.lines.clear();
    session.run(&run);
    assert!(session.state().finished);
}

const RUST_SEED: &str = r#"use rvedge_tenant::*;

fn on_client_request(_a: u32, _b: u32) {
    let url = get_url();
    add_req_header("X-Hello", &url);
    forge(CachingDecision::Uncached, |_a: u32, _b: u32| {
        let status = 200;
        BackendResponse { status, content_type: "text/plain",
                          body: "<p>hello from Rust 2</p>".to_string() }
    });
}
pub fn main() { wait_for_requests(on_client_request); }
"#;

#[test]
fn a_rust_tenant_stops_at_a_source_line_with_its_locals_then_in_its_forge_closure() {
    let mut session = session(Language::Rust, RUST_SEED);
    let line = RUST_SEED
        .lines()
        .position(|text| text.contains("add_req_header"))
        .unwrap() as u32
        + 1;
    session.run(&Command {
        kind: CommandKind::Continue,
        lines: vec![LineBreakpoint {
            file: "src/main.rs".into(),
            line,
        }],
        ..Command::default()
    });
    let state = session.state();
    assert_eq!(state.hook, Some("on_recv"), "{state:#?}");
    assert_eq!(state.source.as_ref().map(|source| source.line), Some(line));
    assert!(
        state.frames[0].function.contains("on_client_request"),
        "{:#?}",
        state.frames
    );
    let url = state.locals.iter().find(|variable| variable.name == "url");
    assert!(
        url.is_some_and(|variable| variable.type_name.contains("String")),
        "{:#?}",
        state.locals
    );
    session.run(&command(CommandKind::NextHook));
    assert_eq!(session.state().hook, Some("forge callback"));
    session.run(&command(CommandKind::Continue));
    let end = session.state().end.expect("the end");
    assert_eq!(end.body, "<p>hello from Rust 2</p>");
}

#[test]
fn a_profile_counts_every_instruction_of_the_exchange_once_by_function() {
    let source = SEED.replace(
        "static void on_recv",
        "__attribute__((noinline)) static int spin(int n) { int t = 0; for (int i = 0; i < n; i++) t += i * i; return t; }\nstatic void on_recv",
    )
    .replace(
        "req.append(",
        "if (spin(5000) == 1) return;\n    req.append(",
    );
    let mut profiled = session(Language::Cpp, &source);
    let profile = profiled.profile(u64::MAX);
    assert!(profile.complete);
    assert_eq!(profile.status, Some(200));
    let total: u64 = profile
        .functions
        .iter()
        .map(|entry| entry.instructions)
        .sum();
    assert_eq!(total, profile.instructions);
    // The same exchange, run without stepping, executes as many instructions.
    let mut run = session(Language::Cpp, &source);
    run.run(&command(CommandKind::Continue));
    assert_eq!(run.state().instructions, profile.instructions);
    let spin = profile
        .functions
        .iter()
        .find(|entry| entry.function.contains("spin"))
        .unwrap_or_else(|| panic!("{:#?}", profile.functions));
    assert!(spin.instructions >= 5000 * 4, "{spin:?}");
    assert_eq!(
        profile.functions[0], *spin,
        "the loop is the hottest function"
    );
}

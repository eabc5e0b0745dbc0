//! rvedge in the browser: the tenant runtime exposed to JavaScript with wasm-bindgen, for the
//! playground web app (`web/`), which runs it in a Web Worker.
//!
//! Everything here is a thin layer over `rvedge::runtime`: tenants load through the same
//! configuration parser as every host, Run is the runtime's `exchange` with the echo origin,
//! and the debugger drives the runtime's resumable `Exchange` through every hook, at source
//! level when the program has DWARF (`dwarf`). Values cross to JavaScript as JSON text.

mod clock;
pub mod debugger;
pub mod dwarf;
pub mod report;

use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;

use rvedge::runtime::{Tenant, Tenants};
use rvedge::{CapturedOutput, Machine, Options, Stop};
use serde::Serialize;
use serde_json::{Map, Value};
use wasm_bindgen::prelude::*;

use debugger::{Command, DebugSession};
use dwarf::DebugInfo;
use rvedge::runtime::JsonRequest;

/// The name under which a playground tenant's program is handed to the configuration loader.
const PROGRAM_FILENAME: &str = "program";

/// Loads `elf` as tenant `name` with `limits_json`, an object of tenant configuration keys
/// (`max_instructions`, `max_memory`, `max_request_memory`, `stack_size`, `arguments`, …):
/// the same parser and boot every host uses.
pub fn load_tenant(name: &str, elf: &[u8], limits_json: &str) -> Result<Arc<Tenant>, String> {
    let limits: Value = serde_json::from_str(if limits_json.trim().is_empty() {
        "{}"
    } else {
        limits_json
    })
    .map_err(|error| format!("limits are not JSON: {error}"))?;
    let Value::Object(mut entry) = limits else {
        return Err("limits must be a JSON object".into());
    };
    entry.insert("filename".into(), PROGRAM_FILENAME.into());
    let mut config = Map::new();
    config.insert(name.into(), Value::Object(entry));
    let programs = BTreeMap::from([(PROGRAM_FILENAME.to_string(), elf.to_vec())]);
    let tenants = Tenants::load(
        &Value::Object(config).to_string(),
        &programs,
        Some(clock::tenant_clock),
    )
    .map_err(|error| error.to_string())?;
    tenants
        .get(name)
        .cloned()
        .ok_or_else(|| format!("tenant \"{name}\" was not loaded"))
}

/// A loaded tenant: its template, ready for requests, and what its program says about its
/// source.
#[wasm_bindgen]
#[derive(Debug)]
pub struct PlaygroundTenant {
    tenant: Arc<Tenant>,
    info: Rc<DebugInfo>,
}

#[wasm_bindgen]
impl PlaygroundTenant {
    /// Loads `elf` with `limits_json` (see [`load_tenant`]); throws the loader's message.
    #[wasm_bindgen(constructor)]
    pub fn new(name: &str, elf: &[u8], limits_json: &str) -> Result<PlaygroundTenant, JsError> {
        let tenant = load_tenant(name, elf, limits_json).map_err(|error| JsError::new(&error))?;
        // The loader accepted the ELF, so reading its sections cannot fail for a valid one;
        // a program the reader cannot follow is debugged without source.
        let info = DebugInfo::new(elf).unwrap_or_else(|_| DebugInfo::empty());
        Ok(PlaygroundTenant {
            tenant,
            info: Rc::new(info),
        })
    }

    /// What the program's debug information covers, as JSON: `{"has_lines", "files"}`.
    #[wasm_bindgen(js_name = sourceInfo)]
    pub fn source_info(&self) -> String {
        serde_json::json!({
            "has_lines": self.info.has_lines(),
            "files": self.info.files(),
        })
        .to_string()
    }

    /// Where a breakpoint on `line` of `file` goes, as JSON `{"line", "addresses"}` (the first
    /// line at or after it with code), or `null`.
    #[wasm_bindgen(js_name = breakpointLine)]
    pub fn breakpoint_line(&self, file: &str, line: u32) -> String {
        match self.info.breakpoint_addresses(file, line) {
            Some((line, addresses)) => serde_json::json!({
                "line": line,
                "addresses": addresses.iter().map(|address| format!("{address:#x}")).collect::<Vec<_>>(),
            })
            .to_string(),
            None => "null".into(),
        }
    }

    pub fn name(&self) -> String {
        self.tenant.name().into()
    }

    /// What the tenant logged while starting, as a JSON array of lines.
    #[wasm_bindgen(js_name = bootLog)]
    pub fn boot_log(&self) -> String {
        serde_json::to_string(self.tenant.boot_log()).unwrap_or_default()
    }

    /// The limits in effect, as JSON.
    pub fn limits(&self) -> String {
        let limits = self.tenant.limits();
        serde_json::json!({
            "max_instructions": limits.max_instructions,
            "max_boot_instructions": limits.max_boot_instructions,
            "max_memory": limits.max_memory,
            "max_request_memory": limits.max_request_memory,
            "stack_size": limits.stack_size,
            "arguments": limits.arguments,
        })
        .to_string()
    }

    /// Runs a request (`{"method", "url", "headers": [[name, value]], "body"}`) through the
    /// tenant with the echo origin behind it; returns the report as JSON.
    pub fn run(&self, request_json: &str) -> Result<String, JsError> {
        let request = JsonRequest::from_json(request_json).map_err(|error| JsError::new(&error))?;
        let report = report::run(&self.tenant, &request, clock::monotonic_nanos);
        Ok(to_json(&report))
    }

    /// Runs the request's exchange an instruction at a time and returns the instructions per
    /// function as JSON (see [`debugger::Profile`]).
    pub fn profile(&self, request_json: &str, max_steps: f64) -> Result<String, JsError> {
        let request = JsonRequest::from_json(request_json).map_err(|error| JsError::new(&error))?;
        let mut session = DebugSession::start(&self.tenant, Rc::clone(&self.info), &request);
        Ok(to_json(&session.profile(max_steps as u64)))
    }

    /// Starts debugging the request's exchange, stopped before the first hook.
    pub fn debug(&self, request_json: &str) -> Result<PlaygroundDebugger, JsError> {
        let request = JsonRequest::from_json(request_json).map_err(|error| JsError::new(&error))?;
        let session = DebugSession::start(&self.tenant, Rc::clone(&self.info), &request);
        Ok(PlaygroundDebugger { session })
    }
}

/// A debugging session of one request's exchange. Every method returns the state as JSON.
#[wasm_bindgen]
#[derive(Debug)]
pub struct PlaygroundDebugger {
    session: DebugSession,
}

#[wasm_bindgen]
impl PlaygroundDebugger {
    pub fn state(&mut self) -> String {
        to_json(&self.session.state())
    }

    /// Runs `command_json` (`{"kind": "instruction" | "into" | "over" | "out" | "continue" |
    /// "next_hook", "lines": [{"file", "line"}], "addresses": ["0x…"], "stop_at_hooks"}`).
    pub fn command(&mut self, command_json: &str) -> Result<String, JsError> {
        let command: Command = serde_json::from_str(command_json)
            .map_err(|error| JsError::new(&format!("debugger command: {error}")))?;
        self.session.run(&command);
        Ok(self.state())
    }
}

/// How a plain program run ended, for the benchmark.
#[derive(Debug, Serialize)]
pub struct ProgramRun {
    pub stop: String,
    pub exit_status: Option<i32>,
    pub instructions: u64,
    pub stdout: String,
    pub stderr: String,
}

/// Runs a static RISC-V program (not a tenant) to its end or `max_instructions`, like
/// `rvedge run`: the benchmark's CPU-bound guest.
pub fn run_program_native(
    elf: &[u8],
    arguments: Vec<String>,
    max_instructions: u64,
) -> Result<ProgramRun, String> {
    let output = CapturedOutput::default();
    let options = Options {
        arguments,
        ..Options::default()
    };
    let mut machine = Machine::from_elf(elf, &options, Box::new(output.clone()))
        .map_err(|error| error.to_string())?;
    let stop = machine.run(max_instructions);
    Ok(ProgramRun {
        stop: stop.to_string(),
        exit_status: match stop {
            Stop::Exited(status) => Some(status),
            _ => None,
        },
        instructions: machine.instructions(),
        stdout: String::from_utf8_lossy(&output.stdout()).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr()).into_owned(),
    })
}

/// [`run_program_native`] for JavaScript: `arguments_json` is argv as a JSON array.
#[wasm_bindgen(js_name = runProgram)]
pub fn run_program(
    elf: &[u8],
    arguments_json: &str,
    max_instructions: f64,
) -> Result<String, JsError> {
    let arguments: Vec<String> = serde_json::from_str(arguments_json)
        .map_err(|error| JsError::new(&format!("arguments: {error}")))?;
    let run = run_program_native(elf, arguments, max_instructions as u64)
        .map_err(|error| JsError::new(&error))?;
    Ok(to_json(&run))
}

fn to_json(value: &impl Serialize) -> String {
    // Our report types serialize infallibly (strings, numbers, lists).
    serde_json::to_string(value).unwrap_or_else(|error| format!("{{\"error\": \"{error}\"}}"))
}

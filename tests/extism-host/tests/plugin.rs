//! The Extism plugin in the real `extism` host: the conformance table, errors of every kind
//! (the instance stays usable after each), and the JSON Schema of every input and output.

use extism::Plugin;
use rvedge_conformance::cases;
use rvedge_extism::messages::{Output, RecvInput, ResponseSource};
use rvedge_extism::policy::MAX_PENDING_REQUESTS;
use rvedge_extism_host::{
    call, call_raw, conformance_configuration, get, new_plugin, observe, recv_input, repo_root,
    Call,
};

/// Runs the whole table through `plugin`, with each case's repeats; returns the failures.
fn run_table(plugin: &mut Plugin, calls: &mut Vec<Call>) -> Vec<String> {
    let mut failures = Vec::new();
    for case in cases() {
        for attempt in 1..=case.repeat {
            let observed = observe(plugin, &recv_input(&case), calls);
            if let Err(problems) = case.expect.check(&observed) {
                failures.push(format!("{} (attempt {attempt}): {problems}", case.name));
            }
        }
    }
    failures
}

/// A request to the seed tenant must still give its forged response.
fn assert_hello_works(plugin: &mut Plugin) {
    let mut calls = Vec::new();
    match call(plugin, "vcl_recv", &get("hello", "/again"), &mut calls) {
        Output::Respond {
            response,
            source: ResponseSource::Forged,
            cacheable: true,
            error: None,
            ..
        } => assert_eq!(
            response.body.as_deref(),
            Some(r#"{"message":"Hello from RISC-V!"}"#)
        ),
        other => panic!("hello after an error answered {other:?}"),
    }
}

fn error_kind(output: &Output) -> &str {
    match output {
        Output::Error { error } => &error.kind,
        other => panic!("expected an error output, got {other:?}"),
    }
}

#[test]
fn the_conformance_table_passes_through_the_plugin() {
    let mut plugin = new_plugin(Some(&conformance_configuration()));
    let mut calls = Vec::new();
    let failures = run_table(&mut plugin, &mut calls);
    assert!(
        failures.is_empty(),
        "{} failing:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // Both phases ran: some requests went to the origin, some were answered at once.
    assert!(calls
        .iter()
        .any(|call| call.export == "vcl_backend_response"));
    assert!(calls.len() > cases().len());
}

#[test]
fn the_table_passes_after_configure_too() {
    let mut plugin = new_plugin(None);
    let mut calls = Vec::new();
    let configuration = conformance_configuration();
    let configured: serde_json::Value = serde_json::from_str(&call_raw(
        &mut plugin,
        "configure",
        configuration.as_bytes(),
    ))
    .unwrap();
    assert_eq!(configured["action"], "configured");
    assert!(configured["tenants"]
        .as_array()
        .unwrap()
        .contains(&"hello".into()));
    let failures = run_table(&mut plugin, &mut calls);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn malformed_input_is_an_error_and_the_next_call_works() {
    let mut plugin = new_plugin(Some(&conformance_configuration()));
    for (export, input) in [
        ("vcl_recv", &b"{\"tenant\": \"hello\", "[..]),
        ("vcl_recv", b"not json at all"),
        ("vcl_recv", b"\xff\xfe"),
        ("vcl_recv", br#"{"tenant": "hello"}"#),
        (
            "vcl_recv",
            br#"{"tenant": "hello", "url": "/", "colour": "red"}"#,
        ),
        (
            "vcl_recv",
            br#"{"tenant": "hello", "url": "/", "body": "a", "body_base64": "YQ=="}"#,
        ),
        (
            "vcl_recv",
            br#"{"tenant": "hello", "url": "/", "body_base64": "%%%"}"#,
        ),
        ("vcl_backend_response", b"[]"),
        (
            "vcl_backend_response",
            br#"{"request_id": 1, "tenant": "x"}"#,
        ),
    ] {
        let text = call_raw(&mut plugin, export, input);
        let output: Output = serde_json::from_str(&text).unwrap();
        assert_eq!(
            error_kind(&output),
            "bad_input",
            "{export} {:?}",
            String::from_utf8_lossy(input)
        );
        assert_hello_works(&mut plugin);
    }
}

#[test]
fn unknown_tenants_and_requests_are_errors() {
    let mut plugin = new_plugin(Some(&conformance_configuration()));
    let mut calls = Vec::new();
    let output = call(&mut plugin, "vcl_recv", &get("nobody", "/"), &mut calls);
    assert_eq!(error_kind(&output), "unknown_tenant");
    match &output {
        Output::Error { error } => {
            assert_eq!(error.tenant.as_deref(), Some("nobody"));
            assert!(error.detail.contains("nobody"), "{}", error.detail);
        }
        _ => unreachable!(),
    }
    assert_hello_works(&mut plugin);

    // A request waiting for its origin response answers only to its own id and tenant.
    let Output::Continue { request_id, .. } = call(
        &mut plugin,
        "vcl_recv",
        &get("rewrite", "/old/x"),
        &mut calls,
    ) else {
        panic!("rewrite passes to the origin");
    };
    let origin = serde_json::json!({"status": 200, "headers": [], "body": "{}"});
    for (request_id, tenant) in [(request_id + 100, "rewrite"), (request_id, "router")] {
        let input =
            serde_json::json!({"request_id": request_id, "tenant": tenant, "response": origin});
        let output = call(&mut plugin, "vcl_backend_response", &input, &mut calls);
        assert_eq!(error_kind(&output), "unknown_request");
    }
    let input =
        serde_json::json!({"request_id": request_id, "tenant": "rewrite", "response": origin});
    match call(&mut plugin, "vcl_backend_response", &input, &mut calls) {
        Output::Respond {
            response, source, ..
        } => {
            assert_eq!(source, ResponseSource::Backend);
            assert!(
                response
                    .headers
                    .iter()
                    .any(|(name, value)| name.eq_ignore_ascii_case("x-served-by")
                        && value == "rvedge")
            );
        }
        other => panic!("{other:?}"),
    }
    // Answered once: the same id is unknown now.
    let output = call(&mut plugin, "vcl_backend_response", &input, &mut calls);
    assert_eq!(error_kind(&output), "unknown_request");
}

#[test]
fn requests_never_answered_are_dropped_oldest_first() {
    let mut plugin = new_plugin(Some(&conformance_configuration()));
    let mut calls = Vec::new();
    let mut ids = Vec::new();
    for _ in 0..=MAX_PENDING_REQUESTS {
        match call(&mut plugin, "vcl_recv", &get("rewrite", "/p"), &mut calls) {
            Output::Continue { request_id, .. } => ids.push(request_id),
            other => panic!("{other:?}"),
        }
        // Keep memory flat: only the last call's record matters here.
        calls.clear();
    }
    let answer = |request_id: u64| {
        serde_json::json!({"request_id": request_id, "tenant": "rewrite",
                           "response": {"status": 200, "body": "{}"}})
    };
    let oldest = call(
        &mut plugin,
        "vcl_backend_response",
        &answer(ids[0]),
        &mut calls,
    );
    assert_eq!(error_kind(&oldest), "unknown_request");
    let newest = call(
        &mut plugin,
        "vcl_backend_response",
        &answer(*ids.last().unwrap()),
        &mut calls,
    );
    assert!(
        matches!(newest, Output::Respond { error: None, .. }),
        "{newest:?}"
    );
}

#[test]
fn tenant_errors_answer_503_with_the_kind_and_the_plugin_goes_on() {
    let mut plugin = new_plugin(Some(&conformance_configuration()));
    let mut calls = Vec::new();
    for (tenant, kind) in [
        ("loop", "timeout"),
        ("memory-bomb", "memory_limit"),
        ("wild-pointer", "bad_argument"),
        ("illegal", "illegal_instruction"),
        ("stack-overflow", "stack_overflow"),
    ] {
        match call(&mut plugin, "vcl_recv", &get(tenant, "/"), &mut calls) {
            Output::Respond {
                response,
                source: ResponseSource::Error,
                cacheable: false,
                error: Some(error),
                ..
            } => {
                assert_eq!(response.status, 503, "{tenant}");
                assert!(
                    response
                        .headers
                        .contains(&("x-rvedge-error".into(), kind.into())),
                    "{tenant}: {:?}",
                    response.headers
                );
                assert_eq!(error.kind, kind, "{tenant}");
                assert_eq!(error.tenant.as_deref(), Some(tenant));
                assert!(error.during.is_some(), "{tenant}");
                assert!(!error.detail.is_empty(), "{tenant}");
            }
            other => panic!("{tenant}: {other:?}"),
        }
        assert_hello_works(&mut plugin);
    }
}

#[test]
fn configuration_errors_are_reported_and_the_plugin_stays_usable() {
    // No configuration at all.
    let mut plugin = new_plugin(None);
    let mut calls = Vec::new();
    let output = call(&mut plugin, "vcl_recv", &get("hello", "/"), &mut calls);
    assert_eq!(error_kind(&output), "not_configured");

    // A bad configuration through configure keeps what was there (nothing) and says why.
    for bad in [
        serde_json::json!({"tenants": {"t": {"filename": "missing"}}, "programs": {}}),
        serde_json::json!({"tenants": {"t": {"filename": "p"}}, "programs": {"p": "!!"}}),
        serde_json::json!({"tenants": {"t": {"filename": "p"}}, "programs": {"p": "AAAA"}}),
        serde_json::json!({"tenants": {"t": {"filename": "p", "max_memory": true}}}),
        serde_json::json!({"tenant": {}}),
    ] {
        let output = call(&mut plugin, "configure", &bad, &mut calls);
        assert_eq!(error_kind(&output), "bad_config", "{bad}");
    }
    let output = call(&mut plugin, "vcl_recv", &get("hello", "/"), &mut calls);
    assert_eq!(error_kind(&output), "not_configured");

    let good: serde_json::Value = serde_json::from_str(&conformance_configuration()).unwrap();
    let output = call(&mut plugin, "configure", &good, &mut calls);
    assert!(matches!(output, Output::Configured { .. }), "{output:?}");
    assert_hello_works(&mut plugin);

    // A bad Extism config is reported on every call, until configure replaces it.
    let mut plugin = new_plugin(Some("{\"tenants\": 7}"));
    for _ in 0..2 {
        let output = call(&mut plugin, "vcl_recv", &get("hello", "/"), &mut calls);
        assert_eq!(error_kind(&output), "bad_config");
    }
    call(&mut plugin, "configure", &good, &mut calls);
    assert_hello_works(&mut plugin);
}

/// Validates `instance` against `schema.json`'s definition `name`; returns the problems.
fn schema_problems(
    schema: &serde_json::Value,
    name: &str,
    instance: &serde_json::Value,
) -> Vec<String> {
    let mut rooted = schema.clone();
    rooted["$ref"] = format!("#/$defs/{name}").into();
    let validator = jsonschema::validator_for(&rooted)
        .unwrap_or_else(|error| panic!("schema.json is not a valid JSON Schema: {error}"));
    validator
        .iter_errors(instance)
        .map(|error| format!("{name} at {}: {error}", error.instance_path))
        .collect()
}

fn load_schema() -> serde_json::Value {
    let path = repo_root().join("extism-plugin/schema.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|error| panic!("schema.json: {error}"))
}

#[test]
fn real_inputs_and_outputs_follow_the_json_schema() {
    let schema = load_schema();
    let configuration = conformance_configuration();
    let mut plugin = new_plugin(None);
    let mut calls = Vec::new();
    let configure: serde_json::Value = serde_json::from_str(&configuration).unwrap();
    call(&mut plugin, "configure", &configure, &mut calls);
    run_table(&mut plugin, &mut calls);
    // Error outputs too.
    call(&mut plugin, "vcl_recv", &get("nobody", "/"), &mut calls);
    call(
        &mut plugin,
        "vcl_recv",
        &serde_json::json!({"url": "/"}),
        &mut calls,
    );
    call(&mut plugin, "vcl_recv", &get("loop", "/"), &mut calls);
    call(
        &mut plugin,
        "vcl_backend_response",
        &serde_json::json!({"request_id": 999999, "tenant": "rewrite", "response": {"status": 200}}),
        &mut calls,
    );
    // Binary bodies travel as base64 both ways; randomness from the proxy is base64 too.
    let binary = RecvInput {
        body: None,
        body_base64: Some("AP8=".into()),
        random: Some("q9Zl0c5bW8m1F0gYy5JxH0t4nqv2y8mH3kYp3bq1ZCA=".into()),
        ..get("json-api", "/")
    };
    observe(&mut plugin, &binary, &mut calls);

    let mut problems = Vec::new();
    let mut outputs_seen = std::collections::BTreeSet::new();
    for call in &calls {
        let input_definition = match call.export {
            "configure" => "Configuration",
            "vcl_recv" => "RecvInput",
            "vcl_backend_response" => "BackendResponseInput",
            other => panic!("unexpected export {other}"),
        };
        // The malformed input above is meant to break the input schema.
        if call.input.get("tenant").is_some() || call.export == "configure" {
            problems.extend(schema_problems(&schema, input_definition, &call.input));
        }
        problems.extend(schema_problems(&schema, "Output", &call.output));
        outputs_seen.insert(call.output["action"].as_str().unwrap_or("?").to_owned());
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let expected: std::collections::BTreeSet<String> =
        ["configured", "continue", "error", "respond"]
            .map(String::from)
            .into();
    assert_eq!(outputs_seen, expected);

    // The schema is strict enough to catch a wrong document.
    let wrong =
        serde_json::json!({"action": "respond", "tenant": "t", "response": {"status": "200"}});
    assert!(!schema_problems(&schema, "Output", &wrong).is_empty());
    let missing_url = serde_json::json!({"tenant": "t"});
    assert!(!schema_problems(&schema, "RecvInput", &missing_url).is_empty());
}

#[test]
fn the_origin_response_goes_through_the_backend_fork_of_its_request() {
    let mut plugin = new_plugin(Some(&conformance_configuration()));
    let mut calls = Vec::new();
    let request = RecvInput {
        headers: vec![("Cookie".into(), "session=1".into())],
        ..get("origin", "/gone")
    };
    let Output::Continue {
        request_id,
        request: forwarded,
        backend,
        ..
    } = call(&mut plugin, "vcl_recv", &request, &mut calls)
    else {
        panic!("the origin tenant passes requests on");
    };
    // on_backend_fetch ran before the request left: a token, no cookie.
    assert_eq!(backend, "default");
    assert!(forwarded
        .headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("x-origin-token")));
    assert!(!forwarded
        .headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("cookie")));
    // on_backend_response turns the origin's 404 into a 410 naming the URL.
    let answer = serde_json::json!({"request_id": request_id, "tenant": "origin",
                                    "response": {"status": 404, "headers": [["content-type", "text/plain"]],
                                                 "body": "not here"}});
    match call(&mut plugin, "vcl_backend_response", &answer, &mut calls) {
        Output::Respond {
            response,
            source: ResponseSource::Backend,
            cacheable: false,
            error: None,
            ..
        } => {
            assert_eq!(response.status, 410);
            assert_eq!(response.body.as_deref(), Some("not here"));
            for (name, value) in [("X-Origin-Checked", "1"), ("X-Origin-Missing", "/gone")] {
                assert!(
                    response.headers.contains(&(name.into(), value.into())),
                    "{name}: {:?}",
                    response.headers
                );
            }
        }
        other => panic!("{other:?}"),
    }
}

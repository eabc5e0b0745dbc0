//! The isolation invariants through the Extism plugin (tests/guests/tenant/attack.c, as
//! emulator/tests/isolation.rs runs it in memory): host work is charged, per-request caps,
//! headers the proxy owns, final statuses, the TTL cap, allowed backends, randomness from the
//! proxy's input, and the plugin's own cap on inputs.

use rvedge_test_support as support;

use std::collections::BTreeMap;
use std::time::Instant;

use extism::Plugin;
use rvedge::runtime::TenantBundle;
use rvedge_extism::messages::{Message, Output, RecvInput, ResponseSource};
use rvedge_extism::policy::MAX_INPUT_BYTES;
use rvedge_extism_host::{call, call_raw, get, new_plugin};
use support::report_field;

/// A plugin with the attack tenant twice: `attack` with the defaults, `narrow` with two
/// allowed backends and a one-hour TTL cap.
fn attack_plugin() -> Plugin {
    let tenants = serde_json::json!({
        "attack": { "filename": "attack" },
        "narrow": { "filename": "attack", "backends": ["api", "static"], "max_ttl": "1h" },
    });
    let bundle = TenantBundle {
        tenants: tenants.as_object().unwrap().clone(),
        programs: BTreeMap::from([("attack".to_string(), support::guest("tenant/attack"))]),
    };
    new_plugin(Some(&bundle.to_json().to_string()))
}

fn recv(plugin: &mut Plugin, input: &RecvInput) -> Output {
    call(plugin, "vcl_recv", input, &mut Vec::new())
}

/// The response, source, TTL and logs of a `respond` output.
fn responded(output: Output) -> (Message, ResponseSource, u64, Vec<String>) {
    match output {
        Output::Respond {
            response,
            source,
            ttl,
            logs,
            ..
        } => (response, source, ttl, logs),
        other => panic!("expected respond, got {other:?}"),
    }
}

fn body(output: Output) -> String {
    let (response, source, _, _) = responded(output);
    assert_ne!(source, ResponseSource::Error, "{response:?}");
    response.body.unwrap_or_default()
}

#[test]
fn a_loop_of_hashing_ends_as_a_timeout() {
    let mut plugin = attack_plugin();
    let started = Instant::now();
    let output = recv(&mut plugin, &get("attack", "/loop/sha256/1048576/1000"));
    println!("1000 sha256 of 1 MiB: {:?}", started.elapsed());
    let (response, source, _, _) = responded(output);
    assert_eq!(source, ResponseSource::Error, "{response:?}");
    assert!(
        response
            .headers
            .contains(&("x-rvedge-error".into(), "timeout".into())),
        "{response:?}"
    );
}

#[test]
fn logs_and_headers_are_capped_per_request() {
    let mut plugin = attack_plugin();
    let (response, _, _, logs) = responded(recv(&mut plugin, &get("attack", "/loop/log/10/5000")));
    let report = response.body.unwrap_or_default();
    assert_eq!(
        (report_field(&report, "ok"), report_field(&report, "e2big")),
        (1000, 4000)
    );
    assert_eq!(logs.len(), 1000);
    let report = body(recv(
        &mut plugin,
        &get("attack", "/loop/header_append/16/1000"),
    ));
    assert_eq!(report_field(&report, "ok"), 128, "{report}");
}

#[test]
fn tenants_cannot_touch_host_framing_or_proxy_headers() {
    let mut plugin = attack_plugin();
    let (response, source, _, _) = responded(recv(&mut plugin, &get("attack", "/forbidden")));
    assert_eq!(source, ResponseSource::Forged);
    let resp_report = response
        .headers
        .iter()
        .find(|(name, _)| name == "x-resp-report")
        .map(|(_, value)| value.clone())
        .expect("on_deliver's report");
    let report = format!("{} {resp_report}", response.body.unwrap_or_default());
    let refused = report.matches("=-1/-1/-1").count();
    assert_eq!(refused, 3 * 13, "{report}");
    assert_eq!(report.matches(":x-allowed=0").count(), 3, "{report}");
}

#[test]
fn statuses_ttls_and_backends_are_the_configurations() {
    let mut plugin = attack_plugin();
    assert_eq!(
        body(recv(&mut plugin, &get("attack", "/status/101"))),
        "respond=-22"
    );
    assert_eq!(
        body(recv(&mut plugin, &get("attack", "/status/999"))),
        "respond=-22"
    );
    let year = 365 * 24 * 3600;
    let (_, _, ttl, _) = responded(recv(&mut plugin, &get("attack", &format!("/ttl/{year}"))));
    assert_eq!(ttl, 24 * 3600);
    let (_, _, ttl, _) = responded(recv(&mut plugin, &get("narrow", &format!("/ttl/{year}"))));
    assert_eq!(ttl, 3600);
    assert_eq!(
        body(recv(&mut plugin, &get("narrow", "/backend/admin"))),
        "backend_set=-1"
    );
    match recv(&mut plugin, &get("narrow", "/backend/api")) {
        Output::Continue { backend, .. } => assert_eq!(backend, "api"),
        other => panic!("{other:?}"),
    }
}

/// Extism gives plugins no randomness: without `random` in the input tenants get the same
/// fixed bytes every time; with it, bytes derived from what the proxy drew.
#[test]
fn randomness_comes_from_the_proxys_input() {
    let mut plugin = attack_plugin();
    let random = |plugin: &mut Plugin, seed: Option<&str>| {
        let input = RecvInput {
            random: seed.map(str::to_owned),
            ..get("attack", "/random")
        };
        let report = body(recv(plugin, &input));
        report.split(' ').next().unwrap().to_string()
    };
    let fixed = random(&mut plugin, None);
    assert_eq!(fixed, random(&mut plugin, None));
    let seed_a = "YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE="; // 32 × 'a'
    let seed_b = "YmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmI="; // 32 × 'b'
    let seeded_a = random(&mut plugin, Some(seed_a));
    assert_ne!(seeded_a, fixed);
    assert_ne!(seeded_a, random(&mut plugin, Some(seed_b)));
    assert_eq!(seeded_a, random(&mut plugin, Some(seed_a)));
    let short = RecvInput {
        random: Some("c2hvcnQ=".into()),
        ..get("attack", "/random")
    };
    match recv(&mut plugin, &short) {
        Output::Error { error } => {
            assert_eq!(error.kind, "bad_input");
            assert!(
                error.detail.contains("fewer than the 32"),
                "{}",
                error.detail
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn inputs_past_the_cap_are_refused_before_parsing() {
    let mut plugin = attack_plugin();
    let huge = format!(
        r#"{{"tenant": "attack", "url": "/spin/1", "body": "{}"}}"#,
        "x".repeat(MAX_INPUT_BYTES)
    );
    let output: Output = serde_json::from_str(&call_raw(&mut plugin, "vcl_recv", huge.as_bytes()))
        .expect("JSON output");
    match output {
        Output::Error { error } => assert_eq!(error.kind, "bad_input", "{error:?}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(body(recv(&mut plugin, &get("attack", "/spin/1"))), "spun");
}

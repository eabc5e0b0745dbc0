//! `rvedge request`: one request through a tenant, printed like `curl -i`, with the decision on
//! stderr; tenants given as built programs and as sources compiled on demand.

use rvedge_test_support as support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// A tenants.json in a fresh directory, naming the built example tenants by absolute path.
/// Written once per test process: tests run in parallel, and one rewriting the file while
/// another's `rvedge` read it made that one read an empty file.
fn built_tenants_config() -> PathBuf {
    static CONFIG: OnceLock<PathBuf> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let tenants = support::tenants_dir();
            let entry = |name: &str| {
                format!(
                    r#""{name}": {{ "filename": "{}", "max_instructions": 2000000 }}"#,
                    tenants.join(name).display()
                )
            };
            let names = ["hello", "rewrite", "loop", "json-api"];
            let body: Vec<String> = names.iter().map(|name| entry(name)).collect();
            let path = scratch_dir("built").join("tenants.json");
            std::fs::write(&path, format!("{{ {} }}", body.join(",\n"))).unwrap();
            path
        })
        .clone()
}

fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rvedge-request-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn request(config: &Path, arguments: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rvedge"))
        .arg("request")
        .arg("--tenants")
        .arg(config)
        .args(arguments)
        .env("RVEDGE_CACHE_DIR", scratch_dir("cache"))
        .output()
        .expect("rvedge runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn a_forged_response_prints_like_curl_with_the_decision_and_stats() {
    let output = request(&built_tenants_config(), &["--stats", "http://hello/x"]);
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(stdout.starts_with("HTTP/1.1 200 OK\n"), "{stdout}");
    assert!(
        stdout.contains("content-type: application/json\n"),
        "{stdout}"
    );
    assert!(
        stdout.ends_with("\n\n{\"message\":\"Hello from RISC-V!\"}"),
        "{stdout}"
    );
    assert!(
        stderr.contains("* hello: forged, cacheable for 120 s"),
        "{stderr}"
    );
    assert!(
        stderr.contains("price of tenant calls), 2 forks"),
        "{stderr}"
    );
}

#[test]
fn a_passed_request_shows_what_reached_the_backend() {
    let output = request(
        &built_tenants_config(),
        &["--tenant", "rewrite", "-H", "X-Internal: 1", "/old/a"],
    );
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("passed to backend \"default\""), "{stderr}");
    assert!(stderr.contains("GET /new/a"), "{stderr}");
    assert!(stderr.contains("> X-Tenant: rewrite"), "{stderr}");
    assert!(!stderr.contains("X-Internal"), "{stderr}");
    assert!(stdout.contains("X-Served-By: rvedge"), "{stdout}");
}

#[test]
fn a_body_reaches_a_forge_callback() {
    let output = request(
        &built_tenants_config(),
        &[
            "-X",
            "POST",
            "--data",
            "{\"name\": \"w\"}",
            "http://json-api/api",
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(text(&output.stdout).ends_with("{\"valid\":true,\"name\":\"w\"}"));
}

#[test]
fn a_failing_tenant_gives_503_with_the_kind_and_status_3() {
    let output = request(&built_tenants_config(), &["http://loop/"]);
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(
        stdout.starts_with("HTTP/1.1 503 Service Unavailable\n"),
        "{stdout}"
    );
    assert!(stdout.contains("x-rvedge-error: timeout\n"), "{stdout}");
    assert!(
        stderr.contains("tenant \"loop\": timeout in on_recv"),
        "{stderr}"
    );
}

#[test]
fn unknown_tenants_and_bad_configurations_are_errors_with_status_1() {
    let config = built_tenants_config();
    let output = request(&config, &["http://nobody/"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stderr).contains("no tenant \"nobody\""));

    let bad = scratch_dir("bad").join("tenants.json");
    std::fs::write(&bad, r#"{ "t": { "filename": "x", "max_memory": true } }"#).unwrap();
    let output = request(&bad, &["http://t/"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output.stderr).contains("\"t\": key \"max_memory\""),
        "{}",
        text(&output.stderr)
    );
}

#[test]
fn sources_are_compiled_on_demand_and_compile_errors_are_shown() {
    let dir = scratch_dir("sources");
    std::fs::write(
        dir.join("answer.c"),
        "#include <rvedge.h>\n\
         static void on_recv(uint64_t d, uint64_t a, uint64_t b) {\n\
             (void)d; (void)a; (void)b;\n\
             rvedge_respond_str(200, \"text/plain\", \"compiled\\n\");\n\
         }\n\
         int main(void) { rvedge_wait_for_requests(on_recv, 0); }\n",
    )
    .unwrap();
    std::fs::write(dir.join("broken.c"), "int main(void) { return nope; }\n").unwrap();
    std::fs::write(
        dir.join("tenants.json"),
        r#"{ "answer": { "filename": "answer.c" } }"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("broken.json"),
        r#"{ "broken": { "filename": "broken.c" } }"#,
    )
    .unwrap();

    let output = request(&dir.join("tenants.json"), &["http://answer/"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(text(&output.stdout).ends_with("\n\ncompiled\n"));

    let output = request(&dir.join("broken.json"), &["http://broken/"]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr.contains("\"broken\""), "{stderr}");
    assert!(
        stderr.contains("error:") && stderr.contains("nope"),
        "{stderr}"
    );
}

//! The seed C++ tenant builds with exactly the documented command (no flags of ours) and gives
//! the documented response.

use rvedge_test_support as support;

use std::process::Command;

use rvedge::runtime::{exchange, EchoOrigin, HttpRequest, Limits, Source, Tenant};

#[test]
fn the_cpp_seed_builds_with_the_documented_command_and_answers() {
    support::require_tools(&["riscv64-linux-gnu-g++"])
        .unwrap_or_else(|message| panic!("{message}"));
    let root = support::repo_root();
    let output = std::env::temp_dir().join(format!("rvedge-seed-{}", std::process::id()));
    // riscv64-linux-gnu-g++ -O2 -static -I tenants/include tenants/examples/hello.cpp
    let status = Command::new("riscv64-linux-gnu-g++")
        .current_dir(&root)
        .args([
            "-O2",
            "-static",
            "-I",
            "tenants/include",
            "tenants/examples/hello.cpp",
            "-o",
        ])
        .arg(&output)
        .status()
        .expect("g++ runs");
    assert!(status.success(), "the seed does not compile");
    let elf = std::fs::read(&output).unwrap();
    let _ = std::fs::remove_file(&output);

    let tenant = Tenant::load("hello", &elf, Limits::default(), None).unwrap();
    let request = HttpRequest {
        method: "GET".into(),
        url: "/seed".into(),
        ..HttpRequest::default()
    };
    let outcome = exchange(&tenant, request, &mut EchoOrigin, || 0);
    let (response, source) = outcome.result.unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(response.body, br#"{"message":"Hello from RISC-V!"}"#);
    assert_eq!(source, Source::Forged);
    assert!(outcome.cache.is_some_and(|cache| cache.cacheable));
    // on_recv's header reached the backend request the forge callback saw.
    let hello = outcome
        .request
        .headers
        .iter()
        .find(|(name, _)| name == "X-Hello")
        .map(|(_, value)| value.as_str());
    assert_eq!(hello, Some("url=/seed"));
}

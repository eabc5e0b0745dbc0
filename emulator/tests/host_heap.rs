//! The per-fork host heap on a real tenant (tests/guests/tenant/heap.c): every request is
//! answered as with glibc's own allocator (`"host_heap": false`), forks write fewer pages,
//! the template's blocks survive every request, and running out of memory is NULL with
//! ENOMEM, or memory_limit, as before.

use rvedge_test_support as support;

use std::sync::Arc;

use rvedge::runtime::{exchange, EchoOrigin, ErrorKind, HttpRequest, Limits, Tenant, Tenants};

fn load(host_heap: bool) -> Arc<Tenant> {
    let limits = Limits {
        max_memory: 32 << 20,
        max_request_memory: 4 << 20,
        host_heap,
        ..Limits::default()
    };
    Tenant::load("heap", &support::guest("tenant/heap"), limits, None).expect("tenant loads")
}

/// The body (or error kind) and pages written of one request.
fn get(tenant: &Arc<Tenant>, url: &str) -> (Result<String, ErrorKind>, usize) {
    let request = HttpRequest {
        method: "GET".into(),
        url: url.into(),
        headers: Vec::new(),
        body: Vec::new(),
    };
    let outcome = exchange(tenant, request, &mut EchoOrigin, || 0);
    let result = outcome
        .result
        .map(|(response, _)| String::from_utf8_lossy(&response.body).into_owned())
        .map_err(|error| error.kind);
    (result, outcome.stats.pages_written)
}

#[test]
fn requests_answer_as_with_glibcs_allocator_and_write_fewer_pages() {
    let (host, guest) = (load(true), load(false));
    for url in [
        "/template",
        "/alloc/10",
        "/alloc/300",
        "/template",
        "/exhaust",
        "/touch",
    ] {
        let (host_result, host_pages) = get(&host, url);
        let (guest_result, guest_pages) = get(&guest, url);
        assert_eq!(host_result, guest_result, "{url}");
        if url == "/alloc/10" || url == "/template" {
            assert!(
                host_pages < guest_pages,
                "{url}: {host_pages} pages with the host heap, {guest_pages} without"
            );
        }
    }
    assert_eq!(
        get(&host, "/exhaust").0,
        Ok("NULL after some blocks, errno ENOMEM 1".to_string())
    );
    assert_eq!(get(&host, "/touch").0, Err(ErrorKind::MemoryLimit));
    let template = get(&host, "/template").0.unwrap();
    assert!(
        template.contains("grown 'block 3 of the template and more' shrunk 'bl'"),
        "{template}"
    );
}

#[test]
fn a_small_request_writes_the_stack_and_one_fresh_heap_page() {
    let (_, pages) = get(&load(true), "/alloc/10");
    assert!(pages <= 2, "{pages} pages");
}

#[test]
fn the_configuration_key_turns_the_host_heap_off() {
    let dir = support::guests_dir().join("tenant");
    let json = r#"{ "on": { "filename": "heap" },
                    "off": { "filename": "heap", "host_heap": false } }"#;
    let tenants = Tenants::load(json, &rvedge::runtime::ProgramDirectory::new(dir), None).unwrap();
    let (_, on_pages) = get(tenants.get("on").unwrap(), "/alloc/10");
    let (_, off_pages) = get(tenants.get("off").unwrap(), "/alloc/10");
    assert!(on_pages < off_pages, "{on_pages} vs {off_pages}");
}

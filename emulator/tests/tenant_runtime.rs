//! The tenant runtime on real tenant programs (tests/guests/tenant, built against the C SDK):
//! load errors, random calls with bad arguments, the per-call rules of docs/abi.md, live
//! update and per-request limits. Requests go through `exchange`, the in-memory host.

mod in_memory;

use rvedge_test_support as support;

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use rvedge::mem::{Access, Perms};
use rvedge::registers::SP;
use rvedge::runtime::abi::{Call, Hook};
use rvedge::runtime::{
    exchange, CacheDecision, ConfigError, EchoOrigin, ErrorKind, ExchangeOutcome, HttpRequest,
    HttpResponse, Limits, LoadError, ProgramDirectory, RequestError, Source, Tenant, TenantError,
    Tenants,
};
use rvedge::Xlen;

/// The builds of the probing tenants: riscv64 Linux, and RV32 (picolibc) under `rv32/`.
const WIDTHS: [&str; 2] = ["", "rv32/"];

fn load(name: &str, program: &str, limits: Limits) -> Arc<Tenant> {
    Tenant::load(name, &support::guest(program), limits, None)
        .unwrap_or_else(|error| panic!("{program} loads: {error}"))
}

fn load_error(program: &[u8], limits: Limits) -> TenantError {
    match Tenant::load("t", program, limits, None) {
        Ok(_) => panic!("the tenant loaded"),
        Err(error) => error,
    }
}

fn request(method: &str, url: &str, headers: &[(&str, &str)], body: &str) -> HttpRequest {
    HttpRequest {
        method: method.into(),
        url: url.into(),
        headers: headers
            .iter()
            .map(|&(name, value)| (name.into(), value.into()))
            .collect(),
        body: body.into(),
    }
}

fn send(tenant: &Arc<Tenant>, request: HttpRequest) -> ExchangeOutcome {
    exchange(tenant, request, &mut EchoOrigin, || 0)
}

fn get(tenant: &Arc<Tenant>, url: &str) -> ExchangeOutcome {
    send(tenant, request("GET", url, &[], ""))
}

/// The response of a request that must succeed.
fn response(outcome: &ExchangeOutcome) -> (&HttpResponse, &Source) {
    match &outcome.result {
        Ok((response, source)) => (response, source),
        Err(error) => panic!("request failed: {error}"),
    }
}

fn body(outcome: &ExchangeOutcome) -> String {
    String::from_utf8_lossy(&response(outcome).0.body).into_owned()
}

fn header<'a>(response: &'a HttpResponse, name: &str) -> Option<&'a str> {
    response
        .headers
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.as_str())
}

/// The error of a request that must fail.
fn request_error(outcome: &ExchangeOutcome) -> &RequestError {
    match &outcome.result {
        Ok((response, _)) => panic!(
            "request succeeded: {} {}",
            response.status,
            String::from_utf8_lossy(&response.body)
        ),
        Err(error) => error,
    }
}

fn limits_with(change: impl FnOnce(&mut Limits)) -> Limits {
    let mut limits = Limits::default();
    change(&mut limits);
    limits
}

// ---- Loading --------------------------------------------------------------------------------

#[test]
fn a_main_that_exits_is_a_boot_error() {
    let error = load_error(&support::guest("c/hello"), Limits::default());
    assert!(
        matches!(&error, TenantError::Boot { tenant, .. } if tenant == "t"),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "tenant \"t\": main() exited with status 0 before calling wait_for_requests"
    );
}

#[test]
fn a_main_that_loops_stops_at_max_boot_instructions() {
    let limits = limits_with(|limits| limits.max_boot_instructions = 100_000);
    let error = load_error(&support::guest("bad/infinite_loop"), limits);
    assert!(matches!(error, TenantError::Boot { .. }), "{error:?}");
    let message = error.to_string();
    assert!(
        message.contains("ran 100000 instructions (max_boot_instructions)"),
        "{message}"
    );
}

#[test]
fn a_main_that_crashes_is_a_boot_error_naming_the_fault() {
    let error = load_error(&support::guest("bad/load_unmapped"), Limits::default());
    assert!(matches!(error, TenantError::Boot { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains("main() stopped"), "{message}");
    assert!(message.contains("0x7000000000"), "{message}");
    assert!(
        message.ends_with("before calling wait_for_requests"),
        "{message}"
    );
}

#[test]
fn a_main_that_makes_a_bad_call_is_a_boot_error_naming_the_call() {
    let limits = limits_with(|limits| limits.arguments = vec!["bad-main-call".into()]);
    let error = load_error(&support::guest("tenant/rules"), limits);
    assert!(matches!(error, TenantError::Boot { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains("main() made a bad call"), "{message}");
    assert!(message.contains("log: input at 0xdead0000"), "{message}");
}

#[test]
fn bytes_that_are_not_an_executable_are_a_setup_error() {
    let mut state = 0x1234_5678_9abc_def0_u64;
    let random: Vec<u8> = (0..4096)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    let mut elf_header_then_garbage = support::guest("c/hello")[..64].to_vec();
    elf_header_then_garbage.extend_from_slice(&random[..256]);
    for (what, program) in [
        ("random bytes", random.clone()),
        ("nothing", Vec::new()),
        ("a truncated ELF", elf_header_then_garbage),
    ] {
        let error = load_error(&program, Limits::default());
        assert!(
            matches!(&error, TenantError::Setup { tenant, .. } if tenant == "t"),
            "{what}: {error:?}"
        );
        assert!(error.to_string().starts_with("tenant \"t\": "), "{error}");
    }
}

/// A tenant's first forks to end warm its template: later forks start with the pages each
/// of them read in their read TLB, not only the pages the first one read (a request's client
/// and backend forks read different pages).
#[test]
fn the_first_forks_to_end_warm_the_template_with_what_each_read() {
    let tenant = load("rules", "tenant/rules", Limits::default());
    let mut first = tenant.fork();
    // Two readable pages below the stack pointer that a fork does not start with.
    let stack_page = first.machine().register(SP) & !0xfff;
    let memory = first.machine_mut().memory();
    let cold: Vec<u64> = (2..64)
        .map(|below| stack_page - below * 0x1000)
        .filter(|&page| {
            memory.is_mapped(page, page + 1, Perms::READ) && !memory.hits_tlb(page, 1, Access::Read)
        })
        .take(2)
        .collect();
    assert_eq!(cold.len(), 2, "two cold stack pages");
    let is_warm = |fork: &mut rvedge::runtime::Fork, page: u64| {
        fork.machine_mut().memory().hits_tlb(page, 1, Access::Read)
    };
    assert_eq!(memory.load::<u8>(cold[0]), Ok(0));
    let mut second = tenant.fork();
    assert_eq!(second.machine_mut().memory().load::<u8>(cold[1]), Ok(0));
    drop(first);
    drop(second);
    // More forks end, reading nothing of their own.
    for _ in 0..8 {
        drop(tenant.fork());
    }
    let mut later = tenant.fork();
    assert!(is_warm(&mut later, cold[0]), "the first fork's read");
    assert!(is_warm(&mut later, cold[1]), "the second fork's read");
}

/// A tenant whose on_recv sets header `x-hi` to `x-hi`, a text in its code's page, which it
/// never loads from.
const SET_HEADER_FROM_CODE: [u32; 16] = [
    0x0000_0517, // auipc a0, 0
    0x0185_0513, // addi a0, a0, 24     on_recv
    0x0000_0593, // li a1, 0
    0x1f40_0893, // li a7, 500          wait_for_requests(on_recv, 0)
    0x0000_0073, // ecall
    0x0010_0073, // ebreak
    0x0005_8513, // mv a0, a1           on_recv(data, req, resp): req
    0x0000_0597, // auipc a1, 0
    0x0205_8593, // addi a1, a1, 32     the text below
    0x0040_0613, // li a2, 4
    0x0005_8693, // mv a3, a1
    0x0040_0713, // li a4, 4
    0x1f70_0893, // li a7, 503          header_set(req, "x-hi", 4, "x-hi", 4)
    0x0000_0073, // ecall
    0x0000_8067, // ret
    0x6968_2d78, // "x-hi"
];

/// Tenant calls read texts where they are, through shared references, so the page of one is
/// put in the read TLB after the call, as a load from there would put it; the pages forks
/// read warm the template's TLB for later forks.
#[test]
fn a_page_calls_read_texts_from_is_warm_in_later_forks() {
    let program = in_memory::executable(Xlen::Rv64, &SET_HEADER_FROM_CODE);
    let tenant = Tenant::load("texts", &program, Limits::default(), None).unwrap();
    let text_is_warm = || {
        let mut fork = tenant.fork();
        fork.machine_mut()
            .memory()
            .hits_tlb(in_memory::CODE_START, 1, Access::Read)
    };
    assert!(!text_is_warm(), "the template never read its code");
    for _ in 0..10 {
        let outcome = get(&tenant, "/");
        assert_eq!(
            outcome.request.headers,
            [("x-hi".to_string(), "x-hi".to_string())]
        );
    }
    assert!(text_is_warm());
}

#[test]
fn a_tenant_that_boots_keeps_its_hooks_and_boot_log() {
    let tenant = load("rules", "tenant/rules", Limits::default());
    assert_eq!(tenant.name(), "rules");
    // main()'s probes: no header sets and no respond before requests.
    assert_eq!(tenant.boot_log(), ["main_header_count=-1 main_respond=-1"]);
    for hook in [
        Hook::Recv,
        Hook::Hash,
        Hook::Deliver,
        Hook::BackendFetch,
        Hook::BackendResponse,
    ] {
        assert!(tenant.has_hook(hook), "{hook}");
    }
    assert!(!tenant.has_hook(Hook::LiveUpdate));
    assert!(tenant.template_pages() > 0);
}

#[test]
fn tenants_load_reports_what_went_wrong_and_where() {
    let programs = ProgramDirectory::new(support::guests_dir());
    let load = |json: &str| Tenants::load(json, &programs, None);

    let tenants = load(r#"{"a.com": {"filename": "tenant/rules"}}"#).unwrap();
    assert_eq!(tenants.names().collect::<Vec<_>>(), ["a.com"]);
    assert_eq!(tenants.get("a.com").unwrap().name(), "a.com");

    let error = load(r#"{"shop": {"filename": "tenant/no-such-program"}}"#).unwrap_err();
    match &error {
        LoadError::Program {
            tenant,
            filename,
            message,
        } => {
            assert_eq!(tenant, "shop");
            assert_eq!(filename, "tenant/no-such-program");
            assert!(message.contains("cannot read"), "{message}");
        }
        other => panic!("expected LoadError::Program, got {other:?}"),
    }
    let message = error.to_string();
    assert!(
        message.starts_with("tenant \"shop\": key \"filename\": \"tenant/no-such-program\": "),
        "{message}"
    );

    let error = load(r#"{"shop": {"filename": "tenant/rules", "max_memory": true}}"#).unwrap_err();
    assert!(
        matches!(
            &error,
            LoadError::Config(ConfigError { entry: Some(entry), key: Some(key), .. })
                if entry == "shop" && key == "max_memory"
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("must be a size"), "{error}");
    assert!(matches!(load("[]"), Err(LoadError::Config(_))));

    // One bad tenant fails the whole load, naming it.
    let error = load(r#"{"good": {"filename": "tenant/rules"}, "bad": {"filename": "c/hello"}}"#)
        .unwrap_err();
    assert!(
        matches!(&error, LoadError::Tenant(TenantError::Boot { tenant, .. }) if tenant == "bad"),
        "{error:?}"
    );

    // Programs given as bytes.
    let mut given = BTreeMap::new();
    given.insert("rules".to_string(), support::guest("tenant/rules"));
    assert!(Tenants::load(r#"{"t": {"filename": "rules"}}"#, &given, None).is_ok());
    let error = Tenants::load(r#"{"t": {"filename": "other"}}"#, &given, None).unwrap_err();
    assert!(
        matches!(&error, LoadError::Program { message, .. } if message.contains("no program named \"other\"")),
        "{error:?}"
    );
}

// ---- Random calls ---------------------------------------------------------------------------

/// Requests through tenant/call_fuzz: each makes 20 random tenant calls with arguments from
/// good and bad values. A request ends with bad_argument (a wild pointer or length) or
/// answers, and every result the guest saw was one the ABI allows. Nothing else may happen:
/// the calls write only into one static buffer, so even memory_limit would be a bug.
#[test]
fn random_calls_with_bad_arguments_never_break_the_host() {
    for width in WIDTHS {
        const REQUESTS: u64 = 3000;
        let tenant = load(
            "fuzz",
            &format!("{width}tenant/call_fuzz"),
            Limits::default(),
        );
        let mut answered = 0;
        let mut by_kind: BTreeMap<&str, u32> = BTreeMap::new();
        // The first seed of each outcome ("answered" or an error kind), to replay at the end.
        let mut first_seeds: BTreeMap<&str, (u64, String)> = BTreeMap::new();
        for seed in 0..REQUESTS {
            let url = format!("/{seed}");
            let outcome = catch_unwind(AssertUnwindSafe(|| get(&tenant, &url)))
                .unwrap_or_else(|_| panic!("seed {seed}: the host panicked"));
            let class = match &outcome.result {
                Ok(_) => "answered",
                Err(error) => error.kind.name(),
            };
            first_seeds
                .entry(class)
                .or_insert_with(|| (seed, format!("{:?}", outcome.result)));
            match &outcome.result {
                Ok((response, source)) => {
                    let text = String::from_utf8_lossy(&response.body);
                    assert_eq!(response.status, 200, "seed {seed}: {text}");
                    assert_eq!(source, &Source::Synthesized, "seed {seed}");
                    assert!(text.ends_with("unexpected=0"), "seed {seed}: {text}");
                    answered += 1;
                }
                Err(error) => {
                    assert_eq!(error.tenant, "fuzz");
                    match error.kind {
                        ErrorKind::BadArgument => {
                            assert_eq!(error.during, "on_recv", "seed {seed}: {error}");
                            assert!(
                                error.detail.ends_with("is outside guest memory")
                                    && Call::ALL
                                        .iter()
                                        .any(|call| error.detail.starts_with(&format!("{call}: "))),
                                "seed {seed}: {error}"
                            );
                        }
                        _ => panic!("seed {seed}: unexpected error {error}"),
                    }
                    *by_kind.entry(error.kind.name()).or_default() += 1;
                }
            }
        }
        let bad_arguments = by_kind.get("bad_argument").copied().unwrap_or(0);
        assert!(
            answered > 0 && bad_arguments > 0,
            "{answered} answered, errors {by_kind:?}: the fuzz must exercise both"
        );
        // The template is untouched: the same request gives the same outcome again, so a request
        // that answered still does.
        for (class, (seed, result)) in first_seeds {
            let again = format!("{:?}", get(&tenant, &format!("/{seed}")).result);
            assert_eq!(again, result, "seed {seed} ({class}) repeated");
        }
    }
}

// ---- Per-call rules -------------------------------------------------------------------------

/// tenant/rules probes the rules of docs/abi.md in on_recv (the body), on_hash and on_deliver
/// (headers). Expected values: -1 EPERM, -2 ENOENT, -7 E2BIG, -22 EINVAL, -38 ENOSYS.
#[test]
fn per_call_rules_on_the_client_side() {
    for width in WIDTHS {
        let tenant = load("rules", &format!("{width}tenant/rules"), Limits::default());
        let outcome = send(
            &tenant,
            request("GET", "/probes", &[("X-Probe", "hello-world")], ""),
        );
        let (response, source) = response(&outcome);
        assert_eq!(source, &Source::Synthesized);
        let expected = [
            // Hooks and header sets: forge is allowed in on_recv (and ignored after respond).
            "forge_in_recv=0",
            "forge_bad_decision=-22",
            "header_set_resp=-1",
            "header_get_bereq=-1",
            "header_count_beresp=-1",
            "header_count_set_4=-22",
            "status_get_resp=-1",
            "body_get=-1",
            "cache_set=-1",
            "state_save=-1",
            "state_restore=-1",
            "wait_for_requests=-1",
            "set_hook_bad_id=-22",
            "unknown_call_521=-38",
            "unknown_call_9999=-38",
            // Headers: case-insensitive names, the full length when the output is cut.
            "header_get_truncated=11[hello]",
            "header_get_over_its_name=11[hello-world]",
            "header_get_absent=-2",
            "bad_header_name=-22",
            "empty_header_name=-22",
            "header_value_with_newline=-22",
            "header_value_not_utf8=-22",
            "header_value_120=0",
            "header_value_121=0",
            "header_get_120=120",
            "header_get_121=121",
            "header_value_120_not_utf8=-22",
            "header_value_121_not_utf8=-22",
            "header_unset_120=1",
            "header_unset_121=1",
            "header_append=0",
            "header_append=0",
            "header_unset=2",
            "header_unset_again=0",
            "header_count=1",
            "header_at_0=20[X-Probe: hello]",
            "header_at_end=-2",
            // URL and method.
            "url_without_slash=-22",
            "url_with_space=-22",
            "url_set=0",
            "url_get=11",
            "method_bad=-22",
            "method_set=0",
            "method_get=5[PU]",
            "status_set_req=-1",
            // Other calls.
            "backend_set_empty=-22",
            "backend_set=0",
            "hash_add=0",
            "log=0",
            "json_validate_ok=0",
            "json_validate_bad=1",
            "json_query=3[two]",
            "json_query_absent=-2",
            "json_query_bad_doc=-22",
            "json_query_bad_pointer=-22",
            "xml_query=1[9]",
            "xml_query_absent=-2",
            "xml_validate_bad=1",
            "sha256=32[ba78]",
            "hmac_sha256=32",
            "hash_add_too_big=-7",
            "respond_status_99=-22",
            "respond_status_1000=-22",
            "respond_bad_content_type=-22",
        ]
        .join(" ");
        assert_eq!(String::from_utf8_lossy(&response.body), expected);
        assert_eq!(response.status, 299, "on_deliver's status_set");
        assert_eq!(
            header(response, "x-hash-probes"),
            Some("hash_add=0 respond=-1 header_get_resp=-1 forge=-1")
        );
        assert_eq!(
            header(response, "x-deliver-probes"),
            Some(
                "status=200 respond=-1 forge=-1 hash_add=-1 body_get=-1 status_set_99=-22 \
                 status_set_299=0 bereq=-1"
            )
        );
        assert_eq!(header(response, "x-delivered"), Some("1"));
        assert_eq!(outcome.hash, b"key-hashed");
        assert_eq!(outcome.log, ["a log line"]);
        // What on_recv changed in the request; no backend request was made.
        assert_eq!(outcome.request.url, "/probes?x=1");
        assert_eq!(outcome.request.method, "PURGE");
        assert_eq!(
            outcome.request.headers,
            [("X-Probe".to_string(), "hello-world".to_string())]
        );
        assert_eq!(outcome.stats.forks, 1);
    }
}

/// A hook removed during a request is gone for the rest of that request only.
#[test]
fn a_hook_removed_during_a_request_is_back_for_the_next() {
    let tenant = load("rules", "tenant/rules", Limits::default());
    let unhooked = get(&tenant, "/unhook");
    assert_eq!(body(&unhooked), "unhook_deliver=0");
    assert_eq!(header(response(&unhooked).0, "x-delivered"), None);
    let later = get(&tenant, "/probes");
    assert_eq!(header(response(&later).0, "x-delivered"), Some("1"));
}

/// The backend side: a forge callback reads the client request's body and bereq, gets only
/// its `data` from the client fork; on_backend_fetch and on_backend_response run around it.
#[test]
fn per_call_rules_on_the_backend_side_with_a_forge_callback() {
    for width in WIDTHS {
        let tenant = load("rules", &format!("{width}tenant/rules"), Limits::default());
        let outcome = send(
            &tenant,
            request("POST", "/forge", &[("X-Probe", "p1")], "the body"),
        );
        let (response, source) = response(&outcome);
        assert_eq!(
            String::from_utf8_lossy(&response.body),
            "data=42 body=the body x-probe=p1 url=/forge body_get_cap0=8 header_get_req=-1 \
             header_set_beresp=-1 forge=-1 backend_set=-1 hash_add=-1 cache_set=0"
        );
        // header_set_beresp=-1: beresp does not exist inside a forge callback; `respond` makes it
        // (docs/abi.md, forge).
        // The callback's cache_set(1, 60) was overridden by on_backend_response's cache_set(0, 0).
        assert_eq!(source, &Source::Forged);
        assert_eq!(outcome.cache, Some(CacheDecision::UNCACHEABLE));
        // on_deliver's status_set(299) replaced the forged 201, which on_backend_response saw.
        assert_eq!(response.status, 299);
        assert_eq!(header(response, "content-type"), Some("text/plain"));
        assert_eq!(
            header(response, "x-beresp-probes"),
            Some("status=201 respond=-1 backend_set=-1 cache_set=0")
        );
        assert_eq!(header(response, "x-delivered"), Some("1"));
        assert_eq!(
            header(response, "x-deliver-probes"),
            Some(
                "status=201 respond=-1 forge=-1 hash_add=-1 body_get=-1 status_set_99=-22 \
                 status_set_299=0 bereq=-1"
            )
        );
        let fetched = outcome
            .request
            .headers
            .iter()
            .find(|(name, _)| name == "x-fetched")
            .map(|(_, value)| value.as_str());
        assert_eq!(fetched, Some("body=the body beresp=-1 backend_set=0"));
        assert_eq!(outcome.stats.forks, 2);
    }
}

#[test]
fn per_call_rules_on_the_backend_side_with_the_origin() {
    for width in WIDTHS {
        let tenant = load("rules", &format!("{width}tenant/rules"), Limits::default());
        let outcome = send(&tenant, request("GET", "/origin", &[("X-Probe", "p2")], ""));
        let (response, source) = response(&outcome);
        // on_backend_fetch chose the backend and tagged the backend request.
        assert_eq!(
            source,
            &Source::Backend {
                name: "second".into()
            }
        );
        let echoed: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
        assert_eq!(echoed["backend"], "second");
        assert_eq!(echoed["url"], "/origin");
        assert_eq!(echoed["headers"]["x-probe"], "p2");
        assert_eq!(
            echoed["headers"]["x-fetched"],
            "body= beresp=-1 backend_set=0"
        );
        assert_eq!(
            header(response, "x-beresp-probes"),
            Some("status=200 respond=-1 backend_set=-1 cache_set=0")
        );
        assert_eq!(header(response, "x-delivered"), Some("1"));
        assert_eq!(response.status, 299);
    }
}

// ---- Live update ----------------------------------------------------------------------------

#[test]
fn live_update_hands_state_to_the_new_program() {
    let limits = limits_with(|limits| limits.arguments = vec!["abc".into()]);
    let v1 = load("counter", "tenant/counter_v1", limits.clone());
    assert_eq!(body(&get(&v1, "/")), "v1 value=from-v1:abc:1");

    let v2 = v1
        .live_update(&support::guest("tenant/counter_v2"))
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(v2.name(), "counter");
    assert_eq!(v2.limits(), &limits);
    assert_eq!(body(&get(&v2, "/")), "v2 restored=from-v1:abc:1");
    assert_eq!(body(&get(&v2, "/")), "v2 restored=from-v1:abc:1");
    // The old tenant is unchanged and keeps serving.
    assert_eq!(body(&get(&v1, "/")), "v1 value=from-v1:abc:1");

    // Loaded fresh, v2 has no state; updated from a program without on_live_update, an empty
    // one.
    let fresh = load("counter", "tenant/counter_v2", Limits::default());
    assert_eq!(body(&get(&fresh, "/")), "v2 restored=");
    let again = v2
        .live_update(&support::guest("tenant/counter_v2"))
        .unwrap();
    assert_eq!(body(&get(&again, "/")), "v2 restored=");
}

#[test]
fn a_failed_live_update_leaves_the_old_tenant_serving() {
    let v1 = load("counter", "tenant/counter_v1", Limits::default());
    let error = v1.live_update(b"\x7fELF but not really").unwrap_err();
    assert!(
        matches!(&error, TenantError::Setup { tenant, .. } if tenant == "counter"),
        "{error:?}"
    );
    let error = v1.live_update(&support::guest("c/hello")).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("exited with status 0 before calling wait_for_requests"),
        "{error}"
    );
    assert_eq!(body(&get(&v1, "/")), "v1 value=from-v1:none:1");
}

#[test]
fn request_errors_name_their_tenant_whatever_the_names_length() {
    // Forks keep short names inline and long ones shared: both must read back whole.
    let limits = limits_with(|limits| limits.max_request_memory = 256 << 10);
    for name in [
        "l",
        "a-name-of-exactly-31-bytes-long",
        "ünïcödé-and-longer-than-thirty-one-bytes",
    ] {
        let tenant = load(name, "tenant/limits", limits.clone());
        assert_eq!(tenant.name(), name);
        let error = request_error(&get(&tenant, "/pages/100")).clone();
        assert_eq!(error.tenant, name, "{error}");
    }
}

// ---- Limits ---------------------------------------------------------------------------------

#[test]
fn max_request_memory_is_enforced_per_request() {
    // 64 pages per request.
    let limits = limits_with(|limits| limits.max_request_memory = 256 << 10);
    let tenant = load("limits", "tenant/limits", limits);
    let small = get(&tenant, "/pages/8");
    assert_eq!(body(&small), "wrote 8 pages");
    let pages = small.stats.pages_written;
    assert!((8..64).contains(&pages), "{pages} pages written");

    let error = request_error(&get(&tenant, "/pages/100")).clone();
    assert_eq!(error.kind, ErrorKind::MemoryLimit, "{error}");
    assert_eq!(error.during, "on_recv");
    // Each request has its own allowance: the failed one did not use it up.
    for _ in 0..3 {
        assert_eq!(body(&get(&tenant, "/pages/8")), "wrote 8 pages");
    }
    // Without the small limit the same request succeeds.
    let roomy = load("limits", "tenant/limits", Limits::default());
    assert_eq!(body(&get(&roomy, "/pages/100")), "wrote 100 pages");
}

#[test]
fn a_request_to_the_hello_tenant_writes_few_pages() {
    let program = std::fs::read(support::tenants_dir().join("hello")).unwrap();
    let tenant = Tenant::load("hello", &program, Limits::default(), None).unwrap();
    let outcome = get(&tenant, "/");
    assert_eq!(response(&outcome).0.status, 200);
    let stats = outcome.stats;
    assert_eq!(stats.forks, 2, "client and backend side");
    assert!(
        stats.pages_written < 16,
        "{} pages written by both forks (template: {} pages)",
        stats.pages_written,
        tenant.template_pages()
    );
}

#[test]
fn a_plain_pass_to_the_origin_makes_no_backend_fork() {
    let program = std::fs::read(support::tenants_dir().join("rewrite")).unwrap();
    let tenant = Tenant::load("rewrite", &program, Limits::default(), None).unwrap();
    let outcome = get(&tenant, "/old/x");
    assert!(matches!(response(&outcome).1, Source::Backend { .. }));
    assert_eq!(outcome.stats.forks, 1, "rewrite has no backend-side hooks");
}

#[test]
fn the_instruction_budget_counts_across_the_hooks_of_a_fork() {
    const SPIN: u64 = 20_000;
    // Measure: on_recv, on_hash and on_deliver each spin, with room to spare.
    let roomy = load("limits", "tenant/limits", Limits::default());
    let three = get(&roomy, &format!("/spin/{SPIN}")).stats.instructions;
    let one = get(&roomy, &format!("/spin-once/{SPIN}"))
        .stats
        .instructions;
    assert!(
        three > 2 * one && one > SPIN,
        "three hooks {three}, one hook {one}"
    );

    // A budget that one spinning hook fits but two do not.
    let budget = one + (three - one) / 4;
    let limits = limits_with(|limits| limits.max_instructions = budget);
    let tight = load("limits", "tenant/limits", limits);
    assert!(get(&tight, &format!("/spin-once/{SPIN}")).result.is_ok());
    let outcome = get(&tight, &format!("/spin/{SPIN}"));
    let error = request_error(&outcome);
    assert_eq!(error.kind, ErrorKind::Timeout, "{error}");
    assert_eq!(error.during, "on_hash", "{error}");
    assert!(error.detail.contains("max_instructions"), "{error}");
    assert!(outcome.stats.instructions <= budget, "{:?}", outcome.stats);
}

// ---- Programs given as source ---------------------------------------------------------------

/// Every case that compiles, in one test: `RVEDGE_CACHE_DIR` is process-wide.
#[cfg(feature = "compile")]
#[test]
fn c_sources_are_compiled_and_compile_errors_are_reported() {
    support::require_tools(&["riscv64-linux-gnu-gcc"]).unwrap_or_else(|error| panic!("{error}"));
    let dir = std::env::temp_dir().join(format!("rvedge-tenant-runtime-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::env::set_var("RVEDGE_CACHE_DIR", dir.join("cache"));
    std::fs::write(
        dir.join("answer.c"),
        r#"#include <rvedge.h>
static void on_recv(uint64_t data, uint64_t req, uint64_t resp) {
    (void)data; (void)req; (void)resp;
    rvedge_respond_str(200, "text/plain", "compiled from source");
}
int main(void) { rvedge_wait_for_requests(on_recv, 0); }
"#,
    )
    .unwrap();
    std::fs::write(dir.join("broken.c"), "int main(void) { return 0 }\n").unwrap();
    let programs = ProgramDirectory::new(&dir);

    let tenants = Tenants::load(r#"{"src": {"filename": "answer.c"}}"#, &programs, None)
        .unwrap_or_else(|error| panic!("{error}"));
    let outcome = get(tenants.get("src").unwrap(), "/");
    assert_eq!(body(&outcome), "compiled from source");
    let cached = std::fs::read_dir(dir.join("cache")).unwrap().count();
    assert_eq!(cached, 1, "the build is cached");
    // Loading again uses the cache.
    assert!(Tenants::load(r#"{"src": {"filename": "answer.c"}}"#, &programs, None).is_ok());

    let error = Tenants::load(r#"{"bad": {"filename": "broken.c"}}"#, &programs, None).unwrap_err();
    match &error {
        LoadError::Program {
            tenant,
            filename,
            message,
        } => {
            assert_eq!((tenant.as_str(), filename.as_str()), ("bad", "broken.c"));
            assert!(message.contains("failed to compile"), "{message}");
            assert!(message.contains("error:"), "{message}");
            assert!(message.contains("broken.c:1"), "{message}");
        }
        other => panic!("expected LoadError::Program, got {other:?}"),
    }
    let _ = std::fs::remove_dir_all(&dir);
}

//! Tenant isolation under attack (ARCHITECTURE.md, "Isolation invariants"): host work is
//! charged, every per-request host resource has a cap, tenants cannot rewrite what the proxy
//! owns, and randomness is fresh per fork when the host has an OS source. Each test drives
//! tests/guests/tenant/attack.c through the in-memory host.

use rvedge_test_support as support;

use std::sync::Arc;
use std::time::Instant;

use rvedge::runtime::abi::Hook;
use rvedge::runtime::usage::CALL_COST;
use rvedge::runtime::{
    exchange, parse_tenants, CacheDecision, EchoOrigin, ErrorKind, Exchange, ExchangeOutcome,
    HttpRequest, Limits, MemoryHost, Next, RandomSource, Source, StepOutcome, Tenant,
    MAX_LOG_BYTES, MAX_LOG_LINES,
};
use rvedge::syscall::SYSCALL_COST;
use support::report_field;

fn attack_tenant(limits: Limits) -> Arc<Tenant> {
    Tenant::load("attack", &support::guest("tenant/attack"), limits, None)
        .unwrap_or_else(|error| panic!("attack loads: {error}"))
}

/// The attack tenant with room for attacks that must hit a cap before the budget.
fn roomy_attack_tenant() -> Arc<Tenant> {
    attack_tenant(limits_with(|limits| {
        limits.max_instructions = 1_000_000_000
    }))
}

fn limits_with(change: impl FnOnce(&mut Limits)) -> Limits {
    let mut limits = Limits::default();
    change(&mut limits);
    limits
}

fn send(tenant: &Arc<Tenant>, request: HttpRequest) -> ExchangeOutcome {
    exchange(tenant, request, &mut EchoOrigin, || 0)
}

fn get(tenant: &Arc<Tenant>, url: &str) -> ExchangeOutcome {
    send(
        tenant,
        HttpRequest {
            method: "GET".into(),
            url: url.into(),
            ..HttpRequest::default()
        },
    )
}

fn body(outcome: &ExchangeOutcome) -> String {
    match &outcome.result {
        Ok((response, _)) => String::from_utf8_lossy(&response.body).into_owned(),
        Err(error) => panic!("request failed: {error}"),
    }
}

fn header<'a>(outcome: &'a ExchangeOutcome, name: &str) -> Option<&'a str> {
    let Ok((response, _)) = &outcome.result else {
        panic!("request failed: {:?}", outcome.result);
    };
    response.header(name)
}

// ---- Host work is charged ---------------------------------------------------------------

const MIB: usize = 1 << 20;

/// Each expensive call, 1000 times on 1 MiB, under the default budget (10M instructions): the
/// host work is charged to the budget, so the request ends as a timeout after a few calls,
/// and the fork's instruction count (which includes the charges) is within its budget.
#[test]
fn host_work_is_charged_against_the_instruction_budget() {
    let tenant = attack_tenant(Limits::default());
    let budget = tenant.limits().max_instructions;
    let big_header = "h".repeat(MIB);
    for call in [
        "sha256",
        "hmac",
        "json_validate",
        "json_query",
        "xml_validate",
        "xml_query",
        "respond",
        "header_get",
        "body_get",
        "write",
        "getrandom",
    ] {
        let request = HttpRequest {
            method: "POST".into(),
            url: format!("/loop/{call}/{MIB}/1000"),
            headers: vec![("x-big".into(), big_header.clone())],
            body: vec![b'b'; MIB],
        };
        let started = Instant::now();
        let outcome = send(&tenant, request);
        let elapsed = started.elapsed();
        println!(
            "{call}: {:?} after {} instructions in {elapsed:?}",
            outcome
                .result
                .as_ref()
                .map(|_| "answered")
                .map_err(|e| e.kind),
            outcome.stats.instructions
        );
        let error =
            outcome.result.as_ref().err().unwrap_or_else(|| {
                panic!("{call}: 1000 calls on 1 MiB ran free: {}", body(&outcome))
            });
        assert_eq!(error.kind, ErrorKind::Timeout, "{call}: {error}");
        assert!(error.detail.contains("max_instructions"), "{call}: {error}");
        let instructions = outcome.stats.instructions;
        assert!(
            instructions <= budget * 2 && instructions > budget / 2,
            "{call}: {instructions} instructions counted for a budget of {budget}"
        );
    }
}

/// Linux system calls pay too: each at least `SYSCALL_COST`, and `mprotect` a price per page,
/// so a loop re-protecting 8 MiB ends at the budget rather than running for minutes.
#[test]
fn linux_calls_are_charged_against_the_instruction_budget() {
    let tenant = attack_tenant(Limits::default());
    let pages = (8 * MIB as u64).div_ceil(rvedge::PAGE_SIZE);
    let instructions = |calls: u64| {
        let outcome = get(&tenant, &format!("/loop/mprotect/{}/{calls}", 8 * MIB));
        assert_eq!(report_field(&body(&outcome), "ok"), calls);
        outcome.stats.instructions
    };
    let per_call = (instructions(200) - instructions(100)) / 100;
    println!("mprotect of {pages} pages and its loop: {per_call} instructions");
    assert!(
        per_call >= SYSCALL_COST + pages,
        "{per_call} instructions per call"
    );

    let outcome = get(&tenant, &format!("/loop/mprotect/{}/0", 8 * MIB));
    let error = outcome
        .result
        .as_ref()
        .err()
        .unwrap_or_else(|| panic!("endless mprotect answered: {}", body(&outcome)));
    assert_eq!(error.kind, ErrorKind::Timeout, "{error}");
}

/// Calls that change mappings look through the list of regions, so they pay one instruction
/// per region: a tenant that made thousands of one-page mappings once re-protected one of
/// them for 100 times the host time an ordinary tenant's budget buys.
#[test]
fn calls_that_change_mappings_pay_per_region() {
    let tenant = attack_tenant(Limits::default());
    let mappings = 1000;
    let instructions = |calls: u64| {
        let outcome = get(&tenant, &format!("/regions/{mappings}/{calls}"));
        let report = body(&outcome);
        assert_eq!(report_field(&report, "made"), mappings, "{report}");
        assert_eq!(report_field(&report, "ok"), calls, "{report}");
        outcome.stats.instructions
    };
    let per_call = (instructions(200) - instructions(100)) / 100;
    println!("mprotect among {mappings} regions and its loop: {per_call} instructions");
    assert!(
        per_call >= SYSCALL_COST + 1 + mappings,
        "{per_call} instructions per call"
    );
}

/// A call that does no work still costs its fixed price: each iteration of a loop of empty
/// `sha256` calls costs at least `CALL_COST` instructions more than its own code.
#[test]
fn every_tenant_call_has_a_fixed_price() {
    let tenant = attack_tenant(Limits::default());
    let instructions = |calls: u64| {
        let outcome = get(&tenant, &format!("/loop/sha256/0/{calls}"));
        assert_eq!(report_field(&body(&outcome), "ok"), calls);
        outcome.stats.instructions
    };
    let per_call = (instructions(2000) - instructions(1000)) / 1000;
    println!("an empty sha256 call and its loop: {per_call} instructions");
    assert!(per_call >= CALL_COST, "{per_call} instructions per call");
}

/// Stepping a hook an instruction at a time (debuggers) charges calls as running it does: the
/// same request counts the same instructions either way.
#[test]
fn stepping_charges_tenant_calls_as_running_does() {
    let tenant = attack_tenant(Limits::default());
    let url = format!("/loop/sha256/{}/3", 64 << 10);
    assert_eq!(report_field(&body(&get(&tenant, &url)), "ok"), 3);
    let mut host = MemoryHost::new(HttpRequest {
        method: "GET".into(),
        url,
        ..HttpRequest::default()
    });
    let mut fork = tenant.fork();
    assert!(fork.enter_hook(Hook::Recv));
    let outcome = loop {
        if let StepOutcome::Finished(outcome) = fork.step(&mut host) {
            break outcome;
        }
    };
    assert_eq!(outcome, Ok(()));
    let mut recv_only = tenant.fork();
    let mut host = MemoryHost::new(host.req.clone());
    assert_eq!(recv_only.run_hook(Hook::Recv, &mut host), Ok(true));
    assert_eq!(fork.instructions(), recv_only.instructions());
    assert!(
        fork.instructions() > 3 * 64 * 1024,
        "{} instructions for hashing 192 KiB",
        fork.instructions()
    );
}

// ---- Every per-request host resource has a cap --------------------------------------------

/// With a budget too large to stop it, a request still copies at most 256 MiB in and out of
/// the guest: past that, calls that copy give -E2BIG.
#[test]
fn bytes_copied_are_capped_per_request() {
    let tenant = roomy_attack_tenant();
    let report = body(&get(&tenant, &format!("/loop/sha256/{MIB}/300")));
    let ok = report_field(&report, "ok");
    assert!((250..=256).contains(&ok), "{report}");
    assert_eq!(report_field(&report, "e2big"), 300 - ok, "{report}");
}

#[test]
fn a_long_text_argument_is_paid_for_once() {
    // url_set reads its 1 MiB text, then refuses it: one more call costs the call's price
    // and the copy's, 100 + 1 MiB / 16 instructions (docs/abi.md, "What calls cost").
    let tenant = roomy_attack_tenant();
    let charged = |calls: u32| {
        get(&tenant, &format!("/loop/url_set/{MIB}/{calls}"))
            .stats
            .charged_by_calls
    };
    assert_eq!(charged(2) - charged(1), 100 + MIB as u64 / 16);
}

#[test]
fn log_lines_and_bytes_are_capped_per_request() {
    let tenant = roomy_attack_tenant();
    // Many short lines: the line cap.
    let outcome = get(&tenant, "/loop/log/10/100000");
    let report = body(&outcome);
    assert_eq!(
        report_field(&report, "ok") as usize,
        MAX_LOG_LINES,
        "{report}"
    );
    assert_eq!(
        report_field(&report, "e2big") as usize,
        100_000 - MAX_LOG_LINES
    );
    assert!(outcome.log.len() <= MAX_LOG_LINES, "{}", outcome.log.len());
    // Long lines: the byte cap.
    let outcome = get(&tenant, "/loop/log/65536/100");
    let report = body(&outcome);
    assert!(report_field(&report, "e2big") > 0, "{report}");
    let logged: usize = outcome.log.iter().map(String::len).sum();
    assert!(logged <= MAX_LOG_BYTES, "{logged} bytes logged");
    // stdout counts in the same caps, and says it was cut.
    let outcome = get(&tenant, "/stdout/100/100000");
    assert_eq!(report_field(&body(&outcome), "printed"), 100_000);
    assert!(
        outcome.log.len() <= MAX_LOG_LINES + 1,
        "{}",
        outcome.log.len()
    );
    let logged: usize = outcome.log.iter().map(String::len).sum();
    assert!(logged <= MAX_LOG_BYTES + 100, "{logged} bytes logged");
    assert!(
        outcome.log.last().is_some_and(|line| line.contains("cut")),
        "{:?}",
        outcome.log.last()
    );
}

/// A fork takes the environment box the last fork of its thread gave back: what that one
/// printed, and how much of the cap it used, stay with it.
#[test]
fn a_request_prints_within_its_own_caps_after_one_that_used_them_up() {
    let tenant = roomy_attack_tenant();
    let before = get(&tenant, "/stdout/100/100000");
    assert!(before.log.last().is_some_and(|line| line.contains("cut")));
    let outcome = get(&tenant, "/stdout/10/3");
    assert_eq!(report_field(&body(&outcome), "printed"), 3);
    assert_eq!(outcome.log.len(), 3, "{:?}", outcome.log);
    assert!(
        outcome
            .log
            .iter()
            .all(|line| line.len() <= 10 && !line.contains("cut")),
        "{:?}",
        outcome.log
    );
}

#[test]
fn headers_added_are_capped_per_request() {
    let tenant = roomy_attack_tenant();
    // Many small headers.
    let outcome = get(&tenant, "/loop/header_append/16/100000");
    let report = body(&outcome);
    assert!(report_field(&report, "e2big") > 90_000, "{report}");
    assert!(
        outcome.request.headers.len() < 1000,
        "{} headers",
        outcome.request.headers.len()
    );
    // One huge value, set again and again, and URLs.
    for call in ["header_set", "url_set"] {
        let outcome = get(&tenant, &format!("/loop/{call}/{MIB}/100"));
        let report = body(&outcome);
        assert_eq!(report_field(&report, "e2big"), 100, "{call}: {report}");
    }
    // A content type or a backend name is one value, held to the same.
    assert_eq!(
        body(&get(&tenant, "/long-names")),
        "backend_set=-7 respond=-7"
    );
    // hash_add keeps its 64 KiB.
    let report = body(&get(&tenant, "/loop/hash_add/1024/100"));
    assert_eq!(
        (report_field(&report, "ok"), report_field(&report, "e2big")),
        (64, 36)
    );
}

#[test]
fn json_query_does_not_build_a_huge_value() {
    let tenant = roomy_attack_tenant();
    // {"big": [2M zeros], "small": 1}: about 4 MiB of JSON.
    let report = body(&get(&tenant, "/json/2000000"));
    assert_eq!(report, "small=1 big=-7");
    let report = body(&get(&tenant, "/json/1000"));
    assert_eq!(report, "small=1 big=2001");
}

// ---- XML is linear and bounded ----------------------------------------------------------

#[test]
fn hostile_xml_is_refused_quickly() {
    let tenant = roomy_attack_tenant();
    for (url, expected) in [
        ("/xml/deep/20000", "deeper than"),
        ("/xml/attrs/100000", "more than"),
    ] {
        let started = Instant::now();
        let report = body(&get(&tenant, url));
        println!("{url}: {report} in {:?}", started.elapsed());
        assert!(report_field(&report, "result") > 0, "{url}: {report}");
        assert!(report.contains(expected), "{url}: {report}");
    }
    let report = body(&get(&tenant, "/xml/deep/100"));
    assert_eq!(report, "result=0 message=");
}

// ---- What the proxy owns ----------------------------------------------------------------

#[test]
fn tenants_cannot_touch_host_framing_or_proxy_headers() {
    let tenant = attack_tenant(Limits::default());
    let outcome = get(&tenant, "/forbidden");
    let report = format!(
        "{} {}",
        body(&outcome),
        header(&outcome, "x-resp-report").unwrap()
    );
    let mut probes = 0;
    for probe in report.split(' ').filter(|probe| !probe.is_empty()) {
        let (name, results) = probe.split_once('=').unwrap();
        if name.ends_with(":x-allowed") {
            assert_eq!(results, "0", "{probe}");
        } else {
            assert_eq!(results, "-1/-1/-1", "{probe}");
            probes += 1;
        }
    }
    assert_eq!(probes, 3 * 13, "{report}");
}

#[test]
fn final_statuses_are_200_to_599() {
    let tenant = attack_tenant(Limits::default());
    for status in [100, 101, 199, 600, 999] {
        let outcome = get(&tenant, &format!("/status/{status}"));
        assert_eq!(body(&outcome), "respond=-22", "{status}");
        assert_eq!(header(&outcome, "x-status-set"), Some("-22"), "{status}");
    }
    for status in [200, 404, 599] {
        let outcome = get(&tenant, &format!("/status/{status}"));
        assert_eq!(body(&outcome), "status", "{status}");
        assert_eq!(header(&outcome, "x-status-set"), Some("0"), "{status}");
    }
}

#[test]
fn cache_ttl_is_capped_by_configuration() {
    let year = 365 * 24 * 3600;
    let default = attack_tenant(Limits::default());
    let outcome = get(&default, &format!("/ttl/{year}"));
    assert_eq!(outcome.result.as_ref().unwrap().1, Source::Forged);
    assert_eq!(
        outcome.cache,
        Some(CacheDecision {
            cacheable: true,
            ttl_seconds: 24 * 3600
        })
    );
    let specs = parse_tenants(r#"{"t": {"filename": "attack", "max_ttl": "1m"}}"#).unwrap();
    let short = attack_tenant(specs[0].limits.clone());
    for ttl in [year, 61] {
        let outcome = get(&short, &format!("/ttl/{ttl}"));
        assert_eq!(outcome.cache.map(|cache| cache.ttl_seconds), Some(60));
    }
    let outcome = get(&short, "/ttl/59");
    assert_eq!(outcome.cache.map(|cache| cache.ttl_seconds), Some(59));
}

#[test]
fn tenants_choose_only_their_allowed_backends() {
    let specs =
        parse_tenants(r#"{"t": {"filename": "attack", "backends": ["api", "static"]}}"#).unwrap();
    let restricted = attack_tenant(specs[0].limits.clone());
    let outcome = get(&restricted, "/backend/api");
    let source = &outcome.result.as_ref().unwrap().1;
    assert_eq!(source, &Source::Backend { name: "api".into() });
    assert_eq!(body(&get(&restricted, "/backend/admin")), "backend_set=-1");
    // Without a list, the host's backends are the limit.
    let open = attack_tenant(Limits::default());
    let outcome = get(&open, "/backend/admin");
    let source = &outcome.result.as_ref().unwrap().1;
    assert_eq!(
        source,
        &Source::Backend {
            name: "admin".into()
        }
    );
}

// ---- Randomness -------------------------------------------------------------------------

fn random_fields(outcome: &ExchangeOutcome) -> (String, String) {
    let report = body(outcome);
    let mut fields = report.split(' ');
    let getrandom = fields.next().unwrap().to_string();
    let at_random = fields.next().unwrap().to_string();
    assert!(getrandom.starts_with("getrandom=16:"), "{report}");
    (getrandom, at_random)
}

#[test]
fn forks_get_fresh_randomness_from_the_os() {
    let os = |random| limits_with(|limits| limits.random = random);
    let tenant = attack_tenant(os(RandomSource::Os));
    let (first, first_at_random) = random_fields(&get(&tenant, "/random"));
    let (second, second_at_random) = random_fields(&get(&tenant, "/random"));
    assert_ne!(first, second, "two forks, the same getrandom bytes");
    // AT_RANDOM (glibc's canary and pointer guard) is the template's, fixed at load...
    assert_eq!(first_at_random, second_at_random);
    // ...and fresh for each load.
    let reloaded = attack_tenant(os(RandomSource::Os));
    let (_, reloaded_at_random) = random_fields(&get(&reloaded, "/random"));
    assert_ne!(first_at_random, reloaded_at_random);

    // Fixed randomness repeats, by choice (tests, reproducible runs).
    let fixed = attack_tenant(os(RandomSource::Fixed));
    let one = random_fields(&get(&fixed, "/random"));
    assert_eq!(one, random_fields(&get(&fixed, "/random")));
    let refixed = attack_tenant(os(RandomSource::Fixed));
    assert_eq!(one, random_fields(&get(&refixed, "/random")));
}

/// Hosts without an OS source (Extism) seed each exchange from their own CSPRNG.
#[test]
fn a_host_seed_gives_an_exchange_its_own_random_bytes() {
    let tenant = attack_tenant(limits_with(|limits| limits.random = RandomSource::Fixed));
    let getrandom_with = |seed: Option<[u8; 32]>| {
        let mut host = MemoryHost::new(HttpRequest {
            method: "GET".into(),
            url: "/random".into(),
            ..HttpRequest::default()
        });
        let mut exchange = Exchange::new(&tenant);
        if let Some(seed) = seed {
            exchange.seed_random(seed);
        }
        match exchange.resume(&mut host) {
            Next::Respond { response, .. } => {
                let report = String::from_utf8_lossy(&response.body).into_owned();
                report.split(' ').next().unwrap().to_string()
            }
            other => panic!("{other:?}"),
        }
    };
    let fixed = getrandom_with(None);
    let one = getrandom_with(Some([1; 32]));
    assert_ne!(one, fixed);
    assert_ne!(one, getrandom_with(Some([2; 32])));
    assert_eq!(one, getrandom_with(Some([1; 32])));
}

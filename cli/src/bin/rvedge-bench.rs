//! `rvedge-bench`: guest MIPS of the rvedge interpreter against qemu-riscv64's JIT on the same
//! CPU-bound guest (tests/guests/bench/cpubench.c), measured in one run; the same guest built
//! for the other flavours (RV64 with Zb*, RV32 with Zb*: instruction counts and MIPS against
//! rv64gc); and the cost of making a machine from a snapshot and calling a guest function in
//! it, and the per-request path of a tenant, and what tenant calls cost: an attack tenant
//! looping on one expensive host call against an ordinary one spinning, both under the same
//! instruction budget. Prints figures; it asserts nothing about speed, only that both
//! emulators produce the same checksums, that requests succeed and that attacks end as
//! timeouts.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use clap::Parser;
use rvedge::runtime::abi::Hook;
use rvedge::runtime::{
    exchange, EchoOrigin, ErrorKind, Fork, HttpRequest, Limits, MemoryHost, RandomSource, Tenant,
};
use rvedge::{CapturedOutput, Isolated, Machine, Options, Stop};

#[derive(Parser, Debug)]
#[command(
    name = "rvedge-bench",
    about = "Guest MIPS of rvedge vs qemu-riscv64 on cpubench"
)]
struct Arguments {
    /// The cpubench guest; default: the one scripts/build-guests.sh builds.
    #[arg(long)]
    guest: Option<PathBuf>,
    /// Work scale passed to cpubench (1.0 is about 3 billion instructions for `all`).
    #[arg(long, default_value_t = 0.5)]
    scale: f64,
    /// A short run for CI: scale 0.05.
    #[arg(long)]
    quick: bool,
    /// Kernel groups to measure; `--groups ''` measures only the per-request paths.
    #[arg(long, value_delimiter = ',', default_value = "int,mem,fp")]
    groups: Vec<String>,
    /// Rounds of each per-request measurement (default 20000, 1000 with --quick); more
    /// gives a profiler (perf) more samples.
    #[arg(long)]
    rounds: Option<usize>,
    /// Skip the other builds of cpubench (Zb*, RV32).
    #[arg(long)]
    no_flavours: bool,
    /// Skip the host-call attacks, so a profiler sees only the per-request paths.
    #[arg(long)]
    no_attacks: bool,
    /// How long to run whole hello exchanges back to back for the exchanges/s figure; with
    /// `--groups '' --rounds 1 --no-attacks` a profiler sees nothing else.
    #[arg(long, default_value_t = 0.5)]
    exchange_seconds: f64,
    /// Run only a tenant's (`--tenant`, default hello) fork + on_recv + teardown (`recv`) or
    /// its whole exchange (`exchange`), `--rounds` times (default 100) with the caches swept
    /// before each, and print nothing else: for a cache simulator to count the cache lines a
    /// cold request misses (scripts/footprint.sh).
    #[arg(long, value_enum)]
    cold_only: Option<ColdPath>,
    /// The path `--cold-only` names without the sweep, for a profiler (perf) to see where a
    /// warm request's time goes.
    #[arg(long, value_enum, conflicts_with = "cold_only")]
    warm_only: Option<ColdPath>,
    /// The example tenant `--cold-only` and `--warm-only` run (the seed's request: a GET of
    /// /old/index.html, which `rewrite` rewrites).
    #[arg(long, default_value = "hello")]
    tenant: String,
}

/// A per-request path `--cold-only` (or `--warm-only`) runs.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum ColdPath {
    Recv,
    Exchange,
}

/// `$CARGO_TARGET_DIR`, else the target directory this binary was built in
/// (`<target>/release/rvedge-bench`), where the scripts put guests and tenants too.
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            let exe = std::env::current_exe().ok()?;
            exe.ancestors().nth(2).map(Path::to_path_buf)
        })
        .expect("CARGO_TARGET_DIR, or a binary inside a cargo target directory")
}

fn guests_dir() -> PathBuf {
    target_dir().join("guests")
}

fn median(mut durations: Vec<Duration>) -> Duration {
    durations.sort();
    durations[durations.len() / 2]
}

/// The host-side libc levers (emulator/src/native), measured off and on in one run.
#[derive(Clone, Copy)]
struct Levers {
    name: &'static str,
    host_string_functions: bool,
    host_heap: bool,
}

const LEVERS: [Levers; 3] = [
    Levers {
        name: "guest libc",
        host_string_functions: false,
        host_heap: false,
    },
    Levers {
        name: "+ host string functions",
        host_string_functions: true,
        host_heap: false,
    },
    Levers {
        name: "+ host heap (default)",
        host_string_functions: true,
        host_heap: true,
    },
];

fn load_built_tenant(name: &str, levers: Levers) -> std::sync::Arc<Tenant> {
    let path = target_dir().join("tenants").join(name);
    let elf = std::fs::read(&path).unwrap_or_else(|error| {
        panic!(
            "cannot read {} ({error}); build it with scripts/build-tenants.sh",
            path.display()
        )
    });
    let limits = Limits {
        host_string_functions: levers.host_string_functions,
        host_heap: levers.host_heap,
        ..Limits::default()
    };
    Tenant::load(name, &elf, limits, None).expect("example tenant loads")
}

/// One measured per-request path: median time, guest instructions executed, the price of its
/// tenant calls (charged in instructions, not executed) and pages written.
struct RequestCost {
    median: Duration,
    /// Median time up to the end of the request's tenant code, without the teardown that
    /// hosts do after answering (Varnish when the task ends): the part a client waits for.
    /// Measured for a fork and its hook, not for a whole exchange.
    answered: Option<Duration>,
    instructions: u64,
    charged_by_calls: u64,
    pages_written: usize,
}

fn print_cost(what: &str, levers: Levers, cost: &RequestCost, baseline: &RequestCost) {
    let answered = cost.answered.map_or_else(
        || "-".to_string(),
        |answered| answered.as_nanos().to_string(),
    );
    println!(
        "{what:<34} {:<24} {:>9} {answered:>9} {:>6.2}x {:>13} {:>11} {:>6}",
        levers.name,
        cost.median.as_nanos(),
        baseline.median.as_secs_f64() / cost.median.as_secs_f64(),
        cost.instructions,
        cost.charged_by_calls,
        cost.pages_written
    );
}

/// Median of fork + on_recv + teardown of `tenant`.
fn measure_fork_and_recv(
    tenant: &std::sync::Arc<Tenant>,
    request: &HttpRequest,
    rounds: usize,
) -> RequestCost {
    measure_fork_and_recv_after(tenant, request, rounds, &mut || {})
}

/// [`measure_fork_and_recv`] with `between` run, untimed, before each round.
fn measure_fork_and_recv_after(
    tenant: &std::sync::Arc<Tenant>,
    request: &HttpRequest,
    rounds: usize,
    between: &mut dyn FnMut(),
) -> RequestCost {
    let mut durations = Vec::with_capacity(rounds);
    let mut answered = Vec::with_capacity(rounds);
    let mut pages_written = 0;
    let mut instructions = 0;
    let mut charged_by_calls = 0;
    for _ in 0..rounds {
        between();
        let mut host = MemoryHost::new(request.clone());
        let started = Instant::now();
        let mut fork = tenant.fork();
        let ran = fork.run_hook(Hook::Recv, &mut host);
        pages_written = fork.pages_written();
        charged_by_calls = fork.charged_by_calls();
        instructions = fork.instructions() - charged_by_calls;
        answered.push(started.elapsed());
        drop(fork);
        durations.push(started.elapsed());
        assert_eq!(ran, Ok(true), "{}'s on_recv runs", tenant.name());
    }
    RequestCost {
        median: median(durations),
        answered: Some(median(answered)),
        instructions,
        charged_by_calls,
        pages_written,
    }
}

/// Median of the seed's whole exchange: on_recv, the forge callback in a backend fork, the
/// JSON body.
fn measure_exchange(
    tenant: &std::sync::Arc<Tenant>,
    request: &HttpRequest,
    rounds: usize,
) -> RequestCost {
    measure_exchange_after(tenant, request, rounds, &mut || {})
}

/// [`measure_exchange`] with `between` run, untimed, before each round.
fn measure_exchange_after(
    tenant: &std::sync::Arc<Tenant>,
    request: &HttpRequest,
    rounds: usize,
    between: &mut dyn FnMut(),
) -> RequestCost {
    let mut durations = Vec::with_capacity(rounds);
    let mut stats = None;
    for _ in 0..rounds {
        between();
        let started = Instant::now();
        let outcome = exchange(tenant, request.clone(), &mut EchoOrigin, || 0);
        durations.push(started.elapsed());
        assert!(outcome.result.is_ok(), "{} answers", tenant.name());
        stats = Some(outcome.stats);
    }
    let stats = stats.expect("at least one round");
    RequestCost {
        median: median(durations),
        answered: None,
        instructions: stats.instructions - stats.charged_by_calls,
        charged_by_calls: stats.charged_by_calls,
        pages_written: stats.pages_written,
    }
}

/// The request every per-request path is measured with.
fn seed_request() -> HttpRequest {
    HttpRequest {
        method: "GET".into(),
        url: "/old/index.html".into(),
        headers: vec![("Host".into(), "hello".into())],
        body: Vec::new(),
    }
}

/// The per-request path of the example tenants (built by scripts/build-tenants.sh): fork +
/// on_recv + teardown of the seed C++ tenant and of a small C one (and the time to answer,
/// before the teardown), and the seed's whole exchange, each with the host-side libc levers
/// off and on (speed-up against all off), and exchanges per second on one core.
fn measure_tenant_requests(rounds: usize, exchange_time: Duration) {
    let request = seed_request();
    println!(
        "{:<34} {:<24} {:>9} {:>9} {:>7} {:>13} {:>11} {:>6}",
        "per request (median)",
        "levers",
        "ns",
        "to answer",
        "speedup",
        "executed",
        "call price",
        "pages"
    );
    type Measure = fn(&std::sync::Arc<Tenant>, &HttpRequest, usize) -> RequestCost;
    let paths: [(&str, &str, Measure); 3] = [
        (
            "hello: fork + on_recv + teardown",
            "hello",
            measure_fork_and_recv,
        ),
        (
            "rewrite: fork + on_recv + teardown",
            "rewrite",
            measure_fork_and_recv,
        ),
        ("hello: whole exchange", "hello", measure_exchange),
    ];
    for (what, name, measure) in paths {
        let mut baseline = None;
        for levers in LEVERS {
            let tenant = load_built_tenant(name, levers);
            let cost = measure(&tenant, &request, rounds);
            print_cost(what, levers, &cost, baseline.as_ref().unwrap_or(&cost));
            baseline.get_or_insert(cost);
        }
    }
    let tenant = load_built_tenant("hello", LEVERS[LEVERS.len() - 1]);
    measure_cold_fork_and_recv(&tenant, &request, (rounds / 10).max(1));
    println!(
        "hello: a fork owns {} bytes of machine state besides the pages it writes; template of {} pages",
        std::mem::size_of::<Fork>() + std::mem::size_of::<rvedge::Machine>(),
        tenant.template_pages()
    );

    // Ten times the rounds: a mean over a short stretch of two threads swings by 20%.
    let alone = forks_per_thread(&tenant, &request, 1, 10 * rounds);
    let together = forks_per_thread(&tenant, &request, 2, 10 * rounds);
    println!(
        "hello: fork + on_recv + teardown by 2 threads on one tenant: {} ns per request per thread ({} ns alone, {:.2}x)",
        together.as_nanos(),
        alone.as_nanos(),
        together.as_secs_f64() / alone.as_secs_f64()
    );

    let started = Instant::now();
    let mut exchanges = 0u64;
    while started.elapsed() < exchange_time {
        let outcome = exchange(&tenant, request.clone(), &mut EchoOrigin, || 0);
        assert!(outcome.result.is_ok());
        exchanges += 1;
    }
    println!(
        "hello: {:.0} exchanges/s on one core",
        exchanges as f64 / started.elapsed().as_secs_f64()
    );
}

/// Bytes written between requests by [`measure_cold_fork_and_recv`]: half the last-level
/// cache of this machine's CPU (a Zen 3 core complex has 32 MiB).
const COLD_SWEEP_BYTES: usize = 16 << 20;

/// fork + on_recv + teardown of `tenant` with the caches swept before each request, as a
/// proxy's own work between one client's requests sweeps them (with the hello tenant,
/// varnishd's CPU per request rises 2.3 times as much at wrk -c1 as at -c16): what a request
/// costs when its code and data come from memory, the figure a smaller footprint improves.
fn measure_cold_fork_and_recv(
    tenant: &std::sync::Arc<Tenant>,
    request: &HttpRequest,
    rounds: usize,
) {
    // Warm again, next to the cold rounds, so the ratio compares neighbours in time.
    let warm = measure_fork_and_recv(tenant, request, rounds);
    let cold = measure_fork_and_recv_after(tenant, request, rounds, &mut cache_sweeper());
    let answered = |cost: &RequestCost| cost.answered.unwrap_or_default().as_nanos();
    println!(
        "hello: fork + on_recv + teardown with {} MiB written between requests: {} ns, {} before the teardown ({} ns, {} warm; {:.1}x)",
        COLD_SWEEP_BYTES >> 20,
        cold.median.as_nanos(),
        answered(&cold),
        warm.median.as_nanos(),
        answered(&warm),
        cold.median.as_secs_f64() / warm.median.as_secs_f64()
    );
}

/// What sweeps the caches when called: it writes a new value into every cache line of
/// [`COLD_SWEEP_BYTES`].
fn cache_sweeper() -> impl FnMut() {
    let mut sweep = vec![0u8; COLD_SWEEP_BYTES];
    let mut pass = 0u8;
    move || {
        pass = pass.wrapping_add(1);
        sweep_caches(&mut sweep, pass);
    }
}

/// Writes `pass` into every cache line of `sweep`. A function of its own, so a cache
/// simulator's per-function counts tell the sweep's misses from the request's.
#[inline(never)]
fn sweep_caches(sweep: &mut [u8], pass: u8) {
    for line in sweep.chunks_mut(64) {
        line[0] = pass;
    }
    std::hint::black_box(sweep);
}

/// Mean time per request of `threads` threads each forking `tenant` and running on_recv
/// `rounds` times at once, as a proxy's worker threads serve one tenant: whatever the forks
/// of one tenant write in common (reference counts, say) moves between the cores' caches.
fn forks_per_thread(
    tenant: &std::sync::Arc<Tenant>,
    request: &HttpRequest,
    threads: usize,
    rounds: usize,
) -> Duration {
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                for _ in 0..rounds {
                    let mut host = MemoryHost::new(request.clone());
                    let ran = tenant.fork().run_hook(Hook::Recv, &mut host);
                    assert_eq!(ran, Ok(true), "hello's on_recv runs");
                }
            });
        }
    });
    started.elapsed() / u32::try_from(rounds).unwrap_or(u32::MAX)
}

/// Median time of: a machine from a snapshot, a vmcall of a small guest function that writes a
/// global and the heap, and dropping the machine. The snapshot is of tests/guests/embed/vmcall
/// paused in its "wait here" host call, as a tenant template will be.
fn measure_fork_and_call(rounds: usize) {
    let path = guests_dir().join("embed/vmcall");
    let elf = std::fs::read(&path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    let mut template = Machine::from_elf(&elf, &Options::default(), Box::new(Isolated::default()))
        .expect("vmcall loads");
    let mut function = 0;
    let stop = template.run_with_host_calls(10_000_000, &mut |machine, number| {
        if number == 500 {
            function = machine.register(rvedge::registers::A0);
            return None;
        }
        Some(Stop::HostCall(number))
    });
    assert_eq!(stop, Stop::HostCall(501), "vmcall guest reaches its wait");
    let snapshot = template.snapshot();
    let mut no_host_calls = |_: &mut Machine, number: u64| Some(Stop::HostCall(number));
    let mut durations = Vec::with_capacity(rounds);
    let mut owned_pages = 0;
    for _ in 0..rounds {
        let started = Instant::now();
        let mut fork = Machine::from_snapshot(&snapshot, Box::new(Isolated::default()));
        let result = fork.call(function, &[1, 2], 100_000, &mut no_host_calls);
        owned_pages = fork.memory().owned_pages();
        drop(fork);
        durations.push(started.elapsed());
        assert_eq!(result, Ok(104), "every fork starts from the snapshot");
    }
    println!(
        "fork + vmcall + teardown: median {} ns over {rounds} rounds, {owned_pages} pages written per fork, snapshot of {} pages",
        median(durations).as_nanos(),
        snapshot.memory().frozen_pages()
    );
}

/// Wall time of one request to `tenant` that must end as a timeout: the median of a few.
fn time_to_timeout(tenant: &std::sync::Arc<Tenant>, request: &HttpRequest) -> (Duration, u64) {
    let mut durations = Vec::new();
    let mut instructions = 0;
    for _ in 0..3 {
        let started = Instant::now();
        let outcome = exchange(tenant, request.clone(), &mut EchoOrigin, || 0);
        durations.push(started.elapsed());
        let kind = outcome.result.as_ref().err().map(|error| error.kind);
        assert_eq!(
            kind,
            Some(ErrorKind::Timeout),
            "{} ends as a timeout",
            request.url
        );
        instructions = outcome.stats.instructions;
    }
    (median(durations), instructions)
}

/// Host work is charged (docs/abi.md, "What calls cost"): a tenant looping on an expensive
/// tenant call runs out of its budget in about the time an ordinary tenant with the same budget
/// does. tests/guests/tenant/attack.c spins (`/spin/<n>`) or loops on one call (`/loop/...`);
/// the ratio is attack time over spin time.
fn measure_host_call_attacks(budget: u64) {
    let path = guests_dir().join("tenant/attack");
    let elf = std::fs::read(&path).unwrap_or_else(|error| {
        panic!(
            "cannot read {} ({error}); build it with scripts/build-guests.sh",
            path.display()
        )
    });
    let limits = Limits {
        max_instructions: budget,
        random: RandomSource::Fixed,
        ..Limits::default()
    };
    let tenant = Tenant::load("attack", &elf, limits, None).expect("the attack tenant loads");
    let request = |url: String| HttpRequest {
        method: "POST".into(),
        url,
        headers: vec![("x-big".into(), "h".repeat(1 << 20))],
        body: vec![b'b'; 1 << 20],
    };
    let (ordinary, _) = time_to_timeout(&tenant, &request(format!("/spin/{budget}")));
    println!(
        "host calls: an ordinary tenant spins through {budget} instructions in {:.1} ms",
        ordinary.as_secs_f64() * 1e3
    );
    println!(
        "{:<14} {:>9} {:>10} {:>16} {:>12}",
        "call", "bytes", "ms", "instructions", "vs ordinary"
    );
    let mut worst: f64 = 0.0;
    for (call, bytes) in [
        ("sha256", 0),
        ("sha256", 64),
        ("sha256", 1 << 20),
        ("hmac", 1 << 20),
        ("json_validate", 1 << 20),
        ("json_query", 1 << 20),
        ("xml_validate", 1 << 20),
        ("xml_query", 1 << 20),
        ("respond", 1 << 20),
        ("header_get", 1 << 20),
        ("header_at", 16),
        ("body_get", 1 << 20),
        ("log", 64),
        ("header_append", 16),
        ("hash_add", 64),
    ] {
        let url = format!("/loop/{call}/{bytes}/0");
        let (elapsed, instructions) = time_to_timeout(&tenant, &request(url));
        let ratio = elapsed.as_secs_f64() / ordinary.as_secs_f64();
        worst = worst.max(ratio);
        println!(
            "{call:<14} {bytes:>9} {:>10.1} {instructions:>16} {ratio:>12.2}",
            elapsed.as_secs_f64() * 1e3
        );
    }
    println!("host calls: the most expensive attack takes {worst:.2}x the ordinary tenant's time");
    // Not calls: loads and stores that each miss the TLB, so each looks its page up among the
    // fork's own (`/touch/<pages>`) or the template's (`/read/<pages>`); misaligned ones; code
    // decoded apart from the program's, where a jump lands inside an instruction; counter
    // reads, which end their blocks; the host heap's list of large free blocks, filled by freeing one block again and again and
    // searched by allocations of another size; memory calls on a long list of regions.
    for (url, what) in [
        (
            "/touch/64",
            "memory: a byte of each of 64 pages (its own) in turn",
        ),
        (
            "/touch/1024",
            "memory: a byte of each of 1024 pages (its own) in turn",
        ),
        (
            "/touch/3072",
            "memory: a byte of each of 3072 pages (its own) in turn",
        ),
        (
            "/read/1024",
            "memory: a byte of each of 1024 pages (the template's) in turn",
        ),
        (
            "/misaligned",
            "memory: misaligned loads and stores in one page",
        ),
        ("/midjump", "code: jumps into the middle of an instruction"),
        ("/counters", "code: reads of the cycle and instret counters"),
        (
            "/refree/100000",
            "host heap: a large block freed 100000 times, then large allocations",
        ),
        (
            "/regions/4096/0",
            "regions: 4096 one-page mappings, then mprotect of one",
        ),
    ] {
        let (elapsed, instructions) = time_to_timeout(&tenant, &request(url.into()));
        println!(
            "{what} to the budget: {:.1} ms ({instructions} instructions), {:.2}x the ordinary tenant's time",
            elapsed.as_secs_f64() * 1e3,
            elapsed.as_secs_f64() / ordinary.as_secs_f64()
        );
    }
}

struct Measurement {
    instructions: u64,
    elapsed: Duration,
    stdout: Vec<u8>,
}

fn run_rvedge(elf: &[u8], guest_arguments: &[String]) -> Measurement {
    let output = CapturedOutput::default();
    let options = Options {
        arguments: guest_arguments.to_vec(),
        ..Options::default()
    };
    let mut machine =
        Machine::from_elf(elf, &options, Box::new(output.clone())).expect("cpubench loads");
    let started = Instant::now();
    let stop = machine.run(u64::MAX);
    let elapsed = started.elapsed();
    assert_eq!(stop, Stop::Exited(0), "cpubench under rvedge");
    let stdout = output.stdout();
    Measurement {
        instructions: machine.instructions(),
        elapsed,
        stdout,
    }
}

fn run_qemu(guest: &Path, guest_arguments: &[String]) -> Option<(Duration, Vec<u8>)> {
    let started = Instant::now();
    let output = Command::new("qemu-riscv64")
        .arg(guest)
        .args(&guest_arguments[1..])
        .output()
        .ok()?;
    let elapsed = started.elapsed();
    output.status.success().then_some((elapsed, output.stdout))
}

fn mips(instructions: u64, elapsed: Duration) -> f64 {
    instructions as f64 / elapsed.as_secs_f64() / 1e6
}

/// The builds of cpubench by scripts/build-guests.sh, the reference first.
const FLAVOURS: [(&str, &str); 4] = [
    ("rv64gc (glibc)", "bench/cpubench"),
    ("rv64gc_zba_zbb_zbs (glibc)", "zb/bench/cpubench"),
    (
        "rv64gc+zba,zbb,zbc,zbs (picolibc)",
        "rv64-freestanding/bench/cpubench",
    ),
    ("rv32gc+zba,zbb,zbc (picolibc)", "rv32/bench/cpubench"),
];

/// Each build of cpubench on rvedge, group by group in turn so that load on the machine
/// falls on all of them alike: guest instructions (fewer is what Zb* is for) and MIPS, each
/// against rv64gc's in the same run.
fn measure_flavours(groups: &[String], scale: f64) {
    let programs: Vec<(&str, Vec<u8>)> = FLAVOURS
        .iter()
        .filter_map(|(name, path)| {
            let path = guests_dir().join(path);
            match std::fs::read(&path) {
                Ok(elf) => Some((*name, elf)),
                Err(error) => {
                    println!(
                        "{name}: not measured, cannot read {} ({error})",
                        path.display()
                    );
                    None
                }
            }
        })
        .collect();
    println!();
    println!(
        "{:<36} {:<6} {:>14} {:>10} {:>10} {:>10}",
        "cpubench build", "group", "instructions", "vs rv64gc", "MIPS", "vs rv64gc"
    );
    for group in groups.iter().filter(|group| !group.is_empty()) {
        let guest_arguments = vec!["cpubench".to_string(), group.clone(), scale.to_string()];
        let mut reference: Option<(u64, f64)> = None;
        for (name, elf) in &programs {
            let run = run_rvedge(elf, &guest_arguments);
            let our_mips = mips(run.instructions, run.elapsed);
            let (base_instructions, base_mips) =
                *reference.get_or_insert((run.instructions, our_mips));
            println!(
                "{name:<36} {group:<6} {:>14} {:>10.3} {our_mips:>10.1} {:>10.2}",
                run.instructions,
                run.instructions as f64 / base_instructions as f64,
                our_mips / base_mips
            );
        }
    }
}

fn main() {
    let arguments = Arguments::parse();
    if let Some(path) = arguments.cold_only.or(arguments.warm_only) {
        let tenant = load_built_tenant(&arguments.tenant, LEVERS[LEVERS.len() - 1]);
        let request = seed_request();
        let rounds = arguments.rounds.unwrap_or(100);
        let mut sweeper: Box<dyn FnMut()> = match arguments.cold_only {
            Some(_) => Box::new(cache_sweeper()),
            None => Box::new(|| {}),
        };
        match path {
            ColdPath::Recv => measure_fork_and_recv_after(&tenant, &request, rounds, &mut sweeper),
            ColdPath::Exchange => measure_exchange_after(&tenant, &request, rounds, &mut sweeper),
        };
        return;
    }
    let guest = arguments
        .guest
        .clone()
        .unwrap_or_else(|| guests_dir().join("bench/cpubench"));
    let elf = std::fs::read(&guest).unwrap_or_else(|error| {
        panic!(
            "cannot read {} ({error}); build it with scripts/build-guests.sh",
            guest.display()
        )
    });
    let scale = if arguments.quick {
        0.05
    } else {
        arguments.scale
    };

    let dispatch = if rvedge::interp::THREADED_DISPATCH {
        "threaded dispatch"
    } else {
        "match-loop dispatch"
    };
    println!(
        "rvedge-bench: {} at scale {scale}, {dispatch}",
        guest.display()
    );
    println!(
        "{:<6} {:>14} {:>10} {:>10} {:>10} {:>10} {:>12}",
        "group", "instructions", "rvedge s", "MIPS", "qemu s", "qemu MIPS", "rvedge/qemu"
    );
    for group in arguments.groups.iter().filter(|group| !group.is_empty()) {
        let guest_arguments = vec!["cpubench".to_string(), group.clone(), scale.to_string()];
        let ours = run_rvedge(&elf, &guest_arguments);
        let our_mips = mips(ours.instructions, ours.elapsed);
        let (qemu_elapsed, qemu_stdout) = run_qemu(&guest, &guest_arguments)
            .expect("qemu-riscv64 runs cpubench (scripts/bootstrap.sh installs it)");
        assert_eq!(
            String::from_utf8_lossy(&ours.stdout),
            String::from_utf8_lossy(&qemu_stdout),
            "checksums of group {group} differ between rvedge and qemu-riscv64"
        );
        // qemu executes the same guest instructions; only its time is its own.
        let qemu_mips = mips(ours.instructions, qemu_elapsed);
        println!(
            "{group:<6} {:>14} {:>10.3} {our_mips:>10.1} {:>10.3} {qemu_mips:>10.1} {:>12.2}",
            ours.instructions,
            ours.elapsed.as_secs_f64(),
            qemu_elapsed.as_secs_f64(),
            our_mips / qemu_mips
        );
    }
    println!("checksums: rvedge output equals qemu-riscv64's for every group measured");
    if !arguments.no_flavours && arguments.guest.is_none() {
        measure_flavours(&arguments.groups, scale);
    }
    let rounds = arguments
        .rounds
        .unwrap_or(if arguments.quick { 1_000 } else { 20_000 });
    measure_fork_and_call(rounds);
    measure_tenant_requests(rounds, Duration::from_secs_f64(arguments.exchange_seconds));
    if !arguments.no_attacks {
        measure_host_call_attacks(if arguments.quick {
            10_000_000
        } else {
            100_000_000
        });
    }
}

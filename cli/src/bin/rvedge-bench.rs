//! `rvedge-bench`: guest MIPS of the rvedge interpreter against qemu-riscv64's JIT on the same
//! CPU-bound guest (tests/guests/bench/cpubench.c), measured in one run; the same guest built
//! for the other flavours (RV64 with Zb*, RV32 with Zb*: instruction counts and MIPS against
//! rv64gc); and the cost of making a machine from a snapshot and calling a guest function in
//! it, and the per-request path of a tenant. Prints figures; it asserts nothing about speed,
//! only that both emulators produce the same checksums and that requests succeed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use clap::Parser;
use rvedge::runtime::abi::Hook;
use rvedge::runtime::{exchange, EchoOrigin, Fork, HttpRequest, Limits, MemoryHost, Tenant};
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
    /// Skip the other builds of cpubench (Zb*, RV32).
    #[arg(long)]
    no_flavours: bool,
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"),
        PathBuf::from,
    )
}

fn guests_dir() -> PathBuf {
    target_dir().join("guests")
}

fn median(mut durations: Vec<Duration>) -> Duration {
    durations.sort();
    durations[durations.len() / 2]
}

fn load_built_tenant(name: &str) -> std::sync::Arc<Tenant> {
    let path = target_dir().join("tenants").join(name);
    let elf = std::fs::read(&path).unwrap_or_else(|error| {
        panic!(
            "cannot read {} ({error}); build it with scripts/build-tenants.sh",
            path.display()
        )
    });
    Tenant::load(name, &elf, Limits::default(), None).expect("example tenant loads")
}

/// Median of fork + on_recv + teardown of the built example tenant `name`.
fn measure_fork_and_recv(name: &str, request: &HttpRequest, rounds: usize) {
    let tenant = load_built_tenant(name);
    let mut durations = Vec::with_capacity(rounds);
    let mut pages_written = 0;
    let mut instructions = 0;
    for _ in 0..rounds {
        let mut host = MemoryHost::new(request.clone());
        let started = Instant::now();
        let mut fork = tenant.fork();
        let ran = fork.run_hook(Hook::Recv, &mut host);
        pages_written = fork.pages_written();
        instructions = fork.instructions();
        drop(fork);
        durations.push(started.elapsed());
        assert_eq!(ran, Ok(true), "{name}'s on_recv runs");
    }
    println!(
        "{name}: fork + on_recv + teardown: median {} ns over {rounds} rounds ({instructions} instructions, {pages_written} pages written, template of {} pages)",
        median(durations).as_nanos(),
        tenant.template_pages()
    );
    println!(
        "{name}: a fork owns {} bytes of machine state + {} KiB of written pages",
        std::mem::size_of::<Fork>(),
        pages_written * 4
    );
}

/// The per-request path of the example tenants (built by scripts/build-tenants.sh): fork +
/// on_recv + teardown of the seed C++ tenant and of a small C one, the seed's whole exchange
/// with its forge round trip, and exchanges per second on one core.
fn measure_tenant_requests(rounds: usize) {
    let request = HttpRequest {
        method: "GET".into(),
        url: "/old/index.html".into(),
        headers: vec![("Host".into(), "hello".into())],
        body: Vec::new(),
    };
    measure_fork_and_recv("hello", &request, rounds);
    measure_fork_and_recv("rewrite", &request, rounds);
    let tenant = load_built_tenant("hello");

    let mut durations = Vec::with_capacity(rounds);
    let mut stats = None;
    for _ in 0..rounds {
        let started = Instant::now();
        let outcome = exchange(&tenant, request.clone(), &mut EchoOrigin, || 0);
        durations.push(started.elapsed());
        assert!(outcome.result.is_ok(), "hello answers");
        stats = Some(outcome.stats);
    }
    let stats = stats.expect("at least one round");
    println!(
        "hello: whole exchange (on_recv, forge callback in a backend fork, JSON body): median {} ns ({} instructions, {} pages written)",
        median(durations).as_nanos(),
        stats.instructions,
        stats.pages_written
    );

    let started = Instant::now();
    let mut exchanges = 0u64;
    while started.elapsed() < Duration::from_millis(500) {
        let outcome = exchange(&tenant, request.clone(), &mut EchoOrigin, || 0);
        assert!(outcome.result.is_ok());
        exchanges += 1;
    }
    println!(
        "hello: {:.0} exchanges/s on one core",
        exchanges as f64 / started.elapsed().as_secs_f64()
    );
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

    println!("rvedge-bench: {} at scale {scale}", guest.display());
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
    let rounds = if arguments.quick { 1_000 } else { 20_000 };
    measure_fork_and_call(rounds);
    measure_tenant_requests(rounds);
}

//! Host-side libc: glibc's string functions and allocator run as host code over guest memory.
//!
//! At load, [`find_host_functions`] looks the functions up in the program's symbol table; the
//! program puts an `Op::HostFunction` entry over the first decoded instruction of each (the
//! guest's bytes stay as they are, and a stripped program runs its own code). Calling that
//! entry runs [`call`]: the host does the function's work, charges the budget by the bytes it
//! touched, puts the result in `a0` and returns to `ra`.
//!
//! The string functions give the same results as glibc's, and the same faults: before doing
//! anything they check every page the guest code would touch, and where the guest would fault
//! (or could, for overlapping `memcpy`) they let the guest's own code run from its first
//! instruction, so the fault is the guest's own, at its own pc and address. Pages they write
//! are made writable in the order the guest writes them, as its stores would.
//!
//! The allocator ([`heap`]) replaces glibc's malloc family all together, or not at all.

pub mod heap;
mod string;

use alloc::vec::Vec;

use crate::elf::{self, FunctionSymbol};
use crate::machine::{Cpu, Stop};
use crate::mem::Memory;
use crate::program::Program;
use crate::registers::A0;
use heap::HostHeap;

/// The libc functions the host can run. The number of each is its `imm` in the program's
/// `Op::HostFunction` entries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum HostFunction {
    Memcpy,
    Memmove,
    Memset,
    Memcmp,
    Memchr,
    Strlen,
    Strcmp,
    Strncmp,
    Strchr,
    Malloc,
    Free,
    Calloc,
    Realloc,
    Memalign,
    PosixMemalign,
    MallocUsableSize,
    Valloc,
    Pvalloc,
}

impl HostFunction {
    const ALL: [HostFunction; 18] = [
        HostFunction::Memcpy,
        HostFunction::Memmove,
        HostFunction::Memset,
        HostFunction::Memcmp,
        HostFunction::Memchr,
        HostFunction::Strlen,
        HostFunction::Strcmp,
        HostFunction::Strncmp,
        HostFunction::Strchr,
        HostFunction::Malloc,
        HostFunction::Free,
        HostFunction::Calloc,
        HostFunction::Realloc,
        HostFunction::Memalign,
        HostFunction::PosixMemalign,
        HostFunction::MallocUsableSize,
        HostFunction::Valloc,
        HostFunction::Pvalloc,
    ];

    pub fn from_number(number: u8) -> Option<HostFunction> {
        HostFunction::ALL.get(usize::from(number)).copied()
    }

    pub fn number(self) -> u8 {
        self as u8
    }

    /// The C name.
    pub fn name(self) -> &'static str {
        match self {
            HostFunction::Memcpy => "memcpy",
            HostFunction::Memmove => "memmove",
            HostFunction::Memset => "memset",
            HostFunction::Memcmp => "memcmp",
            HostFunction::Memchr => "memchr",
            HostFunction::Strlen => "strlen",
            HostFunction::Strcmp => "strcmp",
            HostFunction::Strncmp => "strncmp",
            HostFunction::Strchr => "strchr",
            HostFunction::Malloc => "malloc",
            HostFunction::Free => "free",
            HostFunction::Calloc => "calloc",
            HostFunction::Realloc => "realloc",
            HostFunction::Memalign => "memalign",
            HostFunction::PosixMemalign => "posix_memalign",
            HostFunction::MallocUsableSize => "malloc_usable_size",
            HostFunction::Valloc => "valloc",
            HostFunction::Pvalloc => "pvalloc",
        }
    }

    /// Whether this is part of the allocator, which is replaced all together or not at all.
    pub fn is_allocator(self) -> bool {
        self >= HostFunction::Malloc
    }
}

/// glibc's names of each string function. Aliases share the function's address (`bcmp`,
/// `__memcmpeq` and `memcmp` are one function in glibc).
const STRING_FUNCTION_NAMES: &[(&str, HostFunction)] = &[
    ("memcpy", HostFunction::Memcpy),
    ("memmove", HostFunction::Memmove),
    ("memset", HostFunction::Memset),
    ("memcmp", HostFunction::Memcmp),
    ("bcmp", HostFunction::Memcmp),
    ("__memcmpeq", HostFunction::Memcmp),
    ("memchr", HostFunction::Memchr),
    ("__memchr", HostFunction::Memchr),
    ("strlen", HostFunction::Strlen),
    ("strcmp", HostFunction::Strcmp),
    ("strncmp", HostFunction::Strncmp),
    ("strchr", HostFunction::Strchr),
    ("index", HostFunction::Strchr),
];

/// glibc's allocator entry points: its internal name (always present when glibc's malloc is
/// linked in) and the public names that must be aliases of it. A program that defines one of
/// the public names itself has its own allocator, and keeps it.
const ALLOCATOR_NAMES: &[(&str, &[&str], HostFunction)] = &[
    ("__libc_malloc", &["malloc"], HostFunction::Malloc),
    ("__libc_free", &["free", "cfree"], HostFunction::Free),
    ("__libc_calloc", &["calloc"], HostFunction::Calloc),
    ("__libc_realloc", &["realloc"], HostFunction::Realloc),
    (
        "__libc_memalign",
        &["memalign", "aligned_alloc"],
        HostFunction::Memalign,
    ),
    (
        "__posix_memalign",
        &["posix_memalign"],
        HostFunction::PosixMemalign,
    ),
    (
        "__malloc_usable_size",
        &["malloc_usable_size"],
        HostFunction::MallocUsableSize,
    ),
    ("__libc_valloc", &["valloc"], HostFunction::Valloc),
    ("__libc_pvalloc", &["pvalloc"], HostFunction::Pvalloc),
];

/// Only programs linked with glibc have its functions; a freestanding program's `memcpy` may
/// be anything.
const GLIBC_MARKER: &str = "__libc_start_main";

/// Which host functions a program is loaded with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostFunctionOptions {
    /// memcpy, memmove, memset, memcmp, memchr, strlen, strcmp, strncmp, strchr.
    pub string_functions: bool,
    /// glibc's allocator served by the host's [`heap`], so forks write few pages.
    pub heap: bool,
}

impl Default for HostFunctionOptions {
    /// String functions on (they are exact), the host heap off (it changes where blocks are,
    /// and what `malloc_usable_size` says); tenants turn it on.
    fn default() -> Self {
        HostFunctionOptions {
            string_functions: true,
            heap: false,
        }
    }
}

/// The host functions a program uses, found in its symbol table at load.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostFunctions {
    /// Entry address and function, sorted by address.
    pub entries: Vec<(u64, HostFunction)>,
    /// Set when the allocator is replaced: the offset of glibc's `errno` in the TLS block,
    /// which a failing allocation sets to ENOMEM.
    pub heap_errno_offset: Option<u64>,
}

impl HostFunctions {
    /// The function whose entry is `address`, if any.
    pub fn at(&self, address: u64) -> Option<HostFunction> {
        let index = self
            .entries
            .binary_search_by_key(&address, |(entry, _)| *entry)
            .ok()?;
        Some(self.entries[index].1)
    }
}

/// Finds the host functions of the ELF file `bytes` (already accepted by the loader). A
/// program without a symbol table, or not linked with glibc, gets none; an address two
/// different functions claim is left alone.
pub fn find_host_functions(bytes: &[u8], options: HostFunctionOptions) -> HostFunctions {
    let mut found = HostFunctions::default();
    let (Ok(Some(symbols)), Ok(Some(every_function))) = (
        elf::function_symbols(bytes),
        elf::all_function_symbols(bytes),
    ) else {
        return found;
    };
    if external_address(&symbols, GLIBC_MARKER).is_none() {
        return found;
    }
    let mut entries: Vec<(u64, HostFunction)> = Vec::new();
    if options.string_functions {
        for (name, function) in STRING_FUNCTION_NAMES {
            if let Some(address) = external_address(&symbols, name) {
                entries.push((address, *function));
            }
        }
    }
    if options.heap {
        let errno_offset = elf::thread_local_symbols(bytes)
            .ok()
            .flatten()
            .and_then(|locals| {
                locals
                    .iter()
                    .find(|symbol| symbol.name == "errno")
                    .map(|symbol| symbol.address)
            });
        let allocator = allocator_entries(&symbols, &every_function);
        if let (Some(errno_offset), Some(allocator)) = (errno_offset, allocator) {
            entries.extend(allocator);
            found.heap_errno_offset = Some(errno_offset);
        }
    }
    entries.sort();
    entries.dedup();
    // An address claimed by two functions is someone's own code: leave it alone (and with
    // it the allocator, which must be all or nothing).
    let mut conflicting = Vec::new();
    for pair in entries.windows(2) {
        if pair[0].0 == pair[1].0 {
            conflicting.push(pair[0].0);
        }
    }
    if entries
        .iter()
        .any(|(address, function)| function.is_allocator() && conflicting.contains(address))
    {
        entries.retain(|(_, function)| !function.is_allocator());
        found.heap_errno_offset = None;
    }
    entries.retain(|(address, _)| !conflicting.contains(address));
    found.entries = entries;
    found
}

/// The address of the global or weak function `name` (a global definition wins).
fn external_address(symbols: &[FunctionSymbol<'_>], name: &str) -> Option<u64> {
    let mut weak = None;
    for symbol in symbols.iter().filter(|symbol| symbol.name == name) {
        if !symbol.weak {
            return Some(symbol.address);
        }
        weak = Some(symbol.address);
    }
    weak
}

/// glibc's allocator entries, if all of them are there and every function of a public name
/// (glibc's `malloc` itself is a local symbol) is an alias of glibc's own.
fn allocator_entries(
    symbols: &[FunctionSymbol<'_>],
    every_function: &[FunctionSymbol<'_>],
) -> Option<Vec<(u64, HostFunction)>> {
    let mut entries = Vec::new();
    for (internal, public_names, function) in ALLOCATOR_NAMES {
        let address = external_address(symbols, internal)?;
        for public in *public_names {
            let aliases_it = every_function
                .iter()
                .filter(|symbol| symbol.name == *public)
                .all(|symbol| symbol.address == address);
            if !aliases_it {
                return None;
            }
        }
        entries.push((address, *function));
    }
    Some(entries)
}

/// Why a host function did not return a value.
pub(crate) enum Failure {
    /// Run the guest's own code from the function's entry instead.
    RunGuestCode,
    /// The machine stops (budget, or a fault the guest's code would have had).
    Stop(Stop),
    /// The allocator found its heap corrupted: glibc prints this and aborts
    /// ([`ABORT_SIGNAL`]).
    Abort(&'static str),
}

/// The signal a guest whose allocator aborts dies of: SIGABRT.
pub(crate) const ABORT_SIGNAL: u32 = 6;

type CallResult = Result<u64, Failure>;

/// The instructions a host function may still charge, and what it has charged so far.
struct Meter {
    available: u64,
    used: u64,
    /// What running out means: string functions let the guest's code run instead (it then
    /// stops exactly where the budget ends); the allocator cannot, and stops.
    exhausted: fn() -> Failure,
}

/// Bytes read or written per instruction charged: about what glibc's word loops do.
const BYTES_PER_INSTRUCTION: u64 = 8;

impl Meter {
    fn spend(&mut self, instructions: u64) -> Result<(), Failure> {
        if self.used.saturating_add(instructions) > self.available {
            return Err((self.exhausted)());
        }
        self.used += instructions;
        Ok(())
    }

    fn spend_bytes(&mut self, bytes: u64) -> Result<(), Failure> {
        self.spend(bytes.div_ceil(BYTES_PER_INSTRUCTION))
    }
}

/// Runs host function `number` for the guest at `pc` (its entry), charging at most
/// `available` instructions: its result goes to a0, and it gives what it charged. It needs
/// only the machine's registers, memory and host heap, so the threaded dispatch runs it
/// without leaving its chain of handlers; `Machine::host_function` runs it with the whole
/// machine.
pub(crate) fn run(
    cpu: &mut Cpu,
    memory: &mut Memory,
    heap: Option<&mut HostHeap>,
    number: u8,
    pc: u64,
    available: u64,
) -> Result<u64, Failure> {
    let Some(function) = HostFunction::from_number(number) else {
        return Err(Failure::RunGuestCode);
    };
    let mut meter = Meter {
        available,
        used: 0,
        exhausted: if function.is_allocator() {
            || Failure::Stop(Stop::BudgetExhausted)
        } else {
            || Failure::RunGuestCode
        },
    };
    let arguments: [u64; 4] = core::array::from_fn(|index| cpu.x[A0 + index]);
    cpu.x[A0] = if function.is_allocator() {
        heap::call(heap, memory, cpu, function, arguments, &mut meter, pc)?
    } else {
        string::call(memory, function, arguments, &mut meter)?
    };
    Ok(meter.used)
}

/// The number of the host function whose entry is at `pc`, for stepping.
pub(crate) fn host_function_at(program: &Program, pc: u64) -> Option<u8> {
    program.host_functions.at(pc).map(HostFunction::number)
}

/// Whether all of `[addr, addr + len)` can be read, as the guest's loads would find it. A
/// byte of each page is loaded, as the guest's loads would, so its pages are in the read TLB
/// for the copy that follows and for the next call's fast path.
fn readable(memory: &mut Memory, addr: u64, len: u64) -> bool {
    page_probes(addr, len)
        .is_some_and(|mut probes| probes.all(|probe| memory.load::<u8>(probe).is_ok()))
}

/// Makes every page of `[addr, addr + len)` writable by this machine in the order the guest
/// writes them first (from the end when `backward`), as its first stores would: a frozen page
/// is copied, a fresh one created, the owned-page cap applies. False where the guest's store
/// would fault; pages before that one are then made writable, as the guest's would be.
fn prepare_write(memory: &mut Memory, addr: u64, len: u64, backward: bool) -> bool {
    let Some(mut probes) = page_probes(addr, len) else {
        return false;
    };
    let make_writable = |probe: u64| {
        // Storing the byte that is there changes nothing but the page's ownership.
        memory
            .load::<u8>(probe)
            .is_ok_and(|byte| memory.store::<u8>(probe, byte).is_ok())
    };
    if backward {
        probes.rev().all(make_writable)
    } else {
        probes.all(make_writable)
    }
}

/// The first byte of `[addr, addr + len)` in each page it touches, in address order; `None`
/// if the range wraps.
fn page_probes(addr: u64, len: u64) -> Option<impl DoubleEndedIterator<Item = u64>> {
    use crate::mem::{page_round_down, PAGE_SIZE};
    let pages = match len {
        0 => 0,
        _ => {
            let last_byte = addr.checked_add(len - 1)?;
            (page_round_down(last_byte) - page_round_down(addr)) / PAGE_SIZE + 1
        }
    };
    let first_page = page_round_down(addr);
    Some((0..pages).map(move |page| (first_page + page * PAGE_SIZE).max(addr)))
}

/// Host functions' `int` results: sign-extended to 64 bits, as RV64 keeps them in registers.
fn int_result(value: i32) -> u64 {
    value as i64 as u64
}

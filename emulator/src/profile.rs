//! Where a run's guest instructions and written pages go, per function of the program's
//! symbol table: for tenant authors (`rvedge request --profile`, `rvedge run --profile`) and
//! for us.
//!
//! A profiling machine ([`Machine::start_profile`]) runs a separate instance of the
//! interpreter loop that, at each block entry, adds the block's instructions to a counter per
//! entry of the program's code, and gives the pages the machine came to own since the last
//! block entry to that block (so pages the host writes for a tenant call count for the block
//! that made the call). Host functions add what they charge to their entry. The report sums
//! entries per function; a stripped program's entries are named by address.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use crate::decode::Op;
use crate::machine::Machine;
use crate::mem::Memory;
use crate::native::HostFunction;

/// Counters of one profiling machine, per entry of its program's code.
#[derive(Debug)]
pub struct Profile {
    instructions: Vec<u64>,
    pages: Vec<u64>,
    /// The entry of the last block run, which pages written since are charged to.
    last_index: Option<usize>,
    last_owned_pages: usize,
    /// Pages written before the first block ran (by the host).
    pages_before_code: u64,
}

/// One function's share of a profile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunctionCost {
    /// The symbol's name; `0x…` (the block's address) where the program has no symbols.
    pub name: String,
    /// The function's start (or the block's, without symbols).
    pub address: u64,
    /// Guest instructions, including what host functions charged.
    pub instructions: u64,
    /// Pages the machine first wrote while this function ran (or the host wrote for its
    /// calls).
    pub pages: u64,
    /// Whether the host ran it ([`crate::native`]).
    pub host: bool,
}

/// Costs per function, most instructions first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProfileReport {
    pub functions: Vec<FunctionCost>,
}

impl ProfileReport {
    pub fn instructions(&self) -> u64 {
        self.functions
            .iter()
            .map(|function| function.instructions)
            .sum()
    }

    pub fn pages(&self) -> u64 {
        self.functions.iter().map(|function| function.pages).sum()
    }

    /// Adds `other`'s costs (another fork of the same program) to these.
    pub fn merge(&mut self, other: &ProfileReport) {
        for cost in &other.functions {
            match self
                .functions
                .iter_mut()
                .find(|mine| mine.name == cost.name && mine.address == cost.address)
            {
                Some(mine) => {
                    mine.instructions += cost.instructions;
                    mine.pages += cost.pages;
                }
                None => self.functions.push(cost.clone()),
            }
        }
        self.sort();
    }

    fn sort(&mut self) {
        self.functions.sort_by(|a, b| {
            (b.instructions, b.pages, &a.name).cmp(&(a.instructions, a.pages, &b.name))
        });
    }
}

impl Machine {
    /// Starts counting instructions and written pages per function (from now on; counts
    /// made before are dropped). Profiling runs slower; an unprofiled machine pays nothing.
    pub fn start_profile(&mut self) {
        let entries = self.program.code.len();
        self.profile = Some(Box::new(Profile {
            instructions: vec![0; entries],
            pages: vec![0; entries],
            last_index: None,
            last_owned_pages: self.memory.owned_pages(),
            pages_before_code: 0,
        }));
    }

    /// What the profile counted so far, per function; `None` if the machine does not profile.
    pub fn profile_report(&mut self) -> Option<ProfileReport> {
        settle_pages(&mut self.profile, &self.memory);
        let profile = self.profile.as_deref()?;
        let program = &self.program;
        let mut by_function: BTreeMap<(u64, String, bool), (u64, u64)> = BTreeMap::new();
        let counted = profile.instructions.iter().zip(&profile.pages).enumerate();
        for (index, (&instructions, &pages)) in counted {
            if instructions == 0 && pages == 0 {
                continue;
            }
            let insn = program.code[index];
            let pc = program.code_start + u64::from(insn.offset);
            let host_function = (insn.op == Op::HostFunction)
                .then(|| {
                    u8::try_from(insn.imm)
                        .ok()
                        .and_then(HostFunction::from_number)
                })
                .flatten();
            let key = match (host_function, program.function_at(pc)) {
                (Some(function), _) => (pc, String::from(function.name()), true),
                (None, Some((start, name))) => (start, String::from(name), false),
                (None, None) => (pc, format!("{pc:#x}"), false),
            };
            let totals = by_function.entry(key).or_default();
            totals.0 += instructions;
            totals.1 += pages;
        }
        if profile.pages_before_code > 0 {
            let key = (0, String::from("(host, before the guest ran)"), true);
            by_function.entry(key).or_default().1 += profile.pages_before_code;
        }
        let mut report = ProfileReport {
            functions: by_function
                .into_iter()
                .map(
                    |((address, name, host), (instructions, pages))| FunctionCost {
                        name,
                        address,
                        instructions,
                        pages,
                        host,
                    },
                )
                .collect(),
        };
        report.sort();
        Some(report)
    }
}

/// Gives pages owned since the last block entry to the block that ran last.
fn settle_pages(profile: &mut Option<Box<Profile>>, memory: &Memory) {
    let Some(profile) = profile.as_deref_mut() else {
        return;
    };
    let owned = memory.owned_pages();
    let written = owned.saturating_sub(profile.last_owned_pages) as u64;
    match profile.last_index {
        Some(index) => profile.pages[index] += written,
        None => profile.pages_before_code += written,
    }
    profile.last_owned_pages = owned;
}

/// The profiling loop's hook at each block entry: `block` instructions were charged at
/// `index`. Takes the machine's fields, as the loop has its program borrowed.
#[inline]
pub(crate) fn enter_block(
    profile: &mut Option<Box<Profile>>,
    memory: &Memory,
    index: usize,
    block: u64,
) {
    settle_pages(profile, memory);
    if let Some(profile) = profile.as_deref_mut() {
        profile.instructions[index] += block;
        profile.last_index = Some(index);
    }
}

/// What the host charged for the instruction at `pc` beyond the instruction itself: a host
/// function's work (at its entry), a system call's or a counter read's price (`Machine::pay`).
/// Unprofiled machines look nothing up.
pub(crate) fn charge_host_work(machine: &mut Machine, pc: u64, instructions: u64) {
    let Some(profile) = machine.profile.as_deref_mut() else {
        return;
    };
    if let Some(index) = machine.program.index_of(pc) {
        profile.instructions[index] += instructions;
    }
}

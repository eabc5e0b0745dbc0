//! The host heap: glibc's malloc family (`malloc`, `free`, `calloc`, `realloc`, `memalign`,
//! `aligned_alloc`, `posix_memalign`, `valloc`, `pvalloc`, `malloc_usable_size`) served by
//! the host over guest memory, replacing glibc's allocator from the program's first
//! instruction, all entry points together.
//!
//! Blocks live in an arena at the bottom of the mmap area, growing up (mmap places mappings
//! from the top down). Each block has a 16-byte header in guest memory just below it (its size
//! and a check word), so a block costs no host memory; free blocks are kept in per-size free
//! lists linked through their first word, with the list heads on the host.
//!
//! Why forks write few pages: a snapshot freezes the arena. Blocks allocated before it are
//! the template's: a fork reads them but never writes, reuses or frees them (`free` of one is
//! a no-op; `realloc` copies it). A fork's blocks come from fresh pages above the template's
//! high-water mark, and the allocator's own state is host memory, so a request that allocates
//! writes the pages of its blocks and nothing else.
//!
//! Misuse the host can see (a pointer that is not a block, a double free, a corrupted free
//! list) ends the guest as glibc does: a message on stderr and SIGABRT.

#![expect(
    clippy::cast_possible_truncation,
    reason = "class indices and copy sizes are bounded by the class table and by buffers of a few hundred bytes; errno values are small"
)]

use alloc::collections::BTreeSet;

use super::{CallResult, Failure, HostFunction, Meter};
use crate::machine::{Cpu, Stop, Trap, TrapKind};
use crate::mem::{page_round_up, Memory, MemoryFault, Perms, PAGE_SIZE};
use crate::syscall::layout::RV64;
use crate::syscall::numbers::{EINVAL, ENOMEM};

/// Start of the arena (host functions serve RV64 programs only).
pub const HEAP_BASE: u64 = RV64.mmap_bottom;
/// The arena stays in the lower half of the mmap area; mmap fills it from the top.
const HEAP_LIMIT: u64 = HEAP_BASE + (1 << 36);
/// Block addresses and sizes are multiples of this (glibc's MALLOC_ALIGNMENT on RV64).
const ALIGNMENT: u64 = 16;
const HEADER_SIZE: u64 = 16;
/// The arena is mapped in steps of this.
const GROWTH: u64 = 64 << 10;
/// Mapped arena a snapshot leaves above its high-water mark, so forks start allocating
/// without changing their mappings.
const SNAPSHOT_SLACK: u64 = 64 << 10;
/// Sizes up to this are classes of 16 bytes each.
const FINE_CLASSES_UP_TO: u64 = 1024;
/// Sizes up to this have free lists on the host's list heads; larger free blocks are listed
/// in `large_free`.
const SMALL_UP_TO: u64 = 64 << 10;
/// Above 1 KiB, each doubling of size has this many classes.
const CLASSES_PER_DOUBLING: u64 = 4;
const SMALL_CLASSES: usize = (FINE_CLASSES_UP_TO / ALIGNMENT) as usize
    + (CLASSES_PER_DOUBLING * (SMALL_UP_TO / FINE_CLASSES_UP_TO).ilog2() as u64) as usize;
/// Largest request: beyond it the size computations could overflow, and no limit allows it.
const MAX_REQUEST: u64 = 1 << 46;
/// Marks a block's header as free.
const FREE_BIT: u64 = 1;
/// Mixed into each header's check word, so a stray pointer rarely passes for a block.
const HEADER_KEY: u64 = 0x5a17_c0de_9e37_79b9;
/// What one allocator call is charged besides the bytes it copies or clears: about glibc's
/// fast path.
const CALL_COST: u64 = 8;

const TP: usize = 4;

/// The allocator state of one machine; a fork starts from its template's, frozen.
#[derive(Clone, Debug)]
pub(crate) struct HostHeap {
    /// Offset of glibc's `errno` in the TLS block: failures set it to ENOMEM.
    errno_offset: u64,
    /// Blocks below this were allocated before the machine's last snapshot and are shared
    /// with every machine made from it: never written, reused or freed here.
    frozen_end: u64,
    /// The arena's first unused byte.
    top: u64,
    /// The arena below this has been handed out at some time (calloc clears what it reuses);
    /// above it, it reads as mapped: zero.
    used_end: u64,
    /// End of the arena's mapping.
    mapped_end: u64,
    /// Free lists of the small classes, as [`FreeHead`]s; each free block's first word is the
    /// next block's address (0 ends).
    free_heads: [FreeHead; SMALL_CLASSES],
    /// Free blocks larger than [`SMALL_UP_TO`], as (size, address): ordered by size, so
    /// finding one of a size is a search, not a scan; a set, so a block freed again is listed
    /// once. The guest can write its headers, so it can free a block over and over, or forge
    /// blocks anywhere in the arena: each once added an entry to a list every allocation of
    /// another large size scanned (host time without end for a few instructions each).
    large_free: BTreeSet<(u64, u64)>,
}

/// Most large free blocks a heap lists: past this, a freed large block stays unused. A
/// fork's memory limit holds a few hundred real ones (64 MiB of 64 KiB blocks is 1,024), so
/// only forged ones get here; the cap bounds the host memory the list takes.
const MAX_LARGE_FREE: usize = 4096;

/// A free list's first block, as its distance from [`HEAP_BASE`] in units of [`ALIGNMENT`]:
/// every block lies above the arena's first header and below [`HEAP_LIMIT`] (`header` accepts
/// no other), so 0 is no block and the distance fits 32 bits. Half an address, so a fork's
/// empty lists are half as many bytes to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FreeHead(u32);

impl FreeHead {
    const NONE: FreeHead = FreeHead(0);

    /// The head for `block` (0: none), a block of the arena.
    #[expect(
        clippy::cast_possible_truncation,
        reason = "the arena spans (HEAP_LIMIT - HEAP_BASE) / ALIGNMENT = 2^32 units"
    )]
    fn of(block: u64) -> FreeHead {
        if block == 0 {
            return FreeHead::NONE;
        }
        debug_assert!((HEAP_BASE + HEADER_SIZE..HEAP_LIMIT).contains(&block));
        FreeHead(((block - HEAP_BASE) / ALIGNMENT) as u32)
    }

    /// The block's address (0: none).
    fn block(self) -> u64 {
        match self.0 {
            0 => 0,
            units => HEAP_BASE + u64::from(units) * ALIGNMENT,
        }
    }
}

/// Why an allocation gave no block.
enum AllocationError {
    /// The arena cannot grow (memory limit, or the address range is taken): NULL + ENOMEM.
    OutOfMemory,
    /// Writing the block's header faulted (the fork's cap on written pages).
    Fault(MemoryFault),
    /// The heap's own structures are not what the host left: abort as glibc does.
    Corrupted(&'static str),
}

impl HostHeap {
    pub(crate) fn new(errno_offset: u64) -> HostHeap {
        HostHeap {
            errno_offset,
            frozen_end: HEAP_BASE,
            top: HEAP_BASE,
            used_end: HEAP_BASE,
            mapped_end: HEAP_BASE,
            free_heads: [FreeHead::NONE; SMALL_CLASSES],
            large_free: BTreeSet::new(),
        }
    }

    /// Freezes every block allocated so far, for a snapshot of `memory`: machines made from it
    /// allocate above the page holding the last of them. Free blocks below are not reused
    /// (writing them would copy template pages).
    pub(crate) fn freeze(&mut self, memory: &mut Memory) {
        let frozen = page_round_up(self.used_end).unwrap_or(self.used_end);
        self.frozen_end = frozen;
        self.top = frozen;
        self.used_end = frozen;
        self.free_heads = [FreeHead::NONE; SMALL_CLASSES];
        self.large_free.clear();
        if self.mapped_end > HEAP_BASE {
            // Best effort: without the slack, forks map more arena when they first allocate.
            let _ = self.grow(memory, frozen + SNAPSHOT_SLACK);
        }
    }

    /// A copy of this frozen heap for a machine made from its snapshot. Its free lists are
    /// empty (`freeze`), so the copy writes them instead of reading them: 6 cache lines a
    /// fork does not read.
    pub(crate) fn thawed(&self) -> HostHeap {
        debug_assert!(
            self.free_heads.iter().all(|&head| head == FreeHead::NONE)
                && self.large_free.is_empty()
        );
        HostHeap {
            free_heads: [FreeHead::NONE; SMALL_CLASSES],
            large_free: BTreeSet::new(),
            ..*self
        }
    }

    /// Maps more arena so it reaches at least `end`.
    fn grow(&mut self, memory: &mut Memory, end: u64) -> Result<(), AllocationError> {
        if end <= self.mapped_end {
            return Ok(());
        }
        let new_end = end
            .checked_next_multiple_of(GROWTH)
            .filter(|new_end| *new_end <= HEAP_LIMIT)
            .ok_or(AllocationError::OutOfMemory)?;
        // Never map over something the guest mapped there itself.
        if !memory.is_free(self.mapped_end, new_end) {
            return Err(AllocationError::OutOfMemory);
        }
        memory
            .map(
                self.mapped_end,
                new_end - self.mapped_end,
                Perms::READ_WRITE,
            )
            .map_err(|_| AllocationError::OutOfMemory)?;
        self.mapped_end = new_end;
        Ok(())
    }

    /// The header of the block at `block`, if it is one this heap made and the arena still
    /// holds it: its size and whether it is free.
    fn header(&self, memory: &mut Memory, block: u64) -> Option<(u64, bool)> {
        let in_arena = block.is_multiple_of(ALIGNMENT) && block >= HEAP_BASE + HEADER_SIZE;
        if !in_arena || block >= self.top.max(self.frozen_end) {
            return None;
        }
        let word = memory.load::<u64>(block - HEADER_SIZE).ok()?;
        let check = memory.load::<u64>(block - 8).ok()?;
        let size = word & !FREE_BIT;
        let valid = check == block ^ size ^ HEADER_KEY
            && size.is_multiple_of(ALIGNMENT)
            && size != 0
            && block
                .checked_add(size)
                .is_some_and(|end| end <= self.mapped_end);
        valid.then_some((size, word & FREE_BIT != 0))
    }

    fn write_header(
        memory: &mut Memory,
        block: u64,
        size: u64,
        free: bool,
    ) -> Result<(), MemoryFault> {
        let word = size | if free { FREE_BIT } else { 0 };
        memory.store::<u64>(block - HEADER_SIZE, word)?;
        memory.store::<u64>(block - 8, block ^ size ^ HEADER_KEY)
    }

    /// A block of at least `request` bytes aligned to `alignment` (a power of two): its
    /// address, and where in it memory is known to be zero from.
    fn allocate(
        &mut self,
        memory: &mut Memory,
        request: u64,
        alignment: u64,
    ) -> Result<(u64, u64), AllocationError> {
        let size = block_size(request).ok_or(AllocationError::OutOfMemory)?;
        if alignment <= ALIGNMENT {
            if let Some(block) = self.take_free(memory, size)? {
                return Ok((block, block + size));
            }
        }
        let block = (self.top + HEADER_SIZE)
            .checked_next_multiple_of(alignment.max(ALIGNMENT))
            .ok_or(AllocationError::OutOfMemory)?;
        let end = block
            .checked_add(size)
            .ok_or(AllocationError::OutOfMemory)?;
        self.grow(memory, end)?;
        Self::write_header(memory, block, size, false).map_err(AllocationError::Fault)?;
        let zero_from = self.used_end.clamp(block, end);
        self.top = end;
        self.used_end = self.used_end.max(end);
        Ok((block, zero_from))
    }

    /// A free block of exactly `size` bytes, taken off its list and marked in use.
    fn take_free(
        &mut self,
        memory: &mut Memory,
        size: u64,
    ) -> Result<Option<u64>, AllocationError> {
        let corrupted = AllocationError::Corrupted("malloc(): corrupted free list");
        let Some(class) = small_class(size) else {
            let Some(&(_, block)) = self.large_free.range((size, 0)..=(size, u64::MAX)).next()
            else {
                return Ok(None);
            };
            self.large_free.remove(&(size, block));
            Self::write_header(memory, block, size, false).map_err(AllocationError::Fault)?;
            return Ok(Some(block));
        };
        let block = self.free_heads[class].block();
        if block == 0 {
            return Ok(None);
        }
        if self.header(memory, block) != Some((size, true)) {
            return Err(corrupted);
        }
        let next = memory.load::<u64>(block).map_err(|_| corrupted_list())?;
        let next_is_free_block = next == 0 || self.header(memory, next) == Some((size, true));
        if !next_is_free_block || (next != 0 && next < self.frozen_end) {
            return Err(corrupted);
        }
        self.free_heads[class] = FreeHead::of(next);
        Self::write_header(memory, block, size, false).map_err(AllocationError::Fault)?;
        Ok(Some(block))
    }

    /// Frees `block`, which `header` says is a block in use of `size` bytes, made since the
    /// last snapshot.
    fn release(&mut self, memory: &mut Memory, block: u64, size: u64) -> Result<(), Failure> {
        if block + size == self.top {
            // The last block: the arena shrinks back, nothing is written.
            self.top = block - HEADER_SIZE;
            return Ok(());
        }
        let fault = |fault: MemoryFault| Failure::Stop(store_trap(fault));
        Self::write_header(memory, block, size, true).map_err(fault)?;
        match small_class(size) {
            Some(class) => {
                memory
                    .store::<u64>(block, self.free_heads[class].block())
                    .map_err(fault)?;
                self.free_heads[class] = FreeHead::of(block);
            }
            None => {
                if self.large_free.len() < MAX_LARGE_FREE {
                    self.large_free.insert((size, block));
                }
            }
        }
        Ok(())
    }
}

/// The block size serving a request of `request` bytes: its class's size.
fn block_size(request: u64) -> Option<u64> {
    if request > MAX_REQUEST {
        return None;
    }
    let size = request.max(1).next_multiple_of(ALIGNMENT);
    if size <= FINE_CLASSES_UP_TO {
        return Some(size);
    }
    // Four classes per doubling: round up to a quarter of the power of two below.
    let step = (1u64 << (size - 1).ilog2()) / CLASSES_PER_DOUBLING;
    Some(size.next_multiple_of(step))
}

/// The free list of a block size from [`block_size`], for sizes up to [`SMALL_UP_TO`].
fn small_class(size: u64) -> Option<usize> {
    if size <= FINE_CLASSES_UP_TO {
        return Some((size / ALIGNMENT - 1) as usize);
    }
    if size > SMALL_UP_TO {
        return None;
    }
    let doubling = (size - 1).ilog2() as u64; // 10 for (1 KiB, 2 KiB]
    let step = (1u64 << doubling) / CLASSES_PER_DOUBLING;
    let within = (size - (1u64 << doubling)) / step - 1;
    let index = FINE_CLASSES_UP_TO / ALIGNMENT
        + (doubling - FINE_CLASSES_UP_TO.ilog2() as u64) * CLASSES_PER_DOUBLING
        + within;
    Some(index as usize)
}

fn corrupted_list() -> AllocationError {
    AllocationError::Corrupted("malloc(): corrupted free list")
}

fn store_trap(fault: MemoryFault) -> Stop {
    // The pc is filled in by the interpreter: the function's entry.
    Stop::Trap(Trap {
        pc: 0,
        kind: TrapKind::Store { addr: fault.addr },
    })
}

/// Runs allocator `function` for the guest at `pc`.
pub(super) fn call(
    heap: Option<&mut HostHeap>,
    memory: &mut Memory,
    cpu: &Cpu,
    function: HostFunction,
    [a0, a1, a2, _]: [u64; 4],
    meter: &mut Meter,
    pc: u64,
) -> CallResult {
    meter.spend(CALL_COST)?;
    let Some(heap) = heap else {
        return Err(Failure::RunGuestCode);
    };
    let mut call = Call {
        heap,
        memory,
        meter,
    };
    let result = match function {
        HostFunction::Malloc => call.malloc(a0, ALIGNMENT),
        HostFunction::Free => call.free(a0).map(|()| 0),
        HostFunction::Calloc => call.calloc(a0, a1),
        HostFunction::Realloc => call.realloc(a0, a1),
        HostFunction::Memalign => call.memalign(a0, a1),
        HostFunction::Valloc => call.memalign(PAGE_SIZE, a0),
        HostFunction::Pvalloc => match page_round_up(a0) {
            Some(size) => call.memalign(PAGE_SIZE, size),
            None => Err(Outcome::OutOfMemory),
        },
        HostFunction::PosixMemalign => call.posix_memalign(a0, a1, a2),
        HostFunction::MallocUsableSize => Ok(call.usable_size(a0)),
        _ => return Err(Failure::RunGuestCode),
    };
    let errno_address = cpu.x[TP].wrapping_add(call.heap.errno_offset);
    match result {
        Ok(value) => Ok(value),
        Err(Outcome::OutOfMemory) => {
            // malloc's NULL comes with errno = ENOMEM, as glibc sets it.
            let _ = memory.store::<u32>(errno_address, ENOMEM as u32);
            Ok(0)
        }
        Err(Outcome::InvalidArgument) => {
            let _ = memory.store::<u32>(errno_address, EINVAL as u32);
            Ok(0)
        }
        Err(Outcome::Failure(Failure::Stop(Stop::Trap(trap)))) => {
            Err(Failure::Stop(Stop::Trap(Trap { pc, ..trap })))
        }
        Err(Outcome::Failure(failure)) => Err(failure),
        Err(Outcome::Abort(message)) => Err(Failure::Abort(message)),
    }
}

/// How a call ended other than with a value.
enum Outcome {
    /// Return NULL with errno = ENOMEM.
    OutOfMemory,
    /// Return NULL with errno = EINVAL.
    InvalidArgument,
    Failure(Failure),
    /// glibc's malloc_printerr: print the message and abort.
    Abort(&'static str),
}

impl From<Failure> for Outcome {
    fn from(failure: Failure) -> Self {
        Outcome::Failure(failure)
    }
}

impl From<AllocationError> for Outcome {
    fn from(error: AllocationError) -> Self {
        match error {
            AllocationError::OutOfMemory => Outcome::OutOfMemory,
            AllocationError::Fault(fault) => Outcome::Failure(Failure::Stop(store_trap(fault))),
            AllocationError::Corrupted(message) => Outcome::Abort(message),
        }
    }
}

/// One allocator call: the heap, the memory it manages, the budget.
struct Call<'a> {
    heap: &'a mut HostHeap,
    memory: &'a mut Memory,
    meter: &'a mut Meter,
}

impl Call<'_> {
    fn malloc(&mut self, request: u64, alignment: u64) -> Result<u64, Outcome> {
        let (block, _) = self.heap.allocate(self.memory, request, alignment)?;
        Ok(block)
    }

    /// The header of `block` as the guest passed it, or glibc's abort for a pointer that is
    /// no block of this heap's.
    fn block_in_use(&mut self, block: u64, caller: &'static str) -> Result<u64, Outcome> {
        match self.heap.header(self.memory, block) {
            Some((size, false)) => Ok(size),
            Some((_, true)) if caller == "free" => {
                Err(Outcome::Abort("free(): double free detected in tcache 2"))
            }
            _ if caller == "free" => Err(Outcome::Abort("free(): invalid pointer")),
            _ => Err(Outcome::Abort("realloc(): invalid pointer")),
        }
    }

    fn free(&mut self, block: u64) -> Result<(), Outcome> {
        if block == 0 {
            return Ok(());
        }
        let size = self.block_in_use(block, "free")?;
        if block < self.heap.frozen_end {
            // The template's block: shared, so it stays.
            return Ok(());
        }
        self.heap.release(self.memory, block, size)?;
        Ok(())
    }

    fn calloc(&mut self, count: u64, size: u64) -> Result<u64, Outcome> {
        let bytes = count.checked_mul(size).ok_or(Outcome::OutOfMemory)?;
        let (block, zero_from) = self.heap.allocate(self.memory, bytes, ALIGNMENT)?;
        // Clearing is charged by the bytes cleared; fresh arena is zero already.
        let dirty = zero_from - block;
        self.meter.spend_bytes(dirty)?;
        let zeros = [0u8; 256];
        let mut done = 0;
        while done < dirty {
            let size = (dirty - done).min(zeros.len() as u64);
            self.memory
                .write_bytes(block + done, &zeros[..size as usize])
                .map_err(|fault| Failure::Stop(store_trap(fault)))?;
            done += size;
        }
        Ok(block)
    }

    fn realloc(&mut self, block: u64, request: u64) -> Result<u64, Outcome> {
        if block == 0 {
            return self.malloc(request, ALIGNMENT);
        }
        if request == 0 {
            // glibc frees and returns NULL.
            self.free(block)?;
            return Ok(0);
        }
        let old_size = self.block_in_use(block, "realloc")?;
        let new_size = block_size(request).ok_or(Outcome::OutOfMemory)?;
        if new_size <= old_size {
            return Ok(block);
        }
        let heap = &mut *self.heap;
        if block >= heap.frozen_end && block + old_size == heap.top {
            // The last block grows in place.
            let end = block + new_size;
            if heap.grow(self.memory, end).is_ok() {
                HostHeap::write_header(self.memory, block, new_size, false)
                    .map_err(|fault| Failure::Stop(store_trap(fault)))?;
                heap.top = end;
                heap.used_end = heap.used_end.max(end);
                return Ok(block);
            }
        }
        let (moved, _) = self.heap.allocate(self.memory, request, ALIGNMENT)?;
        self.meter.spend_bytes(2 * old_size)?;
        let mut buffer = [0u8; 256];
        let mut done = 0;
        while done < old_size {
            let size = (old_size - done).min(buffer.len() as u64) as usize;
            let chunk = &mut buffer[..size];
            let copied = self
                .memory
                .read_bytes(block + done, chunk)
                .and_then(|()| self.memory.write_bytes(moved + done, chunk));
            copied.map_err(|fault| Failure::Stop(store_trap(fault)))?;
            done += size as u64;
        }
        self.free(block)?;
        Ok(moved)
    }

    /// glibc's memalign: small alignments are malloc's; others are rounded up to a power of
    /// two; absurd ones fail with EINVAL.
    fn memalign(&mut self, alignment: u64, request: u64) -> Result<u64, Outcome> {
        if alignment <= ALIGNMENT {
            return self.malloc(request, ALIGNMENT);
        }
        if alignment > (1 << 63) {
            return Err(Outcome::InvalidArgument);
        }
        self.malloc(request, alignment.next_power_of_two())
    }

    fn posix_memalign(
        &mut self,
        result: u64,
        alignment: u64,
        request: u64,
    ) -> Result<u64, Outcome> {
        let word = core::mem::size_of::<u64>() as u64;
        if !alignment.is_multiple_of(word) || !(alignment / word).is_power_of_two() {
            return Ok(EINVAL as u64);
        }
        let block = match self.memalign(alignment, request) {
            Ok(block) => block,
            Err(Outcome::OutOfMemory | Outcome::InvalidArgument) => return Ok(ENOMEM as u64),
            Err(other) => return Err(other),
        };
        self.memory
            .store::<u64>(result, block)
            .map_err(|fault| Failure::Stop(store_trap(fault)))?;
        Ok(0)
    }

    fn usable_size(&mut self, block: u64) -> u64 {
        match self.heap.header(self.memory, block) {
            Some((size, false)) => size,
            _ => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_list_heads_hold_every_block_of_the_arena() {
        assert_eq!(FreeHead::of(0), FreeHead::NONE);
        assert_eq!(FreeHead::NONE.block(), 0);
        for block in [
            HEAP_BASE + HEADER_SIZE,
            HEAP_BASE + 0x1234_5670,
            HEAP_LIMIT - ALIGNMENT,
        ] {
            assert_ne!(FreeHead::of(block), FreeHead::NONE);
            assert_eq!(FreeHead::of(block).block(), block, "{block:#x}");
        }
    }

    #[test]
    fn sizes_round_to_classes_with_their_own_free_lists() {
        assert_eq!(block_size(0), Some(16));
        assert_eq!(block_size(17), Some(32));
        assert_eq!(block_size(1024), Some(1024));
        assert_eq!(block_size(1025), Some(1280));
        assert_eq!(block_size(2049), Some(2560));
        assert_eq!(block_size(MAX_REQUEST + 1), None);
        assert_eq!(small_class(16), Some(0));
        assert_eq!(small_class(1024), Some(63));
        assert_eq!(small_class(1280), Some(64));
        assert_eq!(small_class(2048), Some(67));
        assert_eq!(small_class(SMALL_UP_TO), Some(SMALL_CLASSES - 1));
        assert_eq!(small_class(SMALL_UP_TO + 16), None);
        // Every size up to the small limit maps to a class whose size serves it.
        let mut previous = 0;
        for request in (1..=SMALL_UP_TO).step_by(7) {
            let size = block_size(request).unwrap();
            let class = small_class(size).unwrap();
            assert!(size >= request && class >= previous && class < SMALL_CLASSES);
            previous = class;
        }
    }

    /// A guest can write its own heap's headers: a large block freed again and again once
    /// grew the host's list by an entry each time, and every allocation of another large size
    /// scanned the whole list.
    #[test]
    fn large_blocks_freed_again_or_forged_are_listed_once_and_boundedly() {
        let mut memory = Memory::new(1 << 30);
        let mut heap = HostHeap::new(0);
        let mut meter = Meter {
            available: u64::MAX,
            used: 0,
            exhausted: || Failure::Stop(Stop::BudgetExhausted),
        };
        let mut call = Call {
            heap: &mut heap,
            memory: &mut memory,
            meter: &mut meter,
        };
        let malloc = |call: &mut Call, request| match call.malloc(request, ALIGNMENT) {
            Ok(block) => block,
            Err(_) => panic!("malloc({request}) fails"),
        };
        let large = malloc(&mut call, 100_000);
        let big = malloc(&mut call, 400_000);
        // Keeps the blocks above from being the arena's last, which a free gives back instead.
        malloc(&mut call, 16);
        for _ in 0..100 {
            // The header back to "in use", as the guest may write it.
            let word = call.memory.load::<u64>(large - HEADER_SIZE).unwrap();
            call.memory
                .store::<u64>(large - HEADER_SIZE, word & !FREE_BIT)
                .unwrap();
            assert!(call.free(large).is_ok());
        }
        assert_eq!(call.heap.large_free.len(), 1);
        // Blocks forged inside `big`, more than the list takes.
        let forged_size = block_size(SMALL_UP_TO + 1).unwrap();
        for index in 1..=2 * MAX_LARGE_FREE as u64 {
            let forged = big + 32 * index;
            HostHeap::write_header(call.memory, forged, forged_size, false).unwrap();
            assert!(call.free(forged).is_ok());
        }
        assert_eq!(call.heap.large_free.len(), MAX_LARGE_FREE);
        // Taken by size: the first block listed of the size asked for.
        assert_eq!(malloc(&mut call, 100_000), large);
        assert_eq!(call.heap.large_free.len(), MAX_LARGE_FREE - 1);
        assert_eq!(malloc(&mut call, forged_size), big + 32);
    }
}

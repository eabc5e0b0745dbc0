//! Guest memory: mapped regions with permissions, 4 KiB pages materialised on first touch, and
//! copy-on-write sharing of a frozen snapshot's pages between machines.
//!
//! The hot path of every load and store is a direct-mapped software TLB: one tag compare, then
//! a host pointer into the page. Misses resolve the page (own pages, then the shared frozen
//! pages, then the zero page for mapped-but-untouched memory) and check permissions.
//!
//! Architecture invariant: a machine never writes a page it does not own. Frozen pages are
//! shared read-only; the first write to one copies it into the machine's own pages.

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;
use core::ops::Range;

use crate::handle::{self, Handles, Shared, ThreadCopy};

mod frozen;
mod owned;
use frozen::FrozenPages;
use owned::OwnedPages;

/// What the memory a machine (or its `Memory`) is written into held before.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Slot {
    /// Uninitialized memory: every byte is written.
    Fresh,
    /// A pooled slot whose machine was dropped in place, which leaves every byte initialized:
    /// bytes never read before they are written again (register padding, the host pointers
    /// of empty TLB entries) are left as they are.
    HeldMachine,
}

pub const PAGE_SHIFT: u32 = 12;
pub const PAGE_SIZE: u64 = 1 << PAGE_SHIFT;
const PAGE_BYTES: usize = 1 << PAGE_SHIFT;
const PAGE_OFFSET_MASK: u64 = PAGE_SIZE - 1;

/// A page of guest memory, aligned to a cache line so that copying one page into another
/// never puts the destination 1-63 bytes past the source modulo 4 KiB: glibc copies a page
/// with `rep movsb`, which AMD Zen 3 runs 25-50 times slower at those distances (1.4-2.6 us
/// instead of 50 ns per page, measured). Heap blocks of a page sit 16 bytes apart modulo
/// 4 KiB, so unaligned pages hit it at random; wasm's memory.copy reaches the same memmove.
#[derive(Clone, Copy, Debug)]
#[repr(C, align(64))]
struct Page([u8; PAGE_BYTES]);

impl core::ops::Deref for Page {
    type Target = [u8; PAGE_BYTES];
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl core::ops::DerefMut for Page {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

/// Mapped but never written memory reads as zero from this one shared page.
static ZERO_PAGE: Page = Page([0; PAGE_BYTES]);

pub fn page_round_down(addr: u64) -> u64 {
    addr & !PAGE_OFFSET_MASK
}

pub fn page_round_up(addr: u64) -> Option<u64> {
    Some(addr.checked_add(PAGE_OFFSET_MASK)? & !PAGE_OFFSET_MASK)
}

/// Access permissions of a mapped region.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Perms {
    pub read: bool,
    pub write: bool,
    pub execute: bool,
}

impl Perms {
    pub const NONE: Perms = Perms {
        read: false,
        write: false,
        execute: false,
    };
    pub const READ: Perms = Perms {
        read: true,
        write: false,
        execute: false,
    };
    pub const READ_WRITE: Perms = Perms {
        read: true,
        write: true,
        execute: false,
    };
    pub const READ_EXECUTE: Perms = Perms {
        read: true,
        write: false,
        execute: true,
    };
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

/// A guest access to memory that is unmapped or lacks the permission.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryFault {
    pub addr: u64,
    pub access: Access,
}

/// Why a mapping change was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapError {
    /// The mapping would take guest memory past the machine's limit.
    OutOfMemory,
    /// Address or length not page-aligned, or the range wraps.
    InvalidRange,
    /// `protect` over a range that is not entirely mapped.
    NotMapped,
}

impl fmt::Display for MapError {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        out.write_str(match self {
            MapError::OutOfMemory => "guest memory limit reached",
            MapError::InvalidRange => "address range is not page-aligned or wraps",
            MapError::NotMapped => "address range is not mapped",
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Region {
    start: u64,
    end: u64,
    perms: Perms,
}

/// What a snapshot's memories share read-only: its regions and its pages. One value, so
/// making a memory from a snapshot writes one count (its thread's handle, `crate::handle`),
/// not two.
#[derive(Debug, Default)]
struct Frozen {
    regions: Vec<Region>,
    pages: FrozenPages,
}

const TLB_ENTRIES: usize = 64;

/// A direct-mapped software TLB: the page number in each slot and where that page is on the
/// host. Two arrays rather than one of pairs, so a slot's index scales by 8 inside an x86-64
/// address and a hit's compare and page load need no index arithmetic of their own.
#[derive(Clone, Copy)]
struct Tlb {
    /// `NO_PAGE` in an empty slot.
    page_numbers: [u64; TLB_ENTRIES],
    host_pages: [*mut u8; TLB_ENTRIES],
}

/// Above every page number (addresses shifted right by `PAGE_SHIFT`); all bytes ones.
const NO_PAGE: u64 = u64::MAX;

impl Tlb {
    fn empty() -> Tlb {
        let mut tlb = core::mem::MaybeUninit::uninit();
        // SAFETY: `tlb` is valid for writes of a `Tlb`.
        unsafe {
            Tlb::write_empty(tlb.as_mut_ptr());
            tlb.assume_init()
        }
    }

    /// Empties the TLB at `tlb`, which holds one already: only the page numbers are written,
    /// since an entry's host pointer is read only when its number matches and is written with it.
    ///
    /// # Safety
    /// `tlb` must be valid for writes and hold an initialized `Tlb` (a dropped memory's bytes).
    #[inline(always)]
    unsafe fn write_no_pages(tlb: *mut Tlb) {
        // SAFETY: all-ones bytes are NO_PAGE; the pointers stay as they were.
        unsafe { core::ptr::write_bytes(&raw mut (*tlb).page_numbers, 0xff, 1) };
    }

    /// Writes a TLB that holds no page to `tlb`, byte by byte: as a constant, an empty TLB was
    /// copied from read-only data, 16 more cache lines read by every fork.
    ///
    /// # Safety
    /// `tlb` must be valid for writes of a `Tlb`. Afterwards it holds an initialized one.
    #[inline(always)]
    unsafe fn write_empty(tlb: *mut Tlb) {
        // SAFETY: every byte of both arrays is written: all-ones bytes are NO_PAGE, all-zero
        // bytes a null pointer.
        unsafe {
            core::ptr::write_bytes(&raw mut (*tlb).page_numbers, 0xff, 1);
            core::ptr::write_bytes(&raw mut (*tlb).host_pages, 0, 1);
        }
    }

    #[inline(always)]
    #[expect(
        clippy::cast_possible_truncation,
        reason = "a slot is the page number's low bits"
    )]
    fn slot(page_number: u64) -> usize {
        page_number as usize % TLB_ENTRIES
    }

    /// The host page of `page_number`, if this TLB holds it.
    #[inline(always)]
    fn page(&self, page_number: u64) -> Option<*mut u8> {
        let slot = Tlb::slot(page_number);
        (self.page_numbers[slot] == page_number).then_some(self.host_pages[slot])
    }

    fn insert(&mut self, page_number: u64, host_page: *mut u8) {
        let slot = Tlb::slot(page_number);
        self.page_numbers[slot] = page_number;
        self.host_pages[slot] = host_page;
    }

    /// Where this TLB maps the `size` bytes at `addr` (within one page) on the host, if it does.
    #[inline(always)]
    fn lookup(&self, addr: u64, size: usize) -> Option<*mut u8> {
        let offset = (addr & PAGE_OFFSET_MASK) as usize;
        let page = self.page(addr >> PAGE_SHIFT)?;
        // Compared with what is left of the page, not added to the offset: the host's memset
        // and memcpy ask with the guest's length, and one near 2^64 wrapped the sum back into
        // the page.
        // SAFETY: a TLB holds pointers to live pages of PAGE_BYTES bytes (see `Memory`), and
        // offset + size <= PAGE_BYTES keeps the pointer inside one.
        (size <= PAGE_BYTES - offset).then(|| unsafe { page.add(offset) })
    }

    /// The page numbers it holds.
    fn held(&self) -> impl Iterator<Item = u64> + '_ {
        self.page_numbers
            .iter()
            .copied()
            .filter(|&page_number| page_number != NO_PAGE)
    }
}

/// The memory of one machine.
pub struct Memory {
    frozen: Shared<Frozen>,
    /// The regions, once they differ from the frozen ones.
    own_regions: Option<Vec<Region>>,
    owned: OwnedPages,
    // Entries point into `owned`, `frozen` or ZERO_PAGE; the write TLB only at owned pages of
    // writable regions, the read TLB only at pages of readable ones (a write-only page is
    // read by the slow path every time), so a hit proves the permission (`tlbs_show_mapped`).
    // Every change of regions or ownership flushes or refills them.
    read_tlb: Tlb,
    write_tlb: Tlb,
    mapped_bytes: u64,
    limit_bytes: u64,
    peak_owned_pages: usize,
    /// Most pages this memory may own; a write that needs one more faults.
    owned_page_limit: usize,
    /// Set when a mapping or a page was refused for a limit, so an embedder can tell a guest
    /// that died of it from one that crashed on its own.
    limit_reached: bool,
}

/// Names every field of `Memory` without `..`: adding one fails to compile here, a reminder
/// that [`Memory::write_from_snapshot`] must write it too.
#[expect(dead_code, reason = "checked by the compiler, never called")]
fn every_memory_field_is_written(memory: &Memory) {
    let Memory {
        frozen: _,
        own_regions: _,
        owned: _,
        read_tlb: _,
        write_tlb: _,
        mapped_bytes: _,
        limit_bytes: _,
        peak_owned_pages: _,
        owned_page_limit: _,
        limit_reached: _,
    } = memory;
}

// SAFETY: the raw pointers in the TLBs point into pages that this `Memory` owns (boxes in
// `owned`), into `frozen` pages kept alive by its own handle and never written, or into the
// immutable static zero page. Moving the `Memory` to another thread moves all of them with it;
// nothing is shared mutably.
unsafe impl Send for Memory {}

impl fmt::Debug for Memory {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        out.debug_struct("Memory")
            .field("regions", &self.regions())
            .field("owned_pages", &self.owned.len())
            .field("frozen_pages", &self.frozen.pages.len())
            .field("mapped_bytes", &self.mapped_bytes)
            .field("limit_bytes", &self.limit_bytes)
            .finish()
    }
}

/// A value the guest can load or store: little-endian, 1 to 8 bytes.
pub trait Scalar: Copy {
    const SIZE: usize;
    /// Reads the value at `host`, with no local copy on the stack (whose address would
    /// escape in unoptimized code and keep the threaded dispatch from jumping on).
    ///
    /// # Safety
    /// `host` must point at `SIZE` readable bytes.
    unsafe fn read_le(host: *const u8) -> Self;
    /// Writes the value at `host`, as `read_le` reads it.
    ///
    /// # Safety
    /// `host` must point at `SIZE` writable bytes.
    unsafe fn store_le(self, host: *mut u8);
}

macro_rules! impl_scalar {
    ($($t:ty),*) => {$(
        impl Scalar for $t {
            const SIZE: usize = core::mem::size_of::<$t>();
            #[inline(always)]
            unsafe fn read_le(host: *const u8) -> Self {
                // SAFETY: the caller guarantees SIZE readable bytes; a byte array needs no
                // alignment.
                <$t>::from_le_bytes(unsafe { *host.cast::<[u8; core::mem::size_of::<$t>()]>() })
            }
            #[inline(always)]
            unsafe fn store_le(self, host: *mut u8) {
                // SAFETY: the caller guarantees SIZE writable bytes; a byte array needs no
                // alignment.
                unsafe { *host.cast::<[u8; core::mem::size_of::<$t>()]>() = self.to_le_bytes() }
            }
        }
    )*};
}
impl_scalar!(u8, u16, u32, u64);

impl Memory {
    /// Empty memory that may map at most `limit_bytes`.
    pub fn new(limit_bytes: u64) -> Memory {
        Memory {
            frozen: Shared::new(Frozen::default()),
            own_regions: None,
            owned: OwnedPages::new(),
            read_tlb: Tlb::empty(),
            write_tlb: Tlb::empty(),
            mapped_bytes: 0,
            limit_bytes,
            peak_owned_pages: 0,
            owned_page_limit: usize::MAX,
            limit_reached: false,
        }
    }

    /// Freezes this memory's pages into a shareable snapshot. Afterwards this memory owns no
    /// pages and reads the frozen ones copy-on-write, like every other machine made from it.
    pub fn freeze(&mut self) -> MemorySnapshot {
        if !self.owned.is_empty() || self.own_regions.is_some() {
            // The pages read last are likely read again by every fork: they stay in the read
            // TLB, now pointing at their frozen copies, and forks start with it warm.
            let recently_read: Vec<u64> = self.read_tlb.held().collect();
            let owned = self.owned.drain();
            let pages = (self.frozen.pages)
                .with(owned.map(|(page_number, page)| (page_number, Arc::new(*page))));
            let regions = self
                .own_regions
                .take()
                .unwrap_or_else(|| self.frozen.regions.clone());
            self.frozen = Shared::new(Frozen { regions, pages });
            self.flush_tlb();
            for page_number in recently_read {
                // Every one was readable a moment ago and the regions did not change.
                let _ = self.page_for_read(page_number << PAGE_SHIFT);
            }
        }
        MemorySnapshot {
            frozen: Handles::of(&self.frozen),
            read_tlb: self.read_tlb,
            mapped_bytes: self.mapped_bytes,
            limit_bytes: self.limit_bytes,
        }
    }

    /// New memory reading a snapshot's pages copy-on-write. Costs no page copies.
    pub fn from_snapshot(snapshot: &MemorySnapshot) -> Memory {
        let mut memory = core::mem::MaybeUninit::uninit();
        // SAFETY: `memory` is valid for writes of a `Memory`.
        unsafe {
            Memory::write_from_snapshot(
                memory.as_mut_ptr(),
                snapshot,
                handle::this_thread(),
                Slot::Fresh,
            );
            memory.assume_init()
        }
    }

    /// Writes memory made from `snapshot` (counting the snapshot's handle `copy`) to `memory`
    /// field by field, so a fork (`Machine::write_from_snapshot`) builds none of it on the
    /// stack first. Adding a field to `Memory` breaks the build in
    /// [`every_memory_field_is_written`] until it is written here too.
    ///
    /// # Safety
    /// `memory` must be valid for writes of a `Memory`; what it held is overwritten, not
    /// dropped. Afterwards it holds an initialized `Memory`.
    #[inline(always)]
    pub(crate) unsafe fn write_from_snapshot(
        memory: *mut Memory,
        snapshot: &MemorySnapshot,
        copy: ThreadCopy,
        slot: Slot,
    ) {
        // SAFETY: the caller gives a pointer valid for writes; each field is written through
        // a raw field pointer (no reference to uninitialized memory), once.
        unsafe {
            (&raw mut (*memory).frozen).write(snapshot.frozen.get(copy));
            (&raw mut (*memory).own_regions).write(None);
            (&raw mut (*memory).owned).write(OwnedPages::new());
            (&raw mut (*memory).read_tlb).write(snapshot.read_tlb);
            match slot {
                Slot::Fresh => Tlb::write_empty(&raw mut (*memory).write_tlb),
                Slot::HeldMachine => Tlb::write_no_pages(&raw mut (*memory).write_tlb),
            }
            (&raw mut (*memory).mapped_bytes).write(snapshot.mapped_bytes);
            (&raw mut (*memory).limit_bytes).write(snapshot.limit_bytes);
            (&raw mut (*memory).peak_owned_pages).write(0);
            (&raw mut (*memory).owned_page_limit).write(usize::MAX);
            (&raw mut (*memory).limit_reached).write(false);
        }
    }

    pub fn mapped_bytes(&self) -> u64 {
        self.mapped_bytes
    }

    /// How many regions the mappings make: what changing them looks through.
    pub fn region_count(&self) -> usize {
        self.regions().len()
    }

    pub fn limit_bytes(&self) -> u64 {
        self.limit_bytes
    }

    /// Pages this memory owns (written since it was created or last frozen).
    pub fn owned_pages(&self) -> usize {
        self.owned.len()
    }

    pub fn peak_owned_pages(&self) -> usize {
        self.peak_owned_pages
    }

    /// Caps the pages this memory may own (copied or fresh); a store that needs one more
    /// faults. Bounds what one fork of a snapshot may write.
    pub fn set_owned_page_limit(&mut self, n_pages: usize) {
        self.owned_page_limit = n_pages;
    }

    /// Whether a mapping past the memory limit or a page past the owned-page limit was refused.
    pub fn limit_reached(&self) -> bool {
        self.limit_reached
    }

    fn flush_tlb(&mut self) {
        self.read_tlb = Tlb::empty();
        self.write_tlb = Tlb::empty();
    }

    fn regions(&self) -> &[Region] {
        self.own_regions.as_deref().unwrap_or(&self.frozen.regions)
    }

    /// The regions to change: the frozen ones copied the first time.
    fn regions_mut(&mut self) -> &mut Vec<Region> {
        self.own_regions
            .get_or_insert_with(|| self.frozen.regions.clone())
    }

    fn region_containing(&self, addr: u64) -> Option<&Region> {
        let regions = self.regions();
        let index = regions.partition_point(|region| region.end <= addr);
        regions.get(index).filter(|region| region.start <= addr)
    }

    /// Whether `[start, end)` is entirely mapped with at least `perms`.
    pub fn is_mapped(&self, start: u64, end: u64, perms: Perms) -> bool {
        if self.tlbs_show_mapped(start, end, perms) {
            return true;
        }
        let mut cursor = start;
        while cursor < end {
            let Some(region) = self.region_containing(cursor) else {
                return false;
            };
            let p = region.perms;
            if (perms.read && !p.read) || (perms.write && !p.write) || (perms.execute && !p.execute)
            {
                return false;
            }
            cursor = region.end;
        }
        true
    }

    /// Whether the TLBs alone show `[start, end)` mapped with `perms`, without a search of
    /// the regions: the range lies in one page that the read TLB holds (for reading) and the
    /// write TLB holds (for writing). They hold only pages with those permissions and are
    /// flushed whenever regions change. Tenant calls check every pointer they are given, and
    /// nearly all point into pages the guest has just used.
    fn tlbs_show_mapped(&self, start: u64, end: u64, perms: Perms) -> bool {
        let page_number = start >> PAGE_SHIFT;
        if perms.execute || end <= start || (end - 1) >> PAGE_SHIFT != page_number {
            return false;
        }
        (!perms.read || self.read_tlb.page(page_number).is_some())
            && (!perms.write || self.write_tlb.page(page_number).is_some())
    }

    /// Whether no region overlaps `[start, end)`.
    pub fn is_free(&self, start: u64, end: u64) -> bool {
        self.mapped_within(start, end) == 0
    }

    /// Maps `[start, start + len)` with `perms`, replacing whatever was mapped there (like
    /// `MAP_FIXED`). The new range reads as zero.
    pub fn map(&mut self, start: u64, len: u64, perms: Perms) -> Result<(), MapError> {
        let end = checked_page_range(start, len)?;
        let overlap = self.mapped_within(start, end);
        let new_total = self.mapped_bytes - overlap + (end - start);
        if new_total > self.limit_bytes {
            self.limit_reached = true;
            return Err(MapError::OutOfMemory);
        }
        self.remove_range(start, end);
        let regions = self.regions_mut();
        let index = regions.partition_point(|region| region.end <= start);
        regions.insert(index, Region { start, end, perms });
        self.mapped_bytes = new_total;
        self.shadow_frozen_pages(start, end);
        Ok(())
    }

    /// Makes `[start, end)` (page-aligned) read as zero again, as if it had never been
    /// written; what is mapped there, and how, stays.
    pub fn forget_writes(&mut self, start: u64, end: u64) {
        self.drop_owned_pages(start, end);
        self.shadow_frozen_pages(start, end);
        self.flush_tlb();
    }

    /// Frozen pages of `[start, end)` must not show through a range that reads as zero:
    /// shadows them with zero pages.
    fn shadow_frozen_pages(&mut self, start: u64, end: u64) {
        let shadowed: Vec<u64> = self
            .frozen
            .pages
            .numbers_in(start >> PAGE_SHIFT..end >> PAGE_SHIFT)
            .to_vec();
        for page_number in shadowed {
            self.owned.insert(page_number, zeroed_page());
        }
        self.note_owned_pages();
    }

    /// Unmaps `[start, start + len)`; unmapped parts are ignored, as Linux does.
    pub fn unmap(&mut self, start: u64, len: u64) -> Result<(), MapError> {
        let end = checked_page_range(start, len)?;
        self.mapped_bytes -= self.mapped_within(start, end);
        self.remove_range(start, end);
        Ok(())
    }

    /// Changes the permissions of `[start, start + len)`, which must be mapped.
    pub fn protect(&mut self, start: u64, len: u64, perms: Perms) -> Result<(), MapError> {
        let end = checked_page_range(start, len)?;
        if self.mapped_within(start, end) != end - start {
            return Err(MapError::NotMapped);
        }
        self.split_at(start);
        self.split_at(end);
        let inside = self.overlapping(start, end);
        for region in &mut self.regions_mut()[inside] {
            region.perms = perms;
        }
        self.flush_tlb();
        Ok(())
    }

    /// The highest page-aligned free range of `len` bytes ending at or below `top` and
    /// starting at or above `bottom`.
    pub fn find_free_range(&self, len: u64, bottom: u64, top: u64) -> Option<u64> {
        let mut candidate_end = top;
        for region in self.regions().iter().rev() {
            if region.start >= candidate_end {
                continue;
            }
            if region.end <= candidate_end.checked_sub(len)? {
                break;
            }
            candidate_end = region.start;
        }
        let start = candidate_end.checked_sub(len)?;
        (start >= bottom).then_some(start)
    }

    /// The indices of the regions that overlap `[start, end)`, found by binary search (the
    /// regions are sorted and disjoint), so a guest with thousands of mappings does not make
    /// every call that changes one look through all.
    fn overlapping(&self, start: u64, end: u64) -> Range<usize> {
        let regions = self.regions();
        regions.partition_point(|region| region.end <= start)
            ..regions.partition_point(|region| region.start < end)
    }

    fn mapped_within(&self, start: u64, end: u64) -> u64 {
        self.regions()[self.overlapping(start, end)]
            .iter()
            .map(|region| region.end.min(end).saturating_sub(region.start.max(start)))
            .sum()
    }

    fn split_at(&mut self, addr: u64) {
        let index = self.regions().partition_point(|region| region.end <= addr);
        if !self
            .regions()
            .get(index)
            .is_some_and(|region| region.start < addr)
        {
            return;
        }
        let regions = self.regions_mut();
        let upper = Region {
            start: addr,
            ..regions[index]
        };
        regions[index].end = addr;
        regions.insert(index + 1, upper);
    }

    fn remove_range(&mut self, start: u64, end: u64) {
        self.split_at(start);
        self.split_at(end);
        let inside = self.overlapping(start, end);
        if !inside.is_empty() {
            self.regions_mut().drain(inside);
        }
        self.drop_owned_pages(start, end);
        self.flush_tlb();
    }

    fn drop_owned_pages(&mut self, start: u64, end: u64) {
        self.owned
            .remove_range(start >> PAGE_SHIFT..end >> PAGE_SHIFT);
    }

    fn note_owned_pages(&mut self) {
        self.peak_owned_pages = self.peak_owned_pages.max(self.owned.len());
    }

    /// Host pointer to the page holding `addr` for reading, filling the read TLB.
    fn page_for_read(&mut self, addr: u64) -> Result<*const u8, MemoryFault> {
        let page_number = addr >> PAGE_SHIFT;
        if let Some(page) = self.read_tlb.page(page_number) {
            return Ok(page);
        }
        let (host_page, readable) = self.page_past_tlb(addr)?;
        if readable {
            // The read TLB never writes through its pointers; the cast only unifies the type.
            self.read_tlb.insert(page_number, host_page.cast_mut());
        }
        Ok(host_page)
    }

    /// Puts the page holding `addr` in the read TLB, as a load from there would (nothing if
    /// the guest may not read it).
    pub fn hold_for_read(&mut self, addr: u64) {
        let _ = self.page_for_read(addr);
    }

    /// The page holding `addr` as the regions and pages say, for reading, and whether the
    /// read TLB may hold it (a write-only page is read by the slow path every time).
    fn page_past_tlb(&self, addr: u64) -> Result<(*const u8, bool), MemoryFault> {
        let page_number = addr >> PAGE_SHIFT;
        let readable = match self.region_containing(addr) {
            Some(region) if region.perms.read || region.perms.write => region.perms.read,
            _ => {
                return Err(MemoryFault {
                    addr,
                    access: Access::Read,
                })
            }
        };
        let host_page: *const u8 = if let Some(page) = self.owned.get(page_number) {
            page
        } else if let Some(page) = self.frozen.pages.get(page_number) {
            page.as_ptr()
        } else {
            ZERO_PAGE.as_ptr()
        };
        Ok((host_page, readable))
    }

    /// The bytes from `addr` to `addr + len` or to the end of its page, whichever comes first,
    /// where they are, if the guest may read them: tenant calls read names and values in
    /// place. Nothing can change them while they are borrowed, since every change to guest
    /// memory goes through `&mut self`.
    pub fn bytes_in_page(&self, addr: u64, len: usize) -> Result<&[u8], MemoryFault> {
        let offset = (addr & PAGE_OFFSET_MASK) as usize;
        let len = len.min(PAGE_BYTES - offset);
        let page = match self.read_tlb.page(addr >> PAGE_SHIFT) {
            Some(page) => page.cast_const(),
            None => self.page_past_tlb(addr)?.0,
        };
        // SAFETY: `page` points at a live page of PAGE_BYTES bytes (the TLB's, or the one the
        // pages hold), offset + len <= PAGE_BYTES, and the page stays as it is while `self`
        // is borrowed.
        Ok(unsafe { core::slice::from_raw_parts(page.add(offset), len) })
    }

    /// Host pointer to the page holding `addr` for writing: makes the page owned (copying a
    /// frozen page or allocating a zero one) and fills both TLBs.
    fn page_for_write(&mut self, addr: u64) -> Result<*mut u8, MemoryFault> {
        let page_number = addr >> PAGE_SHIFT;
        if let Some(page) = self.write_tlb.page(page_number) {
            return Ok(page);
        }
        let readable = match self.region_containing(addr) {
            Some(region) if region.perms.write => region.perms.read,
            _ => {
                return Err(MemoryFault {
                    addr,
                    access: Access::Write,
                })
            }
        };
        if self.owned.len() >= self.owned_page_limit && !self.owned.contains(page_number) {
            self.limit_reached = true;
            return Err(MemoryFault {
                addr,
                access: Access::Write,
            });
        }
        let frozen = &self.frozen;
        let host_page =
            self.owned
                .get_or_insert_with(page_number, || match frozen.pages.get(page_number) {
                    Some(shared) => copied_page(shared),
                    None => zeroed_page(),
                });
        self.note_owned_pages();
        self.write_tlb.insert(page_number, host_page);
        if readable {
            self.read_tlb.insert(page_number, host_page);
        }
        Ok(host_page)
    }

    /// Loads a little-endian value. Misaligned accesses are allowed, as Linux user space sees
    /// them; only atomics insist on alignment, and check it themselves.
    #[inline(always)]
    pub fn load<T: Scalar>(&mut self, addr: u64) -> Result<T, MemoryFault> {
        if let Some(host) = self.read_tlb.lookup(addr, T::SIZE) {
            // SAFETY: `lookup` gives a pointer with T::SIZE bytes of a live page behind it.
            return Ok(unsafe { T::read_le(host) });
        }
        self.load_slow(addr)
    }

    /// Whether a `size`-byte `access` at `addr` hits the TLB, so `load` or `store` will not
    /// take its slow path.
    #[inline(always)]
    pub fn hits_tlb(&self, addr: u64, size: usize, access: Access) -> bool {
        self.cached(addr, size, access).is_some()
    }

    /// Where the `size` bytes at `addr` are on the host, if they lie in one page that the TLB
    /// for `access` holds: the guest's own `access` there would not fault, and a write would
    /// change no page's ownership.
    #[inline(always)]
    pub(crate) fn cached(&self, addr: u64, size: usize, access: Access) -> Option<*mut u8> {
        let tlb = match access {
            Access::Read => &self.read_tlb,
            Access::Write => &self.write_tlb,
        };
        tlb.lookup(addr, size)
    }

    #[cold]
    fn load_slow<T: Scalar>(&mut self, addr: u64) -> Result<T, MemoryFault> {
        let offset = (addr & PAGE_OFFSET_MASK) as usize;
        if offset + T::SIZE <= PAGE_BYTES {
            let page = self.page_for_read(addr)?;
            // SAFETY: `page` points at a live page of PAGE_BYTES bytes and
            // offset + T::SIZE <= PAGE_BYTES.
            return Ok(unsafe { T::read_le(page.add(offset)) });
        }
        let mut raw = [0u8; 8];
        self.read_bytes(addr, &mut raw[..T::SIZE])?;
        // SAFETY: `raw` has 8 >= T::SIZE bytes.
        Ok(unsafe { T::read_le(raw.as_ptr()) })
    }

    /// Stores a little-endian value.
    #[inline(always)]
    pub fn store<T: Scalar>(&mut self, addr: u64, value: T) -> Result<(), MemoryFault> {
        if let Some(host) = self.write_tlb.lookup(addr, T::SIZE) {
            // SAFETY: write TLB entries point at live pages owned by this memory, which
            // nothing else references mutably; `lookup` leaves T::SIZE bytes of the page.
            unsafe { value.store_le(host) };
            return Ok(());
        }
        self.store_slow(addr, value)
    }

    #[cold]
    fn store_slow<T: Scalar>(&mut self, addr: u64, value: T) -> Result<(), MemoryFault> {
        let offset = (addr & PAGE_OFFSET_MASK) as usize;
        if offset + T::SIZE <= PAGE_BYTES {
            let page = self.page_for_write(addr)?;
            // SAFETY: `page` is a live page owned by this memory (write TLB invariant) and
            // offset + T::SIZE <= PAGE_BYTES.
            unsafe { value.store_le(page.add(offset)) };
            return Ok(());
        }
        let mut raw = [0u8; 8];
        // SAFETY: `raw` has 8 >= T::SIZE bytes.
        unsafe { value.store_le(raw.as_mut_ptr()) };
        // Check every page first so a faulting page-crossing store writes nothing.
        self.page_for_write(addr)?;
        self.page_for_write(addr.wrapping_add(T::SIZE as u64 - 1))?;
        self.write_bytes(addr, &raw[..T::SIZE])
    }

    /// Calls `visit` with consecutive host slices covering guest `[addr, addr + len)`, each
    /// within one page. Stops at the first unreadable byte. It leaves the read TLB as it is,
    /// so it reads through a shared reference.
    pub fn for_each_chunk(
        &self,
        addr: u64,
        len: u64,
        mut visit: impl FnMut(&[u8]),
    ) -> Result<(), MemoryFault> {
        let end = addr.checked_add(len).ok_or(MemoryFault {
            addr,
            access: Access::Read,
        })?;
        let mut cursor = addr;
        while cursor < end {
            let offset = (cursor & PAGE_OFFSET_MASK) as usize;
            let chunk = usize::try_from(end - cursor)
                .map_or(PAGE_BYTES - offset, |left| left.min(PAGE_BYTES - offset));
            visit(self.bytes_in_page(cursor, chunk)?);
            cursor += chunk as u64;
        }
        Ok(())
    }

    /// Copies guest memory into `buffer`.
    pub fn read_bytes(&self, addr: u64, buffer: &mut [u8]) -> Result<(), MemoryFault> {
        let mut filled = 0;
        self.for_each_chunk(addr, buffer.len() as u64, |chunk| {
            buffer[filled..filled + chunk.len()].copy_from_slice(chunk);
            filled += chunk.len();
        })
    }

    /// Copies `bytes` into guest memory, which must be writable.
    pub fn write_bytes(&mut self, addr: u64, bytes: &[u8]) -> Result<(), MemoryFault> {
        let end = addr.checked_add(bytes.len() as u64).ok_or(MemoryFault {
            addr,
            access: Access::Write,
        })?;
        let mut cursor = addr;
        let mut source = bytes;
        while cursor < end {
            let offset = (cursor & PAGE_OFFSET_MASK) as usize;
            let chunk = (PAGE_BYTES - offset).min(source.len());
            let page = self.page_for_write(cursor)?;
            // SAFETY: `page` is a live page owned by this memory (write TLB invariant),
            // offset + chunk <= PAGE_BYTES, and `source` is a distinct host buffer.
            unsafe { core::ptr::copy_nonoverlapping(source.as_ptr(), page.add(offset), chunk) };
            source = &source[chunk..];
            cursor += chunk as u64;
        }
        Ok(())
    }

    /// Writes initial contents ignoring permissions (program loading into read-only
    /// segments). The range must be mapped.
    pub fn write_initial(&mut self, addr: u64, bytes: &[u8]) -> Result<(), MemoryFault> {
        let saved = self.own_regions.clone();
        let end = addr.saturating_add(bytes.len() as u64);
        if !self.is_mapped(addr, end, Perms::NONE) {
            return Err(MemoryFault {
                addr,
                access: Access::Write,
            });
        }
        self.regions_mut()
            .iter_mut()
            .for_each(|region| region.perms.write = true);
        let result = self.write_bytes(addr, bytes);
        self.own_regions = saved;
        self.flush_tlb();
        result
    }

    /// Reads a NUL-terminated string of at most `max_len` bytes (without the NUL).
    pub fn read_c_string(
        &mut self,
        addr: u64,
        max_len: usize,
    ) -> Result<Option<Vec<u8>>, MemoryFault> {
        let mut text = Vec::new();
        let mut cursor = addr;
        while text.len() < max_len {
            let byte: u8 = self.load(cursor)?;
            if byte == 0 {
                return Ok(Some(text));
            }
            text.push(byte);
            cursor = cursor.wrapping_add(1);
        }
        Ok(None)
    }
}

fn zeroed_page() -> Box<Page> {
    if let Some(page) = crate::spare::take(&ZEROED_PAGES) {
        return page;
    }
    if let Some(mut page) = crate::spare::take(&SPARE_PAGES) {
        page.fill(0);
        return page;
    }
    // Allocates zeroed memory directly instead of building the page on the stack first.
    // SAFETY: all zero bytes are a valid byte array.
    unsafe { Box::<Page>::new_zeroed().assume_init() }
}

fn copied_page(source: &Page) -> Box<Page> {
    match crate::spare::take(&SPARE_PAGES).or_else(|| crate::spare::take(&ZEROED_PAGES)) {
        Some(mut page) => {
            *page = *source;
            page
        }
        None => Box::new(*source),
    }
}

impl Drop for Memory {
    fn drop(&mut self) {
        for (_, page) in self.owned.drain() {
            let zero = |page: &mut Box<Page>| page.fill(0);
            if let Some(page) = crate::spare::keep(&ZEROED_PAGES, page, MAX_ZEROED_PAGES, zero) {
                crate::spare::give(&SPARE_PAGES, page, MAX_SPARE_PAGES);
            }
        }
    }
}

/// At most this many spare pages (256 KiB) per thread. A thread keeps about what the largest
/// fork it dropped had written; a proxy has hundreds of worker threads, so the cap bounds what
/// one page-hungry tenant leaves cached on each (and `spare` caps all threads together).
/// Ordinary forks write a handful of pages.
const MAX_SPARE_PAGES: usize = 64;

/// Pages a thread keeps zeroed for the next fork's fresh pages (a hook's stack, the heap
/// above the template's): a dropped memory zeroes its pages until the thread has this many.
/// Hosts drop a fork after its request is answered (Varnish at the end of the task), so the
/// zeroing leaves the request's path; the seed's on_recv takes two fresh pages.
const MAX_ZEROED_PAGES: usize = 4;

crate::spare::spare_pool!(static ZEROED_PAGES: Box<Page>);
crate::spare::spare_pool!(static SPARE_PAGES: Box<Page>);

fn checked_page_range(start: u64, len: u64) -> Result<u64, MapError> {
    if start & PAGE_OFFSET_MASK != 0 || len & PAGE_OFFSET_MASK != 0 {
        return Err(MapError::InvalidRange);
    }
    start.checked_add(len).ok_or(MapError::InvalidRange)
}

/// The memory part of a machine snapshot: shared regions and frozen pages, and a read TLB
/// over them that memories made from it start with.
#[derive(Clone)]
pub struct MemorySnapshot {
    frozen: Handles<Frozen>,
    read_tlb: Tlb,
    mapped_bytes: u64,
    limit_bytes: u64,
}

// SAFETY: `read_tlb` points only into `frozen`'s pages, which the snapshot's handle keeps
// alive and nobody writes, or into the immutable static zero page; every memory made from the
// snapshot holds the same handle, and every handle the same pages. Nothing is written through
// those pointers.
unsafe impl Send for MemorySnapshot {}
// SAFETY: as for `Send`: shared references only copy the pointers, never write through them.
unsafe impl Sync for MemorySnapshot {}

impl fmt::Debug for MemorySnapshot {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        out.debug_struct("MemorySnapshot")
            .field("regions", &self.frozen.data().regions)
            .field("frozen_pages", &self.frozen.data().pages.len())
            .field("mapped_bytes", &self.mapped_bytes)
            .field("limit_bytes", &self.limit_bytes)
            .finish()
    }
}

impl MemorySnapshot {
    pub fn frozen_pages(&self) -> usize {
        self.frozen.data().pages.len()
    }

    /// This snapshot with a read TLB that also holds the pages `memory` read: the pages of
    /// `made_from` (the snapshot `memory` was made from: this one, or one this one was warmed
    /// from) that `memory` holds in its read TLB and `made_from`'s did not; those win a slot
    /// over this snapshot's own. What a request read last is what the next ones will read,
    /// more than what `main()` read last; the pages `memory` started with are not its reads,
    /// and would undo what another memory read. Pointers come from this snapshot, never from
    /// `memory`: its own pages die with it.
    pub fn warmed_by(&self, memory: &Memory, made_from: &MemorySnapshot) -> MemorySnapshot {
        let mut warm = Memory::from_snapshot(self);
        let read_by_memory = memory.read_tlb.held().filter(|&page_number| {
            !memory.owned.contains(page_number) && made_from.read_tlb.page(page_number).is_none()
        });
        for page_number in read_by_memory {
            // A page `memory` mapped itself is not in this snapshot's regions: left out.
            let _ = warm.page_for_read(page_number << PAGE_SHIFT);
        }
        MemorySnapshot {
            read_tlb: warm.read_tlb,
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unmapped_and_protected_accesses_fault() {
        let mut memory = Memory::new(1 << 20);
        memory.map(0x1000, 0x2000, Perms::READ).unwrap();
        assert_eq!(memory.load::<u32>(0x1000), Ok(0));
        assert_eq!(
            memory.load::<u8>(0x3000),
            Err(MemoryFault {
                addr: 0x3000,
                access: Access::Read
            })
        );
        assert_eq!(
            memory.store::<u8>(0x1000, 1),
            Err(MemoryFault {
                addr: 0x1000,
                access: Access::Write
            })
        );
    }

    #[test]
    fn the_tlb_hits_only_bytes_that_stay_in_a_page_it_holds() {
        let mut memory = Memory::new(1 << 20);
        memory.map(0x1000, 0x2000, Perms::READ_WRITE).unwrap();
        let bytes: Vec<u8> = (0..0x2000u32)
            .map(|n| u8::try_from((n * 7 + n / 256) % 251).unwrap())
            .collect();
        memory.write_bytes(0x1000, &bytes).unwrap();
        // Both pages are in both TLBs now.
        let hits = |memory: &Memory, addr: u64, size: usize| {
            [Access::Read, Access::Write].map(|access| memory.cached(addr, size, access).is_some())
        };
        let hits_tlb = |memory: &Memory, addr: u64, size: usize| {
            [Access::Read, Access::Write].map(|access| memory.hits_tlb(addr, size, access))
        };
        for hits in [hits, hits_tlb] {
            assert_eq!(hits(&memory, 0x1ff8, 8), [true; 2]);
            assert_eq!(hits(&memory, 0x2000, 1), [true; 2]);
            // Misaligned inside a page.
            for (addr, size) in [
                (0x1101, 2),
                (0x1102, 4),
                (0x1104, 8),
                (0x1101, 8),
                (0x1ff7, 8),
            ] {
                assert_eq!(hits(&memory, addr, size), [true; 2], "{addr:#x} {size}");
            }
            // Crossing into the next page, though that page is held too.
            assert_eq!(hits(&memory, 0x1ffc, 8), [false; 2]);
            assert_eq!(hits(&memory, 0x1fff, 2), [false; 2]);
            // The top of the address space, whose next page wraps to page 0.
            assert_eq!(hits(&memory, u64::MAX - 3, 8), [false; 2]);
        }
        assert_eq!(hits(&memory, 0x1ffe, 3), [false; 2]);
        assert_eq!(hits(&memory, 0x1001, 0x1000), [false; 2]);
        assert_eq!(hits(&memory, 0x1ffd, 3), [true; 2]);
        assert_eq!(hits(&memory, 0x1000, 0x1000), [true; 2]);
        assert_eq!(hits(&memory, 0x1000, 0x1001), [false; 2]);
        // A size so large that offset + size wraps around into the page.
        assert_eq!(hits(&memory, 0x1800, usize::MAX - 0xff), [false; 2]);
        // What the TLB leaves to the slow path reads and writes the same bytes.
        let expected = |addr: u64, size: usize| {
            let start = usize::try_from(addr - 0x1000).unwrap();
            let mut value = [0u8; 8];
            value[..size].copy_from_slice(&bytes[start..start + size]);
            u64::from_le_bytes(value)
        };
        for addr in [0x1101, 0x1102, 0x1104, 0x1ff8, 0x1ffc, 0x1fff] {
            assert_eq!(memory.load::<u64>(addr), Ok(expected(addr, 8)), "{addr:#x}");
            assert_eq!(
                memory.load::<u32>(addr),
                Ok(u32::try_from(expected(addr, 4)).unwrap()),
                "{addr:#x}"
            );
            assert_eq!(
                memory.load::<u16>(addr),
                Ok(u16::try_from(expected(addr, 2)).unwrap()),
                "{addr:#x}"
            );
        }
        memory.store::<u64>(0x1ffd, 0x1122_3344_5566_7788).unwrap();
        memory.store::<u32>(0x1103, 0xaabb_ccdd).unwrap();
        let mut written = [0u8; 8];
        memory.read_bytes(0x1ffd, &mut written).unwrap();
        assert_eq!(u64::from_le_bytes(written), 0x1122_3344_5566_7788);
        memory.read_bytes(0x1103, &mut written[..4]).unwrap();
        assert_eq!(written[..4], 0xaabb_ccdd_u32.to_le_bytes());
    }

    #[test]
    fn pages_in_the_tlbs_are_mapped_exactly_as_their_regions_say() {
        let write_only = Perms {
            write: true,
            ..Perms::NONE
        };
        let mut memory = Memory::new(1 << 20);
        memory.map(0x1000, 0x1000, Perms::READ).unwrap();
        memory.map(0x2000, 0x1000, Perms::READ_WRITE).unwrap();
        memory.map(0x3000, 0x1000, write_only).unwrap();
        // The guest reads and writes each page, so the TLBs hold what they may.
        for page in [0x1000, 0x2000, 0x3000] {
            memory.load::<u8>(page).unwrap();
            let _ = memory.store::<u8>(page, 1);
        }
        let cases = [
            (0x1000, Perms::READ, true),
            (0x1000, Perms::READ_WRITE, false),
            (0x2000, Perms::READ_WRITE, true),
            (0x3000, write_only, true),
            // The guest's own loads may read a write-only page; a pointer to one given to
            // a system call or tenant call is refused, as qemu-user refuses it.
            (0x3000, Perms::READ, false),
            (0x1ff0, Perms::READ, true),
            (0x1ff0, Perms::READ_WRITE, false),
        ];
        for (start, perms, mapped) in cases {
            assert_eq!(
                memory.is_mapped(start, start + 0x20, perms),
                mapped,
                "{start:#x} {perms:?}"
            );
        }
    }

    #[test]
    fn page_crossing_accesses_work_and_fault_atomically() {
        let mut memory = Memory::new(1 << 20);
        memory.map(0x1000, 0x2000, Perms::READ_WRITE).unwrap();
        memory.store::<u64>(0x1ffc, 0x1122_3344_5566_7788).unwrap();
        assert_eq!(memory.load::<u64>(0x1ffc), Ok(0x1122_3344_5566_7788));
        assert_eq!(memory.load::<u32>(0x2000), Ok(0x1122_3344));
        // Crossing into unmapped memory writes nothing.
        assert!(memory.store::<u64>(0x2ffc, u64::MAX).is_err());
        assert_eq!(memory.load::<u32>(0x2ffc), Ok(0));
    }

    #[test]
    fn bytes_are_read_in_place_up_to_their_pages_end_whatever_the_tlb_holds() {
        let mut template = Memory::new(1 << 20);
        template.map(0x10000, 0x4000, Perms::READ_WRITE).unwrap();
        template.write_bytes(0x10ffc, b"frozen!!").unwrap();
        let write_only = Perms {
            write: true,
            ..Perms::NONE
        };
        template.map(0x20000, 0x1000, write_only).unwrap();
        let snapshot = template.freeze();
        let mut fork = Memory::from_snapshot(&snapshot);
        fork.flush_tlb();
        fork.write_bytes(0x12000, b"owned").unwrap();

        assert_eq!(
            fork.bytes_in_page(0x10ffc, 4),
            Ok(&b"froz"[..]),
            "a frozen page"
        );
        assert_eq!(
            fork.bytes_in_page(0x10ffc, 8),
            Ok(&b"froz"[..]),
            "cut at its end"
        );
        assert_eq!(
            fork.bytes_in_page(0x12000, 5),
            Ok(&b"owned"[..]),
            "an owned page"
        );
        assert_eq!(
            fork.bytes_in_page(0x13000, 3),
            Ok(&[0u8; 3][..]),
            "a fresh page"
        );
        assert!(
            !fork.hits_tlb(0x10ffc, 1, Access::Read),
            "the read TLB is left alone"
        );
        let mut chunks = Vec::new();
        fork.for_each_chunk(0x10ffc, 8, |chunk| chunks.push(chunk.to_vec()))
            .unwrap();
        assert_eq!(chunks, [b"froz".to_vec(), b"en!!".to_vec()]);
        for addr in [0x30000, 0x14000, 0xfff] {
            assert_eq!(
                fork.bytes_in_page(addr, 1),
                Err(MemoryFault {
                    addr,
                    access: Access::Read
                }),
                "{addr:#x}"
            );
        }

        fork.hold_for_read(0x10ffc);
        assert!(fork.hits_tlb(0x10ffc, 1, Access::Read));
        // Loads from a write-only page work as they always did, but never from the TLB.
        assert_eq!(fork.bytes_in_page(0x20000, 2), Ok(&[0u8; 2][..]));
        fork.hold_for_read(0x20000);
        assert!(!fork.hits_tlb(0x20000, 1, Access::Read), "write-only");
    }

    #[test]
    fn snapshots_are_copy_on_write() {
        let mut template = Memory::new(1 << 20);
        template.map(0x10000, 0x4000, Perms::READ_WRITE).unwrap();
        template.store::<u64>(0x10000, 7).unwrap();
        let snapshot = template.freeze();
        assert_eq!(template.owned_pages(), 0);

        let mut fork = Memory::from_snapshot(&snapshot);
        assert_eq!(fork.load::<u64>(0x10000), Ok(7));
        fork.store::<u64>(0x10000, 8).unwrap();
        assert_eq!(fork.load::<u64>(0x10000), Ok(8));
        assert_eq!(fork.owned_pages(), 1);

        let mut sibling = Memory::from_snapshot(&snapshot);
        assert_eq!(sibling.load::<u64>(0x10000), Ok(7));
        // A fork that unmaps and maps again sees zeros, not the frozen page.
        sibling.unmap(0x10000, 0x1000).unwrap();
        sibling.map(0x10000, 0x1000, Perms::READ_WRITE).unwrap();
        assert_eq!(sibling.load::<u64>(0x10000), Ok(0));
        assert_eq!(template.load::<u64>(0x10000), Ok(7));
    }

    #[test]
    fn forgotten_writes_read_as_zero_in_owned_and_frozen_pages() {
        let mut template = Memory::new(1 << 20);
        template.map(0x10000, 0x3000, Perms::READ_WRITE).unwrap();
        template.store::<u64>(0x10000, 7).unwrap();
        template.store::<u64>(0x12000, 9).unwrap();
        let snapshot = template.freeze();
        let mut fork = Memory::from_snapshot(&snapshot);
        fork.store::<u64>(0x11000, 8).unwrap();

        fork.forget_writes(0x10000, 0x12000);
        assert_eq!(
            fork.load::<u64>(0x10000),
            Ok(0),
            "a frozen page is shadowed"
        );
        assert_eq!(fork.load::<u64>(0x11000), Ok(0), "an owned page is dropped");
        assert_eq!(fork.load::<u64>(0x12000), Ok(9), "past the range");
        fork.store::<u64>(0x11000, 1).unwrap();
        assert_eq!(fork.load::<u64>(0x11000), Ok(1), "still mapped for writing");
        assert_eq!(Memory::from_snapshot(&snapshot).load::<u64>(0x10000), Ok(7));
    }

    #[test]
    fn forks_start_with_the_templates_read_tlb_and_still_copy_on_write() {
        let mut template = Memory::new(1 << 20);
        template.map(0x10000, 0x2000, Perms::READ_WRITE).unwrap();
        template.store::<u64>(0x10000, 7).unwrap();
        // Mapped, never written: read through the zero page.
        assert_eq!(template.load::<u64>(0x11000), Ok(0));
        let snapshot = template.freeze();

        let mut fork = Memory::from_snapshot(&snapshot);
        let is_warm =
            |memory: &Memory, addr: u64| memory.read_tlb.page(addr >> PAGE_SHIFT).is_some();
        assert!(is_warm(&fork, 0x10000) && is_warm(&fork, 0x11000));
        assert_eq!(fork.load::<u64>(0x10000), Ok(7));
        fork.store::<u64>(0x10000, 8).unwrap();
        fork.store::<u64>(0x11000, 9).unwrap();
        assert_eq!(fork.load::<u64>(0x10000), Ok(8));
        assert_eq!(fork.load::<u64>(0x11000), Ok(9));

        let mut sibling = Memory::from_snapshot(&snapshot);
        assert_eq!(sibling.load::<u64>(0x10000), Ok(7));
        assert_eq!(sibling.load::<u64>(0x11000), Ok(0));
        // A protection change in a fork applies at once, warm entries or not.
        sibling.protect(0x10000, 0x1000, Perms::NONE).unwrap();
        assert!(sibling.load::<u64>(0x10000).is_err());
    }

    #[test]
    fn a_snapshot_warmed_by_a_fork_holds_the_template_pages_it_read_and_none_of_its_own() {
        let mut template = Memory::new(1 << 20);
        template.map(0x10000, 0x3000, Perms::READ_WRITE).unwrap();
        template.store::<u64>(0x10000, 7).unwrap();
        template.store::<u64>(0x11000, 8).unwrap();
        // What main() read last: none of it, once the mapping flushed the TLBs.
        template.map(0x40000, 0x1000, Perms::READ).unwrap();
        let snapshot = template.freeze();
        let is_warm =
            |memory: &Memory, addr: u64| memory.read_tlb.page(addr >> PAGE_SHIFT).is_some();
        assert!(!is_warm(&Memory::from_snapshot(&snapshot), 0x10000));

        let mut fork = Memory::from_snapshot(&snapshot);
        // A page the fork mapped itself is not the template's.
        fork.map(0x50000, 0x1000, Perms::READ).unwrap();
        assert_eq!(fork.load::<u64>(0x50000), Ok(0));
        assert_eq!(fork.load::<u64>(0x10000), Ok(7));
        fork.store::<u64>(0x11000, 9).unwrap();
        assert_eq!(fork.load::<u64>(0x40000), Ok(0));
        let warmed = snapshot.warmed_by(&fork, &snapshot);
        drop(fork);

        let mut next = Memory::from_snapshot(&warmed);
        assert!(is_warm(&next, 0x10000) && is_warm(&next, 0x40000));
        // The fork's copy of 0x11000 is gone: the next fork reads the template's.
        assert!(!is_warm(&next, 0x11000) && !is_warm(&next, 0x50000));
        assert_eq!(next.load::<u64>(0x10000), Ok(7));
        assert_eq!(next.load::<u64>(0x11000), Ok(8));
        assert!(next.load::<u64>(0x50000).is_err());
        next.store::<u64>(0x10000, 10).unwrap();
        assert_eq!(Memory::from_snapshot(&warmed).load::<u64>(0x10000), Ok(7));
    }

    #[test]
    fn warming_by_a_second_fork_adds_its_reads_and_not_the_pages_it_started_with() {
        let slots = TLB_ENTRIES as u64 * PAGE_SIZE;
        let (page_a, page_b, page_c) = (0x10000, 0x10000 + slots, 0x11000);
        let mut template = Memory::new(1 << 30);
        template
            .map(0x10000, slots + PAGE_SIZE, Perms::READ)
            .unwrap();
        // main() read page B last; page A wants the same slot.
        assert_eq!(template.load::<u8>(page_b), Ok(0));
        let snapshot = template.freeze();
        let is_warm =
            |memory: &Memory, addr: u64| memory.read_tlb.page(addr >> PAGE_SHIFT).is_some();
        assert!(is_warm(&Memory::from_snapshot(&snapshot), page_b));

        let mut reads_a = Memory::from_snapshot(&snapshot);
        assert_eq!(reads_a.load::<u8>(page_a), Ok(0));
        let warmed = snapshot.warmed_by(&reads_a, &snapshot);
        // Started with page B, which it did not read; read page C.
        let mut reads_c = Memory::from_snapshot(&snapshot);
        assert_eq!(reads_c.load::<u8>(page_c), Ok(0));
        let warmed = warmed.warmed_by(&reads_c, &snapshot);

        let next = Memory::from_snapshot(&warmed);
        assert!(
            is_warm(&next, page_a),
            "the first fork's read keeps its slot"
        );
        assert!(is_warm(&next, page_c), "the second fork's read is added");
        assert!(!is_warm(&next, page_b));
    }

    #[test]
    fn reused_pages_never_show_what_a_dropped_machine_wrote() {
        let mut template = Memory::new(1 << 20);
        template.map(0x10000, 0x2000, Perms::READ_WRITE).unwrap();
        template.store::<u64>(0x10000, 7).unwrap();
        let snapshot = template.freeze();
        for _ in 0..3 {
            let mut fork = Memory::from_snapshot(&snapshot);
            // A copied page holds the template's bytes, a fresh one zeros, whatever the
            // previous fork left in the pages it gave back.
            assert_eq!(fork.load::<u64>(0x10000), Ok(7));
            assert_eq!(fork.load::<u64>(0x10008), Ok(0));
            assert_eq!(fork.load::<u64>(0x11000), Ok(0));
            fork.store::<u64>(0x10008, u64::MAX).unwrap();
            fork.store::<u64>(0x11000, u64::MAX).unwrap();
            assert_eq!(fork.owned_pages(), 2);
        }
    }

    #[test]
    fn fresh_pages_read_as_zero_whether_zeroed_when_given_back_or_when_taken() {
        // More fresh pages than a thread keeps zeroed, so some come back dirty and are
        // zeroed when taken; and a copied page, taken from either pool.
        const FRESH: u64 = MAX_ZEROED_PAGES as u64 + 2;
        let base = 0x10000;
        let mut template = Memory::new(1 << 20);
        template
            .map(base, (FRESH + 1) * PAGE_SIZE, Perms::READ_WRITE)
            .unwrap();
        template.store::<u64>(base, 7).unwrap();
        let snapshot = template.freeze();
        for fork_number in 0..3 {
            let mut fork = Memory::from_snapshot(&snapshot);
            for page in 0..=FRESH {
                let start = base + page * PAGE_SIZE;
                for addr in (start..start + PAGE_SIZE).step_by(64) {
                    let expected = if addr == base { 7 } else { 0 };
                    assert_eq!(
                        fork.load::<u64>(addr),
                        Ok(expected),
                        "fork {fork_number}, {addr:#x}"
                    );
                    fork.store::<u64>(addr, u64::MAX).unwrap();
                }
            }
        }
    }

    #[test]
    fn the_limit_bounds_mappings() {
        let mut memory = Memory::new(0x3000);
        memory.map(0x1000, 0x2000, Perms::READ_WRITE).unwrap();
        assert_eq!(
            memory.map(0x10000, 0x2000, Perms::READ_WRITE),
            Err(MapError::OutOfMemory)
        );
        // Replacing an existing mapping does not count twice.
        memory.map(0x1000, 0x3000, Perms::READ_WRITE).unwrap();
        assert_eq!(memory.mapped_bytes(), 0x3000);
        memory.unmap(0x2000, 0x1000).unwrap();
        assert_eq!(memory.mapped_bytes(), 0x2000);
        assert!(memory.load::<u8>(0x2000).is_err());
        assert!(memory.load::<u8>(0x3000).is_ok());
    }

    #[test]
    fn regions_follow_maps_unmaps_and_protections_page_by_page() {
        // A model of 64 pages, each unmapped or mapped with some permissions, changed by
        // random calls over random ranges; the regions must say the same for every page.
        const PAGES: usize = 64;
        let base = 0x10_0000;
        let address = |page: usize| base + page as u64 * PAGE_SIZE;
        let mut memory = Memory::new(1 << 30);
        let mut model = [None; PAGES];
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut random = |below: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            usize::try_from(seed % below as u64).unwrap()
        };
        // Miri runs this test too (scripts/miri.sh), at about a thousandth of the speed.
        let rounds = if cfg!(miri) { 40 } else { 2000 };
        for _ in 0..rounds {
            let first = random(PAGES);
            let range = first..first + random(PAGES - first) + 1;
            let (start, len) = (address(first), address(range.end) - address(first));
            let perms = [Perms::NONE, Perms::READ, Perms::READ_WRITE][random(3)];
            match random(3) {
                0 => {
                    memory.map(start, len, perms).unwrap();
                    model[range].fill(Some(perms));
                }
                1 => {
                    memory.unmap(start, len).unwrap();
                    model[range].fill(None);
                }
                _ => {
                    let all_mapped = model[range.clone()].iter().all(Option::is_some);
                    let result = memory.protect(start, len, perms);
                    assert_eq!(result.is_ok(), all_mapped, "protect {start:#x}+{len:#x}");
                    if all_mapped {
                        model[range].fill(Some(perms));
                    }
                }
            }
            for (page, expected) in model.iter().enumerate() {
                let found = memory
                    .region_containing(address(page))
                    .map(|region| region.perms);
                assert_eq!(found, *expected, "page {page}");
            }
            let mapped = model.iter().flatten().count() as u64 * PAGE_SIZE;
            assert_eq!(memory.mapped_bytes, mapped);
            assert!(memory
                .regions()
                .windows(2)
                .all(|pair| pair[0].end <= pair[1].start));
        }
    }

    #[test]
    fn protect_splits_regions() {
        let mut memory = Memory::new(1 << 20);
        memory.map(0x1000, 0x3000, Perms::READ_WRITE).unwrap();
        memory.protect(0x2000, 0x1000, Perms::READ).unwrap();
        assert!(memory.store::<u8>(0x1000, 1).is_ok());
        assert!(memory.store::<u8>(0x2000, 1).is_err());
        assert!(memory.store::<u8>(0x3000, 1).is_ok());
        assert_eq!(
            memory.protect(0x8000, 0x1000, Perms::READ),
            Err(MapError::NotMapped)
        );
    }

    #[test]
    fn free_ranges_are_found_below_the_top() {
        let mut memory = Memory::new(1 << 20);
        memory.map(0x8000, 0x1000, Perms::READ_WRITE).unwrap();
        assert_eq!(memory.find_free_range(0x1000, 0x1000, 0x9000), Some(0x7000));
        assert_eq!(memory.find_free_range(0x1000, 0x1000, 0xa000), Some(0x9000));
        assert_eq!(memory.find_free_range(0x8000, 0x1000, 0x9000), None);
    }
}

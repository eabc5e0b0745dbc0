//! The pages a memory owns, by page number.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::vec;
use core::cell::Cell;
use core::mem::ManuallyDrop;
use core::ops::Range;
use core::ptr::NonNull;

use super::{Page, NO_PAGE};

/// Pages kept inline before they all move to a map. A fork of the seed tenant writes two or
/// three; the map's first node was an allocation and a free on every request.
const FEW: usize = 4;

/// Pages the map holds before it gets a cache of its own (`OwnedPages::recent`): more than
/// the TLBs hold, so that lookups past them are common.
const RECENT_AFTER: usize = super::TLB_ENTRIES;

/// Slots of that cache, one page each by page number modulo this: 4096 pages in a row, the
/// 16 MiB of a request's memory, all fit.
const RECENT_SLOTS: usize = 4096;

/// A slot of that cache that holds no page.
const EMPTY_SLOT: (u64, *mut u8) = (NO_PAGE, core::ptr::null_mut());

/// Owned pages: up to [`FEW`] in inline slots (in no order), more in a map, never both.
/// Pages are given out as host pointers, which the TLBs keep.
pub(super) struct OwnedPages {
    few: [Option<(u64, RawPage)>; FEW],
    many: BTreeMap<u64, RawPage>,
    /// Pages of `many` (number, host page), direct-mapped by number, once it holds more than
    /// [`RECENT_AFTER`]: a lookup past the TLBs is then one probe, not a walk down the map
    /// (a tenant writing a byte in each of 1,024 pages in turn ran 6.4 times as long as an
    /// ordinary one with the same budget). A page whose slot another holds comes from the
    /// map, so no choice of pages makes a lookup slower than the map alone. Filled where
    /// pages are looked up for writing, whose pointers serve reads too.
    recent: Option<Box<[RecentSlot]>>,
}

/// A slot of `OwnedPages::recent`: page number and host page.
type RecentSlot = Cell<(u64, *mut u8)>;

/// An owned page, held through a raw pointer: moving a `Box` (with the memory, in the map's
/// nodes) or lending it out (`BTreeMap::retain` does, mutably) asserts unique access to its
/// page, which the host pointers the TLBs and `OwnedPages::recent` keep into it must survive
/// (Miri's Stacked Borrows says so).
struct RawPage(NonNull<Page>);

impl RawPage {
    fn new(page: Box<Page>) -> RawPage {
        RawPage(NonNull::from(Box::leak(page)))
    }

    fn into_box(self) -> Box<Page> {
        let page = ManuallyDrop::new(self);
        // SAFETY: the pointer came from `Box::leak` in `new`, and `page` is never dropped, so
        // the box is rebuilt once.
        unsafe { Box::from_raw(page.0.as_ptr()) }
    }

    fn host(&self) -> *mut u8 {
        self.0.as_ptr().cast()
    }
}

impl Drop for RawPage {
    fn drop(&mut self) {
        // SAFETY: as in `into_box`; `drop` runs once, and never after `into_box`.
        drop(unsafe { Box::from_raw(self.0.as_ptr()) });
    }
}

impl OwnedPages {
    pub(super) const fn new() -> OwnedPages {
        OwnedPages {
            few: [const { None }; FEW],
            many: BTreeMap::new(),
            recent: None,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.few.iter().flatten().count() + self.many.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Where page `page_number` is on the host, for reading, if it is owned.
    pub(super) fn get(&self, page_number: u64) -> Option<*const u8> {
        if !self.many.is_empty() {
            if let Some(page) = self.recent_page(page_number) {
                return Some(page.cast_const());
            }
            return self
                .many
                .get(&page_number)
                .map(|page| page.host().cast_const());
        }
        self.few
            .iter()
            .flatten()
            .find(|(number, _)| *number == page_number)
            .map(|(_, page)| page.host().cast_const())
    }

    pub(super) fn contains(&self, page_number: u64) -> bool {
        self.get(page_number).is_some()
    }

    /// Where page `page_number` is on the host, for writing; `make` makes it if it is not
    /// owned yet.
    pub(super) fn get_or_insert_with(
        &mut self,
        page_number: u64,
        make: impl FnOnce() -> Box<Page>,
    ) -> *mut u8 {
        if self.many.is_empty() {
            let owned = self
                .few
                .iter()
                .position(|slot| matches!(slot, Some((number, _)) if *number == page_number));
            if let Some(slot) = owned.or_else(|| self.few.iter().position(Option::is_none)) {
                let (_, page) =
                    self.few[slot].get_or_insert_with(|| (page_number, RawPage::new(make())));
                return page.host();
            }
            let inline = self.few.iter_mut().filter_map(Option::take);
            self.many.extend(inline);
        }
        if let Some(page) = self.recent_page(page_number) {
            return page;
        }
        let page = self
            .many
            .entry(page_number)
            .or_insert_with(|| RawPage::new(make()))
            .host();
        if self.recent.is_none() && self.many.len() > RECENT_AFTER {
            self.recent = Some(vec![Cell::new(EMPTY_SLOT); RECENT_SLOTS].into());
        }
        if let Some(slot) = self.recent_slot(page_number) {
            slot.set((page_number, page));
        }
        page
    }

    /// The cache's slot for `page_number`, once there is a cache.
    #[expect(
        clippy::cast_possible_truncation,
        reason = "the remainder is below RECENT_SLOTS, a usize"
    )]
    fn recent_slot(&self, page_number: u64) -> Option<&RecentSlot> {
        let slot = (page_number % RECENT_SLOTS as u64) as usize;
        self.recent.as_deref().map(|recent| &recent[slot])
    }

    /// Empties the cache's slot for `page_number` if it holds that page.
    fn forget_recent(&self, page_number: u64) {
        if let Some(slot) = self.recent_slot(page_number) {
            if slot.get().0 == page_number {
                slot.set(EMPTY_SLOT);
            }
        }
    }

    /// The page numbered `page_number` if the cache holds it.
    fn recent_page(&self, page_number: u64) -> Option<*mut u8> {
        let (number, page) = self.recent_slot(page_number)?.get();
        (number == page_number).then_some(page)
    }

    /// Owns `page` as `page_number`, dropping what was owned there.
    pub(super) fn insert(&mut self, page_number: u64, page: Box<Page>) {
        self.remove_range(page_number..page_number + 1);
        self.get_or_insert_with(page_number, || page);
    }

    /// Drops the pages numbered in `range`.
    pub(super) fn remove_range(&mut self, range: Range<u64>) {
        for slot in &mut self.few {
            if matches!(slot, Some((number, _)) if range.contains(number)) {
                *slot = None;
            }
        }
        self.many.retain(|number, _| !range.contains(number));
        let Some(recent) = &self.recent else {
            return;
        };
        // The slots the range's pages can be in: as many as it has pages, or all.
        if range.end.saturating_sub(range.start) < RECENT_SLOTS as u64 {
            range.for_each(|page_number| self.forget_recent(page_number));
        } else {
            recent.iter().for_each(|slot| slot.set(EMPTY_SLOT));
        }
    }

    /// Takes every page out, leaving none owned.
    pub(super) fn drain(&mut self) -> impl Iterator<Item = (u64, Box<Page>)> + '_ {
        self.recent = None;
        let many = core::mem::take(&mut self.many);
        let inline = self.few.iter_mut().filter_map(Option::take);
        inline
            .chain(many)
            .map(|(number, page)| (number, page.into_box()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page_with(byte: u8) -> Box<Page> {
        Box::new(Page([byte; super::super::PAGE_BYTES]))
    }

    /// The byte a test fills page `number` with.
    fn marker(number: u64) -> u8 {
        number.to_le_bytes()[0]
    }

    /// The first byte of page `number`, if it is owned.
    fn first_byte(pages: &OwnedPages, number: u64) -> Option<u8> {
        // SAFETY: `get` gives a pointer to a live page.
        pages.get(number).map(|page| unsafe { *page })
    }

    fn first_bytes(pages: &OwnedPages, numbers: Range<u64>) -> alloc::vec::Vec<Option<u8>> {
        numbers.map(|number| first_byte(pages, number)).collect()
    }

    #[test]
    fn pages_stay_findable_as_they_outgrow_the_inline_slots() {
        let mut pages = OwnedPages::new();
        for number in 0..FEW as u64 + 3 {
            pages.get_or_insert_with(number * 10, || page_with(marker(number)));
        }
        assert_eq!(pages.len(), FEW + 3);
        for number in 0..FEW as u64 + 3 {
            assert_eq!(first_byte(&pages, number * 10), Some(marker(number)));
        }
        assert!(!pages.contains(5));
    }

    #[test]
    fn an_owned_page_is_returned_not_made_again() {
        for count in [2, FEW + 2] {
            let mut pages = OwnedPages::new();
            for number in 0..count as u64 {
                pages.get_or_insert_with(number, || page_with(1));
            }
            let page = pages.get_or_insert_with(1, || page_with(9));
            // SAFETY: `get_or_insert_with` gives a pointer to a live page.
            unsafe { *page = 7 };
            assert_eq!(pages.len(), count);
            assert_eq!(first_byte(&pages, 1), Some(7));
        }
    }

    #[test]
    fn insert_replaces_and_remove_range_drops_only_its_pages() {
        for count in [FEW, FEW + 3] {
            let mut pages = OwnedPages::new();
            for number in 0..count as u64 {
                pages.insert(number, page_with(1));
            }
            pages.insert(2, page_with(5));
            pages.remove_range(0..2);
            let mut expected = alloc::vec![None, None, Some(5)];
            expected.resize(count, Some(1));
            assert_eq!(first_bytes(&pages, 0..count as u64), expected);
            assert_eq!(pages.len(), count - 2);
        }
    }

    #[test]
    fn drain_takes_every_page() {
        for count in [3, FEW + 1] {
            let mut pages = OwnedPages::new();
            for number in 0..count as u64 {
                pages.insert(number, page_with(marker(number)));
            }
            let mut drained: alloc::vec::Vec<(u64, u8)> = pages
                .drain()
                .map(|(number, page)| (number, page[0]))
                .collect();
            drained.sort_unstable();
            assert_eq!(
                drained,
                (0..count as u64)
                    .map(|n| (n, marker(n)))
                    .collect::<alloc::vec::Vec<_>>()
            );
            assert!(pages.is_empty());
        }
    }

    #[test]
    fn pages_past_the_cache_threshold_are_found_removed_and_made_again() {
        // More pages than the map holds without its cache, two of them in one cache slot, one
        // far from the rest.
        const FAR: u64 = 1 << 20;
        let mut pages = OwnedPages::new();
        let numbers: alloc::vec::Vec<u64> = (0..RECENT_AFTER as u64 + 8)
            .chain([7 + RECENT_SLOTS as u64, FAR])
            .collect();
        for &number in &numbers {
            pages.get_or_insert_with(number, || page_with(marker(number)));
        }
        assert!(pages.recent.is_some());
        for &number in &numbers {
            assert_eq!(first_byte(&pages, number), Some(marker(number)));
            let page = pages.get_or_insert_with(number, || page_with(0xee));
            // SAFETY: `get_or_insert_with` gives a pointer to a live page.
            assert_eq!(unsafe { *page }, marker(number), "page {number} made again");
        }
        // A removed page is neither found nor given out from the cache; asked for again, it
        // is made afresh.
        pages.remove_range(5..8);
        assert_eq!(
            first_bytes(&pages, 4..9),
            [Some(4), None, None, None, Some(8)]
        );
        let page = pages.get_or_insert_with(7, || page_with(0xee));
        // SAFETY: as above.
        assert_eq!(unsafe { *page }, 0xee);
        assert_eq!(first_byte(&pages, 7 + RECENT_SLOTS as u64), Some(marker(7)));
        // A range wider than the cache empties it whole (what it held is freed: finding it
        // there would read a dropped page).
        pages.remove_range(0..RECENT_SLOTS as u64 + 8);
        assert_eq!(pages.len(), 1);
        assert_eq!(first_byte(&pages, 7 + RECENT_SLOTS as u64), None);
        assert_eq!(first_byte(&pages, 8), None);
        assert_eq!(first_byte(&pages, FAR), Some(marker(FAR)));
        assert_eq!(pages.drain().count(), 1);
        assert!(pages.recent.is_none());
    }

    #[test]
    fn a_page_pointer_stays_valid_when_the_pages_move() {
        // What the TLBs rely on; Miri (scripts/miri.sh) checks it.
        let mut pages = OwnedPages::new();
        let host = pages.get_or_insert_with(3, || page_with(0));
        let moved = core::hint::black_box(pages);
        // SAFETY: the page is still owned, by `moved`.
        unsafe { *host = 8 };
        assert_eq!(first_byte(&moved, 3), Some(8));
    }
}

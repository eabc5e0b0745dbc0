//! The pages a memory owns, by page number.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use core::mem::ManuallyDrop;
use core::ops::Range;
use core::ptr::NonNull;

use super::Page;

/// Pages kept inline before they all move to a map. A fork of the seed tenant writes two or
/// three; the map's first node was an allocation and a free on every request.
const FEW: usize = 4;

/// Owned pages: up to [`FEW`] in inline slots (in no order), more in a map, never both.
/// Pages are given out as host pointers, which the TLBs keep.
pub(super) struct OwnedPages {
    few: [Option<(u64, InlinePage)>; FEW],
    many: BTreeMap<u64, Box<Page>>,
}

/// A page in an inline slot, owned through a raw pointer: a `Box` there would move with the
/// memory, and moving a `Box` asserts unique access to its page, which the TLBs' pointers
/// into it must survive (Miri's Stacked Borrows says so; the map's boxes never move).
struct InlinePage(NonNull<Page>);

impl InlinePage {
    fn new(page: Box<Page>) -> InlinePage {
        InlinePage(NonNull::from(Box::leak(page)))
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

impl Drop for InlinePage {
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
            return self.many.get(&page_number).map(|page| page.as_ptr());
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
                    self.few[slot].get_or_insert_with(|| (page_number, InlinePage::new(make())));
                return page.host();
            }
            let inline = self.few.iter_mut().filter_map(Option::take);
            self.many
                .extend(inline.map(|(number, page)| (number, page.into_box())));
        }
        self.many
            .entry(page_number)
            .or_insert_with(make)
            .as_mut_ptr()
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
    }

    /// Takes every page out, leaving none owned.
    pub(super) fn drain(&mut self) -> impl Iterator<Item = (u64, Box<Page>)> + '_ {
        let many = core::mem::take(&mut self.many);
        let inline = self.few.iter_mut().filter_map(Option::take);
        inline
            .map(|(number, page)| (number, page.into_box()))
            .chain(many)
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

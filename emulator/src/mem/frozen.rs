//! The pages a snapshot shares, by page number.

use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::ops::Range;

use super::Page;

/// Frozen pages in page-number order: the numbers in one array, searched by halving, the pages
/// in another. A fork looks a page up here for each page it first writes (and a write to a
/// fresh page finds none); a binary search over 8-byte numbers costs a third of a `BTreeMap`
/// walk over a template's hundred-odd pages.
#[derive(Debug, Default, Clone)]
pub(super) struct FrozenPages {
    numbers: Vec<u64>,
    pages: Vec<Arc<Page>>,
}

impl FrozenPages {
    pub(super) fn get(&self, page_number: u64) -> Option<&Arc<Page>> {
        let index = self.numbers.binary_search(&page_number).ok()?;
        self.pages.get(index)
    }

    /// The numbers of the pages in `range`, in order.
    pub(super) fn numbers_in(&self, range: Range<u64>) -> &[u64] {
        let start = self.numbers.partition_point(|&number| number < range.start);
        let end = self.numbers.partition_point(|&number| number < range.end);
        &self.numbers[start..end.max(start)]
    }

    pub(super) fn len(&self) -> usize {
        self.numbers.len()
    }

    /// These pages with `changed` added, each replacing the page of its number if there was one.
    pub(super) fn with(&self, changed: impl Iterator<Item = (u64, Arc<Page>)>) -> FrozenPages {
        let mut all: BTreeMap<u64, Arc<Page>> = self
            .numbers
            .iter()
            .copied()
            .zip(self.pages.iter().cloned())
            .collect();
        all.extend(changed);
        let (numbers, pages) = all.into_iter().unzip();
        FrozenPages { numbers, pages }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(byte: u8) -> Arc<Page> {
        Arc::new(Page([byte; super::super::PAGE_BYTES]))
    }

    #[test]
    fn pages_are_found_by_number_and_replaced_by_newer_ones() {
        let first =
            FrozenPages::default().with([(9, page(9)), (2, page(2)), (5, page(5))].into_iter());
        let second = first.with([(5, page(55)), (7, page(7))].into_iter());
        let first_byte = |pages: &FrozenPages, number| pages.get(number).map(|page| page[0]);
        assert_eq!(
            first_byte(&first, 5),
            Some(5),
            "the older snapshot keeps its page"
        );
        assert_eq!(first_byte(&second, 5), Some(55));
        for (number, expected) in [
            (2, Some(2)),
            (7, Some(7)),
            (9, Some(9)),
            (0, None),
            (6, None),
            (10, None),
        ] {
            assert_eq!(first_byte(&second, number), expected, "page {number}");
        }
        assert_eq!(second.len(), 4);
        assert_eq!(second.numbers_in(3..9), &[5, 7]);
        assert_eq!(second.numbers_in(0..100), &[2, 5, 7, 9]);
        assert_eq!(second.numbers_in(10..20), &[] as &[u64]);
        let (high, low) = (8, 3);
        assert_eq!(
            second.numbers_in(high..low),
            &[] as &[u64],
            "an empty range"
        );
    }
}

//! The pages a snapshot shares, by page number.

use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::ops::Range;

use super::Page;

/// Frozen pages in page-number order: the numbers in one array, the pages in another, and the
/// runs of consecutive numbers, searched by halving. A fork looks a page up here for each page
/// it first writes (and a write to a fresh page finds none), and for each read that misses
/// its TLB: a search over 8-byte numbers costs a third of a `BTreeMap` walk over a template's
/// hundred-odd pages, and over runs (a template's pages lie in a few: its data, heap, stack)
/// a few steps where the pages are thousands (a tenant reading a byte of each of 3,072
/// pages of its template in turn ran 6 times as long as an ordinary one with the same budget).
#[derive(Debug, Default, Clone)]
pub(super) struct FrozenPages {
    numbers: Vec<u64>,
    pages: Vec<Arc<Page>>,
    /// Each run's first page number and where it is in `numbers`, in order.
    runs: Vec<(u64, usize)>,
}

impl FrozenPages {
    pub(super) fn get(&self, page_number: u64) -> Option<&Arc<Page>> {
        let run = self
            .runs
            .partition_point(|&(first, _)| first <= page_number)
            .checked_sub(1)?;
        let (first, start) = self.runs[run];
        // Numbers only grow, by one within a run: the page is there if its run reaches it.
        let index = start.checked_add(usize::try_from(page_number - first).ok()?)?;
        (self.numbers.get(index) == Some(&page_number)).then(|| &self.pages[index])
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
        let (numbers, pages): (Vec<u64>, _) = all.into_iter().unzip();
        let runs = (0..numbers.len())
            .filter(|&index| index == 0 || numbers[index - 1] + 1 != numbers[index])
            .map(|index| (numbers[index], index))
            .collect();
        FrozenPages {
            numbers,
            pages,
            runs,
        }
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
        assert_eq!(second.runs.len(), 4);
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

    #[test]
    fn pages_in_runs_are_found_and_gaps_are_not() {
        let numbers = || (10..20u64).chain(30..33).chain([50, 52]);
        let pages = FrozenPages::default()
            .with(numbers().map(|number| (number, page(number.to_le_bytes()[0]))));
        assert_eq!(pages.runs, [(10, 0), (30, 10), (50, 13), (52, 14)]);
        let first_byte = |number| pages.get(number).map(|page| page[0]);
        for number in numbers() {
            assert_eq!(
                first_byte(number),
                Some(number.to_le_bytes()[0]),
                "page {number}"
            );
        }
        for number in [0, 9, 20, 29, 33, 49, 51, 53, u64::MAX >> 12, u64::MAX] {
            assert_eq!(first_byte(number), None, "page {number}");
        }
    }
}

//! Heap allocations that dropped machines leave for the next machine of the same thread.
//!
//! Hosts make and drop a fork per request. Its copied pages (4 KiB each) and its machine
//! (about 7.6 KB) are too large for glibc's fast caches of small allocations, and each slow
//! allocation consolidates the fastbins that small ones leave behind. Each pool has a cap per
//! thread, and all pools of the process together keep at most [`MAX_POOLED_BYTES`]: a proxy
//! may run thousands of worker threads, and each would otherwise keep what the largest fork
//! it dropped had written. A thread reserves its share of that cap as its pool first grows
//! and keeps it until it exits, so a request touches no counter shared between threads (six
//! atomic operations on one contended cache line per seed request before). Without `std` (no
//! thread-locals) nothing is kept: allocations are simply made and freed. Tenant calls keep
//! the buffers of their text arguments here too (`runtime::calls`), and forks the boxes of
//! their environments (`runtime::tenant`).

#[cfg(feature = "std")]
use alloc::boxed::Box;
#[cfg(feature = "std")]
use core::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// What the spare allocations of every pool and thread may add up to.
#[cfg(feature = "std")]
pub(crate) const MAX_POOLED_BYTES: usize = 16 << 20;

/// Bytes the pools of every thread have reserved: what they hold and may hold again.
#[cfg(feature = "std")]
static POOLED_BYTES: AtomicUsize = AtomicUsize::new(0);

/// What a pool keeps: an allocation of at most `BYTES` bytes, what each kept one reserves of
/// [`MAX_POOLED_BYTES`].
#[cfg(feature = "std")]
pub(crate) trait Spare {
    const BYTES: usize;
}

#[cfg(feature = "std")]
impl<T> Spare for Box<T> {
    const BYTES: usize = size_of::<T>();
}

#[cfg(feature = "std")]
pub(crate) type Pool<T> = std::thread::LocalKey<core::cell::RefCell<Spares<T>>>;

/// One thread's spare allocations of one pool, and how many it has reserved in the
/// process-wide count; the reservation leaves the count when the thread exits.
#[cfg(feature = "std")]
pub(crate) struct Spares<T: Spare> {
    spares: alloc::vec::Vec<T>,
    reserved: usize,
}

#[cfg(feature = "std")]
impl<T: Spare> Spares<T> {
    pub(crate) const fn new() -> Spares<T> {
        Spares {
            spares: alloc::vec::Vec::new(),
            reserved: 0,
        }
    }
}

#[cfg(feature = "std")]
impl<T: Spare> Drop for Spares<T> {
    fn drop(&mut self) {
        POOLED_BYTES.fetch_sub(self.reserved * T::BYTES, Relaxed);
    }
}

/// Declares a per-thread pool of spares: `spare_pool!(static NAME: Box<Type>);`.
#[cfg(feature = "std")]
macro_rules! spare_pool {
    (static $name:ident: $spare:ty) => {
        std::thread_local! {
            static $name: core::cell::RefCell<$crate::spare::Spares<$spare>> =
                const { core::cell::RefCell::new($crate::spare::Spares::new()) };
        }
    };
}

#[cfg(not(feature = "std"))]
// `fn() -> T` keeps the static `Sync` whatever `T` is.
pub(crate) struct Pool<T>(pub(crate) core::marker::PhantomData<fn() -> T>);

#[cfg(not(feature = "std"))]
macro_rules! spare_pool {
    (static $name:ident: $spare:ty) => {
        static $name: $crate::spare::Pool<$spare> = $crate::spare::Pool(core::marker::PhantomData);
    };
}

pub(crate) use spare_pool;

/// A spare allocation from `pool`, if any.
#[cfg(feature = "std")]
pub(crate) fn take<T: Spare>(pool: &'static Pool<T>) -> Option<T> {
    pool.try_with(|pool| pool.borrow_mut().spares.pop())
        .ok()
        .flatten()
}

/// Keeps `spare` in `pool` if it holds fewer than `max` and the pools of the process stay
/// within [`MAX_POOLED_BYTES`]; else frees it.
#[cfg(feature = "std")]
pub(crate) fn give<T: Spare>(pool: &'static Pool<T>, spare: T, max: usize) {
    drop(keep(pool, spare, max, |_| {}));
}

/// [`give`], with `prepare` run on `spare` only once the pool has room for it (a page is
/// zeroed only if it is kept zeroed); a spare the pool has no room for is handed back.
#[cfg(feature = "std")]
pub(crate) fn keep<T: Spare>(
    pool: &'static Pool<T>,
    spare: T,
    max: usize,
    prepare: impl FnOnce(&mut T),
) -> Option<T> {
    let bytes = T::BYTES;
    let mut spare = Some(spare);
    // During thread exit the pool may be gone already; the spare is then handed back.
    let _ = pool.try_with(|pool| {
        let mut pool = pool.borrow_mut();
        if pool.spares.len() >= max {
            return;
        }
        if pool.spares.len() == pool.reserved {
            if POOLED_BYTES.fetch_add(bytes, Relaxed) + bytes > MAX_POOLED_BYTES {
                POOLED_BYTES.fetch_sub(bytes, Relaxed);
                return;
            }
            pool.reserved += 1;
        }
        if let Some(mut kept) = spare.take() {
            prepare(&mut kept);
            pool.spares.push(kept);
        }
    });
    spare
}

/// Bytes the pools of every thread have reserved now.
#[cfg(all(test, feature = "std"))]
fn pooled_bytes() -> usize {
    POOLED_BYTES.load(Relaxed)
}

#[cfg(not(feature = "std"))]
pub(crate) fn take<T>(_pool: &'static Pool<T>) -> Option<T> {
    None
}

#[cfg(not(feature = "std"))]
pub(crate) fn keep<T>(
    _pool: &'static Pool<T>,
    spare: T,
    _max: usize,
    _prepare: impl FnOnce(&mut T),
) -> Option<T> {
    Some(spare)
}

#[cfg(not(feature = "std"))]
pub(crate) fn give<T>(_pool: &'static Pool<T>, _spare: T, _max: usize) {}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;

    const ITEM_BYTES: usize = 1 << 20;
    type Item = [u8; ITEM_BYTES];
    spare_pool!(static ITEMS: Box<Item>);

    fn item() -> Box<Item> {
        match vec![0u8; ITEM_BYTES].into_boxed_slice().try_into() {
            Ok(item) => item,
            Err(_) => unreachable!("an ITEM_BYTES-long slice converts to an item"),
        }
    }

    #[test]
    fn the_pools_of_all_threads_together_keep_at_most_the_process_wide_cap() {
        const THREADS: usize = 4;
        // Each thread offers twice its share of the cap, well under its own per-thread cap.
        let offered = 2 * MAX_POOLED_BYTES / ITEM_BYTES / THREADS;
        let all_given = std::sync::Barrier::new(THREADS + 1);
        let checked = std::sync::Barrier::new(THREADS + 1);
        let mut pooled_while_alive = 0;
        let kept: usize = std::thread::scope(|scope| {
            let threads: Vec<_> = (0..THREADS)
                .map(|_| {
                    scope.spawn(|| {
                        for _ in 0..offered {
                            give(&ITEMS, item(), 2 * offered);
                        }
                        let kept = ITEMS.with(|pool| pool.borrow().spares.len());
                        all_given.wait();
                        checked.wait();
                        kept
                    })
                })
                .collect();
            all_given.wait();
            // Asserted after the scope: a panic here would leave the threads at the barrier.
            pooled_while_alive = pooled_bytes();
            checked.wait();
            threads
                .into_iter()
                .map(|thread| thread.join().unwrap())
                .sum()
        });
        assert!(
            pooled_while_alive <= MAX_POOLED_BYTES,
            "{pooled_while_alive} bytes pooled"
        );
        assert!(kept > 0, "nothing was kept");
        assert!(
            kept * ITEM_BYTES <= MAX_POOLED_BYTES,
            "{kept} items of 1 MiB kept"
        );
        // The threads exited: what they kept left the count (other tests' pools hold far less).
        assert!(
            pooled_bytes() < MAX_POOLED_BYTES / 4,
            "{} bytes pooled",
            pooled_bytes()
        );
        // And a spare is taken back out.
        give(&ITEMS, item(), 1);
        assert!(take(&ITEMS).is_some());
    }

    #[test]
    fn a_thread_keeps_its_reservation_while_it_takes_and_gives_back() {
        std::thread::spawn(|| {
            let reserved = || ITEMS.with(|pool| pool.borrow().reserved);
            give(&ITEMS, item(), 2);
            assert_eq!(reserved(), 1);
            for _ in 0..3 {
                let spare = take(&ITEMS).expect("the spare given");
                assert_eq!(reserved(), 1, "taking keeps the reservation");
                give(&ITEMS, spare, 2);
                assert_eq!(reserved(), 1, "giving back reuses it");
            }
            give(&ITEMS, item(), 2);
            give(&ITEMS, item(), 2);
            assert_eq!(
                reserved(),
                2,
                "past the per-thread cap nothing more is reserved"
            );
        })
        .join()
        .unwrap();
    }
}

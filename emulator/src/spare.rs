//! Heap allocations that dropped machines leave for the next machine of the same thread.
//!
//! Hosts make and drop a fork per request. Its copied pages (4 KiB each) and its machine
//! (about 4.4 KB) are too large for glibc's fast caches of small allocations, and each slow
//! allocation consolidates the fastbins that small ones leave behind. Without `std` (no
//! thread-locals) nothing is kept: allocations are simply made and freed.

use alloc::boxed::Box;

#[cfg(feature = "std")]
pub(crate) type Pool<T> = std::thread::LocalKey<core::cell::RefCell<alloc::vec::Vec<Box<T>>>>;

/// Declares a per-thread pool of spare `Box<$spare>`: `spare_pool!(static NAME: Type);`.
#[cfg(feature = "std")]
macro_rules! spare_pool {
    (static $name:ident: $spare:ty) => {
        std::thread_local! {
            static $name: core::cell::RefCell<alloc::vec::Vec<alloc::boxed::Box<$spare>>> =
                const { core::cell::RefCell::new(alloc::vec::Vec::new()) };
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
pub(crate) fn take<T>(pool: &'static Pool<T>) -> Option<Box<T>> {
    pool.try_with(|spare| spare.borrow_mut().pop())
        .ok()
        .flatten()
}

/// Keeps `spare` in `pool` if it holds fewer than `max`; else frees it.
#[cfg(feature = "std")]
pub(crate) fn give<T>(pool: &'static Pool<T>, spare: Box<T>, max: usize) {
    // During thread exit the pool may be gone already; the allocation is then just freed.
    let _ = pool.try_with(|pool| {
        let mut pool = pool.borrow_mut();
        if pool.len() < max {
            pool.push(spare);
        }
    });
}

#[cfg(not(feature = "std"))]
pub(crate) fn take<T>(_pool: &'static Pool<T>) -> Option<Box<T>> {
    None
}

#[cfg(not(feature = "std"))]
#[expect(
    clippy::boxed_local,
    reason = "the same signature as with std, where the box is kept"
)]
pub(crate) fn give<T>(_pool: &'static Pool<T>, _spare: Box<T>, _max: usize) {}

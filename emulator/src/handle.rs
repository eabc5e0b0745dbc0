//! Counted handles to shared data, one per group of threads.
//!
//! Every machine made from a snapshot counts the program and the frozen memory it shares. With
//! one `Arc` each, every fork on every thread writes the same two counts, and the cache line
//! of each moves between the cores on each write: two threads forking one tenant took 1.2
//! times as long per request as one thread alone. A snapshot keeps eight handles to each
//! instead ([`Handles`]), and a machine made from it takes the ones its thread's number picks
//! (read once per machine): threads then write different counts.

use alloc::sync::Arc;
use core::fmt;
use core::ptr::NonNull;

/// Shared, immutable `T` through one of its handles: cloning writes the handle's count, and
/// reading the data costs one load, as through an `Arc` (the pointer is kept beside the
/// handle).
pub(crate) struct Shared<T> {
    handle: Arc<Handle<T>>,
    data: NonNull<T>,
}

/// A count of its own for data that other handles share, alone on its cache line.
#[repr(align(64))]
struct Handle<T>(Arc<T>);

impl<T> Shared<T> {
    pub(crate) fn new(data: T) -> Shared<T> {
        Shared::from_arc(Arc::new(data))
    }

    pub(crate) fn from_arc(data: Arc<T>) -> Shared<T> {
        let pointer = NonNull::from(&*data);
        Shared {
            handle: Arc::new(Handle(data)),
            data: pointer,
        }
    }

    /// The same data through a handle of its own.
    fn another(&self) -> Shared<T> {
        Shared::from_arc(Arc::clone(&self.handle.0))
    }

    pub(crate) fn arc(&self) -> &Arc<T> {
        &self.handle.0
    }
}

impl<T> Clone for Shared<T> {
    fn clone(&self) -> Shared<T> {
        Shared {
            handle: Arc::clone(&self.handle),
            data: self.data,
        }
    }
}

impl<T> core::ops::Deref for Shared<T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: `data` points into the `Arc<T>` that `handle` holds and never gives up
        // while `self` (which holds `handle`) lives; nothing mutates the data.
        unsafe { self.data.as_ref() }
    }
}

// SAFETY: a `Shared<T>` is an `Arc<T>` (through its handle) plus a pointer into it used only
// for shared reads: it may cross or be shared between threads when an `Arc<T>` may.
unsafe impl<T: Send + Sync> Send for Shared<T> {}
// SAFETY: as for `Send`.
unsafe impl<T: Send + Sync> Sync for Shared<T> {}

impl<T: fmt::Debug> fmt::Debug for Shared<T> {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, out)
    }
}

/// [`HANDLE_COPIES`] handles to the same data (cloning the set writes one count).
pub(crate) struct Handles<T>(Arc<[Shared<T>; HANDLE_COPIES]>);

/// Handles per snapshot: two busy threads share one in one case out of this many.
const HANDLE_COPIES: usize = 8;

/// Which of a snapshot's handles a thread takes: read once per machine, for all its parts.
#[derive(Clone, Copy)]
pub(crate) struct ThreadCopy(usize);

/// The calling thread's [`ThreadCopy`].
pub(crate) fn this_thread() -> ThreadCopy {
    ThreadCopy(thread_number() % HANDLE_COPIES)
}

impl<T> Handles<T> {
    /// `first` and handles of their own to the same data.
    pub(crate) fn of(first: &Shared<T>) -> Handles<T> {
        Handles(Arc::new(core::array::from_fn(|index| match index {
            0 => first.clone(),
            _ => first.another(),
        })))
    }

    /// The handle `copy` ([`this_thread`]).
    pub(crate) fn get(&self, copy: ThreadCopy) -> Shared<T> {
        self.0[copy.0].clone()
    }

    /// The data, through any handle.
    pub(crate) fn data(&self) -> &T {
        &self.0[0]
    }

    pub(crate) fn arc(&self) -> &Arc<T> {
        self.0[0].arc()
    }
}

impl<T> Clone for Handles<T> {
    fn clone(&self) -> Handles<T> {
        Handles(Arc::clone(&self.0))
    }
}

impl<T: fmt::Debug> fmt::Debug for Handles<T> {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.data(), out)
    }
}

/// A number of the calling thread, the same every time it asks: threads are numbered in the
/// order they first ask, so consecutive threads pick different handles. 0 without `std`.
fn thread_number() -> usize {
    #[cfg(feature = "std")]
    {
        use core::sync::atomic::{AtomicUsize, Ordering::Relaxed};
        static THREADS: AtomicUsize = AtomicUsize::new(0);
        std::thread_local! {
            static NUMBER: usize = THREADS.fetch_add(1, Relaxed);
        }
        NUMBER.try_with(|number| *number).unwrap_or(0)
    }
    #[cfg(not(feature = "std"))]
    0
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;

    #[test]
    fn threads_take_different_handles_to_the_same_data_and_keep_it_alive() {
        let handles = Handles::of(&Shared::new(String::from("program")));
        let taken: Vec<Shared<String>> = (0..3)
            .map(|_| {
                let handles = handles.clone();
                std::thread::spawn(move || handles.get(this_thread()))
                    .join()
                    .unwrap()
            })
            .collect();
        // Threads are numbered as they first ask, so threads started one after the other get
        // different handles (three, as other tests' threads may be numbered in between).
        assert!(
            !Arc::ptr_eq(&taken[0].handle, &taken[1].handle)
                || !Arc::ptr_eq(&taken[1].handle, &taken[2].handle)
        );
        assert!(taken
            .iter()
            .all(|shared| Arc::ptr_eq(shared.arc(), taken[0].arc())));
        // A thread keeps its handle; the set and what it counts are the same data.
        let mine = handles.get(this_thread());
        assert!(Arc::ptr_eq(
            &mine.handle,
            &handles.get(this_thread()).handle
        ));
        assert!(Arc::ptr_eq(mine.arc(), handles.arc()));
        drop(handles);
        drop(mine);
        assert_eq!(*taken[0], "program");
        assert_eq!(&*taken[1] as *const String, &*taken[0] as *const String);
    }
}

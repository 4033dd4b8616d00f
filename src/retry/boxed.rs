//! A rarely awaited future moved out of line.
//!
//! The poll function of an `async fn` holds every future it awaits, inlined,
//! with a drop path for each of its states: a large future on a branch a
//! success never takes (a spend budget's hold, the cache's lookup) still weighs
//! on the poll every call runs. Behind a `Box<dyn Future>` it is polled through
//! a vtable, so its state machine is compiled once, out of line, and allocated
//! only when the branch is taken.
//!
//! It is not free: each boxed await adds a vtable, a drop path and a poll of
//! its own (measured: about 100 bytes gzipped each), so only large futures on
//! rare branches are worth it (see bench/README.md, issue 25).

use std::future::Future;
use std::pin::Pin;

/// A future polled out of line: `future`, boxed and type-erased.
pub type Boxed<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// `future` behind a pointer and a vtable (see the module's note): await it
/// where the branch is rare and the future large.
pub fn boxed<'a, T>(future: impl Future<Output = T> + 'a) -> Boxed<'a, T> {
    Box::pin(future)
}

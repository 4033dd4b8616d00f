//! [`Shared`]: a `RefCell` whose borrows all panic from one place.
//!
//! `RefCell::borrow` and `borrow_mut` are `#[track_caller]`: each call site
//! keeps its own panic location (file, line, column) in the `.wasm`'s data,
//! for a panic that cannot happen (no borrow is held across an `.await` or a
//! call back into the same state). Borrowing through this wrapper, which
//! is not `#[track_caller]`, leaves one location for them all (issue 25).

use std::cell::{Ref, RefCell, RefMut};

/// A `RefCell<T>` whose borrow panics, if any, all name this file.
#[derive(Debug, Default)]
pub struct Shared<T>(RefCell<T>);

impl<T> Shared<T> {
    /// A cell holding `value`.
    pub const fn new(value: T) -> Self {
        Shared(RefCell::new(value))
    }

    /// Borrows the value (panics if it is mutably borrowed).
    #[inline]
    pub fn borrow(&self) -> Ref<'_, T> {
        self.0.borrow()
    }

    /// Borrows the value mutably (panics if it is borrowed).
    #[inline]
    pub fn borrow_mut(&self) -> RefMut<'_, T> {
        self.0.borrow_mut()
    }
}

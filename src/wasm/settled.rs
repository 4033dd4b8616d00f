//! A JavaScript promise awaited without making closures for it: its
//! settlement is written into a slot that one shared callback fills, and
//! the future polls that slot. A `JsFuture` makes two wasm-bindgen closures
//! per await (each a JS function registered for finalization); a call's
//! `fetch` is awaited once per attempt, on the success path too.
//!
//! The callbacks are attached by the awaiting call to its own promise (see
//! `settleInto` in js/request.js): no call waits on a promise another made.

use crate::shared::Shared;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/js/request.js")]
extern "C" {
    /// Calls `wake(id, fulfilled, value)` once `Promise.resolve(promise)` settles.
    #[wasm_bindgen(js_name = settleInto)]
    fn settle_into(promise: &JsValue, id: u32, wake: &JsValue);
}

enum Slot {
    /// Not settled yet: the waker of the latest poll.
    Waiting(Option<Waker>),
    /// Settled, not yet taken.
    Done(Result<JsValue, JsValue>),
    /// Its future was dropped before the promise settled: freed when it does.
    Dropped,
    /// Free for the next await.
    Free,
}

/// Every pending await's slot, and the free ones' indexes.
struct Slots {
    slots: Vec<Slot>,
    free: Vec<u32>,
    /// The one callback every promise settles into (`wake`).
    wake: JsValue,
}

impl Slots {
    fn take(&mut self) -> u32 {
        match self.free.pop() {
            Some(id) => {
                self.slots[id as usize] = Slot::Waiting(None);
                id
            }
            None => {
                self.slots.push(Slot::Waiting(None));
                (self.slots.len() - 1) as u32
            }
        }
    }

    fn release(&mut self, id: u32) {
        self.slots[id as usize] = Slot::Free;
        self.free.push(id);
    }
}

thread_local! {
    static SLOTS: Shared<Slots> = Shared::new(Slots {
        slots: Vec::new(),
        free: Vec::new(),
        wake: Closure::<dyn Fn(u32, bool, JsValue)>::new(wake).into_js_value(),
    });
}

fn wake(id: u32, fulfilled: bool, value: JsValue) {
    let waker = SLOTS.with(|s| {
        let mut s = s.borrow_mut();
        let s = &mut *s;
        let slot = s.slots.get_mut(id as usize)?;
        match std::mem::replace(slot, Slot::Free) {
            Slot::Waiting(waker) => {
                *slot = Slot::Done(if fulfilled { Ok(value) } else { Err(value) });
                waker
            }
            // Nobody waits: the value is dropped and the slot freed.
            Slot::Dropped => {
                s.free.push(id);
                None
            }
            // Settled twice cannot happen; keep what was there.
            other => {
                *slot = other;
                None
            }
        }
    });
    if let Some(waker) = waker {
        waker.wake();
    }
}

/// `promise` (any value, as `Promise.resolve` takes it) as a future of its
/// value or rejection reason.
pub struct Settled {
    id: u32,
    done: bool,
}

impl Settled {
    pub fn new(promise: &JsValue) -> Settled {
        let (id, wake) = SLOTS.with(|s| {
            let mut s = s.borrow_mut();
            (s.take(), s.wake.clone())
        });
        // No borrow is held: a thenable's `then` may run anything.
        settle_into(promise, id, &wake);
        Settled { id, done: false }
    }
}

impl Future for Settled {
    type Output = Result<JsValue, JsValue>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let id = self.id;
        let ready = SLOTS.with(|s| {
            let mut s = s.borrow_mut();
            let s = &mut *s;
            let slot = s.slots.get_mut(id as usize)?;
            if let Slot::Waiting(waker) = slot {
                // The waker of the latest poll is the one woken.
                if !waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                    *waker = Some(cx.waker().clone());
                }
                return None;
            }
            match std::mem::replace(slot, Slot::Free) {
                Slot::Done(result) => {
                    s.free.push(id);
                    Some(result)
                }
                other => {
                    *slot = other;
                    None
                }
            }
        });
        match ready {
            Some(result) => {
                self.done = true;
                Poll::Ready(result)
            }
            None => Poll::Pending,
        }
    }
}

impl Drop for Settled {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let id = self.id;
        SLOTS.with(|s| {
            let mut s = s.borrow_mut();
            match s.slots.get(id as usize) {
                Some(Slot::Done(_)) => s.release(id),
                Some(Slot::Waiting(_)) => s.slots[id as usize] = Slot::Dropped,
                _ => {}
            }
        });
    }
}

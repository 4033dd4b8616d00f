//! What one `createFetch()` instance shares across its calls: options,
//! counters, and the limiter state machines (bulkhead, throttle, retry
//! budget, quota breaker). Borrows are never held across an `await`.

use std::cell::{Cell, RefCell};

use js_sys::{Function, Promise};
use wasm_bindgen::JsValue;

use super::bindings::{make_error, Linked};
use super::clock::until_aborted;
use super::options::Config;
use crate::limits::breaker::QuotaBreaker;
use crate::limits::budget::RetryBudget;
use crate::limits::bulkhead::{Admission, Bulkhead};
use crate::limits::throttle::Throttle;
use crate::retry::engine::Budget;
use crate::stats::Stats;
use crate::{Classification, Headers};

/// A quota failure kept by the breaker, replayed to callers while it is open.
#[derive(Clone)]
pub struct Snapshot {
    /// The response's status.
    pub status: u16,
    /// Its headers.
    pub headers: Headers,
    /// The bounded prefix of its body that was read.
    pub body: String,
    /// What it meant.
    pub classification: Classification,
}

/// The limiter state machines.
pub struct Limiters {
    pub bulkhead: Bulkhead,
    pub throttle: Throttle,
    pub budget: Option<RetryBudget>,
    pub breaker: QuotaBreaker<Snapshot>,
}

/// One instance's state.
pub struct Shared {
    pub config: Config,
    pub stats: RefCell<Stats>,
    pub limiters: RefCell<Limiters>,
    /// Queued calls' wake-up functions, in ticket order.
    waiters: RefCell<Vec<(u64, Function)>>,
    next_ticket: Cell<u64>,
}

impl Shared {
    pub fn new(config: Config) -> Shared {
        let limiters = Limiters {
            bulkhead: Bulkhead::new(config.max_concurrency, config.max_queue),
            throttle: Throttle::new(),
            budget: config.retry_budget,
            breaker: QuotaBreaker::new(config.quota_cooldown_ms),
        };
        Shared {
            config,
            stats: RefCell::default(),
            limiters: RefCell::new(limiters),
            waiters: RefCell::default(),
            next_ticket: Cell::new(0),
        }
    }

    /// Waits for a concurrency slot (FIFO). Rejects with `QueueFullError`
    /// when the queue is full, or the abort reason if aborted while queued.
    pub async fn admit(&self, linked: &Linked) -> Result<Slot<'_>, JsValue> {
        let ticket = self.next_ticket.get();
        self.next_ticket.set(ticket + 1);
        let admission = self.limiters.borrow_mut().bulkhead.acquire(ticket);
        match admission {
            Admission::Run => Ok(Slot(self)),
            Admission::Rejected => Err(make_error(
                "queue_full",
                "ratewise: the concurrency queue is full (maxQueue)",
                &JsValue::UNDEFINED,
            )),
            Admission::Queued => {
                self.stats.borrow_mut().queued += 1;
                let woken = Promise::new(&mut |resolve, _reject| {
                    self.waiters.borrow_mut().push((ticket, resolve));
                });
                match until_aborted(woken, &linked.aborted()).await {
                    Ok(_) => Ok(Slot(self)),
                    Err(reason) => {
                        self.take_waiter(ticket);
                        let was_queued = self.limiters.borrow_mut().bulkhead.cancel(ticket);
                        if !was_queued {
                            // The slot was handed over as the abort fired: pass it on.
                            drop(Slot(self));
                        }
                        Err(reason)
                    }
                }
            }
        }
    }

    fn take_waiter(&self, ticket: u64) -> Option<Function> {
        let mut waiters = self.waiters.borrow_mut();
        let i = waiters.iter().position(|(t, _)| *t == ticket)?;
        Some(waiters.remove(i).1)
    }

    fn release(&self) {
        let next = self.limiters.borrow_mut().bulkhead.release();
        if let Some(resolve) = next.and_then(|t| self.take_waiter(t)) {
            let _ = resolve.call0(&JsValue::UNDEFINED);
        }
    }
}

/// A held concurrency slot; dropping it wakes the next queued call.
pub struct Slot<'a>(&'a Shared);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.0.release();
    }
}

/// The retry budget as the engine sees it, borrowed only inside each call.
pub struct SharedBudget<'a>(pub &'a Shared);

impl Budget for SharedBudget<'_> {
    fn try_spend(&mut self) -> bool {
        self.0
            .limiters
            .borrow_mut()
            .budget
            .as_mut()
            .is_none_or(RetryBudget::try_spend)
    }

    fn record_success(&mut self) {
        if let Some(budget) = self.0.limiters.borrow_mut().budget.as_mut() {
            budget.record_success();
        }
    }
}

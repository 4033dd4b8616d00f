//! A call's wait for a concurrency slot, decided in one place: the
//! [`bulkhead`](super::bulkhead)'s answer, unless the open quota breaker
//! would answer the call (it then needs no slot: an answer from the breaker
//! costs no network call, so it never waits behind `maxConcurrency`).
//!
//! A waiter learns that the breaker opened only when it polls: nobody
//! wakes it (in Workers, a promise resolved from another invocation is
//! cancelled as hung). So while the instance has heard no answer yet, the
//! moment an empty account is found, waiters poll at the pace of a call the
//! throttle holds for an answer ([`WATCH_MS`]) instead of the queue's
//! estimate of their turn, which for the last of 60 calls at
//! `maxConcurrency: 8` was a third of a second.

use super::bulkhead::Admission;
use super::lanes::Lane;
use super::routes::RouteKey;
use super::{Limiters, Ticket};

/// The shortest and longest pause between a waiter's polls while the
/// instance has heard no answer yet, ms: an eighth of the time waited so
/// far, within these bounds (the throttle's hold for an answer polls so).
pub const WATCH_MS: (f64, f64) = (2.0, 100.0);

/// Whether a call let out of the queue at `now_ms` has outlived its
/// deadline (ms since the epoch) while it waited: it then ends there,
/// having sent nothing. A call that did not wait is checked too: its
/// deadline counts from when it was made.
pub fn late(deadline_ms: Option<f64>, now_ms: f64) -> bool {
    deadline_ms.is_some_and(|d| now_ms >= d)
}

impl<S: Clone> Limiters<S> {
    /// A call in `lane` whose routes have `keys` arrives at `now_ms`: its
    /// ticket, and whether it may run, must poll again later, or is turned
    /// away. A call the open breaker would answer runs at once, whatever
    /// the queue. Every ticket must be handed to
    /// [`leave`](Limiters::leave) when the call ends, however it ends.
    pub fn arrive(&mut self, lane: Lane, keys: &[RouteKey], now_ms: f64) -> (Ticket, Admission) {
        let (ticket, admission) = self.enter_in(lane, now_ms);
        (ticket, self.watch(ticket, keys, admission, now_ms, now_ms))
    }

    /// Whether call `ticket` (whose routes have `keys`, waiting since
    /// `since_ms`) may run at `now_ms`, or how long to sleep before asking
    /// again (see the module's notes).
    pub fn wait(
        &mut self,
        ticket: Ticket,
        keys: &[RouteKey],
        since_ms: f64,
        now_ms: f64,
    ) -> Admission {
        let admission = self.poll(ticket, now_ms);
        self.watch(ticket, keys, admission, since_ms, now_ms)
    }

    /// The bulkhead's `admission` of a waiting call, overridden by the
    /// breaker: a call it would answer leaves the queue; one that waits
    /// polls sooner while no answer was heard yet.
    fn watch(
        &mut self,
        ticket: Ticket,
        keys: &[RouteKey],
        admission: Admission,
        since_ms: f64,
        now_ms: f64,
    ) -> Admission {
        let Admission::Wait { ms } = admission else {
            return admission;
        };
        if self.answered_by_breaker(keys, now_ms) {
            self.skip_queue(ticket, now_ms);
            return Admission::Run;
        }
        if self.heard {
            return admission;
        }
        let watch = ((now_ms - since_ms).max(0.0) / 8.0).clamp(WATCH_MS.0, WATCH_MS.1);
        Admission::Wait {
            ms: ms.min(watch as u64),
        }
    }
}

#[cfg(test)]
mod late_tests {
    use super::late;

    #[test]
    fn a_call_out_of_the_queue_at_or_past_its_deadline_is_late() {
        assert!(!late(None, 1e15));
        assert!(!late(Some(1_000.0), 999.0));
        assert!(late(Some(1_000.0), 1_000.0));
        assert!(late(Some(1_000.0), 1_001.0));
    }
}

//! A concurrency limit with a bounded queue in two lanes: at most
//! `max_concurrency` requests in flight, the next `max_queue` waiting, the
//! rest turned away. Waiters stand in a [`Line`]: served interactive first,
//! then bulk, each lane in arrival order ([`Lane`]).
//!
//! Nobody is ever woken by another caller. A freed slot is granted to the
//! first waiting ticket here, in the books, and each waiter finds out by
//! polling with its own timer: in Workers, a promise resolved from another
//! invocation's context never wakes the waiter (workerd cancels it as hung).
//! Slots are leases: one held past [`SLOT_LEASE_MS`] is presumed lost (its
//! caller's invocation was cancelled mid-request) and handed on.

use super::lanes::Lane;
use super::line::Line;
use crate::time::Ms;

/// How long a slot may be held before it is presumed lost, ms (10 min,
/// OpenAI's own client timeout).
pub const SLOT_LEASE_MS: f64 = 600_000.0;
/// The shortest and longest pause between a waiter's polls, ms.
pub const POLL_MS: (f64, f64) = (2.0, 1_000.0);
/// The hold time assumed before any slot was released, ms.
const INITIAL_HOLD_MS: f64 = 100.0;

/// What [`Bulkhead::acquire`] and [`Bulkhead::poll`] decided for a caller.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Admission {
    /// The ticket holds a slot: send now, and [`Bulkhead::release`] it when done.
    Run,
    /// All slots are busy: poll again after `ms`, or give up with
    /// [`Bulkhead::release`].
    Wait {
        /// How long to sleep before the next poll.
        ms: u64,
    },
    /// The queue is full too (or the ticket is unknown): fail at once.
    Rejected,
}

/// Counts requests in flight and queues tickets for the next free slot.
#[derive(Debug, Clone)]
pub struct Bulkhead {
    max_concurrency: usize,
    max_queue: usize,
    /// Tickets holding a slot and since when (granted at once, or found by
    /// polling), in ticket order (which is not the order they were taken:
    /// an interactive waiter overtakes bulk ones).
    running: Vec<(u64, f64)>,
    /// Tickets waiting, interactive first, each lane in arrival (and
    /// ticket) order.
    queue: Line,
    /// A moving average of how long a slot is held, ms.
    hold_ms: f64,
    /// No slot was taken before this, ms (a lower bound: see [`Self::expire`]).
    oldest_since: f64,
}

impl Bulkhead {
    /// A bulkhead that runs `max_concurrency` requests at once and queues up
    /// to `max_queue` more. `usize::MAX` means unlimited. A concurrency of 0
    /// is treated as 1, since a bulkhead that runs nothing would only ever
    /// queue callers that never run.
    pub fn new(max_concurrency: usize, max_queue: usize) -> Self {
        Bulkhead {
            max_concurrency: max_concurrency.max(1),
            max_queue,
            running: Vec::new(),
            queue: Line::default(),
            hold_ms: INITIAL_HOLD_MS,
            oldest_since: f64::INFINITY,
        }
    }

    /// Asks for a slot for an interactive `ticket` at `now_ms` (see
    /// [`acquire_in`](Self::acquire_in)).
    pub fn acquire(&mut self, ticket: u64, now_ms: f64) -> Admission {
        self.acquire_in(ticket, Lane::Interactive, now_ms)
    }

    /// Asks for a slot for `ticket` in `lane` at `now_ms`. Tickets must
    /// increase from call to call. Queued callers keep their place: a
    /// newcomer never overtakes a waiter of its own lane or a higher one.
    pub fn acquire_in(&mut self, ticket: u64, lane: Lane, now_ms: f64) -> Admission {
        self.expire(now_ms);
        if self.running.len() < self.max_concurrency && self.queued() == 0 {
            self.take(ticket, now_ms);
            Admission::Run
        } else if self.queued() < self.max_queue {
            self.queue.join(ticket, lane, now_ms, now_ms);
            self.poll(ticket, now_ms)
        } else {
            Admission::Rejected
        }
    }

    /// Whether a queued `ticket` has been granted a slot; if not, how long
    /// to sleep before asking again: half the expected wait (its place in
    /// line times the average hold, shared among the slots), within
    /// [`POLL_MS`].
    pub fn poll(&mut self, ticket: u64, now_ms: f64) -> Admission {
        self.expire(now_ms);
        if let Ok(i) = self.running.binary_search_by_key(&ticket, |r| r.0) {
            // The slot is held from now, when its waiter takes it: the time it
            // sat granted until this poll is not how long a call holds a slot,
            // and counted as such it would lengthen every later wait estimate,
            // so waiters would sleep past their grants, which would lengthen
            // the estimate again.
            self.running[i].1 = now_ms;
            return Admission::Run;
        }
        let Some(place) = self.queue.place(ticket) else {
            return Admission::Rejected;
        };
        let expected = (place + 1) as f64 * self.hold_ms / self.max_concurrency.min(1 << 20) as f64;
        let ms = (expected / 2.0).clamp(POLL_MS.0, POLL_MS.1);
        Admission::Wait { ms: ms as u64 }
    }

    /// Ends `ticket`'s claim at `now_ms`: frees its slot (granting it to the
    /// first waiter), or takes it out of the queue. Unknown tickets are
    /// ignored, so releasing twice is harmless.
    pub fn release(&mut self, ticket: u64, now_ms: f64) {
        if self.queue.leave(ticket).is_some() {
            return;
        }
        if let Ok(i) = self.running.binary_search_by_key(&ticket, |r| r.0) {
            let (_, since) = self.running.remove(i);
            if let Some(held) = Ms::real(now_ms - since) {
                self.hold_ms = 0.8 * self.hold_ms + 0.2 * held.get();
            }
            self.grant(now_ms);
        }
    }

    /// Slots held past their lease are presumed lost and handed on. The
    /// slots are kept in ticket order, not in the order they were taken, so
    /// they are scanned, but only once the oldest may have expired.
    fn expire(&mut self, now_ms: f64) {
        if now_ms - self.oldest_since >= SLOT_LEASE_MS {
            self.running
                .retain(|&(_, since)| now_ms - since < SLOT_LEASE_MS);
            self.oldest_since = self
                .running
                .iter()
                .map(|r| r.1)
                .fold(f64::INFINITY, f64::min);
        }
        self.grant(now_ms);
    }

    /// `ticket` takes a slot at `now_ms`, in ticket order.
    fn take(&mut self, ticket: u64, now_ms: f64) {
        let at = self.running.partition_point(|r| r.0 < ticket);
        self.running.insert(at, (ticket, now_ms));
        self.oldest_since = self.oldest_since.min(now_ms);
    }

    /// Hands free slots to the first waiters, interactive before bulk.
    /// `running` stays in ticket order, as [`poll`](Self::poll) searches it.
    fn grant(&mut self, now_ms: f64) {
        while self.running.len() < self.max_concurrency {
            let Some(next) = self.queue.serve() else {
                break;
            };
            self.take(next.ticket, now_ms);
        }
    }

    /// Requests holding a slot.
    pub fn in_flight(&self) -> usize {
        self.running.len()
    }

    /// Tickets waiting for a slot.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Admission::*;

    fn waits(a: Admission) -> bool {
        matches!(a, Wait { .. })
    }

    #[test]
    fn runs_up_to_the_limit_then_queues_then_rejects() {
        let mut b = Bulkhead::new(2, 1);
        assert_eq!([b.acquire(1, 0.0), b.acquire(2, 0.0)], [Run, Run]);
        assert!(waits(b.acquire(3, 0.0)));
        assert_eq!(b.acquire(4, 0.0), Rejected);
        assert_eq!((b.in_flight(), b.queued()), (2, 1));
    }

    #[test]
    fn slots_are_granted_in_the_books_and_found_by_polling() {
        let mut b = Bulkhead::new(1, 10);
        assert_eq!(b.acquire(1, 0.0), Run);
        for t in 2..=4 {
            assert!(waits(b.acquire(t, 0.0)));
        }
        b.release(1, 10.0);
        assert_eq!(b.poll(2, 10.0), Run, "the first waiter holds the slot now");
        assert!(waits(b.poll(3, 10.0)));
        assert!(waits(b.acquire(5, 10.0)), "no overtaking while others wait");
        b.release(2, 20.0);
        b.release(3, 20.0); // never ran: it was granted, then gives it back
        assert_eq!(b.poll(4, 20.0), Run);
        b.release(4, 30.0);
        assert_eq!(b.poll(5, 30.0), Run);
        b.release(5, 30.0);
        assert_eq!((b.in_flight(), b.queued()), (0, 0));
        b.release(5, 30.0);
        assert_eq!(b.in_flight(), 0, "a stray release is ignored");
        assert_eq!(b.poll(9, 30.0), Rejected, "unknown ticket");
    }

    #[test]
    fn interactive_waiters_overtake_bulk_ones_and_each_lane_keeps_its_order() {
        let mut b = Bulkhead::new(1, 10);
        assert_eq!(b.acquire(1, 0.0), Run);
        for t in 2..=3 {
            assert!(waits(b.acquire_in(t, Lane::Bulk, 0.0)));
        }
        for t in 4..=5 {
            assert!(waits(b.acquire_in(t, Lane::Interactive, 0.0)));
        }
        let (Wait { ms: first }, Wait { ms: bulk }) = (b.poll(4, 0.0), b.poll(2, 0.0)) else {
            panic!("both wait");
        };
        assert!(
            first < bulk,
            "the interactive waiter expects its slot sooner"
        );
        let mut order = Vec::new();
        let mut running = 1;
        for now in 1..=4 {
            b.release(running, f64::from(now));
            running = (2..=5).find(|&t| b.poll(t, f64::from(now)) == Run).unwrap();
            order.push(running);
        }
        assert_eq!(order, [4, 5, 2, 3]);
        assert_eq!((b.in_flight(), b.queued()), (1, 0));
    }

    #[test]
    fn max_queue_counts_both_lanes_and_a_grant_out_of_ticket_order_is_found() {
        let mut b = Bulkhead::new(2, 2);
        assert_eq!([b.acquire(1, 0.0), b.acquire(2, 0.0)], [Run, Run]);
        assert!(waits(b.acquire_in(3, Lane::Bulk, 0.0)));
        assert!(waits(b.acquire_in(4, Lane::Interactive, 0.0)));
        assert_eq!(b.acquire_in(5, Lane::Interactive, 0.0), Rejected);
        b.release(2, 1.0);
        assert_eq!(b.poll(4, 1.0), Run, "ticket 4 runs before ticket 3");
        b.release(1, 2.0);
        assert_eq!(b.poll(3, 2.0), Run);
        assert_eq!(b.poll(4, 2.0), Run, "still found among the running");
        b.release(3, 3.0);
        b.release(4, 3.0);
        assert_eq!((b.in_flight(), b.queued()), (0, 0));
    }

    #[test]
    fn release_takes_a_waiter_out_of_the_queue() {
        let mut b = Bulkhead::new(1, 2);
        b.acquire(1, 0.0);
        b.acquire(2, 0.0);
        b.acquire(3, 0.0);
        b.release(2, 1.0);
        assert_eq!(b.poll(2, 1.0), Rejected, "gone");
        assert!(waits(b.acquire(4, 1.0)), "the place is free again");
        b.release(1, 2.0);
        assert_eq!(b.poll(3, 2.0), Run);
        assert!(waits(b.poll(4, 2.0)));
    }

    #[test]
    fn polls_come_sooner_near_the_front_and_stay_in_bounds() {
        let mut b = Bulkhead::new(2, usize::MAX);
        b.acquire(0, 0.0);
        b.acquire(1, 0.0);
        for t in 2..2_000 {
            b.acquire(t, 0.0);
        }
        let ms = |b: &mut Bulkhead, t| match b.poll(t, 0.0) {
            Wait { ms } => ms,
            other => panic!("{other:?}"),
        };
        // Hold 100 ms over 2 slots: the first waiter expects 50 ms, polls at 25.
        assert_eq!(ms(&mut b, 2), 25);
        assert!(ms(&mut b, 50) > ms(&mut b, 10));
        assert_eq!(ms(&mut b, 1_999), 1_000, "capped");
        // Fast turnover brings the polls down to the floor.
        for t in 0..20 {
            b.release(t, 0.0);
        }
        assert_eq!(ms(&mut b, 22), 2);
    }

    #[test]
    fn a_grant_found_late_does_not_lengthen_the_next_waits() {
        // Every call holds its slot 10 ms, and every waiter finds its grant
        // 500 ms after it was made.
        let mut b = Bulkhead::new(1, usize::MAX);
        assert_eq!(b.acquire(0, 0.0), Run);
        for t in 1..=40 {
            assert!(waits(b.acquire(t, 0.0)));
        }
        let mut now = 0.0;
        for t in 0..39 {
            now += 10.0;
            b.release(t, now);
            now += 500.0;
            assert_eq!(b.poll(t + 1, now), Run);
        }
        // Counted from the grant, a slot would seem held 510 ms, and the
        // next waiter would sleep 255 ms past its grant, then the next longer.
        match b.poll(40, now) {
            Wait { ms } => assert!(ms <= 10, "polls after {ms} ms"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_slot_held_past_its_lease_is_handed_on() {
        let mut b = Bulkhead::new(1, 1);
        assert_eq!(b.acquire(1, 0.0), Run);
        assert!(waits(b.acquire(2, 0.0)));
        assert!(waits(b.poll(2, SLOT_LEASE_MS - 1.0)));
        // Ticket 1's invocation was cancelled and never released.
        assert_eq!(b.poll(2, SLOT_LEASE_MS), Run);
        b.release(1, SLOT_LEASE_MS + 1.0);
        assert_eq!(
            b.in_flight(),
            1,
            "a late release of a lost lease frees nothing"
        );
    }

    #[test]
    fn a_lost_lease_expires_when_a_later_grant_holds_a_lower_ticket() {
        let mut b = Bulkhead::new(2, 10);
        assert_eq!([b.acquire(1, 0.0), b.acquire(2, 0.0)], [Run, Run]);
        assert!(waits(b.acquire_in(3, Lane::Bulk, 0.0)));
        assert!(waits(b.acquire_in(4, Lane::Interactive, 0.0)));
        b.release(1, 100.0); // ticket 4 takes it at 100
        b.release(2, 500.0); // ticket 3 at 500: the slots in ticket order are 3, then 4
        assert!(waits(b.acquire(5, 500.0)));
        // Ticket 4's invocation was cancelled: its lease ends first, though it is not first in order.
        assert!(waits(b.poll(5, 100.0 + SLOT_LEASE_MS - 1.0)));
        assert_eq!(b.poll(5, 100.0 + SLOT_LEASE_MS), Run);
        assert_eq!(
            b.poll(3, 100.0 + SLOT_LEASE_MS),
            Run,
            "ticket 3 keeps its slot"
        );
    }

    #[test]
    fn zero_concurrency_is_one_and_max_is_unlimited() {
        let mut b = Bulkhead::new(0, 0);
        assert_eq!([b.acquire(1, 0.0), b.acquire(2, 0.0)], [Run, Rejected]);
        let mut b = Bulkhead::new(usize::MAX, 0);
        assert!((0..10_000).all(|t| b.acquire(t, 0.0) == Run));
        assert!((0..10_000).rev().all(|t| {
            b.release(t, 1.0);
            true
        }));
        assert_eq!(b.in_flight(), 0);
    }

    #[cfg(not(target_arch = "wasm32"))]
    mod model {
        use super::*;
        use proptest::prelude::*;
        use std::collections::VecDeque;

        #[derive(Debug, Clone)]
        enum Op {
            Acquire,
            Release(u64),
        }

        fn op() -> impl Strategy<Value = Op> {
            prop_oneof![Just(Op::Acquire), (0..40u64).prop_map(Op::Release)]
        }

        proptest! {
            /// Against a simple model: never more than the limit in flight,
            /// never more than the bound queued, and grants in FIFO order.
            #[test]
            fn matches_the_model(max in 1..4usize, queue in 0..4usize, ops in prop::collection::vec(op(), 0..40)) {
                let mut b = Bulkhead::new(max, queue);
                let (mut running, mut waiting) = (Vec::new(), VecDeque::new());
                for (ticket, op) in (0u64..).zip(ops) {
                    match op {
                        Op::Acquire => match b.acquire(ticket, 0.0) {
                            Run => {
                                prop_assert!(running.len() < max && waiting.is_empty());
                                running.push(ticket);
                            }
                            Wait { .. } => {
                                prop_assert_eq!(running.len(), max);
                                waiting.push_back(ticket);
                            }
                            Rejected => prop_assert!(running.len() == max && waiting.len() == queue),
                        },
                        Op::Release(t) => {
                            b.release(t, 0.0);
                            if let Some(i) = running.iter().position(|&r| r == t) {
                                running.remove(i);
                                if let Some(next) = waiting.pop_front() {
                                    running.push(next);
                                }
                            } else {
                                waiting.retain(|&w| w != t);
                            }
                        }
                    }
                    for &t in &running {
                        prop_assert_eq!(b.poll(t, 0.0), Run);
                    }
                    for &t in &waiting {
                        prop_assert!(waits(b.poll(t, 0.0)));
                    }
                    prop_assert_eq!((b.in_flight(), b.queued()), (running.len(), waiting.len()));
                }
            }
        }
    }
}

//! A concurrency limit with a bounded FIFO queue: at most `max_concurrency`
//! requests in flight, the next `max_queue` waiting in arrival order, the
//! rest turned away. The caller owns the waiting; this only keeps the books.

use std::collections::VecDeque;

/// What [`Bulkhead::acquire`] decided for a caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// A slot was free: send now, and call [`Bulkhead::release`] when done.
    Run,
    /// All slots are busy: wait until [`Bulkhead::release`] returns this
    /// ticket (the slot is then yours), or give up with [`Bulkhead::cancel`].
    Queued,
    /// The queue is full too: fail at once.
    Rejected,
}

/// Counts requests in flight and queues tickets for the next free slot.
#[derive(Debug, Clone)]
pub struct Bulkhead {
    max_concurrency: usize,
    max_queue: usize,
    in_flight: usize,
    queue: VecDeque<u64>,
}

impl Bulkhead {
    /// A bulkhead that runs `max_concurrency` requests at once and queues up
    /// to `max_queue` more. `usize::MAX` means unlimited. A concurrency of 0
    /// is treated as 1, since a bulkhead that runs nothing would only ever
    /// queue callers that never wake.
    pub fn new(max_concurrency: usize, max_queue: usize) -> Self {
        Bulkhead {
            max_concurrency: max_concurrency.max(1),
            max_queue,
            in_flight: 0,
            queue: VecDeque::new(),
        }
    }

    /// Asks for a slot for `ticket`, a number the caller picks to recognise
    /// itself when it is woken; tickets should be unique among waiters.
    /// Queued callers keep their place: a newcomer never overtakes them.
    pub fn acquire(&mut self, ticket: u64) -> Admission {
        if self.in_flight < self.max_concurrency && self.queue.is_empty() {
            self.in_flight += 1;
            Admission::Run
        } else if self.queue.len() < self.max_queue {
            self.queue.push_back(ticket);
            Admission::Queued
        } else {
            Admission::Rejected
        }
    }

    /// Frees the caller's slot. If anyone is queued, the slot passes straight
    /// to the front ticket, which is returned so the caller can wake it; that
    /// ticket now holds the slot and must `release` it in turn, even if it
    /// no longer wants to run. A release with nothing in flight is ignored.
    pub fn release(&mut self) -> Option<u64> {
        if self.in_flight == 0 {
            return None;
        }
        let next = self.queue.pop_front();
        if next.is_none() {
            self.in_flight -= 1;
        }
        next
    }

    /// Removes a queued `ticket` (its caller aborted). `false` if it was not
    /// queued, for example because it was already handed a slot.
    pub fn cancel(&mut self, ticket: u64) -> bool {
        match self.queue.iter().position(|&t| t == ticket) {
            Some(i) => self.queue.remove(i).is_some(),
            None => false,
        }
    }

    /// Requests holding a slot.
    pub fn in_flight(&self) -> usize {
        self.in_flight
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

    #[test]
    fn runs_up_to_the_limit_then_queues_then_rejects() {
        let mut b = Bulkhead::new(2, 1);
        assert_eq!([b.acquire(1), b.acquire(2)], [Run, Run]);
        assert_eq!(b.acquire(3), Queued);
        assert_eq!(b.acquire(4), Rejected);
        assert_eq!((b.in_flight(), b.queued()), (2, 1));
    }

    #[test]
    fn slots_pass_to_waiters_in_arrival_order() {
        let mut b = Bulkhead::new(1, 10);
        assert_eq!(b.acquire(1), Run);
        for t in 2..=4 {
            assert_eq!(b.acquire(t), Queued);
        }
        assert_eq!(b.release(), Some(2));
        assert_eq!(b.acquire(5), Queued, "no overtaking while others wait");
        assert_eq!(b.release(), Some(3));
        assert_eq!(b.release(), Some(4));
        assert_eq!(b.release(), Some(5));
        assert_eq!(b.in_flight(), 1, "the slot was handed over, not freed");
        assert_eq!(b.release(), None);
        assert_eq!((b.in_flight(), b.queued()), (0, 0));
        assert_eq!(b.release(), None, "a stray release is ignored");
        assert_eq!(b.in_flight(), 0);
    }

    #[test]
    fn cancel_removes_only_queued_tickets() {
        let mut b = Bulkhead::new(1, 2);
        b.acquire(1);
        b.acquire(2);
        b.acquire(3);
        assert!(b.cancel(2));
        assert!(!b.cancel(2), "already gone");
        assert!(!b.cancel(1), "running, not queued");
        assert_eq!(b.acquire(4), Queued, "the cancelled place is free again");
        assert_eq!(b.release(), Some(3));
        assert_eq!(b.release(), Some(4));
    }

    #[test]
    fn zero_concurrency_is_one_and_max_is_unlimited() {
        let mut b = Bulkhead::new(0, 0);
        assert_eq!([b.acquire(1), b.acquire(2)], [Run, Rejected]);
        let mut b = Bulkhead::new(usize::MAX, 0);
        assert!((0..10_000).all(|t| b.acquire(t) == Run));
    }

    #[cfg(not(target_arch = "wasm32"))]
    mod model {
        use super::*;
        use proptest::prelude::*;

        #[derive(Debug, Clone)]
        enum Op {
            Acquire,
            Release,
            Cancel(u64),
        }

        fn op() -> impl Strategy<Value = Op> {
            prop_oneof![
                Just(Op::Acquire),
                Just(Op::Release),
                (0..40u64).prop_map(Op::Cancel)
            ]
        }

        proptest! {
            /// Against a simple model: never more than the limit in flight,
            /// never more than the bound queued, and wake-ups in FIFO order.
            #[test]
            fn matches_the_model(max in 1..4usize, queue in 0..4usize, ops in prop::collection::vec(op(), 0..40)) {
                let mut b = Bulkhead::new(max, queue);
                let (mut running, mut waiting) = (0usize, VecDeque::new());
                for (ticket, op) in (0u64..).zip(ops) {
                    match op {
                        Op::Acquire => match b.acquire(ticket) {
                            Run => {
                                prop_assert!(running < max && waiting.is_empty());
                                running += 1;
                            }
                            Queued => {
                                prop_assert_eq!(running, max);
                                waiting.push_back(ticket);
                            }
                            Rejected => prop_assert!(running == max && waiting.len() == queue),
                        },
                        Op::Release if running > 0 => {
                            let woken = b.release();
                            prop_assert_eq!(woken, waiting.pop_front());
                            if woken.is_none() {
                                running -= 1;
                            }
                        }
                        Op::Release => prop_assert_eq!(b.release(), None),
                        Op::Cancel(t) => {
                            let was_waiting = waiting.iter().position(|&w| w == t);
                            prop_assert_eq!(b.cancel(t), was_waiting.is_some());
                            waiting.retain(|&w| w != t);
                        }
                    }
                    prop_assert!(running <= max && waiting.len() <= queue);
                    prop_assert_eq!((b.in_flight(), b.queued()), (running, waiting.len()));
                }
            }
        }
    }
}

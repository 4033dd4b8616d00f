//! Permits booked ahead: when no slot of a key is free now, the
//! coordinator finds the first moment its books free one (a run or placed
//! permit leaving, a whole refill, a report's reset), within
//! [`AHEAD_MS`], and books the asker's permits there
//! ([`Grant::Later`](crate::limits::lease::Grant::Later)). Without it, each
//! waiting instance is told to wait until then and asks again: they all ask
//! at once, one gets the slots, and the others wait and ask again (a
//! Redis compare-and-set lost, a round trip more each). Booked ahead, every
//! ask is answered once, in the order the asks came.
//!
//! The books are looked at as they will be then, by the same rules that
//! settle them now ([`Ledger::settle`], [`Ledger::room`]), on a copy. A
//! permit booked ahead is counted as held from the moment it is booked, so
//! the books are no less strict for it.

use super::ledger::Ledger;
use crate::limits::lease::AHEAD_MS;

/// The most moments looked at before the answer is a wait.
const MAX_STEPS: usize = 64;

impl Ledger {
    /// The first moment after `now_ms` (the books settled to it), no more
    /// than [`AHEAD_MS`] away, at which a slot is free under `limit`, and
    /// how many are then; `next_ms` is when the books next free one.
    pub(super) fn first_free(&self, limit: f64, now_ms: f64, next_ms: f64) -> Option<(f64, f64)> {
        let mut books = self.clone();
        let mut at = now_ms + next_ms.max(1.0);
        for _ in 0..MAX_STEPS {
            if at - now_ms > AHEAD_MS || at.is_nan() {
                return None;
            }
            books.settle(at);
            let (free, next_ms) = books.room(limit, at);
            if free >= 1.0 {
                return Some((at, free));
            }
            at += next_ms.max(1.0);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::lease::wire::tests::report;
    use crate::limits::lease::{Grant, Report, LEASE_TTL_MS};
    use crate::limits::throttle::Refill;

    /// A key of 10 per 1 s whose ten slots were all granted at 6.
    fn full() -> Ledger {
        let mut l = Ledger::default();
        assert_eq!(l.lease(1, 0.0), Grant::Permits(1));
        // The cold request, sent at 0, answered at 5: its slot frees a
        // window after its answer, at 1 005.
        l.report(Report {
            sent_at_ms: Some(0.0),
            ..report(10.0, 9.0, 1_000.0, 5.0)
        });
        assert_eq!(l.lease_ahead(8, 6.0), Grant::Permits(8));
        assert_eq!(l.lease_ahead(8, 6.0), Grant::Permits(1));
        l
    }

    #[test]
    fn with_no_slot_free_the_permits_are_booked_where_one_frees_not_answered_a_wait() {
        let mut l = full();
        // The old answer: wait, then ask again.
        assert!(matches!(l.clone().lease(8, 10.0), Grant::Wait(_)));
        // The cold start's slot frees at 1 005; the nine granted at 6 a
        // window and the permits' way there after, at 1 106.
        let hold = 1_000.0 + LEASE_TTL_MS;
        assert_eq!(
            l.lease_ahead(8, 10.0),
            Grant::Later {
                permits: 1,
                in_ms: 1_005.0 - 10.0
            }
        );
        // The next asker is not booked on the same slot: the nine at 6.
        assert_eq!(
            l.lease_ahead(8, 11.0),
            Grant::Later {
                permits: 8,
                in_ms: 6.0 + hold - 11.0
            }
        );
        assert_eq!(
            l.lease_ahead(8, 12.0),
            Grant::Later {
                permits: 1,
                in_ms: 6.0 + hold - 12.0
            }
        );
        // Every slot of that window is booked: the next frees a window
        // after the first booking ahead, at 2 105.
        assert_eq!(
            l.lease_ahead(8, 13.0),
            Grant::Later {
                permits: 1,
                in_ms: 1_005.0 + hold - 13.0
            }
        );
    }

    #[test]
    fn permits_booked_ahead_keep_every_window_within_the_limit() {
        let mut l = Ledger::default();
        assert_eq!(l.lease(1, 0.0), Grant::Permits(1));
        l.report(report(10.0, 9.0, 1_000.0, 5.0));
        // Asking flat out for 5 s, each answer booked where it says.
        let mut sends = vec![0.0];
        for t in 6..5_000 {
            let t = f64::from(t);
            match l.lease_ahead(3, t) {
                Grant::Permits(n) => sends.extend(std::iter::repeat_n(t, n as usize)),
                Grant::Later { permits, in_ms } => {
                    sends.extend(std::iter::repeat_n(t + in_ms, permits as usize))
                }
                Grant::Wait(_) => {}
            }
        }
        sends.sort_by(f64::total_cmp);
        for (i, &at) in sends.iter().enumerate() {
            let inside = sends[i..].iter().filter(|&&g| g < at + 1_000.0).count();
            assert!(inside <= 10, "{inside} sends within 1 s of {at}");
        }
        assert!(sends.len() >= 40, "{} sends", sends.len());
    }

    #[test]
    fn a_whole_refill_is_where_permits_are_booked_ahead() {
        // A window learned to refill whole at 2 060 (freeing.rs's tests).
        let mut l = Ledger::default();
        assert_eq!(l.lease(1, 0.0), Grant::Permits(1));
        let answered = |remaining, reset_at, sent: f64| Report {
            sent_at_ms: Some(sent),
            observed_at_ms: sent + 30.0,
            refill: Refill::AtReset,
            ..report(10.0, remaining, reset_at - sent - 30.0, sent + 30.0)
        };
        l.report(answered(9.0, 1_030.0, 0.0));
        assert_eq!(l.lease(8, 600.0), Grant::Permits(8));
        assert_eq!(l.lease(8, 601.0), Grant::Permits(1));
        for (i, sent) in [610.0, 611.0, 612.0].into_iter().enumerate() {
            l.report(answered(8.0 - i as f64, 1_030.0, sent));
        }
        assert_eq!(l.lease(8, 1_030.0), Grant::Permits(1));
        l.report(answered(9.0, 2_060.0, 1_030.0));
        assert!(l.whole);
        assert_eq!(l.lease(8, 1_643.0), Grant::Permits(3));
        assert_eq!(l.lease(8, 1_701.0), Grant::Permits(6));
        // Full until the refill at 2 060: booked there, all ten.
        assert_eq!(
            l.lease_ahead(8, 1_800.0),
            Grant::Later {
                permits: 8,
                in_ms: 260.0
            }
        );
        assert_eq!(
            l.lease_ahead(8, 1_801.0),
            Grant::Later {
                permits: 2,
                in_ms: 259.0
            }
        );
    }

    #[test]
    fn a_closed_key_or_a_cold_one_is_still_answered_a_wait() {
        let mut l = Ledger::default();
        assert_eq!(l.lease_ahead(8, 0.0), Grant::Permits(1));
        assert!(matches!(l.lease_ahead(8, 1.0), Grant::Wait(_)), "cold");
        let mut l = Ledger::default();
        l.report(report(10.0, 5.0, 1_000.0, 0.0));
        l.report(Report {
            blocked_until_ms: Some(700.0),
            ..report(10.0, 0.0, 700.0, 10.0)
        });
        assert!(matches!(l.lease_ahead(8, 20.0), Grant::Wait(_)), "429");
        assert_eq!(l.lease_ahead(8, 711.0), Grant::Permits(8));
    }
}

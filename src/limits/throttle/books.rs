//! The windows' books: what each rate-limit window of a key is known to
//! have left, as reports set it and bookings take from it, and the
//! requests sent on the key (`Sent`) that the release, the pacing and the
//! token booking read.

use std::collections::VecDeque;

use super::{Meaning, Refill, MIN_WINDOW_MS, WINDOWS};
use crate::classify::headers::Window;

/// What is known about one window (requests, tokens, …) of one key.
#[derive(Debug, Clone)]
pub(super) struct WindowState {
    pub(super) limit: Option<f64>,
    /// Units left as of `at`, local bookings taken off; `None`: unknown.
    pub(super) level: Option<f64>,
    pub(super) at: f64,
    /// All-at-once windows: every request booked before this one (by
    /// booking order) has left the window.
    pub(super) freed: u64,
    /// The last reset that released waiters: requests sent before it may
    /// report on the window before.
    pub(super) rolled_at: f64,
    /// The booking order of the request whose report set `level`: a report
    /// on a request booked earlier knows less (it counts fewer of those
    /// sent since), so it does not replace it.
    pub(super) level_from: Option<u64>,
    /// The longest reset reported, ms: the estimate of the window's length.
    pub(super) longest_reset_ms: f64,
    pub(super) refill: Refill,
    /// What its reset announces, as learned ([`super::learn`]).
    pub(super) meaning: Meaning,
    /// The last reset announced, ms since the epoch: no earlier than the
    /// report's send plus its reset, no later than its answer plus it.
    pub(super) announced: Option<(f64, f64)>,
    /// Whether a report came from a request sent after an end announced
    /// before it: the longest reset then tells the window's length
    /// ([`super::flight`]).
    pub(super) crossed: bool,
    /// The last report's send, reset and remaining count, to tell a reset
    /// counted from each request ([`super::flight`]).
    pub(super) last_reset: Option<(f64, f64, f64)>,
    /// Whether its reset was seen counted from each request (the window's
    /// whole length, [`super::flight`]).
    pub(super) own_reset: bool,
    /// The time one unit takes to refill, as every report allows: [lo, hi].
    pub(super) tau: (f64, f64),
    /// Distinct deficits the reports behind `tau` had (0: none yet).
    pub(super) deficits: [f64; 3],
    /// What the server counts per unit estimated: token estimates are
    /// scaled by it (requests are always 1).
    pub(super) scale: f64,
    /// The last reports in this window (booking order, count), to measure
    /// what the server charged for a request.
    pub(super) recent: VecDeque<(u64, f64)>,
    /// The report that set `level` and what it took off as perhaps not
    /// counted yet ([`super::order`]).
    pub(super) doubted: Option<super::order::Doubted>,
    /// `(seq, by)`: every request in the log booked at or before `seq`,
    /// from `freed` on, has left this window by `by` at the latest (its
    /// `gone` is no later), as a report's walk back left them
    /// ([`KeyState::mark_gone`](super::state::KeyState::mark_gone)). A
    /// `gone` only ever moves earlier, but where one is put later
    /// ([`keep_counted`](super::state::KeyState::keep_counted)) this is
    /// dropped.
    pub(super) floor: Option<(u64, f64)>,
}

impl Default for WindowState {
    fn default() -> Self {
        WindowState {
            limit: None,
            level: None,
            at: 0.0,
            freed: 0,
            rolled_at: f64::NEG_INFINITY,
            level_from: None,
            longest_reset_ms: 0.0,
            refill: Refill::Unknown,
            meaning: Meaning::Slot,
            announced: None,
            crossed: false,
            last_reset: None,
            own_reset: false,
            tau: (0.0, f64::INFINITY),
            deficits: [0.0; 3],
            scale: 1.0,
            recent: VecDeque::new(),
            doubted: None,
            floor: None,
        }
    }
}

impl WindowState {
    pub(super) fn length(&self) -> f64 {
        self.longest_reset_ms.max(MIN_WINDOW_MS)
    }

    /// Whether this window is nearly spent at `now`: at most a tenth of its
    /// limit (at least 1) was left when last heard of, within a window's
    /// length of that.
    pub(super) fn pressed(&self, now: f64) -> bool {
        let low = (self.limit.unwrap_or(0.0) / 10.0).floor().max(1.0);
        let recent = now < self.at + self.length();
        recent && self.level.is_some_and(|level| level <= low)
    }

    pub(super) fn forget_shape(&mut self) {
        self.refill = Refill::Unknown;
        self.tau = (0.0, f64::INFINITY);
        self.deficits = [0.0; 3];
    }

    /// Takes in a report, received at `now` and measured by the server at
    /// `measured` (on this side's clock of sends), of the request booked
    /// `seq` at `sent_at`; `uncounted` is what was booked after it, which the
    /// server had not seen yet. `estimate(s)` is what request `s` was
    /// estimated to need (unscaled),
    /// for a tokens window; `None` for the requests window, which always
    /// counts 1.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn observe(
        &mut self,
        w: &Window,
        now: f64,
        measured: f64,
        sent_at: f64,
        seq: u64,
        uncounted: f64,
        estimate: Option<&dyn Fn(u64) -> Option<f64>>,
    ) {
        if let Some(limit) = w.limit.map(|l| l as f64) {
            if self.limit.is_some_and(|old| old != limit) {
                self.forget_shape();
            }
            self.limit = Some(limit);
        }
        if let Some(reset) = w.reset_ms {
            self.longest_reset_ms = self.longest_reset_ms.max(reset as f64);
        }
        self.learn(w);
        let Some(remaining) = w.remaining.map(|r| r as f64) else {
            return;
        };
        let fresh = remaining - uncounted;
        let newer = self.level_from.is_none_or(|from| seq >= from);
        if self.refill == Refill::Continuous {
            if newer {
                // The headers describe the past: the window has refilled
                // since they were measured, however long the answer took.
                self.level = Some(fresh);
                self.at = measured;
                self.level_from = Some(seq);
            }
            return;
        }
        // Sent before the last reset: it may describe the window before.
        if sent_at < self.rolled_at {
            return;
        }
        if let Some(estimate) = estimate {
            self.learn_scale(seq, remaining, estimate);
        }
        if newer {
            self.level = Some(fresh);
            self.at = now;
            self.level_from = Some(seq);
        }
    }
}

/// One request booked against a key.
#[derive(Debug, Clone)]
pub(super) struct Sent {
    pub(super) seq: u64,
    pub(super) ticket: u64,
    pub(super) at: f64,
    pub(super) need: [f64; WINDOWS],
    /// The estimate, before scaling.
    pub(super) estimate: [f64; WINDOWS],
    /// Everything booked before this request, per window.
    pub(super) before: [f64; WINDOWS],
    pub(super) answered: bool,
    /// Whether it was answered with a 429.
    pub(super) rejected: bool,
    /// When it is known to have left each window (a report's reset).
    pub(super) gone: [f64; WINDOWS],
}

/// Whether `cum` (what the waiters ahead and this one need) fits in
/// `level`; a need of 0 (tokens unknown) fits while anything is left.
pub(super) fn fits(cum: f64, level: f64) -> bool {
    if cum > 0.0 {
        cum <= level + 1e-6
    } else {
        level >= 1.0
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::*;

    #[test]
    fn no_information_means_no_wait() {
        let mut r = Run::new(0);
        assert!((0..20).all(|_| r.go(0.0).is_some()));
        let b = r.go(0.0).unwrap();
        r.t.answered(k(), b, T0, heard(&Limits::default()));
        assert_eq!(r.t.remaining(k()), None, "nothing to remember");
        assert!(r.go(0.0).is_some());
        // An exhausted window without a reset and nothing in flight to tell more: go.
        let mut r = Run::new(0);
        let b = r.go(0.0).unwrap();
        let limits = Limits {
            tokens: Some(Window {
                limit: None,
                remaining: Some(0),
                reset_ms: None,
                coarse_reset: false,
            }),
            ..Limits::default()
        };
        r.answer(b, 1.0, &limits);
        assert!(r.go(1.0).is_some(), "no reset: cannot plan, so go");
    }

    #[test]
    fn room_is_booked_locally_until_the_server_says_otherwise() {
        let mut r = Run::new(0);
        let first = r.go(0.0).unwrap();
        r.answer(first, 1.0, &requests(10, 2, 60_000));
        assert!(r.go(1.0).is_some() && r.go(1.0).is_some());
        assert_eq!(r.t.remaining(k()), Some(0));
        let third = r.call();
        assert_eq!(
            wait_until(r.admit(third, 1.0)),
            Some(60_002.0),
            "waits for the reset"
        );
    }

    #[test]
    fn the_first_answer_does_not_hand_out_slots_already_in_use() {
        let mut r = Run::new(0);
        // Ten requests go out before anything is known.
        let sent: Vec<Booking> = (0..10).map(|_| r.go(0.0).unwrap()).collect();
        // The first answer says 9 left, but the other 9 are on their way.
        r.answer(sent[0], 50.0, &requests(10, 9, 950));
        assert_eq!(r.t.remaining(k()), Some(0));
        assert!(r.go(50.0).is_none(), "the eleventh waits for the reset");
    }

    #[test]
    fn an_older_report_cannot_give_back_booked_slots() {
        let mut r = Run::new(0);
        let early = r.go(0.0).unwrap();
        let second = r.go(100.0).unwrap();
        r.answer(second, 105.0, &requests(10, 3, 895));
        // Three more fill what the second's report left.
        assert!((0..3).all(|_| r.go(106.0).is_some()));
        assert_eq!(r.t.remaining(k()), Some(0));
        // The first request (slow) reports late: it was counted before the
        // second, so it says 4 left; the four sent after it are taken off.
        r.answer(early, 110.0, &requests(10, 4, 990));
        assert_eq!(
            r.t.remaining(k()),
            Some(0),
            "no double booking of the window"
        );
    }

    #[test]
    fn a_request_sent_just_before_the_reported_one_may_not_be_counted_yet() {
        let mut r = Run::new(0);
        let first = r.go(0.0).unwrap();
        r.answer(first, 4.0, &requests(10, 4, 996));
        // Two go 5 ms apart; the second reaches the server first.
        let (a, b) = (r.go(10.0).unwrap(), r.go(15.0).unwrap());
        r.answer(b, 20.0, &requests(10, 3, 990));
        assert_eq!(r.t.remaining(k()), Some(2), "`a` may still count: 3 - 1");
        // `a`'s report was booked before `b`'s: it knows less, and does
        // not replace it.
        r.answer(a, 21.0, &requests(10, 2, 989));
        assert_eq!(r.t.remaining(k()), Some(2));
    }

    /// With slow answers the shortest round trip is mostly the server's
    /// work: a request sent more than a reach before the reported one got
    /// there first, and the report counts it (main's throttle took every
    /// request sent within a round trip before it as perhaps not counted).
    #[test]
    fn a_report_counts_what_was_sent_more_than_a_reach_before_it() {
        let mut r = Run::new(0);
        let a = r.go(0.0).unwrap();
        r.answer(a, 300.0, &requests(10, 9, 1_000));
        let _b = r.go(400.0).unwrap();
        let c = r.go(600.0).unwrap();
        r.answer(c, 900.0, &requests(10, 7, 700));
        assert_eq!(r.t.remaining(k()), Some(7));
    }
}

//! When the coordinator's books free a slot: a window after the answer a
//! report placed, when the report's count shows it left, at a whole
//! refill's reset; and a cold start's slot only once a report says how long
//! a window is.
//!
//! A report says when its request was answered, so its permit's slot is
//! held a window from that answer (it surely reached the server by then)
//! when that is sooner than from its grant and the way there
//! ([`LEASE_TTL_MS`]): the next window opens that much sooner; and when a
//! report counts fewer than the reported requests any sliding log would
//! still hold, the window refills whole at its reset (a fixed window,
//! learned as the throttle learns it, never for a window an instance saw
//! refill continuously, undone by a 429): at its reset every slot that
//! surely reached the server before it is free.

use super::ledger::{drop_front_while, Known, Ledger, MAX_PLACED, MIN_WINDOW_MS, RUNS_PER_WINDOW};
use crate::limits::lease::{Report, LEASE_TTL_MS, MAX_SENDS};
use crate::limits::throttle::Refill;

impl Ledger {
    /// A report says its request went at `sent_ms` and was answered at
    /// `answered_ms`: its permit, granted at most [`LEASE_TTL_MS`] before,
    /// holds its slot from the answer on, if that is sooner than its run's
    /// end. The earliest run that may hold it gives one up (it ends no
    /// later than the permit's own run, so the books stay as strict); none
    /// if no run may hold it.
    pub(super) fn place(&mut self, sent_ms: f64, answered_ms: f64) {
        let merge = self.hold_ms() / RUNS_PER_WINDOW;
        let Some(i) = self
            .runs
            .iter()
            .position(|&(at, _)| at >= sent_ms - LEASE_TTL_MS)
            .filter(|&i| self.runs[i].0 <= sent_ms + merge)
        else {
            return;
        };
        let from = answered_ms.min(self.runs[i].0 + LEASE_TTL_MS);
        self.runs[i].1 -= 1.0;
        if self.runs[i].1 <= 0.0 {
            self.runs.remove(i);
        }
        if self.placed.len() >= MAX_PLACED {
            self.placed.pop_front();
        }
        let at = self.placed.partition_point(|&(_, f, _)| f <= from);
        self.placed.insert(at, (sent_ms, from, answered_ms));
    }

    /// Lets out of the books the grants that left the server's window by
    /// `now_ms`: a window's length (and the way there) after their grant,
    /// or at a whole refill's reset.
    pub(super) fn settle(&mut self, now_ms: f64) {
        if !self.heard {
            // The window's length is not known yet: the cold start's slot
            // stays until its report says how long it is held.
            return;
        }
        let hold = self.hold_ms();
        drop_front_while(&mut self.runs, |&(at, _)| at + hold <= now_ms);
        let window = self.window_ms.max(MIN_WINDOW_MS);
        drop_front_while(&mut self.placed, |&(_, from, _)| from + window <= now_ms);
        if let Some(reset) = self.refill_at_ms.filter(|&r| r <= now_ms) {
            self.refill_at_ms = None;
            if self.whole {
                // The reset was heard up to `reach` late: the window ended
                // no sooner than `reset - reach`. A request answered by
                // then reached the server in it; a permit granted
                // [`LEASE_TTL_MS`] and `reach` before it was sent and got
                // there by then.
                let end = reset - self.reach_ms;
                let reach = self.reach_ms;
                drop_front_while(&mut self.runs, |&(at, _)| at + LEASE_TTL_MS + reach <= end);
                self.placed.retain(|&(_, _, answered)| answered > end);
            }
        }
    }

    /// Takes a report an instance forwarded.
    pub fn report(&mut self, r: Report) {
        self.heard = true;
        self.cold_at_ms = None;
        if let Some(t) = r.tokens {
            self.tokens.report(t, r.sent_at_ms, r.observed_at_ms);
        }
        // The window's length first: a slot granted before any was known
        // (the cold start's) is held for it, not for the shortest.
        if let (Some(_), Some(reset_at_ms)) = (r.remaining, r.reset_at_ms) {
            self.window_ms = self.window_ms.max(reset_at_ms - r.observed_at_ms);
        }
        self.settle(r.observed_at_ms);
        if let Some(limit) = r.limit {
            self.limit = Some(limit);
        }
        if let Some(until) = r.blocked_until_ms {
            self.blocked_until_ms = self.blocked_until_ms.max(until);
            // A 429: no release at a reset on this report's word again.
            self.whole = false;
            self.refill_at_ms = None;
        } else {
            self.learn_whole(&r);
            if let Some(sent) = r.sent_at_ms {
                self.reach_ms = self.reach_ms.max(r.observed_at_ms - sent);
                self.place(sent, r.observed_at_ms);
            }
        }
        self.refill_tokens(&r);
        if let (Some(remaining), Some(reset_at_ms)) = (r.remaining, r.reset_at_ms) {
            if self.whole && r.blocked_until_ms.is_none() {
                self.refill_at_ms = Some(
                    self.refill_at_ms
                        .map_or(reset_at_ms, |at| at.max(reset_at_ms)),
                );
            }
            let newer = self
                .known
                .is_none_or(|k| r.observed_at_ms >= k.observed_at_ms);
            if newer {
                // What was granted after the reported request went is not
                // counted in it. (A permit granted before it but used later
                // may not be either: the slots above bound that.)
                let counted_to_ms = r.sent_at_ms.unwrap_or(r.observed_at_ms - LEASE_TTL_MS);
                self.known = Some(Known {
                    remaining,
                    observed_at_ms: r.observed_at_ms,
                    counted_to_ms,
                    reset_at_ms,
                    held: self.held_before(counted_to_ms),
                });
            }
        }
    }

    /// Tells the tokens books when their window refills whole: at the
    /// reset of a report without a 429, once this window is proved to
    /// refill whole ([`Ledger::learn_whole`]), if the tokens window resets
    /// with it (within both resets' rounding to the ms and 0.2%: the same
    /// fixed window); never after a 429 or a continuous refill, nor past a
    /// report whose tokens window resets apart. Otherwise the tokens books
    /// hold each grant a window.
    fn refill_tokens(&mut self, r: &Report) {
        let Some(t) = r.tokens else {
            if !self.whole {
                self.tokens.refill_whole_at(None);
            }
            return;
        };
        let same = match r.reset_at_ms {
            Some(reset) if self.whole && r.blocked_until_ms.is_none() => {
                let slack = 2.0 + (reset - r.observed_at_ms).max(0.0) * 0.002;
                ((t.reset_at_ms - reset).abs() <= slack).then_some(t.reset_at_ms)
            }
            _ => None,
        };
        self.tokens.refill_whole_at(same);
    }

    /// Learns from a report without a 429 whether the window refills whole
    /// at its reset: a count below what any sliding log would hold (the
    /// reported requests that surely reached the server before this one,
    /// less than a window before it) proves that requests were dropped at
    /// once, as [`crate::limits::throttle::Meaning::Full`] is learned. This
    /// request reached the server by its answer, and one logged there no
    /// sooner than it went: one that went less than a window before this
    /// answer, and a round trip (the longest reported) before this one
    /// went, is surely counted. (Margins of a permit's way there,
    /// [`LEASE_TTL_MS`], instead missed every proof in a burst: a window's
    /// requests all go at its start, a window after the previous ones.) Only
    /// for a window its instance saw refill at its reset (a token bucket
    /// also counts fewer than a log, but its slots do not all free at its
    /// reset).
    fn learn_whole(&mut self, r: &Report) {
        if r.refill == Refill::Continuous {
            self.continuous = true;
            self.whole = false;
        }
        let Some(sent) = r.sent_at_ms else {
            return;
        };
        if let (false, true, Some(limit), Some(remaining)) = (
            self.whole,
            r.refill == Refill::AtReset,
            r.limit.or(self.limit),
            r.remaining,
        ) {
            let reach = self.reach_ms.max(r.observed_at_ms - sent);
            let (from, to) = (r.observed_at_ms - self.window_ms, sent - reach);
            let logged = self
                .sends
                .iter()
                .filter(|&&at| at > from && at <= to)
                .count() as f64;
            self.whole = !self.continuous && limit - remaining < logged;
        }
        if self.sends.len() >= MAX_SENDS {
            self.sends.pop_front();
        }
        self.sends.push_back(sent);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coordinator::tokens::TokenBook;
    use crate::limits::lease::{Counted, Grant};

    const W: f64 = 1_000.0;

    /// A report of a request sent at `sent`, answered 30 ms later.
    fn answered(remaining: f64, reset_at: f64, sent: f64, refill: Refill) -> Report {
        Report {
            limit: Some(10.0),
            remaining: Some(remaining),
            reset_at_ms: Some(reset_at),
            observed_at_ms: sent + 30.0,
            blocked_until_ms: None,
            sent_at_ms: Some(sent),
            refill,
            tokens: None,
        }
    }

    /// Permits granted over `[from, to)`, asking every ms for `want`.
    fn granted(l: &mut Ledger, from: f64, to: f64) -> u32 {
        let mut n = 0;
        let mut t = from;
        while t < to {
            if let Grant::Permits(p) = l.lease(8, t) {
                n += p;
            }
            t += 1.0;
        }
        n
    }

    /// A fixed window's first ten: the cold start (sent at 0, reaching the
    /// server at 15, which opens the window until 1 015, heard at 30), and
    /// nine granted at 600 and 601, three of them reported.
    fn a_full_window(refill: Refill) -> Ledger {
        let mut l = Ledger::default();
        assert_eq!(l.lease(1, 0.0), Grant::Permits(1));
        l.report(answered(9.0, 1_030.0, 0.0, refill));
        assert_eq!(granted(&mut l, 600.0, 650.0), 9);
        for (i, sent) in [610.0, 611.0, 612.0].into_iter().enumerate() {
            l.report(answered(8.0 - i as f64, 1_030.0, sent, refill));
        }
        l
    }

    /// The next window: one request sent at 1 030, counted alone though
    /// three reported ones went less than a window before it.
    fn the_next_window(l: &mut Ledger, refill: Refill) {
        assert_eq!(granted(l, 650.0, 1_031.0), 1);
        l.report(answered(9.0, 1_030.0 + 15.0 + W + 15.0, 1_030.0, refill));
    }

    #[test]
    fn a_cold_start_s_slot_stays_until_its_report_says_how_long_a_window_is() {
        let mut l = Ledger::default();
        assert_eq!(l.lease(1, 0.0), Grant::Permits(1));
        // Nothing heard for longer than the shortest window assumed.
        assert!(matches!(l.lease(8, 600.0), Grant::Wait(_)));
        // The report: a window of 1 s, 9 left. The cold request still counts.
        l.report(answered(9.0, 480.0 + W, 450.0, Refill::Unknown));
        assert_eq!(granted(&mut l, 601.0, 700.0), 9);
    }

    #[test]
    fn a_slot_a_report_placed_frees_a_window_after_its_answer_not_its_grant() {
        let mut l = a_full_window(Refill::Unknown);
        // The cold request's slot: answered at 30, free a window after.
        assert_eq!(granted(&mut l, 650.0, 1_030.0), 0);
        assert_eq!(granted(&mut l, 1_030.0, 1_031.0), 1);
        // The three placed (answered at 640–642) at 1 640–1 642, before the
        // other grants leave the books (601 + 1 100 = 1 701).
        assert_eq!(granted(&mut l, 1_031.0, 1_640.0), 0);
        assert_eq!(granted(&mut l, 1_640.0, 1_643.0), 3);
        assert_eq!(granted(&mut l, 1_643.0, 1_701.0), 0);
        assert_eq!(granted(&mut l, 1_701.0, 1_702.0), 6);
    }

    #[test]
    fn a_sliding_log_s_counted_slots_free_as_they_leave_not_at_the_report_s_reset() {
        let mut l = a_full_window(Refill::AtReset);
        // A sliding log: its reset says when it is empty, a window after the
        // newest request reached it (627 + 1 000, heard 15 later).
        l.report(answered(0.0, 1_642.0, 612.0, Refill::AtReset));
        // The cold request's slot frees at 1 030, before that reset: the
        // report's count does not hold it.
        assert_eq!(granted(&mut l, 650.0, 1_031.0), 1);
    }

    #[test]
    fn a_whole_refill_frees_every_slot_at_its_reset() {
        let mut l = a_full_window(Refill::AtReset);
        the_next_window(&mut l, Refill::AtReset);
        assert!(l.whole);
        // The first window's slots leave as usual (1 640–1 701), and nine go
        // again, late in the second window.
        assert_eq!(granted(&mut l, 1_061.0, 1_702.0), 9);
        // At its reset (2 060, heard up to 30 ms late) all ten leave, not a
        // window after their grants (2 740–2 801).
        assert_eq!(granted(&mut l, 1_702.0, 2_060.0), 0);
        assert_eq!(granted(&mut l, 2_060.0, 2_062.0), 10);
    }

    #[test]
    fn a_whole_refill_is_learned_from_the_previous_window_s_first_sends() {
        // A burst: the previous window's sends all went early in it (150 and
        // 160), and the next window's first request goes 950 ms later,
        // answered in 30 ms. It reached the server by 1 140, less than a
        // window after they went (150 + 1 000), and after they were
        // answered: any sliding log still counts them, and would say 7 or
        // fewer are left, not 9.
        let mut l = Ledger::default();
        assert_eq!(l.lease(1, 0.0), Grant::Permits(1));
        l.report(answered(9.0, 1_030.0, 0.0, Refill::AtReset));
        assert_eq!(granted(&mut l, 150.0, 151.0), 8);
        l.report(answered(8.0, 1_030.0, 150.0, Refill::AtReset));
        l.report(answered(7.0, 1_030.0, 160.0, Refill::AtReset));
        assert!(!l.whole);
        l.report(answered(9.0, 2_140.0, 1_110.0, Refill::AtReset));
        assert!(l.whole, "the sends at 150 and 160 are in any sliding log");
        // A sliding log's report: the same request told 7 are left.
        let mut l = Ledger::default();
        assert_eq!(l.lease(1, 0.0), Grant::Permits(1));
        l.report(answered(9.0, 1_030.0, 0.0, Refill::AtReset));
        assert_eq!(granted(&mut l, 150.0, 151.0), 8);
        l.report(answered(8.0, 1_030.0, 150.0, Refill::AtReset));
        l.report(answered(7.0, 1_030.0, 160.0, Refill::AtReset));
        l.report(answered(7.0, 2_140.0, 1_110.0, Refill::AtReset));
        assert!(!l.whole);
        // Sent a window after them and answered late: no proof.
        let mut l = Ledger::default();
        assert_eq!(l.lease(1, 0.0), Grant::Permits(1));
        l.report(answered(9.0, 1_030.0, 0.0, Refill::AtReset));
        assert_eq!(granted(&mut l, 150.0, 151.0), 8);
        l.report(answered(8.0, 1_030.0, 150.0, Refill::AtReset));
        l.report(answered(7.0, 1_030.0, 160.0, Refill::AtReset));
        l.report(Report {
            observed_at_ms: 1_200.0,
            ..answered(9.0, 2_200.0, 1_110.0, Refill::AtReset)
        });
        assert!(!l.whole, "it may have reached the server after 1 160");
    }

    #[test]
    fn a_bucket_or_a_429_is_never_taken_for_a_whole_refill() {
        for refill in [Refill::Continuous, Refill::Unknown] {
            let mut l = a_full_window(refill);
            the_next_window(&mut l, refill);
            assert!(!l.whole, "{refill:?}");
        }
        let mut l = a_full_window(Refill::AtReset);
        the_next_window(&mut l, Refill::AtReset);
        assert!(l.whole);
        l.report(Report {
            blocked_until_ms: Some(1_400.0),
            ..answered(0.0, 1_400.0, 1_200.0, Refill::AtReset)
        });
        assert!(!l.whole, "a 429 undoes it");
        // A continuous report after a whole refill is learned undoes it too.
        let mut l = a_full_window(Refill::AtReset);
        the_next_window(&mut l, Refill::AtReset);
        l.report(answered(9.0, 1_400.0, 1_170.0, Refill::Continuous));
        assert!(!l.whole && l.continuous);
    }

    /// A window of 100 requests and 10 000 tokens a second, both reset
    /// together: the cold start (1 000 tokens) and nine calls at 40 spend
    /// the tokens; three requests without tokens at 600 are reported, and
    /// the next window's first request, sent at 1 031, is counted alone
    /// (`refill` says how its instance saw the window refill; `tokens_reset`
    /// when the tokens window resets, after its reset at 2 061). Then ten
    /// calls of 1 000 tokens go at 1 070 and 1 071 (1 100 and 1 101 after
    /// a 429).
    fn tokens_window(refill: Refill, tokens_reset: f64, blocked: bool) -> Ledger {
        let with = |remaining: f64, tokens: f64, reset: f64, sent: f64| Report {
            limit: Some(100.0),
            tokens: Some(Counted {
                limit: Some(10_000.0),
                remaining: tokens,
                reset_at_ms: reset,
            }),
            ..answered(remaining, reset, sent, refill)
        };
        let mut l = Ledger::default();
        assert_eq!(l.lease_tokens(1, 1_000.0, 0.0), Grant::Permits(1));
        l.report(with(99.0, 9_000.0, 1_030.0, 0.0));
        assert_eq!(l.lease_tokens(8, 1_000.0, 40.0), Grant::Permits(8));
        assert_eq!(l.lease_tokens(1, 1_000.0, 41.0), Grant::Permits(1));
        assert_eq!(l.lease(3, 600.0), Grant::Permits(3));
        for (i, sent) in [600.0, 601.0, 602.0].into_iter().enumerate() {
            l.report(with(89.0 - i as f64, 0.0, 1_030.0, sent));
        }
        assert_eq!(l.lease(1, 1_031.0), Grant::Permits(1));
        let mut next = with(99.0, 10_000.0, 2_061.0, 1_031.0);
        next.tokens = next.tokens.map(|t| Counted {
            reset_at_ms: tokens_reset,
            ..t
        });
        if blocked {
            next.blocked_until_ms = Some(1_100.0);
        }
        l.report(next);
        let at = if blocked { 1_100.0 } else { 1_070.0 };
        assert_eq!(l.lease_tokens(8, 1_000.0, at), Grant::Permits(8));
        assert_eq!(l.lease_tokens(2, 1_000.0, at + 1.0), Grant::Permits(2));
        l
    }

    #[test]
    fn a_fixed_window_s_tokens_leave_the_books_at_its_reset() {
        let mut l = tokens_window(Refill::AtReset, 2_061.0, false);
        assert!(l.whole);
        // Spent by 1 200, counted in the window that ends at 2 061: all of
        // it is free then, not a window (and the way there) after the
        // grant, at 2 170.
        assert!(matches!(
            l.lease_tokens(1, 1_000.0, 2_060.0),
            Grant::Wait(_)
        ));
        assert_eq!(l.lease_tokens(8, 1_000.0, 2_061.0), Grant::Permits(8));
        assert_eq!(l.lease_tokens(2, 1_000.0, 2_062.0), Grant::Permits(2));
        // Stored, the tokens books keep the reset (a `NaN` run, which an
        // older reader leaves out).
        let l = tokens_window(Refill::AtReset, 2_061.0, false);
        let stored = l.tokens.to_vec();
        assert_eq!(TokenBook::from_slice(&stored), l.tokens);
        assert_eq!(stored[stored.len() - 2], 2_061.0);
        assert!(stored[stored.len() - 1].is_nan());
    }

    #[test]
    fn tokens_are_held_a_window_unless_the_window_is_proved_fixed_and_resets_with_them() {
        for (refill, tokens_reset, blocked) in [
            // No proof: a sliding log may still count them.
            (Refill::Unknown, 2_061.0, false),
            (Refill::Continuous, 2_061.0, false),
            // The tokens window resets apart from the proved one.
            (Refill::AtReset, 2_500.0, false),
            // A 429 undoes the proof.
            (Refill::AtReset, 2_061.0, true),
        ] {
            let mut l = tokens_window(refill, tokens_reset, blocked);
            let granted = if blocked { 1_100.0 } else { 1_070.0 };
            // Held a window (the longest tokens reset heard) and the way.
            let window = (tokens_reset - 1_061.0).max(W);
            let held = granted + window + LEASE_TTL_MS;
            for at in [2_061.0, held - 1.0] {
                assert!(
                    matches!(l.lease_tokens(1, 1_000.0, at), Grant::Wait(_)),
                    "{refill:?} {tokens_reset} {blocked} at {at}"
                );
            }
            assert!(matches!(
                l.lease_tokens(1, 1_000.0, held),
                Grant::Permits(_)
            ));
        }
    }

    #[test]
    fn the_new_state_survives_storage_and_an_older_report_reads() {
        let mut l = a_full_window(Refill::AtReset);
        the_next_window(&mut l, Refill::AtReset);
        assert!(l.whole && !l.placed.is_empty() && l.refill_at_ms.is_some());
        assert_eq!(Ledger::from_slice(&l.to_vec()), l);
        for refill in [Refill::Unknown, Refill::AtReset, Refill::Continuous] {
            let r = answered(3.0, 900.0, 100.0, refill);
            assert_eq!(Report::from_slice(&r.to_array()), Some(r));
        }
        // Six numbers: an isolate of the previous version.
        let r = answered(3.0, 900.0, 100.0, Refill::AtReset);
        assert_eq!(
            Report::from_slice(&r.to_array()[..6]),
            Some(Report {
                refill: Refill::Unknown,
                ..r
            })
        );
        assert_eq!(Report::from_slice(&[1.0; 8]), None);
    }
}

//! What a window's reset header means, learned per key from its own log of
//! sends and answers rather than assumed.
//!
//! Servers that release all at once disagree on what `reset` announces:
//!
//! - a fixed window (opened at its first request, or aligned to the clock)
//!   refills **whole** at its reset: every request counted before it leaves;
//! - a sliding log announces when its newest entry leaves (the log is empty
//!   then) or, at some gateways, when its oldest leaves: the **next slot**.
//!
//! Before the first reset the two read alike. So a window starts as
//! [`Meaning::Slot`], which is right for both: at a reset only the oldest
//! request still counted is known to leave, and every request leaves a
//! window's length after it reached the server: a request sent a window's
//! length after it, plus this side's scheduling, takes the same way and
//! gets there after it left (pacing from what was sent, not from what was
//! heard, however long the answers take). A report whose count is below what any sliding log would
//! hold (the requests let through that surely reached the server less than
//! a window before the reported one) proves that requests were dropped at
//! once, a whole refill: the window becomes [`Meaning::Full`].
//! A 429 on a window then sends it back to [`Meaning::Slot`]: a release
//! that met 429s does not happen again the same way.

use super::state::KeyState;
use super::Refill;
use crate::classify::headers::Window;

/// What a window's reset announces, as learned so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Meaning {
    /// At the reset the oldest request still counted leaves; each request
    /// leaves a window's length after it reached the server. Right for
    /// every window that refills at its reset, if slower for a fixed one.
    #[default]
    Slot,
    /// At the reset every request counted before it leaves (a fixed
    /// window): proven by a count below what a sliding log would hold.
    Full,
}

/// What a report shows against what a sliding log would hold.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Count {
    /// The window's limit.
    pub limit: f64,
    /// What the report says is left (the server's count).
    pub remaining: f64,
    /// What any sliding log must have counted when the reported request
    /// reached it: the requests let through (answered, not with a 429)
    /// that surely got there before it, less than a window's length
    /// before it.
    pub logged: f64,
}

/// Whether `seen` proves the window refilled whole: the server counts
/// fewer than any sliding log would, so it dropped requests at once.
pub fn refilled_whole(seen: Count) -> bool {
    seen.limit - seen.remaining < seen.logged
}

impl KeyState {
    /// A report of request `at` (in the log), sent at `sent_at`, on window
    /// `i`: whether it proves the window refilled whole.
    pub(super) fn learn_meaning(&mut self, i: usize, at: usize, window: &Window, sent_at: f64) {
        let w = &self.windows[i];
        let (Some(limit), Some(remaining)) = (w.limit, window.remaining) else {
            return;
        };
        if w.meaning == Meaning::Full || w.refill == Refill::Continuous {
            return;
        }
        let reach = self.reach_ms();
        let (from, to) = (sent_at + reach - w.length(), sent_at - reach);
        let logged: f64 = self
            .log
            .range(..at)
            .filter(|s| s.answered && !s.rejected && s.at > from && s.at <= to)
            .map(|s| s.need[i])
            .sum();
        let seen = Count {
            limit,
            remaining: remaining as f64,
            logged,
        };
        if refilled_whole(seen) {
            self.windows[i].meaning = Meaning::Full;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::*;
    use super::*;

    fn seen(remaining: f64, logged: f64) -> Count {
        Count {
            limit: 10.0,
            remaining,
            logged,
        }
    }

    #[test]
    fn a_whole_refill_is_proven_by_a_count_below_any_sliding_log() {
        // Nine let through just before: a fixed window that reset counts 1.
        assert!(refilled_whole(seen(9.0, 9.0)));
        // A sliding log still counts them.
        assert!(!refilled_whole(seen(0.0, 9.0)));
        assert!(!refilled_whole(seen(1.0, 9.0)), "nine counted: no proof");
        // Nothing let through before: the count proves nothing.
        assert!(!refilled_whole(seen(9.0, 0.0)));
    }

    /// A reset may announce only the next free slot (a sliding log's
    /// oldest entry leaving): until a report after a reset proves a whole
    /// refill, a reset frees the oldest request only, and the others leave
    /// a window's length after they were sent.
    #[test]
    fn a_reset_frees_one_slot_until_a_whole_refill_is_seen() {
        let mut r = Run::new(1);
        let first = r.go(0.0).unwrap();
        r.answer(first, 4.0, &requests(3, 2, 1_000));
        let (a, b) = (r.go(300.0).unwrap(), r.go(300.0).unwrap());
        // A next-slot log: both report the oldest's leaving.
        r.answer(a, 304.0, &requests(3, 1, 700));
        r.answer(b, 304.0, &requests(3, 0, 700));
        assert_eq!(r.t.meaning(k())[0], Meaning::Slot);
        let line: Vec<u64> = (0..3).map(|_| r.call()).collect();
        let went: Vec<Booking> = line
            .iter()
            .filter_map(|&t| match r.admit(t, 1_005.0) {
                Admit::Go(b) => Some(b),
                Admit::Wait { .. } => None,
            })
            .collect();
        assert_eq!(went.len(), 1, "one slot, not the whole window");
        // The next slots free a window's length after `a` and `b` were
        // sent, plus the longest they may have taken to get there.
        let until = wait_until(r.admit(line[1], 1_005.0)).unwrap();
        assert_eq!(
            until,
            300.0 + 4.0 + SEND_JITTER_MS + 1_000.0 + RESET_MARGIN_MS
        );
        // The one sent at the reset hears that the two before still count:
        // no proof of a whole refill.
        r.answer(went[0], 1_009.0, &requests(3, 0, 1));
        assert_eq!(r.t.meaning(k())[0], Meaning::Slot);
    }

    #[test]
    fn a_count_after_the_reset_proves_a_whole_refill_and_a_429_undoes_it() {
        let mut r = Run::new(1);
        let first = r.go(0.0).unwrap();
        r.answer(first, 4.0, &requests(3, 2, 1_000));
        let (a, b) = (r.go(300.0).unwrap(), r.go(300.0).unwrap());
        r.answer(a, 304.0, &requests(3, 1, 700));
        r.answer(b, 304.0, &requests(3, 0, 700));
        let after = r.call();
        let Admit::Go(probe) = r.admit(after, 1_005.0) else {
            panic!("the oldest slot is free")
        };
        // A fixed window: `a` and `b`, sent 700 ms before, which any
        // sliding log of 1 s would still count, no longer do.
        r.answer(probe, 1_009.0, &requests(3, 2, 996));
        assert_eq!(r.t.meaning(k())[0], Meaning::Full);
        let b = r.go(1_010.0).unwrap();
        let limits = requests(3, 0, 990);
        r.t.answered(k(), b, T0 + 1_011.0, limited(&limits, None));
        assert_eq!(r.t.meaning(k())[0], Meaning::Slot, "the 429 undoes it");
    }

    /// Answers slower than a request's way to the server: a reset was
    /// measured when the server counted the request, not when the answer
    /// came, so it is timed from the send plus the longest way assumed;
    /// once a 429 casts doubt on that, from the answer.
    #[test]
    fn a_reset_is_timed_from_the_send_until_a_429_casts_doubt() {
        let mut r = Run::new(0);
        let first = r.go(0.0).unwrap();
        r.whole();
        r.answer(first, 300.0, &requests(2, 0, 1_000));
        let t = r.call();
        let from_send = ASSUMED_REACH_MS + SEND_JITTER_MS + 1_000.0 + RESET_MARGIN_MS;
        assert_eq!(wait_until(r.admit(t, 300.0)), Some(from_send));
        let mut r = Run::new(0);
        let first = r.go(0.0).unwrap();
        let rate_limited = bare(true, None);
        r.t.answered(k(), first, T0 + 4.0, rate_limited);
        // A fixed window (its requests leave at its reset, not before).
        r.whole();
        let second = r.go(200.0).unwrap();
        r.answer(second, 500.0, &requests(1, 0, 600));
        let t = r.call();
        assert_eq!(
            wait_until(r.admit(t, 500.0)),
            Some(1_100.0 + RESET_MARGIN_MS)
        );
    }

    /// What a sliding log must hold counts only requests let through that
    /// surely reached the server before the reported one: not a 429, not
    /// one still out, not one sent just before it.
    #[test]
    fn only_what_surely_counts_in_a_sliding_log_is_held_against_the_count() {
        let bare = |rate_limited| Answer::Heard {
            limits: None,
            rate_limited,
            retry_after_ms: None,
        };
        // `how` answers the two requests sent at `at` (or not, for None).
        let probe = |at: f64, how: Option<bool>| {
            let mut r = Run::new(0);
            let first = r.go(0.0).unwrap();
            r.answer(first, 4.0, &requests(3, 2, 1_000));
            let (a, b) = (r.go(at).unwrap(), r.go(at).unwrap());
            if let Some(rate_limited) = how {
                r.t.answered(k(), a, T0 + at + 4.0, bare(rate_limited));
                r.t.answered(k(), b, T0 + at + 4.0, bare(rate_limited));
            }
            let p = r.go(1_005.0).unwrap();
            r.answer(p, 1_009.0, &requests(3, 2, 996));
            r.t.meaning(k())[0]
        };
        assert_eq!(probe(300.0, Some(false)), Meaning::Full, "two let through");
        assert_eq!(probe(300.0, Some(true)), Meaning::Slot, "two 429s");
        assert_eq!(probe(300.0, None), Meaning::Slot, "two still out");
        assert_eq!(
            probe(1_000.0, Some(false)),
            Meaning::Slot,
            "two sent just before"
        );
    }
}

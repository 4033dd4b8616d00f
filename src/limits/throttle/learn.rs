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
//! window's length after it reached the server (its send plus the longest
//! time it may take to get there: pacing from what was sent, not from what
//! was heard). A report after a reset whose remaining count shows that
//! requests still young enough to count in any sliding log were dropped at
//! once is proof of a whole refill: the window becomes [`Meaning::Full`].
//! A 429 on a window then sends it back to [`Meaning::Slot`]: a release
//! that met 429s does not happen again the same way.

use super::state::KeyState;
use super::{Refill, RESET_MARGIN_MS};
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
    /// window): proven by a remaining count after a reset.
    Full,
}

/// What a report, sent after a reset the window announced before, shows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AfterReset {
    /// The window's limit.
    pub limit: f64,
    /// What the report says is left (the server's count).
    pub remaining: f64,
    /// Requests booked from shortly before the reset up to the reported
    /// one, included: all the new window may have counted of ours.
    pub newer: f64,
    /// Requests booked before the reset that any sliding log would still
    /// count when the reported request reached it (sent less than a
    /// window's length before it, and surely before the reset).
    pub young: f64,
}

/// Whether `seen` proves the window refilled whole at the reset: the
/// server counts no more than what was sent since, although requests young
/// enough to still count in a sliding log were sent before.
pub fn refilled_whole(seen: AfterReset) -> bool {
    seen.young >= 1.0 && seen.remaining + seen.newer >= seen.limit
}

impl KeyState {
    /// A report of request `at` (in the log), sent at `sent_at`, on window
    /// `i`, after a reset it announced before: whether the window refilled
    /// whole.
    pub(super) fn learn_meaning(&mut self, i: usize, at: usize, window: &Window, sent_at: f64) {
        let w = &self.windows[i];
        let (Some((reset_lo, reset_hi)), Some(limit), Some(remaining)) =
            (w.announced, w.limit, window.remaining)
        else {
            return;
        };
        if w.meaning == Meaning::Full || w.refill == Refill::Continuous {
            return;
        }
        // Sent surely after the reset announced before.
        let reach = self.reach_ms();
        if sent_at < reset_hi + RESET_MARGIN_MS {
            return;
        }
        let (mut newer, mut young) = (0.0, 0.0);
        for sent in self.log.range(..=at) {
            if sent.at + reach >= reset_lo {
                newer += sent.need[i];
            } else if sent.at > sent_at + reach - w.length() {
                young += sent.need[i];
            }
        }
        let seen = AfterReset {
            limit,
            remaining: remaining as f64,
            newer,
            young,
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

    fn seen(remaining: f64, newer: f64, young: f64) -> AfterReset {
        AfterReset {
            limit: 10.0,
            remaining,
            newer,
            young,
        }
    }

    #[test]
    fn a_whole_refill_is_proven_by_the_count_after_the_reset() {
        // A fixed window: 9 sent just before the reset are gone, 1 counted.
        assert!(refilled_whole(seen(9.0, 1.0, 9.0)));
        // A next-slot log: the 9 still count.
        assert!(!refilled_whole(seen(0.0, 1.0, 9.0)));
        // One short of it: not proven.
        assert!(!refilled_whole(seen(8.0, 1.0, 9.0)));
        // Nothing young was sent before: the count proves nothing.
        assert!(!refilled_whole(seen(9.0, 1.0, 0.0)));
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
        r.t.answered(
            k(),
            b,
            T0 + 1_011.0,
            Answer::Heard {
                limits: Some(&limits),
                rate_limited: true,
                retry_after_ms: None,
            },
        );
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
        let rate_limited = Answer::Heard {
            limits: None,
            rate_limited: true,
            retry_after_ms: None,
        };
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
}

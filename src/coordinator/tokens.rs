//! A coordinator's books for one key's tokens window ([`TokenBook`], kept in
//! the key's [`Ledger`](super::Ledger) beside its request window), so that
//! instances sharing a key share its tokens per minute too, not only its
//! requests.
//!
//! A lease request says how many tokens each of its calls is expected to
//! book (the instance's estimate: prompt characters ÷ 4 and the output
//! cap); a permit goes only while the window has room for that, and every
//! permit books its estimate for the window's length and the way there
//! ([`LEASE_TTL_MS`]), as the request books hold a slot. Two bounds, the
//! tighter wins:
//!
//! - the limit, less every estimate booked within a window;
//! - until its reset, the latest report's `remaining`, less what was
//!   granted after the reported request went.
//!
//! The server's count corrects the estimates, as an instance's own throttle
//! does: a report that counts fewer tokens used than the books booked before
//! its request went scales those down to the server's count (a completion
//! shorter than its cap, a permit never spent, a window that refilled). A
//! count above the books' (other clients, a larger charge) is left to the
//! `remaining` bound.

use std::collections::VecDeque;

use super::ledger::{drop_front_while, MIN_WINDOW_MS};
use crate::limits::lease::{Counted, LEASE_TTL_MS};

/// The most runs of booked tokens kept (one a grant; past it the oldest
/// two merge, at the later time: freed no sooner).
pub(super) const MAX_TOKEN_RUNS: usize = 256;

/// The latest report of the tokens window.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Known {
    remaining: f64,
    /// Tokens booked until then are counted in `remaining`.
    counted_to_ms: f64,
    reset_at_ms: f64,
    observed_at_ms: f64,
    /// The tokens the books held, booked until `counted_to_ms`, when the
    /// report came: those that leave the books later free room the report
    /// counted as used.
    held: f64,
}

/// A coordinator's books for one key's tokens window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TokenBook {
    /// The window's limit, once reported.
    limit: Option<f64>,
    /// Its length: the longest reset reported, ms.
    window_ms: f64,
    /// Tokens booked, oldest first: (when, how many).
    runs: VecDeque<(f64, f64)>,
    known: Option<Known>,
    /// The longest time from a request's send to its answer reported, ms.
    reach_ms: f64,
}

impl TokenBook {
    /// How long booked tokens stay in the books, ms.
    fn hold_ms(&self) -> f64 {
        self.window_ms.max(MIN_WINDOW_MS) + LEASE_TTL_MS
    }

    /// Lets out the tokens booked longer than a window ago.
    fn settle(&mut self, now_ms: f64) {
        let hold = self.hold_ms();
        drop_front_while(&mut self.runs, |&(at, _)| at + hold <= now_ms);
    }

    /// Tokens booked until `to_ms`.
    fn booked_before(&self, to_ms: f64) -> f64 {
        self.booked_after(f64::NEG_INFINITY) - self.booked_after(to_ms)
    }

    /// Tokens booked after `from_ms` (all of them from `-inf`).
    fn booked_after(&self, from_ms: f64) -> f64 {
        self.runs
            .iter()
            .filter(|&&(at, _)| at > from_ms)
            .map(|&(_, n)| n)
            .sum()
    }

    /// The window's length a report shows, ms: its reset, or a whole
    /// bucket's refill. A token bucket's reset is the time until it is full
    /// again (OpenAI: until the limit "resets to its initial state"), `d /
    /// limit` of a window with `d` tokens missing: taken as a window, a
    /// report of a bucket not yet drained read as a short one (the cold
    /// start's, 1 000 of 10 000 used, a tenth of it), the books let tokens
    /// go that soon after their grant, and the bucket, refilled only that
    /// much, answered 429s. A bucket shows one rate, reset ÷ `d`, whatever
    /// `d`; a fixed window's reset shrinks as `d` grows, a sliding log's
    /// stays a window. So when this report and the previous one, `d` apart
    /// by half or more, agree on a rate (within the reset's rounding to the
    /// ms and the count's down, as the instance's throttle learns a bucket,
    /// `throttle/pace.rs`), the window is the slowest rate they allow times
    /// the limit.
    fn window_shown(&self, t: Counted, observed_ms: f64) -> f64 {
        let reset = t.reset_at_ms - observed_ms;
        let (Some(limit), Some(k)) = (self.limit, self.known) else {
            return reset;
        };
        let rates = |d: f64, reset: f64| {
            let slack = 1.0 + reset * 0.002;
            ((reset - slack).max(0.0) / d, (reset + slack) / (d - 1.0))
        };
        let (was, now) = (limit - k.remaining, limit - t.remaining);
        if was.min(now) < 2.0 || was.max(now) < 1.5 * was.min(now) {
            return reset;
        }
        let (lo, hi) = rates(was, k.reset_at_ms - k.observed_at_ms);
        let (lo2, hi2) = rates(now, reset);
        let slowest = lo.max(lo2);
        if slowest <= hi.min(hi2) {
            reset.max(slowest * limit)
        } else {
            reset
        }
    }

    /// Takes what a report said of the tokens window: the request it
    /// reports went at `sent_ms` (if known) and was answered at
    /// `observed_ms`.
    pub fn report(&mut self, t: Counted, sent_ms: Option<f64>, observed_ms: f64) {
        if let Some(limit) = t.limit {
            self.limit = Some(limit);
        }
        self.window_ms = self.window_ms.max(self.window_shown(t, observed_ms));
        self.settle(observed_ms);
        if let Some(sent) = sent_ms {
            self.reach_ms = self.reach_ms.max(observed_ms - sent);
        }
        if self.known.is_some_and(|k| observed_ms < k.observed_at_ms) {
            return;
        }
        // What was granted by the time the reported request went is
        // counted in `remaining` (as in the request books: a permit granted
        // before it but spent later may not be; the limit's bound holds
        // that one).
        let counted_to_ms = sent_ms.unwrap_or(observed_ms - LEASE_TTL_MS);
        // The estimates booked early enough to have surely reached the
        // server before the reported request (spent within LEASE_TTL_MS of
        // their grant, there within the longest round trip) are at most
        // the server's count: more, and they are scaled down to it.
        if let (Some(limit), Some(sent)) = (self.limit, sent_ms) {
            let surely = sent - LEASE_TTL_MS - self.reach_ms;
            let used = (limit - t.remaining).max(0.0);
            let before = self.booked_after(f64::NEG_INFINITY) - self.booked_after(surely);
            if before > used {
                let scale = used / before;
                for run in self.runs.iter_mut().filter(|r| r.0 <= surely) {
                    run.1 *= scale;
                }
                self.runs.retain(|&(_, n)| n > 0.0);
            }
        }
        self.known = Some(Known {
            remaining: t.remaining,
            counted_to_ms,
            reset_at_ms: t.reset_at_ms,
            observed_at_ms: observed_ms,
            held: self.booked_before(counted_to_ms),
        });
    }

    /// How many of `want` calls, each expected to use `each` tokens, the
    /// window has room for at `now_ms`: `Ok(n)` (at least one), or
    /// `Err(ms)` until more room may come. With no limit heard, all of
    /// them. A call larger than the limit goes when the window is empty
    /// (the server decides), as the instance's throttle lets it.
    pub fn room(&mut self, want: f64, each: f64, now_ms: f64) -> Result<f64, f64> {
        self.settle(now_ms);
        let Some(limit) = self.limit else {
            return Ok(want);
        };
        let each = each.min(limit);
        if each <= 0.0 {
            return Ok(want);
        }
        let mut room = limit - self.booked_after(f64::NEG_INFINITY);
        let mut next_ms = self
            .runs
            .front()
            .map_or(f64::INFINITY, |&(at, _)| at + self.hold_ms() - now_ms);
        if let Some(k) = self.known.filter(|k| now_ms < k.reset_at_ms) {
            // The counted tokens that left the books since have left the
            // server's window too (the books hold them at least as long).
            let freed = (k.held - self.booked_before(k.counted_to_ms)).max(0.0);
            let left = k.remaining - self.booked_after(k.counted_to_ms) + freed;
            if left < room {
                room = left;
                next_ms = next_ms.min(k.reset_at_ms - now_ms);
            }
        }
        let n = (room / each).floor().min(want);
        if n >= 1.0 {
            Ok(n)
        } else {
            Err(next_ms)
        }
    }

    /// Books `tokens` granted at `now_ms`.
    pub fn book(&mut self, tokens: f64, now_ms: f64) {
        if tokens <= 0.0 {
            return;
        }
        // Grants are not merged across time, as the request books merge
        // theirs: a run moved later would no longer read as counted by a
        // report of a request sent between (the `remaining` bound would
        // count it twice). Only when the books are full.
        match self.runs.back_mut() {
            Some((at, n)) if now_ms <= *at => *n += tokens,
            _ => {
                if self.runs.len() >= MAX_TOKEN_RUNS {
                    // Merged into the next (later: freed no sooner).
                    if let Some((_, n)) = self.runs.pop_front() {
                        if let Some(next) = self.runs.front_mut() {
                            next.1 += n;
                        }
                    }
                }
                self.runs.push_back((now_ms, tokens));
            }
        }
    }

    /// Until when the books matter, ms since the epoch.
    pub fn busy_until_ms(&self) -> f64 {
        let last = self.runs.back().map_or(0.0, |&(at, _)| at + self.hold_ms());
        last.max(self.known.map_or(0.0, |k| k.reset_at_ms))
    }

    /// The books as numbers, for storage: limit, window, the report's
    /// remaining, counted-to, reset, observation and held (`NaN` if none),
    /// the longest round trip, then the runs.
    pub fn to_vec(&self) -> Vec<f64> {
        let k = self.known;
        let n = |v: Option<f64>| v.unwrap_or(f64::NAN);
        let mut v = vec![
            n(self.limit),
            self.window_ms,
            n(k.map(|k| k.remaining)),
            n(k.map(|k| k.counted_to_ms)),
            n(k.map(|k| k.reset_at_ms)),
            n(k.map(|k| k.observed_at_ms)),
            n(k.map(|k| k.held)),
            self.reach_ms,
        ];
        v.extend(self.runs.iter().flat_map(|&(at, n)| [at, n]));
        v
    }

    /// How many numbers [`TokenBook::to_vec`] writes at most.
    pub const MAX_NUMBERS: usize = 8 + 2 * MAX_TOKEN_RUNS;

    /// Books read back from storage; anything unreadable is left out (all
    /// of it, if the fixed part is).
    pub fn from_slice(v: &[f64]) -> TokenBook {
        let [limit, window_ms, remaining, counted, reset, observed, held, reach, runs @ ..] = v
        else {
            return TokenBook::default();
        };
        let ok = |v: f64| (v.is_finite() && v >= 0.0).then_some(v);
        let known = match (
            ok(*remaining),
            counted.is_finite(),
            ok(*reset),
            ok(*observed),
            ok(*held),
        ) {
            (Some(remaining), true, Some(reset_at_ms), Some(observed_at_ms), Some(held)) => {
                Some(Known {
                    remaining,
                    counted_to_ms: *counted,
                    reset_at_ms,
                    observed_at_ms,
                    held,
                })
            }
            _ => None,
        };
        let mut kept = VecDeque::new();
        for r in runs.chunks_exact(2) {
            if kept.len() < MAX_TOKEN_RUNS && r[0].is_finite() && r[1].is_finite() && r[1] > 0.0 {
                kept.push_back((r[0], r[1]));
            }
        }
        TokenBook {
            limit: ok(*limit),
            window_ms: ok(*window_ms).unwrap_or(0.0),
            reach_ms: ok(*reach).unwrap_or(0.0),
            runs: kept,
            known,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: f64 = 60_000.0;

    fn counted(remaining: f64, reset_at_ms: f64) -> Counted {
        Counted {
            limit: Some(10_000.0),
            remaining,
            reset_at_ms,
        }
    }

    /// Calls of 1 000 tokens granted one at a time over `[from, to)`,
    /// asking every ms.
    fn granted(b: &mut TokenBook, from: f64, to: f64) -> u32 {
        let mut n = 0;
        let mut t = from;
        while t < to {
            if let Ok(k) = b.room(1.0, 1_000.0, t) {
                b.book(k * 1_000.0, t);
                n += k as u32;
            }
            t += 1.0;
        }
        n
    }

    #[test]
    fn no_window_sees_more_tokens_than_the_limit() {
        let mut b = TokenBook::default();
        assert_eq!(b.room(8.0, 1_000.0, 0.0), Ok(8.0), "no limit heard yet");
        b.book(1_000.0, 0.0);
        // A window of a minute (59 950 ms left when heard at 50).
        b.report(counted(9_000.0, W), Some(10.0), 50.0);
        assert_eq!(granted(&mut b, 60.0, W), 9);
        // Past the report's reset the booked estimates still bind.
        assert_eq!(granted(&mut b, W, W + 50.0), 0);
        // The first leaves a window (and the way there) after its grant.
        let first = W - 50.0 + LEASE_TTL_MS;
        assert_eq!(b.room(1.0, 1_000.0, first - 1.0), Err(1.0));
        assert_eq!(granted(&mut b, first, first + 1.0), 1);
    }

    #[test]
    fn the_server_s_count_corrects_the_estimates_and_binds_until_its_reset() {
        // Estimates of 1 000; the server charged 200 for each.
        let mut b = TokenBook::default();
        b.book(1_000.0, 0.0);
        b.report(counted(9_800.0, W), Some(10.0), 50.0);
        assert_eq!(granted(&mut b, 100.0, 200.0), 9, "the estimates bind");
        assert_eq!(granted(&mut b, 200.0, 1_000.0), 0);
        // A request sent at 1 000, when all ten surely reached the server:
        // it counts 2 000 used (its own not yet, with no estimate booked):
        // the ten are booked at 2 000 now, and eight more fit.
        b.report(counted(8_000.0, W), Some(1_000.0), 1_150.0);
        assert_eq!(granted(&mut b, 1_150.0, 1_200.0), 8);
        // Other clients used the window: 500 left until its reset.
        let mut b = TokenBook::default();
        b.report(counted(500.0, 1_000.0), None, 0.0);
        assert_eq!(b.room(1.0, 1_000.0, 10.0), Err(990.0));
        assert_eq!(b.room(1.0, 400.0, 10.0), Ok(1.0));
        assert_eq!(b.room(1.0, 1_000.0, 1_000.0), Ok(1.0));
    }

    #[test]
    fn counted_tokens_that_leave_the_books_free_room_before_the_report_s_reset() {
        // A sliding log: its reset says when it is empty, a window after
        // its newest entry; the oldest leave sooner.
        let mut b = TokenBook::default();
        b.book(10_000.0, 0.0);
        b.report(counted(0.0, 100.0 + W), Some(100.0), 200.0);
        let hold = W - 100.0 + LEASE_TTL_MS;
        assert_eq!(b.room(1.0, 1_000.0, hold - 1.0), Err(1.0));
        assert_eq!(
            b.room(8.0, 1_000.0, hold),
            Ok(8.0),
            "before the reset at {}",
            100.0 + W
        );
    }

    #[test]
    fn a_bucket_s_tokens_stay_booked_a_whole_refill_not_its_first_reset() {
        // A bucket of 10 000 tokens refilled over 1 000 ms: its reset is the
        // time until it is full again, 0.1 ms a token missing. The cold
        // start's report counts 1 000 used (100 ms), the next 2 560 (256).
        let mut b = TokenBook::default();
        b.book(1_000.0, 0.0);
        b.report(counted(9_000.0, 130.0), Some(0.0), 30.0);
        assert_eq!(b.room(9.0, 1_000.0, 45.0), Ok(9.0));
        b.book(9_000.0, 45.0);
        b.report(counted(7_440.0, 76.0 + 256.0), Some(46.0), 76.0);
        // Taken for a 256 ms window, the ten left the books by 401 and ten
        // more went there, where the bucket held about 3 400.
        assert_eq!(granted(&mut b, 77.0, 1_000.0), 0);
        assert!((b.window_ms - 994.1).abs() < 0.1, "{}", b.window_ms);
        assert_eq!(granted(&mut b, 1_000.0, 1_200.0), 10);
    }

    #[test]
    fn a_fixed_window_or_a_sliding_log_is_not_taken_for_a_bucket() {
        // A fixed window of 1 000 ms: its reset shrinks as the count grows.
        let mut b = TokenBook::default();
        b.report(counted(9_000.0, 1_000.0), Some(0.0), 10.0);
        b.report(counted(7_000.0, 1_000.0), Some(50.0), 100.0);
        b.report(counted(3_000.0, 1_000.0), Some(350.0), 400.0);
        assert_eq!(b.window_ms, 990.0);
        // A sliding log: every reset a window, whatever the count.
        let mut b = TokenBook::default();
        for (i, left) in [9_000.0, 7_000.0, 3_000.0].into_iter().enumerate() {
            let at = 100.0 * i as f64;
            b.report(counted(left, at + 1_000.0), Some(at), at);
        }
        assert_eq!(b.window_ms, 1_000.0);
    }

    #[test]
    fn a_call_larger_than_the_limit_goes_when_the_window_is_empty() {
        let mut b = TokenBook::default();
        b.report(counted(10_000.0, 100.0), None, 0.0);
        assert_eq!(b.room(2.0, 50_000.0, 1.0), Ok(1.0));
    }

    #[test]
    fn the_books_survive_storage_and_garbage_is_left_out() {
        let mut b = TokenBook::default();
        b.book(1_000.0, 0.0);
        b.report(counted(9_000.0, W), Some(10.0), 50.0);
        b.book(3_000.0, 60.0);
        assert_eq!(TokenBook::from_slice(&b.to_vec()), b);
        assert_eq!(TokenBook::from_slice(&[1.0]), TokenBook::default());
        let bad = [
            f64::NAN,
            -1.0,
            f64::NAN,
            0.0,
            1.0,
            1.0,
            0.0,
            -3.0,
            5.0,
            f64::NAN,
            6.0,
            1.0,
        ];
        let back = TokenBook::from_slice(&bad);
        assert_eq!(back.limit, None);
        assert_eq!(back.window_ms, 0.0);
        assert_eq!(back.known, None);
        assert_eq!(back.reach_ms, 0.0);
        assert_eq!(back.runs, [(6.0, 1.0)]);
    }
}

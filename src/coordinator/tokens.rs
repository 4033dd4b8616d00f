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
//! A token bucket (two reports agreeing on one refill rate) refilled
//! within `REFILL_AT_MOST_MS` (10 s) has books that refill as it does instead:
//! the grants owed repaid at its rate, and the latest report's `remaining`
//! grown at it, so a drained bucket's room comes back call by call rather
//! than a whole refill after each grant; an instance told to wait is
//! promised a turn of that refill, so that waiting instances come back one
//! at a time, not all at each call's refill.
//!
//! A fixed window, once the request books proved theirs refills whole at
//! its reset (`freeing.rs`, `learn_whole`) and its reports say the tokens
//! window resets with it, frees its room at that reset instead: every
//! grant that surely reached the server before the window ended leaves the
//! books then, as the request books free their slots.
//!
//! The server's count corrects the estimates, as an instance's own throttle
//! does: a report that counts fewer tokens used than the books booked before
//! its request went scales those down to the server's count (a completion
//! shorter than its cap, a permit never spent, a window that refilled). A
//! count above the books' (other clients, a larger charge) is left to the
//! `remaining` bound.

use std::collections::VecDeque;

use super::ledger::{drop_front_while, MIN_WINDOW_MS};
use crate::limits::lease::{Counted, LEASE_TTL_MS, WAIT_MS};

/// The most runs of booked tokens kept (one a grant; past it the oldest
/// two merge, at the later time: freed no sooner).
pub(super) const MAX_TOKEN_RUNS: usize = 256;

/// The longest refill of a bucket whose books refill as it does, ms; a
/// longer one (a minute's tokens, as OpenAI's) holds booked tokens a
/// whole refill. Refilled books grant a permit whenever one call's worth
/// came back, to whichever instance asks first: over a minute's refill an
/// instance may be refused past its retry policy's cap and go on alone
/// (`Leases::need`), as it did on the fake clock (12 429s at N = 4,
/// `tests/leases.rs`); held books grant a window's worth at once.
pub(super) const REFILL_AT_MOST_MS: f64 = 10_000.0;

/// The most turns a bucket's books promise at once (past them a request
/// is told to wait, and asks again, with no turn).
pub(super) const MAX_PROMISED: usize = 16;

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
    /// Its length: the longest reset reported, ms, or a bucket's whole
    /// refill.
    window_ms: f64,
    /// Whether two reports showed a token bucket (`window_ms` is then its
    /// refill): the books refill as it does ([`TokenBook::bucket_room`]).
    bucket: bool,
    /// Tokens booked, oldest first: (when, how many).
    runs: VecDeque<(f64, f64)>,
    known: Option<Known>,
    /// The longest time from a request's send to its answer reported, ms.
    reach_ms: f64,
    /// A bucket's refill promised to the lease requests told to wait for
    /// it, in turn: (when, tokens), oldest first ([`TokenBook::queue`]).
    promised: VecDeque<(f64, f64)>,
    /// The reset of a fixed window not yet past, once the request books
    /// proved their window refills whole and this one resets with it
    /// ([`TokenBook::refill_whole_at`]): at it, the tokens booked early
    /// enough to have surely reached the server before the window ended
    /// leave the books, not a window after their grant.
    refill_at_ms: Option<f64>,
}

impl TokenBook {
    /// How long booked tokens stay in the books, ms.
    fn hold_ms(&self) -> f64 {
        self.window_ms.max(MIN_WINDOW_MS) + LEASE_TTL_MS
    }

    /// Lets out the tokens booked longer than a window ago (a bucket's:
    /// those its books refilled, [`TokenBook::owed`]).
    fn settle(&mut self, now_ms: f64) {
        if self.refills() {
            // Not those the latest report's bound still counts.
            let counted = self.known.map_or(f64::INFINITY, |k| k.counted_to_ms);
            let (_, drained) = self.owed(now_ms);
            for _ in 0..drained {
                if self.runs.front().is_some_and(|r| r.0 <= counted) {
                    self.runs.pop_front();
                }
            }
            return;
        }
        let hold = self.hold_ms();
        drop_front_while(&mut self.runs, |&(at, _)| at + hold <= now_ms);
        if let Some(reset) = self.refill_at_ms.filter(|&r| r <= now_ms) {
            self.refill_at_ms = None;
            // As the request books free their slots (`freeing.rs`): the
            // reset was heard up to `reach` late, so the window ended no
            // sooner than `reset - reach`; a grant spent within
            // [`LEASE_TTL_MS`] and there within `reach` was counted in it.
            let reach = self.reach_ms;
            let end = reset - reach;
            drop_front_while(&mut self.runs, |&(at, _)| at + LEASE_TTL_MS + reach <= end);
        }
    }

    /// The request books' word on the window (`freeing.rs`,
    /// `learn_whole`): `Some(reset)` when they proved theirs refills whole
    /// and a report, without a 429, said that this one resets with it
    /// (at `reset`, the latest such kept); `None` when a 429 or a
    /// continuous refill undid it. A bucket's books keep theirs.
    pub(super) fn refill_whole_at(&mut self, reset: Option<f64>) {
        self.refill_at_ms = match reset {
            Some(at) if !self.bucket => Some(self.refill_at_ms.map_or(at, |r| r.max(at))),
            _ => None,
        };
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
    fn window_shown(&self, t: Counted, observed_ms: f64) -> (f64, bool) {
        let reset = t.reset_at_ms - observed_ms;
        let (Some(limit), Some(k)) = (self.limit, self.known) else {
            return (reset, false);
        };
        let rates = |d: f64, reset: f64| {
            let slack = 1.0 + reset * 0.002;
            ((reset - slack).max(0.0) / d, (reset + slack) / (d - 1.0))
        };
        let (was, now) = (limit - k.remaining, limit - t.remaining);
        if was.min(now) < 2.0 || was.max(now) < 1.5 * was.min(now) {
            return (reset, false);
        }
        let (lo, hi) = rates(was, k.reset_at_ms - k.observed_at_ms);
        let (lo2, hi2) = rates(now, reset);
        let slowest = hi.min(hi2);
        if lo.max(lo2) <= slowest {
            (reset.max(slowest * limit), true)
        } else {
            (reset, false)
        }
    }

    /// Whether the books refill as a bucket does: a bucket was shown, and
    /// it refills within [`REFILL_AT_MOST_MS`].
    fn refills(&self) -> bool {
        self.bucket && self.window_ms <= REFILL_AT_MOST_MS
    }

    /// A bucket's refill rate, tokens a ms.
    fn rate(&self, limit: f64) -> f64 {
        limit / self.window_ms.max(MIN_WINDOW_MS)
    }

    /// What the books owe a bucket at `now_ms`: every grant taken from it
    /// as late as it may reach the server (its grant, [`LEASE_TTL_MS`] and
    /// the longest round trip reported, not after now), refilled at its
    /// rate since; and how many of the oldest runs it had refilled when
    /// the next landed (those no longer count: a run dropped while the
    /// books still owed for it would lose that debt).
    fn owed(&self, now_ms: f64) -> (f64, usize) {
        let rate = self.limit.map_or(0.0, |l| self.rate(l));
        let mut owed = 0.0;
        let mut last = f64::NEG_INFINITY;
        let mut drained = 0;
        for (i, &(at, n)) in self.runs.iter().enumerate() {
            let lands = (at + LEASE_TTL_MS + self.reach_ms).min(now_ms).max(last);
            if last.is_finite() {
                owed = (owed - rate * (lands - last)).max(0.0);
            }
            if owed <= 0.0 {
                drained = i;
            }
            owed += n;
            last = lands;
        }
        if last.is_finite() {
            owed = (owed - rate * (now_ms - last)).max(0.0);
        }
        if owed <= 0.0 {
            drained = self.runs.len();
        }
        (owed, drained)
    }

    /// The room a token bucket's books leave at `now_ms`: the bucket
    /// refills at the rate its reports showed (`limit` a `window_ms`), so
    /// booked tokens leave the books as it refills rather than a whole
    /// window after their grant. Two bounds, the tighter wins:
    ///
    /// - the books as a bucket of their own ([`TokenBook::owed`]);
    /// - the latest report's `remaining`, refilled at the rate since its
    ///   answer (the server counted it before), at most the limit, less
    ///   what was granted after the reported request went.
    fn bucket_room(&self, limit: f64, now_ms: f64) -> f64 {
        let rate = self.rate(limit);
        let owed = self.owed(now_ms).0;
        let mut room = limit - owed;
        if let Some(k) = self.known {
            let refilled = (k.remaining + rate * (now_ms - k.observed_at_ms).max(0.0)).min(limit);
            room = room.min(refilled - self.booked_after(k.counted_to_ms));
        }
        room
    }

    /// How many of `want` calls of `each` tokens a bucket's books grant at
    /// `now_ms`, or the ms until the request's turn. Every waiting
    /// instance told to come back when one call's refill came would come
    /// back at once, one granted and the others told to wait again (about
    /// as many lease requests a call as instances); so each request refused
    /// is promised a turn instead, the refill for all its calls after the
    /// turns promised before it, and told to come back then. A request
    /// that comes when a turn is due takes it (its owner, or one in its
    /// place: the books cannot tell instances apart, and the other is
    /// promised a later turn when it comes); one that comes between turns
    /// may take only what the next turn leaves.
    fn turn(&mut self, limit: f64, want: f64, each: f64, now_ms: f64) -> Result<f64, f64> {
        let rate = self.rate(limit);
        // A turn its owner did not take within a permit's way lapses.
        while self
            .promised
            .front()
            .is_some_and(|&(at, _)| at + LEASE_TTL_MS < now_ms)
        {
            self.promised.pop_front();
        }
        let room = self.bucket_room(limit, now_ms);
        let due = self.promised.front().is_some_and(|&(at, _)| at <= now_ms);
        let spare = match self.promised.front() {
            Some(&(at, tokens)) if !due => room - (tokens - rate * (at - now_ms)).max(0.0),
            _ => room,
        };
        let n = (spare / each).floor().min(want);
        if n >= 1.0 {
            if due {
                self.promised.pop_front();
            }
            return Ok(n);
        }
        if due {
            // Its turn came short (the estimates moved): it keeps its place.
            let tokens = self.promised.front().map_or(each, |&(_, n)| n);
            let at = self.ready_at(limit, tokens, room, now_ms);
            if let Some(front) = self.promised.front_mut() {
                front.0 = at;
            }
            return Err((at - now_ms).ceil().max(1.0));
        }
        // Its turn comes after those promised, when the refill has room for
        // its calls; for fewer of them if that is more than a wait away
        // (told less, it would come back before its turn).
        let last = self
            .promised
            .back()
            .map_or(f64::NEG_INFINITY, |&(at, _)| at);
        let mut calls = want.min((limit / each).floor()).max(1.0);
        let mut at = now_ms;
        for _ in 0..2 {
            let tokens = calls * each;
            at = self
                .ready_at(limit, tokens, room, now_ms)
                .max(last + tokens / rate);
            let over = at - now_ms - WAIT_MS.1;
            if over <= 0.0 || calls <= 1.0 {
                break;
            }
            calls = (calls - (over * rate / each).ceil()).max(1.0);
        }
        if at - now_ms <= WAIT_MS.1 && self.promised.len() < MAX_PROMISED {
            self.promised.push_back((at, calls * each));
        }
        // In whole ms: come back then, and the room is there.
        Err((at - now_ms).ceil().max(1.0))
    }

    /// When a bucket's books, with `room` at `now_ms`, have room for
    /// `tokens`: their room grows at the rate, but no sooner than their
    /// grants land, so found in a few steps, each to when the room would
    /// be enough were it growing at the rate.
    fn ready_at(&self, limit: f64, tokens: f64, room: f64, now_ms: f64) -> f64 {
        let rate = self.rate(limit);
        let (mut at, mut room) = (now_ms, room);
        for _ in 0..4 {
            if room >= tokens {
                break;
            }
            at += (tokens - room) / rate;
            room = self.bucket_room(limit, at);
        }
        at
    }

    /// The turns promised, as much as a store needs to tell whether they
    /// changed: how many, the first's time and the last's.
    pub fn turns(&self) -> (usize, f64, f64) {
        let at = |t: Option<&(f64, f64)>| t.map_or(0.0, |&(at, _)| at);
        (
            self.promised.len(),
            at(self.promised.front()),
            at(self.promised.back()),
        )
    }

    /// Takes what a report said of the tokens window: the request it
    /// reports went at `sent_ms` (if known) and was answered at
    /// `observed_ms`.
    pub fn report(&mut self, t: Counted, sent_ms: Option<f64>, observed_ms: f64) {
        if let Some(limit) = t.limit {
            self.limit = Some(limit);
        }
        let (window, bucket) = self.window_shown(t, observed_ms);
        self.window_ms = self.window_ms.max(window);
        self.bucket |= bucket;
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
        // A bucket's count is less than what went, by what it refilled
        // since: its books refill at its rate and are left as booked.
        if let (Some(limit), Some(sent), false) = (self.limit, sent_ms, self.refills()) {
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
        if self.refills() {
            return self.turn(limit, want, each, now_ms);
        }
        let mut room = limit - self.booked_after(f64::NEG_INFINITY);
        let mut next_ms = self
            .runs
            .front()
            .map_or(f64::INFINITY, |&(at, _)| at + self.hold_ms() - now_ms)
            .min(self.refill_at_ms.map_or(f64::INFINITY, |at| at - now_ms));
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
        // A bucket's books: until the last run landed and all of them
        // refilled, at the latest.
        let hold = match self.limit {
            Some(limit) if self.refills() => {
                LEASE_TTL_MS
                    + self.reach_ms
                    + self.booked_after(f64::NEG_INFINITY) / self.rate(limit)
            }
            _ => self.hold_ms(),
        };
        let last = self.runs.back().map_or(0.0, |&(at, _)| at + hold);
        last.max(self.known.map_or(0.0, |k| k.reset_at_ms))
            .max(self.promised.back().map_or(0.0, |&(at, _)| at))
            .max(self.refill_at_ms.unwrap_or(0.0))
    }

    /// The books as numbers, for storage: limit, window, the report's
    /// remaining, counted-to, reset, observation and held (`NaN` if none),
    /// the window negative for a bucket's refill,
    /// the longest round trip, then the runs, the turns promised, as runs
    /// of negative tokens, and last a fixed window's reset, as a run of
    /// `NaN` tokens (a reader without either leaves them out).
    pub fn to_vec(&self) -> Vec<f64> {
        let k = self.known;
        let n = |v: Option<f64>| v.unwrap_or(f64::NAN);
        let mut v = vec![
            n(self.limit),
            if self.bucket {
                -self.window_ms
            } else {
                self.window_ms
            },
            n(k.map(|k| k.remaining)),
            n(k.map(|k| k.counted_to_ms)),
            n(k.map(|k| k.reset_at_ms)),
            n(k.map(|k| k.observed_at_ms)),
            n(k.map(|k| k.held)),
            self.reach_ms,
        ];
        v.extend(self.runs.iter().flat_map(|&(at, n)| [at, n]));
        v.extend(self.promised.iter().flat_map(|&(at, n)| [at, -n]));
        v.extend(
            self.refill_at_ms
                .map(|at| [at, f64::NAN])
                .into_iter()
                .flatten(),
        );
        v
    }

    /// How many numbers [`TokenBook::to_vec`] writes at most (a fixed
    /// window's reset only with no turns promised: a bucket's).
    pub const MAX_NUMBERS: usize = 8 + 2 * (MAX_TOKEN_RUNS + MAX_PROMISED);

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
        let mut promised = VecDeque::new();
        let mut refill_at_ms = None;
        for r in runs.chunks_exact(2) {
            if r[0].is_finite() && r[0] >= 0.0 && r[1].is_nan() {
                refill_at_ms = Some(r[0]);
            }
            if !r[0].is_finite() || !r[1].is_finite() {
                continue;
            }
            if kept.len() < MAX_TOKEN_RUNS && r[1] > 0.0 {
                kept.push_back((r[0], r[1]));
            } else if promised.len() < MAX_PROMISED && r[1] < 0.0 {
                promised.push_back((r[0], -r[1]));
            }
        }
        TokenBook {
            limit: ok(*limit),
            window_ms: ok(window_ms.abs()).unwrap_or(0.0),
            bucket: *window_ms < 0.0 && window_ms.is_finite(),
            reach_ms: ok(*reach).unwrap_or(0.0),
            runs: kept,
            known,
            promised,
            refill_at_ms: refill_at_ms.filter(|_| *window_ms >= 0.0),
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

    /// A bucket of 10 000 tokens refilled over 1 000 ms: its reset is the
    /// time until it is full again, 0.1 ms a token missing. The cold
    /// start's report counts 1 000 used (100 ms), the next 2 560 (256):
    /// one rate, a bucket. The books then hold 10 calls of 1 000.
    fn drained_bucket(limit_ms: f64) -> TokenBook {
        let scale = limit_ms / 1_000.0;
        let mut b = TokenBook::default();
        b.book(1_000.0, 0.0);
        b.report(counted(9_000.0, 30.0 + 100.0 * scale), Some(0.0), 30.0);
        assert_eq!(b.room(9.0, 1_000.0, 45.0), Ok(9.0));
        b.book(9_000.0, 45.0);
        b.report(counted(7_440.0, 76.0 + 256.0 * scale), Some(46.0), 76.0);
        assert!(b.bucket);
        b
    }

    #[test]
    fn a_drained_bucket_s_books_grant_again_at_its_refill_rate() {
        let mut b = drained_bucket(1_000.0);
        // The slowest rate both reports allow: 1 000 tokens a 100.63 ms.
        assert!((b.window_ms - 1_006.3).abs() < 0.1, "{}", b.window_ms);
        // Each grant taken from the books as late as it may reach the
        // server (grant, 100 ms and the 30 ms round trip): 9 550 owed at
        // 175, room for one more once 550 refilled, by 231; then one a
        // refill of 1 000. Held a whole refill, none came before 1 106.
        assert_eq!(granted(&mut b, 77.0, 231.0), 0);
        assert_eq!(granted(&mut b, 231.0, 232.0), 1);
        assert_eq!(granted(&mut b, 232.0, 332.0), 0);
        assert_eq!(granted(&mut b, 332.0, 1_000.0), 7);
        // Never more than the bucket held: a whole refill later, the 10
        // first and the 8 since have left room for 10 more at most.
        assert!(granted(&mut b, 1_000.0, 2_000.0) <= 10);
    }

    #[test]
    fn instances_told_to_wait_for_a_bucket_come_back_in_turn() {
        let mut b = drained_bucket(1_000.0);
        // Three instances refused at once, one call each: each told to come
        // back a call's refill (100.63 ms) after the one before, not all
        // when the first call's refill came (at 231, one granted then and
        // the two others told to wait again).
        let waits: Vec<f64> = (0..3)
            .map(|_| b.room(1.0, 1_000.0, 100.0).unwrap_err())
            .collect();
        assert_eq!(waits, [131.0, 232.0, 332.0]);
        // One that comes between turns leaves the next its room.
        assert!(b.room(1.0, 1_000.0, 100.0 + waits[0] - 1.0).is_err());
        assert_eq!(b.promised.len(), 4);
        // Each takes its call in its turn.
        for w in &waits {
            let at = 100.0 + w;
            assert_eq!(b.room(1.0, 1_000.0, at), Ok(1.0), "{waits:?} at {at}");
            b.book(1_000.0, at);
        }
        // A wait longer than the longest answered promises no turn: told
        // less, the instance comes back before it.
        let mut b = drained_bucket(1_000.0);
        for _ in 0..3 {
            let _ = b.room(8.0, 1_000.0, 100.0);
        }
        assert!(b.promised.iter().all(|&(at, _)| at - 100.0 <= WAIT_MS.1));
        assert_eq!(TokenBook::from_slice(&b.to_vec()), b);
    }

    #[test]
    fn a_bucket_refilled_over_a_minute_holds_its_tokens_a_whole_refill() {
        // Refilled books grant one call at a time to whoever asks first:
        // over a minute an instance could be refused past its policy's cap.
        let mut b = drained_bucket(60_000.0);
        assert!(b.window_ms > REFILL_AT_MOST_MS);
        assert_eq!(granted(&mut b, 77.0, 60_000.0), 0);
        assert_eq!(granted(&mut b, 60_460.0, 60_600.0), 10);
    }

    #[test]
    fn a_fixed_window_or_a_sliding_log_is_not_taken_for_a_bucket() {
        // A fixed window of 1 000 ms: its reset shrinks as the count grows.
        let mut b = TokenBook::default();
        b.report(counted(9_000.0, 1_000.0), Some(0.0), 10.0);
        b.report(counted(7_000.0, 1_000.0), Some(50.0), 100.0);
        b.report(counted(3_000.0, 1_000.0), Some(350.0), 400.0);
        assert_eq!(b.window_ms, 990.0);
        assert!(!b.bucket);
        // A sliding log: every reset a window, whatever the count.
        let mut b = TokenBook::default();
        for (i, left) in [9_000.0, 7_000.0, 3_000.0].into_iter().enumerate() {
            let at = 100.0 * i as f64;
            b.report(counted(left, at + 1_000.0), Some(at), at);
        }
        assert_eq!(b.window_ms, 1_000.0);
        assert!(!b.bucket);
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
        let bucket = drained_bucket(1_000.0);
        assert_eq!(TokenBook::from_slice(&bucket.to_vec()), bucket);
        assert_eq!(TokenBook::from_slice(&[1.0]), TokenBook::default());
        let bad = [
            f64::NAN,
            f64::NEG_INFINITY,
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
        assert!(!back.bucket);
        assert_eq!(back.known, None);
        assert_eq!(back.reach_ms, 0.0);
        assert_eq!(back.runs, [(6.0, 1.0)]);
    }
}

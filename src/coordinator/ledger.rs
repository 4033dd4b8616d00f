//! A coordinator's books for one key's request window ([`Ledger`], one per
//! key, kept by the Durable Object or the Redis record): every permit it
//! grants occupies a slot of the key's request window for the window's
//! length plus [`LEASE_TTL_MS`] (the time a permit may take to reach the
//! server), so no window of that length sees more than the limit: a sliding
//! log, exact for a sliding-log limit, conservative for a fixed window or a
//! token bucket. The latest report an instance forwards from the server's
//! headers also bounds it: until that report's reset, no more than its
//! `remaining`, less what was granted since, goes out; the counted permits
//! that left the books since are free again. A 429 closes the key until its
//! hint. With nothing heard yet, one permit goes (a cold start: its slot
//! stays until its report says how long a window is) and the others wait
//! for its report.
//!
//! When a slot is freed is `freeing.rs`'s ([`Ledger::report`]); how the
//! books are stored, `storage.rs`'s ([`Ledger::to_vec`]).

use std::collections::VecDeque;

use super::tokens::TokenBook;
use crate::limits::lease::{Grant, COLD_WAIT_MS, LEASE_TTL_MS, MAX_LEASE, WAIT_MS};

/// The shortest window length assumed, ms.
pub(super) const MIN_WINDOW_MS: f64 = 100.0;

/// Drops the books' oldest entries while `gone` says they have left them
/// (runs of grants or booked tokens, placed reports: each kept in order).
pub(super) fn drop_front_while<T>(entries: &mut VecDeque<T>, gone: impl Fn(&T) -> bool) {
    while entries.front().is_some_and(&gone) {
        entries.pop_front();
    }
}

/// Grants closer together than a window's length divided by this are booked
/// as one run (at the later time: freed no sooner), so the books stay small.
pub(super) const RUNS_PER_WINDOW: f64 = 32.0;

/// The latest report the coordinator holds of a key's window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Known {
    pub(super) remaining: f64,
    pub(super) observed_at_ms: f64,
    /// Grants up to then are counted in `remaining`.
    pub(super) counted_to_ms: f64,
    pub(super) reset_at_ms: f64,
    /// The permits the books held, granted before `counted_to_ms`, when the
    /// report came: those that leave the books later free a slot the report
    /// counted as used.
    pub(super) held: f64,
}

/// A coordinator's books for one key's request window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ledger {
    /// The window's limit, once reported.
    pub(super) limit: Option<f64>,
    /// Its length: the longest reset reported, ms.
    pub(super) window_ms: f64,
    /// Grants, oldest first: (when, how many).
    pub(super) runs: VecDeque<(f64, f64)>,
    pub(super) known: Option<Known>,
    pub(super) blocked_until_ms: f64,
    /// When the cold-start permit went, if one did and no report came yet.
    pub(super) cold_at_ms: Option<f64>,
    /// Whether any report came: with no limit in any, grants are not
    /// limited.
    pub(super) heard: bool,
    /// Whether the reports proved that the window refills whole at its
    /// reset (a fixed window), until a 429 says otherwise.
    pub(super) whole: bool,
    /// Whether an instance saw the window refill continuously (a token
    /// bucket): it is then never learned to refill whole.
    pub(super) continuous: bool,
    /// When the requests of the latest reports without a 429 were let go
    /// (at most [`MAX_SENDS`]): what any sliding log would still count.
    pub(super) sends: VecDeque<f64>,
    /// The newest reset of a window that refills whole, not yet past: at
    /// it, every permit that surely reached the server before the window
    /// ended (its reset less `reach_ms`: granted [`LEASE_TTL_MS`] and
    /// `reach_ms` before that, or reported answered by then) leaves the
    /// books.
    pub(super) refill_at_ms: Option<f64>,
    /// Permits whose request a report placed, in the order they leave:
    /// (sent, held from, answered), ms since the epoch. A slot leaves a
    /// window's length after it is held from: its answer (when the request
    /// surely reached the server), or its grant's run and the way there if
    /// sooner.
    pub(super) placed: VecDeque<(f64, f64, f64)>,
    /// The longest time from a request's send to its answer reported, ms:
    /// the longest way to the server assumed for a whole refill.
    pub(super) reach_ms: f64,
    /// The key's tokens window: no permit goes unless its calls' tokens fit
    /// (stored apart: [`TokenBook::to_vec`]).
    pub tokens: TokenBook,
}

/// The most placed permits the books keep.
pub(super) const MAX_PLACED: usize = 256;

impl Ledger {
    /// How long a grant occupies its slot, ms.
    pub(super) fn hold_ms(&self) -> f64 {
        self.window_ms.max(MIN_WINDOW_MS) + LEASE_TTL_MS
    }

    /// The permits granted (or placed by a report) before `to_ms` the
    /// books still hold.
    pub(super) fn held_before(&self, to_ms: f64) -> f64 {
        let runs: f64 = self
            .runs
            .iter()
            .filter(|&&(at, _)| at < to_ms)
            .map(|&(_, n)| n)
            .sum();
        runs + self.placed.iter().filter(|&&(s, _, _)| s <= to_ms).count() as f64
    }

    /// Every permit the books hold.
    pub(super) fn occupied(&self) -> f64 {
        self.runs.iter().map(|&(_, n)| n).sum::<f64>() + self.placed.len() as f64
    }

    /// Answers a request for up to `want` permits at `now_ms` (0: a report
    /// alone, answered with the shortest wait), for calls of no known
    /// tokens.
    pub fn lease(&mut self, want: u32, now_ms: f64) -> Grant {
        self.lease_tokens(want, 0.0, now_ms)
    }

    /// [`Ledger::lease`] for calls each expected to use `each` tokens: no
    /// more permits than the tokens window has room for.
    pub fn lease_tokens(&mut self, want: u32, each: f64, now_ms: f64) -> Grant {
        if want == 0 {
            return Grant::Wait(WAIT_MS.0);
        }
        self.settle(now_ms);
        if now_ms < self.blocked_until_ms {
            return wait(self.blocked_until_ms - now_ms);
        }
        let Some(limit) = self.limit else {
            if self.heard {
                // Answers came without a limit: none to keep.
                return self.grant(f64::from(want.min(MAX_LEASE)), each, now_ms);
            }
            // Nothing heard: one permit, then wait for its report.
            return match self.cold_at_ms {
                Some(at) if now_ms - at < COLD_WAIT_MS => wait(WAIT_MS.0 * 4.0),
                _ => {
                    self.cold_at_ms = Some(now_ms);
                    self.book(1.0, now_ms);
                    self.tokens.book(each.max(0.0), now_ms);
                    Grant::Permits(1)
                }
            };
        };
        let hold = self.hold_ms();
        let mut free = limit - self.occupied();
        // When the sliding books are what binds: the oldest run or placed
        // permit leaves, or a whole refill comes first.
        let window = self.window_ms.max(MIN_WINDOW_MS);
        let oldest = self
            .runs
            .front()
            .map(|&(at, _)| at + hold - now_ms)
            .into_iter()
            .chain(
                self.placed
                    .front()
                    .map(|&(_, from, _)| from + window - now_ms),
            )
            .reduce(f64::min)
            .unwrap_or(WAIT_MS.1);
        let refill = self.refill_at_ms.map_or(f64::INFINITY, |at| at - now_ms);
        let mut next_ms = oldest.min(refill);
        if let Some(k) = self.known.filter(|k| now_ms < k.reset_at_ms) {
            let before = self.held_before(k.counted_to_ms);
            let since = self.occupied() - before;
            // The counted permits that left the books since have left the
            // server's window too (the books hold a slot at least as long).
            let freed = (k.held - before).max(0.0);
            let left = k.remaining - since + freed;
            if left < free {
                free = left;
                next_ms = (k.reset_at_ms - now_ms).min(next_ms);
            }
        }
        if free < 1.0 {
            return wait(next_ms);
        }
        self.grant(
            free.min(f64::from(want.clamp(1, MAX_LEASE))).floor(),
            each,
            now_ms,
        )
    }

    /// [`Ledger::lease_tokens`], and whether the books must be stored
    /// after it: they granted permits or promised a turn of a bucket's
    /// refill. A wait alone changes nothing a store must keep (only time
    /// let grants leave the books): the Redis coordinator then writes
    /// nothing.
    pub fn lease_stored(&mut self, want: u32, each: f64, now_ms: f64) -> (Grant, bool) {
        let turns = self.tokens.turns();
        let grant = self.lease_tokens(want, each, now_ms);
        let promised = self.tokens.turns() != turns;
        (grant, promised || matches!(grant, Grant::Permits(_)))
    }

    /// Grants `n` permits, or as many as the tokens window has room for:
    /// books them in both windows, or answers the tokens window's wait.
    fn grant(&mut self, n: f64, each: f64, now_ms: f64) -> Grant {
        match self.tokens.room(n, each, now_ms) {
            Ok(n) => {
                self.book(n, now_ms);
                self.tokens.book(n * each.max(0.0), now_ms);
                Grant::Permits(n as u32)
            }
            Err(ms) => wait(ms),
        }
    }

    fn book(&mut self, n: f64, now_ms: f64) {
        let merge = self.hold_ms() / RUNS_PER_WINDOW;
        match self.runs.back_mut() {
            Some((at, count)) if now_ms - *at < merge => {
                *at = now_ms;
                *count += n;
            }
            _ => self.runs.push_back((now_ms, n)),
        }
    }

    /// Until when the books still matter at all, ms since the epoch: past
    /// it every grant has left its slot, every report and block has
    /// lapsed, and fresh books would answer the same but for the limit
    /// learned (a store may drop them then).
    pub fn busy_until_ms(&self) -> f64 {
        let last_run = self.runs.back().map_or(0.0, |&(at, _)| at + self.hold_ms());
        let last_placed = self.placed.back().map_or(0.0, |&(_, from, _)| {
            from + self.window_ms.max(MIN_WINDOW_MS)
        });
        let last_run = last_run.max(last_placed);
        let reset = self.known.map_or(0.0, |k| k.reset_at_ms);
        let cold = self.cold_at_ms.map_or(0.0, |at| at + COLD_WAIT_MS);
        last_run
            .max(reset)
            .max(self.blocked_until_ms)
            .max(cold)
            .max(self.tokens.busy_until_ms())
    }
}

fn wait(ms: f64) -> Grant {
    Grant::Wait(ms.clamp(WAIT_MS.0, WAIT_MS.1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::lease::wire::tests::report;
    use crate::limits::lease::{Counted, Report};

    /// Permits granted over `[from, to)`, asking every ms for `want`.
    fn granted(l: &mut Ledger, from: f64, to: f64, want: u32) -> u32 {
        let mut n = 0;
        let mut t = from;
        while t < to {
            if let Grant::Permits(p) = l.lease(want, t) {
                n += p;
            }
            t += 1.0;
        }
        n
    }

    #[test]
    fn a_cold_key_grants_one_permit_until_a_report_arrives() {
        let mut l = Ledger::default();
        assert_eq!(l.lease(8, 0.0), Grant::Permits(1));
        assert!(matches!(l.lease(8, 10.0), Grant::Wait(_)));
        assert!(matches!(l.lease(8, COLD_WAIT_MS - 1.0), Grant::Wait(_)));
        // No report at all: another goes after the cold wait.
        assert_eq!(l.lease(8, COLD_WAIT_MS), Grant::Permits(1));
    }

    #[test]
    fn answers_without_a_limit_end_the_cold_start_and_nothing_is_held() {
        let mut l = Ledger::default();
        assert_eq!(l.lease(8, 0.0), Grant::Permits(1));
        assert!(matches!(l.lease(8, 10.0), Grant::Wait(_)));
        // A 500 with no rate-limit headers.
        l.report(Report::of(None, None, 15.0, 20.0));
        assert_eq!(l.lease(8, 21.0), Grant::Permits(8));
        assert_eq!(l.lease(3, 22.0), Grant::Permits(3));
        assert_eq!(Ledger::from_slice(&l.to_vec()), l);
    }

    #[test]
    fn no_window_of_the_limit_s_length_sees_more_than_the_limit() {
        let mut l = Ledger::default();
        assert_eq!(l.lease(1, 0.0), Grant::Permits(1));
        l.report(report(10.0, 9.0, 1_000.0, 5.0));
        // Asking flat out for 5 s: 10 per window of 1 s (+ the permit's TTL).
        let mut grants = Vec::new();
        for t in 6..5_000 {
            if let Grant::Permits(p) = l.lease(8, f64::from(t)) {
                grants.extend(std::iter::repeat_n(f64::from(t), p as usize));
            }
        }
        grants.insert(0, 0.0);
        for (i, &at) in grants.iter().enumerate() {
            let inside = grants[i..].iter().filter(|&&g| g < at + 1_000.0).count();
            assert!(inside <= 10, "{inside} grants within 1 s of {at}");
        }
        // And the books are not too strict: 4 windows' worth or more in 5 s.
        assert!(grants.len() >= 40, "{} grants", grants.len());
    }

    #[test]
    fn the_server_s_remaining_bounds_the_grants_until_its_reset() {
        let mut l = Ledger::default();
        // Other clients used the window: the server says 3 are left.
        l.report(report(100.0, 3.0, 500.0, 0.0));
        assert_eq!(granted(&mut l, 200.0, 499.0, 8), 3);
        // After the reset the limit is what binds.
        assert!(granted(&mut l, 500.0, 600.0, 8) > 3);
    }

    #[test]
    fn a_429_closes_the_key_until_its_hint() {
        let mut l = Ledger::default();
        l.report(report(10.0, 5.0, 1_000.0, 0.0));
        l.report(Report {
            blocked_until_ms: Some(700.0),
            ..report(10.0, 0.0, 700.0, 10.0)
        });
        assert_eq!(granted(&mut l, 11.0, 710.0, 8), 0);
        assert_eq!(l.lease(8, 711.0), Grant::Permits(8));
    }

    #[test]
    fn a_turn_promised_is_stored_and_a_wait_alone_is_not() {
        let mut l = Ledger::default();
        // A wait for the cold start's report: nothing to store.
        assert_eq!(l.lease_stored(1, 1_000.0, 0.0), (Grant::Permits(1), true));
        assert_eq!(l.lease_stored(1, 1_000.0, 1.0), (Grant::Wait(20.0), false));
        // A bucket of 10 000 tokens refilled over 1 000 ms, drained (as
        // tokens.rs's tests drain it): a wait promises a turn, which a
        // store must keep, or the next instance is promised the same one.
        let bucket = |remaining, reset_in, sent, at| Report {
            tokens: Some(Counted {
                limit: Some(10_000.0),
                remaining,
                reset_at_ms: at + reset_in,
            }),
            sent_at_ms: Some(sent),
            ..report(100.0, 99.0, 1_000.0, at)
        };
        l.report(bucket(9_000.0, 100.0, 0.0, 30.0));
        assert_eq!(l.lease_stored(8, 1_000.0, 45.0), (Grant::Permits(8), true));
        l.report(bucket(7_440.0, 256.0, 46.0, 76.0));
        assert_eq!(l.lease_stored(1, 1_000.0, 100.0), (Grant::Permits(1), true));
        let (grant, stored) = l.lease_stored(1, 1_000.0, 100.0);
        assert!(matches!(grant, Grant::Wait(_)) && stored, "{grant:?}");
    }

    #[test]
    fn a_lease_is_at_most_what_was_asked_and_max_lease() {
        let mut l = Ledger::default();
        l.report(report(1_000.0, 999.0, 60_000.0, 0.0));
        assert_eq!(l.lease(3, 1.0), Grant::Permits(3));
        assert_eq!(l.lease(100, 2.0), Grant::Permits(MAX_LEASE));
        assert_eq!(l.lease(0, 3.0), Grant::Wait(WAIT_MS.0), "a report alone");
    }

    #[test]
    fn the_books_survive_storage_and_garbage_starts_afresh() {
        let mut l = Ledger::default();
        l.lease(1, 0.0);
        l.report(report(10.0, 9.0, 1_000.0, 5.0));
        l.lease(4, 6.0);
        assert_eq!(Ledger::from_slice(&l.to_vec()), l);
        assert_eq!(Ledger::from_slice(&[1.0, f64::NAN]), Ledger::default());
        let r = report(10.0, 9.0, 1_000.0, 5.0);
        assert_eq!(Report::from_slice(&r.to_array()), Some(r));
        assert_eq!(Report::from_slice(&[1.0]), None);
        assert_eq!(
            Grant::from_f64(Grant::Permits(3).to_f64()),
            Some(Grant::Permits(3))
        );
        assert_eq!(
            Grant::from_f64(Grant::Wait(40.0).to_f64()),
            Some(Grant::Wait(40.0))
        );
        assert_eq!(Grant::from_f64(f64::NAN), None);
    }
}

//! A proactive throttle: remembers the rate-limit windows every response
//! reports (2xx included) and decides, before each attempt, whether it may
//! go now or must wait, so that no window is overrun. One idea per file:
//!
//! - `books.rs`: what each window of a key has left, as reports set it and
//!   bookings take from it, and the log of requests sent;
//! - `release.rs`: a window that refills all at once releases its waiters as
//!   requests leave it, at the resets the server announced;
//! - `learn.rs`: what a window's reset means (a whole refill, or the next
//!   slot), learned from the key's own sends and answers, and when the
//!   server measured it;
//! - `flight.rs`: when a request still out leaves a window that refills
//!   at its reset, before its answer tells (a window after its send);
//! - `order.rs`: the order the server counted requests in: one taken off
//!   a report as perhaps overtaken, whose own report shows it was counted
//!   first, gives its unit back;
//! - `pace.rs`: a window that refills continuously paces its waiters;
//! - `cold.rs`: with nothing heard from a key, a few requests go first, and
//!   the others hold a short step, doubling;
//! - `booking.rs`: token estimates booked and corrected by the server;
//! - `leased.rs`: a call holding a coordinator's permit;
//! - `line.rs`: the waiters, first come, first served across every window of
//!   the key; nobody is woken by another caller: a waiter polls with its own
//!   timer until the books say it may go (the Workers rule, as in
//!   [`crate::limits::bulkhead`]);
//! - `reach.rs`: how far apart requests are counted from their sends,
//!   learned from how the ends their reports announce agree;
//! - `quiet.rs`: limits heard of only through 429s or `retry-after`;
//! - `span.rs`: a window's length, learned from a 429 that reports it early
//!   in the window on a key whose other answers carry no headers;
//! - `state.rs`: one key's state, booking a request and taking in its answer.

mod booking;
mod books;
mod cold;
mod flight;
mod learn;
mod leased;
mod line;
mod order;
mod pace;
mod quiet;
mod reach;
mod release;
mod span;
mod stage;
mod state;
#[cfg(test)]
mod testing;

use std::collections::VecDeque;

pub use cold::COLD_STEP_MS;
pub use learn::Meaning;
use state::{needs, KeyState, Rules};

use crate::classify::headers::Limits;
use crate::limits::key::{KeyMap, LimitKey};
pub use crate::limits::tokens::Tokens;

/// Requests sent to a key nothing has been heard from, before the others
/// hold for its first answer.
pub const DEFAULT_COLD_START: u32 = 1;

/// After this long with no answer, a request still counted in flight is
/// presumed lost (a Worker invocation cancelled mid-request never reports
/// back), ms: OpenAI's own client timeout.
pub const IN_FLIGHT_LEASE_MS: f64 = 600_000.0;

/// The shortest and longest sleep between a waiter's polls, ms.
pub const POLL_MS: (f64, f64) = (2.0, 1_000.0);

/// The longest sleep of a waiter that holds for an answer, ms.
pub const HOLD_POLL_MAX_MS: f64 = 100.0;

/// A waiter this late for its poll is presumed gone and stops holding the
/// others back; if it comes back it takes its place again, ms.
pub const STALE_WAITER_MS: f64 = 2_000.0;

/// How long after the announced reset waiters are released, ms: reset
/// headers are rounded to the millisecond.
pub const RESET_MARGIN_MS: f64 = 1.0;

/// How late after its send a request may leave this process, ms (the
/// event loop is shared): two requests sent closer than a round trip plus
/// this may reach the server in either order.
pub const SEND_JITTER_MS: f64 = 20.0;

/// The longest a request is assumed to take to reach the server, ms, until
/// a 429 shows that the headers were measured later than that: a reset is
/// then timed from the answer, as it came.
pub const ASSUMED_REACH_MS: f64 = 50.0;

/// The shortest window length assumed, ms (a window's length is estimated
/// as the longest reset reported for it).
pub const MIN_WINDOW_MS: f64 = 100.0;

/// The most requests remembered per key; past it the oldest are dropped
/// (and, if unanswered, presumed lost).
const MAX_LOG: usize = 1 << 16;

/// The most waiters ahead whose needs are added up one by one; the needs
/// of any further ones are extrapolated from these.
const MAX_SCAN: usize = 1_024;

/// The windows of one key, in the order of [`Limits`]: requests, tokens,
/// input tokens, output tokens.
const WINDOWS: usize = 4;

/// How a window refills, as its reports show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Refill {
    /// Not enough reports yet: treated as [`Refill::AtReset`].
    #[default]
    Unknown,
    /// All at once, at the reset (a fixed window, a sliding log).
    AtReset,
    /// Continuously (a token bucket): waiters are paced.
    Continuous,
}

/// A request booked against a key, from [`Admit::Go`] or
/// [`Throttle::force`]; hand it back to [`Throttle::answered`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Booking {
    seq: u64,
    ticket: u64,
}

/// What [`Throttle::admit`] decided.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Admit {
    /// Send now; the request is booked.
    Go(Booking),
    /// Not yet: poll again after `ms`.
    Wait {
        /// How long to sleep before asking again.
        ms: u64,
        /// When the waiter expects to go (ms since the epoch), or `None`
        /// while it holds for an answer that will tell.
        until: Option<f64>,
        /// When the waiter started waiting.
        since: f64,
    },
}

/// How a booked request ended.
#[derive(Debug, Clone, Copy)]
pub enum Answer<'a> {
    /// No answer: a network failure, or the call was cancelled.
    Lost,
    /// The server answered.
    Heard {
        /// The windows its headers report, if any.
        limits: Option<&'a Limits>,
        /// Whether it was a rate-limit failure (a 429 that heals).
        rate_limited: bool,
        /// The server's wait (`retry-after`), if it gave one.
        retry_after_ms: Option<u64>,
    },
}

/// Rate-limit state per [`LimitKey`], fed by answers and asked before each
/// attempt.
#[derive(Debug, Clone)]
pub struct Throttle {
    keys: KeyMap<KeyState>,
    cold_start: u32,
    /// The shortest round trip seen on any key, ms: what the cold start's
    /// step is learned from.
    min_rtt_ms: f64,
    /// The key each waiting ticket waits on, by ticket.
    waiting: VecDeque<(u64, LimitKey)>,
    /// When `waiting` is next swept of tickets that are no longer waiting.
    sweep_at: usize,
}

impl Default for Throttle {
    fn default() -> Self {
        Throttle::new(DEFAULT_COLD_START)
    }
}

impl Throttle {
    /// A throttle that knows nothing yet; `cold_start` requests go to a
    /// key nothing was heard from before the others hold (0: none hold).
    pub fn new(cold_start: u32) -> Self {
        Throttle {
            keys: KeyMap::default(),
            cold_start,
            min_rtt_ms: f64::INFINITY,
            waiting: VecDeque::new(),
            sweep_at: 64,
        }
    }

    /// Whether the call `ticket`, expected to use `tokens`, may send on
    /// `key` at `now_ms`. [`Admit::Go`] books it (hand the booking to
    /// [`answered`](Self::answered)); [`Admit::Wait`] keeps its place in
    /// line until it asks again or [`leave`](Self::leave)s. A NaN,
    /// infinite or negative time lets it go and books nothing.
    pub fn admit(
        &mut self,
        key: LimitKey,
        ticket: u64,
        tokens: Option<Tokens>,
        now_ms: f64,
    ) -> Admit {
        self.admit_with(key, ticket, tokens, now_ms, false)
    }

    fn admit_with(
        &mut self,
        key: LimitKey,
        ticket: u64,
        tokens: Option<Tokens>,
        now_ms: f64,
        leased: bool,
    ) -> Admit {
        if !valid_time(now_ms) {
            return Admit::Go(Booking {
                seq: u64::MAX,
                ticket,
            });
        }
        self.moved(key, ticket);
        let rules = Rules {
            cold_start: self.cold_start,
            cold_step: cold::cold_step(self.min_rtt_ms),
            leased,
        };
        let entry = self.keys.entry_or_default(key, now_ms);
        let admit = entry.admit(ticket, needs(tokens), now_ms, rules);
        match admit {
            Admit::Go(_) => {
                self.waiting_key(ticket, None);
            }
            Admit::Wait { .. } => {
                self.waiting_key(ticket, Some(key));
                self.sweep();
            }
        }
        admit
    }

    /// Books the call `ticket` on `key` at `now_ms` whether it fits or
    /// not (its wait would be too long), leaving the line.
    pub fn force(
        &mut self,
        key: LimitKey,
        ticket: u64,
        tokens: Option<Tokens>,
        now_ms: f64,
    ) -> Booking {
        self.leave(ticket);
        if !valid_time(now_ms) {
            return Booking {
                seq: u64::MAX,
                ticket,
            };
        }
        let entry = self.keys.entry_or_default(key, now_ms);
        entry.advance(now_ms);
        entry.book(ticket, needs(tokens), now_ms)
    }

    /// The request booked as `booking` on `key` ended at `now_ms`: it is no
    /// longer in flight, and an answer's windows are taken in.
    pub fn answered(&mut self, key: LimitKey, booking: Booking, now_ms: f64, answer: Answer<'_>) {
        if !valid_time(now_ms) {
            return;
        }
        if let Some(entry) = self.keys.get_mut(&key) {
            entry.answered(booking, now_ms, answer);
            self.min_rtt_ms = self.min_rtt_ms.min(entry.min_rtt_ms);
        }
    }

    /// The call `ticket` no longer waits (it ended, or went another way).
    pub fn leave(&mut self, ticket: u64) {
        if let Some(key) = self.waiting_key(ticket, None) {
            if let Some(entry) = self.keys.get_mut(&key) {
                entry.remove_waiter(ticket);
            }
        }
    }

    /// A waiter that now asks about another key leaves the old one's line.
    fn moved(&mut self, key: LimitKey, ticket: u64) {
        let at = self.waiting.binary_search_by_key(&ticket, |w| w.0);
        if at.is_ok_and(|i| self.waiting[i].1 != key) {
            self.leave(ticket);
        }
    }

    /// Sets (or with `None` removes) the key `ticket` waits on; returns the
    /// key it waited on before.
    fn waiting_key(&mut self, ticket: u64, key: Option<LimitKey>) -> Option<LimitKey> {
        match (self.waiting.binary_search_by_key(&ticket, |w| w.0), key) {
            (Ok(i), Some(key)) => Some(std::mem::replace(&mut self.waiting[i].1, key)),
            (Ok(i), None) => self.waiting.remove(i).map(|w| w.1),
            (Err(i), Some(key)) => {
                self.waiting.insert(i, (ticket, key));
                None
            }
            (Err(_), None) => None,
        }
    }

    /// Forgets tickets whose waiters were dropped (stale, or their key
    /// evicted); amortised over the inserts.
    fn sweep(&mut self) {
        if self.waiting.len() < self.sweep_at {
            return;
        }
        let keys = &self.keys;
        self.waiting.retain(|(ticket, key)| {
            let ticket = *ticket;
            keys.get(key).is_some_and(|e| e.waiters.contains(ticket))
        });
        self.sweep_at = (self.waiting.len() * 2).max(64);
    }

    /// Whether `key`'s rate limit is under pressure at `now_ms`: calls wait
    /// for it, or one of its windows is nearly spent (a bulk call may then
    /// take a cheaper route; see [`crate::limits::lanes`]).
    pub fn pressed(&self, key: LimitKey, now_ms: f64) -> bool {
        self.keys
            .get(&key)
            .is_some_and(|e| !e.waiters.is_empty() || e.windows.iter().any(|w| w.pressed(now_ms)))
    }

    /// Requests for `key` counted in flight.
    pub fn in_flight(&self, key: LimitKey) -> u64 {
        self.keys.get(&key).map_or(0, |e| e.in_flight)
    }

    /// Calls waiting to send on `key`.
    pub fn waiting(&self, key: LimitKey) -> usize {
        self.keys.get(&key).map_or(0, |e| e.waiters.len())
    }

    /// Keys held (never more than [`crate::limits::key::DEFAULT_MAX_KEYS`]).
    pub fn keys(&self) -> usize {
        self.keys.len()
    }

    /// Drops everything known about `key`.
    pub fn forget(&mut self, key: LimitKey) {
        self.keys.remove(&key);
    }

    /// The smallest count left among `key`'s windows (rounded down), as of
    /// the last event; for debugging and tests.
    pub fn remaining(&self, key: LimitKey) -> Option<i64> {
        let entry = self.keys.get(&key)?;
        let least = entry
            .windows
            .iter()
            .filter_map(|w| w.level)
            .reduce(f64::min)?;
        Some(least.floor() as i64)
    }

    /// What each of `key`'s windows' reset announces, as learned
    /// ([`Meaning`]); for debugging and tests.
    pub fn meaning(&self, key: LimitKey) -> [Meaning; 4] {
        self.keys.get(&key).map_or([Meaning::Slot; 4], |e| {
            e.windows.each_ref().map(|w| w.meaning)
        })
    }

    /// How each of `key`'s windows (requests, tokens, input tokens,
    /// output tokens) refills, as its reports show.
    pub fn refill(&self, key: LimitKey) -> [Refill; 4] {
        self.keys.get(&key).map_or([Refill::Unknown; 4], |e| {
            e.windows.each_ref().map(|w| w.refill)
        })
    }
}

/// What the throttle has learned of one key, for a health report.
#[derive(Debug, Clone, PartialEq)]
pub struct Learned {
    /// The key.
    pub key: LimitKey,
    /// Per window (requests, tokens, input tokens, output tokens): its
    /// limit and what was left, local bookings taken off, as of the last
    /// report (`None` where unknown).
    pub windows: [(Option<f64>, Option<f64>); WINDOWS],
    /// Requests counted in flight.
    pub in_flight: u64,
    /// Calls waiting to send.
    pub waiting: usize,
}

impl Throttle {
    /// What is known of every key held, in key order.
    pub fn learned(&self) -> Vec<Learned> {
        // A loop, not a collect: no from_iter, extend and Map::next of their own.
        let mut learned = Vec::with_capacity(self.keys.len());
        for (key, e) in self.keys.iter() {
            learned.push(Learned {
                key: *key,
                windows: e.windows.each_ref().map(|w| (w.limit, w.level)),
                in_flight: e.in_flight,
                waiting: e.waiters.len(),
            });
        }
        learned
    }
}

fn valid_time(now_ms: f64) -> bool {
    now_ms.is_finite() && now_ms >= 0.0
}

#[cfg(test)]
mod tests {
    use super::testing::*;

    #[test]
    fn learned_reports_each_key_s_windows_as_last_heard() {
        let mut r = Run::new(0);
        assert_eq!(r.t.learned(), []);
        let b = r.go(0.0).unwrap();
        let second = r.go(1.0).unwrap();
        r.answer(b, 10.0, &requests(100, 40, 60_000));
        let learned = r.t.learned();
        assert_eq!(learned.len(), 1);
        assert_eq!(learned[0].key, k());
        // 40 left as reported, the second request (in flight) taken off.
        assert_eq!(learned[0].windows[0], (Some(100.0), Some(39.0)));
        assert_eq!(learned[0].windows[1], (None, None));
        assert_eq!((learned[0].in_flight, learned[0].waiting), (1, 0));
        r.answer(second, 20.0, &requests(100, 39, 60_000));
        assert_eq!(r.t.learned()[0].in_flight, 0);
    }
}

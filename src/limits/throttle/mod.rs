//! A proactive throttle: remembers the rate-limit windows every response
//! reports (2xx included) and decides, before each attempt, whether it may
//! go now or must wait, so that no window is overrun.
//!
//! - **Release at reset.** A window that refills all at once (a fixed
//!   window; a sliding log, whose reset is when its newest entry leaves)
//!   holds its waiters, once used up, until the server's resets free room.
//!   By a report's reset, the reported request and every one booked before
//!   it that the server had counted (not one still in flight, which may have
//!   reached it later) have left the window. As requests leave, in booking
//!   order, what they took goes back to waiters, less the calls still in
//!   flight (they may count in the new window), and no more: a fixed window
//!   comes back whole at its end, a sliding log slot by slot.
//! - **Pacing.** A window that refills continuously (a token bucket, GCRA)
//!   lets each waiter go once the refill has made room for it. A report of
//!   such a window says how long until it is full again (OpenAI: the time
//!   until the limit "resets to its initial state") with `d` units missing,
//!   so one unit takes between `reset / d` and `reset / (d − 1)` (the count
//!   is rounded down). Reports that all agree on one rate, over at least
//!   three different `d`, mark the window continuous, paced at the slowest
//!   rate they allow; a fixed window or a sliding log, whose reset does not
//!   grow with `d`, breaks the agreement within a few reports. Until then,
//!   and after any 429, a window is released at its reset.
//! - **Cold start.** With nothing heard from a key yet, `cold_start`
//!   requests go and the others hold until an answer arrives: the first
//!   report then opens up to what it says is left.
//! - **Token windows.** Each request books its expected [`Tokens`] against
//!   the tokens windows (OpenAI's `x-ratelimit-*-tokens`, Anthropic's
//!   tokens, input and output tokens). Every report replaces the local count
//!   with the server's, less what was sent after the reported request: the
//!   estimates are corrected by the server's own count.
//!
//! Waiters are served first come, first served, across every window of the
//! key. Nobody is woken by another caller: a waiter polls with its own
//! timer until the books say it may go (the Workers rule, as in
//! [`crate::limits::bulkhead`]).

mod cold;
mod learn;

use std::collections::VecDeque;

pub use cold::COLD_STEP_MS;
pub use learn::Meaning;
use learn::{refilled_whole, AfterReset};

use crate::classify::headers::{Limits, Window};
use crate::limits::key::{Idle, KeyMap, LimitKey};
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
    },
}

/// The most requests a report's reset is applied to, walking back from the
/// reported one.
const MAX_GONE_WALK: usize = 4_096;

/// What is known about one window (requests, tokens, …) of one key.
#[derive(Debug, Clone)]
struct WindowState {
    limit: Option<f64>,
    /// Units left as of `at`, local bookings taken off; `None`: unknown.
    level: Option<f64>,
    at: f64,
    /// All-at-once windows: every request booked before this one (by
    /// booking order) has left the window.
    freed: u64,
    /// The last reset that released waiters: requests sent before it may
    /// report on the window before.
    rolled_at: f64,
    /// The booking order of the request whose report set `level`: a report
    /// on a request booked earlier knows less (it counts fewer of those
    /// sent since), so it does not replace it.
    level_from: Option<u64>,
    /// The longest reset reported, ms: the estimate of the window's length.
    longest_reset_ms: f64,
    refill: Refill,
    /// What its reset announces, as learned ([`learn`]).
    meaning: Meaning,
    /// The last reset announced, ms since the epoch: no earlier than the
    /// report's send plus its reset, no later than its answer plus it.
    announced: Option<(f64, f64)>,
    /// The time one unit takes to refill, as every report allows: [lo, hi].
    tau: (f64, f64),
    /// Distinct deficits the reports behind `tau` had (0: none yet).
    deficits: [f64; 3],
    /// What the server counts per unit estimated: token estimates are
    /// scaled by it (requests are always 1).
    scale: f64,
    /// The last reports in this window (booking order, count), to measure
    /// what the server charged for a request.
    recent: VecDeque<(u64, f64)>,
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
            tau: (0.0, f64::INFINITY),
            deficits: [0.0; 3],
            scale: 1.0,
            recent: VecDeque::new(),
        }
    }
}

impl WindowState {
    fn length(&self) -> f64 {
        self.longest_reset_ms.max(MIN_WINDOW_MS)
    }

    /// Whether this window is nearly spent at `now`: at most a tenth of its
    /// limit (at least 1) was left when last heard of, within a window's
    /// length of that.
    fn pressed(&self, now: f64) -> bool {
        let low = (self.limit.unwrap_or(0.0) / 10.0).floor().max(1.0);
        let recent = now < self.at + self.length();
        recent && self.level.is_some_and(|level| level <= low)
    }

    /// The time one unit takes to refill, for a continuous window.
    fn pace(&self) -> Option<f64> {
        let tau = self.tau.1;
        (self.refill == Refill::Continuous && tau.is_finite() && tau > 0.0).then_some(tau)
    }

    /// What the server charged for a request, from the reports on it and
    /// on the request booked just before it, in the same window: the count
    /// fell by exactly that (or by more, if another request got in between,
    /// which only errs on the safe side). Reports that arrived the other
    /// way round (the later request counted first) say nothing.
    fn learn_scale(&mut self, seq: u64, remaining: f64, estimate: &dyn Fn(u64) -> Option<f64>) {
        let sample = |(a, count_a): (u64, f64), (b, count_b): (u64, f64)| {
            let charged = count_a - count_b;
            let estimated = estimate(b)?;
            (b == a + 1 && charged >= 0.0 && estimated >= 1.0).then(|| charged / estimated)
        };
        let this = (seq, remaining);
        for i in 0..self.recent.len() {
            let other = self.recent[i];
            if let Some(factor) = sample(other, this).or_else(|| sample(this, other)) {
                let factor = factor.clamp(1.0 / 16.0, 16.0);
                self.scale = (0.5 * self.scale + 0.5 * factor).clamp(1.0 / 16.0, 16.0);
            }
        }
        self.recent.push_back(this);
        if self.recent.len() > 8 {
            self.recent.pop_front();
        }
    }

    /// A continuous window refills up to its limit.
    fn grow(&mut self, now: f64) {
        if let (Some(tau), Some(level), Some(limit)) = (self.pace(), self.level, self.limit) {
            if now > self.at {
                self.level = Some((level + (now - self.at) / tau).min(limit.max(level)));
            }
        }
        self.at = self.at.max(now);
    }

    fn forget_shape(&mut self) {
        self.refill = Refill::Unknown;
        self.tau = (0.0, f64::INFINITY);
        self.deficits = [0.0; 3];
    }

    /// What a report says about how the window refills.
    fn learn(&mut self, w: &Window) {
        let (Some(limit), Some(remaining), Some(reset)) = (w.limit, w.remaining, w.reset_ms) else {
            return;
        };
        let deficit = limit.saturating_sub(remaining) as f64;
        if deficit < 1.0 || self.refill == Refill::AtReset {
            return;
        }
        let reset = reset as f64;
        // Anthropic's RFC 3339 resets are to the second; durations to the
        // millisecond.
        let slack = if w.coarse_reset {
            1_000.0
        } else {
            1.0 + reset * 0.002
        };
        let lo = ((reset - slack) / deficit).max(0.0);
        let hi = if deficit >= 2.0 {
            (reset + slack) / (deficit - 1.0)
        } else {
            f64::INFINITY
        };
        self.tau = (self.tau.0.max(lo), self.tau.1.min(hi));
        if self.tau.0 > self.tau.1 {
            self.refill = Refill::AtReset;
            return;
        }
        if !self.deficits.contains(&deficit) {
            if let Some(slot) = self.deficits.iter_mut().find(|d| **d == 0.0) {
                *slot = deficit;
            }
        }
        let agreed = self.deficits.iter().all(|&d| d > 0.0) && self.tau.1.is_finite();
        if self.refill == Refill::Unknown && agreed {
            self.refill = Refill::Continuous;
        }
    }

    /// Takes in a report, received at `now`, of the request booked `seq`
    /// at `sent_at`; `uncounted` is what was booked after it, which the
    /// server had not seen yet. `estimate(s)` is what request `s` was
    /// estimated to need (unscaled),
    /// for a tokens window; `None` for the requests window, which always
    /// counts 1.
    #[allow(clippy::too_many_arguments)]
    fn observe(
        &mut self,
        w: &Window,
        now: f64,
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
                self.level = Some(fresh);
                self.at = now;
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
struct Sent {
    seq: u64,
    ticket: u64,
    at: f64,
    need: [f64; WINDOWS],
    /// The estimate, before scaling.
    estimate: [f64; WINDOWS],
    /// Everything booked before this request, per window.
    before: [f64; WINDOWS],
    answered: bool,
    /// When it is known to have left each window (a report's reset).
    gone: [f64; WINDOWS],
}

/// A caller waiting to send on a key.
#[derive(Debug, Clone)]
struct Waiter {
    ticket: u64,
    need: [f64; WINDOWS],
    since: f64,
    /// When it said it would poll again.
    due: f64,
}

/// Why a waiter cannot go yet.
enum Check {
    Fits,
    /// Not before this time; `sooner`: an answer in flight may make room
    /// before then (its server count replacing a token estimate).
    Due(f64, bool),
    /// Until an answer tells, or (a cold key) until the given time.
    Hold(Option<f64>),
}

/// One key's windows, the requests sent on it and its waiters.
#[derive(Debug, Clone)]
struct KeyState {
    windows: [WindowState; WINDOWS],
    log: VecDeque<Sent>,
    next_seq: u64,
    booked: [f64; WINDOWS],
    in_flight: u64,
    waiters: VecDeque<Waiter>,
    /// Whether any answer came back for this key.
    heard: bool,
    /// When the first request went to this key while nothing was heard.
    cold_since: Option<f64>,
    /// The shortest time to an answer seen, ms: what a request needs, at
    /// most, to reach the server.
    min_rtt_ms: f64,
    /// A moving average of the time to an answer, ms.
    avg_rtt_ms: Option<f64>,
    /// Whether a 429 cast doubt on timing resets from the send: they are
    /// timed from the answer from then on.
    doubt: bool,
    /// The last booking or answer, ms since the epoch.
    active_at: f64,
}

impl Default for KeyState {
    fn default() -> Self {
        KeyState {
            windows: Default::default(),
            log: VecDeque::new(),
            next_seq: 0,
            booked: [0.0; WINDOWS],
            in_flight: 0,
            waiters: VecDeque::new(),
            heard: false,
            cold_since: None,
            min_rtt_ms: f64::INFINITY,
            avg_rtt_ms: None,
            doubt: false,
            active_at: 0.0,
        }
    }
}

impl Idle for KeyState {
    /// Nothing in flight, nobody waiting, and nothing booked or answered
    /// for a window's length: every window is full again.
    fn idle(&self, now_ms: f64) -> bool {
        let quiet = self.in_flight == 0 || now_ms - self.active_at >= IN_FLIGHT_LEASE_MS;
        let longest = self
            .windows
            .iter()
            .map(WindowState::length)
            .fold(0.0, f64::max);
        quiet && self.waiters.is_empty() && now_ms - self.active_at >= longest
    }
}

/// Whether `cum` (what the waiters ahead and this one need) fits in
/// `level`; a need of 0 (tokens unknown) fits while anything is left.
fn fits(cum: f64, level: f64) -> bool {
    if cum > 0.0 {
        cum <= level + 1e-6
    } else {
        level >= 1.0
    }
}

/// What an admission goes by besides the books.
#[derive(Debug, Clone, Copy)]
struct Rules {
    /// Requests sent to a key nothing was heard from.
    cold_start: u32,
    /// How often the cold start allowance doubles, ms ([`cold`]).
    cold_step: f64,
    /// Whether a coordinator's lease decides the requests window.
    leased: bool,
}

/// Each window's need for one request: one request, and its tokens.
fn needs(tokens: Option<Tokens>) -> [f64; WINDOWS] {
    let t = tokens.unwrap_or_default();
    [1.0, t.total() as f64, t.input as f64, t.output as f64]
}

impl KeyState {
    /// Brings the windows to `now`: presumes long-unanswered requests lost,
    /// refills continuous windows, and resets all-at-once windows whose
    /// reset has come, less what was sent too close to it.
    fn advance(&mut self, now: f64) {
        while let Some(front) = self.log.front_mut() {
            if front.at > now - IN_FLIGHT_LEASE_MS {
                break;
            }
            if !front.answered {
                front.answered = true;
                self.in_flight = self.in_flight.saturating_sub(1);
            }
            self.log.pop_front();
        }
        for i in 0..WINDOWS {
            let booked = self.booked[i];
            let w = &mut self.windows[i];
            let log = &self.log;
            w.grow(now);
            if w.refill == Refill::Continuous {
                continue;
            }
            // The requests known to have left the window, in booking order:
            // what they took is back, less what was booked after them
            // (still in flight, or sent since: either may count in the new
            // window).
            let front = log.front().map_or(self.next_seq, |s| s.seq);
            w.freed = w.freed.max(front);
            let mut last = None;
            while let Some(sent) = log.get((w.freed - front) as usize) {
                if now < sent.gone[i] + RESET_MARGIN_MS {
                    break;
                }
                last = Some(sent.gone[i]);
                w.freed += 1;
            }
            let Some(gone) = last else { continue };
            let through = log
                .get((w.freed - front) as usize)
                .map_or(booked, |s| s.before[i]);
            let freed = w.limit.map(|l| l - (booked - through));
            w.level = match (w.level, freed) {
                (Some(level), Some(freed)) => Some(level.max(freed)),
                (level, freed) => freed.or(level),
            };
            w.at = now;
            w.rolled_at = gone;
            w.recent.clear();
        }
    }

    /// How far apart two requests may be sent and still reach the server
    /// in either order: the shortest round trip seen (a request needs less
    /// than that to get there) plus [`SEND_JITTER_MS`] of scheduling on
    /// this side.
    fn reorder_ms(&self) -> f64 {
        self.min_rtt_ms.min(IN_FLIGHT_LEASE_MS) + SEND_JITTER_MS
    }

    /// The longest a request sent now may take to be counted by the
    /// server, ms: [`ASSUMED_REACH_MS`] at most (plus [`SEND_JITTER_MS`]),
    /// until a 429 casts doubt on it; then [`reorder_ms`](Self::reorder_ms).
    fn reach_ms(&self) -> f64 {
        let reorder = self.reorder_ms();
        if self.doubt {
            reorder
        } else {
            reorder.min(ASSUMED_REACH_MS + SEND_JITTER_MS)
        }
    }

    /// When the server measured the headers of an answer heard at `now`
    /// to a request sent at `sent_at`: when it counted the request, no
    /// later than a reach after its send; once a 429 cast doubt on that,
    /// only "before the answer" is sure.
    fn measured_at(&self, sent_at: f64, now: f64) -> f64 {
        if self.doubt {
            now
        } else {
            now.min(sent_at + self.reach_ms())
        }
    }

    /// The log position of a booking.
    fn find(&self, b: Booking) -> Option<usize> {
        let front = self.log.front()?.seq;
        let i = usize::try_from(b.seq.checked_sub(front)?).ok()?;
        self.log
            .get(i)
            .filter(|s| s.seq == b.seq && s.ticket == b.ticket)
            .map(|_| i)
    }

    /// A need as each window counts it: token estimates scaled by what
    /// the server was seen to charge, and at most the window's limit (a
    /// request larger than the window goes when the window is full, and
    /// the server decides).
    fn sized(&self, need: [f64; WINDOWS]) -> [f64; WINDOWS] {
        let mut out = need;
        for (n, w) in out.iter_mut().zip(&self.windows) {
            *n *= w.scale;
            if let Some(limit) = w.limit {
                *n = n.min(limit.max(0.0));
            }
        }
        out
    }

    /// Whether a waiter at `place` in line (the waiters before it go
    /// first), needing `need`, fits now; if not, until when it waits.
    fn check(&self, place: usize, need: [f64; WINDOWS], now: f64, rules: Rules) -> Check {
        if rules.cold_start > 0 && !self.heard && !rules.leased {
            // Doubled every step with still nothing heard: the hold lasts
            // a short time, never a completion's length.
            let since = self.cold_since.unwrap_or(now);
            let elapsed = now - since;
            let ahead = place as u64 + self.in_flight;
            return if ahead < cold::allowance(rules.cold_start, elapsed, rules.cold_step) {
                Check::Fits
            } else {
                Check::Hold(cold::next_step(since, elapsed, rules.cold_step))
            };
        }
        // What the waiters ahead and this one need, per window.
        let mut cum = self.sized(need);
        let scanned = place.min(MAX_SCAN);
        for w in self.waiters.iter().take(scanned) {
            let n = self.sized(w.need);
            cum.iter_mut().zip(n).for_each(|(c, n)| *c += n);
        }
        if place > scanned && scanned > 0 {
            let scale = place as f64 / scanned as f64;
            let own = self.sized(need);
            cum.iter_mut()
                .zip(own)
                .for_each(|(c, n)| *c = n + (*c - n) * scale);
        }
        let (mut due, mut hold, mut sooner) = (None::<f64>, false, false);
        for (i, (w, cum)) in self.windows.iter().zip(cum).enumerate() {
            // A leased request's room in the requests window is the coordinator's to give.
            let leased = rules.leased && i == 0;
            let Some(level) = w.level.filter(|_| !leased) else {
                continue;
            };
            if fits(cum, level) {
                continue;
            }
            let missing = if cum > 0.0 { cum - level } else { 1.0 - level };
            // Token counts are estimates until the answers in flight report.
            sooner |= i > 0 && self.in_flight > 0;
            let booked = self.booked[i];
            let at = match w.pace() {
                Some(tau) => now + missing * tau,
                // Used up, with no limit known: nothing says what comes back.
                // An answer in flight may tell; with none, nothing can, so go.
                None if w.limit.is_none() => {
                    hold |= self.in_flight > 0;
                    continue;
                }
                None => {
                    // Walk the requests not yet gone, in booking order,
                    // until freeing them makes room: then, when the last
                    // of them is known to be gone.
                    let front = self.log.front().map_or(self.next_seq, |s| s.seq);
                    let from = (w.freed.max(front) - front) as usize;
                    let mut gone = f64::NEG_INFINITY;
                    let mut room = None;
                    for (n, sent) in self.log.range(from..).enumerate() {
                        gone = gone.max(sent.gone[i]);
                        let through = self.log.get(from + n + 1).map_or(booked, |s| s.before[i]);
                        let limit = w.limit.unwrap_or(0.0);
                        let after = level.max(limit - (booked - through));
                        if fits(cum, after) {
                            room = Some(gone);
                            break;
                        }
                    }
                    match room {
                        Some(at) if at.is_finite() => at + RESET_MARGIN_MS,
                        // Room comes once requests still unreported leave:
                        // their answers will tell when.
                        Some(_) if self.in_flight > 0 => {
                            hold = true;
                            continue;
                        }
                        // Even with every request gone it does not fit (the
                        // waiters ahead need more): a window per limit
                        // still missing after the last one leaves.
                        None if gone.is_finite() => {
                            let limit = w.limit.unwrap_or(1.0).max(1.0);
                            let short = if cum > 0.0 { cum } else { 1.0 } - limit;
                            gone + RESET_MARGIN_MS + (short / limit).ceil().max(1.0) * w.length()
                        }
                        // Used up, with nothing known to leave: an answer in
                        // flight will tell; with none, nothing can, so go.
                        _ if self.in_flight > 0 => {
                            hold = true;
                            continue;
                        }
                        _ => continue,
                    }
                }
            };
            due = Some(due.map_or(at, |d| d.max(at)));
        }
        match (due, hold) {
            (Some(at), _) => Check::Due(at, sooner),
            (None, true) => Check::Hold(None),
            (None, false) => Check::Fits,
        }
    }

    /// How long a waiter holding for an answer sleeps: half of what the
    /// oldest request in flight should still take, else an eighth of what
    /// it took so far.
    fn hold_poll(&self, now: f64) -> f64 {
        let oldest = self.log.iter().find(|s| !s.answered).map_or(now, |s| s.at);
        let elapsed = (now - oldest).max(0.0);
        let ms = match self.avg_rtt_ms {
            Some(avg) if avg > elapsed => (avg - elapsed) / 2.0,
            _ => elapsed / 8.0,
        };
        ms.clamp(POLL_MS.0, HOLD_POLL_MAX_MS)
    }

    /// Books a request sent at `now`.
    fn book(&mut self, ticket: u64, estimate: [f64; WINDOWS], now: f64) -> Booking {
        let need = self.sized(estimate);
        for (w, n) in self.windows.iter_mut().zip(need) {
            if let Some(level) = w.level {
                w.level = Some(level - n);
            }
        }
        if !self.heard && self.cold_since.is_none() {
            self.cold_since = Some(now);
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        // A window known to refill whole, sent surely before the reset it
        // announced: counted in the window that ends then.
        let reach = self.reach_ms();
        let gone = self.windows.each_ref().map(|w| match w.announced {
            Some((lo, hi)) if w.meaning == Meaning::Full && now + reach < lo => hi,
            _ => f64::INFINITY,
        });
        self.log.push_back(Sent {
            seq,
            ticket,
            at: now,
            need,
            estimate,
            before: self.booked,
            answered: false,
            gone,
        });
        self.booked.iter_mut().zip(need).for_each(|(b, n)| *b += n);
        self.in_flight += 1;
        self.active_at = self.active_at.max(now);
        if self.log.len() > MAX_LOG {
            if let Some(lost) = self.log.pop_front() {
                if !lost.answered {
                    self.in_flight = self.in_flight.saturating_sub(1);
                }
            }
        }
        Booking { seq, ticket }
    }

    /// Drops answered requests no report or reset can need any more.
    fn prune(&mut self, now: f64) {
        let horizon = now - self.reorder_ms();
        // Requests not yet gone from an all-at-once window are still needed.
        let freed = self
            .windows
            .iter()
            .filter(|w| w.limit.is_some() && w.refill != Refill::Continuous)
            .map(|w| w.freed)
            .min()
            .unwrap_or(u64::MAX);
        while self
            .log
            .front()
            .is_some_and(|s| s.answered && s.at < horizon && s.seq < freed)
        {
            self.log.pop_front();
        }
    }

    /// Waiters at the front of the line that missed their poll stop
    /// holding the others back.
    fn drop_stale(&mut self, now: f64, ticket: u64) {
        while self
            .waiters
            .front()
            .is_some_and(|w| w.ticket != ticket && now > w.due + STALE_WAITER_MS)
        {
            self.waiters.pop_front();
        }
    }

    fn remove_waiter(&mut self, ticket: u64) {
        if let Ok(i) = self.waiters.binary_search_by_key(&ticket, |w| w.ticket) {
            self.waiters.remove(i);
        }
    }

    fn admit(&mut self, ticket: u64, need: [f64; WINDOWS], now: f64, rules: Rules) -> Admit {
        self.advance(now);
        self.drop_stale(now, ticket);
        let found = self.waiters.binary_search_by_key(&ticket, |w| w.ticket);
        let place = match found {
            Ok(i) | Err(i) => i,
        };
        let (until, ms) = match self.check(place, need, now, rules) {
            Check::Fits => {
                if let Ok(i) = found {
                    self.waiters.remove(i);
                }
                return Admit::Go(self.book(ticket, need, now));
            }
            Check::Due(at, sooner) => {
                let ms = (at - now).ceil().clamp(1.0, POLL_MS.1);
                let ms = if sooner {
                    ms.min(self.hold_poll(now).ceil())
                } else {
                    ms
                };
                (Some(at), ms)
            }
            Check::Hold(ends) => {
                let poll = self.hold_poll(now);
                let poll = ends.map_or(poll, |at| poll.min(at - now).max(POLL_MS.0));
                (None, poll.ceil())
            }
        };
        let due = now + ms;
        let since = match found {
            Ok(i) => {
                let w = &mut self.waiters[i];
                w.due = due;
                w.need = need;
                w.since
            }
            Err(i) => {
                let since = now;
                self.waiters.insert(
                    i,
                    Waiter {
                        ticket,
                        need,
                        since,
                        due,
                    },
                );
                since
            }
        };
        Admit::Wait {
            ms: ms as u64,
            until,
            since,
        }
    }

    fn answered(&mut self, booking: Booking, now: f64, answer: Answer<'_>) {
        self.advance(now);
        self.active_at = self.active_at.max(now);
        let found = self.find(booking);
        let (sent_at, seq) = match found {
            Some(i) => {
                let s = &mut self.log[i];
                if !s.answered {
                    s.answered = true;
                    self.in_flight = self.in_flight.saturating_sub(1);
                }
                (s.at, s.seq)
            }
            None => (f64::NEG_INFINITY, 0),
        };
        if let Answer::Heard {
            limits,
            rate_limited,
        } = answer
        {
            self.heard = true;
            if found.is_some() {
                let rtt = now - sent_at;
                if rtt >= 0.0 {
                    self.min_rtt_ms = self.min_rtt_ms.min(rtt);
                    self.avg_rtt_ms = Some(self.avg_rtt_ms.map_or(rtt, |a| 0.8 * a + 0.2 * rtt));
                }
            }
            if let Some(limits) = limits {
                self.observe(limits, now, found, sent_at, seq);
                if rate_limited {
                    self.demote(limits);
                }
            }
            // A 429: a reset may have been measured later than assumed.
            if rate_limited {
                self.doubt = true;
            }
        }
        // A window its answer said nothing about (or no answer at all): a
        // window's length from now, it has left that window for sure.
        if let Some(at) = found {
            let lengths = self.windows.each_ref().map(WindowState::length);
            for (gone, length) in self.log[at].gone.iter_mut().zip(lengths) {
                if gone.is_infinite() {
                    *gone = now + length;
                }
            }
        }
        self.prune(now);
    }

    fn observe(&mut self, limits: &Limits, now: f64, found: Option<usize>, sent_at: f64, seq: u64) {
        let windows = [
            limits.requests,
            limits.tokens,
            limits.input_tokens,
            limits.output_tokens,
        ];
        for (i, window) in windows.into_iter().enumerate() {
            let Some(window) = window else { continue };
            // Booked after the reported request: the server had not seen
            // it; nor, perhaps, one booked just before it and still
            // unanswered, which may have reached the server second. With
            // the request unknown (presumed lost), everything unanswered.
            let uncounted = match found {
                Some(at) => {
                    let after = match self.log.get(at + 1) {
                        Some(next) => self.booked[i] - next.before[i],
                        None => 0.0,
                    };
                    let close = sent_at - self.reorder_ms();
                    let overtaken: f64 = self
                        .log
                        .range(..at)
                        .rev()
                        .take_while(|s| s.at >= close)
                        .filter(|s| !s.answered)
                        .map(|s| s.need[i])
                        .sum();
                    after + overtaken
                }
                None => {
                    let unanswered = self.log.iter().filter(|s| !s.answered);
                    unanswered.map(|s| s.need[i]).sum()
                }
            };
            if let (Some(at), Some(ms)) = (found, window.reset_ms) {
                self.learn_meaning(i, at, &window, sent_at);
                let ms = ms as f64;
                let heard = (sent_at + ms, self.measured_at(sent_at, now) + ms);
                self.windows[i].announced = Some(heard);
            }
            let log = &self.log;
            let estimate = |s: u64| {
                let front = log.front()?.seq;
                let at = usize::try_from(s.checked_sub(front)?).ok()?;
                log.get(at).map(|sent| sent.estimate[i])
            };
            let tokens = (i > 0).then_some(&estimate as &dyn Fn(u64) -> Option<f64>);
            self.windows[i].observe(&window, now, sent_at, seq, uncounted, tokens);
            // Its reset is when the limit is back to its initial state
            // (a fixed window over, a sliding log's newest entry gone, a
            // bucket full): by then this request, and every one booked
            // before it that the server had counted (not one still in
            // flight that it may have overtaken), has left the window. The
            // answer came after the reset was measured, so timing it from
            // the answer is never early.
            if let (Some(at), Some(ms)) = (found, window.reset_ms) {
                // Measured when the request was counted, no later than a
                // reach after its send (unless a 429 cast doubt on it).
                let measured = self.measured_at(sent_at, now);
                self.mark_gone(i, at, sent_at, measured + ms as f64, ms as f64);
                // Whatever the reset means, the request leaves a window's
                // length after it reached the server (a window is at least
                // as long as any reset it reported, this one included):
                // pace from what was sent.
                let w = &self.windows[i];
                if w.refill != Refill::Continuous && w.meaning == Meaning::Slot {
                    let left = sent_at + self.reach_ms() + w.length();
                    let sent = &mut self.log[at];
                    sent.gone[i] = sent.gone[i].min(left);
                }
            }
        }
    }

    /// A report of request `at` (in the log), sent at `sent_at`, on window
    /// `i`, after a reset it announced before: whether the window refilled
    /// whole ([`learn`]).
    fn learn_meaning(&mut self, i: usize, at: usize, window: &Window, sent_at: f64) {
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

    /// Records what a report of request `at` (in the log), sent at
    /// `sent_at`, says of window `i`: with a whole refill, that request,
    /// those before it that it did not overtake, and those sent surely
    /// before the reset have left by `gone`; slot by slot, only the oldest
    /// one still counted.
    fn mark_gone(&mut self, i: usize, at: usize, sent_at: f64, gone: f64, reset_ms: f64) {
        let close = sent_at - self.reorder_ms();
        let reach = self.reach_ms();
        let w = &self.windows[i];
        let freed = w.freed;
        if w.meaning == Meaning::Slot {
            let front = self.log.front().map_or(0, |s| s.seq);
            let oldest = (freed.max(front) - front) as usize;
            if oldest <= at {
                if let Some(sent) = self.log.get_mut(oldest) {
                    sent.gone[i] = sent.gone[i].min(gone);
                }
            }
            return;
        }
        // The reset is no earlier than the send plus its reset: a request
        // sent a reach before that was counted before it.
        let before_reset = sent_at + reset_ms - reach;
        for sent in self.log.range_mut(at + 1..).take(MAX_GONE_WALK) {
            if sent.at >= before_reset {
                break;
            }
            sent.gone[i] = sent.gone[i].min(gone);
        }
        for (n, sent) in self.log.range_mut(..=at).rev().enumerate() {
            if sent.seq < freed || n > MAX_GONE_WALK {
                break;
            }
            let overtaken = n > 0 && !sent.answered && sent.at >= close;
            if !overtaken {
                sent.gone[i] = sent.gone[i].min(gone);
            }
        }
    }

    /// A 429 says pacing was too fast: the windows it shows used up (all
    /// of them if it shows none) are released at their reset from now on.
    fn demote(&mut self, limits: &Limits) {
        let windows = [
            limits.requests,
            limits.tokens,
            limits.input_tokens,
            limits.output_tokens,
        ];
        let any = windows.iter().flatten().any(Window::exhausted);
        for (w, reported) in self.windows.iter_mut().zip(windows) {
            if !any || reported.is_some_and(|r| r.exhausted()) {
                w.refill = Refill::AtReset;
                // A release that met a 429 goes slot by slot from now on.
                w.meaning = Meaning::Slot;
            }
        }
    }
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

    /// [`admit`](Self::admit) for a call holding a permit leased from a
    /// coordinator ([`crate::limits::lease`]): the coordinator, which
    /// sees every instance's calls, decides the requests window (and the
    /// cold start); the other windows are this throttle's as usual.
    pub fn admit_leased(
        &mut self,
        key: LimitKey,
        ticket: u64,
        tokens: Option<Tokens>,
        now_ms: f64,
    ) -> Admit {
        self.admit_with(key, ticket, tokens, now_ms, true)
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
            keys.get(key).is_some_and(|e| {
                e.waiters
                    .binary_search_by_key(&ticket, |w| w.ticket)
                    .is_ok()
            })
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

fn valid_time(now_ms: f64) -> bool {
    now_ms.is_finite() && now_ms >= 0.0
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: f64 = 1_700_000_000_000.0;

    fn k() -> LimitKey {
        LimitKey::new("https://api.openai.com", Some("sk-test"))
    }

    fn window(limit: u64, remaining: u64, reset_ms: u64) -> Option<Window> {
        Some(Window {
            limit: Some(limit),
            remaining: Some(remaining),
            reset_ms: Some(reset_ms),
            coarse_reset: false,
        })
    }

    /// Limits with only a requests window.
    fn requests(limit: u64, remaining: u64, reset_ms: u64) -> Limits {
        Limits {
            requests: window(limit, remaining, reset_ms),
            ..Limits::default()
        }
    }

    /// Limits with only a tokens window.
    fn tokens(limit: u64, remaining: u64, reset_ms: u64) -> Limits {
        Limits {
            tokens: window(limit, remaining, reset_ms),
            ..Limits::default()
        }
    }

    fn heard(limits: &Limits) -> Answer<'_> {
        Answer::Heard {
            limits: Some(limits),
            rate_limited: false,
        }
    }

    /// A throttle, without cold start, driven by tickets in order.
    struct Run {
        t: Throttle,
        ticket: u64,
    }

    impl Run {
        fn new(cold_start: u32) -> Run {
            Run {
                t: Throttle::new(cold_start),
                ticket: 0,
            }
        }

        fn call(&mut self) -> u64 {
            self.ticket += 1;
            self.ticket
        }

        fn admit(&mut self, ticket: u64, after: f64) -> Admit {
            self.t.admit(k(), ticket, None, T0 + after)
        }

        /// A new call at `after`: its booking if it may go now.
        fn go(&mut self, after: f64) -> Option<Booking> {
            let ticket = self.call();
            match self.admit(ticket, after) {
                Admit::Go(b) => Some(b),
                Admit::Wait { .. } => None,
            }
        }

        fn answer(&mut self, b: Booking, after: f64, limits: &Limits) {
            self.t.answered(k(), b, T0 + after, heard(limits));
        }

        /// Takes the key's windows as known to refill whole at their reset
        /// (a fixed window, as [`learn`] finds out after a first reset).
        fn whole(&mut self) {
            if let Some(e) = self.t.keys.get_mut(&k()) {
                e.windows.iter_mut().for_each(|w| w.meaning = Meaning::Full);
            }
        }
    }

    fn wait_until(a: Admit) -> Option<f64> {
        match a {
            Admit::Wait { until, .. } => until.map(|u| u - T0),
            Admit::Go(_) => panic!("went: {a:?}"),
        }
    }

    #[test]
    fn a_leased_call_leaves_the_requests_window_to_the_coordinator_but_not_the_tokens() {
        let mut r = Run::new(1);
        // Cold: a leased call does not hold for the first answer.
        let t = r.call();
        assert!(matches!(r.admit(t, 0.0), Admit::Go(_)));
        let t = r.call();
        assert!(matches!(r.t.admit_leased(k(), t, None, T0), Admit::Go(_)));
        let mut r = Run::new(0);
        let b = r.go(0.0).unwrap();
        let both = Limits {
            tokens: window(10_000, 0, 500),
            ..requests(10, 0, 1_000)
        };
        r.answer(b, 1.0, &requests(10, 0, 1_000));
        let t = r.call();
        assert!(
            matches!(r.admit(t, 2.0), Admit::Wait { .. }),
            "requests used up"
        );
        assert!(matches!(
            r.t.admit_leased(k(), t, None, T0 + 2.0),
            Admit::Go(_)
        ));
        // The tokens window is still this throttle's.
        let t = r.call();
        let b = match r.t.admit_leased(k(), t, None, T0 + 3.0) {
            Admit::Go(b) => b,
            other => panic!("{other:?}"),
        };
        r.answer(b, 4.0, &both);
        let t = r.call();
        let need = Some(Tokens {
            input: 100,
            output: 0,
        });
        let waited = r.t.admit_leased(k(), t, need, T0 + 5.0);
        assert!(matches!(waited, Admit::Wait { .. }), "{waited:?}");
    }

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

    /// Release at reset: the line waits for the announced reset, and then
    /// exactly the limit goes, less what was sent too close to the reset.
    #[test]
    fn a_used_up_window_releases_its_limit_at_the_reset_and_no_more() {
        let mut r = Run::new(0);
        let b = r.go(0.0).unwrap();
        r.answer(b, 2.0, &requests(3, 0, 998));
        r.whole();
        let line: Vec<u64> = (0..7).map(|_| r.call()).collect();
        // Everyone in line waits for the reset, none is spread past it.
        for &ticket in &line[..3] {
            assert_eq!(wait_until(r.admit(ticket, 2.0)), Some(1_001.0));
        }
        for &ticket in &line[3..] {
            assert!(wait_until(r.admit(ticket, 2.0)).unwrap() > 1_001.0);
        }
        // At the reset, the first three go (in any order), the fourth does not.
        for &ticket in [line[2], line[0], line[1]].iter() {
            assert!(matches!(r.admit(ticket, 1_001.0), Admit::Go(_)), "{ticket}");
        }
        assert!(
            matches!(r.admit(line[3], 1_001.0), Admit::Wait { until: None, .. }),
            "the rest hold for the new window's report"
        );
        assert_eq!(r.t.waiting(k()), 4);
    }

    /// The limit less the calls in flight at the reset instant: those may
    /// reach the server in the new window.
    #[test]
    fn calls_in_flight_at_the_reset_count_against_the_new_window() {
        let mut r = Run::new(0);
        let b = r.go(0.0).unwrap();
        r.answer(b, 10.0, &requests(5, 2, 990));
        r.whole();
        let early = r.go(500.0).unwrap();
        r.answer(early, 510.0, &requests(5, 1, 490));
        let _late = r.go(995.0).unwrap();
        let line: Vec<u64> = (0..5).map(|_| r.call()).collect();
        let went = line
            .iter()
            .filter(|&&t| matches!(r.admit(t, 1_001.0), Admit::Go(_)))
            .count();
        assert_eq!(went, 4, "five less the one still in flight");
    }

    #[test]
    fn a_late_report_from_the_window_before_the_reset_is_not_taken_for_the_new_one() {
        let mut r = Run::new(0);
        let b = r.go(0.0).unwrap();
        r.answer(b, 1.0, &requests(2, 1, 999));
        r.whole();
        let slow = r.go(990.0).unwrap();
        // At the reset `slow` is in flight, sent too close to it to be
        // sure it got there before: it may count in the new window.
        assert!(r.go(1_001.0).is_some());
        let second = r.call();
        assert!(
            matches!(r.admit(second, 1_001.0), Admit::Wait { .. }),
            "two less the one in flight"
        );
        // Its report (sent in the old window) says 0 left, full in 1 ms:
        // the level stays the new window's, and 1 ms on, `slow` is known
        // to have left: the second slot is free.
        r.answer(slow, 1_200.0, &requests(2, 0, 1));
        assert_eq!(r.t.remaining(k()), Some(0));
        assert!(matches!(r.admit(second, 1_202.0), Admit::Go(_)));
        assert!(r.go(1_202.0).is_none());
    }

    /// A sliding log frees each slot when the request that took it is a
    /// window old: a report's reset frees the oldest request, and each of
    /// the others leaves a window after it was sent (plus the longest it
    /// may have taken to get there).
    #[test]
    fn each_request_leaves_a_window_after_it_was_sent() {
        let mut r = Run::new(1);
        let first = r.go(0.0).unwrap();
        r.answer(first, 10.0, &requests(3, 2, 990));
        let (a, b) = (r.go(10.0).unwrap(), r.go(10.0).unwrap());
        r.answer(a, 20.0, &requests(3, 1, 990));
        r.answer(b, 20.0, &requests(3, 0, 990));
        let next = r.call();
        assert_eq!(
            wait_until(r.admit(next, 20.0)),
            Some(1_001.0),
            "the first's slot"
        );
        assert!(matches!(r.admit(next, 1_001.0), Admit::Go(_)));
        let after = r.call();
        assert_eq!(
            wait_until(r.admit(after, 1_001.0)),
            Some(10.0 + 10.0 + SEND_JITTER_MS + 990.0 + RESET_MARGIN_MS),
            "then the others'"
        );
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
            },
        );
        assert_eq!(r.t.meaning(k())[0], Meaning::Slot, "the 429 undoes it");
    }

    /// With answers slower than the gaps between releases, a report comes
    /// after requests sent since: a window known to refill whole frees,
    /// at its reset, every request sent surely before it, answered or not.
    #[test]
    fn a_whole_refill_frees_what_was_sent_before_the_reset_answered_or_not() {
        let mut r = Run::new(0);
        let first = r.go(0.0).unwrap();
        r.whole();
        let slow: Vec<Booking> = (0..4).map(|_| r.go(100.0).unwrap()).collect();
        // The first answer comes after the four were sent: its reset (850
        // ms from its answer at 150) is at 1000, at least 850 after its
        // send, and the four were sent long before that.
        r.answer(first, 150.0, &requests(5, 4, 850));
        let line: Vec<u64> = (0..5).map(|_| r.call()).collect();
        let went = line
            .iter()
            .filter(|&&t| matches!(r.admit(t, 1_001.0), Admit::Go(_)))
            .count();
        assert_eq!(went, 5, "the four in flight were counted before the reset");
        let _ = slow;
        // Sent after the report, surely before its reset: the same.
        let mut r = Run::new(0);
        let first = r.go(0.0).unwrap();
        r.whole();
        r.answer(first, 150.0, &requests(5, 4, 850));
        assert!((0..4).all(|_| r.go(200.0).is_some()));
        let line: Vec<u64> = (0..5).map(|_| r.call()).collect();
        let went = line
            .iter()
            .filter(|&&t| matches!(r.admit(t, 1_001.0), Admit::Go(_)))
            .count();
        assert_eq!(went, 5);
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

    /// A request still in flight when a later one reports may have reached
    /// the server after it: that report's reset says nothing about it.
    #[test]
    fn a_report_does_not_free_a_request_it_may_have_overtaken() {
        let mut r = Run::new(0);
        let first = r.go(0.0).unwrap();
        r.answer(first, 2.0, &requests(3, 2, 998));
        let (_a, b) = (r.go(3.0).unwrap(), r.go(4.0).unwrap());
        // `b` reached the server first: 1 left, and `a` still to come.
        r.answer(b, 8.0, &requests(3, 1, 1_000));
        let line: Vec<u64> = (0..3).map(|_| r.call()).collect();
        let went = line
            .iter()
            .filter(|&&t| matches!(r.admit(t, 1_009.0), Admit::Go(_)))
            .count();
        assert_eq!(went, 1, "only the first request is known to have left");
    }

    /// Reports of a token bucket: `limit` per `window_ms`, refilled
    /// continuously; `tokens` is the fractional count after the request.
    fn bucket(limit: u64, window_ms: f64, tokens: f64) -> Limits {
        let tau = window_ms / limit as f64;
        let reset = ((limit as f64 - tokens) * tau).round() as u64;
        requests(limit, tokens.floor() as u64, reset)
    }

    #[test]
    fn a_bucket_is_told_from_a_fixed_window_by_its_reports() {
        // A bucket of 10 per second: the reset grows with what is missing.
        let mut r = Run::new(0);
        for (i, tokens) in [9.0, 7.6, 4.3].into_iter().enumerate() {
            let b = r.go(i as f64).unwrap();
            r.answer(b, i as f64, &bucket(10, 1_000.0, tokens));
        }
        assert_eq!(r.t.refill(k())[0], Refill::Continuous);
        // A fixed window: the reset does not grow with what is used.
        let mut r = Run::new(0);
        for (i, remaining) in [9, 8, 7].into_iter().enumerate() {
            let b = r.go(i as f64).unwrap();
            r.answer(b, i as f64, &requests(10, remaining, 990 - i as u64));
        }
        assert_eq!(r.t.refill(k())[0], Refill::AtReset);
        // A sliding log: the reset is when the newest entry leaves.
        let mut r = Run::new(0);
        for (i, remaining) in [9, 8, 7].into_iter().enumerate() {
            let b = r.go(i as f64 * 50.0).unwrap();
            r.answer(b, i as f64 * 50.0, &requests(10, remaining, 1_000));
        }
        assert_eq!(r.t.refill(k())[0], Refill::AtReset);
    }

    #[test]
    fn a_bucket_paces_waiters_at_its_refill_rate() {
        let mut r = Run::new(0);
        let mut at = 0.0;
        for tokens in [8.7, 5.2, 1.9, 0.4] {
            let b = r.go(at).unwrap();
            at += 1.0;
            r.answer(b, at, &bucket(10, 1_000.0, tokens));
        }
        assert_eq!(r.t.refill(k())[0], Refill::Continuous);
        // Empty: waiters go one refill apart, first come first served.
        let line: Vec<u64> = (0..3).map(|_| r.call()).collect();
        let untils: Vec<f64> = line
            .iter()
            .map(|&t| wait_until(r.admit(t, at)).unwrap() - at)
            .collect();
        for (i, u) in untils.iter().enumerate() {
            let expected = (i as f64 + 1.0) * 100.0;
            assert!(*u >= expected && *u <= expected * 1.2 + 5.0, "{untils:?}");
        }
        let first = at + untils[0] + 0.001;
        assert!(matches!(r.admit(line[0], first), Admit::Go(_)));
        assert!(matches!(r.admit(line[1], first), Admit::Wait { .. }));
    }

    #[test]
    fn a_429_stops_pacing_a_window() {
        let mut r = Run::new(0);
        for (i, tokens) in [9.0, 7.6, 4.3].into_iter().enumerate() {
            let b = r.go(i as f64).unwrap();
            r.answer(b, i as f64, &bucket(10, 1_000.0, tokens));
        }
        let b = r.go(5.0).unwrap();
        let limits = requests(10, 0, 1_000);
        r.t.answered(
            k(),
            b,
            T0 + 6.0,
            Answer::Heard {
                limits: Some(&limits),
                rate_limited: true,
            },
        );
        assert_eq!(r.t.refill(k())[0], Refill::AtReset);
    }

    /// Cold start: one request goes, the others hold until it answers,
    /// then as many go as its report leaves room for.
    #[test]
    fn a_cold_key_sends_one_request_and_holds_the_rest_for_its_answer() {
        let mut r = Run::new(1);
        let first = r.go(0.0).unwrap();
        let line: Vec<u64> = (0..12).map(|_| r.call()).collect();
        for &t in &line {
            let a = r.admit(t, 0.0);
            assert!(matches!(a, Admit::Wait { until: None, .. }), "{a:?}");
        }
        // Still holding while the first is out.
        assert!(matches!(
            r.admit(line[5], 3.0),
            Admit::Wait { until: None, .. }
        ));
        r.answer(first, 4.0, &requests(10, 9, 996));
        let went = line
            .iter()
            .filter(|&&t| matches!(r.admit(t, 5.0), Admit::Go(_)))
            .count();
        assert_eq!(went, 9, "the remaining count, no more");
        // A key answered without any rate-limit headers is not cold either.
        let mut r = Run::new(2);
        let (a, b) = (r.go(0.0).unwrap(), r.go(0.0).unwrap());
        assert!(r.go(0.0).is_none(), "two go cold, the third holds");
        r.t.answered(k(), a, T0 + 1.0, heard(&Limits::default()));
        let _ = b;
        assert!(r.go(1.0).is_some());
    }

    #[test]
    fn a_cold_request_that_fails_lets_the_next_one_go() {
        let mut r = Run::new(1);
        let first = r.go(0.0).unwrap();
        let next = r.call();
        assert!(matches!(r.admit(next, 0.0), Admit::Wait { .. }));
        r.t.answered(k(), first, T0 + 1.0, Answer::Lost);
        assert!(matches!(r.admit(next, 2.0), Admit::Go(_)));
        let third = r.call();
        assert!(
            matches!(r.admit(third, 2.0), Admit::Wait { until: None, .. }),
            "still cold"
        );
    }

    /// A completion's headers may come only when it is done: the hold of
    /// a cold key lasts a step, after which twice as many may be out, and
    /// so on, never the length of the first answer.
    #[test]
    fn a_cold_hold_lasts_a_short_step_not_a_whole_completion() {
        let mut r = Run::new(1);
        let _first = r.go(0.0).unwrap();
        let (a, b, c) = (r.call(), r.call(), r.call());
        let step = COLD_STEP_MS.2;
        for t in [a, b, c] {
            assert!(matches!(r.admit(t, 0.0), Admit::Wait { until: None, .. }));
        }
        let Admit::Wait { ms, .. } = r.admit(a, step - 40.0) else {
            panic!("held until the step")
        };
        assert!(ms <= 40, "polls at the step: {ms}");
        assert!(matches!(r.admit(a, step), Admit::Go(_)), "two out");
        assert!(matches!(r.admit(b, step), Admit::Wait { .. }));
        let Admit::Wait { ms, .. } = r.admit(b, 2.0 * step - 10.0) else {
            panic!("held until the next step")
        };
        assert_eq!(ms, 10, "polls at the step, not an eighth of the wait");
        assert!(matches!(r.admit(b, 2.0 * step), Admit::Go(_)), "four out");
        assert!(matches!(r.admit(c, 2.0 * step), Admit::Go(_)));
        // The step is learned from the connection: twice the shortest
        // round trip seen on any key.
        let other = LimitKey::new("https://api.anthropic.com", Some("sk-test"));
        let Admit::Go(b) = r.t.admit(other, 50, None, T0) else {
            panic!()
        };
        r.t.answered(other, b, T0 + 60.0, heard(&Limits::default()));
        let fresh = LimitKey::new("https://api.mistral.ai", Some("sk-test"));
        assert!(matches!(r.t.admit(fresh, 51, None, T0), Admit::Go(_)));
        assert!(matches!(
            r.t.admit(fresh, 52, None, T0 + 119.0),
            Admit::Wait { .. }
        ));
        assert!(matches!(
            r.t.admit(fresh, 52, None, T0 + 120.0),
            Admit::Go(_)
        ));
    }

    #[test]
    fn holds_poll_sooner_the_sooner_the_answer_is_expected() {
        // A window used up, its limit unknown: the answer in flight tells.
        let mut r = Run::new(2);
        let (spent, first) = (r.go(0.0).unwrap(), r.go(0.0).unwrap());
        let limits = Limits {
            tokens: Some(Window {
                limit: None,
                remaining: Some(0),
                reset_ms: None,
                coarse_reset: false,
            }),
            ..Limits::default()
        };
        r.answer(spent, 0.0, &limits);
        let t = r.call();
        let ms = |a| match a {
            Admit::Wait { ms, .. } => ms,
            Admit::Go(_) => panic!("went"),
        };
        assert_eq!(ms(r.admit(t, 0.0)), POLL_MS.0 as u64);
        assert_eq!(ms(r.admit(t, 400.0)), 50, "an eighth of the time so far");
        assert_eq!(ms(r.admit(t, 10_000.0)), HOLD_POLL_MAX_MS as u64);
        r.answer(first, 10_000.0, &requests(10, 9, 1_000));
        let b = r.go(10_000.0).unwrap();
        r.answer(b, 10_100.0, &requests(10, 8, 900));
        assert!(r.go(10_100.0).is_some());
    }

    /// Tokens: each request books its estimate against the tokens window,
    /// and the server's report replaces the estimate.
    #[test]
    fn token_estimates_are_booked_and_corrected_by_the_report() {
        let mut t = Throttle::new(0);
        let need = Some(Tokens {
            input: 2,
            output: 4_000,
        });
        let limits = |remaining, reset| tokens(10_000, remaining, reset);
        let Admit::Go(first) = t.admit(k(), 1, need, T0) else {
            panic!()
        };
        t.answered(k(), first, T0 + 2.0, heard(&limits(5_998, 2_998)));
        let Admit::Go(second) = t.admit(k(), 2, need, T0 + 2.0) else {
            panic!()
        };
        assert_eq!(t.remaining(k()), Some(1_996), "4002 booked, not 1");
        // 1996 tokens left: the third needs 4002 and waits for the reset.
        let Admit::Wait { until, .. } = t.admit(k(), 3, need, T0 + 2.0) else {
            panic!()
        };
        assert_eq!(until, Some(T0 + 3_001.0));
        // A small request behind it waits too: first come, first served.
        let small = Some(Tokens {
            input: 10,
            output: 0,
        });
        assert!(matches!(
            t.admit(k(), 4, small, T0 + 2.0),
            Admit::Wait { .. }
        ));
        // The server counted both requests at 2000 (their answers were
        // short): its report replaces the estimates, and both go.
        t.answered(k(), second, T0 + 3.0, heard(&limits(6_000, 2_997)));
        assert_eq!(t.remaining(k()), Some(6_000));
        assert!(matches!(t.admit(k(), 3, need, T0 + 3.0), Admit::Go(_)));
        assert!(matches!(t.admit(k(), 4, small, T0 + 3.0), Admit::Go(_)));
        assert_eq!(t.remaining(k()), Some(1_988));
    }

    #[test]
    fn the_tokens_window_releases_what_fits_at_its_reset() {
        let mut t = Throttle::new(0);
        let need = Some(Tokens {
            input: 2,
            output: 4_000,
        });
        let limits = |remaining, reset| tokens(10_000, remaining, reset);
        let Admit::Go(b) = t.admit(k(), 1, need, T0) else {
            panic!()
        };
        t.answered(k(), b, T0 + 1.0, heard(&limits(1_998, 2_999)));
        let waits: Vec<bool> = (2..6)
            .map(|ticket| matches!(t.admit(k(), ticket, need, T0 + 1.0), Admit::Wait { .. }))
            .collect();
        assert_eq!(waits, [true; 4]);
        let went = (2..6)
            .filter(|&ticket| matches!(t.admit(k(), ticket, need, T0 + 3_001.0), Admit::Go(_)))
            .count();
        assert_eq!(went, 2, "two of 4002 fit in 10 000");
    }

    #[test]
    fn a_request_larger_than_the_window_goes_when_the_window_is_full() {
        let mut t = Throttle::new(0);
        let huge = Some(Tokens {
            input: 50_000,
            output: 0,
        });
        let limits = Limits {
            tokens: window(10_000, 10_000, 0),
            ..Limits::default()
        };
        let Admit::Go(b) = t.admit(k(), 1, None, T0) else {
            panic!()
        };
        t.answered(k(), b, T0 + 1.0, heard(&limits));
        assert!(matches!(t.admit(k(), 2, huge, T0 + 1.0), Admit::Go(_)));
    }

    #[test]
    fn a_waiter_that_leaves_or_goes_missing_stops_holding_the_line() {
        let mut r = Run::new(1);
        let first = r.go(0.0).unwrap();
        let (a, b) = (r.call(), r.call());
        r.admit(a, 0.0);
        r.admit(b, 0.0);
        r.answer(first, 1.0, &requests(10, 0, 999));
        r.t.leave(a);
        assert_eq!(r.t.waiting(k()), 1);
        // `b` never polls again (its invocation was cancelled).
        let c = r.call();
        let late = 1_000.0 + POLL_MS.1 + STALE_WAITER_MS + 10.0;
        assert!(matches!(r.admit(c, late), Admit::Go(_)));
        assert_eq!(r.t.waiting(k()), 0);
    }

    #[test]
    fn requests_never_answered_are_presumed_lost_after_the_lease() {
        let mut r = Run::new(1);
        let _lost = r.go(0.0).unwrap();
        assert_eq!(r.t.in_flight(k()), 1);
        assert!(r.go(1.0).is_none(), "held behind the first");
        assert!(r.go(IN_FLIGHT_LEASE_MS).is_some());
        assert_eq!(r.t.in_flight(k()), 1);
    }

    #[test]
    fn forget_and_bad_inputs() {
        let mut r = Run::new(0);
        let b = r.go(0.0).unwrap();
        r.answer(b, 0.0, &requests(5, 0, 1_000));
        for bad in [f64::NAN, -1.0, f64::INFINITY] {
            assert!(matches!(r.t.admit(k(), 99, None, bad), Admit::Go(_)));
            r.t.answered(k(), b, bad, heard(&requests(5, 5, 1)));
        }
        assert_eq!(r.t.remaining(k()), Some(0), "bad times change nothing");
        r.t.forget(k());
        assert!(r.go(0.0).is_some());
    }
}

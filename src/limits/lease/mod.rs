//! One request limit shared by many instances (Worker isolates) through a
//! coordinator, by leases: an instance takes a small batch of request
//! permits for a key and spends them locally, so most calls pay no round
//! trip; it asks again only when its lease runs out.
//!
//! - **The coordinator's books** ([`Ledger`], one per key, kept by the
//!   Durable Object): every permit it grants occupies a slot of the key's
//!   request window for the window's length plus [`LEASE_TTL_MS`] (the time
//!   a permit may take to reach the server), so no window of that length
//!   sees more than the limit: a sliding log, exact for a sliding-log
//!   limit, conservative for a fixed window or a token bucket. The latest
//!   report an instance forwards from the server's headers also bounds it:
//!   until that report's reset, no more than its `remaining`, less what was
//!   granted since, goes out; the counted permits that left the books
//!   since are free again (a sliding log frees its oldest slots before
//!   its reset). A 429 closes the key until its hint. With nothing heard
//!   yet, one permit goes (a cold start: its slot stays until its report
//!   says how long a window is) and the others wait for its report.
//! - **Folding the reports in** ([`Ledger::report`], tests in `freeing`):
//!   a report says when its request was answered, so its permit's slot
//!   is held a window from that answer (it surely reached the server by
//!   then) when that is sooner than from its grant and the way there
//!   ([`LEASE_TTL_MS`]): the next window opens that much sooner; and when a report counts
//!   fewer than the reported requests any sliding log would still hold,
//!   the window refills whole at its reset (a fixed window, learned as the
//!   throttle learns it, never for a window an instance saw refill
//!   continuously, undone by a 429): at its reset every slot that surely
//!   reached the server before it is free.
//! - **An instance's side** ([`Leases`]): the permits it holds per key
//!   (they expire [`PERMIT_LIFE_MS`] after they arrive), whether a lease request is on its
//!   way (so concurrent calls send one), how long the coordinator said to
//!   wait, how many calls are asking, and the newest report to forward.
//!
//! Token windows stay with each instance's own throttle.

use std::collections::VecDeque;

use crate::classify::headers::Window;
use crate::limits::key::{Idle, KeyMap, LimitKey};
use crate::limits::throttle::Refill;
use crate::time::Ms;

/// How long a granted permit stays usable, and how long after its grant it
/// may reach the server, ms.
pub const LEASE_TTL_MS: f64 = 100.0;

/// How long an instance may use a permit after the grant arrives, ms: the
/// coordinator's [`LEASE_TTL_MS`] less a return trip of up to 50 ms.
pub const PERMIT_LIFE_MS: f64 = 50.0;

/// How many reported sends the coordinator keeps to learn whether a window
/// refills whole.
pub const MAX_SENDS: usize = 32;

/// The most permits one lease carries.
pub const MAX_LEASE: u32 = 8;

/// With nothing heard from a key, how long the coordinator waits for the
/// cold-start request's report before it lets another one go, ms.
pub const COLD_WAIT_MS: f64 = 2_000.0;

/// The shortest and longest wait the coordinator answers, ms.
pub const WAIT_MS: (f64, f64) = (5.0, 1_000.0);

/// The shortest window length assumed, ms.
const MIN_WINDOW_MS: f64 = 100.0;

/// Grants closer together than a window's length divided by this are booked
/// as one run (at the later time: freed no sooner), so the books stay small.
const RUNS_PER_WINDOW: f64 = 32.0;

/// What a server said about a key's request window, as an instance
/// forwards it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Report {
    /// The window's limit, if given.
    pub limit: Option<f64>,
    /// What was left when the server answered.
    pub remaining: Option<f64>,
    /// When the window resets, ms since the epoch.
    pub reset_at_ms: Option<f64>,
    /// When the answer arrived, ms since the epoch.
    pub observed_at_ms: f64,
    /// Until when the server refused calls (a 429's hint), ms since the epoch.
    pub blocked_until_ms: Option<f64>,
    /// When the reported request was let go, ms since the epoch, if known:
    /// what was granted before it is counted in `remaining`.
    pub sent_at_ms: Option<f64>,
    /// How the reporting instance saw this window refill: only one seen to
    /// refill at its reset (a fixed window or a sliding log), and never
    /// continuously (a token bucket), may be learned to refill whole.
    pub refill: Refill,
}

impl Report {
    /// The report of an answer that carried `window` (and, for a 429,
    /// `retry_after_ms`), let go at `sent_at_ms`, arrived at `now_ms`. One
    /// that says nothing still
    /// tells the coordinator an answer came (a cold start is over).
    pub fn of(
        window: Option<&Window>,
        retry_after_ms: Option<u64>,
        sent_at_ms: f64,
        now_ms: f64,
    ) -> Report {
        let w = window.copied().unwrap_or_default();
        Report {
            sent_at_ms: Some(sent_at_ms),
            limit: w.limit.map(|l| l as f64),
            remaining: w.remaining.map(|r| r as f64),
            reset_at_ms: w.reset_ms.map(|ms| now_ms + ms as f64),
            observed_at_ms: now_ms,
            blocked_until_ms: retry_after_ms.map(|ms| now_ms + ms as f64),
            refill: Refill::Unknown,
        }
    }

    /// The report, saying how its instance saw the window refill.
    pub fn refilling(self, refill: Refill) -> Report {
        Report { refill, ..self }
    }

    /// The report as numbers, for the wire (`NaN` for absent fields; the
    /// last is the refill seen: 0 unknown, 1 at the reset, 2 continuous).
    pub fn to_array(&self) -> [f64; 7] {
        let n = |v: Option<f64>| v.unwrap_or(f64::NAN);
        [
            n(self.limit),
            n(self.remaining),
            n(self.reset_at_ms),
            self.observed_at_ms,
            n(self.blocked_until_ms),
            n(self.sent_at_ms),
            match self.refill {
                Refill::Unknown => 0.0,
                Refill::AtReset => 1.0,
                Refill::Continuous => 2.0,
            },
        ]
    }

    /// A report read back from the wire; `None` unless it has its six
    /// numbers (seven with the refill flag, which an older instance does
    /// not send) and a finite observation time.
    pub fn from_slice(a: &[f64]) -> Option<Report> {
        let (&[limit, remaining, reset_at_ms, observed_at_ms, blocked, sent], refill) = (
            a.get(..6).unwrap_or_default(),
            match (a.len(), a.get(6)) {
                (6, _) => Refill::Unknown,
                (7, Some(1.0)) => Refill::AtReset,
                (7, Some(2.0)) => Refill::Continuous,
                (7, _) => Refill::Unknown,
                _ => return None,
            },
        ) else {
            return None;
        };
        let ok = |v: f64| (v.is_finite() && v >= 0.0).then_some(v);
        Some(Report {
            limit: ok(limit),
            remaining: ok(remaining),
            reset_at_ms: ok(reset_at_ms),
            observed_at_ms: ok(observed_at_ms)?,
            blocked_until_ms: ok(blocked),
            sent_at_ms: ok(sent),
            refill,
        })
    }
}

/// The coordinator's answer to a lease request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Grant {
    /// `n` permits, usable for [`PERMIT_LIFE_MS`] after they arrive.
    Permits(u32),
    /// None now: ask again in `ms`.
    Wait(f64),
}

impl Grant {
    /// The grant as one number for the wire: permits if positive, else the
    /// wait in ms, negated.
    pub fn to_f64(self) -> f64 {
        match self {
            Grant::Permits(n) => f64::from(n),
            Grant::Wait(ms) => -ms.max(WAIT_MS.0),
        }
    }

    /// A grant read back from the wire (`None` if it is not a number).
    pub fn from_f64(v: f64) -> Option<Grant> {
        if !v.is_finite() {
            return None;
        }
        Some(if v >= 1.0 {
            Grant::Permits(v.min(f64::from(MAX_LEASE)) as u32)
        } else {
            Grant::Wait((-v).clamp(WAIT_MS.0, WAIT_MS.1))
        })
    }
}

/// The latest report the coordinator holds of a key's window.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Known {
    remaining: f64,
    observed_at_ms: f64,
    /// Grants up to then are counted in `remaining`.
    counted_to_ms: f64,
    reset_at_ms: f64,
    /// The permits the books held, granted before `counted_to_ms`, when the
    /// report came: those that leave the books later free a slot the report
    /// counted as used.
    held: f64,
}

/// A coordinator's books for one key's request window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ledger {
    /// The window's limit, once reported.
    limit: Option<f64>,
    /// Its length: the longest reset reported, ms.
    window_ms: f64,
    /// Grants, oldest first: (when, how many).
    runs: VecDeque<(f64, f64)>,
    known: Option<Known>,
    blocked_until_ms: f64,
    /// When the cold-start permit went, if one did and no report came yet.
    cold_at_ms: Option<f64>,
    /// Whether any report came: with no limit in any, grants are not
    /// limited.
    heard: bool,
    /// Whether the reports proved that the window refills whole at its
    /// reset (a fixed window), until a 429 says otherwise.
    whole: bool,
    /// Whether an instance saw the window refill continuously (a token
    /// bucket): it is then never learned to refill whole.
    continuous: bool,
    /// When the requests of the latest reports without a 429 were let go
    /// (at most [`MAX_SENDS`]): what any sliding log would still count.
    sends: VecDeque<f64>,
    /// The newest reset of a window that refills whole, not yet past: at
    /// it, every permit that surely reached the server before the window
    /// ended (its reset less `reach_ms`: granted [`LEASE_TTL_MS`] and
    /// `reach_ms` before that, or reported answered by then) leaves the
    /// books.
    refill_at_ms: Option<f64>,
    /// Permits whose request a report placed, in the order they leave:
    /// (sent, held from, answered), ms since the epoch. A slot leaves a
    /// window's length after it is held from: its answer (when the request
    /// surely reached the server), or its grant's run and the way there if
    /// sooner.
    placed: VecDeque<(f64, f64, f64)>,
    /// The longest time from a request's send to its answer reported, ms:
    /// the longest way to the server assumed for a whole refill.
    reach_ms: f64,
}

/// The most placed permits the books keep.
const MAX_PLACED: usize = 256;

impl Ledger {
    /// How long a grant occupies its slot, ms.
    fn hold_ms(&self) -> f64 {
        self.window_ms.max(MIN_WINDOW_MS) + LEASE_TTL_MS
    }

    /// The permits granted (or placed by a report) before `to_ms` the
    /// books still hold.
    fn held_before(&self, to_ms: f64) -> f64 {
        let runs: f64 = self
            .runs
            .iter()
            .filter(|&&(at, _)| at < to_ms)
            .map(|&(_, n)| n)
            .sum();
        runs + self.placed.iter().filter(|&&(s, _, _)| s <= to_ms).count() as f64
    }

    /// Every permit the books hold.
    fn occupied(&self) -> f64 {
        self.runs.iter().map(|&(_, n)| n).sum::<f64>() + self.placed.len() as f64
    }

    /// A report says its request went at `sent_ms` and was answered at
    /// `answered_ms`: its permit, granted at most [`LEASE_TTL_MS`] before,
    /// holds its slot from the answer on, if that is sooner than its run's
    /// end. The earliest run that may hold it gives one up (it ends no
    /// later than the permit's own run, so the books stay as strict); none
    /// if no run may hold it.
    fn place(&mut self, sent_ms: f64, answered_ms: f64) {
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
    fn settle(&mut self, now_ms: f64) {
        if !self.heard {
            // The window's length is not known yet: the cold start's slot
            // stays until its report says how long it is held.
            return;
        }
        let hold = self.hold_ms();
        while self
            .runs
            .front()
            .is_some_and(|&(at, _)| at + hold <= now_ms)
        {
            self.runs.pop_front();
        }
        let window = self.window_ms.max(MIN_WINDOW_MS);
        while self
            .placed
            .front()
            .is_some_and(|&(_, from, _)| from + window <= now_ms)
        {
            self.placed.pop_front();
        }
        if let Some(reset) = self.refill_at_ms.filter(|&r| r <= now_ms) {
            self.refill_at_ms = None;
            if self.whole {
                // The reset was heard up to `reach` late: the window ended
                // no sooner than `reset - reach`. A request answered by
                // then reached the server in it; a permit granted
                // [`LEASE_TTL_MS`] and `reach` before it was sent and got
                // there by then.
                let end = reset - self.reach_ms;
                while self
                    .runs
                    .front()
                    .is_some_and(|&(at, _)| at + LEASE_TTL_MS + self.reach_ms <= end)
                {
                    self.runs.pop_front();
                }
                self.placed.retain(|&(_, _, answered)| answered > end);
            }
        }
    }

    /// Takes a report an instance forwarded.
    pub fn report(&mut self, r: Report) {
        self.heard = true;
        self.cold_at_ms = None;
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

    /// Learns from a report without a 429 whether the window refills whole
    /// at its reset: a count below what any sliding log would hold (the
    /// reported requests that surely reached the server before this one,
    /// less than a window before it) proves that requests were dropped at
    /// once, as [`crate::limits::throttle::Meaning::Full`] is learned. Only
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
            let (from, to) = (sent + LEASE_TTL_MS - self.window_ms, sent - LEASE_TTL_MS);
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

    /// Answers a request for up to `want` permits at `now_ms` (0: a report
    /// alone, answered with the shortest wait).
    pub fn lease(&mut self, want: u32, now_ms: f64) -> Grant {
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
                let n = want.min(MAX_LEASE);
                self.book(f64::from(n), now_ms);
                return Grant::Permits(n);
            }
            // Nothing heard: one permit, then wait for its report.
            return match self.cold_at_ms {
                Some(at) if now_ms - at < COLD_WAIT_MS => wait(WAIT_MS.0 * 4.0),
                _ => {
                    self.cold_at_ms = Some(now_ms);
                    self.book(1.0, now_ms);
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
        let n = free.min(f64::from(want.clamp(1, MAX_LEASE))).floor();
        self.book(n, now_ms);
        Grant::Permits(n as u32)
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
        last_run.max(reset).max(self.blocked_until_ms).max(cold)
    }

    /// The books as numbers, for the coordinator's storage.
    pub fn to_vec(&self) -> Vec<f64> {
        let n = |v: Option<f64>| v.unwrap_or(f64::NAN);
        let k = self.known;
        let mut v = vec![
            n(self.limit),
            self.window_ms,
            self.blocked_until_ms,
            n(self.cold_at_ms),
            n(k.map(|k| k.remaining)),
            n(k.map(|k| k.observed_at_ms)),
            n(k.map(|k| k.counted_to_ms)),
            n(k.map(|k| k.reset_at_ms)),
            f64::from(u8::from(self.heard)),
            n(k.map(|k| k.held)),
            f64::from(u8::from(self.whole) + 2 * u8::from(self.continuous)),
            n(self.refill_at_ms),
            self.reach_ms,
            self.sends.len() as f64,
        ];
        v.extend(self.sends.iter().copied());
        v.push(self.placed.len() as f64);
        v.extend(self.placed.iter().flat_map(|&(s, f, a)| [s, f, a]));
        v.extend(self.runs.iter().flat_map(|&(at, n)| [at, n]));
        v
    }

    /// How many numbers [`Ledger::to_vec`] puts before the runs.
    /// (and the reported sends, at most [`MAX_SENDS`], and the placed
    /// permits, at most 256).
    pub const FIXED_NUMBERS: usize = 15 + MAX_SENDS + 3 * MAX_PLACED;

    /// Books read back from storage; anything unreadable starts afresh.
    pub fn from_slice(v: &[f64]) -> Ledger {
        let [limit, window_ms, blocked, cold, remaining, observed, counted, reset, heard, held, whole, refill, reach, sends, rest @ ..] =
            v
        else {
            return Ledger::default();
        };
        let ok = |v: f64| v.is_finite().then_some(v);
        let known = match (
            ok(*remaining),
            ok(*observed),
            ok(*counted),
            ok(*reset),
            ok(*held),
        ) {
            (
                Some(remaining),
                Some(observed_at_ms),
                Some(counted_to_ms),
                Some(reset_at_ms),
                Some(held),
            ) => Some(Known {
                remaining,
                observed_at_ms,
                counted_to_ms,
                reset_at_ms,
                held: held.max(0.0),
            }),
            _ => None,
        };
        let sends = (*sends as usize).min(MAX_SENDS).min(rest.len());
        let (sends, rest) = rest.split_at(sends);
        let (placed, rest) = match rest.split_first() {
            Some((&n, rest)) if n.is_finite() && n >= 0.0 => {
                let n = (n as usize).min(MAX_PLACED).min(rest.len() / 3);
                rest.split_at(3 * n)
            }
            _ => (&[][..], rest),
        };
        let placed = placed
            .chunks_exact(3)
            .filter(|p| p.iter().all(|v| v.is_finite()))
            .map(|p| (p[0], p[1], p[2]))
            .collect();
        let runs = rest
            .chunks_exact(2)
            .filter(|r| r[0].is_finite() && r[1].is_finite() && r[1] > 0.0)
            .map(|r| (r[0], r[1]))
            .collect();
        Ledger {
            limit: ok(*limit).filter(|l| *l >= 0.0),
            window_ms: Ms::real(*window_ms).map_or(0.0, Ms::get),
            runs,
            known,
            blocked_until_ms: ok(*blocked).unwrap_or(0.0),
            cold_at_ms: ok(*cold),
            heard: *heard == 1.0,
            whole: *whole == 1.0,
            continuous: *whole == 2.0,
            refill_at_ms: ok(*refill),
            sends: sends.iter().copied().filter(|v| v.is_finite()).collect(),
            placed,
            reach_ms: Ms::real(*reach).map_or(0.0, Ms::get),
        }
    }
}

fn wait(ms: f64) -> Grant {
    Grant::Wait(ms.clamp(WAIT_MS.0, WAIT_MS.1))
}

/// What an instance holds of one key's lease.
#[derive(Debug, Clone, Default)]
struct Held {
    permits: u32,
    expires_at_ms: f64,
    /// A lease request is on its way until then.
    asking_until_ms: f64,
    /// The coordinator said to wait until then.
    wait_until_ms: f64,
    /// Since when it has said to wait, with no permit in between.
    refusing_since_ms: Option<f64>,
    /// The coordinator could not be reached: local state alone until then.
    alone_until_ms: f64,
    /// Calls that asked since the last lease request.
    askers: Vec<u64>,
    /// The newest report not yet forwarded.
    report: Option<Report>,
    /// Whether a report was forwarded from the key yet.
    reported: bool,
    /// Whether one with a limit was.
    reported_limit: bool,
    used_ms: f64,
}

impl Idle for Held {
    fn idle(&self, now_ms: f64) -> bool {
        now_ms - self.used_ms > COLD_WAIT_MS && self.report.is_none()
    }
}

/// What the lease side tells a call about to send.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Need {
    /// A permit is held: send (and [`Leases::spend`] it).
    Go,
    /// The coordinator could not be reached lately: send on local state.
    Alone,
    /// Ask the coordinator for up to `want` permits.
    Ask {
        /// How many.
        want: u32,
    },
    /// Wait `ms`, then look again.
    Wait {
        /// How long.
        ms: f64,
    },
}

/// An instance's leases, per key (bounded like every per-key map).
#[derive(Debug, Default)]
pub struct Leases {
    held: KeyMap<Held>,
}

/// How long an instance goes on alone after its coordinator failed, ms.
pub const ALONE_MS: f64 = 1_000.0;

/// How long a lease request may take before another call may send one, ms.
pub const ASK_MS: f64 = 1_500.0;

impl Leases {
    /// What call `ticket` needs before it sends to `key` at `now_ms`. A
    /// coordinator that has refused permits for longer than `max_wait_ms`
    /// (the retry policy's cap on a server's hint: a reset hours away, or
    /// books gone wrong) is not waited for: calls go on local state.
    pub fn need(&mut self, key: LimitKey, ticket: u64, now_ms: f64, max_wait_ms: f64) -> Need {
        let h = self.held.entry_or_default(key, now_ms);
        h.used_ms = now_ms;
        let refused_too_long = h
            .refusing_since_ms
            .is_some_and(|since| now_ms - since > max_wait_ms);
        if refused_too_long {
            // For a while; then it is asked again.
            h.refusing_since_ms = None;
            h.alone_until_ms = now_ms + ALONE_MS;
        }
        if now_ms < h.alone_until_ms {
            return Need::Alone;
        }
        if h.permits > 0 && now_ms < h.expires_at_ms {
            return Need::Go;
        }
        h.permits = 0;
        if !h.askers.contains(&ticket) && h.askers.len() < MAX_LEASE as usize {
            h.askers.push(ticket);
        }
        if now_ms < h.wait_until_ms {
            return Need::Wait {
                ms: h.wait_until_ms - now_ms,
            };
        }
        if now_ms < h.asking_until_ms {
            return Need::Wait { ms: WAIT_MS.0 };
        }
        h.asking_until_ms = now_ms + ASK_MS;
        let want = h.askers.len().max(1) as u32;
        h.askers.clear();
        Need::Ask { want }
    }

    /// The report to send with a lease request for `key` (taken: sent once).
    pub fn take_report(&mut self, key: LimitKey) -> Option<Report> {
        self.held.get_mut(&key).and_then(|h| h.report.take())
    }

    /// The coordinator answered a lease request for `key`.
    pub fn granted(&mut self, key: LimitKey, grant: Grant, now_ms: f64) {
        let h = self.held.entry_or_default(key, now_ms);
        h.asking_until_ms = 0.0;
        match grant {
            Grant::Permits(n) => {
                h.permits = n;
                h.expires_at_ms = now_ms + PERMIT_LIFE_MS;
                h.refusing_since_ms = None;
                // The calls that asked take these; any left ask again.
                h.askers.clear();
            }
            Grant::Wait(ms) => {
                h.wait_until_ms = now_ms + ms;
                h.refusing_since_ms.get_or_insert(now_ms);
            }
        }
    }

    /// The coordinator could not answer for `key`: calls go on local state
    /// alone for [`ALONE_MS`].
    pub fn unreachable(&mut self, key: LimitKey, now_ms: f64) {
        let h = self.held.entry_or_default(key, now_ms);
        h.asking_until_ms = 0.0;
        h.alone_until_ms = now_ms + ALONE_MS;
    }

    /// A call to `key` goes out: it spends a permit, if one is held.
    pub fn spend(&mut self, key: LimitKey) {
        if let Some(h) = self.held.get_mut(&key) {
            h.permits = h.permits.saturating_sub(1);
        }
    }

    /// An answer from `key` arrived: its report goes with the next lease
    /// request (the newest wins), or is returned to be forwarded at once
    /// when the others may be waiting for it: the first this instance
    /// heard from the key (it may answer a cold start), the first with a
    /// limit (until then the coordinator keeps none) and a 429's, unless
    /// the coordinator was just found unreachable.
    pub fn heard(&mut self, key: LimitKey, report: Report, now_ms: f64) -> Option<Report> {
        let h = self.held.entry_or_default(key, now_ms);
        let reachable = now_ms >= h.alone_until_ms;
        let limited = report.limit.is_some();
        let news =
            !h.reported || (limited && !h.reported_limit) || report.blocked_until_ms.is_some();
        if reachable && news {
            h.reported = true;
            h.reported_limit |= limited;
            return Some(report);
        }
        let newer = h
            .report
            .is_none_or(|r| report.observed_at_ms >= r.observed_at_ms);
        if newer {
            h.report = Some(report);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(limit: f64, remaining: f64, reset_in: f64, at: f64) -> Report {
        Report {
            sent_at_ms: None,
            limit: Some(limit),
            remaining: Some(remaining),
            reset_at_ms: Some(at + reset_in),
            observed_at_ms: at,
            blocked_until_ms: None,
            refill: Refill::Unknown,
        }
    }

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

    #[test]
    fn concurrent_calls_send_one_lease_request_for_all_of_them() {
        let k = LimitKey::new("https://api.openai.com", Some("sk-a"));
        let mut leases = Leases::default();
        assert_eq!(leases.need(k, 1, 0.0, 60_000.0), Need::Ask { want: 1 });
        // While it is on its way, the others wait and are counted.
        assert!(matches!(
            leases.need(k, 2, 1.0, 60_000.0),
            Need::Wait { .. }
        ));
        assert!(matches!(
            leases.need(k, 3, 1.0, 60_000.0),
            Need::Wait { .. }
        ));
        leases.granted(k, Grant::Permits(2), 5.0);
        assert_eq!(leases.need(k, 2, 6.0, 60_000.0), Need::Go);
        leases.spend(k);
        assert_eq!(leases.need(k, 3, 6.0, 60_000.0), Need::Go);
        leases.spend(k);
        // Spent: the next asks for the calls that asked meanwhile.
        assert_eq!(leases.need(k, 4, 7.0, 60_000.0), Need::Ask { want: 1 });
        leases.granted(k, Grant::Wait(50.0), 8.0);
        assert_eq!(leases.need(k, 4, 9.0, 60_000.0), Need::Wait { ms: 49.0 });
        assert!(matches!(
            leases.need(k, 4, 58.0, 60_000.0),
            Need::Ask { .. }
        ));
    }

    #[test]
    fn permits_expire_and_an_unreachable_coordinator_lets_calls_go_alone() {
        let k = LimitKey::new("https://api.openai.com", Some("sk-a"));
        let mut leases = Leases::default();
        assert!(matches!(leases.need(k, 1, 0.0, 60_000.0), Need::Ask { .. }));
        leases.granted(k, Grant::Permits(5), 0.0);
        assert_eq!(leases.need(k, 1, PERMIT_LIFE_MS - 1.0, 60_000.0), Need::Go);
        assert!(matches!(
            leases.need(k, 1, PERMIT_LIFE_MS, 60_000.0),
            Need::Ask { .. }
        ));
        leases.unreachable(k, 200.0);
        assert_eq!(leases.need(k, 1, 201.0, 60_000.0), Need::Alone);
        assert!(matches!(
            leases.need(k, 1, 200.0 + ALONE_MS, 60_000.0),
            Need::Ask { .. }
        ));
    }

    #[test]
    fn the_first_report_and_a_429_s_are_forwarded_at_once_the_rest_with_the_next_lease() {
        let k = LimitKey::new("https://api.openai.com", Some("sk-a"));
        let mut leases = Leases::default();
        let r = |at| report(10.0, 5.0, 1_000.0, at);
        // An answer without rate-limit headers, then the first with a limit.
        let bare = Report::of(None, None, 0.2, 0.5);
        assert_eq!(leases.heard(k, bare, 0.5), Some(bare));
        assert_eq!(leases.heard(k, r(1.0), 1.0), Some(r(1.0)));
        assert_eq!(leases.heard(k, r(2.0), 2.0), None);
        // An older report does not replace a newer one.
        assert_eq!(leases.heard(k, r(1.5), 3.0), None);
        assert_eq!(leases.take_report(k), Some(r(2.0)));
        assert_eq!(leases.take_report(k), None, "sent once");
        let limited = Report {
            blocked_until_ms: Some(900.0),
            ..r(4.0)
        };
        assert_eq!(leases.heard(k, limited, 4.0), Some(limited));
        leases.unreachable(k, 5.0);
        assert_eq!(leases.heard(k, limited, 6.0), None, "not while unreachable");
        assert_eq!(leases.take_report(k), Some(limited), "kept for later");
    }

    #[test]
    fn a_coordinator_that_refuses_longer_than_the_cap_is_not_waited_for() {
        let k = LimitKey::new("https://api.openai.com", Some("sk-a"));
        let mut leases = Leases::default();
        let cap = 5_000.0;
        let mut t = 0.0;
        while t < cap {
            match leases.need(k, 1, t, cap) {
                Need::Ask { .. } => leases.granted(k, Grant::Wait(1_000.0), t),
                Need::Wait { .. } => {}
                other => panic!("{other:?} at {t}"),
            }
            t += 100.0;
        }
        assert_eq!(leases.need(k, 1, cap + 100.0, cap), Need::Alone);
        // For a while, then the coordinator is asked again.
        let later = cap + 100.0 + ALONE_MS;
        assert!(matches!(leases.need(k, 1, later, cap), Need::Ask { .. }));
        leases.granted(k, Grant::Permits(1), later);
        assert_eq!(leases.need(k, 1, later + 1.0, cap), Need::Go);
    }

    #[test]
    fn a_lost_lease_request_does_not_block_the_key_for_good() {
        let k = LimitKey::new("https://api.openai.com", Some("sk-a"));
        let mut leases = Leases::default();
        assert!(matches!(leases.need(k, 1, 0.0, 60_000.0), Need::Ask { .. }));
        // Its call was cancelled: the answer never comes.
        assert!(matches!(
            leases.need(k, 2, ASK_MS - 1.0, 60_000.0),
            Need::Wait { .. }
        ));
        assert!(matches!(
            leases.need(k, 2, ASK_MS, 60_000.0),
            Need::Ask { .. }
        ));
    }
}

#[cfg(test)]
mod freeing;

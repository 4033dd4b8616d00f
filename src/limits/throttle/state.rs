//! One key's state: its windows, the requests sent on it and its waiters;
//! booking a request, and taking in its answer.

use std::collections::VecDeque;

use super::books::{Sent, WindowState};
use super::{
    Answer, Booking, Meaning, Refill, ASSUMED_REACH_MS, IN_FLIGHT_LEASE_MS, MAX_LOG,
    SEND_JITTER_MS, WINDOWS,
};
use crate::classify::headers::{Limits, Window};
use crate::limits::key::Idle;
use crate::limits::tokens::Tokens;

/// Why a waiter cannot go yet.
pub(super) enum Check {
    Fits,
    /// Not before this time; `sooner`: an answer in flight may make room
    /// before then (its server count replacing a token estimate).
    Due(f64, bool),
    /// Until an answer tells, or (a cold key) until the given time.
    Hold(Option<f64>),
}

/// One key's windows, the requests sent on it and its waiters.
#[derive(Debug, Clone)]
pub(super) struct KeyState {
    pub(super) windows: [WindowState; WINDOWS],
    pub(super) log: VecDeque<Sent>,
    pub(super) next_seq: u64,
    pub(super) booked: [f64; WINDOWS],
    /// The requests in `log` not yet answered (nor presumed lost).
    pub(super) in_flight: u64,
    pub(super) waiters: super::line::Waiters,
    /// Whether any answer came back for this key.
    pub(super) heard: bool,
    /// Whether any answer carried rate-limit headers (not only a
    /// `retry-after`).
    pub(super) told: bool,
    /// A limit heard of only through 429s ([`super::quiet`]).
    pub(super) quiet: super::quiet::Quiet,
    /// When the first request went to this key while nothing was heard.
    pub(super) cold_since: Option<f64>,
    /// The shortest time to an answer seen, ms: what a request needs, at
    /// most, to reach the server.
    pub(super) min_rtt_ms: f64,
    /// A moving average of the time to an answer, ms.
    pub(super) avg_rtt_ms: Option<f64>,
    /// Whether a 429 cast doubt on timing resets from the send: they are
    /// timed from the answer from then on.
    pub(super) doubt: bool,
    /// How far apart its requests are counted from their sends, as its
    /// reports showed ([`super::reach`]).
    pub(super) reach: super::reach::Reach,
    /// The last booking or answer, ms since the epoch.
    pub(super) active_at: f64,
}

impl Default for KeyState {
    fn default() -> Self {
        KeyState {
            windows: Default::default(),
            log: VecDeque::new(),
            next_seq: 0,
            booked: [0.0; WINDOWS],
            in_flight: 0,
            waiters: Default::default(),
            heard: false,
            told: false,
            quiet: Default::default(),
            cold_since: None,
            min_rtt_ms: f64::INFINITY,
            avg_rtt_ms: None,
            doubt: false,
            reach: Default::default(),
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

/// What an admission goes by besides the books.
#[derive(Debug, Clone, Copy)]
pub(super) struct Rules {
    /// Requests sent to a key nothing was heard from.
    pub(super) cold_start: u32,
    /// How often the cold start allowance doubles, ms ([`super::cold`]).
    pub(super) cold_step: f64,
    /// Whether a coordinator's lease decides the requests window.
    pub(super) leased: bool,
}

/// Each window's need for one request: one request, and its tokens.
pub(super) fn needs(tokens: Option<Tokens>) -> [f64; WINDOWS] {
    let t = tokens.unwrap_or_default();
    [1.0, t.total() as f64, t.input as f64, t.output as f64]
}

impl KeyState {
    /// How far apart two requests may be sent and still reach the server
    /// in either order: the shortest round trip seen (a request needs less
    /// than that to get there) plus [`SEND_JITTER_MS`] of scheduling on
    /// this side.
    pub(super) fn reorder_ms(&self) -> f64 {
        self.min_rtt_ms.min(IN_FLIGHT_LEASE_MS) + SEND_JITTER_MS
    }

    /// The longest a request sent now may take to be counted by the
    /// server, ms, beyond the way of others: [`ASSUMED_REACH_MS`] at most
    /// (plus [`SEND_JITTER_MS`]), or what the reports showed
    /// ([`super::reach`]), until a 429 casts doubt on it; then
    /// [`reorder_ms`](Self::reorder_ms).
    pub(super) fn reach_ms(&self) -> f64 {
        let reorder = self.reorder_ms();
        if self.doubt {
            reorder
        } else {
            let assumed = ASSUMED_REACH_MS + SEND_JITTER_MS;
            // Learned where the requests window is known to refill whole:
            // a sliding log's slots are told apart by the same reach.
            let learned = self
                .reach
                .learned_ms()
                .filter(|_| self.windows[0].meaning == Meaning::Full);
            reorder.min(learned.unwrap_or(assumed))
        }
    }

    /// When the server measured the headers of an answer heard at `now`
    /// to a request sent at `sent_at`: when it counted the request, no
    /// later than a reach after its send; once a 429 cast doubt on that,
    /// only "before the answer" is sure.
    pub(super) fn measured_at(&self, sent_at: f64, now: f64) -> f64 {
        if self.doubt {
            now
        } else {
            now.min(sent_at + self.reach_ms())
        }
    }

    /// The log position of a booking.
    pub(super) fn find(&self, b: Booking) -> Option<usize> {
        let front = self.log.front()?.seq;
        let i = usize::try_from(b.seq.checked_sub(front)?).ok()?;
        self.log
            .get(i)
            .filter(|s| s.seq == b.seq && s.ticket == b.ticket)
            .map(|_| i)
    }

    /// Books a request sent at `now`.
    pub(super) fn book(&mut self, ticket: u64, estimate: [f64; WINDOWS], now: f64) -> Booking {
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
        // Any later: the window it opens (or finds open) ends within a
        // window's length of its arrival, as long as the window is known to
        // be when that is asked ([`super::flight`]: the length may grow
        // while it is out).
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
            rejected: false,
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
    pub(super) fn prune(&mut self, now: f64) {
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

    pub(super) fn answered(&mut self, booking: Booking, now: f64, answer: Answer<'_>) {
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
            retry_after_ms,
        } = answer
        {
            if let (true, Some(i)) = (rate_limited, found) {
                self.log[i].rejected = true;
            }
            // Answers without rate-limit headers say nothing of the limit:
            // the cold start goes on (its allowance doubling).
            self.heard |= limits.is_some();
            self.told |= limits.is_some();
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
                    self.heard_429_report(sent_at, now, limits);
                }
            } else if let (true, Some(wait)) = (rate_limited, retry_after_ms) {
                self.heard_429(found, sent_at, seq, now, wait);
            } else if !rate_limited && found.is_some() {
                self.quiet.let_through(sent_at, now);
            }
            // A 429: a reset may have been measured later than assumed.
            if rate_limited {
                self.doubt = true;
            }
        }
        // A window its answer said nothing about (or no answer at all): a
        // window's length after it was counted, it has left that window
        // for sure.
        if let Some(at) = found {
            let heard = matches!(answer, Answer::Heard { .. });
            let counted = self.counted_by(sent_at, now, heard);
            let lengths = self.windows.each_ref().map(WindowState::length);
            for (gone, length) in self.log[at].gone.iter_mut().zip(lengths) {
                if gone.is_infinite() {
                    *gone = counted + length;
                }
            }
        }
        self.prune(now);
    }

    pub(super) fn observe(
        &mut self,
        limits: &Limits,
        now: f64,
        found: Option<usize>,
        sent_at: f64,
        seq: u64,
    ) {
        let windows = [
            limits.requests,
            limits.tokens,
            limits.input_tokens,
            limits.output_tokens,
        ];
        for (i, window) in windows.into_iter().enumerate() {
            let Some(window) = window else { continue };
            // Booked after the reported request: the server had not seen
            // it; nor, perhaps, one booked just before it (within a reach:
            // not a round trip, which with slow answers is mostly the
            // server's work) and still unanswered, which may have reached
            // the server second. With
            // the request unknown (presumed lost), everything unanswered.
            // What was taken off as perhaps overtaken: how many, and the
            // earliest send it goes back to ([`super::order`]).
            let mut taken = (0u32, f64::INFINITY);
            let uncounted = match found {
                Some(at) => {
                    let after = match self.log.get(at + 1) {
                        Some(next) => self.booked[i] - next.before[i],
                        None => 0.0,
                    };
                    let close = sent_at - self.reach_ms();
                    let mut overtaken = 0.0;
                    // The walk ends once every unanswered request has been
                    // passed (`in_flight` counts them): with none out, as
                    // on a sequential success, there is nothing to walk,
                    // where a reach's worth of answered requests (hundreds
                    // at a high rate) used to be read on every answer.
                    let mut out = self.in_flight;
                    debug_assert_eq!(
                        out as usize,
                        self.log.iter().filter(|s| !s.answered).count()
                    );
                    for s in self.log.range(..at).rev() {
                        if out == 0 || s.at < close {
                            break;
                        }
                        if !s.answered {
                            out -= 1;
                            overtaken += s.need[i];
                            taken = (taken.0 + 1, close);
                        }
                    }
                    after + overtaken
                }
                None => {
                    let unanswered = self.log.iter().filter(|s| !s.answered);
                    unanswered.map(|s| s.need[i]).sum()
                }
            };
            if let (Some(at), Some(ms)) = (found, window.reset_ms) {
                if i == 0 {
                    self.reach.report(sent_at, ms as f64);
                }
                self.learn_meaning(i, at, &window, sent_at);
                self.cross(i, sent_at, ms as f64, window.remaining.map(|r| r as f64));
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
            // A continuous window refilled while the answer came back: its
            // level is as of the measure, not of the answer.
            let measured = match found {
                Some(_) => self.measured_at(sent_at, now),
                None => now,
            };
            self.windows[i].observe(&window, now, measured, sent_at, seq, uncounted, tokens);
            // What the order of the reports shows the server counted
            // ([`super::order`]).
            if let (Some(at), Some(left), Some(ms)) = (found, window.remaining, window.reset_ms) {
                let report = super::order::Report {
                    seq,
                    sent_at,
                    remaining: left as f64,
                    end: sent_at + ms as f64,
                };
                let need = self.log[at].need[i];
                let w = &mut self.windows[i];
                if w.level_from == Some(seq) {
                    w.doubt(&report, taken);
                } else {
                    w.settle(&report, need);
                }
            }
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

    /// A 429 says pacing was too fast: the windows it shows used up (all
    /// of them if it shows none) are released at their reset from now on.
    pub(super) fn demote(&mut self, limits: &Limits) {
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

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::*;

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

//! The line: callers waiting to send on a key, served first come, first
//! served across every window of the key. Nobody is woken by another
//! caller: a waiter polls with its own timer until the books say it may go
//! (the Workers rule, as in [`crate::limits::bulkhead`]); one that misses its
//! poll stops holding the others back. The waiters stand in a
//! [`Line`], as the concurrency queue's do, each with what it needs.

use std::collections::VecDeque;

use super::state::{Check, KeyState, Rules};
use super::{
    books::fits, cold, Admit, HOLD_POLL_MAX_MS, MAX_SCAN, POLL_MS, RESET_MARGIN_MS,
    STALE_WAITER_MS, WINDOWS,
};
use crate::limits::lanes::Lane;
use crate::limits::line::Line;
use crate::time::Ms;

/// A key's waiters: the [`Line`] (in ticket order: the throttle has one
/// lane), and what each needs of every window, in the same order.
#[derive(Debug, Clone, Default)]
pub(super) struct Waiters {
    line: Line,
    needs: VecDeque<[f64; WINDOWS]>,
}

impl Waiters {
    /// How many wait.
    pub(super) fn len(&self) -> usize {
        self.line.len()
    }

    /// Whether nobody waits.
    pub(super) fn is_empty(&self) -> bool {
        self.line.is_empty()
    }

    /// Whether `ticket` waits.
    pub(super) fn contains(&self, ticket: u64) -> bool {
        self.line.contains(ticket)
    }

    /// Where `ticket` stands: `Ok` if it waits, `Err` where it would join.
    fn find(&self, ticket: u64) -> Result<usize, usize> {
        self.line.find(ticket, Lane::Interactive)
    }

    /// `ticket`, needing `need`, waits until `due`; since when it waits.
    fn wait(&mut self, ticket: u64, need: [f64; WINDOWS], now: f64, due: f64) -> f64 {
        let joined = self.find(ticket).is_err();
        let place = self.line.join(ticket, Lane::Interactive, now, due);
        if joined {
            self.needs.insert(place, need);
        } else if let Some(n) = self.needs.get_mut(place) {
            *n = need;
        }
        self.line.get(place).map_or(now, |w| w.since)
    }

    /// Takes `ticket` out of the line.
    fn remove(&mut self, ticket: u64) {
        if let Some(place) = self.line.leave(ticket) {
            self.needs.remove(place);
        }
    }

    /// Waiters at the front that missed their poll stop holding the others
    /// back (`ticket`, the one asking, stays).
    fn drop_stale(&mut self, now: f64, ticket: u64) {
        let gone = self.line.drop_missing(now, STALE_WAITER_MS, ticket);
        self.needs.drain(..gone);
    }

    /// What the first `n` waiters need.
    fn needs(&self, n: usize) -> impl Iterator<Item = &[f64; WINDOWS]> {
        self.needs.iter().take(n)
    }
}

impl KeyState {
    /// Whether a waiter at `place` in line (the waiters before it go
    /// first), needing `need`, fits now; if not, until when it waits.
    pub(super) fn check(
        &self,
        place: usize,
        need: [f64; WINDOWS],
        now: f64,
        rules: Rules,
    ) -> Check {
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
        for &need in self.waiters.needs(scanned) {
            let n = self.sized(need);
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
            // A leased request's room in the requests and tokens windows
            // is the coordinator's to give (it shares both); Anthropic's
            // input and output tokens windows stay this throttle's.
            let leased = rules.leased && i <= 1;
            let Some(level) = w.level.filter(|_| !leased) else {
                continue;
            };
            if fits(cum, level) {
                continue;
            }
            let missing = if cum > 0.0 { cum - level } else { 1.0 - level };
            // Token counts are estimates until the answers in flight report;
            // so is a level that took off requests a report may have
            // overtaken, until they report ([`super::order`]).
            sooner |= i > 0 && self.in_flight > 0;
            sooner |= w.doubted.as_ref().is_some_and(|d| d.pending());
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
                    let flight = self.flight_ms(i);
                    let mut gone = f64::NEG_INFINITY;
                    let mut room = None;
                    for (n, sent) in self.log.range(from..).enumerate() {
                        gone = gone.max(sent.leaves(i, flight));
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
    /// oldest request in flight should still take, else a sixteenth of
    /// what it took so far. A waiter goes at its first poll after the
    /// answer: an eighth (as until issue 22) was 12.5% of the hold, more
    /// than the whole 10% over the floor a run is allowed; the first
    /// window of a clock-aligned limit, 0.4 W long, with 0.3 W answers,
    /// was missed by 25 ms of it (1.31× the floor; 1.03× now).
    pub(super) fn hold_poll(&self, now: f64) -> f64 {
        let oldest = self.log.iter().find(|s| !s.answered).map_or(now, |s| s.at);
        let elapsed = Ms::between(oldest, now).get();
        let ms = match self.avg_rtt_ms {
            Some(avg) if avg > elapsed => (avg - elapsed) / 2.0,
            _ => elapsed / 16.0,
        };
        ms.clamp(POLL_MS.0, HOLD_POLL_MAX_MS)
    }

    /// Waiters at the front of the line that missed their poll stop
    /// holding the others back.
    pub(super) fn drop_stale(&mut self, now: f64, ticket: u64) {
        self.waiters.drop_stale(now, ticket);
    }

    pub(super) fn remove_waiter(&mut self, ticket: u64) {
        self.waiters.remove(ticket);
    }

    pub(super) fn admit(
        &mut self,
        ticket: u64,
        need: [f64; WINDOWS],
        now: f64,
        rules: Rules,
    ) -> Admit {
        self.advance(now);
        self.drop_stale(now, ticket);
        let place = match self.waiters.find(ticket) {
            Ok(i) | Err(i) => i,
        };
        let (until, ms) = match self.check(place, need, now, rules) {
            Check::Fits => {
                self.waiters.remove(ticket);
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
        let since = self.waiters.wait(ticket, need, now, now + ms);
        Admit::Wait {
            ms: ms as u64,
            until,
            since,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::*;

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
        assert_eq!(ms(r.admit(t, 400.0)), 25, "a sixteenth of the time so far");
        assert_eq!(ms(r.admit(t, 10_000.0)), HOLD_POLL_MAX_MS as u64);
        r.answer(first, 10_000.0, &requests(10, 9, 1_000));
        let b = r.go(10_000.0).unwrap();
        r.answer(b, 10_100.0, &requests(10, 8, 900));
        assert!(r.go(10_100.0).is_some());
    }

    /// A level that took off requests its report may have overtaken is
    /// low until they report ([`super::super::order`]): a waiter polls as
    /// their answers are expected, not at the reset, and goes when one
    /// gives its slot back.
    #[test]
    fn a_waiter_polls_as_answers_that_may_give_back_a_slot_are_expected() {
        let mut r = Run::new(0);
        let first = r.go(0.0).unwrap();
        r.answer(first, 300.0, &requests(4, 3, 700));
        let (a, b) = (r.go(300.0).unwrap(), r.go(306.0).unwrap());
        // `b` was the server's third: 1 left, but `a` may not count yet.
        r.answer(b, 600.0, &requests(4, 1, 394));
        assert_eq!(r.t.remaining(k()), Some(0));
        let waiter = r.call();
        let Admit::Wait { ms, until, .. } = r.admit(waiter, 600.0) else {
            panic!("went");
        };
        let due = until.map_or(0.0, |u| u - T0);
        assert!(due > 700.0, "due when the first request leaves: {due}");
        assert!(ms <= HOLD_POLL_MAX_MS as u64, "polls in {ms} ms");
        // `a` says 2 left: counted before `b`; its slot is back.
        r.answer(a, 610.0, &requests(4, 2, 390));
        assert!(matches!(r.admit(waiter, 600.0 + ms as f64), Admit::Go(_)));
    }

    #[test]
    fn each_waiter_keeps_its_own_need_as_others_come_and_go() {
        let need = |n: f64| [n, 0.0, 0.0, 0.0];
        let mut w = super::Waiters::default();
        assert_eq!(w.wait(3, need(3.0), 0.0, 10.0), 0.0);
        w.wait(1, need(1.0), 1.0, 10.0);
        w.wait(2, need(2.0), 2.0, 5_000.0);
        assert_eq!(
            w.wait(3, need(30.0), 4.0, 20.0),
            0.0,
            "waits since it joined"
        );
        let firsts = |w: &super::Waiters| w.needs(9).map(|n| n[0]).collect::<Vec<_>>();
        assert_eq!(firsts(&w), [1.0, 2.0, 30.0], "in ticket order");
        w.drop_stale(10.0 + STALE_WAITER_MS + 1.0, 9);
        assert_eq!(firsts(&w), [2.0, 30.0], "ticket 1 missed its poll");
        w.remove(2);
        assert_eq!(firsts(&w), [30.0]);
        assert!(w.contains(3) && !w.contains(2) && w.len() == 1);
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
}

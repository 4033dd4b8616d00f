//! The line: callers waiting to send on a key, served first come, first
//! served across every window of the key. Nobody is woken by another
//! caller: a waiter polls with its own timer until the books say it may go
//! (the Workers rule, as in [`crate::limits::bulkhead`]); one that misses its
//! poll stops holding the others back.

use super::state::{Check, KeyState, Rules, Waiter};
use super::{
    books::fits, cold, Admit, HOLD_POLL_MAX_MS, MAX_SCAN, POLL_MS, RESET_MARGIN_MS,
    STALE_WAITER_MS, WINDOWS,
};

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
    pub(super) fn hold_poll(&self, now: f64) -> f64 {
        let oldest = self.log.iter().find(|s| !s.answered).map_or(now, |s| s.at);
        let elapsed = (now - oldest).max(0.0);
        let ms = match self.avg_rtt_ms {
            Some(avg) if avg > elapsed => (avg - elapsed) / 2.0,
            _ => elapsed / 8.0,
        };
        ms.clamp(POLL_MS.0, HOLD_POLL_MAX_MS)
    }

    /// Waiters at the front of the line that missed their poll stop
    /// holding the others back.
    pub(super) fn drop_stale(&mut self, now: f64, ticket: u64) {
        while self
            .waiters
            .front()
            .is_some_and(|w| w.ticket != ticket && now > w.due + STALE_WAITER_MS)
        {
            self.waiters.pop_front();
        }
    }

    pub(super) fn remove_waiter(&mut self, ticket: u64) {
        if let Ok(i) = self.waiters.binary_search_by_key(&ticket, |w| w.ticket) {
            self.waiters.remove(i);
        }
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
        assert_eq!(ms(r.admit(t, 400.0)), 50, "an eighth of the time so far");
        assert_eq!(ms(r.admit(t, 10_000.0)), HOLD_POLL_MAX_MS as u64);
        r.answer(first, 10_000.0, &requests(10, 9, 1_000));
        let b = r.go(10_000.0).unwrap();
        r.answer(b, 10_100.0, &requests(10, 8, 900));
        assert!(r.go(10_100.0).is_some());
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

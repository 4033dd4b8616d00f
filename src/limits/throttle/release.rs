//! Release at reset: a window that refills all at once (a fixed window; a
//! sliding log) holds its waiters, once used up, until the server's resets
//! free room. As requests leave, in booking order, what they took goes back
//! to waiters, less the calls still in flight (they may count in the new
//! window), and no more. What a reset frees depends on what it means
//! ([`super::learn`]): with a whole refill, the reported request, every one
//! booked before it that the server had counted (not one still in flight,
//! which may have reached it later) and every one sent surely before the
//! reset; slot by slot, the oldest request still counted.

use super::state::KeyState;
use super::{Meaning, Refill, IN_FLIGHT_LEASE_MS, RESET_MARGIN_MS, WINDOWS};

/// The most requests a report's reset is applied to, walking back from the
/// reported one.
const MAX_GONE_WALK: usize = 4_096;

impl KeyState {
    /// Brings the windows to `now`: presumes long-unanswered requests lost,
    /// refills continuous windows, and resets all-at-once windows whose
    /// reset has come, less what was sent too close to it.
    pub(super) fn advance(&mut self, now: f64) {
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
            let flight = self.flight_ms(i);
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
                let gone = sent.leaves(i, flight);
                if now < gone + RESET_MARGIN_MS {
                    break;
                }
                last = Some(gone);
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
            w.doubted = None;
            w.recent.clear();
        }
    }

    /// Records what a report of request `at` (in the log), sent at
    /// `sent_at`, says of window `i`: with a whole refill, that request,
    /// those before it that it did not overtake, and those sent surely
    /// before the reset have left by `gone`; slot by slot, only the oldest
    /// one still counted.
    pub(super) fn mark_gone(
        &mut self,
        i: usize,
        at: usize,
        sent_at: f64,
        gone: f64,
        reset_ms: f64,
    ) {
        let reach = self.reach_ms();
        // Sent within a reach before it: it may have reached the server
        // after the reported one.
        let close = sent_at - reach;
        let w = &self.windows[i];
        let (freed, own) = (w.freed, w.own_reset);
        if w.meaning == Meaning::Slot {
            // The oldest request counted when the report was measured (no
            // earlier than its send): not one surely gone by then, nor one
            // turned away. With slow answers, the oldest still counted when
            // the answer comes may be a younger one, which leaves later.
            let flight = self.flight_ms(i);
            let oldest = self
                .log
                .iter()
                .take(at + 1)
                .position(|s| !s.rejected && s.leaves(i, flight) > sent_at)
                // None of ours counted (the report is a 429's, on a window
                // that others' requests filled): its reset still frees the
                // next slot, which the oldest not yet freed stands for.
                .unwrap_or_else(|| {
                    let front = self.log.front().map_or(0, |s| s.seq);
                    (freed.max(front) - front) as usize
                });
            if oldest <= at {
                if let Some(sent) = self.log.get_mut(oldest) {
                    // A reset counted from each request (a sliding log's
                    // meaning "empty": when its newest entry leaves) comes
                    // later than the slot it frees: a window after its
                    // send, the oldest has left whatever the reset says.
                    let by_flight = match flight {
                        Some(ms) if own => sent.at + ms,
                        _ => f64::INFINITY,
                    };
                    sent.gone[i] = sent.gone[i].min(gone).min(by_flight);
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
        // Where an earlier walk left every request already gone by then:
        // lowering them to a later `gone` changes nothing, so the walk ends
        // there instead of reading every request since `freed` again
        // (hundreds at a high rate, thousands with a long reset).
        let floor = self.windows[i].floor.filter(|&(_, by)| by <= gone);
        let mut whole = true;
        for (n, sent) in self.log.range_mut(..=at).rev().enumerate() {
            if sent.seq < freed || floor.is_some_and(|(through, _)| sent.seq <= through) {
                break;
            }
            if n > MAX_GONE_WALK {
                whole = false;
                break;
            }
            let overtaken = n > 0 && !sent.answered && sent.at >= close;
            if overtaken {
                whole = false;
            } else {
                sent.gone[i] = sent.gone[i].min(gone);
            }
        }
        if let (true, Some(sent)) = (whole, self.log.get(at)) {
            self.windows[i].floor = Some((sent.seq, gone));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::*;

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
        // The rest wait for the new window, which the three open: it ends
        // a window's length after they reach the server, at the latest
        // (its report may tell sooner).
        let reach = 2.0 + SEND_JITTER_MS;
        assert_eq!(
            wait_until(r.admit(line[3], 1_001.0)),
            Some(1_001.0 + reach + 998.0 + RESET_MARGIN_MS)
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

    /// An answer slower than the gap to the next reset: its report was
    /// measured when `a` was the oldest request counted, and its reset
    /// says when `a` leaves. By the time it comes `a` has left, and main's
    /// throttle took it for `b`, the oldest still counted then: `b`'s slot
    /// was freed early (a 429 on a next-slot sliding log).
    #[test]
    fn a_late_report_frees_the_slot_that_was_oldest_when_it_was_measured() {
        let mut r = Run::new(0);
        let a = r.go(0.0).unwrap();
        r.answer(a, 4.0, &requests(2, 1, 1_000));
        let b = r.go(250.0).unwrap();
        r.answer(b, 1_100.0, &requests(2, 0, 750));
        assert!(r.go(1_100.0).is_some(), "`a`'s slot");
        let t = r.call();
        assert_eq!(
            wait_until(r.admit(t, 1_100.0)),
            Some(250.0 + 4.0 + SEND_JITTER_MS + 1_000.0 + RESET_MARGIN_MS),
            "`b` counts a window after its send"
        );
    }

    /// A 429 on a window others filled (remaining 0, reset 20 ms,
    /// `retry-after` 20 ms): its reset frees the next slot though the
    /// only request of ours it could stand for was turned away. The
    /// retry goes at the reset, not a reach and a poll later (held ~100 ms
    /// when the rejected request was skipped and nothing stood for it).
    #[test]
    fn a_429_s_reset_frees_the_slot_though_our_request_was_turned_away() {
        let mut r = Run::new(1);
        let call = r.call();
        let Admit::Go(a) = r.admit(call, 0.0) else {
            panic!("a cold key's first request goes")
        };
        let full = requests(500, 0, 20);
        r.t.answered(k(), a, T0 + 3.0, limited(&full, Some(20)));
        let went = (23..200)
            .find(|&t| matches!(r.admit(call, f64::from(t)), Admit::Go(_)))
            .expect("the retry goes");
        assert!(went <= 25, "went at {went} ms, the reset is at 23");
    }

    /// A report's walk back ends where an earlier one left every request
    /// gone no later (the window's `floor`): what each request is known to
    /// leave by, and so every release, is the same as walking back to
    /// `freed` each time, with calls in flight answered out of order,
    /// long and short resets, 429s (which put some later) and answers
    /// without headers. It walked a few hundred requests per answer at a
    /// high rate before.
    #[test]
    fn a_walk_back_that_stops_at_the_floor_leaves_what_a_whole_one_would() {
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        // `floored` keeps its floors; `whole` has them cleared before every answer.
        let (mut floored, mut whole) = (Run::new(0), Run::new(0));
        let mut out: Vec<(Booking, Booking)> = Vec::new();
        let (mut t, mut walks) = (0.0, 0);
        for _ in 0..20_000 {
            t += next(400) as f64 / 100.0;
            if out.is_empty() || next(3) > 0 && out.len() < 8 {
                let (a, b) = (floored.go(t), whole.go(t));
                assert_eq!(a.is_some(), b.is_some(), "admitted alike at {t}");
                if let (Some(a), Some(b)) = (a, b) {
                    out.push((a, b));
                }
                continue;
            }
            let (a, b) = out.swap_remove(next(out.len() as u64) as usize);
            let reset = [6, 50, 1_000, 60_000][next(4) as usize];
            let limits = requests(10_000, 9_990 + next(10), reset);
            let answer = match next(20) {
                0 => limited(&limits, Some(reset)),
                1 => bare(false, None),
                _ => heard(&limits),
            };
            if let Some(e) = whole.t.keys.get_mut(&k()) {
                e.windows.iter_mut().for_each(|w| w.floor = None);
            }
            floored.t.answered(k(), a, T0 + t, answer);
            whole.t.answered(k(), b, T0 + t, answer);
            let f = floored.t.keys.get(&k()).expect("a key");
            let w = whole.t.keys.get(&k()).expect("a key");
            walks += usize::from(f.windows[0].floor.is_some());
            assert_eq!(f.log.len(), w.log.len(), "at {t}");
            for (x, y) in f.log.iter().zip(&w.log) {
                assert_eq!(x.gone, y.gone, "request {} at {t}", x.seq);
            }
            let freed = |s: &KeyState| s.windows.each_ref().map(|w| (w.freed, w.level));
            assert_eq!(freed(f), freed(w), "at {t}");
        }
        assert!(walks > 1_000, "the floor was used: {walks}");
    }
}

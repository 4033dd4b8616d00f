//! Pacing: a window that refills continuously (a token bucket, GCRA) lets
//! each waiter go once the refill has made room for it. A report of such a
//! window says how long until it is full again (OpenAI: the time until the
//! limit "resets to its initial state") with `d` units missing, so one unit
//! takes between `reset / d` and `reset / (d − 1)` (the count is rounded
//! down). Reports that all agree on one rate, over at least three different
//! `d`, mark the window continuous, paced at the slowest rate they allow; a
//! fixed window or a sliding log, whose reset does not grow with `d`, breaks
//! the agreement within a few reports. Until then, and after any 429, a
//! window is released at its reset.

use super::books::WindowState;
use super::Refill;
use crate::classify::headers::Window;

impl WindowState {
    /// The time one unit takes to refill, for a continuous window.
    pub(super) fn pace(&self) -> Option<f64> {
        let tau = self.tau.1;
        (self.refill == Refill::Continuous && tau.is_finite() && tau > 0.0).then_some(tau)
    }

    /// A continuous window refills up to its limit.
    pub(super) fn grow(&mut self, now: f64) {
        if let (Some(tau), Some(level), Some(limit)) = (self.pace(), self.level, self.limit) {
            if now > self.at {
                self.level = Some((level + (now - self.at) / tau).min(limit.max(level)));
            }
        }
        self.at = self.at.max(now);
    }

    /// What a report says about how the window refills.
    pub(super) fn learn(&mut self, w: &Window) {
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
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::*;

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

    /// With answers slower than the refill, a report describes the past:
    /// the bucket was empty when the server counted the request, and it
    /// has refilled for nearly the whole answer's time since (main's
    /// throttle took the level as of the answer, and paced a bucket that
    /// was nearly full again as if it were empty).
    #[test]
    fn a_slow_answer_s_report_has_refilled_since_it_was_measured() {
        let mut r = Run::new(0);
        let mut at = 0.0;
        for tokens in [8.7, 5.2, 1.9] {
            let b = r.go(at).unwrap();
            at += 1.0;
            r.answer(b, at, &bucket(10, 1_000.0, tokens));
        }
        assert_eq!(r.t.refill(k())[0], Refill::Continuous);
        let slow = r.go(at).unwrap();
        let heard = at + 1_000.0;
        r.answer(slow, heard, &bucket(10, 1_000.0, 0.0));
        // Counted at most this side's scheduling after its send: about
        // 9.8 refilled by the answer, at the slowest rate the reports allow.
        let line: Vec<u64> = (0..10).map(|_| r.call()).collect();
        let went = line
            .iter()
            .filter(|&&t| matches!(r.admit(t, heard), Admit::Go(_)))
            .count();
        assert_eq!(went, 9, "refilled since the measure, not since the answer");
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
        r.t.answered(k(), b, T0 + 6.0, limited(&limits, None));
        assert_eq!(r.t.refill(k())[0], Refill::AtReset);
    }
}

//! When a request still out leaves a window that refills at its reset,
//! before its answer tells: a window's length after it reached the server
//! (pacing from what was sent, not from what was heard).
//!
//! With answers slower than the gaps between releases, a slot whose
//! request is still out was held until its answer came, half a completion
//! or more past the time it surely left (a sliding log's slot frees a
//! window after the request was counted; a fixed window's, at its end,
//! sooner). A request counts no later than a reach after its send, so it
//! leaves by its send plus a reach plus the window's length.
//!
//! That length is the longest reset reported, which falls short of the
//! window until a report came from early in one: a clock-aligned window
//! met halfway through reports only what is left of it. So the estimate is
//! used only once the window was seen across one of its ends (a report on
//! a request sent after an end announced before it), and only for a
//! window known to refill at its reset.
//!
//! With answers a window long, no report comes from a request sent after
//! the end the previous report announced: the sends and their answers
//! overlap. A sliding log whose reset means "empty" tells its length
//! otherwise: its reset is counted from each request (the newest entry),
//! so requests sent apart, with different counts left, all report the
//! same reset, the longest, which is the window's length (a clock-aligned
//! window reports less the later it is met; a bucket's reset changes with
//! its count).

use super::books::Sent;
use super::state::KeyState;
use super::{Meaning, Refill};

impl KeyState {
    /// How long after its send a request still out on window `i` surely
    /// leaves it, ms, if that can be told before its answer.
    pub(super) fn flight_ms(&self, i: usize) -> Option<f64> {
        let w = &self.windows[i];
        let known = match w.meaning {
            Meaning::Full => w.announced.is_some() && w.refill != Refill::Continuous,
            Meaning::Slot => w.limit.is_some() && w.refill == Refill::AtReset && w.crossed,
        };
        known.then(|| self.reach_ms() + w.length())
    }

    /// A report on window `i` of a request sent at `sent_at`, announcing
    /// `reset_ms` with `remaining` left: whether it shows the window
    /// across an end announced before the request, or a reset counted from
    /// each request ([`same_full_reset`]).
    pub(super) fn cross(&mut self, i: usize, sent_at: f64, reset_ms: f64, remaining: Option<f64>) {
        let reach = self.reach_ms();
        let w = &mut self.windows[i];
        if w.announced.is_some_and(|(_, hi)| sent_at > hi) {
            w.crossed = true;
        }
        let Some(left) = remaining else { return };
        let longest = w.longest_reset_ms.max(reset_ms);
        if let Some((at, reset, before)) = w.last_reset {
            let earlier = (at, reset, before);
            if same_full_reset(earlier, (sent_at, reset_ms, left), longest, reach) {
                w.crossed = true;
                w.own_reset = true;
            }
        }
        w.last_reset = Some((sent_at, reset_ms, left));
    }
}

/// Whether two reports (send, reset, remaining) show a reset counted from
/// each request: the same reset (to the millisecond it is rounded to), the
/// longest seen (`longest`), on requests sent more than `reach` apart and
/// not a whole number of such resets apart (a clock-aligned window met at
/// the same point of two windows), with different counts left (a bucket's
/// reset follows its count: they differ by two or more).
pub fn same_full_reset(a: (f64, f64, f64), b: (f64, f64, f64), longest: f64, reach: f64) -> bool {
    let (apart, reset) = ((b.0 - a.0).abs(), b.1);
    let same = (a.1 - reset).abs() <= 1.0 && reset >= longest - 1.0 && reset > 0.0;
    let periods = apart / reset;
    let off_period = (periods - periods.round()).abs() * reset > reach;
    // A bucket's count is rounded down: two levels a hair apart may read
    // one apart with the same reset.
    same && apart > reach && off_period && (a.2 - b.2).abs() >= 2.0
}

impl KeyState {}

impl Sent {
    /// When it leaves window `i`: as its answer or a report told, else
    /// `flight` ([`KeyState::flight_ms`]) after its send.
    pub(super) fn leaves(&self, i: usize, flight: Option<f64>) -> f64 {
        let told = self.gone[i];
        match flight {
            Some(ms) if told.is_infinite() => self.at + ms,
            _ => told,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::*;
    use super::same_full_reset;

    /// Answers slower than a window: a slot frees a window after its
    /// request was sent, plus a reach, answered or not (main's throttle
    /// held the line until the answer told).
    #[test]
    fn a_slot_frees_a_window_after_its_send_while_its_answer_is_still_out() {
        let mut r = Run::new(0);
        let a = r.go(0.0).unwrap();
        r.answer(a, 4.0, &requests(3, 2, 1_000));
        let b = r.go(10.0).unwrap();
        // A reset that does not grow with what is used: not a bucket.
        r.answer(b, 14.0, &requests(3, 1, 990));
        assert_eq!(r.t.refill(k())[0], Refill::AtReset);
        // `a` has left at its reset; `c`, sent after the end `b`'s report
        // announced, reports the window across it.
        let c = r.go(1_010.0).unwrap();
        r.answer(c, 1_014.0, &requests(3, 1, 1_000));
        // `d`, then `e` once `b` has left: their answers are slow.
        let _d = r.go(1_014.0).unwrap();
        let _e = r.go(1_040.0).unwrap();
        let (f, g) = (r.call(), r.call());
        let after = 4.0 + SEND_JITTER_MS + 1_000.0 + RESET_MARGIN_MS;
        assert_eq!(wait_until(r.admit(f, 1_040.0)), Some(1_010.0 + after));
        assert_eq!(
            wait_until(r.admit(g, 1_040.0)),
            Some(1_014.0 + after),
            "`d`'s slot, before its answer"
        );
    }

    /// A sliding log whose reset means "empty", answers slower than the
    /// gaps between sends: no report comes from beyond an end announced
    /// before it, but two reports on requests sent apart, with different
    /// counts, announce the same reset, the window's whole length: a slot
    /// still out frees a window after its send (main's throttle held the
    /// line until its answer, up to an answer's time later: 1.36-1.58x
    /// the floor with 1 W answers).
    #[test]
    fn the_same_whole_reset_from_requests_sent_apart_tells_the_length() {
        let mut r = Run::new(0);
        let a = r.go(0.0).unwrap();
        let b = r.go(300.0).unwrap();
        let (_c, _d) = (r.go(300.0).unwrap(), r.go(300.0).unwrap());
        r.answer(a, 900.0, &requests(4, 3, 1_000));
        r.answer(b, 1_200.0, &requests(4, 1, 1_000));
        assert_eq!(r.t.refill(k())[0], Refill::AtReset);
        let reach = ASSUMED_REACH_MS + SEND_JITTER_MS;
        assert!(r.go(1_200.0).is_some(), "`a`'s slot: its report told");
        let (second, third) = (r.call(), r.call());
        let due = 300.0 + reach + 1_000.0 + RESET_MARGIN_MS;
        assert_eq!(wait_until(r.admit(second, 1_200.0)), Some(due), "`b`'s");
        assert_eq!(
            wait_until(r.admit(third, 1_200.0)),
            Some(due),
            "`c`'s slot, while its answer is still out"
        );
    }

    /// Once a reset is known to be counted from each request, a later
    /// report's reset (when the log is empty) does not hold the oldest
    /// slot past a window after its send (main's throttle took the later
    /// of the two).
    #[test]
    fn a_reset_meaning_empty_does_not_hold_the_oldest_slot_past_its_window() {
        let mut r = Run::new(0);
        let a = r.go(0.0).unwrap();
        let (_c, b) = (r.go(300.0).unwrap(), r.go(300.0).unwrap());
        r.answer(a, 900.0, &requests(10, 9, 1_000));
        r.answer(b, 1_200.0, &requests(10, 7, 1_000));
        // `a` has left; `e`'s report announces the log empty a window on:
        // `c`, the oldest still counted, leaves long before that.
        let e = r.go(1_100.0).unwrap();
        r.answer(e, 1_150.0, &requests(10, 7, 1_000));
        let went = (0..7).filter(|_| r.go(1_150.0).is_some()).count();
        assert_eq!(went, 7, "the window's room");
        let t = r.call();
        let reach = ASSUMED_REACH_MS + SEND_JITTER_MS;
        assert_eq!(
            wait_until(r.admit(t, 1_150.0)),
            Some(300.0 + reach + 1_000.0 + RESET_MARGIN_MS)
        );
    }

    #[test]
    fn a_reset_counted_from_each_request_is_told_apart() {
        let reach = 70.0;
        // A sliding log ("empty"): the same whole reset, counts apart.
        assert!(same_full_reset(
            (0.0, 1_000.0, 9.0),
            (300.0, 1_000.0, 5.0),
            1_000.0,
            reach
        ));
        // Sent together, or a whole reset apart (a clock-aligned window
        // met at the same point of two windows).
        assert!(!same_full_reset(
            (0.0, 1_000.0, 9.0),
            (30.0, 1_000.0, 5.0),
            1_000.0,
            reach
        ));
        assert!(!same_full_reset(
            (0.0, 600.0, 9.0),
            (1_200.0, 600.0, 5.0),
            600.0,
            reach
        ));
        // Shorter than a reset seen before; or the same count (a bucket).
        assert!(!same_full_reset(
            (0.0, 700.0, 9.0),
            (300.0, 700.0, 5.0),
            1_000.0,
            reach
        ));
        assert!(!same_full_reset(
            (0.0, 700.0, 3.0),
            (300.0, 700.0, 2.0),
            700.0,
            reach
        ));
    }

    /// Before a report shows the window across one of its ends, the
    /// longest reset may fall short of it (a window aligned to the clock,
    /// met halfway through): a slot still out is not taken to free.
    #[test]
    fn a_window_not_seen_across_an_end_waits_for_the_answers() {
        let mut r = Run::new(0);
        let a = r.go(0.0).unwrap();
        r.answer(a, 4.0, &requests(2, 1, 400));
        let b = r.go(10.0).unwrap();
        r.answer(b, 14.0, &requests(2, 0, 390));
        assert_eq!(r.t.refill(k())[0], Refill::AtReset);
        assert!(r.go(405.0).is_some(), "`a`'s slot, at its reset");
        let t = r.call();
        assert_eq!(
            wait_until(r.admit(t, 405.0)),
            Some(10.0 + 4.0 + SEND_JITTER_MS + 400.0 + RESET_MARGIN_MS)
        );
        let u = r.call();
        assert_eq!(wait_until(r.admit(u, 405.0)), None, "holds for the answer");
    }

    /// A window known to refill whole, its length learned short (a
    /// window aligned to the clock, met halfway through): a request that
    /// opens the next window leaves when its own report says that window
    /// ends, not a short window after its send (main's throttle kept the
    /// estimate made at its booking, and let waiters into a full window).
    #[test]
    fn a_request_s_own_report_outlasts_a_length_learned_too_short() {
        let mut r = Run::new(0);
        let a = r.go(0.0).unwrap();
        r.answer(a, 4.0, &requests(2, 1, 400));
        r.whole();
        // Sent after the end announced: it opens the next window.
        let b = r.go(410.0).unwrap();
        r.answer(b, 414.0, &requests(2, 1, 996));
        assert!(r.go(414.0).is_some());
        let t = r.call();
        assert_eq!(
            wait_until(r.admit(t, 414.0)),
            Some(414.0 + 996.0 + RESET_MARGIN_MS)
        );
    }
}

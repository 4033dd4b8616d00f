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

    /// A report on window `i` of a request sent at `sent_at`: whether it
    /// shows the window across an end announced before the request.
    pub(super) fn cross(&mut self, i: usize, sent_at: f64) {
        let w = &mut self.windows[i];
        if w.announced.is_some_and(|(_, hi)| sent_at > hi) {
            w.crossed = true;
        }
    }
}

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

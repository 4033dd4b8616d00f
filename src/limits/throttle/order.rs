//! The order the server counted requests in. A report takes off the level
//! what was booked just before its request and is still unanswered: its
//! request may have overtaken those on the way, so the server may not have
//! counted them yet. When one of them answers later with more left than
//! that report saw, in the same window (the same end announced), the
//! server counted it first: what was taken off for it comes back. Without
//! this, a window filled by few callers with slow answers stays short of
//! its limit until its reset (a fixed window, C = 4, answers at 0.3 W: 7
//! of 10 requests sent in the first window).

use super::books::WindowState;
use super::{Refill, SEND_JITTER_MS};

/// What a report on one window said, for [`WindowState::doubt`] and
/// [`WindowState::settle`].
pub(super) struct Report {
    /// The booking order of its request.
    pub(super) seq: u64,
    /// When its request was sent, ms since the epoch.
    pub(super) sent_at: f64,
    /// What it said was left.
    pub(super) remaining: f64,
    /// When the window it reported on ends: its request's send plus its
    /// reset, ms since the epoch.
    pub(super) end: f64,
}

/// The report that set a window's level, and the requests it took off
/// because they may not have been counted yet: those booked before it,
/// sent since `close`, then unanswered.
#[derive(Debug, Clone)]
pub(super) struct Doubted {
    seq: u64,
    close: f64,
    remaining: f64,
    end: f64,
    /// How many of them have not reported yet.
    pending: u32,
}

impl Doubted {
    /// Whether a request taken off has not reported yet: its answer may
    /// give its unit back.
    pub(super) fn pending(&self) -> bool {
        self.pending > 0
    }
}

impl WindowState {
    /// `report` set the level, taking off `taken.0` requests sent since
    /// `taken.1` that it may have overtaken.
    pub(super) fn doubt(&mut self, report: &Report, taken: (u32, f64)) {
        if self.level_from != Some(report.seq) {
            return;
        }
        let (pending, close) = taken;
        self.doubted = (self.refill != Refill::Continuous && pending > 0).then_some(Doubted {
            seq: report.seq,
            close,
            remaining: report.remaining,
            end: report.end,
            pending,
        });
    }

    /// `report` did not set the level (an earlier booking). If its request,
    /// needing `need`, was taken off by the report that did, and it says
    /// more was left in the same window, the server counted it first: what
    /// was taken off for it comes back.
    pub(super) fn settle(&mut self, report: &Report, need: f64) {
        if report.sent_at < self.rolled_at || self.refill == Refill::Continuous {
            return;
        }
        let Some(d) = &mut self.doubted else { return };
        // Answered only now, so unanswered when it was taken off.
        if report.seq >= d.seq || report.sent_at < d.close || d.pending == 0 {
            return;
        }
        d.pending -= 1;
        let same = (report.end - d.end).abs() <= SEND_JITTER_MS;
        if !same || report.remaining <= d.remaining {
            return;
        }
        if let (Some(level), Some(limit)) = (self.level, self.limit) {
            self.level = Some((level + need).min(limit));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;

    /// Three go close together; the last one's report comes first and
    /// takes the other two off as perhaps not counted. Their own reports
    /// then show more left: counted first, they give their slots back.
    #[test]
    fn an_earlier_request_counted_first_gives_back_what_was_taken_off_for_it() {
        let mut r = Run::new(0);
        let first = r.go(0.0).unwrap();
        r.answer(first, 300.0, &requests(10, 9, 700));
        let (a, b, c) = (
            r.go(300.0).unwrap(),
            r.go(306.0).unwrap(),
            r.go(306.0).unwrap(),
        );
        // `c` was the server's fourth: 6 left; `a` and `b` may not count yet.
        r.answer(c, 600.0, &requests(10, 6, 394));
        assert_eq!(r.t.remaining(k()), Some(4));
        // `a` says 8 left: it was counted before `c`.
        r.answer(a, 610.0, &requests(10, 8, 400));
        assert_eq!(r.t.remaining(k()), Some(5));
        r.answer(b, 620.0, &requests(10, 7, 394));
        assert_eq!(r.t.remaining(k()), Some(6), "all four counted: 6 left");
    }

    /// One counted after the report (it says less left) was rightly taken
    /// off; one in another window (another end) says nothing of the order.
    #[test]
    fn a_request_counted_later_or_in_another_window_gives_nothing_back() {
        let mut r = Run::new(0);
        let first = r.go(0.0).unwrap();
        r.answer(first, 300.0, &requests(10, 9, 700));
        let (a, b, c) = (
            r.go(300.0).unwrap(),
            r.go(306.0).unwrap(),
            r.go(306.0).unwrap(),
        );
        r.answer(c, 600.0, &requests(10, 7, 394));
        assert_eq!(r.t.remaining(k()), Some(5));
        r.answer(a, 610.0, &requests(10, 6, 400));
        assert_eq!(r.t.remaining(k()), Some(5), "counted after `c`");
        r.answer(b, 620.0, &requests(10, 9, 1_000));
        assert_eq!(r.t.remaining(k()), Some(5), "another window");
    }
}

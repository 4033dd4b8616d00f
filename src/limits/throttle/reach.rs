//! How far apart this key's requests are counted from their sends, learned
//! from how the ends its reports announce agree.
//!
//! A request reaches the server some time after its send; the server
//! measures its headers then. How long that takes cannot be seen: the
//! server's clock shifted by a constant reads the same. What a release at
//! a reset depends on is only how much that time varies from request to
//! request: a request released a reset after an earlier one's send,
//! arriving as late as that one did, finds the room the reset announced.
//! Until that variation is known it is assumed to be up to
//! [`ASSUMED_REACH_MS`] plus [`SEND_JITTER_MS`] (70 ms a window, which at
//! ten releases is 7% of a run).
//!
//! A window with an end of its own (a fixed window, a clock-aligned one;
//! a sliding log's next free slot while its oldest entry stays) shows it:
//! requests sent apart report the same end, each as its send plus its
//! reset, off from one another only by how differently they reached the
//! server (and the millisecond rounding). Reports whose sends lie further
//! apart than the assumed reach and whose ends agree within it are such a
//! group; the widest disagreement within a group is the variation seen. A
//! sliding log whose reset means "empty" reports a reset of its own length
//! on every request: its ends lie as far apart as the sends, no group.
//!
//! After [`GROUPS`] groups, the reach is twice the variation seen plus the
//! rounding, and never less than [`SEND_JITTER_MS`] (this side's event
//! loop, busier at times than the reports showed); a 429 casts doubt on it
//! as before ([`super::state`]).

use super::{ASSUMED_REACH_MS, SEND_JITTER_MS};

/// Groups of reports agreeing on one end before their variation is
/// trusted.
pub const GROUPS: u32 = 2;

/// How far apart two reported ends of the same window may be, ms: the
/// variation assumed until one is learned.
const SAME_END_MS: f64 = ASSUMED_REACH_MS + SEND_JITTER_MS;

/// Reset headers are rounded to the millisecond: two reports of one end
/// may differ by this much with no variation at all, ms.
const ROUNDING_MS: f64 = 1.0;

/// Reports that announced (about) the same end.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Group {
    /// Earliest and latest end announced (send plus reset), ms.
    ends: (f64, f64),
    /// Earliest and latest send of the reports, ms.
    sends: (f64, f64),
    /// Whether it was counted among the groups seen.
    counted: bool,
}

impl Group {
    fn new(end: f64, sent_at: f64) -> Group {
        Group {
            ends: (end, end),
            sends: (sent_at, sent_at),
            counted: false,
        }
    }

    fn spread(&self) -> f64 {
        self.ends.1 - self.ends.0
    }

    /// Sent further apart than the assumed reach, yet agreeing on the end
    /// within it: an end of the window's own, not of each request.
    fn shows_an_end(&self) -> bool {
        self.sends.1 - self.sends.0 > SAME_END_MS && self.spread() < SAME_END_MS
    }
}

/// What one key's reports showed of how its requests reach the server.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(super) struct Reach {
    group: Option<Group>,
    /// Groups that showed an end.
    groups: u32,
    /// The widest disagreement within any of them, ms.
    spread: f64,
}

impl Reach {
    /// A report of a request sent at `sent_at` announced the end
    /// `sent_at + reset_ms` (of the requests window).
    pub(super) fn report(&mut self, sent_at: f64, reset_ms: f64) {
        let end = sent_at + reset_ms;
        if !end.is_finite() {
            return;
        }
        let g = match &mut self.group {
            Some(g)
                if (end - g.ends.0).abs() < SAME_END_MS && (end - g.ends.1).abs() < SAME_END_MS =>
            {
                g
            }
            slot => slot.insert(Group::new(end, sent_at)),
        };
        g.ends = (g.ends.0.min(end), g.ends.1.max(end));
        g.sends = (g.sends.0.min(sent_at), g.sends.1.max(sent_at));
        if g.shows_an_end() {
            self.spread = self.spread.max(g.spread());
            if !g.counted {
                g.counted = true;
                self.groups = self.groups.saturating_add(1);
            }
        }
    }

    /// The longest a request may take to be counted beyond another one's
    /// way, ms, once learned (`None`: not yet).
    pub(super) fn learned_ms(&self) -> Option<f64> {
        // This side's scheduling stays: a request leaves this process up
        // to [`SEND_JITTER_MS`] after its send when the event loop is busy,
        // which a quiet spell's reports do not show (the packed package,
        // machine loaded: a whole window of 429s, 10 of 70, in 1 run of 5
        // without this floor).
        let seen = 2.0 * self.spread + ROUNDING_MS;
        (self.groups >= GROUPS).then_some(seen.max(SEND_JITTER_MS))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::*;
    use super::*;

    #[test]
    fn ends_agreed_on_by_requests_sent_apart_teach_the_variation() {
        let mut r = Reach::default();
        // A fixed window ending at 1 000: sends 0, 300 and 600 ms in, each
        // reaching the server 2 to 5 ms after its send.
        r.report(0.0, 998.0);
        r.report(300.0, 695.0);
        assert_eq!(r.learned_ms(), None, "one group is not enough");
        r.report(600.0, 397.0);
        // The next window, to 2 000.
        r.report(1_001.0, 997.0);
        r.report(1_400.0, 598.0);
        // 3 ms seen: twice that plus the rounding, 7 ms, is less than this
        // side's own scheduling may add.
        assert_eq!(r.learned_ms(), Some(SEND_JITTER_MS));
        // A way that varies by 15 ms.
        r.report(2_002.0, 985.0);
        r.report(2_300.0, 702.0);
        assert_eq!(r.learned_ms(), Some(2.0 * 15.0 + ROUNDING_MS));
    }

    #[test]
    fn a_reset_as_long_as_the_window_on_every_request_teaches_nothing() {
        // A sliding log whose reset says when it is empty: every request is
        // its newest entry when counted.
        let mut r = Reach::default();
        for n in 0..40 {
            r.report(f64::from(n) * 100.0, 1_000.0);
        }
        assert_eq!(r.learned_ms(), None);
        // Nor do requests sent together (the ends agree as the sends do).
        let mut r = Reach::default();
        for n in 0..4 {
            for _ in 0..8 {
                r.report(f64::from(n) * 1_000.0, 1_000.0);
            }
        }
        assert_eq!(r.learned_ms(), None);
    }

    /// Answers slower than a window: a fixed window's reset was timed from
    /// the send plus the assumed reach (70 ms a window lost); once its
    /// reports showed how little the way to the server varies, from the
    /// send plus that.
    #[test]
    fn a_window_learned_to_end_on_time_releases_at_its_end() {
        let mut r = Run::new(0);
        // Two windows of 3, each reported by requests sent 0, 300 and
        // 600 ms into it, answered 300 ms later (the assumed reach is
        // shorter), reaching the server in 2 ms.
        for w in 0..2 {
            // A window opened at its first request, 2 ms after its send.
            let start = f64::from(w) * 1_100.0;
            let end = start + 1_002.0;
            let sent: Vec<_> = [0.0, 300.0, 600.0]
                .iter()
                .map(|at| (r.go(start + at).unwrap(), start + at))
                .collect();
            r.whole();
            for (n, (b, at)) in sent.into_iter().enumerate() {
                let left = 2 - n as u64;
                r.answer(b, at + 300.0, &requests(3, left, (end - at - 2.0) as u64));
            }
        }
        let t = r.call();
        let due = wait_until(r.admit(t, 2_000.0)).expect("waits for the end");
        // The second window ends at 2 102 on the server's clock, 2 100
        // as announced from the sends: released this side's scheduling
        // (20 ms) later, not the assumed reach (70 ms).
        assert_eq!(due, 2_100.0 + SEND_JITTER_MS + RESET_MARGIN_MS);
    }
}

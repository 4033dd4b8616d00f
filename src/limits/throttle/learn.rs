//! What a window's reset header means, learned per key from its own log of
//! sends and answers rather than assumed.
//!
//! Servers that release all at once disagree on what `reset` announces:
//!
//! - a fixed window (opened at its first request, or aligned to the clock)
//!   refills **whole** at its reset: every request counted before it leaves;
//! - a sliding log announces when its newest entry leaves (the log is empty
//!   then) or, at some gateways, when its oldest leaves: the **next slot**.
//!
//! Before the first reset the two read alike. So a window starts as
//! [`Meaning::Slot`], which is right for both: at a reset only the oldest
//! request still counted is known to leave, and every request leaves a
//! window's length after it reached the server (its send plus the longest
//! time it may take to get there: pacing from what was sent, not from what
//! was heard). A report after a reset whose remaining count shows that
//! requests still young enough to count in any sliding log were dropped at
//! once is proof of a whole refill: the window becomes [`Meaning::Full`].
//! A 429 on a window then sends it back to [`Meaning::Slot`]: a release
//! that met 429s does not happen again the same way.

/// What a window's reset announces, as learned so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Meaning {
    /// At the reset the oldest request still counted leaves; each request
    /// leaves a window's length after it reached the server. Right for
    /// every window that refills at its reset, if slower for a fixed one.
    #[default]
    Slot,
    /// At the reset every request counted before it leaves (a fixed
    /// window): proven by a remaining count after a reset.
    Full,
}

/// What a report, sent after a reset the window announced before, shows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AfterReset {
    /// The window's limit.
    pub limit: f64,
    /// What the report says is left (the server's count).
    pub remaining: f64,
    /// Requests booked from shortly before the reset up to the reported
    /// one, included: all the new window may have counted of ours.
    pub newer: f64,
    /// Requests booked before the reset that any sliding log would still
    /// count when the reported request reached it (sent less than a
    /// window's length before it, and surely before the reset).
    pub young: f64,
}

/// Whether `seen` proves the window refilled whole at the reset: the
/// server counts no more than what was sent since, although requests young
/// enough to still count in a sliding log were sent before.
pub fn refilled_whole(seen: AfterReset) -> bool {
    seen.young >= 1.0 && seen.remaining + seen.newer >= seen.limit
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(remaining: f64, newer: f64, young: f64) -> AfterReset {
        AfterReset {
            limit: 10.0,
            remaining,
            newer,
            young,
        }
    }

    #[test]
    fn a_whole_refill_is_proven_by_the_count_after_the_reset() {
        // A fixed window: 9 sent just before the reset are gone, 1 counted.
        assert!(refilled_whole(seen(9.0, 1.0, 9.0)));
        // A next-slot log: the 9 still count.
        assert!(!refilled_whole(seen(0.0, 1.0, 9.0)));
        // One short of it: not proven.
        assert!(!refilled_whole(seen(8.0, 1.0, 9.0)));
        // Nothing young was sent before: the count proves nothing.
        assert!(!refilled_whole(seen(9.0, 1.0, 0.0)));
    }
}

//! What travels between an instance and its coordinator for a lease: the
//! [`Report`] an instance forwards from the server's headers, and the
//! coordinator's [`Grant`], each as plain numbers for the wire.

use super::{MAX_LEASE, WAIT_MS};
use crate::classify::headers::Window;
use crate::limits::throttle::Refill;

/// What a server said about a key's request window, as an instance
/// forwards it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Report {
    /// The window's limit, if given.
    pub limit: Option<f64>,
    /// What was left when the server answered.
    pub remaining: Option<f64>,
    /// When the window resets, ms since the epoch.
    pub reset_at_ms: Option<f64>,
    /// When the answer arrived, ms since the epoch.
    pub observed_at_ms: f64,
    /// Until when the server refused calls (a 429's hint), ms since the epoch.
    pub blocked_until_ms: Option<f64>,
    /// When the reported request was let go, ms since the epoch, if known:
    /// what was granted before it is counted in `remaining`.
    pub sent_at_ms: Option<f64>,
    /// How the reporting instance saw this window refill: only one seen to
    /// refill at its reset (a fixed window or a sliding log), and never
    /// continuously (a token bucket), may be learned to refill whole.
    pub refill: Refill,
    /// What the server said of the key's tokens window, if anything.
    pub tokens: Option<Counted>,
}

/// What a server said of a key's tokens window (the count it keeps of the
/// tokens its requests used), as an instance forwards it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Counted {
    /// The window's limit, if given.
    pub limit: Option<f64>,
    /// What was left when the server answered.
    pub remaining: f64,
    /// When the window resets, ms since the epoch.
    pub reset_at_ms: f64,
}

impl Counted {
    /// The tokens window `window` reported at `now_ms`, if it says what is
    /// left and when it resets.
    pub fn of(window: Option<&Window>, now_ms: f64) -> Option<Counted> {
        let w = window?;
        Some(Counted {
            limit: w.limit.map(|l| l as f64),
            remaining: w.remaining? as f64,
            reset_at_ms: now_ms + w.reset_ms? as f64,
        })
    }
}

impl Report {
    /// The report of an answer that carried `window` (and, for a 429,
    /// `retry_after_ms`), let go at `sent_at_ms`, arrived at `now_ms`. One
    /// that says nothing still
    /// tells the coordinator an answer came (a cold start is over).
    pub fn of(
        window: Option<&Window>,
        retry_after_ms: Option<u64>,
        sent_at_ms: f64,
        now_ms: f64,
    ) -> Report {
        let w = window.copied().unwrap_or_default();
        Report {
            sent_at_ms: Some(sent_at_ms),
            limit: w.limit.map(|l| l as f64),
            remaining: w.remaining.map(|r| r as f64),
            reset_at_ms: w.reset_ms.map(|ms| now_ms + ms as f64),
            observed_at_ms: now_ms,
            blocked_until_ms: retry_after_ms.map(|ms| now_ms + ms as f64),
            refill: Refill::Unknown,
            tokens: None,
        }
    }

    /// The report, with what the answer said of the tokens window.
    pub fn counting(self, tokens: Option<Counted>) -> Report {
        Report { tokens, ..self }
    }

    /// The report, saying how its instance saw the window refill.
    pub fn refilling(self, refill: Refill) -> Report {
        Report { refill, ..self }
    }

    /// The report as numbers, for the wire (`NaN` for absent fields; the
    /// seventh is the refill seen: 0 unknown, 1 at the reset, 2
    /// continuous; the last three the tokens window's limit, remaining and
    /// reset).
    pub fn to_array(&self) -> [f64; 10] {
        let n = |v: Option<f64>| v.unwrap_or(f64::NAN);
        let t = self.tokens;
        [
            n(self.limit),
            n(self.remaining),
            n(self.reset_at_ms),
            self.observed_at_ms,
            n(self.blocked_until_ms),
            n(self.sent_at_ms),
            match self.refill {
                Refill::Unknown => 0.0,
                Refill::AtReset => 1.0,
                Refill::Continuous => 2.0,
            },
            n(t.and_then(|t| t.limit)),
            n(t.map(|t| t.remaining)),
            n(t.map(|t| t.reset_at_ms)),
        ]
    }

    /// A report read back from the wire; `None` unless it has its six
    /// numbers (seven with the refill flag, ten with the tokens window,
    /// which older instances do not send) and a finite observation time.
    pub fn from_slice(a: &[f64]) -> Option<Report> {
        let (&[limit, remaining, reset_at_ms, observed_at_ms, blocked, sent], refill) = (
            a.get(..6).unwrap_or_default(),
            match (a.len(), a.get(6)) {
                (6, _) => Refill::Unknown,
                (7 | 10, Some(1.0)) => Refill::AtReset,
                (7 | 10, Some(2.0)) => Refill::Continuous,
                (7 | 10, _) => Refill::Unknown,
                _ => return None,
            },
        ) else {
            return None;
        };
        let ok = |v: f64| (v.is_finite() && v >= 0.0).then_some(v);
        let tokens = match a.get(7..) {
            Some(&[limit, remaining, reset_at_ms]) => {
                ok(remaining)
                    .zip(ok(reset_at_ms))
                    .map(|(remaining, reset_at_ms)| Counted {
                        limit: ok(limit),
                        remaining,
                        reset_at_ms,
                    })
            }
            _ => None,
        };
        Some(Report {
            tokens,
            limit: ok(limit),
            remaining: ok(remaining),
            reset_at_ms: ok(reset_at_ms),
            observed_at_ms: ok(observed_at_ms)?,
            blocked_until_ms: ok(blocked),
            sent_at_ms: ok(sent),
            refill,
        })
    }
}

/// The coordinator's answer to a lease request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Grant {
    /// `n` permits, usable for [`PERMIT_LIFE_MS`](super::PERMIT_LIFE_MS) after they arrive.
    Permits(u32),
    /// None now: ask again in `ms`.
    Wait(f64),
}

impl Grant {
    /// The grant as one number for the wire: permits if positive, else the
    /// wait in ms, negated.
    pub fn to_f64(self) -> f64 {
        match self {
            Grant::Permits(n) => f64::from(n),
            Grant::Wait(ms) => -ms.max(WAIT_MS.0),
        }
    }

    /// A grant read back from the wire (`None` if it is not a number).
    pub fn from_f64(v: f64) -> Option<Grant> {
        if !v.is_finite() {
            return None;
        }
        Some(if v >= 1.0 {
            Grant::Permits(v.min(f64::from(MAX_LEASE)) as u32)
        } else {
            Grant::Wait((-v).clamp(WAIT_MS.0, WAIT_MS.1))
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A report of a window of `limit` with `remaining` left, resetting
    /// `reset_in` ms after it was observed at `at` (the lease books' tests
    /// on both sides use it).
    pub(crate) fn report(limit: f64, remaining: f64, reset_in: f64, at: f64) -> Report {
        Report {
            sent_at_ms: None,
            limit: Some(limit),
            remaining: Some(remaining),
            reset_at_ms: Some(at + reset_in),
            observed_at_ms: at,
            blocked_until_ms: None,
            refill: Refill::Unknown,
            tokens: None,
        }
    }
}

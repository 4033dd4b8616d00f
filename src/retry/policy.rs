//! The retry decision: given what the last attempt was, whether to send
//! again and after how long. Pure: the caller supplies time and randomness.

use crate::classify::kind::Action;
use crate::classify::Classification;
use crate::retry::backoff::Backoff;

/// Why the loop stopped sending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// The response succeeded.
    Success,
    /// The kind is never retried (quota, auth, bad request, …).
    NotRetryable,
    /// `maxRetries` retries were used up.
    RetriesExhausted,
    /// The server asked for a longer wait than `maxRetryAfterMs`.
    HintTooLong,
    /// Waiting would run past the deadline.
    Deadline,
    /// The request body is a stream that was consumed by the first attempt.
    BodyNotReplayable,
    /// The retry budget is empty: retrying now would amplify an outage.
    BudgetEmpty,
    /// The quota breaker answered: every route is out of quota, nothing was sent.
    BreakerOpen,
    /// The invocation's subrequest budget has no attempt left for this call.
    SubrequestsSpent,
}

impl Stop {
    /// Every reason, in a fixed order (for counters).
    pub const ALL: [Stop; 9] = [
        Stop::Success,
        Stop::NotRetryable,
        Stop::RetriesExhausted,
        Stop::HintTooLong,
        Stop::Deadline,
        Stop::BodyNotReplayable,
        Stop::BudgetEmpty,
        Stop::BreakerOpen,
        Stop::SubrequestsSpent,
    ];

    /// A short stable name for events and errors.
    pub fn as_str(self) -> &'static str {
        match self {
            Stop::Success => "success",
            Stop::NotRetryable => "not_retryable",
            Stop::RetriesExhausted => "retries_exhausted",
            Stop::HintTooLong => "retry_after_too_long",
            Stop::Deadline => "deadline",
            Stop::BodyNotReplayable => "body_not_replayable",
            Stop::BudgetEmpty => "retry_budget_empty",
            Stop::BreakerOpen => "breaker_open",
            Stop::SubrequestsSpent => "subrequests_spent",
        }
    }
}

/// What to do after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Wait `delay_ms`, then send again.
    Retry {
        /// How long to wait.
        delay_ms: u64,
    },
    /// Do not send again.
    Stop(Stop),
}

/// The retry settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// The backoff used when the server gave no hint.
    pub backoff: Backoff,
    /// The longest server hint that is waited out; longer ones give up at once.
    pub max_retry_after_ms: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 3,
            backoff: Backoff::default(),
            max_retry_after_ms: 60_000,
        }
    }
}

/// Where the loop stands after an attempt.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct State {
    /// Retries already made (0 after the first attempt).
    pub retries: u32,
    /// The delay before the previous retry (0 for none).
    pub previous_delay_ms: u64,
    /// The current time, ms.
    pub now_ms: f64,
    /// The absolute deadline, ms, if any.
    pub deadline_ms: Option<f64>,
}

impl RetryPolicy {
    /// Decides what follows an attempt that ended as `c`. `random` is in `[0, 1)`.
    pub fn decide(&self, c: &Classification, state: State, random: f64) -> Decision {
        match c.action {
            Action::None => return Decision::Stop(Stop::Success),
            Action::Retry => {}
            Action::Alert | Action::Fail => return Decision::Stop(Stop::NotRetryable),
        }
        if state.retries >= self.max_retries {
            return Decision::Stop(Stop::RetriesExhausted);
        }
        let delay_ms = match c.retry_after_ms {
            Some(hint) if hint > self.max_retry_after_ms => {
                return Decision::Stop(Stop::HintTooLong)
            }
            Some(hint) => hint,
            None => self
                .backoff
                .delay(state.retries + 1, state.previous_delay_ms, random),
        };
        match state.deadline_ms {
            Some(deadline) if state.now_ms + delay_ms as f64 >= deadline => {
                Decision::Stop(Stop::Deadline)
            }
            _ => Decision::Retry { delay_ms },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::kind::Kind;
    use crate::retry::backoff::Jitter;

    fn c(kind: Kind, hint: Option<u64>) -> Classification {
        let mut c = Classification::without_response(kind, None, "test");
        c.retry_after_ms = hint;
        c
    }

    fn at(retries: u32) -> State {
        State {
            retries,
            previous_delay_ms: 0,
            now_ms: 0.0,
            deadline_ms: None,
        }
    }

    const P: RetryPolicy = RetryPolicy {
        max_retries: 2,
        backoff: Backoff {
            base_ms: 100,
            max_ms: 10_000,
            jitter: Jitter::None,
        },
        max_retry_after_ms: 5_000,
    };

    #[test]
    fn routes_by_action() {
        assert_eq!(
            P.decide(&c(Kind::Ok, None), at(0), 0.0),
            Decision::Stop(Stop::Success)
        );
        assert_eq!(
            P.decide(&c(Kind::QuotaExhausted, Some(1)), at(0), 0.0),
            Decision::Stop(Stop::NotRetryable)
        );
        assert_eq!(
            P.decide(&c(Kind::Auth, None), at(0), 0.0),
            Decision::Stop(Stop::NotRetryable)
        );
        assert_eq!(
            P.decide(&c(Kind::Network, None), at(0), 0.0),
            Decision::Retry { delay_ms: 100 }
        );
        assert_eq!(
            P.decide(&c(Kind::Overloaded, None), at(1), 0.0),
            Decision::Retry { delay_ms: 200 }
        );
        assert_eq!(
            P.decide(&c(Kind::Overloaded, None), at(2), 0.0),
            Decision::Stop(Stop::RetriesExhausted)
        );
    }

    #[test]
    fn server_hint_is_used_as_is_and_capped() {
        assert_eq!(
            P.decide(&c(Kind::RateLimit, Some(1_234)), at(0), 0.9),
            Decision::Retry { delay_ms: 1_234 }
        );
        assert_eq!(
            P.decide(&c(Kind::RateLimit, Some(5_000)), at(0), 0.0),
            Decision::Retry { delay_ms: 5_000 }
        );
        assert_eq!(
            P.decide(&c(Kind::RateLimit, Some(5_001)), at(0), 0.0),
            Decision::Stop(Stop::HintTooLong)
        );
    }

    #[test]
    fn deadline_is_never_slept_past() {
        let s = State {
            deadline_ms: Some(1_000.0),
            now_ms: 500.0,
            ..at(0)
        };
        assert_eq!(
            P.decide(&c(Kind::RateLimit, Some(499)), s, 0.0),
            Decision::Retry { delay_ms: 499 }
        );
        assert_eq!(
            P.decide(&c(Kind::RateLimit, Some(500)), s, 0.0),
            Decision::Stop(Stop::Deadline)
        );
    }
}

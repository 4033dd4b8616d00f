//! What next after an attempt's answer, decided in one place: the retry
//! policy's decision, then each policy's say on it, in one declared order
//! ([`ORDER`]). The engine carries the verdict out; it decides nothing.
//!
//! The order, first to last (a stage sees what the ones before it made of
//! the answer):
//! 1. [`Stage::Policy`]: the retry policy ([`RetryPolicy::decide`]): retry
//!    after a delay, or stop (success, not retryable, retries exhausted, a
//!    hint over the cap, the deadline).
//! 2. [`Stage::Breaker`]: an answer from the open quota breaker ends the
//!    call (`breaker_open`): nothing else is asked.
//! 3. [`Stage::Failover`]: a kind the caller fails over on (`failoverOn`)
//!    that the policy stopped on moves to the next route, if one is neither
//!    out of quota nor down and the body can be sent again ([`routes`]).
//! 4. [`Stage::Body`]: a retry of a body that cannot be sent again (a
//!    consumed stream) stops (`body_not_replayable`).
//! 5. [`Stage::Subrequests`]: any further attempt, a retry or a move, needs
//!    one of the invocation's subrequests, reserved now
//!    (`subrequests_spent`; [`subrequests`]).
//! 6. [`Stage::Budget`]: a retry of the same route costs the retry budget
//!    (a move costs none), and a success refunds it; a retry it refuses
//!    moves on instead when the kind fails over and a route is left, and
//!    stops (`retry_budget_empty`) otherwise ([`budget`]).
//!
//! Each policy's say is a function `next` in its own file
//! ([`routes::next`], [`subrequests::next`], [`budget::next`]); adding one
//! is that function, a [`Stage`] and its place in [`ORDER`].
//!
//! [`routes`]: super::routes
//! [`subrequests`]: super::subrequests
//! [`budget`]: super::budget

use crate::classify::Classification;
use crate::retry::policy::{Decision, RetryPolicy, State, Stop};

use super::routes::{self, RouteKey};
use super::subrequests::{self, Claim};
use super::{budget, Limiters};

/// What the call does after an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Send again on the same route after `delay_ms`.
    Retry {
        /// How long to wait first, ms.
        delay_ms: u64,
    },
    /// Move to the next route now; it starts with retries of its own.
    FailOver,
    /// Stop: the answer goes back to the caller.
    Stop(Stop),
}

impl Next {
    /// The decision as events report it (a move is a retry after 0 ms).
    pub fn decision(self) -> Decision {
        match self {
            Next::Retry { delay_ms } => Decision::Retry { delay_ms },
            Next::FailOver => Decision::Retry { delay_ms: 0 },
            Next::Stop(stop) => Decision::Stop(stop),
        }
    }

    fn of(decision: Decision) -> Next {
        match decision {
            Decision::Retry { delay_ms } => Next::Retry { delay_ms },
            Decision::Stop(stop) => Next::Stop(stop),
        }
    }
}

/// One policy's say on what next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The retry policy.
    Policy,
    /// The quota breaker.
    Breaker,
    /// Fallback routes.
    Failover,
    /// A body that cannot be sent again.
    Body,
    /// The invocation's subrequest budget.
    Subrequests,
    /// The retry budget.
    Budget,
}

/// The stages, in the order they have their say (see the module's notes).
pub const ORDER: [Stage; 6] = [
    Stage::Policy,
    Stage::Breaker,
    Stage::Failover,
    Stage::Body,
    Stage::Subrequests,
    Stage::Budget,
];

/// An attempt's answer, as the stages see it.
#[derive(Debug, Clone, Copy)]
pub struct Answer<'a> {
    /// What the answer means.
    pub classification: &'a Classification,
    /// Whether the open quota breaker gave it (nothing was sent).
    pub from_breaker: bool,
    /// The call's retries on this route so far, the last delay and the
    /// clock, for the retry policy.
    pub state: State,
    /// The call's draw for the backoff's jitter, in `[0, 1)`.
    pub random: f64,
    /// The limit keys of every route of the call.
    pub keys: &'a [RouteKey],
    /// The route that answered.
    pub route: usize,
    /// Whether the request can be sent again.
    pub replayable: bool,
}

impl<S: Clone> Limiters<S> {
    /// What the call holding `claim` does after `answer`: every stage of
    /// [`ORDER`] has its say, in turn.
    pub fn next(
        &mut self,
        policy: &RetryPolicy,
        answer: &Answer<'_>,
        claim: &mut Claim<'_>,
    ) -> Next {
        // Somewhere to go: a later route neither out of quota nor down, and
        // a body that can be sent again.
        let elsewhere = answer.replayable
            && self.can_move_on(answer.keys, answer.route + 1, answer.state.now_ms);
        let kind = answer.classification.kind;
        let mut next = Next::Stop(Stop::Success);
        for stage in ORDER {
            next = match stage {
                Stage::Policy => {
                    Next::of(policy.decide(answer.classification, answer.state, answer.random))
                }
                // A breaker's answer ends the call: nothing else is asked.
                Stage::Breaker if answer.from_breaker => return Next::Stop(Stop::BreakerOpen),
                Stage::Breaker => next,
                Stage::Failover => routes::next(self.failover_on, kind, next, elsewhere),
                Stage::Body => match next {
                    Next::Retry { .. } if !answer.replayable => Next::Stop(Stop::BodyNotReplayable),
                    _ => next,
                },
                Stage::Subrequests => subrequests::next(claim, next),
                Stage::Budget => {
                    let fails_over = elsewhere && self.failover_on.contains(kind);
                    budget::next(self.budget.as_mut(), next, fails_over)
                }
            };
        }
        next
    }
}

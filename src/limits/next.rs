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
//! Adding a policy's say on what next is a stage here and its place in
//! [`ORDER`].
//!
//! [`routes`]: super::routes
//! [`subrequests`]: super::subrequests
//! [`budget`]: super::budget

use crate::classify::Classification;
use crate::retry::policy::{Decision, RetryPolicy, State, Stop};

use super::budget::RetryBudget;
use super::routes::{self, RouteKey};
use super::subrequests::Claim;
use super::Limiters;

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
        let mut next = Next::Stop(Stop::Success);
        for stage in ORDER {
            next = self.stage(stage, policy, answer, claim, next);
            if stage == Stage::Breaker && answer.from_breaker {
                break;
            }
        }
        next
    }

    /// Whether the call may move on from `answer`'s route: a later route
    /// is neither out of quota nor down, and the body can be sent again.
    fn elsewhere(&self, answer: &Answer<'_>) -> bool {
        answer.replayable && self.can_move_on(answer.keys, answer.route + 1, answer.state.now_ms)
    }

    fn stage(
        &mut self,
        stage: Stage,
        policy: &RetryPolicy,
        answer: &Answer<'_>,
        claim: &mut Claim<'_>,
        next: Next,
    ) -> Next {
        let kind = answer.classification.kind;
        match (stage, next) {
            (Stage::Policy, _) => {
                Next::of(policy.decide(answer.classification, answer.state, answer.random))
            }
            (Stage::Breaker, _) if answer.from_breaker => Next::Stop(Stop::BreakerOpen),
            (Stage::Failover, Next::Stop(stop))
                if routes::moves_on(self.failover_on, kind, Decision::Stop(stop))
                    && self.elsewhere(answer) =>
            {
                Next::FailOver
            }
            (Stage::Body, Next::Retry { .. }) if !answer.replayable => {
                Next::Stop(Stop::BodyNotReplayable)
            }
            (Stage::Subrequests, Next::Retry { .. } | Next::FailOver) if !claim.reserve() => {
                Next::Stop(Stop::SubrequestsSpent)
            }
            (Stage::Budget, Next::Stop(Stop::Success)) => {
                if let Some(budget) = &mut self.budget {
                    budget.record_success();
                }
                next
            }
            (Stage::Budget, Next::Retry { .. })
                if !self.budget.as_mut().is_none_or(RetryBudget::try_spend) =>
            {
                if self.failover_on.contains(kind) && self.elsewhere(answer) {
                    Next::FailOver
                } else {
                    Next::Stop(Stop::BudgetEmpty)
                }
            }
            _ => next,
        }
    }
}

//! The retry loop, written once against two seams: a [`Transport`] that
//! makes one attempt and a [`Clock`] that tells time and sleeps. In wasm they
//! are `fetch` and `setTimeout`; in tests, a script and a fake clock.

use crate::classify::kind::Kind;
use crate::classify::Classification;
use crate::retry::policy::{Decision, RetryPolicy, State, Stop};

/// How one attempt ended.
#[derive(Debug)]
pub enum Attempt<R, F> {
    /// The server answered (any status).
    Answered {
        /// The response, untouched.
        response: R,
        /// What it means.
        classification: Classification,
    },
    /// No response: the connection failed or timed out.
    Failed {
        /// The error, kept so it can be rethrown as `fetch` would.
        error: F,
        /// `Network` or `Timeout`.
        classification: Classification,
    },
}

impl<R, F> Attempt<R, F> {
    /// What the attempt means.
    pub fn classification(&self) -> &Classification {
        match self {
            Attempt::Answered { classification, .. } | Attempt::Failed { classification, .. } => {
                classification
            }
        }
    }
}

/// Makes one attempt of the request.
// The loop runs on one thread (wasm has no others), so no `Send` bounds.
#[allow(async_fn_in_trait)]
pub trait Transport {
    /// A response.
    type Response;
    /// A failure without a response.
    type Failure;
    /// Why the whole call was cancelled (an abort reason).
    type Abort;
    /// Sends attempt `attempt` (1-based).
    async fn send(
        &mut self,
        attempt: u32,
    ) -> Result<Attempt<Self::Response, Self::Failure>, Self::Abort>;
    /// Whether the request can be sent again (false for a consumed stream body).
    fn replayable(&self) -> bool;
    /// Called with a response that will not be returned, so it can be released.
    fn discard(&mut self, _response: Self::Response) {}
    /// The quota is exhausted on the current route: switch to the next
    /// fallback route if there is one (the next attempt goes there at once).
    fn fail_over(&mut self) -> bool {
        false
    }
}

/// Tells time, draws random numbers and sleeps.
#[allow(async_fn_in_trait)]
pub trait Clock {
    /// Why a sleep was cut short.
    type Abort;
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> f64;
    /// A number in `[0, 1)`.
    fn random(&mut self) -> f64;
    /// Sleeps `ms`, or returns early with the abort reason.
    async fn sleep(&mut self, ms: u64) -> Result<(), Self::Abort>;
}

/// Asks whether a retry may be spent (the retry budget), and hears outcomes.
pub trait Budget {
    /// Takes the cost of one retry; `false` if the budget is empty.
    fn try_spend(&mut self) -> bool;
    /// Records a success (which refunds the budget).
    fn record_success(&mut self);
}

/// A budget that never runs out.
#[derive(Debug, Default, Clone, Copy)]
pub struct Unlimited;

impl Budget for Unlimited {
    fn try_spend(&mut self) -> bool {
        true
    }
    fn record_success(&mut self) {}
}

/// What the loop reports after every attempt.
#[derive(Debug)]
pub struct Event<'a> {
    /// The attempt number, 1-based.
    pub attempt: u32,
    /// What the attempt meant.
    pub classification: &'a Classification,
    /// What the loop does next.
    pub decision: Decision,
    /// Time since the loop started, ms.
    pub elapsed_ms: f64,
}

/// The end of a run: the last attempt and why the loop stopped.
#[derive(Debug)]
pub struct Outcome<R, F> {
    /// The last attempt, whose response (or error) goes back to the caller.
    pub last: Attempt<R, F>,
    /// Attempts made.
    pub attempts: u32,
    /// Why the loop stopped.
    pub stop: Stop,
    /// Total time slept between attempts, ms.
    pub waited_ms: u64,
}

/// Runs the request until it succeeds or the policy says stop.
///
/// `observe` sees every attempt with the decision taken on it.
pub async fn run<T, C, B>(
    policy: &RetryPolicy,
    deadline_ms: Option<f64>,
    transport: &mut T,
    clock: &mut C,
    budget: &mut B,
    observe: &mut dyn FnMut(&Event<'_>),
) -> Result<Outcome<T::Response, T::Failure>, T::Abort>
where
    T: Transport,
    C: Clock<Abort = T::Abort>,
    B: Budget + ?Sized,
{
    let started = clock.now_ms();
    let mut attempt = 1;
    let mut previous_delay_ms = 0;
    let mut waited_ms = 0;
    let mut failovers = 0;
    loop {
        let last = transport.send(attempt).await?;
        let now_ms = clock.now_ms();
        let state = State {
            // Switching to a fallback route is not a retry of the same route.
            retries: attempt - 1 - failovers,
            previous_delay_ms,
            now_ms,
            deadline_ms,
        };
        let random = clock.random();
        let mut decision = policy.decide(last.classification(), state, random);
        if decision == Decision::Stop(Stop::Success) {
            budget.record_success();
        }
        let quota = last.classification().kind == Kind::QuotaExhausted;
        if quota && transport.replayable() && transport.fail_over() {
            failovers += 1;
            decision = Decision::Retry { delay_ms: 0 };
        } else if let Decision::Retry { .. } = decision {
            if !transport.replayable() {
                decision = Decision::Stop(Stop::BodyNotReplayable);
            } else if !budget.try_spend() {
                decision = Decision::Stop(Stop::BudgetEmpty);
            }
        }
        observe(&Event {
            attempt,
            classification: last.classification(),
            decision,
            elapsed_ms: now_ms - started,
        });
        match decision {
            Decision::Stop(stop) => {
                return Ok(Outcome {
                    last,
                    attempts: attempt,
                    stop,
                    waited_ms,
                })
            }
            Decision::Retry { delay_ms } => {
                if let Attempt::Answered { response, .. } = last {
                    transport.discard(response);
                }
                clock.sleep(delay_ms).await?;
                waited_ms += delay_ms;
                previous_delay_ms = delay_ms;
                attempt += 1;
            }
        }
    }
}

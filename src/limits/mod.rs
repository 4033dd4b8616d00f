//! The limiters one client instance keeps, composed in one place: a
//! concurrency queue ([`bulkhead`]), a proactive throttle ([`throttle`]), a
//! retry budget ([`budget`]), a quota breaker ([`breaker`]) and fallback
//! routes ([`routes`]), per API origin and caller ([`key`]).
//!
//! The retry loop asks [`Limiters::before`] before every attempt and gets a
//! decision back as a value, a [`Plan`]: send on a route after waiting so
//! long, or answer from the open breaker without a network call. It reports
//! the outcome with [`Limiters::after`]. Every method takes `now`, so the
//! whole composition is tested with a fake clock. Adding a policy is one
//! file here and a line in `before` or `after`.

pub mod breaker;
pub mod budget;
pub mod bulkhead;
pub mod key;
pub mod routes;
pub mod throttle;
pub mod tokens;

use crate::classify::kind::Kind;
use crate::classify::Classification;
use crate::retry::policy::RetryPolicy;
use breaker::{BreakerState, QuotaBreaker};
use budget::RetryBudget;
use bulkhead::{Admission, Bulkhead};
use key::LimitKey;
use routes::{first_available, RouteChoice};
use throttle::{Admit, Answer, Booking, Throttle, Tokens};

/// How an instance's limiters are set up.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    /// Calls in flight at once (`usize::MAX`: unlimited).
    pub max_concurrency: usize,
    /// Calls that may wait for a slot.
    pub max_queue: usize,
    /// Whether the proactive throttle paces attempts.
    pub throttle: bool,
    /// Requests the throttle sends to a key nothing was heard from before
    /// the others hold for its first answer (0: none hold).
    pub cold_start: u32,
    /// The retry budget, if any.
    pub retry_budget: Option<RetryBudget>,
    /// How long a quota breaker stays open, ms.
    pub quota_cooldown_ms: f64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            max_concurrency: usize::MAX,
            max_queue: usize::MAX,
            throttle: true,
            cold_start: throttle::DEFAULT_COLD_START,
            retry_budget: Some(RetryBudget::default()),
            quota_cooldown_ms: breaker::DEFAULT_COOLDOWN_MS,
        }
    }
}

/// A call's place in the concurrency queue, from [`Limiters::enter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket(u64);

/// Permission to send one attempt, from [`Limiters::before`]; hand it back
/// to [`Limiters::after`] (or [`Limiters::abandon`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pass {
    /// The route to send on.
    pub route: usize,
    /// That route's limit key.
    pub key: LimitKey,
    /// Whether this attempt is the route's breaker probe.
    pub probe: bool,
    /// The attempt as the throttle booked it.
    pub booking: Option<Booking>,
}

/// What to do for the next attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan<S> {
    /// Send now, as the pass says.
    Send(Pass),
    /// The throttle holds the call: sleep `ms` (on the call's own timer),
    /// then ask again.
    Hold {
        /// How long to sleep.
        ms: u64,
    },
    /// Every route from here on is out of quota: answer with the failure
    /// stored for `route`, sending nothing.
    Replay {
        /// The route whose failure is replayed.
        route: usize,
        /// The stored failure.
        failure: S,
    },
}

/// The limiters of one instance; `S` is what the breaker keeps of a quota
/// failure to replay it.
#[derive(Debug)]
pub struct Limiters<S> {
    bulkhead: Bulkhead,
    throttle: Option<Throttle>,
    budget: Option<RetryBudget>,
    breaker: QuotaBreaker<S>,
    next_ticket: u64,
}

impl<S: Clone> Limiters<S> {
    /// Limiters as `settings` say, knowing nothing yet.
    pub fn new(settings: Settings) -> Self {
        Limiters {
            bulkhead: Bulkhead::new(settings.max_concurrency, settings.max_queue),
            throttle: settings
                .throttle
                .then(|| Throttle::new(settings.cold_start)),
            budget: settings.retry_budget,
            breaker: QuotaBreaker::new(settings.quota_cooldown_ms),
            next_ticket: 0,
        }
    }

    /// A call arrives at `now_ms`: its ticket, and whether it may run, must
    /// poll again later, or is turned away. Every ticket must be handed to
    /// [`leave`](Self::leave) when the call ends, however it ends.
    pub fn enter(&mut self, now_ms: f64) -> (Ticket, Admission) {
        let ticket = self.next_ticket;
        self.next_ticket += 1;
        (Ticket(ticket), self.bulkhead.acquire(ticket, now_ms))
    }

    /// Whether a waiting call may run now.
    pub fn poll(&mut self, ticket: Ticket, now_ms: f64) -> Admission {
        self.bulkhead.poll(ticket.0, now_ms)
    }

    /// The call ended (or gave up waiting): its slot goes to the next
    /// waiter, and it leaves the throttle's line.
    pub fn leave(&mut self, ticket: Ticket, now_ms: f64) {
        self.bulkhead.release(ticket.0, now_ms);
        if let Some(throttle) = &mut self.throttle {
            throttle.leave(ticket.0);
        }
    }

    /// Decides the next attempt of call `ticket`, expected to use
    /// `tokens`, whose routes have `keys` and that is on route `from`: the
    /// first route from there whose breaker lets it through (its probe, or
    /// closed), if the throttle lets it go on that route's key now; a hold
    /// if not, unless the wait would outlast the policy's cap on server
    /// hints or the deadline (then it goes); or, with every breaker open, a
    /// replay of the first one's failure.
    #[allow(clippy::too_many_arguments)]
    pub fn before(
        &mut self,
        keys: &[LimitKey],
        from: usize,
        now_ms: f64,
        policy: &RetryPolicy,
        deadline_ms: Option<f64>,
        ticket: Ticket,
        tokens: Option<Tokens>,
    ) -> Plan<S> {
        let from = from.min(keys.len().saturating_sub(1));
        let rest = keys.get(from..).unwrap_or_default();
        let (index, probe) = match first_available(rest, &mut self.breaker, now_ms) {
            RouteChoice::Route { index, probe } => (index, probe),
            RouteChoice::AllOpen { first_open } => {
                let route = from + first_open;
                // The breakers were just asked: read what the first one keeps.
                let stored = rest
                    .get(first_open)
                    .and_then(|&key| self.breaker.stored(key));
                match stored {
                    Some(failure) => {
                        let failure = failure.clone();
                        return Plan::Replay { route, failure };
                    }
                    // No routes at all: nothing to replay, so send.
                    None => (first_open, false),
                }
            }
        };
        let route = from + index;
        let key = keys
            .get(route)
            .copied()
            .unwrap_or_else(|| LimitKey::new("", None));
        let booking = match &mut self.throttle {
            None => None,
            Some(throttle) => match throttle.admit(key, ticket.0, tokens, now_ms) {
                Admit::Go(booking) => Some(booking),
                Admit::Wait { ms, until, since } => {
                    let end = until.unwrap_or(now_ms + ms as f64);
                    let too_long = end - since > policy.max_retry_after_ms as f64;
                    let too_late = deadline_ms.is_some_and(|d| end >= d);
                    if too_long || too_late {
                        Some(throttle.force(key, ticket.0, tokens, now_ms))
                    } else {
                        if probe {
                            // Not sent: the probe goes to whoever asks next.
                            self.breaker.probe_failed_otherwise(key, now_ms);
                        }
                        return Plan::Hold { ms };
                    }
                }
            },
        };
        Plan::Send(Pass {
            route,
            key,
            probe,
            booking,
        })
    }

    /// Hears how an attempt sent with `pass` ended: the throttle learns the
    /// windows the answer reported, a quota failure (with what to replay)
    /// trips the route's breaker, a success closes it, and a probe that
    /// failed for another reason hands the probe to the next call.
    pub fn after(&mut self, pass: &Pass, c: &Classification, failure: Option<S>, now_ms: f64) {
        if let (Some(throttle), Some(booking)) = (&mut self.throttle, pass.booking) {
            let answer = if c.status == 0 {
                Answer::Lost
            } else {
                Answer::Heard {
                    limits: c.limits.as_ref(),
                    rate_limited: c.kind == Kind::RateLimit,
                }
            };
            throttle.answered(pass.key, booking, now_ms, answer);
        }
        match (c.kind, failure) {
            (Kind::QuotaExhausted, Some(failure)) => self.breaker.trip(pass.key, failure, now_ms),
            (Kind::Ok, _) => self.breaker.record_success(pass.key),
            _ if pass.probe => self.breaker.probe_failed_otherwise(pass.key, now_ms),
            _ => {}
        }
    }

    /// The attempt sent with `pass` was cancelled before any answer: it is
    /// no longer in flight, and a probe goes to the next call.
    pub fn abandon(&mut self, pass: &Pass, now_ms: f64) {
        if let (Some(throttle), Some(booking)) = (&mut self.throttle, pass.booking) {
            throttle.answered(pass.key, booking, now_ms, Answer::Lost);
        }
        if pass.probe {
            self.breaker.probe_failed_otherwise(pass.key, now_ms);
        }
    }

    /// Takes the cost of one retry from the budget; `false` if it is empty.
    pub fn try_spend(&mut self) -> bool {
        self.budget.as_mut().is_none_or(RetryBudget::try_spend)
    }

    /// A call succeeded: the budget gets a refund.
    pub fn record_success(&mut self) {
        if let Some(budget) = &mut self.budget {
            budget.record_success();
        }
    }

    /// Every open breaker, for a health endpoint.
    pub fn breakers(&self, now_ms: f64) -> Vec<BreakerState> {
        self.breaker.states(now_ms)
    }

    /// Closes every breaker (billing was fixed).
    pub fn reset_breakers(&mut self) {
        self.breaker.reset(None);
    }

    /// Keys held by the throttle and the breaker (each bounded by
    /// [`key::DEFAULT_MAX_KEYS`]).
    pub fn keys_held(&self) -> (usize, usize) {
        (
            self.throttle.as_ref().map_or(0, Throttle::keys),
            self.breaker.keys(),
        )
    }

    /// The throttle, if on; for tests and debugging.
    pub fn throttle(&self) -> Option<&Throttle> {
        self.throttle.as_ref()
    }

    /// Requests counted in flight for `key` by the throttle.
    pub fn in_flight(&self, key: LimitKey) -> u64 {
        self.throttle.as_ref().map_or(0, |t| t.in_flight(key))
    }
}

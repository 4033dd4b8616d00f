//! The limiters one client instance keeps, composed in one place: a
//! concurrency queue ([`bulkhead`]), a proactive throttle ([`throttle`]), a
//! retry budget ([`budget`]), a quota breaker ([`breaker`]) and fallback
//! routes ([`routes`]), per API origin and caller ([`key`]); and, per call,
//! the subrequest budget of the invocation it belongs to ([`subrequests`]).
//!
//! The retry loop asks [`Limiters::before`] before every attempt and gets a
//! decision back as a value, a [`Plan`]: send on a route after waiting so
//! long, or answer from the open breaker without a network call. It reports
//! the outcome with [`Limiters::after`], and asks [`Limiters::permit`]
//! before a retry or a move to the next route. Every method takes `now`, so
//! the whole composition is tested with a fake clock.
//!
//! What other instances know arrives through a [`shared::Store`] (the seam
//! of a Durable Object coordinator): [`Limiters::due`] says when to ask,
//! [`Limiters::learn`] takes the answer, and `after` returns the change to
//! publish.
//!
//! Adding a policy is one file here and a line in `before`, `after` or
//! `permit` ([`subrequests`] is an example).

pub mod breaker;
pub mod budget;
pub mod bulkhead;
pub mod key;
pub mod routes;
pub mod shared;
pub mod subrequests;
pub mod throttle;

use std::cell::RefCell;

use crate::classify::kind::Kind;
use crate::classify::Classification;
use crate::retry::policy::{RetryPolicy, Stop};
use breaker::{BreakerState, QuotaBreaker};
use budget::RetryBudget;
use bulkhead::{Admission, Bulkhead};
use key::LimitKey;
use routes::{first_available, RouteChoice};
use shared::{Change, Freshness, Trip};
use subrequests::{Claim, Subrequests};
use throttle::Throttle;

/// How an instance's limiters are set up.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    /// Calls in flight at once (`usize::MAX`: unlimited).
    pub max_concurrency: usize,
    /// Calls that may wait for a slot.
    pub max_queue: usize,
    /// Whether the proactive throttle paces attempts.
    pub throttle: bool,
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
            retry_budget: Some(RetryBudget::default()),
            quota_cooldown_ms: breaker::DEFAULT_COOLDOWN_MS,
        }
    }
}

/// What one call brings besides the instance's limiters: its deadline and
/// the subrequest budget of the invocation it belongs to.
#[derive(Debug, Clone, Copy, Default)]
pub struct Scope<'a> {
    /// When the call must be over, ms since the epoch.
    pub deadline_ms: Option<f64>,
    /// The invocation's subrequest budget, shared with its other calls.
    pub subrequests: Option<&'a RefCell<Subrequests>>,
}

impl<'a> Scope<'a> {
    /// The call's hold on its invocation's subrequest budget.
    pub fn claim(&self) -> Claim<'a> {
        Claim::new(self.subrequests)
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
    /// How long to wait first (the throttle's pacing), ms.
    pub wait_ms: u64,
    /// Whether this attempt is the route's breaker probe.
    pub probe: bool,
}

/// What to do for the next attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan<S> {
    /// Send, as the pass says.
    Send(Pass),
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
    freshness: Freshness,
    next_ticket: u64,
}

impl<S: Clone> Limiters<S> {
    /// Limiters as `settings` say, knowing nothing yet.
    pub fn new(settings: Settings) -> Self {
        Limiters {
            bulkhead: Bulkhead::new(settings.max_concurrency, settings.max_queue),
            throttle: settings.throttle.then(Throttle::new),
            budget: settings.retry_budget,
            breaker: QuotaBreaker::new(settings.quota_cooldown_ms),
            freshness: Freshness::default(),
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

    /// The call ended (or gave up waiting): its slot goes to the next waiter.
    pub fn leave(&mut self, ticket: Ticket, now_ms: f64) {
        self.bulkhead.release(ticket.0, now_ms);
    }

    /// Decides the next attempt of a call whose routes have `keys` and that
    /// is on route `from`: the first route from there whose breaker lets it
    /// through (its probe, or closed), with the throttle's wait for that
    /// route's key, bounded as the policy bounds server hints; or, with
    /// every breaker open, a replay of the first one's failure.
    pub fn before(
        &mut self,
        keys: &[LimitKey],
        from: usize,
        now_ms: f64,
        random: f64,
        policy: &RetryPolicy,
        deadline_ms: Option<f64>,
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
        let wait_ms = match &mut self.throttle {
            Some(throttle) => {
                let booked = throttle.reserve(key, now_ms, random);
                policy.paced_wait(booked, now_ms, deadline_ms)
            }
            None => 0,
        };
        Plan::Send(Pass {
            route,
            key,
            wait_ms,
            probe,
        })
    }

    /// Hears how an attempt sent with `pass` ended: the throttle learns the
    /// windows the answer reported, a quota failure (with what to replay)
    /// trips the route's breaker, a success closes it, and a probe that
    /// failed for another reason hands the probe to the next call. Returns
    /// the change other instances should hear of (a breaker that opened or
    /// closed), for the [`shared::Store`].
    pub fn after(
        &mut self,
        pass: &Pass,
        c: &Classification,
        failure: Option<S>,
        now_ms: f64,
    ) -> Option<Change<S>> {
        if let Some(throttle) = &mut self.throttle {
            throttle.answered(pass.key, now_ms);
            if let Some(limits) = &c.limits {
                throttle.observe(pass.key, limits, now_ms);
            }
        }
        let key = pass.key;
        match (c.kind, failure) {
            (Kind::QuotaExhausted, Some(failure)) => {
                let retry_at_ms = self.breaker.trip(key, failure.clone(), now_ms)?;
                Some(Change::Tripped {
                    key,
                    failure,
                    retry_at_ms,
                })
            }
            (Kind::Ok, _) => self
                .breaker
                .record_success(key)
                .then_some(Change::Closed { key }),
            _ if pass.probe => {
                self.breaker.probe_failed_otherwise(key, now_ms);
                None
            }
            _ => None,
        }
    }

    /// Whether the [`shared::Store`] should be asked about `key` now (at
    /// most once per [`shared::REFRESH_MS`]).
    pub fn due(&mut self, key: LimitKey, now_ms: f64) -> bool {
        self.freshness.due(key, now_ms)
    }

    /// What the store said about `key`: open as another instance tripped
    /// it, or closed.
    pub fn learn(&mut self, key: LimitKey, trip: Option<Trip<S>>, now_ms: f64) {
        match trip {
            Some(Trip {
                failure,
                retry_at_ms,
            }) => self.breaker.adopt(key, failure, retry_at_ms, now_ms),
            None => {
                self.breaker.record_success(key);
            }
        }
    }

    /// The attempt sent with `pass` was cancelled before any answer: it is
    /// no longer in flight, and a probe goes to the next call.
    pub fn abandon(&mut self, pass: &Pass, now_ms: f64) {
        if let Some(throttle) = &mut self.throttle {
            throttle.answered(pass.key, now_ms);
        }
        if pass.probe {
            self.breaker.probe_failed_otherwise(pass.key, now_ms);
        }
    }

    /// Whether the call holding `claim` may make another attempt: a
    /// `retry` of the same route (which costs the retry budget) or a move
    /// to the next route (which does not). Either way the attempt needs a
    /// subrequest, reserved here so the call still holds its last answer
    /// if there is none.
    pub fn permit(&mut self, claim: &mut Claim<'_>, retry: bool) -> Result<(), Stop> {
        if !claim.reserve() {
            return Err(Stop::SubrequestsSpent);
        }
        if retry && !self.budget.as_mut().is_none_or(RetryBudget::try_spend) {
            return Err(Stop::BudgetEmpty);
        }
        Ok(())
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

    /// Requests counted in flight for `key` by the throttle.
    pub fn in_flight(&self, key: LimitKey) -> u64 {
        self.throttle.as_ref().map_or(0, |t| t.in_flight(key))
    }
}

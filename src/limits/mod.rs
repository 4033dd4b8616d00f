//! The limiters one client instance keeps, composed in one place: a
//! concurrency queue ([`bulkhead`]), a proactive throttle ([`throttle`]), a
//! retry budget ([`budget`]), a quota breaker ([`breaker`]), an outage
//! breaker ([`outage`]) and fallback routes ([`routes`]), per API origin,
//! caller and model ([`key`]); and, per call, the subrequest budget of the
//! invocation it belongs to ([`subrequests`]).
//!
//! # The pipeline, in order
//!
//! Every decision about a call is a value returned here, in this order;
//! the engine (`crate::retry::engine`) and the wasm layer only carry them
//! out. Every method takes `now`, so the whole composition is tested with
//! a fake clock.
//!
//! 1. **Before the call.** The spend budgets ([`budgets::before`], their
//!    books in [`spend`]) hold the call's estimate: it goes, goes on a
//!    cheaper route ([`Scope::moved_to`]), or is answered as over budget. Then the
//!    concurrency queue: [`Limiters::arrive`], polled with
//!    [`Limiters::wait`]; a call the open breaker would answer needs no
//!    slot ([`queue`]); one whose deadline passed meanwhile ends there
//!    ([`queue::late`]). Its lane picks its first route
//!    ([`Limiters::start_moved`], [`lanes`]).
//! 2. **Before each attempt**, [`Limiters::before`] returns a [`Plan`]:
//!    the stages of [`attempt::BEFORE`] have their say in turn: the first
//!    route neither breaker holds back ([`routes::before`]), the
//!    coordinator's lease ([`lease`], [`Plan::Lease`]), the throttle
//!    ([`throttle`], [`Plan::Hold`]) and the permit spent; or, with every
//!    route out of quota, the breaker's answer ([`Plan::Replay`]).
//! 3. **After its answer**, [`Limiters::after`]: the throttle, the lease,
//!    the quota breaker and the outage breaker hear it, in the order
//!    [`attempt::AFTER`] declares, and say what changed ([`Heard`]):
//!    changes for the [`shared::Store`], a report for the coordinator,
//!    breaker transitions for the hooks. A quota failure is told to
//!    `onQuotaExhausted` ([`fallback::tells_hook`]).
//! 4. **What next**, [`Limiters::next`]: the retry policy, then the breaker,
//!    failover, body, subrequests and retry budget have their say, in the
//!    order [`next::ORDER`] declares: retry, fail over, or stop.
//! 5. **After the call**, [`fallback::fallback`] says who answers it: its
//!    last answer, `onQuotaExhausted`'s, or the cache's. The spend budgets
//!    ([`budgets::after`]) settle the real cost when the usage arrives, or
//!    release the hold.
//!
//! What other instances know arrives through a [`shared::Store`] (the seam
//! of a Durable Object coordinator): [`Limiters::due`] says when to ask,
//! [`Limiters::learn`] takes the answer, and `after` returns the change to
//! publish.
//!
//! Adding a policy is one file here, with its `before`, `after` or `next`,
//! and its place in [`attempt::BEFORE`], [`attempt::AFTER`] or
//! [`next::ORDER`] ([`subrequests`] and [`lease`] are examples).

pub mod attempt;
pub mod breaker;
pub mod budget;
pub mod budgets;
pub mod bulkhead;
pub mod fallback;
pub mod key;
pub mod lanes;
pub mod lease;
pub mod line;
pub mod next;
pub use breaker::outage;
mod plan;
pub use plan::{BreakerKind, Heard, Hold, Pass, Plan, Transition};
pub mod queue;
pub mod routes;
pub mod shared;
pub mod spend;
pub mod subrequests;
pub mod throttle;
pub mod tokens;

use crate::shared::Shared;

use breaker::{BreakerState, OutageBreaker, QuotaBreaker, Rule};
use budget::RetryBudget;
use bulkhead::{Admission, Bulkhead};
use key::LimitKey;
use lanes::Lane;
use lease::{Grant, Leases};
use outage::OutageSettings;
use routes::{KindSet, RouteKey};
use shared::{Freshness, Trip};
use subrequests::{Claim, Subrequests};
use throttle::{Answer, Throttle};

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
    /// How long a quota breaker stays open, ms (doubled per failed probe).
    pub quota_cooldown_ms: f64,
    /// The outage breaker, if any.
    pub outage: Option<OutageSettings>,
    /// The kinds that move a call to the next route (`failoverOn`).
    pub failover_on: KindSet,
    /// The route a bulk call starts on under pressure (`lanes.bulk.route`).
    pub bulk_route: Option<usize>,
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
            outage: Some(OutageSettings::default()),
            failover_on: KindSet::of(&routes::DEFAULT_FAILOVER),
            bulk_route: None,
        }
    }
}

/// What one call brings besides the instance's limiters: its deadline, its
/// lane and the subrequest budget of the invocation it belongs to.
#[derive(Debug, Clone, Copy, Default)]
pub struct Scope<'a> {
    /// When the call must be over, ms since the epoch.
    pub deadline_ms: Option<f64>,
    /// The invocation's subrequest budget, shared with its other calls.
    pub subrequests: Option<&'a Shared<Subrequests>>,
    /// The call's lane.
    pub lane: Lane,
    /// The route a spend budget past its soft threshold moved this bulk
    /// call to (`onExhausted: { route }`, see [`spend::moves`]): it starts
    /// there as a bulk call under pressure starts on `lanes.bulk.route`.
    pub moved_to: Option<usize>,
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

/// The limiters of one instance; `S` is what the breaker keeps of a quota
/// failure to replay it.
#[derive(Debug)]
pub struct Limiters<S> {
    bulkhead: Bulkhead,
    throttle: Option<Throttle>,
    budget: Option<RetryBudget>,
    breaker: QuotaBreaker<S>,
    outage: Option<OutageBreaker<S>>,
    failover_on: KindSet,
    bulk_route: Option<usize>,
    leases: Option<Leases>,
    freshness: Freshness,
    next_ticket: u64,
    spend: spend::Spend,
    /// Whether any attempt was answered yet (see [`queue`]).
    heard: bool,
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
            breaker: QuotaBreaker::new(Rule::quota(settings.quota_cooldown_ms)),
            outage: settings.outage.map(|o| OutageBreaker::new(Rule::outage(o))),
            failover_on: settings.failover_on,
            bulk_route: settings.bulk_route,
            leases: settings.throttle.then(Leases::default),
            freshness: Freshness::default(),
            next_ticket: 0,
            spend: spend::Spend::default(),
            heard: false,
        }
    }

    /// These limiters with the spend budgets `spend` (none by default).
    pub fn with_spend(mut self, spend: spend::Spend) -> Self {
        self.spend = spend;
        self
    }

    /// The spend budgets: a call reserves its estimate with
    /// [`spend::Spend::admit`] before its first attempt (once per call, not
    /// per attempt: a retry of a failed attempt costs nothing more), and
    /// settles or releases the holds when its usage is known.
    pub fn spend(&mut self) -> &mut spend::Spend {
        &mut self.spend
    }

    /// A call arrives at `now_ms`: its ticket, and whether it may run, must
    /// poll again later, or is turned away. Every ticket must be handed to
    /// [`leave`](Self::leave) when the call ends, however it ends.
    pub fn enter(&mut self, now_ms: f64) -> (Ticket, Admission) {
        self.enter_in(Lane::Interactive, now_ms)
    }

    /// [`enter`](Self::enter) in `lane`: interactive calls wait ahead of
    /// bulk ones.
    pub fn enter_in(&mut self, lane: Lane, now_ms: f64) -> (Ticket, Admission) {
        let ticket = self.next_ticket;
        self.next_ticket += 1;
        (
            Ticket(ticket),
            self.bulkhead.acquire_in(ticket, lane, now_ms),
        )
    }

    /// The route a call in `lane` whose routes have `keys` starts on: 0, or
    /// for a bulk call under pressure (it `queued` for a slot, or the
    /// primary's rate limit is nearly spent) the cheap bulk route, when that
    /// route can take calls (see [`lanes::start_route`]).
    pub fn start(&self, lane: Lane, queued: bool, keys: &[RouteKey], now_ms: f64) -> usize {
        self.start_moved(lane, queued, None, keys, now_ms)
    }

    /// [`start`](Self::start) for a call a spend budget `moved` to a
    /// cheaper route: a bulk call starts there as if under pressure, by the
    /// same rule (and on the same condition, that the route can take calls)
    /// as on `lanes.bulk.route`.
    pub fn start_moved(
        &self,
        lane: Lane,
        queued: bool,
        moved: Option<usize>,
        keys: &[RouteKey],
        now_ms: f64,
    ) -> usize {
        if moved.is_some() {
            return lanes::start_route(lane, moved, keys.len(), true, |r| {
                self.can_move_on(keys, r, now_ms)
            });
        }
        let pressed = || {
            queued
                || keys.first().is_some_and(|k| {
                    self.throttle
                        .as_ref()
                        .is_some_and(|t| t.pressed(k.model, now_ms))
                })
        };
        if lane != Lane::Bulk || self.bulk_route.is_none() || !pressed() {
            return 0;
        }
        lanes::start_route(lane, self.bulk_route, keys.len(), true, |r| {
            self.can_move_on(keys, r, now_ms)
        })
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

    /// What the coordinator answered a lease request for `key`: a grant,
    /// or `None` when it could not be reached (calls then go on local state
    /// alone for [`lease::ALONE_MS`]).
    pub fn leased(&mut self, key: LimitKey, grant: Option<Grant>, now_ms: f64) {
        if let Some(leases) = &mut self.leases {
            match grant {
                Some(grant) => leases.granted(key, grant, now_ms),
                None => leases.unreachable(key, now_ms),
            }
        }
    }

    /// Whether a call with `keys` would be answered by the open quota
    /// breaker (every route out of quota, no probe due): such a call costs
    /// no network call, so it never waits for a concurrency slot.
    pub fn answered_by_breaker(&self, keys: &[RouteKey], now_ms: f64) -> bool {
        !keys.is_empty()
            && keys
                .iter()
                .all(|route| route.both().any(|k| self.breaker.is_open(k, now_ms)))
    }

    /// Takes call `ticket` out of the concurrency queue: it will not wait
    /// for a slot (see [`Limiters::answered_by_breaker`]).
    pub fn skip_queue(&mut self, ticket: Ticket, now_ms: f64) {
        self.bulkhead.release(ticket.0, now_ms);
    }

    /// Whether a call may move on to the routes from `to`: one of them is
    /// neither out of quota nor down (asked without taking a probe). A call
    /// with nowhere better to go stops with the answer it has.
    pub fn can_move_on(&self, keys: &[RouteKey], to: usize, now_ms: f64) -> bool {
        keys.get(to..).unwrap_or_default().iter().any(|route| {
            route.both().all(|k| !self.breaker.is_open(k, now_ms))
                && !self
                    .outage
                    .as_ref()
                    .is_some_and(|o| o.is_open(route.model, now_ms))
        })
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
                self.breaker.close(key);
            }
        }
    }

    /// The store could not be reached when asked about the first of `keys`:
    /// none of them is asked again before its next refresh (one timeout per
    /// call, not one per key), and their calls go on without leases for a
    /// while (see [`Limiters::leased`]).
    pub fn unreachable(&mut self, keys: impl Iterator<Item = LimitKey>, now_ms: f64) {
        for key in keys {
            self.due(key, now_ms);
            self.leased(key, None, now_ms);
        }
    }

    /// The attempt sent with `pass` was cancelled before any answer: it is
    /// no longer in flight, and a probe goes to the next call.
    pub fn abandon(&mut self, pass: &Pass, now_ms: f64) {
        if let (Some(throttle), Some(booking)) = (&mut self.throttle, pass.booking) {
            throttle.answered(pass.keys.model, booking, now_ms, Answer::Lost);
        }
        let (quota, outage) = (&mut self.breaker, self.outage.as_mut());
        routes::unprobe(
            quota,
            outage,
            &pass.keys,
            pass.probe,
            pass.outage_probe,
            now_ms,
        );
    }

    /// Every open breaker, quota then outage, for a health endpoint.
    pub fn breakers(&self, now_ms: f64) -> Vec<BreakerState> {
        let mut states = self.breaker.states(now_ms);
        if let Some(outage) = &self.outage {
            states.extend(outage.states(now_ms));
        }
        states
    }

    /// Closes every breaker, quota and outage (billing was fixed).
    pub fn reset_breakers(&mut self) {
        self.breaker.reset(None);
        if let Some(outage) = &mut self.outage {
            outage.reset(None);
        }
    }

    /// Keys held by the throttle and the breaker (each bounded by
    /// [`key::DEFAULT_MAX_KEYS`]).
    pub fn keys_held(&self) -> (usize, usize) {
        (
            self.throttle.as_ref().map_or(0, Throttle::keys),
            self.breaker.keys(),
        )
    }

    /// Keys held by the outage breaker (bounded the same way).
    pub fn outage_keys_held(&self) -> usize {
        self.outage.as_ref().map_or(0, OutageBreaker::keys)
    }

    /// The throttle, if on; for tests and debugging.
    pub fn throttle(&self) -> Option<&Throttle> {
        self.throttle.as_ref()
    }

    /// Requests counted in flight for `key` by the throttle.
    pub fn in_flight(&self, key: LimitKey) -> u64 {
        self.throttle.as_ref().map_or(0, |t| t.in_flight(key))
    }

    /// The concurrency queue now: `(calls running, calls waiting)`.
    pub fn queue(&self) -> (usize, usize) {
        (self.bulkhead.in_flight(), self.bulkhead.queued())
    }
}

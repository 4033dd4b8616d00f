//! Before an attempt and after its answer, decided in one place: each
//! policy's say is a function `before` or `after` in its own file, and the
//! stages run in the order [`BEFORE`] and [`AFTER`] declare (as
//! [`super::next::ORDER`] does for what next).
//!
//! **Before an attempt** (a stage sees what the ones before it made of the
//! attempt, a [`Draft`]; the first that answers with a [`Plan`] ends it):
//! 1. [`Stage::Routes`]: the first route neither breaker holds back, or,
//!    with every route out of quota, the breaker's answer ([`routes::before`]).
//! 2. [`Stage::Lease`]: a call that shares its limits through a
//!    coordinator needs a permit leased from it ([`Leases::before`]).
//! 3. [`Stage::Throttle`]: the throttle lets it go on the route's model
//!    key now, or holds it, unless the wait would outlast the policy's cap
//!    on server hints or the deadline ([`Throttle::before`]).
//! 4. [`Stage::Permit`]: an attempt that goes spends its leased permit
//!    ([`Leases::sent`]).
//!
//! A plan that sends nothing gives back the probes the route stage took
//! ([`routes::unprobe`]): they go to whoever asks next.
//!
//! **After its answer** (each stage adds what changed to the [`Heard`]):
//! 1. [`Stage::Throttle`]: it learns the windows the answer reported
//!    ([`Throttle::after`]).
//! 2. [`Stage::Lease`]: the answer's report of the key's window, for the
//!    coordinator ([`Leases::after`]), with how the throttle saw it refill.
//! 3. [`Stage::Quota`]: a quota failure trips the quota breaker, a success
//!    closes it ([`quota::after`]).
//! 4. [`Stage::Outage`]: an outage counts towards the outage breaker, any
//!    other answer closes it ([`outage::after`]).
//!
//! Adding a policy is its `before` and `after` in its own file, a
//! [`Stage`] and its place in [`BEFORE`] and [`AFTER`].
//!
//! [`routes::before`]: super::routes::before
//! [`routes::unprobe`]: super::routes::unprobe
//! [`Leases::before`]: super::lease::Leases::before
//! [`Leases::sent`]: super::lease::Leases::sent
//! [`Leases::after`]: super::lease::Leases::after
//! [`Throttle::before`]: super::throttle::Throttle::before
//! [`Throttle::after`]: super::throttle::Throttle::after
//! [`quota::after`]: super::breaker::quota::after
//! [`outage::after`]: super::breaker::outage::after

use crate::classify::Classification;
use crate::retry::policy::RetryPolicy;

use super::breaker::{outage, quota};
use super::key::LimitKey;
use super::routes::{self, RouteKey};
use super::throttle::{self, Booking, Tokens};
use super::{Heard, Limiters, Pass, Plan, Ticket};

/// One policy's say before an attempt or after its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Fallback routes and the breakers that hold them back.
    Routes,
    /// The coordinator's lease.
    Lease,
    /// The proactive throttle.
    Throttle,
    /// The leased permit an attempt that goes spends.
    Permit,
    /// The quota breaker.
    Quota,
    /// The outage breaker.
    Outage,
}

/// The stages before an attempt, in the order they have their say.
pub const BEFORE: [Stage; 4] = [Stage::Routes, Stage::Lease, Stage::Throttle, Stage::Permit];

/// The stages after an attempt's answer, in the order they hear it.
pub const AFTER: [Stage; 4] = [Stage::Throttle, Stage::Lease, Stage::Quota, Stage::Outage];

/// An attempt being planned: what the call brings, and what the stages so
/// far made of it.
#[derive(Debug, Clone, Copy)]
pub struct Draft<'a> {
    /// The limit keys of every route of the call.
    pub keys: &'a [RouteKey],
    /// The route the call is on (a valid index, or 0 with no routes).
    pub from: usize,
    /// When the attempt is planned, ms since the epoch.
    pub now_ms: f64,
    /// The retry policy's cap on a server's hint: no wait is longer.
    pub max_wait_ms: f64,
    /// When the call must be over, ms since the epoch.
    pub deadline_ms: Option<f64>,
    /// The call's place in the queues.
    pub ticket: u64,
    /// The tokens the attempt is expected to use.
    pub tokens: Option<Tokens>,
    /// Whether the call shares its limits through a coordinator.
    pub leased: bool,
    /// The route chosen.
    pub route: usize,
    /// That route's limit keys.
    pub route_keys: RouteKey,
    /// Whether the attempt is a quota breaker's probe on the route.
    pub probe: bool,
    /// Whether it is the route's outage breaker probe.
    pub outage_probe: bool,
    /// Whether it holds a permit leased from the coordinator.
    pub permit: bool,
    /// The attempt as the throttle booked it.
    pub booking: Option<Booking>,
}

impl<'a> Draft<'a> {
    /// The route at `route` is chosen.
    pub fn on(&mut self, route: usize) {
        self.route = route;
        self.route_keys = self
            .keys
            .get(route)
            .copied()
            .unwrap_or_else(|| RouteKey::from(LimitKey::new("", None)));
    }

    /// Whether a wait of `ms` from now would end past the deadline.
    pub fn too_late(&self, ms: f64) -> bool {
        self.deadline_ms.is_some_and(|d| self.now_ms + ms >= d)
    }

    fn pass(&self) -> Pass {
        Pass {
            route: self.route,
            keys: self.route_keys,
            booking: self.booking,
            probe: self.probe,
            outage_probe: self.outage_probe,
            at_ms: self.now_ms,
            leased: self.leased,
        }
    }
}

/// An attempt's answer, as the stages after it hear it.
#[derive(Debug, Clone, Copy)]
pub struct Answered<'a, S> {
    /// The pass the attempt was sent with.
    pub pass: &'a Pass,
    /// What the answer means.
    pub classification: &'a Classification,
    /// What the quota breaker keeps of a quota failure to replay it.
    pub failure: Option<&'a S>,
    /// When it arrived, ms since the epoch.
    pub now_ms: f64,
}

impl<S: Clone> Limiters<S> {
    /// Decides the next attempt of call `ticket`, expected to use `tokens`,
    /// whose routes have `keys` and that is on route `from`: every stage of
    /// [`BEFORE`] has its say, in turn. It is sent on the first route from
    /// there that neither breaker holds back (see [`routes::choose`]), if
    /// the throttle lets it go on that route's model key now; held if not,
    /// unless the wait would outlast the policy's cap on server hints or
    /// the deadline (then it goes); or, with every route out of quota, the
    /// first one's failure is replayed. A `leased` call (its instance
    /// shares its limits through a coordinator) with the throttle on first
    /// needs a permit leased from the coordinator ([`super::lease`]).
    #[allow(clippy::too_many_arguments)]
    pub fn before(
        &mut self,
        keys: &[RouteKey],
        from: usize,
        now_ms: f64,
        policy: &RetryPolicy,
        deadline_ms: Option<f64>,
        ticket: Ticket,
        tokens: Option<Tokens>,
        leased: bool,
    ) -> Plan<S> {
        let from = from.min(keys.len().saturating_sub(1));
        let mut draft = Draft {
            keys,
            from,
            now_ms,
            max_wait_ms: policy.max_retry_after_ms as f64,
            deadline_ms,
            ticket: ticket.0,
            tokens,
            leased,
            route: from,
            route_keys: RouteKey::from(LimitKey::new("", None)),
            probe: false,
            outage_probe: false,
            permit: false,
            booking: None,
        };
        draft.on(from);
        for stage in BEFORE {
            let plan = match stage {
                Stage::Routes => {
                    routes::before(&mut self.breaker, self.outage.as_mut(), &mut draft)
                }
                Stage::Lease if leased => self.leases.as_mut().and_then(|l| l.before(&mut draft)),
                Stage::Throttle => self.throttle.as_mut().and_then(|t| t.before(&mut draft)),
                Stage::Permit => {
                    if let Some(leases) = &mut self.leases {
                        leases.sent(&draft);
                    }
                    None
                }
                Stage::Lease | Stage::Quota | Stage::Outage => None,
            };
            if let Some(plan) = plan {
                // Not sent: a probe goes to whoever asks next.
                let (quota, outage) = (&mut self.breaker, self.outage.as_mut());
                let (keys, probe, outage_probe) =
                    (&draft.route_keys, draft.probe, draft.outage_probe);
                routes::unprobe(quota, outage, keys, probe, outage_probe, now_ms);
                return plan;
            }
        }
        Plan::Send(draft.pass())
    }

    /// Hears how an attempt sent with `pass` ended: every stage of
    /// [`AFTER`] hears it, in turn. The throttle learns the windows the
    /// answer reported; a quota failure (with what to replay) trips the
    /// route's account or model breaker (see [`routes::quota_scope`]); an
    /// outage counts towards the route's outage breaker; a success closes
    /// the route's breakers; and a probe that said nothing about its
    /// breaker hands the probe to the next call. Returns what changed: for
    /// the [`super::shared::Store`], and the breakers that opened or closed.
    pub fn after(
        &mut self,
        pass: &Pass,
        c: &Classification,
        failure: Option<S>,
        now_ms: f64,
    ) -> Heard<S> {
        let mut heard = Heard::default();
        self.heard = true;
        let answer = Answered {
            pass,
            classification: c,
            failure: failure.as_ref(),
            now_ms,
        };
        for stage in AFTER {
            match stage {
                Stage::Throttle => {
                    if let Some(throttle) = &mut self.throttle {
                        throttle.after(&answer);
                    }
                }
                Stage::Lease if pass.leased => {
                    // How this instance saw the window refill.
                    let refill = self
                        .throttle
                        .as_ref()
                        .map_or(throttle::Refill::Unknown, |t| t.refill(pass.keys.model)[0]);
                    if let Some(leases) = &mut self.leases {
                        leases.after(&answer, refill, &mut heard);
                    }
                }
                Stage::Quota => quota::after(&mut self.breaker, &answer, &mut heard),
                Stage::Outage => {
                    if let Some(breaker) = &mut self.outage {
                        outage::after(breaker, &answer, &mut heard);
                    }
                }
                Stage::Lease | Stage::Routes | Stage::Permit => {}
            }
        }
        heard
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::headers::{Limits, Window};
    use crate::classify::kind::Kind;
    use crate::limits::lease::Grant;
    use crate::limits::throttle::Refill;
    use crate::limits::{BreakerKind, Settings};

    const T0: f64 = 1_700_000_000_000.0;

    fn answer(kind: Kind, status: u16) -> Classification {
        let mut c = Classification::without_response(kind, None, "t");
        c.status = status;
        c
    }

    /// A success reporting a requests window of 10 with `remaining` left,
    /// resetting in `reset_ms`.
    fn fixed(remaining: u64, reset_ms: u64) -> Classification {
        let mut c = answer(Kind::Ok, 200);
        c.limits = Some(Limits {
            requests: Some(Window {
                limit: Some(10),
                remaining: Some(remaining),
                reset_ms: Some(reset_ms),
                coarse_reset: false,
            }),
            ..Limits::default()
        });
        c
    }

    #[test]
    fn a_leased_report_says_how_the_throttle_saw_the_window_refill_after_this_answer() {
        // The throttle hears an answer before the lease reports it
        // (AFTER: Throttle, then Lease): the report the coordinator gets
        // carries what this answer taught the throttle, not what it knew
        // before. Three reports of a fixed window (a reset that does not
        // grow with what is used) prove it refills at its reset on the
        // third.
        let mut l = Limiters::<u8>::new(Settings::default());
        let keys = [RouteKey::from(LimitKey::new("https://api.example", None))];
        let policy = RetryPolicy::default();
        for (i, remaining) in [9, 8, 7].into_iter().enumerate() {
            let now = T0 + i as f64;
            let (ticket, _) = l.enter(now);
            let mut plan = l.before(&keys, 0, now, &policy, None, ticket, None, true);
            if let Plan::Lease { key, .. } = plan {
                l.leased(key, Some(Grant::Permits(8)), now);
                plan = l.before(&keys, 0, now, &policy, None, ticket, None, true);
            }
            let Plan::Send(pass) = plan else {
                panic!("{plan:?}")
            };
            l.after(&pass, &fixed(remaining, 990 - i as u64), None, now);
            l.leave(ticket, now);
        }
        let key = keys[0].model;
        let seen = l.throttle().map(|t| t.refill(key)[0]);
        assert_eq!(seen, Some(Refill::AtReset), "the throttle learned it");
        // The permits expired: the next call asks, forwarding the newest report.
        let now = T0 + 1_000.0;
        let (ticket, _) = l.enter(now);
        let plan = l.before(&keys, 0, now, &policy, None, ticket, None, true);
        let Plan::Lease {
            report: Some(report),
            ..
        } = plan
        else {
            panic!("{plan:?}")
        };
        assert_eq!(report.refill, Refill::AtReset);
    }

    #[test]
    fn an_answer_that_closes_both_breakers_reports_them_in_the_declared_order() {
        // AFTER hears the quota breaker before the outage breaker: one
        // success that closes both reports the quota's end first.
        let mut l = Limiters::<u8>::new(Settings::default());
        let pass = Pass {
            route: 0,
            keys: RouteKey::from(LimitKey::new("https://api.example", None)),
            booking: None,
            probe: false,
            outage_probe: false,
            at_ms: T0,
            leased: false,
        };
        let quota = answer(Kind::QuotaExhausted, 429);
        assert!(l.after(&pass, &quota, Some(1), T0).first_report());
        let down = answer(Kind::ServerError, 500);
        for _ in 0..crate::limits::outage::DEFAULT_FAILURES {
            l.after(&pass, &down, None, T0);
        }
        assert_eq!(l.breakers(T0).len(), 2, "both open");
        let heard = l.after(&pass, &answer(Kind::Ok, 200), None, T0);
        let closed: Vec<_> = heard
            .transitions
            .iter()
            .map(|t| (t.breaker, t.opened_until_ms))
            .collect();
        assert_eq!(
            closed,
            [(BreakerKind::Quota, None), (BreakerKind::Outage, None)]
        );
    }
}

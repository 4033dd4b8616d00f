//! Fallback routes: a call's routes in order of preference (the request as
//! given, then, say, a second API key, an Azure deployment, a cheaper
//! model), whose limits each route draws on, and when a call moves from one
//! to the next.
//!
//! A route draws on two limits: its account's (origin and credentials:
//! billing quota is per account or project) and its model's within that
//! account (rate limits are per model at OpenAI, Anthropic and Gemini, and
//! Gemini keeps its daily quotas per model too). Which of the two an
//! exhausted quota belongs to is decided per provider by [`quota_scope`].

use crate::classify::kind::Kind;
use crate::classify::provider::Provider;
use crate::classify::Classification;
use crate::limits::attempt::Draft;
use crate::limits::breaker::{Gate, OutageBreaker, QuotaBreaker};
use crate::limits::key::LimitKey;
use crate::limits::next::Next;
use crate::limits::Plan;
use crate::retry::policy::{Decision, Stop};

/// The limits one route draws on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteKey {
    /// Origin and credentials: the account or project, whose billing quota
    /// every model shares.
    pub account: LimitKey,
    /// The account and the model: per-model quota and rate limits. The
    /// account key itself when the model is not known.
    pub model: LimitKey,
}

impl RouteKey {
    /// The keys of a route to `account` for `model`, if known.
    pub fn new(account: LimitKey, model: Option<&str>) -> Self {
        RouteKey {
            account,
            model: account.with_model(model),
        }
    }

    /// The key an exhausted quota trips on this route (see [`quota_scope`]).
    pub fn quota_key(&self, c: &Classification) -> LimitKey {
        match quota_scope(c) {
            QuotaScope::Account => self.account,
            QuotaScope::Model => self.model,
        }
    }

    /// Both keys, the model's left out when it is the account's.
    pub fn both(&self) -> impl Iterator<Item = LimitKey> {
        // An array's first one or two, not `once(..).chain(option)`: a
        // Chain's fold and try_fold are bigger in each of the 10 callers.
        let n = 1 + usize::from(self.model != self.account);
        [self.account, self.model].into_iter().take(n)
    }
}

impl From<LimitKey> for RouteKey {
    /// A route whose model is not known.
    fn from(key: LimitKey) -> Self {
        RouteKey::new(key, None)
    }
}

/// Which route a call takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    /// Send on `routes[index]`.
    Route {
        /// The position of the chosen route.
        index: usize,
        /// Whether the call is a quota breaker's probe on it.
        probe: bool,
        /// Whether the call is its outage breaker's probe.
        outage_probe: bool,
    },
    /// Every route is out of quota: answer with the failure stored for
    /// `routes[index]` under `key`, sending nothing.
    AllOpen {
        /// The first route in order.
        index: usize,
        /// Its open key.
        key: LimitKey,
    },
}

/// The first route, in order, that neither breaker holds back: its quota
/// breakers (account and model) closed or granting a probe, its outage
/// breaker closed or granting a probe. Breakers are only asked for a probe
/// by the route returned, so no probe is granted and then not sent, and an
/// earlier route's probe is preferred over a later closed route (the
/// primary recovers as soon as it can).
///
/// A route that is down is only skipped for a route that can go: with
/// every route out of quota or down, the call goes to the first one that is
/// down (an outage heals by itself, and the call has no better place), and
/// with every route out of quota, it is answered from the first one's
/// breaker. An empty list gives route 0.
pub fn choose<F>(
    routes: &[RouteKey],
    quota: &mut QuotaBreaker<F>,
    mut outage: Option<&mut OutageBreaker<F>>,
    now_ms: f64,
) -> Choice {
    let mut out_of_quota = None;
    let mut down = None;
    for (index, route) in routes.iter().enumerate() {
        if let Some(key) = route.both().find(|&k| quota.is_open(k, now_ms)) {
            out_of_quota.get_or_insert((index, key));
        } else if outage
            .as_ref()
            .is_some_and(|o| o.is_open(route.model, now_ms))
        {
            down.get_or_insert(index);
        } else {
            let outage_probe = outage
                .as_mut()
                .is_some_and(|o| matches!(o.check(route.model, now_ms), Gate::Probe));
            let probe = take_probes(quota, route, now_ms);
            return Choice::Route {
                index,
                probe,
                outage_probe,
            };
        }
    }
    match (down, out_of_quota) {
        (Some(index), _) => {
            let probe = routes
                .get(index)
                .is_some_and(|route| take_probes(quota, route, now_ms));
            Choice::Route {
                index,
                probe,
                outage_probe: false,
            }
        }
        (None, Some((index, key))) => Choice::AllOpen { index, key },
        (None, None) => Choice::Route {
            index: 0,
            probe: false,
            outage_probe: false,
        },
    }
}

/// Asks both quota breakers of a route that none holds back; whether one
/// granted this call its probe.
fn take_probes<F>(quota: &mut QuotaBreaker<F>, route: &RouteKey, now_ms: f64) -> bool {
    route
        .both()
        .fold(false, |probe, key| match quota.check(key, now_ms) {
            Gate::Probe => true,
            Gate::Closed | Gate::Open { .. } => probe,
        })
}

/// Fallback routes' say before an attempt ([`super::attempt::BEFORE`]): the
/// draft goes on the first route from its own that neither breaker holds
/// back (see [`choose`]), taking the probes it is granted; with every route
/// out of quota, the breaker answers with the first one's stored failure,
/// sending nothing.
pub fn before<F: Clone>(
    quota: &mut QuotaBreaker<F>,
    outage: Option<&mut OutageBreaker<F>>,
    draft: &mut Draft<'_>,
) -> Option<Plan<F>> {
    let rest = draft.keys.get(draft.from..).unwrap_or_default();
    match choose(rest, quota, outage, draft.now_ms) {
        Choice::Route {
            index,
            probe,
            outage_probe,
        } => {
            draft.on(draft.from + index);
            draft.probe = probe;
            draft.outage_probe = outage_probe;
        }
        Choice::AllOpen { index, key } => {
            let route = draft.from + index;
            if let Some(failure) = quota.stored(key) {
                let failure = failure.clone();
                return Some(Plan::Replay { route, failure });
            }
            // Nothing stored (cannot happen for an open key): send.
            draft.on(route);
        }
    }
    None
}

/// The probes an attempt on `keys` took ([`before`]) when it is not sent
/// after all (a later stage held it, or it was cancelled): each goes to
/// whoever asks next.
pub fn unprobe<F>(
    quota: &mut QuotaBreaker<F>,
    outage: Option<&mut OutageBreaker<F>>,
    keys: &RouteKey,
    probe: bool,
    outage_probe: bool,
    now_ms: f64,
) {
    if probe {
        for k in keys.both() {
            quota.release(k, now_ms);
        }
    }
    if let (true, Some(outage)) = (outage_probe, outage) {
        outage.release(keys.model, now_ms);
    }
}

/// What an exhausted quota covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaScope {
    /// The whole account or project: another model does not help, another
    /// key or provider does.
    Account,
    /// One model: a route to another model on the same key still runs.
    Model,
}

/// Whose quota a `quota_exhausted` answer reports, per provider:
///
/// - Gemini: per model. Its quotas are per project *per model*
///   (`GenerateRequestsPerDayPerProjectPerModel`, with the model in
///   `quotaDimensions`), and a free tier without a model says `limit: 0`
///   for that model only.
/// - Everyone else: the account. OpenAI's `insufficient_quota` and spend
///   limits are per organization or project (its rate limits are per model,
///   but those are `rate_limit`); Anthropic's credit balance and workspace
///   spend limits, OpenRouter's credits (402) and DeepSeek's balance are
///   account-wide; an unknown provider is treated the same, the cautious
///   choice (one probe per cooldown rather than one call per model).
pub fn quota_scope(c: &Classification) -> QuotaScope {
    match c.provider {
        Provider::Gemini => QuotaScope::Model,
        _ => QuotaScope::Account,
    }
}

/// A set of kinds (the `failoverOn` option).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KindSet(u32);

impl KindSet {
    /// The set of `kinds`.
    pub fn of(kinds: &[Kind]) -> Self {
        KindSet(kinds.iter().fold(0, |bits, &k| bits | Self::bit(k)))
    }

    fn bit(kind: Kind) -> u32 {
        1u32.checked_shl(kind as u32).unwrap_or(0)
    }

    /// Whether `kind` is in the set.
    pub fn contains(self, kind: Kind) -> bool {
        self.0 & Self::bit(kind) != 0
    }
}

/// The kinds a call may fail over on: the ones that say something about
/// the route rather than the request.
pub const FAILOVER_KINDS: [Kind; 6] = [
    Kind::QuotaExhausted,
    Kind::RateLimit,
    Kind::Overloaded,
    Kind::ServerError,
    Kind::Timeout,
    Kind::Network,
];

/// `failoverOn` by default: only an exhausted quota, which no wait heals.
pub const DEFAULT_FAILOVER: [Kind; 1] = [Kind::QuotaExhausted];

/// Whether a call whose attempt on a route ended as `kind`, on which the
/// retry policy decided `decision`, moves on to the next route: when
/// `kind` is in `failover_on` and the route has nothing more to give (a
/// kind that is not retried, retries spent, or a server wait longer than
/// `maxRetryAfterMs`). A call that is still retrying stays, and a deadline
/// ends the call wherever it is.
pub fn moves_on(failover_on: KindSet, kind: Kind, decision: Decision) -> bool {
    failover_on.contains(kind)
        && matches!(
            decision,
            Decision::Stop(Stop::NotRetryable | Stop::RetriesExhausted | Stop::HintTooLong)
        )
}

/// Fallback routes' say on what next ([`super::next::ORDER`]): a kind the
/// caller fails over on (`failover_on`) that the policy stopped on moves the
/// call to the next route when it has somewhere to go (`elsewhere`: a later
/// route neither out of quota nor down, and a body that can be sent again).
pub fn next(failover_on: KindSet, kind: Kind, next: Next, elsewhere: bool) -> Next {
    match next {
        Next::Stop(stop) if elsewhere && moves_on(failover_on, kind, Decision::Stop(stop)) => {
            Next::FailOver
        }
        _ => next,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classified(provider: Provider) -> Classification {
        let mut c = Classification::without_response(Kind::QuotaExhausted, None, "t");
        c.provider = provider;
        c
    }

    #[test]
    fn a_quota_trips_the_account_or_the_model_by_provider() {
        let account = LimitKey::new("https://api.openai.com", Some("sk-a"));
        let route = RouteKey::new(account, Some("gpt-4o"));
        assert_ne!(route.model, route.account);
        for provider in Provider::ALL {
            let want = if provider == Provider::Gemini {
                route.model
            } else {
                route.account
            };
            assert_eq!(route.quota_key(&classified(provider)), want, "{provider:?}");
        }
        let unknown_model = RouteKey::from(account);
        assert_eq!(unknown_model.model, account);
        assert_eq!(
            unknown_model.quota_key(&classified(Provider::Gemini)),
            account
        );
        assert_eq!(unknown_model.both().count(), 1);
        assert_eq!(route.both().collect::<Vec<_>>(), [account, route.model]);
    }

    fn keys() -> [RouteKey; 3] {
        ["primary", "backup", "last"]
            .map(|k| RouteKey::from(LimitKey::new("https://api.openai.com", Some(k))))
    }

    fn route(index: usize, probe: bool) -> Choice {
        Choice::Route {
            index,
            probe,
            outage_probe: false,
        }
    }

    fn quota() -> QuotaBreaker<()> {
        QuotaBreaker::new(crate::limits::breaker::Rule::quota(1_000.0))
    }

    #[test]
    fn the_first_closed_route_wins() {
        let routes = keys();
        let mut b = quota();
        assert_eq!(choose(&routes, &mut b, None, 0.0), route(0, false));
        b.trip(routes[0].account, Some(()), true, 0.0);
        assert_eq!(choose(&routes, &mut b, None, 10.0), route(1, false));
        b.trip(routes[1].account, Some(()), true, 0.0);
        assert_eq!(choose(&routes, &mut b, None, 10.0), route(2, false));
    }

    #[test]
    fn all_out_of_quota_is_answered_from_the_first_breaker() {
        let routes = keys();
        let mut b = quota();
        for r in routes {
            b.trip(r.account, Some(()), true, 0.0);
        }
        let all_open = Choice::AllOpen {
            index: 0,
            key: routes[0].account,
        };
        assert_eq!(choose(&routes, &mut b, None, 10.0), all_open);
        assert_eq!(choose(&[], &mut b, None, 10.0), route(0, false));
    }

    #[test]
    fn a_probe_on_an_earlier_route_is_preferred_and_granted_once() {
        let routes = keys();
        let mut b = quota();
        b.trip(routes[0].account, Some(()), true, 0.0);
        b.trip(routes[1].account, Some(()), true, 500.0);
        // Route 0 cooled down first: its probe goes ahead of closed route 2.
        assert_eq!(choose(&routes, &mut b, None, 1_000.0), route(0, true));
        // The next caller must not probe route 0 again, nor take route 1's
        // probe before it is due.
        assert_eq!(choose(&routes, &mut b, None, 1_000.0), route(2, false));
        assert_eq!(choose(&routes, &mut b, None, 1_500.0), route(1, true));
        assert_eq!(choose(&routes, &mut b, None, 1_500.0), route(2, false));
        b.close(routes[0].account);
        assert_eq!(choose(&routes, &mut b, None, 1_501.0), route(0, false));
    }

    #[test]
    fn a_model_route_runs_when_only_a_model_is_out_of_quota() {
        let account = LimitKey::new("https://generativelanguage.googleapis.com", Some("AIza"));
        let routes = [
            RouteKey::new(account, Some("gemini-2.5-pro")),
            RouteKey::new(account, Some("gemini-2.5-flash")),
        ];
        let mut b = quota();
        b.trip(routes[0].model, Some(()), true, 0.0);
        assert_eq!(choose(&routes, &mut b, None, 1.0), route(1, false));
        // The account itself out of quota: no model helps.
        b.trip(account, Some(()), true, 0.0);
        let all_open = Choice::AllOpen {
            index: 0,
            key: account,
        };
        assert_eq!(choose(&routes, &mut b, None, 1.0), all_open);
    }

    #[test]
    fn a_route_that_is_down_is_skipped_only_for_one_that_can_go() {
        use crate::limits::breaker::Rule;
        use crate::limits::outage::OutageSettings;
        let routes = keys();
        let mut b = quota();
        let mut o = OutageBreaker::new(Rule::outage(OutageSettings {
            failures: 1,
            cooldown_ms: 1_000.0,
        }));
        o.trip(routes[0].model, None, false, 0.0);
        assert_eq!(choose(&routes, &mut b, Some(&mut o), 1.0), route(1, false));
        // Route 1 out of quota, route 2 down too: the first route that is
        // down takes the call.
        b.trip(routes[1].account, Some(()), true, 0.0);
        o.trip(routes[2].model, None, false, 0.0);
        assert_eq!(choose(&routes, &mut b, Some(&mut o), 1.0), route(0, false));
        // Cooled down: route 0's probe.
        let probe = Choice::Route {
            index: 0,
            probe: false,
            outage_probe: true,
        };
        assert_eq!(choose(&routes, &mut b, Some(&mut o), 1_000.0), probe);
        // The quota probe of a route skipped as down is not taken.
        let mut b = quota();
        let mut o = OutageBreaker::new(Rule::outage(OutageSettings {
            failures: 1,
            cooldown_ms: 5_000.0,
        }));
        b.trip(routes[0].account, Some(()), true, 0.0);
        o.trip(routes[0].model, None, false, 0.0);
        assert_eq!(
            choose(&routes, &mut b, Some(&mut o), 1_000.0),
            route(1, false)
        );
        assert!(
            !b.is_open(routes[0].account, 1_000.0),
            "its probe is still due"
        );
    }

    #[test]
    fn a_call_moves_on_only_when_the_route_has_nothing_more_to_give() {
        let default = KindSet::of(&DEFAULT_FAILOVER);
        let stop = Decision::Stop;
        assert!(moves_on(
            default,
            Kind::QuotaExhausted,
            stop(Stop::NotRetryable)
        ));
        assert!(!moves_on(
            default,
            Kind::RateLimit,
            stop(Stop::RetriesExhausted)
        ));
        let wide = KindSet::of(&FAILOVER_KINDS);
        for decision in [stop(Stop::RetriesExhausted), stop(Stop::HintTooLong)] {
            assert!(moves_on(wide, Kind::RateLimit, decision), "{decision:?}");
            assert!(moves_on(wide, Kind::Overloaded, decision), "{decision:?}");
        }
        let retry = Decision::Retry { delay_ms: 10 };
        assert!(
            !moves_on(wide, Kind::RateLimit, retry),
            "still retrying here"
        );
        assert!(!moves_on(wide, Kind::Timeout, stop(Stop::Deadline)));
        assert!(!moves_on(wide, Kind::Auth, stop(Stop::NotRetryable)));
        assert!(!moves_on(
            KindSet::default(),
            Kind::QuotaExhausted,
            stop(Stop::NotRetryable)
        ));
        assert!(wide.contains(Kind::Network) && !wide.contains(Kind::Ok));
    }
}

//! A circuit breaker for exhausted quota, per [`LimitKey`]: once a key's
//! account is out of money, further calls fail at once with the same
//! failure and no network call, until a single probe after a cooldown shows
//! the quota is back. Each probe that finds the quota still gone doubles
//! the cooldown (up to [`MAX_GROWN_COOLDOWN_MS`]): an account left empty
//! over a weekend costs a probe an hour, not one every five minutes.
//!
//! One opening is one incident: [`QuotaBreaker::trip`] says whether a trip
//! opened the breaker ([`Opening::Opened`], the one failure to alert on),
//! re-opened it after a failed probe, or found it open already.

use serde::Serialize;

use crate::limits::key::{Idle, KeyMap, LimitKey};

/// Whether a header of a quota failure is carried by the breaker's replays
/// of it: what the caller needs (the content type, the rate-limit and
/// request-id headers), never cookies or anything else that belongs to the
/// caller who tripped it.
pub fn replayed_header(name: &str) -> bool {
    const EXACT: [&str; 6] = [
        "content-type",
        "retry-after",
        "retry-after-ms",
        "x-request-id",
        "request-id",
        "apim-request-id",
    ];
    const PREFIXES: [&str; 2] = ["x-ratelimit-", "anthropic-ratelimit-"];
    EXACT.iter().any(|n| name.eq_ignore_ascii_case(n))
        || PREFIXES.iter().any(|p| {
            name.get(..p.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(p))
        })
}

/// How long a tripped breaker stays open before one probe may go, ms (5 min).
pub const DEFAULT_COOLDOWN_MS: f64 = 300_000.0;

/// The longest a cooldown grows to by failed probes, ms (1 h); a configured
/// cooldown longer than this is kept as it is.
pub const MAX_GROWN_COOLDOWN_MS: f64 = 3_600_000.0;

/// What [`QuotaBreaker::trip`] did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Opening {
    /// The breaker was closed: a new incident. The next probe may go at
    /// `retry_at_ms`.
    Opened {
        /// When the first probe may go, ms since the epoch.
        retry_at_ms: f64,
    },
    /// Its probe found the quota still gone: the same incident, open for a
    /// longer cooldown.
    Reopened {
        /// When the next probe may go, ms since the epoch.
        retry_at_ms: f64,
    },
    /// It was open already: a call sent before it tripped came back with
    /// the same failure.
    AlreadyOpen,
}

impl Opening {
    /// When the next probe may go, if the trip changed the breaker.
    pub fn retry_at_ms(self) -> Option<f64> {
        match self {
            Opening::Opened { retry_at_ms } | Opening::Reopened { retry_at_ms } => {
                Some(retry_at_ms)
            }
            Opening::AlreadyOpen => None,
        }
    }
}

/// What [`QuotaBreaker::check`] says about a call.
#[derive(Debug, PartialEq)]
pub enum Gate<'a, F> {
    /// No known quota problem: send.
    Closed,
    /// The quota is exhausted: fail at once with `failure`, sending nothing.
    Open {
        /// The failure that tripped the breaker.
        failure: &'a F,
        /// When the next probe may go, ms since the epoch.
        retry_at_ms: f64,
    },
    /// The cooldown is over and this caller is the probe: send, then report
    /// the result with `record_success`, `trip` or `probe_failed_otherwise`.
    Probe,
}

/// A tripped key: what tripped it, when, and whether a probe is out.
#[derive(Debug)]
struct Tripped<F> {
    failure: F,
    opened_at_ms: f64,
    retry_at_ms: f64,
    trips: u32,
    probing: bool,
}

impl<F> Idle for Tripped<F> {
    /// Due for a probe a whole cooldown ago (any probe sent is presumed
    /// lost by then): forgetting the key only means the next call goes out
    /// as its probe would have.
    fn idle(&self, now_ms: f64) -> bool {
        let cooldown = self.retry_at_ms - self.opened_at_ms;
        now_ms >= self.retry_at_ms + cooldown
    }
}

/// Quota breakers for every key; a key that never tripped is closed.
#[derive(Debug)]
pub struct QuotaBreaker<F> {
    cooldown_ms: f64,
    open: KeyMap<Tripped<F>>,
}

impl<F> Default for QuotaBreaker<F> {
    fn default() -> Self {
        QuotaBreaker::new(DEFAULT_COOLDOWN_MS)
    }
}

impl<F> QuotaBreaker<F> {
    /// Keys held (never more than [`crate::limits::key::DEFAULT_MAX_KEYS`]).
    pub fn keys(&self) -> usize {
        self.open.len()
    }

    /// A breaker whose trips last `cooldown_ms`. NaN means the default;
    /// negatives mean 0 (probe on the next call); infinity means only
    /// [`reset`](Self::reset) closes a tripped key.
    pub fn new(cooldown_ms: f64) -> Self {
        let cooldown_ms = if cooldown_ms.is_nan() {
            DEFAULT_COOLDOWN_MS
        } else {
            cooldown_ms.max(0.0)
        };
        QuotaBreaker {
            cooldown_ms,
            open: KeyMap::default(),
        }
    }

    /// The cooldown after `trips` trips in a row: the configured one,
    /// doubled for each failed probe, at most [`MAX_GROWN_COOLDOWN_MS`] (or
    /// the configured one, if longer).
    fn cooldown(&self, trips: u32) -> f64 {
        let doublings = trips.saturating_sub(1).min(32) as i32;
        let grown = self.cooldown_ms * 2f64.powi(doublings);
        grown.min(self.cooldown_ms.max(MAX_GROWN_COOLDOWN_MS))
    }

    /// Whether `key` is open at `now_ms` with no probe due: what
    /// [`check`](Self::check) would answer `Open`, asked without granting a
    /// probe.
    pub fn is_open(&self, key: LimitKey, now_ms: f64) -> bool {
        let now_ms = sane(now_ms);
        self.open.get(&key).is_some_and(|t| now_ms < t.retry_at_ms)
    }

    /// Whether a call to `key` at `now_ms` may go. When the cooldown is over,
    /// the first caller gets [`Gate::Probe`] and a new cooldown starts, so the
    /// others keep seeing `Open` until the probe reports; a probe that never
    /// reports is presumed lost, and the next one goes a cooldown later.
    pub fn check(&mut self, key: LimitKey, now_ms: f64) -> Gate<'_, F> {
        let now_ms = sane(now_ms);
        let Some(trips) = self.open.get(&key).map(|t| t.trips) else {
            return Gate::Closed;
        };
        let cooldown_ms = self.cooldown(trips);
        let Some(t) = self.open.get_mut(&key) else {
            return Gate::Closed;
        };
        if now_ms >= t.retry_at_ms {
            t.probing = true;
            t.retry_at_ms = now_ms + cooldown_ms;
            return Gate::Probe;
        }
        Gate::Open {
            failure: &t.failure,
            retry_at_ms: t.retry_at_ms,
        }
    }

    /// The failure stored for an open `key`, without asking for a probe.
    pub fn stored(&self, key: LimitKey) -> Option<&F> {
        self.open.get(&key).map(|t| &t.failure)
    }

    /// Opens (or, after a probe, re-opens) the breaker for `key` because a
    /// call failed with exhausted quota, for a cooldown from `now_ms`: the
    /// configured one when it opens, doubled for each failed probe after.
    ///
    /// A key that is already open (and not probing) stays as it is: the
    /// other calls that were in flight when it tripped are the same incident.
    pub fn trip(&mut self, key: LimitKey, failure: F, now_ms: f64) -> Opening {
        let now_ms = sane(now_ms);
        let trips = match self.open.get(&key) {
            Some(t) if !t.probing => return Opening::AlreadyOpen,
            Some(t) => t.trips.saturating_add(1),
            None => 1,
        };
        let retry_at_ms = now_ms + self.cooldown(trips);
        let tripped = Tripped {
            failure,
            opened_at_ms: now_ms,
            retry_at_ms,
            trips,
            probing: false,
        };
        self.open.insert(key, tripped, now_ms);
        if trips == 1 {
            Opening::Opened { retry_at_ms }
        } else {
            Opening::Reopened { retry_at_ms }
        }
    }

    /// Opens the breaker for `key` because another instance tripped it (a
    /// coordinator said so), until `retry_at_ms`. A breaker open here
    /// already keeps its own state.
    pub fn adopt(&mut self, key: LimitKey, failure: F, retry_at_ms: f64, now_ms: f64) {
        let now_ms = sane(now_ms);
        if self.open.get(&key).is_some() {
            return;
        }
        let tripped = Tripped {
            failure,
            opened_at_ms: now_ms,
            retry_at_ms: sane(retry_at_ms),
            trips: 1,
            probing: false,
        };
        self.open.insert(key, tripped, now_ms);
    }

    /// A call to `key` succeeded (the probe or any other): the quota is
    /// back. Returns whether the breaker was open.
    pub fn record_success(&mut self, key: LimitKey) -> bool {
        let was_open = self.open.get(&key).is_some();
        self.open.remove(&key);
        was_open
    }

    /// The probe for `key` failed for another reason (network, overload, a
    /// rate limit), which says nothing about the quota. The breaker stays
    /// open and the next call becomes a new probe at once, so there is still
    /// at most one probe in flight.
    pub fn probe_failed_otherwise(&mut self, key: LimitKey, now_ms: f64) {
        if let Some(t) = self.open.get_mut(&key).filter(|t| t.probing) {
            t.probing = false;
            t.retry_at_ms = sane(now_ms);
        }
    }

    /// Closes the breaker for one key, or for every key with `None`.
    pub fn reset(&mut self, key: Option<LimitKey>) {
        match key {
            Some(key) => {
                self.open.remove(&key);
            }
            None => self.open.clear(),
        }
    }

    /// Every tripped key, sorted by key, for a health endpoint.
    pub fn states(&self, now_ms: f64) -> Vec<BreakerState> {
        let now_ms = sane(now_ms);
        // A KeyMap iterates in key order.
        self.open
            .iter()
            .map(|(key, t)| {
                let half_open = t.probing || now_ms >= t.retry_at_ms;
                BreakerState {
                    key: key.short(),
                    kind: "quota",
                    state: if half_open { "half_open" } else { "open" },
                    opened_at_ms: t.opened_at_ms,
                    retry_at_ms: t.retry_at_ms,
                    trips: t.trips,
                }
            })
            .collect()
    }
}

/// One tripped key as a health endpoint reports it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BreakerState {
    /// [`LimitKey::short`]: never the API key itself.
    pub key: String,
    /// `"quota"` (answered from the breaker) or `"outage"` (the route is
    /// skipped while another can go).
    pub kind: &'static str,
    /// `"open"` while calls fail at once; `"half_open"` once the cooldown is
    /// over and a probe is in flight or will be the next call.
    pub state: &'static str,
    /// When the breaker last tripped, ms since the epoch.
    pub opened_at_ms: f64,
    /// When the next probe may go, ms since the epoch.
    pub retry_at_ms: f64,
    /// Trips in a row since the key was last closed (1 for an outage).
    pub trips: u32,
}

/// Times that are NaN or negative count as 0, the earliest possible.
fn sane(now_ms: f64) -> f64 {
    if now_ms.is_nan() {
        0.0
    } else {
        now_ms.max(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COOL: f64 = 1_000.0;

    fn key(name: &str) -> LimitKey {
        LimitKey::new("https://api.openai.com", Some(name))
    }

    /// What `check` says, in words: "closed", "probe" or "open <failure> until <ms>".
    fn check(b: &mut QuotaBreaker<&str>, key: LimitKey, now_ms: f64) -> String {
        match b.check(key, now_ms) {
            Gate::Closed => "closed".into(),
            Gate::Probe => "probe".into(),
            Gate::Open {
                failure,
                retry_at_ms,
            } => format!("open {failure} until {retry_at_ms}"),
        }
    }

    #[test]
    fn a_trip_fails_calls_with_the_same_failure_until_the_cooldown() {
        let (mut b, a) = (QuotaBreaker::new(COOL), key("a"));
        assert_eq!(check(&mut b, a, 0.0), "closed");
        b.trip(a, "insufficient_quota", 100.0);
        let stored = "open insufficient_quota until 1100";
        assert_eq!(check(&mut b, a, 100.0), stored);
        assert_eq!(check(&mut b, a, 1_099.0), stored);
        // Keys are independent.
        assert_eq!(check(&mut b, key("b"), 500.0), "closed");
    }

    #[test]
    fn after_the_cooldown_exactly_one_probe_goes() {
        let (mut b, a) = (QuotaBreaker::new(COOL), key("a"));
        b.trip(a, "quota", 0.0);
        assert_eq!(check(&mut b, a, 1_000.0), "probe");
        assert_eq!(check(&mut b, a, 1_000.0), "open quota until 2000");
        assert_eq!(check(&mut b, a, 1_500.0), "open quota until 2000");
        // A probe that never reports is presumed lost a cooldown later.
        assert_eq!(check(&mut b, a, 2_000.0), "probe");
    }

    #[test]
    fn a_probe_success_closes_and_a_quota_failure_reopens_for_longer() {
        let (mut b, a) = (QuotaBreaker::new(COOL), key("a"));
        let opened = Opening::Opened {
            retry_at_ms: 1_000.0,
        };
        assert_eq!(b.trip(a, "first", 0.0), opened);
        assert_eq!(b.trip(a, "in flight", 10.0), Opening::AlreadyOpen);
        assert_eq!(check(&mut b, a, 1_000.0), "probe");
        // The probe finds the quota still gone: the same incident, a cooldown twice as long.
        let reopened = Opening::Reopened {
            retry_at_ms: 3_200.0,
        };
        assert_eq!(b.trip(a, "second", 1_200.0), reopened);
        assert_eq!(check(&mut b, a, 3_199.0), "open second until 3200");
        assert_eq!(b.states(3_199.0)[0].trips, 2);
        assert_eq!(check(&mut b, a, 3_200.0), "probe");
        b.record_success(a);
        assert_eq!(check(&mut b, a, 3_201.0), "closed");
        assert!(b.states(3_201.0).is_empty());
        // Closed, the next trip is a new incident with the configured cooldown.
        let again = Opening::Opened {
            retry_at_ms: 5_000.0,
        };
        assert_eq!(b.trip(a, "third", 4_000.0), again);
    }

    #[test]
    fn the_cooldown_doubles_per_failed_probe_up_to_an_hour() {
        let (mut b, a) = (QuotaBreaker::new(DEFAULT_COOLDOWN_MS), key("a"));
        let mut now = 0.0;
        let mut cooldowns = Vec::new();
        b.trip(a, "q", now);
        for _ in 0..6 {
            let retry_at = b.states(now)[0].retry_at_ms;
            cooldowns.push((retry_at - now) / 60_000.0);
            now = retry_at;
            assert_eq!(check(&mut b, a, now), "probe");
            b.trip(a, "q", now);
        }
        assert_eq!(cooldowns, [5.0, 10.0, 20.0, 40.0, 60.0, 60.0], "minutes");
        // A lost probe waits the grown cooldown too.
        let due = b.states(now)[0].retry_at_ms;
        assert_eq!(check(&mut b, a, due), "probe");
        assert!(b.is_open(a, due + 3_599_999.0) && !b.is_open(a, due + 3_600_000.0));
        // A configured cooldown over an hour is kept, not cut.
        let mut long = QuotaBreaker::new(7_200_000.0);
        long.trip(a, "q", 0.0);
        assert_eq!(check(&mut long, a, 7_200_000.0), "probe");
        let reopened = Opening::Reopened {
            retry_at_ms: 14_400_000.0,
        };
        assert_eq!(long.trip(a, "q", 7_200_000.0), reopened);
    }

    #[test]
    fn is_open_asks_without_taking_the_probe() {
        let (mut b, a) = (QuotaBreaker::new(COOL), key("a"));
        assert!(!b.is_open(a, 0.0));
        b.trip(a, "q", 0.0);
        assert!(b.is_open(a, 999.0));
        assert!(!b.is_open(a, 1_000.0), "a probe is due");
        assert!(!b.is_open(a, 1_000.0), "and asking twice did not take it");
        assert_eq!(check(&mut b, a, 1_000.0), "probe");
        assert!(b.is_open(a, 1_000.0), "the probe is out");
    }

    #[test]
    fn a_probe_failing_otherwise_hands_over_to_the_next_call() {
        let (mut b, a) = (QuotaBreaker::new(COOL), key("a"));
        b.trip(a, "quota", 0.0);
        b.probe_failed_otherwise(a, 500.0);
        assert_eq!(
            check(&mut b, a, 500.0),
            "open quota until 1000",
            "no probe was out"
        );
        assert_eq!(check(&mut b, a, 1_000.0), "probe");
        b.probe_failed_otherwise(a, 1_300.0);
        assert_eq!(check(&mut b, a, 1_300.0), "probe");
        assert_eq!(check(&mut b, a, 1_300.0), "open quota until 2300");
    }

    #[test]
    fn reset_by_hand() {
        let (mut b, a, c) = (QuotaBreaker::new(COOL), key("a"), key("c"));
        b.trip(a, "quota", 0.0);
        b.trip(c, "quota", 0.0);
        b.reset(Some(a));
        assert_eq!(check(&mut b, a, 1.0), "closed");
        assert_eq!(check(&mut b, c, 1.0), "open quota until 1000");
        b.reset(None);
        assert_eq!(check(&mut b, c, 1.0), "closed");
    }

    #[test]
    fn states_for_a_health_endpoint() {
        let (mut b, a) = (QuotaBreaker::new(COOL), key("sk-secret"));
        b.trip(a, (), 10.0);
        assert_eq!(b.states(1_010.0)[0].state, "half_open");
        let json = serde_json::to_value(b.states(20.0)).unwrap();
        let expected = serde_json::json!([{
            "key": a.short(), "kind": "quota", "state": "open", "openedAtMs": 10.0, "retryAtMs": 1_010.0, "trips": 1
        }]);
        assert_eq!(json, expected);
        assert!(!json.to_string().contains("sk-secret"));
    }

    #[test]
    fn replays_carry_only_what_the_caller_needs() {
        for kept in [
            "content-type",
            "Retry-After",
            "retry-after-ms",
            "x-request-id",
            "request-id",
            "x-ratelimit-remaining-requests",
            "anthropic-ratelimit-tokens-reset",
        ] {
            assert!(replayed_header(kept), "{kept}");
        }
        for dropped in [
            "set-cookie",
            "openai-organization",
            "openai-project",
            "cf-ray",
            "x-ratelimit",
            "authorization",
            "content-length",
            "",
        ] {
            assert!(!replayed_header(dropped), "{dropped}");
        }
    }

    #[test]
    fn odd_times_and_cooldowns() {
        let a = key("a");
        let mut b = QuotaBreaker::new(f64::NAN);
        b.trip(a, "q", f64::NAN);
        assert_eq!(
            check(&mut b, a, -5.0),
            "open q until 300000",
            "NaN: default"
        );
        let mut b = QuotaBreaker::new(-1.0);
        b.trip(a, "q", 50.0);
        assert_eq!(check(&mut b, a, 50.0), "probe");
        let mut b = QuotaBreaker::new(f64::INFINITY);
        b.trip(a, "q", 50.0);
        assert_eq!(check(&mut b, a, 1e300), "open q until inf");
    }
}

//! The quota trip rule: once a key's account is out of money, further
//! calls fail at once with the same failure and no network call, until a
//! single probe after a cooldown shows the quota is back. The first
//! exhausted-quota failure opens the key, and each probe that finds the
//! quota still gone doubles the cooldown (up to [`MAX_GROWN_COOLDOWN_MS`]):
//! an account left empty over a weekend costs a probe an hour, not one
//! every five minutes.
//!
//! A quota failure while a probe is out answers it, whoever sent it: the
//! account is still empty (the caller passes `probe: true` to
//! [`Breaker::trip`](super::Breaker::trip)).

use super::machine::{Opening, Rule};
use super::QuotaBreaker;
use crate::classify::kind::Kind;
use crate::limits::attempt::Answered;
use crate::limits::key::LimitKey;
use crate::limits::shared::Change;
use crate::limits::{BreakerKind, Heard, Transition};

/// How long a tripped breaker stays open before one probe may go, ms (5 min).
pub const DEFAULT_COOLDOWN_MS: f64 = 300_000.0;

/// The longest a cooldown grows to by failed probes, ms (1 h); a configured
/// cooldown longer than this is kept as it is.
pub const MAX_GROWN_COOLDOWN_MS: f64 = 3_600_000.0;

impl Rule {
    /// The quota rule, its trips lasting `cooldown_ms`. NaN means the
    /// default; negatives mean 0 (probe on the next call); infinity means
    /// only [`reset`](super::Breaker::reset) closes a tripped key.
    pub fn quota(cooldown_ms: f64) -> Rule {
        let cooldown_ms = if cooldown_ms.is_nan() {
            DEFAULT_COOLDOWN_MS
        } else {
            cooldown_ms.max(0.0)
        };
        Rule {
            kind: "quota",
            failures: 1,
            cooldown_ms,
            grows_to_ms: Some(MAX_GROWN_COOLDOWN_MS),
        }
    }
}

/// The quota breaker's say after an attempt's answer
/// ([`crate::limits::attempt::AFTER`]): a quota failure (with what to
/// replay) trips the route's account or model key (see
/// [`crate::limits::routes::quota_scope`]), and answers a probe out; a
/// success closes the route's keys; a probe that said nothing of the quota
/// goes to the next call. What other instances should hear of, and the
/// breakers that opened or closed, go in `heard`.
pub fn after<F: Clone>(
    breaker: &mut QuotaBreaker<F>,
    answer: &Answered<'_, F>,
    heard: &mut Heard<F>,
) {
    let (pass, c, now_ms) = (answer.pass, answer.classification, answer.now_ms);
    let quota_key = pass.keys.quota_key(c);
    match (c.kind, answer.failure) {
        (Kind::QuotaExhausted, Some(failure)) => {
            // Any quota failure answers a probe out: the account is still empty.
            let opening = breaker.trip(quota_key, Some(failure.clone()), true, now_ms);
            if let Some(retry_at_ms) = opening.retry_at_ms() {
                heard.changes.push(Change::Tripped {
                    key: quota_key,
                    failure: failure.clone(),
                    retry_at_ms,
                });
            }
            if let Opening::Opened { retry_at_ms } = opening {
                heard
                    .transitions
                    .push(transition(quota_key, Some(retry_at_ms)));
            }
            // A probe on the route's other key learned nothing of it.
            if pass.probe {
                for key in pass.keys.both().filter(|&k| k != quota_key) {
                    breaker.release(key, now_ms);
                }
            }
        }
        (Kind::Ok, _) => {
            for key in pass.keys.both() {
                if breaker.close(key) {
                    heard.changes.push(Change::Closed { key });
                    heard.transitions.push(transition(key, None));
                }
            }
        }
        _ if pass.probe => {
            for key in pass.keys.both() {
                breaker.release(key, now_ms);
            }
        }
        _ => {}
    }
}

fn transition(key: LimitKey, opened_until_ms: Option<f64>) -> Transition {
    Transition {
        breaker: BreakerKind::Quota,
        key,
        opened_until_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Breaker, Gate, Opening};
    use super::*;
    use crate::limits::key::LimitKey;

    type QuotaBreaker<F> = Breaker<F>;

    /// A quota breaker as `Limiters` builds it.
    fn quota<F>(cooldown_ms: f64) -> QuotaBreaker<F> {
        Breaker::new(Rule::quota(cooldown_ms))
    }

    /// A quota failure: it answers any probe out.
    fn trip<F>(b: &mut QuotaBreaker<F>, key: LimitKey, failure: F, now_ms: f64) -> Opening {
        b.trip(key, Some(failure), true, now_ms)
    }

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
            } => format!("open {} until {retry_at_ms}", failure.unwrap_or(&"-")),
        }
    }

    #[test]
    fn a_trip_fails_calls_with_the_same_failure_until_the_cooldown() {
        let (mut b, a) = (quota(COOL), key("a"));
        assert_eq!(check(&mut b, a, 0.0), "closed");
        trip(&mut b, a, "insufficient_quota", 100.0);
        let stored = "open insufficient_quota until 1100";
        assert_eq!(check(&mut b, a, 100.0), stored);
        assert_eq!(check(&mut b, a, 1_099.0), stored);
        // Keys are independent.
        assert_eq!(check(&mut b, key("b"), 500.0), "closed");
    }

    #[test]
    fn after_the_cooldown_exactly_one_probe_goes() {
        let (mut b, a) = (quota(COOL), key("a"));
        trip(&mut b, a, "quota", 0.0);
        assert_eq!(check(&mut b, a, 1_000.0), "probe");
        assert_eq!(check(&mut b, a, 1_000.0), "open quota until 2000");
        assert_eq!(check(&mut b, a, 1_500.0), "open quota until 2000");
        // A probe that never reports is presumed lost a cooldown later.
        assert_eq!(check(&mut b, a, 2_000.0), "probe");
    }

    #[test]
    fn a_probe_success_closes_and_a_quota_failure_reopens_for_longer() {
        let (mut b, a) = (quota(COOL), key("a"));
        let opened = Opening::Opened {
            retry_at_ms: 1_000.0,
        };
        assert_eq!(trip(&mut b, a, "first", 0.0), opened);
        assert_eq!(trip(&mut b, a, "in flight", 10.0), Opening::AlreadyOpen);
        assert_eq!(check(&mut b, a, 1_000.0), "probe");
        // The probe finds the quota still gone: the same incident, a cooldown twice as long.
        let reopened = Opening::Reopened {
            retry_at_ms: 3_200.0,
        };
        assert_eq!(trip(&mut b, a, "second", 1_200.0), reopened);
        assert_eq!(check(&mut b, a, 3_199.0), "open second until 3200");
        assert_eq!(b.states(3_199.0)[0].trips, 2);
        assert_eq!(check(&mut b, a, 3_200.0), "probe");
        b.close(a);
        assert_eq!(check(&mut b, a, 3_201.0), "closed");
        assert!(b.states(3_201.0).is_empty());
        // Closed, the next trip is a new incident with the configured cooldown.
        let again = Opening::Opened {
            retry_at_ms: 5_000.0,
        };
        assert_eq!(trip(&mut b, a, "third", 4_000.0), again);
    }

    #[test]
    fn the_cooldown_doubles_per_failed_probe_up_to_an_hour() {
        let (mut b, a) = (quota(DEFAULT_COOLDOWN_MS), key("a"));
        let mut now = 0.0;
        let mut cooldowns = Vec::new();
        trip(&mut b, a, "q", now);
        for _ in 0..6 {
            let retry_at = b.states(now)[0].retry_at_ms;
            cooldowns.push((retry_at - now) / 60_000.0);
            now = retry_at;
            assert_eq!(check(&mut b, a, now), "probe");
            trip(&mut b, a, "q", now);
        }
        assert_eq!(cooldowns, [5.0, 10.0, 20.0, 40.0, 60.0, 60.0], "minutes");
        // A lost probe waits the grown cooldown too.
        let due = b.states(now)[0].retry_at_ms;
        assert_eq!(check(&mut b, a, due), "probe");
        assert!(b.is_open(a, due + 3_599_999.0) && !b.is_open(a, due + 3_600_000.0));
        // A configured cooldown over an hour is kept, not cut.
        let mut long = quota(7_200_000.0);
        trip(&mut long, a, "q", 0.0);
        assert_eq!(check(&mut long, a, 7_200_000.0), "probe");
        let reopened = Opening::Reopened {
            retry_at_ms: 14_400_000.0,
        };
        assert_eq!(trip(&mut long, a, "q", 7_200_000.0), reopened);
    }

    #[test]
    fn is_open_asks_without_taking_the_probe() {
        let (mut b, a) = (quota(COOL), key("a"));
        assert!(!b.is_open(a, 0.0));
        trip(&mut b, a, "q", 0.0);
        assert!(b.is_open(a, 999.0));
        assert!(!b.is_open(a, 1_000.0), "a probe is due");
        assert!(!b.is_open(a, 1_000.0), "and asking twice did not take it");
        assert_eq!(check(&mut b, a, 1_000.0), "probe");
        assert!(b.is_open(a, 1_000.0), "the probe is out");
    }

    #[test]
    fn a_probe_failing_otherwise_hands_over_to_the_next_call() {
        let (mut b, a) = (quota(COOL), key("a"));
        trip(&mut b, a, "quota", 0.0);
        b.release(a, 500.0);
        assert_eq!(
            check(&mut b, a, 500.0),
            "open quota until 1000",
            "no probe was out"
        );
        assert_eq!(check(&mut b, a, 1_000.0), "probe");
        b.release(a, 1_300.0);
        assert_eq!(check(&mut b, a, 1_300.0), "probe");
        assert_eq!(check(&mut b, a, 1_300.0), "open quota until 2300");
    }

    #[test]
    fn reset_by_hand() {
        let (mut b, a, c) = (quota(COOL), key("a"), key("c"));
        trip(&mut b, a, "quota", 0.0);
        trip(&mut b, c, "quota", 0.0);
        b.reset(Some(a));
        assert_eq!(check(&mut b, a, 1.0), "closed");
        assert_eq!(check(&mut b, c, 1.0), "open quota until 1000");
        b.reset(None);
        assert_eq!(check(&mut b, c, 1.0), "closed");
    }

    #[test]
    fn states_for_a_health_endpoint() {
        let (mut b, a) = (quota(COOL), key("sk-secret"));
        trip(&mut b, a, (), 10.0);
        assert_eq!(b.states(1_010.0)[0].state, "half_open");
        let json = serde_json::to_value(b.states(20.0)).unwrap();
        let expected = serde_json::json!([{
            "key": a.short(), "kind": "quota", "state": "open", "openedAtMs": 10.0, "retryAtMs": 1_010.0, "trips": 1
        }]);
        assert_eq!(json, expected);
        assert!(!json.to_string().contains("sk-secret"));
    }

    #[test]
    fn odd_times_and_cooldowns() {
        let a = key("a");
        let mut b = quota(f64::NAN);
        trip(&mut b, a, "q", f64::NAN);
        assert_eq!(
            check(&mut b, a, -5.0),
            "open q until 300000",
            "NaN: default"
        );
        let mut b = quota(-1.0);
        trip(&mut b, a, "q", 50.0);
        assert_eq!(check(&mut b, a, 50.0), "probe");
        let mut b = quota(f64::INFINITY);
        trip(&mut b, a, "q", 50.0);
        assert_eq!(check(&mut b, a, 1e300), "open q until inf");
    }
}

//! An outage breaker per route: after `failures` overload, server-error,
//! timeout or network failures in a row, a route is skipped for a cooldown
//! while another route can take its calls, then one probe shows whether it
//! is back. This is cockatiel's `ConsecutiveBreaker` and LiteLLM's
//! deployment cooldowns, as a trip rule of the same [`Breaker`](super::Breaker)
//! as the quota's: an outage heals by itself, so its cooldown never grows,
//! nothing is replayed, and with no other route the call is sent as usual
//! (the breaker then only reports).
//!
//! Any answer that shows the server up (a success, a rate limit, a
//! rejected request, an empty account) resets the count.

use super::machine::{Opening, Rule};
use super::OutageBreaker;
use crate::classify::kind::Kind;
use crate::limits::attempt::Answered;
use crate::limits::{BreakerKind, Heard, Transition};

/// Failures in a row that open the breaker by default.
pub const DEFAULT_FAILURES: u32 = 5;
/// How long an open breaker skips its route by default, ms.
pub const DEFAULT_COOLDOWN_MS: f64 = 30_000.0;

/// How the outage breaker is set up.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OutageSettings {
    /// Failures in a row that open it (at least 1).
    pub failures: u32,
    /// How long it stays open before a probe, ms.
    pub cooldown_ms: f64,
}

impl Default for OutageSettings {
    fn default() -> Self {
        OutageSettings {
            failures: DEFAULT_FAILURES,
            cooldown_ms: DEFAULT_COOLDOWN_MS,
        }
    }
}

/// Whether a kind of answer counts as the route being down.
pub fn is_outage(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::Overloaded | Kind::ServerError | Kind::Timeout | Kind::Network
    )
}

impl Rule {
    /// The outage rule as `settings` say; `failures` of 0 counts as 1, a NaN
    /// or negative cooldown as 0. Only the probe's own failure re-opens a
    /// key (pass `probe` to [`Breaker::trip`](super::Breaker::trip)).
    pub fn outage(settings: OutageSettings) -> Rule {
        let cooldown_ms = if settings.cooldown_ms.is_nan() {
            0.0
        } else {
            settings.cooldown_ms.max(0.0)
        };
        Rule {
            kind: "outage",
            failures: settings.failures.max(1),
            cooldown_ms,
            grows_to_ms: None,
        }
    }
}

/// The outage breaker's say after an attempt's answer
/// ([`crate::limits::attempt::AFTER`]): an outage counts towards opening
/// the route's model key (only the probe's own failure re-opens it), and
/// any other answer closes it. A transition, either way, goes in `heard`.
pub fn after<F>(breaker: &mut OutageBreaker<F>, answer: &Answered<'_, F>, heard: &mut Heard<F>) {
    let (pass, now_ms) = (answer.pass, answer.now_ms);
    let key = pass.keys.model;
    // Some(until): it opened (until Some) or closed (None).
    let change = if is_outage(answer.classification.kind) {
        match breaker.trip(key, None, pass.outage_probe, now_ms) {
            Opening::Opened { retry_at_ms } => Some(Some(retry_at_ms)),
            _ => None,
        }
    } else {
        breaker.close(key).then_some(None)
    };
    if let Some(opened_until_ms) = change {
        heard.transitions.push(Transition {
            breaker: BreakerKind::Outage,
            key,
            opened_until_ms,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Breaker, Gate, Opening};
    use super::*;
    use crate::limits::key::LimitKey;

    type OutageBreaker = Breaker<()>;

    /// The gate, without what it keeps (nothing): "closed", "open", "probe".
    fn check(b: &mut OutageBreaker, key: LimitKey, now_ms: f64) -> &'static str {
        match b.check(key, now_ms) {
            Gate::Closed => "closed",
            Gate::Open { .. } => "open",
            Gate::Probe => "probe",
        }
    }

    /// An outage answer on `key`; whether it opened the breaker, and until when.
    fn failed(b: &mut OutageBreaker, key: LimitKey, probe: bool, now_ms: f64) -> Option<f64> {
        match b.trip(key, None, probe, now_ms) {
            Opening::Opened { retry_at_ms } => Some(retry_at_ms),
            _ => None,
        }
    }

    fn key(name: &str) -> LimitKey {
        LimitKey::new("https://api.openai.com", Some(name))
    }

    fn breaker(failures: u32) -> OutageBreaker {
        Breaker::new(Rule::outage(OutageSettings {
            failures,
            cooldown_ms: 1_000.0,
        }))
    }

    #[test]
    fn it_opens_after_consecutive_failures_only() {
        let (mut b, a) = (breaker(3), key("a"));
        assert_eq!(failed(&mut b, a, false, 0.0), None);
        assert_eq!(failed(&mut b, a, false, 1.0), None);
        // A rate limit shows the server up: the count starts again.
        assert!(!b.close(a), "it was not open");
        assert_eq!(failed(&mut b, a, false, 2.0), None);
        assert_eq!(failed(&mut b, a, false, 3.0), None);
        assert_eq!(check(&mut b, a, 3.0), "closed");
        assert_eq!(failed(&mut b, a, false, 4.0), Some(1_004.0));
        assert_eq!(check(&mut b, a, 5.0), "open");
        assert_eq!(check(&mut b, key("b"), 5.0), "closed", "per key");
        // Calls in flight when it opened fail too: the same incident.
        assert_eq!(failed(&mut b, a, false, 6.0), None);
    }

    #[test]
    fn one_probe_after_the_cooldown_closes_or_reopens_it() {
        let (mut b, a) = (breaker(1), key("a"));
        failed(&mut b, a, false, 0.0);
        assert!(b.is_open(a, 999.0) && !b.is_open(a, 1_000.0));
        assert_eq!(check(&mut b, a, 1_000.0), "probe");
        assert_eq!(check(&mut b, a, 1_000.0), "open", "one probe at a time");
        // A call sent before it opened fails late: nothing changes.
        assert_eq!(failed(&mut b, a, false, 1_050.0), None);
        assert_eq!(check(&mut b, a, 1_050.0), "open");
        // The probe fails: open again, quietly.
        assert_eq!(failed(&mut b, a, true, 1_100.0), None);
        assert_eq!(check(&mut b, a, 2_099.0), "open");
        let state = &b.states(2_099.0)[0];
        let reported = (state.kind, state.state, state.opened_at_ms, state.trips);
        assert_eq!(
            reported,
            ("outage", "open", 1_100.0, 1),
            "one trip per incident"
        );
        assert_eq!(check(&mut b, a, 2_100.0), "probe");
        assert!(b.close(a), "it was open");
        assert_eq!(check(&mut b, a, 2_101.0), "closed");
        assert_eq!(b.keys(), 0, "a closed key holds nothing");
    }

    #[test]
    fn an_aborted_probe_hands_over_and_reset_closes_all() {
        let (mut b, a) = (breaker(1), key("a"));
        failed(&mut b, a, false, 0.0);
        assert_eq!(check(&mut b, a, 1_000.0), "probe");
        b.release(a, 1_050.0);
        assert_eq!(check(&mut b, a, 1_050.0), "probe");
        assert_eq!(b.states(1_050.0).len(), 1);
        b.reset(None);
        assert_eq!(check(&mut b, a, 1_050.0), "closed");
    }

    #[test]
    fn outage_kinds() {
        let down = [
            Kind::Overloaded,
            Kind::ServerError,
            Kind::Timeout,
            Kind::Network,
        ];
        for kind in Kind::ALL {
            assert_eq!(is_outage(kind), down.contains(&kind), "{kind:?}");
        }
    }
}

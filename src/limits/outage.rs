//! An outage breaker per route: after `failures` overload, server-error,
//! timeout or network failures in a row, a route is skipped for a cooldown
//! while another route can take its calls, then one probe shows whether it
//! is back. This is cockatiel's `ConsecutiveBreaker` and LiteLLM's
//! deployment cooldowns, kept apart from the quota breaker: an outage heals
//! by itself, so nothing is replayed, and with no other route the call is
//! sent as usual (the breaker then only reports).
//!
//! Any answer that shows the server up (a success, a rate limit, a
//! rejected request, an empty account) resets the count.

use crate::classify::kind::Kind;
use crate::limits::key::{Idle, KeyMap, LimitKey};

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

/// What [`OutageBreaker::check`] says about a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutageGate {
    /// Not known to be down: send.
    Closed,
    /// Down, cooling: skip it if another route can go.
    Open,
    /// The cooldown is over and this call is the probe.
    Probe,
}

/// What an answer did to a route's breaker.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OutageChange {
    /// It opened (a new incident) until `retry_at_ms`.
    Opened {
        /// When a probe may go, ms since the epoch.
        retry_at_ms: f64,
    },
    /// It closed: the route answered again.
    Closed,
}

#[derive(Debug, Default)]
struct Route {
    /// Failures in a row.
    failures: u32,
    /// When open: when a probe may go.
    retry_at_ms: Option<f64>,
    opened_at_ms: f64,
    probing: bool,
}

impl Idle for Route {
    fn idle(&self, now_ms: f64) -> bool {
        match self.retry_at_ms {
            // Cooled down a whole cooldown ago: a lost probe, forget it.
            Some(at) => now_ms >= at + (at - self.opened_at_ms),
            None => true,
        }
    }
}

/// Outage breakers for every route key; a key never seen is closed.
#[derive(Debug)]
pub struct OutageBreaker {
    settings: OutageSettings,
    routes: KeyMap<Route>,
}

impl OutageBreaker {
    /// A breaker as `settings` say; `failures` of 0 counts as 1, a NaN or
    /// negative cooldown as 0.
    pub fn new(settings: OutageSettings) -> Self {
        let cooldown_ms = if settings.cooldown_ms.is_nan() {
            0.0
        } else {
            settings.cooldown_ms.max(0.0)
        };
        OutageBreaker {
            settings: OutageSettings {
                failures: settings.failures.max(1),
                cooldown_ms,
            },
            routes: KeyMap::default(),
        }
    }

    /// Whether `key` is open with no probe due, asked without taking one.
    pub fn is_open(&self, key: LimitKey, now_ms: f64) -> bool {
        self.routes
            .get(&key)
            .and_then(|r| r.retry_at_ms)
            .is_some_and(|at| now_ms < at)
    }

    /// Whether a call may go to `key`: once the cooldown is over, the first
    /// caller is the probe and the others see `Open` until it reports (or,
    /// lost, a cooldown later).
    pub fn check(&mut self, key: LimitKey, now_ms: f64) -> OutageGate {
        let cooldown_ms = self.settings.cooldown_ms;
        let Some(route) = self.routes.get_mut(&key) else {
            return OutageGate::Closed;
        };
        match route.retry_at_ms {
            None => OutageGate::Closed,
            Some(at) if now_ms < at => OutageGate::Open,
            Some(_) => {
                route.probing = true;
                route.retry_at_ms = Some(now_ms + cooldown_ms);
                OutageGate::Probe
            }
        }
    }

    /// An attempt on `key` failed as an outage (`probe`: it was the
    /// breaker's probe). Returns `Opened` when this failure opened the
    /// breaker; a failed probe re-opens it quietly (the same incident), and
    /// failures of calls already in flight when it opened change nothing.
    pub fn failed(&mut self, key: LimitKey, probe: bool, now_ms: f64) -> Option<OutageChange> {
        let OutageSettings {
            failures,
            cooldown_ms,
        } = self.settings;
        let route = self.routes.entry_or_default(key, now_ms);
        match route.retry_at_ms {
            Some(_) if probe && route.probing => {
                route.probing = false;
                route.opened_at_ms = now_ms;
                route.retry_at_ms = Some(now_ms + cooldown_ms);
                None
            }
            Some(_) => None,
            None => {
                route.failures = route.failures.saturating_add(1);
                if route.failures < failures {
                    return None;
                }
                let retry_at_ms = now_ms + cooldown_ms;
                route.retry_at_ms = Some(retry_at_ms);
                route.opened_at_ms = now_ms;
                Some(OutageChange::Opened { retry_at_ms })
            }
        }
    }

    /// An attempt on `key` got an answer that shows the server up: the
    /// count starts again, and an open breaker closes.
    pub fn answered(&mut self, key: LimitKey) -> Option<OutageChange> {
        let was_open = self.routes.get(&key)?.retry_at_ms.is_some();
        self.routes.remove(&key);
        was_open.then_some(OutageChange::Closed)
    }

    /// The probe of `key` ended without an answer either way (the call was
    /// aborted): the next call probes instead.
    pub fn release(&mut self, key: LimitKey, now_ms: f64) {
        if let Some(route) = self.routes.get_mut(&key).filter(|r| r.probing) {
            route.probing = false;
            route.retry_at_ms = Some(now_ms);
        }
    }

    /// Every open key with when it opened and when a probe may go, in key
    /// order.
    pub fn open(&self) -> impl Iterator<Item = (LimitKey, f64, f64, bool)> + '_ {
        self.routes.iter().filter_map(|(key, r)| {
            let at = r.retry_at_ms?;
            Some((*key, r.opened_at_ms, at, r.probing))
        })
    }

    /// Keys held (bounded like every per-key map).
    pub fn keys(&self) -> usize {
        self.routes.len()
    }

    /// Closes every breaker and forgets every count.
    pub fn reset(&mut self) {
        self.routes.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> LimitKey {
        LimitKey::new("https://api.openai.com", Some(name))
    }

    fn breaker(failures: u32) -> OutageBreaker {
        OutageBreaker::new(OutageSettings {
            failures,
            cooldown_ms: 1_000.0,
        })
    }

    #[test]
    fn it_opens_after_consecutive_failures_only() {
        let (mut b, a) = (breaker(3), key("a"));
        assert_eq!(b.failed(a, false, 0.0), None);
        assert_eq!(b.failed(a, false, 1.0), None);
        // A rate limit shows the server up: the count starts again.
        assert_eq!(b.answered(a), None);
        assert_eq!(b.failed(a, false, 2.0), None);
        assert_eq!(b.failed(a, false, 3.0), None);
        assert_eq!(b.check(a, 3.0), OutageGate::Closed);
        let opened = OutageChange::Opened {
            retry_at_ms: 1_004.0,
        };
        assert_eq!(b.failed(a, false, 4.0), Some(opened));
        assert_eq!(b.check(a, 5.0), OutageGate::Open);
        assert_eq!(b.check(key("b"), 5.0), OutageGate::Closed, "per key");
        // Calls in flight when it opened fail too: the same incident.
        assert_eq!(b.failed(a, false, 6.0), None);
    }

    #[test]
    fn one_probe_after_the_cooldown_closes_or_reopens_it() {
        let (mut b, a) = (breaker(1), key("a"));
        b.failed(a, false, 0.0);
        assert!(b.is_open(a, 999.0) && !b.is_open(a, 1_000.0));
        assert_eq!(b.check(a, 1_000.0), OutageGate::Probe);
        assert_eq!(b.check(a, 1_000.0), OutageGate::Open, "one probe at a time");
        // A call sent before it opened fails late: nothing changes.
        assert_eq!(b.failed(a, false, 1_050.0), None);
        assert_eq!(b.check(a, 1_050.0), OutageGate::Open);
        // The probe fails: open again, quietly.
        assert_eq!(b.failed(a, true, 1_100.0), None);
        assert_eq!(b.check(a, 2_099.0), OutageGate::Open);
        assert_eq!(b.check(a, 2_100.0), OutageGate::Probe);
        assert_eq!(b.answered(a), Some(OutageChange::Closed));
        assert_eq!(b.check(a, 2_101.0), OutageGate::Closed);
        assert_eq!(b.keys(), 0, "a closed key holds nothing");
    }

    #[test]
    fn an_aborted_probe_hands_over_and_reset_closes_all() {
        let (mut b, a) = (breaker(1), key("a"));
        b.failed(a, false, 0.0);
        assert_eq!(b.check(a, 1_000.0), OutageGate::Probe);
        b.release(a, 1_050.0);
        assert_eq!(b.check(a, 1_050.0), OutageGate::Probe);
        assert_eq!(b.open().count(), 1);
        b.reset();
        assert_eq!(b.check(a, 1_050.0), OutageGate::Closed);
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

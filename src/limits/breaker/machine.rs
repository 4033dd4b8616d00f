//! The circuit breaker every trip rule shares, per [`LimitKey`]: a key is
//! closed until its [`Rule`]'s failures in a row open it; open, calls are
//! held back until a cooldown is over; then the first caller is the one
//! probe, and the others keep seeing it open until the probe reports. A
//! probe that finds the key still failing re-opens it (the same incident),
//! one that never reports is presumed lost a cooldown later, and any answer
//! that shows the key healthy closes it.
//!
//! One opening is one incident: [`Breaker::trip`] says whether a failure
//! opened the key ([`Opening::Opened`], the one to alert on), re-opened it
//! after a failed probe, found it open already, or only counted.

use serde::Serialize;

use crate::limits::key::{Idle, KeyMap, LimitKey};
use crate::time::Ms;

/// When a key trips and how long it stays open: what tells the quota
/// breaker from the outage breaker (see [`Rule::quota`], [`Rule::outage`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rule {
    /// What health reports call this breaker (`"quota"`, `"outage"`).
    pub kind: &'static str,
    /// Failures in a row that open a closed key (at least 1).
    pub failures: u32,
    /// How long a key stays open before a probe, ms (not NaN, not negative).
    pub cooldown_ms: f64,
    /// With `Some(max)`, each failed probe is another trip and doubles the
    /// cooldown, up to `max` (or the configured cooldown, if longer); with
    /// `None` the cooldown stays as configured and a key trips once per
    /// incident.
    pub grows_to_ms: Option<f64>,
}

impl Rule {
    /// The cooldown after `trips` trips in a row.
    fn cooldown(&self, trips: u32) -> f64 {
        let Some(max) = self.grows_to_ms else {
            return self.cooldown_ms;
        };
        let doublings = trips.saturating_sub(1).min(32) as i32;
        let grown = self.cooldown_ms * 2f64.powi(doublings);
        grown.min(self.cooldown_ms.max(max))
    }
}

/// What [`Breaker::trip`] did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Opening {
    /// The key was closed: a new incident. The first probe may go at
    /// `retry_at_ms`.
    Opened {
        /// When the first probe may go, ms since the epoch.
        retry_at_ms: f64,
    },
    /// Its probe found the key still failing: the same incident, open for
    /// another (with a growing rule, longer) cooldown.
    Reopened {
        /// When the next probe may go, ms since the epoch.
        retry_at_ms: f64,
    },
    /// It was open already: a call sent before it tripped came back with
    /// the same failure.
    AlreadyOpen,
    /// It is closed and stays so: the failure counted towards the rule's
    /// `failures` in a row.
    Counted,
}

impl Opening {
    /// When the next probe may go, if the trip changed the breaker.
    pub fn retry_at_ms(self) -> Option<f64> {
        match self {
            Opening::Opened { retry_at_ms } | Opening::Reopened { retry_at_ms } => {
                Some(retry_at_ms)
            }
            Opening::AlreadyOpen | Opening::Counted => None,
        }
    }
}

/// What [`Breaker::check`] says about a call.
#[derive(Debug, PartialEq)]
pub enum Gate<'a, F> {
    /// Not known to be failing: send.
    Closed,
    /// Open: hold the call back (fail it with `failure`, or skip the key).
    Open {
        /// What the breaker keeps of the failure that tripped it, if it
        /// keeps anything (the quota rule's callers do, to replay it).
        failure: Option<&'a F>,
        /// When the next probe may go, ms since the epoch.
        retry_at_ms: f64,
    },
    /// The cooldown is over and this caller is the probe: send, then report
    /// the result with [`Breaker::close`], [`Breaker::trip`] or
    /// [`Breaker::release`].
    Probe,
}

/// One key's breaker: failures in a row while closed, and its opening.
#[derive(Debug)]
struct Key<F> {
    failures: u32,
    open: Option<Open<F>>,
}

impl<F> Default for Key<F> {
    fn default() -> Self {
        Key {
            failures: 0,
            open: None,
        }
    }
}

/// An open key: what tripped it, when, and whether a probe is out.
#[derive(Debug)]
struct Open<F> {
    failure: Option<F>,
    opened_at_ms: f64,
    retry_at_ms: f64,
    trips: u32,
    probing: bool,
}

impl<F> Idle for Key<F> {
    /// Closed (a count of failures is worth little), or due for a probe a
    /// whole cooldown ago (any probe sent is presumed lost by then):
    /// forgetting the key only means the next call goes out as its probe
    /// would have.
    fn idle(&self, now_ms: f64) -> bool {
        self.open.as_ref().is_none_or(|o| {
            let cooldown = o.retry_at_ms - o.opened_at_ms;
            now_ms >= o.retry_at_ms + cooldown
        })
    }
}

/// A breaker for every key, tripping as its [`Rule`] says; `F` is what it
/// keeps of the failure that tripped a key, to replay it (both rules' breakers
/// in [`Limiters`](crate::limits::Limiters) have the same `F`, so the machine
/// is compiled once). A key never seen is closed.
#[derive(Debug)]
pub struct Breaker<F> {
    rule: Rule,
    keys: KeyMap<Key<F>>,
}

impl<F> Breaker<F> {
    /// A breaker that trips by `rule`.
    pub fn new(rule: Rule) -> Self {
        Breaker {
            rule,
            keys: KeyMap::default(),
        }
    }

    /// Keys held (never more than [`crate::limits::key::DEFAULT_MAX_KEYS`]).
    pub fn keys(&self) -> usize {
        self.keys.len()
    }

    /// The open state of `key`.
    fn open(&self, key: &LimitKey) -> Option<&Open<F>> {
        self.keys.get(key)?.open.as_ref()
    }

    /// Whether `key` is open at `now_ms` with no probe due: what
    /// [`check`](Self::check) would answer `Open`, asked without granting a
    /// probe.
    pub fn is_open(&self, key: LimitKey, now_ms: f64) -> bool {
        let now_ms = sane(now_ms);
        self.open(&key).is_some_and(|o| now_ms < o.retry_at_ms)
    }

    /// Whether a call to `key` at `now_ms` may go. When the cooldown is over,
    /// the first caller gets [`Gate::Probe`] and a new cooldown starts, so the
    /// others keep seeing `Open` until the probe reports; a probe that never
    /// reports is presumed lost, and the next one goes a cooldown later.
    pub fn check(&mut self, key: LimitKey, now_ms: f64) -> Gate<'_, F> {
        let now_ms = sane(now_ms);
        let rule = self.rule;
        let Some(o) = self.keys.get_mut(&key).and_then(|k| k.open.as_mut()) else {
            return Gate::Closed;
        };
        if now_ms >= o.retry_at_ms {
            o.probing = true;
            o.retry_at_ms = now_ms + rule.cooldown(o.trips);
            return Gate::Probe;
        }
        Gate::Open {
            failure: o.failure.as_ref(),
            retry_at_ms: o.retry_at_ms,
        }
    }

    /// The failure stored for an open `key`, without asking for a probe.
    pub fn stored(&self, key: LimitKey) -> Option<&F> {
        self.open(&key)?.failure.as_ref()
    }

    /// A call to `key` failed as the rule counts at `now_ms`, keeping
    /// `failure` (to replay, if anything); `probe` says whether the failure answers the probe that is
    /// out (a call sent before the key opened does not). A closed key
    /// counts it and opens on the rule's `failures`-th in a row; a probe's
    /// failure re-opens the key for a new cooldown; any other failure of an
    /// open key is the same incident and changes nothing.
    pub fn trip(&mut self, key: LimitKey, failure: Option<F>, probe: bool, now_ms: f64) -> Opening {
        let now_ms = sane(now_ms);
        let rule = self.rule;
        let k = self.keys.entry_or_default(key, now_ms);
        let trips = match &k.open {
            Some(o) if probe && o.probing => match rule.grows_to_ms {
                Some(_) => o.trips.saturating_add(1),
                None => o.trips,
            },
            Some(_) => return Opening::AlreadyOpen,
            None => {
                k.failures = k.failures.saturating_add(1);
                if k.failures < rule.failures {
                    return Opening::Counted;
                }
                1
            }
        };
        let reopened = k.open.is_some();
        let retry_at_ms = now_ms + rule.cooldown(trips);
        k.open = Some(Open {
            failure,
            opened_at_ms: now_ms,
            retry_at_ms,
            trips,
            probing: false,
        });
        if reopened {
            Opening::Reopened { retry_at_ms }
        } else {
            Opening::Opened { retry_at_ms }
        }
    }

    /// Opens `key` because another instance tripped it (a coordinator said
    /// so), until `retry_at_ms`. A key open here already keeps its own state.
    pub fn adopt(&mut self, key: LimitKey, failure: F, retry_at_ms: f64, now_ms: f64) {
        let now_ms = sane(now_ms);
        let k = self.keys.entry_or_default(key, now_ms);
        if k.open.is_some() {
            return;
        }
        k.open = Some(Open {
            failure: Some(failure),
            opened_at_ms: now_ms,
            retry_at_ms: sane(retry_at_ms),
            trips: 1,
            probing: false,
        });
    }

    /// A call to `key` got an answer that shows it healthy (the probe or any
    /// other): the count starts again and an open key closes. Returns
    /// whether it was open.
    pub fn close(&mut self, key: LimitKey) -> bool {
        let was_open = self.open(&key).is_some();
        self.keys.remove(&key);
        was_open
    }

    /// The probe for `key` ended saying nothing about it (another kind of
    /// failure, or it was never sent or aborted). The key stays open and the
    /// next call becomes a new probe at once, so there is still at most one
    /// probe in flight.
    pub fn release(&mut self, key: LimitKey, now_ms: f64) {
        let open = self.keys.get_mut(&key).and_then(|k| k.open.as_mut());
        if let Some(o) = open.filter(|o| o.probing) {
            o.probing = false;
            o.retry_at_ms = sane(now_ms);
        }
    }

    /// Closes the breaker for one key, or for every key with `None`.
    pub fn reset(&mut self, key: Option<LimitKey>) {
        match key {
            Some(key) => self.keys.remove(&key),
            None => self.keys.clear(),
        }
    }

    /// Every open key, sorted by key, for a health endpoint.
    pub fn states(&self, now_ms: f64) -> Vec<BreakerState> {
        let now_ms = sane(now_ms);
        // A KeyMap iterates in key order. A loop, not a collect: its
        // from_iter and FilterMap::next were 400 bytes of `.wasm` (issue 25).
        let mut states = Vec::new();
        for (key, k) in self.keys.iter() {
            let Some(o) = k.open.as_ref() else {
                continue;
            };
            let half_open = o.probing || now_ms >= o.retry_at_ms;
            states.push(BreakerState {
                key: key.short(),
                kind: self.rule.kind,
                state: if half_open { "half_open" } else { "open" },
                opened_at_ms: o.opened_at_ms,
                retry_at_ms: o.retry_at_ms,
                trips: o.trips,
            });
        }
        states
    }
}

/// One open key as a health endpoint reports it.
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
    Ms::at(now_ms).get()
}

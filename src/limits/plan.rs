//! The decisions the limiters return, as values: a [`Plan`] before each
//! attempt (send with a [`Pass`], hold, ask the coordinator for a lease, or
//! replay a stored failure), what an answer changed ([`Heard`], with its
//! breaker [`Transition`]s), and why a call is held ([`Hold`]). The engine
//! and the wasm layer only carry them out.

use super::key::LimitKey;
use super::lease::Report;
use super::routes::RouteKey;
use super::shared::Change;
use super::throttle::Booking;

/// Permission to send one attempt, from [`Limiters::before`](super::Limiters::before); hand it back
/// to [`Limiters::after`](super::Limiters::after) (or [`Limiters::abandon`](super::Limiters::abandon)).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pass {
    /// The route to send on.
    pub route: usize,
    /// That route's limit keys.
    pub keys: RouteKey,
    /// The attempt as the throttle booked it.
    pub booking: Option<Booking>,
    /// Whether this attempt is a quota breaker's probe on the route.
    pub probe: bool,
    /// Whether this attempt is the route's outage breaker probe.
    pub outage_probe: bool,
    /// When it was let go, ms since the epoch.
    pub at_ms: f64,
    /// Whether the call shares its limits through a coordinator: its
    /// answer's report is kept for the coordinator ([`lease`](super::lease)).
    pub leased: bool,
}

/// Which breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerKind {
    /// The quota breaker: an exhausted quota, answered from the breaker.
    Quota,
    /// The outage breaker: a route skipped for another while it is down.
    Outage,
}

impl BreakerKind {
    /// A short stable name for hooks and health endpoints.
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerKind::Quota => "quota",
            BreakerKind::Outage => "outage",
        }
    }
}

/// A breaker that opened or closed: one per incident each way.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Transition {
    /// Which breaker.
    pub breaker: BreakerKind,
    /// Its key (show only [`LimitKey::short`](super::key::LimitKey::short)).
    pub key: LimitKey,
    /// `Some(when a probe may go)` when it opened, `None` when it closed.
    pub opened_until_ms: Option<f64>,
}

/// What an attempt's answer changed, from [`Limiters::after`](super::Limiters::after).
#[derive(Debug, Clone, PartialEq)]
pub struct Heard<S> {
    /// What other instances should hear of (through the [`Store`](super::shared::Store)).
    pub changes: Vec<Change<S>>,
    /// Breakers that opened or closed: a new incident or its end. A probe
    /// that fails again, or a call in flight meeting a breaker already open,
    /// is no transition.
    pub transitions: Vec<Transition>,
    /// A report of a shared limit's window to forward to the coordinator
    /// now (with a lease request for no permits), not with the next lease.
    pub report: Option<(LimitKey, Report)>,
}

impl<S> Default for Heard<S> {
    fn default() -> Self {
        Heard {
            changes: Vec::new(),
            transitions: Vec::new(),
            report: None,
        }
    }
}

impl<S> Heard<S> {
    /// Whether the answer opened a quota breaker: the first report of an
    /// incident, the one to alert a human about.
    pub fn first_report(&self) -> bool {
        self.transitions
            .iter()
            .any(|t| t.breaker == BreakerKind::Quota && t.opened_until_ms.is_some())
    }
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
        /// Why it holds.
        why: Hold,
    },
    /// Ask the coordinator for a lease of up to `want` permits for `key`,
    /// forwarding `report`; tell [`Limiters::leased`](super::Limiters::leased) what it said, then
    /// ask again.
    Lease {
        /// The route's model key.
        key: LimitKey,
        /// How many permits.
        want: u32,
        /// The tokens each permit's call is expected to use, at most (0:
        /// none known).
        tokens: f64,
        /// The report of the key's window to forward with the request
        /// (sent once).
        report: Option<Report>,
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

/// Why the throttle holds a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    /// A window the server reported is used up: until it resets or refills.
    Window,
    /// Nothing heard yet from the key (a cold start), or a 429 to learn
    /// from: until an answer in flight tells how much is left.
    Answer,
    /// The coordinator's permits for the key are spent: until it grants more.
    Coordinator,
}

impl Hold {
    /// A short stable name for events.
    pub fn as_str(self) -> &'static str {
        match self {
            Hold::Window => "window",
            Hold::Answer => "answer",
            Hold::Coordinator => "coordinator",
        }
    }
}

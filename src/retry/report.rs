//! What the retry loop reports: how each attempt ended ([`Attempt`], from
//! the network or the breaker, [`Source`]), the [`Event`] after every
//! attempt, and the end of a call ([`Outcome`], or a [`Halt`] without one).

use crate::classify::Classification;
use crate::limits::lanes::Lane;
use crate::limits::{Hold, Transition};
use crate::retry::policy::{Decision, Stop};

/// How one attempt ended.
#[derive(Debug)]
pub enum Attempt<R, F> {
    /// The server answered (any status).
    Answered {
        /// The response, untouched.
        response: R,
        /// What it means.
        classification: Classification,
    },
    /// No response: the connection failed or timed out.
    Failed {
        /// The error, kept so it can be rethrown as `fetch` would.
        error: F,
        /// `Network` or `Timeout`.
        classification: Classification,
    },
}

impl<R, F> Attempt<R, F> {
    /// What the attempt means.
    pub fn classification(&self) -> &Classification {
        match self {
            Attempt::Answered { classification, .. } | Attempt::Failed { classification, .. } => {
                classification
            }
        }
    }
}

/// Where an answer came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The network: a request was sent.
    Network,
    /// The open quota breaker: nothing was sent.
    Breaker,
    /// The cached-response fallback answered a call that failed (the wasm
    /// layer's; the loop itself never does).
    Cache,
}

impl Source {
    /// A short stable name for events.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Network => "network",
            Source::Breaker => "breaker",
            Source::Cache => "cache",
        }
    }
}

/// What the loop reports after every attempt.
#[derive(Debug)]
pub struct Event<'a> {
    /// The attempt number, 1-based.
    pub attempt: u32,
    /// What the attempt meant.
    pub classification: &'a Classification,
    /// What the loop does next.
    pub decision: Decision,
    /// Time since the call started, ms.
    pub elapsed_ms: f64,
    /// The route that answered.
    pub route: usize,
    /// Whether the network or the breaker answered.
    pub source: Source,
    /// How long the throttle held this attempt, ms.
    pub paced_ms: u64,
    /// Why the throttle last held this attempt, if it did.
    pub paced_why: Option<Hold>,
    /// The tokens the request was expected to use (booked against the
    /// tokens windows), if its body told.
    pub tokens: Option<u64>,
    /// Whether the call waited in the concurrency queue (first attempt only).
    pub queued: bool,
    /// How long the call waited in the concurrency queue, ms (first attempt
    /// only; 0 otherwise).
    pub queued_ms: u64,
    /// How long this attempt waited for the shared store's lease answers, ms.
    pub leased_ms: u64,
    /// The breakers this attempt's answer opened or closed.
    pub breakers: &'a [Transition],
    /// The call's lane.
    pub lane: Lane,
    /// Whether the call is a bulk call that started on the cheap route
    /// because the primary was under pressure.
    pub diverted: bool,
}

/// The end of a run: the last attempt and why the loop stopped.
#[derive(Debug)]
pub struct Outcome<R, F> {
    /// The last attempt, whose response (or error) goes back to the caller.
    pub last: Attempt<R, F>,
    /// Attempts made.
    pub attempts: u32,
    /// Why the loop stopped.
    pub stop: Stop,
    /// Total time slept between attempts, ms.
    pub waited_ms: u64,
    /// The route of the last attempt.
    pub route: usize,
    /// Whether the network or the breaker gave the last answer.
    pub source: Source,
    /// The first fallback answer offered for a quota failure, if any: the
    /// caller gets it when the call ends out of quota.
    pub fallback: Option<R>,
    /// Whether one of the call's answers opened a quota breaker: the first
    /// report of an incident, once however many calls were in flight.
    pub first_report: bool,
}

/// Why a call ended without an outcome.
#[derive(Debug, PartialEq, Eq)]
pub enum Halt<A> {
    /// The caller aborted (or the deadline fired): the abort reason.
    Aborted(A),
    /// The concurrency queue is full.
    QueueFull,
    /// The deadline passed while the call was queued: nothing was sent.
    DeadlineQueued,
    /// The invocation's subrequest budget was spent before this call's
    /// first attempt: nothing was sent.
    SubrequestsSpent,
}

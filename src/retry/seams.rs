//! The retry loop's two seams: a [`Transport`] that makes one attempt and a
//! [`Clock`] that tells time and sleeps. In wasm they are `fetch` and
//! `setTimeout`; in tests, a script and a fake clock.

use super::report::{Attempt, Source};
use crate::classify::Classification;
use crate::limits::routes::RouteKey;
use crate::limits::tokens::Tokens;

/// Makes one attempt of the request on a route. It only builds the
/// request, sends it and classifies the answer: which route, when, and
/// whether at all is decided by the [`Limiters`](crate::limits::Limiters).
// The loop runs on one thread (wasm has no others), so no `Send` bounds.
#[allow(async_fn_in_trait)]
pub trait Transport {
    /// A response.
    type Response;
    /// A failure without a response.
    type Failure;
    /// Why the whole call was cancelled (an abort reason).
    type Abort;
    /// What the quota breaker keeps of a quota failure, to replay it.
    type Snapshot: Clone;
    /// The limit keys of every route, in order (the request as given first).
    fn keys(&self) -> &[RouteKey];
    /// The tokens the request is expected to use, if its body tells.
    fn tokens(&self) -> Option<Tokens> {
        None
    }
    /// Sends attempt `attempt` (1-based) on `route`; for a quota failure,
    /// also what the breaker should keep of it.
    async fn send(
        &mut self,
        route: usize,
        attempt: u32,
    ) -> Result<
        (
            Attempt<Self::Response, Self::Failure>,
            Option<Self::Snapshot>,
        ),
        Self::Abort,
    >;
    /// The answer the open breaker gives for `route`, rebuilt from what it kept.
    fn replay(
        &mut self,
        route: usize,
        snapshot: &Self::Snapshot,
    ) -> Result<Attempt<Self::Response, Self::Failure>, Self::Abort>;
    /// Whether the request can be sent again (false for a consumed stream body).
    fn replayable(&self) -> bool;
    /// Called with a response that will not be returned, so it can be released.
    fn discard(&mut self, _response: Self::Response) {}
    /// Told of every quota failure (from the network or the breaker); may
    /// return a fallback answer (the `onQuotaExhausted` hook's).
    /// `first_report` is true for the one failure that opened the breaker:
    /// once per incident, however many calls were in flight or probes fail.
    async fn quota_exhausted(
        &mut self,
        _c: &Classification,
        _attempt: u32,
        _route: usize,
        _source: Source,
        _first_report: bool,
    ) -> Result<Option<Self::Response>, Self::Abort> {
        Ok(None)
    }
}

/// Tells time, draws random numbers and sleeps.
#[allow(async_fn_in_trait)]
pub trait Clock {
    /// Why a sleep was cut short.
    type Abort;
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> f64;
    /// A number in `[0, 1)`.
    fn random(&mut self) -> f64;
    /// Sleeps `ms`, or returns early with the abort reason.
    async fn sleep(&mut self, ms: u64) -> Result<(), Self::Abort>;
}

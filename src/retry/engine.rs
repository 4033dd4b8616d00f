//! The retry loop, written once against two seams: a [`Transport`] that
//! makes one attempt and a [`Clock`] that tells time and sleeps. In wasm they
//! are `fetch` and `setTimeout`; in tests, a script and a fake clock. The
//! [`Limiters`] decide, around every attempt, whether, where and when it goes.

use crate::shared::Shared;

use crate::classify::Classification;
use crate::limits::bulkhead::Admission;
use crate::limits::lanes::Lane;
use crate::limits::next::{Answer, Next};
use crate::limits::routes::RouteKey;
use crate::limits::shared::Store;
use crate::limits::tokens::Tokens;
use crate::limits::{fallback, queue};
use crate::limits::{Heard, Hold, Limiters, Plan, Scope, Ticket, Transition};
use crate::retry::policy::{Decision, RetryPolicy, State, Stop};

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

/// Makes one attempt of the request on a route. It only builds the
/// request, sends it and classifies the answer: which route, when, and
/// whether at all is decided by the [`Limiters`].
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

/// Runs one call: waits for a concurrency slot, then sends until the call
/// succeeds or the policy says stop, asking the limiters before every
/// attempt and telling them after. What other instances know comes from
/// `store` before an attempt, and what this one learns goes to it after.
///
/// `observe` sees every attempt with the decision taken on it.
pub async fn run<T, C, St>(
    policy: &RetryPolicy,
    scope: Scope<'_>,
    limiters: &Shared<Limiters<T::Snapshot>>,
    store: &St,
    transport: &mut T,
    clock: &mut C,
    observe: &mut dyn FnMut(&Event<'_>),
) -> Result<Outcome<T::Response, T::Failure>, Halt<T::Abort>>
where
    T: Transport,
    C: Clock<Abort = T::Abort>,
    St: Store<T::Snapshot>,
{
    let started = clock.now_ms();
    let (ticket, mut admission) =
        limiters
            .borrow_mut()
            .arrive(scope.lane, transport.keys(), started);
    let queued = admission != Admission::Run;
    // Wait for a slot, polling with this call's own timer: no other call
    // ever wakes it.
    let admitted = loop {
        match admission {
            Admission::Run => break Ok(()),
            Admission::Rejected => break Err(Halt::QueueFull),
            Admission::Wait { ms } => {
                if let Err(abort) = clock.sleep(ms).await {
                    break Err(Halt::Aborted(abort));
                }
                admission =
                    limiters
                        .borrow_mut()
                        .wait(ticket, transport.keys(), started, clock.now_ms());
            }
        }
    };
    let result = match admitted {
        Ok(()) if queue::late(scope.deadline_ms, clock.now_ms()) => Err(Halt::DeadlineQueued),
        Ok(()) => {
            let call = Call {
                policy,
                scope,
                limiters,
                started,
                queued,
                queued_ms: if queued {
                    (clock.now_ms() - started).max(0.0) as u64
                } else {
                    0
                },
                ticket,
            };
            call.attempts(store, transport, clock, observe).await
        }
        Err(halt) => Err(halt),
    };
    limiters.borrow_mut().leave(ticket, clock.now_ms());
    result
}

/// One admitted call.
struct Call<'a, S> {
    policy: &'a RetryPolicy,
    scope: Scope<'a>,
    limiters: &'a Shared<Limiters<S>>,
    started: f64,
    queued: bool,
    /// How long the call waited for its slot, ms.
    queued_ms: u64,
    /// The call's place in the queue, which is also its place in the
    /// throttle's line.
    ticket: Ticket,
}

impl<S: Clone> Call<'_, S> {
    async fn attempts<T, C, St>(
        &self,
        store: &St,
        transport: &mut T,
        clock: &mut C,
        observe: &mut dyn FnMut(&Event<'_>),
    ) -> Result<Outcome<T::Response, T::Failure>, Halt<T::Abort>>
    where
        T: Transport<Snapshot = S>,
        C: Clock<Abort = T::Abort>,
        St: Store<S>,
    {
        let mut attempt = 1;
        // A bulk call under pressure starts on the cheap route.
        let mut route = self.limiters.borrow().start_moved(
            self.scope.lane,
            self.queued,
            self.scope.moved_to,
            transport.keys(),
            clock.now_ms(),
        );
        let diverted = route > 0;
        let mut retries = 0;
        let mut previous_delay_ms = 0;
        let mut waited_ms = 0;
        let mut fallback = None;
        let mut first_report = false;
        let mut claim = self.scope.claim();
        let tokens = transport.tokens();
        loop {
            if store.shared() {
                self.refresh(
                    store,
                    transport.keys().get(route..).unwrap_or_default(),
                    clock,
                )
                .await;
            }
            // One draw per attempt, for the backoff after it.
            let random = clock.random();
            // Held by the throttle: sleep on this call's own timer and ask
            // again, so no other call ever wakes it.
            let mut paced_ms = 0;
            let mut paced_why = None;
            let mut leased_ms = 0;
            let (last, source, heard) = loop {
                let plan = self.limiters.borrow_mut().before(
                    transport.keys(),
                    route,
                    clock.now_ms(),
                    self.policy,
                    self.scope.deadline_ms,
                    self.ticket,
                    tokens,
                    store.shared(),
                );
                match plan {
                    Plan::Hold { ms, why } => {
                        clock.sleep(ms).await.map_err(Halt::Aborted)?;
                        paced_ms += ms;
                        paced_why = Some(why);
                    }
                    Plan::Lease {
                        key,
                        want,
                        tokens,
                        report,
                    } => {
                        let asked_ms = clock.now_ms();
                        // A store that fails leaves the call on local state.
                        let grant = store.lease(key, want, tokens, report).await.ok();
                        leased_ms += (clock.now_ms() - asked_ms).max(0.0) as u64;
                        self.limiters
                            .borrow_mut()
                            .leased(key, grant, clock.now_ms());
                    }
                    Plan::Replay { route: r, failure } => {
                        route = r;
                        let last = transport.replay(r, &failure).map_err(Halt::Aborted)?;
                        break (last, Source::Breaker, Heard::default());
                    }
                    Plan::Send(pass) => {
                        route = pass.route;
                        let paid =
                            self.limiters
                                .borrow_mut()
                                .pay(&pass, &mut claim, clock.now_ms());
                        if !paid {
                            return Err(Halt::SubrequestsSpent);
                        }
                        let sent = transport.send(pass.route, attempt).await;
                        let now_ms = clock.now_ms();
                        match sent {
                            Ok((last, snapshot)) => {
                                let c = last.classification();
                                let heard =
                                    self.limiters.borrow_mut().after(&pass, c, snapshot, now_ms);
                                if store.shared() {
                                    // A store that fails is a missed update, never a failed call.
                                    for change in &heard.changes {
                                        let _ = store.publish(change).await;
                                    }
                                    if let Some((key, report)) = heard.report {
                                        let _ = store.lease(key, 0, 0.0, Some(report)).await;
                                    }
                                }
                                break (last, Source::Network, heard);
                            }
                            Err(abort) => {
                                self.limiters.borrow_mut().abandon(&pass, now_ms);
                                return Err(Halt::Aborted(abort));
                            }
                        }
                    }
                }
            };
            let c = last.classification();
            first_report |= heard.first_report();
            if fallback::tells_hook(c.kind) {
                let offered = transport
                    .quota_exhausted(c, attempt, route, source, heard.first_report())
                    .await
                    .map_err(Halt::Aborted)?;
                fallback = fallback::keep(fallback, offered);
            }
            let now_ms = clock.now_ms();
            let answer = Answer {
                classification: c,
                from_breaker: source == Source::Breaker,
                state: State {
                    retries,
                    previous_delay_ms,
                    now_ms,
                    deadline_ms: self.scope.deadline_ms,
                },
                random,
                keys: transport.keys(),
                route,
                replayable: transport.replayable(),
            };
            let next = self
                .limiters
                .borrow_mut()
                .next(self.policy, &answer, &mut claim);
            let decision = next.decision();
            observe(&Event {
                attempt,
                classification: c,
                decision,
                elapsed_ms: now_ms - self.started,
                route,
                source,
                paced_ms,
                paced_why,
                tokens: tokens.map(|t| t.total()),
                queued: self.queued && attempt == 1,
                queued_ms: if attempt == 1 { self.queued_ms } else { 0 },
                leased_ms,
                breakers: &heard.transitions,
                lane: self.scope.lane,
                diverted,
            });
            let delay_ms = match next {
                Next::Stop(stop) => {
                    return Ok(Outcome {
                        last,
                        attempts: attempt,
                        stop,
                        waited_ms,
                        route,
                        source,
                        fallback,
                        first_report,
                    })
                }
                Next::Retry { delay_ms } => {
                    retries += 1;
                    delay_ms
                }
                Next::FailOver => {
                    // The next route starts with its own retries.
                    route += 1;
                    retries = 0;
                    0
                }
            };
            if let Attempt::Answered { response, .. } = last {
                transport.discard(response);
            }
            clock.sleep(delay_ms).await.map_err(Halt::Aborted)?;
            waited_ms += delay_ms;
            previous_delay_ms = delay_ms;
            attempt += 1;
        }
    }

    /// Asks the store about each key of `routes` that is due, and tells the
    /// limiters what it said. A store that fails leaves them as they are,
    /// and its keys' calls go on without leases for a while.
    async fn refresh<St: Store<S>, C: Clock>(&self, store: &St, routes: &[RouteKey], clock: &C) {
        let mut keys = routes.iter().flat_map(RouteKey::both);
        while let Some(key) = keys.next() {
            if !self.limiters.borrow_mut().due(key, clock.now_ms()) {
                continue;
            }
            let looked = store.lookup(key).await;
            let mut limiters = self.limiters.borrow_mut();
            let now_ms = clock.now_ms();
            match looked {
                Ok(trip) => limiters.learn(key, trip, now_ms),
                Err(_) => {
                    limiters.unreachable(std::iter::once(key).chain(keys), now_ms);
                    return;
                }
            }
        }
    }
}

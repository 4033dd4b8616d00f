//! The retry loop, written once against two seams: a [`Transport`] that
//! makes one attempt and a [`Clock`] that tells time and sleeps. In wasm they
//! are `fetch` and `setTimeout`; in tests, a script and a fake clock. The
//! [`Limiters`] decide, around every attempt, whether, where and when it goes.

use crate::shared::Shared;

use crate::limits::bulkhead::Admission;
use crate::limits::next::{Answer, Next};
use crate::limits::routes::RouteKey;
use crate::limits::shared::Store;
use crate::limits::{fallback, queue};
use crate::limits::{Heard, Limiters, Plan, Scope, Ticket};
use crate::retry::policy::{RetryPolicy, State};

pub use super::report::{Attempt, Event, Halt, Outcome, Source};
pub use super::seams::{Clock, Transport};

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

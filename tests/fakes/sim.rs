//! Many calls at once on a fake clock, against a fake rate-limited server:
//! a tiny discrete-event simulation of the engine and its limiters.
//!
//! Every call runs the real `engine::run` over the same `Limiters`. Sleeps
//! are futures that wake when the fake clock reaches their time; the
//! executor polls every call until all are stuck, then moves the clock to
//! the earliest wake. The server enforces a limit of one shape (a fixed
//! window that opens at the first request, a sliding log, or a token
//! bucket) on requests and, optionally, on tokens, and answers with
//! OpenAI's `x-ratelimit-*` headers (durations to the millisecond) after a
//! fixed latency, 429 when a request does not fit.
#![allow(dead_code)]

use std::cell::Cell;

use ratewise::shared::Shared;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use ratewise::coordinator::Ledger;
use ratewise::limits::key::LimitKey;
use ratewise::limits::lease::{Grant, Report};
use ratewise::limits::routes::RouteKey;
use ratewise::limits::shared::{Change, Local, Store, Trip};
use ratewise::limits::tokens::Tokens;
use ratewise::limits::{Limiters, Scope, Settings};
use ratewise::retry::engine::{self, Attempt, Clock, Transport};
use ratewise::{classify, Backoff, Headers, Jitter, Kind, Response, RetryPolicy};

use super::{Snapshot, RATE_LIMIT};

pub const T0: f64 = 1_700_000_000_000.0;

/// A clock whose sleeps are futures woken by the executor.
pub struct SimClock {
    pub now: Cell<f64>,
    wakes: Shared<Vec<f64>>,
}

impl SimClock {
    pub fn new() -> Self {
        SimClock {
            now: Cell::new(T0),
            wakes: Shared::new(Vec::new()),
        }
    }

    /// Milliseconds since the simulation started.
    pub fn elapsed(&self) -> f64 {
        self.now.get() - T0
    }

    pub async fn sleep_ms(&self, ms: f64) {
        let wake = self.now.get() + ms;
        self.wakes.borrow_mut().push(wake);
        std::future::poll_fn(|_| {
            if self.now.get() >= wake {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await;
    }
}

impl Clock for &SimClock {
    type Abort = &'static str;
    fn now_ms(&self) -> f64 {
        self.now.get()
    }
    fn random(&mut self) -> f64 {
        0.5
    }
    async fn sleep(&mut self, ms: u64) -> Result<(), &'static str> {
        self.sleep_ms(ms as f64).await;
        Ok(())
    }
}

/// Polls every future until all are done, moving the clock to the next
/// wake whenever none can make progress.
pub fn run_all<'a, T>(
    clock: &SimClock,
    mut tasks: Vec<Pin<Box<dyn Future<Output = T> + 'a>>>,
) -> Vec<T> {
    let mut out: Vec<Option<T>> = tasks.iter().map(|_| None).collect();
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..10_000_000 {
        let mut progress = true;
        while progress {
            progress = false;
            for (task, slot) in tasks.iter_mut().zip(out.iter_mut()) {
                if slot.is_none() {
                    if let Poll::Ready(value) = task.as_mut().poll(&mut cx) {
                        *slot = Some(value);
                        progress = true;
                    }
                }
            }
        }
        if out.iter().all(Option::is_some) {
            return out.into_iter().flatten().collect();
        }
        let now = clock.now.get();
        let mut wakes = clock.wakes.borrow_mut();
        wakes.retain(|&w| w > now);
        let next = wakes
            .iter()
            .copied()
            .reduce(f64::min)
            .expect("every call is stuck with no timer: a deadlock");
        drop(wakes);
        clock.now.set(next);
    }
    panic!("the simulation did not finish");
}

#[allow(unused_imports)]
pub use super::server::{Meter, Server, Shape, Speech, XorShift};

/// One call's transport to the fake server.
pub struct SimTransport<'a> {
    pub server: &'a Shared<Server>,
    pub clock: &'a SimClock,
    pub keys: Vec<RouteKey>,
    pub tokens: Option<Tokens>,
    /// What the server charges, if not the estimate (tokens).
    pub charged: Option<f64>,
}

impl Transport for SimTransport<'_> {
    type Response = u16;
    type Failure = &'static str;
    type Abort = &'static str;
    type Snapshot = Snapshot;

    fn keys(&self) -> &[RouteKey] {
        &self.keys
    }

    fn tokens(&self) -> Option<Tokens> {
        self.tokens
    }

    fn replay(
        &mut self,
        _route: usize,
        snapshot: &Snapshot,
    ) -> Result<Attempt<u16, &'static str>, &'static str> {
        Ok(Attempt::Answered {
            response: snapshot.0,
            classification: snapshot.1.clone(),
        })
    }

    async fn send(
        &mut self,
        _route: usize,
        _attempt: u32,
    ) -> Result<(Attempt<u16, &'static str>, Option<Snapshot>), &'static str> {
        let charged = self
            .charged
            .or(self.tokens.map(|t| t.total() as f64))
            .unwrap_or(0.0);
        // Half the latency to reach the server (plus some jitter), half to
        // come back.
        let (half, jitter) = {
            let mut s = self.server.borrow_mut();
            s.sent += 1;
            // A fixed scramble of 0..=jitter_ms, different for neighbours.
            let jitter = s.jitter_ms * ((s.sent * 7) % 11) as f64 / 10.0;
            (s.latency_ms / 2.0, jitter)
        };
        self.clock.sleep_ms(half + jitter).await;
        let (status, headers) = self
            .server
            .borrow_mut()
            .admit(self.clock.now.get(), charged);
        // A completion takes its time; a 429 comes back at once.
        let service = if status == 200 {
            self.server.borrow_mut().draw_service()
        } else {
            0.0
        };
        self.clock.sleep_ms(half + service).await;
        let headers: Headers = headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let body = if status == 200 { "{}" } else { RATE_LIMIT };
        let classification = classify(&Response {
            status,
            headers: &headers,
            body,
            url: None,
            now_ms: self.clock.now.get(),
        });
        Ok((
            Attempt::Answered {
                response: status,
                classification,
            },
            None,
        ))
    }

    fn replayable(&self) -> bool {
        true
    }
}

/// The limit key every simulated call uses.
pub fn sim_key() -> LimitKey {
    LimitKey::new("https://sim.invalid", Some("sk-sim"))
}

/// What a batch did.
#[derive(Debug)]
pub struct Batch {
    /// From the first call to the last answer, ms.
    pub wall_ms: f64,
    /// Calls that did not end in a 200.
    pub failed: usize,
    /// 429s the server sent in this batch.
    pub rejected: usize,
    /// Requests the server saw in this batch.
    pub calls: usize,
}

/// The retry policy of the simulations: retries wait the server's hint.
pub fn policy() -> RetryPolicy {
    RetryPolicy {
        max_retries: 10,
        backoff: Backoff {
            base_ms: 500,
            max_ms: 30_000,
            jitter: Jitter::None,
        },
        max_retry_after_ms: 60_000,
    }
}

pub fn limiters(cold_start: u32) -> Shared<Limiters<Snapshot>> {
    Shared::new(Limiters::new(Settings {
        cold_start,
        retry_budget: None,
        ..Settings::default()
    }))
}

/// Runs `k` calls, `c` at a time (workers pulling from one queue), each
/// expected to use `tokens`, through `limiters` against `server`.
pub fn batch(
    clock: &SimClock,
    server: &Shared<Server>,
    limiters: &Shared<Limiters<Snapshot>>,
    k: usize,
    c: usize,
    tokens: Option<Tokens>,
) -> Batch {
    run_batch(clock, server, &[limiters], &Local, k, c, tokens, None)
}

/// [`batch`] with the `c` workers spread over several instances (Worker
/// isolates), each with its own limiters, sharing `store`.
pub fn batch_across<St: Store<Snapshot>>(
    clock: &SimClock,
    server: &Shared<Server>,
    instances: &[&Shared<Limiters<Snapshot>>],
    store: &St,
    k: usize,
    c: usize,
) -> Batch {
    run_batch(clock, server, instances, store, k, c, None, None)
}

/// [`batch_across`] with every call expected to use `tokens`.
pub fn batch_across_tokens<St: Store<Snapshot>>(
    clock: &SimClock,
    server: &Shared<Server>,
    instances: &[&Shared<Limiters<Snapshot>>],
    store: &St,
    k: usize,
    c: usize,
    tokens: Tokens,
) -> Batch {
    run_batch(clock, server, instances, store, k, c, Some(tokens), None)
}

/// A coordinator on the fake clock: one key's [`Ledger`], a round trip of
/// `rtt_ms` away.
pub struct SimCoordinator<'a> {
    pub clock: &'a SimClock,
    pub ledger: Shared<Ledger>,
    pub rtt_ms: f64,
    /// Lease requests it answered.
    pub leases: Cell<u32>,
}

impl<'a> SimCoordinator<'a> {
    pub fn new(clock: &'a SimClock, rtt_ms: f64) -> Self {
        SimCoordinator {
            clock,
            ledger: Shared::default(),
            rtt_ms,
            leases: Cell::new(0),
        }
    }
}

impl Store<Snapshot> for SimCoordinator<'_> {
    type Error = ();
    async fn publish(&self, _: &Change<Snapshot>) -> Result<(), ()> {
        Ok(())
    }
    async fn lookup(&self, _: LimitKey) -> Result<Option<Trip<Snapshot>>, ()> {
        Ok(None)
    }
    async fn lease(
        &self,
        _: LimitKey,
        want: u32,
        tokens: f64,
        report: Option<Report>,
    ) -> Result<Grant, ()> {
        self.clock.sleep_ms(self.rtt_ms / 2.0).await;
        self.leases.set(self.leases.get() + 1);
        let grant = {
            let mut ledger = self.ledger.borrow_mut();
            if let Some(r) = report {
                ledger.report(r);
            }
            ledger.lease_tokens(want, tokens, self.clock.now.get())
        };
        self.clock.sleep_ms(self.rtt_ms / 2.0).await;
        Ok(grant)
    }
}

/// [`batch`], with the server charging `charged` tokens per request
/// whatever the estimate.
pub fn batch_charged(
    clock: &SimClock,
    server: &Shared<Server>,
    limiters: &Shared<Limiters<Snapshot>>,
    k: usize,
    c: usize,
    tokens: Option<Tokens>,
    charged: f64,
) -> Batch {
    run_batch(
        clock,
        server,
        &[limiters],
        &Local,
        k,
        c,
        tokens,
        Some(charged),
    )
}

#[allow(clippy::too_many_arguments)]
fn run_batch<St: Store<Snapshot>>(
    clock: &SimClock,
    server: &Shared<Server>,
    instances: &[&Shared<Limiters<Snapshot>>],
    store: &St,
    k: usize,
    c: usize,
    tokens: Option<Tokens>,
    charged: Option<f64>,
) -> Batch {
    let started = clock.now.get();
    let seen_before = server.borrow().log.len();
    let next = Cell::new(0);
    let failed = Cell::new(0);
    let policy = policy();
    let key = sim_key();
    let worker = |i: usize| {
        let (next, failed, policy) = (&next, &failed, &policy);
        let limiters = instances[i % instances.len()];
        async move {
            while next.get() < k {
                next.set(next.get() + 1);
                let mut transport = SimTransport {
                    server,
                    clock,
                    keys: vec![RouteKey::from(key)],
                    tokens,
                    charged,
                };
                let mut clock_ref = clock;
                let out = engine::run(
                    policy,
                    Scope::default(),
                    limiters,
                    store,
                    &mut transport,
                    &mut clock_ref,
                    &mut |_| {},
                )
                .await;
                let ok = matches!(
                    out,
                    Ok(engine::Outcome {
                        last: Attempt::Answered {
                            classification: ratewise::Classification { kind: Kind::Ok, .. },
                            ..
                        },
                        ..
                    })
                );
                if !ok {
                    failed.set(failed.get() + 1);
                }
            }
        }
    };
    let tasks: Vec<Pin<Box<dyn Future<Output = ()> + '_>>> = (0..c)
        .map(|i| Box::pin(worker(i)) as Pin<Box<dyn Future<Output = ()>>>)
        .collect();
    run_all(clock, tasks);
    let s = server.borrow();
    let mine = &s.log[seen_before..];
    Batch {
        wall_ms: clock.now.get() - started,
        failed: failed.get(),
        rejected: mine.iter().filter(|(_, st)| *st == 429).count(),
        calls: mine.len(),
    }
}

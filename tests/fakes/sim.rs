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

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use ratewise::limits::key::LimitKey;
use ratewise::limits::lease::{Grant, Ledger, Report};
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
    wakes: RefCell<Vec<f64>>,
}

impl SimClock {
    pub fn new() -> Self {
        SimClock {
            now: Cell::new(T0),
            wakes: RefCell::new(Vec::new()),
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

/// How the server's limit refills.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Shape {
    /// A window that opens at the first request and refills when it ends.
    Fixed,
    /// A window aligned to the clock (every `window` ms since the epoch).
    Aligned,
    /// At most `limit` in any `window` ms; the reset says when the log is
    /// empty (its newest entry leaves).
    Sliding,
    /// A sliding log whose reset says when the next slot frees (its oldest
    /// entry leaves), as some gateways send.
    SlidingNext,
    /// A bucket of `limit` refilled continuously over `window` ms.
    Bucket,
}

/// Which headers the server sends.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Speech {
    /// `x-ratelimit-*` on every answer (and `retry-after` on 429s).
    Always,
    /// `x-ratelimit-*` and `retry-after` on 429s only.
    On429,
    /// Only `retry-after` (whole seconds, rounded up), on 429s.
    RetryAfter,
}

/// A small seeded xorshift64* generator: the simulations stay
/// deterministic without an external crate.
#[derive(Debug, Clone)]
pub struct XorShift(u64);

impl XorShift {
    pub fn new(seed: u64) -> Self {
        XorShift(seed.max(1))
    }

    /// A number in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// One limit (requests or tokens) of one shape.
#[derive(Debug)]
pub struct Meter {
    shape: Shape,
    limit: f64,
    window: f64,
    start: Option<f64>,
    used: f64,
    log: VecDeque<(f64, f64)>,
    level: f64,
    at: f64,
}

impl Meter {
    pub fn new(shape: Shape, limit: f64, window: f64) -> Meter {
        Meter {
            shape,
            limit,
            window,
            start: None,
            used: 0.0,
            log: VecDeque::new(),
            level: limit,
            at: T0,
        }
    }

    fn refresh(&mut self, now: f64) {
        match self.shape {
            Shape::Aligned => {
                // Windows start at T0 + 0.4 W + n·W: a run starting at T0
                // finds 0.4 W left of the window it starts in.
                let phase = T0 + 0.4 * self.window;
                let start = phase + ((now - phase) / self.window).floor() * self.window;
                if self.start != Some(start) {
                    self.start = Some(start);
                    self.used = 0.0;
                }
            }
            Shape::Fixed => {
                if self.start.is_some_and(|s| now >= s + self.window) {
                    self.start = None;
                    self.used = 0.0;
                }
            }
            Shape::Sliding | Shape::SlidingNext => {
                while self
                    .log
                    .front()
                    .is_some_and(|&(t, _)| t <= now - self.window)
                {
                    self.log.pop_front();
                }
                self.used = self.log.iter().map(|&(_, n)| n).sum();
            }
            Shape::Bucket => {
                self.level =
                    (self.level + (now - self.at) * self.limit / self.window).min(self.limit);
                self.at = now;
            }
        }
    }

    fn fits(&mut self, now: f64, n: f64) -> bool {
        self.refresh(now);
        match self.shape {
            Shape::Bucket => self.level >= n,
            _ => self.used + n <= self.limit,
        }
    }

    fn take(&mut self, now: f64, n: f64) {
        match self.shape {
            Shape::Fixed => {
                self.start.get_or_insert(now);
                self.used += n;
            }
            Shape::Aligned => self.used += n,
            Shape::Sliding | Shape::SlidingNext => {
                self.log.push_back((now, n));
                self.used += n;
            }
            Shape::Bucket => self.level -= n,
        }
    }

    fn remaining(&self) -> f64 {
        match self.shape {
            Shape::Bucket => self.level.floor(),
            _ => self.limit - self.used,
        }
    }

    /// Until the limit is back to its initial state, ms.
    fn reset_ms(&self, now: f64) -> f64 {
        match self.shape {
            Shape::Fixed => self.start.map_or(0.0, |s| s + self.window - now),
            Shape::Aligned => self.start.map_or(0.0, |s| s + self.window - now),
            Shape::Sliding => self.log.back().map_or(0.0, |&(t, _)| t + self.window - now),
            Shape::SlidingNext => self
                .log
                .front()
                .map_or(0.0, |&(t, _)| t + self.window - now),
            Shape::Bucket => (self.limit - self.level) * self.window / self.limit,
        }
    }

    /// Until `n` more fit, ms (what an honest `retry-after` says).
    fn wait_ms(&self, now: f64, n: f64) -> f64 {
        match self.shape {
            Shape::Fixed | Shape::Aligned => self.reset_ms(now),
            Shape::Sliding | Shape::SlidingNext => {
                let mut used = self.used;
                for &(t, m) in &self.log {
                    if used + n <= self.limit {
                        break;
                    }
                    used -= m;
                    if used + n <= self.limit {
                        return t + self.window - now;
                    }
                }
                0.0
            }
            Shape::Bucket => ((n - self.level) * self.window / self.limit).max(0.0),
        }
    }

    fn headers(&self, now: f64, unit: &str, out: &mut Vec<(String, String)>) {
        out.push((
            format!("x-ratelimit-limit-{unit}"),
            format!("{}", self.limit),
        ));
        out.push((
            format!("x-ratelimit-remaining-{unit}"),
            format!("{}", self.remaining()),
        ));
        let reset = self.reset_ms(now).max(0.0).round();
        out.push((format!("x-ratelimit-reset-{unit}"), format!("{reset}ms")));
    }
}

/// The fake server.
pub struct Server {
    pub speech: Speech,
    /// How long a 200 takes beyond the round trip (a completion), ms: its
    /// headers arrive this long after the server counted the request.
    pub service_ms: f64,
    /// Each service time is drawn in `service_ms · (1 ± jitter)`.
    pub service_jitter: f64,
    rng: XorShift,
    /// The service times drawn, ms.
    pub served_ms: Vec<f64>,
    pub requests: Meter,
    pub tokens: Option<Meter>,
    pub latency_ms: f64,
    /// Up to this much more, ms, for a request to reach the server (varied
    /// from request to request, so requests sent close together arrive in
    /// another order).
    pub jitter_ms: f64,
    sent: u64,
    /// Every answer: (sent at, since the start; status).
    pub log: Vec<(f64, u16)>,
}

impl Server {
    pub fn new(shape: Shape, limit: f64, window: f64, latency_ms: f64) -> Server {
        Server {
            speech: Speech::Always,
            service_ms: 0.0,
            service_jitter: 0.0,
            rng: XorShift::new(0x9e37_79b9_7f4a_7c15),
            served_ms: Vec::new(),
            requests: Meter::new(shape, limit, window),
            tokens: None,
            latency_ms,
            jitter_ms: 0.0,
            sent: 0,
            log: Vec::new(),
        }
    }

    /// Answers that take `ms` (± `jitter`, a fraction) beyond the round
    /// trip, drawn from a generator seeded with `seed`.
    pub fn with_service(mut self, ms: f64, jitter: f64, seed: u64) -> Server {
        self.service_ms = ms;
        self.service_jitter = jitter;
        self.rng = XorShift::new(seed);
        self
    }

    pub fn with_speech(mut self, speech: Speech) -> Server {
        self.speech = speech;
        self
    }

    /// One service time.
    fn draw_service(&mut self) -> f64 {
        let u = self.rng.next_f64();
        let ms = self.service_ms * (1.0 + self.service_jitter * (2.0 * u - 1.0));
        self.served_ms.push(ms);
        ms
    }

    pub fn with_tokens(mut self, shape: Shape, limit: f64, window: f64) -> Server {
        self.tokens = Some(Meter::new(shape, limit, window));
        self
    }

    /// Admits one request at `now` that uses `tokens`: its status and headers.
    fn admit(&mut self, now: f64, tokens: f64) -> (u16, Vec<(String, String)>) {
        let fits = self.requests.fits(now, 1.0)
            && self.tokens.as_mut().is_none_or(|t| t.fits(now, tokens));
        if fits {
            self.requests.take(now, 1.0);
            if let Some(t) = &mut self.tokens {
                t.take(now, tokens);
            }
        }
        let mut headers = Vec::new();
        let limits = match self.speech {
            Speech::Always => true,
            Speech::On429 => !fits,
            Speech::RetryAfter => false,
        };
        if limits {
            self.requests.headers(now, "requests", &mut headers);
            if let Some(t) = &self.tokens {
                t.headers(now, "tokens", &mut headers);
            }
        }
        if !fits && self.speech != Speech::Always {
            let mut wait = self.requests.wait_ms(now, 1.0);
            if let Some(t) = &self.tokens {
                wait = wait.max(t.wait_ms(now, tokens));
            }
            let seconds = (wait / 1_000.0).ceil().max(1.0);
            headers.push(("retry-after".to_owned(), format!("{seconds}")));
        }
        let status = if fits { 200 } else { 429 };
        self.log.push((now - T0, status));
        (status, headers)
    }

    pub fn count(&self, status: u16) -> usize {
        self.log.iter().filter(|(_, s)| *s == status).count()
    }
}

/// One call's transport to the fake server.
pub struct SimTransport<'a> {
    pub server: &'a RefCell<Server>,
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

pub fn limiters(cold_start: u32) -> RefCell<Limiters<Snapshot>> {
    RefCell::new(Limiters::new(Settings {
        cold_start,
        retry_budget: None,
        ..Settings::default()
    }))
}

/// Runs `k` calls, `c` at a time (workers pulling from one queue), each
/// expected to use `tokens`, through `limiters` against `server`.
pub fn batch(
    clock: &SimClock,
    server: &RefCell<Server>,
    limiters: &RefCell<Limiters<Snapshot>>,
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
    server: &RefCell<Server>,
    instances: &[&RefCell<Limiters<Snapshot>>],
    store: &St,
    k: usize,
    c: usize,
) -> Batch {
    run_batch(clock, server, instances, store, k, c, None, None)
}

/// A coordinator on the fake clock: one key's [`Ledger`], a round trip of
/// `rtt_ms` away.
pub struct SimCoordinator<'a> {
    pub clock: &'a SimClock,
    pub ledger: RefCell<Ledger>,
    pub rtt_ms: f64,
    /// Lease requests it answered.
    pub leases: Cell<u32>,
}

impl<'a> SimCoordinator<'a> {
    pub fn new(clock: &'a SimClock, rtt_ms: f64) -> Self {
        SimCoordinator {
            clock,
            ledger: RefCell::default(),
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
    async fn lease(&self, _: LimitKey, want: u32, report: Option<Report>) -> Result<Grant, ()> {
        self.clock.sleep_ms(self.rtt_ms / 2.0).await;
        self.leases.set(self.leases.get() + 1);
        let grant = {
            let mut ledger = self.ledger.borrow_mut();
            if let Some(r) = report {
                ledger.report(r);
            }
            ledger.lease(want, self.clock.now.get())
        };
        self.clock.sleep_ms(self.rtt_ms / 2.0).await;
        Ok(grant)
    }
}

/// [`batch`], with the server charging `charged` tokens per request
/// whatever the estimate.
pub fn batch_charged(
    clock: &SimClock,
    server: &RefCell<Server>,
    limiters: &RefCell<Limiters<Snapshot>>,
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
    server: &RefCell<Server>,
    instances: &[&RefCell<Limiters<Snapshot>>],
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

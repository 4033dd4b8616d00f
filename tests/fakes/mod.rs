//! Test doubles for the engine: a scripted transport, a fake clock and a
//! tiny executor. Shared by the native integration tests.
#![allow(dead_code)]

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use ratewise::limits::key::LimitKey;
use ratewise::limits::routes::RouteKey;
use ratewise::retry::engine::{Attempt, Clock, Transport};
use ratewise::{classify, Classification, Headers, Kind, Response};

/// Polls a future that never waits on real I/O to completion.
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..1_000 {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
    }
    panic!("future did not complete: the fakes never block");
}

/// One scripted server answer.
#[derive(Clone, Debug)]
pub enum Step {
    /// A response with status, headers and body.
    Http(u16, Vec<(&'static str, &'static str)>, &'static str),
    /// A connection failure.
    NetworkError,
    /// The abort signal fires while this attempt is in flight.
    Abort,
}

pub const RATE_LIMIT: &str = r#"{"error":{"message":"Rate limit reached for gpt-4o-mini in organization org-x on requests per min (RPM): Limit 3, Used 3, Requested 1.","type":"requests","param":null,"code":"rate_limit_exceeded"}}"#;
pub const QUOTA: &str = r#"{"error":{"message":"You exceeded your current quota, please check your plan and billing details.","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}"#;

/// A transport that plays a script and counts what it was asked to send.
pub struct Scripted<'c> {
    pub steps: Vec<Step>,
    /// The limit keys of each route (one per route; the first is the request as given).
    pub keys: Vec<RouteKey>,
    /// The route of every request sent, in order.
    pub routes: Vec<usize>,
    /// Answers replayed by the breaker.
    pub replayed: u32,
    pub sent: u32,
    pub replayable: bool,
    pub discarded: u32,
    /// `first_report` of every quota failure the loop was told of, in order.
    pub reports: Vec<bool>,
    pub clock: &'c FakeClock,
}

impl<'c> Scripted<'c> {
    pub fn new(clock: &'c FakeClock, steps: Vec<Step>) -> Self {
        Scripted {
            steps,
            keys: vec![route_key(0).into()],
            routes: Vec::new(),
            replayed: 0,
            sent: 0,
            replayable: true,
            discarded: 0,
            reports: Vec::new(),
            clock,
        }
    }
}

/// The limit key of route `n` (the same origin, another API key).
pub fn route_key(n: usize) -> LimitKey {
    LimitKey::new("https://api.openai.com", Some(&format!("sk-route-{n}")))
}

impl Scripted<'_> {
    /// Gives the call `n` routes.
    pub fn with_routes(mut self, n: usize) -> Self {
        self.keys = (0..n).map(|i| route_key(i).into()).collect();
        self
    }

    /// Gives the call these routes.
    pub fn with_keys(mut self, keys: Vec<RouteKey>) -> Self {
        self.keys = keys;
        self
    }
}

/// What the breaker keeps of a quota failure: its status and meaning.
pub type Snapshot = (u16, Classification);

impl Transport for Scripted<'_> {
    type Response = u16;
    type Failure = &'static str;
    type Abort = &'static str;
    type Snapshot = Snapshot;

    fn keys(&self) -> &[RouteKey] {
        &self.keys
    }

    fn replay(
        &mut self,
        _route: usize,
        snapshot: &Snapshot,
    ) -> Result<Attempt<u16, &'static str>, &'static str> {
        self.replayed += 1;
        Ok(Attempt::Answered {
            response: snapshot.0,
            classification: snapshot.1.clone(),
        })
    }

    async fn send(
        &mut self,
        route: usize,
        attempt: u32,
    ) -> Result<(Attempt<u16, &'static str>, Option<Snapshot>), &'static str> {
        self.routes.push(route);
        assert_eq!(
            attempt,
            self.sent + 1,
            "attempts are numbered from 1 without gaps"
        );
        let step = self
            .steps
            .get(self.sent as usize)
            .cloned()
            .expect("script ran out: too many attempts");
        self.sent += 1;
        match step {
            Step::Http(status, headers, body) => {
                let headers: Headers = headers.into_iter().collect();
                let classification = classify(&Response {
                    status,
                    headers: &headers,
                    body,
                    url: None,
                    now_ms: self.clock.now_ms(),
                });
                let snapshot = (classification.kind == Kind::QuotaExhausted)
                    .then(|| (status, classification.clone()));
                Ok((
                    Attempt::Answered {
                        response: status,
                        classification,
                    },
                    snapshot,
                ))
            }
            Step::NetworkError => Ok((
                Attempt::Failed {
                    error: "fetch failed",
                    classification: Classification::without_response(
                        Kind::Network,
                        None,
                        "scripted",
                    ),
                },
                None,
            )),
            Step::Abort => Err("aborted"),
        }
    }

    fn replayable(&self) -> bool {
        self.replayable
    }

    fn discard(&mut self, _response: u16) {
        self.discarded += 1;
    }

    async fn quota_exhausted(
        &mut self,
        _c: &Classification,
        _attempt: u32,
        _route: usize,
        _source: ratewise::retry::engine::Source,
        first_report: bool,
    ) -> Result<Option<u16>, &'static str> {
        self.reports.push(first_report);
        Ok(None)
    }
}

/// A clock that only moves when slept on; records every sleep.
pub struct FakeClock {
    pub now: std::cell::Cell<f64>,
    pub sleeps: std::cell::RefCell<Vec<u64>>,
    pub randoms: std::cell::RefCell<Vec<f64>>,
    /// Abort the sleep with this index (0-based), if set.
    pub abort_sleep: Option<usize>,
}

impl FakeClock {
    pub fn new(randoms: Vec<f64>) -> Self {
        FakeClock {
            now: std::cell::Cell::new(1_700_000_000_000.0),
            sleeps: Default::default(),
            randoms: std::cell::RefCell::new(randoms),
            abort_sleep: None,
        }
    }
    pub fn sleeps(&self) -> Vec<u64> {
        self.sleeps.borrow().clone()
    }
}

impl Clock for &FakeClock {
    type Abort = &'static str;
    fn now_ms(&self) -> f64 {
        self.now.get()
    }
    fn random(&mut self) -> f64 {
        let mut r = self.randoms.borrow_mut();
        if r.is_empty() {
            0.5
        } else {
            r.remove(0)
        }
    }
    async fn sleep(&mut self, ms: u64) -> Result<(), &'static str> {
        let index = self.sleeps.borrow().len();
        if self.abort_sleep == Some(index) {
            return Err("aborted");
        }
        self.sleeps.borrow_mut().push(ms);
        self.now.set(self.now.get() + ms as f64);
        Ok(())
    }
}

pub mod server;
pub mod sim;

//! The pipeline's decisions, many calls at once on a fake clock: what the
//! limiters decide in one place, carried out by the engine.

mod fakes;

use std::cell::Cell;

use ratewise::shared::Shared;
use std::future::Future;
use std::pin::Pin;

use fakes::sim::{run_all, SimClock, T0};
use fakes::{route_key, Snapshot, QUOTA};
use ratewise::limits::routes::RouteKey;
use ratewise::limits::shared::Local;
use ratewise::limits::{Limiters, Scope, Settings};
use ratewise::retry::engine::{self, Attempt, Source, Transport};
use ratewise::{classify, Backoff, Headers, Jitter, Response, RetryPolicy};

/// Round trip of the fake server, ms.
const RTT: f64 = 4.0;

/// A server whose account is empty: every request is answered, after a
/// round trip, with OpenAI's `insufficient_quota` 429.
struct Empty<'a> {
    clock: &'a SimClock,
    keys: Vec<RouteKey>,
    sent: &'a Cell<u32>,
}

impl Transport for Empty<'_> {
    type Response = u16;
    type Failure = &'static str;
    type Abort = &'static str;
    type Snapshot = Snapshot;

    fn keys(&self) -> &[RouteKey] {
        &self.keys
    }

    async fn send(
        &mut self,
        _route: usize,
        _attempt: u32,
    ) -> Result<(Attempt<u16, &'static str>, Option<Snapshot>), &'static str> {
        self.sent.set(self.sent.get() + 1);
        self.clock.sleep_ms(RTT).await;
        let classification = classify(&Response {
            status: 429,
            headers: &Headers::default(),
            body: QUOTA,
            url: None,
            now_ms: self.clock.now.get(),
        });
        let snapshot = (429, classification.clone());
        Ok((
            Attempt::Answered {
                response: 429,
                classification,
            },
            Some(snapshot),
        ))
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

    fn replayable(&self) -> bool {
        true
    }
}

/// One call of a simulation: when it was answered and where from.
type Task<'a> = Pin<Box<dyn Future<Output = (f64, Source)> + 'a>>;

fn policy() -> RetryPolicy {
    RetryPolicy {
        max_retries: 2,
        backoff: Backoff {
            base_ms: 100,
            max_ms: 10_000,
            jitter: Jitter::None,
        },
        max_retry_after_ms: 60_000,
    }
}

/// `calls` calls at once at `max_concurrency` on an empty account: when
/// each was answered (ms from the start), where from, and the requests sent.
fn empty_account(
    calls: usize,
    max_concurrency: usize,
    throttle: bool,
) -> (Vec<(f64, Source)>, u32) {
    let clock = SimClock::new();
    let sent = Cell::new(0);
    let l = Shared::new(Limiters::<Snapshot>::new(Settings {
        max_concurrency,
        throttle,
        ..Settings::default()
    }));
    let p = policy();
    let tasks: Vec<Task<'_>> = (0..calls)
        .map(|_| {
            let (clock, l, p, sent) = (&clock, &l, &p, &sent);
            Box::pin(async move {
                let mut transport = Empty {
                    clock,
                    keys: vec![route_key(0).into()],
                    sent,
                };
                let mut c = clock;
                let out = engine::run(
                    p,
                    Scope::default(),
                    l,
                    &Local,
                    &mut transport,
                    &mut c,
                    &mut |_| {},
                )
                .await
                .expect("answered");
                (clock.now.get() - T0, out.source)
            }) as Task<'_>
        })
        .collect();
    (run_all(&clock, tasks), sent.get())
}

#[test]
fn breaker_answers_do_not_wait_behind_max_concurrency() {
    // 60 calls at maxConcurrency 8 on an empty account: the first answer
    // opens the breaker, and the 52 calls queued behind the 8 slots are
    // answered from it within a few ms, not each at its turn in the queue
    // (the last waited 325 ms for its first poll).
    for throttle in [true, false] {
        let (answers, sent) = empty_account(60, 8, throttle);
        let last = answers.iter().map(|a| a.0).fold(0.0, f64::max);
        assert!(
            last <= RTT + 10.0,
            "throttle {throttle}: the last call answered at {last} ms ({sent} sent)"
        );
        eprintln!("throttle {throttle}: all 60 answered by {last} ms, {sent} sent");
        let from_breaker = answers.iter().filter(|a| a.1 == Source::Breaker).count();
        assert!(
            from_breaker >= 60 - 8,
            "throttle {throttle}: {from_breaker} answered by the breaker"
        );
        assert!(sent <= 8, "throttle {throttle}: {sent} requests sent");
    }
}

#[test]
fn waiters_poll_soon_only_until_an_answer_is_heard() {
    use ratewise::limits::bulkhead::Admission;
    use ratewise::limits::lanes::Lane;
    use ratewise::limits::queue::WATCH_MS;
    use ratewise::limits::Plan;
    let mut l = Limiters::<Snapshot>::new(Settings {
        max_concurrency: 1,
        throttle: false,
        ..Settings::default()
    });
    let keys: [RouteKey; 1] = [route_key(0).into()];
    let (first, admission) = l.arrive(Lane::Interactive, &keys, 0.0);
    assert_eq!(admission, Admission::Run);
    // Nothing heard yet: the waiter polls at the watch's pace, for the
    // breaker may open with the first answer.
    let waiters: Vec<_> = (0..10)
        .map(|_| l.arrive(Lane::Interactive, &keys, 0.0))
        .collect();
    let (waiter, admission) = waiters[9];
    assert_eq!(
        admission,
        Admission::Wait {
            ms: WATCH_MS.0 as u64
        }
    );
    let Admission::Wait { ms: watched } = l.wait(waiter, &keys, 0.0, 80.0) else {
        panic!("still queued")
    };
    assert_eq!(watched, 10, "an eighth of the wait");
    let Admission::Wait { ms } = l.wait(waiter, &keys, 0.0, 8_000.0) else {
        panic!("still queued")
    };
    assert_eq!(ms, WATCH_MS.1 as u64, "capped");
    // The first answer is a success: from now on the queue's own estimate.
    let Plan::Send(pass) = l.before(&keys, 0, 0.0, &policy(), None, first, None, false) else {
        panic!("the first call goes")
    };
    let ok = classify(&Response {
        status: 200,
        headers: &Headers::default(),
        body: "{}",
        url: None,
        now_ms: 10.0,
    });
    l.after(&pass, &ok, None, 10.0);
    let Admission::Wait { ms } = l.wait(waiter, &keys, 0.0, 80.0) else {
        panic!("still queued")
    };
    assert!(ms > watched, "{ms} ms: the queue's estimate, not the watch");
    // The slot frees: the first waiter runs.
    l.leave(first, 90.0);
    assert_eq!(l.wait(waiters[0].0, &keys, 0.0, 90.0), Admission::Run);
}

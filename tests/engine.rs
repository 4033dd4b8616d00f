//! The retry loop driven by a scripted transport and a fake clock.

mod fakes;

use std::cell::RefCell;

use fakes::{block_on, route_key, FakeClock, Scripted, Snapshot, Step, QUOTA, RATE_LIMIT};
use ratewise::limits::budget::RetryBudget;
use ratewise::limits::{Limiters, Settings};
use ratewise::retry::engine::{self, Attempt, Halt, Source};
use ratewise::{Backoff, Jitter, Kind, RetryPolicy, Stop};

/// Limiters that never hold a call back: no queue, throttle or budget.
fn open() -> RefCell<Limiters<Snapshot>> {
    limiters(Settings {
        throttle: false,
        retry_budget: None,
        ..Settings::default()
    })
}

fn limiters(settings: Settings) -> RefCell<Limiters<Snapshot>> {
    RefCell::new(Limiters::new(settings))
}

fn policy(max_retries: u32, jitter: Jitter) -> RetryPolicy {
    RetryPolicy {
        max_retries,
        backoff: Backoff {
            base_ms: 100,
            max_ms: 10_000,
            jitter,
        },
        max_retry_after_ms: 60_000,
    }
}

struct Run {
    stop: Stop,
    routes: Vec<usize>,
    sources: Vec<Source>,
    attempts: u32,
    sent: u32,
    sleeps: Vec<u64>,
    kinds: Vec<Kind>,
    waited: u64,
    last_status: Option<u16>,
}

fn run_with(
    policy: &RetryPolicy,
    deadline: Option<f64>,
    clock: &FakeClock,
    mut transport: Scripted<'_>,
    limiters: &RefCell<Limiters<Snapshot>>,
) -> Result<Run, Halt<&'static str>> {
    let mut kinds = Vec::new();
    let mut sources = Vec::new();
    let mut clock_ref = clock;
    let deadline = deadline.map(|d| clock.now.get() + d);
    let out = block_on(engine::run(
        policy,
        deadline,
        limiters,
        &mut transport,
        &mut clock_ref,
        &mut |e| {
            kinds.push(e.classification.kind);
            sources.push(e.source);
        },
    ))?;
    let last_status = match out.last {
        Attempt::Answered { response, .. } => Some(response),
        Attempt::Failed { .. } => None,
    };
    Ok(Run {
        stop: out.stop,
        routes: transport.routes,
        sources,
        attempts: out.attempts,
        sent: transport.sent,
        sleeps: clock.sleeps(),
        kinds,
        waited: out.waited_ms,
        last_status,
    })
}

fn run(policy: &RetryPolicy, clock: &FakeClock, steps: Vec<Step>) -> Run {
    run_with(policy, None, clock, Scripted::new(clock, steps), &open()).unwrap()
}

#[test]
fn two_rate_limits_then_success_sleep_exactly_the_hints() {
    let clock = FakeClock::new(vec![]);
    let r = run(
        &policy(3, Jitter::Full),
        &clock,
        vec![
            Step::Http(429, vec![("retry-after", "2")], RATE_LIMIT),
            Step::Http(429, vec![("retry-after-ms", "1250")], RATE_LIMIT),
            Step::Http(200, vec![], "{}"),
        ],
    );
    assert_eq!(r.sleeps, [2_000, 1_250]);
    assert_eq!(
        (r.stop, r.attempts, r.last_status),
        (Stop::Success, 3, Some(200))
    );
    assert_eq!(r.kinds, [Kind::RateLimit, Kind::RateLimit, Kind::Ok]);
    assert_eq!(r.waited, 3_250);
}

#[test]
fn without_hints_backoff_doubles() {
    let clock = FakeClock::new(vec![]);
    let r = run(
        &policy(3, Jitter::None),
        &clock,
        vec![
            Step::Http(503, vec![], ""),
            Step::NetworkError,
            Step::Http(500, vec![], ""),
            Step::Http(200, vec![], ""),
        ],
    );
    assert_eq!(r.sleeps, [100, 200, 400]);
    assert_eq!(
        r.kinds,
        [Kind::Overloaded, Kind::Network, Kind::ServerError, Kind::Ok]
    );
}

#[test]
fn quota_makes_exactly_one_attempt() {
    let clock = FakeClock::new(vec![]);
    let r = run(
        &policy(5, Jitter::Full),
        &clock,
        vec![Step::Http(429, vec![("retry-after", "1")], QUOTA)],
    );
    assert_eq!((r.stop, r.sent, r.sleeps.len()), (Stop::NotRetryable, 1, 0));
    assert_eq!(r.kinds, [Kind::QuotaExhausted]);
}

#[test]
fn auth_and_bad_request_are_not_retried() {
    for status in [400, 401, 403, 404, 413, 422] {
        let clock = FakeClock::new(vec![]);
        let r = run(
            &policy(5, Jitter::Full),
            &clock,
            vec![Step::Http(status, vec![], "")],
        );
        assert_eq!((r.stop, r.sent), (Stop::NotRetryable, 1), "status {status}");
    }
}

#[test]
fn a_hint_over_the_cap_gives_up_at_once() {
    let clock = FakeClock::new(vec![]);
    let r = run(
        &policy(5, Jitter::Full),
        &clock,
        vec![Step::Http(429, vec![("retry-after", "3600")], RATE_LIMIT)],
    );
    assert_eq!((r.stop, r.sent, r.sleeps.len()), (Stop::HintTooLong, 1, 0));
}

#[test]
fn retries_run_out() {
    let clock = FakeClock::new(vec![]);
    let r = run(
        &policy(2, Jitter::None),
        &clock,
        vec![Step::Http(500, vec![], ""); 3],
    );
    assert_eq!(
        (r.stop, r.sent, r.last_status),
        (Stop::RetriesExhausted, 3, Some(500))
    );
}

#[test]
fn the_deadline_is_respected() {
    let clock = FakeClock::new(vec![]);
    let steps = vec![Step::Http(429, vec![("retry-after", "1")], RATE_LIMIT); 10];
    let r = run_with(
        &policy(9, Jitter::Full),
        Some(3_500.0),
        &clock,
        Scripted::new(&clock, steps),
        &open(),
    )
    .unwrap();
    assert_eq!(r.sleeps, [1_000, 1_000, 1_000]);
    assert_eq!((r.stop, r.sent), (Stop::Deadline, 4));
}

#[test]
fn a_stream_body_is_sent_once() {
    let clock = FakeClock::new(vec![]);
    let mut t = Scripted::new(
        &clock,
        vec![Step::Http(429, vec![("retry-after", "1")], RATE_LIMIT)],
    );
    t.replayable = false;
    let r = run_with(&policy(3, Jitter::Full), None, &clock, t, &open()).unwrap();
    assert_eq!(
        (r.stop, r.sent, r.sleeps.len()),
        (Stop::BodyNotReplayable, 1, 0)
    );
}

#[test]
fn an_abort_during_a_sleep_ends_the_run() {
    let mut clock = FakeClock::new(vec![]);
    clock.abort_sleep = Some(1);
    let steps = vec![Step::Http(503, vec![], ""); 5];
    let err = run_with(
        &policy(5, Jitter::None),
        None,
        &clock,
        Scripted::new(&clock, steps),
        &open(),
    )
    .err();
    assert_eq!(err, Some(Halt::Aborted("aborted")));
    assert_eq!(clock.sleeps(), [100]);
}

#[test]
fn an_abort_during_a_send_ends_the_run() {
    let clock = FakeClock::new(vec![]);
    let r = run_with(
        &policy(5, Jitter::None),
        None,
        &clock,
        Scripted::new(&clock, vec![Step::Http(503, vec![], ""), Step::Abort]),
        &open(),
    );
    assert_eq!(r.err(), Some(Halt::Aborted("aborted")));
}

#[test]
fn discarded_responses_are_released() {
    let clock = FakeClock::new(vec![]);
    let mut t = Scripted::new(
        &clock,
        vec![
            Step::Http(503, vec![], ""),
            Step::Http(503, vec![], ""),
            Step::Http(200, vec![], ""),
        ],
    );
    block_on(engine::run(
        &policy(3, Jitter::None),
        None,
        &open(),
        &mut t,
        &mut &clock,
        &mut |_| {},
    ))
    .unwrap();
    assert_eq!(t.discarded, 2);
}

#[test]
fn full_jitter_sleeps_stay_in_bounds() {
    let randoms = vec![0.0, 0.999, 0.5, 0.25, 0.75];
    let clock = FakeClock::new(randoms);
    let r = run(
        &policy(5, Jitter::Full),
        &clock,
        vec![Step::Http(503, vec![], ""); 6],
    );
    // retry n may wait anywhere in [0, 100 * 2^(n-1)]: the drawn numbers pin each one.
    assert_eq!(r.sleeps, [0, 199, 200, 200, 1_200]);
}

fn budget(capacity: u32) -> RefCell<Limiters<Snapshot>> {
    limiters(Settings {
        throttle: false,
        retry_budget: Some(RetryBudget::new(capacity, 1, 1)),
        ..Settings::default()
    })
}

#[test]
fn an_empty_budget_stops_retries() {
    let clock = FakeClock::new(vec![]);
    let steps = vec![Step::Http(503, vec![], ""); 5];
    let l = budget(1);
    let t = Scripted::new(&clock, steps);
    let r = run_with(&policy(5, Jitter::None), None, &clock, t, &l).unwrap();
    assert_eq!((r.stop, r.sent), (Stop::BudgetEmpty, 2));
    // A success refunds a token: the next failure may retry once.
    let t = Scripted::new(&clock, vec![Step::Http(200, vec![], "")]);
    let r = run_with(&policy(5, Jitter::None), None, &clock, t, &l).unwrap();
    assert_eq!(r.stop, Stop::Success);
    let steps = vec![Step::Http(503, vec![], ""); 5];
    let t = Scripted::new(&clock, steps);
    let r = run_with(&policy(5, Jitter::None), None, &clock, t, &l).unwrap();
    assert_eq!((r.stop, r.sent), (Stop::BudgetEmpty, 2));
}

#[test]
fn quota_fails_over_to_the_next_route_at_once_without_using_a_retry() {
    let clock = FakeClock::new(vec![]);
    let steps = vec![
        Step::Http(429, vec![], QUOTA),
        Step::Http(429, vec![], QUOTA),
        Step::Http(200, vec![], ""),
    ];
    let t = Scripted::new(&clock, steps).with_routes(3);
    // maxRetries 0: switching route is not a retry.
    let r = run_with(&policy(0, Jitter::None), None, &clock, t, &open()).unwrap();
    assert_eq!((r.stop, r.attempts, r.sent), (Stop::Success, 3, 3));
    assert_eq!(r.routes, [0, 1, 2]);
    assert_eq!(r.sleeps, [0, 0], "failover does not back off");
    assert_eq!(
        r.kinds,
        [Kind::QuotaExhausted, Kind::QuotaExhausted, Kind::Ok]
    );
}

#[test]
fn quota_with_no_route_left_stops() {
    let clock = FakeClock::new(vec![]);
    let t = Scripted::new(
        &clock,
        vec![
            Step::Http(429, vec![], QUOTA),
            Step::Http(429, vec![], QUOTA),
        ],
    )
    .with_routes(2);
    let r = run_with(&policy(3, Jitter::None), None, &clock, t, &open()).unwrap();
    assert_eq!((r.stop, r.sent), (Stop::NotRetryable, 2));
}

/// The combination of limiters around the loop, with a fake clock.
mod composed {
    use super::*;
    use ratewise::limits::bulkhead::SLOT_LEASE_MS;

    fn breaker(cooldown_ms: f64) -> RefCell<Limiters<Snapshot>> {
        limiters(Settings {
            retry_budget: None,
            quota_cooldown_ms: cooldown_ms,
            ..Settings::default()
        })
    }

    /// One concurrency slot, nothing else.
    fn one_slot() -> RefCell<Limiters<Snapshot>> {
        limiters(Settings {
            max_concurrency: 1,
            throttle: false,
            retry_budget: None,
            ..Settings::default()
        })
    }

    fn call(
        clock: &FakeClock,
        l: &RefCell<Limiters<Snapshot>>,
        routes: usize,
        steps: Vec<Step>,
    ) -> Run {
        let t = Scripted::new(clock, steps).with_routes(routes);
        run_with(&policy(0, Jitter::None), None, clock, t, l).unwrap()
    }

    #[test]
    fn an_open_breaker_answers_without_a_network_call() {
        let (clock, l) = (FakeClock::new(vec![]), breaker(1_000.0));
        let r = call(&clock, &l, 1, vec![Step::Http(429, vec![], QUOTA)]);
        assert_eq!((r.stop, r.sent), (Stop::NotRetryable, 1));
        let r = call(&clock, &l, 1, vec![]);
        assert_eq!(
            (r.stop, r.sent, r.last_status),
            (Stop::BreakerOpen, 0, Some(429))
        );
        assert_eq!(r.sources, [Source::Breaker]);
        assert_eq!(r.kinds, [Kind::QuotaExhausted]);
    }

    #[test]
    fn a_tripped_route_is_skipped_for_the_next_one() {
        let (clock, l) = (FakeClock::new(vec![]), breaker(1_000.0));
        let quota_then_ok = vec![Step::Http(429, vec![], QUOTA), Step::Http(200, vec![], "")];
        let r = call(&clock, &l, 2, quota_then_ok);
        assert_eq!((r.stop, r.routes.clone()), (Stop::Success, vec![0, 1]));
        // The primary's breaker is open: the next call goes straight to the backup.
        let r = call(&clock, &l, 2, vec![Step::Http(200, vec![], "")]);
        assert_eq!((r.stop, r.routes), (Stop::Success, vec![1]));
    }

    #[test]
    fn a_probe_that_fails_otherwise_hands_the_probe_to_the_next_call() {
        let (clock, l) = (FakeClock::new(vec![]), breaker(1_000.0));
        call(&clock, &l, 1, vec![Step::Http(429, vec![], QUOTA)]);
        clock.now.set(clock.now.get() + 1_000.0);
        // The probe meets an outage, which says nothing about the quota.
        let r = call(&clock, &l, 1, vec![Step::Http(503, vec![], "")]);
        assert_eq!((r.sent, r.sources), (1, vec![Source::Network]));
        // So the very next call probes again instead of waiting a cooldown.
        let r = call(&clock, &l, 1, vec![Step::Http(200, vec![], "")]);
        assert_eq!((r.stop, r.sent), (Stop::Success, 1));
        let r = call(&clock, &l, 1, vec![Step::Http(200, vec![], "")]);
        assert_eq!((r.stop, r.sent), (Stop::Success, 1), "closed again");
    }

    #[test]
    fn an_answered_request_is_no_longer_counted_in_flight() {
        let (clock, l) = (FakeClock::new(vec![]), breaker(1_000.0));
        let key = route_key(0);
        call(&clock, &l, 1, vec![Step::Http(503, vec![], "")]);
        assert_eq!(l.borrow().in_flight(key), 0);
        // Nor is one whose call was aborted mid-request.
        let t = Scripted::new(&clock, vec![Step::Abort]);
        let r = run_with(&policy(0, Jitter::None), None, &clock, t, &l);
        assert_eq!(r.err(), Some(Halt::Aborted("aborted")));
        assert_eq!(l.borrow().in_flight(key), 0);
    }

    #[test]
    fn the_throttle_paces_a_call_when_the_window_is_spent() {
        let (clock, l) = (FakeClock::new(vec![0.0, 0.0]), breaker(1_000.0));
        let spent = vec![
            ("x-ratelimit-limit-requests", "10"),
            ("x-ratelimit-remaining-requests", "0"),
            ("x-ratelimit-reset-requests", "2s"),
        ];
        call(&clock, &l, 1, vec![Step::Http(200, spent, "")]);
        let r = call(&clock, &l, 1, vec![Step::Http(200, vec![], "")]);
        // Polls at most a second apart, until a millisecond past the reset.
        assert_eq!(
            r.sleeps,
            [1_000, 1_000, 1],
            "waited for the window, then sent"
        );
    }

    #[test]
    fn a_queued_call_runs_once_a_lost_slot_expires() {
        let clock = FakeClock::new(vec![]);
        let l = one_slot();
        // A call whose invocation was cancelled holds the only slot forever.
        l.borrow_mut().enter(clock.now.get());
        let r = call(&clock, &l, 1, vec![Step::Http(200, vec![], "")]);
        assert_eq!((r.stop, r.sent), (Stop::Success, 1));
        let waited: u64 = r.sleeps.iter().sum();
        assert!(
            (SLOT_LEASE_MS as u64..SLOT_LEASE_MS as u64 + 1_000).contains(&waited),
            "{waited}"
        );
        // Its own slot was given back: the next call runs at once.
        let before = clock.sleeps().len();
        let r = call(&clock, &l, 1, vec![Step::Http(200, vec![], "")]);
        assert_eq!((r.sent, r.sleeps.len()), (1, before));
    }

    #[test]
    fn a_call_whose_deadline_passes_in_the_queue_sends_nothing() {
        let clock = FakeClock::new(vec![]);
        let l = one_slot();
        l.borrow_mut().enter(clock.now.get());
        let t = Scripted::new(&clock, vec![Step::Http(200, vec![], "")]);
        let r = run_with(&policy(0, Jitter::None), Some(5_000.0), &clock, t, &l);
        assert_eq!(r.err(), Some(Halt::DeadlineQueued));
    }

    #[test]
    fn a_full_queue_turns_the_call_away() {
        let clock = FakeClock::new(vec![]);
        let l = limiters(Settings {
            max_concurrency: 1,
            max_queue: 0,
            ..Settings::default()
        });
        l.borrow_mut().enter(clock.now.get());
        let t = Scripted::new(&clock, vec![]);
        let r = run_with(&policy(0, Jitter::None), None, &clock, t, &l);
        assert_eq!(r.err(), Some(Halt::QueueFull));
    }
}

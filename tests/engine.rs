//! The retry loop driven by a scripted transport and a fake clock.

mod fakes;

use ratewise::shared::Shared;

use fakes::{block_on, route_key, FakeClock, Scripted, Snapshot, Step, QUOTA, RATE_LIMIT};
use ratewise::limits::budget::RetryBudget;
use ratewise::limits::key::LimitKey;
use ratewise::limits::lease::{Grant, Report, ALONE_MS};
use ratewise::limits::shared::REFRESH_MS;
use ratewise::limits::shared::{Change, Local, Store, Trip};
use ratewise::limits::subrequests::Subrequests;
use ratewise::limits::{BreakerKind, Hold, Limiters, Scope, Settings, Transition};
use ratewise::retry::engine::{self, Attempt, Halt, Source};
use ratewise::{Backoff, Jitter, Kind, RetryPolicy, Stop};

/// Limiters that never hold a call back: no queue, throttle or budget.
fn open() -> Shared<Limiters<Snapshot>> {
    limiters(Settings {
        throttle: false,
        retry_budget: None,
        ..Settings::default()
    })
}

fn limiters(settings: Settings) -> Shared<Limiters<Snapshot>> {
    Shared::new(Limiters::new(settings))
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
    /// Breakers opened (`true`) or closed, in order.
    breakers: Vec<(BreakerKind, bool)>,
    /// `first_report` of each quota failure.
    reports: Vec<bool>,
    sources: Vec<Source>,
    attempts: u32,
    sent: u32,
    sleeps: Vec<u64>,
    kinds: Vec<Kind>,
    waited: u64,
    last_status: Option<u16>,
    /// Each event's `queued_ms`, `paced_ms` and `leased_ms`.
    waits: Vec<[u64; 3]>,
    /// Each event's `paced_why`.
    holds: Vec<Option<Hold>>,
}

fn run_with(
    policy: &RetryPolicy,
    deadline: Option<f64>,
    subrequests: Option<&Shared<Subrequests>>,
    clock: &FakeClock,
    transport: Scripted<'_>,
    limiters: &Shared<Limiters<Snapshot>>,
) -> Result<Run, Halt<&'static str>> {
    let scope = Scope {
        deadline_ms: deadline.map(|d| clock.now.get() + d),
        subrequests,
        ..Scope::default()
    };
    run_in(policy, scope, clock, transport, limiters, &Local)
}

/// One call of an instance whose limiters are `limiters`, sharing `store`.
fn run_in(
    policy: &RetryPolicy,
    scope: Scope<'_>,
    clock: &FakeClock,
    mut transport: Scripted<'_>,
    limiters: &Shared<Limiters<Snapshot>>,
    store: &impl Store<Snapshot>,
) -> Result<Run, Halt<&'static str>> {
    let mut kinds = Vec::new();
    let mut sources = Vec::new();
    let mut breakers = Vec::new();
    let mut waits = Vec::new();
    let mut holds = Vec::new();
    let mut clock_ref = clock;
    let out = block_on(engine::run(
        policy,
        scope,
        limiters,
        store,
        &mut transport,
        &mut clock_ref,
        &mut |e| {
            kinds.push(e.classification.kind);
            sources.push(e.source);
            let opened = |t: &Transition| (t.breaker, t.opened_until_ms.is_some());
            breakers.extend(e.breakers.iter().map(opened));
            waits.push([e.queued_ms, e.paced_ms, e.leased_ms]);
            holds.push(e.paced_why);
        },
    ))?;
    let last_status = match out.last {
        Attempt::Answered { response, .. } => Some(response),
        Attempt::Failed { .. } => None,
    };
    Ok(Run {
        stop: out.stop,
        routes: transport.routes,
        breakers,
        reports: transport.reports,
        sources,
        attempts: out.attempts,
        sent: transport.sent,
        sleeps: clock.sleeps(),
        kinds,
        waited: out.waited_ms,
        last_status,
        waits,
        holds,
    })
}

fn run(policy: &RetryPolicy, clock: &FakeClock, steps: Vec<Step>) -> Run {
    run_with(
        policy,
        None,
        None,
        clock,
        Scripted::new(clock, steps),
        &open(),
    )
    .unwrap()
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
        None,
        &clock,
        Scripted::new(&clock, steps),
        &open(),
    )
    .unwrap();
    assert_eq!(r.sleeps, [1_000, 1_000, 1_000]);
    assert_eq!((r.stop, r.sent), (Stop::Deadline, 4));
}

#[test]
fn a_stream_body_is_not_moved_to_the_next_route() {
    // Quota on the primary moves a call to the backup, but a consumed
    // stream cannot be sent there: the call ends with the quota answer.
    let clock = FakeClock::new(vec![]);
    let steps = vec![Step::Http(429, vec![], QUOTA), Step::Http(200, vec![], "")];
    let mut t = Scripted::new(&clock, steps).with_routes(2);
    t.replayable = false;
    let r = run_with(&policy(3, Jitter::None), None, None, &clock, t, &open()).unwrap();
    assert_eq!(
        (r.stop, r.sent, r.routes, r.last_status),
        (Stop::NotRetryable, 1, vec![0], Some(429))
    );
}

#[test]
fn a_stream_body_is_sent_once() {
    let clock = FakeClock::new(vec![]);
    let mut t = Scripted::new(
        &clock,
        vec![Step::Http(429, vec![("retry-after", "1")], RATE_LIMIT)],
    );
    t.replayable = false;
    let r = run_with(&policy(3, Jitter::Full), None, None, &clock, t, &open()).unwrap();
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
        Scope::default(),
        &open(),
        &Local,
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

fn budget(capacity: u32) -> Shared<Limiters<Snapshot>> {
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
    let r = run_with(&policy(5, Jitter::None), None, None, &clock, t, &l).unwrap();
    assert_eq!((r.stop, r.sent), (Stop::BudgetEmpty, 2));
    // A success refunds a token: the next failure may retry once.
    let t = Scripted::new(&clock, vec![Step::Http(200, vec![], "")]);
    let r = run_with(&policy(5, Jitter::None), None, None, &clock, t, &l).unwrap();
    assert_eq!(r.stop, Stop::Success);
    let steps = vec![Step::Http(503, vec![], ""); 5];
    let t = Scripted::new(&clock, steps);
    let r = run_with(&policy(5, Jitter::None), None, None, &clock, t, &l).unwrap();
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
    let r = run_with(&policy(0, Jitter::None), None, None, &clock, t, &open()).unwrap();
    assert_eq!((r.stop, r.attempts, r.sent), (Stop::Success, 3, 3));
    assert_eq!(r.routes, [0, 1, 2]);
    assert_eq!(r.sleeps, [0, 0], "failover does not back off");
    assert_eq!(
        r.kinds,
        [Kind::QuotaExhausted, Kind::QuotaExhausted, Kind::Ok]
    );
}

#[test]
fn a_retry_the_budget_refuses_moves_on_only_for_a_kind_the_caller_fails_over_on() {
    // failoverOn is quota only by default: a 503 whose retry the empty budget
    // refuses stops on its route; it never moves to a route the caller did
    // not ask to fail over to for that kind.
    let clock = FakeClock::new(vec![]);
    let steps = vec![Step::Http(503, vec![], ""), Step::Http(200, vec![], "")];
    let t = Scripted::new(&clock, steps).with_routes(2);
    let r = run_with(&policy(3, Jitter::None), None, None, &clock, t, &budget(0)).unwrap();
    assert_eq!((r.stop, r.sent), (Stop::BudgetEmpty, 1));
    assert_eq!(r.routes, [0]);
    // A quota failure fails over whatever the budget says.
    let steps = vec![Step::Http(429, vec![], QUOTA), Step::Http(200, vec![], "")];
    let t = Scripted::new(&clock, steps).with_routes(2);
    let r = run_with(&policy(3, Jitter::None), None, None, &clock, t, &budget(0)).unwrap();
    assert_eq!((r.stop, r.sent), (Stop::Success, 2));
    assert_eq!(r.routes, [0, 1]);
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
    let r = run_with(&policy(3, Jitter::None), None, None, &clock, t, &open()).unwrap();
    assert_eq!((r.stop, r.sent), (Stop::NotRetryable, 2));
}

/// The combination of limiters around the loop, with a fake clock.
mod composed {
    use super::*;
    use ratewise::limits::bulkhead::SLOT_LEASE_MS;

    fn breaker(cooldown_ms: f64) -> Shared<Limiters<Snapshot>> {
        limiters(Settings {
            retry_budget: None,
            quota_cooldown_ms: cooldown_ms,
            ..Settings::default()
        })
    }

    /// One concurrency slot, nothing else.
    fn one_slot() -> Shared<Limiters<Snapshot>> {
        limiters(Settings {
            max_concurrency: 1,
            throttle: false,
            retry_budget: None,
            ..Settings::default()
        })
    }

    fn call(
        clock: &FakeClock,
        l: &Shared<Limiters<Snapshot>>,
        routes: usize,
        steps: Vec<Step>,
    ) -> Run {
        let t = Scripted::new(clock, steps).with_routes(routes);
        run_with(&policy(0, Jitter::None), None, None, clock, t, l).unwrap()
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
    fn a_breaker_answer_does_not_wait_for_a_concurrency_slot() {
        let clock = FakeClock::new(vec![]);
        let l = limiters(Settings {
            max_concurrency: 1,
            throttle: false,
            retry_budget: None,
            ..Settings::default()
        });
        let r = call(&clock, &l, 1, vec![Step::Http(429, vec![], QUOTA)]);
        assert_eq!(r.sent, 1, "tripped");
        // Another call holds the only slot for as long as it likes.
        let (_busy, admission) = l.borrow_mut().enter(clock.now.get());
        assert_eq!(admission, ratewise::limits::bulkhead::Admission::Run);
        let slept = clock.sleeps().len();
        let r = call(&clock, &l, 1, vec![]);
        assert_eq!((r.stop, r.sent), (Stop::BreakerOpen, 0));
        assert_eq!(r.sources, [Source::Breaker]);
        assert_eq!(clock.sleeps().len(), slept, "answered at once, not queued");
        // Only calls on the open key are answered so.
        assert!(l
            .borrow()
            .answered_by_breaker(&[route_key(0).into()], clock.now.get()));
        assert!(!l
            .borrow()
            .answered_by_breaker(&[route_key(7).into()], clock.now.get()));
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
        assert_eq!(
            l.borrow().breakers(clock.now.get()),
            [],
            "the success closed it"
        );
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
        let r = run_with(&policy(0, Jitter::None), None, None, &clock, t, &l);
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
        // The event says how long and why: the telemetry's throttle wait.
        assert_eq!((r.waits[0][1], r.holds[0]), (2_001, Some(Hold::Window)));
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
        // The event tells how long the call queued (the telemetry's queue wait).
        assert_eq!(r.waits, [[waited, 0, 0]]);
        // Its own slot was given back: the next call runs at once.
        let before = clock.sleeps().len();
        let r = call(&clock, &l, 1, vec![Step::Http(200, vec![], "")]);
        assert_eq!((r.sent, r.sleeps.len()), (1, before));
        assert_eq!(r.waits, [[0, 0, 0]], "not queued: no queue wait");
    }

    #[test]
    fn a_call_whose_deadline_passes_in_the_queue_sends_nothing() {
        let clock = FakeClock::new(vec![]);
        let l = one_slot();
        l.borrow_mut().enter(clock.now.get());
        let t = Scripted::new(&clock, vec![Step::Http(200, vec![], "")]);
        let r = run_with(&policy(0, Jitter::None), Some(5_000.0), None, &clock, t, &l);
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
        let r = run_with(&policy(0, Jitter::None), None, None, &clock, t, &l);
        assert_eq!(r.err(), Some(Halt::QueueFull));
    }

    /// Calls of one invocation sharing a budget of `limit` subrequests.
    fn invocation(
        clock: &FakeClock,
        budget: &Shared<Subrequests>,
        retries: u32,
        routes: usize,
        steps: Vec<Step>,
    ) -> Result<Run, Halt<&'static str>> {
        let t = Scripted::new(clock, steps).with_routes(routes);
        run_with(
            &policy(retries, Jitter::None),
            None,
            Some(budget),
            clock,
            t,
            &open(),
        )
    }

    #[test]
    fn retries_and_routes_all_spend_the_invocations_subrequests() {
        let clock = FakeClock::new(vec![]);
        let budget = Shared::new(Subrequests::new(5));
        // 2 sends: a 503 and a success.
        let steps = vec![Step::Http(503, vec![], ""), Step::Http(200, vec![], "")];
        let r = invocation(&clock, &budget, 3, 1, steps).unwrap();
        assert_eq!((r.stop, r.sent), (Stop::Success, 2));
        // 2 more: a quota failure, then the next route answers.
        let steps = vec![Step::Http(429, vec![], QUOTA), Step::Http(200, vec![], "")];
        let r = invocation(&clock, &budget, 3, 2, steps).unwrap();
        assert_eq!((r.stop, r.sent), (Stop::Success, 2));
        assert_eq!(budget.borrow().spent(), 4);
        // One left: a retry would need a second, so the call stops with
        // the answer it has.
        let steps = vec![Step::Http(503, vec![], ""); 4];
        let r = invocation(&clock, &budget, 3, 1, steps).unwrap();
        assert_eq!(
            (r.stop, r.sent, r.last_status),
            (Stop::SubrequestsSpent, 1, Some(503))
        );
        assert_eq!(budget.borrow().spent(), 5);
        // Nothing left: the next call sends nothing.
        let r = invocation(&clock, &budget, 3, 1, vec![Step::Http(200, vec![], "")]);
        assert_eq!(r.err(), Some(Halt::SubrequestsSpent));
        assert_eq!(
            budget.borrow().spent(),
            5,
            "a refused call gives its unit back"
        );
    }

    #[test]
    fn a_move_the_invocation_cannot_pay_for_stops_with_the_answer_it_has() {
        // A quota failure on the primary would move the call to the backup,
        // but the invocation's only subrequest went on the first attempt:
        // the call ends with the quota answer, not with an error.
        let clock = FakeClock::new(vec![]);
        let budget = Shared::new(Subrequests::new(1));
        let steps = vec![Step::Http(429, vec![], QUOTA), Step::Http(200, vec![], "")];
        let r = invocation(&clock, &budget, 3, 2, steps).unwrap();
        assert_eq!(
            (r.stop, r.sent, r.last_status),
            (Stop::SubrequestsSpent, 1, Some(429))
        );
        assert_eq!(budget.borrow().spent(), 1);
    }

    #[test]
    fn a_call_refused_for_want_of_subrequests_leaves_nothing_in_flight() {
        // The throttle booked the attempt before the invocation's budget
        // refused it: the booking is given back, or the key would count a
        // request in flight that never went, for ten minutes.
        let clock = FakeClock::new(vec![]);
        let l = limiters(Settings {
            retry_budget: None,
            ..Settings::default()
        });
        let budget = Shared::new(Subrequests::new(0));
        let t = Scripted::new(&clock, vec![Step::Http(200, vec![], "")]);
        let r = run_with(&policy(0, Jitter::None), None, Some(&budget), &clock, t, &l);
        assert_eq!(r.err(), Some(Halt::SubrequestsSpent));
        assert_eq!(l.borrow().in_flight(route_key(0)), 0);
    }

    #[test]
    fn a_breaker_answer_spends_no_subrequest() {
        let clock = FakeClock::new(vec![]);
        let l = breaker(60_000.0);
        let budget = Shared::new(Subrequests::new(1));
        let t = Scripted::new(&clock, vec![Step::Http(429, vec![], QUOTA)]);
        run_with(&policy(0, Jitter::None), None, Some(&budget), &clock, t, &l).unwrap();
        assert_eq!(budget.borrow().spent(), 1);
        let t = Scripted::new(&clock, vec![]);
        let r = run_with(&policy(0, Jitter::None), None, Some(&budget), &clock, t, &l).unwrap();
        assert_eq!((r.stop, r.sent), (Stop::BreakerOpen, 0));
        assert_eq!(budget.borrow().spent(), 1);
    }

    /// A store several instances share, as a coordinator would be; it can
    /// be made to fail.
    #[derive(Default)]
    struct Memory {
        trips: Shared<Vec<(LimitKey, Trip<Snapshot>)>>,
        down: std::cell::Cell<bool>,
        lookups: std::cell::Cell<u32>,
        leases: std::cell::Cell<u32>,
    }

    impl Store<Snapshot> for Memory {
        type Error = ();
        async fn publish(&self, change: &Change<Snapshot>) -> Result<(), ()> {
            if self.down.get() {
                return Err(());
            }
            let mut trips = self.trips.borrow_mut();
            match change {
                Change::Tripped {
                    key,
                    failure,
                    retry_at_ms,
                } => trips.push((
                    *key,
                    Trip {
                        failure: failure.clone(),
                        retry_at_ms: *retry_at_ms,
                    },
                )),
                Change::Closed { key } => trips.retain(|(k, _)| k != key),
            }
            Ok(())
        }
        async fn lookup(&self, key: LimitKey) -> Result<Option<Trip<Snapshot>>, ()> {
            self.lookups.set(self.lookups.get() + 1);
            if self.down.get() {
                return Err(());
            }
            let trips = self.trips.borrow();
            Ok(trips
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, t)| t.clone()))
        }
        async fn lease(
            &self,
            _: LimitKey,
            want: u32,
            _: f64,
            _: Option<Report>,
        ) -> Result<Grant, ()> {
            self.leases.set(self.leases.get() + 1);
            if self.down.get() {
                return Err(());
            }
            Ok(Grant::Permits(want))
        }
    }

    fn shared_call(
        clock: &FakeClock,
        l: &Shared<Limiters<Snapshot>>,
        store: &Memory,
        steps: Vec<Step>,
    ) -> Run {
        let t = Scripted::new(clock, steps);
        run_in(
            &policy(0, Jitter::None),
            Scope::default(),
            clock,
            t,
            l,
            store,
        )
        .unwrap()
    }

    /// A store whose lease answers take `rtt_ms` of the fake clock.
    struct SlowLeases<'c> {
        inner: Memory,
        clock: &'c FakeClock,
        rtt_ms: f64,
    }

    impl Store<Snapshot> for SlowLeases<'_> {
        type Error = ();
        async fn publish(&self, change: &Change<Snapshot>) -> Result<(), ()> {
            self.inner.publish(change).await
        }
        async fn lookup(&self, key: LimitKey) -> Result<Option<Trip<Snapshot>>, ()> {
            self.inner.lookup(key).await
        }
        async fn lease(
            &self,
            key: LimitKey,
            want: u32,
            tokens: f64,
            r: Option<Report>,
        ) -> Result<Grant, ()> {
            self.clock.now.set(self.clock.now.get() + self.rtt_ms);
            self.inner.lease(key, want, tokens, r).await
        }
    }

    #[test]
    fn the_event_tells_how_long_the_attempt_waited_for_its_lease() {
        let clock = FakeClock::new(vec![]);
        let l = limiters(Settings::default());
        let store = SlowLeases {
            inner: Memory::default(),
            clock: &clock,
            rtt_ms: 35.0,
        };
        let t = Scripted::new(&clock, vec![Step::Http(200, vec![], "")]);
        let r = run_in(
            &policy(0, Jitter::None),
            Scope::default(),
            &clock,
            t,
            &l,
            &store,
        )
        .unwrap();
        assert_eq!(
            store.inner.leases.get(),
            2,
            "a lease, then the answer's report"
        );
        // Only the lease asked before sending counts as this attempt's wait.
        assert_eq!(r.waits, [[0, 0, 35]]);
    }

    #[test]
    fn a_quota_trip_seen_by_one_instance_opens_the_breaker_of_another() {
        let clock = FakeClock::new(vec![]);
        let (a, b, store) = (breaker(60_000.0), breaker(60_000.0), Memory::default());
        // B has been calling the key: it knows it as closed.
        let r = shared_call(&clock, &b, &store, vec![Step::Http(200, vec![], "")]);
        assert_eq!(r.sent, 1);
        let r = shared_call(&clock, &a, &store, vec![Step::Http(429, vec![], QUOTA)]);
        assert_eq!((r.stop, r.sent), (Stop::NotRetryable, 1));
        // Within a refresh interval B still trusts what it knew...
        clock.now.set(clock.now.get() + REFRESH_MS);
        // ...then asks, and answers from the breaker without a network call.
        let r = shared_call(&clock, &b, &store, vec![]);
        assert_eq!(
            (r.stop, r.sent, r.last_status),
            (Stop::BreakerOpen, 0, Some(429))
        );
        // Another instance's probe finds the quota back and says so: A,
        // whose own cooldown has most of a minute to run, hears it on its
        // next refresh and sends again.
        clock.now.set(clock.now.get() + REFRESH_MS);
        let closed = Change::Closed { key: route_key(0) };
        block_on(store.publish(&closed)).unwrap();
        let r = shared_call(&clock, &a, &store, vec![Step::Http(200, vec![], "")]);
        assert_eq!((r.stop, r.sent), (Stop::Success, 1), "A learned it closed");
    }

    #[test]
    fn a_store_is_asked_at_most_once_per_refresh_interval_per_key() {
        let clock = FakeClock::new(vec![]);
        let (l, store) = (breaker(60_000.0), Memory::default());
        for _ in 0..5 {
            shared_call(&clock, &l, &store, vec![Step::Http(200, vec![], "")]);
        }
        assert_eq!(store.lookups.get(), 1);
        clock.now.set(clock.now.get() + REFRESH_MS);
        shared_call(&clock, &l, &store, vec![Step::Http(200, vec![], "")]);
        assert_eq!(store.lookups.get(), 2);
    }

    #[test]
    fn a_coordinator_that_fails_leaves_leased_calls_on_local_state() {
        let clock = FakeClock::new(vec![]);
        let l = limiters(Settings::default());
        let store = Memory::default();
        store.down.set(true);
        let r = shared_call(&clock, &l, &store, vec![Step::Http(200, vec![], "")]);
        assert_eq!((r.stop, r.sent), (Stop::Success, 1));
        // Its breaker lookup failed: no lease request after it either.
        assert_eq!(store.leases.get(), 0);
        shared_call(&clock, &l, &store, vec![Step::Http(200, vec![], "")]);
        assert_eq!(store.leases.get(), 0, "alone for a while");
        // Back: the next call asks again.
        store.down.set(false);
        clock.now.set(clock.now.get() + ALONE_MS.max(REFRESH_MS));
        let r = shared_call(&clock, &l, &store, vec![Step::Http(200, vec![], "")]);
        // A lease, and the first answer's report forwarded at once.
        assert_eq!((r.stop, r.sent, store.leases.get()), (Stop::Success, 1, 2));
        // A lease request that fails leaves calls alone for a while too.
        store.down.set(true);
        clock.now.set(clock.now.get() + 200.0);
        let r = shared_call(&clock, &l, &store, vec![Step::Http(200, vec![], "")]);
        assert_eq!((r.stop, r.sent, store.leases.get()), (Stop::Success, 1, 3));
        shared_call(&clock, &l, &store, vec![Step::Http(200, vec![], "")]);
        assert_eq!(store.leases.get(), 3);
    }

    #[test]
    fn a_store_that_fails_costs_a_call_one_lookup_not_one_per_key() {
        let clock = FakeClock::new(vec![]);
        let (l, store) = (breaker(60_000.0), Memory::default());
        store.down.set(true);
        let t = Scripted::new(&clock, vec![Step::Http(200, vec![], "")]).with_routes(3);
        let r = run_in(
            &policy(0, Jitter::None),
            Scope::default(),
            &clock,
            t,
            &l,
            &store,
        );
        assert_eq!(r.unwrap().stop, Stop::Success);
        assert_eq!((store.lookups.get(), store.leases.get()), (1, 0));
    }

    #[test]
    fn a_store_that_fails_leaves_calls_on_local_state() {
        let clock = FakeClock::new(vec![]);
        let (l, store) = (breaker(60_000.0), Memory::default());
        store.down.set(true);
        let r = shared_call(&clock, &l, &store, vec![Step::Http(200, vec![], "")]);
        assert_eq!((r.stop, r.sent), (Stop::Success, 1));
        let r = shared_call(&clock, &l, &store, vec![Step::Http(429, vec![], QUOTA)]);
        assert_eq!(r.stop, Stop::NotRetryable);
        let r = shared_call(&clock, &l, &store, vec![]);
        assert_eq!(
            (r.stop, r.sent),
            (Stop::BreakerOpen, 0),
            "the local breaker still works"
        );
    }
}

/// Fallback routes: which limits a route draws on, when a call moves on,
/// the outage breaker, and one alert per incident.
mod fallbacks {
    use super::*;
    use ratewise::limits::outage::OutageSettings;
    use ratewise::limits::routes::{KindSet, RouteKey};
    use ratewise::limits::{Pass, Plan};
    use ratewise::Headers;
    use ratewise::{classify, Classification, Provider, Response};

    /// Gemini's answer when a model's free daily requests are spent (the
    /// mock's `gemini_daily`, from googleapis/python-genai#2044).
    const GEMINI_DAILY: &str = r#"{"error":{"code":429,"message":"You exceeded your current quota, please check your plan and billing details. * Quota exceeded for metric: generativelanguage.googleapis.com/generate_content_free_tier_requests, limit: 50, model: gemini-2.5-pro","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[{"quotaMetric":"generativelanguage.googleapis.com/generate_content_free_tier_requests","quotaId":"GenerateRequestsPerDayPerProjectPerModel-FreeTier","quotaDimensions":{"location":"global","model":"gemini-2.5-pro"},"quotaValue":"50"}]},{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"47s"}]}}"#;

    fn with(settings: Settings) -> Shared<Limiters<Snapshot>> {
        limiters(Settings {
            throttle: false,
            retry_budget: None,
            quota_cooldown_ms: 60_000.0,
            ..settings
        })
    }

    fn failing_over(kinds: &[Kind]) -> Shared<Limiters<Snapshot>> {
        with(Settings {
            failover_on: KindSet::of(kinds),
            ..Settings::default()
        })
    }

    fn outage(failures: u32) -> Shared<Limiters<Snapshot>> {
        with(Settings {
            outage: Some(OutageSettings {
                failures,
                cooldown_ms: 1_000.0,
            }),
            ..Settings::default()
        })
    }

    /// One key, two models: the request's and a model route's.
    fn model_routes(key: &str, first: &str, second: &str) -> Vec<RouteKey> {
        let account = LimitKey::new("https://api.example", Some(key));
        vec![
            RouteKey::new(account, Some(first)),
            RouteKey::new(account, Some(second)),
        ]
    }

    fn call(
        clock: &FakeClock,
        l: &Shared<Limiters<Snapshot>>,
        keys: &[RouteKey],
        retries: u32,
        steps: Vec<Step>,
    ) -> Run {
        let t = Scripted::new(clock, steps).with_keys(keys.to_vec());
        run_with(&policy(retries, Jitter::None), None, None, clock, t, l).unwrap()
    }

    fn ok() -> Step {
        Step::Http(200, vec![], "{}")
    }

    #[test]
    fn the_gemini_body_is_a_per_model_quota() {
        let c = classify(&Response {
            status: 429,
            headers: &Headers::default(),
            body: GEMINI_DAILY,
            url: None,
            now_ms: 0.0,
        });
        assert_eq!(
            (c.kind, c.provider),
            (Kind::QuotaExhausted, Provider::Gemini)
        );
    }

    #[test]
    fn a_model_route_runs_where_the_providers_quota_is_per_model() {
        let (clock, l) = (FakeClock::new(vec![]), with(Settings::default()));
        let keys = model_routes("AIza", "gemini-2.5-pro", "gemini-2.5-flash");
        let quota = Step::Http(429, vec![], GEMINI_DAILY);
        let r = call(&clock, &l, &keys, 3, vec![quota, ok()]);
        assert_eq!((r.stop, r.routes), (Stop::Success, vec![0, 1]));
        // The next call goes straight to the model that has quota left.
        let r = call(&clock, &l, &keys, 3, vec![ok()]);
        assert_eq!((r.stop, r.routes), (Stop::Success, vec![1]));
        // A call for the second model alone is not held back either.
        let r = call(&clock, &l, &keys[1..], 3, vec![ok()]);
        assert_eq!(r.sent, 1);
    }

    #[test]
    fn a_model_route_does_not_run_where_the_quota_is_the_accounts() {
        let (clock, l) = (FakeClock::new(vec![]), with(Settings::default()));
        let keys = model_routes("sk-one", "gpt-4o", "gpt-4o-mini");
        // OpenAI's insufficient_quota is the project's: another model would
        // meet the same answer, so the call stops with the one it has,
        // without a loop or a replay.
        let r = call(&clock, &l, &keys, 3, vec![Step::Http(429, vec![], QUOTA)]);
        assert_eq!((r.stop, r.sent, r.routes), (Stop::NotRetryable, 1, vec![0]));
        assert_eq!(r.sources, [Source::Network]);
        assert_eq!(r.reports, [true], "one alert");
        // Later calls are answered by the breaker, every route alike.
        let r = call(&clock, &l, &keys, 3, vec![]);
        assert_eq!((r.stop, r.sent), (Stop::BreakerOpen, 0));
        assert_eq!(r.reports, [false], "not a new incident");
    }

    #[test]
    fn a_rate_limit_with_a_wait_over_the_cap_moves_on_at_once_when_asked() {
        let clock = FakeClock::new(vec![]);
        let keys = model_routes("sk-one", "gpt-4o", "gpt-4o-mini");
        let long = Step::Http(429, vec![("retry-after", "3600")], RATE_LIMIT);
        let l = failing_over(&[Kind::QuotaExhausted, Kind::RateLimit]);
        let r = call(&clock, &l, &keys, 3, vec![long.clone(), ok()]);
        assert_eq!((r.stop, r.routes), (Stop::Success, vec![0, 1]));
        assert_eq!(r.sleeps, [0], "no wait on the way");
        // By default a rate limit is the route's own business.
        let l = with(Settings::default());
        let r = call(&clock, &l, &keys, 3, vec![long]);
        assert_eq!((r.stop, r.routes), (Stop::HintTooLong, vec![0]));
    }

    #[test]
    fn spent_retries_move_on_and_the_next_route_gets_retries_of_its_own() {
        let clock = FakeClock::new(vec![]);
        let keys: Vec<RouteKey> = (0..2).map(|i| route_key(i).into()).collect();
        let l = failing_over(&[Kind::Overloaded, Kind::ServerError]);
        let steps = vec![
            Step::Http(503, vec![], ""),
            Step::Http(503, vec![], ""),
            Step::Http(500, vec![], ""),
            Step::Http(503, vec![], ""),
            ok(),
        ];
        let r = call(&clock, &l, &keys, 2, steps);
        assert_eq!((r.stop, r.routes), (Stop::Success, vec![0, 0, 0, 1, 1]));
        assert_eq!(r.sleeps, [100, 200, 0, 100], "the backoff starts over");
        // With no route left, the last route's retries end the call.
        let r = call(
            &clock,
            &l,
            &keys[1..],
            1,
            vec![Step::Http(503, vec![], ""); 2],
        );
        assert_eq!((r.stop, r.sent), (Stop::RetriesExhausted, 2));
    }

    #[test]
    fn a_deadline_ends_the_call_wherever_it_is() {
        let clock = FakeClock::new(vec![]);
        let keys: Vec<RouteKey> = (0..2).map(|i| route_key(i).into()).collect();
        let l = failing_over(&[Kind::RateLimit]);
        let t = Scripted::new(
            &clock,
            vec![Step::Http(429, vec![("retry-after", "2")], RATE_LIMIT)],
        )
        .with_keys(keys);
        let r = run_with(&policy(3, Jitter::None), Some(1_000.0), None, &clock, t, &l).unwrap();
        assert_eq!((r.stop, r.routes), (Stop::Deadline, vec![0]));
    }

    #[test]
    fn an_empty_retry_budget_moves_the_call_on_instead() {
        let clock = FakeClock::new(vec![]);
        let keys: Vec<RouteKey> = (0..2).map(|i| route_key(i).into()).collect();
        let l = limiters(Settings {
            throttle: false,
            retry_budget: Some(RetryBudget::new(0, 1, 1)),
            failover_on: KindSet::of(&[Kind::Overloaded]),
            ..Settings::default()
        });
        let r = call(
            &clock,
            &l,
            &keys,
            3,
            vec![Step::Http(503, vec![], ""), ok()],
        );
        assert_eq!((r.stop, r.routes), (Stop::Success, vec![0, 1]));
        // Without a route to go to, the budget stops the call as before.
        let r = call(&clock, &l, &keys[1..], 3, vec![Step::Http(503, vec![], "")]);
        assert_eq!(r.stop, Stop::BudgetEmpty);
    }

    #[test]
    fn consecutive_outages_open_a_route_and_calls_skip_it_until_a_probe_finds_it_back() {
        let (clock, l) = (FakeClock::new(vec![]), outage(3));
        let keys: Vec<RouteKey> = (0..2).map(|i| route_key(i).into()).collect();
        let down = || Step::Http(503, vec![], "");
        let r = call(&clock, &l, &keys, 2, vec![down(), down(), down()]);
        assert_eq!((r.stop, r.routes), (Stop::RetriesExhausted, vec![0, 0, 0]));
        assert_eq!(r.breakers, [(BreakerKind::Outage, true)], "opened once");
        // Open: calls go to the backup, without a failed attempt first.
        let r = call(&clock, &l, &keys, 2, vec![ok()]);
        assert_eq!(
            (r.stop, r.routes, r.breakers),
            (Stop::Success, vec![1], vec![])
        );
        let states = l.borrow().breakers(clock.now.get());
        assert_eq!((states.len(), states[0].kind), (1, "outage"));
        // Cooled down: one probe on the primary, which is back.
        clock.now.set(clock.now.get() + 1_000.0);
        let r = call(&clock, &l, &keys, 2, vec![ok()]);
        assert_eq!(r.routes, [0]);
        assert_eq!(r.breakers, [(BreakerKind::Outage, false)], "closed once");
        let r = call(&clock, &l, &keys, 2, vec![ok()]);
        assert_eq!(r.routes, [0]);
    }

    #[test]
    fn a_retry_after_the_outage_breaker_opens_takes_the_next_route() {
        let (clock, l) = (FakeClock::new(vec![]), outage(2));
        let keys: Vec<RouteKey> = (0..2).map(|i| route_key(i).into()).collect();
        let steps = vec![Step::Http(503, vec![], ""), Step::NetworkError, ok()];
        let r = call(&clock, &l, &keys, 4, steps);
        assert_eq!((r.stop, r.routes), (Stop::Success, vec![0, 0, 1]));
    }

    #[test]
    fn with_no_other_route_a_route_that_is_down_is_still_called() {
        let (clock, l) = (FakeClock::new(vec![]), outage(1));
        let r = call(
            &clock,
            &l,
            &[route_key(0).into()],
            0,
            vec![Step::NetworkError],
        );
        assert_eq!(r.breakers, [(BreakerKind::Outage, true)]);
        let r = call(&clock, &l, &[route_key(0).into()], 0, vec![ok()]);
        assert_eq!(
            (r.sent, r.breakers),
            (1, vec![(BreakerKind::Outage, false)])
        );
        // And with the breaker off, nothing opens at all.
        let off = with(Settings {
            outage: None,
            ..Settings::default()
        });
        let r = call(
            &clock,
            &off,
            &[route_key(0).into()],
            0,
            vec![Step::NetworkError],
        );
        assert!(r.breakers.is_empty());
    }

    #[test]
    fn a_call_held_behind_a_hung_request_goes_once_it_has_waited_max_retry_after_ms() {
        // The README promises no call waits longer than maxRetryAfterMs: the
        // cap counts from when the call began waiting, not from each poll.
        let keys = [RouteKey::from(route_key(0))];
        let p = policy(0, Jitter::None);
        let mut l = Limiters::<Snapshot>::new(Settings {
            cold_start: 2,
            ..Settings::default()
        });
        let send = |l: &mut Limiters<Snapshot>| {
            let (ticket, _) = l.enter(0.0);
            match l.before(&keys, 0, 0.0, &p, None, ticket, None, false) {
                Plan::Send(pass) => pass,
                plan => panic!("cold: {plan:?}"),
            }
        };
        let (spent, _hung) = (send(&mut l), send(&mut l));
        // The first answer says the window is used up, its limit unknown:
        // only the second's answer can tell when room comes. It never comes.
        let headers: Headers = [("x-ratelimit-remaining-requests", "0")]
            .into_iter()
            .collect();
        let c = classify(&Response {
            status: 200,
            headers: &headers,
            body: "{}",
            url: None,
            now_ms: 0.0,
        });
        l.after(&spent, &c, None, 0.0);
        let (second, _) = l.enter(0.0);
        let mut now = 0.0;
        let mut holds = 0;
        loop {
            match l.before(&keys, 0, now, &p, None, second, None, false) {
                Plan::Hold { ms, why } => {
                    assert_eq!(why, Hold::Answer, "held for the cold start's answer");
                    now += ms.max(1) as f64;
                    holds += 1;
                    assert!(
                        now <= p.max_retry_after_ms as f64 + 1_000.0,
                        "held {now} ms, past the cap"
                    );
                }
                Plan::Send(_) => break,
                other => panic!("{other:?}"),
            }
        }
        assert!(holds > 0, "it was held first");
        assert!(
            now >= p.max_retry_after_ms as f64 - 1_000.0,
            "forced early, at {now} ms"
        );
    }

    #[test]
    fn only_a_call_that_shares_its_limits_keeps_a_report_for_the_coordinator() {
        let now = FakeClock::new(vec![]).now.get();
        let keys = [RouteKey::from(route_key(0))];
        let p = policy(0, Jitter::None);
        let ok = classify(&Response {
            status: 200,
            headers: &Headers::default(),
            body: "{}",
            url: None,
            now_ms: now,
        });
        for leased in [false, true] {
            let mut l = Limiters::<Snapshot>::new(Settings::default());
            let (ticket, _) = l.enter(now);
            let mut plan = l.before(&keys, 0, now, &p, None, ticket, None, leased);
            if let Plan::Lease { key, .. } = plan {
                assert!(leased, "only a shared call asks for a lease");
                l.leased(key, Some(ratewise::limits::lease::Grant::Permits(1)), now);
                plan = l.before(&keys, 0, now, &p, None, ticket, None, leased);
            }
            let Plan::Send(pass) = plan else {
                panic!("{plan:?}")
            };
            // The first answer's report goes to the coordinator at once; an
            // instance that shares nothing keeps none.
            let heard = l.after(&pass, &ok, None, now + 10.0);
            assert_eq!(heard.report.is_some(), leased, "leased: {leased}");
        }
    }

    #[test]
    fn a_probe_the_throttle_holds_is_given_back_and_goes_when_the_window_opens() {
        // The quota breaker's cooldown ends while the requests window the
        // quota answer reported is still used up: the probe is held, not
        // sent, so it is given back; when the window opens it goes, instead
        // of the held call replaying the failure for another cooldown.
        let mut l = Limiters::<Snapshot>::new(Settings {
            retry_budget: None,
            quota_cooldown_ms: 1_000.0,
            ..Settings::default()
        });
        let keys = [RouteKey::from(route_key(0))];
        let p = policy(0, Jitter::None);
        let headers: Headers = [
            ("x-ratelimit-limit-requests", "10"),
            ("x-ratelimit-remaining-requests", "0"),
            ("x-ratelimit-reset-requests", "5s"),
        ]
        .into_iter()
        .collect();
        let quota = classify(&Response {
            status: 429,
            headers: &headers,
            body: QUOTA,
            url: None,
            now_ms: 0.0,
        });
        let (first, _) = l.enter(0.0);
        let Plan::Send(pass) = l.before(&keys, 0, 0.0, &p, None, first, None, false) else {
            panic!("the first call goes")
        };
        l.after(&pass, &quota, Some((429, quota.clone())), 0.0);
        l.leave(first, 0.0);
        // Cooled down at 1 s; the window is used up until 5 s.
        let (second, _) = l.enter(1_500.0);
        let mut now = 1_500.0;
        let pass = loop {
            match l.before(&keys, 0, now, &p, None, second, None, false) {
                Plan::Hold { ms, .. } => now += ms.max(1) as f64,
                Plan::Send(pass) => break pass,
                other => panic!("at {now} ms: {other:?}"),
            }
            assert!(now < 10_000.0, "held for good");
        };
        assert!(
            now >= 4_000.0,
            "held until the window opened, not sent at {now} ms"
        );
        assert!(pass.probe, "it goes as the probe");
    }

    #[test]
    fn calls_in_flight_when_the_quota_runs_out_make_one_first_report() {
        let clock = FakeClock::new(vec![]);
        let mut l = Limiters::<Snapshot>::new(Settings {
            throttle: false,
            retry_budget: None,
            quota_cooldown_ms: 1_000.0,
            ..Settings::default()
        });
        let keys = [RouteKey::from(route_key(0))];
        let p = policy(0, Jitter::None);
        let send = |l: &mut Limiters<Snapshot>, now: f64| -> Pass {
            let (ticket, _) = l.enter(now);
            match l.before(&keys, 0, now, &p, None, ticket, None, false) {
                Plan::Send(pass) => pass,
                _ => panic!("the breaker answered or the throttle held"),
            }
        };
        let now = clock.now.get();
        let quota = classify(&Response {
            status: 429,
            headers: &Headers::default(),
            body: QUOTA,
            url: None,
            now_ms: now,
        });
        let snapshot = (429, quota.clone());
        // Five calls are sent before the first answer comes back.
        let passes: Vec<Pass> = (0..5).map(|_| send(&mut l, now)).collect();
        let heard: Vec<_> = passes
            .iter()
            .map(|pass| l.after(pass, &quota, Some(snapshot.clone()), now))
            .collect();
        let firsts: Vec<bool> = heard.iter().map(|h| h.first_report()).collect();
        assert_eq!(firsts, [true, false, false, false, false]);
        assert_eq!(heard.iter().map(|h| h.transitions.len()).sum::<usize>(), 1);
        // The probe finds the quota still gone: the same incident, twice the cooldown.
        let probe = send(&mut l, now + 1_000.0);
        assert!(probe.probe);
        let heard = l.after(&probe, &quota, Some(snapshot), now + 1_000.0);
        assert!(!heard.first_report() && heard.transitions.is_empty());
        assert_eq!(heard.changes.len(), 1, "the store hears the new retry time");
        let state = &l.breakers(now + 1_000.0)[0];
        assert_eq!((state.trips, state.retry_at_ms), (2, now + 3_000.0));
        // Billing fixed: the next probe closes it, once.
        let probe = send(&mut l, now + 3_000.0);
        let fine = Classification::without_response(Kind::Ok, None, "t");
        let heard = l.after(&probe, &fine, None, now + 3_000.0);
        let closed: Vec<_> = heard
            .transitions
            .iter()
            .map(|t| (t.breaker, t.opened_until_ms))
            .collect();
        assert_eq!(closed, [(BreakerKind::Quota, None)]);
    }
}

/// Priority lanes: interactive calls overtake bulk ones in the queue, and a
/// bulk call under pressure starts on the cheap route.
mod lanes {
    use super::*;
    use ratewise::limits::bulkhead::{Admission, SLOT_LEASE_MS};
    use ratewise::limits::lanes::Lane;

    fn call_in(
        clock: &FakeClock,
        l: &Shared<Limiters<Snapshot>>,
        lane: Lane,
        steps: Vec<Step>,
    ) -> Run {
        let t = Scripted::new(clock, steps).with_routes(2);
        let scope = Scope {
            lane,
            ..Scope::default()
        };
        run_in(&policy(0, Jitter::None), scope, clock, t, l, &Local).unwrap()
    }

    fn ok() -> Step {
        Step::Http(200, vec![], "{}")
    }

    /// One slot; `bulk_route` for bulk calls under pressure.
    fn one_slot(throttle: bool, bulk_route: Option<usize>) -> Shared<Limiters<Snapshot>> {
        limiters(Settings {
            max_concurrency: 1,
            throttle,
            retry_budget: None,
            bulk_route,
            ..Settings::default()
        })
    }

    #[test]
    fn an_interactive_waiter_overtakes_a_bulk_one_that_came_first() {
        let clock = FakeClock::new(vec![]);
        let l = one_slot(false, None);
        let now = clock.now.get();
        // A call whose invocation was cancelled holds the only slot until
        // its lease runs out; a bulk call waits behind it.
        l.borrow_mut().enter(now);
        let (bulk, admission) = l.borrow_mut().enter_in(Lane::Bulk, now);
        assert!(matches!(admission, Admission::Wait { .. }));
        let r = call_in(&clock, &l, Lane::Interactive, vec![ok()]);
        assert_eq!((r.stop, r.routes.as_slice()), (Stop::Success, &[0][..]));
        let waited: u64 = r.sleeps.iter().sum();
        // In arrival order it would wait for the bulk call's slot too: two leases.
        assert!(
            (SLOT_LEASE_MS as u64..SLOT_LEASE_MS as u64 + 1_000).contains(&waited),
            "the interactive call took the first free slot after {waited} ms"
        );
        assert_eq!(
            l.borrow_mut().poll(bulk, clock.now.get()),
            Admission::Run,
            "then the bulk call got it"
        );
    }

    #[test]
    fn a_bulk_call_takes_the_cheap_route_when_the_primary_window_is_nearly_spent() {
        let clock = FakeClock::new(vec![]);
        let l = one_slot(true, Some(1));
        let spent = vec![
            ("x-ratelimit-limit-requests", "10"),
            ("x-ratelimit-remaining-requests", "1"),
            ("x-ratelimit-reset-requests", "2s"),
        ];
        let first = call_in(
            &clock,
            &l,
            Lane::Interactive,
            vec![Step::Http(200, spent, "")],
        );
        assert_eq!(first.routes, [0]);
        let bulk = call_in(&clock, &l, Lane::Bulk, vec![ok()]);
        assert_eq!(
            bulk.routes,
            [1],
            "one request left for the primary: bulk goes elsewhere"
        );
        assert!(clock.sleeps().is_empty(), "and does not wait");
        let interactive = call_in(&clock, &l, Lane::Interactive, vec![ok()]);
        assert_eq!(
            interactive.routes,
            [0],
            "an interactive call takes the last one"
        );
    }

    #[test]
    fn without_pressure_a_bulk_call_stays_on_the_primary() {
        let clock = FakeClock::new(vec![]);
        let l = one_slot(true, Some(1));
        let roomy = vec![
            ("x-ratelimit-limit-requests", "10"),
            ("x-ratelimit-remaining-requests", "8"),
            ("x-ratelimit-reset-requests", "2s"),
        ];
        call_in(
            &clock,
            &l,
            Lane::Interactive,
            vec![Step::Http(200, roomy, "")],
        );
        assert_eq!(call_in(&clock, &l, Lane::Bulk, vec![ok()]).routes, [0]);
        let plain = one_slot(true, None);
        let spent = vec![
            ("x-ratelimit-limit-requests", "10"),
            ("x-ratelimit-remaining-requests", "0"),
            ("x-ratelimit-reset-requests", "2s"),
        ];
        call_in(
            &clock,
            &plain,
            Lane::Interactive,
            vec![Step::Http(200, spent, "")],
        );
        let r = call_in(&clock, &plain, Lane::Bulk, vec![ok()]);
        assert_eq!(
            r.routes,
            [0],
            "no cheap route: a bulk call waits like any other"
        );
    }

    #[test]
    fn a_bulk_call_that_had_to_queue_takes_the_cheap_route() {
        let clock = FakeClock::new(vec![]);
        let l = one_slot(false, Some(1));
        l.borrow_mut().enter(clock.now.get());
        let r = call_in(&clock, &l, Lane::Bulk, vec![ok()]);
        assert_eq!((r.stop, r.routes.as_slice()), (Stop::Success, &[1][..]));
        let l = one_slot(false, Some(1));
        l.borrow_mut().enter(clock.now.get());
        let r = call_in(&clock, &l, Lane::Interactive, vec![ok()]);
        assert_eq!(r.routes, [0], "an interactive call keeps its route");
    }
}

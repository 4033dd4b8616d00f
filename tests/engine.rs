//! The retry loop driven by a scripted transport and a fake clock.

mod fakes;

use fakes::{block_on, FakeClock, Scripted, Step, QUOTA, RATE_LIMIT};
use ratewise::retry::engine::{self, Attempt, Budget, Unlimited};
use ratewise::{Backoff, Jitter, Kind, RetryPolicy, Stop};

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
    budget: &mut dyn Budget,
) -> Result<Run, &'static str> {
    let mut kinds = Vec::new();
    let mut clock_ref = clock;
    let deadline = deadline.map(|d| clock.now.get() + d);
    let out = block_on(engine::run(
        policy,
        deadline,
        &mut transport,
        &mut clock_ref,
        budget,
        &mut |e| kinds.push(e.classification.kind),
    ))?;
    let last_status = match out.last {
        Attempt::Answered { response, .. } => Some(response),
        Attempt::Failed { .. } => None,
    };
    Ok(Run {
        stop: out.stop,
        attempts: out.attempts,
        sent: transport.sent,
        sleeps: clock.sleeps(),
        kinds,
        waited: out.waited_ms,
        last_status,
    })
}

fn run(policy: &RetryPolicy, clock: &FakeClock, steps: Vec<Step>) -> Run {
    run_with(
        policy,
        None,
        clock,
        Scripted::new(clock, steps),
        &mut Unlimited,
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
        &clock,
        Scripted::new(&clock, steps),
        &mut Unlimited,
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
    let r = run_with(&policy(3, Jitter::Full), None, &clock, t, &mut Unlimited).unwrap();
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
        &mut Unlimited,
    )
    .err();
    assert_eq!(err, Some("aborted"));
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
        &mut Unlimited,
    );
    assert_eq!(r.err(), Some("aborted"));
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
        &mut t,
        &mut &clock,
        &mut Unlimited,
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

struct Tokens(u32, u32);
impl Budget for Tokens {
    fn try_spend(&mut self) -> bool {
        if self.0 == 0 {
            return false;
        }
        self.0 -= 1;
        true
    }
    fn record_success(&mut self) {
        self.1 += 1;
    }
}

#[test]
fn an_empty_budget_stops_retries() {
    let clock = FakeClock::new(vec![]);
    let mut budget = Tokens(1, 0);
    let steps = vec![Step::Http(503, vec![], ""); 5];
    let r = run_with(
        &policy(5, Jitter::None),
        None,
        &clock,
        Scripted::new(&clock, steps),
        &mut budget,
    )
    .unwrap();
    assert_eq!((r.stop, r.sent), (Stop::BudgetEmpty, 2));
    let mut budget = Tokens(0, 0);
    let r = run_with(
        &policy(5, Jitter::None),
        None,
        &clock,
        Scripted::new(&clock, vec![Step::Http(200, vec![], "")]),
        &mut budget,
    )
    .unwrap();
    assert_eq!((r.stop, budget.1), (Stop::Success, 1));
}

#[test]
fn quota_fails_over_to_the_next_route_at_once_without_using_a_retry() {
    let clock = FakeClock::new(vec![]);
    let steps = vec![
        Step::Http(429, vec![], QUOTA),
        Step::Http(429, vec![], QUOTA),
        Step::Http(200, vec![], ""),
    ];
    let mut t = Scripted::new(&clock, steps);
    t.routes_left = 2;
    // maxRetries 0: switching route is not a retry.
    let r = run_with(&policy(0, Jitter::None), None, &clock, t, &mut Unlimited).unwrap();
    assert_eq!((r.stop, r.attempts, r.sent), (Stop::Success, 3, 3));
    assert_eq!(r.sleeps, [0, 0], "failover does not back off");
    assert_eq!(
        r.kinds,
        [Kind::QuotaExhausted, Kind::QuotaExhausted, Kind::Ok]
    );
}

#[test]
fn quota_with_no_route_left_stops() {
    let clock = FakeClock::new(vec![]);
    let mut t = Scripted::new(
        &clock,
        vec![
            Step::Http(429, vec![], QUOTA),
            Step::Http(429, vec![], QUOTA),
        ],
    );
    t.routes_left = 1;
    let r = run_with(&policy(3, Jitter::None), None, &clock, t, &mut Unlimited).unwrap();
    assert_eq!((r.stop, r.sent), (Stop::NotRetryable, 2));
}

//! The throttle against fake servers of every limit shape, many calls at
//! once, on a fake clock (`fakes::sim`): release at reset, pacing, cold
//! start and token booking, measured as a benchmark would, against the
//! rate-limit floor (⌈K/L⌉−1)·W.

mod fakes;

use std::cell::RefCell;

use fakes::sim::{batch, limiters, sim_key, Batch, Server, Shape, SimClock};
use ratewise::limits::throttle::Refill;
use ratewise::limits::tokens::Tokens;

const K: usize = 60;
const L: f64 = 10.0;
const W: f64 = 1_000.0;
/// Round trip of the fake server, ms.
const RTT: f64 = 4.0;

/// The earliest K requests can finish at L per W from a standing start:
/// the last window opens (⌈K/L⌉−1) windows in.
fn floor_ms(k: usize, l: f64, w: f64) -> f64 {
    ((k as f64 / l).ceil() - 1.0) * w
}

fn check(what: &str, b: &Batch, floor: f64) {
    let ratio = b.wall_ms / floor;
    eprintln!("{what}: {ratio:.3}× floor ({b:?})");
    assert_eq!(b.failed, 0, "{what}: {b:?}");
    assert_eq!(b.rejected, 0, "{what}: no 429s: {b:?}");
    assert!(ratio <= 1.10, "{what}: {ratio:.3}× the floor: {b:?}");
}

/// A batch from a standing start, then a second one right after it on the
/// same instance (steady state: its floor is K/L windows, since the first
/// batch's last window is still in use when it starts).
fn two_batches(shape: Shape, c: usize) {
    let clock = SimClock::new();
    let server = RefCell::new(Server::new(shape, L, W, RTT));
    let l = limiters(1);
    let start = batch(&clock, &server, &l, K, c, None);
    check(&format!("{shape:?} C={c} start"), &start, floor_ms(K, L, W));
    let steady = batch(&clock, &server, &l, K, c, None);
    check(
        &format!("{shape:?} C={c} steady"),
        &steady,
        K as f64 / L * W,
    );
    assert_eq!(
        start.calls + steady.calls,
        2 * K,
        "one network call per request"
    );
    let refill = l.borrow().throttle().map(|t| t.refill(sim_key())[0]);
    let expected = match shape {
        Shape::Bucket => Refill::Continuous,
        _ => Refill::AtReset,
    };
    assert_eq!(refill, Some(expected), "{shape:?}: told from its reports");
}

#[test]
fn a_fixed_window_is_released_at_its_reset() {
    two_batches(Shape::Fixed, 8);
    two_batches(Shape::Fixed, 20);
}

#[test]
fn a_sliding_log_is_released_at_its_reset() {
    two_batches(Shape::Sliding, 8);
    two_batches(Shape::Sliding, 20);
}

/// A sliding log whose reset says when the next slot frees: releasing
/// the whole window at each reset met a storm of 429s (12 of 72 network
/// calls at C=4); the throttle learns that only one slot frees there.
#[test]
fn a_next_slot_reset_is_not_taken_for_a_whole_refill() {
    two_batches(Shape::SlidingNext, 4);
    two_batches(Shape::SlidingNext, 8);
    two_batches(Shape::SlidingNext, 20);
}

#[test]
fn a_token_bucket_is_paced() {
    two_batches(Shape::Bucket, 8);
    two_batches(Shape::Bucket, 20);
}

#[test]
fn a_cold_start_sends_one_request_before_the_rest() {
    let run = |cold_start| {
        let clock = SimClock::new();
        let server = RefCell::new(Server::new(Shape::Fixed, L, W, RTT));
        batch(&clock, &server, &limiters(cold_start), 20, 20, None)
    };
    check("cold start", &run(1), floor_ms(20, L, W));
    let blind = run(0);
    assert_eq!(
        blind.rejected, 10,
        "without it, 20 at once meet a limit of 10: {blind:?}"
    );
}

/// The cold start holds a short step, never a whole completion: five
/// concurrent 2 s completions on a key nothing was heard from ended at 2 s
/// and 4 s (held for the first one's headers); now the last goes after
/// three steps (1, 2, 4, 8 allowed out), so all end by 2.75 s.
#[test]
fn a_cold_start_does_not_hold_callers_for_a_whole_completion() {
    let clock = SimClock::new();
    let server =
        RefCell::new(Server::new(Shape::Fixed, 100.0, 60_000.0, RTT).with_service(2_000.0, 0.0, 1));
    let b = batch(&clock, &server, &limiters(1), 5, 5, None);
    assert_eq!((b.failed, b.rejected), (0, 0), "{b:?}");
    assert!(b.wall_ms <= 2_000.0 + 3.0 * 250.0 + 2.0 * RTT, "{b:?}");
}

const TOKEN_WINDOW: f64 = 3_000.0;
const MAX_TOKENS: Tokens = Tokens {
    input: 2,
    output: 4_000,
};

fn token_server(shape: Shape) -> RefCell<Server> {
    RefCell::new(Server::new(shape, 100.0, W, RTT).with_tokens(shape, 10_000.0, TOKEN_WINDOW))
}

#[test]
fn token_estimates_are_booked_against_the_tokens_window() {
    for shape in [Shape::Fixed, Shape::Sliding, Shape::Bucket] {
        for c in [8, 20] {
            let clock = SimClock::new();
            let server = token_server(shape);
            let l = limiters(1);
            // 4002 tokens each, 10 000 per 3 s: two per window.
            let b = batch(&clock, &server, &l, 8, c, Some(MAX_TOKENS));
            let floor = match shape {
                // A bucket starts full and then refills 4002 every 1.2 s.
                Shape::Bucket => (8.0 * 4_002.0 - 10_000.0) / 10_000.0 * TOKEN_WINDOW,
                _ => floor_ms(8, 2.0, TOKEN_WINDOW),
            };
            check(&format!("tokens {shape:?} C={c}"), &b, floor);
        }
    }
}

#[test]
fn the_server_count_corrects_the_estimate() {
    let clock = SimClock::new();
    let server = token_server(Shape::Fixed);
    let l = limiters(1);
    // The server charges 2002 where 4002 was estimated: four fit a window.
    let b = fakes::sim::batch_charged(&clock, &server, &l, 8, 8, Some(MAX_TOKENS), 2_002.0);
    check("corrected", &b, floor_ms(8, 4.0, TOKEN_WINDOW));
}

/// The holds are bounded like server hints: a wait longer than
/// `maxRetryAfterMs`, or past the deadline, is not waited out.
mod bounds {
    use super::fakes::{block_on, FakeClock, Scripted, Snapshot, Step};
    use ratewise::limits::shared::Local;
    use ratewise::limits::{Limiters, Scope, Settings};
    use ratewise::retry::engine;
    use std::cell::RefCell;

    fn spent(reset: &'static str) -> Vec<(&'static str, &'static str)> {
        vec![
            ("x-ratelimit-limit-requests", "200"),
            ("x-ratelimit-remaining-requests", "0"),
            ("x-ratelimit-reset-requests", reset),
        ]
    }

    /// Sends one call with `deadline_ms`; returns the sleeps before it was sent.
    fn second_call(reset: &'static str, deadline_ms: Option<f64>) -> Vec<u64> {
        let clock = FakeClock::new(vec![]);
        let l = RefCell::new(Limiters::<Snapshot>::new(Settings::default()));
        let policy = super::fakes::sim::policy();
        let mut first = Scripted::new(&clock, vec![Step::Http(200, spent(reset), "{}")]);
        block_on(engine::run(
            &policy,
            Scope::default(),
            &l,
            &Local,
            &mut first,
            &mut &clock,
            &mut |_| {},
        ))
        .unwrap();
        let before = clock.sleeps().len();
        let mut second = Scripted::new(&clock, vec![Step::Http(200, vec![], "{}")]);
        let deadline = deadline_ms.map(|d| clock.now.get() + d);
        block_on(engine::run(
            &policy,
            Scope {
                deadline_ms: deadline,
                ..Scope::default()
            },
            &l,
            &Local,
            &mut second,
            &mut &clock,
            &mut |_| {},
        ))
        .unwrap();
        assert_eq!(second.sent, 1);
        clock.sleeps()[before..].to_vec()
    }

    #[test]
    fn a_reset_hours_away_is_not_waited_for() {
        assert_eq!(second_call("6h0m0s", None), Vec::<u64>::new());
        assert_eq!(second_call("2s", None).iter().sum::<u64>(), 2_001);
    }

    #[test]
    fn a_hold_never_runs_past_the_deadline() {
        assert_eq!(second_call("2s", Some(1_500.0)), Vec::<u64>::new());
    }
}

/// Requests sent a few milliseconds apart reach the server in another
/// order (up to 5 ms of jitter on a 4 ms round trip): a report can then
/// count a request booked after its own and miss one booked before.
#[test]
fn requests_that_reach_the_server_out_of_order() {
    for shape in [Shape::Fixed, Shape::Sliding, Shape::Bucket] {
        for c in [8, 20] {
            let clock = SimClock::new();
            let mut server = Server::new(shape, L, W, RTT);
            server.jitter_ms = 5.0;
            let server = RefCell::new(server);
            let l = limiters(1);
            let start = batch(&clock, &server, &l, K, c, None);
            check(
                &format!("{shape:?} C={c} jitter start"),
                &start,
                floor_ms(K, L, W),
            );
            let steady = batch(&clock, &server, &l, K, c, None);
            check(
                &format!("{shape:?} C={c} jitter steady"),
                &steady,
                K as f64 / L * W,
            );
        }
    }
}

/// One limit shared by several instances (Worker isolates), each with its
/// own limiters: alone, each instance's throttle knows only its own calls;
/// leasing permits from one coordinator keeps them all under the limit.
mod shared {
    use super::*;
    use fakes::sim::{batch_across, SimCoordinator};
    use ratewise::limits::shared::Local;
    use ratewise::limits::{Limiters, Settings};

    fn instance() -> RefCell<Limiters<fakes::Snapshot>> {
        RefCell::new(Limiters::new(Settings {
            retry_budget: None,
            ..Settings::default()
        }))
    }

    /// K calls by `c` workers spread over `n` instances, as one batch from a
    /// standing start and another right after; (with, without) a coordinator.
    fn across(shape: Shape, n: usize, c: usize) -> ([Batch; 2], [Batch; 2]) {
        let run = |leased: bool| {
            let clock = SimClock::new();
            let server = RefCell::new(Server::new(shape, L, W, 150.0));
            let coordinator = SimCoordinator::new(&clock, 10.0);
            let instances: Vec<_> = (0..n).map(|_| instance()).collect();
            let refs: Vec<_> = instances.iter().collect();
            let go = || {
                if leased {
                    batch_across(&clock, &server, &refs, &coordinator, K, c)
                } else {
                    batch_across(&clock, &server, &refs, &Local, K, c)
                }
            };
            [go(), go()]
        };
        (run(true), run(false))
    }

    fn report(shape: Shape, n: usize, c: usize) {
        let (with, without) = across(shape, n, c);
        for (what, b) in [("with", &with), ("without", &without)] {
            eprintln!(
                "{shape:?} N={n} C={c} {what} a coordinator: start {:.2}× floor, {} 429s in {}; steady {:.2}×, {} 429s in {}",
                b[0].wall_ms / floor_ms(K, L, W),
                b[0].rejected,
                b[0].calls,
                b[1].wall_ms / (K as f64 / L * W),
                b[1].rejected,
                b[1].calls
            );
        }
        for b in &with {
            assert_eq!(b.failed, 0, "{b:?}");
            assert!(b.rejected * 20 <= b.calls, "≤ 5% 429s with leases: {b:?}");
        }
        let rejected = |b: &[Batch; 2]| b[0].rejected + b[1].rejected;
        assert!(
            rejected(&without) >= 3 * rejected(&with).max(1),
            "without a coordinator the instances overrun the limit: {} 429s, with: {}",
            rejected(&without),
            rejected(&with)
        );
    }

    #[test]
    fn leases_keep_instances_sharing_a_fixed_window_under_it() {
        report(Shape::Fixed, 2, 8);
        report(Shape::Fixed, 4, 8);
    }

    #[test]
    fn leases_keep_instances_sharing_a_sliding_log_under_it() {
        report(Shape::Sliding, 4, 8);
    }

    #[test]
    fn leases_keep_instances_sharing_a_token_bucket_under_it() {
        report(Shape::Bucket, 4, 8);
    }
}

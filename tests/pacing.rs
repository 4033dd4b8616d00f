//! The throttle against fake servers of every limit shape, many calls at
//! once, on a fake clock (`fakes::sim`): release at reset, pacing, cold
//! start and token booking, measured as a benchmark would, against the
//! rate-limit floor (⌈K/L⌉−1)·W.

mod fakes;

use ratewise::shared::Shared;

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
    let server = Shared::new(Server::new(shape, L, W, RTT));
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
        let server = Shared::new(Server::new(Shape::Fixed, L, W, RTT));
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
        Shared::new(Server::new(Shape::Fixed, 100.0, 60_000.0, RTT).with_service(2_000.0, 0.0, 1));
    let b = batch(&clock, &server, &limiters(1), 5, 5, None);
    assert_eq!((b.failed, b.rejected), (0, 0), "{b:?}");
    assert!(b.wall_ms <= 2_000.0 + 3.0 * 250.0 + 2.0 * RTT, "{b:?}");
}

const TOKEN_WINDOW: f64 = 3_000.0;
const MAX_TOKENS: Tokens = Tokens {
    input: 2,
    output: 4_000,
};

fn token_server(shape: Shape) -> Shared<Server> {
    Shared::new(Server::new(shape, 100.0, W, RTT).with_tokens(shape, 10_000.0, TOKEN_WINDOW))
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
    use ratewise::shared::Shared;

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
        let l = Shared::new(Limiters::<Snapshot>::new(Settings::default()));
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
            let server = Shared::new(server);
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
/// leasing permits from one coordinator keeps them all under the limit,
/// near the floor.
mod shared {
    use super::*;
    use fakes::sim::{batch_across, SimCoordinator};
    use ratewise::limits::shared::Local;
    use ratewise::limits::{Limiters, Settings};

    /// The way to the server and back, ms, and to the coordinator.
    const LATENCY: f64 = 150.0;
    const COORDINATOR_RTT: f64 = 10.0;

    fn instance() -> Shared<Limiters<fakes::Snapshot>> {
        Shared::new(Limiters::new(Settings {
            retry_budget: None,
            ..Settings::default()
        }))
    }

    /// K calls by `c` workers spread over `n` instances, as one batch from a
    /// standing start and another right after; answers take `service` ms
    /// (± 50%) beyond the way there and back. (with, without) a coordinator.
    fn across(shape: Shape, n: usize, c: usize, service: f64) -> ([Batch; 2], [Batch; 2]) {
        let run = |leased: bool| {
            let clock = SimClock::new();
            let server =
                Shared::new(Server::new(shape, L, W, LATENCY).with_service(service, 0.5, 7));
            let coordinator = SimCoordinator::new(&clock, COORDINATOR_RTT);
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

    /// The floors of the two batches: from a standing start, the last
    /// window opens (⌈K/L⌉−1)·W in and its answers take one answer's time
    /// (the way there and back and the longest completion); right after
    /// another batch, whose last window is still in use, K/L windows.
    fn floors(service: f64) -> [f64; 2] {
        [
            floor_ms(K, L, W) + LATENCY + service * 1.5,
            K as f64 / L * W,
        ]
    }

    /// Runs a cell, prints its row, and checks it: no 429 with leases,
    /// both batches within `bound` of their floors, and instances that
    /// overrun the limit without a coordinator.
    fn cell(shape: Shape, n: usize, c: usize, service: f64, bound: f64) {
        let (with, without) = across(shape, n, c, service);
        let floors = floors(service);
        let ratio = |b: &[Batch; 2], i: usize| b[i].wall_ms / floors[i];
        eprintln!(
            "| {shape:?} | {n} | {c} | {service} | {:.2}× / {:.2}× | {} in {} | {:.2}× / {:.2}× | {} in {} |",
            ratio(&with, 0),
            ratio(&with, 1),
            with[0].rejected + with[1].rejected,
            with[0].calls + with[1].calls,
            ratio(&without, 0),
            ratio(&without, 1),
            without[0].rejected + without[1].rejected,
            without[0].calls + without[1].calls,
        );
        for (i, b) in with.iter().enumerate() {
            assert_eq!((b.failed, b.rejected), (0, 0), "{shape:?} N={n}: {b:?}");
            assert!(
                ratio(&with, i) <= bound,
                "{shape:?} N={n} C={c} service {service}: batch {i} at {:.3}× the floor: {b:?}",
                ratio(&with, i)
            );
        }
        let rejected = |b: &[Batch; 2]| b[0].rejected + b[1].rejected;
        assert!(
            rejected(&without) >= 3,
            "without a coordinator the instances overrun the limit: {without:?}"
        );
    }

    // `cargo test --test pacing shared -- --nocapture` prints the table:
    // wall ÷ floor of the first batch / the second, 429s and network
    // calls, with leases and without a coordinator. On the lease books
    // before slots were freed by the answer a report placed, by the
    // report's own count and at a whole refill, fixed windows took
    // 1.19–1.38× with answers at once and met 1 429 with slow ones (the
    // cold start's slot left the books before its report came); sliding
    // logs took 1.39–1.64× (1.61–1.77× and 429s with slow answers).
    // Now 1.17× / 1.11× for both at every N: with answers 150 ms away,
    // a slot held from the answer is no sooner free than one held from
    // the grant and the way there, and the whole refill is learned too
    // late in these batches to count.

    /// A fixed window: ≤ 1.20× its floor for N up to 8 (not yet 1.10×).
    #[test]
    fn leases_keep_instances_sharing_a_fixed_window_near_its_floor() {
        for n in [2, 4, 8] {
            cell(Shape::Fixed, n, 8, 0.0, 1.20);
        }
    }

    /// A sliding log frees one slot at a time, a window after each request,
    /// no longer all at once at the report's reset.
    #[test]
    fn leases_keep_instances_sharing_a_sliding_log_near_its_floor() {
        for n in [2, 4, 8] {
            cell(Shape::Sliding, n, 8, 0.0, 1.20);
        }
    }

    #[test]
    fn leases_keep_instances_sharing_a_token_bucket_at_its_floor() {
        for n in [2, 4, 8] {
            cell(Shape::Bucket, n, 8, 0.0, 1.10);
        }
    }

    /// Completions of 300 ms ± 50% (0.3 W) beyond the way there and back,
    /// 20 callers: no 429 (a cold start's slot is held until its report
    /// says for how long); fixed 1.20× / 1.11–1.12×, sliding 1.25–1.36×. A token bucket is left out: its first report
    /// (one request counted, a reset 100 ms away) reads as a 100 ms window,
    /// and 7 of 127 calls meet a 429, as before these books.
    #[test]
    fn leases_keep_instances_near_the_floor_with_slow_answers() {
        for n in [2, 4, 8] {
            cell(Shape::Fixed, n, 20, 300.0, 1.30);
            cell(Shape::Sliding, n, 20, 300.0, 1.50);
        }
    }
}

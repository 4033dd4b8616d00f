//! Instances sharing one limit through a coordinator's leases, on a fake
//! clock (`fakes::sim`): the lease books alone, with no machine in the way.
//! What a call costs in lease requests (each a round trip to the Durable
//! Object, one or more to Redis: a lost compare-and-set is one more), and
//! how near the floor the books let a batch finish. bench/redis.mjs and
//! bench/isolates.mjs measure the same against real processes and workerd;
//! what they add to these figures is the machine's (round trips and event
//! loops on a loaded two-core box), not the books'.
//!
//! `cargo test --test leases -- --nocapture` prints the table.

mod fakes;

use ratewise::shared::Shared;

use fakes::sim::{batch_across, batch_across_tokens, Server, Shape, SimClock, SimCoordinator};
use ratewise::limits::tokens::Tokens;
use ratewise::limits::{Limiters, Settings};

const K: usize = 60;
const L: f64 = 10.0;
const W: f64 = 1_000.0;
const COORDINATOR_RTT: f64 = 10.0;

/// `n` instances' limiters: the default settings without a retry budget,
/// as every run here uses.
fn instances(n: usize) -> Vec<Shared<Limiters<fakes::Snapshot>>> {
    (0..n)
        .map(|_| {
            Shared::new(Limiters::<fakes::Snapshot>::new(Settings {
                retry_budget: None,
                ..Settings::default()
            }))
        })
        .collect()
}

/// Lease requests per call, 429s, and the first batch's wall ÷ its floor
/// (from a standing start: (⌈K/L⌉−1)·W and one answer's time), over two
/// batches of K calls by `c` workers spread over `n` instances, answers
/// taking `latency` ms there and back and `service` ms (± 50%) more.
fn run(shape: Shape, n: usize, c: usize, latency: f64, service: f64) -> (f64, usize, f64) {
    let clock = SimClock::new();
    let server = Shared::new(Server::new(shape, L, W, latency).with_service(service, 0.5, 7));
    let coordinator = SimCoordinator::new(&clock, COORDINATOR_RTT);
    let instances = instances(n);
    let refs: Vec<_> = instances.iter().collect();
    let mut rejected = 0;
    let mut first = 0.0;
    for i in 0..2 {
        let b = batch_across(&clock, &server, &refs, &coordinator, K, c);
        assert_eq!(b.failed, 0, "{shape:?} N={n}: {b:?}");
        rejected += b.rejected;
        if i == 0 {
            let floor = ((K as f64 / L).ceil() - 1.0) * W + latency + service * 1.5;
            first = b.wall_ms / floor;
        }
    }
    let per_call = f64::from(coordinator.leases.get()) / (2 * K) as f64;
    (per_call, rejected, first)
}

// The table today: bench/redis.mjs's burst (every call at once, answers in
// 30 ms) takes 0.73 / 1.07 / 1.84 lease requests a call at N = 2 / 4 / 8,
// at 1.05x / 1.06x / 1.05x the floor. Before the coordinator learned a
// whole refill from the previous window's first sends (freeing.rs,
// learn_whole: margins of a permit's way there, 100 ms each side, left
// every such send out), it never learned it in a burst and took 0.83 /
// 1.25 / 2.09 requests at 1.05x / 1.05x / 1.12x: its last windows' slots
// freed one after another, a window after each grant or answer. With
// 300 ms completions a fixed window takes 1.18 / 1.87 / 3.53 requests a
// call and a sliding log 0.93 / 2.26 / 4.01: every instance told to wait
// asks again when a slot frees. Tried and not kept (see the log): booking
// permits ahead instead of answering a wait; waits capped at 250 or 100 ms
// (no batch faster, 1.5-4x the requests); forwarding each instance's first
// answer of a new window at once, which took the burst at N = 8 to 1.05x
// here but had the real processes of bench/redis.mjs ask about twice as
// often at N = 4 and 8, and no faster on the loaded machine where it was
// measured; and a report standing for the requests whose reports it
// replaced (each slot placed by its answer, not its grant): a sliding
// log's burst at N = 2 / 4 went from 1.12x to 1.06x, but the fixed burst
// at N = 8 to 1.11x and the 300 ms cells 0.03-0.06x slower.
// Found and not fixed: a token bucket's burst with 300 ms answers (C = K,
// 30 ms latency) meets 7 429s at N = 2 and 8, here and on main: the cold
// start's report (one request counted, a reset 100 ms away) reads as a
// 100 ms window, and the other reports come an answer later. Holding slots
// as long as a bucket would take to refill the latest report's count, until
// a report shows the window drained, removed them but slowed the sliding
// log's C = 8 cells from 1.17x to 1.32-1.37x (its window never drains
// there). Dropping permits LEASE_TTL_MS after their request went (a grant
// back late from a loaded coordinator may be spent past the books' word)
// stalled every call once the coordinator is 100 ms away: that needs the
// grant's own time on the wire.

/// No 429 with leases, and no batch slower than the books allow today.
#[test]
fn the_lease_books_alone_keep_instances_off_429s_near_the_floor() {
    eprintln!(
        "| shape | N | C | latency + service ms | lease requests per call | 429s | first batch ÷ floor |"
    );
    for (shape, c, latency, service, most) in [
        (Shape::Fixed, 8, 150.0, 0.0, 1.20),
        (Shape::Sliding, 8, 150.0, 0.0, 1.20),
        (Shape::Bucket, 8, 150.0, 0.0, 1.10),
        (Shape::Fixed, 20, 150.0, 300.0, 1.25),
        (Shape::Sliding, 20, 150.0, 300.0, 1.40),
        // bench/redis.mjs: every call at once, answers in 30 ms.
        (Shape::Fixed, K, 30.0, 0.0, 1.08),
    ] {
        for n in [2, 4, 8] {
            let (per_call, rejected, ratio) = run(shape, n, c, latency, service);
            eprintln!(
                "| {shape:?} | {n} | {c} | {latency} + {service} | {per_call:.2} | {rejected} | {ratio:.2}× |"
            );
            assert_eq!(rejected, 0, "{shape:?} N={n}");
            assert!(
                ratio <= most,
                "{shape:?} N={n} C={c}: {ratio:.2}× the floor"
            );
        }
    }
}

/// N = 4 instances on a key whose tokens limit binds long before its
/// requests limit (10 calls' worth of tokens a minute, 100 requests): the
/// coordinator shares the tokens window too, so no instance spends what
/// another booked. Each instance's own throttle alone (the coordinator
/// sharing only requests) let each spend the whole window, and 429s came.
/// Returns the 429s and the wall ÷ floor.
fn tokens_bound(shape: Shape, n: usize) -> (usize, f64) {
    const TOKENS: f64 = 10_000.0;
    const MINUTE: f64 = 60_000.0;
    const CALLS: usize = 40;
    let latency = 150.0;
    let need = Tokens {
        input: 200,
        output: 800,
    };
    let clock = SimClock::new();
    let server =
        Shared::new(Server::new(shape, 100.0, MINUTE, latency).with_tokens(shape, TOKENS, MINUTE));
    let coordinator = SimCoordinator::new(&clock, COORDINATOR_RTT);
    let instances = instances(n);
    let refs: Vec<_> = instances.iter().collect();
    let b = batch_across_tokens(&clock, &server, &refs, &coordinator, CALLS, 8, need);
    assert_eq!(b.failed, 0, "{shape:?} N={n}: {b:?}");
    let per_window = (TOKENS / need.total() as f64).floor();
    let floor = ((CALLS as f64 / per_window).ceil() - 1.0) * MINUTE + latency;
    (b.rejected, b.wall_ms / floor)
}

/// Issue 22: the token windows are shared across instances too.
#[test]
fn instances_share_a_tokens_window_through_the_coordinator() {
    eprintln!("| shape | N | 429s | wall ÷ floor |");
    for shape in [Shape::Sliding, Shape::Fixed, Shape::Bucket] {
        let (rejected, ratio) = tokens_bound(shape, 4);
        eprintln!("| {shape:?} | 4 | {rejected} | {ratio:.3}× |");
        assert_eq!(rejected, 0, "{shape:?}: {rejected} 429s");
        assert!(ratio <= 1.10, "{shape:?}: {ratio:.3}× the floor");
    }
}

/// bench/redis.mjs's tokens-bound burst on the fake clock: every call at
/// once over `n` instances, answers in 30 ms, 10 calls' worth of tokens
/// and 100 requests a 1 s window, requests reaching the server up to
/// `jitter_ms` late, a coordinator `rtt` ms away. Returns the 429s, the
/// wall ÷ floor and the lease requests per call.
fn tokens_burst(shape: Shape, n: usize, rtt: f64, jitter_ms: f64) -> (usize, f64, f64) {
    let need = Tokens {
        input: 1,
        output: 999,
    };
    let clock = SimClock::new();
    let mut server = Server::new(shape, 100.0, W, 30.0).with_tokens(shape, 10_000.0, W);
    server.jitter_ms = jitter_ms;
    let server = Shared::new(server);
    let coordinator = SimCoordinator::new(&clock, rtt);
    let instances = instances(n);
    let refs: Vec<_> = instances.iter().collect();
    let b = batch_across_tokens(&clock, &server, &refs, &coordinator, K, K, need);
    assert_eq!(b.failed, 0, "{shape:?} N={n}: {b:?}");
    let floor = ((K as f64 / 10.0).ceil() - 1.0) * W;
    let per_call = f64::from(coordinator.leases.get()) / K as f64;
    (b.rejected, b.wall_ms / floor, per_call)
}

/// Issue 23: a token bucket's reset is the time until it is full again,
/// a fraction of its window while it is not drained. Read as the window,
/// the coordinator's tokens books let grants leave too soon and met 429s
/// (1 at N = 8 with a coordinator 2 ms away, 1 with requests up to 120 ms
/// late); bench/redis.mjs met 4 on a loaded machine. Learned from the
/// reports' one rate, the books held tokens a whole refill (1.11-1.17×
/// the floor); now they refill as the bucket does (1.03-1.09×). Told to
/// come back when one call's refill came, every waiting instance did, one
/// was granted and the others told to wait again: 2.6-7.5 lease requests a
/// call (held a whole refill, 0.75-2.57); each is now promised a turn of
/// the refill (1.27-2.33), and an instance granted fewer permits than it
/// asked for asks next for half of the rest (0.78-2.02).
#[test]
fn a_bucket_s_tokens_window_is_its_whole_refill_not_its_reset() {
    eprintln!(
        "| shape | N | coordinator rtt ms | late up to ms | 429s | wall ÷ floor | lease requests per call |"
    );
    for shape in [Shape::Bucket, Shape::Fixed, Shape::Sliding] {
        for n in [2, 4, 8] {
            for (rtt, jitter) in [(2.0, 0.0), (10.0, 0.0), (40.0, 0.0), (10.0, 120.0)] {
                let (rejected, ratio, per_call) = tokens_burst(shape, n, rtt, jitter);
                eprintln!(
                    "| {shape:?} | {n} | {rtt} | {jitter} | {rejected} | {ratio:.2}× | {per_call:.2} |"
                );
                assert_eq!(rejected, 0, "{shape:?} N={n} rtt={rtt} late {jitter}");
                if shape == Shape::Bucket {
                    assert!(ratio <= 1.10, "{shape:?} N={n} rtt={rtt}: {ratio:.2}×");
                    assert!(per_call <= 2.1, "{shape:?} N={n} rtt={rtt}: {per_call:.2}");
                }
            }
        }
    }
}

//! The benchmark matrix of issue 22 as a native simulation (`fakes::sim`):
//! every server shape (a fixed window opened at the first request or
//! aligned to the clock, a sliding log whose reset means "empty" or "next
//! slot free", a token bucket, 429 + `retry-after` only, headers on 429s
//! only), answers taking 0, 0.3 W or 1 W (± 50%, seeded), C = 4, 20, 100
//! calls at once, K = 60 (600 for a few cells).
//!
//! Goal per cell: at most 1.10× the floor, at most 5% of network calls
//! answered 429, no call failed. The floor is the larger of two lower
//! bounds (see [`floor_ms`]): the rate's (the last requests cannot be
//! counted before the rate-limit floor; they then take their answers' time,
//! C at a time) and the concurrency's (every answer's time, C at a time).
//!
//! `cargo test --test matrix -- --nocapture` prints each cell.

mod fakes;

use ratewise::shared::Shared;

use fakes::sim::{batch, limiters, Batch, Server, Shape, SimClock, Speech};

const L: f64 = 10.0;
const W: f64 = 1_000.0;
/// Round trip of the fake server, ms.
const RTT: f64 = 4.0;

/// One cell of the matrix.
#[derive(Debug, Clone, Copy)]
struct Cell {
    shape: Shape,
    speech: Speech,
    /// Answer time, in windows.
    latency: f64,
    c: usize,
    k: usize,
}

/// What a cell measured.
#[derive(Debug)]
struct Measured {
    cell: Cell,
    batch: Batch,
    floor_ms: f64,
}

impl Measured {
    fn ratio(&self) -> f64 {
        self.batch.wall_ms / self.floor_ms
    }

    fn rejected_share(&self) -> f64 {
        self.batch.rejected as f64 / self.batch.calls.max(1) as f64
    }

    fn passes(&self) -> bool {
        self.ratio() <= 1.10 && self.rejected_share() <= 0.05 && self.batch.failed == 0
    }

    fn row(&self) -> String {
        let c = self.cell;
        format!(
            "{:<12} {:<10} {:>4.1}W C={:<3} K={:<3} | {:>5.2}× floor | {:>3} 429s of {:>3} ({:>4.1}%) | {} failed | {}",
            format!("{:?}", c.shape),
            format!("{:?}", c.speech),
            c.latency,
            c.c,
            c.k,
            self.ratio(),
            self.batch.rejected,
            self.batch.calls,
            100.0 * self.rejected_share(),
            self.batch.failed,
            if self.passes() { "ok" } else { "FAIL" }
        )
    }
}

/// The earliest the last of `k` requests can be counted, from a standing
/// start at L per W, for `shape`.
fn rate_floor_ms(shape: Shape, k: usize) -> f64 {
    let windows = (k as f64 / L).ceil() - 1.0;
    match shape {
        // The run starts 0.6 W into an aligned window: 0.4 W of it left.
        Shape::Aligned => (windows - 1.0).max(0.0) * W + 0.4 * W,
        _ => windows * W,
    }
}

/// The requests that cannot be counted before [`rate_floor_ms`]: the
/// last window's, for a limit that refills at its reset (a fixed window
/// or a sliding log: request n + L is counted a window after request n);
/// a bucket's refill lets only the last one wait that long.
fn last_group(shape: Shape, k: usize) -> f64 {
    match shape {
        Shape::Bucket => 1.0,
        _ => k as f64 - ((k as f64 / L).ceil() - 1.0) * L,
    }
}

/// The lower bound the goal is measured against: the larger of
///
/// - the rate's: the last group ([`last_group`]) is counted no earlier
///   than [`rate_floor_ms`], and then takes its answers' time with at most
///   `c` at once (one answer when it fits at once);
/// - the concurrency's: every answer's time (`busy_ms`, the service times
///   drawn plus a round trip each), `c` at once. It already holds the last
///   answer: adding one more (as this file did until now) put the floor
///   above what the 1 W, C = 4 cells measured (0.99×).
fn floor_ms(cell: &Cell, busy_ms: f64) -> f64 {
    let answer = cell.latency * W + RTT;
    let group = last_group(cell.shape, cell.k);
    let by_rate = rate_floor_ms(cell.shape, cell.k) + answer * (group / cell.c as f64).max(1.0);
    let by_concurrency = busy_ms / cell.c as f64;
    by_rate.max(by_concurrency)
}

fn run(cell: Cell) -> Measured {
    let clock = SimClock::new();
    let seed = 0x5eed ^ (cell.c as u64) << 8 ^ cell.k as u64;
    let server = Shared::new(
        Server::new(cell.shape, L, W, RTT)
            .with_service(cell.latency * W, 0.5, seed)
            .with_speech(cell.speech),
    );
    let l = limiters(1);
    let batch = batch(&clock, &server, &l, cell.k, cell.c, None);
    let served: f64 = server.borrow().served_ms.iter().sum();
    let floor_ms = floor_ms(&cell, served + RTT * cell.k as f64);
    Measured {
        cell,
        batch,
        floor_ms,
    }
}

/// Every latency and concurrency for one shape and speech, K = 60; the
/// cells that miss the goal, printed.
fn rows(shape: Shape, speech: Speech) -> Vec<Measured> {
    let mut out = Vec::new();
    for latency in [0.0, 0.3, 1.0] {
        for c in [4, 20, 100] {
            out.push(run(Cell {
                shape,
                speech,
                latency,
                c,
                k: 60,
            }));
        }
    }
    out
}

/// Prints every cell; asserts that none failed a call, and that the cells
/// `held` picks meet the goal (the rest are the goal still open,
/// asserted by [`the_whole_matrix_meets_the_goal`], ignored until then).
fn check(measured: &[Measured], held: impl Fn(&Cell) -> bool) {
    for m in measured {
        eprintln!("{}", m.row());
    }
    let off: Vec<String> = measured
        .iter()
        .filter(|m| m.batch.failed > 0 || (held(&m.cell) && !m.passes()))
        .map(Measured::row)
        .collect();
    assert!(off.is_empty(), "cells off the goal:\n{}", off.join("\n"));
}

/// Answers at once: every shape that reports its windows meets the goal.
fn at_once(cell: &Cell) -> bool {
    cell.latency == 0.0
}

/// Answers slower than the window, few callers: concurrency binds, and
/// every shape meets the goal.
fn slow_and_few(cell: &Cell) -> bool {
    cell.latency == 1.0 && cell.c == 4
}

#[test]
/// With 0.3 W answers and C >= 20, main's throttle was at 1.09x (a
/// reset timed 70 ms late each window); 1.04-1.05x now. At C = 4 it was
/// 1.24x: a report took off the requests it may have overtaken and the
/// waiters slept to the reset, so a window went out with 7 of its 10
/// requests; 1.08x since those requests' own reports give their slots
/// back and the waiters poll for them (`throttle/order.rs`).
fn fixed_window_opened_at_the_first_request() {
    check(&rows(Shape::Fixed, Speech::Always), |c| {
        at_once(c) || slow_and_few(c) || c.latency == 0.3
    });
}

/// With 0.3 W answers and C = 20, the first window (0.4 W left of it)
/// was missed by 25 ms: the first answer came at 380 ms, the waiters
/// holding for it polled an eighth of their wait apart and went at 405 ms,
/// a window late (1.31x); they poll a sixteenth apart now (1.03x).
#[test]
fn fixed_window_aligned_to_the_clock() {
    check(&rows(Shape::Aligned, Speech::Always), |c| {
        at_once(c) || slow_and_few(c) || (c.latency == 0.3 && c.c >= 20)
    });
}

#[test]
fn sliding_log_reset_when_empty() {
    check(&rows(Shape::Sliding, Speech::Always), |c| {
        at_once(c) || slow_and_few(c)
    });
}

/// Main's throttle released the whole window at each reset here: 12 of
/// 72 network calls were 429s at C=4. With 0.3 W answers and C >= 20 it
/// met 2 429s in 62 calls: a report measured when one request was the
/// oldest in the log came after that one had left, and its reset freed
/// the next one early (`throttle/release.rs`); none now (still 1.15-1.17x
/// the floor: the cold start's first answer, which a sliding log keeps).
#[test]
fn sliding_log_reset_when_the_next_slot_frees() {
    let measured = rows(Shape::SlidingNext, Speech::Always);
    check(&measured, |c| at_once(c) || slow_and_few(c));
    let storm: Vec<String> = measured
        .iter()
        .filter(|m| m.cell.latency == 0.3 && m.cell.c >= 20 && m.batch.rejected > 0)
        .map(Measured::row)
        .collect();
    assert!(storm.is_empty(), "429s:\n{}", storm.join("\n"));
}

/// Main's throttle took a report's level as of its answer, not of its
/// measure: 1.10-1.43x with 0.3 W and 1 W answers; 1.06x now, but at
/// C = 20 (the cold start's burst, then three reports to tell a bucket).
/// At 1 W with C = 100 it was 1.17x until a report stopped taking the
/// requests sent within a round trip before it (mostly the server's
/// work) for not counted yet: 1.08x.
#[test]
fn token_bucket() {
    check(&rows(Shape::Bucket, Speech::Always), |c| {
        at_once(c) || c.c != 20
    });
}

/// Main's throttle let every caller meet the limit here: 20 to 150 of
/// 80 to 210 network calls were 429s at zero latency.
#[test]
fn retry_after_only() {
    check(&rows(Shape::Fixed, Speech::RetryAfter), |c| {
        at_once(c) || slow_and_few(c)
    });
}

/// At zero latency main's throttle took the first 429's reset (40 ms
/// into the window) for the window's length, and met 429s at each window
/// after: 1.20-1.21x, 5 to 7 429s; 1.01x and one 429 now that the window
/// is learned from what the 429 found let through (`throttle/span.rs`).
/// With latency, not yet at the goal; no call fails, though.
#[test]
fn headers_on_429s_only() {
    check(&rows(Shape::Fixed, Speech::On429), |c| {
        at_once(c) || slow_and_few(c)
    });
}

/// K = 600 at 0.3 W and C = 100, every shape that reports its windows:
/// met on main's throttle too (1.01-1.08x), 1.01-1.05x now; held so that
/// a regression turns red (the whole matrix's test is ignored).
#[test]
fn six_hundred_calls_with_answers_at_0_3_w() {
    let all: Vec<Measured> = [
        Shape::Fixed,
        Shape::Aligned,
        Shape::Sliding,
        Shape::SlidingNext,
        Shape::Bucket,
    ]
    .into_iter()
    .map(|shape| {
        run(Cell {
            shape,
            speech: Speech::Always,
            latency: 0.3,
            c: 100,
            k: 600,
        })
    })
    .collect();
    check(&all, |_| true);
}

/// The goal for every cell, K = 60, and K = 600 at C = 100 for
/// the shapes that report their windows. Not met yet with answer latency,
/// nor without `x-ratelimit-*` on every answer: run with `--ignored
/// --nocapture` for the table.
#[test]
#[ignore = "the goal of issue 22 not met yet: latency, and servers that speak only on 429s"]
fn the_whole_matrix_meets_the_goal() {
    let mut all = Vec::new();
    for (shape, speech) in [
        (Shape::Fixed, Speech::Always),
        (Shape::Aligned, Speech::Always),
        (Shape::Sliding, Speech::Always),
        (Shape::SlidingNext, Speech::Always),
        (Shape::Bucket, Speech::Always),
        (Shape::Fixed, Speech::RetryAfter),
        (Shape::Fixed, Speech::On429),
    ] {
        all.extend(rows(shape, speech));
        if speech == Speech::Always {
            all.push(run(Cell {
                shape,
                speech,
                latency: 0.3,
                c: 100,
                k: 600,
            }));
        }
    }
    check(&all, |_| true);
}

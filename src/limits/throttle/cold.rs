//! The cold start: with nothing heard from a key yet, `cold_start`
//! requests go and the others hold until an answer arrives: the first
//! report then opens up to what it says is left.
//!
//! An answer's headers come with its first byte: a streamed completion's
//! soon, a non-streamed one's only when it is done, seconds to a minute
//! later. So the hold is bounded by a short time, never by a completion's
//! length: every [`cold_step`] with still nothing heard, the number of
//! requests allowed out doubles (1, 2, 4, …, as TCP's slow start). The
//! step is learned from the connection: twice the shortest round trip seen
//! on any key, within [`COLD_STEP_MS`].

/// The shortest and longest step of the cold start, and the step while no
/// answer was heard on any key, ms.
pub const COLD_STEP_MS: (f64, f64, f64) = (100.0, 500.0, 250.0);

/// The most doublings of the cold start allowance.
const MAX_DOUBLINGS: u32 = 16;

/// The step of the cold start, from the shortest round trip seen on any
/// key of this throttle (infinite: none yet).
pub fn cold_step(min_rtt_ms: f64) -> f64 {
    if min_rtt_ms.is_finite() {
        (2.0 * min_rtt_ms).clamp(COLD_STEP_MS.0, COLD_STEP_MS.1)
    } else {
        COLD_STEP_MS.2
    }
}

/// How many steps have passed `elapsed` ms after the first cold request.
fn doublings(elapsed: f64, step: f64) -> u32 {
    ((elapsed.max(0.0) / step).floor() as u32).min(MAX_DOUBLINGS)
}

/// How many requests may be out on a cold key `elapsed` ms after its
/// first was sent.
pub fn allowance(cold_start: u32, elapsed: f64, step: f64) -> u64 {
    u64::from(cold_start) << doublings(elapsed, step)
}

/// When the allowance grows next, `elapsed` ms after the first cold
/// request sent at `since` (`None`: it grows no more).
pub fn next_step(since: f64, elapsed: f64, step: f64) -> Option<f64> {
    let n = doublings(elapsed, step);
    (n < MAX_DOUBLINGS).then(|| since + f64::from(n + 1) * step)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_allowance_doubles_every_step() {
        let got: Vec<u64> = [0.0, 249.0, 250.0, 499.0, 500.0, 750.0]
            .iter()
            .map(|&t| allowance(1, t, 250.0))
            .collect();
        assert_eq!(got, [1, 1, 2, 2, 4, 8]);
        assert_eq!(allowance(3, 250.0, 250.0), 6);
        assert_eq!(allowance(1, 1e12, 250.0), 1 << MAX_DOUBLINGS);
        assert_eq!(next_step(1_000.0, 260.0, 250.0), Some(1_500.0));
        assert_eq!(next_step(1_000.0, 1e12, 250.0), None);
    }

    #[test]
    fn the_step_is_twice_the_shortest_round_trip_within_bounds() {
        assert_eq!(cold_step(f64::INFINITY), COLD_STEP_MS.2);
        assert_eq!(cold_step(80.0), 160.0);
        assert_eq!(cold_step(4.0), COLD_STEP_MS.0);
        assert_eq!(cold_step(5_000.0), COLD_STEP_MS.1);
    }
}

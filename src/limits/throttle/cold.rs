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
    use super::super::testing::*;
    use super::super::*;
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

    /// Cold start: one request goes, the others hold until it answers,
    /// then as many go as its report leaves room for.
    #[test]
    fn a_cold_key_sends_one_request_and_holds_the_rest_for_its_answer() {
        let mut r = Run::new(1);
        let first = r.go(0.0).unwrap();
        let line: Vec<u64> = (0..12).map(|_| r.call()).collect();
        for &t in &line {
            let a = r.admit(t, 0.0);
            assert!(matches!(a, Admit::Wait { until: None, .. }), "{a:?}");
        }
        // Still holding while the first is out.
        assert!(matches!(
            r.admit(line[5], 3.0),
            Admit::Wait { until: None, .. }
        ));
        r.answer(first, 4.0, &requests(10, 9, 996));
        let went = line
            .iter()
            .filter(|&&t| matches!(r.admit(t, 5.0), Admit::Go(_)))
            .count();
        assert_eq!(went, 9, "the remaining count, no more");
        // A key answered without any rate-limit headers is not cold either.
        let mut r = Run::new(2);
        let (a, b) = (r.go(0.0).unwrap(), r.go(0.0).unwrap());
        assert!(r.go(0.0).is_none(), "two go cold, the third holds");
        r.t.answered(k(), a, T0 + 1.0, heard(&Limits::default()));
        let _ = b;
        assert!(r.go(1.0).is_some());
    }

    #[test]
    fn a_cold_request_that_fails_lets_the_next_one_go() {
        let mut r = Run::new(1);
        let first = r.go(0.0).unwrap();
        let next = r.call();
        assert!(matches!(r.admit(next, 0.0), Admit::Wait { .. }));
        r.t.answered(k(), first, T0 + 1.0, Answer::Lost);
        assert!(matches!(r.admit(next, 2.0), Admit::Go(_)));
        let third = r.call();
        assert!(
            matches!(r.admit(third, 2.0), Admit::Wait { until: None, .. }),
            "still cold"
        );
    }

    #[test]
    fn an_answer_without_rate_limit_headers_keeps_the_key_cold() {
        let mut r = Run::new(1);
        let first = r.go(0.0).unwrap();
        let bare = Answer::Heard {
            limits: None,
            rate_limited: false,
            retry_after_ms: None,
        };
        r.t.answered(k(), first, T0 + 4.0, bare);
        assert!(r.go(5.0).is_some(), "the first is back");
        assert!(r.go(5.0).is_none(), "one out at a time until the step");
    }

    /// A completion's headers may come only when it is done: the hold of
    /// a cold key lasts a step, after which twice as many may be out, and
    /// so on, never the length of the first answer.
    #[test]
    fn a_cold_hold_lasts_a_short_step_not_a_whole_completion() {
        let mut r = Run::new(1);
        let _first = r.go(0.0).unwrap();
        let (a, b, c) = (r.call(), r.call(), r.call());
        let step = COLD_STEP_MS.2;
        for t in [a, b, c] {
            assert!(matches!(r.admit(t, 0.0), Admit::Wait { until: None, .. }));
        }
        let Admit::Wait { ms, .. } = r.admit(a, step - 40.0) else {
            panic!("held until the step")
        };
        assert!(ms <= 40, "polls at the step: {ms}");
        assert!(matches!(r.admit(a, step), Admit::Go(_)), "two out");
        assert!(matches!(r.admit(b, step), Admit::Wait { .. }));
        let Admit::Wait { ms, .. } = r.admit(b, 2.0 * step - 10.0) else {
            panic!("held until the next step")
        };
        assert_eq!(ms, 10, "polls at the step, not an eighth of the wait");
        assert!(matches!(r.admit(b, 2.0 * step), Admit::Go(_)), "four out");
        assert!(matches!(r.admit(c, 2.0 * step), Admit::Go(_)));
        // The step is learned from the connection: twice the shortest
        // round trip seen on any key.
        let other = LimitKey::new("https://api.anthropic.com", Some("sk-test"));
        let Admit::Go(b) = r.t.admit(other, 50, None, T0) else {
            panic!()
        };
        r.t.answered(other, b, T0 + 60.0, heard(&Limits::default()));
        let fresh = LimitKey::new("https://api.mistral.ai", Some("sk-test"));
        assert!(matches!(r.t.admit(fresh, 51, None, T0), Admit::Go(_)));
        assert!(matches!(
            r.t.admit(fresh, 52, None, T0 + 119.0),
            Admit::Wait { .. }
        ));
        assert!(matches!(
            r.t.admit(fresh, 52, None, T0 + 120.0),
            Admit::Go(_)
        ));
    }
}

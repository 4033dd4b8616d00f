//! Token booking: each request books its expected [`Tokens`](super::Tokens)
//! against the tokens windows (OpenAI's `x-ratelimit-*-tokens`, Anthropic's
//! tokens, input and output tokens), scaled by what the server was seen to
//! charge per unit estimated. Every report replaces the local count with the
//! server's, less what was sent after the reported request: the estimates
//! are corrected by the server's own count.

use super::books::WindowState;
use super::state::KeyState;
use super::WINDOWS;

impl WindowState {
    /// What the server charged for a request, from the reports on it and
    /// on the request booked just before it, in the same window: the count
    /// fell by exactly that (or by more, if another request got in between,
    /// which only errs on the safe side). Reports that arrived the other
    /// way round (the later request counted first) say nothing.
    pub(super) fn learn_scale(
        &mut self,
        seq: u64,
        remaining: f64,
        estimate: &dyn Fn(u64) -> Option<f64>,
    ) {
        let sample = |(a, count_a): (u64, f64), (b, count_b): (u64, f64)| {
            let charged = count_a - count_b;
            let estimated = estimate(b)?;
            (b == a + 1 && charged >= 0.0 && estimated >= 1.0).then(|| charged / estimated)
        };
        let this = (seq, remaining);
        for i in 0..self.recent.len() {
            let other = self.recent[i];
            if let Some(factor) = sample(other, this).or_else(|| sample(this, other)) {
                let factor = factor.clamp(1.0 / 16.0, 16.0);
                self.scale = (0.5 * self.scale + 0.5 * factor).clamp(1.0 / 16.0, 16.0);
            }
        }
        self.recent.push_back(this);
        if self.recent.len() > 8 {
            self.recent.pop_front();
        }
    }
}

impl KeyState {
    /// A need as each window counts it: token estimates scaled by what
    /// the server was seen to charge, and at most the window's limit (a
    /// request larger than the window goes when the window is full, and
    /// the server decides).
    pub(super) fn sized(&self, need: [f64; WINDOWS]) -> [f64; WINDOWS] {
        let mut out = need;
        for (n, w) in out.iter_mut().zip(&self.windows) {
            *n *= w.scale;
            if let Some(limit) = w.limit {
                *n = n.min(limit.max(0.0));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::*;

    /// Tokens: each request books its estimate against the tokens window,
    /// and the server's report replaces the estimate.
    #[test]
    fn token_estimates_are_booked_and_corrected_by_the_report() {
        let mut t = Throttle::new(0);
        let need = Some(Tokens {
            input: 2,
            output: 4_000,
        });
        let limits = |remaining, reset| tokens(10_000, remaining, reset);
        let Admit::Go(first) = t.admit(k(), 1, need, T0) else {
            panic!()
        };
        t.answered(k(), first, T0 + 2.0, heard(&limits(5_998, 2_998)));
        let Admit::Go(second) = t.admit(k(), 2, need, T0 + 2.0) else {
            panic!()
        };
        assert_eq!(t.remaining(k()), Some(1_996), "4002 booked, not 1");
        // 1996 tokens left: the third needs 4002 and waits for the reset.
        let Admit::Wait { until, .. } = t.admit(k(), 3, need, T0 + 2.0) else {
            panic!()
        };
        assert_eq!(until, Some(T0 + 3_001.0));
        // A small request behind it waits too: first come, first served.
        let small = Some(Tokens {
            input: 10,
            output: 0,
        });
        assert!(matches!(
            t.admit(k(), 4, small, T0 + 2.0),
            Admit::Wait { .. }
        ));
        // The server counted both requests at 2000 (their answers were
        // short): its report replaces the estimates, and both go.
        t.answered(k(), second, T0 + 3.0, heard(&limits(6_000, 2_997)));
        assert_eq!(t.remaining(k()), Some(6_000));
        assert!(matches!(t.admit(k(), 3, need, T0 + 3.0), Admit::Go(_)));
        assert!(matches!(t.admit(k(), 4, small, T0 + 3.0), Admit::Go(_)));
        assert_eq!(t.remaining(k()), Some(1_988));
    }

    #[test]
    fn the_tokens_window_releases_what_fits_at_its_reset() {
        let mut t = Throttle::new(0);
        let need = Some(Tokens {
            input: 2,
            output: 4_000,
        });
        let limits = |remaining, reset| tokens(10_000, remaining, reset);
        let Admit::Go(b) = t.admit(k(), 1, need, T0) else {
            panic!()
        };
        t.answered(k(), b, T0 + 1.0, heard(&limits(1_998, 2_999)));
        let waits: Vec<bool> = (2..6)
            .map(|ticket| matches!(t.admit(k(), ticket, need, T0 + 1.0), Admit::Wait { .. }))
            .collect();
        assert_eq!(waits, [true; 4]);
        let went = (2..6)
            .filter(|&ticket| matches!(t.admit(k(), ticket, need, T0 + 3_001.0), Admit::Go(_)))
            .count();
        assert_eq!(went, 2, "two of 4002 fit in 10 000");
    }

    #[test]
    fn a_request_larger_than_the_window_goes_when_the_window_is_full() {
        let mut t = Throttle::new(0);
        let huge = Some(Tokens {
            input: 50_000,
            output: 0,
        });
        let limits = Limits {
            tokens: window(10_000, 10_000, 0),
            ..Limits::default()
        };
        let Admit::Go(b) = t.admit(k(), 1, None, T0) else {
            panic!()
        };
        t.answered(k(), b, T0 + 1.0, heard(&limits));
        assert!(matches!(t.admit(k(), 2, huge, T0 + 1.0), Admit::Go(_)));
    }
}

//! Exponential backoff with jitter, as a pure function of the retry number,
//! the previous delay and a random number.

use crate::classify::duration::MAX_DELAY_MS;

/// How randomness spreads the delays of clients that failed together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Jitter {
    /// Uniform in `[0, exp]` (AWS "full jitter"): the best spread.
    #[default]
    Full,
    /// Uniform in `[exp/2, exp]`: never shorter than half the step.
    Equal,
    /// Uniform in `[base, 3 * previous]`, capped (AWS "decorrelated jitter").
    Decorrelated,
    /// Exactly `exp`: deterministic, and every client retries in lockstep.
    None,
}

impl Jitter {
    /// Parses the option value used by JavaScript callers.
    pub fn from_name(name: &str) -> Option<Jitter> {
        Some(match name {
            "full" => Jitter::Full,
            "equal" => Jitter::Equal,
            "decorrelated" => Jitter::Decorrelated,
            "none" => Jitter::None,
            _ => return None,
        })
    }
}

/// Exponential backoff: `base * 2^(retry-1)`, capped at `max`, then jittered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The first step, in ms.
    pub base_ms: u64,
    /// The longest delay, in ms.
    pub max_ms: u64,
    /// How the step is randomised.
    pub jitter: Jitter,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base_ms: 500,
            max_ms: 30_000,
            jitter: Jitter::Full,
        }
    }
}

impl Backoff {
    /// The delay before retry number `retry` (1 for the first retry).
    /// `previous_ms` is the delay before the previous retry (0 for none) and
    /// `random` a number in `[0, 1)`.
    pub fn delay(&self, retry: u32, previous_ms: u64, random: f64) -> u64 {
        let max = self.max_ms.min(MAX_DELAY_MS);
        let base = self.base_ms.min(max);
        let random = if random.is_finite() {
            random.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let exp = base
            .saturating_mul(1u64 << retry.saturating_sub(1).min(40))
            .min(max);
        let scaled = |span: u64| (span as f64 * random) as u64;
        match self.jitter {
            Jitter::None => exp,
            Jitter::Full => scaled(exp),
            Jitter::Equal => exp / 2 + scaled(exp - exp / 2),
            Jitter::Decorrelated => {
                let upper = previous_ms.max(base).saturating_mul(3).min(max);
                (base + scaled(upper.saturating_sub(base))).min(max)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(jitter: Jitter) -> Backoff {
        Backoff {
            base_ms: 100,
            max_ms: 1_000,
            jitter,
        }
    }

    #[test]
    fn none_doubles_then_caps() {
        let steps: Vec<_> = (1..=6).map(|r| b(Jitter::None).delay(r, 0, 0.5)).collect();
        assert_eq!(steps, [100, 200, 400, 800, 1_000, 1_000]);
    }

    #[test]
    fn bounds_hold_for_every_jitter() {
        for r in 1..=10 {
            let exp = (100u64 << (r - 1)).min(1_000);
            for x in [0.0, 0.25, 0.999_999] {
                let full = b(Jitter::Full).delay(r, 0, x);
                assert!(full <= exp, "full {full} > {exp}");
                let equal = b(Jitter::Equal).delay(r, 0, x);
                assert!(
                    (exp / 2..=exp).contains(&equal),
                    "equal {equal} not in [{}, {exp}]",
                    exp / 2
                );
                let prev = b(Jitter::Decorrelated).delay(r, 0, 0.5);
                let dec = b(Jitter::Decorrelated).delay(r + 1, prev, x);
                assert!(
                    (100..=(prev * 3).min(1_000)).contains(&dec),
                    "decorrelated {dec} after {prev}"
                );
            }
        }
    }

    #[test]
    fn full_jitter_uses_the_whole_range() {
        assert_eq!(b(Jitter::Full).delay(3, 0, 0.0), 0);
        assert_eq!(b(Jitter::Full).delay(3, 0, 0.5), 200);
    }

    #[test]
    fn hostile_inputs_stay_in_range() {
        let wild = Backoff {
            base_ms: u64::MAX,
            max_ms: u64::MAX,
            jitter: Jitter::None,
        };
        assert_eq!(wild.delay(u32::MAX, u64::MAX, f64::NAN), MAX_DELAY_MS);
        assert_eq!(b(Jitter::Full).delay(0, 0, f64::INFINITY), 0);
        assert_eq!(b(Jitter::Full).delay(2, 0, 7.0), 200);
    }

    #[test]
    fn names() {
        assert_eq!(
            Jitter::from_name("decorrelated"),
            Some(Jitter::Decorrelated)
        );
        assert_eq!(Jitter::from_name("Full"), None);
    }
}

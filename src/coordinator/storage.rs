//! The coordinator's books as numbers, for its storage (a Durable Object's
//! `Float64Array`, the Redis record's `L` field), and read back: anything
//! unreadable starts afresh.

use super::ledger::{Known, Ledger, MAX_PLACED};
use crate::limits::lease::MAX_SENDS;
use crate::time::Ms;

impl Ledger {
    /// The books as numbers, for the coordinator's storage.
    pub fn to_vec(&self) -> Vec<f64> {
        let n = |v: Option<f64>| v.unwrap_or(f64::NAN);
        let k = self.known;
        let mut v = vec![
            n(self.limit),
            self.window_ms,
            self.blocked_until_ms,
            n(self.cold_at_ms),
            n(k.map(|k| k.remaining)),
            n(k.map(|k| k.observed_at_ms)),
            n(k.map(|k| k.counted_to_ms)),
            n(k.map(|k| k.reset_at_ms)),
            f64::from(u8::from(self.heard)),
            n(k.map(|k| k.held)),
            f64::from(u8::from(self.whole) + 2 * u8::from(self.continuous)),
            n(self.refill_at_ms),
            self.reach_ms,
            self.sends.len() as f64,
        ];
        v.extend(self.sends.iter().copied());
        v.push(self.placed.len() as f64);
        v.extend(self.placed.iter().flat_map(|&(s, f, a)| [s, f, a]));
        v.extend(self.runs.iter().flat_map(|&(at, n)| [at, n]));
        v
    }

    /// How many numbers [`Ledger::to_vec`] puts before the runs.
    /// (and the reported sends, at most [`MAX_SENDS`], and the placed
    /// permits, at most 256).
    pub const FIXED_NUMBERS: usize = 15 + MAX_SENDS + 3 * MAX_PLACED;

    /// Books read back from storage; anything unreadable starts afresh.
    /// (The tokens window is stored apart, and set afterwards.)
    pub fn from_slice(v: &[f64]) -> Ledger {
        let [limit, window_ms, blocked, cold, remaining, observed, counted, reset, heard, held, whole, refill, reach, sends, rest @ ..] =
            v
        else {
            return Ledger::default();
        };
        let ok = |v: f64| v.is_finite().then_some(v);
        let known = match (
            ok(*remaining),
            ok(*observed),
            ok(*counted),
            ok(*reset),
            ok(*held),
        ) {
            (
                Some(remaining),
                Some(observed_at_ms),
                Some(counted_to_ms),
                Some(reset_at_ms),
                Some(held),
            ) => Some(Known {
                remaining,
                observed_at_ms,
                counted_to_ms,
                reset_at_ms,
                held: held.max(0.0),
            }),
            _ => None,
        };
        let sends = (*sends as usize).min(MAX_SENDS).min(rest.len());
        let (sends, rest) = rest.split_at(sends);
        let (placed, rest) = match rest.split_first() {
            Some((&n, rest)) if n.is_finite() && n >= 0.0 => {
                let n = (n as usize).min(MAX_PLACED).min(rest.len() / 3);
                rest.split_at(3 * n)
            }
            _ => (&[][..], rest),
        };
        let placed = placed
            .chunks_exact(3)
            .filter(|p| p.iter().all(|v| v.is_finite()))
            .map(|p| (p[0], p[1], p[2]))
            .collect();
        let runs = rest
            .chunks_exact(2)
            .filter(|r| r[0].is_finite() && r[1].is_finite() && r[1] > 0.0)
            .map(|r| (r[0], r[1]))
            .collect();
        Ledger {
            limit: ok(*limit).filter(|l| *l >= 0.0),
            window_ms: Ms::real(*window_ms).map_or(0.0, Ms::get),
            runs,
            known,
            blocked_until_ms: ok(*blocked).unwrap_or(0.0),
            cold_at_ms: ok(*cold),
            heard: *heard == 1.0,
            whole: *whole == 1.0,
            continuous: *whole == 2.0,
            refill_at_ms: ok(*refill),
            sends: sends.iter().copied().filter(|v| v.is_finite()).collect(),
            placed,
            reach_ms: Ms::real(*reach).map_or(0.0, Ms::get),
            tokens: Default::default(),
        }
    }
}

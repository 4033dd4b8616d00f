//! One scope's [`Books`] as ten numbers, for durable storage (the Durable
//! Object's `state.storage`, a Redis key): JSON-able (every number finite),
//! versioned, and checked when read back, so that a corrupted value, one
//! written by another version or kept for another budget is refused rather
//! than trusted.
//!
//! The layout, version 1:
//!
//! | index | value |
//! |---|---|
//! | 0 | [`MAGIC_V1`]: the format and its version |
//! | 1 | the budget's [`fingerprint`]: its name and unit |
//! | 2 | its window's [`Window::code`](super::window::Window::code) |
//! | 3 | the window's start, ms since the epoch (0: never used) |
//! | 4 | settled spend in the window |
//! | 5 | held by calls reserved in the window |
//! | 6 | held by calls reserved in the previous window |
//! | 7 | that previous window's start (0: none) |
//! | 8 | the alerts fired, a bit set |
//! | 9 | calls settled in the window |
//!
//! The limit is not in it: a budget whose limit changes keeps what it spent.
//! [`Books::to_text`] gives the same numbers as one string.

use std::fmt;

use super::alert::Fired;
use super::books::Books;
use super::config::{Budget, Unit};

/// The first number of an encoding, version 1 (`"RWB1"` as ASCII).
pub const MAGIC_V1: f64 = 1_381_450_289.0;

/// How many numbers an encoding has.
pub const LEN: usize = 10;

/// Why stored books were refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CodecError {
    /// Not ten numbers (or, as text, not ten comma-separated numbers).
    Shape,
    /// Not this format, or another version of it.
    Version,
    /// Kept for another budget, or for this one with another window.
    Foreign,
    /// A value out of range: not finite, below 0, not a whole count, or a
    /// window start that is not one.
    Corrupt,
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CodecError::Shape => "budget books: expected 10 numbers",
            CodecError::Version => "budget books: unknown format or version",
            CodecError::Foreign => "budget books: kept for another budget or window",
            CodecError::Corrupt => "budget books: a value is out of range",
        })
    }
}

impl std::error::Error for CodecError {}

/// A 32-bit FNV-1a hash of a budget's name and unit (exact as an `f64`):
/// books stored under one budget's name are not read as another's.
pub fn fingerprint(budget: &Budget) -> f64 {
    let unit = match budget.limit().unit {
        Unit::Usd => b'$',
        Unit::Tokens => b'#',
    };
    let bytes = budget.name().bytes().chain([0, unit]);
    let hash = bytes.fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    f64::from(hash)
}

/// `v`, or 0 when it is not finite (books never used).
fn finite_or_0(v: f64) -> f64 {
    if v.is_finite() {
        v
    } else {
        0.0
    }
}

/// How long stored books outlive their window, ms: a call that settles
/// just after the window ends still finds them.
pub const TTL_SLACK_MS: f64 = 3_600_000.0;

impl Books {
    /// How long a store (a Redis key's TTL) should keep these books at
    /// `now_ms`, whole ms: until an hour past the end of the current
    /// window, so a month's books live past a month and a day's past a day.
    pub fn ttl_ms(&self, budget: &Budget, now_ms: f64) -> f64 {
        let end = self.status(budget, now_ms).window.end_ms;
        ((end - now_ms).max(0.0) + TTL_SLACK_MS).ceil()
    }

    /// The books of `budget` as [`LEN`] finite numbers (see the module).
    pub fn encode(&self, budget: &Budget) -> [f64; LEN] {
        [
            MAGIC_V1,
            fingerprint(budget),
            budget.window().code(),
            finite_or_0(self.span.start_ms),
            self.spent,
            self.held,
            self.carried,
            finite_or_0(self.carried_from_ms),
            f64::from(self.fired.0),
            f64::from(self.settles),
        ]
    }

    /// Books of `budget` read back from [`encode`](Self::encode), checked.
    pub fn decode(budget: &Budget, v: &[f64]) -> Result<Books, CodecError> {
        let &[magic, print, window, start_ms, spent, held, carried, carried_from_ms, fired, settles] =
            v
        else {
            return Err(CodecError::Shape);
        };
        if magic != MAGIC_V1 {
            return Err(CodecError::Version);
        }
        if print != fingerprint(budget) || window != budget.window().code() {
            return Err(CodecError::Foreign);
        }
        let amount = |v: f64| v.is_finite() && v >= 0.0;
        let count = |v: f64| amount(v) && v.fract() == 0.0 && v <= f64::from(u32::MAX);
        // Books never used say 0, the start of a window of every shape.
        let span = budget.window().span(start_ms);
        let aligned = start_ms.is_finite() && span.start_ms == start_ms;
        let ok = aligned
            && [spent, held, carried].into_iter().all(amount)
            && carried_from_ms.is_finite()
            && count(fired)
            && count(settles);
        if !ok {
            return Err(CodecError::Corrupt);
        }
        let never = |v: f64| if v == 0.0 { f64::NEG_INFINITY } else { v };
        Ok(Books {
            span,
            spent,
            held,
            carried,
            carried_from_ms: never(carried_from_ms),
            fired: Fired(fired as u32),
            settles: settles as u32,
        })
    }

    /// [`encode`](Self::encode) as one string of comma-separated numbers
    /// (each printed so that it reads back exactly).
    pub fn to_text(&self, budget: &Budget) -> String {
        let numbers: Vec<String> = self.encode(budget).iter().map(f64::to_string).collect();
        numbers.join(",")
    }

    /// [`decode`](Self::decode) from [`to_text`](Self::to_text).
    pub fn from_text(budget: &Budget, text: &str) -> Result<Books, CodecError> {
        let numbers: Result<Vec<f64>, _> = text.split(',').map(str::parse::<f64>).collect();
        Books::decode(budget, &numbers.map_err(|_| CodecError::Shape)?)
    }
}

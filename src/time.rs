//! The core's milliseconds: a reading of the clock (ms since the epoch) or
//! a span between two, as the wasm layer hands them in. A clock can say
//! anything (a fake one in a test, `Date.now()` after a bad polyfill), and
//! a NaN that reached a comparison would hold a key open for ever or never:
//! [`Ms`] is the one place that checks for NaN and negatives, so no state
//! machine writes its own check.

/// A time or a span in milliseconds that is never NaN and never negative
/// (infinity is kept: a cooldown that never ends).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default)]
pub struct Ms(f64);

impl Ms {
    /// `ms`, with NaN and negatives counted as 0, the earliest possible (or
    /// the shortest span): no panic and no stuck state, whatever the clock
    /// says.
    pub fn at(ms: f64) -> Ms {
        // `f64::max` returns the other operand for NaN.
        Ms(ms.max(0.0))
    }

    /// The span from `earlier` to `later`: 0 when the clock went back (or
    /// either reading is NaN).
    pub fn between(earlier: f64, later: f64) -> Ms {
        Ms::at(later - earlier)
    }

    /// `ms` if it is a real reading or span: finite and not negative.
    pub fn real(ms: f64) -> Option<Ms> {
        (ms.is_finite() && ms >= 0.0).then_some(Ms(ms))
    }

    /// The milliseconds.
    pub fn get(self) -> f64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nan_and_negatives_count_as_zero() {
        let read = |ms: f64| Ms::at(ms).get();
        assert_eq!(read(f64::NAN), 0.0);
        assert_eq!(read(-5.0), 0.0);
        assert_eq!(read(f64::NEG_INFINITY), 0.0);
        assert_eq!(read(12.5), 12.5);
        assert_eq!(read(f64::INFINITY), f64::INFINITY, "a cooldown for ever");
    }

    #[test]
    fn a_span_never_runs_backwards() {
        assert_eq!(Ms::between(100.0, 250.0).get(), 150.0);
        assert_eq!(Ms::between(250.0, 100.0).get(), 0.0, "the clock went back");
        assert_eq!(Ms::between(f64::NAN, 100.0).get(), 0.0);
        assert_eq!(Ms::between(100.0, f64::NAN).get(), 0.0);
    }

    #[test]
    fn only_finite_non_negative_readings_are_real() {
        assert_eq!(Ms::real(0.0), Some(Ms(0.0)));
        assert_eq!(Ms::real(1e12).map(Ms::get), Some(1e12));
        for bad in [f64::NAN, -1.0, f64::INFINITY, f64::NEG_INFINITY] {
            assert_eq!(Ms::real(bad), None, "{bad}");
        }
    }
}

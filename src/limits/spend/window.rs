//! The window a budget counts spend over: a calendar day or month in UTC,
//! or back-to-back spans of a fixed number of ms.
//!
//! Calendar arithmetic is done here from epoch milliseconds, with no
//! external crate: days since 1970-01-01 to a civil date and back (Howard
//! Hinnant's `days_from_civil` / `civil_from_days`, exact over the
//! proleptic Gregorian calendar, leap years included). There are no leap
//! seconds in epoch time, so a day is always 86,400,000 ms.

/// Milliseconds in a UTC day.
pub const DAY_MS: f64 = 86_400_000.0;

/// The shortest [`Window::Rolling`] length accepted, ms.
pub const MIN_ROLLING_MS: f64 = 1.0;

/// The most days from the epoch a month window is worked out for (about
/// 270 million years either way); the arithmetic stays far from overflow.
const MAX_DAYS: i64 = 100_000_000_000;

/// How long a budget counts spend before it starts afresh.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Window {
    /// A calendar day in UTC: from 00:00 to the next 00:00.
    Day,
    /// A calendar month in UTC: from the 1st at 00:00 to the next month's.
    Month,
    /// Back-to-back spans of this many ms, aligned to the Unix epoch (a
    /// window of 3,600,000 ms runs from one whole UTC hour to the next). The
    /// spend of one span does not carry into the next, as LiteLLM's
    /// `budget_duration` resets.
    Rolling(f64),
}

/// One window: where it starts and ends, ms since the epoch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Span {
    /// The first instant in the window.
    pub start_ms: f64,
    /// The first instant after it: when the budget resets.
    pub end_ms: f64,
}

impl Span {
    /// How long the window lasts, ms.
    pub fn len_ms(&self) -> f64 {
        self.end_ms - self.start_ms
    }
}

impl Window {
    /// The window `now_ms` falls in. A time that is not a number counts as
    /// the epoch (no panic, whatever the clock says).
    pub fn span(&self, now_ms: f64) -> Span {
        let now_ms = if now_ms.is_nan() { 0.0 } else { now_ms };
        match *self {
            Window::Day => {
                let start_ms = (now_ms / DAY_MS).floor() * DAY_MS;
                Span {
                    start_ms,
                    end_ms: start_ms + DAY_MS,
                }
            }
            Window::Month => {
                // An absurd clock gives an absurd date, not an overflow.
                let days = ((now_ms / DAY_MS).floor() as i64).clamp(-MAX_DAYS, MAX_DAYS);
                let (year, month, _) = civil_from_days(days);
                let (next_year, next_month) = if month == 12 {
                    (year + 1, 1)
                } else {
                    (year, month + 1)
                };
                Span {
                    start_ms: days_from_civil(year, month, 1) as f64 * DAY_MS,
                    end_ms: days_from_civil(next_year, next_month, 1) as f64 * DAY_MS,
                }
            }
            Window::Rolling(ms) => {
                let ms = ms.max(MIN_ROLLING_MS);
                let start_ms = (now_ms / ms).floor() * ms;
                Span {
                    start_ms,
                    end_ms: start_ms + ms,
                }
            }
        }
    }

    /// A number that differs between windows of different shapes (a day, a
    /// month, a rolling span of each length): stored with the books so
    /// that books kept for another window are not read as this one's.
    pub fn code(&self) -> f64 {
        match *self {
            Window::Day => -1.0,
            Window::Month => -2.0,
            Window::Rolling(ms) => ms.max(MIN_ROLLING_MS),
        }
    }

    /// The window whose [`code`](Self::code) is `code`, if any.
    pub fn from_code(code: f64) -> Option<Window> {
        match code {
            -1.0 => Some(Window::Day),
            -2.0 => Some(Window::Month),
            ms if ms.is_finite() && ms >= MIN_ROLLING_MS => Some(Window::Rolling(ms)),
            _ => None,
        }
    }
}

/// The civil date (year, month 1–12, day 1–31) of day `z` since 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z.saturating_add(719_468);
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Days since 1970-01-01 of the civil date `year`-`month`-`day` (month
/// 1–12, day 1–31).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = year - i64::from(month <= 2);
    let era = year.div_euclid(400);
    let yoe = year - era * 400;
    let month = i64::from(month);
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Epoch ms of a UTC date and time.
    fn at(y: i64, mo: u32, d: u32, h: u32, mi: u32) -> f64 {
        days_from_civil(y, mo, d) as f64 * DAY_MS + f64::from(h * 3_600_000 + mi * 60_000)
    }

    #[test]
    fn civil_dates_round_trip_and_match_known_days() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
        // 2026-12-07 is 20,794 days after the epoch (1,796,601,600 s).
        assert_eq!(days_from_civil(2026, 12, 7), 20_794);
        for z in (-800_000..800_000).step_by(997) {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z, "{y}-{m}-{d}");
        }
    }

    #[test]
    fn a_day_runs_from_utc_midnight_to_the_next() {
        let span = Window::Day.span(at(2026, 12, 7, 14, 34));
        assert_eq!(span.start_ms, at(2026, 12, 7, 0, 0));
        assert_eq!(span.end_ms, at(2026, 12, 8, 0, 0));
        // The last ms of the day is in it; midnight starts the next.
        let last = at(2026, 12, 8, 0, 0) - 1.0;
        assert_eq!(Window::Day.span(last), span);
        assert_eq!(Window::Day.span(span.end_ms).start_ms, span.end_ms);
        // Before the epoch too.
        assert_eq!(Window::Day.span(-1.0).start_ms, -DAY_MS);
    }

    #[test]
    fn a_month_is_calendar_months_across_years_and_leap_februaries() {
        let dec = Window::Month.span(at(2026, 12, 31, 23, 59));
        assert_eq!(
            (dec.start_ms, dec.end_ms),
            (at(2026, 12, 1, 0, 0), at(2027, 1, 1, 0, 0))
        );
        let jan = Window::Month.span(at(2027, 1, 1, 0, 0));
        assert_eq!(jan.start_ms, dec.end_ms, "Dec -> Jan");
        assert_eq!(jan.len_ms(), 31.0 * DAY_MS);
        let leap = Window::Month.span(at(2028, 2, 29, 12, 0));
        assert_eq!(
            (leap.start_ms, leap.len_ms()),
            (at(2028, 2, 1, 0, 0), 29.0 * DAY_MS)
        );
        assert_eq!(
            Window::Month.span(at(2027, 2, 14, 0, 0)).len_ms(),
            28.0 * DAY_MS
        );
        // 1900 is no leap year, 2000 is.
        assert_eq!(
            Window::Month.span(at(1900, 2, 3, 0, 0)).len_ms(),
            28.0 * DAY_MS
        );
        assert_eq!(
            Window::Month.span(at(2000, 2, 3, 0, 0)).len_ms(),
            29.0 * DAY_MS
        );
        assert_eq!(
            Window::Month.span(at(2026, 4, 30, 23, 0)).len_ms(),
            30.0 * DAY_MS
        );
    }

    #[test]
    fn a_rolling_window_is_back_to_back_spans_aligned_to_the_epoch() {
        let hour = Window::Rolling(3_600_000.0);
        let span = hour.span(at(2026, 12, 7, 14, 34));
        assert_eq!(
            (span.start_ms, span.end_ms),
            (at(2026, 12, 7, 14, 0), at(2026, 12, 7, 15, 0))
        );
        let span = Window::Rolling(1_000.0).span(2_500.0);
        assert_eq!((span.start_ms, span.end_ms), (2_000.0, 3_000.0));
    }

    #[test]
    fn absurd_clocks_give_a_window_not_a_panic() {
        for w in [Window::Day, Window::Month, Window::Rolling(1_000.0)] {
            for now in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 1e300, -1e300] {
                let _ = w.span(now);
            }
            assert_eq!(w.span(f64::NAN), w.span(0.0));
        }
    }

    #[test]
    fn window_codes_round_trip_and_differ() {
        let windows = [
            Window::Day,
            Window::Month,
            Window::Rolling(1.0),
            Window::Rolling(60_000.0),
        ];
        for w in windows {
            assert_eq!(Window::from_code(w.code()), Some(w));
        }
        for (i, a) in windows.iter().enumerate() {
            for b in &windows[i + 1..] {
                assert_ne!(a.code(), b.code());
            }
        }
        for bad in [0.0, 0.5, -3.0, f64::NAN, f64::INFINITY] {
            assert_eq!(Window::from_code(bad), None, "{bad}");
        }
    }
}

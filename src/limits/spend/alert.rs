//! Alerts below the cap: once per threshold per window, and once per window
//! when the forecast says the budget runs out before the window ends. They
//! are values the books return, never callbacks.
//!
//! **The forecast** is when the budget runs out at the current burn rate:
//! the window's settled spend divided by the time elapsed in it, projected
//! from now over what is left. Few data points make a wild rate (a first
//! call a second into the month would "run out" within the hour), so it is
//! conservative: none before [`MIN_SAMPLES`] calls have settled in the
//! window, none when nothing is spent, and the elapsed time counts as at
//! least [`MIN_ELAPSED_SHARE`] of the window. It only ever errs late.

use super::config::{Budget, Unit};
use super::window::Span;

/// Settled calls in a window before it has a forecast.
pub const MIN_SAMPLES: u32 = 3;

/// The least share of the window the elapsed time counts as in the burn
/// rate (1% of a month is about 7 h, of a day about 14 min).
pub const MIN_ELAPSED_SHARE: f64 = 0.01;

/// The bit of [`Fired`] that says the forecast alert went out.
const FORECAST_BIT: u32 = 1 << 31;

/// Which alerts of one window went out already: bit `i` for the budget's
/// threshold `i`, and one bit for the forecast.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Fired(pub u32);

/// One alert.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// The budget's name.
    pub budget: String,
    /// What it counts.
    pub unit: Unit,
    /// Settled spend in the window, in `unit`.
    pub spent: f64,
    /// The budget's limit, in `unit`.
    pub limit: f64,
    /// `spent / limit` (infinite for a limit of 0 with spend).
    pub fraction: f64,
    /// The threshold crossed, or `None` for the forecast alert (the budget
    /// runs out before `window_ends_at_ms` at the current burn rate).
    pub threshold: Option<f64>,
    /// When the window ends and the budget resets, ms since the epoch.
    pub window_ends_at_ms: f64,
    /// When the budget runs out at the current burn rate, ms since the
    /// epoch, if that can be said yet (see [`forecast`]).
    pub forecast_ms: Option<f64>,
}

/// When a budget of `limit` with `spent` settled over `samples` calls in
/// the window `span` runs out at the current burn rate, seen at `now_ms`:
/// `None` with nothing spent or fewer than [`MIN_SAMPLES`] calls, `now_ms`
/// once it has run out.
pub fn forecast(spent: f64, limit: f64, span: Span, samples: u32, now_ms: f64) -> Option<f64> {
    if spent.is_nan() || spent <= 0.0 || samples < MIN_SAMPLES {
        return None;
    }
    if spent >= limit {
        return Some(now_ms);
    }
    let elapsed = (now_ms - span.start_ms).max(span.len_ms() * MIN_ELAPSED_SHARE);
    let rate = spent / elapsed;
    Some(now_ms + (limit - spent) / rate)
}

/// `spent / limit`, infinite for spend against a limit of 0.
pub fn fraction(spent: f64, limit: f64) -> f64 {
    match (spent > 0.0, limit > 0.0) {
        (_, true) => spent / limit,
        (true, false) => f64::INFINITY,
        (false, false) => 0.0,
    }
}

/// The alerts a window's books call for now that not `fired` before:
/// every threshold of `budget` that `spent` reached (in ascending order),
/// then the forecast if it falls before the window ends. Marks them fired.
pub fn due(
    budget: &Budget,
    spent: f64,
    span: Span,
    samples: u32,
    fired: &mut Fired,
    now_ms: f64,
) -> Vec<Alert> {
    let limit = budget.limit().value;
    let fraction = fraction(spent, limit);
    let forecast_ms = forecast(spent, limit, span, samples, now_ms);
    let alert = |threshold| Alert {
        budget: budget.name().to_owned(),
        unit: budget.limit().unit,
        spent,
        limit,
        fraction,
        threshold,
        window_ends_at_ms: span.end_ms,
        forecast_ms,
    };
    let mut alerts = Vec::new();
    for (i, &t) in budget.alert_at().iter().enumerate() {
        let bit = 1 << i;
        if fired.0 & bit == 0 && fraction >= t {
            fired.0 |= bit;
            alerts.push(alert(Some(t)));
        }
    }
    let early = spent < limit && forecast_ms.is_some_and(|f| f < span.end_ms);
    if early && fired.0 & FORECAST_BIT == 0 {
        fired.0 |= FORECAST_BIT;
        alerts.push(alert(None));
    }
    alerts
}

#[cfg(test)]
mod tests {
    use super::super::config::Amount;
    use super::super::window::Window;
    use super::*;

    const SPAN: Span = Span {
        start_ms: 0.0,
        end_ms: 100_000.0,
    };

    #[test]
    fn the_forecast_is_the_burn_rate_projected_and_conservative_early() {
        // $10 spent in the first 10% of the window, of $50: the rest ($40)
        // goes at $1 per 1,000 ms, so it runs out 40,000 ms from now.
        assert_eq!(forecast(10.0, 50.0, SPAN, 3, 10_000.0), Some(50_000.0));
        // Too few calls, or nothing spent: no forecast.
        assert_eq!(forecast(10.0, 50.0, SPAN, 2, 10_000.0), None);
        assert_eq!(forecast(0.0, 50.0, SPAN, 5, 10_000.0), None);
        // Spent out: now.
        assert_eq!(forecast(60.0, 50.0, SPAN, 5, 10_000.0), Some(10_000.0));
        // 100 ms in, the elapsed time counts as 1% of the window (1,000 ms):
        // $1 spent => $1 per 1,000 ms, so $49 left lasts 49,000 ms.
        assert_eq!(forecast(1.0, 50.0, SPAN, 3, 100.0), Some(49_100.0));
    }

    fn budget() -> Budget {
        Budget::new("b", Amount::usd(100.0), Window::Rolling(100_000.0)).unwrap()
    }

    #[test]
    fn each_threshold_fires_once_and_a_jump_fires_every_one_crossed() {
        let b = budget();
        let mut fired = Fired::default();
        assert!(due(&b, 49.0, SPAN, 1, &mut fired, 90_000.0).is_empty());
        let a = due(&b, 50.0, SPAN, 1, &mut fired, 90_000.0);
        assert_eq!(a.len(), 1);
        assert_eq!(
            (a[0].threshold, a[0].fraction, a[0].window_ends_at_ms),
            (Some(0.5), 0.5, 100_000.0)
        );
        assert!(
            due(&b, 60.0, SPAN, 1, &mut fired, 90_000.0).is_empty(),
            "once"
        );
        let a = due(&b, 99.0, SPAN, 1, &mut fired, 90_000.0);
        let ts: Vec<_> = a.iter().map(|a| a.threshold).collect();
        assert_eq!(ts, [Some(0.8), Some(0.95)]);
        assert!(due(&b, 200.0, SPAN, 1, &mut fired, 90_000.0).is_empty());
    }

    #[test]
    fn the_forecast_alert_fires_once_when_the_cap_comes_before_the_window_ends() {
        let b = budget().with_alerts(&[]).unwrap();
        let mut fired = Fired::default();
        // $10 by 50% of the window: runs out long after it ends.
        assert!(due(&b, 10.0, SPAN, 5, &mut fired, 50_000.0).is_empty());
        // $40 by 20%: $100 by 50%.
        let a = due(&b, 40.0, SPAN, 5, &mut fired, 20_000.0);
        assert_eq!(a.len(), 1);
        assert_eq!((a[0].threshold, a[0].forecast_ms), (None, Some(50_000.0)));
        assert!(
            due(&b, 45.0, SPAN, 6, &mut fired, 21_000.0).is_empty(),
            "once"
        );
    }

    #[test]
    fn a_limit_of_0_alerts_on_any_spend() {
        let b = Budget::new("z", Amount::usd(0.0), Window::Day).unwrap();
        let mut fired = Fired::default();
        assert!(due(&b, 0.0, SPAN, 0, &mut fired, 1.0).is_empty());
        assert_eq!(due(&b, 0.5, SPAN, 0, &mut fired, 1.0).len(), 3);
    }
}

//! A spend budget as the caller sets it up, validated: its name, its limit
//! in USD or tokens, its window, its alert thresholds, its tag and what
//! happens at the cap. Bad values are a [`BudgetError`] naming the field,
//! which the wasm layer turns into a `TypeError` or `RangeError`.

use std::fmt;

use super::window::{Window, MIN_ROLLING_MS};

/// The alert thresholds of a budget that sets none.
pub const DEFAULT_ALERT_AT: [f64; 3] = [0.5, 0.8, 0.95];

/// The most alert thresholds one budget may have.
pub const MAX_THRESHOLDS: usize = 16;

/// What a budget counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// US dollars (`limitUsd`).
    Usd,
    /// Tokens, input and output together (`limitTokens`).
    Tokens,
}

impl Unit {
    /// The option that sets a limit in this unit.
    pub fn field(self) -> &'static str {
        match self {
            Unit::Usd => "limitUsd",
            Unit::Tokens => "limitTokens",
        }
    }
}

/// A quantity in a [`Unit`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Amount {
    /// How much.
    pub value: f64,
    /// Of what.
    pub unit: Unit,
}

impl Amount {
    /// `value` US dollars.
    pub fn usd(value: f64) -> Amount {
        Amount {
            value,
            unit: Unit::Usd,
        }
    }

    /// `value` tokens.
    pub fn tokens(value: f64) -> Amount {
        Amount {
            value,
            unit: Unit::Tokens,
        }
    }
}

/// What one call costs (or is expected to cost), in both units, so that
/// each budget takes the one it counts.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Cost {
    /// US dollars, or `None` when the model has no known price: a USD
    /// budget then charges nothing for the call (the caller warns once;
    /// token budgets still count it).
    pub usd: Option<f64>,
    /// Tokens, input and output together.
    pub tokens: f64,
}

impl Cost {
    /// The cost in `unit`: not a number or below 0 counts as 0.
    pub fn in_unit(&self, unit: Unit) -> f64 {
        let v = match unit {
            Unit::Usd => self.usd.unwrap_or(0.0),
            Unit::Tokens => self.tokens,
        };
        if v > 0.0 {
            v
        } else {
            0.0
        }
    }
}

/// What a call meets at the cap.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OnExhausted {
    /// It fails fast, with no network call (the default).
    Fail,
    /// From the soft threshold `from` (a fraction of the limit, spent and
    /// reserved) on, bulk calls move to route `route` (the cheap tier)
    /// while interactive calls keep their route; at the cap every call fails.
    MoveBulk {
        /// The route bulk calls move to (an index into the call's routes).
        route: usize,
        /// The fraction of the limit from which they move, in (0, 1].
        from: f64,
    },
}

/// A budget's setting that is not valid; the wasm layer names it as
/// `budgets[i].<field>`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum BudgetError {
    /// `name` is empty (a `TypeError`).
    EmptyName,
    /// Two budgets have this `name` (a `TypeError`).
    DuplicateName(String),
    /// The limit is not a finite number of at least 0 (a `RangeError`).
    Limit(Amount),
    /// A rolling window is not a finite number of ms of at least 1 (a
    /// `RangeError`).
    Window(f64),
    /// An alert threshold is not in (0, 1] (a `RangeError`).
    Threshold(f64),
    /// More than [`MAX_THRESHOLDS`] alert thresholds (a `RangeError`).
    TooManyThresholds(usize),
    /// `tag` is empty (a `TypeError`).
    EmptyTag,
    /// `onExhausted.from` is not in (0, 1] (a `RangeError`).
    SoftThreshold(f64),
}

impl BudgetError {
    /// The option at fault, as the caller spelled it.
    pub fn field(&self) -> &'static str {
        match self {
            BudgetError::EmptyName | BudgetError::DuplicateName(_) => "name",
            BudgetError::Limit(a) => a.unit.field(),
            BudgetError::Window(_) => "window",
            BudgetError::Threshold(_) | BudgetError::TooManyThresholds(_) => "alertAt",
            BudgetError::EmptyTag => "tag",
            BudgetError::SoftThreshold(_) => "onExhausted.from",
        }
    }

    /// Whether the value has the right type but is out of range (a
    /// `RangeError`, not a `TypeError`).
    pub fn is_range(&self) -> bool {
        !matches!(
            self,
            BudgetError::EmptyName | BudgetError::DuplicateName(_) | BudgetError::EmptyTag
        )
    }
}

impl BudgetError {
    /// What is wrong, without the value: "must be in (0, 1]".
    pub fn problem(&self) -> &'static str {
        match self {
            BudgetError::EmptyName | BudgetError::EmptyTag => "must be a non-empty string",
            BudgetError::DuplicateName(_) => "must be unique",
            BudgetError::Limit(_) => "must be a finite number >= 0",
            BudgetError::Window(_) => "must be 'day', 'month' or a number of ms >= 1",
            BudgetError::Threshold(_) => "thresholds must be in (0, 1]",
            BudgetError::TooManyThresholds(_) => "takes at most 16 thresholds",
            BudgetError::SoftThreshold(_) => "must be in (0, 1]",
        }
    }

    /// The value at fault, if it is a number (a count of thresholds too).
    pub fn value(&self) -> Option<f64> {
        match self {
            BudgetError::Limit(a) => Some(a.value),
            BudgetError::Window(v) | BudgetError::Threshold(v) | BudgetError::SoftThreshold(v) => {
                Some(*v)
            }
            BudgetError::TooManyThresholds(n) => Some(*n as f64),
            _ => None,
        }
    }
}

impl fmt::Display for BudgetError {
    /// "`field` problem, got value" (the wasm layer builds the same message
    /// from [`field`](Self::field), [`problem`](Self::problem) and
    /// [`value`](Self::value) with JavaScript's number formatting, so the
    /// `.wasm` carries no float formatting).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` {}", self.field(), self.problem())?;
        match (self, self.value()) {
            (BudgetError::DuplicateName(name), _) => write!(f, ", {name:?} is used twice"),
            (_, Some(v)) => write!(f, ", got {v}"),
            _ => Ok(()),
        }
    }
}

impl std::error::Error for BudgetError {}

/// A valid budget. Build it with [`Budget::new`] and the `with_…` methods,
/// each of which checks its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Budget {
    name: String,
    limit: Amount,
    window: Window,
    alert_at: Vec<f64>,
    tag: Option<String>,
    on_exhausted: OnExhausted,
}

/// Whether `t` is a fraction in (0, 1].
fn fraction(t: f64) -> bool {
    t > 0.0 && t <= 1.0
}

impl Budget {
    /// A budget named `name` of `limit` per `window`, alerting at
    /// [`DEFAULT_ALERT_AT`], for every call (no tag), failing at the cap.
    pub fn new(name: &str, limit: Amount, window: Window) -> Result<Budget, BudgetError> {
        if name.is_empty() {
            return Err(BudgetError::EmptyName);
        }
        if !(limit.value.is_finite() && limit.value >= 0.0) {
            return Err(BudgetError::Limit(limit));
        }
        if let Window::Rolling(ms) = window {
            if !(ms.is_finite() && ms >= MIN_ROLLING_MS) {
                return Err(BudgetError::Window(ms));
            }
        }
        Ok(Budget {
            name: name.to_owned(),
            limit,
            window,
            alert_at: DEFAULT_ALERT_AT.to_vec(),
            tag: None,
            on_exhausted: OnExhausted::Fail,
        })
    }

    /// Alerts at these fractions of the limit instead (each in (0, 1];
    /// sorted and deduplicated here; none at all turns threshold alerts off).
    pub fn with_alerts(mut self, alert_at: &[f64]) -> Result<Budget, BudgetError> {
        if let Some(&bad) = alert_at.iter().find(|&&t| !fraction(t)) {
            return Err(BudgetError::Threshold(bad));
        }
        // Each goes into its place in a short sorted list (no slice sort:
        // its code is kilobytes of `.wasm`), duplicates dropped.
        let mut sorted: Vec<f64> = Vec::with_capacity(alert_at.len().min(MAX_THRESHOLDS + 1));
        for &t in alert_at {
            if let Err(at) = sorted.binary_search_by(|x| x.total_cmp(&t)) {
                sorted.insert(at, t);
            }
            if sorted.len() > MAX_THRESHOLDS {
                break;
            }
        }
        if sorted.len() > MAX_THRESHOLDS {
            return Err(BudgetError::TooManyThresholds(sorted.len()));
        }
        self.alert_at = sorted;
        Ok(self)
    }

    /// Applies only to calls tagged `tag` (`x-ratewise-budget`), all of
    /// them on one set of books, instead of to every call per limit key.
    pub fn with_tag(mut self, tag: &str) -> Result<Budget, BudgetError> {
        if tag.is_empty() {
            return Err(BudgetError::EmptyTag);
        }
        self.tag = Some(tag.to_owned());
        Ok(self)
    }

    /// What a call meets at the cap.
    pub fn with_on_exhausted(mut self, policy: OnExhausted) -> Result<Budget, BudgetError> {
        if let OnExhausted::MoveBulk { from, .. } = policy {
            if !fraction(from) {
                return Err(BudgetError::SoftThreshold(from));
            }
        }
        self.on_exhausted = policy;
        Ok(self)
    }

    /// The budget's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its limit.
    pub fn limit(&self) -> Amount {
        self.limit
    }

    /// Its window.
    pub fn window(&self) -> Window {
        self.window
    }

    /// Its alert thresholds, ascending, each in (0, 1].
    pub fn alert_at(&self) -> &[f64] {
        &self.alert_at
    }

    /// Its tag, if it applies only to tagged calls.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// What a call meets at the cap.
    pub fn on_exhausted(&self) -> OnExhausted {
        self.on_exhausted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd(v: f64) -> Result<Budget, BudgetError> {
        Budget::new("b", Amount::usd(v), Window::Day)
    }

    #[test]
    fn a_budget_gets_the_documented_defaults() {
        let b = usd(10.0).unwrap();
        assert_eq!(b.alert_at(), DEFAULT_ALERT_AT);
        assert_eq!((b.tag(), b.on_exhausted()), (None, OnExhausted::Fail));
        assert_eq!(
            (b.name(), b.limit(), b.window()),
            ("b", Amount::usd(10.0), Window::Day)
        );
        // A limit of 0 is a budget that lets nothing through, not an error.
        assert!(usd(0.0).is_ok());
    }

    #[test]
    fn bad_values_name_their_field() {
        let cases: Vec<(Result<Budget, BudgetError>, &str, bool)> = vec![
            (
                Budget::new("", Amount::usd(1.0), Window::Day),
                "name",
                false,
            ),
            (usd(-1.0), "limitUsd", true),
            (usd(f64::NAN), "limitUsd", true),
            (usd(f64::INFINITY), "limitUsd", true),
            (
                Budget::new("b", Amount::tokens(-5.0), Window::Month),
                "limitTokens",
                true,
            ),
            (
                Budget::new("b", Amount::usd(1.0), Window::Rolling(0.0)),
                "window",
                true,
            ),
            (
                Budget::new("b", Amount::usd(1.0), Window::Rolling(f64::NAN)),
                "window",
                true,
            ),
            (
                usd(1.0).and_then(|b| b.with_alerts(&[0.5, 1.5])),
                "alertAt",
                true,
            ),
            (
                usd(1.0).and_then(|b| b.with_alerts(&[0.0])),
                "alertAt",
                true,
            ),
            (
                usd(1.0).and_then(|b| b.with_alerts(&[-0.1])),
                "alertAt",
                true,
            ),
            (
                usd(1.0).and_then(|b| b.with_alerts(&[f64::NAN])),
                "alertAt",
                true,
            ),
            (usd(1.0).and_then(|b| b.with_tag("")), "tag", false),
            (
                usd(1.0).and_then(|b| {
                    b.with_on_exhausted(OnExhausted::MoveBulk {
                        route: 1,
                        from: 0.0,
                    })
                }),
                "onExhausted.from",
                true,
            ),
            (
                usd(1.0).and_then(|b| {
                    b.with_on_exhausted(OnExhausted::MoveBulk {
                        route: 1,
                        from: 1.01,
                    })
                }),
                "onExhausted.from",
                true,
            ),
        ];
        for (i, (result, field, range)) in cases.into_iter().enumerate() {
            let e = result.expect_err(&format!("case {i}"));
            assert_eq!((e.field(), e.is_range()), (field, range), "case {i}: {e}");
            assert!(e.to_string().contains(field), "{e}");
        }
        let many: Vec<f64> = (1..=17).map(|i| f64::from(i) / 17.0).collect();
        let e = usd(1.0).unwrap().with_alerts(&many).unwrap_err();
        assert_eq!(e, BudgetError::TooManyThresholds(17));
        assert_eq!(
            e.problem(),
            format!("takes at most {MAX_THRESHOLDS} thresholds")
        );
        assert_eq!(
            usd(-2.0).unwrap_err().to_string(),
            "`limitUsd` must be a finite number >= 0, got -2"
        );
    }

    #[test]
    fn thresholds_are_sorted_and_deduplicated_and_1_is_allowed() {
        let b = usd(1.0)
            .unwrap()
            .with_alerts(&[0.9, 0.5, 0.9, 1.0])
            .unwrap();
        assert_eq!(b.alert_at(), [0.5, 0.9, 1.0]);
        assert!(usd(1.0)
            .unwrap()
            .with_alerts(&[])
            .unwrap()
            .alert_at()
            .is_empty());
    }

    #[test]
    fn a_cost_counts_in_the_budget_s_unit_and_never_below_0() {
        let c = Cost {
            usd: Some(0.25),
            tokens: 1_000.0,
        };
        assert_eq!(
            (c.in_unit(Unit::Usd), c.in_unit(Unit::Tokens)),
            (0.25, 1_000.0)
        );
        let unpriced = Cost {
            usd: None,
            tokens: 10.0,
        };
        assert_eq!(unpriced.in_unit(Unit::Usd), 0.0);
        let bad = Cost {
            usd: Some(f64::NAN),
            tokens: -3.0,
        };
        assert_eq!(
            (bad.in_unit(Unit::Usd), bad.in_unit(Unit::Tokens)),
            (0.0, 0.0)
        );
    }
}

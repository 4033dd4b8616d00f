//! Spend budgets at the JavaScript boundary: a budget read from a JS object
//! (`budgets[i]`, or a coordinator message), with a `TypeError` or
//! `RangeError` naming the field; alerts and exhaustion as JS objects; and
//! the Durable Object's budget step, [`coordinator_budget`], which applies
//! one reserve, settle or release to one scope's books (the object keeps
//! them in its durable storage, so an object that restarts keeps what was
//! spent).
//!
//! The message an isolate posts to the coordinator of a scope (the
//! budget's [`scope_of`](crate::limits::spend::scope_of) key, through the
//! same `coordinatorSend` as the breaker's):
//!
//! ```text
//! { op: 'budget', key: '<16 hex>', budget: { name, limitUsd | limitTokens, window, alertAt?, tag? },
//!   action: 'reserve', amount }                    -> { reservation: [startMs, amount], fraction, spent, reserved, windowEndsAtMs } | { exhausted }
//!   action: 'settle', reservation, actual          -> { alerts: [...] }
//!   action: 'release', reservation                 -> {}
//!   action: 'status'                               -> { spent, reserved, limit, windowEndsAtMs }
//! ```

use crate::text::fill;
use js_sys::Array;
use wasm_bindgen::prelude::*;

use super::bindings::{get, is_array, object, range_error, type_error};
use crate::limits::key::LimitKey;
use crate::limits::spend::{
    Alert, Amount, Books, Budget, BudgetError, Exhausted, OnExhausted, Reservation, Unit, Window,
};

/// The soft threshold of `onExhausted: { route }` when `from` is not given.
pub const DEFAULT_MOVE_FROM: f64 = 0.8;

/// Where a budget is read: the caller that reads it (`createFetch`) and
/// the path of its object (`budgets[0]`), as its errors name them.
#[derive(Clone, Copy)]
pub struct At<'a> {
    pub caller: &'a str,
    pub path: &'a str,
}

impl At<'_> {
    /// A `TypeError` "`<caller>: `<path><key>` <problem>`".
    fn type_error(self, key: &str, problem: &str) -> JsValue {
        type_error(self.message(key, problem))
    }

    fn message(self, key: &str, problem: &str) -> String {
        fill("{}: `{}{}` {}", &[self.caller, self.path, key, problem])
    }
}

/// A [`BudgetError`] as the JS error it stands for, naming its field.
fn budget_error(at: At, e: &BudgetError) -> JsValue {
    // JavaScript formats the number: no float formatting in the `.wasm`.
    let got = e.value().map_or(String::new(), |v| {
        let v: String = js_sys::Number::from(v)
            .to_string_with_radix(10)
            .map_or(String::new(), Into::into);
        fill(", got {}", &[&v])
    });
    let message = fill(
        "{}{}",
        &[&at.message(&fill(".{}", &[e.field()]), e.problem()), &got],
    );
    if e.is_range() {
        range_error(message)
    } else {
        type_error(message)
    }
}

/// `value[key]` as a number, `None` when undefined, a `TypeError` naming
/// `key` otherwise.
fn optional_number(value: &JsValue, key: &'static str, at: At) -> Result<Option<f64>, JsValue> {
    let v = get(value, key);
    if v.is_undefined() {
        return Ok(None);
    }
    v.as_f64()
        .map(Some)
        .ok_or_else(|| at.type_error(&fill(".{}", &[key]), "must be a number"))
}

/// `value[key]` as a string, `None` when undefined, a `TypeError` naming
/// `key` otherwise.
fn optional_string(value: &JsValue, key: &'static str, at: At) -> Result<Option<String>, JsValue> {
    let v = get(value, key);
    if v.is_undefined() {
        return Ok(None);
    }
    v.as_string()
        .map(Some)
        .ok_or_else(|| at.type_error(&fill(".{}", &[key]), "must be a string"))
}

/// A budget from `{ name, limitUsd | limitTokens, window: 'day' | 'month' |
/// ms, alertAt?, tag?, onExhausted?: 'fail' | { route, from? } }`; bad
/// values are a `TypeError` or `RangeError` naming the field (`at`'s path
/// and the key).
pub fn budget_from_js(value: &JsValue, at: At) -> Result<Budget, JsValue> {
    if !value.is_object() {
        return Err(at.type_error("", "must be an object"));
    }
    let name = optional_string(value, "name", at)?.unwrap_or_default();
    let limit = match (
        optional_number(value, "limitUsd", at)?,
        optional_number(value, "limitTokens", at)?,
    ) {
        (Some(usd), None) => Amount::usd(usd),
        (None, Some(tokens)) => Amount::tokens(tokens),
        _ => return Err(at.type_error("", "needs one of `limitUsd` and `limitTokens`")),
    };
    let window = get(value, "window");
    let window = match (window.as_string().as_deref(), window.as_f64()) {
        (Some("day"), _) => Window::Day,
        (Some("month"), _) => Window::Month,
        (_, Some(ms)) => Window::Rolling(ms),
        _ => {
            return Err(at.type_error(".window", "must be 'day', 'month' or a number of ms"));
        }
    };
    let error = |e: BudgetError| budget_error(at, &e);
    let mut budget = Budget::new(&name, limit, window).map_err(error)?;
    let alert_at = get(value, "alertAt");
    if !alert_at.is_undefined() {
        // A loop, not `collect::<Option<Vec<_>>>()`: no try_process, shunt
        // and from_iter of their own (issue 25).
        let mut numbers = Vec::new();
        let mut all = is_array(&alert_at);
        if all {
            for n in Array::from(&alert_at).iter() {
                let Some(n) = n.as_f64() else {
                    all = false;
                    break;
                };
                numbers.push(n);
            }
        }
        if !all {
            return Err(at.type_error(".alertAt", "must be an array of numbers"));
        }
        budget = budget.with_alerts(&numbers).map_err(error)?;
    }
    if let Some(tag) = optional_string(value, "tag", at)? {
        budget = budget.with_tag(&tag).map_err(error)?;
    }
    let policy = get(value, "onExhausted");
    let policy = if policy.is_undefined() || policy.as_string().as_deref() == Some("fail") {
        OnExhausted::Fail
    } else {
        let path = fill("{}.onExhausted", &[at.path]);
        let at = At { path: &path, ..at };
        let route = optional_number(&policy, "route", at)?
            .filter(|r| r.fract() == 0.0 && *r >= 0.0)
            .ok_or_else(|| {
                at.type_error("", "must be 'fail' or { route, from? } with a route index")
            })?;
        let from = optional_number(&policy, "from", at)?.unwrap_or(DEFAULT_MOVE_FROM);
        OnExhausted::MoveBulk {
            route: route.min(usize::MAX as f64) as usize,
            from,
        }
    };
    budget.with_on_exhausted(policy).map_err(error)
}

/// The wire name of a unit.
fn unit_name(unit: Unit) -> &'static str {
    match unit {
        Unit::Usd => "usd",
        Unit::Tokens => "tokens",
    }
}

/// An alert as `onBudget` gets it: `{ budget, unit, spent, limit,
/// spentUsd | spentTokens, limitUsd | limitTokens, fraction, threshold,
/// windowEndsAt, forecast }` (`threshold` null for the forecast alert,
/// `forecast` null when there is none yet; times in ms since the epoch).
pub fn alert_js(a: &Alert) -> JsValue {
    let (spent_key, limit_key) = match a.unit {
        Unit::Usd => ("spentUsd", "limitUsd"),
        Unit::Tokens => ("spentTokens", "limitTokens"),
    };
    let or_null = |v: Option<f64>| v.map_or(JsValue::NULL, JsValue::from_f64);
    object(&[
        ("budget", a.budget.as_str().into()),
        ("unit", unit_name(a.unit).into()),
        ("spent", a.spent.into()),
        ("limit", a.limit.into()),
        (spent_key, a.spent.into()),
        (limit_key, a.limit.into()),
        ("fraction", a.fraction.into()),
        ("threshold", or_null(a.threshold)),
        ("windowEndsAt", a.window_ends_at_ms.into()),
        ("forecast", or_null(a.forecast_ms)),
    ])
}

/// Why a call was refused, `{ budget, unit, limit, spent, reserved, resetsAtMs }`.
pub fn exhausted_js(e: &Exhausted) -> JsValue {
    object(&[
        ("budget", e.budget.as_str().into()),
        ("unit", unit_name(e.unit).into()),
        ("limit", e.limit.into()),
        ("spent", e.spent.into()),
        ("reserved", e.reserved.into()),
        ("resetsAtMs", e.resets_at_ms.into()),
    ])
}

/// A reservation read from a message's `reservation: [startMs, amount]`.
fn reservation_of(message: &JsValue) -> Result<Reservation, JsValue> {
    let parts = get(message, "reservation");
    let n = |i: u32| Array::from(&parts).get(i).as_f64().unwrap_or(f64::NAN);
    let parts = is_array(&parts).then(|| [n(0), n(1)]);
    parts
        .and_then(Reservation::from_parts)
        .ok_or_else(|| type_error("ratewise coordinator: `reservation` must be [startMs, amount]"))
}

/// The Durable Object's budget step: applies `message` (see the module)
/// to one scope's `books` (the 10 numbers a previous step returned, or
/// undefined; a value that does not decode for this budget, corrupted or
/// kept for another window, starts afresh) at `now_ms`. Returns `[newBooks,
/// answer]`.
#[cfg(feature = "coordinator")]
#[wasm_bindgen(js_name = coordinatorBudget)]
pub fn coordinator_budget(books: JsValue, message: JsValue, now_ms: f64) -> Result<Array, JsValue> {
    let step = budget_step(&books, &message, now_ms)?;
    let encoded: Array = step.books.iter().map(|&n| JsValue::from_f64(n)).collect();
    Ok(Array::of2(&encoded, &step.answer))
}

/// What one budget message did to a scope's books.
pub(super) struct Step {
    /// The books after it, encoded.
    pub books: [f64; crate::limits::spend::codec::LEN],
    /// The answer for the isolate.
    pub answer: JsValue,
    /// How long a store should keep them, ms.
    pub ttl_ms: f64,
}

/// Applies a budget message (see the module) to `books` (an array of the
/// 10 numbers, or anything else for none) at `now_ms`: the Durable
/// Object's step and the Redis coordinator's share it.
pub(super) fn budget_step(
    books: &JsValue,
    message: &JsValue,
    now_ms: f64,
) -> Result<Step, JsValue> {
    let hex = get(message, "key").as_string().unwrap_or_default();
    if LimitKey::from_hex(&hex).is_none() {
        return Err(type_error(
            "ratewise coordinator: `key` must be 16 hex digits",
        ));
    }
    let at = At {
        caller: "ratewise coordinator",
        path: "budget",
    };
    let budget = budget_from_js(&get(message, "budget"), at)?;
    let stored: Option<Vec<f64>> = is_array(books).then(|| {
        Array::from(books)
            .iter()
            .map(|n| n.as_f64().unwrap_or(f64::NAN))
            .collect()
    });
    let mut kept = stored
        .and_then(|v| Books::decode(&budget, &v).ok())
        .unwrap_or_default();
    let action = get(message, "action").as_string().unwrap_or_default();
    let answer = match action.as_str() {
        "reserve" => {
            let amount = get(message, "amount")
                .as_f64()
                .ok_or_else(|| type_error("ratewise coordinator: `amount` must be a number"))?;
            match kept.reserve(&budget, amount, now_ms) {
                Ok(r) => {
                    let [start, amount] = r.to_parts();
                    let parts = Array::of2(&start.into(), &amount.into());
                    let fraction = kept.committed_fraction(&budget, now_ms);
                    let s = kept.status(&budget, now_ms);
                    object(&[
                        ("reservation", parts.into()),
                        ("fraction", fraction.into()),
                        ("spent", s.spent.into()),
                        ("reserved", s.reserved.into()),
                        ("windowEndsAtMs", s.window.end_ms.into()),
                    ])
                }
                Err(e) => object(&[("exhausted", exhausted_js(&e))]),
            }
        }
        "settle" => {
            let reservation = reservation_of(message)?;
            let actual = get(message, "actual").as_f64().unwrap_or(f64::NAN);
            let alerts: Array = kept
                .settle(&budget, reservation, actual, now_ms)
                .iter()
                .map(alert_js)
                .collect();
            object(&[("alerts", alerts.into())])
        }
        "release" => {
            kept.release(&budget, reservation_of(message)?, now_ms);
            object(&[])
        }
        "status" => {
            let s = kept.status(&budget, now_ms);
            object(&[
                ("spent", s.spent.into()),
                ("reserved", s.reserved.into()),
                ("limit", s.limit.into()),
                ("fraction", kept.committed_fraction(&budget, now_ms).into()),
                ("windowEndsAtMs", s.window.end_ms.into()),
            ])
        }
        _ => {
            return Err(type_error(
                "ratewise coordinator: `action` must be reserve, settle, release or status",
            ))
        }
    };
    Ok(Step {
        books: kept.encode(&budget),
        answer,
        ttl_ms: kept.ttl_ms(&budget, now_ms),
    })
}

//! Spend budgets in `createFetch` (the books are `limits::spend`): the
//! `budgets` and `onBudget` options, a call's reservation before it is
//! sent, the local answer when a budget is spent, and settling at
//! `usage_known` (src/wasm/usage.rs) with the alerts it crosses.
//!
//! Not wired yet: `onExhausted: { route }` (a bulk call keeps its route:
//! the engine has no "start on route N" for it), and the coordinator's
//! durable books (the books are the instance's, in memory).

use std::cell::RefCell;

use js_sys::{Array, Function};
use wasm_bindgen::prelude::*;

use super::bindings::{is_array, make_error, object, type_error};
use super::spend::{alert_js, budget_from_js, exhausted_js};
use crate::limits::key::DEFAULT_MAX_KEYS;
use crate::limits::lanes::Lane;
use crate::limits::routes::RouteKey;
use crate::limits::spend::{answer, Cost, Exhausted, Holds, Spend, Unit, Verdict};

#[wasm_bindgen(module = "/js/usage.js")]
extern "C" {
    /// `[tag, headers without x-ratewise-budget]` from `init.budget` or the
    /// header; a TypeError naming the field for a tag that is not a string.
    #[wasm_bindgen(js_name = readBudgetTag, catch)]
    pub fn read_budget_tag(init: &JsValue, headers: &web_sys::Headers) -> Result<Array, JsValue>;
}

/// An instance's budgets.
pub struct Budgets {
    spend: RefCell<Spend>,
    on_budget: Option<Function>,
}

/// Reads `budgets` and `onBudget`; `None` without budgets.
pub fn read(value: JsValue, on_budget: Option<Function>) -> Result<Option<Budgets>, JsValue> {
    if value.is_undefined() {
        return Ok(None);
    }
    if !is_array(&value) {
        return Err(type_error(
            "createFetch: `budgets` must be an array of { name, limitUsd | limitTokens, window }",
        ));
    }
    let list = Array::from(&value)
        .iter()
        .enumerate()
        .map(|(i, b)| budget_from_js(&b, &format!("createFetch: `budgets[{i}]`")))
        .collect::<Result<Vec<_>, _>>()?;
    let spend = Spend::new(list, DEFAULT_MAX_KEYS).map_err(|e| {
        type_error(format!(
            "createFetch: `budgets`: `{}` {}",
            e.field(),
            e.problem()
        ))
    })?;
    Ok(Some(Budgets {
        spend: RefCell::new(spend),
        on_budget,
    }))
}

/// What a call brings to the budgets.
pub struct Ask<'a> {
    /// Its routes' keys (only the first is used: see the module).
    pub keys: &'a [RouteKey],
    /// `x-ratewise-budget` / `init.budget`.
    pub tag: Option<&'a str>,
    /// Its lane.
    pub lane: Lane,
    /// What it is expected to cost.
    pub estimate: Cost,
    /// Whether the caller wants a `BudgetExhaustedError` (`throwOnError`).
    pub throw_on_error: bool,
    /// Its method (a `HEAD` answer has no body).
    pub method: &'a str,
    /// Its trace: told the budgets that apply, and the one that stopped it.
    pub trace: Option<&'a super::telemetry::Trace>,
}

impl Budgets {
    /// Holds the call's estimate on every budget that applies, or answers
    /// it (a local 429, or with `throwOnError` a `BudgetExhaustedError`)
    /// when one is spent: nothing is sent then.
    pub fn admit(&self, ask: &Ask<'_>) -> Result<Holds, Result<JsValue, JsValue>> {
        let now = js_sys::Date::now();
        let keys = &ask.keys[..ask.keys.len().min(1)];
        let estimate = ask.estimate;
        let (_, verdict) =
            self.spend
                .borrow_mut()
                .admit(keys, 0, ask.tag, ask.lane, |_| estimate, now);
        if let Some(trace) = ask.trace {
            self.tell(trace, keys, ask.tag, &verdict);
        }
        match verdict {
            Verdict::Go(holds) => Ok(holds),
            // A move to a route the call lacks is never returned (see Spend::admit).
            Verdict::Move { .. } => Ok(Holds::default()),
            Verdict::Exhausted(e) => Err(exhausted(&e, ask.throw_on_error, ask.method)),
        }
    }

    /// Tells a call's trace the budgets that apply to it (`[name, unit]`
    /// pairs) and, when one stopped it, which.
    fn tell(
        &self,
        trace: &super::telemetry::Trace,
        keys: &[RouteKey],
        tag: Option<&str>,
        verdict: &Verdict,
    ) {
        let spend = self.spend.borrow();
        let applying: Array = match keys.first() {
            Some(key) => spend
                .scopes_for(key.account, tag)
                .map(|(_, b, _)| Array::of2(&b.name().into(), &unit_js(b.limit().unit)))
                .collect(),
            None => Array::new(),
        };
        if applying.length() == 0 {
            return;
        }
        let stopped = match verdict {
            Verdict::Exhausted(e) => Some(e.budget.clone()),
            _ => None,
        };
        trace.budgets(&applying, stopped);
    }

    /// `health().budgets`: every scope's books, its key as a short hash.
    pub fn health_js(&self) -> JsValue {
        let now = js_sys::Date::now();
        let spend = self.spend.borrow();
        spend
            .statuses(now)
            .into_iter()
            .map(|(budget, scope, status)| {
                let committed = status.spent + status.reserved;
                let fraction = if status.limit > 0.0 {
                    committed / status.limit
                } else {
                    0.0
                };
                object(&[
                    ("name", budget.name().into()),
                    ("scope", scope.short().into()),
                    ("unit", unit_js(budget.limit().unit)),
                    ("spent", status.spent.into()),
                    ("reserved", status.reserved.into()),
                    ("limit", status.limit.into()),
                    ("fraction", fraction.into()),
                    ("windowEndsAt", status.window.end_ms.into()),
                ])
            })
            .collect::<Array>()
            .into()
    }

    /// The call sent nothing that answered: its holds are freed.
    pub fn release(&self, holds: Holds) {
        if !holds.is_empty() {
            self.spend.borrow_mut().release(holds, js_sys::Date::now());
        }
    }

    /// The call holding `holds` cost `actual`: settled, and each alert it
    /// crossed goes to `onBudget` (whose exceptions are ignored).
    pub fn settle(&self, holds: Holds, actual: Cost) {
        if holds.is_empty() {
            return;
        }
        let alerts = self
            .spend
            .borrow_mut()
            .settle(holds, actual, js_sys::Date::now());
        if let Some(hook) = &self.on_budget {
            for a in &alerts {
                let _ = hook.call1(&JsValue::UNDEFINED, &alert_js(a));
            }
        }
    }
}

/// A budget's unit as JavaScript names it.
fn unit_js(unit: Unit) -> JsValue {
    match unit {
        Unit::Usd => "usd",
        Unit::Tokens => "tokens",
    }
    .into()
}

/// The answer to a call a spent budget stopped: the body of
/// `limits::spend::answer`, built as a JS object and stringified by
/// JavaScript (Rust's float formatting stays out of the `.wasm`).
fn exhausted(e: &Exhausted, throw: bool, method: &str) -> Result<JsValue, JsValue> {
    let message = format!(
        "ratewise: the budget \"{}\" is spent until its window resets; nothing was sent",
        e.budget
    );
    if throw {
        let details = object(&[
            ("kind", answer::ERROR_CODE.into()),
            ("status", answer::STATUS.into()),
            ("attempts", 0.into()),
            ("budget", e.budget.as_str().into()),
            ("resetsAtMs", e.resets_at_ms.into()),
            ("exhausted", exhausted_js(e)),
        ]);
        return Err(make_error(answer::ERROR_CODE, &message, &details));
    }
    let error = object(&[
        ("message", message.as_str().into()),
        ("type", answer::ERROR_TYPE.into()),
        ("code", answer::ERROR_CODE.into()),
        ("budget", e.budget.as_str().into()),
        ("unit", unit_js(e.unit)),
        ("limit", e.limit.into()),
        ("spent", e.spent.into()),
        ("resetsAtMs", e.resets_at_ms.into()),
    ]);
    let body: String = js_sys::JSON::stringify(&object(&[("error", error)]))?.into();
    let headers = web_sys::Headers::new()?;
    headers.set("content-type", "application/json")?;
    headers.set("x-should-retry", "false")?;
    let init = web_sys::ResponseInit::new();
    init.set_status(answer::STATUS);
    init.set_headers(&headers);
    let body = (!method.eq_ignore_ascii_case("HEAD")).then_some(body.as_str());
    Ok(web_sys::Response::new_with_opt_str_and_init(body, &init)?.into())
}

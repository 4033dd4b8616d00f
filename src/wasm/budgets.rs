//! Spend budgets in `createFetch` (the books are `limits::spend`): the
//! `budgets` and `onBudget` options, a call's reservation before it is
//! sent, the local answer when a budget is spent, and settling at
//! `usage_known` (src/wasm/usage.rs) with the alerts it crosses.
//!
//! With a coordinator, the books are the coordinator's (src/wasm/budgets_shared.rs);
//! without one, or while it fails, the instance's, in memory.
//!
//! `onExhausted: { route, from }`: a bulk call past a budget's soft
//! threshold reserves on the route's account and starts there
//! (`Scope::moved_to`, the way `lanes.bulk.route` starts a bulk call under
//! pressure); interactive calls keep the primary until the cap.

use crate::shared::Shared;
use crate::text::{dec, fill};

use js_sys::{Array, Function};
use wasm_bindgen::prelude::*;

use super::bindings::{get, is_array, make_error, object, range_error, type_error};
use super::spend::{alert_js, budget_from_js, exhausted_js, At};
use crate::limits::budgets::{self, Before};
use crate::limits::key::DEFAULT_MAX_KEYS;
use crate::limits::lanes::Lane;
use crate::limits::routes::RouteKey;
use crate::limits::spend::{answer, Cost, Exhausted, Holds, OnExhausted, Spend, Unit};

/// An instance's budgets.
pub struct Budgets {
    pub(super) spend: Shared<Spend>,
    pub(super) on_budget: Option<Function>,
    /// Each budget as a coordinator message carries it (`{ name, limitUsd |
    /// limitTokens, window, alertAt?, tag? }`), built once.
    pub(super) wire: Vec<JsValue>,
    /// What the coordinator last said of each scope's books (its reserve
    /// answers), for `stats().usage.byBudget`: at most [`SEEN`] scopes.
    pub(super) seen: Shared<Vec<Seen>>,
    /// `{ down }`: whether the coordinator's last settle or release
    /// failed (a failure is reported once per incident).
    pub(super) settle_down: JsValue,
    /// What the JS glue tells of a coordinator's settles and releases
    /// (`(0, alerts)`, `(1, message)`), for src/wasm/outputs.rs to fire
    /// `onBudget` and `onCoordinatorError`; made once per instance.
    pub(super) post_hooks: std::cell::OnceCell<JsValue>,
}

/// How many scopes' coordinator books `stats()` remembers.
pub(super) const SEEN: usize = 64;

/// A scope's books as the coordinator last reported them.
pub(super) struct Seen {
    pub budget: usize,
    pub scope: crate::limits::key::LimitKey,
    pub spent: f64,
    pub reserved: f64,
    pub window_ends_ms: f64,
}

/// A call's holds: on the instance's books, and on its coordinator's
/// (see src/wasm/budgets_shared.rs). Settle or release it exactly once.
#[derive(Default)]
pub struct Held {
    pub(super) local: Holds,
    pub(super) remote: Option<super::budgets_shared::Remote>,
    /// The route a budget moved the call to (`onExhausted: { route }`).
    pub moved: Option<usize>,
}

impl Held {
    /// Holds on the instance's books only.
    pub fn local(holds: Holds) -> Held {
        Held {
            local: holds,
            ..Held::default()
        }
    }
}

/// The budget as a coordinator message carries it: only the fields that
/// make its books (an `onExhausted` is the instance's own business).
fn wire(value: &JsValue) -> JsValue {
    let keys = [
        "name",
        "limitUsd",
        "limitTokens",
        "window",
        "alertAt",
        "tag",
    ];
    let out = js_sys::Object::new();
    for key in keys {
        let v = get(value, key);
        if !v.is_undefined() {
            let _ = js_sys::Reflect::set(&out, &key.into(), &v);
        }
    }
    out.into()
}

/// Reads `budgets` and `onBudget` (with `routes` fallback routes, which an
/// `onExhausted: { route }` must name); `None` without budgets.
pub fn read(
    value: JsValue,
    on_budget: Option<Function>,
    routes: usize,
) -> Result<Option<Budgets>, JsValue> {
    if value.is_undefined() {
        return Ok(None);
    }
    if !is_array(&value) {
        return Err(type_error(
            "createFetch: `budgets` must be an array of { name, limitUsd | limitTokens, window }",
        ));
    }
    // One pass, a plain loop, not `.map(..).collect::<Result<Vec<_>, _>>()`:
    // that one instantiated its own try_fold, shunt and collect around this
    // body (issue 25).
    let mut wire_form: Vec<JsValue> = Vec::new();
    let mut list = Vec::new();
    for (i, b) in Array::from(&value).iter().enumerate() {
        wire_form.push(wire(&b));
        let path = fill("budgets[{}]", &[&dec(i as u64)]);
        list.push(budget_from_js(
            &b,
            At {
                caller: "createFetch",
                path: &path,
            },
        )?);
    }
    for (i, b) in list.iter().enumerate() {
        if let OnExhausted::MoveBulk { route, .. } = b.on_exhausted() {
            if route == 0 || route > routes {
                return Err(range_error(fill("createFetch: `budgets[{}].onExhausted.route` must be the index of one of `routes` (1 is the first)", &[&dec(i as u64)])));
            }
        }
    }
    let spend = Spend::new(list, DEFAULT_MAX_KEYS).map_err(|e| {
        type_error(fill(
            "createFetch: `budgets`: `{}` {}",
            &[e.field(), e.problem()],
        ))
    })?;
    Ok(Some(Budgets {
        spend: Shared::new(spend),
        on_budget,
        wire: wire_form,
        seen: Shared::default(),
        settle_down: object(&[("down", false.into())]),
        post_hooks: std::cell::OnceCell::new(),
    }))
}

/// What a call brings to the budgets.
pub struct Ask<'a> {
    /// Its routes' keys: the primary's account, or the cheap route's for a
    /// bulk call a budget moves there.
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
    pub fn admit_local(&self, ask: &Ask<'_>) -> Result<Held, Result<JsValue, JsValue>> {
        let now = js_sys::Date::now();
        let before = budgets::before(
            &mut self.spend.borrow_mut(),
            ask.keys,
            ask.tag,
            ask.lane,
            ask.estimate,
            now,
        );
        if let Some(trace) = ask.trace {
            let stopped = match &before {
                Before::Refuse(e) => Some(e.budget.clone()),
                Before::Go { .. } => None,
            };
            self.tell(trace, ask.keys, ask.tag, stopped);
        }
        match before {
            Before::Go { holds, moved } => Ok(Held {
                moved,
                ..Held::local(holds)
            }),
            Before::Refuse(e) => Err(exhausted(&e, ask.throw_on_error, ask.method)),
        }
    }

    /// Tells a call's trace the budgets that apply to it (`[name, unit]`
    /// pairs) and, when one stopped it, which.
    pub(super) fn tell(
        &self,
        trace: &super::telemetry::Trace,
        keys: &[RouteKey],
        tag: Option<&str>,
        stopped: Option<String>,
    ) {
        let spend = self.spend.borrow();
        // A loop and `push`, not a collect into an Array: no Map::next and
        // FromIterator of their own (issue 25).
        let applying = Array::new();
        if let Some(key) = keys.first() {
            for (_, b, _) in spend.scopes_for(key.account, tag) {
                applying.push(&Array::of2(&b.name().into(), &unit_js(b.limit().unit)));
            }
        }
        if applying.length() == 0 {
            return;
        }
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
    pub fn release(&self, held: Held) {
        if let Some(remote) = held.remote {
            self.release_remote(remote);
        }
        if !held.local.is_empty() {
            self.spend
                .borrow_mut()
                .release(held.local, js_sys::Date::now());
        }
    }

    /// The call holding `holds` cost `actual`: settled, and each alert it
    /// crossed goes to `onBudget` (whose exceptions are ignored).
    pub fn settle(&self, held: Held, actual: Cost) {
        if let Some(remote) = held.remote {
            self.settle_remote(remote, actual);
        }
        let holds = held.local;
        if holds.is_empty() {
            return;
        }
        let alerts = self
            .spend
            .borrow_mut()
            .settle(holds, actual, js_sys::Date::now());
        for alert in &alerts {
            super::outputs::budget_alert(self.on_budget.as_ref(), &alert_js(alert));
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
pub(super) fn exhausted(e: &Exhausted, throw: bool, method: &str) -> Result<JsValue, JsValue> {
    let message = fill(
        "ratewise: the budget \"{}\" is spent until its window resets; nothing was sent",
        &[&e.budget],
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

impl Budgets {
    /// `stats().usage.byBudget`: each scope's books, `{ budget, scope, unit,
    /// spent, reserved, limit, fraction, windowEndsAt, shared }` (`scope` a
    /// short hash, never a credential): the instance's own books, and the
    /// coordinator's as its last answer reported them (`shared: true`).
    pub fn stats_js(&self) -> JsValue {
        let now = js_sys::Date::now();
        let spend = self.spend.borrow();
        let list = Array::new();
        let entry = |b: &crate::limits::spend::Budget,
                     scope: crate::limits::key::LimitKey,
                     spent: f64,
                     reserved: f64,
                     ends: f64,
                     shared: bool| {
            let limit = b.limit();
            let unit = match limit.unit {
                Unit::Usd => "usd",
                Unit::Tokens => "tokens",
            };
            let fraction = if limit.value > 0.0 {
                (spent + reserved) / limit.value
            } else {
                1.0
            };
            object(&[
                ("budget", b.name().into()),
                ("scope", scope.short().into()),
                ("unit", unit.into()),
                ("spent", spent.into()),
                ("reserved", reserved.into()),
                ("limit", limit.value.into()),
                ("fraction", fraction.into()),
                ("windowEndsAt", ends.into()),
                ("shared", shared.into()),
            ])
        };
        for (b, scope, s) in spend.statuses(now) {
            list.push(&entry(
                b,
                scope,
                s.spent,
                s.reserved,
                s.window.end_ms,
                false,
            ));
        }
        for s in self.seen.borrow().iter() {
            if let Some(b) = spend.budgets().nth(s.budget) {
                list.push(&entry(
                    b,
                    s.scope,
                    s.spent,
                    s.reserved,
                    s.window_ends_ms,
                    true,
                ));
            }
        }
        list.into()
    }
}

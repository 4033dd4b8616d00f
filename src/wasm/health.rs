//! `health()`: one JSON-ready snapshot of an instance for a status route.
//! Keys appear only as their short hashes; nothing here holds a secret.

use js_sys::Array;
use wasm_bindgen::JsValue;

use super::bindings::object;
use super::instance::Instance;
use super::report::breakers_js;

/// A window's limit and what is left, or `null` when nothing was heard.
fn window(limit: Option<f64>, remaining: Option<f64>) -> JsValue {
    if limit.is_none() && remaining.is_none() {
        return JsValue::NULL;
    }
    let n = |v: Option<f64>| v.map_or(JsValue::NULL, |v| v.floor().into());
    object(&[("limit", n(limit)), ("remaining", n(remaining))])
}

/// `fetch.health()`.
pub fn health_js(instance: &Instance) -> JsValue {
    let now = js_sys::Date::now();
    let limiters = instance.limiters.borrow();
    let limits: Array = limiters
        .throttle()
        .map(|t| t.learned())
        .unwrap_or_default()
        .iter()
        .map(|l| {
            let [requests, tokens, input, output] = l.windows.map(|(a, b)| window(a, b));
            object(&[
                ("key", l.key.short().into()),
                ("requests", requests),
                ("tokens", tokens),
                ("inputTokens", input),
                ("outputTokens", output),
                ("inFlight", (l.in_flight as f64).into()),
                ("waiting", (l.waiting as f64).into()),
            ])
        })
        .collect();
    let (running, waiting) = limiters.queue();
    let config = &instance.config;
    let stats = instance.stats.borrow();
    let breakers = breakers_js(&limiters.breakers(now));
    let open = Array::from(&breakers).length();
    object(&[
        ("ok", (open == 0).into()),
        ("atMs", now.into()),
        ("breakers", breakers),
        ("limits", limits.into()),
        (
            "queue",
            object(&[
                ("running", (running as f64).into()),
                ("waiting", (waiting as f64).into()),
            ]),
        ),
        (
            "coordinator",
            object(&[
                ("configured", config.coordinator.is_some().into()),
                ("errors", (stats.coordinator_errors as f64).into()),
            ]),
        ),
        (
            "budgets",
            instance
                .taps
                .budgets()
                .map_or_else(|| Array::new().into(), |b| b.health_js()),
        ),
        (
            "calls",
            object(&[
                ("total", (stats.calls as f64).into()),
                ("attempts", (stats.attempts as f64).into()),
                ("retries", (stats.retries as f64).into()),
            ]),
        ),
    ])
}

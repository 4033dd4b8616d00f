//! The pipeline's outputs carried out, each from this one place: every
//! observer hook a caller passed (`onEvent`, `onRetry`, `onBreakerOpen`,
//! `onBreakerClose`, `onCoordinatorError`, `onStreamError`, `onBudget`,
//! `onUsage`), the call's trace, and every `stats()` counter.
//!
//! The core decides (the engine's [`Event`]s, the breakers' transitions,
//! the budgets' alerts); this turns each into what JavaScript sees. Hooks
//! observe: an exception one throws is ignored, so telemetry never breaks a
//! request. (`onQuotaExhausted` is not an observer: it may answer the call,
//! see `transport.rs`.)

use js_sys::{Function, Reflect};
use wasm_bindgen::prelude::*;

use super::bindings::{self, classification_js, number_or_null, object};
use super::instance::Instance;
use super::telemetry::Trace;
use crate::classify::Classification;
use crate::limits::BreakerKind;
use crate::retry::engine::Event;
use crate::retry::policy::Decision;
use crate::secrets::redact_url;

/// What an event tells beyond the loop's [`Event`], and the call's trace.
pub struct About<'a> {
    /// The call's trace, if it is traced.
    pub trace: Option<&'a Trace>,
    /// The model the attempt's route asked for.
    pub model: Option<&'a str>,
    /// The provider's id of the attempt's request, from its response.
    pub request_id: Option<String>,
}

/// A call was made to the fetch function.
pub fn call(instance: &Instance) {
    instance.stats.borrow_mut().calls += 1;
}

/// An attempt the loop made (or the breaker answered): counted, its
/// breaker transitions told, and its event given to the hooks and trace.
pub fn attempt(instance: &Instance, e: &Event<'_>, url: &str, about: About<'_>) {
    instance.stats.borrow_mut().record(e);
    breaker_hooks(instance, e, url);
    event_hooks(instance, e, url, about);
}

/// The cache answered a call that ended on `e.route`: counted as the
/// cache's answer, and its event given to the hooks and trace.
pub fn cache_hit(instance: &Instance, e: &Event<'_>, url: &str, about: About<'_>) {
    instance.stats.borrow_mut().cache_hit(e.route);
    event_hooks(instance, e, url, about);
}

/// An exchange with the coordinator failed (`op`): counted, and told to
/// `onCoordinatorError` when `message` is given (once per incident).
pub fn coordinator_error(instance: &Instance, op: &str, message: Option<&str>) {
    instance.stats.borrow_mut().coordinator_errors += 1;
    if let Some(message) = message {
        coordinator_failed(instance.config.on_coordinator_error.as_ref(), op, message);
    }
}

/// `onCoordinatorError` hears that an exchange (`op`) failed. (A spend
/// budget's settle or release fails after its call has returned, so that
/// one takes the hook, not the instance, and is not counted.)
pub fn coordinator_failed(hook: Option<&Function>, op: &str, message: &str) {
    let Some(hook) = hook else {
        return;
    };
    let info = object(&[("op", op.into()), ("message", message.into())]);
    let _ = hook.call1(&JsValue::UNDEFINED, &info);
}

/// An error event came in a stream after output reached the caller:
/// `onStreamError` hears of it. (Called from a closure that outlives the
/// instance, so it takes the hook, not the instance.)
pub fn stream_error(hook: &Function, c: &Classification) {
    let info = object(&[("classification", classification_js(c))]);
    let _ = hook.call1(&JsValue::UNDEFINED, &info);
}

/// A budget alert a settled call crossed, as a JavaScript value, to
/// `onBudget`. One alert a call, not an iterator of them: no copy of the
/// loop for each kind of iterator (issue 25).
pub fn budget_alert(hook: Option<&Function>, alert: &JsValue) {
    if let Some(hook) = hook {
        let _ = hook.call1(&JsValue::UNDEFINED, alert);
    }
}

/// A usage event, to `onUsage` and `onEvent`.
pub fn usage(hooks: [Option<&Function>; 2], event: &JsValue) {
    for hook in hooks.into_iter().flatten() {
        let _ = hook.call1(&JsValue::UNDEFINED, event);
    }
}

/// Calls `onBreakerOpen` / `onBreakerClose` for each breaker the attempt
/// opened or closed: once per incident each way. The key is its short hash.
fn breaker_hooks(instance: &Instance, e: &Event<'_>, url: &str) {
    let config = &instance.config;
    for t in e.breakers {
        let hook = match t.opened_until_ms {
            Some(_) => &config.on_breaker_open,
            None => &config.on_breaker_close,
        };
        let Some(hook) = hook else {
            continue;
        };
        let value = object(&[
            ("kind", t.breaker.as_str().into()),
            ("key", t.key.short().into()),
            ("route", (e.route as u32).into()),
            ("url", redact_url(url).into()),
            (
                "retryAtMs",
                t.opened_until_ms.map_or(JsValue::NULL, JsValue::from),
            ),
            ("classification", classification_js(e.classification)),
        ]);
        let _ = hook.call1(&JsValue::UNDEFINED, &value);
    }
}

/// Whether the attempt opened a quota breaker: the first report of an
/// incident (once, however many calls were in flight or probes fail).
fn first_report(e: &Event<'_>) -> bool {
    e.breakers
        .iter()
        .any(|t| t.breaker == BreakerKind::Quota && t.opened_until_ms.is_some())
}

/// Calls `onEvent` for every attempt and `onRetry` before every retry, and
/// tells the call's trace.
fn event_hooks(instance: &Instance, e: &Event<'_>, url: &str, about: About<'_>) {
    let config = &instance.config;
    if config.on_event.is_none() && config.on_retry.is_none() && about.trace.is_none() {
        return;
    }
    let url = redact_url(url);
    let (decision, delay_ms, stop) = match e.decision {
        Decision::Retry { delay_ms } => ("retry", Some(delay_ms), None),
        Decision::Stop(s) => ("stop", None, Some(s.as_str())),
    };
    let value = object(&[
        ("type", bindings::interned("attempt")),
        ("attempt", e.attempt.into()),
        ("kind", e.classification.kind.as_str().into()),
        ("decision", decision.into()),
        ("delayMs", number_or_null(delay_ms)),
        ("stop", stop.map_or(JsValue::NULL, JsValue::from)),
        ("elapsedMs", e.elapsed_ms.into()),
        ("url", url.as_str().into()),
        ("route", (e.route as u32).into()),
        ("source", e.source.as_str().into()),
        ("lane", e.lane.as_str().into()),
        ("tokens", number_or_null(e.tokens)),
        ("firstReport", first_report(e).into()),
        ("classification", classification_js(e.classification)),
    ]);
    // The waits before the attempt, the model and the provider's request id
    // (issue 24).
    let more = [
        ("queuedMs", (e.queued_ms as f64).into()),
        ("pacedMs", (e.paced_ms as f64).into()),
        (
            "pacedReason",
            e.paced_why
                .map_or(JsValue::NULL, |w| bindings::interned(w.as_str())),
        ),
        ("leasedMs", (e.leased_ms as f64).into()),
        ("breaker", breaker_change(e)),
        ("model", about.model.map_or(JsValue::NULL, JsValue::from)),
        (
            "requestId",
            about.request_id.map_or(JsValue::NULL, JsValue::from),
        ),
    ];
    for (key, v) in more {
        let _ = Reflect::set(&value, &bindings::interned(key), &v);
    }
    if let Some(trace) = about.trace {
        trace.attempt(&value);
    }
    if let Some(hook) = &config.on_event {
        let _ = hook.call1(&JsValue::UNDEFINED, &value);
    }
    if let (Some(hook), true) = (&config.on_retry, delay_ms.is_some()) {
        let _ = hook.call1(&JsValue::UNDEFINED, &value);
    }
}

/// The quota or outage breaker this attempt opened (`"opened"`) or closed
/// (`"closed"`), else `null`.
fn breaker_change(e: &Event<'_>) -> JsValue {
    match e.breakers.first() {
        Some(t) if t.opened_until_ms.is_some() => "opened".into(),
        Some(_) => "closed".into(),
        None => JsValue::NULL,
    }
}

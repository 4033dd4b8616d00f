//! `createFetch()`: the engine's loop run with the global `fetch` as its
//! transport and gloo-timers as its clock, over the instance's limiters.

use std::rc::Rc;

use js_sys::{Array, Function, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use super::bindings::{
    self, classification_js, get, make_error, number_or_null, object, type_error,
};
use super::clock::JsClock;
use super::instance::Instance;
use super::options::{self, Config};
use super::request::Outgoing;
use super::transport::FetchTransport;
use crate::retry::engine::{self, Attempt, Event, Halt, Outcome};
use crate::retry::policy::{Decision, Stop};
use crate::secrets::redact_url;
use crate::{Classification, Kind};

/// Builds the fetch function, with `stats()`, `breaker()` and `resetBreaker()` attached.
pub fn make(config: Config) -> Function {
    let instance = Rc::new(Instance::new(config));
    let s = instance.clone();
    let fetch = Closure::<dyn Fn(JsValue, JsValue) -> Promise>::new(
        move |input: JsValue, init: JsValue| {
            let s = s.clone();
            future_to_promise(async move { call(&s, input, init).await })
        },
    );
    let s = instance.clone();
    let stats = Closure::<dyn Fn() -> JsValue>::new(move || to_js(&*s.stats.borrow()));
    let s = instance.clone();
    let breaker = Closure::<dyn Fn() -> JsValue>::new(move || {
        to_js(&s.limiters.borrow().breakers(js_sys::Date::now()))
    });
    let reset = Closure::<dyn Fn()>::new(move || instance.limiters.borrow_mut().reset_breakers());
    bindings::make_fetch(
        fetch.into_js_value(),
        stats.into_js_value(),
        breaker.into_js_value(),
        reset.into_js_value(),
    )
}

/// A serde value as a plain JS object (for the cold paths: stats and breaker states).
fn to_js<T: serde::Serialize>(value: &T) -> JsValue {
    let serializer = serde_wasm_bindgen::Serializer::json_compatible();
    value.serialize(&serializer).unwrap_or(JsValue::NULL)
}

async fn call(instance: &Instance, input: JsValue, init: JsValue) -> Result<JsValue, JsValue> {
    let config = &instance.config;
    instance.stats.borrow_mut().calls += 1;
    if !init.is_undefined() && !init.is_null() && !init.is_object() {
        return Err(type_error("fetch: `init` must be an object"));
    }
    let signals = Array::new();
    let request_signal = input.dyn_ref::<web_sys::Request>().map(|r| r.signal());
    let init_signal = options::signal(&get(&init, "signal"), "fetch: `init.signal`")?;
    for s in [config.signal.clone(), init_signal, request_signal]
        .into_iter()
        .flatten()
    {
        signals.push(&s);
    }
    let linked = bindings::link_signals(&signals, config.deadline_ms);
    let result = run(instance, &linked, input, &init).await;
    linked.finish();
    result
}

async fn run(
    instance: &Instance,
    linked: &bindings::Linked,
    input: JsValue,
    init: &JsValue,
) -> Result<JsValue, JsValue> {
    let config = &instance.config;
    // The deadline counts from the call, queueing included (as the abort timer does).
    let deadline = config.deadline_ms.map(|d| js_sys::Date::now() + d);
    let out = Outgoing::new(input, init, &linked.signal(), &config.routes)?;
    let mut transport = FetchTransport {
        instance,
        out: &out,
        linked,
    };
    let mut clock = JsClock::new(linked.aborted());
    let mut observe = |e: &Event<'_>| {
        instance.stats.borrow_mut().record(e);
        observe_hooks(config, e, out.url(e.route));
    };
    let outcome = engine::run(
        &config.policy,
        deadline,
        &instance.limiters,
        &mut transport,
        &mut clock,
        &mut observe,
    )
    .await;
    match outcome {
        Ok(outcome) => settle(config, outcome),
        Err(Halt::Aborted(reason)) => Err(reason),
        Err(Halt::QueueFull) => Err(make_error(
            "queue_full",
            "ratewise: the concurrency queue is full (maxQueue)",
            &JsValue::UNDEFINED,
        )),
        Err(Halt::DeadlineQueued) => {
            Err(bindings::deadline_error(config.deadline_ms.unwrap_or(0.0)))
        }
    }
}

/// Turns the loop's outcome into what the caller gets.
fn settle(
    config: &Config,
    outcome: Outcome<web_sys::Response, JsValue>,
) -> Result<JsValue, JsValue> {
    let Outcome {
        last,
        attempts,
        stop,
        fallback,
        ..
    } = outcome;
    match last {
        Attempt::Answered {
            response,
            classification,
        } => {
            if classification.kind == Kind::QuotaExhausted {
                if let Some(fallback) = fallback {
                    return Ok(fallback.into());
                }
            }
            if !config.throw_on_error || classification.kind == Kind::Ok {
                return Ok(response.into());
            }
            Err(error(
                &classification,
                attempts,
                stop,
                response.into(),
                JsValue::UNDEFINED,
            )?)
        }
        Attempt::Failed {
            error: cause,
            classification,
        } => {
            if !config.throw_on_error {
                return Err(cause);
            }
            Err(error(
                &classification,
                attempts,
                stop,
                JsValue::NULL,
                cause,
            )?)
        }
    }
}

fn error(
    c: &Classification,
    attempts: u32,
    stop: Stop,
    response: JsValue,
    cause: JsValue,
) -> Result<JsValue, JsValue> {
    let reason = stop.as_str();
    let what = match &c.code {
        Some(code) => format!("HTTP {} {code}", c.status),
        None if c.status == 0 => "no response".to_owned(),
        None => format!("HTTP {}", c.status),
    };
    let why = match stop {
        Stop::BreakerOpen => "the quota breaker is open for this key, so nothing was sent".to_owned(),
        Stop::NotRetryable => "it is not retryable".to_owned(),
        Stop::RetriesExhausted => "the retries are used up".to_owned(),
        Stop::HintTooLong => {
            format!("the server asked to wait {} ms, over maxRetryAfterMs", c.retry_after_ms.unwrap_or(0))
        }
        Stop::Deadline => "waiting again would pass the deadline".to_owned(),
        Stop::BodyNotReplayable => {
            "the request body is a stream (a ReadableStream, an async iterable or a Node Readable), which was consumed by the first attempt and cannot be sent again"
                .to_owned()
        }
        Stop::BudgetEmpty => "the retry budget is empty, so failures are not multiplied".to_owned(),
        Stop::Success => "it succeeded".to_owned(),
    };
    let plural = if attempts == 1 { "" } else { "s" };
    let message = format!(
        "ratewise: {} ({what}) after {attempts} attempt{plural}: {why}",
        c.kind.as_str()
    );
    let details = Object::new();
    let set = |k: &str, v: &JsValue| Reflect::set(&details, &k.into(), v);
    set("kind", &c.kind.as_str().into())?;
    set("status", &c.status.into())?;
    set("attempts", &attempts.into())?;
    set("reason", &reason.into())?;
    set("classification", &classification_js(c))?;
    set(
        "retryAfterMs",
        &c.retry_after_ms
            .map_or(JsValue::NULL, |ms| (ms as f64).into()),
    )?;
    set("response", &response)?;
    if !cause.is_undefined() {
        set("cause", &cause)?;
    }
    Ok(bindings::make_error(c.kind.as_str(), &message, &details))
}

/// Calls `onEvent` for every attempt and `onRetry` before every retry.
/// Hooks observe; an exception thrown by one is ignored so that telemetry
/// never breaks a request.
fn observe_hooks(config: &Config, e: &Event<'_>, url: &str) {
    if config.on_event.is_none() && config.on_retry.is_none() {
        return;
    }
    let url = redact_url(url);
    let (decision, delay_ms, stop) = match e.decision {
        Decision::Retry { delay_ms } => ("retry", Some(delay_ms), None),
        Decision::Stop(s) => ("stop", None, Some(s.as_str())),
    };
    let value = object(&[
        ("attempt", e.attempt.into()),
        ("kind", e.classification.kind.as_str().into()),
        ("decision", decision.into()),
        ("delayMs", number_or_null(delay_ms)),
        ("stop", stop.map_or(JsValue::NULL, JsValue::from)),
        ("elapsedMs", e.elapsed_ms.into()),
        ("url", url.as_str().into()),
        ("route", (e.route as u32).into()),
        ("source", e.source.as_str().into()),
        ("tokens", number_or_null(e.tokens)),
        ("classification", classification_js(e.classification)),
    ]);
    if let Some(hook) = &config.on_event {
        let _ = hook.call1(&JsValue::UNDEFINED, &value);
    }
    if let (Some(hook), true) = (&config.on_retry, delay_ms.is_some()) {
        let _ = hook.call1(&JsValue::UNDEFINED, &value);
    }
}

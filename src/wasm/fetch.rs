//! `createFetch()`: the engine's loop run with the global `fetch` as its
//! transport and gloo-timers as its clock, over the instance's limiters.

use crate::text::{dec, fill};
use std::future::Future;
use std::rc::Rc;
use std::task::{Context, Waker};

use js_sys::{Array, Function, Object, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::spawn_local;

use super::bindings::{self, classification_js, get, make_error, object};
use super::budgets::Held;
use super::clock::JsClock;
use super::coordinator::Coordinated;
use super::instance::Instance;
use super::options::{self, Config, Invocation};
use super::outputs::{self, About};
use super::report;
use super::request::{Given, Outgoing};
use super::settled::Settled;
use super::telemetry::{self, Trace};
use super::transport::FetchTransport;
use crate::limits::budgets::{self, After};
use crate::limits::fallback::{fallback, Fallback};
use crate::limits::spend::Cost;
use crate::limits::Scope;
use crate::retry::boxed::boxed;
use crate::retry::engine::{self, Attempt, Event, Halt, Outcome, Source};
use crate::retry::policy::{Decision, Stop};
use crate::secrets::redact_url;
use crate::{Classification, Kind};

/// Builds the fetch function, with `stats()`, `breaker()`, `resetBreaker()`,
/// `forInvocation()` and `health()` attached.
pub fn make(config: Config) -> Function {
    let telemetry = config.telemetry.clone().unwrap_or(JsValue::UNDEFINED);
    let instance = Rc::new(Instance::new(config));
    let fetch = calls(instance.clone(), None);
    let s = instance.clone();
    let t = telemetry.clone();
    let for_invocation =
        Closure::<dyn Fn(JsValue) -> Result<JsValue, JsValue>>::new(move |options: JsValue| {
            let invocation = Rc::new(options::invocation(&options)?);
            let b = invocation.clone();
            let spent = Closure::<dyn Fn() -> JsValue>::new(move || {
                let b = b.subrequests.borrow();
                object(&[("limit", b.limit().into()), ("spent", b.spent().into())])
            });
            let fetch = calls(s.clone(), Some(invocation));
            Ok(bindings::make_invocation_fetch(fetch, spent.into_js_value(), &t).into())
        });
    let s = instance.clone();
    let stats = Closure::<dyn Fn() -> JsValue>::new(move || {
        let stats = report::stats_js(&s.stats.borrow());
        let _ = Reflect::set(&stats, &"usage".into(), &s.taps.stats_js());
        stats
    });
    let s = instance.clone();
    let breaker = Closure::<dyn Fn() -> JsValue>::new(move || {
        report::breakers_js(&s.limiters.borrow().breakers(js_sys::Date::now()))
    });
    let s = instance.clone();
    let health = Closure::<dyn Fn() -> JsValue>::new(move || super::health::health_js(&s));
    let reset = Closure::<dyn Fn()>::new(move || instance.limiters.borrow_mut().reset_breakers());
    bindings::make_fetch(
        fetch,
        stats.into_js_value(),
        breaker.into_js_value(),
        reset.into_js_value(),
        for_invocation.into_js_value(),
        health.into_js_value(),
        &telemetry,
    )
}

/// Runs a call at once, up to its first pending await (the underlying
/// `fetch` has been called, or the call sleeps), as a JavaScript `async`
/// function would, then hands the rest to wasm-bindgen-futures; settles the
/// caller's promise with `resolve` or `reject` when it ends.
///
/// Spawned alone, every call would start in a later microtask: 10,000 calls
/// made in one loop would all queue their starts behind the loop, and each
/// call's deadline timer would be set only when its turn came, seconds late
/// under load. Started here, each call's time and its deadline count from
/// when it was made, as with `fetch` and `AbortSignal.timeout`.
///
/// The first poll gets a waker that does nothing; that loses no wake-up,
/// because the spawned task polls again at once, and every future the call
/// awaits (`Settled`, gloo-timers) takes the waker of its latest poll.
fn start(
    future: impl Future<Output = Result<JsValue, JsValue>> + 'static,
    resolve: Function,
    reject: Function,
) {
    let mut future = Box::pin(async move {
        let (settle, value) = match future.await {
            Ok(value) => (resolve, value),
            // Whatever the call rejects with carries no secret.
            Err(error) => (reject, super::mask::masked(error)),
        };
        // A promise's resolving functions never throw.
        let _ = settle.call1(&JsValue::UNDEFINED, &value);
    });
    let poll = future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()));
    if poll.is_pending() {
        spawn_local(future);
    }
}

/// The `(input, init) => Promise<Response>` function of an instance, its
/// calls sharing one invocation's budget and coordinator if given.
///
/// The JavaScript wrapper makes the promise and passes in how to settle it:
/// the closure returns nothing (see `makeFetch` in js/convert.js). A traced
/// fetch also passes the call's trace (js/telemetry.js).
fn calls(instance: Rc<Instance>, invocation: Option<Rc<Invocation>>) -> JsValue {
    Closure::<dyn Fn(JsValue, JsValue, Function, Function, JsValue)>::new(
        move |input: JsValue,
              init: JsValue,
              resolve: Function,
              reject: Function,
              trace: JsValue| {
            let (s, i) = (instance.clone(), invocation.clone());
            let trace = telemetry::trace(trace);
            start(
                async move { call(&s, i.as_deref(), input, init, trace.as_ref()).await },
                resolve,
                reject,
            );
        },
    )
    .into_js_value()
}

async fn call(
    instance: &Instance,
    invocation: Option<&Invocation>,
    input: JsValue,
    init: JsValue,
    trace: Option<&Trace>,
) -> Result<JsValue, JsValue> {
    let config = &instance.config;
    outputs::call(instance);
    // Whether anyone reads the events: only then are the model and the
    // request id read.
    let described = config.on_event.is_some() || config.on_retry.is_some() || trace.is_some();
    let given = Given {
        signal: config.signal.as_ref(),
        deadline_ms: config.deadline_ms,
        routes: &config.routes,
        describe: described,
        model: instance.taps.on || instance.taps.budgets().is_some(),
        names: &instance.identity_names,
    };
    let (out, linked) = Outgoing::new(input, &init, &given)?;
    let result = run(instance, invocation, linked.as_ref(), &out, trace).await;
    if let Some(linked) = &linked {
        linked.finish();
    }
    result
}

async fn run(
    instance: &Instance,
    invocation: Option<&Invocation>,
    linked: Option<&bindings::Linked>,
    out: &Outgoing,
    trace: Option<&Trace>,
) -> Result<JsValue, JsValue> {
    let config = &instance.config;
    // The deadline counts from the call, queueing included (as the abort timer does).
    let subrequests = invocation.map(|i| &i.subrequests);
    let described = config.on_event.is_some() || config.on_retry.is_some() || trace.is_some();
    if let Some(trace) = trace {
        telemetry::begin(trace, out);
    }
    let request_id = crate::shared::Shared::new(None);
    let scope = Scope {
        deadline_ms: config.deadline_ms.map(|d| js_sys::Date::now() + d),
        subrequests,
        lane: out.lane,
        moved_to: None,
    };
    let store = Coordinated {
        namespace: invocation
            .and_then(|i| i.coordinator.as_ref())
            .or(config.coordinator.as_ref()),
        instance,
    };
    let mut transport = FetchTransport {
        instance,
        out,
        signal: linked.and_then(|l| l.signal().dyn_into().ok()),
        trace,
        request_id: described.then_some(&request_id),
    };
    // Spend budgets: the call's estimate is held before anything is sent.
    // Their future is polled out of line: a call without budgets never
    // enters it (retry::boxed).
    let wait_until = invocation.and_then(|i| i.wait_until.as_ref());
    let mut holds = Held::default();
    if instance.taps.budgets().is_some() {
        match boxed(admit(instance, out, &store, wait_until, trace)).await {
            Ok(held) => holds = held,
            Err(answer) => return answer,
        }
    }
    let scope = Scope {
        moved_to: holds.moved,
        ..scope
    };
    let mut clock = JsClock::new(linked.map_or(JsValue::UNDEFINED, bindings::Linked::aborted));
    let mut observe = |e: &Event<'_>| {
        let about = About {
            trace,
            model: out.model(e.route),
            request_id: request_id.borrow_mut().take(),
        };
        outputs::attempt(instance, e, out.url(e.route), about);
    };
    let started = js_sys::Date::now();
    let outcome = engine::run(
        &config.policy,
        scope,
        &instance.limiters,
        &store,
        &mut transport,
        &mut clock,
        &mut observe,
    )
    .await;
    let result = match outcome {
        Ok(outcome) => {
            let wait_until = invocation.and_then(|i| i.wait_until.as_ref());
            answer(
                instance, out, outcome, wait_until, started, &mut holds, trace,
            )
            .await
        }
        Err(Halt::Aborted(reason)) => Err(reason),
        Err(Halt::QueueFull) => Err(make_error(
            "queue_full",
            "ratewise: the concurrency queue is full (maxQueue)",
            &JsValue::UNDEFINED,
        )),
        Err(Halt::DeadlineQueued) => {
            Err(bindings::deadline_error(config.deadline_ms.unwrap_or(0.0)))
        }
        Err(Halt::SubrequestsSpent) => {
            let limit = subrequests.map_or(0, |b| b.borrow().limit());
            let message = fill("ratewise: this invocation's {} subrequests are spent (forInvocation), so nothing was sent", &[&dec(limit.into())]);
            Err(make_error(
                "subrequests_spent",
                &message,
                &JsValue::UNDEFINED,
            ))
        }
    };
    // A call with no answer to settle frees what it held.
    if let Some(budgets) = instance.taps.budgets() {
        budgets.release(holds);
    }
    result
}

/// Holds the call's estimate on its budgets (input estimate plus its output
/// cap, at the model's output price), or answers it when one is spent.
async fn admit(
    instance: &Instance,
    out: &Outgoing,
    store: &Coordinated<'_>,
    wait_until: Option<&Function>,
    trace: Option<&Trace>,
) -> Result<Held, Result<JsValue, JsValue>> {
    let Some(budgets) = instance.taps.budgets() else {
        return Ok(Held::default());
    };
    let tokens = out.tokens.unwrap_or_default();
    let url = out.url(0);
    let provider = crate::classify::provider::detect(
        Some(url),
        &crate::Headers::new(),
        &crate::classify::body::ErrorBody::default(),
    );
    let usage = crate::usage::Usage {
        input_tokens: tokens.input,
        output_tokens: tokens.output,
        model: crate::usage::path_model(url).or_else(|| out.body_model.clone()),
        estimated: true,
        ..crate::usage::Usage::default()
    };
    let estimate = Cost {
        usd: instance.taps.price(&usage, provider),
        tokens: tokens.total() as f64,
    };
    let ask = super::budgets::Ask {
        keys: out.keys(),
        tag: out.budget_tag.as_deref(),
        lane: out.lane,
        estimate,
        throw_on_error: instance.config.throw_on_error,
        method: &out.method,
        trace,
    };
    budgets.admit(&ask, store, wait_until).await
}

/// Carries out who answers a call whose loop ended ([`fallback`]): the
/// last answer (stored for the cache first, for a success), the
/// `onQuotaExhausted` hook's, or the cache's.
async fn answer(
    instance: &Instance,
    out: &Outgoing,
    mut outcome: Outcome<web_sys::Response, JsValue>,
    wait_until: Option<&Function>,
    started: f64,
    holds: &mut Held,
    trace: Option<&Trace>,
) -> Result<JsValue, JsValue> {
    let cache = instance.config.cache.as_ref().and_then(|cache| {
        let url = out.url(0);
        let rules = &cache.rules;
        if !crate::cache::request_cacheable(&out.method, url, out.replayable, rules) {
            return None;
        }
        // The entry is the caller's own: route 0's limit key (see cache::identity).
        let account = out.keys().first()?.account;
        Some((
            cache,
            crate::cache::identity(&redact_url(url), &account, rules),
        ))
    });
    let kind = outcome.last.classification().kind;
    match fallback(kind, outcome.fallback.is_some(), cache.is_some()) {
        Fallback::Hook => {
            if let Some(answer) = outcome.fallback.take() {
                return Ok(answer.into());
            }
        }
        Fallback::Cache => {
            if let Some((cache, key_url)) = &cache {
                // Out of line: only a call no route could answer looks.
                let hit = cached(
                    instance, cache, key_url, out, &outcome, wait_until, started, trace,
                );
                let hit = boxed(hit).await;
                if let Some(hit) = hit {
                    return Ok(hit);
                }
            }
        }
        Fallback::Last { store: true } => {
            if let (Some((cache, key_url)), Attempt::Answered { response, .. }) =
                (&cache, &outcome.last)
            {
                store(cache, key_url, out, response, wait_until);
            }
        }
        Fallback::Last { store: false } => {}
    }
    let outcome = tapped(instance, out, outcome, started, holds, trace);
    settle(&instance.config, outcome)
}

/// Stores a success for the cached-response fallback, in the background.
fn store(
    cache: &options::Cache,
    key_url: &str,
    out: &Outgoing,
    response: &web_sys::Response,
    wait_until: Option<&Function>,
) {
    let rules = &cache.rules;
    if crate::cache::storable(response.status(), event_stream(response), rules) {
        let (input, init) = out.given();
        let wait_until = wait_until.map_or(JsValue::UNDEFINED, JsValue::from);
        let now = js_sys::Date::now();
        bindings::cache_store(
            &cache.js,
            &out.method,
            key_url,
            input,
            init,
            response,
            now,
            rules.ttl_ms,
            &wait_until,
        );
    }
}

/// The cached-response fallback: the last good answer to the same request,
/// if one is fresh, for a call whose routes were all out of quota or down.
/// `None`: the outcome stands. `wait_until` is the invocation's: a store it
/// made may be waited for, another invocation's never.
#[allow(clippy::too_many_arguments)]
async fn cached(
    instance: &Instance,
    cache: &options::Cache,
    key_url: &str,
    out: &Outgoing,
    outcome: &Outcome<web_sys::Response, JsValue>,
    wait_until: Option<&Function>,
    started: f64,
    trace: Option<&Trace>,
) -> Option<JsValue> {
    let rules = &cache.rules;
    let url = out.url(0);
    let (input, init) = out.given();
    let wait_until = wait_until.map_or(JsValue::UNDEFINED, JsValue::from);
    let found = bindings::cache_match(&cache.js, &out.method, key_url, input, init, &wait_until);
    let found = Settled::new(&found).await.ok()?;
    let pair: &Array = found.dyn_ref()?;
    let response = pair.get(0);
    let stored_at = pair.get(1).as_f64().unwrap_or(f64::NAN);
    let found: &web_sys::Response = response.unchecked_ref();
    // A store shared with other instances may hold what this one would not
    // have stored (an event stream): only what it would have is given.
    let age = crate::cache::fresh_age(stored_at, js_sys::Date::now(), rules.ttl_ms)
        .filter(|_| crate::cache::storable(found.status(), event_stream(found), rules));
    let Some(age) = age else {
        bindings::cancel_body(found);
        return None;
    };
    let hit = bindings::cache_hit(&response, age);
    if hit.is_undefined() {
        return None;
    }
    if let Attempt::Answered { response, .. } = &outcome.last {
        bindings::cancel_body(response);
    }
    let mut c = Classification::without_response(
        Kind::Ok,
        None,
        "answered from the cache: no route could answer",
    );
    c.status = get(&response, "status").as_f64().unwrap_or(0.0) as u16;
    let event = Event {
        attempt: outcome.attempts,
        classification: &c,
        decision: Decision::Stop(outcome.stop),
        elapsed_ms: js_sys::Date::now() - started,
        route: outcome.route,
        source: Source::Cache,
        paced_ms: 0,
        paced_why: None,
        tokens: None,
        queued: false,
        queued_ms: 0,
        leased_ms: 0,
        breakers: &[],
        lane: out.lane,
        diverted: false,
    };
    let about = About {
        trace,
        model: out.model(outcome.route),
        request_id: None,
    };
    outputs::cache_hit(instance, &event, url, about);
    Some(hit)
}

/// The outcome with a successful answer's body passed through the usage
/// tap, when it is on; the call's trace then waits for its usage.
fn tapped(
    instance: &Instance,
    out: &Outgoing,
    mut outcome: Outcome<web_sys::Response, JsValue>,
    started: f64,
    holds: &mut Held,
    trace: Option<&Trace>,
) -> Outcome<web_sys::Response, JsValue> {
    let route = outcome.route;
    if let Attempt::Answered {
        response,
        classification,
    } = &mut outcome.last
    {
        // A success whose usage is read takes its holds along, to settle
        // at the real cost (limits::budgets::after); the caller releases
        // whatever is left.
        if budgets::after(classification.kind, instance.taps.on) == After::Settle {
            let url = out.url(route);
            let answer = super::usage::Answer {
                route,
                lane: out.lane,
                provider: classification.provider,
                url: url.to_owned(),
                // The route's model, else the path's, else the body's.
                model: route
                    .checked_sub(1)
                    .and_then(|r| instance.config.routes.get(r)?.model.clone())
                    .or_else(|| crate::usage::path_model(url))
                    .or_else(|| out.body_model.clone()),
                request_input: out.tokens.map(|t| t.input),
                started_ms: started,
                holds: std::mem::take(holds),
                trace: trace.cloned(),
            };
            if let Some(trace) = trace {
                trace.expect();
            }
            *response = instance
                .taps
                .tap(<web_sys::Response as Clone>::clone(response), answer);
        }
    }
    outcome
}

/// Whether a response is a `text/event-stream`.
fn event_stream(response: &web_sys::Response) -> bool {
    let content_type = response.headers().get("content-type").ok().flatten();
    content_type.is_some_and(|t| t.starts_with("text/event-stream"))
}

/// Turns the loop's outcome into what the caller gets (the quota hook's
/// fallback aside: see [`answer`]).
fn settle(
    config: &Config,
    outcome: Outcome<web_sys::Response, JsValue>,
) -> Result<JsValue, JsValue> {
    let Outcome {
        last,
        attempts,
        stop,
        first_report,
        ..
    } = outcome;
    match last {
        Attempt::Answered {
            response,
            classification,
        } => {
            if classification.kind == Kind::Ok {
                return Ok(response.into());
            }
            if !config.throw_on_error {
                // Retried as far as it goes: an SDK's own retries must not repeat it all.
                return Ok(bindings::mark_final(&response).into());
            }
            Err(error(
                &classification,
                attempts,
                stop,
                first_report,
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
                first_report,
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
    first_report: bool,
    response: JsValue,
    cause: JsValue,
) -> Result<JsValue, JsValue> {
    let reason = stop.as_str();
    let what = match &c.code {
        Some(code) => fill("HTTP {} {}", &[&dec(c.status.into()), code]),
        None if c.status == 0 => "no response".to_owned(),
        None => fill("HTTP {}", &[&dec(c.status.into())]),
    };
    let why = match stop {
        Stop::BreakerOpen => "the quota breaker is open for this key, so nothing was sent".to_owned(),
        Stop::NotRetryable => "it is not retryable".to_owned(),
        Stop::RetriesExhausted => "the retries are used up".to_owned(),
        Stop::HintTooLong => {
            fill("the server asked to wait {} ms, over maxRetryAfterMs", &[&dec(c.retry_after_ms.unwrap_or(0))])
        }
        Stop::Deadline => "waiting again would pass the deadline".to_owned(),
        Stop::BodyNotReplayable => {
            "the request body is a stream (a ReadableStream, an async iterable or a Node Readable), which was consumed by the first attempt and cannot be sent again"
                .to_owned()
        }
        Stop::BudgetEmpty => "the retry budget is empty, so failures are not multiplied".to_owned(),
        Stop::SubrequestsSpent => {
            "this invocation's subrequest budget has no attempt left".to_owned()
        }
        Stop::Success => "it succeeded".to_owned(),
    };
    let plural = if attempts == 1 { "" } else { "s" };
    let message = fill(
        "ratewise: {} ({}) after {} attempt{}: {}",
        &[c.kind.as_str(), &what, &dec(attempts.into()), plural, &why],
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
    set("firstReport", &first_report.into())?;
    if !cause.is_undefined() {
        set("cause", &cause)?;
    }
    Ok(bindings::make_error(c.kind.as_str(), &message, &details))
}

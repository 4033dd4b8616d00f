//! `createFetch()`: the async loop of [`crate::engine`] run with the global
//! `fetch` as its transport and `setTimeout` (gloo-timers) as its clock.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use js_sys::{Array, Function, Object, Promise, Reflect};
use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{future_to_promise, JsFuture};

use super::bindings::{self, get, to_js, type_error, Linked};
use super::input::headers_from_js;
use super::options::{self, Config};
use crate::duration::MAX_DELAY_MS;
use crate::engine::{self, Attempt, Clock, Event, Outcome, Transport, Unlimited};
use crate::policy::{Decision, Stop};
use crate::provider::redact_url;
use crate::stats::Stats;
use crate::{classify, Classification, Kind, Response};

struct Shared {
    config: Config,
    stats: RefCell<Stats>,
}

/// Builds the fetch function, with `stats()` attached.
pub fn make(config: Config) -> Function {
    let shared = Rc::new(Shared {
        config,
        stats: RefCell::new(Stats::default()),
    });
    let s = shared.clone();
    let fetch = Closure::<dyn Fn(JsValue, JsValue) -> Promise>::new(
        move |input: JsValue, init: JsValue| {
            let s = s.clone();
            future_to_promise(async move { call(&s, input, init).await })
        },
    );
    let function: Function = fetch.into_js_value().unchecked_into();
    let stats = Closure::<dyn Fn() -> JsValue>::new(move || {
        to_js(&*shared.stats.borrow()).unwrap_or(JsValue::NULL)
    });
    // Setting a property on a fresh function cannot fail.
    let _ = Reflect::set(&function, &"stats".into(), &stats.into_js_value());
    function
}

async fn call(shared: &Shared, input: JsValue, init: JsValue) -> Result<JsValue, JsValue> {
    let config = &shared.config;
    shared.stats.borrow_mut().calls += 1;
    if !init.is_undefined() && !init.is_null() && !init.is_object() {
        return Err(type_error("fetch: `init` must be an object"));
    }
    let request = input.dyn_ref::<web_sys::Request>().cloned();
    let url = match &request {
        Some(r) => r.url(),
        None => input
            .as_string()
            .or_else(|| get(&input, "href").as_string())
            .unwrap_or_default(),
    };
    let signals = Array::new();
    for s in [
        config.signal.clone(),
        options::signal(&get(&init, "signal"), "fetch: `init.signal`")?,
        request.as_ref().map(|r| r.signal()),
    ]
    .into_iter()
    .flatten()
    {
        signals.push(&s);
    }
    let linked = bindings::link_signals(&signals, config.deadline_ms);
    let body = get(&init, "body");
    let init_copy = Object::new();
    if init.is_object() {
        Object::assign(&init_copy, init.unchecked_ref());
    }
    Reflect::set(&init_copy, &"signal".into(), &linked.signal())?;

    let mut transport = FetchTransport {
        fetch: config.fetch.clone(),
        input,
        request,
        init: init_copy.into(),
        replayable: !get(&body, "getReader").is_function(),
        linked: &linked,
        url: &url,
        max_body: config.max_error_body_bytes,
    };
    let mut clock = JsClock {
        aborted: linked.aborted(),
    };
    let deadline = config.deadline_ms.map(|d| js_sys::Date::now() + d);
    let public_url = redact_url(&url);
    let mut observe = |e: &Event<'_>| {
        shared.stats.borrow_mut().record(e);
        observe_hooks(config, e, &public_url);
    };
    let result = engine::run(
        &config.policy,
        deadline,
        &mut transport,
        &mut clock,
        &mut Unlimited,
        &mut observe,
    )
    .await;
    linked.finish();
    settle(config, result?, &public_url).await
}

/// Turns the loop's outcome into what the caller gets.
async fn settle(
    config: &Config,
    outcome: Outcome<web_sys::Response, JsValue>,
    url: &str,
) -> Result<JsValue, JsValue> {
    let Outcome {
        last,
        attempts,
        stop,
        ..
    } = outcome;
    match last {
        Attempt::Answered {
            response,
            classification,
        } => {
            if classification.kind == Kind::QuotaExhausted {
                if let Some(fallback) = quota_hook(config, &classification, url, attempts).await? {
                    return Ok(fallback);
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

async fn quota_hook(
    config: &Config,
    c: &Classification,
    url: &str,
    attempt: u32,
) -> Result<Option<JsValue>, JsValue> {
    let Some(hook) = &config.on_quota_exhausted else {
        return Ok(None);
    };
    #[derive(Serialize)]
    struct Info<'a> {
        classification: &'a Classification,
        url: &'a str,
        attempt: u32,
    }
    let info = to_js(&Info {
        classification: c,
        url,
        attempt,
    })?;
    let mut value = hook.call1(&JsValue::UNDEFINED, &info)?;
    if value.is_instance_of::<Promise>() {
        value = JsFuture::from(value.unchecked_into::<Promise>()).await?;
    }
    Ok(is_response(&value).then_some(value))
}

fn is_response(value: &JsValue) -> bool {
    get(value, "status").as_f64().is_some() && get(value, "headers").is_object()
}

fn error(
    c: &Classification,
    attempts: u32,
    stop: Stop,
    response: JsValue,
    cause: JsValue,
) -> Result<JsValue, JsValue> {
    let what = match &c.code {
        Some(code) => format!("HTTP {} {code}", c.status),
        None if c.status == 0 => "no response".to_owned(),
        None => format!("HTTP {}", c.status),
    };
    let why = match stop {
        Stop::NotRetryable => "it is not retryable".to_owned(),
        Stop::RetriesExhausted => "the retries are used up".to_owned(),
        Stop::HintTooLong => format!("the server asked to wait {} ms, over maxRetryAfterMs", c.retry_after_ms.unwrap_or(0)),
        Stop::Deadline => "waiting again would pass the deadline".to_owned(),
        Stop::BodyNotReplayable => {
            "the request body is a ReadableStream, which was consumed by the first attempt and cannot be sent again".to_owned()
        }
        Stop::BudgetEmpty => "the retry budget is empty".to_owned(),
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
    set("reason", &stop.as_str().into())?;
    set("classification", &to_js(c)?)?;
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
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct AttemptEvent<'a> {
        attempt: u32,
        kind: &'static str,
        decision: &'static str,
        delay_ms: Option<u64>,
        stop: Option<&'static str>,
        elapsed_ms: f64,
        url: &'a str,
        classification: &'a Classification,
    }
    let (decision, delay_ms, stop) = match e.decision {
        Decision::Retry { delay_ms } => ("retry", Some(delay_ms), None),
        Decision::Stop(s) => ("stop", None, Some(s.as_str())),
    };
    let event = AttemptEvent {
        attempt: e.attempt,
        kind: e.classification.kind.as_str(),
        decision,
        delay_ms,
        stop,
        elapsed_ms: e.elapsed_ms,
        url,
        classification: e.classification,
    };
    if let (Some(hook), Ok(value)) = (&config.on_event, to_js(&event)) {
        let _ = hook.call1(&JsValue::UNDEFINED, &value);
    }
    if let (Some(hook), true) = (&config.on_retry, delay_ms.is_some()) {
        if let Ok(value) = to_js(&event) {
            let _ = hook.call1(&JsValue::UNDEFINED, &value);
        }
    }
}

struct FetchTransport<'a> {
    fetch: Option<Function>,
    input: JsValue,
    request: Option<web_sys::Request>,
    init: JsValue,
    replayable: bool,
    linked: &'a Linked,
    url: &'a str,
    max_body: u32,
}

impl FetchTransport<'_> {
    fn abort_reason(&self) -> Option<JsValue> {
        let signal = self.linked.signal();
        signal.aborted().then(|| signal.reason())
    }

    async fn classify(&self, response: &web_sys::Response) -> Classification {
        let status = response.status();
        let headers = headers_from_js(&response.headers().into(), "headers").unwrap_or_default();
        let body = if (200..300).contains(&status) {
            String::new()
        } else {
            read_prefix(response, self.max_body).await
        };
        let url = Some(response.url()).filter(|u| !u.is_empty());
        classify(&Response {
            status,
            headers: &headers,
            body: &body,
            url: url.as_deref().or(Some(self.url)),
            now_ms: js_sys::Date::now(),
        })
    }
}

impl Transport for FetchTransport<'_> {
    type Response = web_sys::Response;
    type Failure = JsValue;
    type Abort = JsValue;

    async fn send(
        &mut self,
        _attempt: u32,
    ) -> Result<Attempt<web_sys::Response, JsValue>, JsValue> {
        if let Some(reason) = self.abort_reason() {
            return Err(reason);
        }
        // A Request is cloned for every attempt so its body can be sent again.
        let input = match &self.request {
            Some(r) => web_sys::Request::clone(r)?.into(),
            None => self.input.clone(),
        };
        let fetch = match &self.fetch {
            Some(f) => f.clone(),
            None => bindings::global_fetch()?,
        };
        let sent = fetch.call2(&js_sys::global(), &input, &self.init);
        let settled = match sent {
            Ok(promise) => JsFuture::from(Promise::resolve(&promise)).await,
            Err(e) => Err(e),
        };
        match settled {
            Ok(value) if is_response(&value) => {
                let response: web_sys::Response = value.unchecked_into();
                let classification = self.classify(&response).await;
                Ok(Attempt::Answered {
                    response,
                    classification,
                })
            }
            Ok(_) => Err(type_error(
                "fetch resolved with a value that is not a Response",
            )),
            Err(error) => match self.abort_reason() {
                Some(reason) => Err(reason),
                None => Ok(Attempt::Failed {
                    classification: failure_kind(&error),
                    error,
                }),
            },
        }
    }

    fn replayable(&self) -> bool {
        self.replayable
    }

    fn discard(&mut self, response: web_sys::Response) {
        // Free the connection: Workers allow only six open at once.
        if let Some(body) = response.body() {
            let _ = body.cancel();
        }
    }
}

fn failure_kind(error: &JsValue) -> Classification {
    let name = get(error, "name").as_string().unwrap_or_default();
    let message = get(error, "message").as_string();
    if name == "TimeoutError" {
        Classification::without_response(
            Kind::Timeout,
            message,
            "the request timed out before a response",
        )
    } else {
        Classification::without_response(Kind::Network, message, "fetch rejected before a response")
    }
}

/// Reads at most `limit` bytes of a clone of the body, then cancels the clone.
async fn read_prefix(response: &web_sys::Response, limit: u32) -> String {
    let Some(body) = response.clone().ok().and_then(|c| c.body()) else {
        return String::new();
    };
    let reader: web_sys::ReadableStreamDefaultReader = body.get_reader().unchecked_into();
    let mut bytes = Vec::new();
    while bytes.len() < limit as usize {
        let Ok(chunk) = JsFuture::from(reader.read()).await else {
            break;
        };
        if get(&chunk, "done").as_bool() != Some(false) {
            break;
        }
        let value = get(&chunk, "value");
        let Some(part) = value.dyn_ref::<js_sys::Uint8Array>() else {
            break;
        };
        let take = part.length().min(limit - bytes.len() as u32);
        bytes.extend(part.subarray(0, take).to_vec());
    }
    let _ = reader.cancel();
    String::from_utf8_lossy(&bytes).into_owned()
}

struct JsClock {
    aborted: Promise,
}

impl Clock for JsClock {
    type Abort = JsValue;

    fn now_ms(&self) -> f64 {
        js_sys::Date::now()
    }

    fn random(&mut self) -> f64 {
        js_sys::Math::random()
    }

    async fn sleep(&mut self, ms: u64) -> Result<(), JsValue> {
        let timer = gloo_timers::future::TimeoutFuture::new(ms.min(MAX_DELAY_MS) as u32);
        let aborted = JsFuture::from(self.aborted.clone());
        match (Race { timer, aborted }).await {
            Some(reason) => Err(reason),
            None => Ok(()),
        }
    }
}

/// Resolves with `None` when the timer fires, or the abort reason first.
/// Dropping the timer clears it, so an abort ends the sleep at once.
struct Race<T, A> {
    timer: T,
    aborted: A,
}

impl<T, A> Future for Race<T, A>
where
    T: Future<Output = ()> + Unpin,
    A: Future<Output = Result<JsValue, JsValue>> + Unpin,
{
    type Output = Option<JsValue>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let Poll::Ready(result) = Pin::new(&mut self.aborted).poll(cx) {
            return Poll::Ready(Some(result.unwrap_or_else(|reason| reason)));
        }
        Pin::new(&mut self.timer).poll(cx).map(|()| None)
    }
}

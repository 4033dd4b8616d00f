//! One call's transport for the engine: before each attempt it asks the
//! quota breaker (skipping to a fallback route, or answering from the
//! breaker with no network call) and the throttle (waiting its share of the
//! window); then it fetches, classifies, and reports back to both.

use std::cell::Cell;

use js_sys::Promise;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use super::bindings::{self, classification_js, get, object, type_error, Linked};
use super::clock::JsClock;
use super::input::headers_from_js;
use super::instance::{Shared, Snapshot};
use super::request::Outgoing;
use crate::limits::breaker::Gate;
use crate::limits::key::LimitKey;
use crate::limits::routes::{first_available, RouteChoice};
use crate::retry::engine::{Attempt, Transport};
use crate::secrets::redact_url;
use crate::{classify, Classification, Kind, Response};

/// The transport of one call.
pub struct FetchTransport<'a> {
    pub shared: &'a Shared,
    pub out: &'a Outgoing,
    pub linked: &'a Linked,
    /// The route the next attempt goes to.
    pub route: Cell<usize>,
    /// The route that answered the last attempt; read by the event hook.
    pub answered: &'a Cell<usize>,
    pub clock: JsClock,
    /// The call's absolute deadline, ms since the epoch.
    pub deadline_ms: Option<f64>,
    /// The last answer came from the open breaker, not the network.
    pub short_circuited: bool,
    /// A Response returned by `onQuotaExhausted`, used if nothing better comes.
    pub fallback: Option<JsValue>,
}

impl FetchTransport<'_> {
    fn abort_reason(&self) -> Option<JsValue> {
        let signal = self.linked.signal();
        signal.aborted().then(|| signal.reason())
    }

    /// Calls `onQuotaExhausted`; keeps the first Response it returns.
    async fn quota_hook(
        &mut self,
        c: &Classification,
        attempt: u32,
        breaker_open: bool,
    ) -> Result<(), JsValue> {
        let Some(hook) = &self.shared.config.on_quota_exhausted else {
            return Ok(());
        };
        let route = self.route.get();
        let info = object(&[
            ("classification", classification_js(c)),
            ("url", redact_url(self.out.url(route)).into()),
            ("attempt", attempt.into()),
            ("route", (route as u32).into()),
            ("breakerOpen", breaker_open.into()),
        ]);
        let mut value = hook.call1(&JsValue::UNDEFINED, &info)?;
        if value.is_instance_of::<Promise>() {
            value = JsFuture::from(value.unchecked_into::<Promise>()).await?;
        }
        if self.fallback.is_none() && is_response(&value) {
            self.fallback = Some(value);
        }
        Ok(())
    }

    /// One network request on `route`, classified.
    async fn fetch_once(
        &self,
        route: usize,
    ) -> Result<(Attempt<web_sys::Response, JsValue>, Option<Snapshot>), JsValue> {
        let (input, init) = self.out.build(route)?;
        let fetch = match &self.shared.config.fetch {
            Some(f) => f.clone(),
            None => bindings::global_fetch()?,
        };
        self.shared.stats.borrow_mut().network_calls += 1;
        let settled = match fetch.call2(&js_sys::global(), &input, &init) {
            Ok(promise) => JsFuture::from(Promise::resolve(&promise)).await,
            Err(e) => Err(e),
        };
        match settled {
            Ok(value) if is_response(&value) => {
                let response: web_sys::Response = value.unchecked_into();
                let mut snapshot = self.classify(&response, route).await;
                let classification = snapshot.classification.clone();
                let keep = (classification.kind == Kind::QuotaExhausted).then(|| {
                    // The breaker replays this response later: keep every header, not
                    // just the ones the classifier read.
                    let all = headers_from_js(&response.headers().into(), "headers", true);
                    snapshot.headers = all.unwrap_or(snapshot.headers);
                    snapshot
                });
                Ok((
                    Attempt::Answered {
                        response,
                        classification,
                    },
                    keep,
                ))
            }
            Ok(_) => Err(type_error(
                "fetch resolved with a value that is not a Response",
            )),
            Err(error) => match self.abort_reason() {
                Some(reason) => Err(reason),
                None => Ok((
                    Attempt::Failed {
                        classification: failure_kind(&error),
                        error,
                    },
                    None,
                )),
            },
        }
    }

    async fn classify(&self, response: &web_sys::Response, route: usize) -> Snapshot {
        let status = response.status();
        let headers =
            headers_from_js(&response.headers().into(), "headers", false).unwrap_or_default();
        let ok = (200..300).contains(&status);
        let body = if ok {
            String::new()
        } else {
            read_prefix(response, self.shared.config.max_error_body_bytes).await
        };
        let url = Some(response.url()).filter(|u| !u.is_empty());
        let classification = classify(&Response {
            status,
            headers: &headers,
            body: &body,
            url: url.as_deref().or(Some(self.out.url(route))),
            now_ms: js_sys::Date::now(),
        });
        Snapshot {
            status,
            headers,
            body,
            classification,
        }
    }
}

impl Transport for FetchTransport<'_> {
    type Response = web_sys::Response;
    type Failure = JsValue;
    type Abort = JsValue;

    async fn send(&mut self, attempt: u32) -> Result<Attempt<web_sys::Response, JsValue>, JsValue> {
        if let Some(reason) = self.abort_reason() {
            return Err(reason);
        }
        let shared = self.shared;
        self.short_circuited = false;
        // The breaker: the first route from here on that is closed or may
        // probe; with every one open, answer from the first one's snapshot.
        let now = js_sys::Date::now();
        let start = self.route.get();
        let keys: Vec<LimitKey> = (start..self.out.routes())
            .map(|r| self.out.key(r))
            .collect();
        let choice = first_available(&keys, &mut shared.limiters.borrow_mut().breaker, now);
        let probe = match choice {
            RouteChoice::Route { index, probe } => {
                self.route.set(start + index);
                probe
            }
            RouteChoice::AllOpen { first_open } => {
                let route = start + first_open;
                let stored = keys.get(first_open).and_then(|key| {
                    match shared.limiters.borrow_mut().breaker.check(*key, now) {
                        Gate::Open { failure, .. } => Some(failure.clone()),
                        _ => None,
                    }
                });
                let Some(snapshot) = stored else {
                    return Err(type_error(
                        "ratewise: the quota breaker changed state unexpectedly",
                    ));
                };
                self.short_circuited = true;
                self.answered.set(route);
                shared.stats.borrow_mut().short_circuits += 1;
                let mut classification = snapshot.classification.clone();
                classification.reason =
                    "the quota breaker is open: answered without a network call";
                self.quota_hook(&classification, attempt, true).await?;
                let response = replay(&snapshot)?;
                return Ok(Attempt::Answered {
                    response,
                    classification,
                });
            }
        };
        let route = self.route.get();
        let key = self.out.key(route);
        // The throttle: wait for this caller's share of the window. The
        // request counts as in flight from its booking to its answer.
        let throttled = shared.config.throttle;
        let answered = || {
            if throttled {
                shared.limiters.borrow_mut().throttle.answered(key);
            }
        };
        if throttled {
            let now = js_sys::Date::now();
            let booked =
                shared
                    .limiters
                    .borrow_mut()
                    .throttle
                    .reserve(key, now, js_sys::Math::random());
            let delay = shared
                .config
                .policy
                .paced_wait(booked, now, self.deadline_ms);
            if delay > 0 {
                shared.stats.borrow_mut().throttled_ms += delay;
                if let Err(reason) = self.clock.sleep_abortable(delay).await {
                    answered();
                    return Err(reason);
                }
            }
        }
        let fetched = self.fetch_once(route).await;
        answered();
        let (attempt_result, snapshot) = fetched?;
        self.answered.set(route);
        let now = js_sys::Date::now();
        let classification = attempt_result.classification().clone();
        {
            let mut limiters = shared.limiters.borrow_mut();
            if let Some(limits) = &classification.limits {
                limiters.throttle.observe(key, limits, now);
            }
            match (classification.kind, snapshot) {
                (Kind::QuotaExhausted, Some(snapshot)) => limiters.breaker.trip(key, snapshot, now),
                (Kind::Ok, _) => limiters.breaker.record_success(key),
                _ if probe => limiters.breaker.probe_failed_otherwise(key, now),
                _ => {}
            }
        }
        if classification.kind == Kind::QuotaExhausted {
            self.quota_hook(&classification, attempt, false).await?;
        }
        Ok(attempt_result)
    }

    fn replayable(&self) -> bool {
        self.out.replayable
    }

    fn fail_over(&mut self) -> bool {
        let next = self.route.get() + 1;
        let available = next < self.out.routes() && !self.short_circuited;
        if available {
            self.route.set(next);
        }
        available
    }

    fn discard(&mut self, response: web_sys::Response) {
        // Free the connection: Workers allow only six open at once.
        if let Some(body) = response.body() {
            let _ = body.cancel();
        }
    }
}

/// Whether `value` looks like a Response (checked by shape, across realms).
pub fn is_response(value: &JsValue) -> bool {
    get(value, "status").as_f64().is_some() && get(value, "headers").is_object()
}

/// A Response rebuilt from a breaker snapshot, marked as such.
fn replay(snapshot: &Snapshot) -> Result<web_sys::Response, JsValue> {
    let headers = web_sys::Headers::new()?;
    for (name, value) in snapshot.headers.iter() {
        headers.append(name, value)?;
    }
    headers.set("x-ratewise-breaker", "open")?;
    let init = web_sys::ResponseInit::new();
    init.set_status(snapshot.status);
    init.set_headers(&headers);
    web_sys::Response::new_with_opt_str_and_init(Some(&snapshot.body), &init)
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

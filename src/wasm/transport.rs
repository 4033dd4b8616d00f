//! The engine's transport in JavaScript: builds each attempt's request,
//! calls `fetch`, reads a bounded prefix of an error body and classifies
//! the answer. Which route, when, and whether to send at all is decided in
//! the core (`crate::limits`); this only carries it out.

use js_sys::Promise;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use super::bindings::{self, classification_js, get, object, type_error, Linked};
use super::input::headers_from_js;
use super::instance::{Instance, Snapshot};
use super::request::Outgoing;
use crate::classify::classify_failure;
use crate::limits::breaker::replayed_header;
use crate::limits::key::LimitKey;
use crate::limits::tokens::Tokens;
use crate::retry::engine::{Attempt, Source, Transport};
use crate::secrets::redact_url;
use crate::{classify, Classification, Kind, Response};

/// How long an error body may take to arrive before it is classified on
/// what came, ms. The response itself is returned either way.
pub const ERROR_BODY_TIMEOUT_MS: f64 = 5_000.0;

/// The transport of one call.
pub struct FetchTransport<'a> {
    pub instance: &'a Instance,
    pub out: &'a Outgoing,
    pub linked: &'a Linked,
}

impl FetchTransport<'_> {
    fn abort_reason(&self) -> Option<JsValue> {
        let signal = self.linked.signal();
        let signal = signal.dyn_ref::<web_sys::AbortSignal>()?;
        signal.aborted().then(|| signal.reason())
    }

    async fn classify(&self, response: &web_sys::Response, route: usize) -> Snapshot {
        let status = response.status();
        let headers =
            headers_from_js(&response.headers().into(), "headers", false).unwrap_or_default();
        let body = if (200..300).contains(&status) {
            String::new()
        } else {
            let limit = self.instance.config.max_error_body_bytes;
            let read = bindings::read_prefix(response, limit, ERROR_BODY_TIMEOUT_MS);
            JsFuture::from(read)
                .await
                .ok()
                .and_then(|b| b.as_string())
                .unwrap_or_default()
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
    type Snapshot = Snapshot;

    fn keys(&self) -> &[LimitKey] {
        self.out.keys()
    }

    fn tokens(&self) -> Option<Tokens> {
        self.out.tokens
    }

    async fn send(
        &mut self,
        route: usize,
        _attempt: u32,
    ) -> Result<(Attempt<web_sys::Response, JsValue>, Option<Snapshot>), JsValue> {
        if let Some(reason) = self.abort_reason() {
            return Err(reason);
        }
        let (input, init) = self.out.build(route)?;
        let fetch = match &self.instance.config.fetch {
            Some(f) => f.clone(),
            None => bindings::global_fetch()?,
        };
        let settled = match fetch.call2(&js_sys::global(), &input, &init) {
            Ok(promise) => JsFuture::from(Promise::resolve(&promise)).await,
            Err(e) => Err(e),
        };
        let value = match settled {
            Ok(value) => value,
            Err(error) => {
                if let Some(reason) = self.abort_reason() {
                    return Err(reason);
                }
                let classification = failure_kind(&error);
                return Ok((
                    Attempt::Failed {
                        classification,
                        error,
                    },
                    None,
                ));
            }
        };
        if !is_response(&value) {
            return Err(type_error(
                "fetch resolved with a value that is not a Response",
            ));
        }
        let response: web_sys::Response = value.unchecked_into();
        let mut snapshot = self.classify(&response, route).await;
        let classification = snapshot.classification.clone();
        let keep = (classification.kind == Kind::QuotaExhausted).then(|| {
            // A replay carries only what the caller needs, never cookies.
            let all = headers_from_js(&response.headers().into(), "headers", true);
            let all = all.unwrap_or_default();
            snapshot.headers = all
                .iter()
                .filter(|(name, _)| replayed_header(name))
                .collect();
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

    fn replay(
        &mut self,
        _route: usize,
        snapshot: &Snapshot,
    ) -> Result<Attempt<web_sys::Response, JsValue>, JsValue> {
        let mut classification = snapshot.classification.clone();
        classification.reason = "the quota breaker is open: answered without a network call";
        Ok(Attempt::Answered {
            response: replay(snapshot)?,
            classification,
        })
    }

    fn replayable(&self) -> bool {
        self.out.replayable
    }

    fn discard(&mut self, response: web_sys::Response) {
        // Free the connection: Workers allow only six open at once.
        bindings::cancel_body(&response);
    }

    /// Calls `onQuotaExhausted`; a Response it returns is the fallback.
    async fn quota_exhausted(
        &mut self,
        c: &Classification,
        attempt: u32,
        route: usize,
        source: Source,
    ) -> Result<Option<web_sys::Response>, JsValue> {
        let Some(hook) = &self.instance.config.on_quota_exhausted else {
            return Ok(None);
        };
        let info = object(&[
            ("classification", classification_js(c)),
            ("url", redact_url(self.out.url(route)).into()),
            ("attempt", attempt.into()),
            ("route", (route as u32).into()),
            ("breakerOpen", (source == Source::Breaker).into()),
        ]);
        let mut value = hook.call1(&JsValue::UNDEFINED, &info)?;
        if value.is_instance_of::<Promise>() {
            value = JsFuture::from(value.unchecked_into::<Promise>()).await?;
        }
        Ok(is_response(&value).then(|| value.unchecked_into()))
    }
}

/// Whether `value` looks like a Response (checked by shape, across realms).
pub fn is_response(value: &JsValue) -> bool {
    get(value, "status").as_f64().is_some() && get(value, "headers").is_object()
}

/// A Response rebuilt from a breaker snapshot, marked as such. SDKs left at
/// their default retries see `x-should-retry: false` and do not ask again.
fn replay(snapshot: &Snapshot) -> Result<web_sys::Response, JsValue> {
    let headers = web_sys::Headers::new()?;
    for (name, value) in snapshot.headers.iter() {
        headers.append(name, value)?;
    }
    headers.set("x-ratewise-breaker", "open")?;
    headers.set("x-should-retry", "false")?;
    let init = web_sys::ResponseInit::new();
    init.set_status(snapshot.status);
    init.set_headers(&headers);
    web_sys::Response::new_with_opt_str_and_init(Some(&snapshot.body), &init)
}

/// What a fetch rejection means (a timeout, a failure that never heals, or
/// a network failure), decided by the core.
fn failure_kind(error: &JsValue) -> Classification {
    let name = get(error, "name").as_string().unwrap_or_default();
    let message = get(error, "message").as_string();
    classify_failure(&name, message.as_deref())
}

//! The engine's transport in JavaScript: builds each attempt's request,
//! calls `fetch`, reads a bounded prefix of an error body and classifies
//! the answer. Which route, when, and whether to send at all is decided in
//! the core (`crate::limits`); this only carries it out.

use js_sys::Promise;
use wasm_bindgen::{JsCast, JsValue};

use super::bindings::{self, classification_js, object, type_error};
use super::instance::Instance;
use super::request::Outgoing;
use super::settled::Settled;
use super::snapshot::{self, Peek, Snapshot};
use super::telemetry::Trace;
use crate::classify::Classification;
use crate::limits::routes::RouteKey;
use crate::limits::tokens::Tokens;
use crate::retry::engine::{Attempt, Source, Transport};
use crate::secrets::redact_url;

/// The transport of one call.
pub struct FetchTransport<'a> {
    pub instance: &'a Instance,
    pub out: &'a Outgoing,
    /// The signal the call's attempts send (the linked one), read once: an
    /// AbortSignal, else `None` (nothing can abort the call, or a
    /// signal-like object the platform's fetch watches itself).
    pub signal: Option<web_sys::AbortSignal>,
    /// The call's trace, told of each attempt as it is sent.
    pub trace: Option<&'a Trace>,
    /// Where the provider's request id of the latest response goes, when
    /// events are read.
    pub request_id: Option<&'a crate::shared::Shared<Option<String>>>,
}

/// The response headers that carry the provider's id of a request, in the
/// order they are tried: OpenAI, Groq, Mistral and most others
/// (`x-request-id`), Anthropic (`request-id`), Azure (`apim-request-id`,
/// `x-ms-request-id`), Bedrock (`x-amzn-requestid`).
const REQUEST_ID_HEADERS: [&str; 5] = [
    "x-request-id",
    "request-id",
    "apim-request-id",
    "x-ms-request-id",
    "x-amzn-requestid",
];

/// The provider's id of the request `response` answers, if it sent one
/// (cut to 128 characters: an id, never a payload).
fn request_id(response: &web_sys::Response) -> Option<String> {
    let headers = response.headers();
    REQUEST_ID_HEADERS.iter().find_map(|name| {
        let value = headers.get(name).ok().flatten()?;
        let value = value.trim();
        (!value.is_empty()).then(|| value.chars().take(128).collect())
    })
}

impl FetchTransport<'_> {
    fn abort_reason(&self) -> Option<JsValue> {
        let signal = self.signal.as_ref()?;
        signal.aborted().then(|| signal.reason())
    }
}

impl Transport for FetchTransport<'_> {
    type Response = web_sys::Response;
    type Failure = JsValue;
    type Abort = JsValue;
    type Snapshot = Snapshot;

    fn keys(&self) -> &[RouteKey] {
        self.out.keys()
    }

    fn tokens(&self) -> Option<Tokens> {
        self.out.tokens
    }

    async fn send(
        &mut self,
        route: usize,
        attempt: u32,
    ) -> Result<(Attempt<web_sys::Response, JsValue>, Option<Snapshot>), JsValue> {
        if let Some(reason) = self.abort_reason() {
            return Err(reason);
        }
        let (input, init) = self.out.build(route)?;
        if let Some(trace) = self.trace {
            trace.send(attempt, route as u32, &redact_url(self.out.url(route)));
        }
        let fetch = match &self.instance.config.fetch {
            Some(f) => f.clone(),
            None => bindings::global_fetch()?,
        };
        let settled = match fetch.call2(&js_sys::global(), &input, &init) {
            Ok(promise) => Settled::new(&promise).await,
            Err(e) => Err(e),
        };
        let value = match settled {
            Ok(value) => value,
            Err(error) => {
                if let Some(reason) = self.abort_reason() {
                    return Err(reason);
                }
                let classification = bindings::failure_kind(&error);
                return Ok((
                    Attempt::Failed {
                        classification,
                        error,
                    },
                    None,
                ));
            }
        };
        let Some(head) = snapshot::head(&value) else {
            return Err(type_error(
                "fetch resolved with a value that is not a Response",
            ));
        };
        let response: web_sys::Response = value.unchecked_into();
        if let Some(id) = self.request_id {
            *id.borrow_mut() = request_id(&response);
        }
        let max_body = self.instance.config.max_error_body_bytes;
        let peek = self.instance.config.peek_stream.then_some(Peek {
            watch: &self.instance.watch,
        });
        let (response, classification, keep) =
            snapshot::read(response, head, self.out.url(route), max_body, peek).await;
        // The deadline or the caller's abort came while the body was read:
        // the platform has cancelled the body, so no answer is given with it
        // used; the call rejects with the reason, as fetch would.
        if let Some(reason) = self.abort_reason() {
            bindings::cancel_body(&response);
            return Err(reason);
        }
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
        Ok(Attempt::Answered {
            response: snapshot.replay(&self.out.method)?,
            classification: snapshot.classification.answered_by_breaker(),
        })
    }

    fn replayable(&self) -> bool {
        self.out.replayable
    }

    fn discard(&mut self, response: web_sys::Response) {
        // Free the connection: Workers allow only six open at once.
        bindings::cancel_body(&response);
    }

    /// Calls `onQuotaExhausted` (with `firstReport` true once per incident);
    /// a Response it returns is the fallback.
    async fn quota_exhausted(
        &mut self,
        c: &Classification,
        attempt: u32,
        route: usize,
        source: Source,
        first_report: bool,
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
            ("firstReport", first_report.into()),
        ]);
        let mut value = hook.call1(&JsValue::UNDEFINED, &info)?;
        if value.is_instance_of::<Promise>() {
            value = Settled::new(&value).await?;
        }
        Ok(bindings::is_response(&value).then(|| value.unchecked_into()))
    }
}

//! An answer as the core sees it: its status, the headers the classifier
//! reads and a bounded prefix of an error body, classified. The quota
//! breaker keeps one per tripped key and replays it as a new `Response`.

use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;

use super::bindings;
use super::input::headers_from_js;
use crate::limits::breaker::replayed_header;
use crate::{classify, Classification, Headers, Kind, Response};

/// How long an error body may take to arrive before it is classified on
/// what came, ms. The response itself is returned either way.
pub const ERROR_BODY_TIMEOUT_MS: f64 = 5_000.0;

/// A quota failure kept by the breaker, replayed to callers while it is open.
#[derive(Clone)]
pub struct Snapshot {
    /// The response's status.
    pub status: u16,
    /// The headers a replay carries (see [`replayed_header`]).
    pub headers: Headers,
    /// The bounded prefix of its body that was read.
    pub body: String,
    /// What it meant.
    pub classification: Classification,
}

/// Classifies `response` (reading at most `max_body` bytes of an error body
/// from a clone) and, for a quota failure, keeps what a replay needs.
pub async fn read(
    response: &web_sys::Response,
    request_url: &str,
    max_body: u32,
) -> (Classification, Option<Snapshot>) {
    let status = response.status();
    let headers = headers_from_js(&response.headers().into(), "headers", false).unwrap_or_default();
    let body = if (200..300).contains(&status) {
        String::new()
    } else {
        let read = bindings::read_prefix(response, max_body, ERROR_BODY_TIMEOUT_MS);
        let read = JsFuture::from(read).await.ok();
        read.and_then(|b| b.as_string()).unwrap_or_default()
    };
    let url = Some(response.url()).filter(|u| !u.is_empty());
    let classification = classify(&Response {
        status,
        headers: &headers,
        body: &body,
        url: url.as_deref().or(Some(request_url)),
        now_ms: js_sys::Date::now(),
    });
    if classification.kind != Kind::QuotaExhausted {
        return (classification, None);
    }
    // A replay carries only what the caller needs, never cookies.
    let all = headers_from_js(&response.headers().into(), "headers", true).unwrap_or_default();
    let snapshot = Snapshot {
        status,
        headers: all
            .iter()
            .filter(|(name, _)| replayed_header(name))
            .collect(),
        body,
        classification: classification.clone(),
    };
    (classification, Some(snapshot))
}

impl Snapshot {
    /// A Response rebuilt from the snapshot, marked as the breaker's. SDKs
    /// left at their default retries see `x-should-retry: false` and do
    /// not ask again.
    pub fn replay(&self) -> Result<web_sys::Response, JsValue> {
        let headers = web_sys::Headers::new()?;
        for (name, value) in self.headers.iter() {
            headers.append(name, value)?;
        }
        headers.set("x-ratewise-breaker", "open")?;
        headers.set("x-should-retry", "false")?;
        let init = web_sys::ResponseInit::new();
        init.set_status(self.status);
        init.set_headers(&headers);
        web_sys::Response::new_with_opt_str_and_init(Some(&self.body), &init)
    }
}

//! An answer as the core sees it: its status, the headers the classifier
//! reads and a bounded prefix of an error body, classified. The quota
//! breaker keeps one per tripped key and replays it as a new `Response`.

use js_sys::Array;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use super::bindings;
use super::input::{headers_from_js, headers_from_text};
use crate::classify::headers::SUCCESS_HEADER_GROUPS;
use crate::classify::stream::first_event_error;
use crate::coordinator::record::Kept;
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

/// How much of a stream is read for its first event, bytes.
pub const PEEK_BYTES: u32 = 16 * 1024;

/// Whether and how 2xx event streams are peeked: `watch` (a JS function or
/// undefined) sees later chunks that may hold an error event.
pub struct Peek<'a> {
    /// The function that reports a later error event.
    pub watch: &'a JsValue,
}

thread_local! {
    /// [`SUCCESS_HEADER_GROUPS`] as JS arrays, made once.
    static SUCCESS_NAMES: Array = SUCCESS_HEADER_GROUPS
        .iter()
        .map(|group| JsValue::from(group.iter().map(|n| JsValue::from_str(n)).collect::<Array>()))
        .collect();
}

/// The headers a success is read for, looked up by name.
fn success_headers(headers: &web_sys::Headers) -> Headers {
    SUCCESS_NAMES.with(|names| headers_from_text(&bindings::pick_headers(headers, names)))
}

/// Classifies `response` (reading at most `max_body` bytes of an error body
/// from a clone, or with `peek` the first event of a 2xx event stream) and,
/// for a quota failure, keeps what a replay needs. Returns the response to
/// hand on: the same one, or after a peek one that still yields every byte.
pub async fn read(
    response: web_sys::Response,
    request_url: &str,
    max_body: u32,
    peek: Option<Peek<'_>>,
) -> (web_sys::Response, Classification, Option<Snapshot>) {
    let status = response.status();
    let success = (200..300).contains(&status);
    let headers = if success {
        // A success is read only for its windows, by name.
        success_headers(&response.headers())
    } else {
        headers_from_js(&response.headers().into(), "headers", false).unwrap_or_default()
    };
    let mut response = response;
    let mut stream_error = None;
    // Only the headers the classifier reads were copied: ask for this one.
    let content_type = response.headers().get("content-type").ok().flatten();
    let event_stream = content_type.is_some_and(|t| t.starts_with("text/event-stream"));
    let body = if success {
        match peek.filter(|_| event_stream) {
            Some(Peek { watch }) => {
                let peeked =
                    bindings::peek_stream(&response, PEEK_BYTES, ERROR_BODY_TIMEOUT_MS, watch);
                let pair: Array = JsFuture::from(peeked)
                    .await
                    .map(|v| Array::from(&v))
                    .unwrap_or_default();
                if let Ok(copy) = pair.get(1).dyn_into::<web_sys::Response>() {
                    response = copy;
                }
                let prefix = pair.get(0).as_string().unwrap_or_default();
                stream_error = first_event_error(&prefix);
                // The peek may have read past the first event: later errors are reported.
                if let (None, Some(f)) = (&stream_error, watch.dyn_ref::<js_sys::Function>()) {
                    if prefix.contains("error") {
                        let _ = f.call1(&JsValue::UNDEFINED, &prefix.as_str().into());
                    }
                }
                prefix
            }
            None => String::new(),
        }
    } else {
        let read = bindings::read_prefix(&response, max_body, ERROR_BODY_TIMEOUT_MS);
        let read = JsFuture::from(read).await.ok();
        read.and_then(|b| b.as_string()).unwrap_or_default()
    };
    let url = Some(response.url()).filter(|u| !u.is_empty());
    let url = url.as_deref().or(Some(request_url));
    let now_ms = js_sys::Date::now();
    let classification = match &stream_error {
        // The stream opened with an error: classify it as the answer it stands for.
        Some(e) => e.classify(&headers, url, now_ms),
        None => classify(&Response {
            status,
            headers: &headers,
            body: if event_stream { "" } else { &body },
            url,
            now_ms,
        }),
    };
    if classification.kind != Kind::QuotaExhausted {
        return (response, classification, None);
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
    (response, classification, Some(snapshot))
}

/// A failure read back from a coordinator (the wire, or the Redis record)
/// is classified again: nothing is trusted from the store but what a replay
/// shows.
impl Kept for Snapshot {
    fn parts(&self) -> (u16, &Headers, &str) {
        (self.status, &self.headers, &self.body)
    }
    fn from_parts(status: u16, headers: Headers, body: String, now_ms: f64) -> Self {
        Snapshot::reread(status, headers, body, now_ms)
    }
}

impl Snapshot {
    /// A failure read back from a coordinator (the wire or Redis),
    /// classified here again: nothing is trusted from it but what a replay
    /// shows.
    pub fn reread(status: u16, headers: Headers, body: String, now_ms: f64) -> Snapshot {
        let classification = classify(&Response {
            status,
            headers: &headers,
            body: &body,
            url: None,
            now_ms,
        });
        Snapshot {
            status,
            headers,
            body,
            classification,
        }
    }

    /// A Response rebuilt from the snapshot, marked as the breaker's. SDKs
    /// left at their default retries see `x-should-retry: false` and do
    /// not ask again.
    ///
    /// The answer to a `HEAD` request has no body, as the server's would not.
    pub fn replay(&self, method: &str) -> Result<web_sys::Response, JsValue> {
        let headers = web_sys::Headers::new()?;
        for (name, value) in self.headers.iter() {
            headers.append(name, value)?;
        }
        headers.set("x-ratewise-breaker", "open")?;
        headers.set("x-should-retry", "false")?;
        let init = web_sys::ResponseInit::new();
        init.set_status(self.status);
        init.set_headers(&headers);
        let body = (!method.eq_ignore_ascii_case("HEAD")).then_some(self.body.as_str());
        web_sys::Response::new_with_opt_str_and_init(body, &init)
    }
}

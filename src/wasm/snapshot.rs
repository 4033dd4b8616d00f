//! An answer as the core sees it: its status, the headers the classifier
//! reads and a bounded prefix of an error body, classified. The quota
//! breaker keeps one per tripped key and replays it as a new `Response`.

use js_sys::Array;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};

use super::bindings;
use super::input::{headers_from_js, headers_from_text};
use super::settled::Settled;
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

#[wasm_bindgen(module = "/js/request.js")]
extern "C" {
    /// `[status, a 2xx answer's headers in groups, content type, url]`, or
    /// undefined for a value that is not Response-shaped.
    #[wasm_bindgen(js_name = readAnswer)]
    fn read_answer(value: &JsValue, groups: &Array) -> JsValue;
}

/// What is first read of an answer, in one crossing (js/request.js).
pub struct Head {
    status: u16,
    /// A success's headers the classifier reads (looked up by name), as
    /// "name\nvalue\n…"; `None` for any other status.
    success: Option<String>,
    content_type: Option<String>,
    url: String,
}

/// The head of what a fetch resolved with, or `None` when it is not a
/// Response (checked by shape, across realms).
pub fn head(value: &JsValue) -> Option<Head> {
    let read = SUCCESS_NAMES.with(|names| read_answer(value, names));
    let read: &Array = read.dyn_ref()?;
    Some(Head {
        status: read.get(0).as_f64().unwrap_or(0.0) as u16,
        success: read.get(1).as_string(),
        content_type: read.get(2).as_string(),
        url: read.get(3).as_string().unwrap_or_default(),
    })
}

/// Classifies `response` (reading at most `max_body` bytes of an error body
/// from a clone, or with `peek` the first event of a 2xx event stream) and,
/// for a quota failure, keeps what a replay needs. Returns the response to
/// hand on: the same one, or after a peek one that still yields every byte.
pub async fn read(
    response: web_sys::Response,
    head: Head,
    request_url: &str,
    max_body: u32,
    peek: Option<Peek<'_>>,
) -> (web_sys::Response, Classification, Option<Snapshot>) {
    let status = head.status;
    let success = (200..300).contains(&status);
    let headers = match &head.success {
        // A success is read only for its windows, by name.
        Some(text) if success => headers_from_text(text),
        _ => headers_from_js(&response.headers().into(), "headers", false).unwrap_or_default(),
    };
    let mut response = response;
    let mut stream_error = None;
    // Only the headers the classifier reads were copied: this one was asked for.
    let event_stream =
        (head.content_type.as_deref()).is_some_and(|t| t.starts_with("text/event-stream"));
    let body = if success {
        match peek.filter(|_| event_stream) {
            Some(Peek { watch }) => {
                let peeked =
                    bindings::peek_stream(&response, PEEK_BYTES, ERROR_BODY_TIMEOUT_MS, watch);
                let pair: Array = Settled::new(&peeked)
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
                    if crate::classify::search::contains(&prefix, "error") {
                        let _ = f.call1(&JsValue::UNDEFINED, &prefix.as_str().into());
                    }
                }
                prefix
            }
            None => String::new(),
        }
    } else {
        let read = bindings::read_prefix(&response, max_body, ERROR_BODY_TIMEOUT_MS);
        let read = Settled::new(&read).await.ok();
        read.and_then(|b| b.as_string()).unwrap_or_default()
    };
    // A peeked stream's copy keeps the answer's url.
    let url = Some(head.url.as_str()).filter(|u| !u.is_empty());
    let url = url.or(Some(request_url));
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
    // A loop, not a filtered collect: no Headers::from_iter of its own.
    let mut headers = Headers::new();
    for (name, value) in all.iter() {
        if replayed_header(name) {
            headers.push(name, value);
        }
    }
    let snapshot = Snapshot {
        status,
        headers,
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

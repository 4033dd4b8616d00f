//! The `telemetry` option's seam: what the loop tells the OpenTelemetry
//! glue (`js/telemetry.js`) about one call. The spans, their attributes
//! and the metrics are made in JavaScript from these values; nothing is
//! decided here. With `telemetry` off, nothing here runs: the call has no
//! trace and the fetch is the plain one.

use wasm_bindgen::prelude::*;

use super::bindings::get;
use super::request::Outgoing;
use crate::classify::body::ErrorBody;
use crate::classify::provider;
use crate::secrets::redact_url;
use crate::Headers;

#[wasm_bindgen(module = "/js/telemetry.js")]
extern "C" {
    /// Checks and keeps `createFetch({ telemetry })` (throwing a TypeError
    /// naming the field); `null` when it is off.
    #[wasm_bindgen(js_name = makeTelemetry, catch)]
    fn make_telemetry(value: &JsValue) -> Result<JsValue, JsValue>;

    /// One call's trace, made by the telemetry's fetch wrapper.
    #[derive(Clone)]
    pub type Trace;

    /// The call's request: known once it is read, before any wait.
    #[wasm_bindgen(method)]
    #[allow(clippy::too_many_arguments)]
    pub fn begin(
        this: &Trace,
        method: &str,
        url: &str,
        provider: &str,
        model: Option<String>,
        stream: Option<bool>,
        lane: &str,
    );

    /// Attempt `attempt` is sent on `route` to `url` (redacted), now.
    #[wasm_bindgen(method)]
    pub fn send(this: &Trace, attempt: u32, route: u32, url: &str);

    /// An attempt ended: the `onEvent` event of it.
    #[wasm_bindgen(method)]
    pub fn attempt(this: &Trace, event: &JsValue);

    /// The budgets that apply to the call (`[name, unit]` pairs), and the
    /// one that stopped it, if one did (nothing was sent then).
    #[wasm_bindgen(method)]
    pub fn budgets(this: &Trace, applying: &js_sys::Array, stopped: Option<String>);

    /// The answer's body is tapped: the call span waits for its usage
    /// (bounded) before it ends.
    #[wasm_bindgen(method)]
    pub fn expect(this: &Trace);

    /// The answer's usage is known (its body ended, failed, was cancelled
    /// or its tap evicted): the usage event, and the model the answer named
    /// (`None` when it named none).
    #[wasm_bindgen(method)]
    pub fn usage(this: &Trace, event: &JsValue, response_model: Option<String>);
}

/// Reads `createFetch({ telemetry })`: `None` when absent or `false`.
pub fn option(value: &JsValue) -> Result<Option<JsValue>, JsValue> {
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    let made = make_telemetry(value)?;
    Ok((!made.is_null() && !made.is_undefined()).then_some(made))
}

/// The call's trace, if its fetch is traced (the fifth argument the
/// wrapper passes; `undefined` otherwise).
pub fn trace(value: JsValue) -> Option<Trace> {
    (!value.is_undefined()).then(|| value.unchecked_into())
}

/// Tells the trace what the call is, from its request as read.
pub fn begin(trace: &Trace, out: &Outgoing) {
    let url = out.url(0);
    let provider = provider::detect(Some(url), &Headers::new(), &ErrorBody::default());
    let stream = out
        .body_json()
        .and_then(|body| get(&body, "stream").as_bool());
    trace.begin(
        &out.method,
        &redact_url(url),
        provider.as_str(),
        out.model(0).map(str::to_owned),
        stream,
        out.lane.as_str(),
    );
}

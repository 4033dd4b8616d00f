//! The JavaScript this crate imports, and small conversion helpers.

use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

#[wasm_bindgen(module = "/js/errors.js")]
extern "C" {
    /// Builds the RatewiseError subclass for a kind.
    #[wasm_bindgen(js_name = makeError)]
    pub fn make_error(kind: &str, message: &str, details: &JsValue) -> JsValue;
}

#[wasm_bindgen]
extern "C" {
    /// JavaScript's `String(value)`: formats numbers without pulling Rust's
    /// float formatting into the `.wasm`.
    #[wasm_bindgen(js_name = String)]
    pub fn js_string(value: &JsValue) -> String;
}

#[wasm_bindgen(module = "/js/signals.js")]
extern "C" {
    /// The linked abort signal of one call.
    pub type Linked;
    /// Links caller signals and a deadline into one signal.
    #[wasm_bindgen(js_name = linkSignals)]
    pub fn link_signals(signals: &js_sys::Array, deadline_ms: Option<f64>) -> Linked;
    #[wasm_bindgen(method, getter)]
    pub fn signal(this: &Linked) -> web_sys::AbortSignal;
    #[wasm_bindgen(method, getter)]
    pub fn aborted(this: &Linked) -> js_sys::Promise;
    #[wasm_bindgen(method)]
    pub fn finish(this: &Linked);
}

/// Serialises a Rust value into a plain JS object (`None` becomes `null`).
pub fn to_js<T: Serialize>(value: &T) -> Result<JsValue, JsValue> {
    let serializer = serde_wasm_bindgen::Serializer::new()
        .serialize_missing_as_null(true)
        .serialize_maps_as_objects(true);
    value.serialize(&serializer).map_err(JsValue::from)
}

/// A `TypeError` with `message`.
pub fn type_error(message: impl AsRef<str>) -> JsValue {
    js_sys::TypeError::new(message.as_ref()).into()
}

/// A `RangeError` with `message`.
pub fn range_error(message: impl AsRef<str>) -> JsValue {
    js_sys::RangeError::new(message.as_ref()).into()
}

/// `globalThis.fetch`, read at call time (Workers and Node have no `window`,
/// and tests may replace it).
pub fn global_fetch() -> Result<js_sys::Function, JsValue> {
    get(&js_sys::global(), "fetch").dyn_into().map_err(|_| {
        type_error("ratewise: globalThis.fetch is not a function; pass `fetch` in the options")
    })
}

/// `typeof value`, for error messages.
pub fn type_name(value: &JsValue) -> String {
    if value.is_null() {
        "null".into()
    } else if js_sys::Array::is_array(value) {
        "array".into()
    } else {
        value.js_typeof().as_string().unwrap_or_default()
    }
}

/// `object[key]`, or `undefined` if `object` is not an object.
pub fn get(object: &JsValue, key: &str) -> JsValue {
    if !object.is_object() && !object.is_function() {
        return JsValue::UNDEFINED;
    }
    // Keys are interned: the JS string is made once, not on every call.
    js_sys::Reflect::get(object, &JsValue::from_str(wasm_bindgen::intern(key)))
        .unwrap_or(JsValue::UNDEFINED)
}

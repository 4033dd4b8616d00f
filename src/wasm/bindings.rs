//! The JavaScript this crate imports, and small conversion helpers.

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

#[wasm_bindgen(module = "/js/convert.js")]
extern "C" {
    /// classify()'s input as `[status, statusField, headers, body, url, now, errorName, errorMessage]`.
    #[wasm_bindgen(js_name = readClassifyInput, catch)]
    pub fn read_classify_input(input: &JsValue) -> Result<js_sys::Array, JsValue>;
    /// Writes `text` as UTF-8 into wasm memory at `ptr` (room for `cap`
    /// bytes): the bytes written, or minus the room needed.
    #[wasm_bindgen(js_name = encodeText)]
    pub fn encode_text(memory: &JsValue, ptr: u32, cap: u32, text: &js_sys::JsString) -> f64;
    /// Headers in any accepted form as "name\nvalue\n…".
    #[wasm_bindgen(js_name = flattenHeaders, catch)]
    pub fn flatten_headers(headers: &JsValue, field: &str, all: bool) -> Result<String, JsValue>;
    /// The headers named in `groups` (a group is skipped when its first
    /// name is absent), as "name\nvalue\n…".
    #[wasm_bindgen(js_name = pickHeaders)]
    pub fn pick_headers(headers: &web_sys::Headers, groups: &js_sys::Array) -> String;
    /// The fetch function createFetch() returns, with its methods.
    #[wasm_bindgen(js_name = makeFetch)]
    pub fn make_fetch(
        call: JsValue,
        stats: JsValue,
        breaker: JsValue,
        reset_breaker: JsValue,
        for_invocation: JsValue,
        health: JsValue,
        telemetry: &JsValue,
    ) -> js_sys::Function;
    /// The fetch `forInvocation()` returns, with `subrequests()` attached.
    #[wasm_bindgen(js_name = makeInvocationFetch)]
    pub fn make_invocation_fetch(
        call: JsValue,
        subrequests: JsValue,
        telemetry: &JsValue,
    ) -> js_sys::Function;
}

thread_local! {
    /// JS strings made for `'static` names, by the name's address.
    static INTERNED: crate::shared::Shared<Vec<((usize, usize), JsValue)>> = const { crate::shared::Shared::new(Vec::new()) };
}

/// A JS string for a `'static` name, made once and reused: copying a string
/// across the boundary costs more than finding it among a few dozen.
pub fn interned(name: &'static str) -> JsValue {
    let address = (name.as_ptr() as usize, name.len());
    INTERNED.with(|cache| {
        let mut cache = cache.borrow_mut();
        if let Some((_, value)) = cache.iter().find(|(a, _)| *a == address) {
            return value.clone();
        }
        let value = JsValue::from_str(name);
        cache.push((address, value.clone()));
        value
    })
}

/// A plain object from `(key, value)` pairs; keys are interned.
pub fn object(pairs: &[(&'static str, JsValue)]) -> JsValue {
    let o = js_sys::Object::new();
    for (key, value) in pairs {
        // Setting a property on a fresh plain object cannot fail.
        let _ = js_sys::Reflect::set(&o, &interned(key), value);
    }
    o.into()
}

/// An optional number as a JS number or `null`.
pub fn number_or_null(n: Option<u64>) -> JsValue {
    n.map_or(JsValue::NULL, |n| JsValue::from_f64(n as f64))
}

/// The JavaScript `Classification` object (see `index.d.ts`), built by
/// `js/classify.js` from a record in wasm memory.
pub fn classification_js(c: &crate::Classification) -> JsValue {
    super::classify::classification_js(c)
}

#[wasm_bindgen(module = "/js/signals.js")]
extern "C" {
    /// The `TimeoutError` a call's deadline aborts it with.
    #[wasm_bindgen(js_name = deadlineError)]
    pub fn deadline_error(deadline_ms: f64) -> JsValue;
    /// The linked abort signal of one call (`linkSignals`, made by `readCall`
    /// in js/request.js).
    pub type Linked;
    /// The signal fetch gets: `undefined` when nothing can abort the call.
    #[wasm_bindgen(method, getter)]
    pub fn signal(this: &Linked) -> JsValue;
    /// Rejects with the abort reason; `undefined` when nothing can abort the call.
    #[wasm_bindgen(method, getter)]
    pub fn aborted(this: &Linked) -> JsValue;
    #[wasm_bindgen(method)]
    pub fn finish(this: &Linked);
}

#[wasm_bindgen(module = "/js/io.js")]
extern "C" {
    /// At most `limit` bytes of a clone of the body, read for at most `timeout_ms`; never rejects.
    #[wasm_bindgen(js_name = readPrefix)]
    pub fn read_prefix(
        response: &web_sys::Response,
        limit: u32,
        timeout_ms: f64,
    ) -> js_sys::Promise;
    /// `[prefix, response]`: a stream read up to its first event, and a
    /// Response that still yields every byte; never rejects.
    #[wasm_bindgen(js_name = peekStream)]
    pub fn peek_stream(
        response: &web_sys::Response,
        limit: u32,
        timeout_ms: f64,
        watch: &JsValue,
    ) -> js_sys::Promise;
    /// Cancels a body that will not be read, handling the promise.
    #[wasm_bindgen(js_name = cancelBody)]
    pub fn cancel_body(response: &web_sys::Response);
    /// Whether a request body can be sent again.
    #[wasm_bindgen(js_name = replayable)]
    pub fn replayable_body(body: &JsValue) -> bool;
    /// A string body parsed as a JSON object, or `undefined`.
    #[wasm_bindgen(js_name = jsonObject)]
    pub fn json_object(body: &JsValue) -> JsValue;
    /// The response marked `x-should-retry: false` (a copy over its body).
    #[wasm_bindgen(js_name = markFinal)]
    pub fn mark_final(response: &web_sys::Response) -> web_sys::Response;
}

#[wasm_bindgen(module = "/js/cache.js")]
extern "C" {
    /// The cache of one instance, from the `cache` option (checked there,
    /// throwing a TypeError or RangeError naming the field): the caller's
    /// store, the platform's or a bounded in-memory LRU (picked at first use).
    #[wasm_bindgen(js_name = makeCache, catch)]
    pub fn make_cache(options: &JsValue) -> Result<JsValue, JsValue>;
    /// Stores a clone of a success in the background; never throws.
    #[wasm_bindgen(js_name = cacheStore)]
    #[allow(clippy::too_many_arguments)]
    pub fn cache_store(
        cache: &JsValue,
        method: &str,
        url: &str,
        input: &JsValue,
        init: &JsValue,
        response: &web_sys::Response,
        now_ms: f64,
        ttl_ms: f64,
        wait_until: &JsValue,
    );
    /// `[response, storedAtMs]` stored for a request, or undefined; never
    /// rejects. Waits first for a store of the same request in flight, made
    /// without a `waitUntil` or with this one (the same invocation).
    #[wasm_bindgen(js_name = cacheMatch)]
    pub fn cache_match(
        cache: &JsValue,
        method: &str,
        url: &str,
        input: &JsValue,
        init: &JsValue,
        wait_until: &JsValue,
    ) -> js_sys::Promise;
    /// A stored answer marked `x-ratewise-cache: hit`, with its age; undefined
    /// when it cannot be one (never throws).
    #[wasm_bindgen(js_name = cacheHit)]
    pub fn cache_hit(found: &JsValue, age_ms: f64) -> JsValue;
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

// JavaScript that may run the caller's code (Proxy traps, getters) is only
// ever called through `catch` imports: an exception thrown through an import
// without `catch` unwinds the wasm frames without restoring the shadow stack
// pointer, and after about a thousand of them the module traps on every call
// (`RuntimeError: memory access out of bounds`, then `unreachable`) for the
// rest of the process. `js_sys`'s `Array::isArray`, `Object.keys` and
// array iteration have no `catch`.
#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = Array, js_name = isArray, catch)]
    fn is_array_or_throw(value: &JsValue) -> Result<bool, JsValue>;
    /// `Object.keys(value)`; throws what a Proxy trap throws.
    #[wasm_bindgen(js_namespace = Object, js_name = keys, catch)]
    pub fn object_keys(value: &JsValue) -> Result<js_sys::Array, JsValue>;
}

/// `Array.isArray(value)`; false for a revoked Proxy (on which it throws).
pub fn is_array(value: &JsValue) -> bool {
    is_array_or_throw(value).unwrap_or(false)
}

/// `typeof value`, for error messages.
pub fn type_name(value: &JsValue) -> String {
    if value.is_null() {
        "null".into()
    } else if is_array(value) {
        "array".into()
    } else {
        value.js_typeof().as_string().unwrap_or_default()
    }
}

/// `object[key]`, or `undefined` if `object` is not an object.
pub fn get(object: &JsValue, key: &'static str) -> JsValue {
    if !object.is_object() && !object.is_function() {
        return JsValue::UNDEFINED;
    }
    // Keys are interned: the JS string is made once, not on every call.
    js_sys::Reflect::get(object, &interned(key)).unwrap_or(JsValue::UNDEFINED)
}

/// Whether `value` looks like a Response (checked by shape, across realms).
pub fn is_response(value: &JsValue) -> bool {
    get(value, "status").as_f64().is_some() && get(value, "headers").is_object()
}

/// What a fetch rejection means (a timeout, a failure that never heals, or
/// a network failure), decided by the core.
pub fn failure_kind(error: &JsValue) -> crate::Classification {
    let name = get(error, "name").as_string().unwrap_or_default();
    let message = get(error, "message").as_string();
    crate::classify::classify_failure(&name, message.as_deref())
}

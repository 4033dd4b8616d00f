//! What a call rejects with carries no secret: a platform error whose
//! message quotes a URL's `user:password@` or a header value (a `TypeError`
//! for an invalid `Authorization` header holds the key) is passed on as a
//! copy of the same class with its message, stack and `cause` chain masked
//! by [`crate::secrets::mask_secrets`]. An error with nothing to mask is
//! passed on as it is, so an abort reason stays the caller's own object.

use wasm_bindgen::prelude::*;

use super::bindings::get;
use crate::classify::search;
use crate::secrets::mask_secrets;

/// How deep a `cause` chain is followed.
const MAX_DEPTH: u32 = 4;

#[wasm_bindgen(module = "/js/errors.js")]
extern "C" {
    /// A copy of `error` of the same class with these message, stack and cause.
    #[wasm_bindgen(js_name = remakeError)]
    fn remake_error(error: &JsValue, message: &str, stack: &JsValue, cause: &JsValue) -> JsValue;
}

/// `value` with every secret in it masked: a string masked, an error
/// remade when its message, stack or cause chain held one, anything else
/// as it is.
pub fn masked(value: JsValue) -> JsValue {
    masked_at(value, 0)
}

fn masked_at(value: JsValue, depth: u32) -> JsValue {
    if let Some(text) = value.as_string() {
        let clean = mask_secrets(&text);
        return if clean == text { value } else { clean.into() };
    }
    if !value.is_object() || depth > MAX_DEPTH {
        return value;
    }
    let Some(message) = get(&value, "message").as_string() else {
        return value;
    };
    let clean = mask_secrets(&message);
    let cause = get(&value, "cause");
    let clean_cause = if cause.is_undefined() {
        cause.clone()
    } else {
        masked_at(cause.clone(), depth + 1)
    };
    let cause_changed = !js_sys::Object::is(&cause, &clean_cause);
    if clean == message && !cause_changed {
        return value;
    }
    // The stack's first line quotes the message; its frames name code, not
    // requests. A stack that does not quote it whole is masked itself.
    let stack = match get(&value, "stack").as_string() {
        Some(s) if clean == message => s.into(),
        Some(s) if search::contains(&s, &message) => search::replace(&s, &message, &clean).into(),
        Some(s) => mask_secrets(&s).into(),
        None => JsValue::UNDEFINED,
    };
    remake_error(&value, &clean, &stack, &clean_cause)
}

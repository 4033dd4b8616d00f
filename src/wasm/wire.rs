//! A coordinator's messages on the wire, as both sides read and write
//! them: a quota failure (`{ status, headers, body }`, classified again
//! when read, so no classification is trusted from the wire), a key (16
//! hex digits, never the credentials) and a number.

use crate::text::fill;
use js_sys::Array;
use wasm_bindgen::prelude::*;

use super::bindings::{get, object, type_error};
use super::input::headers_from_js;
use super::snapshot::Snapshot;
use crate::limits::key::LimitKey;

/// A quota failure on the wire, `{ status, headers: [[name, value]], body }`:
/// what a replay carries.
pub(super) fn failure_js(snapshot: &Snapshot) -> JsValue {
    let headers: Array = snapshot
        .headers
        .iter()
        .map(|(n, v)| JsValue::from(Array::of2(&n.into(), &v.into())))
        .collect();
    object(&[
        ("status", snapshot.status.into()),
        ("headers", headers.into()),
        ("body", snapshot.body.as_str().into()),
    ])
}

/// A failure read back from the wire, classified here again (nothing is
/// trusted from it but what a replay shows).
pub(super) fn failure_from_js(value: &JsValue, now_ms: f64) -> Result<Snapshot, JsValue> {
    let status = get(value, "status")
        .as_f64()
        .filter(|s| (100.0..600.0).contains(s));
    let status = status.ok_or_else(|| type_error("ratewise coordinator: `failure.status`"))? as u16;
    let headers = headers_from_js(&get(value, "headers"), "failure.headers", true)?;
    let body = get(value, "body").as_string().unwrap_or_default();
    Ok(Snapshot::reread(status, headers, body, now_ms))
}

/// The finite number in `value`'s `field`.
pub(super) fn number(value: &JsValue, field: &'static str) -> Result<f64, JsValue> {
    get(value, field)
        .as_f64()
        .filter(|n| n.is_finite())
        .ok_or_else(|| {
            type_error(fill(
                "ratewise coordinator: `{}` must be a number",
                &[field],
            ))
        })
}

/// The limit key in `value`'s `key`.
pub(super) fn key_of(value: &JsValue) -> Result<LimitKey, JsValue> {
    let hex = get(value, "key").as_string().unwrap_or_default();
    LimitKey::from_hex(&hex)
        .ok_or_else(|| type_error("ratewise coordinator: `key` must be 16 hex digits"))
}

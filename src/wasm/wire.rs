//! A coordinator's messages on the wire, as both sides read and write
//! them: a quota failure (`{ status, headers, body }`: the instance
//! classifies it again when read, so no classification is trusted from the
//! wire; the coordinator only keeps and hands on its parts), a key (16 hex
//! digits, never the credentials) and a number.

use crate::text::fill;
use js_sys::Array;
use wasm_bindgen::prelude::*;

use super::bindings::{get, object, type_error};
use super::input::headers_from_js;
use crate::coordinator::record::Kept;
use crate::limits::key::LimitKey;

/// A quota failure on the wire, `{ status, headers: [[name, value]], body }`:
/// what a replay carries.
pub(super) fn failure_js<F: Kept>(failure: &F) -> JsValue {
    let (status, headers, body) = failure.parts();
    let headers: Array = headers
        .iter()
        .map(|(n, v)| JsValue::from(Array::of2(&n.into(), &v.into())))
        .collect();
    object(&[
        ("status", status.into()),
        ("headers", headers.into()),
        ("body", body.into()),
    ])
}

/// A failure read back from the wire, made of its parts by [`Kept::from_parts`]:
/// the instance's [`Snapshot`](super::snapshot::Snapshot) classifies it
/// again (nothing is trusted from it but what a replay shows); the
/// coordinator's [`Replay`](crate::coordinator::record::Replay) only keeps it.
pub(super) fn failure_from_js<F: Kept>(value: &JsValue, now_ms: f64) -> Result<F, JsValue> {
    let status = get(value, "status")
        .as_f64()
        .filter(|s| (100.0..600.0).contains(s));
    let status = status.ok_or_else(|| type_error("ratewise coordinator: `failure.status`"))? as u16;
    let headers = headers_from_js(&get(value, "headers"), "failure.headers", true)?;
    let body = get(value, "body").as_string().unwrap_or_default();
    Ok(F::from_parts(status, headers, body, now_ms))
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

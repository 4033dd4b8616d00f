//! `stats()` and `breaker()`: [`Stats`] and [`BreakerState`] through
//! serde-wasm-bindgen, as plain JS objects and arrays with numbers.

use serde::Serialize;
use serde_wasm_bindgen::Serializer;
use wasm_bindgen::JsValue;

use crate::limits::breaker::BreakerState;
use crate::stats::Stats;

/// Maps as plain objects (`byKind`, `byStop`, `byLane`), not ES `Map`s. The
/// counts reach it as `f64`s ([`Stats`]' serialization), so no `u64` path
/// (a range check and its formatted error, 0.5 KB gzipped) is compiled in.
const TO_JS: Serializer = Serializer::new().serialize_maps_as_objects(true);

/// `value` as JS. The serializer fails only on a map key that is not a
/// string, which these values do not have; the value would then be its
/// `Error`, which says so.
fn to_js<T: Serialize + ?Sized>(value: &T) -> JsValue {
    value.serialize(&TO_JS).unwrap_or_else(JsValue::from)
}

/// `stats()`, before fetch.rs adds `usage`.
pub fn stats_js(s: &Stats) -> JsValue {
    to_js(s)
}

/// `breaker()`: an array of one object per open key.
pub fn breakers_js(states: &[BreakerState]) -> JsValue {
    to_js(states)
}

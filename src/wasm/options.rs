//! `createFetch()` options: read, checked and turned into the core's types.
//! A wrong key, type or value is a `TypeError`/`RangeError` naming the field.

use js_sys::{Function, Object};
use wasm_bindgen::{JsCast, JsValue};

use super::bindings::{get, js_string, range_error, type_error, type_name};
use crate::backoff::{Backoff, Jitter};
use crate::duration::MAX_DELAY_MS;
use crate::policy::RetryPolicy;

const KNOWN: [&str; 13] = [
    "maxRetries",
    "baseDelayMs",
    "maxDelayMs",
    "jitter",
    "maxRetryAfterMs",
    "deadlineMs",
    "signal",
    "throwOnError",
    "onQuotaExhausted",
    "onRetry",
    "onEvent",
    "fetch",
    "maxErrorBodyBytes",
];

/// Everything `createFetch()` was configured with.
pub struct Config {
    /// Retry count, backoff and hint cap.
    pub policy: RetryPolicy,
    /// The time budget of each call, ms.
    pub deadline_ms: Option<f64>,
    /// A signal that aborts every call.
    pub signal: Option<web_sys::AbortSignal>,
    /// Reject with typed errors instead of returning the final response.
    pub throw_on_error: bool,
    /// Called when a quota is exhausted; may return a fallback Response.
    pub on_quota_exhausted: Option<Function>,
    /// Called before each retry sleep.
    pub on_retry: Option<Function>,
    /// Called after every attempt.
    pub on_event: Option<Function>,
    /// The fetch to call (default `globalThis.fetch`).
    pub fetch: Option<Function>,
    /// How much of an error body is read for classification.
    pub max_error_body_bytes: u32,
}

struct Options<'a>(&'a JsValue);

impl Options<'_> {
    fn number(&self, key: &str, integer: bool, max: f64) -> Result<Option<f64>, JsValue> {
        let value = get(self.0, key);
        if value.is_undefined() {
            return Ok(None);
        }
        let Some(n) = value.as_f64() else {
            return Err(type_error(format!(
                "createFetch: `{key}` must be a number, got {}",
                type_name(&value)
            )));
        };
        if n.is_nan() || n < 0.0 || n > max || (integer && n.fract() != 0.0) {
            let what = if integer { "an integer" } else { "a number" };
            let (max, got) = (js_string(&max.into()), js_string(&value));
            return Err(range_error(format!(
                "createFetch: `{key}` must be {what} from 0 to {max}, got {got}"
            )));
        }
        Ok(Some(n))
    }

    fn millis(&self, key: &str) -> Result<Option<u64>, JsValue> {
        Ok(self
            .number(key, false, MAX_DELAY_MS as f64)?
            .map(|n| n.ceil() as u64))
    }

    fn function(&self, key: &str) -> Result<Option<Function>, JsValue> {
        let value = get(self.0, key);
        if value.is_undefined() {
            return Ok(None);
        }
        value.dyn_into::<Function>().map(Some).map_err(|v| {
            type_error(format!(
                "createFetch: `{key}` must be a function, got {}",
                type_name(&v)
            ))
        })
    }

    fn boolean(&self, key: &str) -> Result<Option<bool>, JsValue> {
        let value = get(self.0, key);
        if value.is_undefined() {
            return Ok(None);
        }
        value.as_bool().map(Some).ok_or_else(|| {
            type_error(format!(
                "createFetch: `{key}` must be a boolean, got {}",
                type_name(&value)
            ))
        })
    }
}

/// Reads an `AbortSignal`-like value (checked by shape, so signals from
/// other realms and polyfills work).
pub fn signal(value: &JsValue, field: &str) -> Result<Option<web_sys::AbortSignal>, JsValue> {
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    if get(value, "aborted").as_bool().is_none() || !get(value, "addEventListener").is_function() {
        return Err(type_error(format!(
            "{field} must be an AbortSignal, got {}",
            type_name(value)
        )));
    }
    Ok(Some(value.clone().unchecked_into()))
}

impl Config {
    /// Reads and checks `createFetch(options)`.
    pub fn from_js(options: &JsValue) -> Result<Config, JsValue> {
        if options.is_undefined() || options.is_null() {
            return Config::from_js(&Object::new().into());
        }
        if !options.is_object() || js_sys::Array::is_array(options) {
            return Err(type_error(format!(
                "createFetch: options must be an object, got {}",
                type_name(options)
            )));
        }
        for key in Object::keys(options.unchecked_ref::<Object>()).iter() {
            let key = key.as_string().unwrap_or_default();
            if !KNOWN.contains(&key.as_str()) {
                return Err(type_error(format!(
                    "createFetch: unknown option `{key}` (known: {})",
                    KNOWN.join(", ")
                )));
            }
        }
        let o = Options(options);
        let defaults = RetryPolicy::default();
        let jitter = match get(options, "jitter") {
            v if v.is_undefined() => Jitter::default(),
            v => {
                let name = v.as_string().ok_or_else(|| {
                    type_error(format!(
                        "createFetch: `jitter` must be a string, got {}",
                        type_name(&v)
                    ))
                })?;
                Jitter::from_name(&name).ok_or_else(|| {
                    range_error(format!(
                        "createFetch: `jitter` must be 'full', 'equal', 'decorrelated' or 'none', got '{name}'"
                    ))
                })?
            }
        };
        let base_ms = o.millis("baseDelayMs")?.unwrap_or(defaults.backoff.base_ms);
        let max_ms = o
            .millis("maxDelayMs")?
            .unwrap_or(defaults.backoff.max_ms.max(base_ms));
        if max_ms < base_ms {
            return Err(range_error(format!(
                "createFetch: `maxDelayMs` ({max_ms}) must not be less than `baseDelayMs` ({base_ms})"
            )));
        }
        Ok(Config {
            policy: RetryPolicy {
                max_retries: o
                    .number("maxRetries", true, 1_000.0)?
                    .map_or(defaults.max_retries, |n| n as u32),
                backoff: Backoff {
                    base_ms,
                    max_ms,
                    jitter,
                },
                max_retry_after_ms: o
                    .millis("maxRetryAfterMs")?
                    .unwrap_or(defaults.max_retry_after_ms),
            },
            deadline_ms: o.millis("deadlineMs")?.map(|n| n as f64),
            signal: signal(&get(options, "signal"), "createFetch: `signal`")?,
            throw_on_error: o.boolean("throwOnError")?.unwrap_or(false),
            on_quota_exhausted: o.function("onQuotaExhausted")?,
            on_retry: o.function("onRetry")?,
            on_event: o.function("onEvent")?,
            fetch: o.function("fetch")?,
            max_error_body_bytes: o
                .number(
                    "maxErrorBodyBytes",
                    true,
                    crate::body::MAX_BODY_BYTES as f64,
                )?
                .map_or(crate::body::MAX_BODY_BYTES as u32, |n| n as u32),
        })
    }
}

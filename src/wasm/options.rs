//! `createFetch()` options: read, checked and turned into the core's types.
//! A wrong key, type or value is a `TypeError`/`RangeError` naming the field.

use js_sys::{Function, Object};
use wasm_bindgen::{JsCast, JsValue};

use super::bindings::{get, js_string, range_error, type_error, type_name};
use crate::classify::body::MAX_BODY_BYTES;
use crate::classify::duration::MAX_DELAY_MS;
use crate::limits::breaker::DEFAULT_COOLDOWN_MS;
use crate::limits::budget::{RetryBudget, DEFAULT_CAPACITY, DEFAULT_REFUND, DEFAULT_RETRY_COST};
use crate::limits::throttle::DEFAULT_COLD_START;
use crate::retry::backoff::{Backoff, Jitter};
use crate::retry::policy::RetryPolicy;

const KNOWN: [&str; 19] = [
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
    "maxConcurrency",
    "maxQueue",
    "throttle",
    "retryBudget",
    "quotaCooldownMs",
    "routes",
];
const ROUTE_KEYS: [&str; 3] = ["apiKey", "baseURL", "model"];
const BUDGET_KEYS: [&str; 3] = ["capacity", "retryCost", "refund"];
const THROTTLE_KEYS: [&str; 1] = ["coldStart"];
/// The most requests `throttle.coldStart` may send before the first answer.
const MAX_COLD_START: f64 = 1_000.0;

/// A fallback route: what to change in the request when the routes before
/// it are out of quota.
#[derive(Debug, Clone, Default)]
pub struct Route {
    /// Replaces the API key (Authorization bearer, `x-api-key` or `api-key`).
    pub api_key: Option<String>,
    /// Replaces the scheme, host and port of the URL; the path is kept.
    pub base_url: Option<String>,
    /// Replaces `model` in a JSON request body.
    pub model: Option<String>,
}

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
    /// Calls in flight at once.
    pub max_concurrency: usize,
    /// Calls waiting for a slot; more are rejected.
    pub max_queue: usize,
    /// Whether to pace requests from the rate-limit headers.
    pub throttle: bool,
    /// Requests sent to a key nothing was heard from before the others
    /// hold for its first answer.
    pub cold_start: u32,
    /// The retry budget, or `None` when disabled.
    pub retry_budget: Option<RetryBudget>,
    /// How long the quota breaker stays open, ms.
    pub quota_cooldown_ms: f64,
    /// Fallback routes, in order.
    pub routes: Vec<Route>,
}

/// An options object, and the path that names its fields in errors.
struct Options<'a> {
    value: &'a JsValue,
    path: &'a str,
}

impl Options<'_> {
    fn new<'a>(value: &'a JsValue, path: &'a str) -> Result<Options<'a>, JsValue> {
        if !value.is_object() || js_sys::Array::is_array(value) {
            let what = if path.is_empty() {
                "options"
            } else {
                path.trim_end_matches('.')
            };
            return Err(type_error(format!(
                "createFetch: {what} must be an object, got {}",
                type_name(value)
            )));
        }
        Ok(Options { value, path })
    }

    fn check_keys(&self, known: &[&str]) -> Result<(), JsValue> {
        for key in Object::keys(self.value.unchecked_ref::<Object>()).iter() {
            let key = key.as_string().unwrap_or_default();
            if !known.contains(&key.as_str()) {
                let (path, known) = (self.path, known.join(", "));
                return Err(type_error(format!(
                    "createFetch: unknown option `{path}{key}` (known: {known})"
                )));
            }
        }
        Ok(())
    }

    /// `options[key]`; a getter that throws makes `createFetch` throw too.
    fn get(&self, key: &'static str) -> Result<JsValue, JsValue> {
        js_sys::Reflect::get(self.value, &JsValue::from_str(key))
    }

    fn wrong_type(&self, key: &'static str, want: &str, value: &JsValue) -> JsValue {
        type_error(format!(
            "createFetch: `{}{key}` must be {want}, got {}",
            self.path,
            type_name(value)
        ))
    }

    fn number(&self, key: &'static str, integer: bool, max: f64) -> Result<Option<f64>, JsValue> {
        let value = self.get(key)?;
        if value.is_undefined() {
            return Ok(None);
        }
        let Some(n) = value.as_f64() else {
            return Err(self.wrong_type(key, "a number", &value));
        };
        if n.is_nan() || n < 0.0 || n > max || (integer && n.fract() != 0.0) {
            let what = if integer { "an integer" } else { "a number" };
            let (path, max, got) = (self.path, js_string(&max.into()), js_string(&value));
            return Err(range_error(format!(
                "createFetch: `{path}{key}` must be {what} from 0 to {max}, got {got}"
            )));
        }
        Ok(Some(n))
    }

    fn millis(&self, key: &'static str) -> Result<Option<u64>, JsValue> {
        Ok(self
            .number(key, false, MAX_DELAY_MS as f64)?
            .map(|n| n.ceil() as u64))
    }

    /// A count that may be `Infinity` (no limit), at least `min`.
    fn count(&self, key: &'static str, min: usize) -> Result<Option<usize>, JsValue> {
        let value = self.get(key)?;
        match value.as_f64() {
            None if value.is_undefined() => Ok(None),
            None => Err(self.wrong_type(key, "a number", &value)),
            Some(n) if n == f64::INFINITY => Ok(Some(usize::MAX)),
            Some(n) if n.fract() == 0.0 && n >= min as f64 && n <= 1e9 => Ok(Some(n as usize)),
            Some(_) => Err(range_error(format!(
                "createFetch: `{}{key}` must be an integer from {min} up, or Infinity, got {}",
                self.path,
                js_string(&value)
            ))),
        }
    }

    fn function(&self, key: &'static str) -> Result<Option<Function>, JsValue> {
        let value = self.get(key)?;
        if value.is_undefined() {
            return Ok(None);
        }
        value
            .dyn_into::<Function>()
            .map(Some)
            .map_err(|v| self.wrong_type(key, "a function", &v))
    }

    fn boolean(&self, key: &'static str) -> Result<Option<bool>, JsValue> {
        let value = self.get(key)?;
        if value.is_undefined() {
            return Ok(None);
        }
        value
            .as_bool()
            .map(Some)
            .ok_or_else(|| self.wrong_type(key, "a boolean", &value))
    }

    fn string(&self, key: &'static str) -> Result<Option<String>, JsValue> {
        let value = self.get(key)?;
        if value.is_undefined() {
            return Ok(None);
        }
        match value.as_string() {
            Some(s) if !s.is_empty() => Ok(Some(s)),
            _ => Err(self.wrong_type(key, "a non-empty string", &value)),
        }
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

fn jitter(o: &Options<'_>) -> Result<Jitter, JsValue> {
    let value = o.get("jitter")?;
    if value.is_undefined() {
        return Ok(Jitter::default());
    }
    let name = value
        .as_string()
        .ok_or_else(|| o.wrong_type("jitter", "a string", &value))?;
    Jitter::from_name(&name).ok_or_else(|| {
        range_error(format!(
            "createFetch: `jitter` must be 'full', 'equal', 'decorrelated' or 'none', got '{name}'"
        ))
    })
}

fn retry_budget(o: &Options<'_>) -> Result<Option<RetryBudget>, JsValue> {
    let value = o.get("retryBudget")?;
    if value.is_undefined() || value.as_bool() == Some(true) {
        return Ok(Some(RetryBudget::default()));
    }
    if value.as_bool() == Some(false) {
        return Ok(None);
    }
    let b = Options::new(&value, "retryBudget.")?;
    b.check_keys(&BUDGET_KEYS)?;
    let n = |key, default| -> Result<u32, JsValue> {
        Ok(b.number(key, true, 1e9)?.map_or(default, |n| n as u32))
    };
    Ok(Some(RetryBudget::new(
        n("capacity", DEFAULT_CAPACITY)?,
        n("retryCost", DEFAULT_RETRY_COST)?,
        n("refund", DEFAULT_REFUND)?,
    )))
}

/// `throttle`: `true` (the default), `false`, or `{ coldStart }`.
fn throttle(o: &Options<'_>) -> Result<(bool, u32), JsValue> {
    let value = o.get("throttle")?;
    if value.is_undefined() {
        return Ok((true, DEFAULT_COLD_START));
    }
    if let Some(on) = value.as_bool() {
        return Ok((on, DEFAULT_COLD_START));
    }
    if !value.is_object() || js_sys::Array::is_array(&value) {
        return Err(o.wrong_type("throttle", "a boolean or an object", &value));
    }
    let t = Options::new(&value, "throttle.")?;
    t.check_keys(&THROTTLE_KEYS)?;
    let cold_start = t
        .number("coldStart", true, MAX_COLD_START)?
        .map_or(DEFAULT_COLD_START, |n| n as u32);
    Ok((true, cold_start))
}

fn routes(o: &Options<'_>) -> Result<Vec<Route>, JsValue> {
    let value = o.get("routes")?;
    if value.is_undefined() {
        return Ok(Vec::new());
    }
    let list = value
        .dyn_ref::<js_sys::Array>()
        .ok_or_else(|| o.wrong_type("routes", "an array", &value))?;
    let mut routes = Vec::new();
    for (i, item) in list.iter().enumerate() {
        let path = format!("routes[{i}].");
        let r = Options::new(&item, &path)?;
        r.check_keys(&ROUTE_KEYS)?;
        let route = Route {
            api_key: r.string("apiKey")?,
            base_url: r.string("baseURL")?,
            model: r.string("model")?,
        };
        if let Some(base) = &route.base_url {
            let host = base
                .strip_prefix("https://")
                .or_else(|| base.strip_prefix("http://"))
                .and_then(|rest| rest.split(['/', '?', '#']).next())
                .filter(|host| !host.is_empty());
            if host.is_none() {
                return Err(type_error(format!(
                    "createFetch: `routes[{i}].baseURL` must be an http(s) URL with a host"
                )));
            }
        }
        routes.push(route);
    }
    Ok(routes)
}

impl Config {
    /// Reads and checks `createFetch(options)`.
    pub fn from_js(options: &JsValue) -> Result<Config, JsValue> {
        let empty: JsValue = Object::new().into();
        let options = if options.is_undefined() || options.is_null() {
            &empty
        } else {
            options
        };
        let o = Options::new(options, "")?;
        o.check_keys(&KNOWN)?;
        let defaults = RetryPolicy::default();
        let base_ms = o.millis("baseDelayMs")?.unwrap_or(defaults.backoff.base_ms);
        let max_ms = o
            .millis("maxDelayMs")?
            .unwrap_or(defaults.backoff.max_ms.max(base_ms));
        if max_ms < base_ms {
            return Err(range_error(format!(
                "createFetch: `maxDelayMs` ({max_ms}) must not be less than `baseDelayMs` ({base_ms})"
            )));
        }
        let (throttle, cold_start) = throttle(&o)?;
        Ok(Config {
            policy: RetryPolicy {
                max_retries: o
                    .number("maxRetries", true, 1_000.0)?
                    .map_or(defaults.max_retries, |n| n as u32),
                backoff: Backoff {
                    base_ms,
                    max_ms,
                    jitter: jitter(&o)?,
                },
                max_retry_after_ms: o
                    .millis("maxRetryAfterMs")?
                    .unwrap_or(defaults.max_retry_after_ms),
            },
            deadline_ms: o.millis("deadlineMs")?.map(|n| n as f64),
            signal: signal(&o.get("signal")?, "createFetch: `signal`")?,
            throw_on_error: o.boolean("throwOnError")?.unwrap_or(false),
            on_quota_exhausted: o.function("onQuotaExhausted")?,
            on_retry: o.function("onRetry")?,
            on_event: o.function("onEvent")?,
            fetch: o.function("fetch")?,
            max_error_body_bytes: o
                .number("maxErrorBodyBytes", true, MAX_BODY_BYTES as f64)?
                .map_or(MAX_BODY_BYTES as u32, |n| n as u32),
            max_concurrency: o.count("maxConcurrency", 1)?.unwrap_or(usize::MAX),
            max_queue: o.count("maxQueue", 0)?.unwrap_or(usize::MAX),
            throttle,
            cold_start,
            retry_budget: retry_budget(&o)?,
            quota_cooldown_ms: o
                .millis("quotaCooldownMs")?
                .map_or(DEFAULT_COOLDOWN_MS, |n| n as f64),
            routes: routes(&o)?,
        })
    }
}

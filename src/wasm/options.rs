//! `createFetch()` options: read, checked and turned into the core's types.
//! A wrong key, type or value is a `TypeError`/`RangeError` naming the field.

use crate::text::{dec, fill};
use std::cell::RefCell;

use js_sys::{Function, Object};
use wasm_bindgen::{JsCast, JsValue};

use super::bindings::{
    self, get, is_array, js_string, object_keys, range_error, type_error, type_name,
};
use super::coordinator;
use crate::classify::body::MAX_BODY_BYTES;
use crate::classify::duration::MAX_DELAY_MS;
use crate::limits::breaker::DEFAULT_COOLDOWN_MS;
use crate::limits::budget::{RetryBudget, DEFAULT_CAPACITY, DEFAULT_REFUND, DEFAULT_RETRY_COST};
use crate::limits::outage::OutageSettings;
use crate::limits::routes::{KindSet, DEFAULT_FAILOVER, FAILOVER_KINDS};
use crate::limits::subrequests::{Subrequests, DEFAULT_SUBREQUESTS};
use crate::limits::throttle::DEFAULT_COLD_START;
use crate::limits::Settings;
use crate::retry::backoff::{Backoff, Jitter};
use crate::retry::policy::RetryPolicy;

const KNOWN: [&str; 35] = [
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
    "failoverOn",
    "outageBreaker",
    "onBreakerOpen",
    "onBreakerClose",
    "coordinator",
    "onCoordinatorError",
    "peekStream",
    "onStreamError",
    "cache",
    "lanes",
    "telemetry",
    "usage",
    "prices",
    "onUsage",
    "budgets",
    "onBudget",
];
const ROUTE_KEYS: [&str; 5] = ["apiKey", "baseURL", "model", "azure", "headers"];
const AZURE_KEYS: [&str; 5] = ["endpoint", "resource", "deployment", "apiVersion", "apiKey"];
const OUTAGE_KEYS: [&str; 2] = ["failures", "cooldownMs"];
const BUDGET_KEYS: [&str; 3] = ["capacity", "retryCost", "refund"];
const THROTTLE_KEYS: [&str; 1] = ["coldStart"];
/// The most requests `throttle.coldStart` may send before the first answer.
const MAX_COLD_START: f64 = 1_000.0;
const LANES_KEYS: [&str; 1] = ["bulk"];
const BULK_LANE_KEYS: [&str; 1] = ["route"];
const INVOCATION_KEYS: [&str; 3] = ["subrequests", "coordinator", "waitUntil"];
/// The cached-response fallback (`cache`).
pub struct Cache {
    /// The JavaScript cache (`js/cache.js`): its store, key function and bounds.
    pub js: JsValue,
    /// What is stored and answered, and for how long.
    pub rules: crate::cache::Rules,
}

/// A fallback route: what to change in the request when the routes before
/// it are out of quota (or, per `failoverOn`, failing).
#[derive(Debug, Clone, Default)]
pub struct Route {
    /// Replaces the API key (Authorization bearer, `x-api-key` or `api-key`).
    pub api_key: Option<String>,
    /// Replaces the origin and the base path the URL shares with it.
    pub base_url: Option<String>,
    /// Replaces `model` in a JSON request body, or in a Gemini-style path.
    pub model: Option<String>,
    /// Sends to an Azure OpenAI deployment instead.
    pub azure: Option<Azure>,
    /// Headers the route sets (`Some`) or removes (`None`), in order: a
    /// sibling project's `OpenAI-Project`, say.
    pub headers: Vec<(String, Option<String>)>,
}

/// An Azure OpenAI deployment as a route (the classic data plane).
#[derive(Debug, Clone, Default)]
pub struct Azure {
    /// `https://{resource}.openai.azure.com`, or the endpoint as given.
    pub endpoint: String,
    /// The deployment, which names the model.
    pub deployment: String,
    /// The `api-version` query parameter.
    pub api_version: String,
    /// Sent in the `api-key` header, in place of the request's credentials.
    pub api_key: String,
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
    /// The limiters' settings: queue, throttle, budget, breakers, lanes.
    pub limits: Settings,
    /// The Durable Object namespace that shares breakers across isolates.
    pub coordinator: Option<JsValue>,
    /// Called when the coordinator fails or is late.
    pub on_coordinator_error: Option<Function>,
    /// Whether a 2xx event stream is read up to its first event, to route
    /// an error event as the answer it stands for.
    pub peek_stream: bool,
    /// Called with an error event that came after output reached the caller.
    pub on_stream_error: Option<Function>,
    /// Fallback routes, in order.
    pub routes: Vec<Route>,
    /// Called once when a breaker opens.
    pub on_breaker_open: Option<Function>,
    /// Called once when a breaker closes.
    pub on_breaker_close: Option<Function>,
    /// The cached-response fallback, if set.
    pub cache: Option<Cache>,
    /// The OpenTelemetry glue (js/telemetry.js), if `telemetry` is on.
    pub telemetry: Option<JsValue>,
    /// The usage tap and prices: `usage`, `prices`, `onUsage`.
    pub usage: super::prices::Settings,
}

/// An options object, and the path that names its fields in errors.
struct Options<'a> {
    value: &'a JsValue,
    path: &'a str,
    /// The function whose options these are, for errors.
    caller: &'static str,
}

impl Options<'_> {
    fn new<'a>(value: &'a JsValue, path: &'a str) -> Result<Options<'a>, JsValue> {
        Options::of("createFetch", value, path)
    }

    fn of<'a>(
        caller: &'static str,
        value: &'a JsValue,
        path: &'a str,
    ) -> Result<Options<'a>, JsValue> {
        if !value.is_object() || is_array(value) {
            let what = if path.is_empty() {
                "options"
            } else {
                path.trim_end_matches('.')
            };
            return Err(type_error(fill(
                "{}: {} must be an object, got {}",
                &[caller, what, &type_name(value)],
            )));
        }
        Ok(Options {
            value,
            path,
            caller,
        })
    }

    fn check_keys(&self, known: &[&str]) -> Result<(), JsValue> {
        let keys = object_keys(self.value).map_err(|cause| {
            let what = match self.path.trim_end_matches('.') {
                "" => "options".to_owned(),
                path => fill("`{}`", &[path]),
            };
            unreadable(fill("{}: the keys of {}", &[self.caller, &what]), &cause)
        })?;
        for key in keys.iter() {
            let key = key.as_string().unwrap_or_default();
            if !known.contains(&key.as_str()) {
                let (caller, path, known) = (self.caller, self.path, known.join(", "));
                return Err(type_error(fill(
                    "{}: unknown option `{}{}` (known: {})",
                    &[caller, path, &key, &known],
                )));
            }
        }
        Ok(())
    }

    /// `options[key]` if the options object owns it, else `undefined`: a
    /// value inherited from a polluted `Object.prototype` (a `fetch` that
    /// would receive every request's credentials) is never an option. A
    /// getter or Proxy trap that throws makes `createFetch` throw a
    /// TypeError naming the field, with what it threw as `cause`.
    fn get(&self, key: &'static str) -> Result<JsValue, JsValue> {
        let name = JsValue::from_str(key);
        let unreadable =
            |cause: JsValue| unreadable(fill("{}: `{}{}`", &[self.caller, self.path, key]), &cause);
        let own = js_sys::Reflect::get_own_property_descriptor(
            self.value.unchecked_ref::<js_sys::Object>(),
            &name,
        )
        .map_err(unreadable)?;
        if own.is_undefined() {
            return Ok(JsValue::UNDEFINED);
        }
        js_sys::Reflect::get(self.value, &name).map_err(unreadable)
    }

    fn wrong_type(&self, key: &'static str, want: &str, value: &JsValue) -> JsValue {
        type_error(fill(
            "{}: `{}{}` must be {}, got {}",
            &[self.caller, self.path, key, want, &type_name(value)],
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
            return Err(range_error(fill(
                "{}: `{}{}` must be {} from 0 to {}, got {}",
                &[self.caller, path, key, what, &max, &got],
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
            Some(_) => Err(range_error(fill(
                "{}: `{}{}` must be an integer from {} up, or Infinity, got {}",
                &[
                    self.caller,
                    self.path,
                    key,
                    &dec(min as u64),
                    &js_string(&value),
                ],
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

    /// A string that must be given.
    fn required(&self, key: &'static str) -> Result<String, JsValue> {
        match self.string(key)? {
            Some(s) => Ok(s),
            None => Err(self.wrong_type(key, "a non-empty string", &JsValue::UNDEFINED)),
        }
    }

    /// An http(s) URL with a host and neither query nor fragment.
    fn base(&self, key: &'static str) -> Result<Option<String>, JsValue> {
        let Some(base) = self.string(key)? else {
            return Ok(None);
        };
        let host = base
            .strip_prefix("https://")
            .or_else(|| base.strip_prefix("http://"))
            .and_then(|rest| rest.split(['/', '?', '#']).next())
            .filter(|host| !host.is_empty());
        if host.is_none() || base.contains(['?', '#']) {
            return Err(type_error(fill(
                "{}: `{}{}` must be an http(s) URL with a host and no query or fragment",
                &[self.caller, self.path, key],
            )));
        }
        Ok(Some(base))
    }
}

/// The TypeError for a field whose getter (or Proxy trap) threw `cause`:
/// "`{what}` could not be read: {its message}", with `cause` attached.
fn unreadable(what: String, cause: &JsValue) -> JsValue {
    let message = get(cause, "message")
        .as_string()
        .unwrap_or_else(|| type_name(cause));
    let error = type_error(fill("{} could not be read: {}", &[&what, &message]));
    // Setting a property on a fresh TypeError cannot fail.
    let _ = js_sys::Reflect::set(&error, &"cause".into(), cause);
    error
}

/// Reads an `AbortSignal`-like value (checked by shape, so signals from
/// other realms and polyfills work).
pub fn signal(value: &JsValue, field: &str) -> Result<Option<web_sys::AbortSignal>, JsValue> {
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    if get(value, "aborted").as_bool().is_none() || !get(value, "addEventListener").is_function() {
        return Err(type_error(fill(
            "{} must be an AbortSignal, got {}",
            &[field, &type_name(value)],
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
        range_error(fill(
            "createFetch: `jitter` must be 'full', 'equal', 'decorrelated' or 'none', got '{}'",
            &[&name],
        ))
    })
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
    if !value.is_object() || is_array(&value) {
        return Err(o.wrong_type("throttle", "a boolean or an object", &value));
    }
    let t = Options::new(&value, "throttle.")?;
    t.check_keys(&THROTTLE_KEYS)?;
    let cold_start = t
        .number("coldStart", true, MAX_COLD_START)?
        .map_or(DEFAULT_COLD_START, |n| n as u32);
    Ok((true, cold_start))
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

fn routes(o: &Options<'_>) -> Result<Vec<Route>, JsValue> {
    let value = o.get("routes")?;
    if value.is_undefined() {
        return Ok(Vec::new());
    }
    if !is_array(&value) {
        return Err(o.wrong_type("routes", "an array", &value));
    }
    // Read through `Reflect` (which catches): the array may be a Proxy, or
    // have getters.
    let length = js_sys::Reflect::get(&value, &"length".into())
        .map_err(|cause| unreadable("createFetch: `routes.length`".into(), &cause))?
        .as_f64()
        .unwrap_or(0.0);
    let mut routes = Vec::new();
    for i in 0..length.clamp(0.0, u32::MAX as f64) as u32 {
        let item = js_sys::Reflect::get_u32(&value, i).map_err(|cause| {
            unreadable(fill("createFetch: `routes[{}]`", &[&dec(i.into())]), &cause)
        })?;
        let path = fill("routes[{}].", &[&dec(i.into())]);
        let r = Options::new(&item, &path)?;
        r.check_keys(&ROUTE_KEYS)?;
        let route = Route {
            api_key: r.string("apiKey")?,
            base_url: r.base("baseURL")?,
            model: r.string("model")?,
            azure: azure(&r, i as usize)?,
            headers: route_headers(&r)?,
        };
        if route.azure.is_some() {
            let other = ["apiKey", "baseURL", "model"]
                .into_iter()
                .find(|k| r.get(k).is_ok_and(|v| !v.is_undefined()));
            if let Some(other) = other {
                return Err(type_error(fill("createFetch: `{}{}` cannot be combined with `{}azure`, which sets the URL, the key and (by its deployment) the model", &[&path, other, &path])));
            }
        }
        routes.push(route);
    }
    Ok(routes)
}

/// `routes[i].headers`: `{ name: value }` sets a header on the route,
/// `{ name: null }` removes it. Names are lower-cased; the platform checks
/// them and their values when the request is built.
fn route_headers(r: &Options<'_>) -> Result<Vec<(String, Option<String>)>, JsValue> {
    let value = r.get("headers")?;
    if value.is_undefined() {
        return Ok(Vec::new());
    }
    let path = fill("{}headers.", &[r.path]);
    let h = Options::of(r.caller, &value, &path)?;
    let keys = object_keys(&value).map_err(|cause| {
        unreadable(
            fill("{}: the keys of `{}headers`", &[r.caller, r.path]),
            &cause,
        )
    })?;
    let mut out = Vec::new();
    for key in keys.iter() {
        let name = key.as_string().unwrap_or_default();
        let v = js_sys::Reflect::get(&value, &key)
            .map_err(|cause| unreadable(fill("{}: `{}{}`", &[h.caller, h.path, &name]), &cause))?;
        let v = if v.is_null() {
            None
        } else if let Some(s) = v.as_string() {
            Some(s)
        } else {
            return Err(type_error(fill(
                "{}: `{}{}` must be a string, or null to remove the header, got {}",
                &[h.caller, h.path, &name, &type_name(&v)],
            )));
        };
        if name.trim().is_empty() {
            return Err(type_error(fill(
                "{}: `{}headers` has an empty header name",
                &[r.caller, r.path],
            )));
        }
        out.push((name.trim().to_ascii_lowercase(), v));
    }
    Ok(out)
}

fn azure(r: &Options<'_>, i: usize) -> Result<Option<Azure>, JsValue> {
    let value = r.get("azure")?;
    if value.is_undefined() {
        return Ok(None);
    }
    let at = fill("routes[{}].", &[&dec(i as u64)]);
    let path = fill("{}azure.", &[&at]);
    let a = Options::new(&value, &path)?;
    a.check_keys(&AZURE_KEYS)?;
    let endpoint = match (a.base("endpoint")?, a.string("resource")?) {
        (Some(endpoint), None) => endpoint,
        (None, Some(resource)) => {
            let name = resource
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-');
            if !name {
                return Err(type_error(fill("createFetch: `{}resource` must be an Azure resource name (letters, digits and hyphens), as in https://{resource}.openai.azure.com", &[&path])));
            }
            fill("https://{}.openai.azure.com", &[&resource])
        }
        _ => {
            return Err(type_error(fill("createFetch: `{}azure` needs one of `{}resource` (the name in https://{resource}.openai.azure.com) or `{}endpoint`", &[&at, &path, &path])))
        }
    };
    let endpoint = endpoint.trim_end_matches('/');
    Ok(Some(Azure {
        endpoint: endpoint
            .strip_suffix("/openai")
            .unwrap_or(endpoint)
            .to_owned(),
        deployment: a.required("deployment")?,
        api_version: a.required("apiVersion")?,
        api_key: a.required("apiKey")?,
    }))
}

fn failover_on(o: &Options<'_>) -> Result<KindSet, JsValue> {
    let value = o.get("failoverOn")?;
    if value.is_undefined() {
        return Ok(KindSet::of(&DEFAULT_FAILOVER));
    }
    let list = value
        .dyn_ref::<js_sys::Array>()
        .ok_or_else(|| o.wrong_type("failoverOn", "an array of kinds", &value))?;
    let mut kinds = Vec::new();
    for (i, item) in list.iter().enumerate() {
        let Some(name) = item.as_string() else {
            return Err(type_error(fill(
                "createFetch: `failoverOn[{}]` must be a string, got {}",
                &[&dec(i as u64), &type_name(&item)],
            )));
        };
        let Some(kind) = FAILOVER_KINDS.into_iter().find(|k| k.as_str() == name) else {
            let known: Vec<&str> = FAILOVER_KINDS.iter().map(|k| k.as_str()).collect();
            return Err(range_error(fill(
                "createFetch: `failoverOn[{}]` must be one of '{}', got '{}'",
                &[&dec(i as u64), &known.join("', '"), &name],
            )));
        };
        kinds.push(kind);
    }
    Ok(KindSet::of(&kinds))
}

fn outage_breaker(o: &Options<'_>) -> Result<Option<OutageSettings>, JsValue> {
    let value = o.get("outageBreaker")?;
    match value.as_bool() {
        _ if value.is_undefined() => return Ok(Some(OutageSettings::default())),
        Some(on) => return Ok(on.then(OutageSettings::default)),
        None if !value.is_object() || js_sys::Array::is_array(&value) => {
            return Err(o.wrong_type("outageBreaker", "a boolean or an object", &value))
        }
        None => {}
    }
    let b = Options::new(&value, "outageBreaker.")?;
    b.check_keys(&OUTAGE_KEYS)?;
    let defaults = OutageSettings::default();
    Ok(Some(OutageSettings {
        failures: b
            .count("failures", 1)?
            .map_or(defaults.failures, |n| u32::try_from(n).unwrap_or(u32::MAX)),
        cooldown_ms: b
            .millis("cooldownMs")?
            .map_or(defaults.cooldown_ms, |n| n as f64),
    }))
}

/// `lanes: { bulk: { route } }`: the route a bulk call starts on under
/// pressure, one of `routes`.
fn lanes(o: &Options<'_>, routes: usize) -> Result<Option<usize>, JsValue> {
    let value = o.get("lanes")?;
    if value.is_undefined() {
        return Ok(None);
    }
    let l = Options::new(&value, "lanes.")?;
    l.check_keys(&LANES_KEYS)?;
    let bulk = l.get("bulk")?;
    if bulk.is_undefined() {
        return Ok(None);
    }
    let b = Options::new(&bulk, "lanes.bulk.")?;
    b.check_keys(&BULK_LANE_KEYS)?;
    match b.count("route", 1)? {
        Some(route) if route <= routes => Ok(Some(route)),
        Some(_) => Err(range_error(
            "createFetch: `lanes.bulk.route` must be the index of one of `routes` (1 is the first)",
        )),
        None => Err(b.wrong_type("route", "a route index", &JsValue::UNDEFINED)),
    }
}

/// `cache`: checked and kept by `js/cache.js`; the core reads its rules.
fn cache(o: &Options<'_>) -> Result<Option<Cache>, JsValue> {
    let value = o.get("cache")?;
    if value.is_undefined() {
        return Ok(None);
    }
    let js = bindings::make_cache(&value)?;
    let rules = crate::cache::Rules {
        ttl_ms: get(&js, "ttlMs").as_f64().unwrap_or(0.0),
        streams: get(&js, "streams").is_truthy(),
        any_request: get(&js, "anyRequest").is_truthy(),
        share_across_keys: get(&js, "shareAcrossKeys").is_truthy(),
    };
    Ok(Some(Cache { js, rules }))
}

/// What `forInvocation(options)` sets for one invocation.
pub struct Invocation {
    /// Its subrequest budget, shared by its calls.
    pub subrequests: RefCell<Subrequests>,
    /// Its coordinator, in place of the instance's.
    pub coordinator: Option<JsValue>,
    /// The Worker's `ctx.waitUntil`, which keeps the invocation alive until
    /// a success is stored in the cache.
    pub wait_until: Option<Function>,
}

/// Reads and checks `forInvocation(options)`.
pub fn invocation(options: &JsValue) -> Result<Invocation, JsValue> {
    let empty: JsValue = Object::new().into();
    let options = if options.is_undefined() {
        &empty
    } else {
        options
    };
    let o = Options::of("forInvocation", options, "")?;
    o.check_keys(&INVOCATION_KEYS)?;
    let limit = o.number("subrequests", true, 1e9)?;
    Ok(Invocation {
        subrequests: RefCell::new(Subrequests::new(
            limit.map_or(DEFAULT_SUBREQUESTS, |n| n as u32),
        )),
        coordinator: coordinator::namespace(o.get("coordinator")?, "forInvocation: `coordinator`")?,
        wait_until: o.function("waitUntil")?,
    })
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
        let (throttle, cold_start) = throttle(&o)?;
        let base_ms = o.millis("baseDelayMs")?.unwrap_or(defaults.backoff.base_ms);
        let max_ms = o
            .millis("maxDelayMs")?
            .unwrap_or(defaults.backoff.max_ms.max(base_ms));
        if max_ms < base_ms {
            return Err(range_error(fill(
                "createFetch: `maxDelayMs` ({}) must not be less than `baseDelayMs` ({})",
                &[&dec(max_ms), &dec(base_ms)],
            )));
        }
        let routes = routes(&o)?;
        // Every field read into a local first, in the order the options are
        // read: one shared drop ladder for the early returns, where `?`
        // inside the struct literal dropped each partly built `Config` anew.
        let max_retries = o
            .number("maxRetries", true, 1_000.0)?
            .map_or(defaults.max_retries, |n| n as u32);
        let jitter = jitter(&o)?;
        let max_retry_after_ms = o
            .millis("maxRetryAfterMs")?
            .unwrap_or(defaults.max_retry_after_ms);
        let deadline_ms = o.millis("deadlineMs")?.map(|n| n as f64);
        let signal = signal(&o.get("signal")?, "createFetch: `signal`")?;
        let throw_on_error = o.boolean("throwOnError")?.unwrap_or(false);
        let on_quota_exhausted = o.function("onQuotaExhausted")?;
        let on_retry = o.function("onRetry")?;
        let on_event = o.function("onEvent")?;
        let fetch = o.function("fetch")?;
        let max_error_body_bytes = o
            .number("maxErrorBodyBytes", true, MAX_BODY_BYTES as f64)?
            .map_or(MAX_BODY_BYTES as u32, |n| n as u32);
        let max_concurrency = o.count("maxConcurrency", 1)?.unwrap_or(usize::MAX);
        let max_queue = o.count("maxQueue", 0)?.unwrap_or(usize::MAX);
        let retry_budget = retry_budget(&o)?;
        let quota_cooldown_ms = o
            .millis("quotaCooldownMs")?
            .map_or(DEFAULT_COOLDOWN_MS, |n| n as f64);
        let failover_on = failover_on(&o)?;
        let outage = outage_breaker(&o)?;
        let bulk_route = lanes(&o, routes.len())?;
        let on_breaker_open = o.function("onBreakerOpen")?;
        let on_breaker_close = o.function("onBreakerClose")?;
        let coordinator =
            coordinator::namespace(o.get("coordinator")?, "createFetch: `coordinator`")?;
        let on_coordinator_error = o.function("onCoordinatorError")?;
        let peek_stream = o.boolean("peekStream")?.unwrap_or(false);
        let on_stream_error = o.function("onStreamError")?;
        let cache = cache(&o)?;
        let telemetry = super::telemetry::option(&o.get("telemetry")?)?;
        let usage = super::prices::Settings::read(
            o.get("usage")?,
            o.get("prices")?,
            o.function("onUsage")?,
        )?
        .with_budgets(super::budgets::read(
            o.get("budgets")?,
            o.function("onBudget")?,
            routes.len(),
        )?);
        Ok(Config {
            policy: RetryPolicy {
                max_retries,
                backoff: Backoff {
                    base_ms,
                    max_ms,
                    jitter,
                },
                max_retry_after_ms,
            },
            deadline_ms,
            signal,
            throw_on_error,
            on_quota_exhausted,
            on_retry,
            on_event,
            fetch,
            max_error_body_bytes,
            limits: Settings {
                max_concurrency,
                max_queue,
                throttle,
                cold_start,
                retry_budget,
                quota_cooldown_ms,
                failover_on,
                outage,
                bulk_route,
            },
            on_breaker_open,
            on_breaker_close,
            coordinator,
            on_coordinator_error,
            peek_stream,
            on_stream_error,
            cache,
            telemetry,
            usage,
            routes,
        })
    }
}

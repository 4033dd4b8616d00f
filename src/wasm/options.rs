//! `createFetch()` options, turned into the core's types. They are read and
//! checked in JavaScript (`js/options.js`, which throws the TypeError or
//! RangeError naming a field), and reach the core as one flat array of
//! checked values; this applies the core's defaults to what was not given.

use crate::shared::Shared;
use crate::text::{dec, fill};

use js_sys::{Array, Function};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::bindings::{self, get, range_error, type_error, type_name};
use super::coordinator;
use crate::classify::body::MAX_BODY_BYTES;
use crate::limits::breaker::DEFAULT_COOLDOWN_MS;
use crate::limits::budget::{RetryBudget, DEFAULT_CAPACITY, DEFAULT_REFUND, DEFAULT_RETRY_COST};
use crate::limits::outage::OutageSettings;
use crate::limits::routes::{KindSet, DEFAULT_FAILOVER, FAILOVER_KINDS};
use crate::limits::subrequests::{Subrequests, DEFAULT_SUBREQUESTS};
use crate::limits::throttle::DEFAULT_COLD_START;
use crate::limits::Settings;
use crate::retry::backoff::{Backoff, Jitter};
use crate::retry::policy::RetryPolicy;

#[wasm_bindgen(module = "/js/options.js")]
extern "C" {
    /// `createFetch(options)` read and checked: the flat array [`Config::from_js`] reads.
    #[wasm_bindgen(js_name = readOptions, catch)]
    fn read_options(options: &JsValue) -> Result<Array, JsValue>;
    /// `forInvocation(options)` read and checked: `[subrequests, coordinator, waitUntil]`.
    #[wasm_bindgen(js_name = readInvocation, catch)]
    fn read_invocation(options: &JsValue) -> Result<Array, JsValue>;
}

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

/// A flat array of checked values from `js/options.js`, read in its order.
struct Fields {
    array: Array,
    next: u32,
}

impl Fields {
    fn new(array: Array) -> Fields {
        Fields { array, next: 0 }
    }

    fn next(&mut self) -> JsValue {
        self.next += 1;
        self.array.get(self.next - 1)
    }

    fn number(&mut self) -> Option<f64> {
        self.next().as_f64()
    }

    fn flag(&mut self) -> Option<bool> {
        self.next().as_bool()
    }

    fn string(&mut self) -> Option<String> {
        self.next().as_string()
    }

    /// A hook, which `js/options.js` checked is a function.
    fn function(&mut self) -> Option<Function> {
        let value = self.next();
        (!value.is_undefined()).then(|| value.unchecked_into())
    }

    /// A nested flat array.
    fn fields(&mut self) -> Fields {
        Fields::new(self.next().unchecked_into())
    }
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

/// `routes[i]`: `[apiKey, baseURL, model, azure endpoint, deployment,
/// apiVersion, azure apiKey, headers]`, headers as `[name, value or null, …]`.
fn route(mut r: Fields) -> Route {
    let api_key = r.string();
    let base_url = r.string();
    let model = r.string();
    let endpoint = r.string();
    let deployment = r.string().unwrap_or_default();
    let api_version = r.string().unwrap_or_default();
    let azure_key = r.string().unwrap_or_default();
    let azure = endpoint.map(|endpoint| Azure {
        endpoint,
        deployment,
        api_version,
        api_key: azure_key,
    });
    let h = r.fields().array;
    let mut headers = Vec::new();
    for i in 0..h.length() / 2 {
        headers.push((
            h.get(2 * i).as_string().unwrap_or_default(),
            h.get(2 * i + 1).as_string(),
        ));
    }
    Route {
        api_key,
        base_url,
        model,
        azure,
        headers,
    }
}

/// `cache`: checked and kept by `js/cache.js`; the core reads its rules.
fn cache(value: JsValue) -> Result<Option<Cache>, JsValue> {
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
    pub subrequests: Shared<Subrequests>,
    /// Its coordinator, in place of the instance's.
    pub coordinator: Option<JsValue>,
    /// The Worker's `ctx.waitUntil`, which keeps the invocation alive until
    /// a success is stored in the cache.
    pub wait_until: Option<Function>,
}

/// Reads `forInvocation(options)`.
pub fn invocation(options: &JsValue) -> Result<Invocation, JsValue> {
    let mut f = Fields::new(read_invocation(options)?);
    let limit = f.number().map_or(DEFAULT_SUBREQUESTS, |n| n as u32);
    Ok(Invocation {
        subrequests: Shared::new(Subrequests::new(limit)),
        coordinator: coordinator::namespace(f.next(), "forInvocation: `coordinator`")?,
        wait_until: f.function(),
    })
}

impl Config {
    /// Reads `createFetch(options)`.
    pub fn from_js(options: &JsValue) -> Result<Config, JsValue> {
        let mut f = Fields::new(read_options(options)?);
        // Plain loops here and in route(): each `.map(..).collect()` over a
        // JS array instantiated its own Map::next, from_iter and
        // extend_desugared (issue 25).
        let mut routes: Vec<Route> = Vec::new();
        for r in f.fields().array.iter() {
            routes.push(route(Fields::new(r.unchecked_into())));
        }
        let jitter = f
            .string()
            .and_then(|name| Jitter::from_name(&name))
            .unwrap_or_default();
        let defaults = RetryPolicy::default();
        let max_retries = f.number().map_or(defaults.max_retries, |n| n as u32);
        let base_ms = f.number().map_or(defaults.backoff.base_ms, |n| n as u64);
        let max_ms = f
            .number()
            .map_or(defaults.backoff.max_ms.max(base_ms), |n| n as u64);
        if max_ms < base_ms {
            return Err(range_error(fill(
                "createFetch: `maxDelayMs` ({}) must not be less than `baseDelayMs` ({})",
                &[&dec(max_ms), &dec(base_ms)],
            )));
        }
        let max_retry_after_ms = f.number().map_or(defaults.max_retry_after_ms, |n| n as u64);
        let deadline_ms = f.number();
        let signal = signal(&f.next(), "createFetch: `signal`")?;
        let throw_on_error = f.flag().unwrap_or(false);
        let on_quota_exhausted = f.function();
        let on_retry = f.function();
        let on_event = f.function();
        let fetch = f.function();
        let max_error_body_bytes = f.number().map_or(MAX_BODY_BYTES as u32, |n| n as u32);
        // Counts may be Infinity: `as` saturates it to `usize::MAX` (no limit).
        let max_concurrency = f.number().map_or(usize::MAX, |n| n as usize);
        let max_queue = f.number().map_or(usize::MAX, |n| n as usize);
        let throttle = f.flag().unwrap_or(true);
        let cold_start = f.number().map_or(DEFAULT_COLD_START, |n| n as u32);
        // `true` or not given: the default; `false`: none; else `[capacity, retryCost, refund]`.
        let budget = f.next();
        let retry_budget = match budget.as_bool() {
            Some(false) => None,
            Some(true) => Some(RetryBudget::default()),
            None if budget.is_undefined() => Some(RetryBudget::default()),
            None => {
                let mut b = Fields::new(budget.unchecked_into());
                let mut n = |default| b.number().map_or(default, |n| n as u32);
                Some(RetryBudget::new(
                    n(DEFAULT_CAPACITY),
                    n(DEFAULT_RETRY_COST),
                    n(DEFAULT_REFUND),
                ))
            }
        };
        let quota_cooldown_ms = f.number().unwrap_or(DEFAULT_COOLDOWN_MS);
        let failover_on = match f.number() {
            None => KindSet::of(&DEFAULT_FAILOVER),
            Some(mask) => {
                let mask = mask as u32;
                let mut kinds = Vec::new();
                for (i, &kind) in FAILOVER_KINDS.iter().enumerate() {
                    if mask >> i & 1 == 1 {
                        kinds.push(kind);
                    }
                }
                KindSet::of(&kinds)
            }
        };
        let outage_on = f.flag().unwrap_or(true);
        let defaults = OutageSettings::default();
        let failures = f.number().map_or(defaults.failures, |n| n as u32);
        let cooldown_ms = f.number().unwrap_or(defaults.cooldown_ms);
        let outage = outage_on.then_some(OutageSettings {
            failures,
            cooldown_ms,
        });
        let bulk_route = f.number().map(|n| n as usize);
        let on_breaker_open = f.function();
        let on_breaker_close = f.function();
        let coordinator = coordinator::namespace(f.next(), "createFetch: `coordinator`")?;
        let on_coordinator_error = f.function();
        let peek_stream = f.flag().unwrap_or(false);
        let on_stream_error = f.function();
        let cache = cache(f.next())?;
        let telemetry = super::telemetry::option(&f.next())?;
        let usage = f.next();
        let prices = f.next();
        let on_usage = f.function();
        let usage = super::prices::Settings::read(usage, prices, on_usage)?;
        let budgets = f.next();
        let on_budget = f.function();
        let usage = usage.with_budgets(super::budgets::read(budgets, on_budget, routes.len())?);
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

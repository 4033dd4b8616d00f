//! The request of one call as it goes out on each route: the input and init
//! the caller gave (route 0), or those with a fallback route's key, base URL,
//! model or Azure deployment applied. Each attempt gets a fresh copy, so
//! bodies replay. The URL rewriting itself is `crate::url`'s.

use crate::text::fill;
use js_sys::{Array, Object, Reflect, JSON};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};

use super::bindings::{get, json_object, type_error, Linked};
use super::input::copy_string;
use super::options::Route;
use crate::credentials::{route_headers, HeaderChange, RouteCredentials};
use crate::limits::key::{identity, LimitKey, IDENTITY_HEADERS};
use crate::limits::lanes::Lane;
use crate::limits::routes::RouteKey;
use crate::limits::tokens::{self, Tokens, CHARS_PER_TOKEN, MAX_SCAN_BYTES};

/// Where one route sends.
struct Target {
    url: String,
    /// `(headers, body)` to put in the init, for a fallback route.
    changes: Option<(web_sys::Headers, Option<String>)>,
}

/// The call's request on every route.
pub struct Outgoing {
    input: JsValue,
    request: Option<web_sys::Request>,
    init: Object,
    targets: Vec<Target>,
    /// Each route's limit keys, in route order.
    keys: Vec<RouteKey>,
    /// Whether the body can be sent again (false for a ReadableStream).
    pub replayable: bool,
    /// The tokens the request is expected to use, from a string body.
    pub tokens: Option<Tokens>,
    /// The model a string body names near its start or end
    /// (`usage::request_model`), read only when [`Given::model`] asks.
    pub body_model: Option<String>,
    /// The call's budget tag: `init.budget`, else `x-ratewise-budget`.
    pub budget_tag: Option<String>,
    /// The request method, as given (`GET` by default).
    pub method: String,
    /// The call's lane: `init.lane`, else the `x-ratewise-priority` header.
    pub lane: Lane,
    /// The JSON body as parsed, when it was read (routes, events or telemetry).
    parsed: Option<JsValue>,
    /// The model each route asks for, in route order (when the body was read).
    models: Vec<Option<String>>,
}

#[wasm_bindgen(module = "/js/request.js")]
extern "C" {
    /// `[linked signals, own init, url, method, body, replayable, request,
    /// lane index, budget tag, headers or undefined, stripped, the values of
    /// names joined by newlines]` (the signals undefined when nothing can
    /// abort the call, the values when none is there): the init copied (own properties only), its
    /// signals linked with `signal` and the deadline, the linked signal set
    /// in it and ratewise's own members dropped (see js/request.js); throws
    /// the TypeError of a bad init, signal, lane, budget tag or header.
    #[wasm_bindgen(js_name = readCall, catch)]
    fn read_call(
        input: &JsValue,
        init: &JsValue,
        signal: Option<&web_sys::AbortSignal>,
        deadline_ms: Option<f64>,
        need_headers: bool,
        names: &Array,
    ) -> Result<Array, JsValue>;
}

/// [`IDENTITY_HEADERS`] as a JS array, made once per instance.
pub fn identity_names() -> Array {
    IDENTITY_HEADERS
        .iter()
        .map(|n| JsValue::from_str(n))
        .collect()
}

fn construct(name: &'static str, args: &Array) -> Result<JsValue, JsValue> {
    let ctor: js_sys::Function = get(&js_sys::global(), name)
        .dyn_into()
        .map_err(|_| type_error(fill("ratewise: globalThis.{} is missing", &[name])))?;
    Reflect::construct(&ctor, args)
}

/// The limit key of a request: its origin and every credential it carries
/// (`values`: the [`IDENTITY_HEADERS`], and the query `key`), hashed.
fn key_of(url: &str, values: &[Option<&str>; IDENTITY_HEADERS.len()]) -> LimitKey {
    let query = crate::url::split(url).query;
    let origin = crate::url::origin(url).unwrap_or_default();
    LimitKey::new(&origin, Some(&identity(values, query)))
}

/// The [`IDENTITY_HEADERS`]' values in `headers` (a route's, after its changes).
fn identity_of(url: &str, headers: &web_sys::Headers) -> LimitKey {
    let values = IDENTITY_HEADERS.map(|name| headers.get(name).ok().flatten());
    key_of(url, &values.each_ref().map(Option::as_deref))
}

/// Carries out a route's header changes (`crate::credentials`): the limit
/// key is then made from what the route really sends, so a sibling project
/// has its own breaker and limits.
fn apply(headers: &web_sys::Headers, changes: &[HeaderChange]) -> Result<(), JsValue> {
    for (name, value) in changes {
        match value {
            Some(v) => headers.set(name, v)?,
            None => headers.delete(name)?,
        }
    }
    Ok(())
}

/// What one call was made with: its signal, deadline and routes, and
/// whether its events are read.
pub struct Given<'a> {
    /// The instance's `signal`.
    pub signal: Option<&'a web_sys::AbortSignal>,
    /// The instance's `deadlineMs`.
    pub deadline_ms: Option<f64>,
    /// The instance's fallback routes.
    pub routes: &'a [Route],
    /// Read the JSON body's model even without routes (for `onEvent` and
    /// telemetry).
    pub describe: bool,
    /// Read the model a string body names ([`Outgoing::body_model`]): only
    /// spend budgets and the usage tap use it.
    pub model: bool,
    /// [`identity_names`].
    pub names: &'a Array,
}

impl Outgoing {
    /// Reads `fetch(input, init)` and links the call's signals (the init's,
    /// the Request's, the instance's and its deadline) into the one its
    /// attempts send; the linked signals are finished here if reading fails,
    /// else by the caller once the call ends. `None`: nothing can abort the
    /// call (no signal, no deadline), and nothing is to be finished.
    pub fn new(
        input: JsValue,
        init: &JsValue,
        given: &Given,
    ) -> Result<(Outgoing, Option<Linked>), JsValue> {
        let routes = given.routes;
        // The init copied (own properties only), the signals linked, the
        // headers, the lane (`init.lane`, else the priority header) and the
        // budget tag (`init.budget`, else its header) read, in one
        // crossing; ratewise's own headers and init members never go out.
        let read = read_call(
            &input,
            init,
            given.signal,
            given.deadline_ms,
            !routes.is_empty(),
            given.names,
        )?;
        let linked = defined(read.get(0)).map(JsCast::unchecked_into::<Linked>);
        match Self::read(input, &read, routes, given) {
            Ok(out) => Ok((out, linked)),
            Err(e) => {
                if let Some(linked) = &linked {
                    linked.finish();
                }
                Err(e)
            }
        }
    }

    /// [`Outgoing::new`] from what `readCall` gave.
    fn read(
        input: JsValue,
        read: &Array,
        routes: &[Route],
        given: &Given,
    ) -> Result<Outgoing, JsValue> {
        let describe = given.describe;
        let init_copy: Object = read.get(1).unchecked_into();
        let url = read.get(2).as_string().unwrap_or_default();
        let method = read.get(3).as_string().unwrap_or_default();
        let body = read.get(4);
        let replayable = read.get(5).is_truthy();
        // Both undefined or what their names say (checked in readCall).
        let request = defined(read.get(6)).map(JsCast::unchecked_into::<web_sys::Request>);
        let (tokens, body_model) = estimate(&body, given.model).unzip();
        let body_model = body_model.flatten();
        let lane = match read.get(7).as_f64() {
            Some(1.0) => Lane::Bulk,
            _ => Lane::Interactive,
        };
        let budget_tag = read.get(8).as_string();
        let headers = defined(read.get(9)).map(JsCast::unchecked_into::<web_sys::Headers>);
        let priority = read.get(10).is_truthy();
        let values = read.get(11).as_string().unwrap_or_default();
        let mut values = values.split('\n');
        let values = [(); IDENTITY_HEADERS.len()].map(|()| values.next().filter(|v| !v.is_empty()));
        // The request's model: in a Gemini-style path, else in a JSON body
        // (read only when there are routes, which need it, or events that tell it).
        let parsed = (describe || !routes.is_empty())
            .then(|| json_object(&body))
            .filter(JsValue::is_object);
        let model = crate::url::path_model(&url)
            .map(str::to_owned)
            .or_else(|| parsed.as_ref().and_then(|v| get(v, "model").as_string()));
        let mut keys = vec![RouteKey::new(key_of(&url, &values), model.as_deref())];
        let mut targets = vec![Target {
            url: url.clone(),
            // With the priority header gone, route 0 sends the copy.
            changes: headers.clone().filter(|_| priority).map(|h| (h, None)),
        }];
        let mut models = vec![model.clone()];
        for route in routes {
            // With routes, readRequest always gives a Headers object.
            let headers = match &headers {
                Some(h) => h.clone(),
                None => web_sys::Headers::new()?,
            };
            let (target, key) = Self::target(&url, &headers, parsed.as_ref(), &model, route)?;
            targets.push(target);
            keys.push(key);
            models.push(route.model.clone().or_else(|| model.clone()));
        }
        Ok(Outgoing {
            input,
            request,
            init: init_copy,
            targets,
            keys,
            replayable,
            tokens,
            body_model,
            budget_tag,
            method,
            lane,
            parsed,
            models,
        })
    }

    /// The JSON body as parsed, if it was read and is an object.
    pub fn body_json(&self) -> Option<JsValue> {
        self.parsed.clone()
    }

    /// The model `route` asks for, if known (a Gemini-style path, or the
    /// body's `model` when the body was read).
    pub fn model(&self, route: usize) -> Option<&str> {
        let i = route.min(self.models.len().saturating_sub(1));
        self.models.get(i)?.as_deref()
    }

    fn target(
        url: &str,
        headers: &web_sys::Headers,
        parsed: Option<&JsValue>,
        model: &Option<String>,
        route: &Route,
    ) -> Result<(Target, RouteKey), JsValue> {
        let headers: web_sys::Headers =
            construct("Headers", &Array::of1(headers))?.unchecked_into();
        let credentials = RouteCredentials {
            api_key: route.api_key.as_deref(),
            azure_key: route.azure.as_ref().map(|a| a.api_key.as_str()),
            headers: &route.headers,
        };
        let present = |name: &str| headers.has(name).unwrap_or(false);
        apply(&headers, &route_headers(present, credentials))?;
        if let Some(azure) = &route.azure {
            let url =
                crate::url::azure(&azure.endpoint, &azure.deployment, &azure.api_version, url);
            // The deployment names the model: two deployments are two models.
            let key = RouteKey::new(identity_of(&url, &headers), Some(&azure.deployment));
            let target = Target {
                url,
                changes: Some((headers, None)),
            };
            return Ok((target, key));
        }
        let mut url = match &route.base_url {
            Some(base) => crate::url::rebase(url, base),
            None => url.to_owned(),
        };
        // A model in the path (Gemini) is replaced there, else in the body.
        let mut body = None;
        if let Some(model) = &route.model {
            match crate::url::with_path_model(&url, model) {
                Some(with_model) => url = with_model,
                None => body = parsed.and_then(|value| with_model(value, model)),
            }
        }
        let model = route.model.as_ref().or(model.as_ref());
        let key = RouteKey::new(identity_of(&url, &headers), model.map(String::as_str));
        let target = Target {
            url,
            changes: Some((headers, body)),
        };
        Ok((target, key))
    }

    /// Every route's limit keys (origin + a hash of its credentials, and
    /// its model), in order.
    pub fn keys(&self) -> &[RouteKey] {
        &self.keys
    }

    /// `fetch(input, init)` as the caller gave it (the init with the call's signal).
    pub fn given(&self) -> (&JsValue, &JsValue) {
        (&self.input, self.init.as_ref())
    }

    /// The URL a route sends to.
    pub fn url(&self, route: usize) -> &str {
        &self.targets[route.min(self.targets.len() - 1)].url
    }

    /// A fresh `(input, init)` for one attempt on `route`.
    pub fn build(&self, route: usize) -> Result<(JsValue, JsValue), JsValue> {
        let target = &self.targets[route.min(self.targets.len() - 1)];
        let Some((headers, body)) = &target.changes else {
            let input = match &self.request {
                Some(r) => web_sys::Request::clone(r)?.into(),
                None => self.input.clone(),
            };
            return Ok((input, self.init.clone().into()));
        };
        let init = Object::assign(&Object::new(), &self.init);
        Reflect::set(&init, &"headers".into(), headers)?;
        if let Some(body) = body {
            Reflect::set(&init, &"body".into(), &body.into())?;
        }
        let input = match &self.request {
            // The same URL: the copy goes as it is, and the init's headers
            // replace its own (its body stays a body, not a stream upload).
            Some(r) if r.url() == target.url => web_sys::Request::clone(r)?.into(),
            Some(r) => {
                let copy: JsValue = web_sys::Request::clone(r)?.into();
                construct("Request", &Array::of2(&target.url.clone().into(), &copy))?
            }
            None => target.url.clone().into(),
        };
        Ok((input, init.into()))
    }
}

/// `value`, unless it is undefined.
fn defined(value: JsValue) -> Option<JsValue> {
    (!value.is_undefined()).then_some(value)
}

/// The tokens a string body is expected to use. Only the first
/// [`MAX_SCAN_BYTES`] characters are copied into wasm memory and read; the
/// rest count as prompt text. Any other body (bytes, a form, a stream) is
/// not read: `None`. Also the model the body names, read from the same copy
/// when `model` asks.
fn estimate(body: &JsValue, model: bool) -> Option<(Tokens, Option<String>)> {
    let text = body.dyn_ref::<js_sys::JsString>()?;
    let length = text.length() as usize;
    let read = length.min(MAX_SCAN_BYTES);
    let head = if read < length {
        copy_string(&text.slice(0, read as u32))
    } else {
        copy_string(text)
    };
    let mut tokens = tokens::estimate(&head);
    tokens.input += ((length - read) as u64).div_ceil(CHARS_PER_TOKEN);
    let named = model.then(|| crate::usage::request_model(&head)).flatten();
    Some((tokens, named.map(str::to_owned)))
}

/// The parsed JSON body with its `model` replaced, as text, or `None` if it
/// has none. The parsed body is copied, not changed: every route starts from
/// the caller's.
fn with_model(parsed: &JsValue, model: &str) -> Option<String> {
    if get(parsed, "model").is_undefined() {
        return None;
    }
    let copy = Object::assign(&Object::new(), parsed.unchecked_ref());
    Reflect::set(&copy, &"model".into(), &model.into()).ok()?;
    JSON::stringify(&copy).ok().map(String::from)
}

//! The request of one call as it goes out on each route: the input and init
//! the caller gave (route 0), or those with a fallback route's key, base URL
//! or model applied. Each attempt gets a fresh copy, so bodies replay.

use js_sys::{Array, Object, Reflect, JSON};
use wasm_bindgen::{JsCast, JsValue};

use super::bindings::{get, replayable_body, type_error};
use super::options::Route;
use crate::limits::key::{identity, LimitKey, IDENTITY_HEADERS};
use crate::limits::tokens::{self, Tokens, CHARS_PER_TOKEN, MAX_SCAN_BYTES};

/// The headers a route's `apiKey` replaces, where present.
const KEY_HEADERS: [&str; 4] = ["authorization", "x-api-key", "api-key", "x-goog-api-key"];

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
    /// Each route's limit key, in route order.
    keys: Vec<LimitKey>,
    /// Whether the body can be sent again (false for a ReadableStream).
    pub replayable: bool,
    /// The tokens the request is expected to use, from a string body.
    pub tokens: Option<Tokens>,
}

fn construct(name: &'static str, args: &Array) -> Result<JsValue, JsValue> {
    let ctor: js_sys::Function = get(&js_sys::global(), name)
        .dyn_into()
        .map_err(|_| type_error(format!("ratewise: globalThis.{name} is missing")))?;
    Reflect::construct(&ctor, args)
}

/// The limit key of a request: its origin and every credential it carries
/// (headers and the query `key`), hashed.
fn key_of(url: &str, headers: &web_sys::Headers) -> LimitKey {
    let values = IDENTITY_HEADERS.map(|name| headers.get(name).ok().flatten());
    let values = values.each_ref().map(Option::as_deref);
    let query = crate::url::split(url).query;
    let origin = crate::url::origin(url).unwrap_or_default();
    LimitKey::new(&origin, Some(&identity(&values, query)))
}

impl Outgoing {
    /// Reads `fetch(input, init)`; `signal` replaces the init's signal.
    pub fn new(
        input: JsValue,
        init: &JsValue,
        signal: &JsValue,
        routes: &[Route],
    ) -> Result<Outgoing, JsValue> {
        let request = input.dyn_ref::<web_sys::Request>().cloned();
        let url = match &request {
            Some(r) => r.url(),
            None => input
                .as_string()
                .or_else(|| get(&input, "href").as_string())
                .unwrap_or_default(),
        };
        let init_copy = Object::new();
        if init.is_object() {
            Object::assign(&init_copy, init.unchecked_ref());
        }
        if !signal.is_undefined() {
            Reflect::set(&init_copy, &"signal".into(), signal)?;
        }
        let body = get(init, "body");
        let replayable = replayable_body(&body);
        let tokens = estimate(&body);

        // The headers that go out: the init's, else the Request's.
        let given = get(init, "headers");
        let headers: web_sys::Headers = match (&request, given.is_undefined()) {
            (Some(r), true) => r.headers(),
            _ if given.is_undefined() => web_sys::Headers::new()?,
            _ => construct("Headers", &Array::of1(&given))?.unchecked_into(),
        };
        let mut keys = vec![key_of(&url, &headers)];
        let mut targets = vec![Target {
            url: url.clone(),
            changes: None,
        }];
        for route in routes {
            let (target, key) = Self::target(&url, &headers, &body, route)?;
            targets.push(target);
            keys.push(key);
        }
        Ok(Outgoing {
            input,
            request,
            init: init_copy,
            targets,
            keys,
            replayable,
            tokens,
        })
    }

    fn target(
        url: &str,
        headers: &web_sys::Headers,
        body: &JsValue,
        route: &Route,
    ) -> Result<(Target, LimitKey), JsValue> {
        let url = match &route.base_url {
            Some(base) => format!(
                "{}{}",
                base.trim_end_matches('/'),
                crate::url::path_onwards(url)
            ),
            None => url.to_owned(),
        };
        let headers: web_sys::Headers =
            construct("Headers", &Array::of1(headers))?.unchecked_into();
        if let Some(key) = &route.api_key {
            let present: Vec<&str> = KEY_HEADERS
                .into_iter()
                .filter(|h| headers.has(h).unwrap_or(false))
                .collect();
            for name in &present {
                let value = if *name == "authorization" {
                    format!("Bearer {key}")
                } else {
                    key.clone()
                };
                headers.set(name, &value)?;
            }
            if present.is_empty() {
                headers.set("authorization", &format!("Bearer {key}"))?;
            }
        }
        let body = match (&route.model, body.as_string()) {
            (Some(model), Some(text)) => with_model(&text, model),
            _ => None,
        };
        let key = key_of(&url, &headers);
        let target = Target {
            url,
            changes: Some((headers, body)),
        };
        Ok((target, key))
    }

    /// Every route's limit key (origin + a hash of its credentials), in order.
    pub fn keys(&self) -> &[LimitKey] {
        &self.keys
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
            Some(r) => {
                let copy: JsValue = web_sys::Request::clone(r)?.into();
                construct("Request", &Array::of2(&target.url.clone().into(), &copy))?
            }
            None => target.url.clone().into(),
        };
        Ok((input, init.into()))
    }
}

/// The tokens a string body is expected to use. Only the first
/// [`MAX_SCAN_BYTES`] characters are copied into wasm memory and read; the
/// rest count as prompt text. Any other body (bytes, a form, a stream) is
/// not read: `None`.
fn estimate(body: &JsValue) -> Option<Tokens> {
    let text = body.dyn_ref::<js_sys::JsString>()?;
    let length = text.length() as usize;
    let read = length.min(MAX_SCAN_BYTES);
    let head = if read < length {
        String::from(text.slice(0, read as u32))
    } else {
        String::from(text)
    };
    let mut tokens = tokens::estimate(&head);
    tokens.input += ((length - read) as u64).div_ceil(CHARS_PER_TOKEN);
    Some(tokens)
}

/// The JSON body with its `model` replaced, or `None` if it has none.
fn with_model(text: &str, model: &str) -> Option<String> {
    let value = JSON::parse(text).ok()?;
    if !value.is_object() || get(&value, "model").is_undefined() {
        return None;
    }
    Reflect::set(&value, &"model".into(), &model.into()).ok()?;
    JSON::stringify(&value).ok().map(String::from)
}

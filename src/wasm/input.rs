//! `classify()`'s input: a plain `{ status, headers, body, url, now }`, or an
//! error object thrown by the `openai`, `@anthropic-ai/sdk` or Vercel AI SDK
//! clients, converted into the core's types.

use js_sys::{Array, JsString, Object, Uint8Array, JSON};
use wasm_bindgen::{JsCast, JsValue};

use super::bindings::{get, js_string, range_error, type_error, type_name};
use crate::body::MAX_BODY_BYTES;
use crate::{classify, Classification, Headers, Kind, Response};

/// An owned classification input.
pub struct ClassifyInput {
    status: Option<u16>,
    no_response: Option<(Kind, &'static str, Option<String>)>,
    headers: Headers,
    body: String,
    url: Option<String>,
    now_ms: f64,
}

impl ClassifyInput {
    /// Reads any of the accepted input forms; a `TypeError`/`RangeError`
    /// naming the field otherwise.
    pub fn from_js(input: &JsValue) -> Result<Self, JsValue> {
        if !input.is_object() {
            return Err(type_error(format!(
                "classify: input must be an object like {{ status, headers, body }}, got {}",
                type_name(input)
            )));
        }
        let now_ms = match get(input, "now") {
            v if v.is_undefined() => js_sys::Date::now(),
            v => {
                match v.as_f64() {
                    Some(n) if n.is_finite() && n >= 0.0 => n,
                    Some(_) => {
                        let got = js_string(&v);
                        return Err(range_error(format!("classify: `now` must be a finite, non-negative number of ms, got {got}")));
                    }
                    None => {
                        return Err(type_error(format!(
                            "classify: `now` must be a number, got {}",
                            type_name(&v)
                        )))
                    }
                }
            }
        };
        let url = url_from_js(&get(input, "url"))?;

        // Vercel AI SDK APICallError: statusCode, responseHeaders, responseBody.
        let status_code = get(input, "statusCode");
        if !status_code.is_undefined() && get(input, "status").is_undefined() {
            return Ok(ClassifyInput {
                status: Some(status_from_js(&status_code, "statusCode")?),
                no_response: None,
                headers: headers_from_js(&get(input, "responseHeaders"), "responseHeaders")?,
                body: body_from_js(&get(input, "responseBody"), "responseBody")?,
                url,
                now_ms,
            });
        }

        let status = get(input, "status");
        if status.is_undefined() || status.is_null() {
            if let Some(error) = input.dyn_ref::<js_sys::Error>() {
                return Ok(ClassifyInput {
                    status: None,
                    no_response: Some(no_response_kind(error)),
                    headers: Headers::new(),
                    body: String::new(),
                    url,
                    now_ms,
                });
            }
            return Err(type_error(
                "classify: `status` is required (a number such as 429)",
            ));
        }
        let status = status_from_js(&status, "status")?;
        let headers = headers_from_js(&get(input, "headers"), "headers")?;
        let body = match get(input, "body") {
            // openai / @anthropic-ai/sdk APIError: the parsed body sits in `error`.
            b if b.is_undefined() => sdk_error_body(&get(input, "error"))?,
            b => body_from_js(&b, "body")?,
        };
        Ok(ClassifyInput {
            status: Some(status),
            no_response: None,
            headers,
            body,
            url,
            now_ms,
        })
    }

    /// Runs the core classifier.
    pub fn classify(&self) -> Classification {
        match (self.status, &self.no_response) {
            (_, Some((kind, reason, message))) => {
                Classification::without_response(*kind, message.clone(), reason)
            }
            (Some(status), None) => classify(&Response {
                status,
                headers: &self.headers,
                body: &self.body,
                url: self.url.as_deref(),
                now_ms: self.now_ms,
            }),
            (None, None) => Classification::without_response(Kind::Unknown, None, "no status"),
        }
    }
}

fn no_response_kind(error: &js_sys::Error) -> (Kind, &'static str, Option<String>) {
    let name = String::from(error.name());
    let message = Some(String::from(error.message()));
    match name.as_str() {
        "TimeoutError" | "APIConnectionTimeoutError" => (
            Kind::Timeout,
            "the request timed out before a response",
            message,
        ),
        "TypeError" | "APIConnectionError" | "FetchError" => (
            Kind::Network,
            "the request failed before a response",
            message,
        ),
        _ => (Kind::Unknown, "an error without a status", message),
    }
}

fn status_from_js(value: &JsValue, field: &str) -> Result<u16, JsValue> {
    let Some(n) = value.as_f64() else {
        return Err(type_error(format!(
            "classify: `{field}` must be a number, got {}",
            type_name(value)
        )));
    };
    if n.fract() != 0.0 || !(0.0..=999.0).contains(&n) {
        let got = js_string(value);
        return Err(range_error(format!(
            "classify: `{field}` must be an integer HTTP status from 0 to 999, got {got}"
        )));
    }
    Ok(n as u16)
}

fn url_from_js(value: &JsValue) -> Result<Option<String>, JsValue> {
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    if let Some(s) = value.as_string() {
        return Ok(Some(s));
    }
    match get(value, "href").as_string() {
        Some(href) => Ok(Some(href)),
        None => Err(type_error(format!(
            "classify: `url` must be a string or URL, got {}",
            type_name(value)
        ))),
    }
}

/// Reads `Headers`, a `Map`, a plain object or an array of pairs.
pub fn headers_from_js(value: &JsValue, field: &str) -> Result<Headers, JsValue> {
    let mut headers = Headers::new();
    if value.is_undefined() || value.is_null() {
        return Ok(headers);
    }
    let pair_error = |i: usize| {
        type_error(format!(
            "classify: `{field}[{i}]` must be a [name, value] pair of strings"
        ))
    };
    if Array::is_array(value) || get(value, "forEach").is_function() {
        let iter = js_sys::try_iter(value)?
            .ok_or_else(|| type_error(format!("classify: `{field}` is not iterable")))?;
        for (i, entry) in iter.enumerate() {
            let entry = entry?;
            let pair = entry
                .dyn_ref::<Array>()
                .filter(|a| a.length() == 2)
                .ok_or_else(|| pair_error(i))?;
            let (name, val) = (pair.get(0).as_string(), header_value(&pair.get(1)));
            match (name, val) {
                (Some(n), Some(v)) => headers.push(&n, &v),
                _ => return Err(pair_error(i)),
            }
        }
        return Ok(headers);
    }
    if !value.is_object() {
        return Err(type_error(format!(
            "classify: `{field}` must be a Headers, a plain object or an array of [name, value] pairs, got {}",
            type_name(value)
        )));
    }
    for entry in Object::entries(value.unchecked_ref::<Object>()).iter() {
        let pair: Array = entry.unchecked_into();
        let name = pair.get(0).as_string().unwrap_or_default();
        let raw = pair.get(1);
        if raw.is_undefined() || raw.is_null() {
            continue;
        }
        let v = header_value(&raw).ok_or_else(|| {
            type_error(format!(
                "classify: `{field}[\"{name}\"]` must be a string, got {}",
                type_name(&raw)
            ))
        })?;
        headers.push(&name, &v);
    }
    Ok(headers)
}

fn header_value(value: &JsValue) -> Option<String> {
    if let Some(s) = value.as_string() {
        return Some(s);
    }
    if value.as_f64().is_some() {
        return Some(js_string(value));
    }
    let array = value.dyn_ref::<Array>()?;
    let parts: Option<Vec<String>> = array.iter().map(|v| v.as_string()).collect();
    Some(parts?.join(", "))
}

/// Reads a body: a string, bytes, or an object (serialised as JSON). Only a
/// bounded prefix is copied into wasm memory.
pub fn body_from_js(value: &JsValue, field: &str) -> Result<String, JsValue> {
    if value.is_undefined() || value.is_null() {
        return Ok(String::new());
    }
    if let Some(s) = value.dyn_ref::<JsString>() {
        return Ok(String::from(s.slice(0, MAX_BODY_BYTES as u32)));
    }
    if value.is_instance_of::<Uint8Array>() || value.is_instance_of::<js_sys::ArrayBuffer>() {
        let bytes = Uint8Array::new(value);
        let end = bytes.length().min(MAX_BODY_BYTES as u32);
        return Ok(String::from_utf8_lossy(&bytes.subarray(0, end).to_vec()).into_owned());
    }
    if value.is_object() {
        let json = JSON::stringify(value).map_err(|_| {
            type_error(format!(
                "classify: `{field}` is an object that JSON.stringify cannot serialise"
            ))
        })?;
        return Ok(String::from(json.slice(0, MAX_BODY_BYTES as u32)));
    }
    Err(type_error(format!(
        "classify: `{field}` must be a string or an object, got {}",
        type_name(value)
    )))
}

/// The body of an SDK error: openai-node keeps the inner `error` object,
/// @anthropic-ai/sdk the whole body.
fn sdk_error_body(error: &JsValue) -> Result<String, JsValue> {
    if !error.is_object() || Array::is_array(error) {
        return body_from_js(error, "error");
    }
    let whole_body = !get(error, "error").is_undefined()
        || get(error, "type").as_string().as_deref() == Some("error");
    if whole_body {
        return body_from_js(error, "error");
    }
    let wrapped = Object::new();
    js_sys::Reflect::set(&wrapped, &"error".into(), error)?;
    body_from_js(&wrapped, "error")
}

//! `classify()`'s input: a plain `{ status, headers, body, url, now }`, or an
//! error object thrown by the `openai`, `@anthropic-ai/sdk` or Vercel AI SDK
//! clients. `js/convert.js` reads the object's shape in one call; this
//! module checks the values and turns them into the core's types.

use crate::text::fill;
use wasm_bindgen::JsValue;

use std::cell::RefCell;

use super::bindings::{
    encode_text, encode_texts, flatten_headers, js_string, range_error, read_classify_input,
    type_error, type_name,
};
use crate::classify::failure::classify_failure;
use crate::{classify, Classification, Headers, Kind, Response};

/// An owned classification input.
pub struct ClassifyInput {
    status: Option<u16>,
    no_response: Option<Classification>,
    headers: Headers,
    body: String,
    url: Option<String>,
    now_ms: f64,
}

impl ClassifyInput {
    /// Reads any of the accepted input forms; a `TypeError`/`RangeError`
    /// naming the field otherwise.
    pub fn from_js(input: &JsValue) -> Result<Self, JsValue> {
        let parts = read_classify_input(input)?;
        // The field's name is only needed for an error message.
        let field = || parts.get(1).as_string().unwrap_or_default();
        let now = parts.get(5);
        let now_ms = if now.is_undefined() {
            js_sys::Date::now()
        } else {
            match now.as_f64() {
                Some(n) if n.is_finite() && n >= 0.0 => n,
                Some(_) => {
                    let got = js_string(&now);
                    return Err(range_error(fill(
                        "classify: `now` must be a finite, non-negative number of ms, got {}",
                        &[&got],
                    )));
                }
                None => {
                    return Err(type_error(fill(
                        "classify: `now` must be a number, got {}",
                        &[&type_name(&now)],
                    )))
                }
            }
        };
        let status = parts.get(0);
        // A failure before any response is read by the core's one failure
        // classifier, as createFetch reads a rejection of fetch.
        let no_response = parts
            .get(6)
            .as_string()
            .map(|name| classify_failure(&name, parts.get(7).as_string().as_deref()));
        let status = if no_response.is_some() {
            None
        } else {
            Some(status_from_js(&status, field)?)
        };
        let [headers, body, url] = texts(&parts, 2);
        Ok(ClassifyInput {
            status,
            no_response,
            headers: headers_from_text(&headers.unwrap_or_default()),
            body: body.unwrap_or_default(),
            url,
            now_ms,
        })
    }

    /// Runs the core classifier.
    pub fn classify(&self) -> Classification {
        match (self.status, &self.no_response) {
            (_, Some(failure)) => failure.clone(),
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

thread_local! {
    /// Where `encodeTexts` writes the texts of one input; reused.
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    static MEMORY: JsValue = wasm_bindgen::memory();
}

/// Above this, the scratch buffer is freed after use rather than kept.
const SCRATCH_KEPT: usize = 1 << 18;

/// `parts[from..from + 3]`, strings or not (`None`), copied into wasm
/// memory by one native `TextEncoder.encodeInto` each.
fn texts(parts: &js_sys::Array, from: u32) -> [Option<String>; 3] {
    SCRATCH.with(|scratch| {
        let mut buf = scratch.borrow_mut();
        MEMORY.with(|memory| loop {
            // Nothing in wasm allocates between the write and the reads
            // below, so the buffer cannot move while JavaScript fills it.
            let ptr = buf.as_mut_ptr() as usize as u32;
            match encode_texts(memory, ptr, buf.len() as u32, parts, from, 3) {
                0 => break,
                need => buf.resize(need as usize, 0),
            }
        });
        let mut at = 12;
        let out = [0, 1, 2].map(|i| {
            let mut len = [0; 4];
            len.copy_from_slice(&buf[4 * i..4 * i + 4]);
            match u32::from_le_bytes(len) {
                u32::MAX => None,
                len => {
                    let text = buf.get(at..at + len as usize).unwrap_or_default();
                    at += len as usize;
                    Some(String::from_utf8_lossy(text).into_owned())
                }
            }
        });
        if buf.len() > SCRATCH_KEPT {
            *buf = Vec::new();
        }
        out
    })
}

/// A JS string copied into a Rust one by one native `TextEncoder.encodeInto`
/// (wasm-bindgen's own copy goes character by character in JavaScript).
pub fn copy_string(text: &js_sys::JsString) -> String {
    SCRATCH.with(|scratch| {
        let mut buf = scratch.borrow_mut();
        let written = MEMORY.with(|memory| loop {
            // Nothing in wasm allocates while JavaScript fills the buffer.
            let ptr = buf.as_mut_ptr() as usize as u32;
            match encode_text(memory, ptr, buf.len() as u32, text) {
                n if n >= 0.0 => break n as usize,
                need => buf.resize(-need as usize, 0),
            }
        });
        let out = String::from_utf8_lossy(buf.get(..written).unwrap_or_default()).into_owned();
        if buf.len() > SCRATCH_KEPT {
            *buf = Vec::new();
        }
        out
    })
}

fn status_from_js(value: &JsValue, field: impl Fn() -> String) -> Result<u16, JsValue> {
    let Some(n) = value.as_f64() else {
        return Err(type_error(fill(
            "classify: `{}` must be a number, got {}",
            &[&field(), &type_name(value)],
        )));
    };
    if n.fract() != 0.0 || !(0.0..=999.0).contains(&n) {
        let got = js_string(value);
        return Err(range_error(fill(
            "classify: `{}` must be an integer HTTP status from 0 to 999, got {}",
            &[&field(), &got],
        )));
    }
    Ok(n as u16)
}

/// Parses `flattenHeaders()`' "name\nvalue\n…" text.
pub fn headers_from_text(text: &str) -> Headers {
    let mut headers = Headers::new();
    let mut lines = text.split('\n');
    while let (Some(name), Some(value)) = (lines.next(), lines.next()) {
        headers.push(name, value);
    }
    headers
}

/// Reads the headers the classifier uses from a `Headers` (or any accepted
/// form), or `all` of them, into the core's type.
pub fn headers_from_js(value: &JsValue, field: &str, all: bool) -> Result<Headers, JsValue> {
    Ok(headers_from_text(&flatten_headers(value, field, all)?))
}

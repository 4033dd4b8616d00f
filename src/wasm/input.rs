//! Strings and headers from JavaScript into the core's types: a string by
//! one native `TextEncoder.encodeInto`, headers from `flattenHeaders()`'
//! text. (`classify()`'s input is read in `classify.rs`.)

use wasm_bindgen::JsValue;

use crate::shared::Shared;

use super::bindings::{encode_text, flatten_headers};
use crate::Headers;

thread_local! {
    /// Where `encodeText` writes a string; reused.
    static SCRATCH: Shared<Vec<u8>> = const { Shared::new(Vec::new()) };
    static MEMORY: JsValue = wasm_bindgen::memory();
}

/// Above this, the scratch buffer is freed after use rather than kept.
const SCRATCH_KEPT: usize = 1 << 18;

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

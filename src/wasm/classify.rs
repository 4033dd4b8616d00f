//! `classify()`'s boundary in three crossings: one call into wasm, one out
//! to `js/classify.js` that writes the whole input into wasm memory (the
//! texts by `TextEncoder.encodeInto`, the numbers as they are), and one out
//! that builds the result object from a record wasm wrote into its memory.
//!
//! Each crossing costs more than most of what the classifier does with a
//! short body, and wasm-bindgen's copy of a returned string costs a
//! `TextDecoder` call per string. So the record holds every number, the
//! `'static` names (kind, action, provider, window, reason) by address and
//! length (JavaScript decodes each once and keeps it), and the three texts
//! of the body (code, type, message) as one run of UTF-8 that JavaScript
//! decodes with one call and cuts by their UTF-16 lengths.
//!
//! The input record, written by `readClassify` at `ptr`:
//!
//! | bytes | what |
//! |---|---|
//! | 0..8 | `status` as f64 (NaN when not a number) |
//! | 8..16 | `now` as f64 (`Date.now()` when absent, NaN when not a number) |
//! | 16..20 | flags: bit 0 `status` is a number, bit 1 `now` is absent or a number |
//! | 20..40 | five u32 UTF-8 lengths (`u32::MAX`: absent): headers, body, url, error name, error message |
//! | 40.. | the five texts, one after another |
//!
//! The output record, read by `makeClassification`: see [`write`].

use crate::shared::Shared;
use std::borrow::Cow;

use wasm_bindgen::prelude::*;

use super::bindings::{js_string, range_error, read_classify_input, type_error, type_name};
use super::input::headers_from_text;
use crate::classify::failure::classify_failure;
use crate::text::fill;
use crate::{classify, Classification, Response, Window};

#[wasm_bindgen(module = "/js/classify.js")]
extern "C" {
    /// Reads classify()'s input (any accepted form; a TypeError naming the
    /// field otherwise) into wasm memory at `ptr`, which has room for `cap`
    /// bytes (the input record above). Returns 0, or the room it needs: it
    /// then keeps the input for `writeHeld`.
    #[wasm_bindgen(js_name = readClassify, catch)]
    fn read_classify(input: &JsValue, memory: &JsValue, ptr: u32, cap: u32)
        -> Result<u32, JsValue>;
    /// Writes the input kept by the last `readClassify` that did not fit.
    #[wasm_bindgen(js_name = writeHeld)]
    fn write_held(memory: &JsValue, ptr: u32, cap: u32) -> u32;
    /// The `Classification` object from the output record: its fixed part
    /// at `ptr`, its texts at `texts`.
    #[wasm_bindgen(js_name = makeClassification)]
    fn make_classification(memory: &JsValue, ptr: u32, texts: u32) -> JsValue;
}

thread_local! {
    /// The input record's room, reused (taken out while JavaScript runs, so
    /// a getter that calls classify() gets a buffer of its own).
    static INPUT: Shared<Vec<u8>> = const { Shared::new(Vec::new()) };
    /// The output record, reused.
    static OUTPUT: Shared<Vec<u8>> = const { Shared::new(Vec::new()) };
    static MEMORY: JsValue = wasm_bindgen::memory();
}

/// The room kept for the input record: real error bodies fit.
const INPUT_ROOM: usize = 4096;
/// Above this, a buffer is freed after use rather than kept.
const KEPT: usize = 1 << 18;
/// Where the texts start in the input record.
const INPUT_HEAD: usize = 40;

/// classify(): the input read into wasm memory, classified, and the
/// result built by JavaScript from the output record.
pub fn run(input: &JsValue) -> Result<JsValue, JsValue> {
    let mut buf = INPUT.with(|b| std::mem::take(&mut *b.borrow_mut()));
    if buf.len() < INPUT_ROOM {
        buf.resize(INPUT_ROOM, 0);
    }
    let outcome = MEMORY.with(|memory| {
        // Nothing in wasm touches `buf` while JavaScript fills it.
        let need = read_classify(input, memory, buf.as_mut_ptr() as u32, buf.len() as u32)?;
        if need > 0 {
            buf.resize(need as usize, 0);
            write_held(memory, buf.as_mut_ptr() as u32, buf.len() as u32);
        }
        match classify_record(&buf) {
            Some(c) => Ok(to_js(&c, memory)),
            None => Err(input_error(input)),
        }
    });
    if buf.len() <= KEPT {
        INPUT.with(|b| *b.borrow_mut() = buf);
    }
    outcome
}

/// The classification of an input record; `None` when `status` or `now`
/// is not valid (the caller then says why).
fn classify_record(buf: &[u8]) -> Option<Classification> {
    let f64_at = |at: usize| f64::from_le_bytes(buf[at..at + 8].try_into().unwrap_or_default());
    let (status, now_ms) = (f64_at(0), f64_at(8));
    let flags = u32_at(buf, 16);
    let mut at = INPUT_HEAD;
    let [headers, body, url, name, message] = [0, 1, 2, 3, 4].map(|i| {
        let len = u32_at(buf, 20 + 4 * i);
        (len != u32::MAX).then(|| {
            let text = buf.get(at..at + len as usize).unwrap_or_default();
            at += len as usize;
            String::from_utf8_lossy(text)
        })
    });
    if flags & 2 == 0 || !(now_ms.is_finite() && now_ms >= 0.0) {
        return None;
    }
    // A failure before any response is read by the core's one failure
    // classifier, as createFetch reads a rejection of fetch.
    if let Some(name) = name {
        return Some(classify_failure(&name, message.as_deref()));
    }
    if flags & 1 == 0 || status.fract() != 0.0 || !(0.0..=999.0).contains(&status) {
        return None;
    }
    let headers = headers_from_text(&headers.unwrap_or_default());
    Some(classify(&Response {
        status: status as u16,
        headers: &headers,
        body: &body.unwrap_or(Cow::Borrowed("")),
        url: url.as_deref(),
        now_ms,
    }))
}

fn u32_at(buf: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(buf[at..at + 4].try_into().unwrap_or_default())
}

/// Why `input`'s `status` or `now` is not valid: a RangeError or TypeError
/// naming the field. Read again from the input, on this path only.
fn input_error(input: &JsValue) -> JsValue {
    let parts = match read_classify_input(input) {
        Ok(parts) => parts,
        Err(e) => return e,
    };
    let now = parts.get(5);
    if !now.is_undefined() {
        match now.as_f64() {
            Some(n) if n.is_finite() && n >= 0.0 => {}
            Some(_) => {
                return range_error(fill(
                    "classify: `now` must be a finite, non-negative number of ms, got {}",
                    &[&js_string(&now)],
                ))
            }
            None => {
                return type_error(fill(
                    "classify: `now` must be a number, got {}",
                    &[&type_name(&now)],
                ))
            }
        }
    }
    let field = parts.get(1).as_string().unwrap_or_default();
    let status = parts.get(0);
    if status.as_f64().is_none() {
        return type_error(fill(
            "classify: `{}` must be a number, got {}",
            &[&field, &type_name(&status)],
        ));
    }
    range_error(fill(
        "classify: `{}` must be an integer HTTP status from 0 to 999, got {}",
        &[&field, &js_string(&status)],
    ))
}

/// The JavaScript `Classification` object (see `index.d.ts`).
pub fn to_js(c: &Classification, memory: &JsValue) -> JsValue {
    OUTPUT.with(|out| {
        let mut out = out.borrow_mut();
        // The fixed part lives on the stack for the call: JavaScript reads
        // it before `make_classification` returns.
        let head = write(c, &mut out);
        let js = make_classification(memory, head.as_ptr() as u32, out.as_ptr() as u32);
        if out.len() > KEPT {
            *out = Vec::new();
        }
        js
    })
}

/// [`to_js`] with the module's memory.
pub fn classification_js(c: &Classification) -> JsValue {
    MEMORY.with(|memory| to_js(c, memory))
}

/// The output record `makeClassification` reads: its fixed part, returned
/// as words (wasm memory is little-endian, so JavaScript reads the bytes
/// below at the array's address), and the texts, written into `out`:
///
/// | bytes | what |
/// |---|---|
/// | 0..8 | `retryAfterMs` as f64 (NaN: `null`) |
/// | 8..104 | `limits`: requests, tokens, inputTokens, outputTokens, each limit, remaining, resetMs as f64 (NaN: `null`) |
/// | 104..108 | `status` |
/// | 108..112 | 1 when there are `limits` |
/// | 112..152 | kind, action, window, provider, reason: each the address and length of a `'static` text (length 0: `null`) |
/// | 152..164 | code, type, message: each its length in UTF-16 units (`u32::MAX`: `null`) |
/// | 164..168 | the UTF-8 length of the three texts |
///
/// `out`: code, type and message, one after another. Words, not bytes
/// copied into place: a `copy_from_slice` per field was 4% of a full case.
fn write(c: &Classification, out: &mut Vec<u8>) -> [u64; OUTPUT_WORDS] {
    let mut head = [0u64; OUTPUT_WORDS];
    let number = |n: Option<u64>| n.map_or(f64::NAN, |n| n as f64).to_bits();
    // Two u32 in one word, `low` first in memory.
    let pair = |low: u32, high: u32| u64::from(low) | u64::from(high) << 32;
    head[0] = number(c.retry_after_ms);
    let limits = c.limits.unwrap_or_default();
    let mut at = 1;
    for w in [
        limits.requests,
        limits.tokens,
        limits.input_tokens,
        limits.output_tokens,
    ] {
        let w: Window = w.unwrap_or_default();
        for v in [w.limit, w.remaining, w.reset_ms] {
            head[at] = number(v);
            at += 1;
        }
    }
    head[13] = pair(u32::from(c.status), u32::from(c.limits.is_some()));
    let names = [
        c.kind.as_str(),
        c.action.as_str(),
        c.window.map_or("", |w| w.as_str()),
        c.provider.as_str(),
        c.reason,
    ];
    for (i, name) in names.into_iter().enumerate() {
        head[14 + i] = pair(name.as_ptr() as u32, name.len() as u32);
    }
    let texts = [&c.code, &c.error_type, &c.message];
    let [code, ty, message] = texts.map(|t| t.as_deref().map_or(u32::MAX, utf16_len));
    let bytes: usize = texts.iter().map(|t| t.as_deref().map_or(0, str::len)).sum();
    head[19] = pair(code, ty);
    head[20] = pair(message, bytes as u32);
    out.clear();
    for text in texts.into_iter().flatten() {
        out.extend_from_slice(text.as_bytes());
    }
    head
}

/// The size of the output record's fixed part, in u64 words (168 bytes).
const OUTPUT_WORDS: usize = 21;

/// The length of `text` in UTF-16 units, as JavaScript counts it: one per
/// UTF-8 lead byte, two for a four-byte character.
fn utf16_len(text: &str) -> u32 {
    let mut n = 0;
    for &b in text.as_bytes() {
        n += u32::from(b & 0xC0 != 0x80) + u32::from(b >= 0xF0);
    }
    n
}

//! The JavaScript boundary: converts values and runs the async loop. No
//! decisions are made here; they live in the pure modules of the crate.
//!
//! Its exports make two wasm modules (see the features in Cargo.toml):
//! `classify` and `createFetch` (feature `fetch`), and the coordinators'
//! steps in `durable.rs`, `redis.rs` and `spend.rs` (feature `coordinator`).
//! A build with one feature alone links only what its exports reach, and
//! leaves the rest of this module unused: lints are kept for the default
//! build, which has both.
#![cfg_attr(
    not(all(feature = "fetch", feature = "coordinator")),
    allow(dead_code, unused_imports)
)]

mod bindings;
mod budgets;
mod budgets_shared;
mod classify;
mod clock;
mod coordinator;
mod durable;
mod fetch;
mod health;
mod input;
mod instance;
mod mask;
mod options;
mod outputs;
mod prices;
mod redis;
mod report;
mod request;
mod settled;
mod snapshot;
mod spend;
mod telemetry;
mod transport;
mod usage;
mod wire;

use wasm_bindgen::prelude::*;

/// The allocator: talc instead of the standard library's dlmalloc, 2.9 KB
/// smaller gzipped in `ratewise_bg.wasm` (and faster, by talc's benchmarks).
/// The module is single-threaded (no `atomics`), which is what
/// `new_wasm_dynamic_allocator` relies on; the heap grows with `memory.grow`.
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

/// Classifies a response, or an error thrown by the `openai`,
/// `@anthropic-ai/sdk` or Vercel AI SDK clients.
///
/// Throws a `TypeError` or `RangeError` naming the field for malformed input;
/// never panics.
#[cfg(feature = "fetch")]
#[wasm_bindgen]
pub fn classify(input: JsValue) -> Result<JsValue, JsValue> {
    classify::run(&input)
}

/// Returns a `fetch` that routes every failure by its classification.
#[cfg(feature = "fetch")]
#[wasm_bindgen(js_name = createFetch)]
pub fn create_fetch(options: JsValue) -> Result<js_sys::Function, JsValue> {
    let config = options::Config::from_js(&options)?;
    Ok(fetch::make(config))
}

//! wasm-bindgen tests in headless Chromium (`node tests/js/run-wasm-browser.mjs` serves them with
//! wasm-bindgen-test-runner and drives Chromium with playwright-core).
#![cfg(target_arch = "wasm32")]

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

mod wasm_suite;

//! wasm-bindgen tests shared by `tests/node.rs` (Node) and `tests/browser.rs`
//! (headless Chromium): the exports called from Rust with real JS values,
//! and createFetch's fetch + gloo-timers sleep against the mock API, whose
//! URL the test script passes in RATEWISE_MOCK_URL at build time.

mod classify_boundary;

use js_sys::{Array, Object, Reflect};
use ratewise::wasm::{classify, create_fetch};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::wasm_bindgen_test;

// The mock API's URL is baked in at build time. Without it these tests do not
// build: the compiler prints this one message, instead of every test that
// fetches failing with a panic trace. (Clippy checks these tests with no mock
// running, so it skips the check.)
#[cfg(not(clippy))]
const _: () = assert!(
    option_env!("RATEWISE_MOCK_URL").is_some(),
    "RATEWISE_MOCK_URL is not set: run scripts/test.sh, which starts the mock API and sets it \
     (by hand: node tests/mock/server.mjs --port 0, then RATEWISE_MOCK_URL=<the URL it prints> cargo test ...)"
);

/// The mock API's URL, from RATEWISE_MOCK_URL at build time.
fn mock_url() -> &'static str {
    option_env!("RATEWISE_MOCK_URL").unwrap_or_default()
}

/// Awaits a fetch to the mock; if nothing answers, the panic names the URL.
async fn fetch_mock(promise: js_sys::Promise, url: &str) -> web_sys::Response {
    match JsFuture::from(promise).await {
        Ok(response) => response.unchecked_into(),
        Err(err) => panic!(
            "the mock API did not answer at {url}: {err:?} (RATEWISE_MOCK_URL is baked in at build time: \
             is that mock still running? scripts/test.sh starts one)"
        ),
    }
}
const QUOTA: &str = r#"{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}"#;

fn object(pairs: &[(&str, JsValue)]) -> JsValue {
    let o = Object::new();
    for (k, v) in pairs {
        Reflect::set(&o, &(*k).into(), v).unwrap();
    }
    o.into()
}

fn field(value: &JsValue, key: &str) -> JsValue {
    Reflect::get(value, &key.into()).unwrap()
}

fn kind_of(input: JsValue) -> String {
    field(&classify(input).unwrap(), "kind")
        .as_string()
        .unwrap()
}

#[wasm_bindgen_test]
fn classify_reads_a_web_headers_object() {
    let headers = web_sys::Headers::new().unwrap();
    headers.append("Retry-After", "7").unwrap();
    let c = classify(object(&[
        ("status", 429.into()),
        ("headers", headers.into()),
    ]))
    .unwrap();
    assert_eq!(field(&c, "kind").as_string().as_deref(), Some("rate_limit"));
    assert_eq!(field(&c, "retryAfterMs").as_f64(), Some(7_000.0));
    assert!(
        field(&c, "code").is_null(),
        "absent fields are null, not undefined"
    );
}

#[wasm_bindgen_test]
fn classify_reads_pairs_objects_and_sdk_errors() {
    let pair = Array::of2(&"retry-after".into(), &"2".into());
    let pairs = Array::of1(&pair);
    let c = classify(object(&[("status", 503.into()), ("headers", pairs.into())])).unwrap();
    assert_eq!(field(&c, "retryAfterMs").as_f64(), Some(2_000.0));

    let inner = js_sys::JSON::parse(QUOTA).unwrap();
    let openai_error = object(&[("status", 429.into()), ("error", field(&inner, "error"))]);
    assert_eq!(kind_of(openai_error), "quota_exhausted");

    let vercel = object(&[("statusCode", 429.into()), ("responseBody", QUOTA.into())]);
    assert_eq!(kind_of(vercel), "quota_exhausted");
}

#[wasm_bindgen_test]
fn classify_reads_plain_object_headers_and_object_bodies() {
    let headers = object(&[
        ("Retry-After-Ms", "1500".into()),
        ("X-Ignored", JsValue::NULL),
    ]);
    let body = js_sys::JSON::parse(QUOTA).unwrap();
    let c = classify(object(&[
        ("status", 429.into()),
        ("headers", headers),
        ("body", body),
    ]))
    .unwrap();
    assert_eq!(
        field(&c, "kind").as_string().as_deref(),
        Some("quota_exhausted")
    );
    assert_eq!(field(&c, "retryAfterMs").as_f64(), Some(1_500.0));

    // @anthropic-ai/sdk keeps the whole body in `error`.
    let anthropic = js_sys::JSON::parse(
        r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
    )
    .unwrap();
    let c = classify(object(&[("status", 529.into()), ("error", anthropic)])).unwrap();
    assert_eq!(field(&c, "kind").as_string().as_deref(), Some("overloaded"));
    assert_eq!(
        field(&c, "provider").as_string().as_deref(),
        Some("anthropic")
    );

    // A fetch TypeError (no status) is a network failure.
    let error: JsValue = js_sys::TypeError::new("fetch failed").into();
    assert_eq!(kind_of(error), "network");
}

#[wasm_bindgen_test]
fn bad_input_is_a_typed_js_error_not_a_trap() {
    let err = classify(object(&[("status", 4_290.into())])).unwrap_err();
    assert!(err.is_instance_of::<js_sys::RangeError>());
    let err = classify(JsValue::from_str("429")).unwrap_err();
    assert!(err.is_instance_of::<js_sys::TypeError>());
    let err = create_fetch(object(&[("retries", 3.into())])).unwrap_err();
    assert!(err.is_instance_of::<js_sys::TypeError>());
    let message: String = err.unchecked_into::<js_sys::Error>().message().into();
    assert!(message.contains("`retries`"), "{message}");
    // The module still works after rejecting input.
    assert_eq!(kind_of(object(&[("status", 200.into())])), "ok");
}

async fn control(path: &str, body: &str) {
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    init.set_body(&body.into());
    let fetch: js_sys::Function = field(&js_sys::global(), "fetch").unchecked_into();
    let url = format!("{}/__mock/{path}", mock_url());
    let promise: js_sys::Promise = fetch
        .call2(&JsValue::NULL, &url.as_str().into(), &init.into())
        .unwrap()
        .unchecked_into();
    let response = fetch_mock(promise, &url).await;
    assert!(response.ok(), "mock control {path}");
}

fn stats_of(fetch: &js_sys::Function) -> JsValue {
    field(fetch, "stats")
        .unchecked_into::<js_sys::Function>()
        .call0(&JsValue::NULL)
        .unwrap()
}

async fn call(fetch: &js_sys::Function) -> web_sys::Response {
    let init = object(&[
        ("method", "POST".into()),
        ("body", r#"{"model":"m"}"#.into()),
    ]);
    let url = format!("{}/v1/chat/completions", mock_url());
    let promise: js_sys::Promise = fetch
        .call2(&JsValue::NULL, &url.as_str().into(), &init)
        .unwrap()
        .unchecked_into();
    fetch_mock(promise, &url).await
}

#[wasm_bindgen_test]
async fn create_fetch_sleeps_the_hint_with_gloo_timers_then_succeeds() {
    control("reset", "{}").await;
    control(
        "script",
        r#"{"steps":[{"name":"rate_limit","retryAfterMs":60}]}"#,
    )
    .await;
    let fetch = create_fetch(JsValue::UNDEFINED).unwrap();
    let started = js_sys::Date::now();
    let response = call(&fetch).await;
    assert_eq!(response.status(), 200);
    assert!(
        js_sys::Date::now() - started >= 60.0,
        "slept the 60 ms hint"
    );
    let stats = stats_of(&fetch);
    assert_eq!(field(&stats, "retries").as_f64(), Some(1.0));
}

#[wasm_bindgen_test]
async fn create_fetch_makes_one_attempt_on_quota() {
    control("reset", "{}").await;
    control(
        "script",
        r#"{"steps":["insufficient_quota","insufficient_quota"]}"#,
    )
    .await;
    let fetch = create_fetch(object(&[("baseDelayMs", 1.into())])).unwrap();
    assert_eq!(call(&fetch).await.status(), 429);
    let stats = stats_of(&fetch);
    assert_eq!(field(&stats, "attempts").as_f64(), Some(1.0));
}

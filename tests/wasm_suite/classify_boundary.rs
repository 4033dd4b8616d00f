//! classify()'s boundary against the core it wraps: every case of
//! `tests/data/classify_cases.json`, its headers given in each of the three
//! forms (a plain object, `[name, value]` pairs, a `Headers`), classified
//! through the wasm export, must give the whole Classification the core
//! gives natively (serialized by serde), field for field. The boundary
//! writes the input into wasm memory and reads the result back from a
//! record (`src/wasm/classify.rs`): a wrong offset or length there shows here.

use js_sys::{Array, Object, Reflect, JSON};
use ratewise::wasm::classify;
use ratewise::{Headers, Response};
use serde_json::Value;
use wasm_bindgen::JsValue;
use wasm_bindgen_test::wasm_bindgen_test;

const CASES: &str = include_str!("../data/classify_cases.json");

/// The default `now` of the case table (`tests/classify_table.rs`).
const NOW: f64 = 1_767_225_600_000.0;

fn set(o: &Object, key: &str, value: &JsValue) {
    Reflect::set(o, &key.into(), value).unwrap();
}

#[wasm_bindgen_test]
fn every_case_classifies_through_the_boundary_as_the_core_does() {
    let cases: Vec<Value> = serde_json::from_str(CASES).unwrap();
    let mut compared = 0;
    for case in &cases {
        let name = case["name"].as_str().unwrap();
        let input = &case["input"];
        let pairs: Vec<(&str, &str)> = match input.get("headers") {
            Some(Value::Object(map)) => map
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str().unwrap()))
                .collect(),
            _ => vec![],
        };
        let now = input["now"].as_f64().unwrap_or(NOW);
        let headers: Headers = pairs.iter().copied().collect();
        let native = ratewise::classify(&Response {
            status: input["status"].as_u64().unwrap() as u16,
            headers: &headers,
            body: input["body"].as_str().unwrap_or_default(),
            url: input["url"].as_str(),
            now_ms: now,
        });
        let want = serde_json::to_value(&native).unwrap();

        let object = Object::new();
        let array = Array::new();
        let web = web_sys::Headers::new().unwrap();
        // A `Headers` holds bytes only: a case whose values have other
        // characters (an elided `…`) is given in the two other forms.
        let mut bytes_only = true;
        for (k, v) in &pairs {
            set(&object, k, &(*v).into());
            array.push(&Array::of2(&(*k).into(), &(*v).into()));
            bytes_only &= web.append(k, v).is_ok();
        }
        let forms = [
            ("object", JsValue::from(object)),
            ("pairs", array.into()),
            ("Headers", web.into()),
        ];
        for (form, js_headers) in forms
            .into_iter()
            .filter(|(form, _)| bytes_only || *form != "Headers")
        {
            let js = Object::new();
            set(&js, "status", &input["status"].as_f64().unwrap().into());
            set(&js, "headers", &js_headers);
            if let Some(body) = input["body"].as_str() {
                set(&js, "body", &body.into());
            }
            if let Some(url) = input["url"].as_str() {
                set(&js, "url", &url.into());
            }
            set(&js, "now", &now.into());
            let got = classify(js.into()).unwrap();
            let got: Value =
                serde_json::from_str(&JSON::stringify(&got).unwrap().as_string().unwrap()).unwrap();
            assert_eq!(got, want, "{name} (headers as {form})");
            compared += 1;
        }
    }
    assert!(compared > 3 * cases.len() - 10, "{compared}");
}

#[wasm_bindgen_test]
fn texts_cross_the_boundary_whole() {
    // Non-ASCII, a leading byte-order mark, a four-byte character and an
    // empty string in code, type and message, and a body larger than the
    // room the boundary keeps (4 KB), so it is written in a second call.
    let long = "x".repeat(9_000);
    for (code, ty, message) in [
        ("\u{feff}c", "é", "😀 sk-proj-abcdefghijklmnopqrstu 😀"),
        ("", "", ""),
        ("ü", "type", long.as_str()),
    ] {
        let body =
            format!(r#"{{"error":{{"code":"{code}","type":"{ty}","message":"{message}"}}}}"#);
        let js = Object::new();
        set(&js, "status", &400.into());
        set(&js, "body", &body.as_str().into());
        set(&js, "now", &NOW.into());
        let got = classify(js.into()).unwrap();
        let native = ratewise::classify(&Response {
            status: 400,
            headers: &Headers::new(),
            body: &body,
            url: None,
            now_ms: NOW,
        });
        let field = |key: &str| Reflect::get(&got, &key.into()).unwrap().as_string();
        assert_eq!(field("code"), native.code, "{code:?}");
        assert_eq!(field("type"), native.error_type, "{ty:?}");
        assert_eq!(field("message"), native.message, "{message:?}");
        assert_eq!(field("reason").as_deref(), Some(native.reason));
    }
}

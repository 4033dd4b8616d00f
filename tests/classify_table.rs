//! The classifier against real provider responses: one row per documented or
//! observed response in `tests/data/classify_cases.json`, each with its source
//! (see `tests/data/SOURCES.md`).

use ratewise::{classify, Headers, Response};
use serde_json::Value;

const CASES: &str = include_str!("data/classify_cases.json");

fn headers_of(input: &Value) -> Headers {
    match input.get("headers") {
        Some(Value::Object(map)) => map
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str().unwrap_or_default()))
            .collect(),
        Some(Value::Array(pairs)) => pairs
            .iter()
            .map(|p| {
                (
                    p[0].as_str().unwrap_or_default(),
                    p[1].as_str().unwrap_or_default(),
                )
            })
            .collect(),
        _ => Headers::new(),
    }
}

#[test]
fn every_documented_response_is_classified_as_expected() {
    let cases: Vec<Value> = serde_json::from_str(CASES).expect("classify_cases.json parses");
    assert!(
        cases.len() >= 40,
        "the table needs at least 40 real cases, has {}",
        cases.len()
    );
    let mut failures = Vec::new();
    for case in &cases {
        let name = case["name"].as_str().unwrap();
        assert!(
            case["source"].as_str().is_some_and(|s| !s.is_empty()),
            "{name}: every case cites its source"
        );
        let input = &case["input"];
        let headers = headers_of(input);
        let got = classify(&Response {
            status: input["status"].as_u64().unwrap() as u16,
            headers: &headers,
            body: input["body"].as_str().unwrap_or_default(),
            url: input["url"].as_str(),
            now_ms: input["now"].as_f64().unwrap_or(1_767_225_600_000.0),
        });
        let got_json = serde_json::to_value(&got).unwrap();
        let expect = case["expect"].as_object().unwrap();
        for (field, want) in expect {
            if got_json[field] != *want {
                failures.push(format!(
                    "{name}: {field} = {} (want {want}); reason: {}",
                    got_json[field], got.reason
                ));
            }
        }
        assert!(
            expect.contains_key("retryAfterMs"),
            "{name}: every case states its wait hint"
        );
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn near_misses_share_a_status_but_not_a_kind() {
    let cases: Vec<Value> = serde_json::from_str(CASES).unwrap();
    for status in [400, 413, 429, 500] {
        let kinds: std::collections::BTreeSet<&str> = cases
            .iter()
            .filter(|c| c["input"]["status"] == status)
            .map(|c| c["expect"]["kind"].as_str().unwrap())
            .collect();
        assert!(
            kinds.len() >= 2,
            "status {status} should appear with at least two meanings, got {kinds:?}"
        );
    }
}

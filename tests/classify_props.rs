//! Property tests: whatever arrives from the network, the classifier does
//! not panic and its wait hints stay timer-safe.
#![cfg(not(target_arch = "wasm32"))]

use proptest::prelude::*;
use ratewise::classify::duration::MAX_DELAY_MS;
use ratewise::{classify, Action, Headers, Kind, Response};

/// Header names the classifier reads, so the generator hits real code paths.
const NAMES: [&str; 10] = [
    "retry-after",
    "retry-after-ms",
    "x-ratelimit-remaining-requests",
    "x-ratelimit-reset-requests",
    "x-ratelimit-remaining-tokens",
    "x-ratelimit-reset-tokens",
    "anthropic-ratelimit-requests-remaining",
    "anthropic-ratelimit-requests-reset",
    "content-type",
    "x-groq-region",
];

fn header_value() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9]{0,25}(\\.[0-9]{0,12})?",
        "[0-9]{1,4}(h|m|s|ms|us|ns){1,3}",
        "(Mon|Sun), [0-9]{2} (Jan|Nov|Foo) [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT",
        "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})",
        "\\PC{0,40}",
    ]
}

fn body() -> impl Strategy<Value = String> {
    let field = prop_oneof![
        Just("insufficient_quota"),
        Just("rate_limit_exceeded"),
        Just("RESOURCE_EXHAUSTED"),
        Just("overloaded_error"),
        Just("error"),
        Just("Please try again in 9m38.016s"),
    ];
    prop_oneof![
        "\\PC{0,200}",
        (field.clone(), field.clone(), "\\PC{0,60}").prop_map(|(t, c, m)| {
            format!(r#"{{"error":{{"type":"{t}","code":"{c}","message":"{}"}}}}"#, m.replace(['"', '\\'], ""))
        }),
        (field, "[0-9.]{0,8}s?").prop_map(|(s, d)| {
            format!(r#"[{{"error":{{"code":429,"status":"{s}","details":[{{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"{d}"}}]}}}}]"#)
        }),
        "[\\[\\]{}\":,0-9a-z ]{0,120}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn never_panics_and_hints_stay_in_range(
        status in any::<u16>(),
        headers in prop::collection::vec((prop::sample::select(&NAMES[..]), header_value()), 0..6),
        body in body(),
        now in prop_oneof![Just(0.0), 0.0..4.0e12_f64, Just(f64::MAX)],
    ) {
        let headers: Headers = headers.into_iter().collect();
        let c = classify(&Response { status, headers: &headers, body: &body, url: None, now_ms: now });
        if let Some(ms) = c.retry_after_ms {
            prop_assert!(ms <= MAX_DELAY_MS, "hint {} over 2^31-1", ms);
        }
        prop_assert_eq!(c.action, c.kind.action());
        // Ok only for a 2xx, and a 2xx is Ok unless its body is an error object
        // (OpenRouter reports failures mid-generation in a 200).
        if c.kind == Kind::Ok || !(200..300).contains(&status) {
            prop_assert_eq!(c.kind == Kind::Ok, (200..300).contains(&status));
        } else {
            prop_assert!(body.contains("\"error\""), "a 2xx without an error object is Ok");
        }
        if c.kind == Kind::Ok {
            prop_assert_eq!(c.action, Action::None);
            prop_assert!(c.retry_after_ms.is_none());
        }
        for window in c.limits.iter().flat_map(|l| l.windows().copied().collect::<Vec<_>>()) {
            prop_assert!(window.reset_ms.is_none_or(|ms| ms <= MAX_DELAY_MS));
        }
    }

    #[test]
    fn json_reader_never_panics(text in "\\PC{0,300}") {
        let _ = ratewise::classify::json::parse(&text);
    }
}

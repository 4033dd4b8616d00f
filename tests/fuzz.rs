//! Fuzzing with proptest, one test per target: every parser that reads what
//! a server sent, the classifier as a whole, secret masking and the URL
//! splitter. Properties: no panic, wait hints within `0..=2^31-1`, no secret
//! given to the masker comes back, idempotence where it makes sense.
//!
//! Each target first runs every seed in `tests/data/fuzz_seeds/` and every
//! body in `tests/data/classify_cases.json` (whole and cut at every 7th
//! byte), then `RATEWISE_FUZZ_CASES` generated cases (default 2,000):
//!
//! ```text
//! RATEWISE_FUZZ_CASES=1000000 cargo test --release --test fuzz -- --nocapture
//! ```
//!
//! Each target prints how many inputs it ran and how long it took.
#![cfg(not(target_arch = "wasm32"))]

use std::cell::Cell;
use std::time::Instant;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use ratewise::classify::classify_failure;
use ratewise::classify::duration::{
    clamp_ms, parse_fixed9, parse_go_duration, parse_message_hint, parse_millis, parse_seconds,
    MAX_DELAY_MS,
};
use ratewise::classify::headers::server_now_ms;
use ratewise::classify::time::{parse_http_date, parse_rfc3339};
use ratewise::secrets::{mask_secrets, redact_url, MAX_MESSAGE_LEN};
use ratewise::{classify, url, Action, Headers, Kind, Limits, Response};

fn cases() -> u32 {
    std::env::var("RATEWISE_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000)
}

/// The seed corpus: the files in `tests/data/fuzz_seeds/`, the bodies and
/// header values of `classify_cases.json`, and cuts of those bodies.
fn seeds() -> Vec<String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/fuzz_seeds");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("tests/data/fuzz_seeds")
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let mut out: Vec<String> = files
        .iter()
        .map(|p| String::from_utf8_lossy(&std::fs::read(p).unwrap()).into_owned())
        .collect();
    assert!(out.len() >= 10, "the seed corpus has {} files", out.len());
    // Generated seeds too big to commit.
    out.push("[".repeat(10_000));
    out.push(r#"{"a":"#.repeat(10_000));
    out.push(format!(
        r#"{{"error":{{"type":"insufficient_quota","message":"{}"}}}}"#,
        "x".repeat(70_000)
    ));
    let cases: serde_json::Value =
        serde_json::from_str(include_str!("data/classify_cases.json")).unwrap();
    for case in cases.as_array().unwrap() {
        let input = &case["input"];
        if let Some(body) = input["body"].as_str() {
            out.push(body.to_owned());
            let cuts = body.char_indices().map(|(i, _)| i).step_by(7);
            out.extend(cuts.map(|i| body[..i].to_owned()));
        }
        if let Some(map) = input["headers"].as_object() {
            out.extend(map.values().filter_map(|v| v.as_str()).map(str::to_owned));
        }
    }
    out
}

/// Runs `check` on every seed, then on `cases()` generated inputs, and
/// reports the count and time.
fn fuzz<S: Strategy>(
    name: &str,
    from_seed: impl Fn(&str) -> S::Value,
    strategy: S,
    check: impl Fn(S::Value) -> Result<(), TestCaseError>,
) where
    S::Value: std::fmt::Debug,
{
    let start = Instant::now();
    let seeds = seeds();
    for seed in &seeds {
        if let Err(e) = check(from_seed(seed)) {
            panic!(
                "{name}: seed {:?}: {e}",
                seed.chars().take(200).collect::<String>()
            );
        }
    }
    let ran = Cell::new(0u64);
    let mut runner = TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&strategy, |value| {
        ran.set(ran.get() + 1);
        check(value)
    });
    if let Err(e) = result {
        panic!("{name}: {e}");
    }
    eprintln!(
        "fuzz {name}: {} seeds + {} generated inputs, 0 panics, in {:.1?}",
        seeds.len(),
        ran.get(),
        start.elapsed()
    );
}

// ---------------------------------------------------------------- inputs

/// Any text: printable, with controls, or decoded from arbitrary bytes.
fn text(max: usize) -> BoxedStrategy<String> {
    prop_oneof![
        proptest::string::string_regex(&format!("\\PC{{0,{max}}}")).unwrap(),
        proptest::collection::vec(any::<char>(), 0..max).prop_map(|c| c.into_iter().collect()),
        proptest::collection::vec(any::<u8>(), 0..max)
            .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
    ]
    .boxed()
}

/// Values shaped like each wait-hint and date form, and garbage.
fn header_value() -> BoxedStrategy<String> {
    prop_oneof![
        "-?[0-9]{0,25}(\\.[0-9]{0,12})?([eE][+-]?[0-9]{1,4})?",
        "(NaN|Infinity|-Infinity|0x10|1e309|-1|\\+5| 7 |1_000)",
        "[0-9]{1,6}(\\.[0-9]{1,9})?(h|m|s|ms|us|µs|ns){1,3}",
        "([0-9]{1,4}(h|m|s|ms)){1,4}",
        "(Mon|Sun|Sunday|Xyz), [0-9]{1,3}[ -](Jan|Feb|Nov|Foo)[ -][0-9]{1,5} [0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2} (GMT|UTC)",
        "(Jan|Nov) [ 0-9]{1,2} [0-9]{2}:[0-9]{2}:[0-9]{2} [0-9]{4}",
        "[0-9]{1,6}-[0-9]{1,2}-[0-9]{1,2}[Tt ][0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(\\.[0-9]{1,12})?(Z|z|[+-][0-9]{1,2}:[0-9]{1,2})?",
        "1[0-9]{9}(\\.[0-9]{1,3})?|1[0-9]{12}",
        text(60),
    ]
    .boxed()
}

const HEADER_NAMES: [&str; 17] = [
    "retry-after",
    "retry-after-ms",
    "date",
    "Date",
    "x-ratelimit-limit-requests",
    "x-ratelimit-remaining-requests",
    "x-ratelimit-reset-requests",
    "x-ratelimit-remaining-tokens",
    "x-ratelimit-reset-tokens",
    "anthropic-ratelimit-requests-remaining",
    "anthropic-ratelimit-requests-reset",
    "anthropic-ratelimit-output-tokens-remaining",
    "anthropic-ratelimit-output-tokens-reset",
    "x-groq-region",
    "openai-organization",
    "content-type",
    "x-amzn-errortype",
];

fn headers() -> impl Strategy<Value = Vec<(String, String)>> {
    proptest::collection::vec(
        (
            prop_oneof![
                4 => prop::sample::select(&HEADER_NAMES[..]).prop_map(str::to_owned),
                1 => "[A-Za-z-]{0,20}",
            ],
            header_value(),
        ),
        0..8,
    )
}

/// Real bodies (cut anywhere), shaped error objects, and noise.
fn body() -> BoxedStrategy<String> {
    let real: Vec<String> =
        serde_json::from_str::<serde_json::Value>(include_str!("data/classify_cases.json"))
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|c| c["input"]["body"].as_str().map(str::to_owned))
            .filter(|b| !b.is_empty())
            .collect();
    let word = prop_oneof![
        Just("insufficient_quota"),
        Just("rate_limit_exceeded"),
        Just("RESOURCE_EXHAUSTED"),
        Just("overloaded_error"),
        Just("context_length_exceeded"),
        Just("error"),
        Just("Please try again in 9m38.016s"),
        Just("credit balance is too low"),
        Just("ThrottlingException"),
        Just("credit_limit"),
        Just("billing_not_active"),
        Just("tokens per day (TPD)"),
        Just("sk-proj-AbCdEfGh12345678"),
    ];
    let cut_real =
        (prop::sample::select(real), any::<prop::sample::Index>()).prop_map(|(b, at)| {
            let mut end = at.index(b.len() + 1);
            while !b.is_char_boundary(end) {
                end -= 1;
            }
            b[..end].to_owned()
        });
    prop_oneof![
        3 => cut_real,
        1 => text(300),
        2 => (word.clone(), word.clone(), "[^\"\\\\]{0,60}").prop_map(|(t, c, m)| {
            format!(r#"{{"error":{{"type":"{t}","code":"{c}","message":"{m}"}}}}"#)
        }),
        1 => (word, "[0-9.]{0,8}s?").prop_map(|(s, d)| {
            format!(r#"[{{"error":{{"code":429,"status":"{s}","details":[{{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"{d}"}}]}}}}]"#)
        }),
        1 => "[\\[\\]{}\":,0-9a-z \\\\]{0,200}",
    ]
    .boxed()
}

fn hint_ok(ms: Option<u64>) -> Result<(), TestCaseError> {
    if let Some(ms) = ms {
        prop_assert!(ms <= MAX_DELAY_MS, "hint {} over 2^31-1", ms);
    }
    Ok(())
}

fn now() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(0.0),
        0.0..4.0e12_f64,
        Just(1_767_225_600_000.0),
        Just(f64::MAX),
        Just(f64::NAN),
        Just(-1.0e15),
    ]
}

// --------------------------------------------------------------- targets

#[test]
fn fuzz_classify() {
    fuzz(
        "classify",
        |seed| {
            (
                429,
                vec![
                    ("retry-after".to_owned(), seed.to_owned()),
                    ("date".to_owned(), seed.to_owned()),
                ],
                seed.to_owned(),
                1_767_225_600_000.0,
            )
        },
        (any::<u16>(), headers(), body(), now()),
        |(status, headers, body, now_ms)| {
            let headers: Headers = headers.into_iter().collect();
            let c = classify(&Response {
                status,
                headers: &headers,
                body: &body,
                url: Some("https://user:pw@api.openai.com/v1?key=s3cr3t"),
                now_ms,
            });
            hint_ok(c.retry_after_ms)?;
            prop_assert_eq!(c.action, c.kind.action());
            // Ok only for a 2xx, and a 2xx is Ok unless its body is an error object
            // (OpenRouter reports failures mid-generation in a 200).
            if c.kind == Kind::Ok || !(200..300).contains(&status) {
                prop_assert_eq!(c.kind == Kind::Ok, (200..300).contains(&status));
            } else {
                prop_assert!(
                    body.contains("\"error\""),
                    "a 2xx without an error object is Ok"
                );
            }
            if c.window.is_some() {
                prop_assert!(matches!(
                    c.kind,
                    Kind::RateLimit | Kind::QuotaExhausted | Kind::RequestTooLarge
                ));
            }
            if c.kind == Kind::Ok {
                prop_assert_eq!(c.action, Action::None);
                prop_assert!(c.retry_after_ms.is_none());
            }
            for w in c
                .limits
                .iter()
                .flat_map(|l| l.windows().copied().collect::<Vec<_>>())
            {
                hint_ok(w.reset_ms)?;
            }
            if let Some(m) = &c.message {
                prop_assert!(m.len() <= MAX_MESSAGE_LEN);
            }
            Ok(())
        },
    );
}

#[test]
fn fuzz_header_parsers() {
    fuzz(
        "header parsers",
        |seed| {
            (
                vec![("x-ratelimit-reset-requests".to_owned(), seed.to_owned())],
                0.0,
            )
        },
        (headers(), now()),
        |(pairs, now_ms)| {
            let headers: Headers = pairs.iter().map(|(n, v)| (n, v)).collect();
            for (name, _) in &pairs {
                let _ = headers.get(&name.to_ascii_lowercase());
            }
            let server = server_now_ms(&headers, now_ms);
            prop_assert!(server.is_nan() == now_ms.is_nan() || !server.is_nan());
            if let Some(limits) = Limits::from_headers(&headers, now_ms) {
                hint_ok(limits.exhausted_reset_ms())?;
                for w in limits.windows() {
                    hint_ok(w.reset_ms)?;
                }
            }
            Ok(())
        },
    );
}

#[test]
fn fuzz_duration_parsers() {
    fuzz(
        "duration parsers",
        |seed| (seed.to_owned(), 0.0),
        (header_value(), any::<f64>()),
        |(text, ms)| {
            hint_ok(parse_seconds(&text))?;
            hint_ok(parse_millis(&text))?;
            hint_ok(parse_go_duration(&text))?;
            hint_ok(parse_message_hint(&text))?;
            hint_ok(parse_message_hint(&format!("Please try again in {text}")))?;
            hint_ok(clamp_ms(ms))?;
            let _ = parse_fixed9(&text);
            Ok(())
        },
    );
}

#[test]
fn fuzz_date_parsers() {
    fuzz("date parsers", str::to_owned, header_value(), |text| {
        for at in [parse_http_date(&text), parse_rfc3339(&text)]
            .into_iter()
            .flatten()
        {
            prop_assert!(at.is_finite(), "{} -> {}", text, at);
        }
        Ok(())
    });
}

/// A secret of each shape: (the secret as written, its secret part).
fn secret() -> impl Strategy<Value = (String, String)> {
    // 32 letters and digits with at least one digit (Mistral, Azure).
    let with_digit = |alphabet: &'static str| {
        (
            proptest::string::string_regex(&format!("[{alphabet}]{{31}}")).unwrap(),
            0..32usize,
            0..10u8,
        )
            .prop_map(|(mut s, at, d)| {
                s.insert(at, char::from(b'0' + d));
                (s.clone(), s)
            })
    };
    let prefixed = |prefix: &'static str, body: &'static str| {
        proptest::string::string_regex(body)
            .unwrap()
            .prop_map(move |b| (format!("{prefix}{b}"), b))
    };
    prop_oneof![
        prefixed("sk-proj-", "[A-Za-z0-9_-]{20,160}"),
        prefixed("sk-", "[A-Za-z0-9]{16,48}"),
        prefixed("sk-svcacct-", "[A-Za-z0-9_-]{20,80}"),
        prefixed("sk-ant-api03-", "[A-Za-z0-9_-]{20,95}"),
        prefixed("sk-or-v1-", "[0-9a-f]{64}"),
        prefixed("gsk_", "[A-Za-z0-9]{20,52}"),
        prefixed("xai-", "[A-Za-z0-9]{16,80}"),
        prefixed("AIza", "[A-Za-z0-9_-]{35}"),
        prefixed("Bearer ", "[A-Za-z0-9._~+/-]{7,60}[0-9]"),
        prefixed(
            "eyJ",
            "[A-Za-z0-9_-]{10,40}\\.[A-Za-z0-9_-]{10,80}\\.[A-Za-z0-9_-]{10,60}"
        ),
        with_digit("A-Za-z0-9"),
        with_digit("0-9a-f"),
    ]
}

const SEPARATORS: [&str; 10] = [" ", "=", "(", ")", ":", "\"", "'", "\n", "\t", ", "];

#[test]
fn fuzz_mask_secrets() {
    fuzz(
        "mask_secrets",
        |seed| {
            (
                seed.to_owned(),
                ("sk-".to_owned(), String::new()),
                0,
                0,
                String::new(),
            )
        },
        (
            text(80),
            secret(),
            0..SEPARATORS.len(),
            0..SEPARATORS.len(),
            text(80),
        ),
        |(before, (secret, secret_part), l, r, after)| {
            let text = format!("{before}{}{secret}{}{after}", SEPARATORS[l], SEPARATORS[r]);
            let masked = mask_secrets(&text);
            prop_assert!(masked.len() <= MAX_MESSAGE_LEN);
            if !secret_part.is_empty() {
                prop_assert!(
                    !masked.contains(&secret_part),
                    "{:?} shows {:?}",
                    masked,
                    secret_part
                );
            }
            prop_assert_eq!(mask_secrets(&masked), masked.clone(), "idempotent");
            let plain = mask_secrets(&before);
            prop_assert_eq!(mask_secrets(&plain), plain, "idempotent");
            Ok(())
        },
    );
}

/// A URL with secrets in its userinfo and query: (url, the secrets).
fn secret_url() -> impl Strategy<Value = (String, Vec<String>)> {
    let secret = "S3[A-Za-z0-9]{10,24}";
    (
        "(https?|wss|ftp)",
        proptest::option::of(("[a-z]{1,8}", secret)),
        "[a-z0-9.-]{1,20}(:[0-9]{1,5})?",
        "(/[A-Za-z0-9._~%:-]{0,12}){0,4}",
        proptest::collection::vec(
            (
                prop_oneof![
                    Just("key"),
                    Just("api_key"),
                    Just("API-KEY"),
                    Just("access_token"),
                    Just("sig"),
                    Just("signature"),
                    Just("X-Amz-Signature"),
                    Just("client_secret"),
                ],
                secret,
            ),
            0..4,
        ),
        proptest::collection::vec(("[a-z]{1,6}", "[a-z0-9]{0,6}"), 0..3),
        proptest::option::of("[A-Za-z0-9=&]{0,20}"),
    )
        .prop_map(
            |(scheme, user, host, path, secret_params, params, fragment)| {
                let mut secrets = Vec::new();
                let mut url = format!("{scheme}://");
                if let Some((name, password)) = user {
                    url.push_str(&format!("{name}:{password}@"));
                    secrets.push(password);
                }
                url.push_str(&host);
                url.push_str(&path);
                let mut query: Vec<String> =
                    params.iter().map(|(n, v)| format!("{n}={v}")).collect();
                for (name, value) in secret_params {
                    query.push(format!("{name}={value}"));
                    secrets.push(value);
                }
                if !query.is_empty() {
                    url.push('?');
                    url.push_str(&query.join("&"));
                }
                if let Some(f) = fragment {
                    url.push('#');
                    url.push_str(&f);
                }
                (url, secrets)
            },
        )
}

#[test]
fn fuzz_redact_url() {
    fuzz(
        "redact_url",
        |seed| (seed.to_owned(), Vec::new()),
        prop_oneof![
            3 => secret_url(),
            1 => text(120).prop_map(|t| (t, Vec::new())),
        ],
        |(url, secrets)| {
            let redacted = redact_url(&url);
            for s in &secrets {
                prop_assert!(
                    !redacted.contains(s.as_str()),
                    "{:?} shows {:?}",
                    redacted,
                    s
                );
            }
            prop_assert_eq!(redact_url(&redacted), redacted.clone(), "idempotent");
            // Inside a message too.
            let message = mask_secrets(&format!("request to {url} failed"));
            for s in &secrets {
                prop_assert!(!message.contains(s.as_str()), "{:?} shows {:?}", message, s);
            }
            Ok(())
        },
    );
}

#[test]
fn fuzz_url_split() {
    fuzz(
        "url split",
        str::to_owned,
        prop_oneof![secret_url().prop_map(|(u, _)| u), text(120)],
        |text| {
            let p = url::split(&text);
            // The parts put back together are the input.
            let mut back = String::new();
            if let Some(s) = p.scheme {
                back.push_str(s);
                back.push_str("://");
            }
            if let Some(u) = p.userinfo {
                back.push_str(u);
                back.push('@');
            }
            back.push_str(p.host_port);
            back.push_str(p.path);
            if let Some(q) = p.query {
                back.push('?');
                back.push_str(q);
            }
            if let Some(f) = p.fragment {
                back.push('#');
                back.push_str(f);
            }
            prop_assert_eq!(&back, &text);
            let origin = url::origin(&text);
            prop_assert_eq!(origin.is_some(), p.scheme.is_some());
            if let Some(o) = origin {
                prop_assert!(p.userinfo.is_none() || !o.contains('@') || p.host_port.contains('@'));
            }
            let _ = url::host(&text);
            Ok(())
        },
    );
}

#[test]
fn fuzz_classify_failure() {
    fuzz(
        "classify_failure",
        |seed| ("TypeError".to_owned(), seed.to_owned()),
        (
            prop_oneof![
                Just("TypeError".to_owned()),
                Just("TimeoutError".to_owned()),
                "\\PC{0,12}"
            ],
            text(200),
        ),
        |(name, message)| {
            let c = classify_failure(&name, Some(&message));
            // Unknown: an abort, or an error that is not a failed request.
            prop_assert!(matches!(
                c.kind,
                Kind::Network | Kind::Timeout | Kind::BadRequest | Kind::Unknown
            ));
            prop_assert_eq!(c.action, c.kind.action());
            prop_assert_eq!((c.status, c.retry_after_ms), (0, None));
            prop_assert!(c.message.is_some_and(|m| m.len() <= MAX_MESSAGE_LEN));
            Ok(())
        },
    );
}

#[test]
fn fuzz_json_reader() {
    fuzz("json reader", str::to_owned, body(), |text| {
        let _ = ratewise::classify::json::parse(&text);
        let _ = ratewise::classify::body::parse(&text);
        let mut members = 0usize;
        ratewise::classify::json::scan_prefix(&text, |_, _, _| members += 1);
        prop_assert!(members <= text.len());
        Ok(())
    });
}

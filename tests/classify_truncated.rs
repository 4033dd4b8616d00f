//! Error bodies cut short by `maxErrorBodyBytes`: the decisive field still
//! decides once it has been read in full.

use ratewise::{classify, Action, Classification, Headers, Kind, Response};

const QUOTA: &str = r#"{"error":{"message":"You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}"#;
const RATE: &str = r#"{"error":{"message":"Rate limit reached for gpt-4o in organization org-x on requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in 20s.","type":"requests","param":null,"code":"rate_limit_exceeded"}}"#;

fn run(status: u16, body: &str) -> Classification {
    classify(&Response {
        status,
        headers: &Headers::new(),
        body,
        url: None,
        now_ms: 0.0,
    })
}

/// The offset just after the first complete `"field":"value"` pair.
fn after(body: &str, pair: &str) -> usize {
    body.find(pair).expect(pair) + pair.len()
}

#[test]
fn quota_body_cut_anywhere_after_its_type_is_still_quota() {
    for end in after(QUOTA, r#""type":"insufficient_quota""#)..QUOTA.len() {
        let c = run(429, &QUOTA[..end]);
        assert_eq!(
            (c.kind, c.action),
            (Kind::QuotaExhausted, Action::Alert),
            "cut at {end}: {:?}",
            &QUOTA[..end]
        );
    }
}

#[test]
fn quota_body_with_only_the_code_is_still_quota() {
    // Field order differs between providers: the code alone decides too.
    let body = r#"{"error":{"code":"insufficient_quota","message":"You exceeded your current quota, please"#;
    assert_eq!(run(429, body).kind, Kind::QuotaExhausted);
    let c = run(429, r#"{"error":{"code":"insufficient_quota""#);
    assert_eq!(c.code.as_deref(), Some("insufficient_quota"));
}

#[test]
fn rate_limit_body_cut_after_its_code_is_still_a_rate_limit() {
    for end in after(RATE, r#""code":"rate_limit_exceeded""#)..RATE.len() {
        let c = run(429, &RATE[..end]);
        assert_eq!(
            (c.kind, c.action),
            (Kind::RateLimit, Action::Retry),
            "cut at {end}"
        );
        // The message was read in full, so its hint is kept.
        assert_eq!(c.retry_after_ms, Some(20_000), "cut at {end}");
    }
}

#[test]
fn other_decisive_fields_survive_a_cut() {
    let rows: &[(u16, &str, Kind)] = &[
        (
            529,
            r#"{"type":"error","error":{"type":"overloaded_error","message":"Overl"#,
            Kind::Overloaded,
        ),
        (
            400,
            r#"{"type":"error","error":{"type":"invalid_request_error","message":"Your credit balance is too low to access the Anthropic API.""#,
            Kind::QuotaExhausted,
        ),
        (
            400,
            r#"{"error":{"message":"This model's maximum context length is 8192 tokens.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded""#,
            Kind::ContextLength,
        ),
        (
            429,
            r#"{"error":{"message":"You have no credits remaining.","type":"insufficient_quota","code":"credit_balance_exhausted","#,
            Kind::QuotaExhausted,
        ),
        (
            429,
            r#"[{"error":{"code":429,"message":"Quota exceeded.","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[{"quotaMetric":"x","quotaId":"GenerateRequestsPerDayPerProjectPerModel-FreeTier"}]},{"@type":"type.googleapis.com/google.rpc.Retr"#,
            Kind::QuotaExhausted,
        ),
        (
            429,
            r#"{"error":{"code":429,"message":"Resource has been exhausted (e.g. check quota).","status":"RESOURCE_EXHAUSTED","det"#,
            Kind::RateLimit,
        ),
        (
            401,
            r#"{"error":{"message":"Incorrect API key provided: sk-proj-abc…xyz.","type":"invalid_request_error","param":null,"code":"invalid_api_key""#,
            Kind::Auth,
        ),
    ];
    for (status, body, want) in rows {
        assert_eq!(run(*status, body).kind, *want, "{body}");
    }
}

#[test]
fn a_cut_before_the_decisive_value_is_left_to_the_status() {
    // The value itself is cut: nothing was read in full.
    let c = run(429, r#"{"error":{"type":"insufficient_quo"#);
    assert_eq!(c.kind, Kind::RateLimit);
    // A top-level Anthropic "type":"error" is not the error's type.
    let c = run(500, r#"{"type":"error","error":{"#);
    assert_eq!((c.kind, c.error_type), (Kind::ServerError, None));
}

#[test]
fn quota_body_cut_inside_its_message_is_still_quota() {
    // maxErrorBodyBytes: 200 keeps the decisive phrase, not the type and
    // code that follow it: the phrase decides (it was retried as a rate
    // limit, 4 network calls, before).
    let from = after(QUOTA, "You exceeded your current quota");
    let to = QUOTA.find(r#"","type""#).expect("type");
    for end in from..to {
        let c = run(429, &QUOTA[..end]);
        assert_eq!(
            (c.kind, c.action),
            (Kind::QuotaExhausted, Action::Alert),
            "cut at {end}: {:?}",
            &QUOTA[..end]
        );
    }
    assert_eq!(run(429, &QUOTA[..200]).kind, Kind::QuotaExhausted);
}

#[test]
fn rate_limit_body_cut_inside_its_message_is_still_a_rate_limit() {
    let to = RATE.find(r#"","type""#).expect("type");
    for end in 30..to {
        let c = run(429, &RATE[..end]);
        assert_eq!(c.kind, Kind::RateLimit, "cut at {end}");
    }
}

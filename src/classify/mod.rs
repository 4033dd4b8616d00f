//! The classifier: status, headers and body in, [`Classification`] out.

pub mod body;
pub mod duration;
pub mod failure;
pub mod headers;
pub mod json;
pub mod kind;
pub mod provider;
pub mod stream;
pub mod time;

use serde::Serialize;

use crate::classify::duration::{clamp_ms, parse_message_hint, parse_millis, parse_seconds};
use crate::classify::headers::{Headers, Limits};
use crate::classify::kind::{Action, Kind};
use crate::classify::time::parse_http_date;
use crate::secrets::mask_secrets;
use body::{ErrorBody, Shape};
pub use failure::classify_failure;
use provider::Provider;

/// `error.code` values OpenAI uses for an empty account or a hit budget.
const QUOTA_CODES: [&str; 6] = [
    "insufficient_quota",
    "credit_balance_exhausted",
    "organization_spend_limit_exceeded",
    "project_spend_limit_exceeded",
    "organization_usage_limit_exceeded",
    "billing_hard_limit_reached",
];

/// What the classifier reads: one HTTP response.
#[derive(Debug, Clone, Copy)]
pub struct Response<'a> {
    /// The HTTP status.
    pub status: u16,
    /// The response headers.
    pub headers: &'a Headers,
    /// The body text (only a bounded prefix is examined); `""` when absent.
    pub body: &'a str,
    /// The request URL, for provider detection.
    pub url: Option<&'a str>,
    /// The current local time in ms since the Unix epoch. Absolute wait
    /// hints (HTTP-date, RFC 3339, epoch) are measured against the
    /// response's `Date` header when it has one, and against this otherwise.
    pub now_ms: f64,
}

/// What a response means and what to do about it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Classification {
    /// The kind of failure (`Ok` for 2xx).
    pub kind: Kind,
    /// What to do about it.
    pub action: Action,
    /// The server's own wait hint in ms, clamped to `0..=2^31-1`.
    pub retry_after_ms: Option<u64>,
    /// Which API answered.
    pub provider: Provider,
    /// The HTTP status (0 when there was no response).
    pub status: u16,
    /// The body's `error.code`.
    pub code: Option<String>,
    /// The body's `error.type` (Gemini: `error.status`).
    #[serde(rename = "type")]
    pub error_type: Option<String>,
    /// The body's `error.message`, with anything like an API key masked.
    pub message: Option<String>,
    /// The rate-limit windows the headers report, on any status.
    pub limits: Option<Limits>,
    /// One line saying which rule decided the kind.
    pub reason: &'static str,
}

impl Classification {
    /// A failure with no response at all (`Network` or `Timeout`).
    pub fn without_response(kind: Kind, message: Option<String>, reason: &'static str) -> Self {
        Classification {
            kind,
            action: kind.action(),
            retry_after_ms: None,
            provider: Provider::Unknown,
            status: 0,
            code: None,
            error_type: None,
            message: message.map(|m| mask_secrets(&m)),
            limits: None,
            reason,
        }
    }
}

/// Classifies one response. Never panics, whatever the input.
pub fn classify(response: &Response<'_>) -> Classification {
    let status = response.status;
    let parsed = if (200..300).contains(&status) {
        None
    } else {
        body::parse(response.body)
    };
    let recognised = parsed.is_some();
    let error = parsed.unwrap_or_default();
    let (kind, reason) = match rule(status, &error) {
        Some(decided) => decided,
        None => (
            Kind::from_status(status),
            status_reason(response.body, recognised),
        ),
    };
    let limits = Limits::from_headers(response.headers, response.now_ms);
    let retry_after_ms = if kind == Kind::Ok {
        None
    } else {
        let server_now = headers::server_now_ms(response.headers, response.now_ms);
        wait_hint(response.headers, limits.as_ref(), &error, server_now)
    };
    Classification {
        kind,
        action: kind.action(),
        retry_after_ms,
        provider: provider::detect(response.url, response.headers, error.shape),
        status,
        code: error.code,
        error_type: error.error_type,
        message: error.message.map(|m| mask_secrets(&m)),
        limits,
        reason,
    }
}

fn status_reason(body: &str, recognised: bool) -> &'static str {
    if body.trim().is_empty() {
        "decided by the status: the body is empty"
    } else if recognised {
        "decided by the status: no rule knows this error object"
    } else {
        "decided by the status: the body is not an API error object (HTML, text, odd JSON)"
    }
}

/// The body rules, most specific first. `None` leaves it to the status.
fn rule(status: u16, e: &ErrorBody) -> Option<(Kind, &'static str)> {
    if (200..300).contains(&status) {
        return Some((Kind::Ok, "2xx response"));
    }
    let code = e.code.as_deref().unwrap_or_default();
    let ty = e.error_type.as_deref().unwrap_or_default();
    let message = e.message.as_deref().unwrap_or_default();
    // Lower-cased only if a rule gets as far as reading the message.
    let lowered = std::cell::OnceCell::new();
    let lower = || {
        lowered
            .get_or_init(|| message.to_ascii_lowercase())
            .as_str()
    };
    let gemini = e.shape == Some(Shape::Gemini);

    Some(if ty == "insufficient_quota" {
        (
            Kind::QuotaExhausted,
            "error.type is insufficient_quota: the account has no quota left",
        )
    } else if QUOTA_CODES.contains(&code) {
        (
            Kind::QuotaExhausted,
            "error.code names an exhausted quota or spend limit",
        )
    } else if lower().contains("credit balance is too low") {
        (
            Kind::QuotaExhausted,
            "the message says the credit balance is too low",
        )
    } else if lower().contains("reached your specified api usage limits") {
        (
            Kind::QuotaExhausted,
            "the workspace's spend limit is reached: it lifts when a human raises it",
        )
    } else if gemini
        && ty == "RESOURCE_EXHAUSTED"
        && e.quota_ids.iter().any(|q| q.contains("PerDay"))
    {
        (
            Kind::QuotaExhausted,
            "a per-day quota is exhausted: it resets tomorrow, not in seconds",
        )
    } else if gemini
        && (e.zero_limit
            || e.reason
                .as_deref()
                .is_some_and(|r| r.starts_with("INSUFFICIENT")))
    {
        (
            Kind::QuotaExhausted,
            "the quota limit is zero or the credit balance is insufficient",
        )
    } else if code == "context_length_exceeded"
        || lower().starts_with("prompt is too long")
        || lower().contains("maximum context length")
        || lower().contains("exceeds model context window")
    {
        (
            Kind::ContextLength,
            "the prompt exceeds the model's context window",
        )
    } else if code == "rate_limit_exceeded" && message.starts_with("Request too large for") {
        (
            Kind::RequestTooLarge,
            "the request alone exceeds the per-minute token limit",
        )
    } else if status == 429 && requested_over_limit(message) {
        (
            Kind::RequestTooLarge,
            "the message says one request needs more than the whole per-minute limit",
        )
    } else if ty == "request_too_large" {
        (Kind::RequestTooLarge, "error.type is request_too_large")
    } else if matches!(code, "rate_limit_exceeded" | "slow_down") || ty == "rate_limit_error" {
        (
            Kind::RateLimit,
            "the body names a rate limit: it heals by waiting",
        )
    } else if gemini && ty == "RESOURCE_EXHAUSTED" {
        (Kind::RateLimit, "RESOURCE_EXHAUSTED on a per-minute quota")
    } else if ty == "overloaded_error"
        || code == "server_is_overloaded"
        || ty == "server_is_overloaded"
    {
        (Kind::Overloaded, "the provider reports overload")
    } else if status >= 429 && (lower().contains("overloaded") || (gemini && ty == "UNAVAILABLE")) {
        (
            Kind::Overloaded,
            "the message says the engine or model is overloaded",
        )
    } else if matches!(code, "content_filter" | "content_policy_violation")
        || e.inner_code.as_deref() == Some("ResponsibleAIPolicyViolation")
    {
        (
            Kind::ContentFilter,
            "the content policy refused the request",
        )
    } else if code == "invalid_api_key"
        || ty == "authentication_error"
        || (gemini && ty == "UNAUTHENTICATED")
        || lower().contains("api key not valid")
    {
        (Kind::Auth, "the API key is missing or invalid")
    } else if code == "unsupported_country_region_territory"
        || ty == "permission_error"
        || (gemini && ty == "PERMISSION_DENIED")
    {
        (Kind::Permission, "the key is not allowed to do this")
    } else if code == "model_not_found" || ty == "not_found_error" || (gemini && ty == "NOT_FOUND")
    {
        (Kind::NotFound, "the model or endpoint does not exist")
    } else if ty == "api_error" || (gemini && ty == "INTERNAL") {
        (Kind::ServerError, "the provider reports an internal error")
    } else if gemini && ty == "DEADLINE_EXCEEDED" {
        (Kind::Timeout, "the provider's deadline was exceeded")
    } else {
        return None;
    })
}

/// "Limit 7000, Used 0, Requested 12903": a request bigger than the whole
/// window can never succeed by waiting.
fn requested_over_limit(message: &str) -> bool {
    let number_after = |label: &str| {
        let at = message.find(label)? + label.len();
        let digits: String = message[at..]
            .chars()
            .skip_while(|c| *c == '~')
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse::<u64>().ok()
    };
    matches!((number_after("Limit "), number_after("Requested ")), (Some(limit), Some(requested)) if requested > limit)
}

/// The server's wait hint, from the first source present, in the documented
/// order. `now_ms` is the server's clock ([`headers::server_now_ms`]).
fn wait_hint(
    headers: &Headers,
    limits: Option<&Limits>,
    e: &ErrorBody,
    now_ms: f64,
) -> Option<u64> {
    headers
        .get("retry-after-ms")
        .and_then(parse_millis)
        .or_else(|| {
            let v = headers.get("retry-after")?;
            parse_seconds(v).or_else(|| clamp_ms((parse_http_date(v)? - now_ms).max(0.0)))
        })
        .or_else(|| limits?.exhausted_reset_ms())
        .or(e.retry_delay_ms)
        .or_else(|| parse_message_hint(e.message.as_deref()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(status: u16, headers: &[(&str, &str)], body: &str) -> Classification {
        let headers: Headers = headers.iter().copied().collect();
        classify(&Response {
            status,
            headers: &headers,
            body,
            url: None,
            now_ms: 0.0,
        })
    }

    const QUOTA: &str = r#"{"error":{"message":"You exceeded your current quota, please check your plan and billing details.","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}"#;
    const RATE: &str = r#"{"error":{"message":"Rate limit reached for gpt-4o in organization org-x on requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in 20s.","type":"requests","param":null,"code":"rate_limit_exceeded"}}"#;

    #[test]
    fn the_two_429s_are_told_apart() {
        let quota = run(429, &[], QUOTA);
        assert_eq!(
            (quota.kind, quota.action),
            (Kind::QuotaExhausted, Action::Alert)
        );
        let rate = run(429, &[], RATE);
        assert_eq!((rate.kind, rate.action), (Kind::RateLimit, Action::Retry));
        assert_eq!(rate.retry_after_ms, Some(20_000));
    }

    #[test]
    fn quota_type_wins_over_any_code() {
        for code in [
            "null",
            r#""credit_balance_exhausted""#,
            r#""rate_limit_exceeded""#,
        ] {
            let body = format!(
                r#"{{"error":{{"message":"m","type":"insufficient_quota","code":{code}}}}}"#
            );
            assert_eq!(run(429, &[], &body).kind, Kind::QuotaExhausted, "{code}");
        }
    }

    #[test]
    fn requests_bigger_than_the_window() {
        assert!(requested_over_limit(
            "Limit 7000, Used 0, Requested ~12903. Please try again in 50.598s."
        ));
        assert!(!requested_over_limit("Limit 3, Used 3, Requested 1."));
        assert!(!requested_over_limit("Limit lots"));
    }

    #[test]
    fn hint_order() {
        let h = [("retry-after-ms", "1500.2"), ("retry-after", "20")];
        assert_eq!(run(429, &h, RATE).retry_after_ms, Some(1_501));
        assert_eq!(run(429, &h[1..], RATE).retry_after_ms, Some(20_000));
        let reset = [
            ("x-ratelimit-remaining-requests", "0"),
            ("x-ratelimit-reset-requests", "2m59.56s"),
        ];
        assert_eq!(run(429, &reset, RATE).retry_after_ms, Some(179_560));
        // A window that is not exhausted is no hint: the message decides.
        let not_exhausted = [
            ("x-ratelimit-remaining-requests", "3"),
            ("x-ratelimit-reset-requests", "1s"),
        ];
        assert_eq!(run(429, &not_exhausted, RATE).retry_after_ms, Some(20_000));
    }

    #[test]
    fn http_date_hint_is_relative_and_never_negative() {
        let headers: Headers = [("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT")]
            .into_iter()
            .collect();
        let at = 1_445_412_480_000.0;
        let c = |now| {
            classify(&Response {
                status: 503,
                headers: &headers,
                body: "",
                url: None,
                now_ms: now,
            })
        };
        assert_eq!(c(at - 5_000.0).retry_after_ms, Some(5_000));
        assert_eq!(c(at + 5_000.0).retry_after_ms, Some(0));
    }

    #[test]
    fn ok_has_limits_but_no_hint() {
        let c = run(
            200,
            &[
                ("x-ratelimit-remaining-requests", "0"),
                ("x-ratelimit-reset-requests", "1s"),
                ("retry-after", "3"),
            ],
            "{}",
        );
        assert_eq!(c.kind, Kind::Ok);
        assert_eq!(c.retry_after_ms, None);
        assert_eq!(c.limits.unwrap().requests.unwrap().remaining, Some(0));
    }

    #[test]
    fn html_falls_back_to_status() {
        let c = run(
            502,
            &[],
            "<html><head><title>502 Bad Gateway</title></head></html>",
        );
        assert_eq!(c.kind, Kind::ServerError);
        assert!(c.reason.contains("not an API error object"), "{}", c.reason);
        assert_eq!(run(429, &[], "").kind, Kind::RateLimit);
    }

    #[test]
    fn without_response() {
        let c = Classification::without_response(
            Kind::Network,
            Some("fetch failed".into()),
            "fetch rejected",
        );
        assert_eq!(
            (c.kind, c.action, c.status),
            (Kind::Network, Action::Retry, 0)
        );
    }
}

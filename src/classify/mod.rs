//! The classifier: status, headers and body in, [`Classification`] out.

pub mod body;
pub mod duration;
pub mod failure;
pub mod headers;
pub mod json;
pub mod kind;
pub mod provider;
pub(crate) mod providers;
pub mod search;
pub mod stream;
pub mod time;

use serde::Serialize;

use crate::classify::duration::{clamp_ms, parse_message_hint, parse_millis, parse_seconds};
use crate::classify::headers::{Headers, Limits};
use crate::classify::kind::{Action, Kind, Period};
use crate::classify::time::parse_http_date;
use crate::secrets::mask_secrets_owned;
use body::ErrorBody;
pub use failure::classify_failure;
use provider::Provider;
use providers::Signals;

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
    /// The window of the rate limit or quota that was hit, when the
    /// response names it: a `Day` or `Month` window heals in hours, not
    /// seconds, so a caller can fail over instead of waiting.
    pub window: Option<Period>,
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
            window: None,
            provider: Provider::Unknown,
            status: 0,
            code: None,
            error_type: None,
            message: message.map(mask_secrets_owned),
            limits: None,
            reason,
        }
    }
}

/// The `reason` of an answer an open quota breaker gave from its stored
/// failure.
pub const BREAKER_REASON: &str = "the quota breaker is open: answered without a network call";

impl Classification {
    /// The failure an open quota breaker stored, as the answer it gives in
    /// place of a network call: the same classification, its reason saying
    /// that no request was sent.
    pub fn answered_by_breaker(&self) -> Classification {
        Classification {
            reason: BREAKER_REASON,
            ..self.clone()
        }
    }
}

/// Classifies one response. Never panics, whatever the input.
pub fn classify(response: &Response<'_>) -> Classification {
    let status = response.status;
    let success = (200..300).contains(&status);
    let parsed = if success {
        error_in_success(response.body)
    } else {
        body::parse(response.body)
    };
    let mut error = parsed.unwrap_or_default();
    if !success && error.error_type.is_none() {
        // AWS names the exception in a header; the body has only a message.
        if let Some(name) = response.headers.get(providers::bedrock::ERROR_TYPE_HEADER) {
            error.error_type = Some(body::aws_name(name).to_owned());
        }
    }
    let recognised = error != ErrorBody::default();
    // A 2xx whose body is an error object (OpenRouter, mid-generation) goes
    // by the object's own code.
    let decided_by = match error.numeric_code {
        Some(code) if success && recognised => code,
        _ => status,
    };
    let signals = Signals::new(decided_by, &error);
    let rule = if success && !recognised {
        None
    } else {
        providers::decide(&signals)
    };
    let (kind, reason) = match rule {
        Some(rule) => (rule.kind, rule.reason),
        None if success && !recognised => (Kind::Ok, "2xx response"),
        None if success => (
            Kind::from_status(decided_by),
            "a 2xx whose body is an error object: decided by the object's code",
        ),
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
    let window = providers::window(kind, rule, &signals);
    Classification {
        kind,
        action: kind.action(),
        retry_after_ms,
        window,
        provider: provider::detect(response.url, response.headers, &error),
        status,
        code: error.code,
        error_type: error.error_type,
        message: error.message.map(mask_secrets_owned),
        limits,
        reason,
    }
}

/// The error object in a 2xx body, if it has one with an HTTP error status
/// in its `code`: OpenRouter reports a failure that happens once the model
/// has started this way. A success body is read only if it mentions
/// `"error"` at all.
fn error_in_success(body: &str) -> Option<ErrorBody> {
    if !search::contains(body::bounded(body), "\"error\"") {
        return None;
    }
    body::parse(body).filter(|e| e.numeric_code.is_some_and(|c| c >= 400))
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
    fn a_breaker_answer_is_the_stored_failure_with_a_reason_saying_no_request_went() {
        let stored = run(429, &[("retry-after", "30")], QUOTA);
        let answer = stored.answered_by_breaker();
        assert_eq!(answer.reason, BREAKER_REASON);
        assert_ne!(stored.reason, BREAKER_REASON);
        assert_eq!(
            Classification {
                reason: stored.reason,
                ..answer
            },
            stored
        );
    }

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
    fn aws_exception_from_the_header_alone() {
        let h = [(
            "X-Amzn-ErrorType",
            "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/",
        )];
        let c = run(400, &h, "");
        assert_eq!((c.kind, c.provider), (Kind::RateLimit, Provider::Bedrock));
        assert_eq!(c.error_type.as_deref(), Some("ThrottlingException"));
        // A body's own type wins over the header.
        let c = run(
            400,
            &h,
            r#"{"error":{"type":"invalid_request_error","message":"m"}}"#,
        );
        assert_eq!(c.error_type.as_deref(), Some("invalid_request_error"));
    }

    #[test]
    fn a_2xx_is_ok_unless_its_body_is_an_error_object() {
        let with = |body: &str| run(200, &[], body);
        assert_eq!(with(r#"{"error":"quota"}"#).kind, Kind::Ok);
        assert_eq!(
            with(r#"{"error":{"message":"m","code":200}}"#).kind,
            Kind::Ok
        );
        assert_eq!(with(r#"{"choices":[],"error":null}"#).kind, Kind::Ok);
        let c = with(r#"{"choices":[],"error":{"message":"Provider returned error","code":502}}"#);
        assert_eq!((c.kind, c.status), (Kind::ServerError, 200));
        assert!(c.reason.contains("2xx"), "{}", c.reason);
        let c = with(r#"{"error":{"message":"Insufficient credits","code":402}}"#);
        assert_eq!((c.kind, c.action), (Kind::QuotaExhausted, Action::Alert));
    }

    #[test]
    fn windows_are_named_only_for_limits() {
        let day = r#"{"error":{"message":"Rate limit reached for model `m` on tokens per day (TPD): Limit 100000, Used 99677, Requested 1565. Please try again in 14m24s.","type":"tokens","code":"rate_limit_exceeded"}}"#;
        let c = run(429, &[], day);
        assert_eq!((c.kind, c.window), (Kind::RateLimit, Some(Period::Day)));
        assert_eq!(c.retry_after_ms, Some(864_000));
        assert_eq!(run(429, &[], RATE).window, Some(Period::Minute));
        assert_eq!(run(429, &[], QUOTA).window, None);
        let overloaded = r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded per minute"}}"#;
        assert_eq!(run(529, &[], overloaded).window, None);
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

//! The error object inside a response body, whatever the provider's shape:
//! OpenAI's `{"error":{"type","code","message"}}`, Anthropic's
//! `{"type":"error","error":{"type","message"}}` and Gemini's
//! `{"error":{"code","status","message","details":[…]}}`.
//!
//! Anything else (HTML, empty, truncated, odd JSON) yields `None`: the
//! classifier then falls back to the status and headers.

use crate::classify::json::{self, Value};

use crate::classify::duration::parse_go_duration;

/// Only this many bytes of a body are examined. Real error bodies are a few
/// hundred bytes; a longer one is not an API error object.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Which provider's JSON error shape the body had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `{"error":{"type","code","message","param"}}` (OpenAI and compatibles).
    OpenAi,
    /// `{"type":"error","error":{"type","message"}}`.
    Anthropic,
    /// `{"error":{"code":429,"status":"RESOURCE_EXHAUSTED",…}}`.
    Gemini,
}

/// The fields of an API error body that classification reads.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ErrorBody {
    /// The JSON shape, when recognised.
    pub shape: Option<Shape>,
    /// `error.code` as a string (numbers in decimal).
    pub code: Option<String>,
    /// `error.type` (Gemini: `error.status`).
    pub error_type: Option<String>,
    /// `error.message`.
    pub message: Option<String>,
    /// Azure's `error.innererror.code`.
    pub inner_code: Option<String>,
    /// Gemini `RetryInfo.retryDelay`, in ms.
    pub retry_delay_ms: Option<u64>,
    /// Gemini `QuotaFailure` quota ids.
    pub quota_ids: Vec<String>,
    /// Gemini `ErrorInfo.reason` (`RATE_LIMIT_EXCEEDED`, `API_KEY_INVALID`, …).
    pub reason: Option<String>,
    /// Gemini `ErrorInfo.metadata.quota_limit_value` is `"0"`: a limit of zero never heals.
    pub zero_limit: bool,
}

/// Cuts `body` to at most [`MAX_BODY_BYTES`] on a character boundary.
pub fn bounded(body: &str) -> &str {
    if body.len() <= MAX_BODY_BYTES {
        return body;
    }
    let mut end = MAX_BODY_BYTES;
    while !body.is_char_boundary(end) {
        end -= 1;
    }
    &body[..end]
}

/// Extracts the error object from a body, or `None` if it has none.
pub fn parse(body: &str) -> Option<ErrorBody> {
    let text = bounded(body).trim_start();
    if !text.starts_with(['{', '[']) {
        return None;
    }
    let Some(value) = json::parse(text) else {
        return salvage(text);
    };
    // Some Gemini endpoints wrap the error in a one-element array.
    let root = match &value {
        Value::Array(items) => items.first()?,
        other => other,
    };
    if !matches!(root, Value::Object(_)) {
        return None;
    }
    match root.get("error") {
        Some(err @ Value::Object(_)) => Some(from_error_object(root, err)),
        // Proxies: {"error": "Too many requests"}.
        Some(Value::String(message)) => Some(ErrorBody {
            message: Some(message.to_string()),
            ..ErrorBody::default()
        }),
        // Bare {"message": "..."} bodies.
        _ => root
            .get("message")
            .and_then(Value::as_str)
            .map(|m| ErrorBody {
                message: Some(m.to_owned()),
                ..ErrorBody::default()
            }),
    }
}

/// The error object's fields from a body that is not complete JSON, most
/// often one cut by the reader's byte limit: every `"field":"value"` of the
/// `error` object read in full still counts. `None` when none was read.
fn salvage(text: &str) -> Option<ErrorBody> {
    let mut body = ErrorBody::default();
    let mut anthropic = false;
    let mut status: Option<String> = None;
    let mut found = false;
    json::scan_prefix(text, |path, key, value| {
        let text = match value {
            Value::String(s) => s.as_ref(),
            Value::Number(n) => n,
            _ => return,
        };
        let mut named = path.iter().filter_map(|k| k.as_deref());
        match (named.next(), named.next()) {
            (None, _) => anthropic |= key == "type" && text == "error",
            (Some("error"), None) => {
                let slot = match key {
                    "code" => &mut body.code,
                    "type" => &mut body.error_type,
                    "message" => &mut body.message,
                    "status" => &mut status,
                    _ => return,
                };
                found = true;
                slot.get_or_insert_with(|| text.to_owned());
            }
            (Some("error"), Some("innererror")) if key == "code" => {
                body.inner_code = Some(text.to_owned());
            }
            (Some("error"), Some("details")) => match key {
                "quotaId" => body.quota_ids.push(text.to_owned()),
                "reason" => body.reason = Some(text.to_owned()),
                "quota_limit_value" => body.zero_limit |= text == "0",
                "retryDelay" => body.retry_delay_ms = parse_go_duration(text),
                _ => {}
            },
            _ => {}
        }
    });
    if !found {
        return None;
    }
    let gemini = status
        .as_deref()
        .is_some_and(|s| s.chars().all(|c| c.is_ascii_uppercase() || c == '_'));
    body.shape = Some(if anthropic {
        Shape::Anthropic
    } else if gemini {
        Shape::Gemini
    } else {
        Shape::OpenAi
    });
    if gemini {
        body.error_type = status;
    }
    Some(body)
}

fn from_error_object(root: &Value, err: &Value) -> ErrorBody {
    let text = |v: Option<&Value>| match v {
        Some(Value::String(s)) => Some(s.to_string()),
        Some(Value::Number(n)) => Some((*n).to_owned()),
        _ => None,
    };
    let status = err.get("status").and_then(Value::as_str);
    let shape = if root.get("type").and_then(Value::as_str) == Some("error") {
        Shape::Anthropic
    } else if status.is_some_and(|s| s.chars().all(|c| c.is_ascii_uppercase() || c == '_')) {
        Shape::Gemini
    } else {
        Shape::OpenAi
    };
    let mut body = ErrorBody {
        shape: Some(shape),
        code: text(err.get("code")),
        error_type: text(err.get("type")),
        message: text(err.get("message")),
        inner_code: err
            .get("innererror")
            .and_then(|inner| inner.get("code"))
            .and_then(Value::as_str)
            .map(str::to_owned),
        ..ErrorBody::default()
    };
    if shape == Shape::Gemini {
        body.error_type = status.map(str::to_owned);
        read_gemini_details(err.get("details"), &mut body);
    }
    body
}

fn read_gemini_details(details: Option<&Value>, body: &mut ErrorBody) {
    for detail in details.and_then(Value::as_array).unwrap_or_default() {
        let kind = detail
            .get("@type")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if kind.ends_with("google.rpc.RetryInfo") {
            body.retry_delay_ms = detail
                .get("retryDelay")
                .and_then(Value::as_str)
                .and_then(parse_go_duration);
        } else if kind.ends_with("google.rpc.ErrorInfo") {
            body.reason = detail
                .get("reason")
                .and_then(Value::as_str)
                .map(str::to_owned);
            let limit = detail
                .get("metadata")
                .and_then(|m| m.get("quota_limit_value"));
            body.zero_limit |= limit.and_then(Value::as_str) == Some("0");
        } else if kind.ends_with("google.rpc.QuotaFailure") {
            let violations = detail
                .get("violations")
                .and_then(Value::as_array)
                .unwrap_or_default();
            body.quota_ids.extend(
                violations
                    .iter()
                    .filter_map(|v| v.get("quotaId").and_then(Value::as_str))
                    .map(str::to_owned),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openai_shape() {
        let b = parse(r#"{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}"#).unwrap();
        assert_eq!(b.shape, Some(Shape::OpenAi));
        assert_eq!(b.error_type.as_deref(), Some("insufficient_quota"));
        assert_eq!(b.code.as_deref(), Some("insufficient_quota"));
    }

    #[test]
    fn anthropic_shape() {
        let b =
            parse(r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#)
                .unwrap();
        assert_eq!(b.shape, Some(Shape::Anthropic));
        assert_eq!(b.error_type.as_deref(), Some("overloaded_error"));
        assert_eq!(b.code, None);
    }

    #[test]
    fn gemini_shape_with_details() {
        let b = parse(r#"[{"error":{"code":429,"message":"quota","status":"RESOURCE_EXHAUSTED","details":[
            {"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[{"quotaId":"GenerateRequestsPerDayPerProjectPerModel-FreeTier"}]},
            {"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"45.837906927s"}]}}]"#).unwrap();
        assert_eq!(b.shape, Some(Shape::Gemini));
        assert_eq!(b.code.as_deref(), Some("429"));
        assert_eq!(b.error_type.as_deref(), Some("RESOURCE_EXHAUSTED"));
        assert_eq!(b.retry_delay_ms, Some(45_838));
        assert_eq!(
            b.quota_ids,
            ["GenerateRequestsPerDayPerProjectPerModel-FreeTier"]
        );
    }

    #[test]
    fn non_json_and_odd_shapes() {
        assert_eq!(parse(""), None);
        assert_eq!(parse("<html><body>502 Bad Gateway</body></html>"), None);
        assert_eq!(parse(r#"{"error":{"type":"#), None);
        assert_eq!(parse("[]"), None);
        assert_eq!(parse("42"), None);
        assert_eq!(parse(r#"{"detail":"nope"}"#), None);
        assert_eq!(
            parse(r#"{"error":"Too many requests"}"#)
                .unwrap()
                .message
                .as_deref(),
            Some("Too many requests")
        );
    }

    #[test]
    fn bounded_cuts_on_char_boundary() {
        let big = "é".repeat(MAX_BODY_BYTES);
        let cut = bounded(&big);
        assert!(cut.len() <= MAX_BODY_BYTES && cut.len() >= MAX_BODY_BYTES - 1);
        // A huge body is cut: the fields read before the cut still count,
        // the message cut in its middle does not.
        let huge = format!(
            r#"{{"error":{{"type":"insufficient_quota","message":"{}"}}}}"#,
            "x".repeat(MAX_BODY_BYTES)
        );
        let salvaged = parse(&huge).unwrap();
        assert_eq!(salvaged.error_type.as_deref(), Some("insufficient_quota"));
        assert_eq!(salvaged.message, None);
    }

    #[test]
    fn deep_nesting_does_not_overflow() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(parse(&deep[..MAX_BODY_BYTES.min(deep.len())]), None);
    }
}

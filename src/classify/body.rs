//! The error object inside a response body, whatever the provider's shape:
//! OpenAI's `{"error":{"type","code","message"}}`, Anthropic's
//! `{"type":"error","error":{"type","message"}}` and Gemini's
//! `{"error":{"code","status","message","details":[…]}}`.
//!
//! Also read: AWS's `{"message"}` with `__type`, xAI's `{"code","error"}`,
//! Cohere's `{"id","message"}` and OpenRouter's `error.metadata`.
//!
//! Anything else (HTML, empty, truncated, odd JSON) yields `None`: the
//! classifier then falls back to the status and headers.

use crate::classify::json::{self, Value};

use crate::classify::duration::parse_go_duration;
use crate::classify::provider::Provider;

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
    /// A nested, more specific code: Azure's `error.innererror.code`,
    /// Anthropic's `error.details.error_code`.
    pub inner_code: Option<String>,
    /// Gemini `RetryInfo.retryDelay`, in ms.
    pub retry_delay_ms: Option<u64>,
    /// Gemini `QuotaFailure` quota ids and `ErrorInfo` quota limit names.
    pub quota_ids: Vec<String>,
    /// Gemini `ErrorInfo.reason` (`RATE_LIMIT_EXCEEDED`, `API_KEY_INVALID`, …).
    pub reason: Option<String>,
    /// Gemini `ErrorInfo.metadata.quota_limit_value` is `"0"`: a limit of zero never heals.
    pub zero_limit: bool,
    /// A shape only one provider sends (OpenRouter's `error.metadata`,
    /// xAI's top-level `code` + `error` string, Cohere's `id` + `message`,
    /// AWS's `__type`).
    pub hint: Option<Provider>,
    /// The error object carries a numeric `code` (OpenRouter, Gemini): an
    /// HTTP status, even inside a 200 response.
    pub numeric_code: Option<u16>,
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
    crate::cut::before(body, end)
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
    let text = |key: &str| root.get(key).and_then(Value::as_str).map(str::to_owned);
    let message = || text("message").or_else(|| text("Message"));
    match root.get("error") {
        Some(err @ Value::Object(_)) => Some(from_error_object(root, err)),
        // Proxies: {"error": "Too many requests"}; Fireworks adds a
        // top-level message, xAI a top-level code.
        Some(Value::String(error)) => Some(ErrorBody {
            message: message().or_else(|| Some(error.to_string())),
            code: text("code"),
            hint: text("code").map(|_| Provider::XAi),
            ..ErrorBody::default()
        }),
        // Bare {"message": "..."} bodies: AWS (with `__type`), Cohere
        // (with `id`), Mistral's `{"object":"error","type","code"}` and
        // gateways.
        // Cloudflare's API envelope: {"success":false,"errors":[{"code","message"}]}.
        None if root.get("errors").is_some() => {
            let first = match root.get("errors") {
                Some(Value::Array(items)) => items.first(),
                _ => None,
            }?;
            let field = |key: &str| match first.get(key) {
                Some(Value::String(s)) => Some(s.to_string()),
                Some(Value::Number(n)) => Some((*n).to_owned()),
                _ => None,
            };
            Some(ErrorBody {
                message: Some(field("message")?),
                code: field("code"),
                ..ErrorBody::default()
            })
        }
        _ => message().map(|m| {
            let listed = text("object").as_deref() == Some("error");
            let aws = text("__type").map(|t| aws_name(&t).to_owned());
            let hint = if aws.is_some() {
                Some(Provider::Bedrock)
            } else if text("id").is_some() {
                Some(Provider::Cohere)
            } else {
                None
            };
            ErrorBody {
                message: Some(m),
                error_type: aws.or_else(|| text("type").filter(|_| listed)),
                code: text("code").filter(|_| listed),
                hint,
                ..ErrorBody::default()
            }
        }),
    }
}

/// The exception name in an AWS error type: `ThrottlingException` from
/// `ThrottlingException:http://internal.amazon.com/coral/…` (the
/// `x-amzn-ErrorType` header) or `com.amazon.coral#ThrottlingException`
/// (the body's `__type`).
pub fn aws_name(raw: &str) -> &str {
    let name = raw.rsplit('#').next().unwrap_or(raw);
    name.split(':').next().unwrap_or(name).trim()
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
                "quota_limit" => body.quota_ids.push(text.to_owned()),
                "error_code" => body.inner_code = Some(text.to_owned()),
                "retryDelay" => body.retry_delay_ms = parse_go_duration(text),
                _ => {}
            },
            _ => {}
        }
    });
    // A message cut short still says what it says: "You exceeded your
    // current quota, please check your pl…" is decisive before its end.
    if body.message.is_none() {
        body.message = cut_message(text).map(str::to_owned);
        found |= body.message.is_some();
    }
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

/// The error message a cut body ends inside: what follows the last
/// `"message":"` when no closing quote does (escapes left as they are,
/// which only matters to phrases that contain a quote). `None` when the
/// body does not end inside a message.
fn cut_message(text: &str) -> Option<&str> {
    // A byte search: `rfind` with a string needle pulls in the two-way
    // searcher's backward half for this one call.
    const KEY: &[u8] = b"\"message\"";
    let at = text.as_bytes().windows(KEY.len()).rposition(|w| w == KEY)?;
    let rest = crate::cut::after(text, at + 9)
        .trim_start()
        .strip_prefix(':')?;
    let rest = rest.trim_start().strip_prefix('"')?;
    let bytes = rest.as_bytes();
    let mut escaped = false;
    for &b in bytes {
        match b {
            b'\\' => escaped = !escaped,
            b'"' if !escaped => return None,
            _ => escaped = false,
        }
    }
    (!rest.is_empty()).then_some(rest)
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
    let nested = |outer: &str, key: &str| {
        err.get(outer)
            .and_then(|inner| inner.get(key))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let numeric_code = match err.get("code") {
        Some(Value::Number(n)) => n.parse::<u16>().ok().filter(|c| (100..=599).contains(c)),
        _ => None,
    };
    let mut body = ErrorBody {
        shape: Some(shape),
        code: text(err.get("code")),
        error_type: text(err.get("type")),
        message: text(err.get("message")),
        inner_code: nested("innererror", "code").or_else(|| nested("details", "error_code")),
        hint: matches!(err.get("metadata"), Some(Value::Object(_))).then_some(Provider::OpenRouter),
        numeric_code,
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
            let metadata = detail.get("metadata");
            let limit = metadata.and_then(|m| m.get("quota_limit_value"));
            body.zero_limit |= limit.and_then(Value::as_str) == Some("0");
            if let Some(name) = metadata
                .and_then(|m| m.get("quota_limit"))
                .and_then(Value::as_str)
            {
                body.quota_ids.push(name.to_owned());
            }
        } else if kind.ends_with("google.rpc.QuotaFailure") {
            let violations = detail
                .get("violations")
                .and_then(Value::as_array)
                .unwrap_or_default();
            // A loop, not extend with filter_map: no extend_desugared of its own.
            for v in violations {
                if let Some(id) = v.get("quotaId").and_then(Value::as_str) {
                    body.quota_ids.push(id.to_owned());
                }
            }
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
    fn other_providers_shapes() {
        let xai = parse(r#"{"code":"Some resource has been exhausted","error":"Your team t has either used all available credits"}"#).unwrap();
        assert_eq!(xai.hint, Some(Provider::XAi));
        assert_eq!(
            xai.code.as_deref(),
            Some("Some resource has been exhausted")
        );
        assert!(xai.message.unwrap().starts_with("Your team"));

        let fireworks = parse(
            r#"{"error":"Too Many Requests","message":"You have exceeded your usage limits."}"#,
        )
        .unwrap();
        assert_eq!(
            fireworks.message.as_deref(),
            Some("You have exceeded your usage limits.")
        );
        assert_eq!(fireworks.hint, None);

        let cohere = parse(r#"{"id":"x","message":"You are using a Trial key"}"#).unwrap();
        assert_eq!(cohere.hint, Some(Provider::Cohere));

        let aws = parse(
            r#"{"__type":"com.amazon.coral.service#ThrottlingException","Message":"slow down"}"#,
        )
        .unwrap();
        assert_eq!(aws.error_type.as_deref(), Some("ThrottlingException"));
        assert_eq!(aws.message.as_deref(), Some("slow down"));
        assert_eq!(aws.hint, Some(Provider::Bedrock));

        let mistral = parse(r#"{"object":"error","message":"Rate limit exceeded","type":"rate_limited","param":null,"code":"1300"}"#).unwrap();
        assert_eq!(
            (mistral.error_type.as_deref(), mistral.code.as_deref()),
            (Some("rate_limited"), Some("1300"))
        );
        let gateway = parse(r#"{"message":"m","type":"t","code":"c"}"#).unwrap();
        assert_eq!(
            (gateway.error_type, gateway.code),
            (None, None),
            "type and code count only in Mistral's shape"
        );

        let anthropic = parse(r#"{"type":"error","error":{"type":"rate_limit_error","message":"m","details":{"error_code":"enforced_spend_limit_reached"}}}"#).unwrap();
        assert_eq!(
            anthropic.inner_code.as_deref(),
            Some("enforced_spend_limit_reached")
        );
        let cut = parse(r#"{"type":"error","error":{"type":"rate_limit_error","details":{"error_code":"enforced_spend_limit_reached"},"message":"cu"#).unwrap();
        assert_eq!(
            cut.inner_code.as_deref(),
            Some("enforced_spend_limit_reached")
        );

        let openrouter = parse(
            r#"{"error":{"message":"Provider returned error","code":429,"metadata":{"raw":"x"}}}"#,
        )
        .unwrap();
        assert_eq!(
            (openrouter.hint, openrouter.numeric_code),
            (Some(Provider::OpenRouter), Some(429))
        );
        let odd = parse(r#"{"error":{"message":"m","code":42}}"#).unwrap();
        assert_eq!(odd.numeric_code, None, "only HTTP statuses count");
    }

    #[test]
    fn aws_names() {
        assert_eq!(
            aws_name("ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/"),
            "ThrottlingException"
        );
        assert_eq!(
            aws_name("com.amazon.coral#ValidationException"),
            "ValidationException"
        );
        assert_eq!(aws_name("ValidationException"), "ValidationException");
        assert_eq!(aws_name(""), "");
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
        // and so does what was read of the message cut in its middle.
        let huge = format!(
            r#"{{"error":{{"type":"insufficient_quota","message":"{}"}}}}"#,
            "x".repeat(MAX_BODY_BYTES)
        );
        let salvaged = parse(&huge).unwrap();
        assert_eq!(salvaged.error_type.as_deref(), Some("insufficient_quota"));
        let message = salvaged.message.unwrap_or_default();
        assert!(message.len() < MAX_BODY_BYTES && message.bytes().all(|b| b == b'x'));
        // A string that ends is not a cut message.
        assert_eq!(cut_message(r#"{"error":{"message":"done"}"#), None);
        assert_eq!(
            cut_message(r#"{"error":{"message":"say \"hi"#),
            Some(r#"say \"hi"#)
        );
        // The last `"message"` key is the one the body ends inside.
        assert_eq!(
            cut_message(r#"{"message":"a","error":{"message": "é cut"#),
            Some("é cut")
        );
        assert_eq!(cut_message(r#"{"messages":"x"#), None);
    }

    #[test]
    fn deep_nesting_does_not_overflow() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(parse(&deep[..MAX_BODY_BYTES.min(deep.len())]), None);
    }
}

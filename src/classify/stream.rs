//! Errors that arrive inside a successful `text/event-stream`: the server
//! answered 200, then sent an error as its first event. Read from a peeked
//! prefix of the stream, such an event is classified as the response it
//! stands for (a 429 quota or rate-limit body, a 529 overload, …).
//!
//! The shapes recognised:
//! - `event: error` with the error as data (Anthropic `{"type":"error",
//!   "error":{…}}`; OpenAI Responses `{"type":"error","code":…}`);
//! - OpenAI Responses `response.failed`, whose `response.error` says why;
//! - a `data:` line holding `{"error":{…}}` (Chat Completions, OpenRouter).

use crate::classify::json::{self, Value};
use crate::classify::search;
use crate::classify::{classify, Classification, Headers, Response};
use crate::text::join;

/// The `reason` of a classification read from a 200 stream's error event.
pub const STREAM_ERROR_REASON: &str = "the 200 event stream opened with an error event";

/// An error a stream opened with, as an HTTP answer: the status it stands
/// for and an `{"error":{…}}` body for the classifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamError {
    /// The status the error stands for.
    pub status: u16,
    /// The error as a JSON body.
    pub body: String,
}

impl StreamError {
    /// The answer this error stands for, classified with the response's
    /// `headers` (its rate-limit windows, its wait hint), its reason saying
    /// that it came inside a 200 stream.
    pub fn classify(&self, headers: &Headers, url: Option<&str>, now_ms: f64) -> Classification {
        let mut c = classify(&Response {
            status: self.status,
            headers,
            body: &self.body,
            url,
            now_ms,
        });
        c.reason = STREAM_ERROR_REASON;
        c
    }
}

/// Gives `each` the events of a stream in order, each as its `event:` name
/// and its `data:` lines joined, until `each` answers `true`. Loops and a
/// `dyn` callback, not an iterator of flat_map and filter_map: no FlatMap,
/// FilterMap and try_fold for each way it is read (issue 25).
fn each_event(text: &str, each: &mut dyn FnMut(Option<&str>, &str) -> bool) {
    for blocks in search::split(text, "\n\n") {
        for block in search::split(blocks, "\r\n\r\n") {
            let mut name = None;
            let mut data: Vec<&str> = Vec::new();
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    name = Some(v.trim());
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push(v.strip_prefix(' ').unwrap_or(v));
                }
            }
            if (name.is_some() || !data.is_empty()) && each(name, &join(&data, "\n")) {
                return;
            }
        }
    }
}

/// The error the stream opens with, if its first event (comments aside) is
/// one; `None` for an ordinary first event or an incomplete prefix.
pub fn first_event_error(prefix: &str) -> Option<StreamError> {
    let mut found = None;
    each_event(prefix, &mut |name, data| {
        found = error_of(name, data);
        true
    });
    found
}

/// The first error event in `text` (a later part of a stream), if any.
pub fn any_error_event(text: &str) -> Option<StreamError> {
    let mut found = None;
    each_event(text, &mut |name, data| {
        found = error_of(name, data);
        found.is_some()
    });
    found
}

/// The error an event stands for, if it is one.
fn error_of(name: Option<&str>, data: &str) -> Option<StreamError> {
    let value = json::parse(data)?;
    let error = match (name, value.get("type").and_then(Value::as_str)) {
        (_, Some("response.failed")) => value.get("response")?.get("error")?,
        (Some("error"), _) => value.get("error").unwrap_or(&value),
        _ => value.get("error")?,
    };
    let field = |key| match error.get(key) {
        Some(Value::String(s)) => Some(s.to_string()),
        Some(Value::Number(n)) => Some((*n).to_owned()),
        _ => None,
    };
    // An envelope's own `"type":"error"` says nothing about the error.
    let kind = field("type").filter(|t| t != "error");
    let (code, message) = (field("code"), field("message"));
    let words = join(
        &[kind.as_deref().unwrap_or(""), code.as_deref().unwrap_or("")],
        " ",
    );
    let status = status_for(&words, code.as_deref());
    let mut body = String::from("{\"error\":{");
    for (key, value) in [("type", &kind), ("code", &code), ("message", &message)] {
        if let Some(v) = value {
            if !body.ends_with('{') {
                body.push(',');
            }
            body.push('"');
            body.push_str(key);
            body.push_str("\":");
            push_json_string(&mut body, v);
        }
    }
    body.push_str("}}");
    Some(StreamError { status, body })
}

/// The status an error's type and code stand for.
fn status_for(words: &str, code: Option<&str>) -> u16 {
    let has = |needle| search::contains(words, needle);
    if let Some(n) = code.and_then(|c| c.parse::<u16>().ok()) {
        if (400..600).contains(&n) {
            return n;
        }
    }
    if has("quota") || has("billing") || has("rate_limit") || has("insufficient") {
        429
    } else if has("overloaded") {
        529
    } else if has("invalid_request") || has("context_length") || has("not_found") {
        400
    } else {
        500
    }
}

/// Appends `s` as a JSON string literal.
fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                // A control character: \u00XX, by hand (no core::fmt).
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.push_str("\\u00");
                out.push(char::from(HEX[c as usize >> 4]));
                out.push(char::from(HEX[c as usize & 15]));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ordinary_first_event_is_no_error() {
        let ok = "data: {\"id\":\"chatcmpl-1\",\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n";
        assert_eq!(first_event_error(ok), None);
        assert_eq!(
            first_event_error("event: message_start\ndata: {\"type\":\"message_start\"}\n\n"),
            None
        );
        assert_eq!(first_event_error("data: [DONE]\n\n"), None);
        assert_eq!(first_event_error(""), None);
        let later = "data: {\"choices\":[]}\n\nevent: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n";
        assert_eq!(first_event_error(later), None, "not the first event");
        assert_eq!(any_error_event(later).map(|e| e.status), Some(529));
    }

    #[test]
    fn comments_before_the_first_event_are_skipped() {
        let text = ": OPENROUTER PROCESSING\n\ndata: {\"error\":{\"code\":429,\"message\":\"Rate limit exceeded\"}}\n\n";
        let e = first_event_error(text).unwrap();
        assert_eq!(e.status, 429);
        assert!(e.body.contains("Rate limit exceeded"));
    }

    #[test]
    fn each_shape_maps_to_the_status_it_stands_for() {
        let anthropic = "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n";
        assert_eq!(first_event_error(anthropic).unwrap().status, 529);
        let responses = "event: error\ndata: {\"type\":\"error\",\"code\":\"insufficient_quota\",\"message\":\"You exceeded your current quota\"}\n\n";
        let e = first_event_error(responses).unwrap();
        assert_eq!(e.status, 429);
        assert_eq!(
            e.body,
            "{\"error\":{\"code\":\"insufficient_quota\",\"message\":\"You exceeded your current quota\"}}"
        );
        let failed = "event: response.failed\ndata: {\"type\":\"response.failed\",\"response\":{\"error\":{\"code\":\"rate_limit_exceeded\",\"message\":\"Slow down\"}}}\n\n";
        assert_eq!(first_event_error(failed).unwrap().status, 429);
        let crlf = "data: {\"error\":{\"type\":\"server_error\",\"message\":\"a \\\"quoted\\\" word\"}}\r\n\r\n";
        let e = first_event_error(crlf).unwrap();
        assert_eq!(e.status, 500);
        assert!(e.body.contains("a \\\"quoted\\\" word"), "{}", e.body);
    }

    #[test]
    fn an_error_event_is_classified_as_the_answer_it_stands_for_and_says_so() {
        use crate::classify::kind::{Action, Kind};
        let quota = "event: error\ndata: {\"type\":\"error\",\"code\":\"insufficient_quota\",\"message\":\"You exceeded your current quota\"}\n\n";
        let headers: Headers = [("retry-after", "7")].into_iter().collect();
        let c = first_event_error(quota).unwrap().classify(
            &headers,
            Some("https://api.openai.com/v1/responses"),
            0.0,
        );
        assert_eq!(
            (c.kind, c.action, c.status, c.reason),
            (
                Kind::QuotaExhausted,
                Action::Alert,
                429,
                STREAM_ERROR_REASON
            )
        );
        let overloaded = "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n";
        let c = first_event_error(overloaded)
            .unwrap()
            .classify(&headers, None, 0.0);
        assert_eq!(
            (c.kind, c.retry_after_ms, c.reason),
            (Kind::Overloaded, Some(7_000), STREAM_ERROR_REASON)
        );
    }

    #[test]
    fn control_characters_are_escaped_as_json_wants() {
        let mut out = String::new();
        push_json_string(&mut out, "a\u{1}b\nc\u{1f}\"\\é");
        assert_eq!(out, "\"a\\u0001b\\u000ac\\u001f\\\"\\\\é\"");
        let parsed: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(parsed, "a\u{1}b\nc\u{1f}\"\\é");
    }
}

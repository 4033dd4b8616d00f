//! The local answer to a call a spent budget stops (without `throwOnError`):
//! a 429 that sends nothing to the network, with `x-should-retry: false`
//! (so the OpenAI and Anthropic SDKs do not retry it) and a JSON error body
//! naming the budget, which [`crate::classify()`] reads back as
//! [`Kind::BudgetExhausted`](crate::Kind::BudgetExhausted) (the body alone
//! says so, as browsers hide headers CORS does not expose).

use super::books::Exhausted;
use super::config::Unit;

/// The answer's status.
pub const STATUS: u16 = 429;

/// The answer's `error.type`, the one [`crate::classify()`] recognises.
pub const ERROR_TYPE: &str = "ratewise_budget_exhausted";

/// The answer's `error.code`, the kind's wire name.
pub const ERROR_CODE: &str = "budget_exhausted";

/// A local answer: status, headers and body.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// [`STATUS`].
    pub status: u16,
    /// Its headers, lower-case names.
    pub headers: Vec<(&'static str, String)>,
    /// Its JSON body.
    pub body: String,
}

/// `s` as a JSON string literal.
fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A finite number as JSON (anything else as `null`).
fn json_number(n: f64) -> String {
    if n.is_finite() {
        n.to_string()
    } else {
        "null".into()
    }
}

/// The answer for a call `exhausted` stopped: `{ "error": { "message",
/// "type", "code", "budget", "unit", "limit", "spent", "resetsAtMs" } }`.
pub fn answer(exhausted: &Exhausted) -> Answer {
    let unit = match exhausted.unit {
        Unit::Usd => "usd",
        Unit::Tokens => "tokens",
    };
    let message = format!(
        "ratewise: the budget {:?} is spent until its window resets; nothing was sent",
        exhausted.budget
    );
    let body = format!(
        concat!(
            "{{\"error\":{{\"message\":{},\"type\":\"{}\",\"code\":\"{}\",",
            "\"budget\":{},\"unit\":\"{}\",\"limit\":{},\"spent\":{},\"resetsAtMs\":{}}}}}"
        ),
        json_string(&message),
        ERROR_TYPE,
        ERROR_CODE,
        json_string(&exhausted.budget),
        unit,
        json_number(exhausted.limit),
        json_number(exhausted.spent),
        json_number(exhausted.resets_at_ms),
    );
    Answer {
        status: STATUS,
        headers: vec![
            ("content-type", "application/json".into()),
            ("x-should-retry", "false".into()),
        ],
        body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::headers::Headers;
    use crate::{classify, Action, Kind, Response};

    #[test]
    fn the_answer_is_json_naming_the_budget_and_classifies_as_budget_exhausted() {
        let e = Exhausted {
            budget: "nightly \"batch\"\n".into(),
            unit: Unit::Usd,
            limit: 5.0,
            spent: 5.25,
            reserved: 0.0,
            resets_at_ms: 1_796_688_000_000.0,
        };
        let a = answer(&e);
        let v: serde_json::Value = serde_json::from_str(&a.body).unwrap();
        let err = &v["error"];
        assert_eq!(err["budget"], "nightly \"batch\"\n");
        assert_eq!(
            (&err["type"], &err["code"], &err["unit"]),
            (
                &serde_json::json!(ERROR_TYPE),
                &serde_json::json!("budget_exhausted"),
                &serde_json::json!("usd")
            )
        );
        assert_eq!(err["resetsAtMs"], 1_796_688_000_000.0);
        assert_eq!(err["spent"], 5.25);
        assert!(a.headers.contains(&("x-should-retry", "false".into())));
        let headers: Headers = a.headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let c = classify(&Response {
            status: a.status,
            headers: &headers,
            body: &a.body,
            url: Some("https://api.openai.com/v1/chat/completions"),
            now_ms: 0.0,
        });
        assert_eq!((c.kind, c.action), (Kind::BudgetExhausted, Action::Alert));
        // The body alone says so (a browser may hide the headers).
        let c = classify(&Response {
            status: 429,
            headers: &Headers::default(),
            body: &a.body,
            url: None,
            now_ms: 0.0,
        });
        assert_eq!(c.kind, Kind::BudgetExhausted);
        let inf = Exhausted {
            limit: f64::INFINITY,
            ..e
        };
        assert!(answer(&inf).body.contains("\"limit\":null"));
    }
}

//! Google Gemini API (generativelanguage.googleapis.com):
//! `{"error":{"code":429,"status":"RESOURCE_EXHAUSTED","details":[…]}}`.
//! `RESOURCE_EXHAUSTED` is a rate limit unless the quota is per day or its
//! limit is zero (in `ErrorInfo`, or only in the message: "limit: 0").
//! Vertex AI shares these rules (`vertex.rs`).

use super::{Def, On, Rule, Signals};
use crate::classify::kind::Kind;
use crate::classify::kind::Period;
use crate::classify::provider::Provider;
use crate::classify::search;

pub const DEF: Def = Def {
    id: Provider::Gemini,
    hosts: &["generativelanguage.googleapis.com"],
    headers: super::no_headers,
    rules: &RULES,
};

const RULES: [Rule; 12] = [
    Rule {
        when: &[(On::Ty, "RESOURCE_EXHAUSTED")],
        test: Some(per_day),
        window: Some(Period::Day),
        ..Rule::new(
            Kind::QuotaExhausted,
            "a per-day quota is exhausted: it resets tomorrow, not in seconds",
        )
    },
    Rule {
        test: Some(zero_or_unfunded),
        ..Rule::new(
            Kind::QuotaExhausted,
            "the quota limit is zero or the credit balance is insufficient",
        )
    },
    Rule {
        when: &[(On::Ty, "RESOURCE_EXHAUSTED")],
        ..Rule::new(
            Kind::RateLimit,
            "RESOURCE_EXHAUSTED on a quota that is neither per day nor zero: it heals by waiting",
        )
    },
    Rule {
        when: &[(On::Ty, "UNAVAILABLE")],
        status: [429, 999],
        ..Rule::new(Kind::Overloaded, "the message says the engine or model is overloaded")
    },
    Rule {
        when: &[(On::Ty, "UNAUTHENTICATED")],
        ..Rule::new(Kind::Auth, "the API key is missing or invalid")
    },
    Rule {
        when: &[(On::Says, "api key not valid")],
        ..Rule::new(Kind::Auth, "the API key is missing or invalid")
    },
    Rule {
        when: &[(On::Ty, "PERMISSION_DENIED")],
        ..Rule::new(Kind::Permission, "the key is not allowed to do this")
    },
    Rule {
        when: &[(On::Ty, "FAILED_PRECONDITION"), (On::Says, "location is not supported"), (On::Says, "not available in your country")],
                ..Rule::new(
            Kind::Permission,
            "the API (or its free tier) is not offered where the caller is: a region, not the request, is the problem",
        )
    },
    Rule {
        when: &[(On::Ty, "NOT_FOUND")],
        ..Rule::new(Kind::NotFound, "the model or endpoint does not exist")
    },
    Rule {
        when: &[(On::Ty, "INTERNAL")],
        ..Rule::new(Kind::ServerError, "the provider reports an internal error")
    },
    Rule {
        when: &[(On::Ty, "DEADLINE_EXCEEDED")],
        ..Rule::new(Kind::Timeout, "the provider's deadline was exceeded")
    },
    Rule {
        when: &[(On::Ty, "INVALID_ARGUMENT"), (On::Ty, "FAILED_PRECONDITION"), (On::Ty, "OUT_OF_RANGE")],
        status: [400, 499],
        ..Rule::new(Kind::BadRequest, "the request itself is invalid: sending it again will not help")
    },
];

fn per_day(s: &Signals<'_>) -> bool {
    s.body
        .quota_ids
        .iter()
        .any(|q| search::contains(q, "PerDay"))
}

/// A zero limit (in `ErrorInfo`, or only in the message: "limit: 0,") or an
/// unfunded balance (`INSUFFICIENT_…` reasons) never heals by waiting.
fn zero_or_unfunded(s: &Signals<'_>) -> bool {
    s.body.shape == Some(crate::classify::body::Shape::Gemini)
        && (s.body.zero_limit
            || s.body
                .reason
                .as_deref()
                .is_some_and(|r| r.starts_with("INSUFFICIENT"))
            || limit_zero_in(s.message()))
}

/// "… limit: 0, model: …": a zero limit stated only in the message.
fn limit_zero_in(message: &str) -> bool {
    let mut rest = message;
    while let Some((_, after)) = search::split_once(rest, "limit: 0") {
        let more_digits = after.bytes().next();
        if !more_digits.is_some_and(|b| b.is_ascii_digit() || b == b'.') {
            return true;
        }
        rest = after;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_limit_in_the_message() {
        assert!(limit_zero_in(
            "Quota exceeded for metric: x, limit: 0, model: y"
        ));
        assert!(limit_zero_in("limit: 0"));
        assert!(!limit_zero_in(
            "Quota exceeded for metric: x, limit: 20, model: y"
        ));
        assert!(!limit_zero_in("limit: 05"));
        assert!(!limit_zero_in("limit: 0.5"));
        assert!(!limit_zero_in("no limit here"));
    }
}

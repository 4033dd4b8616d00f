//! Anthropic (api.anthropic.com): `{"type":"error","error":{"type",
//! "message","details"}}`. Every spend or usage cap is a quota, whatever
//! its status: 400 with "reached your specified API usage limits", 429
//! `rate_limit_error` with `details.error_code: enforced_spend_limit_reached`
//! (the tier's monthly cap), 402 `billing_error`.

use super::{Def, On, Rule};
use crate::classify::headers::Headers;
use crate::classify::kind::Kind;
use crate::classify::kind::Period;
use crate::classify::provider::Provider;

pub const DEF: Def = Def {
    id: Provider::Anthropic,
    hosts: &["anthropic.com"],
    headers,
    rules: &RULES,
};

fn headers(h: &Headers) -> bool {
    h.has_prefix("anthropic-")
}

const RULES: [Rule; 12] = [
    Rule {
        when: &[(On::Says, "credit balance is too low")],
        ..Rule::new(
            Kind::QuotaExhausted,
            "the message says the credit balance is too low",
        )
    },
    Rule {
        when: &[
            (On::Says, "reached your specified api usage limits"),
            (
                On::Says,
                "reached your specified workspace api usage limits",
            ),
        ],
        ..Rule::new(
            Kind::QuotaExhausted,
            "the workspace's spend limit is reached: it lifts when a human raises it",
        )
    },
    Rule {
        when: &[(On::Inner, "enforced_spend_limit_reached")],
        window: Some(Period::Month),
        ..Rule::new(
            Kind::QuotaExhausted,
            "the tier's monthly spend cap is reached: usage resumes next month or at a higher tier",
        )
    },
    Rule {
        when: &[
            (On::Says, "reached your api usage limits"),
            (On::Says, "monthly spend limit"),
        ],
        window: Some(Period::Month),
        ..Rule::new(
            Kind::QuotaExhausted,
            "the message says a monthly spend limit is reached: waiting seconds will not lift it",
        )
    },
    Rule {
        when: &[(On::Ty, "billing_error")],
        ..Rule::new(
            Kind::QuotaExhausted,
            "error.type is billing_error: a payment problem",
        )
    },
    Rule {
        when: &[
            (On::Says, "prompt is too long"),
            (On::Says, "exceed context limit"),
            (On::Says, "exceeds model context window"),
        ],
        ..Rule::new(
            Kind::ContextLength,
            "the prompt exceeds the model's context window",
        )
    },
    Rule {
        when: &[(On::Ty, "request_too_large")],
        ..Rule::new(Kind::RequestTooLarge, "error.type is request_too_large")
    },
    Rule {
        when: &[(On::Ty, "overloaded_error")],
        ..Rule::new(Kind::Overloaded, "the provider reports overload")
    },
    Rule {
        when: &[(On::Ty, "authentication_error")],
        ..Rule::new(Kind::Auth, "the API key is missing or invalid")
    },
    Rule {
        when: &[(On::Ty, "permission_error")],
        ..Rule::new(Kind::Permission, "the key is not allowed to do this")
    },
    Rule {
        when: &[(On::Ty, "not_found_error")],
        ..Rule::new(Kind::NotFound, "the model or endpoint does not exist")
    },
    Rule {
        when: &[(On::Ty, "api_error")],
        ..Rule::new(Kind::ServerError, "the provider reports an internal error")
    },
];

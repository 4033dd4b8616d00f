//! OpenAI (api.openai.com), and the OpenAI-compatible conventions most
//! other providers and proxies copy: `error.type` / `error.code`, the
//! "maximum context length" message, "Limit N, Used M, Requested K".

use super::{Def, On, Rule, Signals};
use crate::classify::headers::Headers;
use crate::classify::kind::Kind;
use crate::classify::provider::Provider;

pub const DEF: Def = Def {
    id: Provider::OpenAi,
    hosts: &["openai.com"],
    headers,
    rules: &RULES,
};

fn headers(h: &Headers) -> bool {
    h.has_prefix("openai-")
}

const RULES: [Rule; 17] = [
    Rule {
        when: &[(On::Ty, "insufficient_quota")],
        ..Rule::new(
            Kind::QuotaExhausted,
            "error.type is insufficient_quota: the account has no quota left",
        )
    },
    Rule {
        // The codes for an empty account, a hit budget or billing that is not set up.
        when: &[
            (On::Code, "insufficient_quota"),
            (On::Code, "credit_balance_exhausted"),
            (On::Code, "organization_spend_limit_exceeded"),
            (On::Code, "project_spend_limit_exceeded"),
            (On::Code, "organization_usage_limit_exceeded"),
            (On::Code, "billing_hard_limit_reached"),
            (On::Code, "billing_not_active"),
        ],
        ..Rule::new(
            Kind::QuotaExhausted,
            "error.code names an exhausted quota or spend limit",
        )
    },
    Rule {
        when: &[(On::Ty, "billing_not_active")],
        ..Rule::new(
            Kind::QuotaExhausted,
            "billing is not active on the account: a human must set it up",
        )
    },
    Rule {
        when: &[(On::Says, "you exceeded your current quota")],
        test: Some(bare),
        ..Rule::new(
            Kind::QuotaExhausted,
            "the message says the current quota is exceeded, and no type or code says otherwise",
        )
    },
    Rule {
        when: &[(On::Code, "context_length_exceeded")],
        ..Rule::new(
            Kind::ContextLength,
            "the prompt exceeds the model's context window",
        )
    },
    Rule {
        when: &[(On::Says, "maximum context length")],
        ..Rule::new(
            Kind::ContextLength,
            "the message names the model's maximum context length",
        )
    },
    Rule {
        when: &[(On::Code, "rate_limit_exceeded")],
        test: Some(request_too_large),
        ..Rule::new(
            Kind::RequestTooLarge,
            "the request alone exceeds the per-minute token limit",
        )
    },
    Rule {
        status: [429, 429],
        test: Some(requested_over_limit),
        ..Rule::new(
            Kind::RequestTooLarge,
            "the message says one request needs more than the whole per-minute limit",
        )
    },
    Rule {
        when: &[(On::Code, "rate_limit_exceeded"), (On::Code, "slow_down")],
        ..Rule::new(
            Kind::RateLimit,
            "the body names a rate limit: it heals by waiting",
        )
    },
    Rule {
        when: &[(On::Ty, "rate_limit_error")],
        ..Rule::new(
            Kind::RateLimit,
            "the body names a rate limit: it heals by waiting",
        )
    },
    Rule {
        when: &[(On::Code, "server_is_overloaded")],
        ..Rule::new(Kind::Overloaded, "the provider reports overload")
    },
    Rule {
        when: &[(On::Ty, "server_is_overloaded")],
        ..Rule::new(Kind::Overloaded, "the provider reports overload")
    },
    Rule {
        when: &[
            (On::Code, "content_filter"),
            (On::Code, "content_policy_violation"),
        ],
        ..Rule::new(
            Kind::ContentFilter,
            "the content policy refused the request",
        )
    },
    Rule {
        when: &[(On::Code, "invalid_api_key")],
        ..Rule::new(Kind::Auth, "the API key is missing or invalid")
    },
    Rule {
        when: &[
            (On::Code, "unsupported_country_region_territory"),
            (On::Code, "access_terminated"),
        ],
        ..Rule::new(Kind::Permission, "the key is not allowed to do this")
    },
    Rule {
        when: &[(On::Ty, "access_terminated")],
        ..Rule::new(
            Kind::Permission,
            "access was terminated for a policy violation: no retry or payment restores it",
        )
    },
    Rule {
        when: &[(On::Code, "model_not_found")],
        ..Rule::new(Kind::NotFound, "the model or endpoint does not exist")
    },
];

/// Neither `type` nor a word `code` says what the error is (a numeric code
/// is just the status again): the message has to.
fn bare(s: &Signals<'_>) -> bool {
    s.body.error_type.is_none()
        && s.body
            .code
            .as_deref()
            .is_none_or(|c| c.bytes().all(|b| b.is_ascii_digit()))
}

fn request_too_large(s: &Signals<'_>) -> bool {
    s.message().starts_with("Request too large for")
}

/// "Limit 7000, Used 0, Requested 12903": a request bigger than the whole
/// window can never succeed by waiting.
pub fn requested_over_limit(s: &Signals<'_>) -> bool {
    let message = s.message();
    let number_after = |label: &str| {
        let at = crate::classify::search::find(message, label)? + label.len();
        let digits: String = crate::cut::after(message, at)
            .chars()
            .skip_while(|c| *c == '~')
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse::<u64>().ok()
    };
    matches!((number_after("Limit "), number_after("Requested ")), (Some(limit), Some(requested)) if requested > limit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::body::ErrorBody;

    fn over(message: &str) -> bool {
        let body = ErrorBody {
            message: Some(message.to_owned()),
            ..ErrorBody::default()
        };
        requested_over_limit(&Signals::new(429, &body))
    }

    #[test]
    fn requests_bigger_than_the_window() {
        assert!(over(
            "Limit 7000, Used 0, Requested ~12903. Please try again in 50.598s."
        ));
        assert!(!over("Limit 3, Used 3, Requested 1."));
        assert!(!over("Limit lots"));
    }
}

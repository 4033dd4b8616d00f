//! Together AI (api.together.xyz, api.together.ai): OpenAI's shape, with
//! `type: credit_limit` for both an exhausted credit limit (402) and plain
//! request-rate limiting (429), so the message decides. 503 is "Engine
//! Overloaded".

use super::{Def, On, Rule};
use crate::classify::kind::Kind;
use crate::classify::provider::Provider;

pub const DEF: Def = Def {
    id: Provider::Together,
    hosts: &["together.xyz", "together.ai"],
    headers: super::no_headers,
    rules: &[
        Rule {
            when: &[
                (On::Ty, "credit_limit"),
                (On::Says, "credit limit exceeded"),
                (On::Says, "add credit"),
            ],
            ..Rule::new(
                Kind::QuotaExhausted,
                "the credit limit is reached: a human must add credit",
            )
        },
        Rule {
            when: &[(On::Ty, "credit_limit"), (On::Says, "rate limit")],
            ..Rule::new(
                Kind::RateLimit,
                "the message says the request was rate limited",
            )
        },
    ],
};

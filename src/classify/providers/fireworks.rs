//! Fireworks AI (api.fireworks.ai): OpenAI's shape. A suspended account
//! (monthly spending limit or unpaid invoices) answers 412
//! `PRECONDITION_FAILED`; its 429 says "exceeded your usage limits" and
//! heals by waiting.

use super::{Def, On, Rule};
use crate::classify::kind::Kind;
use crate::classify::provider::Provider;

pub const DEF: Def = Def {
    id: Provider::Fireworks,
    hosts: &["fireworks.ai"],
    headers: super::no_headers,
    rules: &[
        Rule {
            when: &[
                (On::Says, "is suspended"),
                (On::AndSays, "spending limit"),
                (On::AndSays, "invoice"),
                (On::AndSays, "billing"),
            ],
            ..Rule::new(
                Kind::QuotaExhausted,
                "the account is suspended for its spending limit or unpaid invoices",
            )
        },
        Rule {
            when: &[
                (On::Says, "exceeded your usage limits"),
                (On::AndSays, "try again later"),
            ],
            status: [429, 429],
            ..Rule::new(
                Kind::RateLimit,
                "the message says to try again later: it heals by waiting",
            )
        },
    ],
};

//! OpenRouter (openrouter.ai): `{"error":{"code":402,"message","metadata"}}`
//! with the status in a numeric `code`. A request that fails once the model
//! has started answers 200 with the error object in the body; the
//! classifier reads that code as the status (see `classify`). 402 is out of
//! credits; 429 a rate limit (its own, or upstream's, in `metadata.raw`).

use super::{Def, On, Rule};
use crate::classify::kind::Kind;
use crate::classify::provider::Provider;

pub const DEF: Def = Def {
    id: Provider::OpenRouter,
    hosts: &["openrouter.ai"],
    headers: super::no_headers,
    rules: &[Rule {
        when: &[
            (On::Says, "requires more credits"),
            (On::Says, "insufficient credits"),
        ],
        ..Rule::new(
            Kind::QuotaExhausted,
            "the message says the account's credits do not cover the request",
        )
    }],
};

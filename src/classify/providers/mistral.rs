//! Mistral (api.mistral.ai): `{"object":"error","message","type","code"}`
//! (vLLM sends the same shape, so it names no provider by itself). 429 with
//! type `rate_limited` is a rate limit; "Service tier capacity exceeded" is
//! load on Mistral's side; 402 a billing limit.

use super::{Def, On, Rule};
use crate::classify::kind::Kind;
use crate::classify::provider::Provider;

pub const DEF: Def = Def {
    id: Provider::Mistral,
    hosts: &["mistral.ai"],
    headers: super::no_headers,
    rules: &[
        Rule {
            when: &[(On::Ty, "rate_limited")],
            ..Rule::new(
                Kind::RateLimit,
                "the body names a rate limit: it heals by waiting",
            )
        },
        Rule {
            when: &[(On::Says, "capacity exceeded")],
            status: [429, 599],
            ..Rule::new(
                Kind::Overloaded,
                "the message says the model's capacity is exceeded: load on the provider's side",
            )
        },
    ],
};

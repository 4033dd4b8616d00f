//! Cohere (api.cohere.com): `{"id":"…","message":"…"}`. A trial key has a
//! per-minute limit (a rate limit) and a monthly call cap (a quota), both
//! sent as 429 and told apart only by the message.

use super::{Def, On, Rule};
use crate::classify::kind::Kind;
use crate::classify::kind::Period;
use crate::classify::provider::Provider;

pub const DEF: Def = Def {
    id: Provider::Cohere,
    hosts: &["cohere.com", "cohere.ai"],
    headers: super::no_headers,
    rules: &[
        Rule {
            when: &[(On::Says, "trial key"), (On::AndSays, "/ month"), (On::AndSays, "per month")],
                        window: Some(Period::Month),
            ..Rule::new(
                Kind::QuotaExhausted,
                "the trial key's monthly call cap is used up: it lifts next month or with a production key",
            )
        },
        Rule {
            when: &[(On::Says, "trial key"), (On::Says, "per minute request limit"), (On::AndSays, "minute")],
                        window: Some(Period::Minute),
            ..Rule::new(Kind::RateLimit, "the per-minute request limit is reached: it heals by waiting")
        },
    ],
};

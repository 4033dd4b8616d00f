//! Phrases no single provider owns: "overloaded", "at capacity". They
//! count only on a status that can mean load (429 and up), so a 400 that
//! mentions capacity stays a bad request.

use super::{Def, Rule};
use crate::classify::kind::Kind;
use crate::classify::provider::Provider;

pub const DEF: Def = Def {
    id: Provider::Unknown,
    hosts: &[],
    headers: super::no_headers,
    rules: &[
        Rule {
            says: &["overloaded"],
            status: [429, 999],
            ..Rule::new(
                Kind::Overloaded,
                "the message says the engine or model is overloaded",
            )
        },
        Rule {
            says: &["at capacity", "no capacity available"],
            status: [429, 999],
            ..Rule::new(
                Kind::Overloaded,
                "the message says the service is at capacity",
            )
        },
    ],
};

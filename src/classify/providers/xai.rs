//! xAI (api.x.ai): `{"code":"…","error":"…"}`, a top-level string error.
//! A team out of credits or at its monthly spending limit gets a 429 (or
//! 403) that no wait heals.

use super::{Def, On, Rule};
use crate::classify::kind::Kind;
use crate::classify::provider::Provider;

pub const DEF: Def = Def {
    id: Provider::XAi,
    hosts: &["x.ai"],
    headers: super::no_headers,
    rules: &[Rule {
        when: &[
            (On::Says, "used all available credits"),
            (On::Says, "reached its monthly spending limit"),
            (On::Says, "run out of credits"),
        ],
        ..Rule::new(
            Kind::QuotaExhausted,
            "the team has used its credits or reached its monthly spending limit",
        )
    }],
};

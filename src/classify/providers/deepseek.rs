//! DeepSeek (api.deepseek.com): OpenAI's shape with odd fields
//! (`type: unknown_error`, `code: invalid_request_error`). Documented: 402
//! "Insufficient Balance", 429 rate limit, 503 "Server Overloaded".

use super::{Def, On, Rule};
use crate::classify::kind::Kind;
use crate::classify::provider::Provider;

pub const DEF: Def = Def {
    id: Provider::DeepSeek,
    hosts: &["deepseek.com"],
    headers: super::no_headers,
    rules: &[Rule {
        when: &[(On::Says, "insufficient balance")],
        ..Rule::new(
            Kind::QuotaExhausted,
            "the message says the balance is insufficient",
        )
    }],
};

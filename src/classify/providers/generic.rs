//! Phrases no single provider owns: "overloaded", "at capacity" (they
//! count only on a status that can mean load, 429 and up, so a 400 that
//! mentions capacity stays a bad request), and the billing codes of the
//! gateways that sit in front of every provider: LiteLLM proxy's
//! `budget_exceeded` (a 400) and Cloudflare Workers AI's "daily free
//! allocation" (4006 through a binding or AI Gateway, 3036 from the REST
//! API, both a 429 that no wait before the next day heals). And ratewise's
//! own local answer for a spent budget (`limits::spend::answer`).

use super::{Def, On, Rule};
use crate::classify::kind::Kind;
use crate::classify::provider::Provider;

pub const DEF: Def = Def {
    id: Provider::Unknown,
    hosts: &[],
    headers: super::no_headers,
    rules: &[
        Rule {
            when: &[
                (On::Ty, crate::limits::spend::answer::ERROR_TYPE),
                (On::Code, crate::limits::spend::answer::ERROR_CODE),
            ],
            ..Rule::new(
                Kind::BudgetExhausted,
                "error.type is ratewise_budget_exhausted: ratewise's own answer for a spent budget (budgets), nothing was sent",
            )
        },
        Rule {
            when: &[(On::Ty, "budget_exceeded")],
            ..Rule::new(
                Kind::QuotaExhausted,
                "error.type is budget_exceeded: the gateway's spend budget for this key, user or team is used up",
            )
        },
        Rule {
            when: &[(On::Says, "daily free allocation")],
            ..Rule::new(
                Kind::QuotaExhausted,
                "the message says the account's daily free allocation is used up",
            )
        },
        Rule {
            when: &[(On::Says, "overloaded")],
            status: [429, 999],
            ..Rule::new(
                Kind::Overloaded,
                "the message says the engine or model is overloaded",
            )
        },
        Rule {
            when: &[(On::Says, "at capacity"), (On::Says, "no capacity available")],
            status: [429, 999],
            ..Rule::new(
                Kind::Overloaded,
                "the message says the service is at capacity",
            )
        },
    ],
};

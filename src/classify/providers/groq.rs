//! Groq (api.groq.com): OpenAI's bodies, with per-day windows ("tokens per
//! day (TPD)") that the shared rules and the window reader cover.

use super::{Def, Rule};
use crate::classify::headers::Headers;
use crate::classify::provider::Provider;

pub const DEF: Def = Def {
    id: Provider::Groq,
    hosts: &["groq.com"],
    headers,
    rules: &[] as &[Rule],
};

fn headers(h: &Headers) -> bool {
    h.get("x-groq-region").is_some()
}

//! Azure OpenAI (`*.openai.azure.com`, `*.cognitiveservices.azure.com`):
//! OpenAI's bodies, plus `innererror` from the content filter.

use super::{Def, On, Rule};
use crate::classify::headers::Headers;
use crate::classify::kind::Kind;
use crate::classify::provider::Provider;

pub const DEF: Def = Def {
    id: Provider::Azure,
    hosts: &["openai.azure.com", "cognitiveservices.azure.com"],
    headers,
    rules: &[Rule {
        when: &[(On::Inner, "ResponsibleAIPolicyViolation")],
        ..Rule::new(
            Kind::ContentFilter,
            "the content policy refused the request",
        )
    }],
};

fn headers(h: &Headers) -> bool {
    h.get("apim-request-id").is_some() || h.get("x-ms-region").is_some()
}

//! Google Vertex AI (`*-aiplatform.googleapis.com`): the same Google error
//! shape and `RESOURCE_EXHAUSTED` semantics as the Gemini API, so Gemini's
//! rules (`gemini.rs`, which match on the shape, not the host) decide;
//! Vertex's per-minute quota message ("Quota exceeded for
//! aiplatform.googleapis.com/generate_content_requests_per_minute_…") is a
//! rate limit, and "limit: 0" in a message is a quota there too.

use super::{Def, Rule};
use crate::classify::provider::Provider;

pub const DEF: Def = Def {
    id: Provider::Vertex,
    hosts: &["aiplatform.googleapis.com", "*-aiplatform.googleapis.com"],
    headers: super::no_headers,
    rules: &[] as &[Rule],
};

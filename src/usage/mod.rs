//! What an answer cost: the tokens a provider reports in a successful
//! answer's body (or headers), read as the bytes pass to the caller.
//!
//! - [`scan::Scanner`] reads a body chunk by chunk, JSON or event stream,
//!   with a bounded carry-over: it never holds the body, only the usage
//!   object it is reading (at most [`scan::MAX_OBJECT`] bytes).
//! - [`shapes`] turns one provider's usage object into [`Parts`]: OpenAI
//!   chat completions and the OpenAI-compatible APIs, OpenAI Responses,
//!   Anthropic, Gemini and Vertex, Bedrock, Cohere, OpenRouter's `cost`.
//! - [`price`] prices a [`Usage`] from a table in USD per million tokens.
//! - [`totals`] sums usage for `stats()`.
//!
//! The counts mean the same whatever the provider: `input_tokens` is every
//! input token, cached or not (Anthropic's and Bedrock's uncached count plus
//! their cache reads and writes); `cached_input_tokens` and
//! `cache_write_tokens` are parts of it. `output_tokens` is every output
//! token, reasoning included (Gemini's candidates plus thoughts);
//! `reasoning_tokens` is a part of it.

pub mod price;
pub mod scan;
pub mod shapes;
pub mod totals;

use crate::classify::search;
use crate::cut;

/// How far from each end of a request body its `model` is looked for.
const MODEL_EDGE: usize = 4096;

/// The model a JSON request body names, if a `"model":"…"` member sits in
/// its first or last 4 KB (where SDKs and callers put it): a fallback for
/// answers that do not name their model (Bedrock, Cohere). Never a scan of
/// the whole body.
pub fn request_model(body: &str) -> Option<&str> {
    let mut head_end = body.len().min(MODEL_EDGE);
    while !body.is_char_boundary(head_end) {
        head_end -= 1;
    }
    let mut tail_start = body.len().saturating_sub(MODEL_EDGE).max(head_end);
    while !body.is_char_boundary(tail_start) {
        tail_start += 1;
    }
    [cut::before(body, head_end), cut::after(body, tail_start)]
        .into_iter()
        .find_map(model_member)
}

/// The value of the first `"model"` key in `text` that is not inside a
/// string (an escaped `\"model\"` is text).
fn model_member(text: &str) -> Option<&str> {
    let mut from = 0;
    while let Some(at) = search::find(cut::after(text, from), "\"model\"") {
        let start = from + at;
        from = start + 7;
        if cut::before(text, start).ends_with('\\') {
            continue;
        }
        let rest = cut::after(text, from)
            .trim_start()
            .strip_prefix(':')?
            .trim_start();
        let value = rest.strip_prefix('"')?;
        let end = value.find(['"', '\\'])?;
        return (end > 0 && value.as_bytes()[end] == b'"').then(|| cut::before(value, end));
    }
    None
}

/// The model a request URL names in its path: Gemini's and Vertex's
/// `/models/{model}:generateContent`, Bedrock's `/model/{modelId}/converse`
/// (percent-decoded: `anthropic.claude-3-haiku-20240307-v1%3A0`).
pub fn path_model(url: &str) -> Option<String> {
    if let Some(m) = crate::url::path_model(url) {
        return Some(m.to_owned());
    }
    let path = crate::url::split(url).path;
    let id = search::split_once(path, "/model/")?.1.split('/').next()?;
    (!id.is_empty()).then(|| search::replace(&search::replace(id, "%3A", ":"), "%3a", ":"))
}

/// The usage fields one usage object reports: each `None` when it is not in
/// that object. Later objects of a stream override earlier ones field by
/// field (Anthropic's `message_delta` after `message_start`; Gemini's
/// cumulative `usageMetadata` in every chunk).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parts {
    /// Every input token, cached ones included (OpenAI, Gemini, Cohere).
    pub input_total: Option<u64>,
    /// Input tokens outside the cache (Anthropic, Bedrock).
    pub input_uncached: Option<u64>,
    /// Input tokens read from the cache.
    pub cache_read: Option<u64>,
    /// Input tokens written to the cache.
    pub cache_write: Option<u64>,
    /// Every output token, reasoning included.
    pub output: Option<u64>,
    /// Reasoning (thinking) tokens, a part of `output`.
    pub reasoning: Option<u64>,
    /// The cost the provider billed, in USD, as written (OpenRouter's
    /// `usage.cost`): kept as text so no float parsing enters the `.wasm`.
    pub cost: Option<String>,
}

impl Parts {
    /// Whether the object reported any count at all.
    pub fn is_empty(&self) -> bool {
        *self == Parts::default()
    }

    /// Takes every field `later` reports.
    pub fn merge(&mut self, later: Parts) {
        fn take<T>(into: &mut Option<T>, from: Option<T>) {
            if from.is_some() {
                *into = from;
            }
        }
        take(&mut self.input_total, later.input_total);
        take(&mut self.input_uncached, later.input_uncached);
        take(&mut self.cache_read, later.cache_read);
        take(&mut self.cache_write, later.cache_write);
        take(&mut self.output, later.output);
        take(&mut self.reasoning, later.reasoning);
        take(&mut self.cost, later.cost);
    }

    /// Every input token, if the objects said.
    pub fn input(&self) -> Option<u64> {
        self.input_total.or_else(|| {
            self.input_uncached.map(|u| {
                u.saturating_add(self.cache_read.unwrap_or(0))
                    .saturating_add(self.cache_write.unwrap_or(0))
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_model_is_read_near_either_end_only() {
        assert_eq!(
            request_model(r#"{"model": "gpt-4o", "messages":[]}"#),
            Some("gpt-4o")
        );
        let long = format!(
            r#"{{"messages":[{{"content":"say \"model\":\"x\" {}"}}],"model":"command-a-03-2025"}}"#,
            "a".repeat(10_000)
        );
        assert_eq!(request_model(&long), Some("command-a-03-2025"));
        let middle = format!(
            r#"{{"a":"{}","model":"lost","b":"{}"}}"#,
            "a".repeat(5_000),
            "b".repeat(5_000)
        );
        assert_eq!(request_model(&middle), None);
        assert_eq!(request_model(r#"{"model":""}"#), None);
        assert_eq!(request_model("é".repeat(3000).as_str()), None);
    }

    #[test]
    fn the_path_names_gemini_and_bedrock_models() {
        assert_eq!(
            path_model("https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse").as_deref(),
            Some("anthropic.claude-3-haiku-20240307-v1:0")
        );
        assert_eq!(
            path_model("https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:generateContent").as_deref(),
            Some("gemini-2.0-flash")
        );
        assert_eq!(
            path_model("https://api.openai.com/v1/chat/completions"),
            None
        );
    }
}

/// How the body ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// Read to its end.
    Complete,
    /// The caller cancelled it.
    Cancelled,
    /// The connection failed mid-body.
    Failed,
}

impl End {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            End::Complete => "complete",
            End::Cancelled => "cancelled",
            End::Failed => "failed",
        }
    }
}

/// What one answer used.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Usage {
    /// Every input token, cached ones included.
    pub input_tokens: u64,
    /// Every output token, reasoning included.
    pub output_tokens: u64,
    /// Input tokens read from the provider's cache.
    pub cached_input_tokens: u64,
    /// Input tokens written to the provider's cache (Anthropic, Bedrock).
    pub cache_write_tokens: u64,
    /// Reasoning tokens, a part of `output_tokens`.
    pub reasoning_tokens: u64,
    /// The model the answer names (`model`, Gemini's `modelVersion`).
    pub model: Option<String>,
    /// The answer's id (`chatcmpl-…`, `resp_…`, `msg_…`, Gemini's
    /// `responseId`), when it names one: visible ASCII, at most
    /// [`scan::MAX_ID`] bytes.
    pub response_id: Option<String>,
    /// The cost the provider reported, USD, as written (OpenRouter).
    pub provider_cost: Option<String>,
    /// Whether any count is an estimate: the answer reported no usage (or
    /// not all of it), or it was cut before its usage came.
    pub estimated: bool,
}

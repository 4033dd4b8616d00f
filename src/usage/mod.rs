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
    /// The cost the provider reported, USD, as written (OpenRouter).
    pub provider_cost: Option<String>,
    /// Whether any count is an estimate: the answer reported no usage (or
    /// not all of it), or it was cut before its usage came.
    pub estimated: bool,
}

//! One rule per wire shape of a usage object, each with where it is
//! documented. The shape is told by its field names, not by the host: the
//! OpenAI-compatible APIs (Azure, Groq, Together, Fireworks, DeepSeek,
//! Mistral, xAI, OpenRouter) and proxies send OpenAI's shape from any host,
//! and where two shapes share a name (`input_tokens`: Anthropic, OpenAI
//! Responses, Cohere) the fields that differ decide.

use crate::classify::json::Value;
use crate::usage::Parts;

/// The keys whose object value may be usage: `usage` (most APIs),
/// `usageMetadata` (Gemini, Vertex), `meta` (Cohere v1's `billed_units`).
pub const KEYS: [&str; 3] = ["usage", "usageMetadata", "meta"];

/// The usage `object`, found under `key`, as [`Parts`] (empty when it is
/// none of the known shapes).
pub fn read(key: &str, object: &Value<'_>) -> Parts {
    let has = |name| object.get(name).is_some();
    if key == "usageMetadata" || has("promptTokenCount") || has("candidatesTokenCount") {
        gemini(object)
    } else if has("billed_units") {
        cohere(object.get("billed_units").unwrap_or(object))
    } else if key == "meta" {
        Parts::default()
    } else if has("prompt_tokens") || has("completion_tokens") {
        openai_chat(object)
    } else if has("inputTokens") || has("outputTokens") {
        bedrock(object)
    } else if has("tokens") && !has("input_tokens") {
        cohere(object.get("tokens").unwrap_or(object))
    } else if has("input_tokens") || has("output_tokens") {
        if has("cache_read_input_tokens") || has("cache_creation_input_tokens") {
            anthropic(object)
        } else {
            // OpenAI Responses, or Anthropic without cache fields: then
            // `input_tokens` is every input token in both.
            openai_responses(object)
        }
    } else {
        Parts::default()
    }
}

/// A count: a non-negative integer (`12`, also written `12.0`).
fn count(value: Option<&Value<'_>>) -> Option<u64> {
    match value? {
        Value::Number(n) => {
            let whole = n.strip_suffix(".0").unwrap_or(n);
            whole.parse().ok()
        }
        _ => None,
    }
}

fn at<'v, 'a>(object: &'v Value<'a>, path: &[&str]) -> Option<&'v Value<'a>> {
    path.iter().try_fold(object, |v, k| v.get(k))
}

/// OpenAI chat completions and every API that copies it:
/// <https://platform.openai.com/docs/api-reference/chat/object>.
/// `prompt_tokens` counts cached tokens too; DeepSeek names its cache hits
/// `prompt_cache_hit_tokens`; OpenRouter adds `cost` (USD).
/// xAI counts reasoning apart from `completion_tokens`, which its
/// `total_tokens` shows (prompt + completion + reasoning): the output is
/// then both.
fn openai_chat(u: &Value<'_>) -> Parts {
    let input = count(u.get("prompt_tokens"));
    let completion = count(u.get("completion_tokens"));
    let reasoning = count(at(u, &["completion_tokens_details", "reasoning_tokens"]));
    let apart = match (input, completion, reasoning, count(u.get("total_tokens"))) {
        (Some(i), Some(c), Some(r), Some(t)) => {
            r > 0 && i.checked_add(c).and_then(|s| s.checked_add(r)) == Some(t)
        }
        _ => false,
    };
    Parts {
        input_total: input,
        cache_read: count(at(u, &["prompt_tokens_details", "cached_tokens"]))
            .or_else(|| count(u.get("prompt_cache_hit_tokens"))),
        output: match (apart, completion, reasoning) {
            (true, Some(c), Some(r)) => Some(c.saturating_add(r)),
            _ => completion,
        },
        reasoning,
        cost: match u.get("cost") {
            Some(Value::Number(n)) => Some((*n).to_owned()),
            _ => None,
        },
        ..Parts::default()
    }
}

/// OpenAI Responses: <https://platform.openai.com/docs/api-reference/responses/object>.
fn openai_responses(u: &Value<'_>) -> Parts {
    Parts {
        input_total: count(u.get("input_tokens")),
        cache_read: count(at(u, &["input_tokens_details", "cached_tokens"])),
        output: count(u.get("output_tokens")),
        reasoning: count(at(u, &["output_tokens_details", "reasoning_tokens"])),
        ..Parts::default()
    }
}

/// Anthropic messages: <https://docs.anthropic.com/en/api/messages>.
/// `input_tokens` leaves out the cache reads and writes.
fn anthropic(u: &Value<'_>) -> Parts {
    Parts {
        input_uncached: count(u.get("input_tokens")),
        cache_read: count(u.get("cache_read_input_tokens")),
        cache_write: count(u.get("cache_creation_input_tokens")),
        output: count(u.get("output_tokens")),
        ..Parts::default()
    }
}

/// Gemini and Vertex `usageMetadata`:
/// <https://ai.google.dev/api/generate-content#UsageMetadata>.
/// `promptTokenCount` counts cached tokens too; thoughts are billed as
/// output but counted apart from the candidates.
fn gemini(u: &Value<'_>) -> Parts {
    let prompt = count(u.get("promptTokenCount"));
    let tools = count(u.get("toolUsePromptTokenCount"));
    let candidates = count(u.get("candidatesTokenCount"));
    let thoughts = count(u.get("thoughtsTokenCount"));
    let sum = |a: Option<u64>, b: Option<u64>| match (a, b) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or(0).saturating_add(b.unwrap_or(0))),
    };
    Parts {
        input_total: sum(prompt, tools),
        cache_read: count(u.get("cachedContentTokenCount")),
        output: sum(candidates, thoughts),
        reasoning: thoughts,
        ..Parts::default()
    }
}

/// Bedrock Converse and ConverseStream's `metadata` event:
/// <https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_TokenUsage.html>.
/// `inputTokens` leaves out the cache reads and writes, as Anthropic's does.
fn bedrock(u: &Value<'_>) -> Parts {
    Parts {
        input_uncached: count(u.get("inputTokens")),
        cache_read: count(u.get("cacheReadInputTokens")),
        cache_write: count(u.get("cacheWriteInputTokens")),
        output: count(u.get("outputTokens")),
        ..Parts::default()
    }
}

/// Cohere's billed units (v2 `usage.billed_units`, v1 `meta.billed_units`)
/// or, without them, its `tokens`: <https://docs.cohere.com/reference/chat>.
fn cohere(units: &Value<'_>) -> Parts {
    Parts {
        input_total: count(units.get("input_tokens")),
        output: count(units.get("output_tokens")),
        ..Parts::default()
    }
}

/// Bedrock InvokeModel's usage headers:
/// <https://docs.aws.amazon.com/bedrock/latest/userguide/monitoring-cw.html>
/// (`x-amzn-bedrock-input-token-count` and the rest). `get` returns a
/// header's value.
pub fn bedrock_headers(get: impl Fn(&str) -> Option<String>) -> Parts {
    let n = |name: &str| get(name).and_then(|v| v.trim().parse().ok());
    Parts {
        input_uncached: n("x-amzn-bedrock-input-token-count"),
        cache_read: n("x-amzn-bedrock-cache-read-input-token-count"),
        cache_write: n("x-amzn-bedrock-cache-write-input-token-count"),
        output: n("x-amzn-bedrock-output-token-count"),
        ..Parts::default()
    }
}

/// The header names [`bedrock_headers`] reads.
pub const BEDROCK_HEADERS: [&str; 4] = [
    "x-amzn-bedrock-input-token-count",
    "x-amzn-bedrock-output-token-count",
    "x-amzn-bedrock-cache-read-input-token-count",
    "x-amzn-bedrock-cache-write-input-token-count",
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::json::parse;

    fn parts(key: &str, text: &str) -> Parts {
        read(key, &parse(text).unwrap())
    }

    #[test]
    fn the_shared_names_are_told_apart_by_their_other_fields() {
        let anthropic = parts(
            "usage",
            r#"{"input_tokens":10,"cache_read_input_tokens":100,"cache_creation_input_tokens":5,"output_tokens":7}"#,
        );
        assert_eq!(anthropic.input(), Some(115));
        let responses = parts(
            "usage",
            r#"{"input_tokens":110,"input_tokens_details":{"cached_tokens":100},"output_tokens":7}"#,
        );
        assert_eq!(responses.input(), Some(110));
        assert_eq!(responses.cache_read, Some(100));
        let cohere = parts(
            "usage",
            r#"{"billed_units":{"input_tokens":5,"output_tokens":9},"tokens":{"input_tokens":70,"output_tokens":9}}"#,
        );
        assert_eq!((cohere.input(), cohere.output), (Some(5), Some(9)));
        assert!(parts("meta", r#"{"api_version":{"version":"1"}}"#).is_empty());
        assert!(parts("usage", r#"{"cpu":5}"#).is_empty());
        assert_eq!(parts("usage", r#"{"prompt_tokens":-1}"#).input(), None);
        assert_eq!(
            parts("usage", r#"{"prompt_tokens":12.0}"#).input(),
            Some(12)
        );
    }

    #[test]
    fn bedrock_headers_are_read() {
        let p = bedrock_headers(|name| match name {
            "x-amzn-bedrock-input-token-count" => Some("12".into()),
            "x-amzn-bedrock-output-token-count" => Some(" 30 ".into()),
            _ => None,
        });
        assert_eq!((p.input(), p.output), (Some(12), Some(30)));
        assert!(bedrock_headers(|_| None).is_empty());
    }
}

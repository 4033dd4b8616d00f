//! How many tokens a request is expected to use, read from its body before
//! it is sent, so the throttle can book them against a tokens-per-minute
//! window: the prompt's characters ÷ 4 (OpenAI's rule of thumb for English
//! text) plus the output cap the body asks for (`max_tokens`,
//! `max_completion_tokens`, `max_output_tokens`, Gemini's
//! `maxOutputTokens`). OpenAI and Anthropic count a request against their
//! token limits the same way: an estimate of the input plus the requested
//! output, corrected once the answer is known.
//!
//! One bounded pass over a string body with the error-body scanner: no parse
//! tree, never more than [`MAX_SCAN_BYTES`] read, and never a stream.

use crate::classify::json::{scan_prefix, Value};

/// The most bytes of a body scanned; the characters past it count as
/// prompt text.
pub const MAX_SCAN_BYTES: usize = 1 << 20;

/// Characters per token in the estimate.
pub const CHARS_PER_TOKEN: u64 = 4;

/// The members that cap a request's output, by provider: OpenAI chat
/// completions (old and new name), the Responses API and Anthropic, Gemini.
const OUTPUT_KEYS: [&str; 4] = [
    "max_tokens",
    "max_completion_tokens",
    "max_output_tokens",
    "maxOutputTokens",
];

/// String members that are not prompt text: names, ids, enums, and
/// base64 or URL payloads (images and files are not counted by characters).
const NOT_TEXT: [&str; 14] = [
    "model",
    "role",
    "type",
    "id",
    "tool_call_id",
    "url",
    "image_url",
    "data",
    "b64_json",
    "file_data",
    "file_id",
    "media_type",
    "mime_type",
    "mimeType",
];

/// The tokens a request is expected to use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tokens {
    /// Prompt tokens (characters ÷ 4, rounded up).
    pub input: u64,
    /// Output tokens asked for (the body's output cap; 0 without one).
    pub output: u64,
}

impl Tokens {
    /// Input and output together: what an OpenAI tokens window counts.
    pub fn total(&self) -> u64 {
        self.input.saturating_add(self.output)
    }
}

/// The expected tokens of a request whose body is `body`. A JSON body
/// counts the characters of its string members except names, ids and
/// base64 or URL payloads (`model`, `role`, `url`, `data`, … and
/// anything under them), and takes the largest output cap it names; any
/// other text counts all its characters.
pub fn estimate(body: &str) -> Tokens {
    let mut cut = body.len().min(MAX_SCAN_BYTES);
    while !body.is_char_boundary(cut) {
        cut -= 1;
    }
    let (head, rest) = crate::cut::split_at(body, cut);
    let mut chars = rest.chars().count() as u64;
    let mut output = 0;
    if head.trim_start().starts_with(['{', '[']) {
        scan_prefix(head, |path, key, value| {
            let under_payload = path
                .iter()
                .flatten()
                .any(|k| NOT_TEXT.contains(&k.as_ref()));
            match value {
                Value::Number(n) if OUTPUT_KEYS.contains(&key) => {
                    output = output.max(n.parse::<u64>().unwrap_or(0));
                }
                Value::String(s) if !under_payload && !NOT_TEXT.contains(&key) => {
                    chars += s.chars().count() as u64;
                }
                _ => {}
            }
        });
    } else {
        chars += head.chars().count() as u64;
    }
    Tokens {
        input: chars.div_ceil(CHARS_PER_TOKEN),
        output,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openai_chat_prompt_text_and_output_cap() {
        let body = r#"{"model":"gpt-4o-mini","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hello there"}],"max_tokens":4000}"#;
        // "Be brief." (9) + "Hello there" (11) = 20 characters: 5 tokens.
        assert_eq!(
            estimate(body),
            Tokens {
                input: 5,
                output: 4000
            }
        );
        assert_eq!(estimate(body).total(), 4005);
    }

    #[test]
    fn every_provider_output_cap_is_read() {
        let t = |body| estimate(body).output;
        assert_eq!(t(r#"{"max_completion_tokens":900,"input":"hi"}"#), 900);
        assert_eq!(t(r#"{"input":"hi","max_output_tokens":700}"#), 700);
        assert_eq!(
            t(
                r#"{"contents":[{"parts":[{"text":"hi"}]}],"generationConfig":{"maxOutputTokens":256}}"#
            ),
            256
        );
        assert_eq!(
            t(r#"{"max_tokens":1024,"max_completion_tokens":2048}"#),
            2048
        );
        assert_eq!(t(r#"{"max_tokens":"lots"}"#), 0);
        assert_eq!(t(r#"{"messages":[]}"#), 0);
    }

    #[test]
    fn payloads_and_names_are_not_prompt_text() {
        let image = "A".repeat(40_000);
        let body = format!(
            r#"{{"model":"gpt-4o","messages":[{{"role":"user","content":[{{"type":"text","text":"What is this?"}},{{"type":"image_url","image_url":{{"url":"data:image/png;base64,{image}"}}}}]}}]}}"#
        );
        assert_eq!(estimate(&body).input, 4, "13 characters of text");
        // Anthropic's base64 image source.
        let body = format!(
            r#"{{"messages":[{{"content":[{{"type":"image","source":{{"type":"base64","media_type":"image/png","data":"{image}"}}}}]}}]}}"#
        );
        assert_eq!(estimate(&body).input, 0);
    }

    #[test]
    fn escapes_count_as_the_characters_they_stand_for() {
        assert_eq!(estimate(r#"{"prompt":"a\nb\u00e9c"}"#).input, 2, "5 chars");
        assert_eq!(
            estimate(r#"{"prompt":"日本語の文"}"#).input,
            2,
            "5 chars, not 15 bytes"
        );
    }

    #[test]
    fn other_bodies_count_every_character() {
        assert_eq!(
            estimate("hello world"),
            Tokens {
                input: 3,
                output: 0
            }
        );
        assert_eq!(estimate(""), Tokens::default());
        // Cut or broken JSON still gives what was read.
        assert_eq!(estimate(r#"{"prompt":"abcdefgh","max_tokens":10"#).input, 2);
    }

    #[test]
    fn the_scan_is_bounded_and_the_rest_counts_as_text() {
        let long = format!(r#"{{"prompt":"{}"}}"#, "x".repeat(MAX_SCAN_BYTES + 4_000));
        let t = estimate(&long);
        // The scanner stops at the string the cut splits; the characters
        // past the cut count as text.
        assert!((1_000..=1_004).contains(&t.input), "{t:?}");
        let deep = format!("{}\"x\"{}", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(
            estimate(&deep),
            Tokens::default(),
            "deep nesting stops the scan"
        );
    }
}

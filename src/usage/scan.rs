//! Reads usage from a body as it passes, chunk by chunk, whatever its
//! framing: one JSON document (usage at its end or its start), an event
//! stream (`data:` lines of JSON), or Bedrock's binary event stream (JSON
//! payloads between binary headers).
//!
//! It is a small byte state machine that follows JSON's strings, so that a
//! `"usage"` inside a message's text (written `\"usage\"`) is never taken
//! for a key. When a usage key's object begins, that object alone is kept,
//! up to [`MAX_OBJECT`] bytes, and parsed when it closes; everything else
//! passes through without being held. A raw control byte inside a string
//! cannot be JSON, so it resets the state: an event stream's line breaks and
//! Bedrock's binary headers put a scanner that lost its place back in step.
//!
//! It also counts the bytes of the answer's text (`content`, `text`,
//! `delta`, …) for the estimate of a body that ends without its usage.

use crate::classify::json;
use crate::limits::tokens::CHARS_PER_TOKEN;
use crate::usage::{shapes, End, Parts, Usage};

/// The largest usage object read; a larger one is skipped.
pub const MAX_OBJECT: usize = 4096;
/// The longest model name kept.
const MAX_MODEL: usize = 200;
/// The longest key looked at.
const MAX_NAME: usize = 24;

/// String members whose text is the answer's output.
const TEXT_KEYS: [&str; 8] = [
    "content",
    "text",
    "delta",
    "partial_json",
    "thinking",
    "arguments",
    "reasoning_content",
    "reasoning",
];

/// What a string or a value is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// Nothing we read.
    Plain,
    /// A string that may be a key: its first bytes are kept in `name`.
    Name,
    /// A usage object's key, by its index in [`shapes::KEYS`].
    Usage(u8),
    /// `model` (true) or Gemini's `modelVersion` (false).
    Model(bool),
    /// Output text.
    Text,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between values.
    Outside,
    /// Inside a string.
    Str { role: Role, escaped: bool },
    /// A string that may be a key just ended: a `:` makes it one.
    AfterName,
    /// After a key's `:`, before its value.
    Value(Role),
    /// Inside a usage object being kept.
    Object {
        key: u8,
        depth: u32,
        in_string: bool,
        escaped: bool,
    },
}

/// The scanner of one body.
#[derive(Debug, Clone)]
pub struct Scanner {
    state: State,
    name: [u8; MAX_NAME],
    name_len: usize,
    object: Vec<u8>,
    model: Option<String>,
    model_version: Option<String>,
    current_model: Vec<u8>,
    parts: Parts,
    /// Whether any usage object (or header) was read.
    seen: bool,
    text_bytes: u64,
    /// Text bytes since the last usage object.
    text_since: u64,
}

impl Default for Scanner {
    fn default() -> Self {
        Scanner::new()
    }
}

impl Scanner {
    /// A scanner at the start of a body.
    pub fn new() -> Self {
        Scanner {
            state: State::Outside,
            name: [0; MAX_NAME],
            name_len: 0,
            object: Vec::new(),
            model: None,
            model_version: None,
            current_model: Vec::new(),
            parts: Parts::default(),
            seen: false,
            text_bytes: 0,
            text_since: 0,
        }
    }

    /// Adds usage read elsewhere (Bedrock's headers); the body's overrides it.
    pub fn add(&mut self, parts: Parts) {
        if !parts.is_empty() {
            self.seen = true;
            self.parts.merge(parts);
        }
    }

    /// The bytes the scanner holds now (at most [`MAX_OBJECT`] plus a model
    /// name, however long the body).
    pub fn held(&self) -> usize {
        self.object.capacity() + self.current_model.capacity()
    }

    /// Reads the next chunk of the body.
    pub fn feed(&mut self, chunk: &[u8]) {
        let mut i = 0;
        while i < chunk.len() {
            let rest = &chunk[i..];
            i += match self.state {
                State::Outside => match rest.iter().position(|&b| b == b'"') {
                    Some(at) => {
                        self.name_len = 0;
                        self.state = State::Str {
                            role: Role::Name,
                            escaped: false,
                        };
                        at + 1
                    }
                    None => rest.len(),
                },
                State::Str { role, escaped } => self.string(rest, role, escaped),
                State::AfterName => {
                    let b = rest[0];
                    match b {
                        b' ' | b'\t' | b'\r' | b'\n' => 1,
                        b':' => {
                            self.state = State::Value(self.role_of_name());
                            1
                        }
                        _ => {
                            self.state = State::Outside;
                            0
                        }
                    }
                }
                State::Value(role) => self.value(rest[0], role),
                State::Object { .. } => self.object(rest),
            };
        }
    }

    /// The role of the key just read.
    fn role_of_name(&self) -> Role {
        let Ok(name) = std::str::from_utf8(&self.name[..self.name_len]) else {
            return Role::Plain;
        };
        if let Some(at) = shapes::KEYS.iter().position(|k| *k == name) {
            Role::Usage(at as u8)
        } else if name == "model" || name == "modelVersion" {
            Role::Model(name == "model")
        } else if TEXT_KEYS.contains(&name) {
            Role::Text
        } else {
            Role::Plain
        }
    }

    /// The first byte of a key's value; returns the bytes consumed.
    fn value(&mut self, b: u8, role: Role) -> usize {
        match (b, role) {
            (b' ' | b'\t' | b'\r' | b'\n', _) => 1,
            (b'"', role) => {
                let role = match role {
                    Role::Model(_) | Role::Text => role,
                    _ => Role::Plain,
                };
                self.current_model.clear();
                self.state = State::Str {
                    role,
                    escaped: false,
                };
                1
            }
            (b'{', Role::Usage(key)) => {
                self.object.clear();
                self.object.push(b'{');
                self.state = State::Object {
                    key,
                    depth: 1,
                    in_string: false,
                    escaped: false,
                };
                1
            }
            _ => {
                self.state = State::Outside;
                0
            }
        }
    }

    /// Inside a string; returns the bytes consumed.
    fn string(&mut self, rest: &[u8], role: Role, escaped: bool) -> usize {
        if escaped {
            self.state = State::Str {
                role,
                escaped: false,
            };
            self.took(role, &rest[..1]);
            return 1;
        }
        let Some(at) = rest
            .iter()
            .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
        else {
            self.took(role, rest);
            return rest.len();
        };
        self.took(role, &rest[..at]);
        match rest[at] {
            b'"' => {
                self.state = match role {
                    Role::Name => State::AfterName,
                    Role::Model(primary) => {
                        self.model_read(primary);
                        State::Outside
                    }
                    _ => State::Outside,
                }
            }
            b'\\' => {
                // A key with an escape is none we read.
                if role == Role::Name {
                    self.name_len = MAX_NAME + 1;
                    self.name[0] = 0;
                }
                self.took(role, &rest[at..=at]);
                self.state = State::Str {
                    role,
                    escaped: true,
                };
            }
            // A raw control byte is not JSON: we lost our place.
            _ => self.state = State::Outside,
        }
        at + 1
    }

    /// Keeps what a string's bytes are kept for.
    fn took(&mut self, role: Role, bytes: &[u8]) {
        match role {
            Role::Name => {
                let end = self.name_len + bytes.len();
                if end <= MAX_NAME {
                    self.name[self.name_len..end].copy_from_slice(bytes);
                    self.name_len = end;
                } else {
                    // Too long to be a key we read.
                    self.name_len = MAX_NAME;
                    self.name[0] = 0;
                }
            }
            Role::Model(_) => {
                let room = MAX_MODEL.saturating_sub(self.current_model.len());
                self.current_model
                    .extend_from_slice(&bytes[..bytes.len().min(room)]);
            }
            Role::Text => {
                self.text_bytes += bytes.len() as u64;
                self.text_since += bytes.len() as u64;
            }
            _ => {}
        }
    }

    fn model_read(&mut self, primary: bool) {
        let slot = if primary {
            &mut self.model
        } else {
            &mut self.model_version
        };
        if slot.is_none() && !self.current_model.is_empty() {
            *slot = String::from_utf8(std::mem::take(&mut self.current_model)).ok();
        }
        self.current_model = Vec::new();
    }

    /// Inside a usage object; returns the bytes consumed.
    fn object(&mut self, rest: &[u8]) -> usize {
        let State::Object {
            key,
            mut depth,
            mut in_string,
            mut escaped,
        } = self.state
        else {
            return 0;
        };
        for (n, &b) in rest.iter().enumerate() {
            if in_string {
                if escaped {
                    escaped = false;
                } else if b == b'\\' {
                    escaped = true;
                } else if b == b'"' {
                    in_string = false;
                } else if b < 0x20 {
                    self.object = Vec::new();
                    self.state = State::Outside;
                    return n + 1;
                }
            } else {
                match b {
                    b'"' => in_string = true,
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => depth -= 1,
                    _ => {}
                }
            }
            if self.object.len() < MAX_OBJECT {
                self.object.push(b);
            } else if self.object.len() == MAX_OBJECT {
                // Too large to be usage: skip it, but keep following it.
                self.object.push(0);
            }
            if depth == 0 {
                self.object_read(key);
                self.state = State::Outside;
                return n + 1;
            }
        }
        self.state = State::Object {
            key,
            depth,
            in_string,
            escaped,
        };
        rest.len()
    }

    fn object_read(&mut self, key: u8) {
        let object = std::mem::take(&mut self.object);
        let value = std::str::from_utf8(&object).ok().and_then(json::parse);
        let (Some(value), Some(key)) = (value, shapes::KEYS.get(usize::from(key))) else {
            return;
        };
        let parts = shapes::read(key, &value);
        if !parts.is_empty() {
            self.seen = true;
            self.text_since = 0;
            self.parts.merge(parts);
        }
    }

    /// The usage of the body, now that it has ended as `end`.
    /// `request_input` is the request's own input estimate (see
    /// `limits::tokens`), for an answer that reports none.
    ///
    /// - Reported counts are used as they are, and `estimated` is false.
    /// - Without a reported input, the request's estimate stands in.
    /// - Without a reported output, the text read is counted (characters
    ///   ÷ 4, as the request estimate does).
    /// - A body cut short (cancelled, failed) after its last usage object
    ///   adds the text that came after it: the caller is charged for what
    ///   was produced.
    pub fn finish(&self, end: End, request_input: Option<u64>) -> Usage {
        let p = &self.parts;
        let tokens = |bytes: u64| bytes.div_ceil(CHARS_PER_TOKEN);
        let mut estimated = false;
        let input = p.input().unwrap_or_else(|| {
            estimated = true;
            request_input.unwrap_or(0)
        });
        let output = match p.output {
            None => {
                estimated = true;
                tokens(self.text_bytes)
            }
            Some(n) if end != End::Complete && self.text_since > 0 => {
                estimated = true;
                n.saturating_add(tokens(self.text_since))
            }
            Some(n) => n,
        };
        Usage {
            input_tokens: input,
            output_tokens: output,
            cached_input_tokens: p.cache_read.unwrap_or(0).min(input),
            cache_write_tokens: p.cache_write.unwrap_or(0),
            reasoning_tokens: p.reasoning.unwrap_or(0).min(output),
            model: self.model.clone().or_else(|| self.model_version.clone()),
            provider_cost: p.cost.clone(),
            estimated: estimated || !self.seen,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(chunks: &[&[u8]]) -> Scanner {
        let mut s = Scanner::new();
        for c in chunks {
            s.feed(c);
        }
        s
    }

    #[test]
    fn a_quoted_usage_in_the_text_is_not_a_key() {
        let body = br#"{"choices":[{"message":{"content":"say \"usage\":{\"prompt_tokens\":999}"}}],"usage":{"prompt_tokens":3,"completion_tokens":4}}"#;
        let u = scan(&[body]).finish(End::Complete, None);
        assert_eq!((u.input_tokens, u.output_tokens), (3, 4));
        assert!(!u.estimated);
    }

    #[test]
    fn a_huge_body_is_never_held() {
        let mut s = Scanner::new();
        s.feed(br#"{"model":"gpt-4o","choices":[{"message":{"content":""#);
        let text = vec![b'a'; 65536];
        for _ in 0..16 {
            s.feed(&text);
            assert!(s.held() <= MAX_OBJECT + MAX_MODEL, "{}", s.held());
        }
        s.feed(br#""}}],"usage":{"prompt_tokens":3,"completion_tokens":262144}}"#);
        let u = s.finish(End::Complete, None);
        assert_eq!(u.output_tokens, 262_144);
        assert_eq!(u.model.as_deref(), Some("gpt-4o"));
        // An object too large to be usage is skipped, and what follows is read.
        let mut s = Scanner::new();
        s.feed(br#"{"usage":{"x":""#);
        s.feed(&vec![b'b'; MAX_OBJECT * 2]);
        s.feed(br#""},"usage":{"prompt_tokens":1,"completion_tokens":2}}"#);
        assert!(s.held() <= MAX_OBJECT + 1);
        assert_eq!(s.finish(End::Complete, None).output_tokens, 2);
    }

    #[test]
    fn without_usage_the_text_is_counted_and_marked_estimated() {
        let s = scan(&[b"data: {\"choices\":[{\"delta\":{\"content\":\"abcdefgh\"}}]}\n\n"]);
        let u = s.finish(End::Complete, Some(50));
        assert_eq!(
            (u.input_tokens, u.output_tokens, u.estimated),
            (50, 2, true)
        );
        // A stream cut after message_start is charged its text too.
        let s = scan(&[
            b"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"claude-x\",\"usage\":{\"input_tokens\":25,\"output_tokens\":1}}}\n\n",
            b"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"type\":\"text_delta\",\"text\":\"0123456789ab\"}}\n\n",
        ]);
        let cut = s.finish(End::Cancelled, Some(999));
        assert_eq!(
            (cut.input_tokens, cut.output_tokens, cut.estimated),
            (25, 4, true)
        );
        let whole = s.finish(End::Complete, Some(999));
        assert_eq!((whole.output_tokens, whole.estimated), (1, false));
    }

    #[test]
    fn a_lost_place_is_found_again_at_a_line_break() {
        // A stray quote (as in binary framing) then a control byte.
        let u =
            scan(&[b"\x00\x07\"\x00\x05event{\"usage\":{\"inputTokens\":5,\"outputTokens\":6}}"])
                .finish(End::Complete, None);
        assert_eq!((u.input_tokens, u.output_tokens), (5, 6));
    }
}

//! Reads usage from a body as it passes, chunk by chunk, whatever its
//! framing: one JSON document (usage at its end or its start), an event
//! stream (`data:` lines of JSON), or Bedrock's binary event stream (JSON
//! payloads between binary headers).
//!
//! It is a small byte state machine that does not follow every string:
//! inside a JSON string a quote is always escaped (`\"`), so an unescaped
//! quote followed by a name we read (`"usage"`), a quote and a `:` can only
//! be a key. Every other quote costs a glance at the few bytes after it, and
//! the bytes between quotes are skipped with one search. When a usage key's
//! object begins, that object alone is kept, up to [`MAX_OBJECT`] bytes, and
//! parsed when it closes; a model name and the answer's text are followed as
//! strings (escapes included). A raw control byte inside a followed string
//! cannot be JSON, so it puts the scanner back between values: Bedrock's
//! binary frame headers never keep it lost.
//!
//! Only the body's first [`HEAD`] bytes are read as they pass; after them,
//! a chunk is only copied into a window of the last [`TAIL`] bytes, read
//! when the body ends. Every provider puts its usage in the first event
//! (Anthropic's `message_start`) or the last ones (everyone's final
//! usage), so nothing is missed, and a long answer costs one copy per
//! chunk instead of a parse. The text of the bytes between is estimated at
//! the rate of the text read in the head.
//!
//! The answer's id is kept the same way: the first `"id"` string (OpenAI
//! chat and Responses, Anthropic, the OpenAI-compatible APIs: each puts its
//! own id first, before any tool call's or output item's) and the first
//! `"responseId"` (Gemini, Vertex; Cohere v1's `"response_id"`), which wins
//! when both are there. Only visible ASCII up to [`MAX_ID`] bytes, without
//! escapes, is kept: anything else is no id.
//!
//! It also counts the bytes of the answer's text (`content`, `text`,
//! `delta`, …) for the estimate of a body that ends without its usage.

use crate::limits::tokens::CHARS_PER_TOKEN;
use crate::usage::{End, Parts, Usage};

/// The bytes at the start of a body read as they pass.
pub const HEAD: usize = 8192;
/// The bytes at the end of a body read when it ends.
pub const TAIL: usize = 4096;
/// The largest usage object read; a larger one is skipped.
pub const MAX_OBJECT: usize = 4096;
/// The longest model name kept.
const MAX_MODEL: usize = 200;
/// The longest answer id kept; a longer one is no id.
pub const MAX_ID: usize = 128;
/// The longest key looked at (`reasoning_content`).
const MAX_NAME: usize = 17;

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

/// What a value is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// Nothing we read.
    Plain,
    /// A usage object's key, by its index in [`KEYS`](crate::usage::shapes::KEYS).
    Usage(u8),
    /// `model` (true) or Gemini's `modelVersion` (false).
    Model(bool),
    /// Output text.
    Text,
    /// The answer's id: `id` (true) or `responseId`, `response_id` (false).
    Id(bool),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Looking for the next unescaped quote.
    Outside,
    /// After an unescaped quote: the name so far is in `name`.
    Name,
    /// A name we may read just ended: a `:` makes it a key.
    AfterName,
    /// After a key's `:`, before its value.
    Value(Role),
    /// Inside a string we follow (a model name, output text).
    Str { role: Role, escaped: bool },
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
    /// The last byte of the previous chunk (is a quote escaped?).
    prev: u8,
    name: [u8; MAX_NAME],
    name_len: usize,
    object: Vec<u8>,
    model: Option<String>,
    model_version: Option<String>,
    /// The first `id` and the first `responseId`, if valid.
    id: Option<String>,
    response_id: Option<String>,
    /// Which id keys were met (bit 0: `id`, bit 1: `responseId`): only the
    /// first of each is read, valid or not.
    ids_met: u8,
    /// The followed string being kept (a model name or an id).
    current: Vec<u8>,
    parts: Parts,
    /// Whether any usage object (or header) was read.
    seen: bool,
    text_bytes: u64,
    /// Text bytes since the last usage object.
    text_since: u64,
    /// Head bytes still to read as they pass.
    head_left: usize,
    /// Bytes read (the head and the window).
    read: u64,
    /// The last bytes after the head, up to `2 * TAIL` of them.
    window: Vec<u8>,
    /// Bytes between the head and the window that were never read.
    skipped: u64,
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
            prev: 0,
            name: [0; MAX_NAME],
            name_len: 0,
            object: Vec::new(),
            model: None,
            model_version: None,
            id: None,
            response_id: None,
            ids_met: 0,
            current: Vec::new(),
            parts: Parts::default(),
            seen: false,
            text_bytes: 0,
            text_since: 0,
            head_left: HEAD,
            read: 0,
            window: Vec::new(),
            skipped: 0,
        }
    }

    /// Adds usage read elsewhere (Bedrock's headers); the body's overrides it.
    pub fn add(&mut self, parts: Parts) {
        if !parts.is_empty() {
            self.seen = true;
            self.parts.merge(parts);
        }
    }

    /// The bytes the scanner holds now (at most [`MAX_OBJECT`], a model
    /// name or an id, and the window, however long the body).
    pub fn held(&self) -> usize {
        self.object.capacity() + self.current.capacity() + self.window.capacity()
    }

    /// Takes the next chunk of the body: read at once while in the head,
    /// else kept in the window.
    pub fn feed(&mut self, chunk: &[u8]) {
        let now = chunk.len().min(self.head_left);
        if now > 0 {
            self.head_left -= now;
            self.read += now as u64;
            self.scan(&chunk[..now]);
        }
        let rest = &chunk[now..];
        if rest.is_empty() {
            return;
        }
        if self.window.capacity() == 0 {
            self.window.reserve_exact(2 * TAIL);
        }
        if rest.len() >= TAIL {
            self.skipped += (self.window.len() + rest.len() - TAIL) as u64;
            self.window.clear();
            self.window.extend_from_slice(&rest[rest.len() - TAIL..]);
        } else {
            // Room is made before the chunk goes in: the window never grows.
            let keep = 2 * TAIL - rest.len();
            if self.window.len() > keep {
                let cut = self.window.len() - TAIL.min(keep);
                self.skipped += cut as u64;
                self.window.drain(..cut);
            }
            self.window.extend_from_slice(rest);
        }
    }

    /// Counts `n` bytes that passed unread (the caller's side read the
    /// body at once and handed over only its head and tail).
    pub fn skip(&mut self, n: u64) {
        if n > 0 {
            self.head_left = 0;
            self.skipped += self.window.len() as u64 + n;
            self.window.clear();
        }
    }

    /// Reads the window, at the end of the body.
    fn read_window(&mut self) {
        if self.skipped > 0 {
            // The text between, at the head's rate; then the window is read
            // from between values.
            let text = self.skipped * self.text_bytes / self.read.max(1);
            self.text_bytes += text;
            self.text_since += text;
            self.state = State::Outside;
            self.prev = 0;
            self.skipped = 0;
        }
        let window = std::mem::take(&mut self.window);
        self.read += window.len() as u64;
        self.scan(&window);
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
    pub fn finish(&mut self, end: End, request_input: Option<u64>) -> Usage {
        self.read_window();
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
            response_id: self.response_id.clone().or_else(|| self.id.clone()),
            provider_cost: p.cost.clone(),
            estimated: estimated || !self.seen,
        }
    }
}

#[path = "scan_bytes.rs"]
mod bytes;

#[cfg(test)]
#[path = "scan_tests.rs"]
mod tests;

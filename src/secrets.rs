//! Keeping secrets out of what ratewise shows: API keys in provider
//! messages, and keys in URL credentials or query strings (Gemini's `?key=`),
//! before anything reaches an error, an event or a log.
//!
//! A secret is recognised by its shape, as a whole "word": a run of
//! `[A-Za-z0-9_.*…-]` characters, so a key after `=`, `(`, `:`, a quote, a
//! newline or a tab is found as well as one after a space. What stays
//! visible is the provider's public prefix (`sk-proj-`, `gsk_`, `AIza`, …)
//! followed by `***`: never any character of the secret part itself.

use std::borrow::Cow;

use crate::classify::search;
use crate::url;

#[cfg(test)]
mod equivalence;
mod quick;

/// Messages longer than this (in bytes) are cut on a character boundary and
/// end with `…`; the result is never longer.
pub const MAX_MESSAGE_LEN: usize = 1_000;

/// Only this much of a message is examined; the rest could not be shown.
const MAX_INPUT_LEN: usize = 8 * MAX_MESSAGE_LEN;

/// What replaces a secret.
const MASK: &str = "***";

/// Masks API keys and tokens in free text, redacts every URL in it (see
/// [`redact_url`]) and cuts the result to [`MAX_MESSAGE_LEN`] bytes.
///
/// Recognised: OpenAI `sk-…`/`sk-proj-…`/`sk-svcacct-…`/`sk-admin-…`,
/// Anthropic `sk-ant-api03-…`, OpenRouter `sk-or-v1-…`, Groq `gsk_…`, xAI
/// `xai-…`, Google `AIza…`, JWTs (`eyJ…` in three dot-separated parts), the
/// token after `Bearer`, and 32 letters and digits (with at least one digit)
/// as Mistral and Azure keys are. Request ids (`req_…`), UUIDs, model names
/// and ordinary words are left alone. `mask_secrets(mask_secrets(x))` equals
/// `mask_secrets(x)`.
pub fn mask_secrets(text: &str) -> String {
    masked(text).unwrap_or_else(|| text.to_owned())
}

/// [`mask_secrets`] of an owned text: the text itself, not a copy, when
/// there is nothing to mask or cut (most provider messages).
pub fn mask_secrets_owned(text: String) -> String {
    masked(&text).unwrap_or(text)
}

/// [`mask_secrets`], or `None` when that would be `text` as it is.
fn masked(text: &str) -> Option<String> {
    // The common case, a message with no key, no `Bearer` and no URL with
    // credentials or a query: one pass over its bytes, no allocation.
    if text.len() <= MAX_MESSAGE_LEN && !quick::may_change(text.as_bytes()) {
        return None;
    }
    Some(cut(mask_words(&redact_urls_in(precut(text)))))
}

/// Cuts a masked text to [`MAX_MESSAGE_LEN`] bytes, ending in `…`.
fn cut(mut out: String) -> String {
    if out.len() > MAX_MESSAGE_LEN {
        let mut end = MAX_MESSAGE_LEN - '…'.len_utf8();
        while !out.is_char_boundary(end) {
            end -= 1;
        }
        // Never leave half a word: it could read as (half) a key.
        let (kept, dropped) = crate::cut::split_at(&out, end);
        if dropped.starts_with(is_word_char) {
            end = kept.rfind(|c: char| !is_word_char(c)).map_or(0, |i| {
                i + crate::cut::after(kept, i)
                    .chars()
                    .next()
                    .map_or(0, char::len_utf8)
            });
        }
        out.truncate(end);
        out.push('…');
    }
    out
}

/// Cuts a huge input before any work, dropping the last (possibly cut)
/// whitespace-separated word so no secret is seen half.
fn precut(text: &str) -> &str {
    if text.len() <= MAX_INPUT_LEN {
        return text;
    }
    let mut end = MAX_INPUT_LEN;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let cut = crate::cut::before(text, end);
    cut.rfind(char::is_whitespace)
        .map_or("", |at| crate::cut::before(cut, at))
}

/// Characters a key, token or word is made of; anything else separates.
fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '*' | '…')
}

/// [`is_word_char`] on bytes: an ASCII word character is one byte, `…` three.
fn word_char_len(bytes: &[u8]) -> usize {
    match bytes.first() {
        Some(&b) if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'*') => 1,
        Some(0xE2) if bytes.starts_with("…".as_bytes()) => 3,
        _ => 0,
    }
}

/// The length in bytes of the word `text` starts with (0 at a separator),
/// scanned byte by byte (no char decoding): ends on a char boundary.
fn word_len(text: &[u8]) -> usize {
    // [`word_char_len`] unrolled into a plain loop: this runs on every byte
    // of every message.
    let mut at = 0;
    while let Some(&b) = text.get(at) {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'*') {
            at += 1;
        } else if b == 0xE2 && text[at..].starts_with("…".as_bytes()) {
            at += 3;
        } else {
            break;
        }
    }
    at
}

/// The length in bytes of the separators `text` starts with, whole chars.
fn separator_len(text: &[u8]) -> usize {
    let mut at = 0;
    while at < text.len() && word_char_len(&text[at..]) == 0 {
        // A UTF-8 lead byte gives its char's length.
        at += match text[at] {
            0xF0.. => 4,
            0xE0.. => 3,
            0xC0.. => 2,
            _ => 1,
        };
    }
    at.min(text.len())
}

/// Replaces every absolute URL (`scheme://…` up to whitespace, a quote or
/// an angle bracket; trailing punctuation excluded) by [`redact_url`]'s form.
fn redact_urls_in(text: &str) -> Cow<'_, str> {
    if !search::contains(text, "://") {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut done = 0; // bytes of `text` already copied to `out`
    let mut from = 0;
    while let Some(found) = search::find(crate::cut::after(text, from), "://") {
        let sep = from + found;
        // Scheme characters are ASCII, so this stays on a char boundary.
        // A loop, not rev().take_while().count(): no Rev::try_fold of its own.
        let mut scheme_len = 0;
        for b in text.as_bytes().get(..sep).unwrap_or_default().iter().rev() {
            if !(b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.')) {
                break;
            }
            scheme_len += 1;
        }
        let start = (sep - scheme_len).max(done);
        let end = crate::cut::after(text, sep)
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '`'))
            .map_or(text.len(), |i| sep + i);
        let trimmed = crate::cut::between(text, start, end)
            .trim_end_matches(['.', ',', ';', ':', ')', ']', '}', '!']);
        let url_end = start + trimmed.len();
        out.push_str(crate::cut::between(text, done, start));
        if start < sep {
            out.push_str(&redact_structure(trimmed));
        } else {
            out.push_str(trimmed); // "://" with no scheme before it
        }
        done = url_end;
        from = end.max(sep + 3);
    }
    out.push_str(crate::cut::after(text, done));
    Cow::Owned(out)
}

/// Masks every word that has a secret's shape, and the token after `Bearer`.
fn mask_tokens(text: &str) -> String {
    if !quick::may_change(text.as_bytes()) {
        return text.to_owned();
    }
    mask_words(text)
}

/// [`mask_tokens`] without the check that skips a text with nothing to mask.
fn mask_words(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        let word_len = word_len(rest.as_bytes());
        if word_len == 0 {
            // A separator: copy it (and the separators after it).
            let sep_len = separator_len(rest.as_bytes());
            let (separators, after) = crate::cut::split_at(rest, sep_len);
            out.push_str(separators);
            rest = after;
            continue;
        }
        let (word, after) = crate::cut::split_at(rest, word_len);
        rest = after;
        // Only a word starting as a key, a JWT or `Bearer` does, or as long
        // as a 32-character key, can change: copy the others as they are.
        if word_len < 32 && !quick::key_start(word.as_bytes()) {
            out.push_str(word);
            continue;
        }
        // A sentence's full stop (or the `…` of a cut) is not part of the key.
        let bare = word.trim_end_matches(['.', '…']);
        match kept_prefix(bare) {
            Some(prefix) => {
                out.push_str(prefix);
                out.push_str(MASK);
                out.push_str(crate::cut::after(word, bare.len()));
            }
            None => out.push_str(word),
        }
        if bare.eq_ignore_ascii_case("bearer") {
            let spaces = rest.len() - rest.trim_start_matches([' ', '\t']).len();
            if spaces > 0 {
                let (blanks, after) = crate::cut::split_at(rest, spaces);
                out.push_str(blanks);
                rest = after;
                // The credential runs to the next whitespace, base64 included.
                let run_len = rest.find(char::is_whitespace).unwrap_or(rest.len());
                let run = crate::cut::before(rest, run_len)
                    .trim_end_matches(['"', '\'', ',', ';', ')', ']', '}', '.', '…']);
                if run.len() >= 8 && run.bytes().any(|b| b.is_ascii_digit()) {
                    out.push_str(MASK);
                    rest = crate::cut::after(rest, run.len());
                }
            }
        }
    }
    out
}

/// Public key prefixes, longest first, with how many characters must follow
/// for the word to be a key rather than, say, `sk-learn` or `xai-grok-2`.
const PREFIXES: [(&str, usize); 11] = [
    ("sk-ant-admin01-", 3),
    ("sk-ant-api03-", 3),
    ("sk-ant-", 8),
    ("sk-or-v1-", 3),
    ("sk-svcacct-", 3),
    ("sk-admin-", 3),
    ("sk-proj-", 3),
    ("sk-None-", 3),
    ("gsk_", 16),
    ("xai-", 16),
    ("AIza", 16),
];

/// For a word shaped like a secret, the part that may stay visible.
fn kept_prefix(word: &str) -> Option<&'static str> {
    // An already masked word (`sk-proj-***`) maps to itself.
    for (prefix, min_rest) in PREFIXES {
        if let Some(rest) = word.strip_prefix(prefix) {
            if rest.len() >= min_rest || echoed(rest) {
                return Some(prefix);
            }
        }
    }
    if let Some(rest) = word.strip_prefix("sk-") {
        // Classic keys are sk- and 48 characters; an echoed key is shown
        // with "…" or "***" in its middle.
        if rest.len() >= 16 || echoed(rest) {
            return Some("sk-");
        }
    }
    if is_jwt(word) {
        return Some("eyJ");
    }
    if word.len() == 32
        && word.bytes().all(|b| b.is_ascii_alphanumeric())
        && word.bytes().any(|b| b.is_ascii_digit())
    {
        return Some("");
    }
    None
}

/// A provider's echo of a key with its middle elided (`abc…xyz`,
/// `ab***yz`, `abc...xyz`): something on both sides of the elision.
fn echoed(rest: &str) -> bool {
    ["…", "**", "..."].iter().any(|gap| {
        search::split_once(rest, gap).is_some_and(|(before, after)| {
            !before.is_empty() && !after.trim_start_matches(['*', '.', '…']).is_empty()
        })
    })
}

/// `eyJ<base64url>.<base64url>.<base64url>`, at least 20 characters.
fn is_jwt(word: &str) -> bool {
    let mut parts = word.split('.');
    let b64 = |p: &str| {
        p.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    word.len() >= 20
        && word.starts_with("eyJ")
        && matches!(
            (parts.next(), parts.next(), parts.next(), parts.next()),
            (Some(h), Some(p), Some(s), None)
                if !h.is_empty() && !p.is_empty() && b64(h) && b64(p) && b64(s)
        )
}

/// Query parameter names whose values are secrets (compared lower-cased).
const SECRET_PARAMS: [&str; 14] = [
    "key",
    "api_key",
    "api-key",
    "apikey",
    "x-api-key",
    "x-goog-api-key",
    "token",
    "auth",
    "authorization",
    "sig",
    "signature",
    "secret",
    "password",
    "pwd",
];

/// Name endings that mark a secret too (`access_token`, `client_secret`,
/// `X-Amz-Signature`, `X-Amz-Credential`, `subscription-key`).
const SECRET_SUFFIXES: [&str; 7] = [
    "token",
    "secret",
    "_key",
    "-key",
    "signature",
    "credential",
    "password",
];

fn is_secret_param(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    SECRET_PARAMS.contains(&name.as_str()) || SECRET_SUFFIXES.iter().any(|s| name.ends_with(s))
}

/// The URL with credentials (`user:pass@`) and secret query values (`key`,
/// `api_key`, `access_token`, Azure SAS `sig`, …) replaced by `***`, the
/// fragment dropped, and any key-shaped word masked as [`mask_secrets`]
/// does: safe for events, errors and logs.
pub fn redact_url(url: &str) -> String {
    mask_tokens(&redact_structure(url))
}

fn redact_structure(url: &str) -> String {
    let p = url::split(url);
    let mut out = String::with_capacity(url.len());
    if let Some(scheme) = p.scheme {
        out.push_str(scheme);
        out.push_str("://");
        if p.userinfo.is_some() {
            out.push_str(MASK);
            out.push('@');
        }
        out.push_str(p.host_port);
    }
    out.push_str(p.path);
    if let Some(query) = p.query {
        out.push('?');
        for (i, pair) in query.split('&').enumerate() {
            if i > 0 {
                out.push('&');
            }
            match pair.split_once('=') {
                Some((name, _)) if is_secret_param(name) => {
                    out.push_str(name);
                    out.push('=');
                    out.push_str(MASK);
                }
                _ => out.push_str(pair),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_scans_agree_with_char_scans() {
        let pieces = [
            "a", "Z9", "-_.*", "…", " ", "é", "€", "😀", "\t", "=", "sk-", "\u{2025}",
        ];
        // Every string of up to four pieces.
        let mut texts = vec![String::new()];
        for _ in 0..4 {
            let longer: Vec<String> = texts
                .iter()
                .flat_map(|t| pieces.iter().map(move |p| format!("{t}{p}")))
                .collect();
            texts.extend(longer);
        }
        for t in &texts {
            let word = t.find(|c: char| !is_word_char(c)).unwrap_or(t.len());
            assert_eq!(word_len(t.as_bytes()), word, "{t:?}");
            let sep = t.find(is_word_char).unwrap_or(t.len());
            assert_eq!(separator_len(t.as_bytes()), sep, "{t:?}");
        }
    }

    #[test]
    fn a_text_the_quick_check_passes_has_nothing_to_mask() {
        // Pieces of keys, JWTs and `Bearer` tokens, cut at every place, so
        // the check meets words that are keys and words that just miss.
        let keys = [
            "sk-proj-abcdefghijklmnop1234",
            "sk-ant-api03-xyz",
            "sk-abcdefghijklmnop1234",
            "sk-abc…xyz",
            "gsk_abcdefghijklmnop12",
            "xai-abcdefghijklmnop12",
            "AIzaSyAbcdefghijklmnop12",
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc",
            "abcdefghijklmnopqrstuvwxyz123456",
            "Bearer abc123456789",
            "bearer\tabc123456789",
            "sk-learn",
            "see the billing",
        ];
        let mut texts = Vec::new();
        for key in keys {
            for cut in (0..=key.len()).filter(|&i| key.is_char_boundary(i)) {
                for (before, after) in [("", ""), ("x ", "."), ("(", "…) ok"), ("é=", "\n")] {
                    texts.push(format!("{before}{}{after}", &key[..cut]));
                }
            }
        }
        let mut masked = 0;
        for t in &texts {
            if quick::may_change(t.as_bytes()) {
                masked += usize::from(mask_words(t) != *t);
            } else {
                assert_eq!(mask_words(t), *t, "{t:?}");
            }
            assert_eq!(mask_tokens(t), mask_words(t), "{t:?}");
        }
        assert!(masked > 50, "the check passed on {masked} texts with a key");
    }

    #[test]
    fn long_messages_are_cut_within_the_limit() {
        let long = "word ".repeat(1000);
        let m = mask_secrets(&long);
        assert!(
            m.len() <= MAX_MESSAGE_LEN && m.ends_with('…'),
            "{}",
            m.len()
        );
        assert_eq!(mask_secrets(&m), m, "cutting is idempotent");
        assert_eq!(mask_secrets("sk-"), "sk-");
    }

    #[test]
    fn a_huge_input_never_shows_half_a_secret() {
        let mut text = "a ".repeat(MAX_INPUT_LEN / 2 - 4);
        text.push_str("https://user:hunter2@x.com/");
        let m = mask_secrets(&text);
        assert!(!m.contains("hunter2"));
    }
}

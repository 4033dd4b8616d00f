//! A small, bounded JSON reader for error bodies.
//!
//! Error bodies are tiny and only a few string fields matter, so this keeps
//! numbers as their source text and never converts them to floats: that
//! keeps float parsing and formatting (and serde_json) out of the `.wasm`.
//! Strings without escapes are borrowed from the input, not copied.
//! Nesting deeper than [`MAX_DEPTH`] is rejected rather than recursed into.

use std::borrow::Cow;

/// The deepest nesting accepted; real error bodies use four levels.
pub const MAX_DEPTH: usize = 32;

/// A parsed JSON value, borrowing from the text it was parsed from.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    /// `null`
    Null,
    /// `true` / `false`
    Bool(bool),
    /// A number, as written (`429`, `1.5e3`).
    Number(&'a str),
    /// A string, unescaped.
    String(Cow<'a, str>),
    /// An array.
    Array(Vec<Value<'a>>),
    /// An object, in source order.
    Object(Vec<(Cow<'a, str>, Value<'a>)>),
}

impl<'a> Value<'a> {
    /// The member `key` of an object.
    pub fn get(&self, key: &str) -> Option<&Value<'a>> {
        match self {
            Value::Object(members) => members.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The items, if this is an array.
    pub fn as_array(&self) -> Option<&[Value<'a>]> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }
}

/// Parses a complete JSON text; `None` for anything malformed or too deep.
pub fn parse(text: &str) -> Option<Value<'_>> {
    let mut p = Parser { text, pos: 0 };
    let value = p.value(0)?;
    p.skip_ws();
    (p.pos == text.len()).then_some(value)
}

/// Reads a JSON text that may be cut short (a body read only up to a byte
/// limit) from the start, and calls `visit(path, key, value)` for every
/// object member whose value is a string or number read in full.
///
/// `path` holds, outermost first, the key each enclosing container sits
/// under (`None` for the root and for array items). Reading stops at the
/// first thing that is malformed or cut, or deeper than [`MAX_DEPTH`]. It
/// keeps one small stack and never recurses, so any input is safe.
pub fn scan_prefix<'a>(
    text: &'a str,
    mut visit: impl FnMut(&[Option<Cow<'a, str>>], &str, &Value<'a>),
) {
    scan(text, &mut visit);
}

/// A visitor of [`scan_prefix`].
type Visit<'v, 'a> = dyn FnMut(&[Option<Cow<'a, str>>], &str, &Value<'a>) + 'v;

/// [`scan_prefix`]'s body, compiled once for every caller's visitor.
fn scan<'a>(text: &'a str, visit: &mut Visit<'_, 'a>) {
    let mut p = Parser { text, pos: 0 };
    // Per open container: the key it sits under, and whether it is an object.
    let mut path: Vec<Option<Cow<'a, str>>> = Vec::new();
    let mut objects: Vec<bool> = Vec::new();
    let mut key: Option<Cow<'a, str>> = None;
    loop {
        p.skip_ws();
        let in_object = objects.last() == Some(&true);
        match p.peek() {
            Some(open @ (b'{' | b'[')) => {
                if objects.len() > MAX_DEPTH {
                    return;
                }
                p.pos += 1;
                path.push(key.take());
                objects.push(open == b'{');
            }
            Some(b'}' | b']') => {
                p.pos += 1;
                path.pop();
                objects.pop();
                key = None;
            }
            Some(b',') => {
                p.pos += 1;
                key = None;
            }
            Some(b':') => p.pos += 1,
            Some(b'"') => {
                let Some(s) = p.string() else { return };
                if !in_object {
                    continue;
                }
                match key.take() {
                    // A string where a key is due is the key.
                    None => key = Some(s),
                    Some(k) => visit(&path, &k, &Value::String(s)),
                }
            }
            Some(b'-' | b'0'..=b'9') => {
                let Some(n) = p.number() else { return };
                // "42" at the very end may be "429" cut short.
                if p.pos == text.len() {
                    return;
                }
                if let (true, Some(k)) = (in_object, key.take()) {
                    visit(&path, &k, &n);
                }
            }
            Some(b't') if p.literal("true", Value::Null).is_some() => key = None,
            Some(b'f') if p.literal("false", Value::Null).is_some() => key = None,
            Some(b'n') if p.literal("null", Value::Null).is_some() => key = None,
            _ => return,
        }
    }
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    // Inlined: smaller than its calls, and at opt-level "z" it stays a call per byte otherwise.
    #[inline(always)]
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, byte: u8) -> bool {
        self.skip_ws();
        let hit = self.peek() == Some(byte);
        self.pos += usize::from(hit);
        hit
    }

    fn literal(&mut self, word: &str, value: Value<'a>) -> Option<Value<'a>> {
        let end = self.pos + word.len();
        (self.text.as_bytes().get(self.pos..end)? == word.as_bytes()).then(|| {
            self.pos = end;
            value
        })
    }

    fn value(&mut self, depth: usize) -> Option<Value<'a>> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.skip_ws();
        match self.peek()? {
            b'{' => self.object(depth),
            b'[' => self.array(depth),
            b'"' => self.string().map(Value::String),
            b't' => self.literal("true", Value::Bool(true)),
            b'f' => self.literal("false", Value::Bool(false)),
            b'n' => self.literal("null", Value::Null),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    fn object(&mut self, depth: usize) -> Option<Value<'a>> {
        self.pos += 1;
        let mut members = Vec::new();
        if self.eat(b'}') {
            return Some(Value::Object(members));
        }
        loop {
            self.skip_ws();
            let key = self.string()?;
            if !self.eat(b':') {
                return None;
            }
            members.push((key, self.value(depth + 1)?));
            if self.eat(b'}') {
                return Some(Value::Object(members));
            }
            if !self.eat(b',') {
                return None;
            }
        }
    }

    fn array(&mut self, depth: usize) -> Option<Value<'a>> {
        self.pos += 1;
        let mut items = Vec::new();
        if self.eat(b']') {
            return Some(Value::Array(items));
        }
        loop {
            items.push(self.value(depth + 1)?);
            if self.eat(b']') {
                return Some(Value::Array(items));
            }
            if !self.eat(b',') {
                return None;
            }
        }
    }

    fn number(&mut self) -> Option<Value<'a>> {
        let start = self.pos;
        while matches!(
            self.peek(),
            Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
        ) {
            self.pos += 1;
        }
        let text = self.text.get(start..self.pos)?;
        text.bytes()
            .any(|b| b.is_ascii_digit())
            .then_some(Value::Number(text))
    }

    fn hex4(&mut self) -> Option<u32> {
        let digits = self.text.get(self.pos..self.pos + 4)?;
        self.pos += 4;
        u32::from_str_radix(digits, 16).ok()
    }

    fn string(&mut self) -> Option<Cow<'a, str>> {
        if self.peek() != Some(b'"') {
            return None;
        }
        self.pos += 1;
        let start = self.pos;
        // Fast path: without escapes the string is a slice of the input.
        // A plain loop: at opt-level "z" an iterator's closure stays a call per byte.
        let bytes = self.text.as_bytes();
        let mut stop = plain_run_end(bytes, start);
        loop {
            match *bytes.get(stop)? {
                b'"' | b'\\' | ..0x20 => break,
                _ => stop += 1,
            }
        }
        self.pos = stop;
        match self.peek()? {
            b'"' => {
                let s = self.text.get(start..self.pos)?;
                self.pos += 1;
                return Some(Cow::Borrowed(s));
            }
            b'\\' => {}
            _ => return None,
        }
        let mut out = String::from(self.text.get(start..self.pos)?);
        loop {
            let rest = self.text.get(self.pos..)?;
            let c = rest.chars().next()?;
            self.pos += c.len_utf8();
            match c {
                '"' => return Some(Cow::Owned(out)),
                '\\' => {
                    let escaped = self.peek()?;
                    self.pos += 1;
                    out.push(match escaped {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => self.unicode_escape()?,
                        _ => return None,
                    });
                }
                '\0'..='\u{1f}' => return None,
                c => out.push(c),
            }
        }
    }

    fn unicode_escape(&mut self) -> Option<char> {
        let first = self.hex4()?;
        if !(0xD800..0xDC00).contains(&first) {
            // A lone low surrogate becomes U+FFFD rather than an error.
            return Some(char::from_u32(first).unwrap_or('\u{FFFD}'));
        }
        if self.text.as_bytes().get(self.pos..self.pos + 2) != Some(b"\\u") {
            return Some('\u{FFFD}');
        }
        self.pos += 2;
        let second = self.hex4()?;
        if !(0xDC00..0xE000).contains(&second) {
            return Some('\u{FFFD}');
        }
        char::from_u32(0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00))
    }
}

/// Where the run of string bytes from `at` with no quote, backslash or
/// control character ends, or up to seven bytes before it: eight bytes at
/// a time, the rest left to the caller's byte loop. Messages are most of
/// an error body's bytes, and most of a message is such a run.
fn plain_run_end(bytes: &[u8], mut at: usize) -> usize {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const HIGHS: u64 = ONES << 7;
    // Whether a byte of `x` is below `n` (n <= 0x80; exact as a whole).
    let below = |x: u64, n: u64| x.wrapping_sub(ONES * n) & !x & HIGHS != 0;
    // `try_from`, not `copy_from_slice`: that is a call per word at opt-level "z".
    while let Some(Ok(word)) = bytes.get(at..at + 8).map(<[u8; 8]>::try_from) {
        let x = u64::from_le_bytes(word);
        if below(x, 0x20)
            || below(x ^ (ONES * u64::from(b'"')), 1)
            || below(x ^ (ONES * u64::from(b'\\')), 1)
        {
            break;
        }
        at += 8;
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_an_error_body() {
        let v = parse(r#" {"error": {"message": "a\"b\u00e9\ud83d\ude00", "code": 429, "param": null, "ok": [true, false, -1.5e3]}} "#).unwrap();
        let e = v.get("error").unwrap();
        assert_eq!(e.get("message").and_then(Value::as_str), Some("a\"bé😀"));
        assert_eq!(e.get("code"), Some(&Value::Number("429")));
        assert!(
            matches!(e.get("message"), Some(Value::String(Cow::Owned(_)))),
            "escaped strings are unescaped copies"
        );
        let plain = parse(r#"{"a":"borrowed"}"#).unwrap();
        assert!(matches!(
            plain.get("a"),
            Some(Value::String(Cow::Borrowed("borrowed")))
        ));
        assert_eq!(e.get("param"), Some(&Value::Null));
        assert_eq!(
            e.get("ok").and_then(Value::as_array).map(<[Value]>::len),
            Some(3)
        );
    }

    #[test]
    fn agrees_with_serde_json_on_validity() {
        let samples = [
            "{}",
            "[]",
            "null",
            "\"x\"",
            "{\"a\":1}",
            "[1,2,]",
            "{\"a\":}",
            "{\"a\" 1}",
            "{a:1}",
            "\"\\x\"",
            "\"\u{1}\"",
            "[1] x",
            "tru",
            "{\"a\":[{\"b\":{}}]}",
            "",
        ];
        for s in samples {
            let ours = parse(s).is_some();
            let theirs = serde_json::from_str::<serde_json::Value>(s).is_ok();
            assert_eq!(ours, theirs, "{s:?}");
        }
    }

    #[test]
    fn scan_prefix_reads_complete_members_of_a_cut_text() {
        let mut seen = Vec::new();
        scan_prefix(
            r#"[{"type":"error","error":{"code":429,"a":[1,"x"],"b":{"c":"d"},"message":"cut"#,
            |path, key, value| {
                let path: Vec<_> = path
                    .iter()
                    .map(|k| k.as_deref().unwrap_or("-").to_owned())
                    .collect();
                seen.push(format!("{}/{key}={value:?}", path.join("/")));
            },
        );
        assert_eq!(
            seen,
            [
                r#"-/-/type=String("error")"#,
                r#"-/-/error/code=Number("429")"#,
                r#"-/-/error/b/c=String("d")"#,
            ]
        );
        let mut n = 0;
        scan_prefix(r#"{"code":42"#, |_, _, _| n += 1);
        scan_prefix(&"[".repeat(100_000), |_, _, _| n += 1);
        scan_prefix(&r#"{"a":"#.repeat(100_000), |_, _, _| n += 1);
        assert_eq!(n, 0);
    }

    #[test]
    fn the_plain_run_stops_at_or_before_the_first_byte_that_needs_a_look() {
        let mut seed = 9u32;
        let mut next = |n: u32| {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            (seed >> 8) % n
        };
        for _ in 0..20_000 {
            let len = next(40) as usize;
            let text: Vec<u8> = (0..len)
                .map(|_| match next(12) {
                    0 => b'"',
                    1 => b'\\',
                    2 => next(0x20) as u8,
                    3 => 0x80 + next(0x80) as u8,
                    4 => 0x20,
                    _ => b'a' + next(26) as u8,
                })
                .collect();
            let from = next(len as u32 + 1) as usize;
            let first = (from..len)
                .find(|&i| matches!(text[i], b'"' | b'\\' | ..0x20))
                .unwrap_or(len);
            let end = plain_run_end(&text, from);
            assert!(
                end <= first && first - end < 8,
                "{text:?} {from} {end} {first}"
            );
        }
    }

    #[test]
    fn depth_is_bounded() {
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse(&ok).is_some());
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(parse(&deep), None);
    }
}

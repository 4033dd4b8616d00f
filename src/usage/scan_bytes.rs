//! The scanner's byte state machine: how each state reads the bytes that
//! follow it (names, keys, followed strings, kept usage objects). The
//! [`Scanner`](super::Scanner) and its public calls are in `scan.rs`.

use super::{Role, Scanner, State, MAX_ID, MAX_MODEL, MAX_NAME, MAX_OBJECT, TEXT_KEYS};
use crate::classify::json;
use crate::usage::shapes;

impl Scanner {
    /// Reads bytes that follow the ones read before.
    pub(super) fn scan(&mut self, chunk: &[u8]) {
        let mut i = 0;
        while i < chunk.len() {
            let rest = &chunk[i..];
            i += match self.state {
                State::Outside => match rest.iter().position(|&b| b == b'"') {
                    Some(at) => {
                        let before = match i + at {
                            0 => self.prev,
                            n => chunk[n - 1],
                        };
                        if before != b'\\' {
                            self.name_len = 0;
                            self.state = State::Name;
                        }
                        at + 1
                    }
                    None => rest.len(),
                },
                State::Name => self.name(rest),
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
                State::Str { role, escaped } => self.string(rest, role, escaped),
                State::Object { .. } => self.object(rest),
            };
        }
        if let Some(&last) = chunk.last() {
            self.prev = last;
        }
    }

    /// After an unescaped quote: the bytes of a name we may read, up to its
    /// closing quote; anything else ends the glance.
    fn name(&mut self, rest: &[u8]) -> usize {
        for (n, &b) in rest.iter().enumerate() {
            if b == b'"' {
                self.state = State::AfterName;
                return n + 1;
            }
            if !(b.is_ascii_alphabetic() || b == b'_') || self.name_len == MAX_NAME {
                // Not a name we read; this byte is looked at again.
                self.state = State::Outside;
                return n;
            }
            self.name[self.name_len] = b;
            self.name_len += 1;
        }
        rest.len()
    }

    /// The role of the key just read.
    fn role_of_name(&self) -> Role {
        let name = &self.name[..self.name_len];
        match name {
            // Only the first of each is kept: later ones are not followed.
            b"model" if self.model.is_none() => Role::Model(true),
            b"modelVersion" if self.model_version.is_none() => Role::Model(false),
            b"model" | b"modelVersion" => Role::Plain,
            b"id" if self.ids_met & 1 == 0 => Role::Id(true),
            b"responseId" | b"response_id" if self.ids_met & 2 == 0 => Role::Id(false),
            b"id" | b"responseId" | b"response_id" => Role::Plain,
            _ => {
                if let Some(at) = shapes::KEYS.iter().position(|k| k.as_bytes() == name) {
                    Role::Usage(at as u8)
                } else if TEXT_KEYS.iter().any(|k| k.as_bytes() == name) {
                    Role::Text
                } else {
                    Role::Plain
                }
            }
        }
    }

    /// The first byte of a key's value; returns the bytes consumed.
    fn value(&mut self, b: u8, role: Role) -> usize {
        if let (Role::Id(primary), false) = (role, b.is_ascii_whitespace()) {
            // The first id key's value, string or not, settles it.
            self.ids_met |= if primary { 1 } else { 2 };
        }
        match (b, role) {
            (b' ' | b'\t' | b'\r' | b'\n', _) => 1,
            (b'"', Role::Model(_) | Role::Text | Role::Id(_)) => {
                self.current.clear();
                self.state = State::Str {
                    role,
                    escaped: false,
                };
                1
            }
            (b'{', Role::Usage(key)) => {
                self.object.clear();
                // The whole object's room at once: it never grows past it.
                self.object.reserve_exact(MAX_OBJECT + 1);
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
                match role {
                    Role::Model(primary) => self.model_read(primary),
                    Role::Id(primary) => self.id_read(primary),
                    _ => {}
                }
                self.state = State::Outside;
            }
            b'\\' => {
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
            Role::Model(_) => {
                let room = MAX_MODEL.saturating_sub(self.current.len());
                self.current
                    .extend_from_slice(&bytes[..bytes.len().min(room)]);
            }
            Role::Id(_) => {
                // One byte past the cap marks an id too long to keep.
                let room = (MAX_ID + 1).saturating_sub(self.current.len());
                self.current
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
        if slot.is_none() && !self.current.is_empty() {
            *slot = as_utf8(&self.current).map(str::to_owned);
        }
        self.current = Vec::new();
    }

    /// An id string ended: kept when it is 1 to [`MAX_ID`] bytes of
    /// visible ASCII without escapes, so nothing odd reaches an attribute.
    fn id_read(&mut self, primary: bool) {
        let id = std::mem::take(&mut self.current);
        let valid = !id.is_empty()
            && id.len() <= MAX_ID
            && id.iter().all(|&b| b.is_ascii_graphic() && b != b'\\');
        if valid {
            let slot = if primary {
                &mut self.id
            } else {
                &mut self.response_id
            };
            *slot = as_utf8(&id).map(str::to_owned);
        }
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
        let value = as_utf8(&object).and_then(json::parse);
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
}

/// `bytes` as text when all of it is UTF-8, else `None`: through
/// `utf8_chunks`, the validation `String::from_utf8_lossy` already brings
/// into the `.wasm`, rather than `str::from_utf8`'s own copy (0.7 KB).
pub(super) fn as_utf8(bytes: &[u8]) -> Option<&str> {
    let mut chunks = bytes.utf8_chunks();
    match chunks.next() {
        None => Some(""),
        Some(chunk) if chunk.invalid().is_empty() && chunks.next().is_none() => Some(chunk.valid()),
        Some(_) => None,
    }
}

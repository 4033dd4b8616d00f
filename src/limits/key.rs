//! Which rate limit a request counts against: an API origin and the key it
//! is sent with, hashed so that the secret itself is never stored.

use std::fmt;

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// The identity of one rate limit: a hash of an origin and an API key.
///
/// Two requests share a `LimitKey` exactly when they go to the same origin
/// with the same key, so they draw on the same provider limits and quota.
/// Only the 64-bit hash is kept, so neither `Debug` nor [`short`] can leak
/// the key.
///
/// [`short`]: LimitKey::short
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LimitKey(u64);

/// One byte into a 64-bit FNV-1a hash.
fn fnv(hash: u64, b: u8) -> u64 {
    (hash ^ u64::from(b)).wrapping_mul(FNV_PRIME)
}

/// `bytes` into a 64-bit FNV-1a hash: loops, not folds over chained
/// iterators (a Chain's fold for each, issue 25).
fn fnv_all(mut hash: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        hash = fnv(hash, b);
    }
    hash
}

/// The 64-bit FNV-1a hash of `bytes` (also the coordinator's record
/// checksum, `coordinator::record`).
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    fnv_all(FNV_OFFSET, bytes)
}

impl LimitKey {
    /// Hashes `origin` (such as `https://api.openai.com`, compared
    /// case-insensitively), a 0 byte and `api_key` with 64-bit FNV-1a.
    /// No key and an empty key are the same key.
    pub fn new(origin: &str, api_key: Option<&str>) -> LimitKey {
        let mut hash = FNV_OFFSET;
        for b in origin.bytes() {
            hash = fnv(hash, b.to_ascii_lowercase());
        }
        hash = fnv(hash, 0);
        LimitKey(fnv_all(hash, api_key.unwrap_or("").as_bytes()))
    }

    /// The key of one model within this key's account: where a provider
    /// keeps quota and rate limits per model (Gemini's per-day quotas, every
    /// provider's per-minute limits). No model, or an empty one, is this
    /// key itself.
    pub fn with_model(self, model: Option<&str>) -> LimitKey {
        match model.filter(|m| !m.is_empty()) {
            // A 1 byte cannot occur in an origin, so no account key collides.
            Some(model) => LimitKey(fnv_all(fnv(self.0, 1), model.as_bytes())),
            None => self,
        }
    }

    /// The first 8 hex digits of the hash, for logs and health endpoints.
    pub fn short(&self) -> String {
        hex(self.0 >> 32, 8)
    }

    /// The whole hash as 16 hex digits, to name the key to a coordinator.
    pub fn to_hex(&self) -> String {
        hex(self.0, 16)
    }

    /// The key whose [`to_hex`](Self::to_hex) is `hex`.
    pub fn from_hex(hex: &str) -> Option<LimitKey> {
        let valid = hex.len() == 16 && hex.bytes().all(|b| b.is_ascii_hexdigit());
        valid.then(|| u64::from_str_radix(hex, 16).ok().map(LimitKey))?
    }
}

impl fmt::Debug for LimitKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LimitKey(")?;
        f.write_str(&self.to_hex())?;
        f.write_str(")")
    }
}

/// The low `digits` hex digits of `value`, zero-padded, lower-case: by
/// hand, so that no path here pulls in `core::fmt`'s integer formatting.
fn hex(value: u64, digits: u32) -> String {
    (0..digits)
        .rev()
        .map(|i| char::from(b"0123456789abcdef"[(value >> (i * 4) & 15) as usize]))
        .collect()
}

/// The request headers that say whose limits and quota a request draws on:
/// the credential in whichever header the provider uses (`Authorization`
/// with any scheme, Anthropic's `x-api-key`, Azure's `api-key`, Gemini's
/// `x-goog-api-key`), and OpenAI's organization and project, since one key
/// in another project has a quota of its own.
pub const IDENTITY_HEADERS: [&str; 6] = [
    "authorization",
    "x-api-key",
    "api-key",
    "x-goog-api-key",
    "openai-organization",
    "openai-project",
];

/// The query parameters that carry a credential (Gemini's `?key=`).
pub const IDENTITY_PARAMS: [&str; 2] = ["key", "api_key"];

/// Everything that identifies a caller, as one string to hash into a
/// [`LimitKey`] (never stored or shown): `values` are the
/// [`IDENTITY_HEADERS`] in order, `query` the URL's query string. Blank
/// values count as absent, so no credential at all gives `""`.
pub fn identity(values: &[Option<&str>], query: Option<&str>) -> String {
    let mut out = String::new();
    let headers = IDENTITY_HEADERS.iter().zip(values);
    let params = query
        .unwrap_or("")
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .filter_map(|(name, value)| {
            let known = IDENTITY_PARAMS
                .iter()
                .find(|p| p.eq_ignore_ascii_case(name))?;
            Some((known, Some(value)))
        });
    for (name, value) in headers.map(|(n, v)| (n, *v)).chain(params) {
        let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
            continue;
        };
        out.push_str(name);
        out.push('=');
        out.push_str(value);
        out.push('\n');
    }
    out
}

/// The most keys a [`KeyMap`] holds by default: past it, idle entries are
/// dropped first, then the least recently used.
pub const DEFAULT_MAX_KEYS: usize = 10_000;

/// Per-key state that can tell when it no longer matters.
pub trait Idle {
    /// Whether the entry holds nothing worth keeping at `now_ms` (its
    /// windows have reset, its breaker has long cooled down, …).
    fn idle(&self, now_ms: f64) -> bool;
}

/// A bounded map from [`LimitKey`] to `V`: O(log n) per lookup, and never
/// more than its capacity, whatever the number of keys a process meets.
///
/// When a new key would pass the capacity, the map first drops every idle
/// entry, then, if it is still full, the least recently used quarter, so
/// the sweep's cost is spread over the inserts that follow it.
///
/// The values sit in a dense vector and one sorted index maps keys to
/// their slots. The index has the same type for every `V`, so its code
/// (a binary search and one sort, shared with the least-recently-used
/// sweep) is compiled once rather than once per kind of state: a tree,
/// or a sort per `V`, is most of what a map costs in the `.wasm`.
#[derive(Debug, Clone)]
pub struct KeyMap<V> {
    index: Index,
    slots: Vec<Slot<V>>,
    max_keys: usize,
}

/// A key's value and when it was last used.
#[derive(Debug, Clone)]
struct Slot<V> {
    key: LimitKey,
    value: V,
    used_ms: f64,
}

impl<V> Default for KeyMap<V> {
    fn default() -> Self {
        KeyMap::with_capacity(DEFAULT_MAX_KEYS)
    }
}

impl<V> KeyMap<V> {
    /// An empty map that holds at most `max_keys` keys (at least 1).
    pub fn with_capacity(max_keys: usize) -> Self {
        KeyMap {
            index: Index::default(),
            slots: Vec::new(),
            max_keys: max_keys.max(1),
        }
    }

    /// The value for `key`.
    pub fn get(&self, key: &LimitKey) -> Option<&V> {
        let i = self.index.get(key)?;
        self.slots.get(i).map(|s| &s.value)
    }

    /// The value for `key`, mutably.
    pub fn get_mut(&mut self, key: &LimitKey) -> Option<&mut V> {
        let i = self.index.get(key)?;
        self.slots.get_mut(i).map(|s| &mut s.value)
    }

    /// Removes `key`.
    pub fn remove(&mut self, key: &LimitKey) {
        let Some(i) = self.index.remove(key) else {
            return;
        };
        self.slots.swap_remove(i);
        // The last slot moved into the hole: point its key there.
        if let Some(moved) = self.slots.get(i) {
            self.index.set(moved.key, i);
        }
    }

    /// Removes every key.
    pub fn clear(&mut self) {
        self.index.0.clear();
        self.slots.clear();
    }

    /// How many keys are held.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Every entry, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&LimitKey, &V)> {
        self.index
            .0
            .iter()
            .filter_map(|&(_, i)| self.slots.get(i).map(|s| (&s.key, &s.value)))
    }

    /// The slot of `key`, appending `make()` if absent.
    fn slot(&mut self, key: LimitKey, now_ms: f64, make: impl FnOnce() -> V) -> &mut Slot<V> {
        let i = match self.index.get(&key) {
            Some(i) => i,
            None => {
                let i = self.slots.len();
                let value = make();
                self.slots.push(Slot {
                    key,
                    value,
                    used_ms: now_ms,
                });
                self.index.set(key, i);
                i
            }
        };
        &mut self.slots[i]
    }
}

impl<V: Idle> KeyMap<V> {
    /// Sets the value for `key`, used at `now_ms`.
    pub fn insert(&mut self, key: LimitKey, value: V, now_ms: f64) {
        self.make_room(&key, now_ms);
        match self.index.get(&key) {
            Some(i) => {
                self.slots[i].value = value;
                self.slots[i].used_ms = now_ms;
            }
            None => {
                self.index.set(key, self.slots.len());
                self.slots.push(Slot {
                    key,
                    value,
                    used_ms: now_ms,
                });
            }
        }
    }

    /// The value for `key`, used at `now_ms`, inserting `V::default()` first
    /// if absent.
    pub fn entry_or_default(&mut self, key: LimitKey, now_ms: f64) -> &mut V
    where
        V: Default,
    {
        self.make_room(&key, now_ms);
        let slot = self.slot(key, now_ms, V::default);
        slot.used_ms = slot.used_ms.max(now_ms);
        &mut slot.value
    }

    /// Before a new key goes in: at capacity, drop the idle entries, then
    /// the least recently used until a quarter of the room is free.
    fn make_room(&mut self, key: &LimitKey, now_ms: f64) {
        if self.slots.len() < self.max_keys || self.index.find(key).is_ok() {
            return;
        }
        // Only reading the entries and dropping the unkept ones depend on
        // `V`: the choice is made once, in `sweep`, for every kind of map.
        // A loop and keep_only, not `.collect()` and `Vec::retain`: each is
        // instantiated for every `V`, and theirs are bigger (issue 25).
        let mut entries: Vec<Entry> = Vec::with_capacity(self.slots.len());
        for s in &self.slots {
            entries.push((s.key, s.used_ms, s.value.idle(now_ms)));
        }
        let (keep, index) = sweep(&entries, self.max_keys);
        keep_only(&mut self.slots, &keep);
        self.index = index;
    }
}

/// Keeps the `items` whose flag in `keep` is set, in their order, and drops
/// the others (`keep` has one flag an item). Without the panic locations an
/// index or a `swap` would keep: `kept <= at` always.
fn keep_only<T>(items: &mut Vec<T>, keep: &[bool]) {
    let mut kept = 0;
    for (at, _) in keep.iter().enumerate().filter(|&(_, &k)| k) {
        // Moves item `at` down to `kept`, the first not kept before it.
        if let Some((first, rest)) = items
            .get_mut(kept..=at)
            .and_then(|run| run.split_first_mut())
        {
            if let Some(last) = rest.last_mut() {
                std::mem::swap(first, last);
            }
        }
        kept += 1;
    }
    items.truncate(kept);
}

#[path = "key_index.rs"]
mod index;
use index::{sweep, Entry, Index};

#[cfg(test)]
#[path = "key_tests.rs"]
mod tests;

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

impl LimitKey {
    /// Hashes `origin` (such as `https://api.openai.com`, compared
    /// case-insensitively), a 0 byte and `api_key` with 64-bit FNV-1a.
    /// No key and an empty key are the same key.
    pub fn new(origin: &str, api_key: Option<&str>) -> LimitKey {
        let origin = origin.bytes().map(|b| b.to_ascii_lowercase());
        let key = api_key.unwrap_or("").bytes();
        let bytes = origin.chain([0]).chain(key);
        LimitKey(bytes.fold(FNV_OFFSET, |hash, b| {
            (hash ^ u64::from(b)).wrapping_mul(FNV_PRIME)
        }))
    }

    /// The first 8 hex digits of the hash, for logs and health endpoints.
    pub fn short(&self) -> String {
        format!("{:08x}", self.0 >> 32)
    }
}

impl fmt::Debug for LimitKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LimitKey({:016x})", self.0)
    }
}

/// The API key a request carries, from whichever header the provider uses:
/// `Authorization: Bearer <key>` (OpenAI and most others; the scheme is
/// case-insensitive), `x-api-key` (Anthropic) or `api-key` (Azure OpenAI),
/// in that order. Blank values and other schemes (`Basic …`) are skipped.
pub fn api_key_from_headers<'a>(
    authorization: Option<&'a str>,
    x_api_key: Option<&'a str>,
    api_key: Option<&'a str>,
) -> Option<&'a str> {
    let bearer = authorization.and_then(|value| {
        let (scheme, token) = value.trim().split_once([' ', '\t'])?;
        scheme.eq_ignore_ascii_case("bearer").then_some(token)
    });
    [bearer, x_api_key, api_key]
        .into_iter()
        .flatten()
        .map(str::trim)
        .find(|key| !key.is_empty())
}

/// A small map from [`LimitKey`] to `V`, kept as a sorted `Vec`.
///
/// An instance talks to a handful of keys, so a sorted vector is as fast as
/// a tree or hash map here, iterates in key order, and keeps their code out
/// of the `.wasm`.
#[derive(Debug, Clone)]
pub struct KeyMap<V>(Vec<(LimitKey, V)>);

impl<V> Default for KeyMap<V> {
    fn default() -> Self {
        KeyMap(Vec::new())
    }
}

impl<V> KeyMap<V> {
    fn position(&self, key: &LimitKey) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| k.cmp(key))
    }

    /// The value for `key`.
    pub fn get(&self, key: &LimitKey) -> Option<&V> {
        self.position(key).ok().map(|i| &self.0[i].1)
    }

    /// The value for `key`, mutably.
    pub fn get_mut(&mut self, key: &LimitKey) -> Option<&mut V> {
        self.position(key).ok().map(|i| &mut self.0[i].1)
    }

    /// Sets the value for `key`.
    pub fn insert(&mut self, key: LimitKey, value: V) {
        match self.position(&key) {
            Ok(i) => self.0[i].1 = value,
            Err(i) => self.0.insert(i, (key, value)),
        }
    }

    /// The value for `key`, inserting `V::default()` first if absent.
    pub fn entry_or_default(&mut self, key: LimitKey) -> &mut V
    where
        V: Default,
    {
        let i = match self.position(&key) {
            Ok(i) => i,
            Err(i) => {
                self.0.insert(i, (key, V::default()));
                i
            }
        };
        &mut self.0[i].1
    }

    /// Removes `key`.
    pub fn remove(&mut self, key: &LimitKey) {
        if let Ok(i) = self.position(key) {
            self.0.remove(i);
        }
    }

    /// Removes every key.
    pub fn clear(&mut self) {
        self.0.clear();
    }

    /// Every entry, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&LimitKey, &V)> {
        self.0.iter().map(|(k, v)| (k, v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPENAI: &str = "https://api.openai.com";

    #[test]
    fn same_inputs_same_key_and_any_difference_differs() {
        let a = LimitKey::new(OPENAI, Some("sk-one"));
        assert_eq!(a, LimitKey::new(OPENAI, Some("sk-one")));
        assert_eq!(a, LimitKey::new("HTTPS://API.OpenAI.com", Some("sk-one")));
        assert_ne!(a, LimitKey::new(OPENAI, Some("sk-two")));
        assert_ne!(a, LimitKey::new(OPENAI, Some("SK-ONE")));
        assert_ne!(
            a,
            LimitKey::new("https://api.anthropic.com", Some("sk-one"))
        );
        assert_ne!(a, LimitKey::new(OPENAI, None));
        assert_eq!(LimitKey::new(OPENAI, None), LimitKey::new(OPENAI, Some("")));
        // The separator keeps the origin/key boundary from shifting.
        assert_ne!(
            LimitKey::new("ab", Some("c")),
            LimitKey::new("a", Some("bc"))
        );
    }

    #[test]
    fn known_fnv1a_value() {
        // FNV-1a 64 of the single byte 0 (empty origin, no key).
        assert_eq!(LimitKey::new("", None).0, 0xaf63_bd4c_8601_b7df);
    }

    #[test]
    fn display_forms_do_not_leak_the_key() {
        let secret = "sk-proj-abcdef0123456789";
        let key = LimitKey::new(OPENAI, Some(secret));
        let debug = format!("{key:?}");
        assert!(!debug.contains(secret) && !debug.contains("sk-"), "{debug}");
        let short = key.short();
        assert_eq!(short.len(), 8);
        assert!(short.bytes().all(|b| b.is_ascii_hexdigit()));
        assert!(debug.contains(&short));
    }

    #[test]
    fn api_key_is_found_in_each_providers_header() {
        let f = api_key_from_headers;
        assert_eq!(f(Some("Bearer sk-1"), None, None), Some("sk-1"));
        assert_eq!(f(Some("bearer   sk-1 "), None, None), Some("sk-1"));
        assert_eq!(f(Some("BEARER\tsk-1"), None, None), Some("sk-1"));
        assert_eq!(f(None, Some("sk-ant-1"), None), Some("sk-ant-1"));
        assert_eq!(f(None, None, Some("azure-1")), Some("azure-1"));
        // Authorization wins; unusable values fall through to the next header.
        assert_eq!(f(Some("Bearer a"), Some("b"), Some("c")), Some("a"));
        assert_eq!(f(Some("Basic dXNlcg=="), Some("b"), None), Some("b"));
        assert_eq!(f(Some("Bearer "), None, Some("c")), Some("c"));
        assert_eq!(f(Some("Bearersk-1"), None, None), None);
        assert_eq!(f(Some("sk-1"), Some("  "), None), None);
        assert_eq!(f(None, None, None), None);
    }

    #[test]
    fn key_map_keeps_keys_sorted_and_unique() {
        let keys: Vec<LimitKey> = (0..5)
            .map(|i| LimitKey::new("https://a", Some(&format!("k{i}"))))
            .collect();
        let mut m = KeyMap::default();
        for (i, k) in keys.iter().enumerate().rev() {
            m.insert(*k, i);
        }
        m.insert(keys[2], 20);
        *m.entry_or_default(keys[1]) += 100;
        m.remove(&keys[3]);
        let listed: Vec<LimitKey> = m.iter().map(|(k, _)| *k).collect();
        let mut sorted = listed.clone();
        sorted.sort();
        assert_eq!(listed, sorted);
        assert_eq!(
            (m.get(&keys[2]), m.get(&keys[1]), m.get(&keys[3])),
            (Some(&20), Some(&101), None)
        );
        m.clear();
        assert_eq!(m.iter().count(), 0);
    }
}

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

    /// The key of one model within this key's account: where a provider
    /// keeps quota and rate limits per model (Gemini's per-day quotas, every
    /// provider's per-minute limits). No model, or an empty one, is this
    /// key itself.
    pub fn with_model(self, model: Option<&str>) -> LimitKey {
        match model.filter(|m| !m.is_empty()) {
            // A 1 byte cannot occur in an origin, so no account key collides.
            Some(model) => LimitKey([1].iter().chain(model.as_bytes()).fold(self.0, |hash, b| {
                (hash ^ u64::from(*b)).wrapping_mul(FNV_PRIME)
            })),
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

/// `(key hash, slot)` pairs sorted by key: the one ordering structure of
/// every [`KeyMap`], whatever its `V`.
#[derive(Debug, Clone, Default)]
struct Index(Vec<(u64, usize)>);

impl Index {
    /// Where `key` is, or where it would go.
    fn find(&self, key: &LimitKey) -> Result<usize, usize> {
        self.0.binary_search_by(|&(k, _)| k.cmp(&key.0))
    }

    /// The slot of `key`.
    fn get(&self, key: &LimitKey) -> Option<usize> {
        self.find(key).ok().map(|at| self.0[at].1)
    }

    /// Points `key` at `slot`, adding it if absent.
    fn set(&mut self, key: LimitKey, slot: usize) {
        match self.find(&key) {
            Ok(at) => self.0[at].1 = slot,
            Err(at) => self.0.insert(at, (key.0, slot)),
        }
    }

    /// Removes `key`, giving back its slot.
    fn remove(&mut self, key: &LimitKey) -> Option<usize> {
        let at = self.find(key).ok()?;
        Some(self.0.remove(at).1)
    }
}

/// Sorts `(u64, usize)` pairs, ascending: the index and the sweep's use
/// times both sort as these. A heapsort by hand, a few hundred bytes of
/// `.wasm` where the standard library's sort is 4.6 KB; it runs only when a
/// full map sweeps (O(n log n), in place, never recursing).
fn sort_pairs(pairs: &mut [(u64, usize)]) {
    /// Moves `pairs[root]` down the heap of the first `end` pairs.
    fn sift_down(pairs: &mut [(u64, usize)], mut root: usize, end: usize) {
        loop {
            let mut child = 2 * root + 1;
            if child >= end {
                return;
            }
            if child + 1 < end && pairs[child] < pairs[child + 1] {
                child += 1;
            }
            if pairs[root] >= pairs[child] {
                return;
            }
            pairs.swap(root, child);
            root = child;
        }
    }
    let len = pairs.len();
    for root in (0..len / 2).rev() {
        sift_down(pairs, root, len);
    }
    for end in (1..len).rev() {
        pairs.swap(0, end);
        sift_down(pairs, 0, end);
    }
}

/// The `cut`-th smallest (from 1) of `used`, in [`f64::total_cmp`] order.
/// `cut` is in `1..=used.len()`.
fn nth_oldest(used: &[f64], cut: usize) -> f64 {
    // total_cmp's order as unsigned integers: flip every bit of a negative
    // number, and only the sign bit of the others.
    let order = |x: f64| {
        let bits = x.to_bits();
        bits ^ (((bits as i64 >> 63) as u64) | 1 << 63)
    };
    let mut pairs: Vec<(u64, usize)> = used.iter().map(|&u| (order(u), 0)).collect();
    sort_pairs(&mut pairs);
    let bits = pairs[cut - 1].0;
    // Back to the f64: undo the flip.
    let sign = if bits >> 63 == 1 { 1 << 63 } else { u64::MAX };
    f64::from_bits(bits ^ sign)
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
        let entries: Vec<Entry> = self
            .slots
            .iter()
            .map(|s| (s.key, s.used_ms, s.value.idle(now_ms)))
            .collect();
        let (keep, index) = sweep(&entries, self.max_keys);
        let mut kept = keep.iter();
        self.slots.retain(|_| kept.next().is_some_and(|&k| k));
        self.index = index;
    }
}

/// What the sweep reads of a slot: its key, when it was last used, and
/// whether it is idle.
type Entry = (LimitKey, f64, bool);

/// Which of a full map's `entries` to keep, and the index of the kept ones
/// (in their order): none of the idle ones, and of the others, past
/// `max_keys` less a quarter, not the least recently used.
fn sweep(entries: &[Entry], max_keys: usize) -> (Vec<bool>, Index) {
    let mut keep: Vec<bool> = entries.iter().map(|&(_, _, idle)| !idle).collect();
    let room = max_keys - max_keys.div_ceil(4);
    let busy: Vec<f64> = entries
        .iter()
        .filter(|&&(_, _, idle)| !idle)
        .map(|&(_, used, _)| used)
        .collect();
    if busy.len() > room {
        let cut = busy.len() - room;
        let threshold = nth_oldest(&busy, cut);
        let mut dropped = 0;
        for (k, &(_, used, _)) in keep.iter_mut().zip(entries) {
            if *k && dropped < cut && used <= threshold {
                *k = false;
                dropped += 1;
            }
        }
    }
    let kept = entries.iter().zip(&keep).filter(|&(_, &k)| k);
    let mut pairs: Vec<(u64, usize)> = kept.enumerate().map(|(i, (e, _))| (e.0 .0, i)).collect();
    sort_pairs(&mut pairs);
    (keep, Index(pairs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_goes_to_hex_and_back() {
        let key = LimitKey::new("https://api.openai.com", Some("sk-a"));
        assert_eq!(LimitKey::from_hex(&key.to_hex()), Some(key));
        for bad in [
            "",
            "xyz",
            "0123456789abcdef0",
            "0123456789abcdeg",
            "+123456789abcdef",
        ] {
            assert_eq!(LimitKey::from_hex(bad), None, "{bad}");
        }
    }

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
    fn a_model_key_is_its_own_and_no_model_is_the_account() {
        let account = LimitKey::new(OPENAI, Some("sk-one"));
        let mini = account.with_model(Some("gpt-4o-mini"));
        assert_ne!(mini, account);
        assert_eq!(
            mini,
            LimitKey::new(OPENAI, Some("sk-one")).with_model(Some("gpt-4o-mini"))
        );
        assert_ne!(mini, account.with_model(Some("gpt-4o")));
        assert_ne!(
            mini,
            LimitKey::new(OPENAI, Some("sk-two")).with_model(Some("gpt-4o-mini"))
        );
        assert_eq!(account.with_model(None), account);
        assert_eq!(account.with_model(Some("")), account);
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
    fn identity_reads_every_credential_and_the_project() {
        let f = |values: [Option<&str>; 6], query| identity(&values, query);
        let none = [None; 6];
        assert_eq!(f(none, None), "");
        assert_eq!(
            f([Some("Bearer sk-1"), None, None, None, None, None], None),
            "authorization=Bearer sk-1\n"
        );
        // Basic auth, Gemini's header and ?key= are credentials too.
        let basic = f(
            [Some("Basic dXNlcjpwdw=="), None, None, None, None, None],
            None,
        );
        let other = f(
            [Some("Basic b3RoZXI6cHc="), None, None, None, None, None],
            None,
        );
        assert_ne!(basic, other);
        let goog = f([None, None, None, Some("AIza-a"), None, None], None);
        assert_ne!(
            goog,
            f([None, None, None, Some("AIza-b"), None, None], None)
        );
        assert_eq!(f(none, Some("alt=sse&key=AIza-a")), "key=AIza-a\n");
        assert_ne!(f(none, Some("key=AIza-a")), f(none, Some("key=AIza-b")));
        assert_eq!(
            f(none, Some("monkey=1&keys=2")),
            "",
            "only whole parameter names"
        );
        // The same key in another project or organization is another quota.
        let key = Some("Bearer sk-1");
        let p1 = f([key, None, None, None, None, Some("proj_1")], None);
        let p2 = f([key, None, None, None, None, Some("proj_2")], None);
        let o1 = f([key, None, None, None, Some("org-1"), None], None);
        assert!(p1 != p2 && p1 != o1);
        assert_eq!(
            f([Some("  "), Some(""), None, None, None, None], Some("key=")),
            ""
        );
    }

    /// A value that is idle when even.
    #[derive(Debug, Default, PartialEq)]
    struct N(usize);

    impl Idle for N {
        fn idle(&self, _now_ms: f64) -> bool {
            self.0 % 2 == 0
        }
    }

    fn nth(i: usize) -> LimitKey {
        LimitKey::new("https://a", Some(&format!("k{i}")))
    }

    #[test]
    fn key_map_is_bounded_dropping_idle_then_least_recently_used() {
        let mut m = KeyMap::with_capacity(8);
        for i in 0..8 {
            m.insert(nth(i), N(i), i as f64);
        }
        // Full: the idle (even) entries go first.
        m.insert(nth(100), N(101), 100.0);
        assert_eq!(m.len(), 5);
        assert!([1, 3, 5, 7].iter().all(|&i| m.get(&nth(i)).is_some()));
        // Touching keeps an entry fresh.
        m.entry_or_default(nth(1), 200.0);
        for i in 0..3 {
            m.insert(nth(1_000 + i), N(1_001), 300.0 + i as f64);
        }
        // Full again with nothing idle: the least recently used go.
        assert_eq!(m.len(), 8);
        m.insert(nth(2_000), N(1), 400.0);
        assert!(m.len() <= 8);
        assert!(
            m.get(&nth(3)).is_none() && m.get(&nth(5)).is_none(),
            "oldest dropped"
        );
        assert!(m.get(&nth(1)).is_some() && m.get(&nth(2_000)).is_some());
        // Many keys: the size never passes the capacity.
        for i in 0..10_000 {
            m.insert(nth(10_000 + i), N(1), 500.0 + i as f64);
            assert!(m.len() <= 8);
        }
    }

    #[test]
    fn nth_oldest_agrees_with_select_nth_in_total_order() {
        let values = [
            3.0,
            -0.0,
            0.0,
            f64::NAN,
            -f64::NAN,
            -1.5,
            f64::INFINITY,
            f64::NEG_INFINITY,
            1e-300,
            3.0,
            -7.25,
        ];
        for len in 1..=values.len() {
            let used = &values[..len];
            for cut in 1..=len {
                let mut expected = used.to_vec();
                let (_, &mut nth, _) = expected.select_nth_unstable_by(cut - 1, f64::total_cmp);
                assert_eq!(
                    nth_oldest(used, cut).to_bits(),
                    nth.to_bits(),
                    "{used:?} {cut}"
                );
            }
        }
    }

    #[test]
    fn sort_pairs_sorts_like_the_standard_sort() {
        // Every length up to 40, with ties, runs and reversed runs.
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        for len in 0..40 {
            for round in 0..8 {
                let mut pairs: Vec<(u64, usize)> = (0..len)
                    .map(|i| {
                        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                        let v = match round {
                            0 => i as u64,
                            1 => (len - i) as u64,
                            2 => 7,
                            _ => seed >> (60 - round),
                        };
                        (v, (seed >> 33) as usize % 5)
                    })
                    .collect();
                let mut expected = pairs.clone();
                expected.sort_unstable();
                sort_pairs(&mut pairs);
                assert_eq!(pairs, expected, "len {len} round {round}");
            }
        }
        let mut big: Vec<(u64, usize)> = (0..10_000)
            .map(|i| ((i * 7_919) % 10_007, i as usize))
            .collect();
        sort_pairs(&mut big);
        assert!(big.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn hex_is_zero_padded_lower_case() {
        assert_eq!(hex(0xab, 16), "00000000000000ab");
        assert_eq!(hex(u64::MAX, 8), "ffffffff");
        let key = LimitKey(0x0123_4567_89ab_cdef);
        assert_eq!(
            (key.to_hex(), key.short()),
            ("0123456789abcdef".into(), "01234567".into())
        );
        assert_eq!(format!("{key:?}"), "LimitKey(0123456789abcdef)");
    }

    #[test]
    fn key_map_keeps_keys_sorted_and_unique() {
        let keys: Vec<LimitKey> = (0..5)
            .map(|i| LimitKey::new("https://a", Some(&format!("k{i}"))))
            .collect();
        let mut m = KeyMap::default();
        for (i, k) in keys.iter().enumerate().rev() {
            m.insert(*k, N(i), 0.0);
        }
        m.insert(keys[2], N(20), 0.0);
        m.entry_or_default(keys[1], 0.0).0 += 100;
        m.remove(&keys[3]);
        let listed: Vec<LimitKey> = m.iter().map(|(k, _)| *k).collect();
        let mut sorted = listed.clone();
        sorted.sort();
        assert_eq!(listed, sorted);
        assert_eq!(
            (m.get(&keys[2]), m.get(&keys[1]), m.get(&keys[3])),
            (Some(&N(20)), Some(&N(101)), None)
        );
        // The entry that moved into the removed one's place is still found.
        assert_eq!(
            (m.get(&keys[0]), m.get(&keys[4])),
            (Some(&N(0)), Some(&N(4)))
        );
        m.remove(&keys[4]);
        assert_eq!((m.len(), m.get(&keys[0])), (3, Some(&N(0))));
        m.clear();
        assert_eq!(m.iter().count(), 0);
    }
}

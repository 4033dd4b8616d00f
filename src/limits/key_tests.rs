//! `LimitKey`, `identity` and `KeyMap`: hashing, hex forms, credentials, bounds and order.

use super::index::{nth_oldest, sort_pairs};
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

#[test]
fn keep_only_keeps_what_retain_keeps_in_order() {
    // Every mask of up to 10 items (drops counted: each item an Rc).
    for len in 0..=10usize {
        for mask in 0..1u32 << len {
            let keep: Vec<bool> = (0..len).map(|i| mask >> i & 1 == 1).collect();
            let items: Vec<std::rc::Rc<usize>> = (0..len).map(std::rc::Rc::new).collect();
            let mut kept = items.clone();
            super::keep_only(&mut kept, &keep);
            let mut flags = keep.iter();
            let mut expected = items.clone();
            expected.retain(|_| *flags.next().unwrap());
            assert_eq!(kept, expected, "len {len} mask {mask:b}");
            // The dropped ones are dropped: only `items` holds them.
            for (item, &k) in items.iter().zip(&keep) {
                assert_eq!(std::rc::Rc::strong_count(item), if k { 3 } else { 1 });
            }
        }
    }
}

#[test]
fn fnv1a_is_the_published_64_bit_hash() {
    // The FNV-1a test vectors (the coordinator's record checksum is this hash:
    // a value written before it was shared with the keys must still read).
    assert_eq!(super::fnv1a(b""), 0xcbf2_9ce4_8422_2325);
    assert_eq!(super::fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    assert_eq!(super::fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
}

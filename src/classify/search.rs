//! Substring search for the short, fixed needles the classifier looks for
//! ("://", "Limit ", "try again in ") in texts of a few hundred bytes.
//!
//! `str::find` with a string needle builds a two-way searcher on every
//! call; for these needles and texts its setup alone costs more than a scan
//! for the needle's first two bytes followed by a compare (a profile of
//! `classify()` put the two-way searcher at 6% of a full case). It also
//! keeps the searcher's `&str` slicing, and the `core::fmt` of its panic
//! message, out of the `.wasm`.

use crate::cut;

/// The byte index of the first occurrence of `needle` in `haystack`, as
/// `haystack.find(needle)` gives it.
pub fn find(haystack: &str, needle: &str) -> Option<usize> {
    find_bytes(haystack.as_bytes(), needle.as_bytes())
}

/// Whether `haystack` contains `needle`, as `haystack.contains(needle)`.
pub fn contains(haystack: &str, needle: &str) -> bool {
    find(haystack, needle).is_some()
}

/// `haystack.split_once(needle)`: the text before and after the first
/// `needle`, without the string searcher's panic path in the `.wasm`.
pub fn split_once<'a>(haystack: &'a str, needle: &str) -> Option<(&'a str, &'a str)> {
    let at = find(haystack, needle)?;
    Some((
        cut::before(haystack, at),
        cut::after(haystack, at + needle.len()),
    ))
}

/// `haystack.split(needle)` for a non-empty `needle`.
pub fn split<'a>(haystack: &'a str, needle: &'a str) -> impl Iterator<Item = &'a str> {
    let mut rest = Some(haystack);
    std::iter::from_fn(move || {
        let text = rest?;
        let (piece, after) = match split_once(text, needle).filter(|_| !needle.is_empty()) {
            Some((piece, after)) => (piece, Some(after)),
            None => (text, None),
        };
        rest = after;
        Some(piece)
    })
}

/// `haystack.replace(needle, with)` for a non-empty `needle`.
pub fn replace(haystack: &str, needle: &str, with: &str) -> String {
    let mut out = String::with_capacity(haystack.len());
    let mut rest = haystack;
    while let Some((before, after)) = split_once(rest, needle).filter(|_| !needle.is_empty()) {
        out.push_str(before);
        out.push_str(with);
        rest = after;
    }
    out.push_str(rest);
    out
}

/// The pairs of adjacent bytes of a text, hashed into 256 bits: a needle
/// with a pair the set lacks is not in the text, found without a scan.
pub struct Pairs([u64; 4]);

/// The bit of two adjacent bytes in [`Pairs`].
#[inline(always)]
fn pair(first: u8, second: u8) -> usize {
    (usize::from(first) * 31 + usize::from(second)) & 0xFF
}

impl Pairs {
    /// The pairs of `text`. A plain loop: at opt-level "z" an iterator's
    /// closure stays a call per byte.
    pub fn of(text: &[u8]) -> Pairs {
        let mut bits = [0u64; 4];
        let mut i = 1;
        while i < text.len() {
            let h = pair(text[i - 1], text[i]);
            bits[h >> 6] |= 1 << (h & 63);
            i += 1;
        }
        Pairs(bits)
    }

    /// Whether a text with these pairs may contain `needle`: false only
    /// when it does not.
    pub fn may_contain(&self, needle: &[u8]) -> bool {
        let mut i = 1;
        while i < needle.len() {
            let h = pair(needle[i - 1], needle[i]);
            if self.0[h >> 6] & 1 << (h & 63) == 0 {
                return false;
            }
            i += 1;
        }
        true
    }
}

/// [`find`] on bytes.
pub fn find_bytes(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    let Some((&first, rest)) = needle.split_first() else {
        return Some(0);
    };
    let last_start = haystack.len().checked_sub(needle.len())?;
    let mut i = 0;
    while let Some(at) = byte_at(haystack, i, last_start, first) {
        if starts_at(haystack, at + 1, rest) {
            return Some(at);
        }
        i = at + 1;
    }
    None
}

/// The first index from `from` to `last` (inclusive) where `haystack` has
/// `byte`: eight bytes at a time while no byte of them can be it (a u64
/// test for a zero byte in the XOR), then byte by byte. Plain loops: at
/// opt-level "z" an iterator's closure stays a call per byte.
fn byte_at(haystack: &[u8], from: usize, last: usize, byte: u8) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const HIGHS: u64 = ONES << 7;
    let spread = ONES * u64::from(byte);
    let mut i = from;
    while i + 8 <= last + 1 {
        // `try_from`, not `copy_from_slice`: that is a call per word at opt-level "z".
        let Some(Ok(word)) = haystack.get(i..i + 8).map(<[u8; 8]>::try_from) else {
            break;
        };
        let x = u64::from_ne_bytes(word) ^ spread;
        if x.wrapping_sub(ONES) & !x & HIGHS != 0 {
            break;
        }
        i += 8;
    }
    while i <= last {
        if haystack[i] == byte {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// Whether `haystack[at..]` starts with `rest`, its first byte compared
/// before the call that compares the others (which most candidates fail).
fn starts_at(haystack: &[u8], at: usize, rest: &[u8]) -> bool {
    match rest.first() {
        None => true,
        Some(&b) => haystack.get(at) == Some(&b) && haystack[at..].starts_with(rest),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every string of up to `max` letters over `abc`.
    fn words(max: usize) -> Vec<String> {
        let mut all = vec![String::new()];
        let mut last = vec![String::new()];
        for _ in 0..max {
            last = last
                .iter()
                .flat_map(|w| ['a', 'b', 'c'].map(|c| format!("{w}{c}")))
                .collect();
            all.extend(last.iter().cloned());
        }
        all
    }

    #[test]
    fn agrees_with_str_find_on_every_short_text() {
        for h in words(6) {
            for n in words(3) {
                assert_eq!(find(&h, &n), h.find(n.as_str()), "{h:?} {n:?}");
                assert_eq!(contains(&h, &n), h.contains(n.as_str()), "{h:?} {n:?}");
                assert_eq!(split_once(&h, &n), h.split_once(n.as_str()), "{h:?} {n:?}");
                if !n.is_empty() {
                    assert_eq!(
                        replace(&h, &n, "xy"),
                        h.replace(n.as_str(), "xy"),
                        "{h:?} {n:?}"
                    );
                    let pieces: Vec<_> = split(&h, &n).collect();
                    assert_eq!(
                        pieces,
                        h.split(n.as_str()).collect::<Vec<_>>(),
                        "{h:?} {n:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn agrees_with_str_find_on_long_texts() {
        // Texts longer than the eight-byte steps, the needle's first byte
        // at every distance from the start, over a small alphabet.
        let mut seed = 7u32;
        let mut next = || {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            seed >> 16
        };
        for _ in 0..3_000 {
            let len = (next() % 40) as usize;
            let h: String = (0..len)
                .map(|_| ['a', 'b', 'c', 'd', 'é'][(next() % 5) as usize])
                .collect();
            for n in ["a", "ab", "ba", "dd", "abc", "é", "aé", ""] {
                assert_eq!(find(&h, n), h.find(n), "{h:?} {n:?}");
            }
        }
        let long = format!("{}Limit 3", "x".repeat(61));
        assert_eq!(find(&long, "Limit "), Some(61));
    }

    #[test]
    fn the_pair_set_rules_out_only_absent_needles() {
        for h in words(5) {
            let pairs = Pairs::of(h.as_bytes());
            for n in words(3) {
                if h.contains(n.as_str()) {
                    assert!(pairs.may_contain(n.as_bytes()), "{h:?} {n:?}");
                }
            }
        }
        let pairs = Pairs::of(b"Please try again in 20s.");
        assert!(!pairs.may_contain(b"etry after "));
        assert!(pairs.may_contain(b"ry again in "));
    }

    #[test]
    fn finds_byte_offsets_in_utf8_text() {
        for (h, n) in [
            ("é try again in 5s", "try again in "),
            ("Limit 7000, Used 0, Requested ~12903", "Requested "),
            ("see https://x.test/a", "://"),
            ("€€€", "€"),
            ("", "x"),
            ("x", ""),
        ] {
            assert_eq!(find(h, n), h.find(n), "{h:?} {n:?}");
        }
    }
}

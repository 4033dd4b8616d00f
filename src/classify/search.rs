//! Substring search for the short, fixed needles the classifier looks for
//! ("://", "Limit ", "try again in ") in texts of a few hundred bytes.
//!
//! `str::find` with a string needle builds a two-way searcher on every
//! call; for these needles and texts its setup alone costs more than a scan
//! for the needle's first two bytes followed by a compare (a profile of
//! `classify()` put the two-way searcher at 6% of a full case).

/// The byte index of the first occurrence of `needle` in `haystack`, as
/// `haystack.find(needle)` gives it.
pub fn find(haystack: &str, needle: &str) -> Option<usize> {
    find_bytes(haystack.as_bytes(), needle.as_bytes())
}

/// Whether `haystack` contains `needle`, as `haystack.contains(needle)`.
pub fn contains(haystack: &str, needle: &str) -> bool {
    find(haystack, needle).is_some()
}

/// [`find`] on bytes.
pub fn find_bytes(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    let Some((&first, rest)) = needle.split_first() else {
        return Some(0);
    };
    let last_start = haystack.len().checked_sub(needle.len())?;
    // A plain loop: at opt-level "z" an iterator's closure stays a call per byte.
    let mut i = 0;
    while i <= last_start {
        if haystack[i] == first && starts_at(haystack, i + 1, rest) {
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
            }
        }
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

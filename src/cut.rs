//! `&str` slicing with no panic path: `&s[a..b]` at an index that is not a
//! char boundary panics through `core::str::slice_error_fail`, whose message
//! formatting (`<char as Debug>`, ranges, `core::fmt`) stays in the `.wasm`
//! as long as one slice can reach it. The indices given here come from byte
//! searches for ASCII text or from lengths of the same text, so they are
//! boundaries; an index that is not gives the empty text instead of a panic.

/// `&s[..at]`, or `""` when `at` is not a boundary of `s`.
#[inline]
pub(crate) fn before(s: &str, at: usize) -> &str {
    s.get(..at).unwrap_or_default()
}

/// `&s[at..]`, or `""` when `at` is not a boundary of `s`.
#[inline]
pub(crate) fn after(s: &str, at: usize) -> &str {
    s.get(at..).unwrap_or_default()
}

/// `&s[from..to]`, or `""` when either is not a boundary of `s` or `from > to`.
#[inline]
pub(crate) fn between(s: &str, from: usize, to: usize) -> &str {
    s.get(from..to).unwrap_or_default()
}

/// `s.split_at(at)`, or `(s, "")` when `at` is not a boundary of `s`.
#[inline]
pub(crate) fn split_at(s: &str, at: usize) -> (&str, &str) {
    s.split_at_checked(at).unwrap_or((s, ""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_at_boundaries_and_gives_empty_text_elsewhere() {
        let s = "aé-b";
        assert_eq!(
            (before(s, 1), after(s, 3), between(s, 1, 3)),
            ("a", "-b", "é")
        );
        assert_eq!((before(s, 2), after(s, 2), between(s, 2, 4)), ("", "", ""));
        assert_eq!((after(s, 9), between(s, 3, 1)), ("", ""));
        assert_eq!(
            (split_at(s, 3), split_at(s, 2)),
            (("aé", "-b"), ("aé-b", ""))
        );
    }
}

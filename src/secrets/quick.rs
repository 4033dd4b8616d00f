//! The one pass over a message that tells [`super::mask_secrets`] it has
//! nothing to mask, before any word is split or any byte copied.

/// Whether masking could change `text`: `false` only when it cannot.
///
/// Masking changes a word starting (after a separator) as a key prefix
/// (`sk-`, `gsk_`, `xai-`, `AIza`), a JWT (`eyJ`) or `Bearer` does, 32
/// letters and digits in a row (a Mistral or Azure key), and a URL with
/// credentials, a query or a fragment (`@`, `?` or `#` after its `://`).
/// A text with none of these comes back as it is.
pub(super) fn may_change(text: &[u8]) -> bool {
    let mut alnum_run = 0;
    // Inside a URL: from `://` to whitespace, a quote or an angle bracket.
    let mut in_url = false;
    let mut rest = text;
    while let [b, tail @ ..] = rest {
        let b = *b;
        if b.is_ascii_alphanumeric() {
            alnum_run += 1;
            // A word starts after a separator, so after a byte that is not
            // a letter or a digit (a few more places than words start).
            if alnum_run == 32 || (alnum_run == 1 && key_start(rest)) {
                return true;
            }
        } else {
            alnum_run = 0;
            match b {
                b':' => in_url |= matches!(tail, [b'/', b'/', ..]),
                b'@' | b'?' | b'#' if in_url => return true,
                b'"' | b'\'' | b'<' | b'>' | b'`' => in_url = false,
                _ => in_url &= !b.is_ascii_whitespace(),
            }
        }
        rest = tail;
    }
    false
}

/// Whether a word starting here could be a key, a JWT or `Bearer`.
pub(super) fn key_start(word: &[u8]) -> bool {
    match word {
        [b's', b'k', b'-', ..]
        | [b'g', b's', b'k', b'_', ..]
        | [b'x', b'a', b'i', b'-', ..]
        | [b'A', b'I', b'z', b'a', ..]
        | [b'e', b'y', b'J', ..] => true,
        // `Bearer` in any case: `| 0x20` lower-cases a letter, and maps
        // no other byte to one of these lower-case letters.
        [b'b' | b'B', rest @ ..] => rest
            .get(..5)
            .is_some_and(|r| r.iter().zip(b"earer").all(|(&x, &y)| x | 0x20 == y)),
        _ => false,
    }
}

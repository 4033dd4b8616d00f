//! Message text without `core::fmt`: `format!` reaches the `Display` of
//! each argument's type through the function table, so messages are
//! filled from a template by one non-generic function and integers are
//! written by hand.

/// `template` with each `{}` replaced by the next of `args`, in order, as
/// `format!` does with string arguments. A `{}` with no argument left is
/// dropped; other braces are kept as they are.
pub(crate) fn fill(template: &str, args: &[&str]) -> String {
    let mut out =
        String::with_capacity(template.len() + args.iter().map(|a| a.len()).sum::<usize>());
    let mut args = args.iter();
    let mut rest = template;
    // A byte search and no slicing at an index: no panic path (and its location) in the `.wasm`.
    while let Some((before, after)) = crate::classify::search::split_once(rest, "{}") {
        out.push_str(before);
        out.push_str(args.next().copied().unwrap_or(""));
        rest = after;
    }
    out.push_str(rest);
    out
}

/// `parts` with `sep` between each two, as `parts.join(sep)` (and, with an
/// empty `sep`, `parts.concat()`) writes them. std's join is one generic
/// function, unrolled for separators of 1 to 4 bytes: 1 KB of `.wasm` for
/// what this loop does (issue 25).
pub(crate) fn join(parts: &[&str], sep: &str) -> String {
    let seps = sep.len() * parts.len().saturating_sub(1);
    let mut out = String::with_capacity(parts.iter().map(|p| p.len()).sum::<usize>() + seps);
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            out.push_str(sep);
        }
        out.push_str(part);
    }
    out
}

/// `n` in decimal, as `n.to_string()` would write it.
pub(crate) fn dec(n: u64) -> String {
    // Digits from the last, reversed once at the end: no index to check.
    let mut digits = Vec::with_capacity(20);
    let mut n = n;
    loop {
        digits.push(b'0' + (n % 10) as u8);
        n /= 10;
        if n == 0 {
            break;
        }
    }
    digits.iter().rev().map(|&d| char::from(d)).collect()
}

/// `n` in lower-case hex, zero-padded to at least `digits` digits: what
/// `format!("{n:0digits$x}")` writes (`digits` 1 is `{n:x}`).
pub(crate) fn hex(n: u64, digits: u32) -> String {
    let needed = (64 - n.leading_zeros()).div_ceil(4).max(digits.max(1));
    (0..needed)
        .rev()
        .map(|i| {
            let nibble = if i < 16 { n >> (i * 4) & 15 } else { 0 };
            char::from(b"0123456789abcdef"[nibble as usize])
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dec_writes_what_to_string_writes() {
        for n in [0, 1, 9, 10, 99, 100, 429, 65_535, 4_294_967_296, u64::MAX] {
            assert_eq!(dec(n), n.to_string());
        }
    }

    #[test]
    fn hex_writes_what_format_writes() {
        for n in [0, 1, 15, 16, 255, 0xdead_beef, 1.5f64.to_bits(), u64::MAX] {
            assert_eq!(hex(n, 1), format!("{n:x}"));
            assert_eq!(hex(n, 16), format!("{n:016x}"));
        }
    }

    #[test]
    fn fill_puts_the_args_in_order_and_keeps_other_braces() {
        assert_eq!(
            fill("{}: `{}{}` must be {}", &["f", "a.", "b", "x"]),
            "f: `a.b` must be x"
        );
        assert_eq!(
            fill("{ route } {resource} {}", &["1"]),
            "{ route } {resource} 1"
        );
        assert_eq!(fill("{}{}", &["", "é"]), "é");
        assert_eq!(fill("no args", &[]), "no args");
    }

    #[test]
    fn join_writes_what_join_and_concat_write() {
        let lists: [&[&str]; 5] = [&[], &[""], &["a"], &["a", "", "bé"], &["", ""]];
        for parts in lists {
            for sep in ["", " ", "\n", ", ", "::::", "long separator"] {
                assert_eq!(join(parts, sep), parts.join(sep), "{parts:?} {sep:?}");
            }
            assert_eq!(join(parts, ""), parts.concat());
        }
    }
}

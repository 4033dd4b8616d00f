//! Wait hints written as text: Go-style durations (`6m0s`, `2m59.56s`,
//! `20ms`), Gemini's `retryDelay` (`13s`) and the phrases providers put in
//! error messages ("Please try again in 1.574s", "retry after 6 seconds").
//!
//! Every function returns whole milliseconds, rounded up, clamped to
//! [`MAX_DELAY_MS`], so a hint can go straight into a timer.

use crate::classify::search;
use crate::cut;

/// The longest delay a JavaScript timer accepts (2^31 - 1 ms, about 24.8 days).
pub const MAX_DELAY_MS: u64 = i32::MAX as u64;

/// Turns a non-negative millisecond count into a timer-safe whole number:
/// rounded up, clamped to [`MAX_DELAY_MS`]; `None` for NaN or negatives.
pub fn clamp_ms(ms: f64) -> Option<u64> {
    if ms.is_nan() || ms < 0.0 {
        return None;
    }
    Some(ms.ceil().min(MAX_DELAY_MS as f64) as u64)
}

/// Parses a plain decimal (`"45.837906927"`, `"20"`) into billionths,
/// rounded up: `"1.5"` is `1_500_000_000`. No sign, no exponent. Integer
/// parts beyond 15 digits saturate, so callers cannot overflow.
///
/// Parsing by hand keeps float parsing (and its tables) out of the `.wasm`.
pub fn parse_fixed9(text: &str) -> Option<u128> {
    let (int, frac) = fixed9(text)?;
    Some(u128::from(int) * 1_000_000_000 + u128::from(frac))
}

/// [`parse_fixed9`] in two parts: the integer part (saturated at 10^15)
/// and the fraction in billionths, rounded up (at most 10^9). The
/// durations below work on these in `u64`: no 128-bit division (and its
/// compiler builtins, about 1 KB) in the `.wasm`.
fn fixed9(text: &str) -> Option<(u64, u64)> {
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() && frac.is_empty()
        || !digits(int)
        || !digits(frac)
        || (text.contains('.') && frac.is_empty())
    {
        return None;
    }
    let int_value = int.bytes().fold(0u64, |acc, b| {
        (acc * 10 + u64::from(b - b'0')).min(1_000_000_000_000_000)
    });
    let mut frac_value = 0u64;
    for (i, b) in frac.bytes().enumerate() {
        let d = u64::from(b - b'0');
        if i < 9 {
            frac_value += d * 10u64.pow(8 - i as u32);
        } else if d != 0 {
            frac_value += 1; // round up what does not fit
            break;
        }
    }
    Some((int_value, frac_value))
}

/// `value` units of `ns_per_unit` nanoseconds, in nanoseconds rounded up
/// (saturating: anything that large clamps to [`MAX_DELAY_MS`] anyway).
/// Every unit is either a whole number of seconds or at most a millisecond,
/// so neither product overflows.
fn scaled_ns((int, frac): (u64, u64), ns_per_unit: u64) -> u64 {
    let frac_ns = if ns_per_unit >= 1_000_000_000 {
        frac * (ns_per_unit / 1_000_000_000)
    } else {
        (frac * ns_per_unit).div_ceil(1_000_000_000)
    };
    int.saturating_mul(ns_per_unit).saturating_add(frac_ns)
}

fn ns_to_ms(ns: u64) -> u64 {
    ns.div_ceil(1_000_000).min(MAX_DELAY_MS)
}

/// Parses a Go-style duration: one or more `<number><unit>` pairs, units
/// `h`, `m`, `s`, `ms`, `us`/`µs`, `ns`. `"6m0s"` is 360 000 ms.
pub fn parse_go_duration(text: &str) -> Option<u64> {
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    let mut total_ns = 0u64;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, after) = cut::split_at(rest, num_len);
        let value = fixed9(number)?;
        rest = after;
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let (unit, after) = cut::split_at(rest, unit_len);
        let ns_per_unit: u64 = match unit {
            "h" => 3_600_000_000_000,
            "m" => 60_000_000_000,
            "s" => 1_000_000_000,
            "ms" => 1_000_000,
            "us" | "µs" => 1_000,
            "ns" => 1,
            _ => return None,
        };
        rest = after;
        total_ns = total_ns.saturating_add(scaled_ns(value, ns_per_unit));
    }
    Some(ns_to_ms(total_ns))
}

/// Parses a plain number of milliseconds (`"1500"`, `"20.5"`), rounded up.
pub fn parse_millis(text: &str) -> Option<u64> {
    fixed9(text.trim()).map(|value| ns_to_ms(scaled_ns(value, 1_000_000)))
}

/// Parses a plain number of seconds (`"20"`, `"1.5"`) as milliseconds.
pub fn parse_seconds(text: &str) -> Option<u64> {
    fixed9(text.trim()).map(|value| ns_to_ms(scaled_ns(value, 1_000_000_000)))
}

/// Finds a wait hint in free text, after "try again in", "retry after",
/// "retry in" or "reset after".
///
/// Accepts Go-style tokens (`1.574s`, `644ms`, `9m38.016s`) and a number
/// followed by a unit word (`6 seconds`, `1 minute`, `500 milliseconds`).
pub fn parse_message_hint(message: &str) -> Option<u64> {
    // The phrases without their first letter, so "Try again in" and "try
    // again in" both match without lower-casing the whole message.
    const PHRASES: [&str; 4] = ["ry again in ", "etry after ", "eset after ", "etry in "];
    // One pass for the message's byte pairs, then a scan only for a phrase
    // whose pairs are all there (most messages have none of them).
    let pairs = search::Pairs::of(message.as_bytes());
    PHRASES.iter().find_map(|phrase| {
        if !pairs.may_contain(phrase.as_bytes()) {
            return None;
        }
        let at = search::find(message, phrase)? + phrase.len();
        // Only the few words after the phrase matter: lower-case just those.
        let tail: String = cut::after(message, at).chars().take(32).collect();
        parse_hint_token(&tail.to_ascii_lowercase())
    })
}

fn parse_hint_token(text: &str) -> Option<u64> {
    let text = text.trim_start();
    let token_len = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == 'µ'))
        .unwrap_or(text.len());
    let (token, word) = cut::split_at(text, token_len);
    let token = token.trim_end_matches('.');
    if let Some(ms) = parse_go_duration(token) {
        return Some(ms);
    }
    let value = fixed9(token)?;
    let word = word.trim_start();
    let ns_per_unit: u64 = if word.starts_with("ms") || word.starts_with("millisecond") {
        1_000_000
    } else if word.starts_with('s') {
        1_000_000_000
    } else if word.starts_with("min") {
        60_000_000_000
    } else if word.starts_with("hour") {
        3_600_000_000_000
    } else {
        return None;
    };
    Some(ns_to_ms(scaled_ns(value, ns_per_unit)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("6m0s"), Some(360_000));
        assert_eq!(parse_go_duration("1s"), Some(1_000));
        assert_eq!(parse_go_duration("20ms"), Some(20));
        assert_eq!(parse_go_duration("2m59.56s"), Some(179_560));
        assert_eq!(parse_go_duration("7.66s"), Some(7_660));
        assert_eq!(parse_go_duration("1h2m3s"), Some(3_723_000));
        assert_eq!(parse_go_duration("45.837906927s"), Some(45_838));
        assert_eq!(parse_go_duration("500us"), Some(1));
        assert_eq!(parse_go_duration("0s"), Some(0));
    }

    #[test]
    fn go_durations_reject_garbage() {
        for bad in ["", "s", "10", "10x", "1..2s", "-1s", "ms5", "1s 2s"] {
            assert_eq!(parse_go_duration(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn huge_durations_clamp() {
        assert_eq!(parse_go_duration("99999999h"), Some(MAX_DELAY_MS));
        assert_eq!(parse_seconds("1e400"), None);
        assert_eq!(parse_seconds("9".repeat(400).as_str()), Some(MAX_DELAY_MS));
        assert_eq!(parse_millis("1500.2"), Some(1_501));
        assert_eq!(parse_millis("-5"), None);
        assert_eq!(parse_seconds("99999999999"), Some(MAX_DELAY_MS));
        assert_eq!(clamp_ms(f64::INFINITY), Some(MAX_DELAY_MS));
        assert_eq!(clamp_ms(f64::NAN), None);
        assert_eq!(clamp_ms(-1.0), None);
    }

    #[test]
    fn fixed9() {
        assert_eq!(parse_fixed9("1.5"), Some(1_500_000_000));
        assert_eq!(parse_fixed9("0.0000000001"), Some(1));
        assert_eq!(parse_fixed9(".5"), Some(500_000_000));
        for bad in ["", ".", "1.", "1.2.3", "1e3", "-1", "+1", " 1"] {
            assert_eq!(parse_fixed9(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn message_hints() {
        let cases = [
            (
                "Rate limit reached ... Please try again in 1.574s. Visit https://x",
                1_574,
            ),
            ("Please try again in 644ms.", 644),
            ("Please try again in 9m38.016s.", 578_016),
            ("Please retry after 6 seconds.", 6_000),
            ("Try again in 59 seconds.", 59_000),
            ("please retry after 1 second", 1_000),
            ("Please try again in 20s.", 20_000),
            ("Your quota will reset after 26s.", 26_000),
            (
                "limit: 0, model: gemini-3-pro\nPlease retry in 45.578569677s.",
                45_579,
            ),
        ];
        for (msg, want) in cases {
            assert_eq!(parse_message_hint(msg), Some(want), "{msg}");
        }
        assert_eq!(parse_message_hint("You exceeded your current quota"), None);
        assert_eq!(parse_message_hint("try again in a moment"), None);
        assert_eq!(parse_message_hint("try again in "), None);
    }

    /// The `u64` arithmetic against the `u128` one it replaced (kept here
    /// as the model): the same milliseconds for every input.
    #[cfg(not(target_arch = "wasm32"))]
    mod model {
        use super::*;
        use proptest::prelude::*;

        fn ns_to_ms_128(ns: u128) -> u64 {
            ns.div_ceil(1_000_000).min(u128::from(MAX_DELAY_MS)) as u64
        }

        fn go_128(text: &str) -> Option<u64> {
            let mut rest = text.trim();
            if rest.is_empty() {
                return None;
            }
            let mut total_ns = 0u128;
            while !rest.is_empty() {
                let num_len = rest
                    .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                    .unwrap_or(rest.len());
                let value = parse_fixed9(&rest[..num_len])?;
                rest = &rest[num_len..];
                let unit_len = rest
                    .find(|c: char| c.is_ascii_digit() || c == '.')
                    .unwrap_or(rest.len());
                let ns_per_unit: u128 = match &rest[..unit_len] {
                    "h" => 3_600_000_000_000,
                    "m" => 60_000_000_000,
                    "s" => 1_000_000_000,
                    "ms" => 1_000_000,
                    "us" | "µs" => 1_000,
                    "ns" => 1,
                    _ => return None,
                };
                rest = &rest[unit_len..];
                total_ns = total_ns.saturating_add((value * ns_per_unit).div_ceil(1_000_000_000));
            }
            Some(ns_to_ms_128(total_ns))
        }

        /// Numbers (up to 30 integer digits, up to 12 decimals) and units.
        fn duration() -> impl Strategy<Value = String> {
            let number = ("[0-9]{0,30}", proptest::option::of("[0-9]{0,12}"))
                .prop_map(|(i, f)| f.map_or(i.clone(), |f| format!("{i}.{f}")));
            let unit = prop_oneof![
                Just("h"),
                Just("m"),
                Just("s"),
                Just("ms"),
                Just("us"),
                Just("µs"),
                Just("ns"),
                Just("")
            ];
            prop::collection::vec((number, unit), 1..4)
                .prop_map(|parts| parts.into_iter().map(|(n, u)| n + u).collect())
        }

        proptest! {
            #[test]
            fn go_durations_match(text in duration()) {
                prop_assert_eq!(parse_go_duration(&text), go_128(&text));
            }

            #[test]
            fn seconds_and_millis_match(text in "[0-9]{0,30}(\\.[0-9]{0,12})?") {
                let b = parse_fixed9(&text);
                prop_assert_eq!(parse_seconds(&text), b.map(ns_to_ms_128));
                prop_assert_eq!(parse_millis(&text), b.map(|b| ns_to_ms_128(b.div_ceil(1_000))));
            }

            #[test]
            fn hints_match(value in "[0-9]{0,12}(\\.[0-9]{0,6})?", word in "(ms|milliseconds?|s|seconds?|min|minutes?|hours?|x)") {
                let text = format!("Please try again in {value} {word}.");
                // The token is the number with its trailing dots dropped.
                let token = value.trim_end_matches('.');
                let b = parse_fixed9(token);
                let unit: Option<u128> = match word.as_str() {
                    w if w.starts_with("ms") || w.starts_with("millisecond") => Some(1_000_000),
                    w if w.starts_with('s') => Some(1_000_000_000),
                    w if w.starts_with("min") => Some(60_000_000_000),
                    w if w.starts_with("hour") => Some(3_600_000_000_000),
                    _ => None,
                };
                let want = go_128(token)
                    .or_else(|| Some(ns_to_ms_128((b? * unit?).div_ceil(1_000_000_000))));
                prop_assert_eq!(parse_message_hint(&text), want);
            }
        }
    }
}

//! The window (minute, hour, day, week, month) of the limit a rate-limit or
//! quota response names: from its rule, else the phrases of its message
//! and its quota ids.

use super::rule::Rule;
use super::signals::Signals;
use crate::classify::kind::{Kind, Period};

/// Whether `haystack` contains `needle`: a scan for the needle's first
/// byte, then a compare. The phrases the rules look for are a few bytes
/// long and messages a few hundred, where this beats `str::contains`'
/// two-way searcher, whose setup alone costs more than the scan.
pub fn contains_short(haystack: &[u8], needle: &[u8]) -> bool {
    let Some((&first, rest)) = needle.split_first() else {
        return true;
    };
    if haystack.len() < needle.len() {
        return false;
    }
    let last_start = haystack.len() - needle.len();
    haystack[..=last_start]
        .iter()
        .enumerate()
        .any(|(i, &b)| b == first && haystack[i + 1..i + needle.len()] == *rest)
}

/// Phrases that name a limit's window, longest window first, so a message
/// naming several (Gemini lists every quota it hit) gets the one that
/// heals last.
const WINDOWS: [(Period, &[&str]); 5] = [
    (
        Period::Month,
        &["per month", "monthly", "/ month", "/month"],
    ),
    (Period::Week, &["per week", "weekly", "/ week"]),
    (
        Period::Day,
        &[
            "per day", "per-day", "per_day", "perday", "(tpd)", "(rpd)", "/ day", "daily",
        ],
    ),
    (
        Period::Hour,
        &[
            "per hour", "per-hour", "per_hour", "perhour", "hourly", "/ hour",
        ],
    ),
    (
        Period::Minute,
        &[
            "per minute",
            "per-minute",
            "per_minute",
            "perminute",
            "(tpm)",
            "(rpm)",
            "/ minute",
        ],
    ),
];

/// The window of the limit a rate-limit or quota response names: from the
/// rule, else the message and the quota ids. `None` when it names none.
pub fn window(kind: Kind, rule: Option<&Rule>, s: &Signals<'_>) -> Option<Period> {
    if !matches!(
        kind,
        Kind::RateLimit | Kind::QuotaExhausted | Kind::RequestTooLarge
    ) {
        return None;
    }
    if let Some(window) = rule.and_then(|r| r.window) {
        return Some(window);
    }
    let ids: Vec<String> = s
        .body
        .quota_ids
        .iter()
        .map(|id| id.to_ascii_lowercase())
        .collect();
    WINDOWS.iter().find_map(|(period, phrases)| {
        let named = s.says(phrases)
            || ids.iter().any(|id| {
                phrases
                    .iter()
                    .any(|p| contains_short(id.as_bytes(), p.as_bytes()))
            });
        named.then_some(*period)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phrase_search_agrees_with_str_contains() {
        // Every haystack of up to 6 bytes and needle of up to 3 over "ab".
        let words = |max: usize| {
            let mut all = vec![String::new()];
            for len in 1..=max {
                for bits in 0..1u32 << len {
                    all.push(
                        (0..len)
                            .map(|i| if bits >> i & 1 == 1 { 'b' } else { 'a' })
                            .collect(),
                    );
                }
            }
            all
        };
        for h in words(6) {
            for n in words(3) {
                assert_eq!(
                    contains_short(h.as_bytes(), n.as_bytes()),
                    h.contains(&n),
                    "{h:?} {n:?}"
                );
            }
        }
        assert!(contains_short("rate limit per day".as_bytes(), b"per day"));
        assert!(!contains_short("per da".as_bytes(), b"per day"));
    }
}

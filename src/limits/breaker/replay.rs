//! What an open quota breaker's replays of the failure that tripped it
//! carry: the headers the caller needs, never what belongs to the caller
//! who tripped it.

/// Whether a header of a quota failure is carried by the breaker's replays
/// of it: what the caller needs (the content type, the rate-limit and
/// request-id headers), never cookies or anything else that belongs to the
/// caller who tripped it.
pub fn replayed_header(name: &str) -> bool {
    const EXACT: [&str; 6] = [
        "content-type",
        "retry-after",
        "retry-after-ms",
        "x-request-id",
        "request-id",
        "apim-request-id",
    ];
    const PREFIXES: [&str; 2] = ["x-ratelimit-", "anthropic-ratelimit-"];
    EXACT.iter().any(|n| name.eq_ignore_ascii_case(n))
        || PREFIXES.iter().any(|p| {
            name.get(..p.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(p))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replays_carry_only_what_the_caller_needs() {
        for kept in [
            "content-type",
            "Retry-After",
            "retry-after-ms",
            "x-request-id",
            "request-id",
            "x-ratelimit-remaining-requests",
            "anthropic-ratelimit-tokens-reset",
        ] {
            assert!(replayed_header(kept), "{kept}");
        }
        for dropped in [
            "set-cookie",
            "openai-organization",
            "openai-project",
            "cf-ray",
            "x-ratelimit",
            "authorization",
            "content-length",
            "",
        ] {
            assert!(!replayed_header(dropped), "{dropped}");
        }
    }
}

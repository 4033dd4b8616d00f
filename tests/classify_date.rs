//! Absolute wait hints (HTTP-date `retry-after`, RFC 3339 Anthropic resets,
//! epoch `x-ratelimit-reset-*`) are measured against the server's own `Date`
//! header, so a client clock that is ahead or behind does not change them.

use ratewise::classify::headers::READ_HEADER_PREFIXES;
use ratewise::{classify, Classification, Headers, Response};

/// Wed, 21 Oct 2015 07:28:00 GMT.
const T: f64 = 1_445_412_480_000.0;
const DATE: &str = "Wed, 21 Oct 2015 07:28:00 GMT";
const T_PLUS_30S: &str = "Wed, 21 Oct 2015 07:28:30 GMT";

fn run(status: u16, headers: &[(&str, &str)], now_ms: f64) -> Classification {
    let headers: Headers = headers.iter().copied().collect();
    classify(&Response {
        status,
        headers: &headers,
        body: "",
        url: None,
        now_ms,
    })
}

/// Local clocks: right, 30 s ahead, 10 min behind, a day ahead.
const SKEWS_MS: [f64; 4] = [0.0, 30_000.0, -600_000.0, 86_400_000.0];

#[test]
fn retry_after_date_uses_the_servers_date_whatever_the_local_clock() {
    for skew in SKEWS_MS {
        let c = run(
            503,
            &[("date", DATE), ("retry-after", T_PLUS_30S)],
            T + skew,
        );
        assert_eq!(
            c.retry_after_ms,
            Some(30_000),
            "local clock off by {skew} ms"
        );
    }
}

#[test]
fn without_a_readable_date_the_local_clock_is_used() {
    assert_eq!(
        run(503, &[("retry-after", T_PLUS_30S)], T + 10_000.0).retry_after_ms,
        Some(20_000)
    );
    assert_eq!(
        run(
            503,
            &[("date", "yesterday"), ("retry-after", T_PLUS_30S)],
            T + 10_000.0
        )
        .retry_after_ms,
        Some(20_000)
    );
}

#[test]
fn anthropic_resets_use_the_servers_date() {
    for skew in SKEWS_MS {
        let c = run(
            429,
            &[
                ("date", DATE),
                ("anthropic-ratelimit-requests-remaining", "0"),
                ("anthropic-ratelimit-requests-reset", "2015-10-21T07:28:45Z"),
            ],
            T + skew,
        );
        assert_eq!(
            c.retry_after_ms,
            Some(45_000),
            "local clock off by {skew} ms"
        );
        let window = c.limits.unwrap().requests.unwrap();
        assert_eq!(window.reset_ms, Some(45_000));
    }
}

#[test]
fn epoch_resets_are_absolute_times() {
    // 1445412540 is T + 60 s in epoch seconds; 1445412540000 in epoch ms.
    for reset in ["1445412540", "1445412540000"] {
        for skew in SKEWS_MS {
            let c = run(
                429,
                &[
                    ("date", DATE),
                    ("x-ratelimit-remaining-requests", "0"),
                    ("x-ratelimit-reset-requests", reset),
                ],
                T + skew,
            );
            assert_eq!(
                c.retry_after_ms,
                Some(60_000),
                "{reset}, clock off by {skew} ms"
            );
        }
    }
    // Small numbers stay durations in seconds (Azure, Groq).
    let c = run(
        429,
        &[
            ("x-ratelimit-remaining-tokens", "0"),
            ("x-ratelimit-reset-tokens", "55"),
        ],
        T,
    );
    assert_eq!(c.retry_after_ms, Some(55_000));
}

#[test]
fn the_date_header_crosses_the_wasm_boundary() {
    assert!(READ_HEADER_PREFIXES.iter().any(|p| "date".starts_with(p)));
}

//! Response headers as the classifier sees them, and the rate-limit windows
//! (`x-ratelimit-*`, `anthropic-ratelimit-*`) they describe.

use serde::Serialize;

use crate::classify::duration::{clamp_ms, parse_fixed9, parse_go_duration, parse_seconds};
use crate::classify::time::{parse_http_date, parse_rfc3339};

/// The time the server says it answered, in ms since the epoch: its `Date`
/// header when present and readable, else `now_ms` (the local clock).
///
/// Absolute times in other headers (an HTTP-date `retry-after`, RFC 3339
/// `anthropic-ratelimit-*-reset`, epoch `x-ratelimit-reset-*`) come from the
/// same server clock, so measuring them against `Date` gives the wait the
/// server meant even when the local clock is ahead or behind.
pub fn server_now_ms(headers: &Headers, now_ms: f64) -> f64 {
    headers
        .get("date")
        .and_then(parse_http_date)
        .unwrap_or(now_ms)
}

/// Milliseconds from `now_ms` until an epoch timestamp written as a plain
/// number: seconds from 10^9 (2001), milliseconds from 10^12. Smaller
/// numbers are durations, not timestamps: `None`.
fn until_epoch(text: &str, now_ms: f64) -> Option<u64> {
    let value = parse_fixed9(text.trim())? as f64 / 1e9;
    let at_ms = if value >= 1e12 {
        value
    } else if value >= 1e9 {
        value * 1000.0
    } else {
        return None;
    };
    clamp_ms((at_ms - now_ms).max(0.0))
}

/// Every header the classifier reads starts with one of these. The wasm
/// boundary copies only these headers into wasm memory (`js/convert.js`
/// keeps the same list; a test below checks the two agree).
pub const READ_HEADER_PREFIXES: [&str; 9] = [
    "retry-after",
    "date",
    "x-ratelimit-",
    "anthropic-",
    "openai-",
    "x-groq-region",
    "apim-request-id",
    "x-ms-region",
    "x-amzn-errortype",
];

/// Header values longer than this are ignored: no real hint is that long.
const MAX_VALUE_LEN: usize = 256;

/// A case-insensitive list of response headers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(Vec<(String, String)>);

impl Headers {
    /// An empty header list.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a header; the name is stored lower-cased, the value trimmed.
    pub fn push(&mut self, name: &str, value: &str) {
        self.0
            .push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }

    /// The first value of `name` (lower-case), if present and of sane length.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| v.len() <= MAX_VALUE_LEN)
    }

    /// Whether any header name starts with `prefix`.
    pub fn has_prefix(&self, prefix: &str) -> bool {
        self.0.iter().any(|(n, _)| n.starts_with(prefix))
    }

    /// Every header as `(name, value)`, names lower-cased.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// Number of headers.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no headers.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<N: AsRef<str>, V: AsRef<str>> FromIterator<(N, V)> for Headers {
    fn from_iter<I: IntoIterator<Item = (N, V)>>(iter: I) -> Self {
        let mut headers = Headers::new();
        for (n, v) in iter {
            headers.push(n.as_ref(), v.as_ref());
        }
        headers
    }
}

/// One rate-limit window as the server reported it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Window {
    /// The most the window allows.
    pub limit: Option<u64>,
    /// What is left in the window.
    pub remaining: Option<u64>,
    /// Milliseconds until the window resets, relative to the response.
    pub reset_ms: Option<u64>,
    /// Whether the reset was given to the second (an RFC 3339 time, or an
    /// epoch timestamp measured against the `Date` header), so `reset_ms`
    /// may be up to a second off.
    #[serde(skip)]
    pub coarse_reset: bool,
}

impl Window {
    /// Whether the server says nothing is left.
    pub fn exhausted(&self) -> bool {
        self.remaining == Some(0)
    }
}

/// The rate-limit windows a response reports. Present on 2xx responses too.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Limits {
    /// Requests per window.
    pub requests: Option<Window>,
    /// Tokens per window (OpenAI, Groq; Anthropic's combined tokens).
    pub tokens: Option<Window>,
    /// Anthropic input tokens per minute.
    pub input_tokens: Option<Window>,
    /// Anthropic output tokens per minute.
    pub output_tokens: Option<Window>,
}

impl Limits {
    /// Reads every `x-ratelimit-*` and `anthropic-ratelimit-*` window.
    /// `None` when the response carries none. Absolute reset times are
    /// measured from [`server_now_ms`] (the `Date` header, else `now_ms`).
    pub fn from_headers(headers: &Headers, now_ms: f64) -> Option<Limits> {
        // Most responses carry none: skip the lookups entirely.
        if !headers.has_prefix("x-ratelimit-") && !headers.has_prefix("anthropic-ratelimit-") {
            return None;
        }
        let now_ms = server_now_ms(headers, now_ms);
        let openai = |[limit, remaining, reset]: [&str; 3]| {
            window(headers, limit, remaining, reset, |v| {
                let fine = |ms| (ms, false);
                parse_go_duration(v)
                    .map(fine)
                    .or_else(|| until_epoch(v, now_ms).map(|ms| (ms, true)))
                    .or_else(|| parse_seconds(v).map(fine))
            })
        };
        let anthropic = |[limit, remaining, reset]: [&str; 3]| {
            window(headers, limit, remaining, reset, |v| {
                let at = parse_rfc3339(v)?;
                clamp_ms((at - now_ms).max(0.0)).map(|ms| (ms, true))
            })
        };
        let limits = Limits {
            requests: openai(OPENAI_REQUESTS)
                .or_else(|| anthropic(ANTHROPIC_REQUESTS))
                .or_else(|| openai(PLAIN_REQUESTS)),
            tokens: openai(OPENAI_TOKENS).or_else(|| anthropic(ANTHROPIC_TOKENS)),
            input_tokens: anthropic(ANTHROPIC_INPUT_TOKENS),
            output_tokens: anthropic(ANTHROPIC_OUTPUT_TOKENS),
        };
        (limits != Limits::default()).then_some(limits)
    }

    /// Every window that is present.
    pub fn windows(&self) -> impl Iterator<Item = &Window> {
        [
            &self.requests,
            &self.tokens,
            &self.input_tokens,
            &self.output_tokens,
        ]
        .into_iter()
        .flatten()
    }

    /// The longest reset among exhausted windows: how long until every
    /// exhausted budget has room again.
    pub fn exhausted_reset_ms(&self) -> Option<u64> {
        self.windows()
            .filter(|w| w.exhausted())
            .filter_map(|w| w.reset_ms)
            .max()
    }
}

/// The exact headers a successful answer is read for, in groups: its
/// rate-limit windows, and the server's clock (which Anthropic's reset
/// timestamps are measured against). The wasm layer asks for these by name
/// on a 2xx instead of copying every header, and skips the rest of a group
/// whose first name is absent.
pub const SUCCESS_HEADER_GROUPS: [&[&str]; 7] = [
    &[
        "x-ratelimit-remaining-requests",
        "x-ratelimit-limit-requests",
        "x-ratelimit-reset-requests",
    ],
    &[
        "x-ratelimit-remaining-tokens",
        "x-ratelimit-limit-tokens",
        "x-ratelimit-reset-tokens",
    ],
    &[
        "anthropic-ratelimit-requests-remaining",
        "anthropic-ratelimit-requests-limit",
        "anthropic-ratelimit-requests-reset",
        "date",
    ],
    &[
        "anthropic-ratelimit-tokens-remaining",
        "anthropic-ratelimit-tokens-limit",
        "anthropic-ratelimit-tokens-reset",
        "date",
    ],
    &[
        "anthropic-ratelimit-input-tokens-remaining",
        "anthropic-ratelimit-input-tokens-limit",
        "anthropic-ratelimit-input-tokens-reset",
        "date",
    ],
    &[
        "anthropic-ratelimit-output-tokens-remaining",
        "anthropic-ratelimit-output-tokens-limit",
        "anthropic-ratelimit-output-tokens-reset",
        "date",
    ],
    &[
        "x-ratelimit-remaining",
        "x-ratelimit-limit",
        "x-ratelimit-reset",
        "date",
    ],
];

const OPENAI_REQUESTS: [&str; 3] = [
    "x-ratelimit-limit-requests",
    "x-ratelimit-remaining-requests",
    "x-ratelimit-reset-requests",
];
/// Requests without a suffix (OpenRouter: `X-RateLimit-Reset` in epoch
/// milliseconds; many gateways), read when no suffixed window is present.
const PLAIN_REQUESTS: [&str; 3] = [
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
];
const OPENAI_TOKENS: [&str; 3] = [
    "x-ratelimit-limit-tokens",
    "x-ratelimit-remaining-tokens",
    "x-ratelimit-reset-tokens",
];
const ANTHROPIC_REQUESTS: [&str; 3] = [
    "anthropic-ratelimit-requests-limit",
    "anthropic-ratelimit-requests-remaining",
    "anthropic-ratelimit-requests-reset",
];
const ANTHROPIC_TOKENS: [&str; 3] = [
    "anthropic-ratelimit-tokens-limit",
    "anthropic-ratelimit-tokens-remaining",
    "anthropic-ratelimit-tokens-reset",
];
const ANTHROPIC_INPUT_TOKENS: [&str; 3] = [
    "anthropic-ratelimit-input-tokens-limit",
    "anthropic-ratelimit-input-tokens-remaining",
    "anthropic-ratelimit-input-tokens-reset",
];
const ANTHROPIC_OUTPUT_TOKENS: [&str; 3] = [
    "anthropic-ratelimit-output-tokens-limit",
    "anthropic-ratelimit-output-tokens-remaining",
    "anthropic-ratelimit-output-tokens-reset",
];

fn window(
    headers: &Headers,
    limit: &str,
    remaining: &str,
    reset: &str,
    parse_reset: impl Fn(&str) -> Option<(u64, bool)>,
) -> Option<Window> {
    let count = |name: &str| headers.get(name).and_then(|v| v.parse::<u64>().ok());
    let reset = headers.get(reset).and_then(parse_reset);
    let w = Window {
        limit: count(limit),
        remaining: count(remaining),
        reset_ms: reset.map(|(ms, _)| ms),
        coarse_reset: reset.is_some_and(|(_, coarse)| coarse),
    };
    (w != Window::default()).then_some(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_boundary_copies_exactly_the_headers_read_here() {
        let glue = include_str!("../../js/convert.js");
        let start = glue
            .find("const HEADER_PREFIXES = [")
            .expect("the list in js/convert.js");
        let list = &glue[start..start + glue[start..].find("];").expect("the list's end")];
        let listed: Vec<&str> = list.split('\'').skip(1).step_by(2).collect();
        assert_eq!(listed, READ_HEADER_PREFIXES);
    }

    #[test]
    fn a_success_is_read_for_every_window_header() {
        let windows = [
            OPENAI_REQUESTS,
            OPENAI_TOKENS,
            ANTHROPIC_REQUESTS,
            ANTHROPIC_TOKENS,
            ANTHROPIC_INPUT_TOKENS,
            ANTHROPIC_OUTPUT_TOKENS,
        ];
        for window in windows {
            let group = SUCCESS_HEADER_GROUPS
                .iter()
                .find(|g| g.contains(&window[0]));
            let group = group.unwrap_or_else(|| panic!("no group for {window:?}"));
            // The group is asked for its window's `remaining` first.
            assert_eq!(group[0], window[1]);
            assert!(window.iter().all(|name| group.contains(name)), "{window:?}");
        }
    }

    #[test]
    fn lookup_is_case_insensitive_and_trims() {
        let h: Headers = [("Retry-After", " 20 ")].into_iter().collect();
        assert_eq!(h.get("retry-after"), Some("20"));
        assert_eq!(h.get("retry-after-ms"), None);
    }

    #[test]
    fn absurdly_long_values_are_ignored() {
        let long = "9".repeat(10_000);
        let h: Headers = [("retry-after", long.as_str())].into_iter().collect();
        assert_eq!(h.get("retry-after"), None);
    }

    #[test]
    fn openai_windows() {
        let h: Headers = [
            ("x-ratelimit-limit-requests", "60"),
            ("x-ratelimit-remaining-requests", "0"),
            ("x-ratelimit-reset-requests", "6m0s"),
            ("x-ratelimit-limit-tokens", "150000"),
            ("x-ratelimit-remaining-tokens", "149984"),
            ("x-ratelimit-reset-tokens", "6ms"),
        ]
        .into_iter()
        .collect();
        let l = Limits::from_headers(&h, 0.0).unwrap();
        assert_eq!(
            l.requests,
            Some(Window {
                limit: Some(60),
                remaining: Some(0),
                reset_ms: Some(360_000),
                coarse_reset: false,
            })
        );
        assert_eq!(l.tokens.unwrap().remaining, Some(149_984));
        assert_eq!(l.exhausted_reset_ms(), Some(360_000));
    }

    #[test]
    fn anthropic_windows_are_relative_to_now() {
        let h: Headers = [
            ("anthropic-ratelimit-requests-limit", "50"),
            ("anthropic-ratelimit-requests-remaining", "0"),
            ("anthropic-ratelimit-requests-reset", "1970-01-01T00:00:30Z"),
            ("anthropic-ratelimit-output-tokens-remaining", "0"),
            (
                "anthropic-ratelimit-output-tokens-reset",
                "1970-01-01T00:00:45Z",
            ),
        ]
        .into_iter()
        .collect();
        let l = Limits::from_headers(&h, 10_000.0).unwrap();
        assert_eq!(l.requests.unwrap().reset_ms, Some(20_000));
        assert!(l.requests.unwrap().coarse_reset, "given to the second");
        assert_eq!(l.exhausted_reset_ms(), Some(35_000));
        // A reset already in the past is zero, not negative.
        let l = Limits::from_headers(&h, 99_000.0).unwrap();
        assert_eq!(l.requests.unwrap().reset_ms, Some(0));
    }

    #[test]
    fn no_rate_limit_headers_means_none() {
        let h: Headers = [
            ("content-type", "application/json"),
            ("x-ratelimit-remaining-requests", "lots"),
        ]
        .into_iter()
        .collect();
        assert_eq!(Limits::from_headers(&h, 0.0), None);
    }
}

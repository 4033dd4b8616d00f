//! Hostile and broken input, one row each, with the exact classification
//! expected: kind, action and wait hint.

use ratewise::classify::duration::MAX_DELAY_MS;
use ratewise::{classify, Action, Headers, Kind, Response};

/// Wed, 21 Oct 2015 07:28:00 GMT: the local clock in every row.
const T: f64 = 1_445_412_480_000.0;

struct Row {
    name: &'static str,
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: String,
    want: (Kind, Action, Option<u64>),
}

fn row(
    name: &'static str,
    status: u16,
    body: impl Into<String>,
    want: (Kind, Action, Option<u64>),
) -> Row {
    Row {
        name,
        status,
        headers: Vec::new(),
        body: body.into(),
        want,
    }
}

fn hdr(
    name: &'static str,
    headers: &[(&'static str, &str)],
    want: (Kind, Action, Option<u64>),
) -> Row {
    Row {
        name,
        status: 429,
        headers: headers.iter().map(|(n, v)| (*n, (*v).to_owned())).collect(),
        body: String::new(),
        want,
    }
}

const RATE: (Kind, Action) = (Kind::RateLimit, Action::Retry);

fn rate(hint: Option<u64>) -> (Kind, Action, Option<u64>) {
    (RATE.0, RATE.1, hint)
}

fn rows() -> Vec<Row> {
    let ten_mb = "x".repeat(10 * 1024 * 1024);
    let fifty_kb = "1".repeat(50 * 1024);
    vec![
        // ------------------------------------------------------------ bodies
        row(
            "HTML error page",
            502,
            "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
            (Kind::ServerError, Action::Retry, None),
        ),
        row(
            "binary junk",
            429,
            String::from_utf8_lossy(b"\x00\xff\xfe{\"error\":\x80\x1b[0m}"),
            rate(None),
        ),
        row(
            "10 MB of text",
            400,
            ten_mb.clone(),
            (Kind::BadRequest, Action::Fail, None),
        ),
        row(
            "10 MB quota body (cut at 64 KB, type already read)",
            429,
            format!(r#"{{"error":{{"type":"insufficient_quota","message":"{ten_mb}"}}}}"#),
            (Kind::QuotaExhausted, Action::Alert, None),
        ),
        row(
            "10,000-deep [[[[",
            429,
            "[".repeat(10_000) + &"]".repeat(10_000),
            rate(None),
        ),
        row(
            "10,000-deep {\"a\":{\"a\":…",
            503,
            r#"{"a":"#.repeat(10_000) + "1" + &"}".repeat(10_000),
            (Kind::Overloaded, Action::Retry, None),
        ),
        row(
            "10,000-deep nesting inside the error object",
            429,
            format!(
                r#"{{"error":{{"code":"insufficient_quota","x":{}"#,
                "[".repeat(10_000)
            ),
            (Kind::QuotaExhausted, Action::Alert, None),
        ),
        row("null", 429, "null", rate(None)),
        row("[]", 400, "[]", (Kind::BadRequest, Action::Fail, None)),
        row("{}", 500, "{}", (Kind::ServerError, Action::Retry, None)),
        row("a bare number", 429, "429", rate(None)),
        row(
            "array of errors: the first decides (rate limit)",
            429,
            r#"[{"error":{"code":429,"status":"RESOURCE_EXHAUSTED","message":"Resource exhausted. Please try again in 7s."}},{"error":{"type":"insufficient_quota"}}]"#,
            rate(Some(7_000)),
        ),
        row(
            "array of errors: the first decides (quota)",
            429,
            r#"[{"error":{"type":"insufficient_quota","message":"m"}},{"error":{"code":"rate_limit_exceeded"}}]"#,
            (Kind::QuotaExhausted, Action::Alert, None),
        ),
        row("empty body, 429", 429, "", rate(None)),
        row(
            "empty body, 500",
            500,
            "",
            (Kind::ServerError, Action::Retry, None),
        ),
        row(
            "whitespace body, 529",
            529,
            " \n\t ",
            (Kind::Overloaded, Action::Retry, None),
        ),
        row("empty body, 200", 200, "", (Kind::Ok, Action::None, None)),
        row(
            "error is a number",
            401,
            r#"{"error":42}"#,
            (Kind::Auth, Action::Fail, None),
        ),
        row(
            "quota type with a lone surrogate in the message",
            429,
            r#"{"error":{"type":"insufficient_quota","message":"\ud800 try again in 5s"}}"#,
            (Kind::QuotaExhausted, Action::Alert, Some(5_000)),
        ),
        // ------------------------------------------------------- retry-after
        hdr("retry-after -1", &[("retry-after", "-1")], rate(None)),
        hdr("retry-after 1e309", &[("retry-after", "1e309")], rate(None)),
        hdr("retry-after NaN", &[("retry-after", "NaN")], rate(None)),
        hdr(
            "retry-after Infinity",
            &[("retry-after", "Infinity")],
            rate(None),
        ),
        hdr("retry-after 0x10", &[("retry-after", "0x10")], rate(None)),
        hdr(
            "retry-after padded 7",
            &[("retry-after", "  7  ")],
            rate(Some(7_000)),
        ),
        hdr(
            "retry-after 1.5",
            &[("retry-after", "1.5")],
            rate(Some(1_500)),
        ),
        hdr(
            "retry-after 10^400 seconds is clamped",
            &[("retry-after", &"9".repeat(200))],
            rate(Some(MAX_DELAY_MS)),
        ),
        hdr(
            "retry-after-ms -5 falls through to retry-after",
            &[("retry-after-ms", "-5"), ("retry-after", "2")],
            rate(Some(2_000)),
        ),
        hdr(
            "past HTTP-date",
            &[("retry-after", "Wed, 21 Oct 2015 07:27:00 GMT")],
            rate(Some(0)),
        ),
        hdr(
            "far-future HTTP-date (year 9999) is clamped",
            &[("retry-after", "Fri, 31 Dec 9999 23:59:59 GMT")],
            rate(Some(MAX_DELAY_MS)),
        ),
        hdr(
            "HTTP-date measured against a Date 30 min behind the local clock",
            &[
                ("date", "Wed, 21 Oct 2015 06:58:00 GMT"),
                ("retry-after", "Wed, 21 Oct 2015 06:58:30 GMT"),
            ],
            rate(Some(30_000)),
        ),
        hdr(
            "HTTP-date measured against a Date 10 min ahead of the local clock",
            &[
                ("date", "Wed, 21 Oct 2015 07:38:00 GMT"),
                ("retry-after", "Wed, 21 Oct 2015 07:38:30 GMT"),
            ],
            rate(Some(30_000)),
        ),
        hdr(
            "unreadable Date: the local clock",
            &[
                ("date", "Wed, 21 Oct 2015 99:99:99 GMT"),
                ("retry-after", "Wed, 21 Oct 2015 07:28:30 GMT"),
            ],
            rate(Some(30_000)),
        ),
        hdr(
            "duplicate retry-after: the first wins",
            &[("retry-after", "5"), ("retry-after", "60")],
            rate(Some(5_000)),
        ),
        hdr(
            "duplicates joined by the Fetch API are no hint",
            &[("retry-after", "5, 60")],
            rate(None),
        ),
        hdr(
            "50 KB retry-after",
            &[("retry-after", &fifty_kb)],
            rate(None),
        ),
        hdr(
            "50 KB of padding around a valid value",
            &[(
                "retry-after",
                &format!("{}3{}", " ".repeat(25_000), " ".repeat(25_000)),
            )],
            rate(Some(3_000)),
        ),
        hdr(
            "50 KB reset and Date",
            &[
                ("x-ratelimit-remaining-requests", "0"),
                ("x-ratelimit-reset-requests", &fifty_kb),
                ("date", &fifty_kb),
            ],
            rate(None),
        ),
        hdr(
            "remaining 0 with a garbage reset",
            &[
                ("x-ratelimit-remaining-requests", "0"),
                ("x-ratelimit-reset-requests", "soon"),
            ],
            rate(None),
        ),
        hdr(
            "negative remaining is not exhausted",
            &[
                ("x-ratelimit-remaining-requests", "-1"),
                ("x-ratelimit-reset-requests", "5s"),
            ],
            rate(None),
        ),
    ]
}

#[test]
fn every_bad_input_is_classified_exactly() {
    let mut failures = Vec::new();
    for r in rows() {
        let headers: Headers = r.headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let c = classify(&Response {
            status: r.status,
            headers: &headers,
            body: &r.body,
            url: None,
            now_ms: T,
        });
        let got = (c.kind, c.action, c.retry_after_ms);
        if got != r.want {
            failures.push(format!(
                "{}: got {got:?}, want {:?} ({})",
                r.name, r.want, c.reason
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

//! A `fetch` that rejected before any response: which rejections heal by
//! sending again (a dropped connection) and which never do (a malformed URL,
//! an invalid header, a Worker out of subrequests).
//!
//! Runtimes phrase these differently, so the rules match the phrases each
//! one uses, case-insensitively, and anything unrecognised stays `network`
//! (retryable), as it was before.

use crate::classify::kind::Kind;
use crate::classify::Classification;

/// Only this much of a message is read for the rules.
const MAX_MATCHED_LEN: usize = 4_096;

/// Phrases (lower-case) of a URL that no runtime can fetch.
///
/// - Node/undici: `Failed to parse URL from …`, `Invalid URL`,
///   `URL scheme "ftp" is not supported.`, `unknown scheme`.
/// - Chromium: `Failed to execute 'fetch' on 'Window': Failed to parse URL
///   from …` / `… Invalid URL`, `Fetch API cannot load file:///x. URL scheme
///   "file" is not supported.`, `Request cannot be constructed from a URL
///   that includes credentials`.
/// - Firefox: `Window.fetch: foo is not a valid URL.`
/// - Deno: `Invalid URL: 'foo'`, `scheme 'ftp' not supported`.
/// - Bun: `fetch() URL is invalid`, `Unsupported protocol`.
const BAD_URL: [&str; 11] = [
    "failed to parse url",
    "invalid url",
    "is not a valid url",
    "url is invalid",
    "url scheme",
    "unknown scheme",
    "unsupported scheme",
    "unsupported protocol",
    "fetch api cannot load",
    "url that includes credentials",
    "' not supported",
];

/// Phrases of an invalid header: undici `Headers.append: "a b" is an invalid
/// header name.`, Chromium `'x\n' is not a valid HTTP header field value.`,
/// Firefox `… is an invalid header value.`
const BAD_HEADER: [&str; 4] = [
    "invalid header name",
    "invalid header value",
    "not a valid http header",
    "invalid header",
];

/// A body on GET or HEAD: undici and Chromium `Request with GET/HEAD method
/// cannot have body.`, Firefox `HEAD or GET Request cannot have a body.`
const BODY_ON_GET: [&str; 2] = ["method cannot have body", "request cannot have a body"];

/// Cloudflare Workers' subrequest limits. Production workerd says `Too many
/// subrequests.` (newer: `Too many subrequests by single Worker
/// invocation`), Miniflare `Too many subrequests. Workers can make up to 50
/// subrequests per request.` and `Subrequest depth limit exceeded. …`. The
/// count is per invocation, so no retry within it can succeed.
const WORKER_LIMIT: [&str; 2] = ["too many subrequests", "subrequest depth limit exceeded"];

/// Classifies a `fetch` rejection from the error's `name` and `message`.
///
/// - `TimeoutError` (from `AbortSignal.timeout`) is [`Kind::Timeout`].
/// - A malformed or unfetchable URL, an invalid header name or value, a body
///   on GET/HEAD, or a Cloudflare Worker out of subrequests is
///   [`Kind::BadRequest`] (action `fail`): sending the same request again
///   cannot succeed. The `reason` says which.
/// - Anything else (DNS, reset, TLS, CORS, offline) is [`Kind::Network`],
///   retryable.
///
/// The message is kept with keys masked and URLs redacted (see
/// [`crate::secrets::mask_secrets`]): status 0, provider unknown.
pub fn classify_failure(name: &str, message: Option<&str>) -> Classification {
    let (kind, reason) = decide(name, message.unwrap_or_default());
    Classification::without_response(kind, message.map(str::to_owned), reason)
}

/// The error names of a failure before any response: the platform's
/// (`TypeError`, `TimeoutError`) and the SDKs' (openai's and Anthropic's
/// `APIConnectionError` / `APIConnectionTimeoutError`, node-fetch's
/// `FetchError`). `classify()` reads an error of these names with
/// [`classify_failure`], as `createFetch` reads every rejection of `fetch`.
pub const FAILURE_NAMES: [&str; 5] = [
    "TypeError",
    "TimeoutError",
    "APIConnectionError",
    "APIConnectionTimeoutError",
    "FetchError",
];

fn decide(name: &str, message: &str) -> (Kind, &'static str) {
    if name == "TimeoutError" || name == "APIConnectionTimeoutError" {
        return (Kind::Timeout, "the request timed out before a response");
    }
    let mut end = message.len().min(MAX_MATCHED_LEN);
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    let lower = message[..end].to_ascii_lowercase();
    let says = |phrases: &[&str]| phrases.iter().any(|p| lower.contains(p));
    if says(&WORKER_LIMIT) {
        (
            Kind::BadRequest,
            "the Worker used up its subrequests for this invocation: no retry inside it can succeed",
        )
    } else if says(&BODY_ON_GET) {
        (
            Kind::BadRequest,
            "a GET or HEAD request cannot have a body: sending it again cannot succeed",
        )
    } else if says(&BAD_HEADER) {
        (
            Kind::BadRequest,
            "a header name or value is invalid: sending it again cannot succeed",
        )
    } else if says(&BAD_URL) {
        (
            Kind::BadRequest,
            "the URL is malformed or its scheme cannot be fetched: sending it again cannot succeed",
        )
    } else {
        (Kind::Network, "fetch rejected before a response")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_multibyte_messages_are_matched_on_a_char_boundary() {
        let message = format!("{}Invalid URL", "é".repeat(MAX_MATCHED_LEN));
        assert_eq!(
            classify_failure("TypeError", Some(&message)).kind,
            Kind::Network
        );
        let message = format!("Invalid URL {}", "é".repeat(MAX_MATCHED_LEN));
        assert_eq!(
            classify_failure("TypeError", Some(&message)).kind,
            Kind::BadRequest
        );
    }
}

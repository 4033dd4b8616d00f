//! A `fetch` that rejected before any response: which rejections heal by
//! sending again (a dropped connection) and which never do (a malformed URL,
//! an invalid header, a Worker out of subrequests).
//!
//! Runtimes phrase these differently, so the rules match the phrases each
//! one uses, case-insensitively, and any other failure of the request stays
//! `network` (retryable). The error's name says first whether it is a
//! timeout, an abort, a failed request or no request failure at all.

use crate::classify::kind::Kind;
use crate::classify::search;
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
/// - Bun: `fetch() URL is invalid`, `Unsupported protocol`, `protocol must
///   be http:, https: or s3:`.
const BAD_URL: [&str; 12] = [
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
    "protocol must be",
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

/// Classifies a failure without a response from the error's `name` and
/// `message`: a rejection of `fetch` inside `createFetch`, or an error given
/// to `classify()` without a status. Both read it here, so the two always
/// agree.
///
/// - A timeout ([`TIMEOUT_NAMES`]: `AbortSignal.timeout`'s `TimeoutError`,
///   the SDKs' `APIConnectionTimeoutError`, undici's connect, headers and
///   body timeouts) is [`Kind::Timeout`], retryable.
/// - An abort ([`ABORT_NAMES`]: `AbortError`, the SDKs'
///   `APIUserAbortError`) was someone's decision, not a fault: it is
///   [`Kind::Unknown`] (action `fail`), never sent again.
/// - A transport failure ([`TRANSPORT_NAMES`]: the `TypeError` every
///   runtime's `fetch` rejects with, workerd's and Bun's plain `Error`, the
///   SDKs' `APIConnectionError`, node-fetch's `FetchError`, the AI SDK's
///   `APICallError` without a status…) is read by its message: a malformed
///   or unfetchable URL, an invalid header name or value, a body on
///   GET/HEAD, or a Cloudflare Worker out of subrequests is
///   [`Kind::BadRequest`] (action `fail`: sending the same request again
///   cannot succeed, the `reason` says why); anything else (DNS, reset, TLS,
///   CORS, offline) is [`Kind::Network`], retryable.
/// - Any other name (a `RangeError`, an SDK's own `OpenAIError`, an AI SDK
///   validation error) is not a failed request: [`Kind::Unknown`], `fail`.
///
/// The message is kept with keys masked and URLs redacted (see
/// [`crate::secrets::mask_secrets`]): status 0, provider unknown.
pub fn classify_failure(name: &str, message: Option<&str>) -> Classification {
    let (kind, reason) = decide(name, message.unwrap_or_default());
    Classification::without_response(kind, message.map(str::to_owned), reason)
}

/// The names of a timeout before any response: `AbortSignal.timeout`'s
/// DOMException, openai's and Anthropic's `APIConnectionTimeoutError`, and
/// undici's own (`ConnectTimeoutError`, `HeadersTimeoutError`,
/// `BodyTimeoutError`, seen when undici is the custom `fetch`).
pub const TIMEOUT_NAMES: [&str; 5] = [
    "TimeoutError",
    "APIConnectionTimeoutError",
    "ConnectTimeoutError",
    "HeadersTimeoutError",
    "BodyTimeoutError",
];

/// The names of an aborted request: the platform's `AbortError` and
/// openai's and Anthropic's `APIUserAbortError`.
pub const ABORT_NAMES: [&str; 2] = ["AbortError", "APIUserAbortError"];

/// The names of a failed request before any response: the platform's
/// (`TypeError` from every runtime's `fetch`, a plain `Error` from workerd
/// and Bun, a `NetworkError` DOMException), the SDKs' (openai's and
/// Anthropic's `APIConnectionError`, the AI SDK's `AI_APICallError` without
/// a status), node-fetch's `FetchError` and undici's `SocketError`. An
/// error without a name counts as one.
pub const TRANSPORT_NAMES: [&str; 8] = [
    "TypeError",
    "Error",
    "NetworkError",
    "APIConnectionError",
    "AI_APICallError",
    "FetchError",
    "SocketError",
    "",
];

fn decide(name: &str, message: &str) -> (Kind, &'static str) {
    if TIMEOUT_NAMES.contains(&name) {
        return (Kind::Timeout, "the request timed out before a response");
    }
    if ABORT_NAMES.contains(&name) {
        return (
            Kind::Unknown,
            "the request was aborted before a response: it is not sent again",
        );
    }
    if !TRANSPORT_NAMES.contains(&name) {
        return (
            Kind::Unknown,
            "an error without a response that is not a failed request",
        );
    }
    let mut end = message.len().min(MAX_MATCHED_LEN);
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    let lower = crate::cut::before(message, end).to_ascii_lowercase();
    let says = |phrases: &[&str]| phrases.iter().any(|p| search::contains(&lower, p));
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

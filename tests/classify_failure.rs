//! `classify_failure`: one row per `fetch` rejection a runtime produces,
//! with the exact kind, action and reason family expected.

use ratewise::classify::classify_failure;
use ratewise::{Action, Kind};

const URL: &str = "the URL is malformed";
const HEADER: &str = "a header name or value is invalid";
const BODY: &str = "a GET or HEAD request cannot have a body";
const WORKER: &str = "the Worker used up its subrequests";
const NET: &str = "fetch rejected before a response";
const TIMEOUT: &str = "the request timed out";
const ABORTED: &str = "the request was aborted";
const NOT_A_REQUEST: &str = "an error without a response that is not a failed request";

/// (runtime, name, message, kind, start of the reason)
const ROWS: &[(&str, &str, &str, Kind, &str)] = &[
    ("any", "TimeoutError", "The operation was aborted due to timeout", Kind::Timeout, TIMEOUT),
    ("any", "TimeoutError", "signal timed out", Kind::Timeout, TIMEOUT),
    ("openai, anthropic", "APIConnectionTimeoutError", "Request timed out.", Kind::Timeout, TIMEOUT),
    ("undici", "ConnectTimeoutError", "Connect Timeout Error", Kind::Timeout, TIMEOUT),
    ("undici", "HeadersTimeoutError", "Headers Timeout Error", Kind::Timeout, TIMEOUT),
    ("undici", "BodyTimeoutError", "Body Timeout Error", Kind::Timeout, TIMEOUT),
    // An abort was someone's decision: never sent again.
    ("any", "AbortError", "This operation was aborted", Kind::Unknown, ABORTED),
    ("openai, anthropic", "APIUserAbortError", "Request was aborted.", Kind::Unknown, ABORTED),
    // Not a failed request at all (classify() is given any error).
    ("any", "RangeError", "Invalid array length", Kind::Unknown, NOT_A_REQUEST),
    ("openai", "OpenAIError", "The OPENAI_API_KEY environment variable is missing", Kind::Unknown, NOT_A_REQUEST),
    ("ai sdk", "AI_NoObjectGeneratedError", "No object generated: could not parse the response.", Kind::Unknown, NOT_A_REQUEST),
    // Malformed or unfetchable URLs.
    ("node", "TypeError", "Failed to parse URL from api.openai.com/v1/chat/completions", Kind::BadRequest, URL),
    ("node", "TypeError", "Invalid URL", Kind::BadRequest, URL),
    ("node", "TypeError", "fetch failed: unknown scheme", Kind::BadRequest, URL),
    ("node", "TypeError", "URL scheme \"ftp\" is not supported.", Kind::BadRequest, URL),
    ("chromium", "TypeError", "Failed to execute 'fetch' on 'Window': Failed to parse URL from http://[::1", Kind::BadRequest, URL),
    ("chromium", "TypeError", "Failed to execute 'fetch' on 'Window': Invalid URL", Kind::BadRequest, URL),
    ("chromium", "TypeError", "Fetch API cannot load file:///etc/passwd. URL scheme \"file\" is not supported.", Kind::BadRequest, URL),
    ("chromium", "TypeError", "Failed to execute 'fetch' on 'Window': Request cannot be constructed from a URL that includes credentials: https://u:p@x.com/", Kind::BadRequest, URL),
    ("firefox", "TypeError", "Window.fetch: api.openai.com/v1 is not a valid URL.", Kind::BadRequest, URL),
    ("deno", "TypeError", "Invalid URL: 'api.openai.com/v1'", Kind::BadRequest, URL),
    ("deno", "TypeError", "scheme 'ftp' not supported", Kind::BadRequest, URL),
    ("bun", "TypeError", "fetch() URL is invalid", Kind::BadRequest, URL),
    ("bun", "Error", "Unsupported protocol \"ftp:\"", Kind::BadRequest, URL),
    ("bun", "TypeError", "protocol must be http:, https: or s3:", Kind::BadRequest, URL),
    // Invalid headers and bodies.
    ("node", "TypeError", "Headers.append: \"Bearer sk-proj-AbCdEfGh12345678\n\" is an invalid header value.", Kind::BadRequest, HEADER),
    ("node", "TypeError", "Headers.append: \"x y\" is an invalid header name.", Kind::BadRequest, HEADER),
    ("chromium", "TypeError", "Failed to execute 'fetch' on 'Window': 'x\n' is not a valid HTTP header field value.", Kind::BadRequest, HEADER),
    ("node", "TypeError", "Request with GET/HEAD method cannot have body.", Kind::BadRequest, BODY),
    ("firefox", "TypeError", "Window.fetch: HEAD or GET Request cannot have a body.", Kind::BadRequest, BODY),
    // Cloudflare Workers.
    ("workerd", "Error", "Too many subrequests.", Kind::BadRequest, WORKER),
    ("workerd", "Error", "Too many subrequests by single Worker invocation.", Kind::BadRequest, WORKER),
    ("miniflare", "Error", "Too many subrequests. Workers can make up to 50 subrequests per request.\nA subrequest is a call to fetch(), a redirect, or a call to any Cache API method.", Kind::BadRequest, WORKER),
    ("miniflare", "Error", "Subrequest depth limit exceeded. This request recursed through Workers too many times.", Kind::BadRequest, WORKER),
    // Everything else heals by sending again.
    ("node", "TypeError", "fetch failed", Kind::Network, NET),
    ("node", "Error", "getaddrinfo ENOTFOUND invalid-url.example.com", Kind::Network, NET),
    ("node", "Error", "read ECONNRESET", Kind::Network, NET),
    ("node", "Error", "other side closed", Kind::Network, NET),
    ("chromium", "TypeError", "Failed to fetch", Kind::Network, NET),
    ("firefox", "TypeError", "NetworkError when attempting to fetch resource.", Kind::Network, NET),
    ("safari", "TypeError", "Load failed", Kind::Network, NET),
    ("workerd", "Error", "Network connection lost.", Kind::Network, NET),
    ("bun", "TypeError", "ECONNREFUSED: Unable to connect. Is the computer able to access the url?", Kind::Network, NET),
    ("deno", "TypeError", "error sending request for url (http://127.0.0.1:1/): client error (Connect)", Kind::Network, NET),
    ("openai, anthropic", "APIConnectionError", "Connection error.", Kind::Network, NET),
    ("ai sdk", "AI_APICallError", "Cannot connect to API: fetch failed", Kind::Network, NET),
    ("node-fetch", "FetchError", "request to https://x/ failed, reason: socket hang up", Kind::Network, NET),
    ("undici", "SocketError", "other side closed", Kind::Network, NET),
    ("any", "NetworkError", "A network error occurred.", Kind::Network, NET),
    ("any", "", "", Kind::Network, NET),
];

#[test]
fn every_rejection_is_classified_as_expected() {
    for (runtime, name, message, kind, reason) in ROWS {
        let c = classify_failure(name, Some(message));
        let want_action = match kind {
            Kind::Timeout | Kind::Network => Action::Retry,
            _ => Action::Fail,
        };
        assert_eq!(kind.action(), want_action, "{runtime}: {name}");
        assert_eq!(
            (c.kind, c.action, c.status, c.retry_after_ms),
            (*kind, want_action, 0, None),
            "{runtime}: {message:?}"
        );
        assert!(
            c.reason.starts_with(reason),
            "{runtime}: {message:?}: {}",
            c.reason
        );
    }
}

#[test]
fn no_message_is_a_network_failure() {
    let c = classify_failure("TypeError", None);
    assert_eq!(
        (c.kind, c.action, c.message),
        (Kind::Network, Action::Retry, None)
    );
}

#[test]
fn messages_are_masked_and_their_urls_redacted() {
    let c = classify_failure(
        "TypeError",
        Some("request to https://user:hunter2@proxy.example.com/v1/chat?key=AIzaSyA1234567890abcdefghijklmnopqrstu failed, reason: connect ECONNREFUSED"),
    );
    assert_eq!(c.kind, Kind::Network);
    assert_eq!(
        c.message.as_deref(),
        Some("request to https://***@proxy.example.com/v1/chat?key=*** failed, reason: connect ECONNREFUSED")
    );
    let c = classify_failure(
        "TypeError",
        Some("Headers.append: \"Bearer sk-proj-AbCdEfGh12345678\" is an invalid header value."),
    );
    let m = c.message.unwrap();
    assert!(!m.contains("AbCdEfGh"), "{m}");
    assert_eq!(
        m,
        "Headers.append: \"Bearer ***\" is an invalid header value."
    );
}

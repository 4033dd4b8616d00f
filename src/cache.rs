//! The cached-response fallback's decisions: which requests may be stored
//! and answered from a cache, which answers are stored, which failures the
//! cache answers, what identifies a request, and whether an entry is still
//! fresh. The stores themselves (the platform's Cache API, a bounded
//! in-memory LRU, or the caller's own) are JavaScript glue (`js/cache.js`)
//! that only keeps and finds bytes.
//!
//! A cached answer is the last good answer to an identical request: same
//! method, same URL (as [`crate::secrets::redact_url`] shows it: userinfo
//! and secret query values masked), same body, and by default the same
//! limit key (origin and a hash of the credentials and project headers):
//! an answer can depend on the account (fine-tuned models, org settings,
//! paid data), so tenant B is never answered with tenant A's entry.
//! [`Rules::share_across_keys`] drops the limit key from the identity.

use crate::classify::kind::Kind;
use crate::limits::key::LimitKey;
use crate::limits::outage::is_outage;
use crate::time::Ms;
use crate::url::{api_path, split};

/// How the cache is set up (`createFetch({ cache })`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rules {
    /// How long a stored answer may be given, ms.
    pub ttl_ms: f64,
    /// Whether `text/event-stream` answers are stored (read whole, replayed
    /// as one complete stream).
    pub streams: bool,
    /// Whether requests other than GET and POST to a generation endpoint
    /// are stored too (PUT, DELETE, a POST that creates something).
    pub any_request: bool,
    /// Whether requests with different credentials share entries
    /// (`shareAcrossKeys`): off by default.
    pub share_across_keys: bool,
}

/// The API paths (after the version segment, see [`api_path`]) whose POST
/// answer depends on the body alone: generating, embedding, moderating or
/// counting creates nothing on the server, so an identical request may get
/// the stored answer. A POST elsewhere (`/files`, `/batches`,
/// `/threads/{id}/messages`) creates something and is stored only with
/// [`Rules::any_request`].
pub const GENERATION_PATHS: [&str; 10] = [
    "/chat/completions",
    "/completions",
    "/responses",
    "/embeddings",
    "/moderations",
    "/messages",
    "/messages/count_tokens",
    "/chat",
    "/embed",
    "/rerank",
];

/// Gemini and Vertex methods (`/models/{model}:method`) that generate.
const MODEL_METHODS: [&str; 5] = [
    ":generateContent",
    ":streamGenerateContent",
    ":embedContent",
    ":batchEmbedContents",
    ":countTokens",
];

/// Whether a request path is one that generates from its body alone: an
/// OpenAI-style endpoint (also under an Azure deployment, Groq's `/openai`
/// or a gateway), Anthropic's Messages, a Gemini model method, or a
/// Bedrock model's `converse` / `invoke`.
pub fn generates(path: &str) -> bool {
    let api = api_path(path);
    // Azure: /openai/deployments/{deployment}/chat/completions.
    let api = api
        .strip_prefix("/openai/deployments/")
        .and_then(|rest| rest.find('/').and_then(|at| rest.get(at..)))
        .unwrap_or(api);
    if GENERATION_PATHS.contains(&api) {
        return true;
    }
    let gemini = crate::classify::search::contains(api, "/models/")
        && MODEL_METHODS.iter().any(|m| api.ends_with(m));
    let bedrock = api.starts_with("/model/")
        && [
            "/converse",
            "/converse-stream",
            "/invoke",
            "/invoke-with-response-stream",
        ]
        .iter()
        .any(|m| api.ends_with(m));
    gemini || bedrock
}

/// Whether a request may be stored and answered from the cache: its body
/// can be read again (a string, bytes, a Blob, form fields; never a stream),
/// and it is a GET, or a POST to an endpoint that [`generates`], or any
/// request at all with [`Rules::any_request`].
pub fn request_cacheable(method: &str, url: &str, replayable: bool, rules: &Rules) -> bool {
    if !replayable {
        return false;
    }
    if rules.any_request || method.eq_ignore_ascii_case("GET") {
        return true;
    }
    method.eq_ignore_ascii_case("POST") && generates(split(url).path)
}

/// Whether a successful answer is stored: a 2xx with a whole body (not a
/// 206 part), and an event stream only with [`Rules::streams`].
pub fn storable(status: u16, event_stream: bool, rules: &Rules) -> bool {
    (200..300).contains(&status) && status != 206 && (rules.streams || !event_stream)
}

/// Whether the cache may answer a call that ended as `kind`: the routes it
/// could try were out of quota (from the server or the open breaker) or
/// down (overloaded, 5xx, timeout, network). A rate limit heals by waiting,
/// and a rejected request would be rejected again, so neither is answered
/// from the cache.
pub fn answers(kind: Kind) -> bool {
    kind == Kind::QuotaExhausted || is_outage(kind)
}

/// The age of an entry stored at `stored_at_ms`, if it is still fresh at
/// `now_ms`: at most `ttl_ms` old. A clock that went back counts as age 0;
/// an unreadable time is never fresh.
pub fn fresh_age(stored_at_ms: f64, now_ms: f64, ttl_ms: f64) -> Option<f64> {
    let age = Ms::between(stored_at_ms, now_ms).get();
    (stored_at_ms.is_finite() && age.is_finite() && age <= ttl_ms).then_some(age)
}

/// What names a request's entry besides its method and body: the URL as
/// [`crate::secrets::redact_url`] shows it, then, unless
/// [`Rules::share_across_keys`], the request's limit key (origin and a hash
/// of its credentials and project headers, never the credentials).
pub fn identity(redacted_url: &str, key: &LimitKey, rules: &Rules) -> String {
    if rules.share_across_keys {
        return redacted_url.to_owned();
    }
    let mut s = String::with_capacity(redacted_url.len() + 17);
    s.push_str(redacted_url);
    s.push(' ');
    s.push_str(&key.to_hex());
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: Rules = Rules {
        ttl_ms: 60_000.0,
        streams: false,
        any_request: false,
        share_across_keys: false,
    };

    #[test]
    fn entries_are_per_tenant_unless_shared() {
        let url = "https://api.openai.com/v1/chat/completions";
        let a = LimitKey::new("https://api.openai.com", Some("Bearer sk-A"));
        let b = LimitKey::new("https://api.openai.com", Some("Bearer sk-B"));
        assert_ne!(identity(url, &a, &RULES), identity(url, &b, &RULES));
        assert_eq!(identity(url, &a, &RULES), identity(url, &a, &RULES));
        assert!(!identity(url, &a, &RULES).contains("sk-A"));
        let shared = Rules {
            share_across_keys: true,
            ..RULES
        };
        assert_eq!(identity(url, &a, &shared), identity(url, &b, &shared));
    }

    #[test]
    fn generation_endpoints_of_every_provider() {
        for path in [
            "/v1/chat/completions",
            "/openai/v1/chat/completions",
            "/gw/openai/v1/responses",
            "/v1/embeddings",
            "/v1/messages",
            "/v1/messages/count_tokens",
            "/v1beta/models/gemini-2.5-pro:generateContent",
            "/v1/projects/p/locations/us/publishers/google/models/gemini-2.0-flash:streamGenerateContent",
            "/openai/deployments/gpt-4o-mini/chat/completions",
            "/model/anthropic.claude-3-5-sonnet/converse",
            "/v2/chat",
        ] {
            assert!(generates(path), "{path}");
        }
        for path in [
            "/v1/files",
            "/v1/batches",
            "/v1/threads/t_1/messages",
            "/v1/messages/batches",
            "/v1/fine_tuning/jobs",
            "/v1/models",
            "/v1beta/models/gemini-2.5-pro",
            "/openai/deployments/x/files",
        ] {
            assert!(!generates(path), "{path}");
        }
    }

    #[test]
    fn which_requests_are_cacheable() {
        let chat = "https://api.openai.com/v1/chat/completions";
        assert!(request_cacheable("POST", chat, true, &RULES));
        assert!(request_cacheable("post", chat, true, &RULES));
        assert!(
            !request_cacheable("POST", chat, false, &RULES),
            "a stream body cannot be keyed or sent again"
        );
        assert!(request_cacheable(
            "GET",
            "https://x.example/v1/models",
            true,
            &RULES
        ));
        let files = "https://api.openai.com/v1/files";
        assert!(!request_cacheable("POST", files, true, &RULES));
        assert!(!request_cacheable("DELETE", chat, true, &RULES));
        let any = Rules {
            any_request: true,
            ..RULES
        };
        assert!(request_cacheable("POST", files, true, &any));
        assert!(request_cacheable("DELETE", chat, true, &any));
        assert!(!request_cacheable("POST", files, false, &any));
    }

    #[test]
    fn only_whole_successes_are_stored_and_streams_by_choice() {
        assert!(storable(200, false, &RULES));
        assert!(storable(201, false, &RULES));
        assert!(!storable(206, false, &RULES));
        assert!(!storable(429, false, &RULES));
        assert!(!storable(304, false, &RULES));
        assert!(!storable(200, true, &RULES));
        let streams = Rules {
            streams: true,
            ..RULES
        };
        assert!(storable(200, true, &streams));
    }

    #[test]
    fn the_cache_answers_quota_and_outages_only() {
        for kind in [
            Kind::QuotaExhausted,
            Kind::Overloaded,
            Kind::ServerError,
            Kind::Timeout,
            Kind::Network,
        ] {
            assert!(answers(kind), "{kind:?}");
        }
        for kind in [
            Kind::Ok,
            Kind::RateLimit,
            Kind::Auth,
            Kind::BadRequest,
            Kind::ContextLength,
        ] {
            assert!(!answers(kind), "{kind:?}");
        }
    }

    #[test]
    fn freshness_by_a_fake_clock() {
        let stored = 1_000_000.0;
        assert_eq!(fresh_age(stored, stored, 60_000.0), Some(0.0));
        assert_eq!(
            fresh_age(stored, stored + 60_000.0, 60_000.0),
            Some(60_000.0)
        );
        assert_eq!(fresh_age(stored, stored + 60_001.0, 60_000.0), None);
        assert_eq!(
            fresh_age(stored, stored - 5.0, 60_000.0),
            Some(0.0),
            "a clock that went back"
        );
        assert_eq!(fresh_age(f64::NAN, stored, 60_000.0), None);
        assert_eq!(fresh_age(f64::NEG_INFINITY, stored, f64::INFINITY), None);
    }
}

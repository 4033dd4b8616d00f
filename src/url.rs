//! Splitting URLs into their parts, the one place ratewise does it.
//!
//! This is a lexical splitter, not a validating parser (RFC 3986 section 3
//! order: `scheme://userinfo@host:port/path?query#fragment`). It never
//! allocates except in [`origin`], never panics, and borrows every part from
//! the input, so it is cheap enough to run on every request.

use crate::text::join;

/// The parts of a URL, each borrowed from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Parts<'a> {
    /// The scheme without `://` (`https`); `None` for a relative URL.
    pub scheme: Option<&'a str>,
    /// What comes before the last `@` of the authority (`user:pass`).
    pub userinfo: Option<&'a str>,
    /// The authority without userinfo (`api.openai.com:443`); `""` when
    /// there is no authority.
    pub host_port: &'a str,
    /// The path (`/v1/chat/completions`), possibly empty.
    pub path: &'a str,
    /// The query without `?`.
    pub query: Option<&'a str>,
    /// The fragment without `#`.
    pub fragment: Option<&'a str>,
}

/// Splits `url` into its parts. A URL without `://` is relative: everything
/// before `?` or `#` is its path.
pub fn split(url: &str) -> Parts<'_> {
    let (rest, fragment) = match url.split_once('#') {
        Some((r, f)) => (r, Some(f)),
        None => (url, None),
    };
    let (rest, query) = match rest.split_once('?') {
        Some((r, q)) => (r, Some(q)),
        None => (rest, None),
    };
    let (scheme, after_scheme) = match crate::classify::search::split_once(rest, "://") {
        // A "://" inside a relative path ("/a?u=https://x" is cut above,
        // "/proxy/https://x" is not) does not make a scheme.
        Some((s, r)) if is_scheme(s) => (Some(s), r),
        _ => {
            return Parts {
                path: rest,
                query,
                fragment,
                ..Parts::default()
            }
        }
    };
    let slash = after_scheme.find('/').unwrap_or(after_scheme.len());
    let (authority, path) = crate::cut::split_at(after_scheme, slash);
    let (userinfo, host_port) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    Parts {
        scheme,
        userinfo,
        host_port,
        path,
        query,
        fragment,
    }
}

fn is_scheme(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

/// The host without port, userinfo or IPv6 brackets (`api.openai.com`,
/// `::1`), as written (not lower-cased); `None` for a relative URL or an
/// empty host.
pub fn host(url: &str) -> Option<&str> {
    let parts = split(url);
    parts.scheme?;
    let hp = parts.host_port;
    let host = if let Some(inner) = hp.strip_prefix('[') {
        inner.split(']').next().unwrap_or_default()
    } else {
        hp.split(':').next().unwrap_or_default()
    };
    (!host.is_empty()).then_some(host)
}

/// `scheme://host:port`, without userinfo, path, query or fragment; `None`
/// for a relative URL. Rate limits and breakers are kept per origin, and an
/// origin is safe to show: it never holds credentials.
pub fn origin(url: &str) -> Option<String> {
    let parts = split(url);
    let scheme = parts.scheme?;
    Some(join(&[scheme, "://", parts.host_port], ""))
}

/// Everything after the authority, as written: the path, query and
/// fragment (`/v1/x?key=1#f`); the whole input for a relative URL. A
/// fallback route puts this after its own base URL.
pub fn path_onwards(url: &str) -> &str {
    let parts = split(url);
    let Some(scheme) = parts.scheme else {
        return url;
    };
    let userinfo = parts.userinfo.map_or(0, |u| u.len() + 1);
    url.get(scheme.len() + 3 + userinfo + parts.host_port.len()..)
        .unwrap_or("")
}

/// The request `url` sent to a fallback route's `base`, an API base as SDKs
/// take one (`https://gw.example/openai/v1`): the base replaces the URL's
/// origin and the part of its path the two share, the longest end of the
/// base's path that begins the URL's path, in whole segments (`/v1`). So
/// `https://api.openai.com/v1/chat/completions` on that base is
/// `https://gw.example/openai/v1/chat/completions`, and on a base with no
/// path (`https://backup.example`) the whole path follows it. The query and
/// fragment are kept.
pub fn rebase(url: &str, base: &str) -> String {
    let base = base.trim_end_matches('/');
    let path = split(url).path;
    let base_path = split(base).path;
    let shared = base_path
        .match_indices('/')
        .filter_map(|(at, _)| base_path.get(at..))
        .find(|end| {
            path.strip_prefix(end)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        })
        .map_or(0, str::len);
    let onwards = path_onwards(url);
    join(&[base, onwards.get(shared..).unwrap_or(onwards)], "")
}

/// Whether a path segment names an API version: `v1`, `v2`, `v1beta`.
fn is_version(segment: &str) -> bool {
    let b = segment.as_bytes();
    b.len() >= 2 && b[0] == b'v' && b[1].is_ascii_digit() && b.iter().all(u8::is_ascii_alphanumeric)
}

/// The part of a request path after its API base, which ends with the first
/// version segment: `/v1/chat/completions` and Groq's
/// `/openai/v1/chat/completions` are both `/chat/completions`. A path
/// without a version segment is kept whole.
pub fn api_path(path: &str) -> &str {
    let mut at = 0;
    for segment in path.split('/') {
        let end = at + segment.len();
        if is_version(segment) {
            return path.get(end..).unwrap_or_default();
        }
        at = end + 1;
    }
    path
}

/// Where the model sits in a Gemini-style path
/// (`/v1beta/models/gemini-2.0-flash:generateContent`), as a byte range.
fn path_model_range(path: &str) -> Option<std::ops::Range<usize>> {
    let start = crate::classify::search::find(path, "/models/")? + "/models/".len();
    let len = path.get(start..)?.find([':', '/'])?;
    let colon = path.as_bytes().get(start + len) == Some(&b':');
    (len > 0 && colon).then_some(start..start + len)
}

/// The model a request URL names in its path (Gemini's
/// `/models/{model}:generateContent`), if any.
pub fn path_model(url: &str) -> Option<&str> {
    let path = split(url).path;
    path.get(path_model_range(path)?)
}

/// `url` with the model in its path replaced by `model` (percent-encoded),
/// or `None` if its path names no model.
pub fn with_path_model(url: &str, model: &str) -> Option<String> {
    let path = split(url).path;
    let range = path_model_range(path)?;
    // The path is a slice of the URL: find where it starts.
    let offset = url.len() - path_onwards(url).len();
    let (start, end) = (offset + range.start, offset + range.end);
    Some(join(
        &[url.get(..start)?, &encode(model), url.get(end..)?],
        "",
    ))
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            const HEX: &[u8; 16] = b"0123456789ABCDEF";
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
        }
    }
    out
}

/// The request `url` sent to an Azure OpenAI deployment on its classic data
/// plane: `{endpoint}/openai/deployments/{deployment}{api path}?api-version=…`
/// (`/v1/chat/completions` becomes `…/deployments/{deployment}/chat/completions`),
/// keeping the request's other query parameters but its credentials.
pub fn azure(endpoint: &str, deployment: &str, api_version: &str, url: &str) -> String {
    let parts = split(url);
    let mut out = join(
        &[
            endpoint.trim_end_matches('/'),
            "/openai/deployments/",
            &encode(deployment),
            api_path(parts.path),
            "?api-version=",
            &encode(api_version),
        ],
        "",
    );
    let dropped = |name: &str| {
        name.eq_ignore_ascii_case("api-version")
            || crate::limits::key::IDENTITY_PARAMS
                .iter()
                .any(|p| p.eq_ignore_ascii_case(name))
    };
    let pairs = parts.query.unwrap_or_default().split('&');
    for pair in pairs.filter(|p| !p.is_empty()) {
        if !dropped(pair.split('=').next().unwrap_or_default()) {
            out.push('&');
            out.push_str(pair);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_onwards_keeps_path_query_and_fragment() {
        let f = path_onwards;
        assert_eq!(f("https://u:pw@h:1/v1/x?key=1#f"), "/v1/x?key=1#f");
        assert_eq!(f("https://h?x=1"), "?x=1");
        assert_eq!(f("https://h#f"), "#f");
        assert_eq!(f("https://h"), "");
        assert_eq!(f("/v1/chat?x"), "/v1/chat?x");
    }

    #[test]
    fn a_route_base_replaces_the_origin_and_the_path_it_shares() {
        let chat = "https://api.openai.com/v1/chat/completions";
        // The defect: a base with a path doubled the version.
        assert_eq!(
            rebase(chat, "https://gw.example/openai/v1"),
            "https://gw.example/openai/v1/chat/completions"
        );
        assert_eq!(
            rebase(chat, "https://gw.example/openai/v1/"),
            "https://gw.example/openai/v1/chat/completions"
        );
        // A base without a path, or with one the URL does not share, keeps the whole path.
        assert_eq!(
            rebase(chat, "http://127.0.0.1:8787"),
            "http://127.0.0.1:8787/v1/chat/completions"
        );
        assert_eq!(
            rebase(chat, "https://gw.example/proxy"),
            "https://gw.example/proxy/v1/chat/completions"
        );
        assert_eq!(
            rebase(chat, "https://backup.example/v1"),
            "https://backup.example/v1/chat/completions"
        );
        // Whole segments only: /v1 is not shared with /v1beta.
        let gemini =
            "https://generativelanguage.googleapis.com/v1beta/models/m:generateContent?alt=sse";
        assert_eq!(
            rebase(gemini, "https://gw.example/google/v1"),
            "https://gw.example/google/v1/v1beta/models/m:generateContent?alt=sse"
        );
        assert_eq!(
            rebase(gemini, "https://gw.example/google/v1beta"),
            "https://gw.example/google/v1beta/models/m:generateContent?alt=sse"
        );
        // OpenRouter's and Groq's bases share two segments.
        assert_eq!(
            rebase(
                "https://openrouter.ai/api/v1/chat/completions",
                "https://gw.example/or/api/v1"
            ),
            "https://gw.example/or/api/v1/chat/completions"
        );
        assert_eq!(rebase("https://h/v1", "https://g/v1"), "https://g/v1");
        assert_eq!(rebase("https://h?x=1", "https://g/v1"), "https://g/v1?x=1");
        assert_eq!(rebase("/v1/x", "https://g/a/v1"), "https://g/a/v1/x");
    }

    #[test]
    fn the_api_path_follows_the_first_version_segment() {
        assert_eq!(api_path("/v1/chat/completions"), "/chat/completions");
        assert_eq!(api_path("/openai/v1/chat/completions"), "/chat/completions");
        assert_eq!(api_path("/api/v1/embeddings"), "/embeddings");
        assert_eq!(
            api_path("/v1beta/models/m:generateContent"),
            "/models/m:generateContent"
        );
        assert_eq!(api_path("/chat/completions"), "/chat/completions");
        assert_eq!(api_path("/v1"), "");
        assert_eq!(api_path("/video/v/x"), "/video/v/x", "not a version");
        assert_eq!(api_path(""), "");
    }

    #[test]
    fn a_model_in_the_path_is_read_and_replaced() {
        let url = "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:generateContent?alt=sse";
        assert_eq!(path_model(url), Some("gemini-2.0-flash"));
        assert_eq!(
            with_path_model(url, "gemini-2.5-flash").as_deref(),
            Some("https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent?alt=sse")
        );
        assert_eq!(
            with_path_model("/v1beta/models/a:countTokens", "b c/d").as_deref(),
            Some("/v1beta/models/b%20c%2Fd:countTokens")
        );
        for none in [
            "https://api.openai.com/v1/chat/completions",
            "https://api.openai.com/v1/models/gpt-4o",
            "https://h/v1beta/models/:generateContent",
            "https://h/x?u=/models/m:y",
        ] {
            assert_eq!(path_model(none), None, "{none}");
            assert_eq!(with_path_model(none, "m"), None, "{none}");
        }
    }

    #[test]
    fn an_azure_deployment_url() {
        assert_eq!(
            azure(
                "https://res.openai.azure.com/",
                "gpt-4o-mini",
                "2024-10-21",
                "https://api.openai.com/v1/chat/completions"
            ),
            "https://res.openai.azure.com/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21"
        );
        assert_eq!(
            azure(
                "http://127.0.0.1:1",
                "d",
                "2025-01-01-preview",
                "https://gw/openai/v1/embeddings?trace=1&key=AIza&api-version=old&api_key=s"
            ),
            "http://127.0.0.1:1/openai/deployments/d/embeddings?api-version=2025-01-01-preview&trace=1"
        );
    }

    #[test]
    fn absolute_urls_split_into_every_part() {
        let p = split("https://user:pw@API.example.com:8443/v1/x?key=1&a=b#frag");
        assert_eq!(
            p,
            Parts {
                scheme: Some("https"),
                userinfo: Some("user:pw"),
                host_port: "API.example.com:8443",
                path: "/v1/x",
                query: Some("key=1&a=b"),
                fragment: Some("frag"),
            }
        );
        let bare = split("http://localhost");
        assert_eq!(
            (bare.host_port, bare.path, bare.query),
            ("localhost", "", None)
        );
    }

    #[test]
    fn query_and_fragment_bound_the_authority() {
        // An "@" after "?" is not userinfo.
        let p = split("https://h.com?to=a@b.c");
        assert_eq!(
            (p.userinfo, p.host_port, p.query),
            (None, "h.com", Some("to=a@b.c"))
        );
        let p = split("https://h.com#x@y");
        assert_eq!((p.userinfo, p.host_port), (None, "h.com"));
        // The last "@" ends the userinfo (a password may hold "@").
        assert_eq!(split("https://u:p@ss@h.com/").userinfo, Some("u:p@ss"));
    }

    #[test]
    fn relative_urls_are_paths() {
        let p = split("/v1/x?key=1#f");
        assert_eq!(
            (p.scheme, p.host_port, p.path, p.query, p.fragment),
            (None, "", "/v1/x", Some("key=1"), Some("f"))
        );
        assert_eq!(split("/proxy/https://x.com").scheme, None);
        assert_eq!(split("").path, "");
        assert_eq!(split("not a url").path, "not a url");
    }

    #[test]
    fn hosts_and_origins() {
        assert_eq!(host("https://u:p@Api.Groq.com:443/x"), Some("Api.Groq.com"));
        assert_eq!(host("http://[::1]:8787/x"), Some("::1"));
        assert_eq!(host("https:///path"), None);
        assert_eq!(host("/relative"), None);
        assert_eq!(
            origin("https://user:pw@api.openai.com:443/v1?key=s").as_deref(),
            Some("https://api.openai.com:443")
        );
        assert_eq!(origin("/v1/x"), None);
    }
}

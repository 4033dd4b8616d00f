//! Splitting URLs into their parts, the one place ratewise does it.
//!
//! This is a lexical splitter, not a validating parser (RFC 3986 section 3
//! order: `scheme://userinfo@host:port/path?query#fragment`). It never
//! allocates except in [`origin`], never panics, and borrows every part from
//! the input, so it is cheap enough to run on every request.

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
    let (scheme, after_scheme) = match rest.split_once("://") {
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
    let (authority, path) =
        after_scheme.split_at(after_scheme.find('/').unwrap_or(after_scheme.len()));
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
    Some(format!("{scheme}://{}", parts.host_port))
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

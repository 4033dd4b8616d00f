//! A fallback route's credentials in place of the request's: which headers
//! carry an API key, what each is set to, and what an Azure route removes.
//! The wasm layer applies the changes to the request's `Headers`; they are
//! decided here.

use crate::limits::key::IDENTITY_HEADERS;
use crate::text::fill;

/// The headers a route's `apiKey` replaces, where the request has them.
pub const KEY_HEADERS: [&str; 4] = ["authorization", "x-api-key", "api-key", "x-goog-api-key"];

/// One change to the outgoing headers: set the header to the value, or
/// delete it (`None`).
pub type HeaderChange = (String, Option<String>);

/// A route's credentials, as its options give them.
#[derive(Debug, Clone, Copy, Default)]
pub struct RouteCredentials<'a> {
    /// `apiKey`: replaces the request's key.
    pub api_key: Option<&'a str>,
    /// `azure.apiKey`: the route goes to another provider.
    pub azure_key: Option<&'a str>,
    /// The route's own `headers`, set (`Some`) or removed (`None`), in order.
    pub headers: &'a [(String, Option<String>)],
}

/// The changes that turn the request's headers into the route's, in the
/// order they apply. `present` says whether the request has a header (by
/// lower-case name).
///
/// - An Azure route is another provider: none of the request's credentials
///   ([`IDENTITY_HEADERS`]) go there, and `api-key` carries its key.
/// - An `apiKey` replaces each of [`KEY_HEADERS`] the request has
///   (`authorization` as `Bearer …`, the others as the bare key); a request
///   with none gets `authorization`.
/// - The route's own `headers` come last, so they win.
pub fn route_headers(
    present: impl Fn(&str) -> bool,
    route: RouteCredentials<'_>,
) -> Vec<HeaderChange> {
    // Loops and pushes, not `extend` with iterator chains: each of those
    // was an extend and an adapter of its own in the `.wasm` (issue 25).
    let mut changes: Vec<HeaderChange> = Vec::new();
    if let Some(key) = route.azure_key {
        for name in IDENTITY_HEADERS {
            changes.push((name.to_owned(), None));
        }
        changes.push(("api-key".to_owned(), Some(key.to_owned())));
    } else if let Some(key) = route.api_key {
        let value = |name: &str| match name {
            "authorization" => fill("Bearer {}", &[key]),
            _ => key.to_owned(),
        };
        for name in KEY_HEADERS {
            if present(name) {
                changes.push((name.to_owned(), Some(value(name))));
            }
        }
        // None of them: `authorization`.
        if changes.is_empty() {
            changes.push(("authorization".to_owned(), Some(value("authorization"))));
        }
    }
    for change in route.headers {
        changes.push(change.clone());
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn changes(present: &[&str], route: RouteCredentials<'_>) -> Vec<(String, Option<String>)> {
        route_headers(|name| present.contains(&name), route)
    }

    fn set(name: &str, value: &str) -> (String, Option<String>) {
        (name.to_owned(), Some(value.to_owned()))
    }

    #[test]
    fn an_api_key_replaces_each_key_header_the_request_has_in_its_own_form() {
        let route = RouteCredentials {
            api_key: Some("sk-b"),
            ..Default::default()
        };
        assert_eq!(
            changes(&["authorization", "openai-project"], route),
            [set("authorization", "Bearer sk-b")]
        );
        assert_eq!(
            changes(&["x-api-key", "anthropic-version"], route),
            [set("x-api-key", "sk-b")]
        );
        assert_eq!(
            changes(&["x-goog-api-key", "api-key"], route),
            [set("api-key", "sk-b"), set("x-goog-api-key", "sk-b")]
        );
    }

    #[test]
    fn a_request_without_a_key_header_gets_authorization() {
        let route = RouteCredentials {
            api_key: Some("sk-b"),
            ..Default::default()
        };
        assert_eq!(changes(&[], route), [set("authorization", "Bearer sk-b")]);
    }

    #[test]
    fn an_azure_route_sends_none_of_the_request_credentials() {
        let route = RouteCredentials {
            api_key: Some("ignored"),
            azure_key: Some("az-key"),
            ..Default::default()
        };
        let got = changes(&["authorization", "openai-organization"], route);
        let removed: Vec<&str> = got
            .iter()
            .filter(|(_, v)| v.is_none())
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>();
        assert_eq!(removed, IDENTITY_HEADERS);
        assert_eq!(got.last(), Some(&set("api-key", "az-key")));
        assert!(!got.iter().any(|(_, v)| v.as_deref() == Some("ignored")));
    }

    #[test]
    fn the_route_headers_come_last_and_win() {
        let own = [
            set("openai-project", "proj_b"),
            ("openai-organization".to_owned(), None),
            set("authorization", "Bearer mine"),
        ];
        let route = RouteCredentials {
            api_key: Some("sk-b"),
            headers: &own,
            ..Default::default()
        };
        let got = changes(&["authorization"], route);
        assert_eq!(got[0], set("authorization", "Bearer sk-b"));
        assert_eq!(&got[1..], &own);
        assert_eq!(
            changes(
                &["authorization"],
                RouteCredentials {
                    headers: &own,
                    ..Default::default()
                }
            ),
            own
        );
    }
}

//! One module per provider: its hosts, the headers and body shapes that give
//! it away, and its rules (a table of what its error bodies say and what
//! that means). This file is the registry that ties them together.
//!
//! Adding a provider is one file here plus its line in [`REGISTRY`] and its
//! [`Provider`] variant. The other files: `rule.rs` (a row of a table and
//! how it matches), `signals.rs` (what the rules read from a response),
//! `rows.rs` (every rule, pre-sorted for [`decide`]) and `window.rs` (the
//! limit's window a message names).
//!
//! # How rules decide
//!
//! Every rule of every provider is checked, whoever answered: proxies,
//! relays and OpenAI-compatible servers pass bodies through, so a body's
//! own signature counts more than the host. Rules are narrow (an exact
//! code, type or phrase), and when several match, the kind that matters
//! most wins, in the order of [`rank`]: a body that says both "rate limit"
//! and "monthly spend limit" is out of quota, not rate-limited.

use crate::classify::body::{ErrorBody, Shape};
use crate::classify::headers::Headers;
use crate::classify::provider::Provider;

mod anthropic;
mod azure;
pub(crate) mod bedrock;
mod cohere;
mod deepseek;
mod fireworks;
mod gemini;
mod generic;
mod groq;
mod mistral;
mod openai;
mod openrouter;
mod rows;
mod rule;
mod signals;
mod together;
mod vertex;
mod window;
mod xai;

use rule::bit;
pub use rule::{rank, On, Rule};
pub use signals::Signals;
pub use window::window;

/// A provider: how to recognise it and what its error bodies mean.
pub struct Def {
    /// Which provider this is.
    pub id: Provider,
    /// Host patterns: `example.com` matches it and its subdomains; a
    /// pattern with one `*` matches any host with that prefix and suffix.
    pub hosts: &'static [&'static str],
    /// Whether the response headers give the provider away.
    pub headers: fn(&Headers) -> bool,
    /// What its error bodies mean.
    pub rules: &'static [Rule],
}

/// For providers whose headers say nothing.
fn no_headers(_: &Headers) -> bool {
    false
}

/// Every provider. Headers are checked in this order, so a provider whose
/// responses also carry another's headers (Azure sends `openai-*` ones)
/// comes first.
pub const REGISTRY: [&Def; 15] = [
    &anthropic::DEF,
    &groq::DEF,
    &azure::DEF,
    &openai::DEF,
    &gemini::DEF,
    &vertex::DEF,
    &bedrock::DEF,
    &openrouter::DEF,
    &mistral::DEF,
    &deepseek::DEF,
    &xai::DEF,
    &cohere::DEF,
    &together::DEF,
    &fireworks::DEF,
    &generic::DEF,
];

/// The strongest rule that matches, from every provider's table: rules
/// are tried kind by kind, strongest first (registry order among equals),
/// and the first match wins, so a quota body stops at the first quota rule.
pub fn decide(s: &Signals<'_>) -> Option<&'static Rule> {
    // One pass: a rule is only tried when it would beat the best match so
    // far, so the first match of the strongest kind (in registry order)
    // wins, as if the kinds were tried one by one.
    let empty = rows::empty_fields(s);
    let (mut best_rank, mut best) = (u8::MAX, None);
    for row in rows::rows() {
        if row.rank < best_rank
            && row.status[0] <= s.status
            && s.status <= row.status[1]
            && row.named & empty & !row.empty_ok == 0
            && row.rule.matches(s)
        {
            (best_rank, best) = (row.rank, Some(row.rule));
        }
    }
    best
}

/// Whether `host` (lower-case) matches a [`Def::hosts`] pattern.
fn host_matches(host: &str, pattern: &str) -> bool {
    // Each branch below needs the host to end as the pattern does (unless
    // the pattern ends in its `*`): most patterns fail this cheap check.
    if !pattern.ends_with('*') && host.as_bytes().last() != pattern.as_bytes().last() {
        return false;
    }
    // `split_once('*')` is a char searcher set up per pattern and host.
    match crate::classify::search::split_once(pattern, "*") {
        Some((prefix, suffix)) => {
            host.len() > prefix.len() + suffix.len()
                && host.starts_with(prefix)
                && host.ends_with(suffix)
        }
        None => {
            host == pattern
                || host
                    .strip_suffix(pattern)
                    .is_some_and(|rest| rest.ends_with('.'))
        }
    }
}

/// The provider a host belongs to.
pub fn from_host(host: &str) -> Option<Provider> {
    REGISTRY
        .iter()
        .find(|def| def.hosts.iter().any(|p| host_matches(host, p)))
        .map(|def| def.id)
}

/// The provider the headers give away.
pub fn from_headers(headers: &Headers) -> Option<Provider> {
    REGISTRY
        .iter()
        .find(|def| (def.headers)(headers))
        .map(|def| def.id)
}

/// The provider a body's shape gives away: a distinctive shape first, then
/// the three generic ones.
pub fn from_body(body: &ErrorBody) -> Option<Provider> {
    body.hint.or(match body.shape {
        Some(Shape::OpenAi) => Some(Provider::OpenAi),
        Some(Shape::Anthropic) => Some(Provider::Anthropic),
        Some(Shape::Gemini) => Some(Provider::Gemini),
        None => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `decide` as it was before the rows: every rule of every table read.
    fn decide_reading_every_rule(s: &Signals<'_>) -> Option<&'static Rule> {
        let mut best: Option<(u8, &'static Rule)> = None;
        for def in REGISTRY {
            for rule in def.rules {
                let r = rank(rule.kind);
                if best.is_none_or(|(b, _)| r < b) && rule.matches(s) {
                    best = Some((r, rule));
                }
            }
        }
        best.map(|(_, rule)| rule)
    }

    #[test]
    fn the_rows_decide_as_reading_every_rule_does() {
        // Bodies made of every rule's own values, alone and in pairs, at
        // every status a rule names, and an empty body.
        let mut values: Vec<(On, &str)> = vec![];
        for def in REGISTRY {
            for rule in def.rules {
                values.extend(rule.when.iter().copied());
            }
        }
        let body = |conditions: &[(On, &str)]| {
            let mut b = ErrorBody::default();
            let mut message = String::new();
            for &(on, value) in conditions {
                match on {
                    On::Ty => b.error_type = Some(value.into()),
                    On::Code => b.code = Some(value.into()),
                    On::Inner => b.inner_code = Some(value.into()),
                    On::Says | On::AndSays => message = format!("{message} {value}"),
                }
            }
            b.message = (!message.is_empty()).then_some(message);
            b
        };
        let mut bodies = vec![ErrorBody::default()];
        for (i, &a) in values.iter().enumerate() {
            bodies.push(body(&[a]));
            bodies.push(body(&[a, values[(i * 7 + 3) % values.len()]]));
        }
        let mut decided = 0;
        for b in &bodies {
            for status in [
                0, 200, 400, 401, 402, 403, 404, 408, 413, 429, 500, 503, 529,
            ] {
                let s = Signals::new(status, b);
                // Rules are compared by what they decide (a `const` table's
                // address is not the same at each use).
                let what = |r: Option<&Rule>| r.map(|r| (r.kind, r.reason, r.window));
                let want = decide_reading_every_rule(&s);
                assert_eq!(what(decide(&s)), what(want), "{status} {b:?}");
                decided += usize::from(want.is_some());
            }
        }
        assert!(decided > 1_000, "only {decided} bodies matched a rule");
    }

    #[test]
    fn host_patterns() {
        assert!(host_matches("api.openai.com", "openai.com"));
        assert!(host_matches("openai.com", "openai.com"));
        assert!(!host_matches("evilopenai.com", "openai.com"));
        assert!(host_matches(
            "us-central1-aiplatform.googleapis.com",
            "*-aiplatform.googleapis.com"
        ));
        assert!(!host_matches(
            "-aiplatform.googleapis.com",
            "*-aiplatform.googleapis.com"
        ));
        assert!(host_matches(
            "bedrock-runtime.us-east-1.amazonaws.com",
            "bedrock-runtime.*.amazonaws.com"
        ));
        assert!(!host_matches(
            "s3.us-east-1.amazonaws.com",
            "bedrock-runtime.*.amazonaws.com"
        ));
    }

    #[test]
    fn every_provider_is_registered_once() {
        let mut ids: Vec<_> = REGISTRY.iter().map(|d| d.id.as_str()).collect();
        ids.sort_unstable();
        let before = ids.len();
        ids.dedup();
        assert_eq!(before, ids.len(), "{ids:?}");
    }

    #[test]
    fn reasons_are_one_line() {
        for def in REGISTRY {
            for rule in def.rules {
                assert!(!rule.reason.is_empty() && !rule.reason.contains('\n'));
                for &(on, phrase) in rule.when {
                    if matches!(on, On::Says | On::AndSays) {
                        assert_eq!(
                            phrase,
                            phrase.to_ascii_lowercase(),
                            "phrases are lower-case"
                        );
                    }
                }
            }
        }
    }
}

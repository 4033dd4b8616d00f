//! One module per provider: its hosts, the headers and body shapes that give
//! it away, and its rules (a table of what its error bodies say and what
//! that means). This file is the registry that ties them together.
//!
//! Adding a provider is one file here plus its line in [`REGISTRY`] and its
//! [`Provider`] variant.
//!
//! # How rules decide
//!
//! Every rule of every provider is checked, whoever answered: proxies,
//! relays and OpenAI-compatible servers pass bodies through, so a body's
//! own signature counts more than the host. Rules are narrow (an exact
//! code, type or phrase), and when several match, the kind that matters
//! most wins, in the order of [`rank`]: a body that says both "rate limit"
//! and "monthly spend limit" is out of quota, not rate-limited.

use std::cell::OnceCell;

use crate::classify::body::{ErrorBody, Shape};
use crate::classify::headers::Headers;
use crate::classify::kind::{Kind, Period};
use crate::classify::provider::Provider;
use crate::classify::search::{find_bytes, Pairs};

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
mod together;
mod vertex;
mod xai;

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

/// What the rules read from one response.
pub struct Signals<'a> {
    /// The status the rules go by: the HTTP status, or for a 2xx whose
    /// body is an error object, that object's numeric `code`.
    pub status: u16,
    /// The error body.
    pub body: &'a ErrorBody,
    code: &'a str,
    ty: &'a str,
    message: &'a str,
    lower: OnceCell<Lowered>,
}

/// The lower-cased message, with the set of its pairs of adjacent bytes: a
/// phrase with a pair the set lacks is not in the message, which rules out
/// most of the phrases the rules hold (about a hundred and fifty) without a
/// scan; the others are looked for in full.
struct Lowered {
    text: Vec<u8>,
    pairs: Pairs,
}

impl Lowered {
    fn new(message: &str) -> Self {
        let text = message.as_bytes().to_ascii_lowercase();
        let pairs = Pairs::of(&text);
        Lowered { text, pairs }
    }

    fn contains(&self, phrase: &[u8]) -> bool {
        self.pairs.may_contain(phrase) && find_bytes(&self.text, phrase).is_some()
    }
}

impl<'a> Signals<'a> {
    /// The signals of `body` at `status`.
    pub fn new(status: u16, body: &'a ErrorBody) -> Self {
        Signals {
            status,
            body,
            code: body.code.as_deref().unwrap_or_default(),
            ty: body.error_type.as_deref().unwrap_or_default(),
            message: body.message.as_deref().unwrap_or_default(),
            lower: OnceCell::new(),
        }
    }

    /// The message, lower-cased and indexed once, only if a rule gets as far as it.
    fn lower(&self) -> &Lowered {
        self.lower.get_or_init(|| Lowered::new(self.message))
    }

    /// Whether the lower-cased message contains any of `phrases`.
    pub fn says(&self, phrases: &[&str]) -> bool {
        if self.message.is_empty() {
            // No phrase is empty: nothing to index or look through.
            return false;
        }
        let lower = self.lower();
        phrases.iter().any(|p| lower.contains(p.as_bytes()))
    }

    /// Whether the response's `on` field is `value` (for the message: contains it).
    fn has(&self, on: On, value: &str) -> bool {
        match on {
            On::Ty => self.ty == value,
            On::Code => self.code == value,
            On::Inner => self.body.inner_code.as_deref().unwrap_or_default() == value,
            On::Says | On::AndSays => self.says(&[value]),
        }
    }

    /// The message as sent.
    pub fn message(&self) -> &str {
        self.message
    }
}

/// Which field of a response one condition of a [`Rule`] reads.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum On {
    /// `error.type` (Gemini: `error.status`; AWS: the exception name) is this.
    Ty,
    /// `error.code` is this.
    Code,
    /// A nested code (Azure `innererror.code`, Anthropic `details.error_code`) is this.
    Inner,
    /// The lower-cased message contains this.
    Says,
    /// ... and also contains one of these.
    AndSays,
}

/// The fields a rule can name, in the order they are checked (the cheap
/// compares before the message search).
const FIELDS: [On; 5] = [On::Ty, On::Code, On::Inner, On::Says, On::AndSays];

/// One row of a provider's table: when every condition that is set
/// matches, the response is `kind`. A field named by several conditions
/// matches when any of them does; a field named by none matches anything.
///
/// The conditions are one flat list of `(field, value)` pairs rather than a
/// list per field: most rules name one or two fields, so a row is 28 bytes
/// instead of 60 on wasm32 (five mostly empty slices), read by the one
/// matcher below.
#[derive(Clone, Copy)]
pub struct Rule {
    /// What the response is when the rule matches.
    pub kind: Kind,
    /// The `reason` the classification carries.
    pub reason: &'static str,
    /// The conditions, as `(field, value)` pairs.
    pub when: &'static [(On, &'static str)],
    /// The status is in this inclusive range.
    pub status: [u16; 2],
    /// Anything else the rule needs to check.
    pub test: Option<fn(&Signals<'_>) -> bool>,
    /// The window the limit covers, when the rule knows it better than the message.
    pub window: Option<Period>,
}

impl Rule {
    /// A rule that matches everything: fill in what it checks.
    pub const fn new(kind: Kind, reason: &'static str) -> Rule {
        Rule {
            kind,
            reason,
            when: &[],
            status: [0, 999],
            test: None,
            window: None,
        }
    }

    fn matches(&self, s: &Signals<'_>) -> bool {
        (self.status[0]..=self.status[1]).contains(&s.status)
            && self.conditions_hold(s)
            && self.test.is_none_or(|test| test(s))
    }

    /// Whether each field a condition names has a condition that holds,
    /// the fields in the order of [`FIELDS`]: one pass over the conditions
    /// for the cheap compares, then one per message search that some
    /// condition names (most rules name none).
    fn conditions_hold(&self, s: &Signals<'_>) -> bool {
        // Bit `f` of each: field `f` is named / has a condition that holds.
        let (mut named, mut held) = (0u8, 0u8);
        for stage in [COMPARES, bit(On::Says), bit(On::AndSays)] {
            if stage != COMPARES && named & stage == 0 {
                continue;
            }
            for &(on, value) in self.when {
                let b = bit(on);
                if stage == COMPARES {
                    named |= b;
                }
                if stage & b != 0 && held & b == 0 && s.has(on, value) {
                    held |= b;
                }
            }
            if (named ^ held) & stage != 0 {
                return false;
            }
        }
        true
    }
}

/// The field `on` as a bit of a set.
const fn bit(on: On) -> u8 {
    1 << on as u8
}

/// The fields checked by a compare ([`FIELDS`] before the message searches).
const COMPARES: u8 = bit(FIELDS[0]) | bit(FIELDS[1]) | bit(FIELDS[2]);

/// How much a kind matters when rules disagree: a body that reads as out
/// of quota and as rate-limited is out of quota; lower is stronger.
pub fn rank(kind: Kind) -> u8 {
    match kind {
        Kind::BudgetExhausted | Kind::QuotaExhausted => 0,
        Kind::ContextLength => 1,
        Kind::RequestTooLarge => 2,
        Kind::RateLimit => 3,
        Kind::Overloaded => 4,
        Kind::ContentFilter => 5,
        Kind::Auth => 6,
        Kind::Permission => 7,
        Kind::NotFound => 8,
        Kind::ServerError => 9,
        Kind::Timeout => 10,
        Kind::BadRequest => 11,
        _ => 12,
    }
}

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

/// Whether `haystack` contains `needle`: a scan for the needle's first
/// byte, then a compare. The phrases the rules look for are a few bytes
/// long and messages a few hundred, where this beats `str::contains`'
/// two-way searcher, whose setup alone costs more than the scan.
pub fn contains_short(haystack: &[u8], needle: &[u8]) -> bool {
    let Some((&first, rest)) = needle.split_first() else {
        return true;
    };
    if haystack.len() < needle.len() {
        return false;
    }
    let last_start = haystack.len() - needle.len();
    haystack[..=last_start]
        .iter()
        .enumerate()
        .any(|(i, &b)| b == first && haystack[i + 1..i + needle.len()] == *rest)
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

/// Phrases that name a limit's window, longest window first, so a message
/// naming several (Gemini lists every quota it hit) gets the one that
/// heals last.
const WINDOWS: [(Period, &[&str]); 5] = [
    (
        Period::Month,
        &["per month", "monthly", "/ month", "/month"],
    ),
    (Period::Week, &["per week", "weekly", "/ week"]),
    (
        Period::Day,
        &[
            "per day", "per-day", "per_day", "perday", "(tpd)", "(rpd)", "/ day", "daily",
        ],
    ),
    (
        Period::Hour,
        &[
            "per hour", "per-hour", "per_hour", "perhour", "hourly", "/ hour",
        ],
    ),
    (
        Period::Minute,
        &[
            "per minute",
            "per-minute",
            "per_minute",
            "perminute",
            "(tpm)",
            "(rpm)",
            "/ minute",
        ],
    ),
];

/// The window of the limit a rate-limit or quota response names: from the
/// rule, else the message and the quota ids. `None` when it names none.
pub fn window(kind: Kind, rule: Option<&Rule>, s: &Signals<'_>) -> Option<Period> {
    if !matches!(
        kind,
        Kind::RateLimit | Kind::QuotaExhausted | Kind::RequestTooLarge
    ) {
        return None;
    }
    if let Some(window) = rule.and_then(|r| r.window) {
        return Some(window);
    }
    let ids: Vec<String> = s
        .body
        .quota_ids
        .iter()
        .map(|id| id.to_ascii_lowercase())
        .collect();
    WINDOWS.iter().find_map(|(period, phrases)| {
        let named = s.says(phrases)
            || ids.iter().any(|id| {
                phrases
                    .iter()
                    .any(|p| contains_short(id.as_bytes(), p.as_bytes()))
            });
        named.then_some(*period)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phrase_search_agrees_with_str_contains() {
        // Every haystack of up to 6 bytes and needle of up to 3 over "ab".
        let words = |max: usize| {
            let mut all = vec![String::new()];
            for len in 1..=max {
                for bits in 0..1u32 << len {
                    all.push(
                        (0..len)
                            .map(|i| if bits >> i & 1 == 1 { 'b' } else { 'a' })
                            .collect(),
                    );
                }
            }
            all
        };
        for h in words(6) {
            for n in words(3) {
                assert_eq!(
                    contains_short(h.as_bytes(), n.as_bytes()),
                    h.contains(&n),
                    "{h:?} {n:?}"
                );
            }
        }
        assert!(contains_short("rate limit per day".as_bytes(), b"per day"));
        assert!(!contains_short("per da".as_bytes(), b"per day"));
    }

    #[test]
    fn the_message_index_agrees_with_a_search_of_the_lowered_message() {
        // Every message of up to 5 pieces over a few bytes, and every phrase
        // of up to 3: the pair set may only rule out phrases that are absent.
        let words = |pieces: &[&str], max: usize| {
            let mut all = vec![String::new()];
            let mut last = vec![String::new()];
            for _ in 0..max {
                last = last
                    .iter()
                    .flat_map(|w| pieces.iter().map(move |p| format!("{w}{p}")))
                    .collect();
                all.extend(last.iter().cloned());
            }
            all
        };
        let phrases = words(&["a", "b", " ", "é"], 3);
        for message in words(&["a", "B", " ", "é", "ab"], 5) {
            let lower = Lowered::new(&message);
            let lowered = message.to_ascii_lowercase();
            for phrase in &phrases {
                assert_eq!(
                    lower.contains(phrase.as_bytes()),
                    lowered.contains(phrase.as_str()),
                    "{message:?} {phrase:?}"
                );
            }
        }
        // The rules' own phrases in a real message.
        let message = "Rate limit reached for gpt-4o on tokens per min (TPM): Limit 30000, Used 29000. You exceeded your current quota; the engine is currently overloaded, at capacity.";
        let lower = Lowered::new(message);
        for def in REGISTRY {
            for rule in def.rules {
                for &(_, phrase) in rule.when {
                    assert_eq!(
                        lower.contains(phrase.as_bytes()),
                        message.to_ascii_lowercase().contains(phrase),
                        "{phrase:?}"
                    );
                }
            }
        }
    }

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

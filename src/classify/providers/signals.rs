//! What the rules read from one response: its status, the error body's
//! code, type and message, and the message lower-cased and indexed once,
//! only when a rule gets as far as searching it.

use std::cell::OnceCell;

use super::rule::On;
use crate::classify::body::ErrorBody;
use crate::classify::search::{find_bytes, Pairs};

/// What the rules read from one response.
pub struct Signals<'a> {
    /// The status the rules go by: the HTTP status, or for a 2xx whose
    /// body is an error object, that object's numeric `code`.
    pub status: u16,
    /// The error body.
    pub body: &'a ErrorBody,
    pub(super) code: &'a str,
    pub(super) ty: &'a str,
    pub(super) message: &'a str,
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
    pub(super) fn has(&self, on: On, value: &str) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::providers::REGISTRY;

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
}

//! Every provider's rules as one flat table, built once: each rule's rank,
//! status range and the fields its conditions name, so [`super::decide`]
//! passes over most rules without reading their conditions. A profile of
//! `classify()` on a status alone put the rule loop at a third of the call.

use std::sync::OnceLock;

use super::{bit, rank, On, Rule, Signals, REGISTRY};

/// One rule and what rules it out cheaply.
pub(super) struct Row {
    /// [`rank`] of the rule's kind.
    pub rank: u8,
    /// The rule's inclusive status range.
    pub status: [u16; 2],
    /// The fields its conditions name, as bits.
    pub named: u8,
    /// The fields one of its conditions would match when empty: a compare
    /// with `""` (a message search never matches an empty message).
    pub empty_ok: u8,
    /// The rule.
    pub rule: &'static Rule,
}

/// The rows of every rule, in registry order.
pub(super) fn rows() -> &'static [Row] {
    static ROWS: OnceLock<Vec<Row>> = OnceLock::new();
    ROWS.get_or_init(|| {
        let mut rows = Vec::new();
        for def in REGISTRY {
            for rule in def.rules {
                let (mut named, mut empty_ok) = (0, 0);
                for &(on, value) in rule.when {
                    named |= bit(on);
                    if value.is_empty() && !matches!(on, On::Says | On::AndSays) {
                        empty_ok |= bit(on);
                    }
                }
                rows.push(Row {
                    rank: rank(rule.kind),
                    status: rule.status,
                    named,
                    empty_ok,
                    rule,
                });
            }
        }
        rows
    })
}

/// The fields of `s` that are empty, as bits: a rule that names one of
/// them (and would not match it empty) cannot match.
pub(super) fn empty_fields(s: &Signals<'_>) -> u8 {
    let mut empty = 0;
    for (on, text) in [
        (On::Ty, s.ty),
        (On::Code, s.code),
        (On::Inner, s.body.inner_code.as_deref().unwrap_or_default()),
        (On::Says, s.message),
        (On::AndSays, s.message),
    ] {
        if text.is_empty() {
            empty |= bit(on);
        }
    }
    empty
}

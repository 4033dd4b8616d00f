//! One row of a provider's table ([`Rule`]), the fields its conditions
//! read ([`On`]), how a rule matches, and how much its kind matters when
//! several match ([`rank`]).

use super::signals::Signals;
use crate::classify::kind::{Kind, Period};

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

    pub(super) fn matches(&self, s: &Signals<'_>) -> bool {
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
pub(super) const fn bit(on: On) -> u8 {
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

//! Who answers a call once its loop has ended, decided in one place: the
//! call's own last answer, the `onQuotaExhausted` hook's fallback, or the
//! cached-response fallback ([`crate::cache`]); and whether a success is
//! stored for that fallback.
//!
//! The order, first to last:
//! 1. A success is the answer; with the cache on, it is stored too.
//! 2. A call that ended out of quota, to which `onQuotaExhausted` offered
//!    an answer, gets that answer: the hook's fallback comes first.
//! 3. A call whose routes were all out of quota or down gets the last good
//!    answer to the same request from the cache, if one is fresh.
//! 4. Otherwise the last answer (or error) stands.
//!
//! The `onQuotaExhausted` hook's place: it is told of every quota failure,
//! from the network or the breaker, right after the answer is heard and
//! before what next is decided ([`tells_hook`]); the first answer it offers
//! is the one kept ([`keep`]).

use crate::classify::kind::Kind;

/// Whether `onQuotaExhausted` is told of an answer of `kind` (it may offer
/// an answer of its own): every quota failure is.
pub fn tells_hook(kind: Kind) -> bool {
    kind == Kind::QuotaExhausted
}

/// The hook's answer a call keeps, given the one it `kept` and one it was
/// just `offered`: the first stands.
pub fn keep<R>(kept: Option<R>, offered: Option<R>) -> Option<R> {
    kept.or(offered)
}

/// Who answers the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallback {
    /// The call's last answer stands (stored in the cache first when
    /// `store`).
    Last {
        /// Whether to store the answer, a success, for the cache.
        store: bool,
    },
    /// The answer `onQuotaExhausted` returned.
    Hook,
    /// The cache's entry for the request, if fresh; else the last answer.
    Cache,
}

/// Who answers a call that ended as `kind`, when the quota hook `offered`
/// an answer and the request is `cacheable` (the cache is on, and it may
/// hold this request).
pub fn fallback(kind: Kind, offered: bool, cacheable: bool) -> Fallback {
    match kind {
        Kind::Ok => Fallback::Last { store: cacheable },
        Kind::QuotaExhausted if offered => Fallback::Hook,
        _ if cacheable && crate::cache::answers(kind) => Fallback::Cache,
        _ => Fallback::Last { store: false },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hook_hears_every_quota_failure_and_its_first_answer_stands() {
        assert!(tells_hook(Kind::QuotaExhausted));
        for kind in [Kind::Ok, Kind::RateLimit, Kind::Overloaded, Kind::Network] {
            assert!(!tells_hook(kind), "{kind:?}");
        }
        assert_eq!(keep(None, Some(2)), Some(2));
        assert_eq!(keep(Some(1), Some(2)), Some(1));
        assert_eq!(keep(Some(1), None), Some(1));
        assert_eq!(keep::<u8>(None, None), None);
    }

    #[test]
    fn the_hooks_answer_comes_before_the_cache() {
        assert_eq!(fallback(Kind::QuotaExhausted, true, true), Fallback::Hook);
        assert_eq!(fallback(Kind::QuotaExhausted, true, false), Fallback::Hook);
        assert_eq!(fallback(Kind::QuotaExhausted, false, true), Fallback::Cache);
    }

    #[test]
    fn the_cache_answers_only_quota_and_outages_and_stores_only_successes() {
        assert_eq!(
            fallback(Kind::Ok, false, true),
            Fallback::Last { store: true }
        );
        assert_eq!(
            fallback(Kind::Ok, false, false),
            Fallback::Last { store: false }
        );
        assert_eq!(fallback(Kind::Overloaded, false, true), Fallback::Cache);
        assert_eq!(fallback(Kind::Network, false, true), Fallback::Cache);
        for kind in [Kind::RateLimit, Kind::BadRequest, Kind::Auth] {
            assert_eq!(fallback(kind, false, true), Fallback::Last { store: false });
        }
        assert_eq!(
            fallback(Kind::Overloaded, false, false),
            Fallback::Last { store: false }
        );
        // The hook only answers for a quota.
        assert_eq!(fallback(Kind::Overloaded, true, true), Fallback::Cache);
    }
}

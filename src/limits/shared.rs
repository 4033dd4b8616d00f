//! What an instance shares with other instances through a [`Store`]: the
//! quota breaker, so that one account found empty by one Worker isolate is
//! empty for all of them within a round trip, and request permits leased
//! against one shared limit ([`crate::limits::lease`]).
//!
//! The store is the seam a Durable Object coordinator plugs into: its
//! methods are async, and an instance's own state stays the fast path. A
//! key is looked up at most once per [`REFRESH_MS`] per instance; a change
//! (a trip, or a close after a good probe) is published when it happens. A
//! store that fails is only a missed update: calls go on with what the
//! instance knows. [`Local`] is the store of an instance that shares
//! nothing (browsers, Node, a Worker without a coordinator).

use std::convert::Infallible;

use crate::limits::key::{Idle, KeyMap, LimitKey};
use crate::limits::lease::{Grant, Report};

/// How long what the store said about a key is trusted before it is asked
/// again, ms.
pub const REFRESH_MS: f64 = 1_000.0;

/// A change to shared state, seen by one instance.
#[derive(Debug, Clone, PartialEq)]
pub enum Change<F> {
    /// The key's quota is exhausted: its breaker is open until `retry_at_ms`.
    Tripped {
        /// The key.
        key: LimitKey,
        /// What its callers are answered with meanwhile.
        failure: F,
        /// When a probe may go, ms since the epoch.
        retry_at_ms: f64,
    },
    /// A call to the key succeeded: its breaker is closed.
    Closed {
        /// The key.
        key: LimitKey,
    },
}

/// An open breaker as the store holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct Trip<F> {
    /// What callers are answered with.
    pub failure: F,
    /// When a probe may go, ms since the epoch.
    pub retry_at_ms: f64,
}

/// Where instances share breaker state. Implementations may be remote and
/// slow; their errors never fail a call.
// One thread (wasm has no others), so no `Send` bounds.
#[allow(async_fn_in_trait)]
pub trait Store<F> {
    /// Why the store could not answer.
    type Error;
    /// Whether the store shares anything at all (`false` skips every call).
    fn shared(&self) -> bool {
        true
    }
    /// Tells the other instances of a change.
    async fn publish(&self, change: &Change<F>) -> Result<(), Self::Error>;
    /// The open breaker of `key`, if any instance tripped it.
    async fn lookup(&self, key: LimitKey) -> Result<Option<Trip<F>>, Self::Error>;
    /// Up to `want` request permits for `key`, for calls each expected to
    /// use `tokens` (0: none known), forwarding the newest `report` of its
    /// windows (see [`crate::limits::lease`]).
    async fn lease(
        &self,
        key: LimitKey,
        want: u32,
        tokens: f64,
        report: Option<Report>,
    ) -> Result<Grant, Self::Error>;
}

/// The store of an instance that shares nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Local;

impl<F> Store<F> for Local {
    type Error = Infallible;
    fn shared(&self) -> bool {
        false
    }
    async fn publish(&self, _change: &Change<F>) -> Result<(), Infallible> {
        Ok(())
    }
    async fn lookup(&self, _key: LimitKey) -> Result<Option<Trip<F>>, Infallible> {
        Ok(None)
    }
    async fn lease(
        &self,
        _: LimitKey,
        want: u32,
        _: f64,
        _: Option<Report>,
    ) -> Result<Grant, Infallible> {
        Ok(Grant::Permits(want))
    }
}

/// When a key was last looked up.
#[derive(Debug, Clone, Copy)]
struct Looked(f64);

impl Idle for Looked {
    fn idle(&self, now_ms: f64) -> bool {
        now_ms - self.0 >= REFRESH_MS
    }
}

/// Which keys are due a lookup (bounded like every per-key map).
#[derive(Debug, Default)]
pub struct Freshness {
    looked: KeyMap<Looked>,
}

impl Freshness {
    /// Whether `key` is due a lookup at `now_ms`; if so, it counts as
    /// looked up now (whatever the store answers, it is not asked again
    /// for [`REFRESH_MS`]).
    pub fn due(&mut self, key: LimitKey, now_ms: f64) -> bool {
        let due = self.looked.get(&key).is_none_or(|l| l.idle(now_ms));
        if due {
            self.looked.insert(key, Looked(now_ms), now_ms);
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_due_once_per_refresh_interval() {
        let key = LimitKey::new("https://api.openai.com", Some("sk-a"));
        let mut f = Freshness::default();
        assert!(f.due(key, 0.0));
        assert!(!f.due(key, REFRESH_MS - 1.0));
        assert!(f.due(key, REFRESH_MS));
        let other = LimitKey::new("https://api.openai.com", Some("sk-b"));
        assert!(f.due(other, REFRESH_MS));
    }
}

//! One circuit breaker per [`LimitKey`](crate::limits::key::LimitKey), with
//! two trip rules: a key that trips fails fast (or is skipped) until one
//! probe after a cooldown shows it is back.
//!
//! - [`machine`]: the breaker itself: the gate, opening, probing and the
//!   health report, the same for every rule.
//! - [`quota`]: the rule for an exhausted quota: the first failure opens,
//!   and each failed probe doubles the cooldown (answered from the breaker).
//! - [`outage`]: the rule for a route that is down: `failures` in a row
//!   open, for a fixed cooldown (the route is skipped for another).
//! - [`replay`]: what a replay of a quota failure carries.

pub mod machine;
pub mod outage;
pub mod quota;
pub mod replay;

pub use machine::{Breaker, BreakerState, Gate, Opening, Rule};
pub use quota::{DEFAULT_COOLDOWN_MS, MAX_GROWN_COOLDOWN_MS};
pub use replay::replayed_header;

/// The quota breaker: a [`Breaker`] with [`Rule::quota`] that keeps `F`,
/// the failure its open keys replay.
pub type QuotaBreaker<F> = Breaker<F>;

/// The outage breaker: a [`Breaker`] with [`Rule::outage`], which keeps
/// nothing to replay (`F` is the quota breaker's, to share its code).
pub type OutageBreaker<F> = Breaker<F>;

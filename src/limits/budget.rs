//! A retry budget: a token bucket that every retry draws from and every
//! success refills a little, so when most calls fail the client stops
//! retrying instead of multiplying the load on a struggling server.
//!
//! This is the AWS SDK "standard" retry mode's retry quota (the same idea as
//! gRPC's `retryThrottling`). The defaults are the AWS values: see "Retry
//! behavior" in the AWS SDKs and Tools Reference Guide, and
//! `INITIAL_RETRY_TOKENS`, `RETRY_COST` and `NO_RETRY_INCREMENT` in
//! aws-sdk-js-v3's `packages/middleware-retry/src/constants.ts`. Unlike AWS,
//! there is no separate cost for timeouts, and every success refunds the
//! same amount.

use super::next::Next;
use crate::retry::policy::Stop;

/// Tokens in a full budget (AWS `INITIAL_RETRY_TOKENS`).
pub const DEFAULT_CAPACITY: u32 = 500;
/// Tokens one retry costs (AWS `RETRY_COST`): 100 retries empty the budget.
pub const DEFAULT_RETRY_COST: u32 = 5;
/// Tokens one success gives back (AWS `NO_RETRY_INCREMENT`).
pub const DEFAULT_REFUND: u32 = 1;

/// A retry budget shared by every call of one client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryBudget {
    capacity: u32,
    retry_cost: u32,
    refund: u32,
    tokens: u32,
}

impl RetryBudget {
    /// A full budget of `capacity` tokens, `retry_cost` per retry and
    /// `refund` back per success. A `retry_cost` of 0 never runs out; a
    /// `capacity` below `retry_cost` never allows a retry.
    pub fn new(capacity: u32, retry_cost: u32, refund: u32) -> Self {
        RetryBudget {
            capacity,
            retry_cost,
            refund,
            tokens: capacity,
        }
    }

    /// Tokens left, between 0 and the capacity.
    pub fn tokens(&self) -> u32 {
        self.tokens
    }
}

impl Default for RetryBudget {
    /// The AWS standard-mode budget: 500 tokens, 5 per retry, 1 back per success.
    fn default() -> Self {
        RetryBudget::new(DEFAULT_CAPACITY, DEFAULT_RETRY_COST, DEFAULT_REFUND)
    }
}

impl RetryBudget {
    /// Takes `retry_cost` tokens; `false`, taking nothing, when fewer are left.
    pub fn try_spend(&mut self) -> bool {
        match self.tokens.checked_sub(self.retry_cost) {
            Some(left) => {
                self.tokens = left;
                true
            }
            None => false,
        }
    }

    /// Gives back `refund` tokens, never beyond the capacity.
    pub fn record_success(&mut self) {
        self.tokens = self.tokens.saturating_add(self.refund).min(self.capacity);
    }
}

/// The retry budget's say on what next ([`super::next::ORDER`]): a retry
/// of the same route costs the budget and a success refunds it; a retry it
/// refuses moves to the next route instead when the call `fails_over` (its
/// kind is one the caller fails over on, and it has somewhere to go: a move
/// costs no retry budget), and stops otherwise.
pub fn next(budget: Option<&mut RetryBudget>, next: Next, fails_over: bool) -> Next {
    let Some(budget) = budget else {
        return next;
    };
    match next {
        Next::Stop(Stop::Success) => budget.record_success(),
        Next::Retry { .. } if !budget.try_spend() => {
            return if fails_over {
                Next::FailOver
            } else {
                Next::Stop(Stop::BudgetEmpty)
            };
        }
        _ => {}
    }
    next
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_allow_a_hundred_retries_in_a_row() {
        let mut b = RetryBudget::default();
        assert_eq!(b.tokens(), 500);
        assert_eq!((0..200).filter(|_| b.try_spend()).count(), 100);
        assert_eq!(b.tokens(), 0);
        assert!(!b.try_spend());
    }

    #[test]
    fn successes_refund_until_a_retry_is_affordable() {
        let mut b = RetryBudget::new(10, 4, 1);
        assert!(b.try_spend() && b.try_spend());
        assert_eq!(b.tokens(), 2);
        assert!(!b.try_spend(), "2 left, a retry costs 4");
        assert_eq!(b.tokens(), 2, "a refused retry costs nothing");
        b.record_success();
        assert!(!b.try_spend());
        b.record_success();
        assert!(b.try_spend());
        assert_eq!(b.tokens(), 0);
    }

    #[test]
    fn never_above_capacity() {
        let mut b = RetryBudget::new(7, 5, 3);
        b.record_success();
        assert_eq!(b.tokens(), 7);
        b.try_spend();
        b.record_success();
        assert_eq!(b.tokens(), 5);
        b.record_success();
        assert_eq!(b.tokens(), 7);
        let mut b = RetryBudget::new(u32::MAX, 1, u32::MAX);
        b.try_spend();
        b.record_success();
        assert_eq!(b.tokens(), u32::MAX);
    }

    #[test]
    fn edge_settings() {
        let mut free = RetryBudget::new(0, 0, 0);
        assert!((0..1_000).all(|_| free.try_spend()));
        let mut none = RetryBudget::new(4, 5, 1);
        none.record_success();
        assert!(!none.try_spend());
    }
}

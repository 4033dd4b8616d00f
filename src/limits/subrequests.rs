//! The subrequest budget of one Workers invocation: every network attempt
//! of every call made for the invocation (first attempts, retries and
//! fallback routes alike) spends one, and a call that would need one more
//! than is left stops with the answer it has.
//!
//! Cloudflare allows an invocation 50 subrequests on the free plan; the
//! 51st `fetch` throws "Too many subrequests". Counting them here turns
//! that opaque failure into a stop reason, while the last real answer still
//! reaches the caller.
//!
//! One [`Subrequests`] is shared by the calls of an invocation (in wasm, by
//! the fetch `forInvocation()` returns); each call holds a [`Claim`] on it.
//! The unit for a retry is reserved when the retry is decided, before the
//! previous answer is let go, so a call never finds the budget spent after
//! it has nothing left to return.

use crate::shared::Shared;

use super::next::Next;
use crate::retry::policy::Stop;

/// The subrequests a Workers invocation may make on the free plan.
pub const DEFAULT_SUBREQUESTS: u32 = 50;

/// The budget of one invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subrequests {
    limit: u32,
    spent: u32,
}

impl Subrequests {
    /// A budget of `limit` network attempts.
    pub fn new(limit: u32) -> Self {
        Subrequests { limit, spent: 0 }
    }

    /// How many attempts the budget allows in all.
    pub fn limit(&self) -> u32 {
        self.limit
    }

    /// How many have been taken (reserved or sent).
    pub fn spent(&self) -> u32 {
        self.spent
    }

    fn try_take(&mut self) -> bool {
        let ok = self.spent < self.limit;
        if ok {
            self.spent += 1;
        }
        ok
    }

    fn give_back(&mut self) {
        self.spent = self.spent.saturating_sub(1);
    }
}

/// One call's hold on an invocation's budget: at most one unit, reserved
/// ahead of the attempt it pays for. A unit still held when the call ends
/// (its attempt never went) goes back to the budget.
#[derive(Debug)]
pub struct Claim<'a> {
    budget: Option<&'a Shared<Subrequests>>,
    held: bool,
}

impl<'a> Claim<'a> {
    /// A claim on `budget`; with none, every reservation succeeds.
    pub fn new(budget: Option<&'a Shared<Subrequests>>) -> Self {
        Claim {
            budget,
            held: false,
        }
    }

    /// Reserves the unit for the next attempt, unless one is held already;
    /// `false` when the budget is spent.
    pub fn reserve(&mut self) -> bool {
        if !self.held {
            self.held = self.budget.is_none_or(|b| b.borrow_mut().try_take());
        }
        self.held
    }

    /// The reserved unit paid for an attempt that was sent.
    pub fn sent(&mut self) {
        self.held = false;
    }
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        if let (true, Some(budget)) = (self.held, self.budget) {
            budget.borrow_mut().give_back();
        }
    }
}

impl<S: Clone> super::Limiters<S> {
    /// The subrequest budget's say before the attempt `pass` lets go: it
    /// takes the unit `claim` reserved when the retry was decided, or, for
    /// a first attempt, one reserved now. With none left the attempt is not
    /// sent (the pass is given back, see [`super::Limiters::abandon`]) and
    /// `false` ends the call, which has nothing to answer with.
    pub fn pay(&mut self, pass: &super::Pass, claim: &mut Claim<'_>, now_ms: f64) -> bool {
        if !claim.reserve() {
            self.abandon(pass, now_ms);
            return false;
        }
        claim.sent();
        true
    }
}

/// The subrequest budget's say on what next ([`super::next::ORDER`]): any
/// further attempt, a retry or a move to the next route, needs one of the
/// invocation's subrequests, reserved now, so that a call with none left
/// still holds its last answer.
pub fn next(claim: &mut Claim<'_>, next: Next) -> Next {
    match next {
        Next::Retry { .. } | Next::FailOver if !claim.reserve() => {
            Next::Stop(Stop::SubrequestsSpent)
        }
        _ => next,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claim_takes_one_unit_per_attempt_sent() {
        let budget = Shared::new(Subrequests::new(2));
        let mut claim = Claim::new(Some(&budget));
        assert!(claim.reserve());
        assert!(claim.reserve(), "a held unit is not taken twice");
        assert_eq!(budget.borrow().spent(), 1);
        claim.sent();
        assert!(claim.reserve());
        claim.sent();
        assert!(!claim.reserve(), "two sent: the budget is spent");
        assert_eq!(budget.borrow().spent(), 2);
    }

    #[test]
    fn a_unit_reserved_but_not_sent_goes_back() {
        let budget = Shared::new(Subrequests::new(1));
        {
            let mut claim = Claim::new(Some(&budget));
            assert!(claim.reserve());
        }
        assert_eq!(budget.borrow().spent(), 0);
        let mut other = Claim::new(Some(&budget));
        assert!(other.reserve());
    }

    #[test]
    fn without_a_budget_everything_goes() {
        let mut claim = Claim::new(None);
        for _ in 0..100 {
            assert!(claim.reserve());
            claim.sent();
        }
    }
}

//! The spend budgets' place in the pipeline ([`super::spend`] keeps their
//! books; not to be confused with the retry budget, [`super::budget`]).
//! They decide twice, and both decisions are here:
//!
//! - **Before the call** ([`before`] on the instance's books, or a
//!   [`Reserving`] over a coordinator's answers, then [`then`]): hold the
//!   call's estimate and send it, move a bulk call past a budget's soft
//!   threshold to a cheaper route, or refuse it as over budget.
//! - **After the call** ([`after`]): a success whose usage will be read
//!   settles its holds at the real cost then; any other call releases them.
//!
//! The wasm layer (src/wasm/budgets.rs, budgets_shared.rs) only converts
//! values, sends the coordinator's messages and awaits its answers.

use super::key::LimitKey;
use super::lanes::Lane;
use super::routes::RouteKey;
use super::spend::{self, Cost, Exhausted, Holds, Spend, Verdict};
use crate::classify::kind::Kind;

/// What the budgets say before a call, holding `H` (the instance's
/// [`Holds`], or a coordinator's).
#[derive(Debug, PartialEq)]
pub enum Before<H> {
    /// Send it with its estimate held; on route `moved` when a budget
    /// moved it there (`Scope::moved_to`).
    Go {
        /// What is held, to settle or release once.
        holds: H,
        /// The route a budget moved the call to.
        moved: Option<usize>,
    },
    /// A budget is spent: answer it without sending (nothing is held).
    Refuse(Exhausted),
}

/// The key of a call's budgets on `route`: the route's account, or an empty
/// key for a route the call lacks.
pub fn key_on(keys: &[RouteKey], route: usize) -> LimitKey {
    keys.get(route)
        .map_or_else(|| LimitKey::new("", None), |k| k.account)
}

/// Decides a call on the instance's own books at `now_ms` (see
/// [`Spend::admit`]): its routes' `keys`, its `tag` and `lane`, and what it
/// is expected to cost.
pub fn before(
    spend: &mut Spend,
    keys: &[RouteKey],
    tag: Option<&str>,
    lane: Lane,
    estimate: Cost,
    now_ms: f64,
) -> Before<Holds> {
    let (route, verdict) = spend.admit(keys, 0, tag, lane, |_| estimate, now_ms);
    match verdict {
        Verdict::Go(holds) => Before::Go {
            holds,
            moved: (route > 0).then_some(route),
        },
        // A move to a route the call lacks is never returned (see Spend::admit).
        Verdict::Move { .. } => Before::Go {
            holds: Holds::default(),
            moved: None,
        },
        Verdict::Exhausted(e) => Before::Refuse(e),
    }
}

/// One budget a call reserves on at a coordinator.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Target {
    /// The budget's index in the instance's list.
    pub budget: usize,
    /// The scope whose coordinator keeps its books.
    pub scope: LimitKey,
    /// The estimate in the budget's unit.
    pub amount: f64,
    /// The budget's limit in that unit.
    pub limit: f64,
}

/// The budgets a call with `keys` and `tag` reserves on at a coordinator
/// when it starts on `route`, in the order they are asked.
pub fn targets(
    spend: &Spend,
    keys: &[RouteKey],
    route: usize,
    tag: Option<&str>,
    estimate: Cost,
) -> Vec<Target> {
    // A loop, not a collect: no from_iter, extend and Map::next of their own.
    let mut targets = Vec::new();
    for (budget, b, scope) in spend.scopes_for(key_on(keys, route), tag) {
        targets.push(Target {
            budget,
            scope,
            amount: estimate.in_unit(b.limit().unit),
            limit: b.limit().value,
        });
    }
    targets
}

/// A coordinator's answer to one budget's reserve.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// Held; the books now stand at `fraction` of the limit, this hold
    /// included.
    Held {
        /// Spent and held over the limit.
        fraction: f64,
    },
    /// The budget is spent.
    Spent(Exhausted),
    /// No answer (failed or late).
    Silent,
}

/// What reserving on a coordinator's books came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Reserved {
    /// Held on each budget.
    Held,
    /// A budget moves the call to this route: release what is held.
    Move(usize),
    /// A budget is spent: release what is held.
    Spent(Exhausted),
    /// The coordinator did not answer: release what is held.
    Down,
}

/// A call reserving on a coordinator's books, one budget after the other:
/// [`heard`](Self::heard) takes each answer, [`end`](Self::end) what the
/// last one leaves.
#[derive(Debug, Clone, Copy)]
pub struct Reserving {
    route: usize,
    routes: usize,
    lane: Lane,
    moved: Option<usize>,
}

impl Reserving {
    /// A call in `lane`, with `routes` routes, reserving for `route`.
    pub fn new(route: usize, routes: usize, lane: Lane) -> Reserving {
        Reserving {
            route,
            routes,
            lane,
            moved: None,
        }
    }

    /// Where budget `budget`, whose books stood at `fraction` before this
    /// call, moves it: only from the first route, to a route it has.
    fn moves(&self, spend: &Spend, budget: usize, fraction: f64) -> Option<usize> {
        let b = spend.budgets().nth(budget)?;
        let to = spend::moves(b, self.lane, self.route, fraction)?;
        (self.route == 0 && to < self.routes).then_some(to)
    }

    /// `target`'s coordinator answered `answer`: `None` to ask the next
    /// budget, or how the reserve ends.
    pub fn heard(&mut self, spend: &Spend, target: &Target, answer: Answer) -> Option<Reserved> {
        match answer {
            Answer::Held { fraction } => {
                // The answer's fraction counts this call's hold.
                let before = fraction - target.amount / target.limit;
                if self.moved.is_none() {
                    self.moved = self.moves(spend, target.budget, before);
                }
                None
            }
            Answer::Silent => Some(Reserved::Down),
            Answer::Spent(e) => {
                let fraction = (e.spent + e.reserved) / e.limit;
                Some(match self.moves(spend, target.budget, fraction) {
                    Some(to) => Reserved::Move(to),
                    None => Reserved::Spent(e),
                })
            }
        }
    }

    /// Every budget held: the call goes, unless one of them moves it.
    pub fn end(self) -> Reserved {
        match self.moved {
            Some(to) => Reserved::Move(to),
            None => Reserved::Held,
        }
    }
}

/// What a call does once reserving for `route` came to `reserved`.
#[derive(Debug, Clone, PartialEq)]
pub enum Then {
    /// Send it with the coordinator's holds (on `moved`, if any).
    Go {
        /// The route a budget moved it to.
        moved: Option<usize>,
    },
    /// Reserve again, for this route, where it stays.
    Again(usize),
    /// Send it holding nothing.
    Bare,
    /// Answer it as over budget.
    Refuse(Exhausted),
    /// Decide on the instance's own books ([`before`]).
    Local,
}

/// What a call does once reserving at a coordinator for `route` came to
/// `reserved`: a move from the first route reserves once more on the new
/// route, a move from there is not followed.
pub fn then(route: usize, reserved: Reserved) -> Then {
    match reserved {
        Reserved::Held => Then::Go {
            moved: (route > 0).then_some(route),
        },
        Reserved::Move(to) if route == 0 => Then::Again(to),
        Reserved::Move(_) => Then::Bare,
        Reserved::Spent(e) => Then::Refuse(e),
        Reserved::Down => Then::Local,
    }
}

/// What becomes of a call's holds once it has ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum After {
    /// They go with its answer and settle at the real cost when its usage
    /// is read.
    Settle,
    /// They are released: it cost nothing the budgets count.
    Release,
}

/// What becomes of the holds of a call that ended as `kind` (its own
/// answer, not a fallback's), when its usage is `read` from successes.
pub fn after(kind: Kind, read: bool) -> After {
    if kind == Kind::Ok && read {
        After::Settle
    } else {
        After::Release
    }
}

#[cfg(test)]
#[path = "budgets_tests.rs"]
mod tests;

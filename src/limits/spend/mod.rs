//! Spend budgets: limits on what calls cost (USD or tokens) over a day, a
//! calendar month or a rolling span, with alerts below the cap. Not to be
//! confused with the retry budget ([`super::budget`]).
//!
//! - [`config`]: a [`Budget`] as the caller sets it up, validated.
//! - [`window`]: day, month (UTC) and rolling windows from epoch ms.
//! - [`books`]: one scope's [`Books`]: reservations, settling, rollover.
//! - [`alert`]: threshold alerts and the forecast.
//! - [`codec`]: the books as ten numbers for durable storage.
//! - [`answer`]: the local 429 a call the budget stops is answered with.
//!
//! [`Spend`] holds an instance's budgets and their books, per scope: the
//! call's limit key (credential and project) for a budget without a tag,
//! or the tag's one set of books for a budget with one. A call reserves its
//! estimate on every budget that applies before it is sent
//! ([`Spend::reserve`]), and settles the real cost when its usage arrives
//! ([`Spend::settle`]) or releases the hold if it sent nothing
//! ([`Spend::release`]). Every method takes `now_ms`: the whole thing is
//! tested with a fake clock. The books of each budget live in a
//! [`KeyMap`], so any number of keys stays bounded (past its capacity the
//! books of idle scopes go first, then the least recently used, whose spend
//! is then forgotten); tags name budgets, so they add nothing to hold.

pub mod alert;
pub mod answer;
pub mod books;
pub mod codec;
pub mod config;
pub mod window;

pub use alert::Alert;
pub use books::{Books, Exhausted, Reservation, Status};
pub use codec::CodecError;
pub use config::{Amount, Budget, BudgetError, Cost, OnExhausted, Unit};
pub use window::{Span, Window};

use super::key::{KeyMap, LimitKey};
use super::lanes::Lane;
use super::routes::RouteKey;

/// What a call brings to its budgets.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    /// Its limit key (credential and project; see [`super::key`]).
    pub key: LimitKey,
    /// Its tag (`x-ratewise-budget` or `init.budget`), if any.
    pub tag: Option<&'a str>,
    /// Its lane: bulk calls may be moved to a cheaper route.
    pub lane: Lane,
    /// The route it is about to go on.
    pub route: usize,
    /// What it is expected to cost.
    pub estimate: Cost,
}

/// One budget's hold on a call.
#[derive(Debug, PartialEq)]
struct Hold {
    budget: usize,
    scope: LimitKey,
    reservation: Reservation,
}

/// A call's holds on every budget that applies to it, from
/// [`Spend::reserve`]: hand them to [`Spend::settle`] or [`Spend::release`]
/// exactly once.
#[derive(Debug, PartialEq, Default)]
#[must_use = "holds must be settled or released"]
pub struct Holds(Vec<Hold>);

impl Holds {
    /// Whether no budget applies to the call.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// What the budgets say about a call.
#[derive(Debug, PartialEq)]
pub enum Verdict {
    /// Send it: its estimate is held.
    Go(Holds),
    /// A bulk call past a budget's soft threshold: ask again for `route`
    /// (nothing is held).
    Move {
        /// The cheap route.
        route: usize,
        /// The budget that moved it.
        budget: String,
    },
    /// A budget is spent: answer without sending (nothing is held).
    Exhausted(Exhausted),
}

/// An instance's spend budgets and their books.
#[derive(Debug, Clone, Default)]
pub struct Spend {
    budgets: Vec<(Budget, KeyMap<Books>)>,
}

/// Whether `budget` moves a call in `lane`, about to start on `route`,
/// whose books stood at `fraction` of the limit (spent and held) before it:
/// a bulk call past an [`OnExhausted::MoveBulk`] budget's soft threshold,
/// not yet on its route, goes to that route. Interactive calls never move.
pub fn moves(budget: &Budget, lane: Lane, route: usize, fraction: f64) -> Option<usize> {
    match budget.on_exhausted() {
        OnExhausted::MoveBulk { route: to, from }
            if lane == Lane::Bulk && to != route && fraction >= from =>
        {
            Some(to)
        }
        _ => None,
    }
}

/// The scope key of a budget's books: the call's limit key, or for a tagged
/// budget one key for the tag.
pub fn scope_of(budget: &Budget, key: LimitKey) -> LimitKey {
    match budget.tag() {
        Some(tag) => LimitKey::new("ratewise:budget-tag", Some(tag)),
        None => key,
    }
}

impl Spend {
    /// The books of `budgets`, at most `max_keys` scopes per budget (the
    /// least recently used go first past it; see [`KeyMap`]). Names must
    /// be unique.
    pub fn new(budgets: Vec<Budget>, max_keys: usize) -> Result<Spend, BudgetError> {
        for (i, b) in budgets.iter().enumerate() {
            if budgets[..i].iter().any(|o| o.name() == b.name()) {
                return Err(BudgetError::DuplicateName(b.name().to_owned()));
            }
        }
        let mut with_books = Vec::with_capacity(budgets.len());
        for b in budgets {
            with_books.push((b, KeyMap::with_capacity(max_keys)));
        }
        let budgets = with_books;
        Ok(Spend { budgets })
    }

    /// Whether there are no budgets (every call goes, holding nothing).
    pub fn is_empty(&self) -> bool {
        self.budgets.is_empty()
    }

    /// The budgets, in the order given.
    pub fn budgets(&self) -> impl Iterator<Item = &Budget> {
        self.budgets.iter().map(|(b, _)| b)
    }

    /// The budgets that apply to a call with `tag`, with their index.
    fn applying<'a>(
        &self,
        tag: Option<&'a str>,
    ) -> impl Iterator<Item = (usize, &Budget)> + use<'_, 'a> {
        self.budgets
            .iter()
            .enumerate()
            .filter(move |(_, (b, _))| b.tag().is_none() || b.tag() == tag)
            .map(|(i, (b, _))| (i, b))
    }

    /// The budgets that apply to a call with limit key `key` and `tag`,
    /// each with its index and the scope key of its books: where a
    /// coordinator keeps them (the Durable Object named by the scope's hex).
    pub fn scopes_for<'a>(
        &'a self,
        key: LimitKey,
        tag: Option<&'a str>,
    ) -> impl Iterator<Item = (usize, &'a Budget, LimitKey)> + 'a {
        self.applying(tag)
            .map(move |(i, b)| (i, b, scope_of(b, key)))
    }

    /// Decides `call` at `now_ms`: every budget without a tag applies (per
    /// limit key), and every budget with the call's tag. A bulk call past a
    /// [`OnExhausted::MoveBulk`] budget's soft threshold, not yet on its
    /// route, is moved; otherwise the estimate is held on each budget, or
    /// if one is spent, on none.
    pub fn reserve(&mut self, call: &Call<'_>, now_ms: f64) -> Verdict {
        self.reserve_moving(call, true, now_ms)
    }

    /// [`reserve`](Self::reserve) for a call whose routes have `keys`, about
    /// to start on `route`, expected to cost `estimate(route)` there: the
    /// budgets of the route's account key apply. A move to a route the call
    /// has is followed once (a move to a route it lacks is not: it stays);
    /// returns the route to start on and the verdict there.
    pub fn admit(
        &mut self,
        keys: &[RouteKey],
        route: usize,
        tag: Option<&str>,
        lane: Lane,
        estimate: impl Fn(usize) -> Cost,
        now_ms: f64,
    ) -> (usize, Verdict) {
        let call = |route: usize| {
            let key = keys.get(route).map(|k| k.account);
            let key = key.unwrap_or_else(|| LimitKey::new("", None));
            Call {
                key,
                tag,
                lane,
                route,
                estimate: estimate(route),
            }
        };
        match self.reserve_moving(&call(route), true, now_ms) {
            Verdict::Move { route: to, .. } if to < keys.len() => {
                (to, self.reserve_moving(&call(to), false, now_ms))
            }
            Verdict::Move { .. } => (route, self.reserve_moving(&call(route), false, now_ms)),
            verdict => (route, verdict),
        }
    }

    fn reserve_moving(&mut self, call: &Call<'_>, moving: bool, now_ms: f64) -> Verdict {
        if moving && call.lane == Lane::Bulk {
            for (i, budget) in self.applying(call.tag) {
                let scope = scope_of(budget, call.key);
                let books = self.budgets[i].1.get(&scope);
                let fraction = books.map_or(0.0, |b| b.committed_fraction(budget, now_ms));
                if let Some(route) = moves(budget, call.lane, call.route, fraction) {
                    let budget = budget.name().to_owned();
                    return Verdict::Move { route, budget };
                }
            }
        }
        let mut holds = Holds::default();
        let mut applying: Vec<usize> = Vec::new();
        for (i, _) in self.applying(call.tag) {
            applying.push(i);
        }
        for i in applying {
            let (budget, books) = &mut self.budgets[i];
            let scope = scope_of(budget, call.key);
            let estimate = call.estimate.in_unit(budget.limit().unit);
            let reserved = books
                .entry_or_default(scope, now_ms)
                .reserve(budget, estimate, now_ms);
            match reserved {
                Ok(reservation) => holds.0.push(Hold {
                    budget: i,
                    scope,
                    reservation,
                }),
                Err(exhausted) => {
                    self.release(holds, now_ms);
                    return Verdict::Exhausted(exhausted);
                }
            }
        }
        Verdict::Go(holds)
    }

    /// The call holding `holds` cost `actual`: each budget is charged in
    /// its unit (see [`Books::settle`]). Returns the alerts this crossed.
    pub fn settle(&mut self, holds: Holds, actual: Cost, now_ms: f64) -> Vec<Alert> {
        let mut alerts = Vec::new();
        for hold in holds.0 {
            let Some((budget, books)) = self.budgets.get_mut(hold.budget) else {
                continue;
            };
            let actual = actual.in_unit(budget.limit().unit);
            let books = books.entry_or_default(hold.scope, now_ms);
            alerts.extend(books.settle(budget, hold.reservation, actual, now_ms));
        }
        alerts
    }

    /// The call holding `holds` sent nothing: every hold is freed.
    pub fn release(&mut self, holds: Holds, now_ms: f64) {
        for hold in holds.0 {
            if let Some((budget, books)) = self.budgets.get_mut(hold.budget) {
                if let Some(books) = books.get_mut(&hold.scope) {
                    books.release(budget, hold.reservation, now_ms);
                }
            }
        }
    }

    /// Every scope's books of every budget at `now_ms`: the budget, the
    /// scope (show only [`LimitKey::short`]) and where it stands.
    pub fn statuses(&self, now_ms: f64) -> Vec<(&Budget, LimitKey, Status)> {
        // Loops, not a flat_map collected: no FlatMap, from_iter and extend
        // of their own in the `.wasm` (issue 25).
        let mut statuses = Vec::new();
        for (b, books) in &self.budgets {
            for (k, v) in books.iter() {
                statuses.push((b, *k, v.status(b, now_ms)));
            }
        }
        statuses
    }

    /// The books of budget `budget` (an index into [`budgets`](Self::budgets))
    /// for a call with `key`, if any were kept.
    pub fn books(&self, budget: usize, key: LimitKey) -> Option<&Books> {
        let (b, books) = self.budgets.get(budget)?;
        books.get(&scope_of(b, key))
    }

    /// How many scopes' books budget `budget` holds.
    pub fn scopes(&self, budget: usize) -> usize {
        self.budgets.get(budget).map_or(0, |(_, books)| books.len())
    }
}

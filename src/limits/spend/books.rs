//! One scope's books for one budget: what its current window has spent,
//! what calls in flight have reserved, and which alerts went out.
//!
//! - **Reserve before sending.** [`Books::reserve`] holds a call's estimated
//!   amount, and refuses when what is spent plus what is held plus the
//!   estimate would pass the limit: twenty concurrent calls cannot all pass
//!   a budget with room for two. Only a refused call sends nothing; a call
//!   that estimated too little can still pass the limit when it settles,
//!   by at most its own error.
//! - **Settle.** [`Books::settle`] replaces the estimate with the real
//!   amount, up or down; [`Books::release`] frees a call that sent nothing.
//!   Alerts come from settling only: a reservation is not spend, and the
//!   forecast only moves later while nothing settles.
//! - **Window rollover.** A new window starts with nothing spent and no
//!   alerts fired. The reservations still in flight are carried into it, so
//!   they keep their room; their calls settle into the new window, which is
//!   the one the money is known in (the old window is gone: charging it
//!   would charge nobody). Reservations older than the previous window are
//!   forgotten at the next rollover, so a call that never settles (an
//!   isolate that died mid-call) holds room for two windows at most.

use super::alert::{self, Alert, Fired};
use super::config::{Budget, Unit};
use super::window::Span;
use crate::limits::key::Idle;

/// How far past the limit float rounding may take a sum and still pass
/// (relative): ten reservations of 0.1 fit a limit of 1.
const ROUNDING: f64 = 1e-9;

/// A call's hold on a budget, from [`Books::reserve`]: hand it to
/// [`Books::settle`] or [`Books::release`] exactly once (it is neither
/// `Clone` nor `Copy`, so it cannot be settled twice by mistake).
#[derive(Debug, PartialEq)]
#[must_use = "a reservation must be settled or released"]
pub struct Reservation {
    start_ms: f64,
    amount: f64,
}

impl Reservation {
    /// The amount held, in the budget's unit.
    pub fn amount(&self) -> f64 {
        self.amount
    }

    /// When the window it was made in started, ms since the epoch.
    pub fn window_start_ms(&self) -> f64 {
        self.start_ms
    }

    /// The reservation as `[window_start_ms, amount]`, to send it to a
    /// coordinator that keeps the books.
    pub fn to_parts(&self) -> [f64; 2] {
        [self.start_ms, self.amount]
    }

    /// A reservation read back from [`to_parts`](Self::to_parts): `None`
    /// unless both are finite and the amount is at least 0.
    pub fn from_parts(parts: [f64; 2]) -> Option<Reservation> {
        let [start_ms, amount] = parts;
        (start_ms.is_finite() && amount.is_finite() && amount >= 0.0)
            .then_some(Reservation { start_ms, amount })
    }
}

/// Why a call may not go: the budget is spent (or would be by this call).
#[derive(Debug, Clone, PartialEq)]
pub struct Exhausted {
    /// The budget's name.
    pub budget: String,
    /// What it counts.
    pub unit: Unit,
    /// Its limit.
    pub limit: f64,
    /// Settled spend in the window.
    pub spent: f64,
    /// Held by calls in flight.
    pub reserved: f64,
    /// When the window ends and the budget resets, ms since the epoch.
    pub resets_at_ms: f64,
}

/// Where one scope's window stands, for `stats()` and health endpoints.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Status {
    /// Settled spend in the window.
    pub spent: f64,
    /// Held by calls in flight.
    pub reserved: f64,
    /// The budget's limit.
    pub limit: f64,
    /// The window.
    pub window: Span,
}

/// One scope's books for one budget; every method takes the budget (the
/// books do not keep a copy) and `now_ms`.
#[derive(Debug, Clone, PartialEq)]
pub struct Books {
    /// The current window (`start_ms` is -inf for books never used).
    pub(super) span: Span,
    /// Settled spend in it.
    pub(super) spent: f64,
    /// Held by calls reserved in it.
    pub(super) held: f64,
    /// Held by calls reserved in the previous window, still in flight.
    pub(super) carried: f64,
    /// When the window `carried` was reserved in started.
    pub(super) carried_from_ms: f64,
    /// The alerts that went out in the window.
    pub(super) fired: Fired,
    /// Calls settled in the window (for the forecast).
    pub(super) settles: u32,
}

impl Default for Books {
    fn default() -> Self {
        Books {
            span: Span {
                start_ms: f64::NEG_INFINITY,
                end_ms: f64::NEG_INFINITY,
            },
            spent: 0.0,
            held: 0.0,
            carried: 0.0,
            carried_from_ms: f64::NEG_INFINITY,
            fired: Fired::default(),
            settles: 0,
        }
    }
}

/// `v` if it is a number of at least 0, else 0.
fn non_negative(v: f64) -> f64 {
    if v > 0.0 {
        v
    } else {
        0.0
    }
}

impl Books {
    /// Moves the books to the window of `now_ms` if it is a later one. A
    /// clock that went back keeps the current window.
    fn roll(&mut self, budget: &Budget, now_ms: f64) {
        let span = budget.window().span(now_ms);
        if span.start_ms > self.span.start_ms {
            *self = Books {
                span,
                carried: self.held,
                carried_from_ms: self.span.start_ms,
                ..Books::default()
            };
        }
    }

    /// What counts against the limit: spent plus held.
    fn committed(&self) -> f64 {
        self.spent + self.held + self.carried
    }

    /// Holds `estimate` (in the budget's unit; below 0 or not a number
    /// counts as 0) for a call about to be sent at `now_ms`, or says the
    /// budget is exhausted: when what is spent and held already reaches the
    /// limit, or the estimate would take it past.
    pub fn reserve(
        &mut self,
        budget: &Budget,
        estimate: f64,
        now_ms: f64,
    ) -> Result<Reservation, Exhausted> {
        self.roll(budget, now_ms);
        let amount = non_negative(estimate);
        let limit = budget.limit().value;
        let committed = self.committed();
        let room = limit * (1.0 + ROUNDING);
        if committed >= limit || committed + amount > room {
            return Err(Exhausted {
                budget: budget.name().to_owned(),
                unit: budget.limit().unit,
                limit,
                spent: self.spent,
                reserved: self.held + self.carried,
                resets_at_ms: self.span.end_ms,
            });
        }
        self.held += amount;
        Ok(Reservation {
            start_ms: self.span.start_ms,
            amount,
        })
    }

    /// Frees what `reservation` held, wherever it is still held (this
    /// window, or the previous one's carried over).
    /// What is left is snapped to 0 when only float rounding is left of it
    /// (0.1 + 0.2 - 0.1 - 0.2 is not 0), so books with nothing in flight
    /// say so.
    fn unhold(&mut self, budget: &Budget, reservation: &Reservation) {
        let left = |held: f64| {
            let v = held - reservation.amount;
            if v > budget.limit().value * ROUNDING {
                v
            } else {
                0.0
            }
        };
        if reservation.start_ms == self.span.start_ms {
            self.held = left(self.held);
        } else if reservation.start_ms == self.carried_from_ms {
            self.carried = left(self.carried);
        }
    }

    /// The call holding `reservation` ended at `now_ms` having cost
    /// `actual` (up or down from its estimate; not a number or infinite
    /// charges the estimate, below 0 charges 0): its hold is freed and the
    /// current window is charged, even past the limit. Returns the alerts
    /// this crossed.
    pub fn settle(
        &mut self,
        budget: &Budget,
        reservation: Reservation,
        actual: f64,
        now_ms: f64,
    ) -> Vec<Alert> {
        self.roll(budget, now_ms);
        self.unhold(budget, &reservation);
        let actual = if actual.is_finite() {
            non_negative(actual)
        } else {
            reservation.amount
        };
        self.spent += actual;
        self.settles = self.settles.saturating_add(1);
        alert::due(
            budget,
            self.spent,
            self.span,
            self.settles,
            &mut self.fired,
            now_ms,
        )
    }

    /// The call holding `reservation` sent nothing (or cost nothing): its
    /// hold is freed.
    pub fn release(&mut self, budget: &Budget, reservation: Reservation, now_ms: f64) {
        self.roll(budget, now_ms);
        self.unhold(budget, &reservation);
    }

    /// The fraction of the limit spent and held at `now_ms` (what a soft
    /// threshold is compared with).
    pub fn committed_fraction(&self, budget: &Budget, now_ms: f64) -> f64 {
        let status = self.status(budget, now_ms);
        alert::fraction(status.spent + status.reserved, status.limit)
    }

    /// Where the window of `now_ms` stands.
    pub fn status(&self, budget: &Budget, now_ms: f64) -> Status {
        let mut books = self.clone();
        books.roll(budget, now_ms);
        Status {
            spent: books.spent,
            reserved: books.held + books.carried,
            limit: budget.limit().value,
            window: books.span,
        }
    }
}

impl Idle for Books {
    /// Books whose window is over and that hold nothing in flight: the next
    /// call starts them afresh anyway.
    fn idle(&self, now_ms: f64) -> bool {
        now_ms >= self.span.end_ms && self.held == 0.0
    }
}

//! The coordinator's side at the boundary: the Durable Object's exports
//! (`coordinatorStep` for the quota breakers' [`Board`], `coordinatorLease`
//! for a key's [`Ledger`]), and the two steps they run, which the Redis
//! coordinator ([`super::redis`]) runs on its record too. The books are
//! the core's ([`crate::coordinator`]); the object only keeps the result in
//! its storage.
//!
//! A failure an instance reported is kept as its parts ([`Replay`]), never
//! classified here: the instance that reads it back classifies it again, so
//! the coordinator's module (`ratewise_coordinator_bg.wasm`, the `coordinator`
//! feature) holds none of the classifier.

use js_sys::Array;
use wasm_bindgen::prelude::*;

use super::bindings::{get, object, type_error};
use super::wire::{failure_from_js, failure_js, key_of, number};
use crate::coordinator::record::Replay;
#[cfg(feature = "coordinator")]
use crate::coordinator::tokens::TokenBook;
use crate::coordinator::{Board, Ledger};
use crate::limits::lease::Report;
use crate::limits::shared::{Change, Trip};

/// Applies a breaker message (`{ op: 'lookup' | 'tripped' | 'closed', key,
/// failure?, retryAtMs? }`) to `board` at `now_ms`: the Durable Object's
/// step and the Redis coordinator's share it. Answers `{ trip: { failure, retryAtMs } | null }`.
pub(super) fn board_op(
    board: &mut Board<Replay>,
    message: &JsValue,
    now_ms: f64,
) -> Result<JsValue, JsValue> {
    let key = key_of(message)?;
    let op = get(message, "op").as_string().unwrap_or_default();
    let mut answer = JsValue::NULL;
    match op.as_str() {
        "lookup" => {
            if let Some(trip) = board.lookup(key, now_ms) {
                answer = object(&[
                    ("failure", failure_js(&trip.failure)),
                    ("retryAtMs", trip.retry_at_ms.into()),
                ]);
            }
        }
        "tripped" => {
            let change = Change::Tripped {
                key,
                failure: failure_from_js(&get(message, "failure"), now_ms)?,
                retry_at_ms: number(message, "retryAtMs")?,
            };
            board.apply(change, now_ms);
        }
        "closed" => board.apply(Change::Closed { key }, now_ms),
        _ => {
            return Err(type_error(
                "ratewise coordinator: `op` must be lookup, tripped or closed",
            ))
        }
    }
    Ok(object(&[("trip", answer)]))
}

/// Applies a lease message (see [`coordinator_lease`]) to a key's `books`
/// at `now_ms`, answering `{ grant }`: the Durable Object's lease step and
/// the Redis coordinator's share it. Also says whether the books changed
/// but for the grants that left them with time (a wait with no report and
/// no turn promised, [`Ledger::lease_stored`]: any later step lets them go
/// the same way, so a store need not write that).
pub(super) fn lease_op(
    books: &mut Ledger,
    message: &JsValue,
    now_ms: f64,
) -> Result<(JsValue, bool), JsValue> {
    key_of(message)?;
    let report = get(message, "report");
    let mut changed = false;
    if let Some(numbers) = report.dyn_ref::<Array>() {
        let numbers: Vec<f64> = numbers
            .iter()
            .map(|n| n.as_f64().unwrap_or(f64::NAN))
            .collect();
        if let Some(report) = Report::from_slice(&numbers) {
            books.report(report);
            changed = true;
        }
    }
    let want = get(message, "want")
        .as_f64()
        .filter(|w| w.is_finite() && *w >= 0.0);
    let want = want.ok_or_else(|| type_error("ratewise coordinator: `want` must be a count"))?;
    // The tokens each call is expected to use; absent (an older instance)
    // or not a count: none known.
    let tokens = get(message, "tokens")
        .as_f64()
        .filter(|t| t.is_finite() && *t >= 0.0)
        .unwrap_or(0.0);
    let (grant, stored) = books.lease_stored(want.min(f64::from(u32::MAX)) as u32, tokens, now_ms);
    changed |= stored;
    Ok((object(&[("grant", grant.to_f64().into())]), changed))
}

/// The Durable Object's step: applies `message` (`{ op: 'lookup' |
/// 'tripped' | 'closed', key, failure?, retryAtMs? }`) to the board kept as
/// `state` (an array from storage, or undefined) at `now_ms`. Returns
/// `[newState, answer]`; a lookup answers `{ trip: { failure, retryAtMs } | null }`.
#[cfg(feature = "coordinator")]
#[wasm_bindgen(js_name = coordinatorStep)]
pub fn coordinator_step(state: JsValue, message: JsValue, now_ms: f64) -> Result<Array, JsValue> {
    let mut board: Board<Replay> = Board::default();
    if let Some(entries) = state.dyn_ref::<Array>() {
        for entry in entries.iter() {
            // An entry this build cannot read is dropped, not fatal.
            let restored = (|| -> Result<(), JsValue> {
                let trip = Trip {
                    failure: failure_from_js(&get(&entry, "failure"), now_ms)?,
                    retry_at_ms: number(&entry, "retryAtMs")?,
                };
                let posted_at_ms = number(&entry, "postedAtMs")?;
                board.restore(key_of(&entry)?, trip, posted_at_ms, now_ms);
                Ok(())
            })();
            drop(restored);
        }
    }
    let answer = board_op(&mut board, &message, now_ms)?;
    let entries: Array = board
        .entries()
        .map(|(key, trip, posted_at_ms)| {
            object(&[
                ("key", key.to_hex().into()),
                ("failure", failure_js(&trip.failure)),
                ("retryAtMs", trip.retry_at_ms.into()),
                ("postedAtMs", posted_at_ms.into()),
            ])
        })
        .collect();
    Ok(Array::of2(&entries, &answer))
}

/// The Durable Object's lease step: applies `message` (`{ op: 'lease', key,
/// want, tokens, report: [limit, remaining, resetAtMs, observedAtMs,
/// blockedUntilMs, sentAtMs, refill, tokensLimit, tokensRemaining,
/// tokensResetAtMs] | null }`) to the key's books kept as `ledger` (`[requests,
/// tokens]` numbers from a previous step; a previous version's lone
/// request numbers; or undefined) at `now_ms`. Returns `[newLedger, {
/// grant }]`: `grant` is a count of permits if positive, else minus the ms
/// to wait (see [`crate::limits::lease`]).
#[cfg(feature = "coordinator")]
#[wasm_bindgen(js_name = coordinatorLease)]
pub fn coordinator_lease(ledger: JsValue, message: JsValue, now_ms: f64) -> Result<Array, JsValue> {
    let numbers = |v: &JsValue| v.dyn_ref::<js_sys::Float64Array>().map(|a| a.to_vec());
    let (requests, tokens) = match ledger.dyn_ref::<Array>() {
        Some(pair) => (numbers(&pair.get(0)), numbers(&pair.get(1))),
        None => (numbers(&ledger), None),
    };
    let mut books = requests.map_or_else(Ledger::default, |v| Ledger::from_slice(&v));
    books.tokens = tokens.map_or_else(TokenBook::default, |v| TokenBook::from_slice(&v));
    let (answer, _) = lease_op(&mut books, &message, now_ms)?;
    let requests = js_sys::Float64Array::from(books.to_vec().as_slice());
    let tokens = js_sys::Float64Array::from(books.tokens.to_vec().as_slice());
    Ok(Array::of2(&Array::of2(&requests, &tokens), &answer))
}

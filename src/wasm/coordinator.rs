//! The Durable Object coordinator, both ends of it.
//!
//! - In an isolate, [`Coordinated`] is the instance's [`Store`]: it asks the
//!   coordinator of a limit key (one Durable Object per key, named by the
//!   key's hash, never the credentials) through the namespace binding the
//!   user passed as `coordinator`, within [`TIMEOUT_MS`]. A coordinator that
//!   fails or is slow is reported (`onCoordinatorError`, `stats()`) and the
//!   call goes on with the isolate's own state.
//! - In the Durable Object (`RatewiseCoordinator`, a few lines of JS in the
//!   package), [`coordinator_step`] applies one message to the core's
//!   [`Board`]; the object only keeps the result in its storage.
//!
//! A quota failure travels as status, replayed headers and body; the
//! receiving isolate classifies it again, so no classification is trusted
//! from the wire.

use crate::text::fill;
use js_sys::{Array, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use super::bindings::{get, object, type_error};
use super::input::headers_from_js;
use super::instance::Instance;
use super::snapshot::Snapshot;
use crate::limits::key::LimitKey;
use crate::limits::lease::{Grant, Ledger, Report};
use crate::limits::shared::{Board, Change, Store, Trip};

/// How long an isolate waits for its coordinator, ms.
pub const TIMEOUT_MS: f64 = 1_000.0;

#[wasm_bindgen(module = "/js/coordinator.js")]
extern "C" {
    /// Posts `message` to the coordinator of `key` and resolves to its JSON answer.
    #[wasm_bindgen(js_name = coordinatorSend)]
    fn coordinator_send(
        namespace: &JsValue,
        key: &str,
        message: JsValue,
        timeout_ms: f64,
    ) -> Promise;
}

/// A quota failure on the wire, `{ status, headers: [[name, value]], body }`:
/// what a replay carries.
fn failure_js(snapshot: &Snapshot) -> JsValue {
    let headers: Array = snapshot
        .headers
        .iter()
        .map(|(n, v)| JsValue::from(Array::of2(&n.into(), &v.into())))
        .collect();
    object(&[
        ("status", snapshot.status.into()),
        ("headers", headers.into()),
        ("body", snapshot.body.as_str().into()),
    ])
}

/// A failure read back from the wire, classified here again (nothing is
/// trusted from it but what a replay shows).
pub(super) fn failure_from_js(value: &JsValue, now_ms: f64) -> Result<Snapshot, JsValue> {
    let status = get(value, "status")
        .as_f64()
        .filter(|s| (100.0..600.0).contains(s));
    let status = status.ok_or_else(|| type_error("ratewise coordinator: `failure.status`"))? as u16;
    let headers = headers_from_js(&get(value, "headers"), "failure.headers", true)?;
    let body = get(value, "body").as_string().unwrap_or_default();
    Ok(Snapshot::reread(status, headers, body, now_ms))
}

fn number(value: &JsValue, field: &'static str) -> Result<f64, JsValue> {
    get(value, field)
        .as_f64()
        .filter(|n| n.is_finite())
        .ok_or_else(|| {
            type_error(fill(
                "ratewise coordinator: `{}` must be a number",
                &[field],
            ))
        })
}

pub(super) fn key_of(value: &JsValue) -> Result<LimitKey, JsValue> {
    let hex = get(value, "key").as_string().unwrap_or_default();
    LimitKey::from_hex(&hex)
        .ok_or_else(|| type_error("ratewise coordinator: `key` must be 16 hex digits"))
}

/// Applies a breaker message (`{ op: 'lookup' | 'tripped' | 'closed', key,
/// failure?, retryAtMs? }`) to `board` at `now_ms`: the Durable Object's
/// step and the Redis coordinator's share it. Answers `{ trip: { failure, retryAtMs } | null }`.
pub(super) fn board_op(
    board: &mut Board<Snapshot>,
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
/// the Redis coordinator's share it.
pub(super) fn lease_op(
    books: &mut Ledger,
    message: &JsValue,
    now_ms: f64,
) -> Result<JsValue, JsValue> {
    key_of(message)?;
    let report = get(message, "report");
    if let Some(numbers) = report.dyn_ref::<Array>() {
        let numbers: Vec<f64> = numbers
            .iter()
            .map(|n| n.as_f64().unwrap_or(f64::NAN))
            .collect();
        if let Some(report) = Report::from_slice(&numbers) {
            books.report(report);
        }
    }
    let want = get(message, "want")
        .as_f64()
        .filter(|w| w.is_finite() && *w >= 0.0);
    let want = want.ok_or_else(|| type_error("ratewise coordinator: `want` must be a count"))?;
    let grant = books.lease(want.min(f64::from(u32::MAX)) as u32, now_ms);
    Ok(object(&[("grant", grant.to_f64().into())]))
}

/// The Durable Object's step: applies `message` (`{ op: 'lookup' |
/// 'tripped' | 'closed', key, failure?, retryAtMs? }`) to the board kept as
/// `state` (an array from storage, or undefined) at `now_ms`. Returns
/// `[newState, answer]`; a lookup answers `{ trip: { failure, retryAtMs } | null }`.
#[wasm_bindgen(js_name = coordinatorStep)]
pub fn coordinator_step(state: JsValue, message: JsValue, now_ms: f64) -> Result<Array, JsValue> {
    let mut board: Board<Snapshot> = Board::default();
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
/// want, report: [limit, remaining, resetAtMs, observedAtMs,
/// blockedUntilMs] | null }`) to the key's books kept as `ledger` (numbers
/// from a previous step, or undefined) at `now_ms`. Returns `[newLedger,
/// { grant }]`: `grant` is a count of permits if positive, else minus the ms
/// to wait (see [`crate::limits::lease`]).
#[wasm_bindgen(js_name = coordinatorLease)]
pub fn coordinator_lease(ledger: JsValue, message: JsValue, now_ms: f64) -> Result<Array, JsValue> {
    let mut books = match ledger.dyn_ref::<js_sys::Float64Array>() {
        Some(numbers) => Ledger::from_slice(&numbers.to_vec()),
        None => Ledger::default(),
    };
    let answer = lease_op(&mut books, &message, now_ms)?;
    let books = js_sys::Float64Array::from(books.to_vec().as_slice());
    Ok(Array::of2(&books, &answer))
}

/// An instance's store: its coordinator if it has one, else nothing shared.
pub struct Coordinated<'a> {
    /// The Durable Object namespace binding.
    pub namespace: Option<&'a JsValue>,
    /// The instance, for its error hook and counters.
    pub instance: &'a Instance,
}

impl Coordinated<'_> {
    /// Sends `message` to the coordinator of `key` (reporting a failure
    /// once per incident); answers undefined without a coordinator.
    pub(super) async fn send(
        &self,
        key: LimitKey,
        message: JsValue,
        op: &'static str,
    ) -> Result<JsValue, JsValue> {
        let Some(namespace) = self.namespace else {
            return Ok(JsValue::UNDEFINED);
        };
        let promise = coordinator_send(namespace, &key.to_hex(), message, TIMEOUT_MS);
        let answer = JsFuture::from(promise).await;
        let down = &self.instance.coordinator_down;
        let was_down = down
            .borrow()
            .as_ref()
            .is_some_and(|d| js_sys::Object::is(d, namespace));
        match &answer {
            // Counted every time, reported once per incident (of each coordinator).
            Err(error) => {
                if was_down {
                    super::outputs::coordinator_error(self.instance, op, None);
                } else {
                    *down.borrow_mut() = Some(namespace.clone());
                    let message = get(error, "message").as_string();
                    self.report(op, message.as_deref().unwrap_or("failed"));
                }
            }
            Ok(answer) => {
                if was_down {
                    *down.borrow_mut() = None;
                }
                // A store that had to ignore what it held (a corrupted or
                // foreign value) answered on fresh state: reported.
                if let Some(problem) = get(answer, "problem").as_string() {
                    self.report(op, &problem);
                }
            }
        }
        answer
    }

    /// Counts a coordinator error and tells `onCoordinatorError`.
    fn report(&self, op: &str, message: &str) {
        super::outputs::coordinator_error(self.instance, op, Some(message));
    }
}

impl Store<Snapshot> for Coordinated<'_> {
    type Error = JsValue;

    fn shared(&self) -> bool {
        self.namespace.is_some()
    }

    async fn publish(&self, change: &Change<Snapshot>) -> Result<(), JsValue> {
        let (key, message) = match change {
            Change::Tripped {
                key,
                failure,
                retry_at_ms,
            } => (
                *key,
                object(&[
                    ("op", "tripped".into()),
                    ("key", key.to_hex().into()),
                    ("failure", failure_js(failure)),
                    ("retryAtMs", (*retry_at_ms).into()),
                ]),
            ),
            Change::Closed { key } => (
                *key,
                object(&[("op", "closed".into()), ("key", key.to_hex().into())]),
            ),
        };
        self.send(key, message, "publish").await.map(drop)
    }

    async fn lease(
        &self,
        key: LimitKey,
        want: u32,
        report: Option<Report>,
    ) -> Result<Grant, JsValue> {
        let report: JsValue = match report {
            Some(r) => r
                .to_array()
                .iter()
                .map(|&n| JsValue::from(n))
                .collect::<Array>()
                .into(),
            None => JsValue::NULL,
        };
        let message = object(&[
            ("op", "lease".into()),
            ("key", key.to_hex().into()),
            ("want", want.into()),
            ("report", report),
        ]);
        let grant = get(&self.send(key, message, "lease").await?, "grant");
        grant
            .as_f64()
            .and_then(Grant::from_f64)
            .ok_or_else(|| type_error("ratewise coordinator: `grant` must be a number"))
    }

    async fn lookup(&self, key: LimitKey) -> Result<Option<Trip<Snapshot>>, JsValue> {
        let message = object(&[("op", "lookup".into()), ("key", key.to_hex().into())]);
        let trip = get(&self.send(key, message, "lookup").await?, "trip");
        if !trip.is_object() {
            return Ok(None);
        }
        let failure = failure_from_js(&get(&trip, "failure"), js_sys::Date::now())?;
        Ok(Some(Trip {
            failure,
            retry_at_ms: number(&trip, "retryAtMs")?,
        }))
    }
}

/// Checks a `coordinator` option: a Durable Object namespace binding, or a
/// coordinator that answers messages itself (`send(key, message)`, as
/// `redisCoordinator()` makes).
pub fn namespace(value: JsValue, field: &str) -> Result<Option<JsValue>, JsValue> {
    if value.is_undefined() {
        return Ok(None);
    }
    // `typeof`, not `instanceof`: no Proxy trap of the caller's runs.
    let is_fn = |name| get(&value, name).is_function();
    if value.is_object() && ((is_fn("idFromName") && is_fn("get")) || is_fn("send")) {
        return Ok(Some(value));
    }
    Err(type_error(fill("{} must be a Durable Object namespace binding (env.RATEWISE: idFromName and get) or a redisCoordinator(client)", &[field])))
}

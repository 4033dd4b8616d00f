//! The Redis coordinator's step (`redisCoordinator()` in the package runs
//! it): one message applied to one key's [`Record`] as Redis holds it.
//!
//! Redis keeps the value and makes each update atomic: the package's few
//! lines of JS read the value, run this step, and write the result back
//! only if the value is still the one read (a compare-and-set), else run
//! the step again on the newer value. The decisions are the same functions
//! the Durable Object runs ([`board_op`], [`lease_op`]); nothing of them
//! lives in Lua.

use crate::text::fill;
use js_sys::Array;
use wasm_bindgen::prelude::*;

use super::bindings::get;
use super::durable::{board_op, lease_op};
use super::spend::budget_step;
use super::wire::key_of;
use crate::coordinator::record::{Record, Replay};

/// Applies `message` (a coordinator message: `lookup`, `tripped`, `closed`
/// or `lease`) to the value Redis holds for its key (`stored`, a string, or
/// anything else for none) at `now_ms`. Returns `[value, answer, ttlMs,
/// write]`: the value to store (with a TTL of `ttlMs`), the answer for the
/// instance, and whether the value must be written at all (a lookup of a
/// sound value changes nothing, nor does a lease answered with a wait,
/// carrying no report and promising no turn: only time let grants leave
/// the books). A stored value that is not an intact one
/// this build wrote for this key is ignored and replaced: the answer then
/// carries a `problem` for `onCoordinatorError`.
#[cfg(feature = "coordinator")]
#[wasm_bindgen(js_name = coordinatorApply)]
pub fn coordinator_apply(stored: JsValue, message: JsValue, now_ms: f64) -> Result<Array, JsValue> {
    let key = key_of(&message)?;
    if get(&message, "op").as_string().as_deref() == Some("budget") {
        return budget_apply(&stored, &message, now_ms);
    }
    let mut problem = None;
    let mut record: Record<Replay> = match stored.as_string() {
        Some(value) => Record::decode(key, &value, now_ms).unwrap_or_else(|e| {
            problem = Some(fill(
                "ratewise coordinator: the value stored for key {} was ignored: {}",
                &[&key.short(), &e.text()],
            ));
            Record::new(key)
        }),
        None => Record::new(key),
    };
    let op = get(&message, "op").as_string().unwrap_or_default();
    let (answer, changed) = if op == "lease" {
        lease_op(&mut record.ledger, &message, now_ms)?
    } else {
        (
            board_op(&mut record.board, &message, now_ms)?,
            op != "lookup",
        )
    };
    let write = changed || problem.is_some();
    if let Some(problem) = problem {
        let _ = js_sys::Reflect::set(&answer, &"problem".into(), &problem.into());
    }
    let result = Array::new();
    result.push(&record.encode().into());
    result.push(&answer);
    result.push(&record.ttl_ms(now_ms).into());
    result.push(&write.into());
    Ok(result)
}

/// The budget op (see src/wasm/spend.rs) on the books Redis holds under the
/// budget's own key (`redisCoordinator` names it by the scope's hash and
/// the budget's name): the value is the books' 10 numbers as JSON, kept
/// for [`Books::ttl_ms`](crate::limits::spend::Books::ttl_ms) (a month's
/// books live past a month). A value that does not decode for this budget starts afresh, as
/// in the Durable Object.
fn budget_apply(stored: &JsValue, message: &JsValue, now_ms: f64) -> Result<Array, JsValue> {
    let books = stored
        .as_string()
        .and_then(|s| js_sys::JSON::parse(&s).ok())
        .unwrap_or(JsValue::UNDEFINED);
    let step = budget_step(&books, message, now_ms)?;
    let numbers: Array = step.books.iter().map(|&n| JsValue::from_f64(n)).collect();
    let value = js_sys::JSON::stringify(&numbers)?;
    let ttl_ms = step.ttl_ms;
    let write = get(message, "action").as_string().as_deref() != Some("status");
    let result = Array::new();
    result.push(&value.into());
    result.push(&step.answer);
    result.push(&ttl_ms.into());
    result.push(&write.into());
    Ok(result)
}

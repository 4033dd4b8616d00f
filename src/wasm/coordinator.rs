//! The Durable Object coordinator, an instance's side of it: in an
//! isolate, [`Coordinated`] is the instance's [`Store`]: it asks the
//! coordinator of a limit key (one Durable Object per key, named by the
//! key's hash, never the credentials) through the namespace binding the
//! user passed as `coordinator`, within [`TIMEOUT_MS`]. A coordinator that
//! fails or is slow is reported (`onCoordinatorError`, `stats()`) and the
//! call goes on with the isolate's own state.
//!
//! The object's own side (`RatewiseCoordinator`, a few lines of JS in the
//! package, running [`super::durable`]'s steps) is apart. A quota failure
//! travels as status, replayed headers and body; the receiving isolate
//! classifies it again, so no classification is trusted from the wire.

use crate::text::fill;
use js_sys::{Array, Promise};
use wasm_bindgen::prelude::*;

use super::bindings::{get, object, type_error};
use super::instance::Instance;
use super::snapshot::Snapshot;
use super::wire::{failure_from_js, failure_js, number};
use crate::limits::key::LimitKey;
use crate::limits::lease::{Grant, Report};
use crate::limits::shared::{Change, Store, Trip};

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
        let answer = super::settled::Settled::new(&promise).await;
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
        tokens: f64,
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
            ("tokens", tokens.into()),
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

//! Spend budgets kept by the instance's coordinator (a `RatewiseCoordinator`
//! Durable Object namespace, or a `redisCoordinator`): a call reserves on
//! the coordinator's books of each budget that applies (one round trip per
//! budget, within the coordinator's timeout, to the coordinator of the
//! budget's scope hash: never a credential), and settles or releases there.
//! The coordinator decides (src/wasm/spend.rs `budget_step`), so isolates
//! and processes on one budget share one set of books, and its threshold
//! alerts fire once per window between them all.
//!
//! A coordinator that fails or is slow at reserve time is reported through
//! `onCoordinatorError` (once per incident, as for the breaker) and the
//! call reserves on the instance's own books instead. A settle or release
//! that fails is reported once per incident too; its hold stays on the
//! coordinator's books until they forget it (two windows at most, see
//! `limits::spend::books`).

use js_sys::{Array, Function};
use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/js/coordinator.js")]
extern "C" {
    /// Sends each `[key, message]` in turn in the background (see js/coordinator.js).
    #[wasm_bindgen(js_name = coordinatorPost)]
    fn coordinator_post(
        namespace: &JsValue,
        pairs: &Array,
        timeout_ms: f64,
        told: &JsValue,
        alerts: bool,
        wait_until: &JsValue,
        incident: &JsValue,
    );
}

use super::bindings::{get, is_array, object};
use super::budgets::{exhausted, Ask, Budgets, Held, Seen, SEEN};
use super::coordinator::{Coordinated, TIMEOUT_MS};
use super::outputs;
use crate::limits::budgets::{self, Answer, Reserved, Reserving, Then};
use crate::limits::key::LimitKey;
use crate::limits::spend::{Cost, Exhausted, Unit};

/// One budget's hold on the coordinator's books.
struct Hold {
    /// The budget's index in the instance's list.
    budget: usize,
    /// The scope whose coordinator keeps the books.
    scope: LimitKey,
    /// `[windowStartMs, amount]` as the coordinator gave it.
    reservation: JsValue,
}

/// A call's holds on its coordinator's books, and what settling them needs
/// after the call itself has returned.
pub struct Remote {
    namespace: JsValue,
    wait_until: Option<Function>,
    on_error: Option<Function>,
    holds: Vec<Hold>,
}

/// Reads the `exhausted` object of a coordinator's answer.
fn exhausted_from_js(value: &JsValue) -> Exhausted {
    let n = |k| get(value, k).as_f64().unwrap_or(0.0);
    Exhausted {
        budget: get(value, "budget").as_string().unwrap_or_default(),
        unit: if get(value, "unit").as_string().as_deref() == Some("tokens") {
            Unit::Tokens
        } else {
            Unit::Usd
        },
        limit: n("limit"),
        spent: n("spent"),
        reserved: n("reserved"),
        resets_at_ms: n("resetsAtMs"),
    }
}

impl Budgets {
    /// Holds the call's estimate on every budget that applies: on the
    /// coordinator's books when `store` has a coordinator and it answers,
    /// else on the instance's (see the module); what to do with each
    /// answer is decided in `limits::budgets`. `wait_until` keeps a
    /// Worker's invocation alive until the settle reaches the coordinator.
    pub async fn admit(
        &self,
        ask: &Ask<'_>,
        store: &Coordinated<'_>,
        wait_until: Option<&Function>,
    ) -> Result<Held, Result<JsValue, JsValue>> {
        let Some(namespace) = store.namespace else {
            return self.admit_local(ask);
        };
        let mut route = 0;
        loop {
            let remote = Remote {
                namespace: namespace.clone(),
                wait_until: wait_until.cloned(),
                on_error: store.instance.config.on_coordinator_error.clone(),
                holds: Vec::new(),
            };
            let (reserved, remote) = self.reserve_shared(ask, store, remote, route).await;
            match budgets::then(route, reserved) {
                Then::Go { moved } => {
                    if let (Some(trace), 0) = (ask.trace, route) {
                        self.tell(trace, ask.keys, ask.tag, None);
                    }
                    return Ok(Held {
                        remote,
                        moved,
                        ..Held::default()
                    });
                }
                Then::Again(to) => route = to,
                Then::Bare => return Ok(Held::default()),
                Then::Refuse(e) => {
                    if let Some(trace) = ask.trace {
                        self.tell(trace, ask.keys, ask.tag, Some(e.budget.clone()));
                    }
                    return Err(exhausted(&e, ask.throw_on_error, ask.method));
                }
                // No answer (reported by `send`): the instance's own books.
                Then::Local => return self.admit_local(ask),
            }
        }
    }

    /// Reserves the call's estimate on the coordinator's books of each
    /// budget that applies to it on `route` (its account's), one after the
    /// other, until `limits::budgets` says how it ends; the holds are
    /// returned only when it ends held (released otherwise).
    async fn reserve_shared(
        &self,
        ask: &Ask<'_>,
        store: &Coordinated<'_>,
        mut remote: Remote,
        route: usize,
    ) -> (Reserved, Option<Remote>) {
        // Read before any await: no borrow is held across one.
        let targets =
            budgets::targets(&self.spend.borrow(), ask.keys, route, ask.tag, ask.estimate);
        if targets.is_empty() {
            return (Reserved::Held, None);
        }
        let mut reserving = Reserving::new(route, ask.keys.len(), ask.lane);
        for target in targets {
            let amount = target.amount.into();
            let message = self.message(target.budget, target.scope, "reserve", ("amount", amount));
            let answer = store.send(target.scope, message, "budget").await;
            let answer = answer.unwrap_or(JsValue::UNDEFINED);
            let reservation = get(&answer, "reservation");
            let spent = get(&answer, "exhausted");
            let heard = if is_array(&reservation) {
                remote.holds.push(Hold {
                    budget: target.budget,
                    scope: target.scope,
                    reservation,
                });
                self.saw(target.budget, target.scope, &answer);
                let fraction = get(&answer, "fraction").as_f64().unwrap_or(0.0);
                Answer::Held { fraction }
            } else if spent.is_object() {
                Answer::Spent(exhausted_from_js(&spent))
            } else {
                Answer::Silent
            };
            if let Some(end) = reserving.heard(&self.spend.borrow(), &target, heard) {
                if !remote.holds.is_empty() {
                    self.release_remote(remote);
                }
                return (end, None);
            }
        }
        match reserving.end() {
            Reserved::Held => (Reserved::Held, Some(remote)),
            end => {
                self.release_remote(remote);
                (end, None)
            }
        }
    }

    /// Remembers what a reserve answer says of the scope's books, for
    /// `stats()` (the oldest scope goes past [`SEEN`]).
    fn saw(&self, budget: usize, scope: LimitKey, answer: &JsValue) {
        let n = |k| get(answer, k).as_f64().unwrap_or(0.0);
        let mut seen = self.seen.borrow_mut();
        seen.retain(|s| s.budget != budget || s.scope != scope);
        if seen.len() >= SEEN {
            seen.remove(0);
        }
        seen.push(Seen {
            budget,
            scope,
            spent: n("spent"),
            reserved: n("reserved"),
            window_ends_ms: n("windowEndsAtMs"),
        });
    }

    /// A budget message for the coordinator of `scope`.
    fn message(
        &self,
        budget: usize,
        scope: LimitKey,
        action: &'static str,
        extra: (&'static str, JsValue),
    ) -> JsValue {
        let wire = self.wire.get(budget).cloned().unwrap_or_default();
        object(&[
            ("op", "budget".into()),
            ("key", scope.to_hex().into()),
            ("budget", wire),
            ("action", action.into()),
            extra,
        ])
    }

    /// Settles the coordinator's holds at `actual`, in the background; the
    /// alerts the coordinator answers go to `onBudget`.
    pub(super) fn settle_remote(&self, remote: Remote, actual: Cost) {
        let spend = self.spend.borrow();
        // Loops that push the `[scope, message]` pairs, not a Vec collected
        // and then collected again into an Array (issue 25).
        let pairs = Array::new();
        for h in &remote.holds {
            let unit = spend
                .budgets()
                .nth(h.budget)
                .map_or(Unit::Usd, |b| b.limit().unit);
            let message = self.message(
                h.budget,
                h.scope,
                "settle",
                ("actual", actual.in_unit(unit).into()),
            );
            let _ = js_sys::Reflect::set(&message, &"reservation".into(), &h.reservation);
            pairs.push(&pair(h.scope, &message));
        }
        self.post(remote, &pairs, true);
    }

    /// Frees the coordinator's holds of a call that sent nothing, in the
    /// background.
    pub(super) fn release_remote(&self, remote: Remote) {
        let pairs = Array::new();
        for h in &remote.holds {
            let message = self.message(
                h.budget,
                h.scope,
                "release",
                ("reservation", h.reservation.clone()),
            );
            pairs.push(&pair(h.scope, &message));
        }
        self.post(remote, &pairs, false);
    }

    /// Sends `pairs` (`[scope, message]`, see [`pair`]) one after the
    /// other, in the background (kept alive by `waitUntil` when the call had
    /// one; see `coordinatorPost` in js/coordinator.js); with `alerts`, the
    /// alerts the coordinator answers go to `onBudget`.
    fn post(&self, remote: Remote, pairs: &Array, alerts: bool) {
        let told = self.told(remote.on_error);
        let wait_until = remote.wait_until.map_or(JsValue::UNDEFINED, JsValue::from);
        coordinator_post(
            &remote.namespace,
            pairs,
            TIMEOUT_MS,
            told,
            alerts,
            &wait_until,
            &self.settle_down,
        );
    }

    /// The function the JS glue tells what the background sends heard:
    /// `(0, alerts)` a settle's alerts, `(1, message)` a failed exchange's
    /// message. src/wasm/outputs.rs fires `onBudget` and
    /// `onCoordinatorError` with them. Made once: the hooks are the
    /// instance's.
    fn told(&self, on_error: Option<Function>) -> &JsValue {
        self.post_hooks.get_or_init(|| {
            let on_budget = self.on_budget.clone();
            Closure::<dyn Fn(u32, JsValue)>::new(move |what: u32, value: JsValue| {
                if what == 0 {
                    for alert in Array::from(&value).iter() {
                        outputs::budget_alert(on_budget.as_ref(), &alert);
                    }
                } else {
                    let message = value.as_string().unwrap_or_default();
                    outputs::coordinator_failed(on_error.as_ref(), "budget", &message);
                }
            })
            .into_js_value()
        })
    }
}

/// One message for `post`: `[scope as hex, message]`.
fn pair(scope: LimitKey, message: &JsValue) -> Array {
    Array::of2(&scope.to_hex().into(), message)
}

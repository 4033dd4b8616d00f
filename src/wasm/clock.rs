//! The engine's clock in JavaScript: `Date.now()`, `Math.random()` and a
//! gloo-timers sleep that an abort cuts short at once.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use js_sys::Promise;
use wasm_bindgen::{JsCast, JsValue};

use super::settled::Settled;
use crate::classify::duration::MAX_DELAY_MS;
use crate::retry::engine::Clock;

/// A clock whose sleeps end early when `aborted` (the call's linked abort
/// promise) rejects. Its timers belong to the call that sleeps: in Workers,
/// a timer or promise of another invocation would never wake it.
pub struct JsClock {
    /// Rejects with the abort reason when the call is aborted; `None` when
    /// nothing can abort it.
    aborted: Option<Promise>,
    /// `aborted` as a future, made at the first sleep and raced by every
    /// later one. One per call, not one per sleep: a `Settled` is freed
    /// only when its promise settles, and `aborted` settles only when the
    /// call is aborted or finishes (`Linked::finish`), so a future per
    /// sleep would pile up for as long as the call lives.
    watching: Option<Settled>,
    /// The abort reason, once a sleep has seen it.
    reason: Option<JsValue>,
}

impl JsClock {
    /// A clock for a call whose abort promise is `aborted` (`undefined` if none).
    pub fn new(aborted: JsValue) -> JsClock {
        JsClock {
            aborted: aborted.dyn_into::<Promise>().ok(),
            watching: None,
            reason: None,
        }
    }

    /// Sleeps `ms` (clamped to a timer-safe value), or fails with the abort reason.
    pub async fn sleep_abortable(&mut self, ms: u64) -> Result<(), JsValue> {
        if let Some(reason) = &self.reason {
            return Err(reason.clone());
        }
        let timer = gloo_timers::future::TimeoutFuture::new(ms.min(MAX_DELAY_MS) as u32);
        let Some(aborted) = &self.aborted else {
            timer.await;
            return Ok(());
        };
        let aborted = self.watching.get_or_insert_with(|| Settled::new(aborted));
        let reason = (Race { timer, aborted }).await;
        match reason {
            Some(reason) => {
                self.reason = Some(reason.clone());
                Err(reason)
            }
            None => Ok(()),
        }
    }
}

impl Clock for JsClock {
    type Abort = JsValue;

    fn now_ms(&self) -> f64 {
        js_sys::Date::now()
    }

    fn random(&mut self) -> f64 {
        js_sys::Math::random()
    }

    async fn sleep(&mut self, ms: u64) -> Result<(), JsValue> {
        self.sleep_abortable(ms).await
    }
}

/// Resolves with `None` when the timer fires, or the abort reason first.
/// Dropping the timer clears it, so an abort ends the sleep at once.
struct Race<T, A> {
    timer: T,
    aborted: A,
}

impl<T, A> Future for Race<T, A>
where
    T: Future<Output = ()> + Unpin,
    A: Future<Output = Result<JsValue, JsValue>> + Unpin,
{
    type Output = Option<JsValue>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let Poll::Ready(result) = Pin::new(&mut self.aborted).poll(cx) {
            return Poll::Ready(Some(result.unwrap_or_else(|reason| reason)));
        }
        Pin::new(&mut self.timer).poll(cx).map(|()| None)
    }
}

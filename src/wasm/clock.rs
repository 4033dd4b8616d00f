//! The engine's clock in JavaScript: `Date.now()`, `Math.random()` and a
//! gloo-timers sleep that an abort cuts short at once.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use js_sys::Promise;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::classify::duration::MAX_DELAY_MS;
use crate::retry::engine::Clock;

/// A clock whose sleeps end early when `aborted` (the call's linked abort
/// promise) rejects. Its timers belong to the call that sleeps: in Workers,
/// a timer or promise of another invocation would never wake it.
pub struct JsClock {
    /// Rejects with the abort reason when the call is aborted; `None` when
    /// nothing can abort it.
    pub aborted: Option<Promise>,
}

impl JsClock {
    /// A clock for a call whose abort promise is `aborted` (`undefined` if none).
    pub fn new(aborted: JsValue) -> JsClock {
        JsClock {
            aborted: aborted.dyn_into::<Promise>().ok(),
        }
    }

    /// Sleeps `ms` (clamped to a timer-safe value), or fails with the abort reason.
    pub async fn sleep_abortable(&self, ms: u64) -> Result<(), JsValue> {
        let timer = gloo_timers::future::TimeoutFuture::new(ms.min(MAX_DELAY_MS) as u32);
        let Some(aborted) = &self.aborted else {
            timer.await;
            return Ok(());
        };
        let aborted = JsFuture::from(aborted.clone());
        match (Race { timer, aborted }).await {
            Some(reason) => Err(reason),
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

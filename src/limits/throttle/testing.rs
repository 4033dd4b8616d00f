//! What the throttle's tests share: a key, reports, and a throttle driven
//! by tickets in order.

use super::*;
pub(super) use crate::classify::headers::{Limits, Window};
pub(super) use crate::limits::key::LimitKey;

pub(super) const T0: f64 = 1_700_000_000_000.0;

pub(super) fn k() -> LimitKey {
    LimitKey::new("https://api.openai.com", Some("sk-test"))
}

pub(super) fn window(limit: u64, remaining: u64, reset_ms: u64) -> Option<Window> {
    Some(Window {
        limit: Some(limit),
        remaining: Some(remaining),
        reset_ms: Some(reset_ms),
        coarse_reset: false,
    })
}

/// Limits with only a requests window.
pub(super) fn requests(limit: u64, remaining: u64, reset_ms: u64) -> Limits {
    Limits {
        requests: window(limit, remaining, reset_ms),
        ..Limits::default()
    }
}

/// Limits with only a tokens window.
pub(super) fn tokens(limit: u64, remaining: u64, reset_ms: u64) -> Limits {
    Limits {
        tokens: window(limit, remaining, reset_ms),
        ..Limits::default()
    }
}

/// An answer without rate-limit headers: `rate_limited` with a wait.
pub(super) fn bare(rate_limited: bool, retry_after_ms: Option<u64>) -> Answer<'static> {
    Answer::Heard {
        limits: None,
        rate_limited,
        retry_after_ms,
    }
}

/// A 429 with rate-limit headers, and the `retry-after` wait if any.
pub(super) fn limited(limits: &Limits, retry_after_ms: Option<u64>) -> Answer<'_> {
    Answer::Heard {
        limits: Some(limits),
        rate_limited: true,
        retry_after_ms,
    }
}

pub(super) fn heard(limits: &Limits) -> Answer<'_> {
    Answer::Heard {
        limits: Some(limits),
        rate_limited: false,
        retry_after_ms: None,
    }
}

/// A throttle, without cold start, driven by tickets in order.
pub(super) struct Run {
    pub(super) t: Throttle,
    pub(super) ticket: u64,
}

impl Run {
    pub(super) fn new(cold_start: u32) -> Run {
        Run {
            t: Throttle::new(cold_start),
            ticket: 0,
        }
    }

    pub(super) fn call(&mut self) -> u64 {
        self.ticket += 1;
        self.ticket
    }

    pub(super) fn admit(&mut self, ticket: u64, after: f64) -> Admit {
        self.t.admit(k(), ticket, None, T0 + after)
    }

    /// A new call at `after`: its booking if it may go now.
    pub(super) fn go(&mut self, after: f64) -> Option<Booking> {
        let ticket = self.call();
        match self.admit(ticket, after) {
            Admit::Go(b) => Some(b),
            Admit::Wait { .. } => None,
        }
    }

    pub(super) fn answer(&mut self, b: Booking, after: f64, limits: &Limits) {
        self.t.answered(k(), b, T0 + after, heard(limits));
    }

    /// Takes the key's windows as known to refill whole at their reset
    /// (a fixed window, as [`super::learn`] finds out after a first reset).
    pub(super) fn whole(&mut self) {
        if let Some(e) = self.t.keys.get_mut(&k()) {
            e.windows.iter_mut().for_each(|w| w.meaning = Meaning::Full);
        }
    }
}

pub(super) fn wait_until(a: Admit) -> Option<f64> {
    match a {
        Admit::Wait { until, .. } => until.map(|u| u - T0),
        Admit::Go(_) => panic!("went: {a:?}"),
    }
}

/// Reports of a token bucket: `limit` per `window_ms`, refilled
/// continuously; `tokens` is the fractional count after the request.
pub(super) fn bucket(limit: u64, window_ms: f64, tokens: f64) -> Limits {
    let tau = window_ms / limit as f64;
    let reset = ((limit as f64 - tokens) * tau).round() as u64;
    requests(limit, tokens.floor() as u64, reset)
}

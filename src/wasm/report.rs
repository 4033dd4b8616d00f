//! `stats()` and `breaker()` as plain JS objects, built field by field (a
//! serde serializer would cost more in size than these cold paths are worth).

use js_sys::{Array, Object, Reflect};
use wasm_bindgen::JsValue;

use super::bindings::{interned, object};
use crate::classify::kind::Kind;
use crate::limits::breaker::BreakerState;
use crate::retry::policy::Stop;
use crate::stats::Stats;

/// Only the non-zero counts, keyed by wire name.
fn counts<T: Copy>(items: &[T], counts: &[u64], name: fn(T) -> &'static str) -> JsValue {
    let o = Object::new();
    for (item, count) in items.iter().zip(counts).filter(|(_, c)| **c > 0) {
        let _ = Reflect::set(&o, &interned(name(*item)), &(*count as f64).into());
    }
    o.into()
}

/// `stats()`.
pub fn stats_js(s: &Stats) -> JsValue {
    let n = |v: u64| JsValue::from(v as f64);
    let by_route: Array = s.by_route.iter().map(|&c| n(c)).collect();
    object(&[
        ("calls", n(s.calls)),
        ("attempts", n(s.attempts)),
        ("retries", n(s.retries)),
        ("waitedMs", n(s.waited_ms)),
        ("byKind", counts(&Kind::ALL, &s.by_kind, Kind::as_str)),
        ("byStop", counts(&Stop::ALL, &s.by_stop, Stop::as_str)),
        ("networkCalls", n(s.network_calls)),
        ("shortCircuits", n(s.short_circuits)),
        ("throttledMs", n(s.throttled_ms)),
        ("queued", n(s.queued)),
        ("byRoute", by_route.into()),
        ("coordinatorErrors", n(s.coordinator_errors)),
        ("cacheHits", n(s.cache_hits)),
        (
            "byLane",
            object(&[("interactive", n(s.by_lane[0])), ("bulk", n(s.by_lane[1]))]),
        ),
        ("bulkDiverted", n(s.bulk_diverted)),
    ])
}

/// `breaker()`.
pub fn breakers_js(states: &[BreakerState]) -> JsValue {
    let list: Array = states
        .iter()
        .map(|b| {
            object(&[
                ("key", b.key.as_str().into()),
                ("kind", interned(b.kind)),
                ("state", interned(b.state)),
                ("openedAtMs", b.opened_at_ms.into()),
                ("retryAtMs", b.retry_at_ms.into()),
                ("trips", b.trips.into()),
            ])
        })
        .collect();
    list.into()
}

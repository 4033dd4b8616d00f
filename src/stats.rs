//! Running counts for `stats()`: what every attempt was and what it cost.

use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::classify::kind::Kind;
use crate::retry::engine::{Event, Source};
use crate::retry::policy::{Decision, Stop};

/// Counters over the life of one `createFetch()` instance.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stats {
    /// Calls made to the fetch function.
    pub calls: u64,
    /// Attempts sent to the network.
    pub attempts: u64,
    /// Attempts that were retries.
    pub retries: u64,
    /// Time spent sleeping before retries, ms.
    pub waited_ms: u64,
    /// Attempts by classification kind, indexed like [`Kind::ALL`].
    pub by_kind: [u64; Kind::ALL.len()],
    /// Calls by why they stopped, indexed like `Stop::ALL`.
    pub by_stop: [u64; Stop::ALL.len()],
    /// Requests that actually went to the network.
    pub network_calls: u64,
    /// Attempts answered by an open quota breaker, without a network call.
    pub short_circuits: u64,
    /// Time spent waiting for the proactive throttle, ms.
    pub throttled_ms: u64,
    /// Calls that waited in the concurrency queue.
    pub queued: u64,
    /// Final answers by route: index 0 is the request as sent, 1.. the
    /// fallback routes in order.
    pub by_route: Vec<u64>,
}

impl Stats {
    /// Counts one attempt from the loop's event.
    pub fn record(&mut self, event: &Event<'_>) {
        self.attempts += 1;
        if event.attempt > 1 {
            self.retries += 1;
        }
        if let Some(i) = Kind::ALL
            .iter()
            .position(|k| *k == event.classification.kind)
        {
            self.by_kind[i] += 1;
        }
        match event.source {
            Source::Network => self.network_calls += 1,
            Source::Breaker => self.short_circuits += 1,
        }
        self.throttled_ms += event.paced_ms;
        self.queued += u64::from(event.queued);
        match event.decision {
            Decision::Retry { delay_ms } => self.waited_ms += delay_ms,
            Decision::Stop(stop) => {
                if let Some(i) = Stop::ALL.iter().position(|s| *s == stop) {
                    self.by_stop[i] += 1;
                }
                self.record_route(event.route);
            }
        }
    }

    /// Counts the route that gave a call its final answer.
    fn record_route(&mut self, route: usize) {
        if self.by_route.len() <= route {
            self.by_route.resize(route + 1, 0);
        }
        self.by_route[route] += 1;
    }

    /// Attempts of one kind.
    pub fn kind(&self, kind: Kind) -> u64 {
        Kind::ALL
            .iter()
            .position(|k| *k == kind)
            .map_or(0, |i| self.by_kind[i])
    }
}

/// Serialises only the non-zero counts, keyed by wire name.
struct Counts<'a, T: Copy>(&'a [T], &'a [u64], fn(T) -> &'static str);

impl<T: Copy> Serialize for Counts<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        for (item, count) in self.0.iter().zip(self.1).filter(|(_, c)| **c > 0) {
            map.serialize_entry(self.2(*item), count)?;
        }
        map.end()
    }
}

impl Serialize for Stats {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(11))?;
        map.serialize_entry("calls", &self.calls)?;
        map.serialize_entry("attempts", &self.attempts)?;
        map.serialize_entry("retries", &self.retries)?;
        map.serialize_entry("waitedMs", &self.waited_ms)?;
        map.serialize_entry("byKind", &Counts(&Kind::ALL, &self.by_kind, Kind::as_str))?;
        map.serialize_entry("byStop", &Counts(&Stop::ALL, &self.by_stop, Stop::as_str))?;
        map.serialize_entry("networkCalls", &self.network_calls)?;
        map.serialize_entry("shortCircuits", &self.short_circuits)?;
        map.serialize_entry("throttledMs", &self.throttled_ms)?;
        map.serialize_entry("queued", &self.queued)?;
        map.serialize_entry("byRoute", &self.by_route)?;
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Classification;

    #[test]
    fn counts_attempts_retries_and_waits() {
        let mut s = Stats::default();
        let rate = Classification::without_response(Kind::RateLimit, None, "t");
        let ok = Classification::without_response(Kind::Ok, None, "t");
        s.record(&Event {
            attempt: 1,
            classification: &rate,
            decision: Decision::Retry { delay_ms: 700 },
            elapsed_ms: 0.0,
            route: 0,
            source: Source::Network,
            paced_ms: 40,
            tokens: Some(4_002),
            queued: true,
        });
        s.record(&Event {
            attempt: 2,
            classification: &ok,
            decision: Decision::Stop(Stop::Success),
            elapsed_ms: 0.0,
            route: 2,
            source: Source::Breaker,
            paced_ms: 0,
            tokens: None,
            queued: false,
        });
        assert_eq!((s.attempts, s.retries, s.waited_ms), (2, 1, 700));
        assert_eq!(
            (
                s.kind(Kind::RateLimit),
                s.kind(Kind::Ok),
                s.kind(Kind::Auth)
            ),
            (1, 1, 0)
        );
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(
            json["byKind"],
            serde_json::json!({ "ok": 1, "rate_limit": 1 })
        );
        assert_eq!(json["byStop"], serde_json::json!({ "success": 1 }));
        assert_eq!(json["waitedMs"], 700);
        assert_eq!(s.by_route, [0, 0, 1], "the route of the final answer");
        assert_eq!(
            (s.network_calls, s.short_circuits, s.throttled_ms, s.queued),
            (1, 1, 40, 1)
        );
    }
}

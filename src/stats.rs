//! Running counts for `stats()`: what every attempt was and what it cost.

use crate::classify::kind::Kind;
use crate::retry::engine::{Event, Source};
use crate::retry::policy::{Decision, Stop};

/// Counters over the life of one `createFetch()` instance.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stats {
    /// Calls made to the fetch function.
    pub calls: u64,
    /// Attempts, the open quota breaker's answers included (those sent to
    /// the network are [`Stats::network_calls`]).
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
    /// Lookups and reports the coordinator did not answer (calls went on
    /// with the instance's own state).
    pub coordinator_errors: u64,
    /// Final answers by lane, indexed like `Lane::ALL`.
    pub by_lane: [u64; 2],
    /// Bulk calls sent to the cheap route because the primary was under
    /// pressure.
    pub bulk_diverted: u64,
    /// Calls answered from the cache after every route they could try was
    /// out of quota or down (not counted in `by_route`).
    pub cache_hits: u64,
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
            Source::Cache => {}
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
                self.by_lane[event.lane.index()] += 1;
                self.bulk_diverted += u64::from(event.diverted);
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

    /// The cache answered a call that ended on `route`: the answer is the
    /// cache's, not the route's.
    pub fn cache_hit(&mut self, route: usize) {
        if let Some(n) = self.by_route.get_mut(route) {
            *n = n.saturating_sub(1);
        }
        self.cache_hits += 1;
    }

    /// Attempts of one kind.
    pub fn kind(&self, kind: Kind) -> u64 {
        Kind::ALL
            .iter()
            .position(|k| *k == kind)
            .map_or(0, |i| self.by_kind[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::lanes::Lane;
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
            paced_why: None,
            tokens: Some(4_002),
            queued: true,
            queued_ms: 0,
            leased_ms: 0,
            breakers: &[],
            lane: Lane::Bulk,
            diverted: true,
        });
        s.record(&Event {
            attempt: 2,
            classification: &ok,
            decision: Decision::Stop(Stop::Success),
            elapsed_ms: 0.0,
            route: 2,
            source: Source::Breaker,
            paced_ms: 0,
            paced_why: None,
            tokens: None,
            queued: false,
            queued_ms: 0,
            leased_ms: 0,
            breakers: &[],
            lane: Lane::Bulk,
            diverted: true,
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
        let success = Stop::ALL.iter().position(|s| *s == Stop::Success);
        assert_eq!(success.map(|i| s.by_stop[i]), Some(1));
        assert_eq!(s.by_stop.iter().sum::<u64>(), 1);
        assert_eq!(s.by_route, [0, 0, 1], "the route of the final answer");
        assert_eq!(
            (s.by_lane, s.bulk_diverted),
            ([0, 1], 1),
            "per call, not per attempt"
        );
        assert_eq!(
            (s.network_calls, s.short_circuits, s.throttled_ms, s.queued),
            (1, 1, 40, 1)
        );
        s.cache_hit(2);
        assert_eq!((s.by_route.as_slice(), s.cache_hits), (&[0, 0, 0][..], 1));
    }
}

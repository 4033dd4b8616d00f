//! Running counts for `stats()`: what every attempt was and what it cost.

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

use crate::classify::kind::Kind;
use crate::limits::lanes::Lane;
use crate::retry::engine::{Event, Source};
use crate::retry::policy::{Decision, Stop};

/// Counters over the life of one `createFetch()` instance. Serialized, it is
/// `stats()` without `usage`: camelCase keys in this order, every count an
/// `f64`, `byKind` and `byStop` with their non-zero counts only, `byLane`
/// with every lane.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    /// Calls made to the fetch function.
    #[serde(serialize_with = "number")]
    pub calls: u64,
    /// Attempts, the open quota breaker's answers included (those sent to
    /// the network are [`Stats::network_calls`]).
    #[serde(serialize_with = "number")]
    pub attempts: u64,
    /// Attempts that were retries.
    #[serde(serialize_with = "number")]
    pub retries: u64,
    /// Time spent sleeping before retries, ms.
    #[serde(serialize_with = "number")]
    pub waited_ms: u64,
    /// Attempts by classification kind, indexed like [`Kind::ALL`].
    #[serde(serialize_with = "by_kind")]
    pub by_kind: [u64; Kind::ALL.len()],
    /// Calls by why they stopped, indexed like `Stop::ALL`.
    #[serde(serialize_with = "by_stop")]
    pub by_stop: [u64; Stop::ALL.len()],
    /// Requests that actually went to the network.
    #[serde(serialize_with = "number")]
    pub network_calls: u64,
    /// Attempts answered by an open quota breaker, without a network call.
    #[serde(serialize_with = "number")]
    pub short_circuits: u64,
    /// Time spent waiting for the proactive throttle, ms.
    #[serde(serialize_with = "number")]
    pub throttled_ms: u64,
    /// Calls that waited in the concurrency queue.
    #[serde(serialize_with = "number")]
    pub queued: u64,
    /// Final answers by route: index 0 is the request as sent, 1.. the
    /// fallback routes in order.
    #[serde(serialize_with = "numbers")]
    pub by_route: Vec<u64>,
    /// Lookups and reports the coordinator did not answer (calls went on
    /// with the instance's own state).
    #[serde(serialize_with = "number")]
    pub coordinator_errors: u64,
    /// Calls answered from the cache after every route they could try was
    /// out of quota or down (not counted in `by_route`).
    #[serde(serialize_with = "number")]
    pub cache_hits: u64,
    /// Final answers by lane, indexed like `Lane::ALL`.
    #[serde(serialize_with = "by_lane")]
    pub by_lane: [u64; 2],
    /// Bulk calls sent to the cheap route because the primary was under
    /// pressure.
    #[serde(serialize_with = "number")]
    pub bulk_diverted: u64,
}

/// `counts` as a map from each item's wire name, leaving out the zeros
/// unless `zeros`.
fn named<S: Serializer>(
    names: &[&'static str],
    counts: &[u64],
    zeros: bool,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    // One function for every list of names, and a loop, not `collect_map`
    // over a filtered iterator: no copy of it per item type (issue 25).
    let mut map = serializer.serialize_map(None)?;
    for (name, &n) in names.iter().zip(counts) {
        if zeros || n > 0 {
            map.serialize_entry(name, &(n as f64))?;
        }
    }
    map.end()
}

/// A count as a JS number is: an `f64` (exact up to 2^53, which no count
/// reaches), so that no serializer meets a `u64`.
fn number<S: Serializer>(n: &u64, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(*n as f64)
}

/// Counts as [`number`]s.
fn numbers<S: Serializer>(counts: &[u64], serializer: S) -> Result<S::Ok, S::Error> {
    let mut seq = serializer.serialize_seq(Some(counts.len()))?;
    for &n in counts {
        seq.serialize_element(&(n as f64))?;
    }
    seq.end()
}

/// `byKind`: the kinds seen.
fn by_kind<S: Serializer>(counts: &[u64], serializer: S) -> Result<S::Ok, S::Error> {
    named(&Kind::ALL.map(Kind::as_str), counts, false, serializer)
}

/// `byStop`: the reasons seen.
fn by_stop<S: Serializer>(counts: &[u64], serializer: S) -> Result<S::Ok, S::Error> {
    named(&Stop::ALL.map(Stop::as_str), counts, false, serializer)
}

/// `byLane`: every lane.
fn by_lane<S: Serializer>(counts: &[u64], serializer: S) -> Result<S::Ok, S::Error> {
    named(&Lane::ALL.map(Lane::as_str), counts, true, serializer)
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

    #[test]
    fn serializes_as_stats_reports_it() {
        let mut s = Stats {
            calls: 3,
            by_route: vec![0, 2],
            by_lane: [2, 0],
            ..Stats::default()
        };
        s.by_kind[Kind::ALL
            .iter()
            .position(|k| *k == Kind::RateLimit)
            .unwrap_or(0)] = 2;
        s.by_stop[0] = 1;
        let json = serde_json::to_string(&s).unwrap_or_default();
        let stop = serde_json::to_string(Stop::ALL[0].as_str()).unwrap_or_default();
        assert_eq!(
            json,
            format!(
                "{{\"calls\":3.0,\"attempts\":0.0,\"retries\":0.0,\"waitedMs\":0.0,\
                 \"byKind\":{{\"rate_limit\":2.0}},\"byStop\":{{{stop}:1.0}},\
                 \"networkCalls\":0.0,\"shortCircuits\":0.0,\"throttledMs\":0.0,\"queued\":0.0,\
                 \"byRoute\":[0.0,2.0],\"coordinatorErrors\":0.0,\"cacheHits\":0.0,\
                 \"byLane\":{{\"interactive\":2.0,\"bulk\":0.0}},\"bulkDiverted\":0.0}}"
            ),
            "keys in stats()'s order, every count an f64 (a JS number, never a u64 a \
             serializer could make a BigInt), zero kinds and stops left out, every lane kept"
        );
    }
}

//! What a coordinator knows of the quota breakers: the open breakers
//! instances reported ([`Board`]), each until it is closed or a whole
//! cooldown past its probe. A Durable Object or the Redis record keeps one
//! and only stores and serialises it.

use crate::limits::key::{Idle, KeyMap, LimitKey};
use crate::limits::shared::{Change, Trip};
use crate::time::Ms;

/// An open breaker a coordinator holds, and when it heard of it.
#[derive(Debug, Clone)]
struct Posted<F> {
    trip: Trip<F>,
    posted_at_ms: f64,
}

impl<F> Idle for Posted<F> {
    /// A whole cooldown past the time a probe was due: any probe has long
    /// reported, or was lost.
    fn idle(&self, now_ms: f64) -> bool {
        let cooldown = Ms::between(self.posted_at_ms, self.trip.retry_at_ms).get();
        now_ms >= self.trip.retry_at_ms + cooldown
    }
}

/// What a coordinator knows: the open breakers instances reported. A
/// Durable Object keeps one and only stores and serialises it.
#[derive(Debug)]
pub struct Board<F> {
    trips: KeyMap<Posted<F>>,
}

impl<F> Default for Board<F> {
    fn default() -> Self {
        Board {
            trips: KeyMap::default(),
        }
    }
}

impl<F: Clone> Board<F> {
    /// Takes a change an instance published. A trip replaces an earlier
    /// one (the later probe time wins); a close forgets the key.
    pub fn apply(&mut self, change: Change<F>, now_ms: f64) {
        match change {
            Change::Tripped {
                key,
                failure,
                retry_at_ms,
            } => {
                let later = self
                    .trips
                    .get(&key)
                    .is_some_and(|p| p.trip.retry_at_ms > retry_at_ms && !p.idle(now_ms));
                if !later {
                    let trip = Trip {
                        failure,
                        retry_at_ms,
                    };
                    let posted = Posted {
                        trip,
                        posted_at_ms: now_ms,
                    };
                    self.trips.insert(key, posted, now_ms);
                }
            }
            Change::Closed { key } => self.trips.remove(&key),
        }
    }

    /// The open breaker of `key`, if one was reported and is not stale.
    pub fn lookup(&self, key: LimitKey, now_ms: f64) -> Option<Trip<F>> {
        let posted = self.trips.get(&key).filter(|p| !p.idle(now_ms))?;
        Some(posted.trip.clone())
    }

    /// Every key held with its trip and when it was posted, for storage.
    pub fn entries(&self) -> impl Iterator<Item = (LimitKey, &Trip<F>, f64)> {
        self.trips
            .iter()
            .map(|(k, p)| (*k, &p.trip, p.posted_at_ms))
    }

    /// Until when the board still holds anything, ms since the epoch: past
    /// it every trip is stale (a store may drop it then).
    pub fn busy_until_ms(&self) -> f64 {
        let idle_at = |p: &Posted<F>| {
            p.trip.retry_at_ms + Ms::between(p.posted_at_ms, p.trip.retry_at_ms).get()
        };
        self.trips
            .iter()
            .map(|(_, p)| idle_at(p))
            .fold(0.0, f64::max)
    }

    /// Restores an entry read back from storage.
    pub fn restore(&mut self, key: LimitKey, trip: Trip<F>, posted_at_ms: f64, now_ms: f64) {
        let posted = Posted { trip, posted_at_ms };
        self.trips.insert(key, posted, now_ms);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_board_holds_a_trip_until_it_is_closed_or_stale() {
        let key = LimitKey::new("https://api.openai.com", Some("sk-a"));
        let mut board = Board::default();
        assert_eq!(board.lookup(key, 0.0), None);
        let tripped = |retry_at_ms| Change::Tripped {
            key,
            failure: "quota",
            retry_at_ms,
        };
        board.apply(tripped(60_000.0), 0.0);
        let trip = board.lookup(key, 1_000.0).map(|t| t.retry_at_ms);
        assert_eq!(trip, Some(60_000.0));
        // An older report (an instance's late publish) does not shorten it.
        board.apply(tripped(30_000.0), 2_000.0);
        let trip = board.lookup(key, 2_000.0).map(|t| t.retry_at_ms);
        assert_eq!(trip, Some(60_000.0));
        // A whole cooldown past due, it is stale.
        assert_eq!(board.lookup(key, 120_000.0), None);
        board.apply(tripped(200_000.0), 130_000.0);
        board.apply(Change::Closed { key }, 131_000.0);
        assert_eq!(board.lookup(key, 131_000.0), None);
    }
}

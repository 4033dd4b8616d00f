//! A waiter line: callers waiting their turn, each known by its ticket,
//! served in priority [`Lane`] order, then ticket order. The concurrency
//! queue ([`super::bulkhead`]) and the throttle's waiters
//! ([`super::throttle`]) are each one.
//!
//! Nobody in line is ever woken by another caller: a waiter polls with its
//! own timer and asks where it stands (in Workers, a promise resolved from
//! another invocation's context never wakes its waiter). So the line keeps,
//! for each waiter, when it joined and when it said it would poll again; a
//! waiter long past its poll is presumed gone (its invocation was
//! cancelled) and can be dropped so it stops holding the others back.

use std::collections::VecDeque;

use super::lanes::Lane;

/// One caller in line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Waiter {
    /// Its ticket: tickets are unique, and a lower one was taken earlier.
    pub ticket: u64,
    /// Its lane: interactive waiters are served before bulk ones.
    pub lane: Lane,
    /// When it joined the line, ms since the epoch.
    pub since: f64,
    /// When it said it would poll again, ms since the epoch.
    pub due: f64,
}

impl Waiter {
    /// Its place in the order the line serves.
    fn order(&self) -> (usize, u64) {
        (self.lane.index(), self.ticket)
    }
}

/// Waiters in the order they are served: by lane, then by ticket.
#[derive(Debug, Clone, Default)]
pub struct Line {
    waiters: VecDeque<Waiter>,
}

impl Line {
    /// How many wait.
    pub fn len(&self) -> usize {
        self.waiters.len()
    }

    /// Whether nobody waits.
    pub fn is_empty(&self) -> bool {
        self.waiters.is_empty()
    }

    /// Where `ticket` stands in `lane`: `Ok(place)` if it waits there (the
    /// waiters served before it), `Err(place)` where it would join.
    pub fn find(&self, ticket: u64, lane: Lane) -> Result<usize, usize> {
        self.waiters
            .binary_search_by_key(&(lane.index(), ticket), Waiter::order)
    }

    /// Where a waiting `ticket` stands, whatever its lane.
    pub fn place(&self, ticket: u64) -> Option<usize> {
        Lane::ALL
            .into_iter()
            .find_map(|lane| self.find(ticket, lane).ok())
    }

    /// Whether `ticket` waits.
    pub fn contains(&self, ticket: u64) -> bool {
        self.place(ticket).is_some()
    }

    /// `ticket` joins `lane` at `now_ms` and will poll again at `due_ms`
    /// (a ticket already there only updates its `due_ms`). Returns its place.
    pub fn join(&mut self, ticket: u64, lane: Lane, now_ms: f64, due_ms: f64) -> usize {
        match self.find(ticket, lane) {
            Ok(place) => {
                self.waiters[place].due = due_ms;
                place
            }
            Err(place) => {
                let waiter = Waiter {
                    ticket,
                    lane,
                    since: now_ms,
                    due: due_ms,
                };
                self.waiters.insert(place, waiter);
                place
            }
        }
    }

    /// The waiter at `place`.
    pub fn get(&self, place: usize) -> Option<&Waiter> {
        self.waiters.get(place)
    }

    /// Takes `ticket` out of the line (it gave up, or its turn came);
    /// returns the place it had.
    pub fn leave(&mut self, ticket: u64) -> Option<usize> {
        let place = self.place(ticket)?;
        self.waiters.remove(place);
        Some(place)
    }

    /// Takes the first waiter out: the one whose turn it is.
    pub fn serve(&mut self) -> Option<Waiter> {
        self.waiters.pop_front()
    }

    /// Drops the waiters at the front that missed their poll by more than
    /// `grace_ms` at `now_ms` (all but `asking`, the one polling now): their
    /// callers are gone. Returns how many were dropped.
    pub fn drop_missing(&mut self, now_ms: f64, grace_ms: f64, asking: u64) -> usize {
        let missing = |w: &Waiter| w.ticket != asking && now_ms > w.due + grace_ms;
        let gone = self.waiters.iter().take_while(|w| missing(w)).count();
        self.waiters.drain(..gone);
        gone
    }

    /// Every waiter, in the order they are served.
    pub fn iter(&self) -> impl Iterator<Item = &Waiter> {
        self.waiters.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Lane::{Bulk, Interactive};

    fn tickets(line: &Line) -> Vec<u64> {
        line.iter().map(|w| w.ticket).collect()
    }

    #[test]
    fn served_by_lane_then_ticket_whatever_the_order_they_joined() {
        let mut line = Line::default();
        line.join(5, Bulk, 0.0, 10.0);
        line.join(3, Bulk, 0.0, 10.0);
        line.join(7, Interactive, 1.0, 10.0);
        line.join(4, Interactive, 2.0, 10.0);
        assert_eq!(tickets(&line), [4, 7, 3, 5]);
        assert_eq!(line.place(3), Some(2), "two interactive waiters go first");
        assert_eq!(
            line.find(6, Bulk),
            Err(4),
            "a newcomer goes to its lane's end"
        );
        assert_eq!(
            line.find(1, Interactive),
            Err(0),
            "an older ticket goes ahead"
        );
        let order: Vec<u64> = std::iter::from_fn(|| line.serve().map(|w| w.ticket)).collect();
        assert_eq!(order, [4, 7, 3, 5]);
        assert!(line.is_empty());
    }

    #[test]
    fn joining_again_keeps_the_place_and_the_time_joined() {
        let mut line = Line::default();
        assert_eq!(line.join(1, Interactive, 0.0, 5.0), 0);
        assert_eq!(line.join(2, Interactive, 1.0, 5.0), 1);
        assert_eq!(line.join(2, Interactive, 9.0, 20.0), 1);
        let w = line.get(1).copied();
        assert_eq!(w.map(|w| (w.since, w.due)), Some((1.0, 20.0)));
        assert_eq!(line.len(), 2);
    }

    #[test]
    fn leaving_frees_the_place_and_an_unknown_ticket_is_ignored() {
        let mut line = Line::default();
        for t in 1..=3 {
            line.join(t, Bulk, 0.0, 0.0);
        }
        assert_eq!(line.leave(2), Some(1));
        assert_eq!(line.leave(2), None);
        assert!(!line.contains(2) && line.contains(3));
        assert_eq!(line.place(3), Some(1));
    }

    #[test]
    fn waiters_that_missed_their_poll_are_dropped_from_the_front_only() {
        let mut line = Line::default();
        line.join(1, Interactive, 0.0, 10.0);
        line.join(2, Interactive, 0.0, 10.0);
        line.join(3, Interactive, 0.0, 500.0);
        line.join(4, Interactive, 0.0, 10.0);
        assert_eq!(line.drop_missing(100.0, 100.0, 9), 0, "within the grace");
        assert_eq!(line.drop_missing(111.0, 100.0, 9), 2);
        // Ticket 4 missed its poll too, but 3 still holds its place before it.
        assert_eq!(tickets(&line), [3, 4]);
        assert_eq!(
            line.drop_missing(700.0, 100.0, 3),
            0,
            "the one asking stays"
        );
        assert_eq!(line.drop_missing(700.0, 100.0, 4), 1);
        assert_eq!(tickets(&line), [4]);
    }
}

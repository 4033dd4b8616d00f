//! Priority lanes: a call is `interactive` (someone waits on it) or `bulk`
//! (a batch job). Interactive calls go ahead of bulk ones in the concurrency
//! queue ([`super::bulkhead`]), and under pressure a bulk call may start on
//! a cheaper route instead of taking the primary's last capacity.
//!
//! Pressure is either of: the call had to wait for a concurrency slot, or
//! the throttle knows the primary route's rate-limit window is nearly spent
//! (at most a tenth of it left, or calls already waiting for it; see
//! [`super::throttle::Throttle::pressed`]). The lanes are strict: while
//! interactive calls wait, no bulk call gets a slot.

/// A call's lane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lane {
    /// Someone waits on the answer: first in line (the default).
    #[default]
    Interactive,
    /// Batch work: behind every interactive call, and moved to the cheap
    /// route under pressure.
    Bulk,
}

impl Lane {
    /// Every lane, in priority order.
    pub const ALL: [Lane; 2] = [Lane::Interactive, Lane::Bulk];

    /// The wire name (`x-ratewise-priority`, events, stats).
    pub fn as_str(self) -> &'static str {
        match self {
            Lane::Interactive => "interactive",
            Lane::Bulk => "bulk",
        }
    }

    /// The lane a wire name names, if any (ASCII case-insensitive, trimmed).
    pub fn from_name(name: &str) -> Option<Lane> {
        Lane::ALL
            .into_iter()
            .find(|l| l.as_str().eq_ignore_ascii_case(name.trim()))
    }

    /// Its index in [`Lane::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// The route a call starts on: route 0, or for a bulk call under pressure
/// the cheap route `bulk_route`, if the call has it (`routes` is how many
/// routes it has) and it can take calls (`available`).
pub fn start_route(
    lane: Lane,
    bulk_route: Option<usize>,
    routes: usize,
    pressed: bool,
    available: impl FnOnce(usize) -> bool,
) -> usize {
    match bulk_route {
        Some(cheap) if lane == Lane::Bulk && pressed && cheap < routes && available(cheap) => cheap,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(Lane::from_name("bulk"), Some(Lane::Bulk));
        assert_eq!(Lane::from_name(" Interactive "), Some(Lane::Interactive));
        assert_eq!(Lane::from_name("batch"), None);
        assert_eq!(Lane::default(), Lane::Interactive);
        assert_eq!(Lane::Bulk.index(), 1);
    }

    #[test]
    fn only_bulk_under_pressure_with_a_route_that_can_go_starts_elsewhere() {
        let yes = |_| true;
        assert_eq!(start_route(Lane::Bulk, Some(1), 2, true, yes), 1);
        assert_eq!(
            start_route(Lane::Bulk, Some(1), 2, false, yes),
            0,
            "no pressure"
        );
        assert_eq!(start_route(Lane::Interactive, Some(1), 2, true, yes), 0);
        assert_eq!(
            start_route(Lane::Bulk, None, 2, true, yes),
            0,
            "no cheap route"
        );
        assert_eq!(
            start_route(Lane::Bulk, Some(2), 2, true, yes),
            0,
            "not one of its routes"
        );
        assert_eq!(
            start_route(Lane::Bulk, Some(1), 2, true, |_| false),
            0,
            "the cheap route is down"
        );
    }
}

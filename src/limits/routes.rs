//! Fallback routes: given routes in order of preference (say, a primary API
//! key and a backup), pick the first whose quota breaker lets a call through.

use crate::limits::breaker::{Gate, QuotaBreaker};
use crate::limits::key::LimitKey;

/// Which route a call should take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteChoice {
    /// Send on `routes[index]`; `probe` says the call is that breaker's
    /// probe, whose outcome must be reported to the breaker.
    Route {
        /// The position of the chosen route.
        index: usize,
        /// Whether this call is the route's probe.
        probe: bool,
    },
    /// Every breaker is open: fail at once with the failure stored for
    /// `routes[first_open]`, the first route in order (always 0 for a
    /// non-empty list; an empty list also gives 0, so check for it first).
    AllOpen {
        /// The route whose stored failure to report.
        first_open: usize,
    },
}

/// The first route, in order, whose breaker is closed or grants a probe.
///
/// Breakers are asked in order and the search stops at the first usable
/// route, so a probe is only ever granted to the route that is returned. An
/// earlier route's probe is preferred over a later closed route, so the
/// primary recovers as soon as its quota does.
pub fn first_available<F>(
    routes: &[LimitKey],
    breaker: &mut QuotaBreaker<F>,
    now_ms: f64,
) -> RouteChoice {
    for (index, &key) in routes.iter().enumerate() {
        match breaker.check(key, now_ms) {
            Gate::Closed => {
                return RouteChoice::Route {
                    index,
                    probe: false,
                }
            }
            Gate::Probe => return RouteChoice::Route { index, probe: true },
            Gate::Open { .. } => {}
        }
    }
    RouteChoice::AllOpen { first_open: 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> [LimitKey; 3] {
        ["primary", "backup", "last"].map(|k| LimitKey::new("https://api.openai.com", Some(k)))
    }

    fn route(index: usize, probe: bool) -> RouteChoice {
        RouteChoice::Route { index, probe }
    }

    #[test]
    fn the_first_closed_route_wins() {
        let routes = keys();
        let mut b = QuotaBreaker::<()>::new(1_000.0);
        assert_eq!(first_available(&routes, &mut b, 0.0), route(0, false));
        b.trip(routes[0], (), 0.0);
        assert_eq!(first_available(&routes, &mut b, 10.0), route(1, false));
        b.trip(routes[1], (), 0.0);
        assert_eq!(first_available(&routes, &mut b, 10.0), route(2, false));
    }

    #[test]
    fn all_open_fails_fast() {
        let routes = keys();
        let mut b = QuotaBreaker::<()>::new(1_000.0);
        for key in routes {
            b.trip(key, (), 0.0);
        }
        let all_open = RouteChoice::AllOpen { first_open: 0 };
        assert_eq!(first_available(&routes, &mut b, 10.0), all_open);
        assert_eq!(first_available(&[], &mut b, 10.0), all_open);
    }

    #[test]
    fn a_probe_on_an_earlier_route_is_preferred_and_granted_once() {
        let routes = keys();
        let mut b = QuotaBreaker::<()>::new(1_000.0);
        b.trip(routes[0], (), 0.0);
        b.trip(routes[1], (), 500.0);
        // Route 0 cooled down first: its probe goes ahead of closed route 2.
        assert_eq!(first_available(&routes, &mut b, 1_000.0), route(0, true));
        // The next caller must not probe route 0 again, nor take route 1's
        // probe before it is due.
        assert_eq!(first_available(&routes, &mut b, 1_000.0), route(2, false));
        assert_eq!(first_available(&routes, &mut b, 1_500.0), route(1, true));
        assert_eq!(first_available(&routes, &mut b, 1_500.0), route(2, false));
    }

    #[test]
    fn a_route_is_usable_again_once_its_probe_succeeds() {
        let routes = keys();
        let mut b = QuotaBreaker::<()>::new(1_000.0);
        b.trip(routes[0], (), 0.0);
        assert_eq!(first_available(&routes, &mut b, 1_000.0), route(0, true));
        b.record_success(routes[0]);
        assert_eq!(first_available(&routes, &mut b, 1_001.0), route(0, false));
    }
}

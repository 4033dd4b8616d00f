//! Usage summed for `stats()`: over all answers, per route and per lane.

use crate::limits::lanes::Lane;
use crate::usage::Usage;

/// Sums of the usage of many answers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sum {
    /// Answers counted.
    pub answers: u64,
    /// Answers whose usage was (partly) estimated.
    pub estimated: u64,
    /// Input tokens.
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// Cached input tokens.
    pub cached_input_tokens: u64,
    /// Input tokens written to the cache.
    pub cache_write_tokens: u64,
    /// Reasoning tokens.
    pub reasoning_tokens: u64,
    /// USD, of the answers with a price.
    pub cost_usd: f64,
    /// Answers with no price (an unknown model).
    pub unpriced: u64,
}

impl Sum {
    /// Adds one answer.
    pub fn add(&mut self, u: &Usage, cost_usd: Option<f64>) {
        self.answers += 1;
        self.estimated += u64::from(u.estimated);
        self.input_tokens += u.input_tokens;
        self.output_tokens += u.output_tokens;
        self.cached_input_tokens += u.cached_input_tokens;
        self.cache_write_tokens += u.cache_write_tokens;
        self.reasoning_tokens += u.reasoning_tokens;
        match cost_usd {
            Some(c) => self.cost_usd += c,
            None => self.unpriced += 1,
        }
    }
}

/// Usage over the life of one instance.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Totals {
    /// Every answer.
    pub total: Sum,
    /// By the route that answered: 0 the request as sent, 1.. fallbacks.
    pub by_route: Vec<Sum>,
    /// By lane, indexed like `Lane::ALL`.
    pub by_lane: [Sum; 2],
}

/// The most routes counted apart (routes are few; this only bounds memory).
const MAX_ROUTES: usize = 64;

impl Totals {
    /// Adds one answer, from `route` in `lane`.
    pub fn add(&mut self, u: &Usage, cost_usd: Option<f64>, route: usize, lane: Lane) {
        self.total.add(u, cost_usd);
        self.by_lane[lane.index()].add(u, cost_usd);
        if route < MAX_ROUTES {
            if self.by_route.len() <= route {
                self.by_route.resize(route + 1, Sum::default());
            }
            self.by_route[route].add(u, cost_usd);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_per_route_and_lane() {
        let u = Usage {
            input_tokens: 10,
            output_tokens: 5,
            estimated: true,
            ..Usage::default()
        };
        let mut t = Totals::default();
        t.add(&u, Some(0.5), 1, Lane::Bulk);
        t.add(&u, None, 0, Lane::Interactive);
        assert_eq!(t.total.answers, 2);
        assert_eq!(t.total.input_tokens, 20);
        assert_eq!(t.total.cost_usd, 0.5);
        assert_eq!(t.total.unpriced, 1);
        assert_eq!(t.by_route[1].output_tokens, 5);
        assert_eq!(t.by_route[0].unpriced, 1);
        assert_eq!(t.by_lane[1].estimated, 1);
        t.add(&u, None, 1000, Lane::Bulk);
        assert_eq!(t.by_route.len(), 2);
    }
}

//! What one `createFetch()` instance shares across its calls: options,
//! counters, and the limiters. Borrows are never held across an `await`,
//! and no call ever waits on a promise another call created: in Workers the
//! calls of one instance belong to different invocations.

use std::cell::RefCell;

use super::options::Config;
use crate::limits::{Limiters, Settings};
use crate::stats::Stats;
use crate::{Classification, Headers};

/// A quota failure kept by the breaker, replayed to callers while it is open.
#[derive(Clone)]
pub struct Snapshot {
    /// The response's status.
    pub status: u16,
    /// The headers a replay carries (see [`crate::limits::breaker::replayed_header`]).
    pub headers: Headers,
    /// The bounded prefix of its body that was read.
    pub body: String,
    /// What it meant.
    pub classification: Classification,
}

/// One instance's state.
pub struct Instance {
    pub config: Config,
    pub stats: RefCell<Stats>,
    pub limiters: RefCell<Limiters<Snapshot>>,
}

impl Instance {
    pub fn new(config: Config) -> Instance {
        let limiters = Limiters::new(Settings {
            max_concurrency: config.max_concurrency,
            max_queue: config.max_queue,
            throttle: config.throttle,
            cold_start: config.cold_start,
            retry_budget: config.retry_budget,
            quota_cooldown_ms: config.quota_cooldown_ms,
        });
        Instance {
            config,
            stats: RefCell::default(),
            limiters: RefCell::new(limiters),
        }
    }
}

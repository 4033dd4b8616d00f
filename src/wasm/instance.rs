//! What one `createFetch()` instance shares across its calls: options,
//! counters, and the limiters. Borrows are never held across an `await`,
//! and no call ever waits on a promise another call created: in Workers the
//! calls of one instance belong to different invocations.

use std::cell::RefCell;

use super::options::Config;
use super::snapshot::Snapshot;
use crate::limits::{Limiters, Settings};
use crate::stats::Stats;

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
            retry_budget: config.retry_budget,
            quota_cooldown_ms: config.quota_cooldown_ms,
            outage: config.outage,
            failover_on: config.failover_on,
        });
        Instance {
            config,
            stats: RefCell::default(),
            limiters: RefCell::new(limiters),
        }
    }
}

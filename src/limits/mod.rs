//! The limiters one client instance keeps per API origin and key: a
//! concurrency queue, a proactive throttle, a retry budget, a quota breaker
//! and fallback routes.

pub mod breaker;
pub mod budget;
pub mod bulkhead;
pub mod key;
pub mod routes;
pub mod throttle;

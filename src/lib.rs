#![warn(missing_docs)]
//! ratewise tells an LLM API's rate limit from its empty account.
//!
//! OpenAI answers both "slow down" (`rate_limit_exceeded`) and "your account
//! has no money" (`insufficient_quota`) with HTTP 429. The first heals in
//! seconds; the second never heals by waiting. [`classify`] reads status,
//! headers and body and says which [`Kind`] of failure a response is, what
//! [`Action`] to take, and how long the server asked us to wait.
//!
//! Everything in this crate outside `wasm` is plain Rust with no JavaScript
//! types, so it is tested natively; the `wasm` module only converts values.

pub mod backoff;
pub mod body;
pub mod breaker;
pub mod budget;
pub mod bulkhead;
pub mod classify;
pub mod duration;
pub mod engine;
pub mod headers;
pub mod json;
pub mod kind;
pub mod limit_key;
pub mod policy;
pub mod provider;
pub mod routes;
pub mod secrets;
pub mod stats;
pub mod throttle;
pub mod time;

#[cfg(target_arch = "wasm32")]
pub mod wasm;

pub use backoff::{Backoff, Jitter};
pub use classify::{classify, Classification, Response};
pub use headers::{Headers, Limits, Window};
pub use kind::{Action, Kind};
pub use policy::{Decision, RetryPolicy, Stop};
pub use provider::Provider;

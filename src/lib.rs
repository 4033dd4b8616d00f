//! ratewise tells an LLM API's rate limit from its empty account.
//!
//! OpenAI answers both "slow down" (`rate_limit_exceeded`) and "your account
//! has no money" (`insufficient_quota`) with HTTP 429. The first heals in
//! seconds; the second never heals by waiting. [`classify()`] reads status,
//! headers and body and says which [`Kind`] of failure a response is, what
//! [`Action`] to take, and how long the server asked us to wait.
//!
//! Everything in this crate outside `wasm` is plain Rust with no JavaScript
//! types, so it is tested natively; the `wasm` module only converts values.

pub mod cache;
pub mod classify;
pub mod coordinator;
pub mod credentials;
mod cut;
pub mod limits;
pub mod retry;
pub mod secrets;
pub mod shared;
pub mod stats;
mod text;
pub mod time;
pub mod url;
pub mod usage;

#[cfg(target_arch = "wasm32")]
pub mod wasm;

pub use classify::headers::{Headers, Limits, Window};
pub use classify::kind::{Action, Kind, Period};
pub use classify::provider::Provider;
pub use classify::{classify, Classification, Response};
pub use retry::backoff::{Backoff, Jitter};
pub use retry::policy::{Decision, RetryPolicy, Stop};

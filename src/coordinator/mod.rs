//! The coordinator's side of shared limits: the books a Durable Object (or
//! the Redis record) keeps for every instance, apart from the instance's
//! own side ([`crate::limits::shared`]'s `Store` and `Freshness`,
//! [`crate::limits::lease`]'s `Leases`). The two sides meet only on the
//! wire: an instance publishes a [`Change`](crate::limits::shared::Change)
//! and forwards a [`Report`](crate::limits::lease::Report); the coordinator
//! answers a [`Trip`](crate::limits::shared::Trip) or a
//! [`Grant`](crate::limits::lease::Grant).
//!
//! - [`board`]: the open quota breakers instances reported.
//! - [`ledger`]: one key's request window, granting leased permits.
//! - `freeing`: when the ledger frees a slot (reports folded in).
//! - `storage`: the ledger as numbers and back.
//! - [`tokens`]: one key's tokens window, bounding the ledger's grants.
//! - [`record`]: the Redis coordinator's record of a key (its board entry
//!   and ledger in one text value).

pub mod board;
mod freeing;
pub mod ledger;
pub mod record;
mod storage;
pub mod tokens;

pub use board::Board;
pub use ledger::Ledger;

//! One request limit shared by many instances (Worker isolates) through a
//! coordinator, by leases: an instance takes a small batch of request
//! permits for a key and spends them locally, so most calls pay no round
//! trip; it asks again only when its lease runs out.
//!
//! This is the instance's side, and the wire between the two:
//!
//! - **The wire** (`wire.rs`): a [`Report`] an instance forwards from the server's
//!   headers, and the coordinator's [`Grant`]: permits, or a wait.
//! - **An instance's side** ([`Leases`]): the permits it holds per key
//!   (they expire [`PERMIT_LIFE_MS`] after they arrive), whether a lease request is on its
//!   way (so concurrent calls send one), how long the coordinator said to
//!   wait, how many calls are asking, and the newest report to forward.
//!
//! The coordinator's books, which grant the permits, are
//! [`crate::coordinator`]'s. A lease request also says how many tokens
//! each of its calls is expected to use, and reports forward the key's
//! tokens window: the coordinator grants a permit only while the shared
//! tokens window has room for it (each instance's throttle still books
//! them too).

use crate::limits::key::{Idle, KeyMap, LimitKey};

mod stage;
pub(crate) mod wire;
pub use wire::{Counted, Grant, Report};

/// How long a granted permit stays usable, and how long after its grant it
/// may reach the server, ms.
pub const LEASE_TTL_MS: f64 = 100.0;

/// How long an instance may use a permit after the grant arrives, ms: the
/// coordinator's [`LEASE_TTL_MS`] less a return trip of up to 50 ms.
pub const PERMIT_LIFE_MS: f64 = 50.0;

/// How many reported sends the coordinator keeps to learn whether a window
/// refills whole.
pub const MAX_SENDS: usize = 32;

/// The most permits one lease carries.
pub const MAX_LEASE: u32 = 8;

/// With nothing heard from a key, how long the coordinator waits for the
/// cold-start request's report before it lets another one go, ms.
pub const COLD_WAIT_MS: f64 = 2_000.0;

/// The shortest and longest wait the coordinator answers, ms.
pub const WAIT_MS: (f64, f64) = (5.0, 1_000.0);

/// What an instance holds of one key's lease.
#[derive(Debug, Clone, Default)]
struct Held {
    permits: u32,
    expires_at_ms: f64,
    /// A lease request is on its way until then.
    asking_until_ms: f64,
    /// The coordinator said to wait until then.
    wait_until_ms: f64,
    /// Since when it has said to wait, with no permit in between.
    refusing_since_ms: Option<f64>,
    /// The coordinator could not be reached: local state alone until then.
    alone_until_ms: f64,
    /// Calls that asked since the last lease request.
    askers: Vec<u64>,
    /// The most tokens one of them is expected to use.
    ask_tokens: f64,
    /// How many calls the last lease request asked for.
    asked: u32,
    /// Half of those its grant left without a permit, rounded up: the next
    /// request asks for at least that many, though only one of them may
    /// have asked again when it goes (the others still waiting out the
    /// coordinator's last wait). Asking for one, it was promised one
    /// call's turn of a drained bucket, and asked again for each call;
    /// asking for all of them, its turn came later than the room for the
    /// first did (1.12-1.21x the floor on the fake clock, with requests up
    /// to 120 ms late).
    short: u32,
    /// The newest report not yet forwarded.
    report: Option<Report>,
    /// Whether a report was forwarded from the key yet.
    reported: bool,
    /// Whether one with a limit was.
    reported_limit: bool,
    used_ms: f64,
}

impl Idle for Held {
    fn idle(&self, now_ms: f64) -> bool {
        now_ms - self.used_ms > COLD_WAIT_MS && self.report.is_none()
    }
}

/// What the lease side tells a call about to send.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Need {
    /// A permit is held: send (and [`Leases::spend`] it).
    Go,
    /// The coordinator could not be reached lately: send on local state.
    Alone,
    /// Ask the coordinator for up to `want` permits.
    Ask {
        /// How many.
        want: u32,
        /// The tokens each is expected to use, at most (0: none known).
        tokens: f64,
    },
    /// Wait `ms`, then look again.
    Wait {
        /// How long.
        ms: f64,
    },
}

/// An instance's leases, per key (bounded like every per-key map).
#[derive(Debug, Default)]
pub struct Leases {
    held: KeyMap<Held>,
}

/// How long an instance goes on alone after its coordinator failed, ms.
pub const ALONE_MS: f64 = 1_000.0;

/// How long a lease request may take before another call may send one, ms.
pub const ASK_MS: f64 = 1_500.0;

impl Leases {
    /// What call `ticket` needs before it sends to `key` at `now_ms`. A
    /// coordinator that has refused permits for longer than `max_wait_ms`
    /// (the retry policy's cap on a server's hint: a reset hours away, or
    /// books gone wrong) is not waited for: calls go on local state. (Its
    /// waits are at most [`WAIT_MS`]`.1` long, so a refusal's end is seen
    /// up to that late: a tokens window of the cap's length, a minute, is
    /// waited for.)
    pub fn need(&mut self, key: LimitKey, ticket: u64, now_ms: f64, max_wait_ms: f64) -> Need {
        let h = self.held.entry_or_default(key, now_ms);
        h.used_ms = now_ms;
        let refused_too_long = h
            .refusing_since_ms
            .is_some_and(|since| now_ms - since > max_wait_ms + WAIT_MS.1);
        if refused_too_long {
            // For a while; then it is asked again.
            h.refusing_since_ms = None;
            h.alone_until_ms = now_ms + ALONE_MS;
        }
        if now_ms < h.alone_until_ms {
            return Need::Alone;
        }
        if h.permits > 0 && now_ms < h.expires_at_ms {
            return Need::Go;
        }
        h.permits = 0;
        if !h.askers.contains(&ticket) && h.askers.len() < MAX_LEASE as usize {
            h.askers.push(ticket);
        }
        if now_ms < h.wait_until_ms {
            return Need::Wait {
                ms: h.wait_until_ms - now_ms,
            };
        }
        if now_ms < h.asking_until_ms {
            return Need::Wait { ms: WAIT_MS.0 };
        }
        h.asking_until_ms = now_ms + ASK_MS;
        let want = (h.askers.len() as u32).max(h.short).clamp(1, MAX_LEASE);
        h.askers.clear();
        h.asked = want;
        h.short = 0;
        Need::Ask {
            want,
            tokens: std::mem::take(&mut h.ask_tokens),
        }
    }

    /// A call to `key` expected to use `tokens` is about to ask for a
    /// permit: the next lease request asks room for that many for each.
    pub fn expect(&mut self, key: LimitKey, tokens: f64, now_ms: f64) {
        let h = self.held.entry_or_default(key, now_ms);
        h.ask_tokens = h.ask_tokens.max(tokens);
    }

    /// The report to send with a lease request for `key` (taken: sent once).
    pub fn take_report(&mut self, key: LimitKey) -> Option<Report> {
        self.held.get_mut(&key).and_then(|h| h.report.take())
    }

    /// The coordinator answered a lease request for `key`.
    pub fn granted(&mut self, key: LimitKey, grant: Grant, now_ms: f64) {
        let h = self.held.entry_or_default(key, now_ms);
        h.asking_until_ms = 0.0;
        match grant {
            Grant::Permits(n) => {
                h.permits = n;
                h.short = h.asked.saturating_sub(n).div_ceil(2);
                h.expires_at_ms = now_ms + PERMIT_LIFE_MS;
                h.refusing_since_ms = None;
                // The calls that asked take these; any left ask again.
                h.askers.clear();
            }
            Grant::Wait(ms) => {
                h.wait_until_ms = now_ms + ms;
                h.refusing_since_ms.get_or_insert(now_ms);
            }
        }
    }

    /// The coordinator could not answer for `key`: calls go on local state
    /// alone for [`ALONE_MS`].
    pub fn unreachable(&mut self, key: LimitKey, now_ms: f64) {
        let h = self.held.entry_or_default(key, now_ms);
        h.asking_until_ms = 0.0;
        h.alone_until_ms = now_ms + ALONE_MS;
    }

    /// A call to `key` goes out: it spends a permit, if one is held.
    pub fn spend(&mut self, key: LimitKey) {
        if let Some(h) = self.held.get_mut(&key) {
            h.permits = h.permits.saturating_sub(1);
        }
    }

    /// An answer from `key` arrived: its report goes with the next lease
    /// request (the newest wins), or is returned to be forwarded at once
    /// when the others may be waiting for it: the first this instance
    /// heard from the key (it may answer a cold start), the first with a
    /// limit (until then the coordinator keeps none) and a 429's, unless
    /// the coordinator was just found unreachable.
    pub fn heard(&mut self, key: LimitKey, report: Report, now_ms: f64) -> Option<Report> {
        let h = self.held.entry_or_default(key, now_ms);
        let reachable = now_ms >= h.alone_until_ms;
        let limited = report.limit.is_some();
        let news =
            !h.reported || (limited && !h.reported_limit) || report.blocked_until_ms.is_some();
        if reachable && news {
            h.reported = true;
            h.reported_limit |= limited;
            return Some(report);
        }
        let newer = h
            .report
            .is_none_or(|r| report.observed_at_ms >= r.observed_at_ms);
        if newer {
            h.report = Some(report);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::wire::tests::report;
    use super::*;

    #[test]
    fn concurrent_calls_send_one_lease_request_for_all_of_them() {
        let k = LimitKey::new("https://api.openai.com", Some("sk-a"));
        let mut leases = Leases::default();
        assert_eq!(
            leases.need(k, 1, 0.0, 60_000.0),
            Need::Ask {
                want: 1,
                tokens: 0.0
            }
        );
        // While it is on its way, the others wait and are counted.
        assert!(matches!(
            leases.need(k, 2, 1.0, 60_000.0),
            Need::Wait { .. }
        ));
        assert!(matches!(
            leases.need(k, 3, 1.0, 60_000.0),
            Need::Wait { .. }
        ));
        leases.granted(k, Grant::Permits(2), 5.0);
        assert_eq!(leases.need(k, 2, 6.0, 60_000.0), Need::Go);
        leases.spend(k);
        assert_eq!(leases.need(k, 3, 6.0, 60_000.0), Need::Go);
        leases.spend(k);
        // Spent: the next asks for the calls that asked meanwhile.
        assert_eq!(
            leases.need(k, 4, 7.0, 60_000.0),
            Need::Ask {
                want: 1,
                tokens: 0.0
            }
        );
        leases.granted(k, Grant::Wait(50.0), 8.0);
        assert_eq!(leases.need(k, 4, 9.0, 60_000.0), Need::Wait { ms: 49.0 });
        assert!(matches!(
            leases.need(k, 4, 58.0, 60_000.0),
            Need::Ask { .. }
        ));
    }

    #[test]
    fn a_grant_short_of_its_calls_leaves_the_next_request_asking_for_half_of_the_rest() {
        let k = LimitKey::new("https://api.openai.com", Some("sk-a"));
        let mut leases = Leases::default();
        assert!(matches!(
            leases.need(k, 0, 0.0, 60_000.0),
            Need::Ask { want: 1, .. }
        ));
        leases.granted(k, Grant::Wait(50.0), 1.0);
        for ticket in 0..8 {
            assert!(matches!(
                leases.need(k, ticket, 2.0, 60_000.0),
                Need::Wait { .. }
            ));
        }
        assert!(matches!(
            leases.need(k, 0, 52.0, 60_000.0),
            Need::Ask { want: 8, .. }
        ));
        // Two of the eight granted: six left without a permit.
        leases.granted(k, Grant::Permits(2), 60.0);
        for ticket in 0..2 {
            assert_eq!(leases.need(k, ticket, 61.0, 60_000.0), Need::Go);
            leases.spend(k);
        }
        // One of them asks again before the others: its request asks for
        // three (it asked for one, promised a turn of one call).
        assert_eq!(
            leases.need(k, 2, 62.0, 60_000.0),
            Need::Ask {
                want: 3,
                tokens: 0.0
            }
        );
        // Counted once: the request after asks for the calls asking then.
        leases.granted(k, Grant::Permits(3), 70.0);
        for ticket in 2..5 {
            assert_eq!(leases.need(k, ticket, 71.0, 60_000.0), Need::Go);
            leases.spend(k);
        }
        assert!(matches!(
            leases.need(k, 5, 72.0, 60_000.0),
            Need::Ask { want: 1, .. }
        ));
    }

    #[test]
    fn permits_expire_and_an_unreachable_coordinator_lets_calls_go_alone() {
        let k = LimitKey::new("https://api.openai.com", Some("sk-a"));
        let mut leases = Leases::default();
        assert!(matches!(leases.need(k, 1, 0.0, 60_000.0), Need::Ask { .. }));
        leases.granted(k, Grant::Permits(5), 0.0);
        assert_eq!(leases.need(k, 1, PERMIT_LIFE_MS - 1.0, 60_000.0), Need::Go);
        assert!(matches!(
            leases.need(k, 1, PERMIT_LIFE_MS, 60_000.0),
            Need::Ask { .. }
        ));
        leases.unreachable(k, 200.0);
        assert_eq!(leases.need(k, 1, 201.0, 60_000.0), Need::Alone);
        assert!(matches!(
            leases.need(k, 1, 200.0 + ALONE_MS, 60_000.0),
            Need::Ask { .. }
        ));
    }

    #[test]
    fn the_first_report_and_a_429_s_are_forwarded_at_once_the_rest_with_the_next_lease() {
        let k = LimitKey::new("https://api.openai.com", Some("sk-a"));
        let mut leases = Leases::default();
        let r = |at| report(10.0, 5.0, 1_000.0, at);
        // An answer without rate-limit headers, then the first with a limit.
        let bare = Report::of(None, None, 0.2, 0.5);
        assert_eq!(leases.heard(k, bare, 0.5), Some(bare));
        assert_eq!(leases.heard(k, r(1.0), 1.0), Some(r(1.0)));
        assert_eq!(leases.heard(k, r(2.0), 2.0), None);
        // An older report does not replace a newer one.
        assert_eq!(leases.heard(k, r(1.5), 3.0), None);
        assert_eq!(leases.take_report(k), Some(r(2.0)));
        assert_eq!(leases.take_report(k), None, "sent once");
        let limited = Report {
            blocked_until_ms: Some(900.0),
            ..r(4.0)
        };
        assert_eq!(leases.heard(k, limited, 4.0), Some(limited));
        leases.unreachable(k, 5.0);
        assert_eq!(leases.heard(k, limited, 6.0), None, "not while unreachable");
        assert_eq!(leases.take_report(k), Some(limited), "kept for later");
    }

    #[test]
    fn a_coordinator_that_refuses_longer_than_the_cap_is_not_waited_for() {
        let k = LimitKey::new("https://api.openai.com", Some("sk-a"));
        let mut leases = Leases::default();
        let cap = 5_000.0;
        // A refusal's end may be seen one wait late: that long more.
        let limit = cap + WAIT_MS.1;
        let mut t = 0.0;
        while t <= limit {
            match leases.need(k, 1, t, cap) {
                Need::Ask { .. } => leases.granted(k, Grant::Wait(1_000.0), t),
                Need::Wait { .. } => {}
                other => panic!("{other:?} at {t}"),
            }
            t += 100.0;
        }
        assert_eq!(leases.need(k, 1, limit + 100.0, cap), Need::Alone);
        // For a while, then the coordinator is asked again.
        let later = limit + 100.0 + ALONE_MS;
        assert!(matches!(leases.need(k, 1, later, cap), Need::Ask { .. }));
        leases.granted(k, Grant::Permits(1), later);
        assert_eq!(leases.need(k, 1, later + 1.0, cap), Need::Go);
    }

    #[test]
    fn a_lost_lease_request_does_not_block_the_key_for_good() {
        let k = LimitKey::new("https://api.openai.com", Some("sk-a"));
        let mut leases = Leases::default();
        assert!(matches!(leases.need(k, 1, 0.0, 60_000.0), Need::Ask { .. }));
        // Its call was cancelled: the answer never comes.
        assert!(matches!(
            leases.need(k, 2, ASK_MS - 1.0, 60_000.0),
            Need::Wait { .. }
        ));
        assert!(matches!(
            leases.need(k, 2, ASK_MS, 60_000.0),
            Need::Ask { .. }
        ));
    }
}

//! The lease's say before an attempt and after its answer
//! ([`crate::limits::attempt`]): a call that shares its limits through a
//! coordinator needs a permit leased from it, spends it when it goes, and
//! its answer's report of the key's window goes to the coordinator.

use super::{Counted, Leases, Need, Report};
use crate::classify::kind::Kind;
use crate::limits::attempt::{Answered, Draft};
use crate::limits::throttle::Refill;
use crate::limits::{Heard, Hold, Plan};

impl Leases {
    /// Before an attempt of a leased call ([`crate::limits::attempt::BEFORE`]):
    /// it goes on a permit it holds, or on the local throttle alone while
    /// the coordinator is unreachable; it asks the coordinator for permits
    /// (forwarding the key's report once); or it holds while the
    /// coordinator said to wait, unless that ends past the deadline (then
    /// it goes on the local throttle's word).
    pub fn before<F>(&mut self, draft: &mut Draft<'_>) -> Option<Plan<F>> {
        let key = draft.route_keys.model;
        if let Some(t) = draft.tokens {
            self.expect(key, t.total() as f64, draft.now_ms);
        }
        match self.need(key, draft.ticket, draft.now_ms, draft.max_wait_ms) {
            Need::Go => {
                draft.permit = true;
                None
            }
            // The coordinator is unreachable: the local throttle alone.
            Need::Alone => None,
            Need::Ask { want, tokens } => Some(Plan::Lease {
                key,
                want,
                tokens,
                report: self.take_report(key),
            }),
            Need::Wait { ms } if !draft.too_late(ms) => Some(Plan::Hold {
                ms: ms.ceil() as u64,
                why: Hold::Coordinator,
            }),
            // Past the deadline otherwise: go on the local throttle's word.
            Need::Wait { .. } => None,
        }
    }

    /// The attempt `draft` goes: it spends its permit, if it holds one.
    pub fn sent(&mut self, draft: &Draft<'_>) {
        if draft.permit {
            self.spend(draft.route_keys.model);
        }
    }

    /// After a leased attempt's answer ([`crate::limits::attempt::AFTER`]):
    /// its report of the key's window (with how this instance saw the
    /// window `refill`: at its reset, the coordinator may learn from the
    /// counts that it refills whole, and free its slots there; never for a
    /// token bucket) is kept for the next lease request, or put in `heard`
    /// to forward now (see [`Leases::heard`]).
    pub fn after<F>(&mut self, answer: &Answered<'_, F>, refill: Refill, heard: &mut Heard<F>) {
        let (pass, c) = (answer.pass, answer.classification);
        let hint = c.retry_after_ms.filter(|_| c.kind == Kind::RateLimit);
        let window = c.limits.as_ref().and_then(|l| l.requests.as_ref());
        let tokens = c.limits.as_ref().and_then(|l| l.tokens.as_ref());
        let key = pass.keys.model;
        let report = Report::of(window, hint, pass.at_ms, answer.now_ms)
            .refilling(refill)
            .counting(Counted::of(tokens, answer.now_ms));
        heard.report = self.heard(key, report, answer.now_ms).map(|r| (key, r));
    }
}

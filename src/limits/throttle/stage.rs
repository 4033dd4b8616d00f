//! The throttle's say before an attempt and after its answer
//! ([`crate::limits::attempt`]), through its own API: it lets the attempt
//! go now or holds it, and learns the windows the answer reported.

use super::{Admit, Answer, Throttle};
use crate::classify::kind::Kind;
use crate::limits::attempt::{Answered, Draft};
use crate::limits::{Hold, Plan};

impl Throttle {
    /// Before an attempt ([`crate::limits::attempt::BEFORE`]): it goes now
    /// on the route's model key (rate limits are per model), booked; or it
    /// holds until a window resets or refills, or an answer in flight
    /// tells how much is left, unless that wait, counted from when the
    /// call first waited, would outlast the policy's cap on server hints,
    /// or end past the deadline: then it goes anyway (forced).
    pub fn before<F>(&mut self, draft: &mut Draft<'_>) -> Option<Plan<F>> {
        let (key, ticket, tokens, now_ms) = (
            draft.route_keys.model,
            draft.ticket,
            draft.tokens,
            draft.now_ms,
        );
        let admit = if draft.permit {
            self.admit_leased(key, ticket, tokens, now_ms)
        } else {
            self.admit(key, ticket, tokens, now_ms)
        };
        match admit {
            Admit::Go(booking) => draft.booking = Some(booking),
            Admit::Wait { ms, until, since } => {
                let end = until.unwrap_or(now_ms + ms as f64);
                let too_long = end - since > draft.max_wait_ms;
                let too_late = draft.deadline_ms.is_some_and(|d| end >= d);
                if !(too_long || too_late) {
                    let why = if until.is_some() {
                        Hold::Window
                    } else {
                        Hold::Answer
                    };
                    return Some(Plan::Hold { ms, why });
                }
                draft.booking = Some(self.force(key, ticket, tokens, now_ms));
            }
        }
        None
    }

    /// After an attempt's answer ([`crate::limits::attempt::AFTER`]): the
    /// booked request is no longer in flight, and the windows the answer
    /// reported are taken in (a lost answer reports none).
    pub fn after<F>(&mut self, answer: &Answered<'_, F>) {
        let (pass, c) = (answer.pass, answer.classification);
        let Some(booking) = pass.booking else {
            return;
        };
        let heard = if c.status == 0 {
            Answer::Lost
        } else {
            Answer::Heard {
                limits: c.limits.as_ref(),
                rate_limited: c.kind == Kind::RateLimit,
                retry_after_ms: c.retry_after_ms,
            }
        };
        self.answered(pass.keys.model, booking, answer.now_ms, heard);
    }
}

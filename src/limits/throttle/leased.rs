//! Leased admission: a call holding a permit leased from a coordinator
//! ([`crate::limits::lease`]) leaves the requests and tokens windows, and
//! the cold start, to the coordinator, which sees every instance's calls;
//! Anthropic's input and output tokens windows are this throttle's as
//! usual.

use super::{Admit, Throttle, Tokens};
use crate::limits::key::LimitKey;

impl Throttle {
    /// [`admit`](Self::admit) for a call holding a permit leased from a
    /// coordinator ([`crate::limits::lease`]): the coordinator, which
    /// sees every instance's calls, decides the requests and tokens windows
    /// (and the cold start); the input and output tokens windows are this
    /// throttle's as usual.
    pub fn admit_leased(
        &mut self,
        key: LimitKey,
        ticket: u64,
        tokens: Option<Tokens>,
        now_ms: f64,
    ) -> Admit {
        self.admit_with(key, ticket, tokens, now_ms, true)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::*;

    #[test]
    fn a_leased_call_leaves_requests_and_tokens_to_the_coordinator_but_not_input_tokens() {
        let mut r = Run::new(1);
        // Cold: a leased call does not hold for the first answer.
        let t = r.call();
        assert!(matches!(r.admit(t, 0.0), Admit::Go(_)));
        let t = r.call();
        assert!(matches!(r.t.admit_leased(k(), t, None, T0), Admit::Go(_)));
        let mut r = Run::new(0);
        let b = r.go(0.0).unwrap();
        let tokens_out = Limits {
            tokens: window(10_000, 0, 500),
            ..requests(10, 0, 1_000)
        };
        let input_out = Limits {
            input_tokens: window(10_000, 0, 500),
            ..tokens_out
        };
        r.answer(b, 1.0, &requests(10, 0, 1_000));
        let t = r.call();
        assert!(
            matches!(r.admit(t, 2.0), Admit::Wait { .. }),
            "requests used up"
        );
        assert!(matches!(
            r.t.admit_leased(k(), t, None, T0 + 2.0),
            Admit::Go(_)
        ));
        let need = Some(Tokens {
            input: 100,
            output: 0,
        });
        // The tokens window is the coordinator's too (it shares it).
        let t = r.call();
        let b = match r.t.admit_leased(k(), t, None, T0 + 3.0) {
            Admit::Go(b) => b,
            other => panic!("{other:?}"),
        };
        r.answer(b, 4.0, &tokens_out);
        let t = r.call();
        let b = match r.t.admit_leased(k(), t, need, T0 + 5.0) {
            Admit::Go(b) => b,
            other => panic!("{other:?}"),
        };
        // Anthropic's input tokens window is still this throttle's.
        r.answer(b, 6.0, &input_out);
        let t = r.call();
        let waited = r.t.admit_leased(k(), t, need, T0 + 7.0);
        assert!(matches!(waited, Admit::Wait { .. }), "{waited:?}");
    }
}

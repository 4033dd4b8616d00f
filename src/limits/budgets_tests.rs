//! The spend budgets' decisions on a fake clock (the `now_ms` passed in).

use super::*;
use crate::limits::spend::{Amount, Budget, OnExhausted, Unit, Window};

const T0: f64 = 1_796_601_600_000.0; // 2026-12-07 00:00 UTC

fn key(i: usize) -> LimitKey {
    LimitKey::new("https://api.openai.com", Some(&format!("sk-{i}")))
}

fn keys() -> [RouteKey; 2] {
    [
        RouteKey::new(key(0), Some("gpt-4o")),
        RouteKey::new(key(1), Some("gpt-4o-mini")),
    ]
}

fn usd(usd: f64) -> Cost {
    Cost {
        usd: Some(usd),
        tokens: 0.0,
    }
}

/// A $10 daily budget that moves bulk calls to route 1 from half of it.
fn moving() -> Spend {
    let b = Budget::new("b", Amount::usd(10.0), Window::Day)
        .unwrap()
        .with_on_exhausted(OnExhausted::MoveBulk {
            route: 1,
            from: 0.5,
        })
        .unwrap();
    Spend::new(vec![b], 100).unwrap()
}

fn spent(spent: f64) -> Exhausted {
    Exhausted {
        budget: "b".into(),
        unit: Unit::Usd,
        limit: 10.0,
        spent,
        reserved: 0.0,
        resets_at_ms: T0 + 86_400_000.0,
    }
}

#[test]
fn before_holds_then_moves_a_bulk_call_then_refuses_an_interactive_one() {
    let mut s = moving();
    let k = keys();
    let go = before(&mut s, &k, None, Lane::Bulk, usd(6.0), T0);
    let Before::Go { holds, moved: None } = go else {
        panic!("{go:?}")
    };
    assert!(!holds.is_empty());
    // 60% held: a bulk call moves to route 1, whose account's books hold it.
    let go = before(&mut s, &k, None, Lane::Bulk, usd(6.0), T0);
    assert!(matches!(go, Before::Go { moved: Some(1), .. }), "{go:?}");
    // An interactive call stays, and 6 + 6 is over 10.
    let refused = before(&mut s, &k, None, Lane::Interactive, usd(6.0), T0);
    let Before::Refuse(e) = refused else {
        panic!("{refused:?}")
    };
    assert_eq!((e.budget.as_str(), e.reserved), ("b", 6.0));
    // Released, the first call's hold makes room again.
    s.release(holds, T0);
    let go = before(&mut s, &k, None, Lane::Interactive, usd(6.0), T0);
    assert!(matches!(go, Before::Go { moved: None, .. }), "{go:?}");
}

#[test]
fn targets_are_the_route_s_account_s_books_in_the_budget_s_unit() {
    let s = moving();
    let k = keys();
    let t = targets(&s, &k, 1, None, usd(2.5));
    assert_eq!(
        t,
        vec![Target {
            budget: 0,
            scope: key(1),
            amount: 2.5,
            limit: 10.0
        }]
    );
    assert!(targets(&Spend::default(), &k, 0, None, usd(1.0)).is_empty());
    assert_eq!(key_on(&k, 5), LimitKey::new("", None));
}

#[test]
fn a_coordinator_s_answers_hold_move_refuse_or_fall_back_to_the_instance() {
    let s = moving();
    let target = targets(&s, &keys(), 0, None, usd(1.0))[0];
    // Held with the books at 40% before this call: it goes.
    let mut r = Reserving::new(0, 2, Lane::Bulk);
    assert_eq!(r.heard(&s, &target, Answer::Held { fraction: 0.5 }), None);
    assert_eq!(r.end(), Reserved::Held);
    // At 50% before it: the hold is released and it moves.
    let mut r = Reserving::new(0, 2, Lane::Bulk);
    assert_eq!(r.heard(&s, &target, Answer::Held { fraction: 0.6 }), None);
    assert_eq!(r.end(), Reserved::Move(1));
    // An interactive call is not moved; a call without the route either.
    for (routes, lane) in [(2, Lane::Interactive), (1, Lane::Bulk)] {
        let mut r = Reserving::new(0, routes, lane);
        assert_eq!(r.heard(&s, &target, Answer::Held { fraction: 0.9 }), None);
        assert_eq!(r.end(), Reserved::Held);
    }
    // Spent: a bulk call moves, an interactive one is refused.
    let mut r = Reserving::new(0, 2, Lane::Bulk);
    let heard = r.heard(&s, &target, Answer::Spent(spent(10.0)));
    assert_eq!(heard, Some(Reserved::Move(1)));
    let mut r = Reserving::new(0, 2, Lane::Interactive);
    let heard = r.heard(&s, &target, Answer::Spent(spent(10.0)));
    assert_eq!(heard, Some(Reserved::Spent(spent(10.0))));
    // From the cheap route, nothing moves again.
    let mut r = Reserving::new(1, 2, Lane::Bulk);
    let heard = r.heard(&s, &target, Answer::Spent(spent(10.0)));
    assert_eq!(heard, Some(Reserved::Spent(spent(10.0))));
    // No answer: the instance's own books decide.
    let mut r = Reserving::new(0, 2, Lane::Bulk);
    assert_eq!(r.heard(&s, &target, Answer::Silent), Some(Reserved::Down));
}

#[test]
fn a_move_is_followed_once_and_the_rest_is_carried_out_as_said() {
    assert_eq!(then(0, Reserved::Held), Then::Go { moved: None });
    assert_eq!(then(1, Reserved::Held), Then::Go { moved: Some(1) });
    assert_eq!(then(0, Reserved::Move(1)), Then::Again(1));
    assert_eq!(then(1, Reserved::Move(2)), Then::Bare);
    assert_eq!(
        then(0, Reserved::Spent(spent(9.0))),
        Then::Refuse(spent(9.0))
    );
    assert_eq!(then(1, Reserved::Down), Then::Local);
}

#[test]
fn only_a_success_whose_usage_is_read_settles_every_other_call_releases() {
    assert_eq!(after(Kind::Ok, true), After::Settle);
    assert_eq!(after(Kind::Ok, false), After::Release);
    for kind in [Kind::QuotaExhausted, Kind::RateLimit, Kind::Network] {
        assert_eq!(after(kind, true), After::Release);
    }
}

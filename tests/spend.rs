//! Spend budgets (`limits::spend`) behind a fake clock: reservations,
//! concurrency, settling, alerts, the forecast, window rollover, bounded
//! memory and the storage encoding.
#![cfg(not(target_arch = "wasm32"))]

use ratewise::limits::key::{Idle, LimitKey};
use ratewise::limits::lanes::Lane;
use ratewise::limits::spend::window::{days_from_civil, DAY_MS};
use ratewise::limits::spend::{
    Amount, Books, Budget, BudgetError, Call, CodecError, Cost, OnExhausted, Spend, Unit, Verdict,
    Window,
};

/// Epoch ms of a UTC date and time.
fn at(y: i64, mo: u32, d: u32, h: u32) -> f64 {
    days_from_civil(y, mo, d) as f64 * DAY_MS + f64::from(h) * 3_600_000.0
}

fn usd(name: &str, limit: f64, window: Window) -> Budget {
    Budget::new(name, Amount::usd(limit), window).unwrap()
}

fn key(i: usize) -> LimitKey {
    LimitKey::new("https://api.openai.com", Some(&format!("sk-{i}")))
}

fn cost(usd: f64) -> Cost {
    Cost {
        usd: Some(usd),
        tokens: 0.0,
    }
}

fn call(estimate: f64) -> Call<'static> {
    Call {
        key: key(0),
        tag: None,
        lane: Lane::Interactive,
        route: 0,
        estimate: cost(estimate),
    }
}

fn spend(budgets: Vec<Budget>) -> Spend {
    Spend::new(budgets, 1_000).unwrap()
}

const T0: f64 = 1_796_601_600_000.0; // 2026-12-07 00:00 UTC

#[test]
fn a_reservation_holds_room_until_settled_or_released() {
    let b = usd("daily", 1.0, Window::Day);
    let mut books = Books::default();
    let r = books.reserve(&b, 0.6, T0).unwrap();
    assert_eq!(r.amount(), 0.6);
    // 0.6 held: 0.5 more does not fit, 0.4 does.
    let e = books.reserve(&b, 0.5, T0).unwrap_err();
    assert_eq!(
        (e.budget.as_str(), e.reserved, e.spent, e.resets_at_ms),
        ("daily", 0.6, 0.0, T0 + DAY_MS)
    );
    let r2 = books.reserve(&b, 0.4, T0).unwrap();
    // Released: its room is back.
    books.release(&b, r2, T0);
    let r3 = books.reserve(&b, 0.4, T0).unwrap();
    books.release(&b, r3, T0);
    // Settled down: only the actual counts.
    assert!(books.settle(&b, r, 0.1, T0).is_empty());
    let s = books.status(&b, T0);
    assert_eq!((s.spent, s.reserved), (0.1, 0.0));
    assert!(books.reserve(&b, 0.9, T0).is_ok());
}

#[test]
fn twenty_concurrent_calls_cannot_all_pass_a_budget_with_room_for_two() {
    let mut s = spend(vec![usd("b", 1.0, Window::Day)]);
    let verdicts: Vec<Verdict> = (0..20).map(|_| s.reserve(&call(0.45), T0)).collect();
    let passed = verdicts
        .iter()
        .filter(|v| matches!(v, Verdict::Go(_)))
        .count();
    assert_eq!(passed, 2);
    let mut holds = verdicts.into_iter().filter_map(|v| match v {
        Verdict::Go(h) => Some(h),
        _ => None,
    });
    let (a, b) = (holds.next().unwrap(), holds.next().unwrap());
    // One settles far below its estimate: room for one more, not two.
    assert!(s.settle(a, cost(0.05), T0 + 1.0).is_empty());
    assert!(matches!(s.reserve(&call(0.45), T0 + 2.0), Verdict::Go(_)));
    assert!(matches!(
        s.reserve(&call(0.45), T0 + 2.0),
        Verdict::Exhausted(_)
    ));
    s.release(b, T0 + 3.0);
    assert!(matches!(s.reserve(&call(0.45), T0 + 4.0), Verdict::Go(_)));
}

#[test]
fn a_settle_over_the_estimate_charges_it_all_and_the_next_call_is_refused() {
    let b = usd("b", 1.0, Window::Day);
    let mut books = Books::default();
    let r = books.reserve(&b, 0.2, T0).unwrap();
    books.settle(&b, r, 1.5, T0);
    assert_eq!(books.status(&b, T0).spent, 1.5);
    // Even a call estimated at nothing is refused at the cap, or past it.
    assert!(books.reserve(&b, 0.0, T0).is_err());
    let mut at_cap = Books::default();
    let r = at_cap.reserve(&b, 1.0, T0).unwrap();
    at_cap.settle(&b, r, 1.0, T0);
    assert!(at_cap.reserve(&b, 0.0, T0).is_err());
    // A settle that is not a number charges the estimate, not nothing.
    let mut books = Books::default();
    let r = books.reserve(&b, 0.3, T0).unwrap();
    books.settle(&b, r, f64::NAN, T0);
    assert_eq!(books.status(&b, T0).spent, 0.3);
    // Sums that only pass the limit by float rounding fit.
    let mut books = Books::default();
    for _ in 0..10 {
        let r = books.reserve(&b, 0.1, T0).unwrap();
        books.settle(&b, r, 0.1, T0);
    }
    assert!(books.reserve(&b, 0.1, T0).is_err());
    // 0.1 + 0.2 is 0.30000000000000004: it still fits a limit of 0.3.
    let tight = usd("t", 0.3, Window::Day);
    let mut books = Books::default();
    let a = books.reserve(&tight, 0.1, T0).unwrap();
    let b = books.reserve(&tight, 0.2, T0).unwrap();
    // Released again, nothing is held: not 2.8e-17.
    books.release(&tight, a, T0);
    books.release(&tight, b, T0);
    assert_eq!(books.status(&tight, T0).reserved, 0.0);
    assert!(books.idle(T0 + DAY_MS));
}

#[test]
fn thresholds_alert_once_per_window_and_again_in_the_next() {
    let b = usd("b", 10.0, Window::Day);
    let mut books = Books::default();
    let spend_once = |books: &mut Books, amount: f64, now: f64| {
        let r = books.reserve(&b, amount, now).unwrap();
        books.settle(&b, r, amount, now)
    };
    assert!(spend_once(&mut books, 4.0, T0).is_empty());
    let a = spend_once(&mut books, 1.0, T0 + 1.0);
    assert_eq!(a.len(), 1);
    assert_eq!(
        (a[0].budget.as_str(), a[0].threshold, a[0].spent, a[0].limit),
        ("b", Some(0.5), 5.0, 10.0)
    );
    assert_eq!(a[0].window_ends_at_ms, T0 + DAY_MS);
    // (The forecast alert may come now: it is a burn of $6 in 2 ms.)
    let a = spend_once(&mut books, 1.0, T0 + 2.0);
    assert!(a.iter().all(|a| a.threshold.is_none()), "0.5 once: {a:?}");
    let a = spend_once(&mut books, 3.5, T0 + 3.0);
    let ts: Vec<_> = a.iter().filter_map(|a| a.threshold).collect();
    assert_eq!(ts, [0.8, 0.95]);
    // The next day starts afresh: 0.5 fires again.
    let next = T0 + DAY_MS;
    let a = spend_once(&mut books, 5.0, next + 10.0);
    assert_eq!(a.first().and_then(|a| a.threshold), Some(0.5));
}

#[test]
fn the_forecast_alerts_once_when_the_month_s_cap_comes_early() {
    let b = usd("monthly", 100.0, Window::Month)
        .with_alerts(&[0.9])
        .unwrap();
    let start = at(2026, 12, 1, 0);
    let mut books = Books::default();
    let mut alerts = Vec::new();
    // $5 a day: $155 by the end of December, out on the 20th.
    for day in 0..5 {
        let now = start + f64::from(day) * DAY_MS + 3_600_000.0;
        let r = books.reserve(&b, 5.0, now).unwrap();
        alerts.extend(books.settle(&b, r, 5.0, now));
    }
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let a = &alerts[0];
    assert_eq!(a.threshold, None);
    let forecast = a.forecast_ms.unwrap();
    // The third call (after 2 days 1 hour, $15 spent) forecasts the cap.
    let now = start + 2.0 * DAY_MS + 3_600_000.0;
    let rate = 15.0 / (now - start);
    assert_eq!(forecast, now + 85.0 / rate);
    assert!(forecast < at(2027, 1, 1, 0) && forecast > at(2026, 12, 13, 0));
    assert_eq!(a.window_ends_at_ms, at(2027, 1, 1, 0));
}

#[test]
fn a_slow_burn_gets_no_forecast_alert() {
    let b = usd("monthly", 100.0, Window::Month);
    let start = at(2026, 12, 1, 0);
    let mut books = Books::default();
    let mut last = Vec::new();
    for day in 0..25 {
        let now = start + f64::from(day) * DAY_MS;
        let r = books.reserve(&b, 1.0, now).unwrap();
        last = books.settle(&b, r, 1.0, now);
        assert!(last.iter().all(|a| a.threshold.is_some()), "day {day}");
    }
    // $25 by day 25 of 31 is 25%, and the cap is 75 days away: nothing.
    assert!(last.is_empty());
}

#[test]
fn a_month_rolls_over_from_december_to_january_and_through_a_leap_february() {
    let b = usd("m", 10.0, Window::Month);
    let mut books = Books::default();
    let dec = at(2026, 12, 31, 23);
    let r = books.reserve(&b, 9.0, dec).unwrap();
    books.settle(&b, r, 9.0, dec);
    assert!(books.reserve(&b, 2.0, dec).is_err());
    let e = books.reserve(&b, 2.0, dec).unwrap_err();
    assert_eq!(e.resets_at_ms, at(2027, 1, 1, 0));
    // January: afresh.
    let r = books.reserve(&b, 9.0, at(2027, 1, 1, 0)).unwrap();
    books.settle(&b, r, 9.0, at(2027, 1, 1, 0));
    assert_eq!(books.status(&b, at(2027, 1, 31, 23)).spent, 9.0);
    // 2028-02-29 is still February; March 1st is a new month.
    let feb = at(2028, 2, 1, 0);
    let r = books.reserve(&b, 10.0, feb).unwrap();
    books.settle(&b, r, 10.0, feb);
    let e = books.reserve(&b, 1.0, at(2028, 2, 29, 23)).unwrap_err();
    assert_eq!(e.resets_at_ms, at(2028, 3, 1, 0));
    assert!(books.reserve(&b, 1.0, at(2028, 3, 1, 0)).is_ok());
}

#[test]
fn a_day_and_a_rolling_window_roll_over_at_their_ends() {
    let day = usd("d", 1.0, Window::Day);
    let mut books = Books::default();
    let r = books.reserve(&day, 1.0, T0 + DAY_MS - 1.0).unwrap();
    books.settle(&day, r, 1.0, T0 + DAY_MS - 1.0);
    assert!(books.reserve(&day, 0.5, T0 + DAY_MS - 1.0).is_err());
    assert!(books.reserve(&day, 0.5, T0 + DAY_MS).is_ok());

    let rolling = usd("r", 1.0, Window::Rolling(60_000.0));
    let mut books = Books::default();
    let r = books.reserve(&rolling, 1.0, 120_000.0).unwrap();
    books.settle(&rolling, r, 1.0, 120_000.0);
    let e = books.reserve(&rolling, 0.1, 179_999.0).unwrap_err();
    assert_eq!(e.resets_at_ms, 180_000.0);
    let r = books.reserve(&rolling, 0.1, 180_000.0).unwrap();
    books.settle(&rolling, r, 0.1, 180_000.0);
    // A clock that goes back keeps the window it is in.
    assert_eq!(books.status(&rolling, 100_000.0).spent, 0.1);
    assert!(books.reserve(&rolling, 0.95, 170_000.0).is_err());
}

#[test]
fn reservations_in_flight_keep_their_room_across_a_rollover_and_settle_into_the_new_window() {
    let b = usd("d", 1.0, Window::Day);
    let mut books = Books::default();
    let late = T0 + DAY_MS - 10.0;
    let r = books.reserve(&b, 0.7, late).unwrap();
    // Midnight: nothing spent, but the call in flight still holds 0.7.
    let next = T0 + DAY_MS + 10.0;
    let s = books.status(&b, next);
    assert_eq!((s.spent, s.reserved), (0.0, 0.7));
    assert!(books.reserve(&b, 0.5, next).is_err());
    // It settles after midnight: the new day is charged, its hold freed.
    books.settle(&b, r, 0.2, next);
    let s = books.status(&b, next);
    assert_eq!((s.spent, s.reserved), (0.2, 0.0));
    assert!(books.reserve(&b, 0.8, next).is_ok());
}

#[test]
fn a_reservation_never_settled_is_forgotten_after_two_windows() {
    let b = usd("d", 1.0, Window::Day);
    let mut books = Books::default();
    let lost = books.reserve(&b, 0.9, T0).unwrap();
    assert!(books.reserve(&b, 0.5, T0 + DAY_MS).is_err(), "carried");
    let s = books.status(&b, T0 + 2.0 * DAY_MS);
    assert_eq!(s.reserved, 0.0);
    // Settled at last, two windows later: charged, nothing else freed.
    let held = books.reserve(&b, 0.5, T0 + 2.0 * DAY_MS).unwrap();
    books.settle(&b, lost, 0.3, T0 + 2.0 * DAY_MS);
    let s = books.status(&b, T0 + 2.0 * DAY_MS);
    assert_eq!((s.spent, s.reserved), (0.3, 0.5));
    books.release(&b, held, T0 + 2.0 * DAY_MS);
}

#[test]
fn budgets_apply_per_limit_key_or_per_tag_and_a_tag_only_to_its_calls() {
    let mut s = spend(vec![
        usd("per-key", 1.0, Window::Day),
        usd("batch", 1.0, Window::Day).with_tag("nightly").unwrap(),
    ]);
    let tagged = |k| Call {
        key: key(k),
        tag: Some("nightly"),
        ..call(0.6)
    };
    // Two keys, one tag: the tag's books are shared, the keys' are not.
    let Verdict::Go(h1) = s.reserve(&tagged(1), T0) else {
        panic!()
    };
    let Verdict::Exhausted(e) = s.reserve(&tagged(2), T0) else {
        panic!("the tag's books are shared across keys")
    };
    assert_eq!(e.budget, "batch");
    // Untagged calls on key 1 meet only the per-key budget, which the
    // tagged call also holds 0.6 of.
    let Verdict::Exhausted(e) = s.reserve(
        &Call {
            key: key(1),
            ..call(0.6)
        },
        T0,
    ) else {
        panic!()
    };
    assert_eq!(e.budget, "per-key");
    let Verdict::Go(h2) = s.reserve(
        &Call {
            key: key(3),
            ..call(0.6)
        },
        T0,
    ) else {
        panic!("another key has its own books")
    };
    assert_eq!(s.scopes(0), 3);
    // A refused call holds nothing on the budgets that had room.
    let per_key = usd("per-key", 1.0, Window::Day);
    let reserved = |k| s.books(0, key(k)).map(|b| b.status(&per_key, T0).reserved);
    assert_eq!(
        (reserved(1), reserved(2), reserved(3)),
        (Some(0.6), Some(0.0), Some(0.6))
    );
    s.release(h1, T0);
    s.release(h2, T0);
    // Where each applying budget's books are kept: the key's, the tag's.
    let scopes: Vec<_> = s
        .scopes_for(key(1), Some("nightly"))
        .map(|(i, b, scope)| (i, b.name().to_owned(), scope))
        .collect();
    assert_eq!(scopes.len(), 2);
    assert_eq!((scopes[0].0, scopes[0].2), (0, key(1)));
    assert_eq!(scopes[1].1, "batch");
    assert_eq!(
        scopes[1].2,
        s.scopes_for(key(2), Some("nightly")).nth(1).unwrap().2,
        "one tag, one set of books, whatever the key"
    );
    assert_eq!(s.scopes_for(key(1), None).count(), 1);
    // An unknown tag meets only the untagged budget.
    let Verdict::Go(h) = s.reserve(
        &Call {
            tag: Some("other"),
            ..call(0.9)
        },
        T0,
    ) else {
        panic!()
    };
    assert!(!h.is_empty());
    s.settle(h, cost(0.9), T0);
}

#[test]
fn bulk_calls_move_to_the_cheap_route_from_the_soft_threshold_and_all_stop_at_the_cap() {
    let b = usd("b", 10.0, Window::Day)
        .with_on_exhausted(OnExhausted::MoveBulk {
            route: 1,
            from: 0.8,
        })
        .unwrap();
    let mut s = spend(vec![b]);
    let bulk = |route| Call {
        lane: Lane::Bulk,
        route,
        ..call(1.0)
    };
    let Verdict::Go(h) = s.reserve(&call(7.0), T0) else {
        panic!()
    };
    // 70% committed: bulk stays.
    let Verdict::Go(b1) = s.reserve(&bulk(0), T0) else {
        panic!("below the soft threshold")
    };
    // 80%: bulk moves, interactive stays, bulk on the cheap route goes.
    assert_eq!(
        s.reserve(&bulk(0), T0),
        Verdict::Move {
            route: 1,
            budget: "b".into()
        }
    );
    let Verdict::Go(i1) = s.reserve(&call(1.0), T0) else {
        panic!("interactive keeps its route")
    };
    let Verdict::Go(b2) = s.reserve(&bulk(1), T0) else {
        panic!("already on the cheap route")
    };
    // The cap: every call stops.
    assert!(matches!(s.reserve(&bulk(1), T0), Verdict::Exhausted(_)));
    assert!(matches!(s.reserve(&call(0.5), T0), Verdict::Exhausted(_)));
    for holds in [h, b1, i1, b2] {
        s.release(holds, T0);
    }
}

#[test]
fn each_budget_counts_its_own_unit() {
    let tokens = Budget::new("t", Amount::tokens(1_000.0), Window::Day).unwrap();
    let dollars = usd("u", 1.0, Window::Day);
    let mut s = spend(vec![tokens, dollars]);
    let estimate = Cost {
        usd: None,
        tokens: 600.0,
    };
    let Verdict::Go(h) = s.reserve(
        &Call {
            estimate,
            ..call(0.0)
        },
        T0,
    ) else {
        panic!()
    };
    let alerts = s.settle(
        h,
        Cost {
            usd: None,
            tokens: 700.0,
        },
        T0,
    );
    assert_eq!(alerts.len(), 1);
    assert_eq!((alerts[0].unit, alerts[0].spent), (Unit::Tokens, 700.0));
    let statuses = s.statuses(T0);
    let spent: Vec<_> = statuses
        .iter()
        .map(|(b, _, st)| (b.name(), st.spent))
        .collect();
    assert_eq!(
        spent,
        [("t", 700.0), ("u", 0.0)],
        "no price: nothing in USD"
    );
}

#[test]
fn books_stay_bounded_whatever_the_number_of_keys_and_tags() {
    let mut s = Spend::new(
        vec![
            usd("k", 1.0, Window::Day),
            usd("t", 1.0, Window::Day).with_tag("x").unwrap(),
        ],
        64,
    )
    .unwrap();
    for i in 0..5_000 {
        let tag = format!("tag-{i}");
        let c = Call {
            key: key(i),
            tag: Some(&tag),
            ..call(0.001)
        };
        if let Verdict::Go(h) = s.reserve(&c, T0 + i as f64) {
            s.settle(h, cost(0.001), T0 + i as f64);
        }
        assert!(s.scopes(0) <= 64);
    }
    assert_eq!(s.scopes(1), 0, "unknown tags keep nothing");
    // Settled books of a finished window are idle; held ones are not.
    let b = usd("d", 1.0, Window::Day);
    let mut books = Books::default();
    let r = books.reserve(&b, 0.1, T0).unwrap();
    assert!(!books.idle(T0 + DAY_MS), "a call is in flight");
    books.settle(&b, r, 0.1, T0);
    assert!(!books.idle(T0 + DAY_MS - 1.0));
    assert!(books.idle(T0 + DAY_MS));
}

#[test]
fn two_budgets_with_one_name_are_refused() {
    let e = Spend::new(
        vec![usd("a", 1.0, Window::Day), usd("a", 2.0, Window::Month)],
        10,
    )
    .unwrap_err();
    assert_eq!(e, BudgetError::DuplicateName("a".into()));
    assert_eq!(e.field(), "name");
}

#[test]
fn books_round_trip_through_storage_and_foreign_or_corrupt_values_are_refused() {
    let b = usd("monthly", 100.0, Window::Month);
    let mut books = Books::default();
    let r1 = books.reserve(&b, 60.0, T0).unwrap();
    books.settle(&b, r1, 55.5, T0);
    let held = books.reserve(&b, 10.0, T0).unwrap();
    let v = books.encode(&b);
    assert!(v.iter().all(|n| n.is_finite()), "JSON-able: {v:?}");
    let back = Books::decode(&b, &v).unwrap();
    assert_eq!(back, books);
    assert_eq!(Books::from_text(&b, &books.to_text(&b)).unwrap(), books);
    // What was fired stays fired; what is held stays held.
    let mut back = back;
    let alerts = back.settle(&b, held, 10.0, T0);
    assert!(
        alerts.iter().all(|a| a.threshold != Some(0.5)),
        "{alerts:?}"
    );
    assert_eq!(back.status(&b, T0).reserved, 0.0);
    // A fresh book encodes and decodes too.
    assert!(Books::decode(&b, &Books::default().encode(&b)).is_ok());
    // A limit change keeps the books.
    let raised = usd("monthly", 500.0, Window::Month);
    assert!(Books::decode(&raised, &v).is_ok());

    let with = |i: usize, x: f64| {
        let mut w = v;
        w[i] = x;
        Books::decode(&b, &w)
    };
    assert_eq!(Books::decode(&b, &v[..9]), Err(CodecError::Shape));
    assert_eq!(with(0, 1.0), Err(CodecError::Version));
    let other = usd("daily", 100.0, Window::Month);
    assert_eq!(Books::decode(&other, &v), Err(CodecError::Foreign));
    let tokens = Budget::new("monthly", Amount::tokens(100.0), Window::Month).unwrap();
    assert_eq!(Books::decode(&tokens, &v), Err(CodecError::Foreign));
    let daily = usd("monthly", 100.0, Window::Day);
    assert_eq!(Books::decode(&daily, &v), Err(CodecError::Foreign));
    for (i, bad) in [
        (3, T0 + 1.0),
        (3, f64::NAN),
        (4, -1.0),
        (4, f64::INFINITY),
        (5, f64::NAN),
        (6, -0.5),
        (7, f64::INFINITY),
        (8, 0.5),
        (9, -1.0),
        (9, 1e12),
    ] {
        assert_eq!(with(i, bad), Err(CodecError::Corrupt), "[{i}] = {bad}");
    }
    for text in ["", "1,2,3", "a,b,c,d,e,f,g,h,i,j", "{}"] {
        assert!(Books::from_text(&b, text).is_err(), "{text}");
    }
}

#[test]
fn a_reservation_goes_over_the_wire_and_back() {
    let b = usd("d", 1.0, Window::Day);
    let mut books = Books::default();
    let r = books.reserve(&b, 0.4, T0).unwrap();
    let parts = r.to_parts();
    let back = ratewise::limits::spend::Reservation::from_parts(parts).unwrap();
    assert_eq!(back, r);
    books.release(&b, back, T0);
    assert_eq!(books.status(&b, T0).reserved, 0.0);
    drop(r);
    for bad in [[f64::NAN, 1.0], [T0, -1.0], [T0, f64::INFINITY]] {
        assert!(ratewise::limits::spend::Reservation::from_parts(bad).is_none());
    }
}

#[test]
fn admit_reserves_on_the_route_s_account_and_follows_a_move_once() {
    use ratewise::limits::routes::RouteKey;
    let b = usd("b", 10.0, Window::Day)
        .with_on_exhausted(OnExhausted::MoveBulk {
            route: 1,
            from: 0.5,
        })
        .unwrap();
    let mut s = spend(vec![b]);
    let keys = [
        RouteKey::new(key(0), Some("gpt-4o")),
        RouteKey::new(key(0), Some("gpt-4o-mini")),
    ];
    // The cheap route costs a tenth.
    let price = |route: usize| cost(if route == 0 { 6.0 } else { 0.6 });
    let (route, v) = s.admit(&keys, 0, None, Lane::Bulk, price, T0);
    assert!(route == 0 && matches!(v, Verdict::Go(_)), "{v:?}");
    // 60% held: the next bulk call moves and is held at the cheap price.
    let (route, v) = s.admit(&keys, 0, None, Lane::Bulk, price, T0);
    assert_eq!(route, 1);
    let Verdict::Go(h) = v else { panic!("{v:?}") };
    let st = s
        .books(0, key(0))
        .unwrap()
        .status(&usd("b", 10.0, Window::Day), T0);
    assert!((st.reserved - 6.6).abs() < 1e-9, "{st:?}");
    s.release(h, T0);
    // A call with one route stays on it.
    let (route, v) = s.admit(&keys[..1], 0, None, Lane::Bulk, price, T0);
    assert_eq!(route, 0);
    assert!(matches!(v, Verdict::Exhausted(_)), "6 + 6 > 10: {v:?}");
    // Interactive calls are never moved.
    let (route, _) = s.admit(&keys, 0, None, Lane::Interactive, price, T0);
    assert_eq!(route, 0);
}

#[test]
fn stored_books_live_until_an_hour_past_their_window_a_month_s_past_a_month() {
    let month = usd("m", 1.0, Window::Month);
    let mut books = Books::default();
    let r = books.reserve(&month, 0.1, T0).unwrap();
    drop(books.settle(&month, r, 0.1, T0));
    // 2026-12-07 00:00: the window ends 2027-01-01 00:00, 25 days on.
    let ttl = books.ttl_ms(&month, T0);
    assert_eq!(ttl, at(2027, 1, 1, 0) - T0 + 3_600_000.0);
    assert!(ttl > 24.0 * DAY_MS, "past the record's one-day cap");
    let day = usd("d", 1.0, Window::Day);
    assert_eq!(
        Books::default().ttl_ms(&day, T0 + 1.5),
        DAY_MS - 1.0 + 3_600_000.0
    );
}

#[test]
fn only_bulk_calls_move_and_only_from_the_soft_threshold_to_a_route_they_are_not_on() {
    use ratewise::limits::spend::moves;
    let b = usd("b", 10.0, Window::Day)
        .with_on_exhausted(OnExhausted::MoveBulk {
            route: 1,
            from: 0.5,
        })
        .unwrap();
    assert_eq!(moves(&b, Lane::Bulk, 0, 0.49), None);
    assert_eq!(moves(&b, Lane::Bulk, 0, 0.5), Some(1));
    assert_eq!(moves(&b, Lane::Interactive, 0, 0.99), None);
    assert_eq!(moves(&b, Lane::Bulk, 1, 0.9), None, "already there");
    let fail = usd("f", 10.0, Window::Day);
    assert_eq!(moves(&fail, Lane::Bulk, 0, 0.99), None);
}

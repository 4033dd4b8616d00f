//! The two trip rules as `Limiters` apply them: what each breaker does with
//! an answer depends on whether the attempt was its probe.

use ratewise::limits::key::LimitKey;
use ratewise::limits::outage::OutageSettings;
use ratewise::limits::routes::RouteKey;
use ratewise::limits::{Limiters, Pass, Plan, Settings};
use ratewise::{classify, Headers, Response, RetryPolicy};

fn limiters() -> Limiters<()> {
    Limiters::new(Settings {
        throttle: false,
        retry_budget: None,
        outage: Some(OutageSettings {
            failures: 1,
            cooldown_ms: 1_000.0,
        }),
        ..Settings::default()
    })
}

fn send(l: &mut Limiters<()>, keys: &[RouteKey], now_ms: f64) -> Pass {
    let (ticket, _) = l.enter(now_ms);
    let policy = RetryPolicy::default();
    match l.before(keys, 0, now_ms, &policy, None, ticket, None, false) {
        Plan::Send(pass) => pass,
        _ => panic!("not sent"),
    }
}

fn answer(l: &mut Limiters<()>, pass: &Pass, status: u16, now_ms: f64) {
    let c = classify(&Response {
        status,
        headers: &Headers::default(),
        body: "",
        url: None,
        now_ms,
    });
    l.after(pass, &c, None, now_ms);
}

/// When each open breaker may probe next, ms.
fn retry_at(l: &Limiters<()>, now_ms: f64) -> Vec<f64> {
    l.breakers(now_ms).iter().map(|b| b.retry_at_ms).collect()
}

#[test]
fn a_late_outage_of_a_call_sent_before_the_route_went_down_does_not_restart_its_cooldown() {
    let mut l = limiters();
    let keys = [RouteKey::from(LimitKey::new(
        "https://api.openai.com",
        Some("sk-a"),
    ))];
    let early = send(&mut l, &keys, 0.0);
    let first = send(&mut l, &keys, 0.0);
    answer(&mut l, &first, 503, 10.0);
    assert_eq!(retry_at(&l, 10.0), [1_010.0], "down: opened");
    let probe = send(&mut l, &keys, 1_010.0);
    assert!(probe.outage_probe, "the cooldown is over: the probe");
    // The call sent before it went down fails late, while the probe is out:
    // the same incident, not the probe's answer.
    answer(&mut l, &early, 503, 1_500.0);
    assert_eq!(
        retry_at(&l, 1_500.0),
        [2_010.0],
        "the probe's cooldown stands"
    );
    // The probe's own failure re-opens it, from then.
    answer(&mut l, &probe, 503, 1_600.0);
    assert_eq!(retry_at(&l, 1_600.0), [2_600.0]);
}

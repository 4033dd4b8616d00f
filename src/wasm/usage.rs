//! The usage tap: a successful answer goes to the caller as it is, its body
//! methods and stream wrapped by `tapBody` (js/usage.js), which hands what
//! the caller reads to the core's [`Scanner`] after the caller has it. [`usage_known`] is the one place
//! where an answer's usage is known: stats, prices and the hooks are served
//! there (budgets settle and telemetry attributes join there too).
//!
//! The taps of one instance live in a bounded table keyed by a number: the
//! JS side holds two functions per instance, not two per call. A body the
//! caller never reads nor cancels keeps its entry until [`MAX_LIVE`] newer
//! ones push it out, charged then as cancelled.

use crate::shared::Shared as Cell;
use std::rc::Rc;

use js_sys::{Function, Uint8Array};
use wasm_bindgen::prelude::*;

use super::bindings::{interned, object};
use super::budgets::Held;
use super::prices::{cost, Prices, Settings};
use crate::limits::lanes::Lane;
use crate::limits::spend::Cost;
use crate::usage::scan::Scanner;
use crate::usage::shapes::{bedrock_headers, BEDROCK_HEADERS};
use crate::usage::totals::{Sum, Totals};
use crate::usage::{End, Usage};
use crate::Provider;

/// The most bodies tapped at once per instance.
pub const MAX_LIVE: usize = 1024;

#[wasm_bindgen(module = "/js/usage.js")]
extern "C" {
    #[wasm_bindgen(js_name = usageEvent)]
    #[allow(clippy::too_many_arguments)]
    fn usage_event(
        input: f64,
        output: f64,
        cached_input: f64,
        cache_write: f64,
        reasoning: f64,
        model: &JsValue,
        response_id: &JsValue,
        cost_usd: &JsValue,
        estimated: bool,
        end: &JsValue,
        provider: &JsValue,
        url: &JsValue,
        route: u32,
        lane: &JsValue,
        elapsed_ms: f64,
    ) -> JsValue;
    #[wasm_bindgen(js_name = tapBody)]
    fn tap_body(response: &web_sys::Response, id: u32, feed: &JsValue, done: &JsValue) -> JsValue;
}

/// What is known of an answer before its body is read.
pub struct Answer {
    /// The route that answered (0: the request as sent).
    pub route: usize,
    /// The call's lane.
    pub lane: Lane,
    /// Who answered.
    pub provider: Provider,
    /// The URL as sent: masked (`redact_url`) only when an event reports
    /// it, so an answer nobody watches costs no masking.
    pub url: String,
    /// The model the request named, for an answer that names none.
    pub model: Option<String>,
    /// The request's input estimate, for an answer that reports none.
    pub request_input: Option<u64>,
    /// When the call began (`Date.now()`).
    pub started_ms: f64,
    /// Its holds on the budgets, settled when its usage is known.
    pub holds: Held,
    /// The call's trace, told the usage when it is known (telemetry on).
    pub trace: Option<super::telemetry::Trace>,
}

struct Tap {
    id: u32,
    scanner: Scanner,
    answer: Answer,
}

#[derive(Default)]
struct State {
    next: u32,
    live: Vec<Tap>,
    warned: Vec<String>,
    totals: Totals,
    chunk: Vec<u8>,
    /// The last URL reported (as sent) and its masked form in JavaScript,
    /// and the last model: calls to one endpoint and model, the usual case,
    /// mask and convert them once.
    url: Option<(String, JsValue)>,
    model: Option<(String, JsValue)>,
}

/// `slot`'s value when its key is `key`, else `make(key)`, kept there.
fn recent(
    slot: &mut Option<(String, JsValue)>,
    key: &str,
    make: impl FnOnce(&str) -> JsValue,
) -> JsValue {
    match slot {
        Some((k, v)) if k == key => v.clone(),
        _ => {
            let v = make(key);
            *slot = Some((key.to_owned(), v.clone()));
            v
        }
    }
}

/// Hands `part` to the scanner: bytes, text, or a count of bytes that
/// passed unread.
fn feed_part(scanner: &mut Scanner, buf: &mut Vec<u8>, part: &JsValue) {
    if let Some(text) = part.as_string() {
        scanner.feed(text.as_bytes());
    } else if let Some(bytes) = part.dyn_ref::<Uint8Array>() {
        buf.resize(bytes.length() as usize, 0);
        bytes.copy_to(buf);
        scanner.feed(buf);
    } else if let Some(n) = part.as_f64() {
        scanner.skip(n as u64);
    }
}

/// What the closures share.
struct Shared {
    settings: Settings,
    on_event: Option<Function>,
    state: Cell<State>,
}

type FeedFn = Closure<dyn Fn(u32, JsValue)>;
type DoneFn = Closure<dyn Fn(u32, u32, JsValue)>;

/// One instance's taps.
pub struct Taps {
    /// Whether answers are tapped.
    pub on: bool,
    shared: Rc<Shared>,
    feed: JsValue,
    done: JsValue,
    _closures: Option<(FeedFn, DoneFn)>,
}

impl Taps {
    /// The taps of an instance with these options; `on_event` is the
    /// instance's `onEvent`, which gets the usage events too once the tap is
    /// on (`onUsage`, `prices`, `budgets`, `telemetry` or `usage: true`).
    pub fn new(settings: Settings, on_event: Option<Function>, telemetry: bool) -> Taps {
        // `onEvent` alone does not turn the tap on: its callers see no new
        // events and pay nothing unless they ask for usage. Telemetry does
        // (its spans carry the usage), unless `usage: false`.
        let wanted = settings.on_usage.is_some()
            || settings.budgets.is_some()
            || telemetry
            || !matches!(settings.prices, Prices::None);
        let on = settings.forced.unwrap_or(wanted);
        let shared = Rc::new(Shared {
            settings,
            on_event,
            state: Cell::default(),
        });
        if !on {
            return Taps {
                on,
                shared,
                feed: JsValue::UNDEFINED,
                done: JsValue::UNDEFINED,
                _closures: None,
            };
        }
        let s = shared.clone();
        let feed = Closure::<dyn Fn(u32, JsValue)>::new(move |id: u32, part: JsValue| {
            let mut state = s.state.borrow_mut();
            let State {
                live, chunk: buf, ..
            } = &mut *state;
            if let Some(tap) = live.iter_mut().find(|t| t.id == id) {
                feed_part(&mut tap.scanner, buf, &part);
            }
        });
        let s = shared.clone();
        // `last`: a body read whole and small enough to scan at once comes
        // with its end (one crossing, not two); undefined otherwise.
        let done =
            Closure::<dyn Fn(u32, u32, JsValue)>::new(move |id: u32, how: u32, last: JsValue| {
                let end = match how {
                    0 => End::Complete,
                    1 => End::Cancelled,
                    _ => End::Failed,
                };
                let tap = {
                    let mut state = s.state.borrow_mut();
                    let at = state.live.iter().position(|t| t.id == id);
                    let mut tap = at.map(|i| state.live.swap_remove(i));
                    if let (Some(tap), false) = (&mut tap, last.is_undefined()) {
                        feed_part(&mut tap.scanner, &mut state.chunk, &last);
                    }
                    tap
                };
                if let Some(tap) = tap {
                    finish(&s, tap, end);
                }
            });
        Taps {
            on,
            shared,
            feed: feed.as_ref().clone(),
            done: done.as_ref().clone(),
            _closures: Some((feed, done)),
        }
    }

    /// The answer the caller gets: `response` itself, its body tapped so
    /// that its usage is read as it passes.
    pub fn tap(&self, response: web_sys::Response, answer: Answer) -> web_sys::Response {
        let mut scanner = Scanner::new();
        // Bedrock InvokeModel's usage headers, from Bedrock or a host ratewise
        // does not know (a proxy keeps them).
        if matches!(answer.provider, Provider::Bedrock | Provider::Unknown) {
            let headers = response.headers();
            if headers.has(BEDROCK_HEADERS[0]).unwrap_or(false) {
                scanner.add(bedrock_headers(|name| headers.get(name).ok().flatten()));
            }
        }
        let (id, evicted) = {
            let mut state = self.shared.state.borrow_mut();
            state.next = state.next.wrapping_add(1);
            let id = state.next;
            let evicted = (state.live.len() >= MAX_LIVE).then(|| state.live.remove(0));
            (id, evicted)
        };
        if let Some(old) = evicted {
            finish(&self.shared, old, End::Cancelled);
        }
        let tap = Tap {
            id,
            scanner,
            answer,
        };
        let tapped = tap_body(&response, id, &self.feed, &self.done);
        if tapped.is_falsy() {
            // No body (a HEAD, a 204): what the headers said, if anything.
            finish(&self.shared, tap, End::Complete);
            return response;
        }
        self.shared.state.borrow_mut().live.push(tap);
        // Tapped in place (true), or a copy where the instance cannot change.
        tapped.dyn_into().unwrap_or(response)
    }

    /// The instance's budgets, if any.
    pub fn budgets(&self) -> Option<&super::budgets::Budgets> {
        self.shared.settings.budgets.as_ref()
    }

    /// What `usage` would cost from `model` (for a reservation), USD.
    pub fn price(&self, usage: &Usage, provider: Provider) -> Option<f64> {
        let mut state = self.shared.state.borrow_mut();
        cost(
            &self.shared.settings.prices,
            usage,
            provider,
            &mut state.warned,
        )
    }

    /// `stats().usage`.
    pub fn stats_js(&self) -> JsValue {
        let state = self.shared.state.borrow();
        let t = &state.totals;
        let routes: js_sys::Array = t.by_route.iter().map(sum_js).collect();
        let budgets = self.shared.settings.budgets.as_ref();
        let by_budget = budgets.map_or_else(|| js_sys::Array::new().into(), |b| b.stats_js());
        object(&[
            ("total", sum_js(&t.total)),
            ("byBudget", by_budget),
            ("byRoute", routes.into()),
            (
                "byLane",
                object(&[
                    ("interactive", sum_js(&t.by_lane[0])),
                    ("bulk", sum_js(&t.by_lane[1])),
                ]),
            ),
        ])
    }
}

fn sum_js(s: &Sum) -> JsValue {
    let n = |v: u64| JsValue::from(v as f64);
    object(&[
        ("answers", n(s.answers)),
        ("estimated", n(s.estimated)),
        ("inputTokens", n(s.input_tokens)),
        ("outputTokens", n(s.output_tokens)),
        ("cachedInputTokens", n(s.cached_input_tokens)),
        ("cacheWriteTokens", n(s.cache_write_tokens)),
        ("reasoningTokens", n(s.reasoning_tokens)),
        ("costUsd", s.cost_usd.into()),
        ("unpriced", n(s.unpriced)),
    ])
}

fn finish(shared: &Shared, mut tap: Tap, end: End) {
    let mut usage = tap.scanner.finish(end, tap.answer.request_input);
    // The model the answer named, before the request's stands in for it
    // (copied only for a trace, the one that reads it).
    let named = tap.answer.trace.as_ref().and(usage.model.clone());
    if usage.model.is_none() {
        usage.model = tap.answer.model.take();
    }
    let holds = std::mem::take(&mut tap.answer.holds);
    usage_known(shared, &tap.answer, &usage, named, end, holds);
}

/// An answer's usage is now known: counted in `stats().usage`, priced,
/// and reported to `onUsage` and `onEvent`. Budgets settle here, and the
/// call's trace gets it here (its span's usage attributes and the usage
/// counters); `named`: the model the answer named, if it named one.
fn usage_known(
    shared: &Shared,
    answer: &Answer,
    usage: &Usage,
    named: Option<String>,
    end: End,
    holds: Held,
) {
    let cost_usd = {
        let mut state = shared.state.borrow_mut();
        let c = cost(
            &shared.settings.prices,
            usage,
            answer.provider,
            &mut state.warned,
        );
        state.totals.add(usage, c, answer.route, answer.lane);
        c
    };
    if let Some(budgets) = &shared.settings.budgets {
        let tokens = usage.input_tokens.saturating_add(usage.output_tokens) as f64;
        budgets.settle(
            holds,
            Cost {
                usd: cost_usd,
                tokens,
            },
        );
    }
    let (on_usage, on_event) = (&shared.settings.on_usage, &shared.on_event);
    if on_usage.is_none() && on_event.is_none() && answer.trace.is_none() {
        return;
    }
    let (model, url) = {
        let mut state = shared.state.borrow_mut();
        let model = usage.model.as_deref().map_or(JsValue::NULL, |m| {
            recent(&mut state.model, m, JsValue::from_str)
        });
        let url = recent(&mut state.url, &answer.url, |u| {
            JsValue::from_str(&crate::secrets::redact_url(u))
        });
        (model, url)
    };
    // One call builds the whole event in JavaScript.
    let event = usage_event(
        usage.input_tokens as f64,
        usage.output_tokens as f64,
        usage.cached_input_tokens as f64,
        usage.cache_write_tokens as f64,
        usage.reasoning_tokens as f64,
        &model,
        &usage
            .response_id
            .as_deref()
            .map_or(JsValue::NULL, JsValue::from),
        &cost_usd.map_or(JsValue::UNDEFINED, JsValue::from),
        usage.estimated,
        &interned(end.as_str()),
        &interned(answer.provider.as_str()),
        &url,
        answer.route as u32,
        &interned(answer.lane.as_str()),
        js_sys::Date::now() - answer.started_ms,
    );
    super::outputs::usage([on_usage.as_ref(), on_event.as_ref()], &event);
    if let Some(trace) = &answer.trace {
        trace.usage(&event, named);
    }
}

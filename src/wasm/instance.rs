//! What one `createFetch()` instance shares across its calls: options,
//! counters, and the limiters. Borrows are never held across an `await`,
//! and no call ever waits on a promise another call created: in Workers the
//! calls of one instance belong to different invocations.

use crate::shared::Shared;

use wasm_bindgen::prelude::*;

use super::options::Config;
use super::snapshot::Snapshot;
use super::usage::Taps;
use crate::classify::stream::any_error_event;
use crate::limits::Limiters;
use crate::stats::Stats;
use crate::{classify, Headers, Response};

/// One instance's state.
pub struct Instance {
    pub config: Config,
    pub stats: Shared<Stats>,
    pub limiters: Shared<Limiters<Snapshot>>,
    /// The coordinator whose last exchange failed, if one did: an incident
    /// is reported once, when it begins.
    pub coordinator_down: Shared<Option<JsValue>>,
    /// What a peeked stream calls with later chunks that may hold an error
    /// event (undefined without `onStreamError`). A JS function that owns
    /// its Rust closure: a stream still being read keeps it alive after the
    /// instance (and the fetch function) is gone, and the JS GC frees it
    /// with the last such stream. A closure the instance owned would be
    /// dropped with it, and the stream's next chunk would call a dropped
    /// closure.
    pub watch: JsValue,
    /// The usage tap of successful answers.
    pub taps: Taps,
    /// The headers a limit key is made of, as a JS array (see `request.rs`).
    pub identity_names: js_sys::Array,
}

/// Reports an error event that came after output reached the caller.
fn watcher(hook: js_sys::Function) -> Closure<dyn Fn(String)> {
    Closure::new(move |text: String| {
        let Some(e) = any_error_event(&text) else {
            return;
        };
        let c = classify(&Response {
            status: e.status,
            headers: &Headers::default(),
            body: &e.body,
            url: None,
            now_ms: js_sys::Date::now(),
        });
        super::outputs::stream_error(&hook, &c);
    })
}

impl Instance {
    pub fn new(mut config: Config) -> Instance {
        let taps = Taps::new(
            std::mem::take(&mut config.usage),
            config.on_event.clone(),
            config.telemetry.is_some(),
        );
        let limiters = Limiters::new(config.limits);
        let watch = config
            .on_stream_error
            .clone()
            .map_or(JsValue::UNDEFINED, |hook| watcher(hook).into_js_value());
        Instance {
            config,
            stats: Shared::default(),
            limiters: Shared::new(limiters),
            coordinator_down: Shared::new(None),
            watch,
            taps,
            identity_names: super::request::identity_names(),
        }
    }
}

//! The contract between the Rust core and the JavaScript package, checked
//! from the sources: adding a kind, provider, stop reason or option on one
//! side without the other fails here, not in a user's type checker.
//!
//! The JavaScript and TypeScript files are read with `include_str!` and
//! scanned for the few declarations compared (string unions, an interface's
//! property names, constant values), so no JS toolchain is needed.
#![cfg(not(target_arch = "wasm32"))]

use std::collections::BTreeSet;

use ratewise::classify::body::MAX_BODY_BYTES;
use ratewise::classify::duration::MAX_DELAY_MS;
use ratewise::limits::lanes::Lane;
use ratewise::limits::routes::FAILOVER_KINDS;
use ratewise::retry::policy::Stop;
use ratewise::{Action, Kind, Provider};

const DTS: &str = include_str!("../pkg-template/index.d.ts");
const ERRORS_JS: &str = include_str!("../js/errors.js");
const CONVERT_JS: &str = include_str!("../js/convert.js");
const OPTIONS_JS: &str = include_str!("../js/options.js");
const TELEMETRY_JS: &str = include_str!("../js/telemetry.js");
const PACKAGE_JSON: &str = include_str!("../pkg-template/package.json");
const FETCH_RS: &str = include_str!("../src/wasm/fetch.rs");
const CACHE_JS: &str = include_str!("../js/cache.js");
const IO_JS: &str = include_str!("../js/io.js");

/// The halts (`retry::engine::Halt`) that reject with an error class of their own.
const HALTS: [&str; 2] = ["queue_full", "subrequests_spent"];

/// The text from `start` up to the first `end` after it.
fn between<'a>(src: &'a str, start: &str, end: &str) -> &'a str {
    let from = src
        .find(start)
        .unwrap_or_else(|| panic!("`{start}` not found"));
    let rest = &src[from + start.len()..];
    let to = rest
        .find(end)
        .unwrap_or_else(|| panic!("no `{end}` after `{start}`"));
    &rest[..to]
}

/// Every string literal in `src` quoted with `quote`.
fn quoted(src: &str, quote: char) -> Vec<&str> {
    src.split(quote).skip(1).step_by(2).collect()
}

/// The names of a TypeScript interface's properties (two-space indented
/// `name:` or `name?:` lines).
fn properties(src: &str, interface: &str) -> BTreeSet<String> {
    let body = between(src, &format!("export interface {interface} {{"), "\n}");
    body.lines()
        .filter_map(|l| l.strip_prefix("  "))
        .filter(|l| l.starts_with(|c: char| c.is_ascii_alphabetic()))
        .filter_map(|l| l.split(':').next())
        .map(|name| name.trim_end_matches('?').to_owned())
        .collect()
}

/// A `const NAME = ['…', …];` list in JavaScript source.
fn js_list<'a>(src: &'a str, name: &str) -> Vec<&'a str> {
    quoted(between(src, &format!("const {name} = ["), "];"), '\'')
}

fn union(name: &str) -> Vec<&'static str> {
    quoted(between(DTS, &format!("export type {name} ="), ";"), '\'')
}

#[test]
fn index_d_ts_unions_list_every_kind_provider_action_and_stop_reason() {
    let kinds: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
    assert_eq!(union("Kind"), kinds);
    let providers: Vec<&str> = Provider::ALL.iter().map(|p| p.as_str()).collect();
    assert_eq!(union("Provider"), providers);
    let stops: Vec<&str> = Stop::ALL.iter().map(|s| s.as_str()).collect();
    assert_eq!(union("StopReason"), stops);
    let lanes: Vec<&str> = Lane::ALL.iter().map(|l| l.as_str()).collect();
    assert_eq!(union("Lane"), lanes);
    let read = quoted(between(IO_JS, "const LANES = [", "];"), '\'');
    assert_eq!(read, lanes, "js/io.js reads the lanes by index");
    let failover: Vec<&str> = FAILOVER_KINDS.iter().map(|k| k.as_str()).collect();
    assert_eq!(union("FailoverKind"), failover);
    let actions: BTreeSet<&str> = Kind::ALL.iter().map(|k| k.action().as_str()).collect();
    let declared: BTreeSet<&str> = union("Action").into_iter().collect();
    assert_eq!(
        declared, actions,
        "every Action a Kind maps to, and no other"
    );
    assert!(declared.contains(Action::None.as_str()));
}

#[test]
fn the_options_read_are_the_options_typed() {
    let names = |list: &str| -> BTreeSet<String> {
        js_list(OPTIONS_JS, list)
            .into_iter()
            .map(str::to_owned)
            .collect()
    };
    for (list, interface) in [
        ("KNOWN", "RatewiseOptions"),
        ("ROUTE_KEYS", "Route"),
        ("BUDGET_KEYS", "RetryBudgetOptions"),
        ("AZURE_KEYS", "AzureRoute"),
        ("OUTAGE_KEYS", "OutageBreakerOptions"),
        ("LANES_KEYS", "LanesOptions"),
        ("BULK_LANE_KEYS", "BulkLaneOptions"),
        ("INVOCATION_KEYS", "InvocationOptions"),
        ("THROTTLE_KEYS", "ThrottleOptions"),
        ("SPEND_KEYS", "SpendBudget"),
    ] {
        assert_eq!(properties(DTS, interface), names(list), "{interface}");
    }
    // `cache` is read by js/cache.js.
    let cache: BTreeSet<String> = quoted(between(CACHE_JS, "const CACHE_KEYS = [", "];"), '\'')
        .into_iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(properties(DTS, "CacheOptions"), cache, "CacheOptions");
    // `telemetry` is read by js/telemetry.js.
    let telemetry: BTreeSet<String> = quoted(between(TELEMETRY_JS, "const KEYS = [", "];"), '\'')
        .into_iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(
        properties(DTS, "TelemetryOptions"),
        telemetry,
        "TelemetryOptions"
    );
}

#[test]
fn every_error_class_is_declared_and_every_kind_that_is_retried_or_alerted_has_one() {
    // errors.js: `export const XError = subclass('XError', 'RATEWISE_X')`.
    let defined: BTreeSet<&str> = ERRORS_JS
        .lines()
        .filter_map(|l| l.strip_prefix("export const "))
        .filter(|l| l.contains("= subclass("))
        .filter_map(|l| l.split(' ').next())
        .collect();
    let declared: BTreeSet<&str> = DTS
        .lines()
        .filter_map(|l| l.strip_prefix("export class "))
        .filter(|l| l.contains(" extends RatewiseError"))
        .filter_map(|l| l.split(' ').next())
        .collect();
    assert_eq!(defined, declared, "errors.js against index.d.ts");

    // `const CLASSES = { kind: Class, ... }`: keys are kinds (or the engine's
    // halts that src/wasm/fetch.rs names), and every kind that is retried or alerted on has a class;
    // the rest fall back to RequestRejectedError.
    let table = between(ERRORS_JS, "const CLASSES = {", "};");
    let mut mapped = BTreeSet::new();
    for entry in table.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (kind, class) = entry.split_once(':').expect("`kind: Class`");
        let (kind, class) = (kind.trim(), class.trim());
        assert!(defined.contains(class), "{class} is not defined");
        assert!(
            HALTS.contains(&kind) || Kind::ALL.iter().any(|k| k.as_str() == kind),
            "{kind} is not a Kind"
        );
        mapped.insert(kind);
    }
    for halt in HALTS {
        assert!(mapped.contains(halt), "{halt} has no error class");
        let raised = format!("\"{halt}\"");
        assert!(
            FETCH_RS.contains(&raised),
            "src/wasm/fetch.rs raises {halt}"
        );
    }
    for kind in Kind::ALL {
        if matches!(kind.action(), Action::Retry | Action::Alert) {
            assert!(
                mapped.contains(kind.as_str()),
                "{kind:?} has no error class"
            );
        }
    }
}

#[test]
fn the_glue_cuts_bodies_where_the_core_does() {
    let cap = between(CONVERT_JS, "const MAX_BODY = ", ";");
    assert_eq!(cap.trim().parse::<usize>().ok(), Some(MAX_BODY_BYTES));
}

#[test]
fn js_options_checks_the_bounds_and_kinds_of_the_core() {
    let cap = between(OPTIONS_JS, "const MAX_BODY = ", ";");
    assert_eq!(cap.trim().parse::<usize>().ok(), Some(MAX_BODY_BYTES));
    let max = between(OPTIONS_JS, "const MAX_MS = ", ";");
    assert_eq!(max.trim().parse::<u64>().ok(), Some(MAX_DELAY_MS));
    // `failoverOn` reaches the core as a mask of FAILOVER_KINDS indices.
    let failover: Vec<&str> = FAILOVER_KINDS.iter().map(|k| k.as_str()).collect();
    assert_eq!(js_list(OPTIONS_JS, "FAILOVER"), failover);
}

#[test]
fn the_package_version_is_the_crate_version() {
    let version = between(PACKAGE_JSON, "\"version\": \"", "\"");
    assert_eq!(version, env!("CARGO_PKG_VERSION"));
}

//! The `usage` and `prices` options, and pricing an answer: the provider's
//! own cost when it reports one (OpenRouter), else the caller's table or
//! function. An answer of a model with no price keeps its tokens, has no
//! `costUsd`, and warns once per model (for the first 64 models).

use crate::text::fill;
use js_sys::{Function, Object, Reflect};
use wasm_bindgen::prelude::*;

use super::bindings::{is_array, js_string, object, range_error, type_error, type_name};
use crate::usage::price::{lookup, Price};
use crate::usage::Usage;
use crate::Provider;

/// The fields of a `prices` table entry.
const PRICE_KEYS: [&str; 4] = ["input", "output", "cachedInput", "cacheWrite"];
/// The most models warned about (memory stays bounded).
const MAX_WARNED: usize = 64;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = console, js_name = warn)]
    fn console_warn(message: &str);
}

/// How answers are priced.
#[derive(Default)]
pub enum Prices {
    /// No prices given: no `costUsd` but the provider's own.
    #[default]
    None,
    /// USD per million tokens, by model name.
    Table(Vec<(String, Price)>),
    /// `({ model, provider, usage }) => number | undefined`.
    Function(Function),
}

/// The `usage`, `prices` and `onUsage` options.
#[derive(Default)]
pub struct Settings {
    /// `usage`: `true` taps every answer, `false` none; unset, answers are
    /// tapped when `onUsage` or `prices` is given.
    pub forced: Option<bool>,
    /// `prices`.
    pub prices: Prices,
    /// `onUsage`.
    pub on_usage: Option<Function>,
    /// `budgets` and `onBudget`: settled where usage is known.
    pub budgets: Option<super::budgets::Budgets>,
}

impl Settings {
    /// Reads and checks the options.
    pub fn read(
        usage: JsValue,
        prices: JsValue,
        on_usage: Option<Function>,
    ) -> Result<Settings, JsValue> {
        let forced = match usage.as_bool() {
            Some(b) => Some(b),
            None if usage.is_undefined() => None,
            None => {
                return Err(type_error(fill(
                    "createFetch: `usage` must be a boolean, got {}",
                    &[&type_name(&usage)],
                )))
            }
        };
        Ok(Settings {
            forced,
            prices: read_prices(&prices)?,
            on_usage,
            budgets: None,
        })
    }

    /// With the instance's budgets, if any.
    pub fn with_budgets(self, budgets: Option<super::budgets::Budgets>) -> Settings {
        Settings { budgets, ..self }
    }
}

fn read_prices(value: &JsValue) -> Result<Prices, JsValue> {
    if value.is_undefined() {
        return Ok(Prices::None);
    }
    if let Some(f) = value.dyn_ref::<Function>() {
        return Ok(Prices::Function(f.clone()));
    }
    // js/options.js copied a table into plain objects: no getter or Proxy
    // trap runs while this reads it.
    if !value.is_object() || is_array(value) {
        return Err(type_error(fill(
            "createFetch: `prices` must be an object of models or a function, got {}",
            &[&type_name(value)],
        )));
    }
    let mut table = Vec::new();
    for entry in Object::entries(value.unchecked_ref::<Object>()).iter() {
        let entry: js_sys::Array = entry.unchecked_into();
        let model = entry.get(0).as_string().unwrap_or_default();
        let at = fill("createFetch: `prices[\"{}\"]", &[&model]);
        let p = entry.get(1);
        if !p.is_object() {
            return Err(type_error(fill(
                "{}` must be an object, got {}",
                &[&at, &type_name(&p)],
            )));
        }
        for key in Object::keys(p.unchecked_ref::<Object>()).iter() {
            let key = key.as_string().unwrap_or_default();
            if !PRICE_KEYS.contains(&key.as_str()) {
                return Err(type_error(fill(
                    "{}.{}` is unknown (known: {})",
                    &[&at, &key, &crate::text::join(&PRICE_KEYS, ", ")],
                )));
            }
        }
        let number = |key: &'static str, required: bool| -> Result<Option<f64>, JsValue> {
            let v = Reflect::get(&p, &key.into())?;
            match v.as_f64() {
                None if v.is_undefined() && !required => Ok(None),
                Some(n) if n.is_finite() && n >= 0.0 => Ok(Some(n)),
                Some(_) => Err(range_error(fill(
                    "{}.{}` must be a finite number of USD per million tokens, 0 or more, got {}",
                    &[&at, key, &js_string(&v)],
                ))),
                None => Err(type_error(fill(
                    "{}.{}` must be a number (USD per million tokens), got {}",
                    &[&at, key, &type_name(&v)],
                ))),
            }
        };
        let price = Price {
            input: number("input", true)?.unwrap_or(0.0),
            output: number("output", true)?.unwrap_or(0.0),
            cached_input: number("cachedInput", false)?,
            cache_write: number("cacheWrite", false)?,
        };
        table.push((model, price));
    }
    Ok(Prices::Table(table))
}

/// The usage as JavaScript sees it (`event.usage`).
pub fn usage_js(u: &Usage) -> JsValue {
    let n = |v: u64| JsValue::from(v as f64);
    object(&[
        ("inputTokens", n(u.input_tokens)),
        ("outputTokens", n(u.output_tokens)),
        ("cachedInputTokens", n(u.cached_input_tokens)),
        ("cacheWriteTokens", n(u.cache_write_tokens)),
        ("reasoningTokens", n(u.reasoning_tokens)),
    ])
}

/// A cost a price function or a provider gave: finite and not negative.
fn valid(cost: f64) -> Option<f64> {
    (cost.is_finite() && cost >= 0.0).then_some(cost)
}

/// What the answer cost, USD, if known. `warned` holds the models already
/// warned about.
pub fn cost(
    prices: &Prices,
    u: &Usage,
    provider: Provider,
    warned: &mut Vec<String>,
) -> Option<f64> {
    if let Some(c) = u.provider_cost.as_deref() {
        if let Some(c) = valid(js_sys::Number::parse_float(c)) {
            return Some(c);
        }
    }
    let model = u.model.as_deref();
    let priced = match prices {
        Prices::None => return None,
        Prices::Table(table) => model.and_then(|m| lookup(table, m)).map(|p| p.cost(u)),
        Prices::Function(f) => {
            let args = object(&[
                ("model", model.map_or(JsValue::NULL, JsValue::from)),
                ("provider", provider.as_str().into()),
                ("usage", usage_js(u)),
            ]);
            // A price function that throws prices nothing; the call goes on.
            f.call1(&JsValue::UNDEFINED, &args)
                .ok()
                .and_then(|v| v.as_f64())
                .and_then(valid)
        }
    };
    if priced.is_none() {
        let name = model.unwrap_or("(no model named)");
        if warned.len() < MAX_WARNED && !warned.iter().any(|w| w == name) {
            warned.push(name.to_owned());
            console_warn(&fill("ratewise: no price for model '{}' ({}): its tokens are counted, its costUsd is undefined (see `prices`)", &[name, provider.as_str()]));
        }
    }
    priced
}

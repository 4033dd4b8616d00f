//! Prices an answer from a table in USD per million tokens, as providers
//! publish them. The table is the caller's (the `prices` option); the data
//! of `ratewise/prices` stays in JavaScript and never enters the `.wasm`.

use crate::usage::Usage;

/// One model's prices, USD per million tokens.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Price {
    /// Uncached input.
    pub input: f64,
    /// Output, reasoning included.
    pub output: f64,
    /// Input read from the cache (the input price when not given).
    pub cached_input: Option<f64>,
    /// Input written to the cache (the input price when not given).
    pub cache_write: Option<f64>,
}

impl Price {
    /// What `usage` costs at these prices, USD.
    pub fn cost(&self, u: &Usage) -> f64 {
        let uncached = u
            .input_tokens
            .saturating_sub(u.cached_input_tokens)
            .saturating_sub(u.cache_write_tokens);
        let micro = uncached as f64 * self.input
            + u.cached_input_tokens as f64 * self.cached_input.unwrap_or(self.input)
            + u.cache_write_tokens as f64 * self.cache_write.unwrap_or(self.input)
            + u.output_tokens as f64 * self.output;
        micro / 1_000_000.0
    }
}

/// The entry of `table` for `model`: its own name; else without a
/// `provider/` prefix (`openai/gpt-4o`); else the longest name it extends by
/// a date or version only (`gpt-4o-2024-08-06` takes `gpt-4o`'s prices,
/// `claude-3-5-haiku@20241022` `claude-3-5-haiku`'s, but `gpt-4o-mini`
/// never takes `gpt-4o`'s).
pub fn lookup<'t>(table: &'t [(String, Price)], model: &str) -> Option<&'t Price> {
    let exact = |m: &str| table.iter().find(|(name, _)| name == m).map(|(_, p)| p);
    if let Some(p) = exact(model) {
        return Some(p);
    }
    let bare = model.rsplit('/').next().unwrap_or(model);
    if let Some(p) = exact(bare) {
        return Some(p);
    }
    table
        .iter()
        .filter(|(name, _)| bare.strip_prefix(name.as_str()).is_some_and(version_suffix))
        .max_by_key(|(name, _)| name.len())
        .map(|(_, p)| p)
}

/// `-2024-08-06`, `-20241022`, `-002`, `@20241022`, `:0`.
fn version_suffix(rest: &str) -> bool {
    match rest.as_bytes().first() {
        Some(b'@' | b':') => true,
        Some(b'-') => {
            rest.len() > 1
                && rest
                    .bytes()
                    .skip(1)
                    .all(|b| b.is_ascii_digit() || b == b'-')
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(input: f64) -> Price {
        Price {
            input,
            output: input * 4.0,
            cached_input: None,
            cache_write: None,
        }
    }

    #[test]
    fn lookup_takes_dates_and_prefixes_but_not_other_models() {
        let t = vec![
            ("gpt-4o".to_owned(), p(2.5)),
            ("gpt-4o-mini".to_owned(), p(0.15)),
        ];
        assert_eq!(lookup(&t, "gpt-4o").map(|p| p.input), Some(2.5));
        assert_eq!(lookup(&t, "gpt-4o-2024-08-06").map(|p| p.input), Some(2.5));
        assert_eq!(
            lookup(&t, "gpt-4o-mini-2024-07-18").map(|p| p.input),
            Some(0.15)
        );
        assert_eq!(
            lookup(&t, "openai/gpt-4o-mini").map(|p| p.input),
            Some(0.15)
        );
        assert_eq!(lookup(&t, "gpt-4o-audio-preview"), None);
        assert_eq!(lookup(&t, "gpt-4"), None);
        assert_eq!(lookup(&t, "gpt-4o-"), None);
    }

    #[test]
    fn cached_and_written_input_have_their_own_prices() {
        let price = Price {
            input: 3.0,
            output: 15.0,
            cached_input: Some(0.3),
            cache_write: Some(3.75),
        };
        let u = Usage {
            input_tokens: 1_000_000 + 2_000_000 + 1_000_000,
            cached_input_tokens: 2_000_000,
            cache_write_tokens: 1_000_000,
            output_tokens: 1_000_000,
            ..Usage::default()
        };
        let cost = price.cost(&u);
        assert!((cost - (3.0 + 0.6 + 3.75 + 15.0)).abs() < 1e-9, "{cost}");
        assert!((p(2.0).cost(&u) - (2.0 * 4.0 + 8.0)).abs() < 1e-9);
    }
}

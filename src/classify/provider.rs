//! Which API answered: from the URL's host, else its headers, else the
//! body's shape.

use serde::Serialize;

use crate::classify::body::Shape;
use crate::classify::headers::Headers;

/// The API provider a response came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Provider {
    /// api.openai.com
    OpenAi,
    /// Azure OpenAI (`*.openai.azure.com`)
    Azure,
    /// api.anthropic.com
    Anthropic,
    /// Google Gemini API (generativelanguage.googleapis.com)
    Gemini,
    /// api.groq.com
    Groq,
    /// openrouter.ai
    OpenRouter,
    /// api.mistral.ai
    Mistral,
    /// api.deepseek.com
    DeepSeek,
    /// Not recognised.
    Unknown,
}

impl Provider {
    /// Every provider, in declaration order.
    pub const ALL: [Provider; 9] = [
        Provider::OpenAi,
        Provider::Azure,
        Provider::Anthropic,
        Provider::Gemini,
        Provider::Groq,
        Provider::OpenRouter,
        Provider::Mistral,
        Provider::DeepSeek,
        Provider::Unknown,
    ];

    /// The stable wire name, as JavaScript sees it.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::OpenAi => "openai",
            Provider::Azure => "azure",
            Provider::Anthropic => "anthropic",
            Provider::Gemini => "gemini",
            Provider::Groq => "groq",
            Provider::OpenRouter => "openrouter",
            Provider::Mistral => "mistral",
            Provider::DeepSeek => "deepseek",
            Provider::Unknown => "unknown",
        }
    }
}

/// The host of an absolute URL, lower-cased, without port or credentials.
pub fn host_of(url: &str) -> Option<String> {
    crate::url::host(url).map(str::to_ascii_lowercase)
}

fn from_host(host: &str) -> Option<Provider> {
    let is = |domain: &str| host == domain || host.ends_with(&format!(".{domain}"));
    Some(
        if is("openai.azure.com") || is("cognitiveservices.azure.com") {
            Provider::Azure
        } else if is("openai.com") {
            Provider::OpenAi
        } else if is("anthropic.com") {
            Provider::Anthropic
        } else if is("generativelanguage.googleapis.com") {
            Provider::Gemini
        } else if is("groq.com") {
            Provider::Groq
        } else if is("openrouter.ai") {
            Provider::OpenRouter
        } else if is("mistral.ai") {
            Provider::Mistral
        } else if is("deepseek.com") {
            Provider::DeepSeek
        } else {
            return None;
        },
    )
}

fn from_headers(headers: &Headers) -> Option<Provider> {
    if headers.has_prefix("anthropic-") {
        Some(Provider::Anthropic)
    } else if headers.get("x-groq-region").is_some() {
        Some(Provider::Groq)
    } else if headers.get("apim-request-id").is_some() || headers.get("x-ms-region").is_some() {
        Some(Provider::Azure)
    } else if headers.has_prefix("openai-") {
        Some(Provider::OpenAi)
    } else {
        None
    }
}

/// Detects the provider from, in order, the URL host, headers and body shape.
pub fn detect(url: Option<&str>, headers: &Headers, shape: Option<Shape>) -> Provider {
    url.and_then(host_of)
        .and_then(|h| from_host(&h))
        .or_else(|| from_headers(headers))
        .or(match shape {
            Some(Shape::OpenAi) => Some(Provider::OpenAi),
            Some(Shape::Anthropic) => Some(Provider::Anthropic),
            Some(Shape::Gemini) => Some(Provider::Gemini),
            None => None,
        })
        .unwrap_or(Provider::Unknown)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        let none = Headers::new();
        let d = |url| detect(Some(url), &none, None);
        assert_eq!(
            d("https://api.openai.com/v1/chat/completions"),
            Provider::OpenAi
        );
        assert_eq!(
            d("https://my-res.openai.azure.com/openai/deployments/x"),
            Provider::Azure
        );
        assert_eq!(
            d("https://API.ANTHROPIC.COM:443/v1/messages"),
            Provider::Anthropic
        );
        assert_eq!(
            d("https://generativelanguage.googleapis.com/v1beta/models/x"),
            Provider::Gemini
        );
        assert_eq!(d("https://user:pw@api.groq.com/openai/v1"), Provider::Groq);
        assert_eq!(d("https://evilopenai.com/v1"), Provider::Unknown);
        assert_eq!(d("not a url"), Provider::Unknown);
    }

    #[test]
    fn headers_then_shape() {
        let h: Headers = [("anthropic-ratelimit-requests-limit", "50")]
            .into_iter()
            .collect();
        assert_eq!(
            detect(Some("http://127.0.0.1:8787/v1/messages"), &h, None),
            Provider::Anthropic
        );
        assert_eq!(
            detect(None, &Headers::new(), Some(Shape::Gemini)),
            Provider::Gemini
        );
        assert_eq!(detect(None, &Headers::new(), None), Provider::Unknown);
    }

    #[test]
    fn wire_names_match_serde() {
        for p in [
            Provider::OpenAi,
            Provider::OpenRouter,
            Provider::DeepSeek,
            Provider::Unknown,
        ] {
            let json = serde_json::to_string(&p).unwrap();
            assert_eq!(json, format!("\"{}\"", p.as_str()));
        }
    }
}

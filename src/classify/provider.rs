//! Which API answered: from the URL's host, else its headers, else the
//! body's shape. The hosts, headers and shapes of each provider live in its
//! module under `providers/`.

use serde::Serialize;

use crate::classify::body::ErrorBody;
use crate::classify::headers::Headers;
use crate::classify::providers;

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
    /// Google Vertex AI (`*-aiplatform.googleapis.com`)
    Vertex,
    /// AWS Bedrock (`bedrock-runtime.*.amazonaws.com`)
    Bedrock,
    /// xAI (api.x.ai)
    XAi,
    /// Cohere (api.cohere.com, api.cohere.ai)
    Cohere,
    /// Together AI (api.together.xyz, api.together.ai)
    Together,
    /// Fireworks AI (api.fireworks.ai)
    Fireworks,
    /// Not recognised.
    Unknown,
}

impl Provider {
    /// Every provider, in declaration order.
    pub const ALL: [Provider; 15] = [
        Provider::OpenAi,
        Provider::Azure,
        Provider::Anthropic,
        Provider::Gemini,
        Provider::Groq,
        Provider::OpenRouter,
        Provider::Mistral,
        Provider::DeepSeek,
        Provider::Vertex,
        Provider::Bedrock,
        Provider::XAi,
        Provider::Cohere,
        Provider::Together,
        Provider::Fireworks,
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
            Provider::Vertex => "vertex",
            Provider::Bedrock => "bedrock",
            Provider::XAi => "xai",
            Provider::Cohere => "cohere",
            Provider::Together => "together",
            Provider::Fireworks => "fireworks",
            Provider::Unknown => "unknown",
        }
    }
}

/// The host of an absolute URL, lower-cased, without port or credentials.
pub fn host_of(url: &str) -> Option<String> {
    crate::url::host(url).map(str::to_ascii_lowercase)
}

/// Detects the provider from, in order, the URL host, headers and body.
pub fn detect(url: Option<&str>, headers: &Headers, body: &ErrorBody) -> Provider {
    url.and_then(host_of)
        .and_then(|h| providers::from_host(&h))
        .or_else(|| providers::from_headers(headers))
        .or_else(|| providers::from_body(body))
        .unwrap_or(Provider::Unknown)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        let none = Headers::new();
        let d = |url| detect(Some(url), &none, &ErrorBody::default());
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
        assert_eq!(
            d("https://us-central1-aiplatform.googleapis.com/v1/projects/p/locations/us-central1/publishers/google/models/gemini-2.0-flash:generateContent"),
            Provider::Vertex
        );
        assert_eq!(
            d("https://bedrock-runtime.us-west-2.amazonaws.com/model/x/converse"),
            Provider::Bedrock
        );
        assert_eq!(d("https://api.x.ai/v1/chat/completions"), Provider::XAi);
        assert_eq!(d("https://api.cohere.com/v2/chat"), Provider::Cohere);
        assert_eq!(
            d("https://api.together.xyz/v1/chat/completions"),
            Provider::Together
        );
        assert_eq!(
            d("https://api.fireworks.ai/inference/v1/chat/completions"),
            Provider::Fireworks
        );
        assert_eq!(
            d("https://api.deepseek.com/chat/completions"),
            Provider::DeepSeek
        );
        assert_eq!(
            d("https://api.mistral.ai/v1/chat/completions"),
            Provider::Mistral
        );
        assert_eq!(
            d("https://openrouter.ai/api/v1/chat/completions"),
            Provider::OpenRouter
        );
        assert_eq!(d("https://evilopenai.com/v1"), Provider::Unknown);
        assert_eq!(d("not a url"), Provider::Unknown);
    }

    #[test]
    fn headers_then_shape() {
        let h: Headers = [("anthropic-ratelimit-requests-limit", "50")]
            .into_iter()
            .collect();
        let none = ErrorBody::default();
        assert_eq!(
            detect(Some("http://127.0.0.1:8787/v1/messages"), &h, &none),
            Provider::Anthropic
        );
        let gemini = ErrorBody {
            shape: Some(crate::classify::body::Shape::Gemini),
            ..ErrorBody::default()
        };
        assert_eq!(detect(None, &Headers::new(), &gemini), Provider::Gemini);
        assert_eq!(detect(None, &Headers::new(), &none), Provider::Unknown);
        let aws: Headers = [(
            "x-amzn-errortype",
            "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/",
        )]
        .into_iter()
        .collect();
        assert_eq!(detect(None, &aws, &none), Provider::Bedrock);
    }

    #[test]
    fn wire_names_match_serde() {
        for p in Provider::ALL {
            let json = serde_json::to_string(&p).unwrap();
            assert_eq!(json, format!("\"{}\"", p.as_str()));
        }
    }
}

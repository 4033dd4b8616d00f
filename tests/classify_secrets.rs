//! `mask_secrets` and `redact_url`, one row per form of secret a provider
//! message or a URL can carry, and rows of non-secrets left alone.

use ratewise::secrets::{mask_secrets, redact_url};

/// (input, exact masked output)
const MASKED: &[(&str, &str)] = &[
    // OpenAI echoes the key it refused, elided in the middle.
    (
        "Incorrect API key provided: sk-proj-abc…xyz. You can find your API key at https://platform.openai.com/account/api-keys.",
        "Incorrect API key provided: sk-proj-***. You can find your API key at https://platform.openai.com/account/api-keys.",
    ),
    (
        "Incorrect API key provided: 'sk-proj-AbCdEfGh12345678'.",
        "Incorrect API key provided: 'sk-proj-***'.",
    ),
    (
        "Incorrect API key provided: sk-proj-********************************************rrIA.",
        "Incorrect API key provided: sk-proj-***.",
    ),
    (
        "Incorrect API key provided: sk-abcdefghijklmnop1234. You can find",
        "Incorrect API key provided: sk-***. You can find",
    ),
    ("Incorrect API key provided: sk-abc…wxyz.", "Incorrect API key provided: sk-***."),
    // After =, (, :, quotes, newline and tab.
    ("key=sk-abcdefghijklmnop1234&x=1", "key=sk-***&x=1"),
    ("(sk-abcdefghijklmnop1234)", "(sk-***)"),
    ("key:sk-abcdefghijklmnop1234", "key:sk-***"),
    ("\"sk-abcdefghijklmnop1234\"", "\"sk-***\""),
    ("line\nsk-abcdefghijklmnop1234\tnext", "line\nsk-***\tnext"),
    // Every provider's shape.
    (
        "Invalid API Key gsk_8hZxQ2mN4pL7vR1tY6wK3sD9fG5jH0aBcEeFfGg",
        "Invalid API Key gsk_***",
    ),
    (
        "x-api-key: sk-ant-api03-Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA-AbCdEfAA",
        "x-api-key: sk-ant-api03-***",
    ),
    (
        "key sk-or-v1-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef is invalid",
        "key sk-or-v1-*** is invalid",
    ),
    (
        "Incorrect API key provided: xai-Ab12Cd34Ef56Gh78Ij90Kl12Mn34Op56Qr78St90.",
        "Incorrect API key provided: xai-***.",
    ),
    (
        "Mistral key aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY rejected",
        "Mistral key *** rejected",
    ),
    (
        "api-key: 0123456789abcdef0123456789abcdef",
        "api-key: ***",
    ),
    (
        "API key not valid: AIzaSyA1234567890abcdefghijklmnopqrstu, bad",
        "API key not valid: AIza***, bad",
    ),
    (
        "Authorization: Bearer abc.def-ghi_jkl+mno/pqr=12",
        "Authorization: Bearer ***",
    ),
    (
        "token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.dBjftJeZ4CVPmB92K27uhbUJU1p1r_wW1gFWFOEjXk expired",
        "token eyJ*** expired",
    ),
    // URLs inside a message are redacted.
    (
        "request to https://user:hunter2@proxy.example.com/v1?key=s3cr3t&alt=sse failed, reason: ECONNREFUSED",
        "request to https://***@proxy.example.com/v1?key=***&alt=sse failed, reason: ECONNREFUSED",
    ),
    (
        "Failed to parse URL from https://x.com/a?api_key=s3cr3t.",
        "Failed to parse URL from https://x.com/a?api_key=***.",
    ),
];

/// Text that must come back unchanged.
const LEFT_ALONE: &[&str] = &[
    "Rate limit reached for gpt-4o-2024-08-06 in organization org-abc123XYZ on tokens per min (TPM): Limit 30000, Used 29000, Requested 2000.",
    "request id req_0123456789abcdef0123456789abcdef",
    "request_id: req_011CSHoEeqs5C3K2cjNcSE8V",
    "The model `claude-3-5-sonnet-20241022` does not exist",
    "models/gemini-1.5-pro-latest is not found for API version v1beta",
    "install sk-learn and scikit-image; use xai-grok-2 or mistral-large-2411",
    "trace 550e8400-e29b-41d4-a716-446655440000",
    "Missing bearer or basic authentication in header",
    "Bearer authentication failed",
    "internationalization characteristically uncharacteristically",
    "https://platform.openai.com/docs/guides/error-codes/api-errors.",
    "",
];

#[test]
fn every_secret_form_is_masked() {
    for (input, want) in MASKED {
        assert_eq!(mask_secrets(input), *want, "input: {input:?}");
    }
}

#[test]
fn a_cut_never_leaves_half_a_word() {
    let text = format!("{}sk-proj-AbCdEfGh12345678 tail", "x ".repeat(496));
    let m = mask_secrets(&text);
    assert!(m.len() <= 1_000 && m.ends_with(" …"), "{m}");
    assert_eq!(mask_secrets(&m), m);
}

#[test]
fn masking_is_idempotent() {
    for (input, want) in MASKED {
        assert_eq!(mask_secrets(want), *want, "input: {input:?}");
    }
}

#[test]
fn non_secrets_are_left_alone() {
    for text in LEFT_ALONE {
        assert_eq!(mask_secrets(text), *text);
    }
}

/// (url, exact redacted form)
const URLS: &[(&str, &str)] = &[
    (
        "https://generativelanguage.googleapis.com/v1beta/models/g:generateContent?alt=sse&key=AIzaSecret#x",
        "https://generativelanguage.googleapis.com/v1beta/models/g:generateContent?alt=sse&key=***",
    ),
    ("https://user:pw@example.com/a?b=1", "https://***@example.com/a?b=1"),
    ("https://user@example.com", "https://***@example.com"),
    (
        "https://x.com/v1?model=m&api_key=s3cr3t&API-KEY=s&apikey=s",
        "https://x.com/v1?model=m&api_key=***&API-KEY=***&apikey=***",
    ),
    (
        "https://x.com/cb?access_token=ya29.a0AfH6&refresh_token=1//0g&client_secret=GOCSPX-x",
        "https://x.com/cb?access_token=***&refresh_token=***&client_secret=***",
    ),
    (
        "https://acct.blob.core.windows.net/c/b?sv=2022-11-02&ss=b&sp=r&se=2026-01-01&sig=abc%2Bdef%3D",
        "https://acct.blob.core.windows.net/c/b?sv=2022-11-02&ss=b&sp=r&se=2026-01-01&sig=***",
    ),
    (
        "https://b.s3.amazonaws.com/o?X-Amz-Credential=AKIA%2F&X-Amz-Signature=ff00&X-Amz-Expires=60",
        "https://b.s3.amazonaws.com/o?X-Amz-Credential=***&X-Amz-Signature=***&X-Amz-Expires=60",
    ),
    (
        "https://x.com/a?signature=s&token=t&subscription-key=k",
        "https://x.com/a?signature=***&token=***&subscription-key=***",
    ),
    // A key in the path is masked by its shape.
    (
        "https://proxy.example.com/sk-proj-AbCdEfGh12345678/v1/chat",
        "https://proxy.example.com/sk-proj-***/v1/chat",
    ),
    (
        "https://api.openai.com/v1/chat/completions",
        "https://api.openai.com/v1/chat/completions",
    ),
    ("/relative?API_KEY=x", "/relative?API_KEY=***"),
    ("https://x.com/?to=a@b.c", "https://x.com/?to=a@b.c"),
];

#[test]
fn every_url_secret_is_redacted() {
    for (url, want) in URLS {
        assert_eq!(redact_url(url), *want, "url: {url:?}");
        assert_eq!(redact_url(want), *want, "idempotent: {url:?}");
    }
}

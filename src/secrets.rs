//! Keeping secrets out of what ratewise shows: API keys in provider
//! messages, and keys in URL credentials or query strings (Gemini's `?key=`),
//! before anything reaches an error, an event or a log.

/// Messages longer than this are cut (on a character boundary).
const MAX_MESSAGE_LEN: usize = 1_000;

/// Masks anything that looks like an API key (`sk-…`, `sk-ant-…`, `AIza…`)
/// and cuts the text to a bounded length.
pub fn mask_secrets(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_MESSAGE_LEN));
    for (i, word) in text.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let bare = word.trim_end_matches(['.', ',', ';', ')', '"', '\'']);
        let secret = (bare.starts_with("sk-") || bare.starts_with("AIza")) && bare.len() > 12;
        if secret {
            out.push_str(&bare[..bare.find('-').map_or(4, |i| i + 1)]);
            out.push_str("***");
            out.push_str(&word[bare.len()..]);
        } else {
            out.push_str(word);
        }
        if out.len() > MAX_MESSAGE_LEN {
            let mut end = MAX_MESSAGE_LEN;
            while !out.is_char_boundary(end) {
                end -= 1;
            }
            out.truncate(end);
            out.push('…');
            break;
        }
    }
    out
}

/// Query parameters whose values are secrets (Gemini passes `?key=`).
const SECRET_PARAMS: [&str; 5] = ["key", "api_key", "api-key", "apikey", "access_token"];

/// The URL with credentials and secret query values replaced by `***`,
/// safe for events, errors and logs.
pub fn redact_url(url: &str) -> String {
    let without_fragment = url.split('#').next().unwrap_or_default();
    let (base, query) = match without_fragment.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (without_fragment, None),
    };
    let base = match base.split_once("://") {
        Some((scheme, rest)) => match rest.split('/').next().and_then(|a| a.rsplit_once('@')) {
            Some((_, host)) => format!(
                "{scheme}://***@{host}{}",
                &rest[rest.find('/').unwrap_or(rest.len())..]
            ),
            None => base.to_owned(),
        },
        None => base.to_owned(),
    };
    let Some(query) = query else { return base };
    let params: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if SECRET_PARAMS.contains(&name.to_ascii_lowercase().as_str()) => {
                format!("{name}=***")
            }
            _ => pair.to_owned(),
        })
        .collect();
    format!("{base}?{}", params.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_masked() {
        let m =
            mask_secrets("Incorrect API key provided: sk-proj-abcdefghijklmnop1234. You can find");
        assert_eq!(m, "Incorrect API key provided: sk-***. You can find");
        assert!(!mask_secrets("key AIzaSyA1234567890abcdef, bad").contains("1234567890"));
        assert_eq!(mask_secrets("sk-"), "sk-");
        assert!(mask_secrets(&"word ".repeat(1000)).len() <= MAX_MESSAGE_LEN + 3);
    }

    #[test]
    fn redaction() {
        assert_eq!(
            redact_url("https://generativelanguage.googleapis.com/v1beta/models/g:generateContent?alt=sse&key=AIzaSecret#x"),
            "https://generativelanguage.googleapis.com/v1beta/models/g:generateContent?alt=sse&key=***"
        );
        assert_eq!(
            redact_url("https://user:pw@example.com/a?b=1"),
            "https://***@example.com/a?b=1"
        );
        assert_eq!(
            redact_url("https://api.openai.com/v1/chat/completions"),
            "https://api.openai.com/v1/chat/completions"
        );
        assert_eq!(redact_url("/relative?API_KEY=x"), "/relative?API_KEY=***");
    }
}

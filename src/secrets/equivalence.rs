//! [`super::mask_secrets`] with its quick pass against masking as it was
//! before it (the old word walk on every text), on crafted and random
//! messages: they must agree on every one.

use super::*;

/// Masking as `mask_secrets` did before [`quick::may_change`]: every
/// text's words walked (by the walk of that time, below).
fn slow(text: &str) -> String {
    cut(old_mask_words(&redact_urls_in(precut(text))))
}

/// `mask_words` as it was, with its own test of which words can change.
fn old_mask_words(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        let word_len = word_len(rest.as_bytes());
        if word_len == 0 {
            // A separator: copy it (and the separators after it).
            let sep_len = separator_len(rest.as_bytes());
            out.push_str(&rest[..sep_len]);
            rest = &rest[sep_len..];
            continue;
        }
        let word = &rest[..word_len];
        // Only a word starting as a key prefix, a JWT or `Bearer` does, or
        // of a 32-character key's length, can be masked: copy the others
        // as they are (most words of a message).
        if !old_candidate(word) {
            out.push_str(word);
            rest = &rest[word_len..];
            continue;
        }
        // A sentence's full stop (or the `…` of a cut) is not part of the key.
        let bare = word.trim_end_matches(['.', '…']);
        match kept_prefix(bare) {
            Some(prefix) => {
                out.push_str(prefix);
                out.push_str(MASK);
                out.push_str(&word[bare.len()..]);
            }
            None => out.push_str(word),
        }
        rest = &rest[word_len..];
        if bare.eq_ignore_ascii_case("bearer") {
            let spaces = rest.len() - rest.trim_start_matches([' ', '\t']).len();
            if spaces > 0 {
                out.push_str(&rest[..spaces]);
                rest = &rest[spaces..];
                // The credential runs to the next whitespace, base64 included.
                let run_len = rest.find(char::is_whitespace).unwrap_or(rest.len());
                let run = rest[..run_len]
                    .trim_end_matches(['"', '\'', ',', ';', ')', ']', '}', '.', '…']);
                if run.len() >= 8 && run.bytes().any(|b| b.is_ascii_digit()) {
                    out.push_str(MASK);
                    rest = &rest[run.len()..];
                }
            }
        }
    }
    out
}
fn old_candidate(word: &str) -> bool {
    word.len() >= 32
        || matches!(
            word.as_bytes()[0],
            b's' | b'g' | b'x' | b'A' | b'e' | b'b' | b'B'
        )
}

/// Both ways of masking agree on `text`; whether it was changed.
fn agree(text: &str) -> bool {
    let want = slow(text);
    assert_eq!(mask_secrets(text), want, "{text:?}");
    assert_eq!(mask_secrets_owned(text.to_owned()), want, "owned: {text:?}");
    if text.len() <= MAX_MESSAGE_LEN && !quick::may_change(text.as_bytes()) {
        assert_eq!(want, text, "the quick pass let a secret through");
    }
    want != text
}

/// One key (or secret-bearing form) of every shape masking knows, and
/// near misses it must leave alone.
const KEYS: &[&str] = &[
    "sk-proj-AbCdEfGh12345678",
    "sk-proj-abc…xyz",
    "sk-ant-api03-Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA-AbCdEfAA",
    "sk-ant-admin01-abcdef",
    "sk-ant-abcdefghij",
    "sk-or-v1-0123456789abcdef",
    "sk-svcacct-abcdef",
    "sk-admin-abcdef",
    "sk-None-abcdef",
    "sk-abcdefghijklmnop1234",
    "sk-VKMIs***wjh3",
    "sk-abc...xyz",
    "gsk_8hZxQ2mN4pL7vR1tY6wK3sD9",
    "xai-Ab12Cd34Ef56Gh78Ij90",
    "AIzaSyA1234567890abcdefghij",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.dBjftJeZ4CVPmB92K27",
    "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY",
    "0123456789abcdef0123456789abcdef",
    "Bearer abc.def-ghi_jkl+mno/pqr=12",
    "BEARER\tabc123456789",
    "bearer xyz",
    "https://user:hunter2@proxy.example.com/v1",
    "https://x.com/a?api_key=s3cr3t&alt=sse",
    "https://x.com/a#frag",
    "http://x.com/sk-proj-AbCdEfGh12345678/v1",
    "sk-learn",
    "xai-grok-2",
    "req_0123456789abcdef0123456789abcdef",
    "0123456789abcdef0123456789abcdef0",
    "eyJabc",
    "Bearers",
    "https://platform.openai.com/docs/guides/error-codes.",
];

/// What a key can sit next to: punctuation, whitespace, unicode.
const AROUND: &[&str] = &[
    "", " ", ".", "…", ",", ":", "=", "'", "\"", "(", ")", "`", "\n", "\t", "-", "_", "*", "é",
    "€", "😀", "\u{2025}", "x", "7", "://", "?", "@", "#",
];

#[test]
fn keys_at_the_start_end_and_middle_next_to_anything() {
    let mut changed = 0;
    for key in KEYS {
        // Whole keys next to every pair of neighbours; cut keys (every
        // prefix of one) next to a few.
        let cuts = (0..=key.len()).filter(|&i| key.is_char_boundary(i));
        for (cut_at, neighbours) in
            cuts.map(|i| (i, if i == key.len() { AROUND } else { &AROUND[..4] }))
        {
            let key = &key[..cut_at];
            for before in neighbours {
                for after in neighbours {
                    for text in [
                        format!("{before}{key}{after}"),
                        format!("Incorrect key: {before}{key}{after} see https://x.io/a."),
                        format!("{before}{key}{after} — ok"),
                        format!("(https://x.io/{before}{key}{after}) ok?"),
                    ] {
                        changed += usize::from(agree(&text));
                    }
                }
            }
        }
    }
    assert!(
        changed > 20_000,
        "only {changed} texts held something to mask"
    );
}

/// Words, separators and keys a random message is made of.
const PIECES: &[&str] = &[
    "Rate",
    "limit",
    "reached",
    "for",
    "gpt-4o",
    "in",
    "organization",
    "org-abc123XYZ",
    "on",
    "tokens",
    "per",
    "min",
    "(TPM):",
    "Limit",
    "30000,",
    "Used",
    "9348.",
    "Please",
    "try",
    "again",
    "26.6s.",
    "skip",
    "sky",
    "task-",
    "ask",
    "gsk",
    "xai",
    "AIz",
    "eyJ",
    "ey",
    "bear",
    "bearer",
    "Bearer",
    "sk",
    "sk-",
    "sk_",
    "gsk_",
    "xai-",
    "AIza",
    "key",
    "http",
    "https",
    "://",
    "/v1",
    "?",
    "#",
    "@",
    "&",
    "=",
    ".",
    "…",
    "...",
    "**",
    "***",
    "-",
    "_",
    "*",
    " ",
    " ",
    " ",
    "\n",
    "\t",
    "\u{b}",
    "\u{a0}",
    "\"",
    "'",
    "<",
    ">",
    "`",
    "é",
    "€",
    "😀",
    "’",
    "\u{2025}",
    "0123456789abcdef",
    "ABCDEFGHIJKLMNOP",
    "Zz9",
];

/// A fixed xorshift generator: the same messages on every run.
struct Random(u64);

impl Random {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

#[test]
fn random_messages() {
    let mut random = Random(0x9E37_79B9_7F4A_7C15);
    let mut changed = 0;
    for _ in 0..50_000 {
        let mut text = String::new();
        for _ in 0..1 + random.below(16) {
            if random.below(8) == 0 {
                let key = KEYS[random.below(KEYS.len())];
                let ends = (0..=key.len()).filter(|&i| key.is_char_boundary(i));
                let end = ends.clone().nth(random.below(ends.count())).unwrap_or(0);
                text.push_str(&key[..end]);
            } else {
                text.push_str(PIECES[random.below(PIECES.len())]);
            }
        }
        changed += usize::from(agree(&text));
    }
    assert!(
        changed > 5_000,
        "only {changed} texts held something to mask"
    );
}

#[test]
fn long_messages_are_cut_the_same() {
    for n in [190, 199, 200, 201, 1_700] {
        for key in [
            "",
            "sk-proj-AbCdEfGh12345678 ",
            "é€ ",
            "https://x.com/?key=1 ",
        ] {
            agree(&format!("{key}{}", "word ".repeat(n)));
            agree(&format!("{}{key}tail", "w… ".repeat(n)));
        }
    }
}

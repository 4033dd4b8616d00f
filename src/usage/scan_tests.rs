//! The scanner's own tests: what it keeps, what it skips, and where it
//! finds its place again.
use super::*;

fn scan(chunks: &[&[u8]]) -> Scanner {
    let mut s = Scanner::new();
    for c in chunks {
        s.feed(c);
    }
    s
}

#[test]
fn a_quoted_usage_in_the_text_is_not_a_key() {
    let body = br#"{"choices":[{"message":{"content":"say \"usage\":{\"prompt_tokens\":999}"}}],"usage":{"prompt_tokens":3,"completion_tokens":4}}"#;
    let u = scan(&[body]).finish(End::Complete, None);
    assert_eq!((u.input_tokens, u.output_tokens), (3, 4));
    assert!(!u.estimated);
}

#[test]
fn a_huge_body_is_never_held() {
    let mut s = Scanner::new();
    s.feed(br#"{"model":"gpt-4o","choices":[{"message":{"content":""#);
    let text = vec![b'a'; 65536];
    for _ in 0..16 {
        s.feed(&text);
        assert!(
            s.held() <= MAX_OBJECT + MAX_MODEL + 2 * TAIL,
            "{}",
            s.held()
        );
    }
    s.feed(br#""}}],"usage":{"prompt_tokens":3,"completion_tokens":262144}}"#);
    let u = s.finish(End::Complete, None);
    assert_eq!(u.output_tokens, 262_144);
    assert_eq!(u.model.as_deref(), Some("gpt-4o"));
    // An object too large to be usage is skipped, and what follows is read.
    let mut s = Scanner::new();
    s.feed(br#"{"usage":{"x":""#);
    s.feed(&vec![b'b'; MAX_OBJECT * 2]);
    s.feed(br#""},"usage":{"prompt_tokens":1,"completion_tokens":2}}"#);
    assert!(s.held() <= MAX_OBJECT + 1 + 2 * TAIL);
    assert_eq!(s.finish(End::Complete, None).output_tokens, 2);
}

#[test]
fn without_usage_the_text_is_counted_and_marked_estimated() {
    let mut s = scan(&[b"data: {\"choices\":[{\"delta\":{\"content\":\"abcdefgh\"}}]}\n\n"]);
    let u = s.finish(End::Complete, Some(50));
    assert_eq!(
        (u.input_tokens, u.output_tokens, u.estimated),
        (50, 2, true)
    );
    // A stream cut after message_start is charged its text too.
    let s = scan(&[
        b"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"claude-x\",\"usage\":{\"input_tokens\":25,\"output_tokens\":1}}}\n\n",
        b"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"type\":\"text_delta\",\"text\":\"0123456789ab\"}}\n\n",
    ]);
    let cut = s.clone().finish(End::Cancelled, Some(999));
    assert_eq!(
        (cut.input_tokens, cut.output_tokens, cut.estimated),
        (25, 4, true)
    );
    let whole = s.clone().finish(End::Complete, Some(999));
    assert_eq!((whole.output_tokens, whole.estimated), (1, false));
}

/// A stream of `n` OpenAI chunks of text, then (if `usage`) its usage.
fn long_stream(n: usize, usage: bool) -> Vec<u8> {
    let mut body = String::new();
    for i in 0..n {
        body.push_str(&format!(
            "data: {{\"id\":\"c\",\"model\":\"gpt-4o-mini\",\"choices\":[{{\"delta\":{{\"content\":\"tok{:05} \"}}}}],\"usage\":null}}\n\n",
            i
        ));
    }
    if usage {
        body.push_str("data: {\"id\":\"c\",\"choices\":[],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":2000}}\n\ndata: [DONE]\n\n");
    }
    body.into_bytes()
}

#[test]
fn a_long_body_is_read_at_its_head_and_its_tail_whatever_the_chunks() {
    let body = long_stream(2000, true);
    for size in [1, 7, 100, 4095, 4096, 4097, 65536, body.len()] {
        let mut s = Scanner::new();
        for c in body.chunks(size) {
            s.feed(c);
            assert!(s.held() <= MAX_OBJECT + MAX_MODEL + 2 * TAIL);
        }
        let u = s.finish(End::Complete, None);
        assert_eq!(
            (
                u.input_tokens,
                u.output_tokens,
                u.estimated,
                u.model.as_deref()
            ),
            (7, 2000, false, Some("gpt-4o-mini")),
            "chunks of {size}"
        );
        assert_eq!(u.response_id.as_deref(), Some("c"), "chunks of {size}");
    }
    // Without usage, the text between head and tail is estimated at the
    // head's rate: 2000 pieces of 9 bytes are 4500 tokens.
    let body = long_stream(2000, false);
    let mut s = Scanner::new();
    for c in body.chunks(1000) {
        s.feed(c);
    }
    let u = s.finish(End::Cancelled, Some(3));
    assert!(u.estimated);
    assert!(
        (4400..=4600).contains(&u.output_tokens),
        "{}",
        u.output_tokens
    );
}

#[test]
fn a_lost_place_is_found_again_at_a_line_break() {
    // A stray quote (as in binary framing) then a control byte.
    let u = scan(&[b"\x00\x07\"\x00\x05event{\"usage\":{\"inputTokens\":5,\"outputTokens\":6}}"])
        .finish(End::Complete, None);
    assert_eq!((u.input_tokens, u.output_tokens), (5, 6));
}

#[test]
fn as_utf8_agrees_with_from_utf8() {
    let cases: [&[u8]; 8] = [
        b"",
        b"gpt-4o",
        "é…".as_bytes(),
        b"\xff",
        b"ok\xffok",
        b"cut \xe2\x80",
        b"\xe2\x80 lead",
        b"\xed\xa0\x80",
    ];
    for bytes in cases {
        assert_eq!(
            super::bytes::as_utf8(bytes),
            std::str::from_utf8(bytes).ok(),
            "{bytes:?}"
        );
    }
}

#[test]
fn the_answer_id_is_the_first_one_bounded_and_visible_ascii() {
    let id = |body: &[u8]| scan(&[body]).finish(End::Complete, None).response_id;
    // The answer's own id comes first; a tool call's or an item's later.
    assert_eq!(
        id(br#"{"id":"chatcmpl-1","choices":[{"message":{"tool_calls":[{"id":"call_2"}]}}]}"#)
            .as_deref(),
        Some("chatcmpl-1")
    );
    // Gemini's responseId wins over an earlier `id` (a function call's).
    assert_eq!(
        id(br#"{"candidates":[{"content":{"parts":[{"functionCall":{"id":"fc_1"}}]}}],"responseId":"r-9"}"#).as_deref(),
        Some("r-9")
    );
    // The first `id` settles it, even when it is no id: nothing later stands in.
    for bad in [
        format!(
            r#"{{"id":"{}","x":{{"id":"later"}}}}"#,
            "a".repeat(MAX_ID + 1)
        ),
        r#"{"id":"caf\u00e9","x":{"id":"later"}}"#.to_owned(),
        "{\"id\":\"caf\u{e9}\",\"x\":{\"id\":\"later\"}}".to_owned(),
        r#"{"id":"a b","x":{"id":"later"}}"#.to_owned(),
        r#"{"id":"","x":{"id":"later"}}"#.to_owned(),
        r#"{"id":42,"x":{"id":"later"}}"#.to_owned(),
        r#"{"id":null,"x":{"id":"later"}}"#.to_owned(),
    ] {
        assert_eq!(id(bad.as_bytes()), None, "{bad}");
    }
    let longest = "a".repeat(MAX_ID);
    assert_eq!(
        id(format!(r#"{{"id" : "{longest}"}}"#).as_bytes()),
        Some(longest)
    );
    // A quoted `"id"` inside text is not a key.
    assert_eq!(
        id(br#"{"content":"say \"id\":\"x\"","id":"msg_1"}"#).as_deref(),
        Some("msg_1")
    );
    assert_eq!(id(br#"{"usage":{"prompt_tokens":1}}"#), None);
}

#[test]
fn an_endless_id_is_never_held() {
    let mut s = Scanner::new();
    s.feed(br#"{"id":""#);
    for _ in 0..4 {
        s.feed(&[b'i'; 2048]);
        assert!(
            s.held() <= MAX_OBJECT + MAX_MODEL + 2 * TAIL,
            "{}",
            s.held()
        );
    }
    s.feed(br#"","usage":{"prompt_tokens":1,"completion_tokens":2}}"#);
    let u = s.finish(End::Complete, None);
    assert_eq!((u.response_id, u.output_tokens), (None, 2));
}

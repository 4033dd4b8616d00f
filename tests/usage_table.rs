//! Usage read from real provider answers: one row per documented body or
//! stream in `tests/data/usage_cases.json`, each with its source (see
//! `tests/data/SOURCES.md`). Every row is read whole, cut in two at every
//! byte, and one byte at a time: where the chunks break never changes what
//! is read.

use ratewise::usage::scan::Scanner;
use ratewise::usage::shapes::bedrock_headers;
use ratewise::usage::{End, Usage};
use serde_json::Value;

const CASES: &str = include_str!("data/usage_cases.json");

fn cases() -> Vec<Value> {
    serde_json::from_str(CASES).expect("usage_cases.json parses")
}

fn read(case: &Value, chunks: &[&[u8]]) -> Usage {
    let mut s = Scanner::new();
    let headers = case.get("headers").cloned().unwrap_or(Value::Null);
    s.add(bedrock_headers(|name| {
        headers.get(name).and_then(Value::as_str).map(str::to_owned)
    }));
    for c in chunks {
        s.feed(c);
    }
    s.finish(End::Complete, None)
}

fn expected(case: &Value) -> Usage {
    let e = &case["expect"];
    let n = |k: &str| e[k].as_u64().unwrap_or_else(|| panic!("expect.{k}"));
    Usage {
        input_tokens: n("inputTokens"),
        output_tokens: n("outputTokens"),
        cached_input_tokens: n("cachedInputTokens"),
        cache_write_tokens: n("cacheWriteTokens"),
        reasoning_tokens: n("reasoningTokens"),
        model: e["model"].as_str().map(str::to_owned),
        response_id: e["responseId"].as_str().map(str::to_owned),
        provider_cost: e["providerCost"].as_str().map(str::to_owned),
        estimated: e["estimated"].as_bool().unwrap(),
    }
}

#[test]
fn every_documented_answer_gives_its_usage() {
    let cases = cases();
    assert!(cases.len() >= 25, "{} cases", cases.len());
    let providers: std::collections::BTreeSet<&str> = cases
        .iter()
        .filter_map(|c| c["provider"].as_str())
        .collect();
    assert_eq!(
        providers.len(),
        14,
        "every provider classify() knows: {providers:?}"
    );
    for case in &cases {
        let name = case["name"].as_str().unwrap();
        assert!(
            case["source"]
                .as_str()
                .is_some_and(|s| s.contains("https://")),
            "{name}: a source"
        );
        let body = case["body"].as_str().unwrap().as_bytes();
        assert_eq!(read(case, &[body]), expected(case), "{name}");
    }
}

#[test]
fn chunk_boundaries_at_every_byte_change_nothing() {
    for case in &cases() {
        let name = case["name"].as_str().unwrap();
        let body = case["body"].as_str().unwrap().as_bytes();
        let want = expected(case);
        for at in 0..=body.len() {
            let (a, b) = body.split_at(at);
            assert_eq!(read(case, &[a, b]), want, "{name}, cut at byte {at}");
        }
        let bytes: Vec<&[u8]> = body.chunks(1).collect();
        assert_eq!(read(case, &bytes), want, "{name}, byte by byte");
    }
}

/// One frame of AWS's binary event stream (`application/vnd.amazon.eventstream`):
/// prelude (total and headers lengths, CRC), string headers, the JSON
/// payload, CRC. The CRCs are not checked by the scanner, so fixed bytes
/// stand in for them (with a `"` among them, as real CRCs may hold).
fn frame(event_type: &str, payload: &str) -> Vec<u8> {
    let mut headers = Vec::new();
    for (name, value) in [
        (":event-type", event_type),
        (":content-type", "application/json"),
        (":message-type", "event"),
    ] {
        headers.push(name.len() as u8);
        headers.extend_from_slice(name.as_bytes());
        headers.push(7);
        headers.extend_from_slice(&(value.len() as u16).to_be_bytes());
        headers.extend_from_slice(value.as_bytes());
    }
    let total = 12 + headers.len() + payload.len() + 4;
    let mut out = Vec::new();
    out.extend_from_slice(&(total as u32).to_be_bytes());
    out.extend_from_slice(&(headers.len() as u32).to_be_bytes());
    out.extend_from_slice(b"\x22\x9c\x01\x7f");
    out.extend_from_slice(&headers);
    out.extend_from_slice(payload.as_bytes());
    out.extend_from_slice(b"\x8e\x22\x00\x5c");
    out
}

#[test]
fn bedrock_converse_stream_binary_frames() {
    // https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ConverseStream.html
    // (ConverseStreamMetadataEvent: usage, metrics).
    let mut body = frame("messageStart", r#"{"p":"abcd","role":"assistant"}"#);
    body.extend(frame(
        "contentBlockDelta",
        r#"{"contentBlockIndex":0,"delta":{"text":"Hello \"there\""},"p":"ab"}"#,
    ));
    body.extend(frame(
        "messageStop",
        r#"{"p":"abcdef","stopReason":"end_turn"}"#,
    ));
    body.extend(frame(
        "metadata",
        r#"{"metrics":{"latencyMs":412},"p":"abc","usage":{"inputTokens":11,"outputTokens":4,"totalTokens":15}}"#,
    ));
    for at in 0..=body.len() {
        let mut s = Scanner::new();
        s.feed(&body[..at]);
        s.feed(&body[at..]);
        let u = s.finish(End::Complete, None);
        assert_eq!(
            (u.input_tokens, u.output_tokens, u.estimated),
            (11, 4, false),
            "cut at {at}"
        );
    }
}

#[test]
fn a_cancelled_stream_is_charged_for_what_was_produced() {
    let cases = cases();
    let anthropic = cases
        .iter()
        .find(|c| c["name"].as_str().unwrap().starts_with("anthropic stream"))
        .unwrap();
    let body = anthropic["body"].as_str().unwrap();
    // Cut just before message_delta: input from message_start, output 1 +
    // the text so far ("" + "Hello" + "!": 6 bytes, 2 tokens).
    let cut = body.find("event: message_delta").unwrap();
    let mut s = Scanner::new();
    s.feed(&body.as_bytes()[..cut]);
    let u = s.finish(End::Cancelled, Some(7));
    assert_eq!(
        (u.input_tokens, u.output_tokens, u.estimated),
        (2025, 3, true)
    );
    // Cut before any usage: the request's estimate and the text.
    let mut s = Scanner::new();
    s.feed(b"data: {\"choices\":[{\"delta\":{\"content\":\"abcdefghi\"}}]}\n\n");
    let u = s.finish(End::Failed, Some(7));
    assert_eq!((u.input_tokens, u.output_tokens, u.estimated), (7, 3, true));
}

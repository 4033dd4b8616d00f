//! One limit key's shared state as a store outside Cloudflare keeps it
//! (the Redis coordinator): the key's open breaker ([`Board`]) and its lease
//! books ([`Ledger`]), in one compact text value.
//!
//! The store holds the value and makes each update atomic (a compare-and-set
//! over the whole value); every decision is the core's, taken on the value
//! decoded here. So the value must be read back with suspicion: it may be
//! corrupted, written by another program or by another build, or copied
//! from another key. [`Record::decode`] checks all of that and answers an
//! error, never a panic and never a half-trusted record.
//!
//! The format: `ratewise/2 <checksum> <payload>`, where the checksum is the
//! 64-bit FNV-1a of the payload in 16 hex digits and the payload is a run of
//! items, each `<byte length>:<bytes>` (numbers are items too: the hex
//! digits of their IEEE 754 bits, exact and cheap to read). The payload is the key's hash, then sections,
//! each a one-letter tag, its item count, and its items:
//! - `L`: the lease books, [`Ledger::to_vec`];
//! - `T`: the tokens window's books, [`TokenBook::to_vec`] (a value an
//!   older build wrote has none: its key starts with empty token books);
//! - `B`: the open breaker, if any: retry time, posting time, status,
//!   header count, each header's name and value, and body.
//!
//! The budgets' books slot in as one more section (a new tag, encoded and
//! decoded beside these two); a value with a tag this build does not know
//! is refused, so an older build never half-reads a newer value.

use super::tokens::TokenBook;
use super::{Board, Ledger};
use crate::classify::body::MAX_BODY_BYTES;
use crate::classify::headers::Headers;
use crate::limits::key::{fnv1a as fnv, LimitKey};
use crate::limits::shared::{Change, Trip};
use crate::text::{dec, hex};

/// What every value starts with: the format and its version.
/// (2: the lease books carry what a report counted, whether the window
/// refills whole, and when: [`Ledger::FIXED_NUMBERS`].)
const MAGIC: &str = "ratewise/2 ";

/// The longest value decoded, bytes: a full error body, its headers and
/// the books, with room to spare.
pub const MAX_RECORD_BYTES: usize = MAX_BODY_BYTES + 64 * 1024;

/// The most headers a kept failure carries.
const MAX_HEADERS: usize = 64;

/// The most numbers the lease books take (the fixed part and the runs).
const MAX_LEDGER_NUMBERS: usize = Ledger::FIXED_NUMBERS + 2 * 1_024;

/// How long a value is kept at least and at most, ms: a store expires it
/// then (every key has a TTL, so memory stays bounded whatever the number
/// of API keys).
pub const TTL_MS: (f64, f64) = (60_000.0, 86_400_000.0);

/// A quota failure as a record keeps it: what a replay needs, and nothing
/// else (a classification is made again from these when it is read back).
pub trait Kept: Clone {
    /// The response's status, headers and body.
    fn parts(&self) -> (u16, &Headers, &str);
    /// The failure made of parts read back at `now_ms`.
    fn from_parts(status: u16, headers: Headers, body: String, now_ms: f64) -> Self;
}

/// The plainest [`Kept`] failure: its parts.
#[derive(Debug, Clone, PartialEq)]
pub struct Replay {
    /// The response's status.
    pub status: u16,
    /// The headers a replay carries.
    pub headers: Headers,
    /// The bounded prefix of its body.
    pub body: String,
}

impl Kept for Replay {
    fn parts(&self) -> (u16, &Headers, &str) {
        (self.status, &self.headers, &self.body)
    }
    fn from_parts(status: u16, headers: Headers, body: String, _now_ms: f64) -> Self {
        Replay {
            status,
            headers,
            body,
        }
    }
}

/// Why a stored value was not used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecordError {
    /// It is not a ratewise value of this version.
    Foreign,
    /// It is longer than [`MAX_RECORD_BYTES`].
    TooLarge,
    /// Its checksum does not match: it was changed or cut.
    Corrupt,
    /// It checks out but cannot be read (a field out of range, an unknown
    /// section).
    Malformed(&'static str),
    /// It belongs to another key.
    OtherKey,
}

impl RecordError {
    /// What went wrong, as `Display` writes it (without `core::fmt`, for the
    /// `.wasm`).
    pub fn text(&self) -> String {
        match self {
            RecordError::Foreign => "not a ratewise value".to_owned(),
            RecordError::TooLarge => "too large".to_owned(),
            RecordError::Corrupt => "its checksum does not match".to_owned(),
            RecordError::Malformed(what) => crate::text::fill("unreadable {}", &[what]),
            RecordError::OtherKey => "it belongs to another key".to_owned(),
        }
    }
}

impl std::fmt::Display for RecordError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text())
    }
}

/// One key's shared state, its failures kept as `F`.
#[derive(Debug)]
pub struct Record<F> {
    key: LimitKey,
    /// The key's open breaker, if any instance tripped it.
    pub board: Board<F>,
    /// The key's lease books.
    pub ledger: Ledger,
}

impl<F: Kept> Record<F> {
    /// The state of a key nothing was heard of.
    pub fn new(key: LimitKey) -> Record<F> {
        Record {
            key,
            board: Board::default(),
            ledger: Ledger::default(),
        }
    }

    /// The key this state is of.
    pub fn key(&self) -> LimitKey {
        self.key
    }

    /// Applies a breaker change an instance published.
    pub fn apply(&mut self, change: Change<F>, now_ms: f64) {
        self.board.apply(change, now_ms);
    }

    /// How long a store should keep the value from `now_ms`, ms: until
    /// nothing in it matters, within [`TTL_MS`].
    pub fn ttl_ms(&self, now_ms: f64) -> f64 {
        let until = self.board.busy_until_ms().max(self.ledger.busy_until_ms());
        (until - now_ms).clamp(TTL_MS.0, TTL_MS.1).ceil()
    }

    /// The value to store.
    pub fn encode(&self) -> String {
        let mut p = String::new();
        item(&mut p, &self.key.to_hex());
        for (tag, books) in [
            ("L", self.ledger.to_vec()),
            ("T", self.ledger.tokens.to_vec()),
        ] {
            item(&mut p, tag);
            number(&mut p, books.len() as f64);
            for n in books {
                number(&mut p, n);
            }
        }
        let trips: Vec<_> = self
            .board
            .entries()
            .filter(|(k, _, _)| *k == self.key)
            .collect();
        item(&mut p, "B");
        number(&mut p, trips.len() as f64);
        for (_, trip, posted_at_ms) in trips {
            number(&mut p, trip.retry_at_ms);
            number(&mut p, posted_at_ms);
            let (status, headers, body) = trip.failure.parts();
            number(&mut p, f64::from(status));
            number(&mut p, headers.len() as f64);
            for (name, value) in headers.iter() {
                item(&mut p, name);
                item(&mut p, value);
            }
            item(&mut p, body);
        }
        crate::text::fill("{}{} {}", &[MAGIC, &hex(fnv(p.as_bytes()), 16), &p])
    }

    /// The state stored as `value` for `key`, read at `now_ms`; an error if
    /// it is not one this build wrote for this key, intact.
    pub fn decode(key: LimitKey, value: &str, now_ms: f64) -> Result<Record<F>, RecordError> {
        if value.len() > MAX_RECORD_BYTES {
            return Err(RecordError::TooLarge);
        }
        let rest = value.strip_prefix(MAGIC).ok_or(RecordError::Foreign)?;
        let (sum, payload) = rest.split_at_checked(16).ok_or(RecordError::Corrupt)?;
        let payload = payload.strip_prefix(' ').ok_or(RecordError::Corrupt)?;
        let sum = u64::from_str_radix(sum, 16).map_err(|_| RecordError::Corrupt)?;
        if sum != fnv(payload.as_bytes()) {
            return Err(RecordError::Corrupt);
        }
        let mut r = Reader(payload);
        let stored = LimitKey::from_hex(r.item()?).ok_or(RecordError::Malformed("key"))?;
        if stored != key {
            return Err(RecordError::OtherKey);
        }
        let mut record = Record::new(key);
        let mut tokens = TokenBook::default();
        while !r.0.is_empty() {
            match r.item()? {
                "L" => record.ledger = Ledger::from_slice(&r.numbers(MAX_LEDGER_NUMBERS, "books")?),
                "T" => {
                    tokens = TokenBook::from_slice(&r.numbers(TokenBook::MAX_NUMBERS, "tokens")?)
                }
                "B" => {
                    for _ in 0..r.count(1, "breaker")? {
                        let (retry_at_ms, posted_at_ms) = (r.finite()?, r.finite()?);
                        let status = r.finite()?;
                        if !(100.0..600.0).contains(&status) || status.fract() != 0.0 {
                            return Err(RecordError::Malformed("status"));
                        }
                        let mut headers = Headers::new();
                        for _ in 0..r.count(MAX_HEADERS, "headers")? {
                            let (name, value) = (r.item()?, r.item()?);
                            headers.push(name, value);
                        }
                        let body = r.item()?;
                        if body.len() > MAX_BODY_BYTES {
                            return Err(RecordError::Malformed("body"));
                        }
                        let failure =
                            F::from_parts(status as u16, headers, body.to_owned(), now_ms);
                        let trip = Trip {
                            failure,
                            retry_at_ms,
                        };
                        record.board.restore(key, trip, posted_at_ms, now_ms);
                    }
                }
                _ => return Err(RecordError::Malformed("section")),
            }
        }
        record.ledger.tokens = tokens;
        Ok(record)
    }
}

fn item(out: &mut String, s: &str) {
    out.push_str(&dec(s.len() as u64));
    out.push(':');
    out.push_str(s);
}

fn number(out: &mut String, n: f64) {
    item(out, &hex(n.to_bits(), 1));
}

/// Reads items off the front of a payload.
struct Reader<'a>(&'a str);

impl<'a> Reader<'a> {
    fn item(&mut self) -> Result<&'a str, RecordError> {
        let bad = RecordError::Malformed("item");
        let (len, rest) = self.0.split_once(':').ok_or(bad)?;
        if len.is_empty() || len.len() > 7 || !len.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad);
        }
        let len: usize = len.parse().map_err(|_| bad)?;
        let (item, rest) = rest.split_at_checked(len).ok_or(bad)?;
        self.0 = rest;
        Ok(item)
    }

    /// A number (`NaN` for an absent field, as the books write it).
    fn number(&mut self) -> Result<f64, RecordError> {
        let hex = self.item()?;
        let bits = (hex.len() <= 16)
            .then(|| u64::from_str_radix(hex, 16).ok())
            .flatten();
        bits.map(f64::from_bits)
            .filter(|n| !n.is_infinite())
            .ok_or(RecordError::Malformed("number"))
    }

    fn finite(&mut self) -> Result<f64, RecordError> {
        Some(self.number()?)
            .filter(|n| n.is_finite())
            .ok_or(RecordError::Malformed("number"))
    }

    /// A count of at most `max`, and as many numbers.
    fn numbers(&mut self, max: usize, what: &'static str) -> Result<Vec<f64>, RecordError> {
        let n = self.count(max, what)?;
        (0..n).map(|_| self.number()).collect()
    }

    fn count(&mut self, max: usize, what: &'static str) -> Result<usize, RecordError> {
        let n = self.finite()?;
        if n < 0.0 || n.fract() != 0.0 || n > max as f64 {
            return Err(RecordError::Malformed(what));
        }
        Ok(n as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::lease::{Counted, Grant, Report};

    fn key() -> LimitKey {
        LimitKey::new("https://api.openai.com", Some("sk-a"))
    }

    fn quota() -> Replay {
        Replay {
            status: 429,
            headers: [
                ("x-request-id", "req_1"),
                ("content-type", "application/json"),
            ]
            .into_iter()
            .collect(),
            body: r#"{"error":{"code":"insufficient_quota","message":"1:2 é"}}"#.into(),
        }
    }

    fn busy() -> Record<Replay> {
        let mut r = Record::new(key());
        r.ledger.lease(1, 0.0);
        r.ledger.report(Report {
            limit: Some(10.0),
            remaining: Some(9.0),
            reset_at_ms: Some(1_005.0),
            observed_at_ms: 5.0,
            blocked_until_ms: None,
            sent_at_ms: Some(1.0),
            refill: crate::limits::throttle::Refill::AtReset,
            tokens: Some(Counted {
                limit: Some(10_000.0),
                remaining: 9_000.0,
                reset_at_ms: 60_005.0,
            }),
        });
        r.ledger.lease_tokens(4, 1_000.0, 6.0);
        let trip = Change::Tripped {
            key: key(),
            failure: quota(),
            retry_at_ms: 60_000.0,
        };
        r.apply(trip, 10.0);
        r
    }

    #[test]
    fn a_record_round_trips_with_its_books_and_its_breaker() {
        let r = busy();
        let back = Record::<Replay>::decode(key(), &r.encode(), 20.0).unwrap();
        assert_eq!(back.ledger, r.ledger);
        assert_eq!(back.board.lookup(key(), 20.0), r.board.lookup(key(), 20.0));
        assert_eq!(back.board.lookup(key(), 20.0).unwrap().failure, quota());
        assert_eq!(back.encode(), r.encode(), "the encoding is stable");
        // Both decide the same from there.
        let mut a = r.ledger.clone();
        let mut b = back.ledger;
        assert_eq!(a.lease(8, 30.0), b.lease(8, 30.0));
        // An empty record too.
        let empty = Record::<Replay>::new(key());
        let back = Record::<Replay>::decode(key(), &empty.encode(), 0.0).unwrap();
        assert_eq!(back.ledger, Ledger::default());
        assert_eq!(back.board.lookup(key(), 0.0), None);
    }

    #[test]
    fn a_value_of_the_previous_version_reads_with_empty_token_books() {
        let r = busy();
        assert_ne!(r.ledger.tokens, TokenBook::default());
        // What the previous version wrote: the same, without `T`.
        let mut p = String::new();
        item(&mut p, &key().to_hex());
        item(&mut p, "L");
        let books = r.ledger.to_vec();
        number(&mut p, books.len() as f64);
        books.into_iter().for_each(|n| number(&mut p, n));
        item(&mut p, "B");
        number(&mut p, 0.0);
        let old = format!("{MAGIC}{:016x} {p}", fnv(p.as_bytes()));
        let back = Record::<Replay>::decode(key(), &old, 20.0).unwrap();
        assert_eq!(back.ledger.tokens, TokenBook::default());
        let mut same = r.ledger.clone();
        same.tokens = TokenBook::default();
        assert_eq!(back.ledger, same);
    }

    #[test]
    fn a_foreign_corrupted_or_misplaced_value_is_refused() {
        let good = busy().encode();
        let refused = |v: &str| Record::<Replay>::decode(key(), v, 20.0).err();
        assert_eq!(refused(""), Some(RecordError::Foreign));
        assert_eq!(refused("{\"tokens\":3}"), Some(RecordError::Foreign));
        assert_eq!(
            refused("ratewise/1 00"),
            Some(RecordError::Foreign),
            "an older format"
        );
        assert_eq!(refused("ratewise/3 00"), Some(RecordError::Foreign));
        // One byte changed, or the value cut, anywhere.
        for i in MAGIC.len()..good.len() {
            let mut bytes = good.clone().into_bytes();
            bytes[i] = if bytes[i] == b'7' { b'8' } else { b'7' };
            let changed = String::from_utf8_lossy(&bytes).into_owned();
            assert!(refused(&changed).is_some(), "byte {i} changed");
            let cut = String::from_utf8_lossy(&good.as_bytes()[..i]).into_owned();
            assert!(refused(&cut).is_some(), "cut at {i}");
        }
        // Another key's value, copied here.
        let other = LimitKey::new("https://api.openai.com", Some("sk-b"));
        assert_eq!(
            Record::<Replay>::decode(other, &good, 20.0).err(),
            Some(RecordError::OtherKey)
        );
        assert_eq!(
            refused(&"x".repeat(MAX_RECORD_BYTES + 1)),
            Some(RecordError::TooLarge)
        );
    }

    /// A payload of `items`: `#n` is the number n, anything else itself.
    fn payload(items: &[&str]) -> String {
        let mut p = String::new();
        for i in items {
            match i.strip_prefix('#') {
                Some(n) => number(&mut p, n.parse().unwrap()),
                None => item(&mut p, i),
            }
        }
        p
    }

    #[test]
    fn a_well_formed_value_with_bad_fields_is_refused() {
        // Values with a valid checksum around a payload this build never writes.
        let sealed = |p: &str| format!("{MAGIC}{:016x} {p}", fnv(p.as_bytes()));
        let k = key().to_hex();
        let cases = [
            String::new(),
            payload(&["abc"]),
            payload(&[&k, "X", "#0"]),
            payload(&[&k, "L", "#1e99"]),
            payload(&[&k, "L", "#-1"]),
            payload(&[&k, "L", "#1.5"]),
            payload(&[&k, "L", "#1", "#inf"]),
            payload(&[&k, "L", "#1", "nine"]),
            payload(&[&k, "L", "#1"]),
            payload(&[&k, "T", "#1e9"]),
            payload(&[&k, "T", "#2", "#1"]),
            payload(&[&k, "B", "#1", "#NaN", "#0", "#429", "#0", ""]),
            payload(&[&k, "B", "#1", "#0", "#0", "#0", "#0", ""]),
            payload(&[&k, "B", "#1", "#0", "#0", "#429.5", "#0", ""]),
            payload(&[&k, "B", "#1", "#0", "#0", "#429", "#0"]),
            payload(&[&k, "B", "#1", "#0", "#0", "#429", "#65", ""]),
            payload(&[&k, "B", "#2", "#0", "#0", "#429", "#0", ""]),
            format!(
                "{}99999999:x",
                payload(&[&k, "B", "#1", "#0", "#0", "#429", "#0"])
            ),
            format!("{}1:", payload(&[&k])),
        ];
        for p in &cases {
            let v = sealed(p);
            assert!(
                Record::<Replay>::decode(key(), &v, 0.0).is_err(),
                "{p:?} was accepted"
            );
        }
        // And the smallest valid ones are accepted.
        let ok = sealed(&payload(&[&k, "L", "#0", "B", "#0"]));
        assert!(Record::<Replay>::decode(key(), &ok, 0.0).is_ok());
        let trip = sealed(&payload(&[&k, "B", "#1", "#9", "#0", "#429", "#0", ""]));
        assert!(Record::<Replay>::decode(key(), &trip, 0.0).is_ok());
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let good = busy().encode();
        let mut seed = 0x1234_5678_u64;
        for _ in 0..2_000 {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let len = (seed >> 33) as usize % good.len();
            let at = (seed >> 20) as usize % good.len();
            let mut v = good.as_bytes()[..len].to_vec();
            v.extend_from_slice(&good.as_bytes()[at.min(len)..]);
            let _ = Record::<Replay>::decode(key(), &String::from_utf8_lossy(&v), 0.0);
        }
    }

    #[test]
    fn the_ttl_lasts_while_anything_in_the_record_matters() {
        let r = busy();
        // The trip: probe at 60 s, posted at 10 ms: stale a cooldown later.
        assert_eq!(r.ttl_ms(10.0), (120_000.0_f64 - 10.0 - 10.0).ceil());
        assert_eq!(Record::<Replay>::new(key()).ttl_ms(0.0), TTL_MS.0);
        let mut far = Record::<Replay>::new(key());
        far.ledger.report(Report {
            limit: Some(10.0),
            remaining: Some(0.0),
            reset_at_ms: Some(1e12),
            observed_at_ms: 0.0,
            blocked_until_ms: Some(1e12),
            sent_at_ms: None,
            refill: crate::limits::throttle::Refill::Unknown,
            tokens: None,
        });
        assert_eq!(far.ttl_ms(0.0), TTL_MS.1);
        assert!(matches!(far.ledger.lease(1, 1.0), Grant::Wait(_)));
    }
}

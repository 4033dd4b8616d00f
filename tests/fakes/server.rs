//! The fake rate-limited server of the simulations (`sim`): a limit of one
//! shape (a fixed window opened at the first request or aligned to the
//! clock, a sliding log whose reset means "empty" or "next slot free", or a
//! token bucket) on requests and, optionally, tokens; answers after a
//! seeded, jittered latency, with OpenAI's `x-ratelimit-*` headers on every
//! answer, on 429s only, or none (429 + `retry-after` only).
#![allow(dead_code)]

use std::collections::VecDeque;

use super::sim::T0;

/// How the server's limit refills.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Shape {
    /// A window that opens at the first request and refills when it ends.
    Fixed,
    /// A window aligned to the clock (every `window` ms since the epoch).
    Aligned,
    /// At most `limit` in any `window` ms; the reset says when the log is
    /// empty (its newest entry leaves).
    Sliding,
    /// A sliding log whose reset says when the next slot frees (its oldest
    /// entry leaves), as some gateways send.
    SlidingNext,
    /// A bucket of `limit` refilled continuously over `window` ms.
    Bucket,
}

/// Which headers the server sends.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Speech {
    /// `x-ratelimit-*` on every answer (and `retry-after` on 429s).
    Always,
    /// `x-ratelimit-*` and `retry-after` on 429s only.
    On429,
    /// Only `retry-after` (whole seconds, rounded up), on 429s.
    RetryAfter,
}

/// A small seeded xorshift64* generator: the simulations stay
/// deterministic without an external crate.
#[derive(Debug, Clone)]
pub struct XorShift(u64);

impl XorShift {
    pub fn new(seed: u64) -> Self {
        XorShift(seed.max(1))
    }

    /// A number in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// One limit (requests or tokens) of one shape.
#[derive(Debug)]
pub struct Meter {
    shape: Shape,
    limit: f64,
    window: f64,
    start: Option<f64>,
    used: f64,
    log: VecDeque<(f64, f64)>,
    level: f64,
    at: f64,
}

impl Meter {
    pub fn new(shape: Shape, limit: f64, window: f64) -> Meter {
        Meter {
            shape,
            limit,
            window,
            start: None,
            used: 0.0,
            log: VecDeque::new(),
            level: limit,
            at: T0,
        }
    }

    fn refresh(&mut self, now: f64) {
        match self.shape {
            Shape::Aligned => {
                // Windows start at T0 + 0.4 W + n·W: a run starting at T0
                // finds 0.4 W left of the window it starts in.
                let phase = T0 + 0.4 * self.window;
                let start = phase + ((now - phase) / self.window).floor() * self.window;
                if self.start != Some(start) {
                    self.start = Some(start);
                    self.used = 0.0;
                }
            }
            Shape::Fixed => {
                if self.start.is_some_and(|s| now >= s + self.window) {
                    self.start = None;
                    self.used = 0.0;
                }
            }
            Shape::Sliding | Shape::SlidingNext => {
                while self
                    .log
                    .front()
                    .is_some_and(|&(t, _)| t <= now - self.window)
                {
                    self.log.pop_front();
                }
                self.used = self.log.iter().map(|&(_, n)| n).sum();
            }
            Shape::Bucket => {
                self.level =
                    (self.level + (now - self.at) * self.limit / self.window).min(self.limit);
                self.at = now;
            }
        }
    }

    fn fits(&mut self, now: f64, n: f64) -> bool {
        self.refresh(now);
        match self.shape {
            Shape::Bucket => self.level >= n,
            _ => self.used + n <= self.limit,
        }
    }

    fn take(&mut self, now: f64, n: f64) {
        match self.shape {
            Shape::Fixed => {
                self.start.get_or_insert(now);
                self.used += n;
            }
            Shape::Aligned => self.used += n,
            Shape::Sliding | Shape::SlidingNext => {
                self.log.push_back((now, n));
                self.used += n;
            }
            Shape::Bucket => self.level -= n,
        }
    }

    fn remaining(&self) -> f64 {
        match self.shape {
            Shape::Bucket => self.level.floor(),
            _ => self.limit - self.used,
        }
    }

    /// Until the limit is back to its initial state, ms.
    fn reset_ms(&self, now: f64) -> f64 {
        match self.shape {
            Shape::Fixed => self.start.map_or(0.0, |s| s + self.window - now),
            Shape::Aligned => self.start.map_or(0.0, |s| s + self.window - now),
            Shape::Sliding => self.log.back().map_or(0.0, |&(t, _)| t + self.window - now),
            Shape::SlidingNext => self
                .log
                .front()
                .map_or(0.0, |&(t, _)| t + self.window - now),
            Shape::Bucket => (self.limit - self.level) * self.window / self.limit,
        }
    }

    /// Until `n` more fit, ms (what an honest `retry-after` says).
    fn wait_ms(&self, now: f64, n: f64) -> f64 {
        match self.shape {
            Shape::Fixed | Shape::Aligned => self.reset_ms(now),
            Shape::Sliding | Shape::SlidingNext => {
                let mut used = self.used;
                for &(t, m) in &self.log {
                    if used + n <= self.limit {
                        break;
                    }
                    used -= m;
                    if used + n <= self.limit {
                        return t + self.window - now;
                    }
                }
                0.0
            }
            Shape::Bucket => ((n - self.level) * self.window / self.limit).max(0.0),
        }
    }

    fn headers(&self, now: f64, unit: &str, out: &mut Vec<(String, String)>) {
        out.push((
            format!("x-ratelimit-limit-{unit}"),
            format!("{}", self.limit),
        ));
        out.push((
            format!("x-ratelimit-remaining-{unit}"),
            format!("{}", self.remaining()),
        ));
        let reset = self.reset_ms(now).max(0.0).round();
        out.push((format!("x-ratelimit-reset-{unit}"), format!("{reset}ms")));
    }
}

/// The fake server.
pub struct Server {
    pub speech: Speech,
    /// How long a 200 takes beyond the round trip (a completion), ms: its
    /// headers arrive this long after the server counted the request.
    pub service_ms: f64,
    /// Each service time is drawn in `service_ms · (1 ± jitter)`.
    pub service_jitter: f64,
    rng: XorShift,
    /// The service times drawn, ms.
    pub served_ms: Vec<f64>,
    pub requests: Meter,
    pub tokens: Option<Meter>,
    pub latency_ms: f64,
    /// Up to this much more, ms, for a request to reach the server (varied
    /// from request to request, so requests sent close together arrive in
    /// another order).
    pub jitter_ms: f64,
    pub(super) sent: u64,
    /// Every answer: (sent at, since the start; status).
    pub log: Vec<(f64, u16)>,
}

impl Server {
    pub fn new(shape: Shape, limit: f64, window: f64, latency_ms: f64) -> Server {
        Server {
            speech: Speech::Always,
            service_ms: 0.0,
            service_jitter: 0.0,
            rng: XorShift::new(0x9e37_79b9_7f4a_7c15),
            served_ms: Vec::new(),
            requests: Meter::new(shape, limit, window),
            tokens: None,
            latency_ms,
            jitter_ms: 0.0,
            sent: 0,
            log: Vec::new(),
        }
    }

    /// Answers that take `ms` (± `jitter`, a fraction) beyond the round
    /// trip, drawn from a generator seeded with `seed`.
    pub fn with_service(mut self, ms: f64, jitter: f64, seed: u64) -> Server {
        self.service_ms = ms;
        self.service_jitter = jitter;
        self.rng = XorShift::new(seed);
        self
    }

    pub fn with_speech(mut self, speech: Speech) -> Server {
        self.speech = speech;
        self
    }

    /// One service time.
    pub(super) fn draw_service(&mut self) -> f64 {
        let u = self.rng.next_f64();
        let ms = self.service_ms * (1.0 + self.service_jitter * (2.0 * u - 1.0));
        self.served_ms.push(ms);
        ms
    }

    pub fn with_tokens(mut self, shape: Shape, limit: f64, window: f64) -> Server {
        self.tokens = Some(Meter::new(shape, limit, window));
        self
    }

    /// Admits one request at `now` that uses `tokens`: its status and headers.
    pub(super) fn admit(&mut self, now: f64, tokens: f64) -> (u16, Vec<(String, String)>) {
        let fits = self.requests.fits(now, 1.0)
            && self.tokens.as_mut().is_none_or(|t| t.fits(now, tokens));
        if fits {
            self.requests.take(now, 1.0);
            if let Some(t) = &mut self.tokens {
                t.take(now, tokens);
            }
        }
        let mut headers = Vec::new();
        let limits = match self.speech {
            Speech::Always => true,
            Speech::On429 => !fits,
            Speech::RetryAfter => false,
        };
        if limits {
            self.requests.headers(now, "requests", &mut headers);
            if let Some(t) = &self.tokens {
                t.headers(now, "tokens", &mut headers);
            }
        }
        if !fits && self.speech != Speech::Always {
            let mut wait = self.requests.wait_ms(now, 1.0);
            if let Some(t) = &self.tokens {
                wait = wait.max(t.wait_ms(now, tokens));
            }
            let seconds = (wait / 1_000.0).ceil().max(1.0);
            headers.push(("retry-after".to_owned(), format!("{seconds}")));
        }
        let status = if fits { 200 } else { 429 };
        self.log.push((now - T0, status));
        (status, headers)
    }

    pub fn count(&self, status: u16) -> usize {
        self.log.iter().filter(|(_, s)| *s == status).count()
    }
}

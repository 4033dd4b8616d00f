//! A limit that speaks only through its 429s: no `x-ratelimit-*` on any
//! answer, a 429 with `retry-after` once it is full (a gateway, a
//! self-hosted server). The key's own log tells the rest: what was let
//! through since the last block ended (answered, or still in flight) is the
//! limit, so a 429 reads as a report of a requests window of that limit,
//! used up, which frees at the `retry-after`; until then, what was let
//! through stays counted.

use std::collections::VecDeque;

use super::state::KeyState;
use crate::classify::headers::{Limits, Window};

/// The most answers remembered per key.
const MAX_THROUGH: usize = 4_096;

/// What a key's 429s and the answers between them told.
#[derive(Debug, Clone)]
pub(super) struct Quiet {
    /// When the current window opened (the last block's end).
    opened: f64,
    /// Until when the last 429 asked to wait.
    blocked: f64,
    /// When the requests answered since `opened`, not with a 429, were
    /// sent, and when they were answered (counted before that).
    pub(super) through: VecDeque<(f64, f64)>,
    /// Whether an answer that was not a 429 came without rate-limit
    /// headers: the key's limit speaks only through its 429s.
    pub(super) bare: bool,
    /// Whether every `retry-after` heard was in whole seconds (as the
    /// header is; `retry-after-ms` is not): each says when the limit frees
    /// to within a second.
    pub(super) coarse: bool,
}

impl Default for Quiet {
    fn default() -> Self {
        Quiet {
            opened: f64::NEG_INFINITY,
            blocked: f64::NEG_INFINITY,
            through: VecDeque::new(),
            bare: false,
            coarse: false,
        }
    }
}

impl Quiet {
    /// A request sent at `sent_at` after the last block ended: the window
    /// after that block is the one it counts in.
    fn roll(&mut self, sent_at: f64) {
        if self.blocked.is_finite() && self.blocked < sent_at && self.opened < self.blocked {
            self.opened = self.blocked;
            let opened = self.opened;
            self.through.retain(|&(at, _)| at >= opened);
        }
    }

    /// A request sent at `sent_at` was answered at `now`, not with a 429.
    pub(super) fn let_through(&mut self, sent_at: f64, now: f64) {
        self.bare = true;
        self.roll(sent_at);
        if sent_at >= self.opened {
            self.through.push_back((sent_at, now));
            if self.through.len() > MAX_THROUGH {
                self.through.pop_front();
            }
        }
    }
}

impl KeyState {
    /// A 429 without rate-limit headers on the request at `at` in the log,
    /// sent at `sent_at` (booking `seq`), heard at `now`, asking to wait
    /// `wait_ms`.
    pub(super) fn heard_429(
        &mut self,
        at: Option<usize>,
        sent_at: f64,
        seq: u64,
        now: f64,
        wait_ms: u64,
    ) {
        self.quiet.roll(sent_at);
        let first = self.quiet.blocked.is_infinite();
        self.quiet.coarse = (first || self.quiet.coarse) && wait_ms % 1_000 == 0;
        // The window the request met began after the last block ended, and
        // (a window being at least as long as the wait it asks for) no later
        // than the wait before it: what was let through since then is, at
        // least, the limit.
        let opened = self.quiet.opened.max(sent_at - wait_ms as f64);
        // Sent with it or before it in this window, and not turned away:
        // let through, or still in flight (429s come back first, so by the
        // last 429 of a burst those still out were let through).
        let sent_before = |s: &super::books::Sent| s.at >= opened && s.at <= sent_at;
        let through = self
            .quiet
            .through
            .iter()
            .filter(|&&(at, _)| at >= opened && at <= sent_at)
            .count() as u64;
        let in_flight = self
            .log
            .iter()
            .filter(|s| sent_before(s) && !s.answered)
            .count() as u64;
        let free_at = now + wait_ms as f64;
        let window = Window {
            limit: Some((through + in_flight).max(1)),
            remaining: Some(0),
            reset_ms: Some(wait_ms),
            // `retry-after` is given in whole seconds.
            coarse_reset: true,
        };
        let limits = Limits {
            requests: Some(window),
            ..Limits::default()
        };
        self.heard = true;
        self.observe(&limits, now, at, sent_at, seq);
        self.demote(&limits);
        self.keep_counted(opened, sent_at, free_at);
        self.block(free_at);
    }

    /// A 429 on a request sent at `sent_at` whose requests window frees at
    /// `free_at`: what was let through since `opened` and up to it stays
    /// counted until then, and leaves a window after it reached the server
    /// (answered or not: an answer without the window's headers does not
    /// free it sooner).
    pub(super) fn keep_counted(&mut self, opened: f64, sent_at: f64, free_at: f64) {
        let (reach, length) = (self.reach_ms(), self.windows[0].length());
        let let_through =
            |s: &&mut super::books::Sent| s.at >= opened && s.at <= sent_at && !s.rejected;
        for sent in self.log.iter_mut().filter(let_through) {
            sent.gone[0] = free_at.max(sent.at + reach + length);
        }
        // Some may now leave later than the walks back left them.
        self.windows[0].floor = None;
    }

    /// A 429 whose headers report the requests window (a server that
    /// speaks only on 429s): what was let through before it stays counted
    /// until its reset.
    pub(super) fn heard_429_report(&mut self, sent_at: f64, now: f64, limits: &Limits) {
        let Some(reset) = limits.requests.and_then(|w| w.reset_ms) else {
            return;
        };
        self.quiet.roll(sent_at);
        if let Some(window) = limits.requests {
            self.learn_length(sent_at, &window);
        }
        let free_at = self.measured_at(sent_at, now) + reset as f64;
        self.keep_counted(self.quiet.opened, sent_at, free_at);
        self.block(free_at);
    }

    /// No later than when the server counted a request sent at
    /// `sent_at` and answered (`heard`) at `now` without the headers of a
    /// window, for timing when it leaves that window: a window's length
    /// after this. A limit that speaks only through `retry-after` (whole
    /// seconds, rounded up) learns that length from the waits it asks, and
    /// the request reached the server a reach after its send at the latest
    /// (pace from what was sent: a completion's answer comes long after).
    /// Otherwise (a length learned from exact resets may fall short of the
    /// window; no answer at all), from the answer.
    pub(super) fn counted_by(&self, sent_at: f64, now: f64, heard: bool) -> f64 {
        if heard && !self.told {
            now.min(sent_at + self.reach_ms())
        } else {
            now
        }
    }

    /// A block until `free_at`. On a key whose other answers carry no
    /// rate-limit headers, two blocks a little more than a window apart are
    /// two windows' ends: the window is at least that long (the resets of
    /// its 429s, measured late in a window, say less).
    fn block(&mut self, free_at: f64) {
        // Whole seconds: each block may end up to a second after the
        // window did, and the gap says that much less.
        let coarse = if self.quiet.coarse { 1_000.0 } else { 0.0 };
        let gap = free_at - self.quiet.blocked - coarse;
        let w = &mut self.windows[0];
        if self.quiet.bare && gap > w.length() && gap < 2.0 * w.length() {
            w.longest_reset_ms = gap;
        }
        self.quiet.blocked = self.quiet.blocked.max(free_at);
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::*;

    #[test]
    fn a_429_with_only_retry_after_holds_the_key_and_then_lets_through_what_it_did() {
        let mut r = Run::new(0);
        let sent: Vec<Booking> = (0..5).map(|_| r.go(0.0).unwrap()).collect();
        for &b in &sent[..3] {
            r.t.answered(k(), b, T0 + 4.0, bare(false, None));
        }
        // Two of the five met the limit: it let three through.
        r.t.answered(k(), sent[3], T0 + 4.0, bare(true, Some(1_000)));
        r.t.answered(k(), sent[4], T0 + 4.0, bare(true, Some(1_000)));
        let line: Vec<u64> = (0..4).map(|_| r.call()).collect();
        let until = wait_until(r.admit(line[0], 5.0)).unwrap();
        assert!(
            (1_004.0..=1_100.0).contains(&until),
            "held until the wait: {until}"
        );
        let went = line
            .iter()
            .filter(|&&t| matches!(r.admit(t, until), Admit::Go(_)))
            .count();
        assert_eq!(went, 3, "as many as it let through");
    }

    #[test]
    fn what_a_429_report_found_counted_stays_counted_until_its_reset() {
        // Headers on 429s only: the three let through answered bare.
        let mut r = Run::new(0);
        let sent: Vec<Booking> = (0..3).map(|_| r.go(0.0).unwrap()).collect();
        for &b in &sent {
            r.t.answered(k(), b, T0 + 4.0, bare(false, None));
        }
        let over = r.go(5.0).unwrap();
        let limits = requests(3, 0, 995);
        let answer = limited(&limits, Some(1_000));
        r.t.answered(k(), over, T0 + 9.0, answer);
        let t = r.call();
        let until = wait_until(r.admit(t, 200.0)).unwrap();
        assert!(until >= 1_000.0, "not before the reset: {until}");
    }

    #[test]
    fn two_blocks_a_little_more_than_a_window_apart_tell_its_length() {
        let mut r = Run::new(0);
        let b = r.go(0.0).unwrap();
        r.t.answered(k(), b, T0 + 4.0, bare(false, None));
        let b = r.go(5.0).unwrap();
        r.t.answered(k(), b, T0 + 40.0, bare(true, Some(960)));
        let b = r.go(1_001.0).unwrap();
        r.t.answered(k(), b, T0 + 1_010.0, bare(true, Some(1_000)));
        let length = r.t.keys.get(&k()).unwrap().windows[0].length();
        assert_eq!(length, 1_010.0 - 40.0 + 1_000.0 - 960.0);
        // Where the other answers report the window, its resets tell.
        let mut r = Run::new(0);
        let b = r.go(0.0).unwrap();
        r.answer(b, 4.0, &requests(3, 2, 960));
        let b = r.go(5.0).unwrap();
        r.t.answered(k(), b, T0 + 40.0, bare(true, Some(960)));
        let b = r.go(1_001.0).unwrap();
        r.t.answered(k(), b, T0 + 1_010.0, bare(true, Some(1_000)));
        assert_eq!(r.t.keys.get(&k()).unwrap().windows[0].length(), 1_000.0);
    }

    /// `retry-after` in whole seconds says when the limit frees to within
    /// a second: two blocks 1.72 s apart may be a window of 1 s apart (the
    /// second 429 came 0.7 s before its window's end, asking 1 s), and do
    /// not make the window 1.72 s long (each window after would wait 0.72 s
    /// more: 1.73x the floor at C = 4, answers at 0.3 W, in the matrix).
    #[test]
    fn blocks_in_whole_seconds_do_not_stretch_the_window() {
        let mut r = Run::new(0);
        let mut send = |at: f64, answered: f64, answer: Answer<'static>| {
            let ticket = r.call();
            let b = r.t.force(k(), ticket, None, T0 + at);
            r.t.answered(k(), b, T0 + answered, answer);
        };
        send(0.0, 4.0, bare(false, None));
        send(5.0, 40.0, bare(true, Some(1_000)));
        send(1_100.0, 1_104.0, bare(false, None));
        send(1_700.0, 1_760.0, bare(true, Some(1_000)));
        assert_eq!(r.t.keys.get(&k()).unwrap().windows[0].length(), 1_000.0);
    }

    /// Sends `n` requests at `at`, answered bare at `at + 4`, then one more
    /// answered with a 429 asking to wait `wait`; how many of eight callers
    /// go when the wait is over (answered bare at once).
    fn block(r: &mut Run, n: usize, at: f64, wait: u64) -> usize {
        let sent: Vec<Booking> = (0..n).map(|_| r.go(at).unwrap()).collect();
        for b in sent {
            r.t.answered(k(), b, T0 + at + 4.0, bare(false, None));
        }
        let over = r.go(at + 5.0).unwrap();
        r.t.answered(k(), over, T0 + at + 9.0, bare(true, Some(wait)));
        let line: Vec<u64> = (0..8).map(|_| r.call()).collect();
        let after = at + 9.0 + wait as f64 + 100.0;
        let went: Vec<Booking> = line
            .iter()
            .filter_map(|&t| match r.admit(t, after) {
                Admit::Go(b) => Some(b),
                Admit::Wait { .. } => None,
            })
            .collect();
        line.iter().for_each(|&t| r.t.leave(t));
        for &b in &went {
            r.t.answered(k(), b, T0 + after + 4.0, bare(false, None));
        }
        went.len()
    }

    #[test]
    fn what_was_let_through_is_counted_from_the_last_block_on() {
        let mut r = Run::new(0);
        assert_eq!(block(&mut r, 3, 0.0, 1_000), 3);
        // The next window lets three (at the block's end) and two through:
        // the three of the window before do not count, though sent within
        // the (longer) wait.
        assert_eq!(block(&mut r, 2, 2_200.0, 3_000), 5);
    }

    #[test]
    fn a_first_block_counts_what_was_let_through_within_its_wait() {
        let mut r = Run::new(0);
        let old: Vec<Booking> = (0..3).map(|_| r.go(0.0).unwrap()).collect();
        for b in old {
            r.t.answered(k(), b, T0 + 4.0, bare(false, None));
        }
        assert_eq!(block(&mut r, 2, 3_000.0, 1_000), 2);
    }

    /// A limit that speaks only through `retry-after`, with answers slower
    /// than its window: a request let through leaves the window a window's
    /// length after its send (plus a reach), not after its answer (main's
    /// throttle waited a whole answer's time more, each window).
    #[test]
    fn a_slow_answer_without_headers_frees_its_slot_from_its_send() {
        let mut r = Run::new(0);
        assert_eq!(block(&mut r, 3, 0.0, 1_000), 3);
        // `block` let three go at 1_109, answered at once; three more now,
        // answered a second later.
        let sent_at = 2_500.0;
        let slow: Vec<Booking> = (0..3).map(|_| r.go(sent_at).unwrap()).collect();
        for b in slow {
            r.t.answered(k(), b, T0 + sent_at + 1_000.0, bare(false, None));
        }
        let t = r.call();
        let until = wait_until(r.admit(t, sent_at + 1_000.0)).unwrap();
        let length = r.t.keys.get(&k()).unwrap().windows[0].length();
        assert!(
            until <= sent_at + length + 50.0,
            "a window after the send: {until}"
        );
    }
}

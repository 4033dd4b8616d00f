//! A proactive throttle: remembers the rate-limit windows each response
//! reports (2xx included) and tells the next caller how long to wait so that
//! it does not hit the limit. Callers waiting on an exhausted window are
//! paced across the following windows rather than all woken at the reset.

use crate::classify::duration::clamp_ms;
use crate::classify::headers::{Limits, Window};
use crate::limits::key::{Idle, KeyMap, LimitKey};

/// The shortest window length assumed, ms: a window's length is estimated
/// as the longest reset seen for it, but never less than this.
pub const MIN_WINDOW_MS: f64 = 1_000.0;

/// The most random jitter added to a waiter's wake time, ms. Jitter never
/// moves a waiter out of its own slot.
pub const MAX_JITTER_MS: f64 = 250.0;

/// What is known about one window (requests, tokens, …) of one key.
#[derive(Debug, Clone, Copy, Default)]
struct WindowState {
    limit: Option<u64>,
    /// What is left before `reset_at`: the server's count, less local bookings.
    remaining: Option<u64>,
    /// When the window refills, ms since the epoch.
    reset_at: Option<f64>,
    /// The longest reset reported, ms: the estimate of the window's length.
    longest_reset_ms: f64,
    /// When the next waiter's slot starts; in the past when nobody waits.
    next_slot_at: f64,
}

impl WindowState {
    /// Takes in a server report. The server's remaining count does not
    /// know about the `in_flight` requests sent since, so they are taken
    /// off it; and within the same window a report can only lower the local
    /// count (an older response must not give back slots already handed
    /// out). A report for a new window replaces the count; `limit` carries
    /// over when a response leaves it out.
    fn observe(&mut self, w: &Window, now: f64, in_flight: u64) {
        if let Some(reset) = w.reset_ms {
            self.longest_reset_ms = self.longest_reset_ms.max(reset as f64);
        }
        let reset_at = w.reset_ms.map(|ms| now + ms as f64);
        let same_window = match (self.reset_at, reset_at) {
            (Some(old), Some(new)) => now < old && (new - old).abs() < self.length() / 2.0,
            _ => false,
        };
        let reported = w.remaining.map(|r| r.saturating_sub(in_flight));
        self.limit = w.limit.or(self.limit);
        self.remaining = match (same_window && in_flight > 0, self.remaining, reported) {
            (true, Some(local), Some(server)) => Some(local.min(server)),
            _ => reported,
        };
        self.reset_at = reset_at;
    }

    /// The window's estimated length, ms.
    fn length(&self) -> f64 {
        self.longest_reset_ms.max(MIN_WINDOW_MS)
    }

    /// The spacing of waiters: the window shared by `limit` requests
    /// (one per window when the limit is unknown).
    fn interval(&self) -> f64 {
        self.length() / self.limit.unwrap_or(1).max(1) as f64
    }

    /// Once `now` reaches `reset_at`, the window has refilled to `limit`,
    /// less the waiters already booked into it, and the next reset is
    /// assumed one window length later.
    fn roll(&mut self, now: f64) {
        let Some(reset_at) = self.reset_at.filter(|&at| now >= at) else {
            return;
        };
        let length = self.length();
        let start = reset_at + ((now - reset_at) / length).floor() * length;
        self.reset_at = Some(start + length);
        // Waiters occupy consecutive slots up to `next_slot_at`.
        let booked = ((self.next_slot_at - start) / self.interval())
            .ceil()
            .max(0.0) as u64;
        self.remaining = self.limit.map(|l| l.saturating_sub(booked));
    }

    /// Whether this window is nearly spent at `now`: calls already wait
    /// for it, or at most a tenth of its limit (at least 1) is left before
    /// a reset still to come.
    fn pressed(&self, now: f64) -> bool {
        let low = |left: u64| left <= (self.limit.unwrap_or(0) / 10).max(1);
        let before_reset = self.reset_at.is_some_and(|at| at > now);
        self.next_slot_at > now || (before_reset && self.remaining.is_some_and(low))
    }

    /// Books one request made at `now`; returns when it may be sent.
    fn reserve(&mut self, now: f64, random: f64) -> f64 {
        self.roll(now);
        // After `roll`, any `reset_at` is in the future.
        let exhausted = self.remaining == Some(0) && self.reset_at.is_some();
        let queue_empty = self.next_slot_at <= now;
        if !exhausted && queue_empty {
            self.remaining = self.remaining.map(|r| r.saturating_sub(1));
            return now;
        }
        // Wait in line: the next free slot, and not before the reset.
        let mut slot = self.next_slot_at.max(now);
        if let Some(reset_at) = self.reset_at {
            if exhausted {
                slot = slot.max(reset_at);
            } else if slot < reset_at {
                self.remaining = self.remaining.map(|r| r.saturating_sub(1));
            }
        }
        let interval = self.interval();
        self.next_slot_at = slot + interval;
        slot + random * interval.min(MAX_JITTER_MS)
    }
}

/// Rate-limit state per [`LimitKey`], fed by responses and asked before
/// each request.
#[derive(Debug, Clone, Default)]
pub struct Throttle {
    keys: KeyMap<KeyState>,
}

/// After this long with no booking and no answer for a key, requests still
/// counted in flight are presumed lost (a Worker invocation cancelled
/// mid-request never reports back), ms: OpenAI's own client timeout.
pub const IN_FLIGHT_LEASE_MS: f64 = 600_000.0;

/// One key's windows and the requests sent for it that have not answered.
#[derive(Debug, Clone, Default)]
struct KeyState {
    windows: [WindowState; 4],
    in_flight: u64,
    /// The last booking or answer, ms since the epoch.
    active_at: f64,
}

impl KeyState {
    /// Drops in-flight counts whose requests are presumed lost.
    fn expire(&mut self, now_ms: f64) {
        if now_ms - self.active_at >= IN_FLIGHT_LEASE_MS {
            self.in_flight = 0;
        }
        self.active_at = self.active_at.max(now_ms);
    }
}

impl Idle for KeyState {
    /// Nothing in flight, no waiter booked ahead and every window reset:
    /// what is left is only an estimate of the window lengths.
    fn idle(&self, now_ms: f64) -> bool {
        let quiet = self.in_flight == 0 || now_ms - self.active_at >= IN_FLIGHT_LEASE_MS;
        quiet
            && self
                .windows
                .iter()
                .all(|w| w.next_slot_at <= now_ms && w.reset_at.is_none_or(|at| at <= now_ms))
    }
}

impl Throttle {
    /// A throttle that knows nothing yet, so it never asks anyone to wait.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records the windows a response for `key` reported at `now_ms`.
    /// Observations apply in call order: the latest wins, and its counts
    /// replace the local ones (waiters already booked keep their slots). A
    /// response without rate-limit headers, or an invalid time, changes
    /// nothing.
    pub fn observe(&mut self, key: LimitKey, limits: &Limits, now_ms: f64) {
        if !valid_time(now_ms) || *limits == Limits::default() {
            return;
        }
        let entry = self.keys.entry_or_default(key, now_ms);
        entry.expire(now_ms);
        let in_flight = entry.in_flight;
        let windows = [
            limits.requests,
            limits.tokens,
            limits.input_tokens,
            limits.output_tokens,
        ];
        for (state, window) in entry.windows.iter_mut().zip(windows) {
            if let Some(window) = window {
                state.observe(&window, now_ms, in_flight);
            }
        }
    }

    /// How long, in ms, a request for `key` made at `now_ms` should wait
    /// before it is sent; the request is booked against every window.
    ///
    /// - Without information (unknown key, no remaining count, no reset):
    ///   0.
    /// - With room left: 0, and the local remaining count goes down by one.
    /// - With a window exhausted: until its reset. The k-th caller to wait
    ///   (from 0) is paced `k * length / limit` after the reset, so `limit`
    ///   callers wake in each following window, plus a jitter of
    ///   `random` (in `[0, 1)`) times the smaller of one pace and
    ///   [`MAX_JITTER_MS`]. A newcomer queues behind earlier waiters.
    ///
    /// The longest wait any window asks for wins, capped at
    /// [`crate::classify::duration::MAX_DELAY_MS`]. A NaN, infinite or negative
    /// `now_ms` gives 0 and books nothing.
    pub fn reserve(&mut self, key: LimitKey, now_ms: f64, random: f64) -> u64 {
        if !valid_time(now_ms) {
            return 0;
        }
        // Every request is counted in flight until `answered`, even for a
        // key nothing is known about yet: the first answer must not hand
        // out slots that the requests already on their way will use.
        let entry = self.keys.entry_or_default(key, now_ms);
        entry.expire(now_ms);
        entry.in_flight += 1;
        let states = &mut entry.windows;
        let random = if random.is_finite() {
            random.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let send_at = states
            .iter_mut()
            .map(|state| state.reserve(now_ms, random))
            .fold(now_ms, f64::max);
        clamp_ms(send_at - now_ms).unwrap_or(0)
    }

    /// A request booked by [`reserve`](Self::reserve) was answered (or
    /// failed): it is no longer in flight. Call it before
    /// [`observe`](Self::observe) for that response.
    pub fn answered(&mut self, key: LimitKey, now_ms: f64) {
        if let Some(entry) = self.keys.get_mut(&key) {
            entry.in_flight = entry.in_flight.saturating_sub(1);
            if valid_time(now_ms) {
                entry.active_at = entry.active_at.max(now_ms);
            }
        }
    }

    /// Whether `key`'s rate limit is under pressure at `now_ms`: one of its
    /// windows is nearly spent or has calls waiting for it (a bulk call may
    /// then take a cheaper route; see [`crate::limits::lanes`]).
    pub fn pressed(&self, key: LimitKey, now_ms: f64) -> bool {
        self.keys
            .get(&key)
            .is_some_and(|e| e.windows.iter().any(|w| w.pressed(now_ms)))
    }

    /// Requests for `key` counted in flight; for tests and debugging.
    pub fn in_flight(&self, key: LimitKey) -> u64 {
        self.keys.get(&key).map_or(0, |e| e.in_flight)
    }

    /// Keys held (never more than [`crate::limits::key::DEFAULT_MAX_KEYS`]).
    pub fn keys(&self) -> usize {
        self.keys.len()
    }

    /// Drops everything known about `key`.
    pub fn forget(&mut self, key: LimitKey) {
        self.keys.remove(&key);
    }

    /// The smallest local remaining count among `key`'s windows, as of the
    /// last `observe` or `reserve`; for debugging and tests.
    pub fn remaining(&self, key: LimitKey) -> Option<u64> {
        let entry = self.keys.get(&key)?;
        entry.windows.iter().filter_map(|s| s.remaining).min()
    }
}

fn valid_time(now_ms: f64) -> bool {
    now_ms.is_finite() && now_ms >= 0.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::duration::MAX_DELAY_MS;

    const T0: f64 = 1_700_000_000_000.0;

    fn k() -> LimitKey {
        LimitKey::new("https://api.openai.com", Some("sk-test"))
    }

    fn window(limit: Option<u64>, remaining: u64, reset_ms: Option<u64>) -> Option<Window> {
        let remaining = Some(remaining);
        Some(Window {
            limit,
            remaining,
            reset_ms,
        })
    }

    /// Limits with only a requests window.
    fn requests(limit: Option<u64>, remaining: u64, reset_ms: u64) -> Limits {
        let requests = window(limit, remaining, Some(reset_ms));
        Limits {
            requests,
            ..Limits::default()
        }
    }

    /// A throttle that observed `limits` at `T0`.
    fn throttle(limits: Limits) -> Throttle {
        let mut t = Throttle::new();
        t.observe(k(), &limits, T0);
        t
    }

    /// The wait for a request `after` ms past `T0`.
    fn wait(t: &mut Throttle, after: f64, random: f64) -> u64 {
        t.reserve(k(), T0 + after, random)
    }

    #[test]
    fn no_information_means_no_wait() {
        let mut t = Throttle::new();
        assert_eq!(wait(&mut t, 0.0, 0.5), 0);
        t.observe(k(), &Limits::default(), T0);
        assert_eq!(t.remaining(k()), None, "nothing to remember");
        let limits = Limits {
            tokens: window(None, 0, None),
            ..Limits::default()
        };
        t.observe(k(), &limits, T0);
        assert_eq!(wait(&mut t, 0.0, 0.5), 0, "no reset: cannot plan, so go");
    }

    #[test]
    fn room_is_booked_locally_until_the_server_says_otherwise() {
        let mut t = throttle(requests(Some(10), 2, 60_000));
        assert_eq!([wait(&mut t, 0.0, 0.0), wait(&mut t, 0.0, 0.0)], [0, 0]);
        assert_eq!(t.remaining(k()), Some(0));
        assert_eq!(wait(&mut t, 0.0, 0.0), 60_000, "the third waits");
        (0..3).for_each(|_| t.answered(k(), 0.0));
        t.observe(k(), &requests(Some(10), 5, 59_000), T0 + 1.0);
        assert_eq!(
            t.remaining(k()),
            Some(5),
            "with nothing in flight the newest report wins"
        );
    }

    #[test]
    fn the_first_answer_does_not_hand_out_slots_already_in_use() {
        let mut t = Throttle::new();
        // Ten requests go out before anything is known.
        assert!((0..10).all(|_| wait(&mut t, 0.0, 0.0) == 0));
        t.answered(k(), 0.0);
        // The first answer says 9 left, but the other 9 are on their way.
        t.observe(k(), &requests(Some(10), 9, 1_000), T0 + 50.0);
        assert_eq!(t.remaining(k()), Some(0));
        assert_eq!(
            wait(&mut t, 50.0, 0.0),
            1_000,
            "the eleventh waits for the reset"
        );
    }

    #[test]
    fn an_older_report_cannot_give_back_booked_slots() {
        let mut t = throttle(requests(Some(10), 3, 1_000));
        assert!((0..3).all(|_| wait(&mut t, 0.0, 0.0) == 0));
        assert_eq!(t.remaining(k()), Some(0));
        t.answered(k(), 0.0);
        // A response sent before the three were booked says 5 left.
        t.observe(k(), &requests(Some(10), 5, 990), T0 + 10.0);
        assert_eq!(t.remaining(k()), Some(0));
        assert!(
            wait(&mut t, 10.0, 0.0) >= 980,
            "no double booking of the window"
        );
    }

    #[test]
    fn an_exhausted_window_waits_about_until_its_reset() {
        let first = |after, random| wait(&mut throttle(requests(None, 0, 1_000)), after, random);
        assert_eq!(first(0.0, 0.0), 1_000);
        assert_eq!(first(400.0, 0.0), 600);
        let jittered = first(0.0, 0.999);
        assert!(jittered > 1_200 && jittered <= 1_000 + MAX_JITTER_MS as u64);
    }

    #[test]
    fn after_the_reset_the_window_is_full_again() {
        let mut t = throttle(requests(Some(3), 0, 1_000));
        // A later response leaves the limit out: the known one is kept.
        t.observe(k(), &requests(None, 0, 1_000), T0);
        assert_eq!([(); 3].map(|_| wait(&mut t, 1_000.0, 0.5)), [0, 0, 0]);
        assert_eq!(wait(&mut t, 1_000.0, 0.0), 1_000, "the fourth: next window");
    }

    #[test]
    fn waiters_are_paced_across_the_following_windows() {
        let mut t = throttle(requests(Some(5), 0, 1_000));
        let spread = |i| wait(&mut t, 0.0, f64::from(i) / 10.0);
        let wakes: Vec<u64> = (0..10).map(spread).collect();
        let (first, second) = wakes.split_at(5);
        assert!(
            first.iter().all(|w| (1_000..2_000).contains(w)),
            "{wakes:?}"
        );
        assert!(
            second.iter().all(|w| (2_000..3_000).contains(w)),
            "{wakes:?}"
        );
        assert!(
            wakes.windows(2).all(|p| p[0] < p[1]),
            "in order, all different"
        );
        assert!(
            wait(&mut t, 500.0, 0.0) >= 2_500,
            "a newcomer queues behind"
        );
        // With the limit unknown, one waiter per window.
        let mut t = throttle(requests(None, 0, 2_000));
        assert_eq!(
            [(); 3].map(|_| wait(&mut t, 0.0, 0.0)),
            [2_000, 4_000, 6_000]
        );
    }

    #[test]
    fn waiters_count_against_the_window_they_wake_in() {
        // Limit 4 per 1 s window: waiters are paced 250 ms apart.
        let mut t = throttle(requests(Some(4), 0, 1_000));
        assert_eq!(
            [wait(&mut t, 0.0, 0.0), wait(&mut t, 0.0, 0.0)],
            [1_000, 1_250]
        );
        // After the reset 2 of the 4 are booked; a newcomer queues third.
        assert_eq!(wait(&mut t, 1_100.0, 0.0), 400);
        assert_eq!(t.remaining(k()), Some(1));
        // Once the line is gone, one request fits; the next waits a window.
        assert_eq!(wait(&mut t, 1_800.0, 0.0), 0);
        assert_eq!(wait(&mut t, 1_800.0, 0.0), 200);
    }

    #[test]
    fn the_queue_drains_with_time_even_if_resets_keep_moving() {
        let mut t = throttle(requests(Some(2), 0, 1_000));
        for _ in 0..4 {
            wait(&mut t, 0.0, 0.0);
        }
        for step in 1..=4 {
            let at = T0 + 1_000.0 * f64::from(step);
            t.answered(k(), 0.0);
            t.observe(k(), &requests(Some(2), 1, 1_000), at);
        }
        assert_eq!(wait(&mut t, 4_000.0, 0.0), 0);
    }

    #[test]
    fn the_longest_window_wins() {
        let mut limits = requests(Some(100), 50, 1_000);
        limits.output_tokens = window(Some(8_000), 0, Some(30_000));
        assert_eq!(wait(&mut throttle(limits), 0.0, 0.0), 30_000);
    }

    #[test]
    fn forget_and_bad_inputs() {
        let mut t = throttle(requests(Some(5), 0, 1_000));
        for bad in [f64::NAN, -1.0, f64::INFINITY] {
            assert_eq!(t.reserve(k(), bad, 0.5), 0);
            t.observe(k(), &requests(Some(5), 5, 1), bad);
        }
        assert_eq!(t.remaining(k()), Some(0), "bad times change nothing");
        assert_eq!(wait(&mut t, 0.0, f64::NAN), 1_000);
        t.forget(k());
        assert_eq!(wait(&mut t, 0.0, 0.0), 0);
        let mut t = throttle(requests(Some(1), 0, u64::MAX));
        assert_eq!(wait(&mut t, 0.0, 0.9), MAX_DELAY_MS);
        assert_eq!(t.reserve(k(), 0.0, 2.0), MAX_DELAY_MS);
    }
}

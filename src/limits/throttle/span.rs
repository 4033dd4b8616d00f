//! How long a requests window is, learned from a 429 whose headers
//! report it on a key whose other answers carry none ([`super::quiet`]):
//! such a report comes when the window is full, often early in it, and its
//! reset then says less than the window's length.

use super::state::KeyState;
use crate::classify::headers::Window;

impl KeyState {
    /// A 429 on a request sent at `sent_at` whose report finds its
    /// requests window full, on a key whose other answers carry no
    /// rate-limit headers: the 429 may come early in the window, and its
    /// reset then says less than the window's length. The window holds the `limit - remaining` requests let through most
    /// recently (answered, or still out), so it began no later than the
    /// oldest of them was counted (by its answer, or a reorder after its
    /// send): it is at least that long, up to its reset.
    ///
    /// That is exact for a sliding log whose reset says when the next slot
    /// frees, a lower bound for a fixed window, and up to twice the length
    /// for a sliding log whose reset says when it is empty. The length only
    /// grows from it (a request is taken to leave later, never sooner), and
    /// never past twice the reset, so that a key shared with other
    /// processes (whose requests this log lacks) is not held longer.
    pub(super) fn learn_length(&mut self, sent_at: f64, window: &Window) {
        let (Some(limit), Some(remaining), Some(reset)) =
            (window.limit, window.remaining, window.reset_ms)
        else {
            return;
        };
        let n = limit.saturating_sub(remaining) as usize;
        if !self.quiet.bare || n == 0 {
            return;
        }
        let reorder = self.reorder_ms();
        // When each was counted, at the latest: by its answer, or a
        // reorder after its send if still out.
        let mut counted = Vec::new();
        for &(at, answered) in &self.quiet.through {
            if at <= sent_at {
                counted.push(answered.min(at + reorder));
            }
        }
        for s in &self.log {
            if !s.answered && !s.rejected && s.at <= sent_at {
                counted.push(s.at + reorder);
            }
        }
        let Some(oldest) = nth_latest(&counted, n) else {
            return;
        };
        let reset = reset as f64;
        let length = sent_at + reset - oldest;
        let w = &mut self.windows[0];
        if length <= 2.0 * reset {
            w.longest_reset_ms = w.longest_reset_ms.max(length);
        }
    }
}

/// The `n`-th latest of `times` (`None` if there are fewer), found by
/// bisection on the time rather than by sorting: a slice sort costs the
/// `.wasm` about 2 KB gzipped (see `limits/key_index.rs`).
fn nth_latest(times: &[f64], n: usize) -> Option<f64> {
    let at_or_after = |t: f64| times.iter().filter(|&&x| x >= t).count();
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for &t in times {
        lo = lo.min(t);
        hi = hi.max(t);
    }
    if n == 0 || times.len() < n {
        return None;
    }
    // At least n at or after `lo`, fewer than n after `hi`.
    for _ in 0..64 {
        let mid = lo + (hi - lo) / 2.0;
        if mid <= lo || mid >= hi {
            break;
        }
        if at_or_after(mid) >= n {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    // The first time at or after `lo`: n or more are at or after it.
    let mut first = hi;
    for &t in times {
        if t >= lo {
            first = first.min(t);
        }
    }
    Some(first)
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::*;
    use super::nth_latest;

    #[test]
    fn the_nth_latest_time() {
        let times = [5.0, 1.0, 9.0, 3.0, 7.0, 7.0];
        let nth = |n| nth_latest(&times, n);
        assert_eq!(
            [1, 2, 3, 4, 6].map(nth),
            [9.0, 7.0, 7.0, 5.0, 1.0].map(Some)
        );
        assert_eq!((nth(0), nth(7)), (None, None));
        assert_eq!(nth_latest(&[], 1), None);
    }

    /// Headers on 429s only, the first one 40 ms into a fixed window of
    /// 1 s: its reset (960 ms) is short of the window. Main's throttle took
    /// it for the window's length, so the next window's requests were
    /// taken to leave 960 ms after their send, and met 429s (5 to 7 per
    /// batch in `tests/matrix.rs`). The ten let through before it, the
    /// oldest answered at 4 ms, say the window is at least 996 ms long.
    #[test]
    fn a_429_report_early_in_its_window_learns_the_window_from_what_it_let_through() {
        let mut r = Run::new(0);
        for i in 0..10 {
            let at = 4.0 * f64::from(i);
            let b = r.go(at).unwrap();
            r.t.answered(k(), b, T0 + at + 4.0, bare(false, None));
        }
        let over = r.go(40.0).unwrap();
        let limits = requests(10, 0, 960);
        let answer = limited(&limits, Some(1_000));
        r.t.answered(k(), over, T0 + 44.0, answer);
        // Each of the ten leaves a window after it reached the server (the
        // next slot may be what the reset said): by 1 060 all have.
        let next: Vec<Booking> = (0..10).filter_map(|_| r.go(1_060.0)).collect();
        assert_eq!(next.len(), 10, "the whole limit once they have left");
        for b in next {
            r.t.answered(k(), b, T0 + 1_064.0, bare(false, None));
        }
        // They opened a window of 1 s when they reached the server.
        let t = r.call();
        let until = wait_until(r.admit(t, 1_064.0)).unwrap();
        assert!(
            until >= 1_060.0 + 1_000.0,
            "not before that window's end: {until}"
        );
        let length = r.t.keys.get(&k()).unwrap().windows[0].length();
        assert_eq!(length, 40.0 + 960.0 - 4.0, "{length}");
    }

    /// What was let through long before (a key shared with processes
    /// whose requests this log lacks) does not stretch the window past
    /// twice the reset.
    #[test]
    fn a_window_is_not_learned_longer_than_twice_the_429_s_reset() {
        let mut r = Run::new(0);
        for i in 0..10 {
            let at = 300.0 * f64::from(i);
            let b = r.go(at).unwrap();
            r.t.answered(k(), b, T0 + at + 4.0, bare(false, None));
        }
        let over = r.go(3_000.0).unwrap();
        let limits = requests(10, 0, 960);
        let answer = limited(&limits, Some(1_000));
        r.t.answered(k(), over, T0 + 3_004.0, answer);
        let length = r.t.keys.get(&k()).unwrap().windows[0].length();
        assert_eq!(length, 960.0);
    }
}

//! The one ordering structure of every [`KeyMap`](super::KeyMap): a sorted
//! `(key hash, slot)` index, the sort it and the sweep share, and the
//! sweep's choice of what to keep. None of it depends on the map's `V`, so
//! it is compiled once.

use super::LimitKey;

/// `(key hash, slot)` pairs sorted by key: the one ordering structure of
/// every [`KeyMap`], whatever its `V`.
#[derive(Debug, Clone, Default)]
pub(super) struct Index(pub(super) Vec<(u64, usize)>);

impl Index {
    /// Where `key` is, or where it would go.
    pub(super) fn find(&self, key: &LimitKey) -> Result<usize, usize> {
        self.0.binary_search_by(|&(k, _)| k.cmp(&key.0))
    }

    /// The slot of `key`.
    pub(super) fn get(&self, key: &LimitKey) -> Option<usize> {
        self.find(key).ok().map(|at| self.0[at].1)
    }

    /// Points `key` at `slot`, adding it if absent.
    pub(super) fn set(&mut self, key: LimitKey, slot: usize) {
        match self.find(&key) {
            Ok(at) => self.0[at].1 = slot,
            Err(at) => self.0.insert(at, (key.0, slot)),
        }
    }

    /// Removes `key`, giving back its slot.
    pub(super) fn remove(&mut self, key: &LimitKey) -> Option<usize> {
        let at = self.find(key).ok()?;
        Some(self.0.remove(at).1)
    }
}

/// Sorts `(u64, usize)` pairs, ascending: the index and the sweep's use
/// times both sort as these. A heapsort by hand, a few hundred bytes of
/// `.wasm` where the standard library's sort is 4.6 KB; it runs only when a
/// full map sweeps (O(n log n), in place, never recursing).
pub(super) fn sort_pairs(pairs: &mut [(u64, usize)]) {
    /// Moves `heap[root]` down the heap. Read with `get` and written with
    /// `get_mut`: an index or a `swap` would keep a panic location in the
    /// `.wasm` for each (issue 25), and these cannot be out of range.
    fn sift_down(heap: &mut [(u64, usize)], mut root: usize) {
        loop {
            let left = 2 * root + 1;
            let (Some(&top), Some(&l)) = (heap.get(root), heap.get(left)) else {
                return;
            };
            let (child, below) = match heap.get(left + 1) {
                Some(&r) if l < r => (left + 1, r),
                _ => (left, l),
            };
            if top >= below {
                return;
            }
            set(heap, root, below);
            set(heap, child, top);
            root = child;
        }
    }
    /// `heap[at] = pair`, for an `at` in range.
    fn set(heap: &mut [(u64, usize)], at: usize, pair: (u64, usize)) {
        if let Some(slot) = heap.get_mut(at) {
            *slot = pair;
        }
    }
    for root in (0..pairs.len() / 2).rev() {
        sift_down(pairs, root);
    }
    for end in (1..pairs.len()).rev() {
        let (Some(&first), Some(&last)) = (pairs.first(), pairs.get(end)) else {
            return;
        };
        set(pairs, 0, last);
        set(pairs, end, first);
        if let Some(heap) = pairs.get_mut(..end) {
            sift_down(heap, 0);
        }
    }
}

/// The `cut`-th smallest (from 1) of `used`, in [`f64::total_cmp`] order.
/// `cut` is in `1..=used.len()`.
pub(super) fn nth_oldest(used: &[f64], cut: usize) -> f64 {
    // total_cmp's order as unsigned integers: flip every bit of a negative
    // number, and only the sign bit of the others.
    let order = |x: f64| {
        let bits = x.to_bits();
        bits ^ (((bits as i64 >> 63) as u64) | 1 << 63)
    };
    let mut pairs: Vec<(u64, usize)> = Vec::with_capacity(used.len());
    for &u in used {
        pairs.push((order(u), 0));
    }
    sort_pairs(&mut pairs);
    let bits = pairs[cut - 1].0;
    // Back to the f64: undo the flip.
    let sign = if bits >> 63 == 1 { 1 << 63 } else { u64::MAX };
    f64::from_bits(bits ^ sign)
}

/// What the sweep reads of a slot: its key, when it was last used, and
/// whether it is idle.
pub(super) type Entry = (LimitKey, f64, bool);

/// Which of a full map's `entries` to keep, and the index of the kept ones
/// (in their order): none of the idle ones, and of the others, past
/// `max_keys` less a quarter, not the least recently used.
pub(super) fn sweep(entries: &[Entry], max_keys: usize) -> (Vec<bool>, Index) {
    // Loops, not iterator chains collected: each `collect` was a from_iter,
    // an extend and an adapter's `next` of its own (issue 25).
    let mut keep: Vec<bool> = Vec::with_capacity(entries.len());
    let mut busy: Vec<f64> = Vec::new();
    for &(_, used, idle) in entries {
        keep.push(!idle);
        if !idle {
            busy.push(used);
        }
    }
    let room = max_keys - max_keys.div_ceil(4);
    if busy.len() > room {
        let cut = busy.len() - room;
        let threshold = nth_oldest(&busy, cut);
        let mut dropped = 0;
        for (k, &(_, used, _)) in keep.iter_mut().zip(entries) {
            if *k && dropped < cut && used <= threshold {
                *k = false;
                dropped += 1;
            }
        }
    }
    let mut pairs: Vec<(u64, usize)> = Vec::new();
    for (e, _) in entries.iter().zip(&keep).filter(|&(_, &k)| k) {
        pairs.push((e.0 .0, pairs.len()));
    }
    sort_pairs(&mut pairs);
    (keep, Index(pairs))
}

//! Exact, mergeable duration histograms and the per-measure cell that carries them.
//!
//! A [`Histogram`] holds every value it was given as `(value, count)` pairs, so every order
//! statistic can be read back exactly while memory grows with the number of *distinct*
//! durations, not with rows. Adds go to a small unsorted buffer that is folded into the sorted
//! pairs once it is four times as long as they are (at least `MIN_PENDING`), which keeps an add
//! amortised O(log n) and a day cell with a handful of records tiny.
//!
//! Pairs are stored in 8 bytes (`u32` seconds, `u32` count) while every value is a second count
//! from 0 to `u32::MAX` (136 years) and the histogram holds at most `u32::MAX` values, which is
//! every duration a measure records; a histogram given anything else (a negative value, a sum of
//! more than four billion records) turns to 16-byte `(i64, u64)` pairs once and stays so. The
//! cells of a scorecard are most of its memory, and every fold, merge and copy of them moves
//! half the bytes (issue 27).

use std::borrow::Cow;
use std::fmt::Debug;

use crate::error::{Error, Result};

/// Buffered adds before the first fold into the sorted pairs.
const MIN_PENDING: usize = 32;

/// The buffer is folded once it holds this many times as many values as the sorted pairs.
const PENDING_RATIO: usize = 4;

/// One stored `(value, count)` pair of a histogram, read as an `i64` value and a `u64` count.
pub trait Pair: Copy {
    /// The value (whole seconds).
    fn value(self) -> i64;
    /// How many times the value was added.
    fn count(self) -> u64;
}

impl Pair for (i64, u64) {
    #[inline]
    fn value(self) -> i64 {
        self.0
    }
    #[inline]
    fn count(self) -> u64 {
        self.1
    }
}

/// A pair whose value and count both fit in 32 bits: half the room of `(i64, u64)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Narrow {
    value: u32,
    count: u32,
}

impl Pair for Narrow {
    #[inline]
    fn value(self) -> i64 {
        i64::from(self.value)
    }
    #[inline]
    fn count(self) -> u64 {
        u64::from(self.count)
    }
}

/// Sorted, unique-valued `(value, count)` pairs as a histogram stores them (or the union of
/// several, see [`Histogram::union_entries`]), borrowed without widening narrow ones.
#[derive(Debug, Clone, Copy)]
pub enum Pairs<'a> {
    /// 8-byte pairs.
    Narrow(&'a [Narrow]),
    /// 16-byte pairs.
    Wide(&'a [(i64, u64)]),
}

impl Pairs<'_> {
    /// Number of distinct values.
    pub fn len(self) -> usize {
        match self {
            Pairs::Narrow(p) => p.len(),
            Pairs::Wide(p) => p.len(),
        }
    }

    /// Whether there is no value.
    pub fn is_empty(self) -> bool {
        self.len() == 0
    }

    /// The smallest value and its count.
    pub fn first(self) -> Option<(i64, u64)> {
        match self {
            Pairs::Narrow(p) => p.first().map(|e| (e.value(), e.count())),
            Pairs::Wide(p) => p.first().copied(),
        }
    }

    /// The largest value and its count.
    pub fn last(self) -> Option<(i64, u64)> {
        match self {
            Pairs::Narrow(p) => p.last().map(|e| (e.value(), e.count())),
            Pairs::Wide(p) => p.last().copied(),
        }
    }

    /// Calls `f` with every `(value, count)`, ascending: one loop per width, no per-pair
    /// dispatch.
    #[inline]
    pub fn for_each(self, mut f: impl FnMut(i64, u64)) {
        match self {
            Pairs::Narrow(p) => p.iter().for_each(|e| f(e.value(), e.count())),
            Pairs::Wide(p) => p.iter().for_each(|e| f(e.0, e.1)),
        }
    }

    /// The pairs as `(i64, u64)`.
    pub fn to_vec(self) -> Vec<(i64, u64)> {
        let mut out = Vec::with_capacity(self.len());
        self.for_each(|v, c| out.push((v, c)));
        out
    }
}

/// A storage width: the value and pair types of a [`Store`].
trait Width: Clone + Debug + Default {
    type V: Copy + Ord + Default + Debug;
    type P: Pair + Default + Debug + PartialEq;
    /// A pair; `c` fits by the caller's check (see [`Histogram::fits`]).
    fn pair(v: Self::V, c: u64) -> Self::P;
    fn value_of(p: Self::P) -> Self::V;
    fn wide(v: Self::V) -> i64;
    /// A value the caller knows fits.
    fn from_wide(v: i64) -> Self::V;
}

#[derive(Debug, Clone, Default)]
struct W32;

impl Width for W32 {
    type V = u32;
    type P = Narrow;
    #[inline]
    fn pair(v: u32, c: u64) -> Narrow {
        debug_assert!(c <= u64::from(u32::MAX));
        Narrow {
            value: v,
            count: c as u32,
        }
    }
    #[inline]
    fn value_of(p: Narrow) -> u32 {
        p.value
    }
    #[inline]
    fn wide(v: u32) -> i64 {
        i64::from(v)
    }
    #[inline]
    fn from_wide(v: i64) -> u32 {
        v as u32
    }
}

#[derive(Debug, Clone, Default)]
struct W64;

impl Width for W64 {
    type V = i64;
    type P = (i64, u64);
    #[inline]
    fn pair(v: i64, c: u64) -> (i64, u64) {
        (v, c)
    }
    #[inline]
    fn value_of(p: (i64, u64)) -> i64 {
        p.0
    }
    #[inline]
    fn wide(v: i64) -> i64 {
        v
    }
    #[inline]
    fn from_wide(v: i64) -> i64 {
        v
    }
}

/// Sorted pairs and the unsorted buffer of values added since the last fold, of one width.
#[derive(Debug, Clone, Default)]
struct Store<W: Width> {
    /// Sorted by value, values unique, counts > 0.
    sorted: Vec<W::P>,
    /// Values added since the last fold, unsorted.
    pending: Vec<W::V>,
}

impl<W: Width> Store<W> {
    #[inline]
    fn push(&mut self, v: W::V) {
        self.pending.push(v);
        if self.pending.len() >= MIN_PENDING.max(PENDING_RATIO * self.sorted.len()) {
            self.fold();
        }
    }

    fn fold(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        if !self.fold_counted() {
            // Sorted in place and merged as runs straight from the buffer: no allocation.
            self.pending.sort_unstable();
            merge_back::<W>(
                &mut self.sorted,
                self.pending.len(),
                RevRuns::<W>(&self.pending),
            );
        }
        // A long buffer is given back rather than kept for the next adds: cells stop growing
        // (records come in time order, and a month's cells fill only in that month), and a
        // scorecard's finished cells each kept a buffer of up to four times the bytes of their
        // sorted pairs. Growing it again costs about one copy a value.
        if self.pending.capacity() > 2 * MIN_PENDING {
            self.pending = Vec::new();
        } else {
            self.pending.clear();
        }
    }

    /// Folds a long buffer whose values crowd a range by counting them in a per-thread array
    /// instead of sorting them: one increment a value in an array that stays in cache, where
    /// sorting cost a fifth of a demand profile (wide handling times in many intervals).
    /// False, changing nothing, when the buffer is short or its values are spread out.
    fn fold_counted(&mut self) -> bool {
        const MIN_LEN: usize = 64;
        let p = &self.pending;
        if p.len() < MIN_LEN {
            return false;
        }
        let (lo, hi) = p
            .iter()
            .fold((p[0], p[0]), |(lo, hi), &v| (lo.min(v), hi.max(v)));
        let lo = W::wide(lo);
        let span = i128::from(W::wide(hi)) - i128::from(lo) + 1;
        if span > 4 * p.len() as i128 {
            return false;
        }
        thread_local! {
            static COUNTS: std::cell::RefCell<Vec<u64>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        COUNTS.with_borrow_mut(|counts| {
            counts.clear();
            counts.resize(span as usize, 0);
            let mut distinct = 0;
            for &v in p {
                let c = &mut counts[(W::wide(v) - lo) as usize];
                distinct += usize::from(*c == 0);
                *c += 1;
            }
            let runs = (counts.iter().enumerate().rev())
                .filter(|(_, c)| **c > 0)
                .map(|(i, &c)| W::pair(W::from_wide(lo + i as i64), c));
            merge_back::<W>(&mut self.sorted, distinct, runs);
        });
        true
    }

    /// The sorted pairs with the buffer folded in, in a new vector.
    fn folded_copy(&self) -> Vec<W::P> {
        let mut p = self.pending.clone();
        p.sort_unstable();
        let mut out = Vec::with_capacity(self.sorted.len() + p.len());
        out.extend_from_slice(&self.sorted);
        merge_back::<W>(&mut out, p.len(), RevRuns::<W>(&p));
        out
    }

    fn shrink(&mut self) {
        self.fold();
        self.pending = Vec::new();
        // A fresh vector, not `shrink_to_fit`: an allocator may shrink a block in place and
        // keep its size, and folds of repeated values leave up to twice the room they use.
        if self.sorted.capacity() > self.sorted.len() {
            self.sorted = self.sorted.as_slice().to_vec();
        }
    }

    fn heap_size(&self) -> usize {
        self.sorted.capacity() * std::mem::size_of::<W::P>()
            + self.pending.capacity() * std::mem::size_of::<W::V>()
    }

    /// Removes `theirs` (sorted, unique, counts > 0), which must be a sub-multiset of the
    /// folded pairs; false, changing nothing, when it is not.
    fn subtract(&mut self, theirs: &[(i64, u64)]) -> bool {
        let find = |s: &[W::P], v: i64| s.binary_search_by_key(&v, |e| e.value());
        // A few values (one open incident's share) are found by binary search; more are
        // matched in one walk. Either way nothing changes until the whole of `theirs` is found.
        if theirs.len() <= 8 {
            let mut at = Vec::with_capacity(theirs.len());
            for &(v, c) in theirs {
                match find(&self.sorted, v) {
                    Ok(i) if self.sorted[i].count() >= c => at.push(i),
                    _ => return false,
                }
            }
            // Descending, so that removing an emptied entry leaves the others' indexes valid.
            for (&i, &(_, c)) in at.iter().zip(theirs).rev() {
                let e = self.sorted[i];
                if e.count() == c {
                    self.sorted.remove(i);
                } else {
                    self.sorted[i] = W::pair(W::value_of(e), e.count() - c);
                }
            }
            return true;
        }
        let mut j = 0;
        for e in &self.sorted {
            let (v, c) = (e.value(), e.count());
            if j < theirs.len() && theirs[j].0 < v {
                return false;
            }
            if j < theirs.len() && theirs[j].0 == v {
                if theirs[j].1 > c {
                    return false;
                }
                j += 1;
            }
        }
        if j < theirs.len() {
            return false;
        }
        let mut j = 0;
        self.sorted.retain_mut(|e| {
            if j < theirs.len() && theirs[j].0 == e.value() {
                *e = W::pair(W::value_of(*e), e.count() - theirs[j].1);
                j += 1;
            }
            e.count() > 0
        });
        true
    }
}

#[derive(Debug, Clone)]
enum Repr {
    Narrow(Store<W32>),
    Wide(Store<W64>),
}

/// An exact multiset of whole-second durations.
#[derive(Debug, Clone)]
pub struct Histogram {
    repr: Repr,
    count: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            repr: Repr::Narrow(Store::default()),
            count: 0,
        }
    }
}

impl PartialEq for Histogram {
    fn eq(&self, other: &Self) -> bool {
        self.count == other.count && self.entries() == other.entries()
    }
}

impl Histogram {
    /// An empty histogram.
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds a histogram from values in any order.
    pub fn from_values(values: impl IntoIterator<Item = i64>) -> Self {
        let mut h = Self::new();
        for v in values {
            h.add(v);
        }
        h
    }

    /// Whether a histogram of `count` values, all in 0..=u32::MAX, keeps 8-byte pairs: no
    /// pair's count can exceed the histogram's.
    #[inline]
    fn fits(count: u64) -> bool {
        count <= u64::from(u32::MAX)
    }

    #[inline]
    fn narrow_value(v: i64) -> Option<u32> {
        u32::try_from(v).ok()
    }

    /// Turns 8-byte pairs into 16-byte ones, for good.
    #[cold]
    fn widen(&mut self) -> &mut Store<W64> {
        if let Repr::Narrow(s) = &self.repr {
            self.repr = Repr::Wide(Store {
                sorted: s.sorted.iter().map(|e| (e.value(), e.count())).collect(),
                pending: s.pending.iter().map(|&v| i64::from(v)).collect(),
            });
        }
        match &mut self.repr {
            Repr::Wide(s) => s,
            Repr::Narrow(_) => unreachable!("widened above"),
        }
    }

    /// Adds one value.
    #[inline]
    pub fn add(&mut self, value: i64) {
        self.count += 1;
        match &mut self.repr {
            Repr::Narrow(s) => match Self::narrow_value(value) {
                Some(v) if Self::fits(self.count) => s.push(v),
                _ => self.widen().push(value),
            },
            Repr::Wide(s) => s.push(value),
        }
    }

    /// Adds `n` copies of a value.
    pub fn add_n(&mut self, value: i64, n: u64) {
        if n == 0 {
            return;
        }
        self.fold();
        self.count += n;
        let narrow = Self::narrow_value(value).filter(|_| Self::fits(self.count));
        match (&mut self.repr, narrow) {
            (Repr::Narrow(s), Some(v)) => match s.sorted.binary_search_by_key(&v, |e| e.value) {
                Ok(i) => s.sorted[i].count += n as u32,
                Err(i) => s.sorted.insert(i, W32::pair(v, n)),
            },
            _ => {
                let s = self.widen();
                match s.sorted.binary_search_by_key(&value, |e| e.0) {
                    Ok(i) => s.sorted[i].1 += n,
                    Err(i) => s.sorted.insert(i, (value, n)),
                }
            }
        }
    }

    /// Adds every value of `other` (the histogram of the union).
    pub fn merge(&mut self, other: &Histogram) {
        if other.count == 0 {
            return;
        }
        self.fold();
        let count = self.count + other.count;
        // In place (see `merge_back`): rollups merge hundreds of cells into one, and a fresh
        // vector per merge made allocation and page faults most of a scorecard's time.
        other.with_pairs(|theirs| match (&mut self.repr, theirs) {
            (Repr::Narrow(s), Pairs::Narrow(t)) if Self::fits(count) => {
                merge_back::<W32>(&mut s.sorted, t.len(), t.iter().rev().copied());
            }
            (_, theirs) => {
                let s = self.widen();
                match theirs {
                    Pairs::Narrow(t) => merge_back::<W64>(
                        &mut s.sorted,
                        t.len(),
                        t.iter().rev().map(|e| (e.value(), e.count())),
                    ),
                    Pairs::Wide(t) => {
                        merge_back::<W64>(&mut s.sorted, t.len(), t.iter().rev().copied())
                    }
                }
            }
        });
        self.count = count;
    }

    /// Whether no value waits in the buffer, so the pairs can be borrowed as they are.
    fn is_folded(&self) -> bool {
        self.folded_pairs().is_some()
    }

    /// The stored pairs, when no value waits in the buffer.
    fn folded_pairs(&self) -> Option<Pairs<'_>> {
        match &self.repr {
            Repr::Narrow(s) if s.pending.is_empty() => Some(Pairs::Narrow(&s.sorted)),
            Repr::Wide(s) if s.pending.is_empty() => Some(Pairs::Wide(&s.sorted)),
            _ => None,
        }
    }

    /// Calls `f` with the sorted pairs: borrowed as stored when the histogram is folded (a
    /// cube's cells are), else a folded copy's.
    pub fn with_pairs<R>(&self, f: impl FnOnce(Pairs<'_>) -> R) -> R {
        if let Some(p) = self.folded_pairs() {
            return f(p);
        }
        match &self.repr {
            Repr::Narrow(s) => f(Pairs::Narrow(&s.folded_copy())),
            Repr::Wide(s) => f(Pairs::Wide(&s.folded_copy())),
        }
    }

    /// The `(value, count)` entries of the union of `parts`, without building (and later
    /// dropping) a merged histogram: what a rollup or a rolling window reads its figures from.
    /// One folded, non-empty part is borrowed as it is. Several are counted into a dense array
    /// when their values span no more than twice as many slots as they have entries (call
    /// durations, most attendance times), and otherwise concatenated and sorted by the
    /// stable sort, which finds the already-sorted runs and merges them (O(n log k) for k
    /// parts); equal values are summed.
    pub fn union_entries<'a>(parts: &[&'a Histogram], scratch: &'a mut UnionScratch) -> Pairs<'a> {
        let filled: Vec<&'a Histogram> = parts.iter().copied().filter(|h| h.count > 0).collect();
        if let [one] = filled[..]
            && let Some(p) = one.folded_pairs()
        {
            return p;
        }
        let out = &mut scratch.pairs;
        out.clear();
        // A part with buffered values is read through a folded copy (cube cells never are).
        let copies: Vec<Histogram> = (filled.iter())
            .filter(|h| !h.is_folded())
            .map(|h| {
                let mut c = (*h).clone();
                c.fold();
                c
            })
            .collect();
        let views: Vec<Pairs<'_>> = (filled.iter().copied().filter(|h| h.is_folded()))
            .chain(&copies)
            .filter_map(Histogram::folded_pairs)
            .collect();
        let (mut lo, mut hi, mut n) = (i64::MAX, i64::MIN, 0usize);
        for p in &views {
            if let (Some(first), Some(last)) = (p.first(), p.last()) {
                lo = lo.min(first.0);
                hi = hi.max(last.0);
                n += p.len();
            }
        }
        if n == 0 {
            return Pairs::Wide(out.as_slice());
        }
        let span = i128::from(hi) - i128::from(lo) + 1;
        if span <= 2 * n as i128 + 64 {
            let dense = &mut scratch.dense;
            dense.clear();
            dense.resize(span as usize, 0);
            for p in &views {
                p.for_each(|v, c| dense[(v - lo) as usize] += c);
            }
            out.extend(
                dense
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| **c > 0)
                    .map(|(i, &c)| (lo + i as i64, c)),
            );
        } else {
            for p in &views {
                p.for_each(|v, c| out.push((v, c)));
            }
            out.sort_by_key(|e| e.0);
            let mut w = 0;
            for r in 1..out.len() {
                if out[r].0 == out[w].0 {
                    out[w].1 += out[r].1;
                } else {
                    w += 1;
                    out[w] = out[r];
                }
            }
            out.truncate(w + 1);
        }
        Pairs::Wide(out.as_slice())
    }

    /// Removes every value of `other`, which must be a sub-multiset of `self` (a contribution
    /// added earlier). Returns false, changing nothing, when it is not.
    pub fn subtract(&mut self, other: &Histogram) -> bool {
        if other.count > self.count {
            return false;
        }
        self.fold();
        let theirs = other.entries();
        // Values are compared as `i64`, so one that does not fit in 32 bits is simply not
        // found among 8-byte pairs.
        let done = match &mut self.repr {
            Repr::Narrow(s) => s.subtract(&theirs),
            Repr::Wide(s) => s.subtract(&theirs),
        };
        if done {
            self.count -= other.count;
        }
        done
    }

    /// Number of values.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Whether no value was added.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Folds buffered adds and gives back the buffer's memory: for a histogram that is done
    /// growing and will be kept (a cube's cell).
    pub fn shrink(&mut self) {
        match &mut self.repr {
            Repr::Narrow(s) => s.shrink(),
            Repr::Wide(s) => s.shrink(),
        }
    }

    /// Folds buffered adds into the sorted pairs; reads never need it, it only saves work.
    pub fn fold(&mut self) {
        match &mut self.repr {
            Repr::Narrow(s) => s.fold(),
            Repr::Wide(s) => s.fold(),
        }
    }

    /// The distinct values with their counts, ascending, as `(i64, u64)`: borrowed when the
    /// histogram holds 16-byte pairs and is folded, else a copy. Reads that walk many cells
    /// use [`Histogram::with_pairs`], which never copies a folded histogram.
    pub fn entries(&self) -> Cow<'_, [(i64, u64)]> {
        match self.folded_pairs() {
            Some(Pairs::Wide(p)) => Cow::Borrowed(p),
            _ => Cow::Owned(self.with_pairs(|p| p.to_vec())),
        }
    }

    /// Appends a pair above every value held (a decoded cell's next pair), in 8 bytes while it
    /// and the total count fit: a decoded cell is built once, at its final width.
    fn push_sorted(&mut self, value: i64, count: u64) {
        self.count += count;
        match (&mut self.repr, Self::narrow_value(value)) {
            (Repr::Narrow(s), Some(v)) if Self::fits(self.count) => {
                s.sorted.push(W32::pair(v, count))
            }
            _ => self.widen().sorted.push((value, count)),
        }
    }

    /// Bytes held on the heap, for DataFusion's memory accounting.
    pub fn heap_size(&self) -> usize {
        match &self.repr {
            Repr::Narrow(s) => s.heap_size(),
            Repr::Wide(s) => s.heap_size(),
        }
    }
}

/// Reusable buffers of [`Histogram::union_entries`].
#[derive(Debug, Default)]
pub struct UnionScratch {
    pairs: Vec<(i64, u64)>,
    dense: Vec<u64>,
}

/// Sorts values and collapses them into `(value, count)` runs (the tests' reference).
#[cfg(test)]
fn runs_of(values: &mut [i64]) -> Vec<(i64, u64)> {
    values.sort_unstable();
    let mut out: Vec<(i64, u64)> = Vec::with_capacity(values.len());
    for &v in values.iter() {
        match out.last_mut() {
            Some(last) if last.0 == v => last.1 += 1,
            _ => out.push((v, 1)),
        }
    }
    out
}

/// The `(value, count)` runs of a sorted slice, last run first.
struct RevRuns<'a, W: Width>(&'a [W::V]);

impl<W: Width> Iterator for RevRuns<'_, W> {
    type Item = W::P;

    #[inline]
    fn next(&mut self) -> Option<W::P> {
        let (&v, rest) = self.0.split_last()?;
        let start = rest.iter().rposition(|&x| x != v).map_or(0, |i| i + 1);
        let n = self.0.len() - start;
        self.0 = &self.0[..start];
        Some(W::pair(v, n as u64))
    }
}

/// Merges sorted unique-valued runs (given last first, at most `b_len` of them) into the
/// sorted unique-valued `a`, in place: `a` grows by exactly `b_len` (a realloc, often in
/// place, instead of a new vector and a copy), is filled from the back, which never overwrites
/// an unread entry, and the gap left by equal values is closed with one `copy_within`.
/// Same result as the allocating `merge_sorted`, which the tests keep as the reference.
/// Summed counts fit: a narrow histogram's total count does ([`Histogram::fits`]).
fn merge_back<W: Width>(a: &mut Vec<W::P>, b_len: usize, b_rev: impl Iterator<Item = W::P>) {
    if b_len == 0 {
        return;
    }
    let mut b = b_rev.peekable();
    let mut i = a.len();
    let mut w = i + b_len;
    // Exact growth, not amortised doubling: a scorecard holds hundreds of thousands of these
    // vectors at once, and doubling's slack raised peak memory by 40% at 100M rows.
    a.reserve_exact(b_len);
    a.resize(w, W::P::default());
    // Invariant: w >= i + (runs of b left), so a[w - 1] is never an unread a[..i].
    while let Some(&be) = b.peek() {
        let bv = W::value_of(be);
        w -= 1;
        if i > 0 && W::value_of(a[i - 1]) > bv {
            a[w] = a[i - 1];
            i -= 1;
        } else if i > 0 && W::value_of(a[i - 1]) == bv {
            a[w] = W::pair(bv, a[i - 1].count() + be.count());
            i -= 1;
            b.next();
        } else {
            a[w] = be;
            b.next();
        }
    }
    // a[..i] is already in place; the merged tail starts at w.
    if w > i {
        let end = a.len();
        a.copy_within(w..end, i);
        a.truncate(i + (end - w));
    }
}

#[cfg(test)]
fn merge_sorted(a: &[(i64, u64)], b: &[(i64, u64)]) -> Vec<(i64, u64)> {
    if a.is_empty() {
        return b.to_vec();
    }
    if b.is_empty() {
        return a.to_vec();
    }
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        let (x, y) = (a[i], b[j]);
        if x.0 < y.0 {
            out.push(x);
            i += 1;
        } else if y.0 < x.0 {
            out.push(y);
            j += 1;
        } else {
            out.push((x.0, x.1 + y.1));
            i += 1;
            j += 1;
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    out
}

/// Why a record eligible for a measure was not measured. Named exclusions come first, in the
/// policy's order; the three built-in reasons follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Exclusion {
    /// The measure's `exclude` entry with this index.
    Named(usize),
    /// The start clock is null.
    MissingStart,
    /// The stop clock is null.
    MissingStop,
    /// The stop clock is before the start clock.
    NegativeDuration,
}

impl Exclusion {
    /// The three reasons every measure has, in the order they are checked.
    pub const BUILTIN: [Exclusion; 3] = [
        Exclusion::MissingStart,
        Exclusion::MissingStop,
        Exclusion::NegativeDuration,
    ];

    /// The ledger's name for a built-in reason (named ones use the policy's text).
    pub fn builtin_name(self) -> Option<&'static str> {
        match self {
            Exclusion::Named(_) => None,
            Exclusion::MissingStart => Some("missing_start"),
            Exclusion::MissingStop => Some("missing_stop"),
            Exclusion::NegativeDuration => Some("negative_duration"),
        }
    }
}

/// Everything slate knows about one measure in one cell (a day, week or month x group):
/// the measured durations and the count of each exclusion reason.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MeasureCell {
    /// Durations of the measured records, in whole seconds.
    pub hist: Histogram,
    /// Counts of `missing_start`, `missing_stop`, `negative_duration`.
    pub builtin: [u64; 3],
    /// Counts of the named exclusions, by index in the measure's `exclude` list.
    pub named: Vec<u64>,
    /// Naive local clock readings that fell in a repeated hour and were read as the earlier instant.
    pub ambiguous_local: u64,
    /// Naive local clock readings that fell in a skipped hour and were moved forward by the gap.
    pub skipped_local: u64,
}

impl MeasureCell {
    /// Counts one excluded record.
    pub fn exclude(&mut self, reason: Exclusion) {
        self.exclude_n(reason, 1);
    }

    /// Counts `n` excluded records.
    pub fn exclude_n(&mut self, reason: Exclusion, n: u64) {
        match reason {
            Exclusion::Named(i) => {
                if self.named.len() <= i {
                    self.named.resize(i + 1, 0);
                }
                self.named[i] += n;
            }
            Exclusion::MissingStart => self.builtin[0] += n,
            Exclusion::MissingStop => self.builtin[1] += n,
            Exclusion::NegativeDuration => self.builtin[2] += n,
        }
    }

    /// Records one record the measure applies to and no named exclusion matched: the
    /// built-in reasons are checked in order (missing start, missing stop, stop before start),
    /// otherwise the whole seconds from start to stop, floored, join the histogram.
    /// Clocks are nanoseconds since the epoch (i128, so any Arrow unit converts exactly).
    #[inline]
    pub fn record(&mut self, start_ns: Option<i128>, stop_ns: Option<i128>) {
        match (start_ns, stop_ns) {
            (None, _) => self.builtin[0] += 1,
            (Some(_), None) => self.builtin[1] += 1,
            (Some(a), Some(b)) if b < a => self.builtin[2] += 1,
            (Some(a), Some(b)) => self.hist.add(floor_secs(a, b)),
        }
    }

    /// Count for one reason.
    pub fn excluded(&self, reason: Exclusion) -> u64 {
        match reason {
            Exclusion::Named(i) => self.named.get(i).copied().unwrap_or(0),
            Exclusion::MissingStart => self.builtin[0],
            Exclusion::MissingStop => self.builtin[1],
            Exclusion::NegativeDuration => self.builtin[2],
        }
    }

    /// Every reason with a non-zero count, in checking order.
    pub fn exclusions(&self) -> impl Iterator<Item = (Exclusion, u64)> + '_ {
        let named = self
            .named
            .iter()
            .enumerate()
            .map(|(i, &n)| (Exclusion::Named(i), n));
        let builtin = Exclusion::BUILTIN.into_iter().zip(self.builtin);
        named.chain(builtin).filter(|&(_, n)| n > 0)
    }

    /// Records excluded for any reason.
    pub fn n_excluded(&self) -> u64 {
        self.builtin.iter().sum::<u64>() + self.named.iter().sum::<u64>()
    }

    /// Records that the measure applied to: measured plus excluded.
    pub fn n_eligible(&self) -> u64 {
        self.hist.count() + self.n_excluded()
    }

    /// Whether the cell counts nothing: no record, no local-time reading.
    pub fn is_empty(&self) -> bool {
        self.n_eligible() == 0 && self.ambiguous_local == 0 && self.skipped_local == 0
    }

    /// Bytes held on the heap (histogram and named counts), for memory accounting.
    pub fn heap_size(&self) -> usize {
        self.hist.heap_size() + self.named.capacity() * std::mem::size_of::<u64>()
    }

    /// Adds another cell of the same measure.
    pub fn merge(&mut self, other: &MeasureCell) {
        self.hist.merge(&other.hist);
        self.merge_counts(other);
    }

    /// [`MeasureCell::merge`] for an owned cell: moved in, not copied, when `self` is empty
    /// (a cube or an accumulator filled from decoded cells would otherwise hold each
    /// histogram twice until the decoded one is dropped).
    pub fn absorb(&mut self, other: MeasureCell) {
        if *self == MeasureCell::default() {
            *self = other;
        } else {
            self.merge(&other);
        }
    }

    /// Adds the exclusion and naive-clock counts of another cell, not its durations.
    pub fn merge_counts(&mut self, other: &MeasureCell) {
        for (a, b) in self.builtin.iter_mut().zip(other.builtin) {
            *a += b;
        }
        if self.named.len() < other.named.len() {
            self.named.resize(other.named.len(), 0);
        }
        for (a, b) in self.named.iter_mut().zip(&other.named) {
            *a += b;
        }
        self.ambiguous_local += other.ambiguous_local;
        self.skipped_local += other.skipped_local;
    }

    /// Removes a contribution added earlier (a revised late record's old figures). Returns
    /// false, changing nothing, when `other` is not part of `self`.
    pub fn subtract(&mut self, other: &MeasureCell) -> bool {
        let fits = self.builtin.iter().zip(other.builtin).all(|(a, b)| *a >= b)
            && other
                .named
                .iter()
                .enumerate()
                .all(|(i, &b)| self.named.get(i).copied().unwrap_or(0) >= b)
            && self.ambiguous_local >= other.ambiguous_local
            && self.skipped_local >= other.skipped_local;
        if !fits || !self.hist.subtract(&other.hist) {
            return false;
        }
        for (a, b) in self.builtin.iter_mut().zip(other.builtin) {
            *a -= b;
        }
        for (i, &b) in other.named.iter().enumerate() {
            self.named[i] -= b;
        }
        self.ambiguous_local -= other.ambiguous_local;
        self.skipped_local -= other.skipped_local;
        true
    }

    /// Appends a compact binary encoding (varints, delta-coded values) to `buf`.
    pub fn encode(&self, buf: &mut Vec<u8>) {
        buf.push(ENCODING_VERSION);
        for n in self.builtin {
            put_varint(buf, n);
        }
        put_varint(buf, self.named.len() as u64);
        for &n in &self.named {
            put_varint(buf, n);
        }
        put_varint(buf, self.ambiguous_local);
        put_varint(buf, self.skipped_local);
        self.hist.with_pairs(|pairs| {
            put_varint(buf, pairs.len() as u64);
            let mut prev: Option<i64> = None;
            pairs.for_each(|v, c| {
                match prev {
                    // Values are unique and ascending, so deltas are positive.
                    Some(p) => put_varint(buf, v.wrapping_sub(p) as u64),
                    None => put_varint(buf, zigzag(v)),
                }
                put_varint(buf, c);
                prev = Some(v);
            });
        });
    }

    /// Decodes a cell written by [`MeasureCell::encode`].
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader { bytes, pos: 0 };
        let version = r.byte()?;
        if version != ENCODING_VERSION {
            return Err(Error::CorruptCell(format!("unknown version {version}")));
        }
        let mut cell = MeasureCell::default();
        for slot in cell.builtin.iter_mut() {
            *slot = r.varint()?;
        }
        let n_named = r.len()?;
        cell.named = (0..n_named).map(|_| r.varint()).collect::<Result<_>>()?;
        cell.ambiguous_local = r.varint()?;
        cell.skipped_local = r.varint()?;
        let n = r.len()?;
        if let Repr::Narrow(s) = &mut cell.hist.repr {
            s.sorted.reserve_exact(n);
        }
        let mut prev: Option<i64> = None;
        for _ in 0..n {
            let raw = r.varint()?;
            let v = match prev {
                Some(p) => p.wrapping_add(raw as i64),
                None => unzigzag(raw),
            };
            let c = r.varint()?;
            cell.hist.push_sorted(v, c);
            prev = Some(v);
        }
        if r.pos != bytes.len() {
            return Err(Error::CorruptCell("trailing bytes".into()));
        }
        Ok(cell)
    }
}

/// Whole seconds from `start_ns` to `stop_ns`, floored (9.9 s counts as 9 s).
#[inline]
pub fn floor_secs(start_ns: i128, stop_ns: i128) -> i64 {
    // i64 division whenever the difference fits (any two clocks within 292 years): i128
    // division is a library call, and this runs once per measured record.
    if let Ok(d) = i64::try_from(stop_ns - start_ns) {
        return d.div_euclid(1_000_000_000);
    }
    let d = (stop_ns - start_ns).div_euclid(1_000_000_000);
    d.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

const ENCODING_VERSION: u8 = 1;

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(u: u64) -> i64 {
    ((u >> 1) as i64) ^ -((u & 1) as i64)
}

fn put_varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn byte(&mut self) -> Result<u8> {
        let b = *self
            .bytes
            .get(self.pos)
            .ok_or_else(|| Error::CorruptCell("truncated".into()))?;
        self.pos += 1;
        Ok(b)
    }

    fn varint(&mut self) -> Result<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(Error::CorruptCell("varint too long".into()))
    }

    /// A length, bounded by the bytes left so a corrupt length cannot allocate wildly.
    fn len(&mut self) -> Result<usize> {
        let n = self.varint()?;
        if n > (self.bytes.len() - self.pos) as u64 {
            return Err(Error::CorruptCell(format!("length {n} exceeds input")));
        }
        Ok(n as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn naive(values: &[i64]) -> Vec<(i64, u64)> {
        let mut m = std::collections::BTreeMap::new();
        for &v in values {
            *m.entry(v).or_insert(0u64) += 1;
        }
        m.into_iter().collect()
    }

    proptest! {
        #[test]
        fn in_place_merge_equals_reference_merge(
            a in proptest::collection::vec(-50i64..50, 0..200),
            b in proptest::collection::vec(-50i64..50, 0..200),
        ) {
            let (mut a, mut b) = (a, b);
            let (ra, rb) = (runs_of(&mut a), runs_of(&mut b));
            let mut got = ra.clone();
            merge_back::<W64>(&mut got, rb.len(), rb.iter().rev().copied());
            prop_assert_eq!(&got, &merge_sorted(&ra, &rb));
            let mut got = ra.clone();
            merge_back::<W64>(&mut got, b.len(), RevRuns::<W64>(&b));
            prop_assert_eq!(&got, &merge_sorted(&ra, &rb));
        }

        #[test]
        fn histogram_equals_naive_counts(values in proptest::collection::vec(-5i64..5000, 0..400)) {
            let mut h = Histogram::from_values(values.iter().copied());
            prop_assert_eq!(h.count(), values.len() as u64);
            prop_assert_eq!(h.entries().into_owned(), naive(&values));
            // Shrunk, it holds the same values in no more than their entries' room, and
            // keeps taking values.
            h.shrink();
            prop_assert_eq!(h.entries().into_owned(), naive(&values));
            let pair = if values.iter().all(|&v| v >= 0) { 8 } else { 16 };
            prop_assert_eq!(h.heap_size(), h.entries().len() * pair);
            h.add(7);
            let mut more = values.clone();
            more.push(7);
            prop_assert_eq!(h.entries().into_owned(), naive(&more));
        }

        #[test]
        fn counted_fold_equals_sorted_fold(
            held in proptest::collection::vec(-20i64..300, 0..300),
            crowded in proptest::collection::vec(0i64..250, 64..1500),
            far in proptest::collection::vec(proptest::num::i64::ANY, 0..3),
        ) {
            // A crowded buffer is counted; one with far values falls back to the sort. Both
            // widths: 16-byte pairs take the values as they are, 8-byte pairs those that fit.
            let mut buffer = crowded.clone();
            buffer.extend(&far);
            let expect = |held: &[i64], buffer: &[i64]| {
                let (lo, hi) = (buffer.iter().min().unwrap(), buffer.iter().max().unwrap());
                let counted = i128::from(*hi) - i128::from(*lo) < 4 * buffer.len() as i128;
                let all: Vec<i64> = held.iter().chain(buffer).copied().collect();
                (counted, naive(&all))
            };
            prop_assert_eq!(fold_either_way::<W64>(&held, &buffer), expect(&held, &buffer));
            let fits = |v: &&i64| u32::try_from(**v).is_ok();
            let held: Vec<i64> = held.iter().filter(fits).copied().collect();
            let buffer: Vec<i64> = buffer.iter().filter(fits).copied().collect();
            prop_assert_eq!(fold_either_way::<W32>(&held, &buffer), expect(&held, &buffer));
        }

        #[test]
        fn narrow_and_wide_pairs_hold_the_same_values(
            // Values past 32 bits or below zero turn a histogram wide midway through its adds.
            values in proptest::collection::vec(prop_oneof![8 => 0i64..5000, 1 => -3i64..0, 1 => (1i64 << 32) - 2..(1i64 << 32) + 2], 0..400),
            other in proptest::collection::vec(prop_oneof![9 => 0i64..5000, 1 => -3i64..0], 0..200),
        ) {
            let h = Histogram::from_values(values.iter().copied());
            let narrow = values.iter().all(|&v| u32::try_from(v).is_ok());
            prop_assert_eq!(matches!(h.repr, Repr::Narrow(_)), narrow);
            prop_assert_eq!(h.entries().into_owned(), naive(&values));
            // Merged either way round, narrow into wide and wide into narrow.
            let o = Histogram::from_values(other.iter().copied());
            let all: Vec<i64> = values.iter().chain(&other).copied().collect();
            let mut a = h.clone();
            a.merge(&o);
            let mut b = o.clone();
            b.merge(&h);
            prop_assert_eq!(a.entries().into_owned(), naive(&all));
            prop_assert_eq!(&a, &b);
            prop_assert_eq!(a.count(), all.len() as u64);
            // And taken back out.
            prop_assert!(a.subtract(&o));
            prop_assert_eq!(a.entries().into_owned(), naive(&values));
            // Encoded and decoded, a cell keeps its values whatever its width.
            let cell = MeasureCell { hist: b, ..MeasureCell::default() };
            let mut buf = Vec::new();
            cell.encode(&mut buf);
            let decoded = MeasureCell::decode(&buf).unwrap();
            prop_assert_eq!(&decoded, &cell);
            // And comes back narrow exactly when its values fit.
            let fit = all.iter().all(|&v| u32::try_from(v).is_ok());
            prop_assert_eq!(matches!(decoded.hist.repr, Repr::Narrow(_)), fit);
        }

        #[test]
        fn merge_equals_update_of_concatenation(
            a in proptest::collection::vec(0i64..300, 0..200),
            b in proptest::collection::vec(0i64..300, 0..200),
        ) {
            let mut ha = Histogram::from_values(a.iter().copied());
            let hb = Histogram::from_values(b.iter().copied());
            ha.merge(&hb);
            let all: Vec<i64> = a.iter().chain(&b).copied().collect();
            prop_assert_eq!(ha, Histogram::from_values(all));
        }

        #[test]
        fn subtract_undoes_merge(
            a in proptest::collection::vec(0i64..300, 0..200),
            b in proptest::collection::vec(0i64..300, 0..200),
        ) {
            let ha = Histogram::from_values(a.iter().copied());
            let hb = Histogram::from_values(b.iter().copied());
            let mut both = ha.clone();
            both.merge(&hb);
            prop_assert!(both.subtract(&hb));
            prop_assert_eq!(&both, &ha);
            // Taking away what is not there fails and changes nothing.
            let mut h = ha.clone();
            let extra = Histogram::from_values([1000]);
            prop_assert!(!h.subtract(&extra));
            prop_assert_eq!(h, ha);
        }

        #[test]
        fn subtracting_values_one_at_a_time_empties_the_histogram(
            values in proptest::collection::vec(0i64..40, 0..120),
        ) {
            // One value at a time takes the binary-search path; the walk path is covered above.
            let mut h = Histogram::from_values(values.iter().copied());
            prop_assert!(!h.subtract(&Histogram::from_values([40])));
            let mut rest = values.clone();
            while let Some(v) = rest.pop() {
                prop_assert!(h.subtract(&Histogram::from_values([v])));
                prop_assert_eq!(&h, &Histogram::from_values(rest.iter().copied()));
            }
            prop_assert!(h.is_empty() && h.entries().is_empty());
            prop_assert!(!h.subtract(&Histogram::from_values([0])));
        }

        #[test]
        fn merge_is_order_independent(
            parts in proptest::collection::vec(proptest::collection::vec(0i64..100, 0..50), 0..6),
        ) {
            let hs: Vec<Histogram> = parts.iter().map(|p| Histogram::from_values(p.iter().copied())).collect();
            let mut fwd = Histogram::new();
            for h in &hs { fwd.merge(h); }
            let mut rev = Histogram::new();
            for h in hs.iter().rev() { rev.merge(h); }
            prop_assert_eq!(fwd, rev);
        }

        #[test]
        fn encode_decode_round_trip(
            values in proptest::collection::vec(proptest::num::i64::ANY, 0..100),
            builtin in proptest::array::uniform3(0u64..1_000_000),
            named in proptest::collection::vec(proptest::num::u64::ANY, 0..4),
        ) {
            let cell = MeasureCell {
                hist: Histogram::from_values(values.iter().copied()),
                builtin,
                named,
                ambiguous_local: 3,
                skipped_local: 1,
            };
            let mut buf = Vec::new();
            cell.encode(&mut buf);
            prop_assert_eq!(MeasureCell::decode(&buf).unwrap(), cell);
        }

        #[test]
        fn union_entries_equal_the_merged_histogram(
            // Narrow parts take the dense path, wide ones (with far outliers) the sort path.
            parts in proptest::collection::vec(
                proptest::collection::vec(prop_oneof![0i64..400, -3i64..3, 0i64..i64::MAX / 2], 0..60),
                0..8,
            ),
            pending in proptest::bool::ANY,
        ) {
            let hs: Vec<Histogram> = parts
                .iter()
                .map(|p| {
                    let mut h = Histogram::from_values(p.iter().copied());
                    if !pending {
                        h.fold();
                    }
                    h
                })
                .collect();
            let mut merged = Histogram::new();
            for h in &hs {
                merged.merge(h);
            }
            let refs: Vec<&Histogram> = hs.iter().collect();
            let mut scratch = UnionScratch::default();
            // Twice with one scratch: leftovers of the first call must not leak into the second.
            for _ in 0..2 {
                let got = Histogram::union_entries(&refs, &mut scratch).to_vec();
                prop_assert_eq!(&got, &merged.entries().into_owned());
            }
        }

        #[test]
        fn decode_never_panics_on_garbage(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            let _ = MeasureCell::decode(&bytes);
        }
    }

    /// A `Store` of one width given `held` (folded) and then `buffer` as its unfolded adds:
    /// whether the counted fold took the buffer, and the pairs after folding either way.
    fn fold_either_way<W: Width>(held: &[i64], buffer: &[i64]) -> (bool, Vec<(i64, u64)>) {
        let mut s = Store::<W>::default();
        for &v in held {
            s.push(W::from_wide(v));
        }
        s.fold();
        s.pending = buffer.iter().map(|&v| W::from_wide(v)).collect();
        let counted = !s.pending.is_empty() && s.fold_counted();
        if counted {
            s.pending.clear();
        } else {
            s.fold();
        }
        (
            counted,
            s.sorted.iter().map(|e| (e.value(), e.count())).collect(),
        )
    }

    #[test]
    fn more_than_u32_max_copies_of_a_value_turn_the_pairs_wide() {
        let big = u64::from(u32::MAX);
        let mut h = Histogram::from_values([5, 9]);
        h.add_n(5, big - 2);
        assert!(
            matches!(h.repr, Repr::Narrow(_)),
            "{} values still fit",
            h.count()
        );
        h.add(9);
        assert!(matches!(h.repr, Repr::Wide(_)));
        assert_eq!(h.entries().into_owned(), vec![(5, big - 1), (9, 2)]);
        // A merge whose sum passes 32 bits widens the narrow side first.
        let mut n = Histogram::from_values([5]);
        let mut m = Histogram::new();
        m.add_n(5, big - 1);
        n.merge(&m);
        assert!(matches!(n.repr, Repr::Narrow(_)));
        n.merge(&Histogram::from_values([5]));
        assert!(matches!(n.repr, Repr::Wide(_)));
        assert_eq!(n.entries().into_owned(), vec![(5, big + 1)]);
        assert_eq!(n.count(), big + 1);
    }

    #[test]
    fn values_past_32_bits_are_not_found_among_narrow_pairs() {
        let h = Histogram::from_values([0, 5, u32::MAX.into()]);
        assert!(matches!(h.repr, Repr::Narrow(_)));
        for v in [-1, i64::from(u32::MAX) + 1, i64::MIN, i64::MAX] {
            for theirs in [vec![v], vec![0, 5, v], (0..9).chain([v]).collect()] {
                // Both the binary-search path (a few values) and the walk (more).
                let mut g = h.clone();
                assert!(
                    !g.subtract(&Histogram::from_values(theirs.clone())),
                    "{theirs:?}"
                );
                assert_eq!(g, h);
            }
        }
    }

    #[test]
    fn empty_histogram_has_no_entries() {
        let h = Histogram::new();
        assert!(h.is_empty());
        assert!(h.entries().is_empty());
        let mut m = Histogram::from_values([1, 2]);
        m.merge(&h);
        assert_eq!(m.count(), 2);
    }

    #[test]
    fn record_checks_builtin_reasons_in_order_and_floors() {
        let s = 1_000_000_000i128;
        let mut c = MeasureCell::default();
        c.record(None, None);
        c.record(Some(0), None);
        c.record(Some(10 * s), Some(9 * s));
        c.record(Some(0), Some(9 * s + s - 1));
        c.record(Some(-s / 2), Some(0));
        assert_eq!(c.builtin, [1, 1, 1]);
        assert_eq!(c.hist.entries().into_owned(), vec![(0, 1), (9, 1)]);
    }

    #[test]
    fn cell_counts_exclusions_in_checking_order() {
        let mut c = MeasureCell::default();
        c.exclude(Exclusion::NegativeDuration);
        c.exclude(Exclusion::Named(1));
        c.hist.add(5);
        assert_eq!(c.n_eligible(), 3);
        let got: Vec<_> = c.exclusions().collect();
        assert_eq!(
            got,
            vec![(Exclusion::Named(1), 1), (Exclusion::NegativeDuration, 1)]
        );
    }
}

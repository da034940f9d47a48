//! SLA statistics read off a [`Histogram`]: compliance, Wilson interval, exact percentiles.
//!
//! Everything here is a pure function of a histogram, so figures for a merged window are the
//! figures of the union of its records, whatever order they were merged in.

use crate::hist::{Histogram, Pair, Pairs};

/// How a percentile is read from the order statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PercentileMethod {
    /// Linear interpolation between the order statistics at `(n - 1) p` (DuckDB's
    /// `quantile_cont`, numpy's default `linear`, Hyndman-Fan type 7).
    #[default]
    Linear,
    /// The smallest value whose cumulative share is at least `p`: the `ceil(n p)`-th value,
    /// 1-based (DuckDB's `quantile_disc`, Hyndman-Fan type 1).
    NearestRank,
}

impl PercentileMethod {
    /// Name used on the command line and in output metadata.
    pub fn name(self) -> &'static str {
        match self {
            PercentileMethod::Linear => "linear",
            PercentileMethod::NearestRank => "nearest-rank",
        }
    }
}

/// Reads percentile `p` (0..=1) of a histogram; `None` when it is empty.
pub fn percentile<P: Pair>(entries: &[P], n: u64, p: f64, method: PercentileMethod) -> Option<f64> {
    percentiles(entries, n, &[p], method).pop().flatten()
}

/// [`percentile`] at each of `ps`, reading the entries once for all of them (a report reads
/// four percentiles of every cell and rollup, and each walked the entries from the start).
pub fn percentiles<P: Pair>(
    entries: &[P],
    n: u64,
    ps: &[f64],
    method: PercentileMethod,
) -> Vec<Option<f64>> {
    let plan = RankPlan::new(n, ps, method);
    let mut walk = Walk::new(&plan.wanted);
    for &e in entries {
        walk.step(e.value(), e.count());
        if walk.done() {
            break;
        }
    }
    plan.read(&walk.finish(entries.last().map_or(0, |e| e.value())))
}

/// The order statistics a set of percentiles reads, and how each percentile reads them.
struct RankPlan {
    /// Per percentile, its lower and upper rank (0-based) and the fractional rank between them;
    /// `Err(percentiles)` when there are no values.
    ranks: Result<Vec<(u64, u64, f64)>, usize>,
    /// The distinct ranks read, ascending.
    wanted: Vec<u64>,
}

impl RankPlan {
    fn new(n: u64, ps: &[f64], method: PercentileMethod) -> Self {
        if n == 0 {
            return RankPlan {
                ranks: Err(ps.len()),
                wanted: Vec::new(),
            };
        }
        let ranks: Vec<(u64, u64, f64)> = ps
            .iter()
            .map(|&p| match method {
                PercentileMethod::Linear => {
                    // Same arithmetic as DuckDB: RN = (n-1) p, lo + (RN - floor RN) * (hi - lo).
                    let rn = (n - 1) as f64 * p;
                    (rn.floor() as u64, rn.ceil() as u64, rn)
                }
                PercentileMethod::NearestRank => {
                    let rank = (((n as f64) * p).ceil() as u64).max(1) - 1;
                    (rank, rank, 0.0)
                }
            })
            .collect();
        let mut wanted: Vec<u64> = ranks.iter().flat_map(|r| [r.0, r.1]).collect();
        wanted.sort_unstable();
        wanted.dedup();
        RankPlan {
            ranks: Ok(ranks),
            wanted,
        }
    }

    /// The percentiles, given the values at [`RankPlan::wanted`] (in its order); all `None`
    /// when there are no values.
    fn read(&self, values: &[i64]) -> Vec<Option<f64>> {
        let ranks = match &self.ranks {
            Ok(ranks) => ranks,
            Err(count) => return vec![None; *count],
        };
        let value_of = |k: u64| values[self.wanted.partition_point(|&w| w < k)];
        ranks
            .iter()
            .map(|&(lo_rank, hi_rank, rn)| {
                let lo = value_of(lo_rank) as f64;
                if lo_rank == hi_rank {
                    return Some(lo);
                }
                let hi = value_of(hi_rank) as f64;
                Some(lo + (rn - lo_rank as f64) * (hi - lo))
            })
            .collect()
    }
}

/// One walk of sorted `(value, count)` entries that picks out the values at the wanted ranks.
struct Walk<'a> {
    wanted: &'a [u64],
    values: Vec<i64>,
    /// Values walked so far.
    seen: u64,
}

impl<'a> Walk<'a> {
    fn new(wanted: &'a [u64]) -> Self {
        Walk {
            wanted,
            values: Vec::with_capacity(wanted.len()),
            seen: 0,
        }
    }

    /// The next entry: it holds the order statistics (0-based) `seen..seen + count`.
    #[inline]
    fn step(&mut self, value: i64, count: u64) {
        self.seen += count;
        while self.values.len() < self.wanted.len() && self.wanted[self.values.len()] < self.seen {
            self.values.push(value);
        }
    }

    /// Whether every wanted rank has its value.
    fn done(&self) -> bool {
        self.values.len() == self.wanted.len()
    }

    /// The values at the wanted ranks; ranks past the entries read `last` (the largest value).
    fn finish(mut self, last: i64) -> Vec<i64> {
        self.values.resize(self.wanted.len(), last);
        self.values
    }
}

/// Wilson score interval for `k` successes in `n` trials at 95% confidence.
pub fn wilson_95(k: u64, n: u64) -> Option<(f64, f64)> {
    if n == 0 {
        return None;
    }
    const Z: f64 = 1.959_963_984_540_054;
    let n = n as f64;
    let phat = k as f64 / n;
    let z2 = Z * Z;
    let denom = 1.0 + z2 / n;
    let centre = (phat + z2 / (2.0 * n)) / denom;
    let half = Z * ((phat * (1.0 - phat) / n) + z2 / (4.0 * n * n)).sqrt() / denom;
    Some(((centre - half).max(0.0), (centre + half).min(1.0)))
}

/// The figures of one measure over one set of records.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Measured records.
    pub n_measured: u64,
    /// Measured records with duration at most the threshold.
    pub n_within: u64,
    /// `n_within / n_measured`.
    pub compliance: Option<f64>,
    /// Wilson 95% interval of the compliance.
    pub ci: Option<(f64, f64)>,
    /// One value per requested percentile, in request order.
    pub percentiles: Vec<Option<f64>>,
    /// Mean duration in seconds.
    pub mean_s: Option<f64>,
    /// Smallest duration.
    pub min_s: Option<i64>,
    /// Largest duration.
    pub max_s: Option<i64>,
}

impl Summary {
    /// Computes every figure in one walk of the histogram.
    pub fn of(hist: &Histogram, threshold_s: i64, ps: &[f64], method: PercentileMethod) -> Self {
        hist.with_pairs(|pairs| Self::of_entries(pairs, hist.count(), threshold_s, ps, method))
    }

    /// The figures of sorted, unique-valued `(value, count)` entries whose counts sum to `n`
    /// (a histogram's [`Histogram::entries`], or a union of several, see
    /// [`Histogram::union_entries`]).
    pub fn of_entries(
        entries: Pairs<'_>,
        n: u64,
        threshold_s: i64,
        ps: &[f64],
        method: PercentileMethod,
    ) -> Self {
        match entries {
            Pairs::Narrow(e) => Self::of_slice(e, n, threshold_s, ps, method),
            Pairs::Wide(e) => Self::of_slice(e, n, threshold_s, ps, method),
        }
    }

    fn of_slice<P: Pair>(
        entries: &[P],
        n: u64,
        threshold_s: i64,
        ps: &[f64],
        method: PercentileMethod,
    ) -> Self {
        // One walk for the counts, the sum and the order statistics: a scorecard with rollups
        // reads every cell and every union once, and a second walk for the percentiles was a
        // third of that reading (issue 27, session 20).
        let plan = RankPlan::new(n, ps, method);
        let mut walk = Walk::new(&plan.wanted);
        let mut n_within = 0u64;
        // i128: a sum of billions of large durations must not overflow.
        let mut sum: i128 = 0;
        for &e in entries {
            let (v, c) = (e.value(), e.count());
            if v <= threshold_s {
                n_within += c;
            }
            sum += i128::from(v) * i128::from(c);
            walk.step(v, c);
        }
        let values = walk.finish(entries.last().map_or(0, |e| e.value()));
        Summary {
            n_measured: n,
            n_within,
            compliance: (n > 0).then(|| n_within as f64 / n as f64),
            ci: wilson_95(n_within, n),
            percentiles: plan.read(&values),
            mean_s: (n > 0).then(|| sum as f64 / n as f64),
            min_s: entries.first().map(|e| e.value()),
            max_s: entries.last().map(|e| e.value()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Textbook definitions over a sorted vector, written independently of the histogram walk.
    fn naive_linear(sorted: &[i64], p: f64) -> f64 {
        let h = (sorted.len() - 1) as f64 * p;
        let lo = h.floor() as usize;
        let hi = h.ceil() as usize;
        sorted[lo] as f64 + (h - lo as f64) * (sorted[hi] as f64 - sorted[lo] as f64)
    }

    fn naive_nearest(sorted: &[i64], p: f64) -> f64 {
        let k = (sorted.len() as f64 * p).ceil() as usize;
        sorted[k.max(1) - 1] as f64
    }

    proptest! {
        #[test]
        fn percentiles_read_at_once_equal_each_read_alone(
            values in proptest::collection::vec(prop_oneof![0i64..50, 0i64..100_000], 0..300),
            ps in proptest::collection::vec(0.0f64..=1.0, 0..6),
        ) {
            let h = Histogram::from_values(values.iter().copied());
            let e = h.entries();
            for method in [PercentileMethod::Linear, PercentileMethod::NearestRank] {
                // Each alone is what `percentile` reads (checked against sorted vectors below).
                let alone: Vec<Option<f64>> =
                    ps.iter().map(|&p| percentile(&e, h.count(), p, method)).collect();
                // Bit for bit: the same arithmetic on the same order statistics.
                let at_once = percentiles(&e, h.count(), &ps, method);
                prop_assert_eq!(
                    at_once.iter().map(|v| v.map(f64::to_bits)).collect::<Vec<_>>(),
                    alone.iter().map(|v| v.map(f64::to_bits)).collect::<Vec<_>>()
                );
            }
        }

        #[test]
        fn percentiles_match_sorted_vector(
            mut values in proptest::collection::vec(0i64..10_000, 1..300),
            p in 0.0f64..=1.0,
        ) {
            let h = Histogram::from_values(values.iter().copied());
            values.sort_unstable();
            let e = h.entries();
            let lin = percentile(&e, h.count(), p, PercentileMethod::Linear).unwrap();
            prop_assert!((lin - naive_linear(&values, p)).abs() <= 1e-9);
            let nr = percentile(&e, h.count(), p, PercentileMethod::NearestRank).unwrap();
            prop_assert_eq!(nr, naive_nearest(&values, p));
        }
    }

    #[test]
    fn linear_percentile_interpolates_exactly() {
        // numpy.percentile([1, 2, 3, 4, 10], 90) == 7.6; DataFusion 55 rounds such results.
        let h = Histogram::from_values([1, 2, 3, 4, 10]);
        let v = percentile(&h.entries(), 5, 0.9, PercentileMethod::Linear).unwrap();
        assert!((v - 7.6).abs() < 1e-12, "{v}");
        let d = percentile(&h.entries(), 5, 0.9, PercentileMethod::NearestRank).unwrap();
        assert_eq!(d, 10.0);
        assert_eq!(
            percentile::<(i64, u64)>(&[], 0, 0.5, PercentileMethod::Linear),
            None
        );
    }

    #[test]
    fn wilson_matches_published_value() {
        // 81 of 263: Wilson 95% (0.2553, 0.3662), as in Newcombe (1998), example 3.
        let (lo, hi) = wilson_95(81, 263).unwrap();
        assert!(
            (lo - 0.2553).abs() < 5e-5 && (hi - 0.3662).abs() < 5e-5,
            "{lo} {hi}"
        );
        let (lo, hi) = wilson_95(0, 10).unwrap();
        assert_eq!(lo, 0.0);
        assert!((hi - 0.2775).abs() < 5e-5, "{hi}");
        assert_eq!(wilson_95(0, 0), None);
    }

    #[test]
    fn summary_counts_threshold_inclusively() {
        let h = Histogram::from_values([5, 10, 10, 11, 600]);
        let s = Summary::of(&h, 10, &[0.5], PercentileMethod::Linear);
        assert_eq!((s.n_measured, s.n_within), (5, 3));
        assert_eq!(s.compliance, Some(0.6));
        assert_eq!(s.percentiles, vec![Some(10.0)]);
        assert_eq!(s.mean_s, Some(127.2));
        assert_eq!((s.min_s, s.max_s), (Some(5), Some(600)));
        let empty = Summary::of(&Histogram::new(), 10, &[0.5], PercentileMethod::Linear);
        assert_eq!(empty.compliance, None);
        assert_eq!(empty.percentiles, vec![None]);
    }
}

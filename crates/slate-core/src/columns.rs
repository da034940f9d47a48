//! The scorecard's columns: the names its figures go under, which of them a policy has, and
//! each row's figures as those columns hold them. A leaf that the Arrow tables
//! ([`crate::tables`]) and the decoded scorecard ([`crate::card`]) share, so neither needs the
//! other to agree on a figure.

use crate::cube::ScoreRow;
use crate::policy::{Measure, SlaPolicy};

/// Output columns that a group-by column may not be named.
pub const RESERVED_COLUMNS: [&str; 24] = [
    "window",
    "window_start",
    "window_end",
    "level",
    "measure",
    "threshold_s",
    "target",
    "n_eligible",
    "n_measured",
    "n_within",
    "n_excluded",
    "compliance",
    "met_target",
    "ci_low",
    "ci_high",
    "mean_s",
    "min_s",
    "max_s",
    "reason",
    "threshold_wd",
    "kind",
    "mean_wd",
    "min_wd",
    "max_wd",
];

/// Column name of a percentile: 0.5 -> `p50_s`, 0.999 -> `p99_9_s`.
pub fn percentile_column(p: f64) -> String {
    percentile_column_in(p, "s")
}

/// Column name of a percentile in a unit: `s` (seconds) or `wd` (working days).
pub fn percentile_column_in(p: f64, unit: &str) -> String {
    let s = format!("{:.6}", p * 100.0);
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("p{}_{unit}", s.replace('.', "_"))
}

/// Every percentile a measure counted in seconds reports (durations and deadlines),
/// ascending: the scorecard's `p.._s` columns.
pub fn policy_percentiles(policy: &SlaPolicy) -> Vec<f64> {
    percentiles_where(policy, false)
}

/// Every percentile a working-day measure reports, ascending: the `p.._wd` columns.
pub fn policy_wd_percentiles(policy: &SlaPolicy) -> Vec<f64> {
    percentiles_where(policy, true)
}

/// Whether any measure is not a plain duration in seconds: the scorecard then has a `kind`
/// column (`duration`, `working_days`, `deadline`, `share`) after `measure`.
pub fn has_kinds(policy: &SlaPolicy) -> bool {
    policy
        .measures
        .iter()
        .any(|m| m.kind != crate::policy::MeasureKind::Duration)
}

/// The `kind` column's word for a measure.
pub fn kind_column_value(m: &crate::policy::Measure) -> &'static str {
    match m.kind {
        crate::policy::MeasureKind::WorkingDays(_) => "working_days",
        ref k => k.word(),
    }
}

/// Whether any measure counts working days: the scorecard then has `_wd` columns.
pub fn has_working_days(policy: &SlaPolicy) -> bool {
    policy.measures.iter().any(|m| m.kind.is_working_days())
}

fn percentiles_where(policy: &SlaPolicy, wd: bool) -> Vec<f64> {
    let mut ps: Vec<f64> = policy
        .measures
        .iter()
        .filter(|m| m.kind.is_working_days() == wd)
        .flat_map(|m| m.percentiles.iter().copied())
        .collect();
    ps.sort_by(f64::total_cmp);
    ps.dedup();
    ps
}

/// A count as the tables hold it (saturating: no count comes near).
pub(crate) fn i64_of(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The columns a policy's scorecard has besides the fixed ones.
pub(crate) struct Layout {
    /// Percentiles of the `p.._s` columns, ascending.
    pub(crate) ps: Vec<f64>,
    /// Percentiles of the `p.._wd` columns, ascending.
    pub(crate) wd_ps: Vec<f64>,
    /// Whether there is a `kind` column.
    pub(crate) kinds: bool,
    /// Whether there are `_wd` columns.
    pub(crate) wd: bool,
}

impl Layout {
    pub(crate) fn of(policy: &SlaPolicy) -> Self {
        Layout {
            ps: policy_percentiles(policy),
            wd_ps: policy_wd_percentiles(policy),
            kinds: has_kinds(policy),
            wd: has_working_days(policy),
        }
    }

    /// The percentile columns' names in schema order: `p.._s`, then `p.._wd`.
    pub(crate) fn percentile_columns(&self) -> Vec<String> {
        (self.ps.iter().map(|&p| percentile_column(p)))
            .chain((self.wd_ps.iter()).map(|&p| percentile_column_in(p, "wd")))
            .collect()
    }
}

/// One scorecard row's figures as its columns hold them. [`scorecard_batch`](crate::tables::scorecard_batch) writes these
/// and [`Card::from_scores`](crate::card::Card::from_scores) keeps them, so the file and the
/// decoded scorecard cannot disagree.
pub(crate) struct RowFigures {
    pub(crate) kind: &'static str,
    pub(crate) threshold_s: Option<i64>,
    pub(crate) threshold_wd: Option<i64>,
    pub(crate) target: Option<f64>,
    pub(crate) n_eligible: i64,
    pub(crate) n_measured: i64,
    pub(crate) n_within: i64,
    pub(crate) n_excluded: i64,
    pub(crate) compliance: Option<f64>,
    pub(crate) met_target: Option<bool>,
    pub(crate) ci: Option<(f64, f64)>,
    /// One per [`Layout::ps`]; null for a measure not in seconds or without that percentile.
    pub(crate) pcts_s: Vec<Option<f64>>,
    pub(crate) mean_s: Option<f64>,
    pub(crate) min_s: Option<i64>,
    pub(crate) max_s: Option<i64>,
    /// One per [`Layout::wd_ps`]; null for a measure not in working days.
    pub(crate) pcts_wd: Vec<Option<f64>>,
    pub(crate) mean_wd: Option<f64>,
    pub(crate) min_wd: Option<i64>,
    pub(crate) max_wd: Option<i64>,
}

impl RowFigures {
    /// A row's figures: a measure's values go in the columns of its unit (seconds or working
    /// days), and a share's in neither.
    pub(crate) fn of(r: &ScoreRow, m: &Measure, layout: &Layout) -> Self {
        let s = &r.summary;
        let unit = m.unit();
        let (in_s, in_wd) = (unit == "s", unit == "wd");
        let pick = |p: &f64| {
            m.percentiles
                .iter()
                .position(|q| q == p)
                .and_then(|i| s.percentiles[i])
        };
        RowFigures {
            kind: kind_column_value(m),
            threshold_s: in_s.then_some(m.threshold),
            threshold_wd: in_wd.then_some(m.threshold),
            target: m.target,
            n_eligible: i64_of(r.n_eligible),
            n_measured: i64_of(s.n_measured),
            n_within: i64_of(s.n_within),
            n_excluded: i64_of(r.n_excluded),
            compliance: s.compliance,
            met_target: m.target.zip(s.compliance).map(|(t, c)| c >= t),
            ci: s.ci,
            pcts_s: (layout.ps.iter())
                .map(|p| pick(p).filter(|_| in_s))
                .collect(),
            mean_s: s.mean_s.filter(|_| in_s),
            min_s: s.min_s.filter(|_| in_s),
            max_s: s.max_s.filter(|_| in_s),
            pcts_wd: (layout.wd_ps.iter())
                .map(|p| pick(p).filter(|_| in_wd))
                .collect(),
            mean_wd: s.mean_s.filter(|_| in_wd),
            min_wd: s.min_s.filter(|_| in_wd),
            max_wd: s.max_s.filter(|_| in_wd),
        }
    }
}

//! [`Scores`] as Arrow record batches: the tidy scorecard and the exclusions ledger, with
//! their schemas and column names.

use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Date32Builder, Float64Builder, Int64Builder, StringBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};

use crate::cube::Scores;
use crate::error::Result;
use crate::policy::SlaPolicy;

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

/// The scorecard's schema for a policy and group-by. Values are in seconds (`_s` columns);
/// a working-day measure's are in the `_wd` columns, present only when the policy has one,
/// with its `_s` columns null; a share has a compliance and no threshold or percentiles.
pub fn scorecard_schema(policy: &SlaPolicy, group_by: &[String]) -> SchemaRef {
    let mut f = vec![
        Field::new("window", DataType::Utf8, false),
        Field::new("window_start", DataType::Date32, false),
        Field::new("window_end", DataType::Date32, false),
        Field::new("level", DataType::Utf8, false),
    ];
    f.extend(group_by.iter().map(|g| Field::new(g, DataType::Utf8, true)));
    f.extend([Field::new("measure", DataType::Utf8, false)]);
    if has_kinds(policy) {
        f.push(Field::new("kind", DataType::Utf8, false));
    }
    f.extend([Field::new("threshold_s", DataType::Int64, true)]);
    let wd = has_working_days(policy);
    if wd {
        f.push(Field::new("threshold_wd", DataType::Int64, true));
    }
    f.extend([
        Field::new("target", DataType::Float64, true),
        Field::new("n_eligible", DataType::Int64, false),
        Field::new("n_measured", DataType::Int64, false),
        Field::new("n_within", DataType::Int64, false),
        Field::new("n_excluded", DataType::Int64, false),
        Field::new("compliance", DataType::Float64, true),
        Field::new("met_target", DataType::Boolean, true),
        Field::new("ci_low", DataType::Float64, true),
        Field::new("ci_high", DataType::Float64, true),
    ]);
    f.extend(
        policy_percentiles(policy)
            .into_iter()
            .map(|p| Field::new(percentile_column(p), DataType::Float64, true)),
    );
    f.extend([
        Field::new("mean_s", DataType::Float64, true),
        Field::new("min_s", DataType::Int64, true),
        Field::new("max_s", DataType::Int64, true),
    ]);
    if wd {
        f.extend(
            policy_wd_percentiles(policy)
                .into_iter()
                .map(|p| Field::new(percentile_column_in(p, "wd"), DataType::Float64, true)),
        );
        f.extend([
            Field::new("mean_wd", DataType::Float64, true),
            Field::new("min_wd", DataType::Int64, true),
            Field::new("max_wd", DataType::Int64, true),
        ]);
    }
    Arc::new(Schema::new(f))
}

/// The ledger's schema for a group-by.
pub fn ledger_schema(group_by: &[String]) -> SchemaRef {
    let mut f = vec![
        Field::new("window", DataType::Utf8, false),
        Field::new("window_start", DataType::Date32, true),
        Field::new("window_end", DataType::Date32, true),
        Field::new("level", DataType::Utf8, false),
    ];
    f.extend(group_by.iter().map(|g| Field::new(g, DataType::Utf8, true)));
    f.extend([
        Field::new("measure", DataType::Utf8, false),
        Field::new("reason", DataType::Utf8, false),
        Field::new("count", DataType::Int64, false),
    ]);
    Arc::new(Schema::new(f))
}

fn i64_of(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The scorecard as one batch.
pub fn scorecard_batch(scores: &Scores, policy: &SlaPolicy) -> Result<RecordBatch> {
    let schema = scorecard_schema(policy, &scores.group_by);
    let n = scores.rows.len();
    let all_ps = policy_percentiles(policy);
    let wd_ps = policy_wd_percentiles(policy);
    let wd = has_working_days(policy);
    let mut window = StringBuilder::new();
    let mut start = Date32Builder::with_capacity(n);
    let mut end = Date32Builder::with_capacity(n);
    let mut level = StringBuilder::new();
    let mut groups: Vec<StringBuilder> = scores
        .group_by
        .iter()
        .map(|_| StringBuilder::new())
        .collect();
    let mut measure = StringBuilder::new();
    let kinds = has_kinds(policy);
    let mut kind = StringBuilder::new();
    let mut threshold = Int64Builder::with_capacity(n);
    let mut threshold_wd = Int64Builder::with_capacity(n);
    let mut target = Float64Builder::with_capacity(n);
    let mut n_eligible = Int64Builder::with_capacity(n);
    let mut n_measured = Int64Builder::with_capacity(n);
    let mut n_within = Int64Builder::with_capacity(n);
    let mut n_excluded = Int64Builder::with_capacity(n);
    let mut compliance = Float64Builder::with_capacity(n);
    let mut met = BooleanBuilder::with_capacity(n);
    let mut ci_low = Float64Builder::with_capacity(n);
    let mut ci_high = Float64Builder::with_capacity(n);
    let mut pcols: Vec<Float64Builder> = all_ps
        .iter()
        .map(|_| Float64Builder::with_capacity(n))
        .collect();
    let mut mean = Float64Builder::with_capacity(n);
    let mut min = Int64Builder::with_capacity(n);
    let mut max = Int64Builder::with_capacity(n);
    let mut wd_pcols: Vec<Float64Builder> = wd_ps
        .iter()
        .map(|_| Float64Builder::with_capacity(n))
        .collect();
    let mut mean_wd = Float64Builder::with_capacity(n);
    let mut min_wd = Int64Builder::with_capacity(n);
    let mut max_wd = Int64Builder::with_capacity(n);
    let level_names: Vec<String> = (0..scores.levels.len())
        .map(|l| scores.level_name(l))
        .collect();
    for r in &scores.rows {
        let m = &policy.measures[r.measure];
        let s = &r.summary;
        window.append_value(scores.window.name());
        start.append_value(r.window.0);
        end.append_value(r.window.1);
        level.append_value(&level_names[r.level]);
        for (b, g) in groups.iter_mut().zip(&r.groups) {
            b.append_option(g.as_deref());
        }
        measure.append_value(&m.id);
        kind.append_value(kind_column_value(m));
        let unit = m.unit();
        let in_s = unit == "s";
        let in_wd = unit == "wd";
        threshold.append_option(in_s.then_some(m.threshold));
        threshold_wd.append_option(in_wd.then_some(m.threshold));
        target.append_option(m.target);
        n_eligible.append_value(i64_of(r.n_eligible));
        n_measured.append_value(i64_of(s.n_measured));
        n_within.append_value(i64_of(s.n_within));
        n_excluded.append_value(i64_of(r.n_excluded));
        compliance.append_option(s.compliance);
        met.append_option(m.target.zip(s.compliance).map(|(t, c)| c >= t));
        ci_low.append_option(s.ci.map(|c| c.0));
        ci_high.append_option(s.ci.map(|c| c.1));
        let pick = |p: &f64| {
            m.percentiles
                .iter()
                .position(|q| q == p)
                .and_then(|i| s.percentiles[i])
        };
        for (b, p) in pcols.iter_mut().zip(&all_ps) {
            b.append_option(pick(p).filter(|_| in_s));
        }
        mean.append_option(s.mean_s.filter(|_| in_s));
        min.append_option(s.min_s.filter(|_| in_s));
        max.append_option(s.max_s.filter(|_| in_s));
        for (b, p) in wd_pcols.iter_mut().zip(&wd_ps) {
            b.append_option(pick(p).filter(|_| in_wd));
        }
        mean_wd.append_option(s.mean_s.filter(|_| in_wd));
        min_wd.append_option(s.min_s.filter(|_| in_wd));
        max_wd.append_option(s.max_s.filter(|_| in_wd));
    }
    let mut cols: Vec<ArrayRef> = vec![
        Arc::new(window.finish()),
        Arc::new(start.finish()),
        Arc::new(end.finish()),
        Arc::new(level.finish()),
    ];
    cols.extend(groups.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
    cols.extend([Arc::new(measure.finish()) as ArrayRef]);
    if kinds {
        cols.push(Arc::new(kind.finish()));
    }
    cols.extend([Arc::new(threshold.finish()) as ArrayRef]);
    if wd {
        cols.push(Arc::new(threshold_wd.finish()));
    }
    cols.extend([
        Arc::new(target.finish()) as ArrayRef,
        Arc::new(n_eligible.finish()),
        Arc::new(n_measured.finish()),
        Arc::new(n_within.finish()),
        Arc::new(n_excluded.finish()),
        Arc::new(compliance.finish()),
        Arc::new(met.finish()),
        Arc::new(ci_low.finish()),
        Arc::new(ci_high.finish()),
    ]);
    cols.extend(pcols.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
    cols.extend([
        Arc::new(mean.finish()) as ArrayRef,
        Arc::new(min.finish()),
        Arc::new(max.finish()),
    ]);
    if wd {
        cols.extend(
            wd_pcols
                .iter_mut()
                .map(|b| Arc::new(b.finish()) as ArrayRef),
        );
        cols.extend([
            Arc::new(mean_wd.finish()) as ArrayRef,
            Arc::new(min_wd.finish()),
            Arc::new(max_wd.finish()),
        ]);
    }
    Ok(RecordBatch::try_new(schema, cols)?)
}

/// The exclusions ledger as one batch.
pub fn ledger_batch(scores: &Scores, policy: &SlaPolicy) -> Result<RecordBatch> {
    let schema = ledger_schema(&scores.group_by);
    let mut window = StringBuilder::new();
    let mut start = Date32Builder::new();
    let mut end = Date32Builder::new();
    let mut level = StringBuilder::new();
    let mut groups: Vec<StringBuilder> = scores
        .group_by
        .iter()
        .map(|_| StringBuilder::new())
        .collect();
    let mut measure = StringBuilder::new();
    let mut reason = StringBuilder::new();
    let mut count = Int64Builder::new();
    let level_names: Vec<String> = (0..scores.levels.len())
        .map(|l| scores.level_name(l))
        .collect();
    for r in &scores.ledger {
        let m = &policy.measures[r.measure];
        window.append_value(scores.window.name());
        start.append_option(r.window.map(|w| w.0));
        end.append_option(r.window.map(|w| w.1));
        level.append_value(&level_names[r.level]);
        for (b, g) in groups.iter_mut().zip(&r.groups) {
            b.append_option(g.as_deref());
        }
        measure.append_value(&m.id);
        reason.append_value(m.reason_name(r.reason));
        count.append_value(i64_of(r.count));
    }
    let mut cols: Vec<ArrayRef> = vec![
        Arc::new(window.finish()),
        Arc::new(start.finish()),
        Arc::new(end.finish()),
        Arc::new(level.finish()),
    ];
    cols.extend(groups.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
    cols.extend([
        Arc::new(measure.finish()) as ArrayRef,
        Arc::new(reason.finish()),
        Arc::new(count.finish()),
    ]);
    Ok(RecordBatch::try_new(schema, cols)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_columns_are_sql_friendly() {
        assert_eq!(percentile_column(0.5), "p50_s");
        assert_eq!(percentile_column(0.9), "p90_s");
        assert_eq!(percentile_column(0.999), "p99_9_s");
        assert_eq!(percentile_column(0.0), "p0_s");
        assert_eq!(percentile_column(1.0), "p100_s");
    }
}

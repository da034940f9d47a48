//! slate's tables as Arrow record batches, with their schemas and column names: [`Scores`]
//! as the tidy scorecard and the exclusions ledger, and the disparity table of a decoded
//! scorecard ([`disparity_batch`]).

use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Date32Builder, Float64Builder, Int64Builder, StringBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};

use crate::card::Card;
use crate::columns::{Layout, RowFigures, i64_of};
pub use crate::columns::{
    RESERVED_COLUMNS, has_kinds, has_working_days, kind_column_value, percentile_column,
    percentile_column_in, policy_percentiles, policy_wd_percentiles,
};
use crate::cube::Scores;
use crate::disparity::{Overdispersion, group_tests, position_of_z};
use crate::error::Result;
use crate::policy::SlaPolicy;

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

/// The scorecard as one batch.
pub fn scorecard_batch(scores: &Scores, policy: &SlaPolicy) -> Result<RecordBatch> {
    let schema = scorecard_schema(policy, &scores.group_by);
    let layout = Layout::of(policy);
    let n = scores.rows.len();
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
    let mut pcols: Vec<Float64Builder> = (layout.ps.iter())
        .map(|_| Float64Builder::with_capacity(n))
        .collect();
    let mut mean = Float64Builder::with_capacity(n);
    let mut min = Int64Builder::with_capacity(n);
    let mut max = Int64Builder::with_capacity(n);
    let mut wd_pcols: Vec<Float64Builder> = (layout.wd_ps.iter())
        .map(|_| Float64Builder::with_capacity(n))
        .collect();
    let mut mean_wd = Float64Builder::with_capacity(n);
    let mut min_wd = Int64Builder::with_capacity(n);
    let mut max_wd = Int64Builder::with_capacity(n);
    let level_names = scores.level_names();
    for r in &scores.rows {
        let m = &policy.measures[r.measure];
        let f = RowFigures::of(r, m, &layout);
        window.append_value(scores.window.name());
        start.append_value(r.window.0);
        end.append_value(r.window.1);
        level.append_value(&level_names[r.level]);
        for (b, g) in groups.iter_mut().zip(&r.groups) {
            b.append_option(g.as_deref());
        }
        measure.append_value(&m.id);
        kind.append_value(f.kind);
        threshold.append_option(f.threshold_s);
        threshold_wd.append_option(f.threshold_wd);
        target.append_option(f.target);
        n_eligible.append_value(f.n_eligible);
        n_measured.append_value(f.n_measured);
        n_within.append_value(f.n_within);
        n_excluded.append_value(f.n_excluded);
        compliance.append_option(f.compliance);
        met.append_option(f.met_target);
        ci_low.append_option(f.ci.map(|c| c.0));
        ci_high.append_option(f.ci.map(|c| c.1));
        for (b, v) in pcols.iter_mut().zip(f.pcts_s) {
            b.append_option(v);
        }
        mean.append_option(f.mean_s);
        min.append_option(f.min_s);
        max.append_option(f.max_s);
        for (b, v) in wd_pcols.iter_mut().zip(f.pcts_wd) {
            b.append_option(v);
        }
        mean_wd.append_option(f.mean_wd);
        min_wd.append_option(f.min_wd);
        max_wd.append_option(f.max_wd);
    }
    let mut cols: Vec<ArrayRef> = vec![
        Arc::new(window.finish()),
        Arc::new(start.finish()),
        Arc::new(end.finish()),
        Arc::new(level.finish()),
    ];
    cols.extend(groups.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
    cols.extend([Arc::new(measure.finish()) as ArrayRef]);
    if layout.kinds {
        cols.push(Arc::new(kind.finish()));
    }
    cols.extend([Arc::new(threshold.finish()) as ArrayRef]);
    if layout.wd {
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
    if layout.wd {
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

/// [`scorecard_batch`] and [`ledger_batch`], built at the same time on two threads: each
/// takes tens of milliseconds at tens of thousands of rows, after the scan, when a second core
/// would otherwise idle.
pub fn scorecard_and_ledger(
    scores: &Scores,
    policy: &SlaPolicy,
) -> Result<(RecordBatch, RecordBatch)> {
    std::thread::scope(|s| {
        let ledger = s.spawn(|| ledger_batch(scores, policy));
        let card = scorecard_batch(scores, policy)?;
        let ledger = ledger
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))?;
        Ok((card, ledger))
    })
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
    let level_names = scores.level_names();
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

/// The disparity table as one Arrow batch: for each window, measure and level other than
/// [`ALL_LEVEL`](crate::cube::ALL_LEVEL), each group against the rest of the force (see
/// [`group_tests`]). Columns: `window`, `window_start`, `window_end`, `measure`, `level`,
/// the group-by columns, `n_measured`, `n_within`, `compliance`, `rest_n_measured`,
/// `rest_compliance`, `difference`, `z`, `p`, `holm_p`, `centre`, `lo998`, `lo95`, `hi95`,
/// `hi998`, `funnel`, `phi`, `tau2`, `z_adjusted`, `funnel_adjusted` (the last four null
/// without an over-dispersion option).
pub fn disparity_batch(card: &Card, how: Overdispersion) -> Result<RecordBatch> {
    let tests = group_tests(card, how);
    let n = tests.len();
    let mut window = StringBuilder::new();
    let (mut start, mut end) = (Date32Builder::new(), Date32Builder::new());
    let (mut measure, mut level) = (StringBuilder::new(), StringBuilder::new());
    let mut groups: Vec<StringBuilder> =
        card.group_by.iter().map(|_| StringBuilder::new()).collect();
    let (mut n_measured, mut n_within, mut rest_n) = (
        Int64Builder::with_capacity(n),
        Int64Builder::with_capacity(n),
        Int64Builder::with_capacity(n),
    );
    let mut floats: Vec<Float64Builder> =
        (0..14).map(|_| Float64Builder::with_capacity(n)).collect();
    let (mut funnel, mut funnel_adj) = (StringBuilder::new(), StringBuilder::new());
    for t in &tests {
        let r = t.row;
        window.append_value(&card.window);
        start.append_value(r.start);
        end.append_value(r.end);
        measure.append_value(&r.measure);
        level.append_value(&r.level);
        for (b, g) in groups.iter_mut().zip(&r.groups) {
            b.append_option(g.as_deref());
        }
        n_measured.append_value(r.n_measured);
        n_within.append_value(r.n_within);
        rest_n.append_value(i64::try_from(t.rest.0).unwrap_or(i64::MAX));
        let y = (r.n_measured > 0).then(|| r.n_within as f64 / r.n_measured as f64);
        let rest_y = (t.rest.0 > 0).then(|| t.rest.1 as f64 / t.rest.0 as f64);
        let l = t.limits;
        let vals = [
            y,
            rest_y,
            y.zip(rest_y).map(|(a, b)| a - b),
            t.z,
            t.p,
            t.holm_p,
            Some(t.centre).filter(|c| c.is_finite()),
            l.map(|l| l.lo998),
            l.map(|l| l.lo95),
            l.map(|l| l.hi95),
            l.map(|l| l.hi998),
            t.dispersion.map(|d| d.phi),
            t.dispersion.map(|d| d.tau2),
            t.z_adjusted,
        ];
        for (b, v) in floats.iter_mut().zip(vals) {
            b.append_option(v);
        }
        funnel.append_option(l.zip(y).map(|(l, y)| l.position(y).name()));
        funnel_adj.append_option(t.z_adjusted.map(|z| position_of_z(z).name()));
    }
    let mut fields = vec![
        Field::new("window", DataType::Utf8, false),
        Field::new("window_start", DataType::Date32, false),
        Field::new("window_end", DataType::Date32, false),
        Field::new("measure", DataType::Utf8, false),
        Field::new("level", DataType::Utf8, false),
    ];
    fields.extend(
        card.group_by
            .iter()
            .map(|g| Field::new(g, DataType::Utf8, true)),
    );
    fields.extend([
        Field::new("n_measured", DataType::Int64, false),
        Field::new("n_within", DataType::Int64, false),
        Field::new("rest_n_measured", DataType::Int64, false),
    ]);
    let float_names = [
        "compliance",
        "rest_compliance",
        "difference",
        "z",
        "p",
        "holm_p",
        "centre",
        "lo998",
        "lo95",
        "hi95",
        "hi998",
        "phi",
        "tau2",
        "z_adjusted",
    ];
    fields.extend(
        float_names
            .iter()
            .map(|f| Field::new(*f, DataType::Float64, true)),
    );
    fields.extend([
        Field::new("funnel", DataType::Utf8, true),
        Field::new("funnel_adjusted", DataType::Utf8, true),
    ]);
    let mut cols: Vec<ArrayRef> = vec![
        Arc::new(window.finish()),
        Arc::new(start.finish()),
        Arc::new(end.finish()),
        Arc::new(measure.finish()),
        Arc::new(level.finish()),
    ];
    cols.extend(groups.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
    cols.extend([
        Arc::new(n_measured.finish()) as ArrayRef,
        Arc::new(n_within.finish()),
        Arc::new(rest_n.finish()),
    ]);
    cols.extend(floats.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
    cols.extend([
        Arc::new(funnel.finish()) as ArrayRef,
        Arc::new(funnel_adj.finish()),
    ]);
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), cols)?)
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

//! Comparing slate's scorecard and ledger batches with the oracle's figures.

use std::collections::BTreeMap;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Date32Type, Float64Type, Int64Type};

use crate::oracle::{Expected, Figures, LedgerKey, RowKey};

fn text(b: &RecordBatch, col: &str, i: usize) -> Option<String> {
    let c = b
        .column_by_name(col)
        .unwrap_or_else(|| panic!("no column {col}"));
    assert_eq!(c.data_type(), &DataType::Utf8, "{col}");
    c.is_valid(i)
        .then(|| c.as_string::<i32>().value(i).to_string())
}

fn int(b: &RecordBatch, col: &str, i: usize) -> Option<i64> {
    let c = b
        .column_by_name(col)
        .unwrap_or_else(|| panic!("no column {col}"));
    c.is_valid(i)
        .then(|| c.as_primitive::<Int64Type>().value(i))
}

fn float(b: &RecordBatch, col: &str, i: usize) -> Option<f64> {
    let c = b.column_by_name(col)?;
    c.is_valid(i)
        .then(|| c.as_primitive::<Float64Type>().value(i))
}

fn date(b: &RecordBatch, col: &str, i: usize) -> Option<i32> {
    let c = b
        .column_by_name(col)
        .unwrap_or_else(|| panic!("no column {col}"));
    c.is_valid(i)
        .then(|| c.as_primitive::<Date32Type>().value(i))
}

/// Column name of a percentile in a unit (`s`, `wd`), written independently of slate's helper.
fn pcol(p: f64, unit: &str) -> String {
    let s = format!("{}", (p * 100_000.0).round() / 1000.0);
    format!("p{}_{unit}", s.replace('.', "_"))
}

/// Reads a scorecard batch into the oracle's shape. `measures` gives each measure's
/// percentiles and unit: `s` (seconds), `wd` (working days: the `_wd` columns, whose `_s`
/// columns must be null) or `share` (no percentiles, no mean).
pub fn scorecard_rows(
    b: &RecordBatch,
    group_by: &[&str],
    measures: &BTreeMap<String, (Vec<f64>, &'static str)>,
) -> BTreeMap<RowKey, Figures> {
    let mut out = BTreeMap::new();
    for i in 0..b.num_rows() {
        let measure = text(b, "measure", i).expect("measure");
        let key = (
            date(b, "window_start", i).expect("window_start"),
            date(b, "window_end", i).expect("window_end"),
            text(b, "level", i).expect("level"),
            group_by.iter().map(|g| text(b, g, i)).collect(),
            measure.clone(),
        );
        let ci = float(b, "ci_low", i).zip(float(b, "ci_high", i));
        let met = b.column_by_name("met_target").expect("met_target");
        let (ps, unit) = &measures[&measure];
        let col_unit = if *unit == "wd" { "wd" } else { "s" };
        if *unit != "s" {
            // The seconds columns say nothing about a working-day measure or a share.
            assert!(
                int(b, "threshold_s", i).is_none() && float(b, "mean_s", i).is_none(),
                "{measure}: threshold_s or mean_s set on a {unit} measure"
            );
        }
        let f = Figures {
            n_eligible: int(b, "n_eligible", i).expect("n") as u64,
            n_measured: int(b, "n_measured", i).expect("n") as u64,
            n_within: int(b, "n_within", i).expect("n") as u64,
            n_excluded: int(b, "n_excluded", i).expect("n") as u64,
            compliance: float(b, "compliance", i),
            met_target: met.is_valid(i).then(|| met.as_boolean().value(i)),
            ci,
            percentiles: ps
                .iter()
                .map(|&p| (p, float(b, &pcol(p, col_unit), i)))
                .collect(),
            mean_s: float(b, &format!("mean_{col_unit}"), i),
            min_s: int(b, &format!("min_{col_unit}"), i),
            max_s: int(b, &format!("max_{col_unit}"), i),
        };
        assert!(
            out.insert(key.clone(), f).is_none(),
            "duplicate scorecard row {key:?}"
        );
    }
    out
}

/// Reads a ledger batch into the oracle's shape.
pub fn ledger_rows(b: &RecordBatch, group_by: &[&str]) -> BTreeMap<LedgerKey, u64> {
    let mut out = BTreeMap::new();
    for i in 0..b.num_rows() {
        let w = date(b, "window_start", i).zip(date(b, "window_end", i));
        let key = (
            w,
            text(b, "level", i).expect("level"),
            group_by.iter().map(|g| text(b, g, i)).collect(),
            text(b, "measure", i).expect("measure"),
            text(b, "reason", i).expect("reason"),
        );
        let n = int(b, "count", i).expect("count") as u64;
        assert!(
            out.insert(key.clone(), n).is_none(),
            "duplicate ledger row {key:?}"
        );
    }
    out
}

fn close(a: Option<f64>, b: Option<f64>, tol: f64) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(x), Some(y)) => (x - y).abs() <= tol * x.abs().max(y.abs()).max(1.0),
        _ => false,
    }
}

fn figures_match(a: &Figures, b: &Figures) -> bool {
    a.n_eligible == b.n_eligible
        && a.n_measured == b.n_measured
        && a.n_within == b.n_within
        && a.n_excluded == b.n_excluded
        && a.met_target == b.met_target
        && a.min_s == b.min_s
        && a.max_s == b.max_s
        && close(a.compliance, b.compliance, 1e-12)
        && close(a.ci.map(|c| c.0), b.ci.map(|c| c.0), 1e-9)
        && close(a.ci.map(|c| c.1), b.ci.map(|c| c.1), 1e-9)
        && close(a.mean_s, b.mean_s, 1e-9)
        && a.percentiles.len() == b.percentiles.len()
        && a.percentiles
            .iter()
            .zip(&b.percentiles)
            .all(|(x, y)| x.0 == y.0 && close(x.1, y.1, 1e-9))
}

/// Every difference between slate's output and the oracle, at most `limit` of them.
pub fn differences(
    expected: &Expected,
    scorecard: &BTreeMap<RowKey, Figures>,
    ledger: &BTreeMap<LedgerKey, u64>,
    limit: usize,
) -> Vec<String> {
    let mut out = Vec::new();
    for (k, e) in &expected.rows {
        match scorecard.get(k) {
            None => out.push(format!("missing row {k:?}: expected {e:?}")),
            Some(g) if !figures_match(e, g) => {
                out.push(format!("row {k:?}\n  expected {e:?}\n  got      {g:?}"))
            }
            _ => {}
        }
    }
    for k in scorecard.keys().filter(|k| !expected.rows.contains_key(*k)) {
        out.push(format!("unexpected row {k:?}"));
    }
    for (k, e) in &expected.ledger {
        if ledger.get(k) != Some(e) {
            out.push(format!(
                "ledger {k:?}: expected {e}, got {:?}",
                ledger.get(k)
            ));
        }
    }
    for k in ledger.keys().filter(|k| !expected.ledger.contains_key(*k)) {
        out.push(format!("unexpected ledger row {k:?} = {}", ledger[k]));
    }
    out.truncate(limit);
    out
}

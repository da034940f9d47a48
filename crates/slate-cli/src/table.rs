//! The terminal form of a scorecard: the columns a reader scans first, formatted for people.

use std::io::Write;
use std::sync::Arc;

use anyhow::Result;
use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Date32Type, Field, Float64Type, Int64Type, Schema};
use datafusion::arrow::util::pretty::pretty_format_batches;

fn text(
    batch: &RecordBatch,
    name: &str,
    rows: usize,
    f: impl Fn(&dyn Array, usize) -> String,
) -> Option<ArrayRef> {
    let col = batch.column_by_name(name)?;
    let v: Vec<Option<String>> = (0..rows)
        .map(|i| col.is_valid(i).then(|| f(col.as_ref(), i)))
        .collect();
    Some(Arc::new(StringArray::from(v)))
}

/// Prints up to `max_rows` rows (0: all) with compliance as a percentage and its interval.
pub(crate) fn print_scorecard(
    out: &mut impl Write,
    batch: &RecordBatch,
    group_by: &[String],
    max_rows: usize,
) -> Result<()> {
    let total = batch.num_rows();
    let rows = if max_rows == 0 {
        total
    } else {
        total.min(max_rows)
    };
    let date = |a: &dyn Array, i: usize| {
        chrono::NaiveDate::from_num_days_from_ce_opt(
            a.as_primitive::<Date32Type>().value(i) + 719_163,
        )
        .map_or_else(String::new, |d| d.to_string())
    };
    let s = |a: &dyn Array, i: usize| match a.data_type() {
        DataType::Utf8 => a.as_string::<i32>().value(i).to_string(),
        DataType::Int64 => a.as_primitive::<Int64Type>().value(i).to_string(),
        DataType::Boolean => if a.as_boolean().value(i) { "yes" } else { "NO" }.to_string(),
        _ => String::new(),
    };
    let secs = |a: &dyn Array, i: usize| format!("{:.1}", a.as_primitive::<Float64Type>().value(i));
    let pct = |a: &dyn Array, i: usize| {
        format!("{:.1}%", 100.0 * a.as_primitive::<Float64Type>().value(i))
    };
    let mut fields = Vec::new();
    let mut cols: Vec<ArrayRef> = Vec::new();
    let mut push = |label: &str, c: Option<ArrayRef>| {
        if let Some(c) = c {
            fields.push(Field::new(label, DataType::Utf8, true));
            cols.push(c);
        }
    };
    push("window", text(batch, "window_start", rows, date));
    push("level", text(batch, "level", rows, s));
    for g in group_by {
        push(g, text(batch, g, rows, s));
    }
    push("measure", text(batch, "measure", rows, s));
    push("n", text(batch, "n_measured", rows, s));
    push("excl", text(batch, "n_excluded", rows, s));
    push("within", text(batch, "compliance", rows, pct));
    push("ci95", {
        let lo = batch.column_by_name("ci_low");
        let hi = batch.column_by_name("ci_high");
        lo.zip(hi).map(|(lo, hi)| {
            let v: Vec<Option<String>> = (0..rows)
                .map(|i| {
                    (lo.is_valid(i) && hi.is_valid(i)).then(|| {
                        format!(
                            "{:.1}-{:.1}",
                            100.0 * lo.as_primitive::<Float64Type>().value(i),
                            100.0 * hi.as_primitive::<Float64Type>().value(i)
                        )
                    })
                })
                .collect();
            Arc::new(StringArray::from(v)) as ArrayRef
        })
    });
    push("met", text(batch, "met_target", rows, s));
    // With working-day measures the percentile columns hold both units: unmarked seconds and
    // values marked "wd", under unit-free headers.
    let mixed = batch
        .schema()
        .fields()
        .iter()
        .any(|f| f.name().starts_with('p') && f.name().ends_with("_wd"));
    for p in ["p50", "p90", "p95"] {
        let (in_s, in_wd) = (format!("{p}_s"), format!("{p}_wd"));
        match (batch.column_by_name(&in_s), batch.column_by_name(&in_wd)) {
            // A working-day measure's percentiles share the column, marked with their unit.
            (Some(a), Some(b)) => {
                let v: Vec<Option<String>> = (0..rows)
                    .map(|i| {
                        if a.is_valid(i) {
                            Some(secs(a.as_ref(), i))
                        } else {
                            b.is_valid(i).then(|| format!("{} wd", secs(b.as_ref(), i)))
                        }
                    })
                    .collect();
                push(p, Some(Arc::new(StringArray::from(v)) as ArrayRef));
            }
            _ => push(
                if mixed { p } else { &in_s },
                text(batch, &in_s, rows, secs),
            ),
        }
    }
    let shown = RecordBatch::try_new(Arc::new(Schema::new(fields)), cols)?;
    writeln!(out, "{}", pretty_format_batches(&[shown])?)?;
    if rows < total {
        writeln!(
            out,
            "({rows} of {total} rows shown; --max-rows 0 shows all, --out FILE writes them)"
        )?;
    }
    Ok(())
}

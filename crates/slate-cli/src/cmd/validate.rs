//! `slate validate`.

use std::io::Write;

use anyhow::Result;
use clap::Args;
use slate_engine::validate::validate;

use crate::Outcome;
use crate::source::{SourceArgs, write_summary};

/// Arguments of `slate validate`.
#[derive(Debug, Args)]
pub(crate) struct ValidateArgs {
    /// Parquet files, directories (datasets: only .parquet files in them are data) or globs;
    /// CSV files when named, or anything a mapping reads with --source.
    #[arg(long, short, required = true, num_args = 1..)]
    pub(crate) input: Vec<String>,
    #[command(flatten)]
    pub(crate) source: SourceArgs,
}

fn fmt_ts(us: i64) -> String {
    chrono::DateTime::from_timestamp_micros(us).map_or_else(
        || us.to_string(),
        |d| d.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
    )
}

pub(crate) fn run(a: ValidateArgs) -> Result<Outcome> {
    let input = a.source.open(&a.input, None)?;
    let rt = slate_engine::runtime(None)?;
    let report = rt.block_on(validate(&input))?;
    let mut out = std::io::stdout().lock();
    if let (Some(m), Some(s)) = (input.mapping(), &report.source) {
        write!(out, "source {}: ", m.name)?;
        write_summary(&mut out, &m.tz, s)?;
        if let Some(p) = input.rejects_path() {
            writeln!(out, "  rejects written to {}", p.display())?;
        }
    }
    writeln!(out, "files: {}\nrows:  {}", report.files, report.rows)?;
    if !report.schema_problems.is_empty() {
        let mut err = std::io::stderr().lock();
        for p in &report.schema_problems {
            writeln!(err, "error: {p}")?;
        }
        anyhow::bail!(
            "{} schema problem(s): the input does not match the canonical schema (see `slate --help`)",
            report.schema_problems.len()
        );
    }
    if !report.extra_columns.is_empty() {
        writeln!(
            out,
            "extra columns (kept, usable in policies): {}",
            report.extra_columns.join(", ")
        )?;
    }
    if let Some((lo, hi)) = report.time_range {
        writeln!(out, "call_received: {} .. {}", fmt_ts(lo), fmt_ts(hi))?;
    }
    writeln!(out, "nulls:")?;
    for c in &report.nulls {
        let pct = if report.rows > 0 {
            100.0 * c.nulls as f64 / report.rows as f64
        } else {
            0.0
        };
        writeln!(out, "  {:<18} {:>12} ({pct:.2}%)", c.name, c.nulls)?;
    }
    writeln!(out, "clocks before call_received:")?;
    for (c, n) in &report.order_violations {
        writeln!(out, "  {c:<18} {n:>12}")?;
    }
    writeln!(out, "duplicate incident_id rows: {}", report.duplicate_ids)?;
    let rejected = report.source.as_ref().map_or(0, |s| s.rejected_rows);
    if report.has_findings() {
        if rejected > 0 {
            writeln!(out, "rejected rows: {rejected} (see the reasons above)")?;
        }
        writeln!(
            out,
            "result: problems found (order violations become negative_duration exclusions in a scorecard; duplicate ids are counted as they stand)"
        )?;
        Ok(Outcome::Findings)
    } else {
        writeln!(out, "result: ok")?;
        Ok(Outcome::Ok)
    }
}

//! `slate gen`.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use chrono::NaiveDate;
use clap::Args;
use slate_datagen::{CallQueue, GenConfig, write_dataset_with};

use crate::Outcome;
use crate::args::{TzArgs, parse_date, threads};
use crate::progress::rows_bar;

/// Arguments of `slate gen`.
#[derive(Debug, Args)]
pub(crate) struct GenArgs {
    /// Number of records.
    #[arg(long, default_value_t = 1_000_000)]
    pub(crate) rows: u64,
    /// Output directory (written as year=YYYY/month=MM/part-0.parquet).
    #[arg(long, value_name = "DIR")]
    pub(crate) out: PathBuf,
    /// Random seed: the same seed gives the same records.
    #[arg(long, default_value_t = 42)]
    pub(crate) seed: u64,
    /// First local day.
    #[arg(long, value_parser = parse_date, default_value = "2015-01-01")]
    pub(crate) from: NaiveDate,
    /// Number of years.
    #[arg(long, default_value_t = 10)]
    pub(crate) years: u32,
    /// Share of records given a defect (stop before start, duplicate id or null borough).
    #[arg(long, default_value_t = 0.0, value_name = "SHARE")]
    pub(crate) dirty_rate: f64,
    /// Replace the year=*/ partitions of a non-empty output directory.
    #[arg(long)]
    pub(crate) force: bool,
    /// Answer calls from a queue of call handlers (hour-of-week arrivals, square-root staffing
    /// per hour, log-normal handling, exponential patience) and write the optional `call_ended`
    /// and `abandoned` columns; without it, answer times are drawn independently.
    #[arg(long)]
    pub(crate) call_queue: bool,
    /// Staffing safety factor for --call-queue: agents = ceil(a + BETA sqrt(a)) for offered
    /// load a; lower means longer waits and more abandonment.
    #[arg(
        long,
        default_value_t = 1.0,
        value_name = "BETA",
        requires = "call_queue"
    )]
    pub(crate) staffing_beta: f64,
    /// Also write the wider promises' optional columns: appointments agreed and due (for
    /// E-graded incidents, whose attendance then follows the agreed time), replies to
    /// local-issue messages, dissatisfaction reported and acknowledged, road-traffic
    /// collisions reported and contacted, and a satisfaction survey sample (surveyed,
    /// satisfied, respondent_group): what builtin:mps-promise-2008-full measures.
    #[arg(long)]
    pub(crate) promises: bool,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub(crate) threads: Option<usize>,
    #[command(flatten)]
    pub(crate) tz: TzArgs,
}

pub(crate) fn run(a: GenArgs) -> Result<Outcome> {
    let queue = a.call_queue.then_some(CallQueue {
        beta: a.staffing_beta,
    });
    let rules = a.tz.rules()?;
    let config = GenConfig {
        rows: a.rows,
        seed: a.seed,
        from: a.from,
        years: a.years,
        dirty_rate: a.dirty_rate,
        promises: a.promises,
    };
    let bar = rows_bar(Some(a.rows), "generating");
    let t0 = Instant::now();
    let written = write_dataset_with(
        &config,
        queue.as_ref(),
        &rules,
        &a.out,
        threads(a.threads),
        a.force,
        &|n| bar.inc(n),
    )?;
    bar.finish_and_clear();
    let secs = t0.elapsed().as_secs_f64();
    writeln!(
        std::io::stderr(),
        "wrote {} rows in {} files to {} in {:.2} s ({:.0} rows/s)",
        written.rows,
        written.files,
        a.out.display(),
        secs,
        written.rows as f64 / secs.max(1e-9)
    )?;
    Ok(Outcome::Ok)
}

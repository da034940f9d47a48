//! `slate run`.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::Result;
use chrono::NaiveDate;
use clap::Args;
use slate_core::SlaPolicy;
use slate_core::card::{Card, Ledger};
use slate_core::tables::{disparity_batch, scorecard_and_ledger};
use slate_engine::{Input, Plan, Scorecard, ScorecardOptions};
use slate_io::OutputPlan;
use slate_report::InputFile;

use crate::Outcome;
use crate::args::{OdArg, command_line, page_provenance};
use crate::args::{ScorecardArgs, TzArgs, parse_date};
use crate::progress::{rows_bar, spinner};
use crate::source::{SourceArgs, write_summary};

/// Arguments of `slate run`.
#[derive(Debug, Clone, Args)]
pub(crate) struct RunArgs {
    /// Parquet files, directories (datasets: only .parquet files in them are data) or globs;
    /// CSV files when named, or anything a mapping reads with --source.
    #[arg(long, short, required = true, num_args = 1..)]
    pub(crate) input: Vec<String>,
    /// Policy: builtin:NAME or a TOML file (see `slate policy list`).
    #[arg(long, short, default_value = "builtin:mps-promise-2008")]
    pub(crate) policy: String,
    #[command(flatten)]
    pub(crate) scorecard: ScorecardArgs,
    /// First local day of the period (inclusive), by each measure's start clock.
    #[arg(long, value_parser = parse_date)]
    pub(crate) from: Option<NaiveDate>,
    /// Local day after the period (exclusive).
    #[arg(long, value_parser = parse_date)]
    pub(crate) to: Option<NaiveDate>,
    /// Write the scorecard here (.parquet, .arrow or .csv; a local path or s3://bucket/key);
    /// the ledger goes beside it as NAME.exclusions.EXT. Without it, a table is printed.
    #[arg(long, short)]
    pub(crate) out: Option<PathBuf>,
    /// Write the exclusions ledger here instead.
    #[arg(long)]
    pub(crate) ledger: Option<PathBuf>,
    /// Also write the HTML report here (one self-contained file).
    #[arg(long, value_name = "FILE")]
    pub(crate) report: Option<PathBuf>,
    /// Also write the disparity table here (Parquet, Arrow IPC or CSV by extension): each
    /// group against the rest of the force, with z, p, Holm p and funnel position.
    #[arg(long, value_name = "FILE")]
    pub(crate) disparity: Option<PathBuf>,
    /// Allowance for over-dispersion in the disparity table.
    #[arg(long, value_enum, default_value = "none")]
    pub(crate) overdispersion: OdArg,
    /// Rows of the terminal table (0: all).
    #[arg(long, default_value_t = 40)]
    pub(crate) max_rows: usize,
    /// Print DataFusion's plan, and the plan that runs, and exit.
    #[arg(long)]
    pub(crate) explain: bool,
    /// Aggregate with DataFusion's general aggregate (one `sla_hist` per measure) instead of
    /// the fused scorecard operator: the same figures, more time; for checking and measuring.
    #[arg(long)]
    pub(crate) no_fused: bool,
    /// Worker threads (default: all cores); with --cluster, the input partitions (tasks).
    #[arg(long)]
    pub(crate) threads: Option<usize>,
    /// Run the aggregation on a Ballista cluster (`slate cluster`) at df://HOST:PORT; the cube
    /// and the report are built here. Every executor must read the inputs at the same path.
    #[arg(long, value_name = "df://HOST:PORT")]
    pub(crate) cluster: Option<String>,
    #[command(flatten)]
    pub(crate) tz: TzArgs,
    #[command(flatten)]
    pub(crate) source: SourceArgs,
}

impl RunArgs {
    /// The scorecard options; `source_tz`: the mapped source's zone, the windows' zone when
    /// `--tz` is not given.
    pub(crate) fn options(&self, source_tz: Option<&str>) -> Result<ScorecardOptions> {
        Ok(self.scorecard.options(
            self.tz.rules_for(source_tz)?,
            self.from,
            self.to,
            self.threads,
        ))
    }
}

/// Plans and runs with a progress bar; returns the scorecard and the elapsed time.
pub(crate) fn compute(
    a: &RunArgs,
    input: &Input,
    policy: &SlaPolicy,
) -> Result<Option<(Scorecard, Duration)>> {
    let opts = a.options(input.mapping().map(|m| m.tz.as_str()))?;
    let rt = slate_engine::runtime(opts.threads)?;
    rt.block_on(async {
        let plan = match &a.cluster {
            None => Plan::new(input, policy, &opts)
                .await?
                .with_fused(!a.no_fused),
            Some(url) => cluster_plan(url, input, policy, &opts).await?,
        };
        if a.explain {
            let text = plan.explain().await?;
            writeln!(std::io::stdout().lock(), "{text}")?;
            return Ok(None);
        }
        let t0 = Instant::now();
        // On a cluster the executors read the rows, so there is no count to show here.
        let bar = match &a.cluster {
            None => rows_bar(input.rows(), "scoring"),
            Some(url) => spinner(&format!("scoring on the cluster at {url}")),
        };
        let seen = plan.rows_seen();
        let ticker = {
            let bar = bar.clone();
            tokio::spawn(async move {
                loop {
                    bar.set_position(seen.load(Ordering::Relaxed));
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            })
        };
        let result = plan.run().await;
        ticker.abort();
        bar.finish_and_clear();
        let card = match &a.cluster {
            Some(url) => result.map_err(|e| cluster_failure(url, e))?,
            None => result?,
        };
        Ok(Some((card, t0.elapsed())))
    })
}

/// Plans a run on the cluster at `url`: the aggregation runs there.
#[cfg(feature = "cluster")]
async fn cluster_plan(
    url: &str,
    input: &Input,
    policy: &SlaPolicy,
    opts: &ScorecardOptions,
) -> Result<Plan> {
    Ok(slate_cluster::plan(url, input, policy, opts).await?)
}

/// Without the `cluster` feature, `--cluster` says how to get it.
#[cfg(not(feature = "cluster"))]
async fn cluster_plan(
    _url: &str,
    _input: &Input,
    _policy: &SlaPolicy,
    _opts: &ScorecardOptions,
) -> Result<Plan> {
    anyhow::bail!(
        "this slate was built without the `cluster` feature (cargo install --path \
         crates/slate-cli --features cluster)"
    )
}

/// A failed run on the cluster, with the cluster and the stage that failed named first.
#[cfg(feature = "cluster")]
fn cluster_failure(url: &str, e: slate_engine::Error) -> anyhow::Error {
    let context = slate_cluster::failure_context(url, &e.to_string());
    anyhow::Error::from(e).context(context)
}

#[cfg(not(feature = "cluster"))]
fn cluster_failure(_url: &str, e: slate_engine::Error) -> anyhow::Error {
    e.into()
}

pub(crate) fn run(a: RunArgs) -> Result<Outcome> {
    // Every output is checked against the inputs and the other outputs now, not after the
    // records are read; they are written together at the end.
    let mut outputs = output_plan(&a)?;
    let policy = slate_io::policy::load(&a.policy)?;
    let input = a.source.open(&a.input, a.tz.tz.as_deref())?;
    let Some((card, elapsed)) = compute(&a, &input, &policy)? else {
        return Ok(Outcome::Ok);
    };
    // Nothing below reads the cube's cells: they are freed while the tables are made.
    let mut free = FreeLater::default();
    let Scorecard {
        cube,
        scores,
        rows: card_rows,
        files,
        accounts,
        missing_columns,
        source,
        data_days,
    } = card;
    free.free(cube);
    let prov = outputs.provenance_mut();
    *prov = a
        .options(input.mapping().map(|m| m.tz.as_str()))?
        .provenance(&a.policy, &policy, &input);
    prov.command = Some(command_line());
    prov.rows_read = Some(card_rows);
    let (scorecard, ledger) = scorecard_and_ledger(&scores, &policy)?;
    let mut err = std::io::stderr().lock();
    let secs = elapsed.as_secs_f64();
    writeln!(
        err,
        "read {} rows from {} files in {secs:.2} s ({:.0} rows/s); {} scorecard rows, {} ledger rows",
        card_rows,
        files,
        card_rows as f64 / secs.max(1e-9),
        scorecard.num_rows(),
        ledger.num_rows()
    )?;
    if let Some(url) = &a.cluster {
        // The client's session sets the tasks (input and shuffle partitions): Ballista's
        // scheduler does not tell a client how many slots its executors have.
        let tasks = crate::args::threads(a.threads);
        let why = if a.threads.is_some() {
            "--threads"
        } else {
            "this machine's cores; --threads N to match the cluster's slots"
        };
        writeln!(err, "ran on the cluster at {url} as {tasks} tasks ({why})")?;
    }
    if let (Some(m), Some(s)) = (input.mapping(), &source) {
        write!(err, "source {}: ", m.name)?;
        write_summary(&mut err, &m.tz, s)?;
        if s.rejected_rows > 0 {
            match input.rejects_path() {
                Some(p) => writeln!(err, "  rejects written to {}", p.display())?,
                None => writeln!(
                    err,
                    "  pass --rejects FILE (or use `slate import`) to keep the rejected rows"
                )?,
            }
        }
    }
    for (file, cols) in &missing_columns {
        writeln!(
            err,
            "  warning: {} has no column {}: read as null for its records",
            file.display(),
            cols.join(", ")
        )?;
    }
    for (m, acc) in policy.measures.iter().zip(&accounts) {
        let mut line = format!(
            "  {:<16} eligible {} = measured {} + excluded {}; not applicable {}",
            m.id, acc.eligible, acc.measured, acc.excluded, acc.not_applicable
        );
        if acc.outside_period > 0 {
            line += &format!("; outside --from/--to {}", acc.outside_period);
        }
        if acc.ambiguous_local + acc.skipped_local > 0 {
            line += &format!(
                "; local times resolved: {} ambiguous (earlier instant), {} skipped (moved forward)",
                acc.ambiguous_local, acc.skipped_local
            );
        }
        writeln!(err, "{line}")?;
    }
    drop(err);
    let mut wrote = Vec::new();
    if a.report.is_some() || a.disparity.is_some() {
        let decoded = Card::from_scores(&scores, &policy);
        if let Some(path) = &a.disparity {
            let batch = disparity_batch(&decoded, a.overdispersion.into())?;
            outputs.put_batches(DISPARITY, batch.schema(), std::slice::from_ref(&batch))?;
            wrote.push(format!(
                "wrote {} ({} rows)",
                path.display(),
                batch.num_rows()
            ));
        }
        if let Some(path) = &a.report {
            let ledger = Ledger::from_scores(&scores, &policy);
            let mut prov = page_provenance();
            prov.inputs = input
                .files()
                .iter()
                .map(|p| InputFile {
                    path: p.display().to_string(),
                    rows: None,
                })
                .collect();
            prov.rows_read = Some(card_rows);
            prov.policy = Some(a.policy.clone());
            // The text the outputs' provenance read (and hashed), not a second read.
            prov.policy_text = outputs
                .provenance()
                .policy
                .as_ref()
                .and_then(|p| p.text.clone());
            prov.policy_name = Some(policy.name.clone());
            prov.policy_description = Some(policy.description.clone());
            prov.data_days = data_days;
            prov.tz = Some(
                a.tz.name(input.mapping().map(|m| m.tz.as_str()))
                    .to_string(),
            );
            let html = slate_report::render(&decoded, Some(&ledger), &prov)?;
            outputs.put_bytes(REPORT, html.as_bytes())?;
            wrote.push(format!(
                "wrote {} ({} KB)",
                path.display(),
                html.len().div_ceil(1024)
            ));
        }
    }
    let group_by = scores.group_by.clone();
    free.free(scores);
    if a.out.is_some() || a.ledger.is_some() {
        let mut tables = vec![(LEDGER, &ledger)];
        if let Some(path) = &a.out {
            tables.insert(0, (SCORECARD, &scorecard));
            wrote.push(format!(
                "wrote {} and {}",
                path.display(),
                ledger_path(&a).display()
            ));
        }
        outputs.put_tables(&tables)?;
    }
    outputs.commit()?;
    let mut err = std::io::stderr().lock();
    for line in wrote {
        writeln!(err, "{line}")?;
    }
    drop(err);
    if a.out.is_none() {
        let mut out = std::io::stdout().lock();
        crate::table::print_scorecard(&mut out, &scorecard, &group_by, a.max_rows)?;
    }
    Ok(Outcome::Ok)
}

/// Frees what it is given on threads of its own, joined when it is dropped. At 10M records a
/// run's cells and score rows took a core for tens of milliseconds to free after the files were
/// written, while the other core idled (issue 27, session 18). Joined on every path out of
/// `run`, an error's too, so that the process never exits while a thread still frees.
#[derive(Default)]
struct FreeLater(Vec<std::thread::JoinHandle<()>>);

impl FreeLater {
    fn free<T: Send + 'static>(&mut self, value: T) {
        self.0.push(std::thread::spawn(move || drop(value)));
    }
}

impl Drop for FreeLater {
    fn drop(&mut self) {
        for h in self.0.drain(..) {
            let _ = h.join();
        }
    }
}

const SCORECARD: &str = "scorecard";
const LEDGER: &str = "ledger";
const REPORT: &str = "report";
const DISPARITY: &str = "disparity";

/// The ledger's path: `--ledger`, else beside the scorecard.
fn ledger_path(a: &RunArgs) -> PathBuf {
    match (&a.ledger, &a.out) {
        (Some(l), _) => l.clone(),
        (None, Some(out)) => slate_io::output::sibling_path(out, "exclusions"),
        (None, None) => PathBuf::new(),
    }
}

/// What `run` reads and writes, resolved and checked against each other before any record
/// is read.
fn output_plan(a: &RunArgs) -> Result<OutputPlan> {
    let mut plan = OutputPlan::new();
    for i in &a.input {
        plan.reads("input", i);
    }
    plan.reads("policy", &a.policy);
    if let Some(m) = &a.source.source {
        plan.reads("source mapping", m);
    }
    if let Some(out) = &a.out {
        plan.writes_table(SCORECARD, out);
    }
    if a.out.is_some() || a.ledger.is_some() {
        plan.writes_table(LEDGER, ledger_path(a));
    }
    if let Some(p) = &a.disparity {
        plan.writes_table(DISPARITY, p);
    }
    if let Some(p) = &a.report {
        plan.writes(REPORT, p);
    }
    if let Some(p) = &a.source.rejects {
        plan.writes("rejects", p);
    }
    plan.check()?;
    Ok(plan)
}

//! The batch scorecard: one DataFusion aggregation over the input, grouped by grain unit and
//! group columns, with one `sla_hist` per measure; the small result becomes a [`Cube`], and
//! windows and rollups are merged from it.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use chrono::{Datelike, NaiveDate};
use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int32Type};
use datafusion::common::runtime::SpawnedTask;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::common::{DFSchema, ScalarValue};
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::config::SessionConfig;
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryReservation};
use datafusion::logical_expr::{AggregateUDF, ExprSchemable, ScalarUDF, Volatility};
use datafusion::physical_plan::aggregates::{AggregateExec, AggregateMode};
use datafusion::physical_plan::{ExecutionPlan, execute_stream_partitioned};
use datafusion::prelude::{DataFrame, Expr, SessionContext, col, lit, when};
use futures::StreamExt;
use slate_core::calendar::day_of_ymd;
use slate_core::cube::ALL_LEVEL;
use slate_core::policy::{Measure, MeasureKind};
use slate_core::tables::RESERVED_COLUMNS;
use slate_core::{
    Cube, GroupKey, MeasureCell, PercentileMethod, ScoreOptions, Scores, SlaPolicy, TzRules,
    WindowKind,
};
use slate_io::ImportSummary;
use slate_io::provenance::{PolicyInfo, Provenance};

use crate::error::{Error, Result};
use crate::input::{Input, SummarySlot};
use crate::udf::{BucketUdf, DaysSeen, OUTSIDE_PERIOD, SlaHist};

/// What to compute.
#[derive(Debug, Clone)]
pub struct ScorecardOptions {
    /// The window family.
    pub window: WindowKind,
    /// Group-by columns.
    pub group_by: Vec<String>,
    /// Zone of calendar windows and of naive clocks.
    pub tz: Arc<TzRules>,
    /// First local day of the period (inclusive).
    pub from: Option<NaiveDate>,
    /// Local day after the period (exclusive).
    pub to: Option<NaiveDate>,
    /// Percentile definition.
    pub method: PercentileMethod,
    /// Add rollup levels.
    pub rollups: bool,
    /// DataFusion partitions (threads); `None`: the machine's cores.
    pub threads: Option<usize>,
}

impl ScorecardOptions {
    /// Checks what the options say on their own, before any data is read: the period is not
    /// empty, no group column is named twice (two output columns of one name make a file
    /// pandas and DuckDB refuse) or named like the whole-force level, at most 8 group columns. Planning calls it; so does anything
    /// that builds a scorecard without a plan (the stream).
    pub fn check(&self) -> Result<()> {
        if let (Some(a), Some(b)) = (self.from, self.to)
            && a >= b
        {
            return Err(Error::Parameter(
                slate_core::ParamMessage::new()
                    .param("from")
                    .text(format!(" {a} must be before "))
                    .param("to")
                    .text(format!(" {b}")),
            ));
        }
        for (i, g) in self.group_by.iter().enumerate() {
            if g == ALL_LEVEL {
                // Its single-column level would be named like the whole force's.
                return Err(Error::BadGroupBy {
                    column: g.clone(),
                    reason: format!(
                        "`{ALL_LEVEL}` is the `level` column's name for the whole force"
                    ),
                });
            }
            if self.group_by[..i].contains(g) {
                return Err(Error::BadGroupBy {
                    column: g.clone(),
                    reason: "named twice in the group columns; each output column must be \
                             unique"
                        .into(),
                });
            }
        }
        if self.group_by.len() > 8 {
            return Err(Error::BadOptions(
                "at most 8 group columns (rollups grow as 2^n)".into(),
            ));
        }
        Ok(())
    }
}

impl ScorecardOptions {
    /// The provenance of figures computed with these options, `policy` (as named: `spec`) and
    /// `input`: its zone, window, groups, percentile method, period and rollups, the policy's
    /// name, text and hash, the source mapping and the input files. The caller adds what only
    /// it knows (the command line, the rows read).
    pub fn provenance(&self, spec: &str, policy: &SlaPolicy, input: &Input) -> Provenance {
        let mut p = self.provenance_without_input(spec, policy);
        p.inputs = input.provenance_inputs().to_vec();
        p.source = input.mapping().map(|m| m.name.clone());
        p
    }

    /// [`provenance`](Self::provenance) for figures whose inputs the caller lists itself (the
    /// stream's updates).
    pub fn provenance_without_input(&self, spec: &str, policy: &SlaPolicy) -> Provenance {
        let mut p = Provenance::new();
        p.policy = Some(PolicyInfo::of(spec, &policy.name));
        p.zone = Some(self.tz.name().to_string());
        p.window = Some(self.window.name().to_string());
        p.group_by = Some(self.group_by.clone());
        p.percentile_method = Some(self.method.name().to_string());
        if let Some(d) = self.from {
            p.settings.insert("from".into(), d.to_string());
        }
        if let Some(d) = self.to {
            p.settings.insert("to".into(), d.to_string());
        }
        p.settings
            .insert("rollups".into(), self.rollups.to_string());
        p
    }
}

/// Counts that account for every input row, per measure.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MeasureAccount {
    /// Rows the measure applied to inside the period (measured + excluded).
    pub eligible: u64,
    /// Of those, measured.
    pub measured: u64,
    /// Of those, excluded (see the ledger).
    pub excluded: u64,
    /// Rows the measure applied to whose start fell outside `--from`/`--to`.
    pub outside_period: u64,
    /// Rows the measure's `where` did not select: `rows - eligible - outside_period`.
    pub not_applicable: u64,
    /// Naive clock readings in a repeated local hour (read as the earlier instant).
    pub ambiguous_local: u64,
    /// Naive clock readings in a skipped local hour (moved forward by the gap).
    pub skipped_local: u64,
}

/// A finished scorecard.
#[derive(Debug)]
pub struct Scorecard {
    /// The cube the scores were read from.
    pub cube: Cube,
    /// Scorecard and ledger rows.
    pub scores: Scores,
    /// Input rows.
    pub rows: u64,
    /// Input files.
    pub files: usize,
    /// Per-measure accounting, in policy order.
    pub accounts: Vec<MeasureAccount>,
    /// Input files lacking columns the run reads, with those columns (read as null).
    pub missing_columns: Vec<(PathBuf, Vec<String>)>,
    /// A mapped source's accounting: `input rows = imported + rejected`; `rows` above counts
    /// the canonical records the imported rows made.
    pub source: Option<ImportSummary>,
    /// The first and last local days (both included) on which a measure's start clock falls
    /// inside the period: the span of the data, which a report needs to tell a partial first
    /// or last window. `None` when nothing was read here (no records, or a cluster run).
    pub data_days: Option<(i32, i32)>,
}

/// A planned scorecard run: policy checked against the input's schema, nothing read yet.
pub struct Plan {
    df: DataFrame,
    /// The input, and the aggregation's arguments per row (for `row_cells` only: planned
    /// when asked, so `slate run` does not build a plan it never runs).
    input: DataFrame,
    per_row: Vec<Expr>,
    policy: SlaPolicy,
    opts: ScorecardOptions,
    /// Distinct start columns; measure m's start is `starts[start_of[m]]`.
    start_of: Vec<usize>,
    n_starts: usize,
    rows: u64,
    files: usize,
    rows_seen: Arc<AtomicU64>,
    days_seen: DaysSeen,
    /// Input files lacking columns the plan reads (they read as null there).
    missing: Vec<(PathBuf, Vec<String>)>,
    /// A mapped source's accounting, filled in by its scan.
    source: Option<SummarySlot>,
    /// Run the aggregate as [`crate::fused::FusedScorecardExec`] where it can.
    fused: bool,
}

fn local_day(d: NaiveDate) -> i32 {
    day_of_ymd(d.year(), d.month(), d.day())
}

/// `df`, to be planned without DataFusion's common-subexpression rule, for the fused operator.
/// Measures that share a `where` (999 calls within 10 s and within 60 s) share expressions,
/// and the rule rewrote them: the condition became a column the scan adds with arrow's general
/// string comparison on every row, and two measures of the same clocks and `where` became one
/// aggregate under a projection that copies it, a plan shape whose partial aggregate the cube
/// cannot take, so the whole plan ran, encoding and merging every cell once more. The fused
/// operator evaluates each distinct condition once itself. Measured on `slate gen` data, 10M
/// rows, three measures on `channel = '999'`: 0.95x the CPU time (issue 27, session 20).
fn without_shared_subexpressions(df: DataFrame) -> DataFrame {
    let (state, plan) = df.into_parts();
    let rules = (state.optimizer().rules.iter())
        .filter(|r| r.name() != "common_sub_expression_eliminate")
        .cloned()
        .collect();
    let state = SessionStateBuilder::new_from_existing(state)
        .with_optimizer_rules(rules)
        .build();
    DataFrame::new(state, plan)
}

/// A session configured for slate: our functions registered, `threads` partitions.
///
/// Two of DataFusion's scan defaults are changed, for many small files (shape C of
/// `docs/bench/matrix.md`: 500 files of 20K rows):
/// - the footer guess (`metadata_size_hint`) is 64 KiB instead of 512 KiB. The default saves an
///   object-store round trip; on local files it read up to half of each small file a second
///   time, into a fresh 512 KiB buffer each (footers of CAD data are a few KiB; a bigger one
///   takes a second read).
/// - files stay in the partition they were planned in (`enable_file_stream_work_stealing`
///   off). With stealing, an idle partition takes its sibling's next file, so every
///   partition's partial aggregate ends up holding every month: twice the groups, and
///   [`Plan::cells`] merges the cubes' histograms instead of moving them. The planned groups
///   are already even by bytes.
///
/// Together, paired runs (median of 5, `docs/bench/matrix.md`): shape C CPU 0.87x, wall 0.84x,
/// peak RSS 0.84x; naive clocks in 8 big files (A) CPU 0.94x, wall 0.89x; `slate gen` data (D)
/// CPU 0.97x, wall 1.04x, RSS 1.04x (files no longer rebalanced between partitions).
///
/// `s3://` inputs are read through [`crate::store`]'s registry.
pub fn session(tz: Arc<TzRules>, threads: Option<usize>) -> SessionContext {
    let mut config = SessionConfig::new();
    if let Some(t) = threads {
        config = config.with_target_partitions(t.max(1));
    }
    let o = config.options_mut();
    o.execution.parquet.metadata_size_hint = Some(64 * 1024);
    o.execution.enable_file_stream_work_stealing = false;
    let ctx = SessionContext::new_with_config_rt(config, crate::store::runtime_env());
    crate::udf::register_all(&ctx, tz);
    ctx
}

impl Plan {
    /// Checks the policy and group-by against the input's schema and plans the aggregation.
    /// Fails with an error naming the measure and field before any data is read.
    pub async fn new(input: &Input, policy: &SlaPolicy, opts: &ScorecardOptions) -> Result<Plan> {
        Self::in_context(&session(opts.tz.clone(), opts.threads), input, policy, opts).await
    }

    /// [`Plan::new`] in a context of the caller's, which must have slate's functions (see
    /// [`session`]): a cluster's remote context runs the aggregation on the cluster.
    pub async fn in_context(
        ctx: &SessionContext,
        input: &Input,
        policy: &SlaPolicy,
        opts: &ScorecardOptions,
    ) -> Result<Plan> {
        let df = input.dataframe(ctx).await?;
        let mut plan = Self::from_dataframe(
            df,
            policy,
            opts,
            input.rows().unwrap_or(0),
            input.files().len(),
        )?;
        plan.missing = input.missing_columns(&plan.used_columns());
        plan.source = input.summary_slot();
        Ok(plan)
    }

    /// Plans over any DataFrame (tests, other sources); `rows` is for progress only.
    pub fn from_dataframe(
        df: DataFrame,
        policy: &SlaPolicy,
        opts: &ScorecardOptions,
        rows: u64,
        files: usize,
    ) -> Result<Plan> {
        opts.check()?;
        let schema = df.schema().clone();
        check_group_by(&schema, &opts.group_by)?;
        let mut starts: Vec<String> = Vec::new();
        let mut start_of = Vec::new();
        let mut statuses = Vec::new();
        for m in &policy.measures {
            check_clocks(&schema, policy, m)?;
            let si = match starts.iter().position(|s| s == &m.start) {
                Some(i) => i,
                None => {
                    starts.push(m.start.clone());
                    starts.len() - 1
                }
            };
            start_of.push(si);
            statuses.push(status_expr(&df, policy, m)?);
        }

        let period = match (opts.from, opts.to) {
            (None, None) => None,
            (f, t) => Some((
                f.map_or(i32::MIN + 1, local_day),
                t.map_or(i32::MAX, local_day),
            )),
        };
        let bucket = BucketUdf::new(opts.tz.clone(), opts.window.grain(), period);
        let rows_seen = bucket.rows_seen();
        let days_seen = bucket.days_seen();
        let bucket = ScalarUDF::new_from_impl(bucket);

        let mut group_exprs: Vec<Expr> = starts
            .iter()
            .enumerate()
            .map(|(j, s)| bucket.call(vec![col_of(s)]).alias(format!("__b{j}")))
            .collect();
        for (i, g) in opts.group_by.iter().enumerate() {
            group_exprs.push(col_of(g).alias(format!("__g{i}")));
        }
        let aggs: Vec<Expr> = policy
            .measures
            .iter()
            .zip(&statuses)
            .enumerate()
            .map(|(mi, (m, status))| {
                let hist =
                    AggregateUDF::new_from_impl(SlaHist::of_kind(opts.tz.clone(), m.kind.clone()));
                hist.call(vec![col_of(&m.start), col_of(&m.stop), status.clone()])
                    .alias(format!("__m{mi}"))
            })
            .collect();
        // The same expressions, per row: what each record would add (see `row_cells`).
        let mut per_row = group_exprs.clone();
        for (mi, (m, status)) in policy.measures.iter().zip(statuses).enumerate() {
            per_row.push(col_of(&m.start).alias(format!("__s{mi}")));
            per_row.push(col_of(&m.stop).alias(format!("__e{mi}")));
            per_row.push(status.alias(format!("__t{mi}")));
        }
        let input = df.clone();
        let df = df.aggregate(group_exprs, aggs)?;
        Ok(Plan {
            df,
            input,
            per_row,
            policy: policy.clone(),
            opts: opts.clone(),
            start_of,
            n_starts: starts.len(),
            rows,
            files,
            rows_seen,
            days_seen,
            missing: Vec::new(),
            source: None,
            fused: true,
        })
    }

    /// Whether the aggregation runs as one fused operator ([`crate::fused`], the default)
    /// where it can, or always as DataFusion's `AggregateExec` with one `sla_hist` per measure.
    /// Both give the same cells; the choice is for checking that and for measuring.
    pub fn with_fused(mut self, fused: bool) -> Self {
        self.fused = fused;
        self
    }

    /// The physical plan the aggregation runs (fused where it can be).
    async fn physical_plan(&self) -> Result<Arc<dyn ExecutionPlan>> {
        if !self.fused {
            return Ok(self.df.clone().create_physical_plan().await?);
        }
        let plan = without_shared_subexpressions(self.df.clone())
            .create_physical_plan()
            .await?;
        Ok(crate::fused::fuse(plan)?)
    }

    /// Every input column the plan reads: clocks, predicates' columns, group columns.
    pub fn used_columns(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for e in &self.per_row {
            for c in e.column_refs() {
                if !out.contains(&c.name) {
                    out.push(c.name.clone());
                }
            }
        }
        out
    }

    /// Input files lacking some column the plan reads, with those columns: every record of
    /// such a file reads them as null (a missing `grade` makes every record of the file "not
    /// applicable" to a grade measure), so a run says so.
    pub fn missing_columns(&self) -> &[(PathBuf, Vec<String>)] {
        &self.missing
    }

    /// Runs the aggregation only: the cube of cells, and per measure the cell of records whose
    /// start fell outside the period. The stream runtime folds these into its own state.
    ///
    /// The cube is the final aggregation: each input partition's partial aggregate is
    /// read on its own task into its own cube, and the cubes are merged (mostly moves, as
    /// partitions hold different files). DataFusion's final stage would repartition the
    /// partial states by hash, decode and merge them, and encode them once more, only for
    /// the cube to decode and merge them again: skipping it saves that work (about 3% of a
    /// 10M-row run, measured) and one live copy of every histogram. Plans of another shape
    /// run whole.
    ///
    /// The cube's memory is accounted in the session's memory pool as it grows (an upper
    /// bound: each partial-aggregate row's key and cells), so a query limit bounds it too.
    pub async fn cells(&self) -> Result<(Cube, Vec<MeasureCell>)> {
        let (cube, outside, _held) = self.cells_held().await?;
        Ok((cube, outside))
    }

    /// [`Plan::cells`], with the reservation that accounts for the cube (held as long as it).
    async fn cells_held(&self) -> Result<(Cube, Vec<MeasureCell>, Arc<MemoryReservation>)> {
        let plan = self.physical_plan().await?;
        let width = self.n_starts + self.opts.group_by.len() + self.policy.measures.len();
        let source = partial_aggregate(&plan)
            .filter(|p| p.schema().fields().len() == width)
            .unwrap_or(plan);
        let task_ctx = Arc::new(self.df.task_ctx());
        let held =
            Arc::new(MemoryConsumer::new("slate scorecard cube").register(task_ctx.memory_pool()));
        // The fused aggregate hands its cells on as they are; any other plan's partial
        // aggregate, as its encoded state.
        let parts: Vec<CellStream> = match source.downcast_ref::<crate::fused::FusedScorecardExec>()
        {
            Some(fused) => (0..source.properties().output_partitioning().partition_count())
                .map(|p| {
                    Ok(CellStream::Folded(
                        fused.execute_cells(p, task_ctx.clone())?,
                    ))
                })
                .collect::<Result<_>>()?,
            None => execute_stream_partitioned(source, task_ctx)?
                .into_iter()
                .map(CellStream::Encoded)
                .collect(),
        };
        let tasks: Vec<_> = parts
            .into_iter()
            .map(|stream| {
                let mut part = self.empty_cells();
                let shape = Shape {
                    n_starts: self.n_starts,
                    k: self.opts.group_by.len(),
                    start_of: self.start_of.clone(),
                };
                let held = held.clone();
                SpawnedTask::spawn(async move {
                    match stream {
                        CellStream::Encoded(mut stream) => {
                            while let Some(batch) = stream.next().await {
                                let batch = batch?;
                                let cells: Vec<&datafusion::arrow::array::BinaryArray> =
                                    (0..shape.start_of.len())
                                        .map(|m| {
                                            batch
                                                .column(shape.n_starts + shape.k + m)
                                                .as_binary::<i32>()
                                        })
                                        .collect();
                                let bytes = shape.add(
                                    batch.columns(),
                                    |m, row| Ok(MeasureCell::decode(cells[m].value(row))?),
                                    &mut part,
                                )?;
                                held.try_grow(bytes)?;
                            }
                        }
                        CellStream::Folded(mut stream) => {
                            while let Some(folded) = stream.next().await {
                                let mut folded = folded?;
                                let bytes = shape.add(
                                    &folded.groups,
                                    |m, row| Ok(std::mem::take(&mut folded.cells[m][row])),
                                    &mut part,
                                )?;
                                held.try_grow(bytes)?;
                            }
                        }
                    }
                    Ok::<_, Error>(part)
                })
            })
            .collect();
        let (mut cube, mut outside) = self.empty_cells();
        for task in tasks {
            let (c, o) = task
                .join_unwind()
                .await
                .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))??;
            cube.absorb_cube(c);
            for (a, b) in outside.iter_mut().zip(o) {
                a.absorb(b);
            }
        }
        Ok((cube, outside, held))
    }

    fn empty_cells(&self) -> (Cube, Vec<MeasureCell>) {
        let n = self.policy.measures.len();
        (
            Cube::new(self.opts.window.grain(), self.opts.group_by.clone(), n),
            vec![MeasureCell::default(); n],
        )
    }

    /// Every input row's own cells, in input order (one partition keeps it): for each measure
    /// the row is eligible for, inside the period, its start's grain unit, its group values and
    /// its one-record cell, computed by `sla_hist`'s own update. Merged by (unit, group), they
    /// are the cube [`Plan::cells`] gives; the stream keeps them per open incident.
    pub async fn row_cells(&self) -> Result<Vec<RowCells>> {
        let eval = self.row_cells_eval()?;
        let mut out = Vec::new();
        for batch in self.input.clone().collect().await? {
            out.extend(eval.row_cells(&batch)?);
        }
        Ok(out)
    }

    /// [`Plan::row_cells`]'s per-row expressions, planned once for batches of the input's
    /// schema (see [`RowCellsEval`]).
    pub fn row_cells_eval(&self) -> Result<RowCellsEval> {
        let (state, _) = self.input.clone().into_parts();
        let schema = self.input.schema();
        let exprs = (self.per_row.iter())
            .map(|e| state.create_physical_expr(e.clone(), schema))
            .collect::<datafusion::error::Result<_>>()?;
        Ok(RowCellsEval {
            exprs,
            tz: self.opts.tz.clone(),
            kinds: (self.policy.measures.iter())
                .map(|m| m.kind.clone())
                .collect(),
            start_of: self.start_of.clone(),
            n_starts: self.n_starts,
            k: self.opts.group_by.len(),
        })
    }

    /// Input rows, from the Parquet footers.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Rows read so far (for a progress bar).
    pub fn rows_seen(&self) -> Arc<AtomicU64> {
        self.rows_seen.clone()
    }

    /// The physical plan, for `--explain`.
    pub async fn explain(&self) -> Result<String> {
        let batches = self.df.clone().explain(false, false)?.collect().await?;
        let mut text = datafusion::arrow::util::pretty::pretty_format_batches(&batches)
            .map_err(datafusion::error::DataFusionError::from)?
            .to_string();
        // DataFusion's explain shows its own plan; the one that runs may have the fused node.
        let plan = self.physical_plan().await?;
        let shown = datafusion::physical_plan::displayable(plan.as_ref()).indent(false);
        text.push_str(&format!("\nplan run:\n{shown}"));
        Ok(text)
    }

    /// Runs the aggregation and reads the scorecard off the cube.
    ///
    /// Memory: the cube is accounted in the session's pool as it grows (see [`Plan::cells`]),
    /// and before the scores are read off it, an upper bound of their rows (per rollup
    /// level, the fewer of the cube's cells and the product of its columns' distinct values)
    /// is reserved too; a query limit refuses a scorecard past it before it is built.
    pub async fn run(self) -> Result<Scorecard> {
        let (cube, outside, held) = self.cells_held().await?;
        held.try_grow(scores_bytes_bound(
            &cube,
            self.opts.window,
            self.opts.rollups,
            self.policy.measures.len(),
        ))?;
        let source = self.source.as_ref().and_then(|s| s.lock().ok()?.clone());
        let rows = source.as_ref().map_or(self.rows, |s| s.records);
        let period = match (self.opts.from, self.opts.to) {
            (Some(f), Some(t)) => Some((local_day(f), local_day(t))),
            _ => None,
        };
        let scores = cube.scores(
            &self.policy,
            &ScoreOptions {
                window: self.opts.window,
                method: self.opts.method,
                rollups: self.opts.rollups,
                period,
                threads: self.opts.threads.unwrap_or_else(cores),
            },
        );
        let accounts = cube
            .totals()
            .iter()
            .zip(&outside)
            .map(|(t, o)| {
                let eligible = t.n_eligible();
                let outside_period = o.n_eligible();
                MeasureAccount {
                    eligible,
                    measured: t.measured,
                    excluded: t.counts.n_excluded(),
                    outside_period,
                    not_applicable: rows.saturating_sub(eligible + outside_period),
                    ambiguous_local: t.counts.ambiguous_local + o.ambiguous_local,
                    skipped_local: t.counts.skipped_local + o.skipped_local,
                }
            })
            .collect();
        drop(held);
        Ok(Scorecard {
            cube,
            scores,
            rows,
            files: self.files,
            accounts,
            missing_columns: self.missing,
            source,
            data_days: self.days_seen.get(),
        })
    }
}

/// The cells of in-memory record batches (the stream runtime's settled and open incidents),
/// computed by exactly the plan `slate run` uses.
pub async fn cells_of_batches(
    batches: Vec<RecordBatch>,
    policy: &SlaPolicy,
    opts: &ScorecardOptions,
) -> Result<(Cube, Vec<MeasureCell>)> {
    let rows = batches.iter().map(|b| b.num_rows() as u64).sum();
    let ctx = session(opts.tz.clone(), Some(1));
    let df = ctx.read_batches(batches)?;
    Plan::from_dataframe(df, policy, opts, rows, 0)?
        .cells()
        .await
}

/// What one record adds to a cube: `(measure, grain unit, group values, cell)` for each
/// measure it is eligible for (see [`Plan::row_cells`]).
pub type RowCells = Vec<(usize, Option<i32>, GroupKey, MeasureCell)>;

/// The cells of each of `batch`'s rows, in order, by the plan `slate run` uses.
pub fn cells_of_rows(
    batch: &RecordBatch,
    policy: &SlaPolicy,
    opts: &ScorecardOptions,
) -> Result<Vec<RowCells>> {
    RowCellsEval::new(batch.schema(), policy, opts)?.row_cells(batch)
}

/// The per-row cells of [`Plan::row_cells`] for batches of one schema, planned once: the
/// plan's per-row expressions (grain units, group values, each measure's start, stop and
/// status) as physical expressions, evaluated on each batch directly. A caller with many small
/// batches (the stream, at every emission) pays no session, logical plan, physical plan or
/// task per batch; `slate run`'s own plan evaluates the same expressions.
pub struct RowCellsEval {
    exprs: Vec<Arc<dyn datafusion::physical_plan::PhysicalExpr>>,
    tz: Arc<TzRules>,
    kinds: Vec<MeasureKind>,
    /// Measure m's start is start column `start_of[m]` (of `n_starts`).
    start_of: Vec<usize>,
    n_starts: usize,
    /// Group-by columns.
    k: usize,
}

impl RowCellsEval {
    /// Plans the policy's per-row expressions for batches of `schema`.
    pub fn new(
        schema: datafusion::arrow::datatypes::SchemaRef,
        policy: &SlaPolicy,
        opts: &ScorecardOptions,
    ) -> Result<Self> {
        let ctx = session(opts.tz.clone(), Some(1));
        let df = ctx.read_batch(RecordBatch::new_empty(schema))?;
        Plan::from_dataframe(df, policy, opts, 0, 0)?.row_cells_eval()
    }

    /// Each of `batch`'s rows' cells, in row order.
    pub fn row_cells(&self, batch: &RecordBatch) -> Result<Vec<RowCells>> {
        let n = batch.num_rows();
        let cols = (self.exprs.iter())
            .map(|e| e.evaluate(batch)?.into_array(n))
            .collect::<datafusion::error::Result<Vec<ArrayRef>>>()?;
        let buckets: Vec<&datafusion::arrow::array::PrimitiveArray<Int32Type>> = cols
            [..self.n_starts]
            .iter()
            .map(|c| c.as_primitive::<Int32Type>())
            .collect();
        let groups = utf8_columns(&cols[self.n_starts..self.n_starts + self.k])?;
        let groups: Vec<&datafusion::arrow::array::StringArray> =
            groups.iter().map(|a| a.as_string::<i32>()).collect();
        let base = self.n_starts + self.k;
        let mut cells: Vec<std::vec::IntoIter<MeasureCell>> = (self.kinds.iter())
            .enumerate()
            .map(|(m, kind)| {
                let c = |i: usize| cols[base + 3 * m + i].clone();
                crate::udf::row_cells(&self.tz, kind, &c(0), &c(1), &c(2)).map(|v| v.into_iter())
            })
            .collect::<datafusion::error::Result<_>>()?;
        let mut out = Vec::with_capacity(n);
        for row in 0..n {
            let mut mine = Vec::new();
            for (m, &s) in self.start_of.iter().enumerate() {
                let Some(cell) = cells[m].next() else {
                    return Err(datafusion::error::DataFusionError::Internal(
                        "sla_hist gave fewer row cells than rows".into(),
                    )
                    .into());
                };
                let b = buckets[s];
                let unit = b.is_valid(row).then(|| b.value(row));
                if cell.n_eligible() > 0 && unit != Some(OUTSIDE_PERIOD) {
                    mine.push((m, unit, GroupKey::new(), cell));
                }
            }
            // The row's key, built once: moved into its last cell, cloned for the others.
            if let Some(((.., last, _), rest)) = mine.split_last_mut() {
                *last = group_key(&groups, row);
                for (.., key, _) in rest {
                    key.clone_from(last);
                }
            }
            out.push(mine);
        }
        Ok(out)
    }
}

/// Runs a scorecard over a canonical Parquet dataset (files, directories, globs) in one call.
pub async fn run_scorecard(
    inputs: &[String],
    policy: &SlaPolicy,
    opts: &ScorecardOptions,
) -> Result<Scorecard> {
    let input = Input::open(inputs, None, None)?;
    Plan::new(&input, policy, opts).await?.run().await
}

/// The machine's cores (1 when unknown).
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The partial aggregate under a plan whose other nodes only repartition, coalesce or
/// finish the aggregation; `None` for any other shape (one partition, for instance, is
/// planned as a single-stage aggregate).
fn partial_aggregate(plan: &Arc<dyn ExecutionPlan>) -> Option<Arc<dyn ExecutionPlan>> {
    let mut node = plan.clone();
    loop {
        let mode = match node.downcast_ref::<AggregateExec>() {
            Some(agg) => Some(agg.mode()),
            None => node
                .downcast_ref::<crate::fused::FusedScorecardExec>()
                .map(|f| f.mode()),
        };
        if let Some(mode) = mode {
            match mode {
                AggregateMode::Partial => return Some(node),
                AggregateMode::Final | AggregateMode::FinalPartitioned => {}
                _ => return None,
            }
        } else if !matches!(
            node.name(),
            "RepartitionExec" | "CoalescePartitionsExec" | "CoalesceBatchesExec"
        ) {
            return None;
        }
        let [child] = node.children()[..] else {
            return None;
        };
        node = child.clone();
    }
}

/// Why a policy predicate would not give the same scorecard on every run over the same
/// records, if it would not: it calls a function DataFusion does not declare immutable
/// (`random()`, `uuid()`, `now()`: volatile or stable), or it holds a subquery (a policy reads
/// its record's own columns only).
fn not_repeatable(e: &Expr) -> Option<String> {
    let mut why = None;
    let _ = e.apply(|node| {
        why = match node {
            Expr::ScalarFunction(f) if f.func.signature().volatility != Volatility::Immutable => {
                let kind = match f.func.signature().volatility {
                    Volatility::Stable => "stable (its value depends on when the query runs)",
                    _ => "volatile (its value changes from row to row and run to run)",
                };
                Some(format!(
                    "calls {}(), which is {kind}: a policy must give the same scorecard on \
every run, so its predicates may call only immutable functions",
                    f.func.name(),
                ))
            }
            Expr::ScalarSubquery(_) | Expr::Exists(_) | Expr::InSubquery(_) => Some(
                "holds a subquery: a policy's predicates read the record's own columns only"
                    .to_string(),
            ),
            Expr::AggregateFunction(_) | Expr::WindowFunction(_) => Some(
                "calls an aggregate or window function: a policy's predicates read one record"
                    .to_string(),
            ),
            _ => None,
        };
        Ok(if why.is_some() {
            TreeNodeRecursion::Stop
        } else {
            TreeNodeRecursion::Continue
        })
    });
    why
}

/// A column reference that keeps the name's case and punctuation (`"Neighborhood  District"`).
fn col_of(name: &str) -> Expr {
    col(datafusion::common::Column::new_unqualified(name))
}

fn column_list(schema: &DFSchema) -> String {
    let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    names.join(", ")
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

/// Columns `from..from + k` of a batch as Utf8 (group values of any type read as text).
fn utf8_columns(columns: &[ArrayRef]) -> Result<Vec<ArrayRef>> {
    (columns.iter())
        .map(|c| cast(c, &DataType::Utf8))
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| datafusion::error::DataFusionError::from(e).into())
}

/// A row's group values (null stays null).
fn group_key(groups: &[&datafusion::arrow::array::StringArray], row: usize) -> GroupKey {
    groups
        .iter()
        .map(|g| g.is_valid(row).then(|| g.value(row).to_string()))
        .collect()
}

/// Bytes of a group key: the vector, its values and their text.
fn key_bytes(key: &GroupKey) -> usize {
    std::mem::size_of::<GroupKey>()
        + key
            .iter()
            .map(|g| std::mem::size_of::<Option<String>>() + g.as_ref().map_or(0, String::len))
            .sum::<usize>()
}

/// An upper bound of the bytes of the scores read off `cube` (see [`Plan::run`]).
fn scores_bytes_bound(cube: &Cube, window: WindowKind, rollups: bool, measures: usize) -> usize {
    let k = cube.group_by().len();
    let mut distinct: Vec<std::collections::HashSet<Option<&str>>> = vec![Default::default(); k];
    let mut units = std::collections::HashSet::new();
    let mut key_total = 0usize;
    let mut cells = 0usize;
    for (unit, key, _) in cube.cells() {
        cells += 1;
        units.insert(unit);
        key_total = key_total.saturating_add(key_bytes(key));
        for (d, g) in distinct.iter_mut().zip(key) {
            d.insert(g.as_deref());
        }
    }
    if cells == 0 {
        return 0;
    }
    // A unit falls in one window, or in several (a rolling window's twelve).
    let per_unit = units
        .iter()
        .flatten()
        .next()
        .map_or(1, |u| window.windows_of_unit(*u).count().max(1));
    let full: u32 = (1u32 << k) - 1;
    let levels: Vec<u32> = if rollups {
        (0..=full).collect()
    } else {
        vec![full]
    };
    let rows: usize = levels
        .iter()
        .map(|mask| {
            let combos = (0..k)
                .filter(|i| mask & (1 << i) != 0)
                .fold(units.len(), |acc, i| acc.saturating_mul(distinct[i].len()));
            combos.min(cells).saturating_mul(per_unit)
        })
        .fold(0usize, usize::saturating_add)
        .saturating_mul(measures);
    let per_row = std::mem::size_of::<slate_core::cube::ScoreRow>() + key_total / cells + 64;
    rows.saturating_mul(per_row)
}

/// One partition's stream of partial aggregate output: encoded batches, or the fused
/// aggregate's cells as they are.
enum CellStream {
    Encoded(datafusion::execution::SendableRecordBatchStream),
    Folded(
        futures::stream::BoxStream<'static, datafusion::error::Result<crate::fused::FoldedCells>>,
    ),
}

/// Where a partial aggregate's columns are: `n_starts` grain units, `k` group columns, then
/// one cell per measure (measure `m` bucketed by start `start_of[m]`).
struct Shape {
    n_starts: usize,
    k: usize,
    start_of: Vec<usize>,
}

impl Shape {
    /// Adds rows of a partial aggregate's output (`columns`: at least the units and the
    /// group columns; `cell(m, row)` each row's cell of measure `m`) to a partition's cells.
    /// Returns the bytes the cube grew by, roughly.
    fn add(
        &self,
        columns: &[ArrayRef],
        mut cell: impl FnMut(usize, usize) -> Result<MeasureCell>,
        (cube, outside): &mut (Cube, Vec<MeasureCell>),
    ) -> Result<usize> {
        let (n_starts, k) = (self.n_starts, self.k);
        let buckets: Vec<&datafusion::arrow::array::PrimitiveArray<Int32Type>> = (0..n_starts)
            .map(|j| columns[j].as_primitive::<Int32Type>())
            .collect();
        let groups = utf8_columns(&columns[n_starts..n_starts + k])?;
        let groups: Vec<&datafusion::arrow::array::StringArray> =
            groups.iter().map(|a| a.as_string::<i32>()).collect();
        let rows = columns.first().map_or(0, |c| c.len());
        // A cube entry: its key (with the map's own overhead) and one cell per measure.
        let entry = std::mem::size_of::<(Option<i32>, GroupKey, Vec<MeasureCell>)>()
            + self.start_of.len() * std::mem::size_of::<MeasureCell>()
            + 16;
        let mut bytes = 0usize;
        for row in 0..rows {
            let key = group_key(&groups, row);
            bytes = bytes.saturating_add(entry + key_bytes(&key));
            for (m, &s) in self.start_of.iter().enumerate() {
                let cell = cell(m, row)?;
                if cell.n_eligible() == 0 && cell.ambiguous_local == 0 {
                    continue;
                }
                bytes = bytes.saturating_add(cell.heap_size());
                let b = buckets[s];
                let unit = b.is_valid(row).then(|| b.value(row));
                if unit == Some(OUTSIDE_PERIOD) {
                    outside[m].absorb(cell);
                } else {
                    cube.absorb(unit, key.clone(), m, cell);
                }
            }
        }
        Ok(bytes)
    }
}

/// The tokio runtime slate's commands run DataFusion on: `threads` workers (default: the
/// machine's cores) and a small blocking pool.
///
/// DataFusion reads local files through `object_store`, which performs every read with
/// `spawn_blocking`; tokio's default pool grows to 512 threads, and a 10M-row scan made ~150
/// of them. Each thread holds its own allocator heap, which cost ~150 MB of peak memory for
/// no speed (the reads are page-cache copies). A pool of two per worker keeps the disk busy.
pub fn runtime(threads: Option<usize>) -> std::io::Result<tokio::runtime::Runtime> {
    let workers = threads.unwrap_or_else(cores).max(1);
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .max_blocking_threads(2 * workers)
        .enable_all()
        .build()
}

/// Refuses group-by columns that clash with the scorecard's own columns or are not in the input.
fn check_group_by(schema: &DFSchema, group_by: &[String]) -> Result<()> {
    for g in group_by {
        if RESERVED_COLUMNS.contains(&g.as_str())
            || g.starts_with('p') && (g.ends_with("_s") || g.ends_with("_wd"))
        {
            return Err(Error::BadGroupBy {
                column: g.clone(),
                reason: "clashes with a scorecard output column".into(),
            });
        }
        if !schema.has_column_with_unqualified_name(g) {
            return Err(Error::BadGroupBy {
                column: g.clone(),
                reason: format!("no such column; the input has {}", column_list(schema)),
            });
        }
    }
    Ok(())
}

/// The error for a policy measure that does not fit the input.
fn mismatch(policy: &SlaPolicy, m: &str, field: &str, reason: String) -> Error {
    Error::PolicyMismatch {
        policy: policy.name.clone(),
        measure: m.to_string(),
        field: field.to_string(),
        reason,
    }
}

/// Checks that a measure's clocks are timestamp columns of the input.
fn check_clocks(schema: &DFSchema, policy: &SlaPolicy, m: &Measure) -> Result<()> {
    // A deadline measure's start is its deadline column; a share's stop is its start.
    let first = match m.kind {
        MeasureKind::Deadline => "deadline",
        _ => "start",
    };
    let clocks = [(first, &m.start), ("stop", &m.stop)];
    for (field, c) in clocks {
        match schema.field_with_unqualified_name(c) {
            Err(_) => {
                return Err(mismatch(
                    policy,
                    &m.id,
                    field,
                    format!("no column {c:?}; the input has {}", column_list(schema)),
                ));
            }
            Ok(f) if !matches!(f.data_type(), DataType::Timestamp(_, _)) => {
                return Err(mismatch(
                    policy,
                    &m.id,
                    field,
                    format!("column {c:?} is {}, not a timestamp", f.data_type()),
                ));
            }
            Ok(_) => {}
        }
    }
    Ok(())
}

/// A measure's status per record: NULL = not applicable, k = named exclusion k (1-based),
/// 0 = measure it (a share: 0 success, -1 failure, -2 unknown).
fn status_expr(df: &DataFrame, policy: &SlaPolicy, m: &Measure) -> Result<Expr> {
    let schema = df.schema();
    let pred = |sql: &str, field: &str| -> Result<Expr> {
        let e = df.parse_sql_expr(sql).map_err(|e| {
            mismatch(
                policy,
                &m.id,
                field,
                format!(
                    "{sql:?} is not a valid predicate: {}",
                    first_line(&e.to_string())
                ),
            )
        })?;
        if let Some(why) = not_repeatable(&e) {
            return Err(mismatch(policy, &m.id, field, format!("{sql:?} {why}")));
        }
        let ty = e.get_type(schema).map_err(|e| {
            mismatch(
                policy,
                &m.id,
                field,
                format!("{sql:?}: {}", first_line(&e.to_string())),
            )
        })?;
        if !matches!(ty, DataType::Boolean | DataType::Null) {
            return Err(mismatch(
                policy,
                &m.id,
                field,
                format!("{sql:?} is {ty}, not a true/false predicate"),
            ));
        }
        Ok(e)
    };
    // status: NULL = not applicable, k = named exclusion k (1-based), 0 = measure it.
    // CASE takes a branch only when its condition is TRUE, so a NULL predicate means
    // "no" (a null grade is not grade 'I') without wrapping it in IS TRUE.
    let mut named: Option<datafusion::logical_expr::conditional_expressions::CaseBuilder> = None;
    for (j, ex) in m.exclusions.iter().enumerate() {
        let e = pred(&ex.where_sql, &format!("exclude[{j}].where"))?;
        let code = lit(j as i32 + 1);
        named = Some(match named {
            None => when(e, code),
            Some(mut c) => c.when(e, code),
        });
    }
    // A share's record is measured as its outcome: 0 success, -1 failure, -2 unknown.
    let measured = match &m.kind {
        MeasureKind::Share { success_sql } => {
            let ok = pred(success_sql, "success")?;
            when(ok.clone(), lit(0i32))
                .when(ok.is_false(), lit(-1i32))
                .otherwise(lit(-2i32))?
        }
        _ => lit(0i32),
    };
    let measured_or_named = match named {
        None => measured,
        Some(mut c) => c.otherwise(measured)?,
    };
    let status = match &m.where_sql {
        None => measured_or_named,
        Some(w) => {
            when(pred(w, "where")?, measured_or_named).otherwise(lit(ScalarValue::Int32(None)))?
        }
    };
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fused::FusedScorecardExec;
    use datafusion::arrow::array::BinaryArray;
    use slate_core::{PercentileMethod, SlaPolicy, TzRules};
    use slate_datagen::{GenConfig, generate_all};

    /// Every group of a partition with its cells, as `FusedScorecardExec::execute_cells`
    /// hands them on.
    async fn cells_of(
        fused: &FusedScorecardExec,
        p: usize,
        task: Arc<datafusion::execution::TaskContext>,
    ) -> Vec<(Vec<ScalarValue>, Vec<MeasureCell>)> {
        let mut out = Vec::new();
        let mut stream = fused.execute_cells(p, task).expect("execute cells");
        while let Some(f) = stream.next().await {
            let f = f.expect("cells");
            for row in 0..f.groups.first().map_or(0, |g| g.len()) {
                let key: Vec<ScalarValue> = (f.groups.iter())
                    .map(|g| ScalarValue::try_from_array(g, row).expect("key"))
                    .collect();
                let cells: Vec<MeasureCell> = f.cells.iter().map(|c| c[row].clone()).collect();
                out.push((key, cells));
            }
        }
        out
    }

    /// The fused aggregate hands its cells on two ways: encoded, as the aggregate's output
    /// batches (what DataFusion's next stage reads), and as they are (what `Plan::cells` reads).
    /// Both give the same groups with the same cells, partition by partition.
    #[test]
    fn the_fused_aggregates_batches_and_its_cells_hold_the_same_groups() {
        let config = GenConfig {
            rows: 20_000,
            seed: 27,
            from: NaiveDate::from_ymd_opt(2022, 1, 1).expect("date"),
            years: 1,
            dirty_rate: 0.05,
            promises: true,
        };
        let tz = Arc::new(TzRules::from_name("Europe/London").expect("zone"));
        let batches = generate_all(&config, &tz);
        let policy = SlaPolicy::builtin("mps-promise-2008").expect("policy");
        let opts = ScorecardOptions {
            window: slate_core::WindowKind::Month,
            group_by: vec!["borough".into(), "grade".into()],
            tz: tz.clone(),
            from: None,
            to: None,
            method: PercentileMethod::Linear,
            rollups: true,
            threads: Some(2),
        };
        let rt = runtime(Some(2)).expect("runtime");
        rt.block_on(async {
            let ctx = crate::session(tz.clone(), Some(2));
            let df = ctx.read_batches(batches).expect("batches");
            let plan = Plan::from_dataframe(df, &policy, &opts, 0, 0).expect("plan");
            let physical = plan.physical_plan().await.expect("physical plan");
            let mut fused = None;
            physical
                .apply(|node| {
                    if let Some(f) = node.downcast_ref::<FusedScorecardExec>() {
                        fused = Some(f.clone());
                        return Ok(TreeNodeRecursion::Stop);
                    }
                    Ok(TreeNodeRecursion::Continue)
                })
                .expect("walk");
            let fused = fused.expect("the plan has the fused aggregate");
            let k = opts.group_by.len() + plan.n_starts;
            let m = policy.measures.len();
            let partitions = fused.properties().output_partitioning().partition_count();
            let mut groups_seen = 0;
            for p in 0..partitions {
                let task = Arc::new(plan.df.task_ctx());
                let mut encoded = Vec::new();
                let mut stream = fused.execute(p, task.clone()).expect("execute");
                while let Some(b) = stream.next().await {
                    let b = b.expect("batch");
                    let cells: Vec<&BinaryArray> =
                        (0..m).map(|j| b.column(k + j).as_binary::<i32>()).collect();
                    for row in 0..b.num_rows() {
                        let key: Vec<ScalarValue> = (0..k)
                            .map(|j| ScalarValue::try_from_array(b.column(j), row).expect("key"))
                            .collect();
                        let cells: Vec<MeasureCell> = (cells.iter())
                            .map(|c| MeasureCell::decode(c.value(row)).expect("cell"))
                            .collect();
                        encoded.push((key, cells));
                    }
                }
                let direct = cells_of(&fused, p, task).await;
                assert_eq!(encoded, direct, "partition {p}");
                groups_seen += direct.len();
                // Sweeping idle groups' cells every 300 rows (so after every batch: groups go
                // idle and are given rows again) changes no cell.
                let swept = fused.clone().with_sweep_rows(300);
                let task = Arc::new(plan.df.task_ctx());
                assert_eq!(cells_of(&swept, p, task).await, direct, "partition {p}");
            }
            assert!(groups_seen > 100, "{groups_seen} groups");
        });
    }
}

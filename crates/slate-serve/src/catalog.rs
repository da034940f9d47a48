//! What is served: the session with slate's functions, its tables, and `scorecard(...)`.

use std::collections::VecDeque;
use std::num::NonZeroUsize;
use std::path::Path;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::NaiveDate;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{MemTable, Session, TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::runtime::SpawnedTask;
use datafusion::datasource::TableType;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::disk_manager::{DiskManager, DiskManagerMode};
use datafusion::execution::memory_pool::{GreedyMemoryPool, MemoryConsumer, TrackConsumersPool};
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::execution::session_state::SessionState;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::{ParquetReadOptions, SessionConfig, SessionContext};
use slate_core::tables::scorecard_batch;
use slate_core::{PercentileMethod, SlaPolicy, TzRules, WindowKind};
use slate_engine::{Input, Plan, ScorecardOptions};

use crate::live::LiveTable;

/// The catalog and schema tables are listed under (what a BI tool's browser shows).
pub(crate) const CATALOG: &str = "slate";
pub(crate) const SCHEMA: &str = "public";

/// How many results of `scorecard(...)` are kept for reuse, and how many bytes they may hold
/// together; past either, the oldest is dropped. A result larger than the byte bound is not
/// kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScorecardCacheLimits {
    /// Results kept at most.
    pub entries: usize,
    /// Bytes (Arrow buffers) the kept results hold at most.
    pub bytes: usize,
}

impl Default for ScorecardCacheLimits {
    /// 32 results, 256 MiB.
    fn default() -> Self {
        ScorecardCacheLimits {
            entries: 32,
            bytes: 256 << 20,
        }
    }
}

/// What is spilled to disk by sorts, joins and aggregations past their query's memory limit:
/// where, and how many bytes at most across all queries at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpillOptions {
    /// A directory that exists; `None`: the system's temporary directory (`$TMPDIR`, else
    /// `/tmp`). DataFusion makes a `datafusion-*` folder in it, removed when the server stops.
    pub dir: Option<std::path::PathBuf>,
    /// Spill files of all running queries together, bytes; a query that would write past it
    /// fails.
    pub limit_bytes: u64,
}

impl Default for SpillOptions {
    /// The system's temporary directory, 10 GiB.
    fn default() -> Self {
        SpillOptions {
            dir: None,
            limit_bytes: 10 << 30,
        }
    }
}

/// The point at which a query is cancelled, in its session's config: `scorecard(...)` is
/// computed while the query is planned and keeps to it too.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline(pub(crate) tokio::time::Instant);

/// Errors while setting up what is served.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// DataFusion could not read or register a table.
    #[error(transparent)]
    DataFusion(#[from] DataFusionError),
    /// The engine could not open the input.
    #[error(transparent)]
    Engine(#[from] slate_engine::Error),
    /// A table name used twice, or not usable in SQL.
    #[error("table name {0:?}: {1}")]
    Name(String, String),
    /// The spill directory cannot be used.
    #[error("spill directory {0}: {1}")]
    Spill(String, String),
    /// A served file of a kind that cannot be served.
    #[error("{0}: serve Parquet (.parquet) or Arrow IPC (.arrow) files")]
    FileKind(String),
}

/// The session every query starts from: slate's functions and the served tables.
pub struct Catalog {
    ctx: SessionContext,
    tz: Arc<TzRules>,
    cache_limits: ScorecardCacheLimits,
}

impl Catalog {
    /// An empty catalog whose functions read naive clocks and calendar windows in `tz`;
    /// spills as [`SpillOptions::default`] says (DataFusion's defaults if that cannot be set
    /// up; see [`Catalog::with_spill`]).
    pub fn new(tz: Arc<TzRules>) -> Self {
        Self::with_spill(tz.clone(), &SpillOptions::default())
            .unwrap_or_else(|_| Self::from_runtime(tz, Arc::new(RuntimeEnv::default())))
    }

    /// [`Catalog::new`] with queries' spill files where and as many as `spill` says.
    pub fn with_spill(tz: Arc<TzRules>, spill: &SpillOptions) -> Result<Self, CatalogError> {
        let mode = match &spill.dir {
            Some(d) => {
                if !d.is_dir() {
                    return Err(CatalogError::Spill(
                        d.display().to_string(),
                        "not a directory (create it first)".into(),
                    ));
                }
                DiskManagerMode::Directories(vec![d.clone()])
            }
            None => DiskManagerMode::OsTmpDirectory,
        };
        let disk = DiskManager::builder()
            .with_mode(mode)
            .with_max_temp_directory_size(spill.limit_bytes)
            .build()
            .map_err(|e| {
                let dir = spill
                    .dir
                    .as_ref()
                    .map_or_else(std::env::temp_dir, |d| d.clone());
                CatalogError::Spill(dir.display().to_string(), e.strip_backtrace())
            })?;
        let runtime = RuntimeEnv {
            disk_manager: Arc::new(disk),
            ..RuntimeEnv::default()
        };
        Ok(Self::from_runtime(tz, Arc::new(runtime)))
    }

    fn from_runtime(tz: Arc<TzRules>, runtime: Arc<RuntimeEnv>) -> Self {
        let config = SessionConfig::new()
            .with_default_catalog_and_schema(CATALOG, SCHEMA)
            // `information_schema.tables/columns`: what SQL-only BI tools browse.
            .with_information_schema(true);
        let ctx = SessionContext::new_with_config_rt(config, runtime);
        slate_engine::udf::register_all(&ctx, tz.clone());
        Catalog {
            ctx,
            tz,
            cache_limits: ScorecardCacheLimits::default(),
        }
    }

    /// Bounds the cache of `scorecard(...)` results (set before [`Catalog::add_records`]).
    pub fn with_scorecard_cache(mut self, limits: ScorecardCacheLimits) -> Self {
        self.cache_limits = limits;
        self
    }

    /// Serves `input` as `records`, and `scorecard(...)` over it. `policies` are the policies
    /// `scorecard(...)` accepts by name besides the built-in ones (a client never names a file:
    /// that would let it read the server's files).
    pub async fn add_records(
        &self,
        input: &Input,
        policies: Vec<SlaPolicy>,
    ) -> Result<(), CatalogError> {
        let df = input.dataframe(&self.ctx).await?;
        self.register("records", df.into_view())?;
        self.add_scorecard_fn(policies);
        Ok(())
    }

    /// `scorecard(...)` over the served `records`.
    fn add_scorecard_fn(&self, policies: Vec<SlaPolicy>) {
        self.ctx.register_udtf(
            "scorecard",
            Arc::new(ScorecardFn {
                tz: self.tz.clone(),
                policies: Arc::new(policies),
                cache: Arc::new(Mutex::new(Cache {
                    kept: VecDeque::new(),
                    bytes: 0,
                    limits: self.cache_limits,
                })),
            }),
        );
    }

    /// Serves a scorecard, ledger or any Parquet/Arrow IPC file as table `name`, held in
    /// memory. Returns its rows.
    pub async fn add_file(&self, name: &str, path: &Path) -> Result<usize, CatalogError> {
        let p = path.to_string_lossy().into_owned();
        let df = match path.extension().and_then(|e| e.to_str()) {
            Some("parquet") => {
                self.ctx
                    .read_parquet(p, ParquetReadOptions::default())
                    .await?
            }
            Some("arrow") => {
                self.ctx
                    .read_arrow(
                        p,
                        datafusion::execution::options::ArrowReadOptions::default(),
                    )
                    .await?
            }
            _ => return Err(CatalogError::FileKind(p)),
        };
        let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
        let batches = df.collect().await?;
        let rows = batches.iter().map(RecordBatch::num_rows).sum();
        self.register(name, Arc::new(MemTable::try_new(schema, vec![batches])?))?;
        Ok(rows)
    }

    /// Serves a table whose contents the caller replaces whole ([`LiveTable::publish`]).
    pub fn add_live(&self, name: &str, schema: SchemaRef) -> Result<LiveTable, CatalogError> {
        let t = LiveTable::new(schema);
        self.register(name, Arc::new(t.clone()))?;
        Ok(t)
    }

    /// The served tables' names, sorted.
    pub fn table_names(&self) -> Vec<String> {
        let mut names = self
            .ctx
            .catalog(CATALOG)
            .and_then(|c| c.schema(SCHEMA))
            .map(|s| s.table_names())
            .unwrap_or_default();
        names.sort();
        names
    }

    fn register(&self, name: &str, table: Arc<dyn TableProvider>) -> Result<(), CatalogError> {
        let plain = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            && !name.starts_with(|c: char| c.is_ascii_digit());
        if !plain {
            return Err(CatalogError::Name(
                name.into(),
                "use lower-case letters, digits and _ (so SQL needs no quotes)".into(),
            ));
        }
        if self.ctx.table_exist(name)? {
            return Err(CatalogError::Name(name.into(), "served twice".into()));
        }
        self.ctx.register_table(name, table)?;
        Ok(())
    }

    /// A session for one query: the served tables and functions, and a memory pool of its own
    /// of `memory_limit` bytes (one query running out fails alone).
    pub(crate) fn query_context(&self, memory_limit: usize) -> SessionContext {
        self.query_context_until(memory_limit, None)
    }

    /// [`Catalog::query_context`] for a query cancelled at `deadline`.
    pub(crate) fn query_context_until(
        &self,
        memory_limit: usize,
        deadline: Option<tokio::time::Instant>,
    ) -> SessionContext {
        let state = self.ctx.state();
        let base = state.runtime_env();
        let pool = TrackConsumersPool::new(
            GreedyMemoryPool::new(memory_limit),
            NonZeroUsize::new(3).unwrap_or(NonZeroUsize::MIN),
        );
        let runtime = RuntimeEnv {
            memory_pool: Arc::new(pool),
            ..base.as_ref().clone()
        };
        // Without `create_default_catalog_and_schema(false)` the builder would replace the
        // served catalog with an empty one.
        let mut config = state
            .config()
            .clone()
            .with_create_default_catalog_and_schema(false)
            .with_extension(Arc::new(crate::live::Pins::default()));
        if let Some(d) = deadline {
            config = config.with_extension(Arc::new(Deadline(d)));
        }
        let state = SessionStateBuilder::new_from_existing(state)
            .with_config(config)
            .with_runtime_env(Arc::new(runtime))
            .build();
        SessionContext::new_with_state(state)
    }

    /// The base session (metadata calls list its catalogs and tables).
    pub(crate) fn context(&self) -> &SessionContext {
        &self.ctx
    }
}

/// One computed scorecard, keyed by its arguments, with its size in bytes.
type Cached = (String, Arc<RecordBatch>, usize);

/// Computed scorecards, oldest first, within [`ScorecardCacheLimits`].
#[derive(Debug)]
struct Cache {
    kept: VecDeque<Cached>,
    bytes: usize,
    limits: ScorecardCacheLimits,
}

impl Cache {
    fn get(&self, key: &str) -> Option<Arc<RecordBatch>> {
        self.kept
            .iter()
            .find(|(k, _, _)| k == key)
            .map(|(_, b, _)| b.clone())
    }

    /// Keeps `batch` under `key`, dropping the oldest results until both bounds hold; a result
    /// larger than the byte bound is not kept.
    fn put(&mut self, key: &str, batch: Arc<RecordBatch>) {
        let size = batch.get_array_memory_size();
        if size > self.limits.bytes || self.limits.entries == 0 || self.get(key).is_some() {
            return;
        }
        while self.kept.len() >= self.limits.entries || self.bytes + size > self.limits.bytes {
            match self.kept.pop_front() {
                Some((_, _, n)) => self.bytes -= n,
                None => break,
            }
        }
        self.bytes += size;
        self.kept.push_back((key.to_string(), batch, size));
    }
}

/// `scorecard(policy [, window [, by [, from [, to]]]])`: a policy's scorecard over `records`,
/// computed by slate's own plan. `policy` is a built-in name (`mps-promise-2008` or
/// `builtin:mps-promise-2008`) or the name of a policy the server was started with; `window`
/// as `slate run --window` (default `month`); `by` comma-separated columns (default
/// `borough,grade`, `''` for none); `from`/`to` local days `YYYY-MM-DD` (inclusive/exclusive).
#[derive(Debug)]
struct ScorecardFn {
    tz: Arc<TzRules>,
    policies: Arc<Vec<SlaPolicy>>,
    cache: Arc<Mutex<Cache>>,
}

const USAGE: &str = "scorecard(policy [, window [, by [, from [, to]]]]), each a string literal";

impl TableFunctionImpl for ScorecardFn {
    fn call_with_args(&self, args: TableFunctionArgs) -> DfResult<Arc<dyn TableProvider>> {
        let exprs = args.exprs();
        if exprs.is_empty() || exprs.len() > 5 {
            return Err(DataFusionError::Plan(format!("usage: {USAGE}")));
        }
        let mut text = Vec::with_capacity(5);
        for (i, e) in exprs.iter().enumerate() {
            let v = match e {
                Expr::Literal(v, _) => v.try_as_str().map(|s| s.unwrap_or("").to_string()),
                _ => None,
            };
            text.push(v.ok_or_else(|| {
                DataFusionError::Plan(format!(
                    "scorecard(): argument {} is not a string; {USAGE}",
                    i + 1
                ))
            })?);
        }
        let arg = |i: usize| text.get(i).map(|s| s.trim()).filter(|s| !s.is_empty());
        let spec = arg(0).unwrap_or("");
        let policy = match self.policies.iter().find(|p| p.name == spec) {
            Some(p) => p.clone(),
            None => SlaPolicy::builtin(spec.strip_prefix("builtin:").unwrap_or(spec)).map_err(
                |e| {
                    let served: Vec<&str> = self.policies.iter().map(|p| p.name.as_str()).collect();
                    DataFusionError::Plan(format!(
                        "scorecard(): {e}; served policies: [{}] (built-in ones: `slate policy list`)",
                        served.join(", ")
                    ))
                },
            )?,
        };
        let window = match arg(1) {
            Some(w) => WindowKind::from_str(w)
                .map_err(|e| DataFusionError::Plan(format!("scorecard(): window: {e}")))?,
            None => WindowKind::from_str("month").map_err(DataFusionError::Plan)?,
        };
        let group_by: Vec<String> = match text.get(2) {
            Some(by) => by
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
            None => vec!["borough".into(), "grade".into()],
        };
        let date = |i: usize| -> DfResult<Option<NaiveDate>> {
            arg(i)
                .map(|s| {
                    slate_core::calendar::parse_date(s)
                        .map_err(|e| DataFusionError::Plan(format!("scorecard(): {e}")))
                })
                .transpose()
        };
        let opts = ScorecardOptions {
            window,
            group_by,
            tz: self.tz.clone(),
            from: date(3)?,
            to: date(4)?,
            method: PercentileMethod::Linear,
            rollups: true,
            threads: None,
        };
        let key = format!(
            "{}\u{1f}{}\u{1f}{}\u{1f}{:?}\u{1f}{:?}",
            policy.name,
            text.get(1).map_or("", |s| s.trim()),
            opts.group_by.join(","),
            opts.from,
            opts.to
        );
        let schema = slate_core::tables::scorecard_schema(&policy, &opts.group_by);
        Ok(Arc::new(ScorecardTable {
            key,
            policy,
            opts,
            schema,
            cache: self.cache.clone(),
        }))
    }
}

/// A `scorecard(...)` call: computed when scanned (or taken from the cache).
#[derive(Debug)]
struct ScorecardTable {
    key: String,
    policy: SlaPolicy,
    opts: ScorecardOptions,
    schema: SchemaRef,
    cache: Arc<Mutex<Cache>>,
}

impl ScorecardTable {
    fn cached(&self) -> Option<Arc<RecordBatch>> {
        self.cache.lock().ok()?.get(&self.key)
    }

    /// Computes the scorecard (or takes it from the cache) under the query's own session: its
    /// memory pool accounts for the aggregation, the cube, the scores and the result, and its
    /// deadline cancels the computation.
    async fn compute(&self, state: &dyn Session) -> DfResult<Arc<RecordBatch>> {
        if let Some(b) = self.cached() {
            return Ok(b);
        }
        let state = state
            .as_any()
            .downcast_ref::<SessionState>()
            .ok_or_else(|| DataFusionError::Internal("scorecard(): not a SessionState".into()))?;
        let deadline = state.config().get_extension::<Deadline>().map(|d| d.0);
        let pool = state.runtime_env().memory_pool.clone();
        let ctx = SessionContext::new_with_state(state.clone());
        let (policy, opts) = (self.policy.clone(), self.opts.clone());
        // Its own task: the scores are read off the cube without yielding, and the deadline
        // must still be noticed (dropping the task cancels it).
        let task = SpawnedTask::spawn(async move {
            let df = ctx.table("records").await?;
            let card = Plan::from_dataframe(df, &policy, &opts, 0, 0)
                .map_err(engine_error)?
                .run()
                .await
                .map_err(engine_error)?;
            let batch = scorecard_batch(&card.scores, &policy)
                .map_err(|e| DataFusionError::Execution(format!("scorecard(): {e}")))?;
            Ok::<_, DataFusionError>(batch)
        });
        let late =
            || DataFusionError::Execution("scorecard(): cancelled at the query's timeout".into());
        let joined = match deadline {
            Some(d) => tokio::time::timeout_at(d, task.join())
                .await
                .map_err(|_| late())?,
            None => task.join().await,
        };
        // A result that came only after the deadline is late all the same.
        if deadline.is_some_and(|d| tokio::time::Instant::now() >= d) {
            return Err(late());
        }
        let batch =
            joined.map_err(|e| DataFusionError::Execution(format!("scorecard(): {e}")))??;
        // The result is served from memory: it must fit the query's limit too.
        let held = MemoryConsumer::new("scorecard() result").register(&pool);
        held.try_grow(batch.get_array_memory_size())?;
        let batch = Arc::new(batch);
        if let Ok(mut cache) = self.cache.lock() {
            cache.put(&self.key, batch.clone());
        }
        Ok(batch)
    }
}

/// An engine error as DataFusion's, keeping DataFusion's own (a memory limit stays
/// "resources exhausted").
fn engine_error(e: slate_engine::Error) -> DataFusionError {
    match e {
        slate_engine::Error::DataFusion(e) => e,
        e => DataFusionError::Execution(format!("scorecard(): {e}")),
    }
}

#[async_trait]
impl TableProvider for ScorecardTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Temporary
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let batch = self.compute(state).await?;
        MemTable::try_new(self.schema.clone(), vec![vec![batch.as_ref().clone()]])?
            .scan(state, projection, filters, limit)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::Int32Array;
    use datafusion::arrow::datatypes::{DataType, Field, Schema};

    fn batch(bytes: usize) -> Arc<RecordBatch> {
        let schema = Arc::new(Schema::new(vec![Field::new("v", DataType::Int32, false)]));
        let values = Int32Array::from(vec![0; bytes / 4]);
        Arc::new(
            RecordBatch::try_new(schema, vec![Arc::new(values)]).unwrap_or_else(|e| panic!("{e}")),
        )
    }

    #[test]
    fn the_scorecard_cache_is_bounded_by_entries_and_bytes_dropping_the_oldest() {
        let limits = ScorecardCacheLimits {
            entries: 3,
            bytes: 1 << 20,
        };
        let mut cache = Cache {
            kept: VecDeque::new(),
            bytes: 0,
            limits,
        };
        for k in ["a", "b", "c", "d"] {
            cache.put(k, batch(1 << 10));
        }
        let keys: Vec<&str> = cache.kept.iter().map(|(k, _, _)| k.as_str()).collect();
        assert_eq!(keys, ["b", "c", "d"]);
        // Bytes: a result of 600 KiB pushes out the older ones until it fits.
        cache.put("big", batch(600 << 10));
        cache.put("big2", batch(600 << 10));
        let keys: Vec<&str> = cache.kept.iter().map(|(k, _, _)| k.as_str()).collect();
        assert_eq!(keys, ["big2"]);
        assert!(cache.bytes <= limits.bytes);
        // A result larger than the whole cache is not kept.
        cache.put("huge", batch(2 << 20));
        assert!(cache.get("huge").is_none() && cache.get("big2").is_some());
    }

    #[tokio::test]
    async fn scorecard_keeps_to_the_querys_deadline_and_memory() {
        let tz = TzRules::from_name("Europe/London").unwrap_or_else(|e| panic!("{e}"));
        let catalog = Catalog::new(Arc::new(tz));
        let schema = slate_core::schema::canonical_schema();
        // One record with every column null (no start clock: a ledger row, a cube cell).
        let nulls = schema
            .fields()
            .iter()
            .map(|f| -> datafusion::arrow::array::ArrayRef {
                if f.is_nullable() {
                    datafusion::arrow::array::new_null_array(f.data_type(), 1)
                } else {
                    Arc::new(datafusion::arrow::array::StringArray::from(vec!["i1"]))
                }
            })
            .collect();
        let one = RecordBatch::try_new(schema.clone(), nulls).unwrap_or_else(|e| panic!("{e}"));
        let records = MemTable::try_new(schema, vec![vec![one]]).unwrap_or_else(|e| panic!("{e}"));
        catalog
            .register("records", Arc::new(records))
            .unwrap_or_else(|e| panic!("{e}"));
        catalog.add_scorecard_fn(Vec::new());
        let sql = "SELECT * FROM scorecard('mps-promise-2008', 'month', 'borough')";
        // A deadline already passed: cancelled, not computed.
        let ctx = catalog.query_context_until(1 << 30, Some(tokio::time::Instant::now()));
        let e = match ctx.sql(sql).await {
            Ok(df) => df.collect().await.err(),
            Err(e) => Some(e),
        };
        let e = e.map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("cancelled at the query's timeout"), "{e}");
        // 64 bytes of memory: the result does not fit.
        let ctx = catalog.query_context_until(64, None);
        let e = match ctx.sql(sql).await {
            Ok(df) => df.collect().await.err(),
            Err(e) => Some(e),
        };
        assert!(
            e.as_ref()
                .is_some_and(|e| matches!(e.find_root(), DataFusionError::ResourcesExhausted(_))),
            "{e:?}"
        );
        // Time and memory enough: computed.
        let ctx = catalog.query_context_until(1 << 30, None);
        let rows = ctx
            .sql(sql)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .collect()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(rows.iter().all(|b| b.schema().fields().len() > 5));
    }

    #[tokio::test]
    async fn spill_files_go_to_the_spill_directory_up_to_the_limit() {
        let tz = TzRules::from_name("UTC").unwrap_or_else(|e| panic!("{e}"));
        let dir = std::env::temp_dir().join(format!("slate-spill-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        let spill = SpillOptions {
            dir: Some(dir.clone()),
            limit_bytes: 1,
        };
        let catalog = Catalog::with_spill(Arc::new(tz), &spill).unwrap_or_else(|e| panic!("{e}"));
        let made = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{e}"))
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("datafusion-"));
        assert!(made, "no datafusion-* folder in {}", dir.display());
        // A sort past 16 MiB of memory spills, and the first byte written is past the limit.
        let ctx = catalog.query_context_until(16 << 20, None);
        ctx.state_ref()
            .write()
            .config_mut()
            .options_mut()
            .execution
            .target_partitions = 1;
        let e = match ctx
            .sql("SELECT value FROM generate_series(1, 3000000) ORDER BY value DESC")
            .await
        {
            Ok(df) => df.collect().await.err(),
            Err(e) => Some(e),
        };
        let e = e.map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("allowable limit"), "{e}");
        // A directory that does not exist is refused.
        let missing = SpillOptions {
            dir: Some(dir.join("missing")),
            limit_bytes: 1,
        };
        let tz = TzRules::from_name("UTC").unwrap_or_else(|e| panic!("{e}"));
        let e = Catalog::with_spill(Arc::new(tz), &missing).err();
        assert!(e.is_some_and(|e| e.to_string().contains("not a directory")));
        drop(catalog);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

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
use datafusion::datasource::TableType;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::memory_pool::{GreedyMemoryPool, TrackConsumersPool};
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::execution::session_state::SessionState;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::{ParquetReadOptions, SessionConfig, SessionContext};
use slate_core::report::scorecard_batch;
use slate_core::{PercentileMethod, SlaPolicy, TzRules, WindowKind};
use slate_engine::{Input, Plan, ScorecardOptions};

use crate::live::LiveTable;

/// The catalog and schema tables are listed under (what a BI tool's browser shows).
pub(crate) const CATALOG: &str = "slate";
pub(crate) const SCHEMA: &str = "public";

/// Scorecards computed by `scorecard(...)` kept for reuse.
const CACHED_SCORECARDS: usize = 32;

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
    /// A served file of a kind that cannot be served.
    #[error("{0}: serve Parquet (.parquet) or Arrow IPC (.arrow) files")]
    FileKind(String),
}

/// The session every query starts from: slate's functions and the served tables.
pub struct Catalog {
    ctx: SessionContext,
    tz: Arc<TzRules>,
}

impl Catalog {
    /// An empty catalog whose functions read naive clocks and calendar windows in `tz`.
    pub fn new(tz: Arc<TzRules>) -> Self {
        let config = SessionConfig::new()
            .with_default_catalog_and_schema(CATALOG, SCHEMA)
            // `information_schema.tables/columns`: what SQL-only BI tools browse.
            .with_information_schema(true);
        let ctx = SessionContext::new_with_config(config);
        slate_engine::udf::register_all(&ctx, tz.clone());
        Catalog { ctx, tz }
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
        self.ctx.register_udtf(
            "scorecard",
            Arc::new(ScorecardFn {
                tz: self.tz.clone(),
                policies: Arc::new(policies),
                cache: Arc::new(Mutex::new(VecDeque::new())),
            }),
        );
        Ok(())
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
        let config = state
            .config()
            .clone()
            .with_create_default_catalog_and_schema(false)
            .with_extension(Arc::new(crate::live::Pins::default()));
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

/// One computed scorecard, keyed by its arguments.
type Cached = (String, Arc<RecordBatch>);

/// `scorecard(policy [, window [, by [, from [, to]]]])`: a policy's scorecard over `records`,
/// computed by slate's own plan. `policy` is a built-in name (`mps-promise-2008` or
/// `builtin:mps-promise-2008`) or the name of a policy the server was started with; `window`
/// as `slate run --window` (default `month`); `by` comma-separated columns (default
/// `borough,grade`, `''` for none); `from`/`to` local days `YYYY-MM-DD` (inclusive/exclusive).
#[derive(Debug)]
struct ScorecardFn {
    tz: Arc<TzRules>,
    policies: Arc<Vec<SlaPolicy>>,
    cache: Arc<Mutex<VecDeque<Cached>>>,
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
        let schema = slate_core::report::scorecard_schema(&policy, &opts.group_by);
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
    cache: Arc<Mutex<VecDeque<Cached>>>,
}

impl ScorecardTable {
    fn cached(&self) -> Option<Arc<RecordBatch>> {
        let cache = self.cache.lock().ok()?;
        cache
            .iter()
            .find(|(k, _)| *k == self.key)
            .map(|(_, b)| b.clone())
    }

    async fn compute(&self, state: &dyn Session) -> DfResult<Arc<RecordBatch>> {
        if let Some(b) = self.cached() {
            return Ok(b);
        }
        // The query's own session: its memory pool bounds the aggregation too.
        let state = state
            .as_any()
            .downcast_ref::<SessionState>()
            .ok_or_else(|| DataFusionError::Internal("scorecard(): not a SessionState".into()))?;
        let ctx = SessionContext::new_with_state(state.clone());
        let df = ctx.table("records").await?;
        let err = |e: slate_engine::Error| DataFusionError::Execution(format!("scorecard(): {e}"));
        let card = Plan::from_dataframe(df, &self.policy, &self.opts, 0, 0)
            .map_err(err)?
            .run()
            .await
            .map_err(err)?;
        let batch = Arc::new(
            scorecard_batch(&card.report, &self.policy)
                .map_err(|e| DataFusionError::Execution(format!("scorecard(): {e}")))?,
        );
        if let Ok(mut cache) = self.cache.lock()
            && !cache.iter().any(|(k, _)| *k == self.key)
        {
            if cache.len() >= CACHED_SCORECARDS {
                cache.pop_front();
            }
            cache.push_back((self.key.clone(), batch.clone()));
        }
        Ok(batch)
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

//! A table whose contents are replaced whole (the live `latest` scorecard of `slate stream`),
//! and a server of such tables running beside their writer ([`LiveServer`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use async_trait::async_trait;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{MemTable, Session, TableProvider};
use datafusion::datasource::TableType;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;

/// A set of batches swapped as one: a query takes the current set when it first scans the
/// table and reads only that (every scan of the table in one query reads the same set, see
/// `Pins`), so it sees one whole emission even while the next is published.
#[derive(Debug, Clone)]
pub struct LiveTable {
    schema: SchemaRef,
    current: Arc<RwLock<Arc<Vec<RecordBatch>>>>,
}

impl LiveTable {
    /// An empty table of `schema` (a query before the first emission reads no rows).
    pub fn new(schema: SchemaRef) -> Self {
        LiveTable {
            schema,
            current: Arc::new(RwLock::new(Arc::new(Vec::new()))),
        }
    }

    /// Replaces the contents. Each batch must have the table's schema.
    pub fn publish(&self, batches: Vec<RecordBatch>) -> Result<()> {
        if let Some(b) = batches
            .iter()
            .find(|b| b.schema().fields() != self.schema.fields())
        {
            return Err(DataFusionError::Execution(format!(
                "live table: an emission's columns ({}) differ from the table's ({})",
                b.schema(),
                self.schema
            )));
        }
        let new = Arc::new(batches);
        // Only the pointer swap holds the lock; readers clone the Arc and release it.
        match self.current.write() {
            Ok(mut g) => *g = new,
            Err(poisoned) => *poisoned.into_inner() = new,
        }
        Ok(())
    }

    /// The current emission.
    pub fn snapshot(&self) -> Arc<Vec<RecordBatch>> {
        match self.current.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

/// The emission each live table showed a query first, kept for the rest of that query (a
/// session config extension: one per query's session).
#[derive(Debug, Default)]
pub(crate) struct Pins(Mutex<HashMap<usize, Arc<Vec<RecordBatch>>>>);

#[async_trait]
impl TableProvider for LiveTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let key = Arc::as_ptr(&self.current) as usize;
        let snapshot = match state.config().get_extension::<Pins>() {
            Some(pins) => {
                let mut pinned = pins.0.lock().unwrap_or_else(|p| p.into_inner());
                pinned.entry(key).or_insert_with(|| self.snapshot()).clone()
            }
            None => self.snapshot(),
        };
        let batches = snapshot.as_ref().clone();
        MemTable::try_new(self.schema.clone(), vec![batches])?
            .scan(state, projection, filters, limit)
            .await
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::Int64Array;
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::physical_plan::collect;

    use super::*;
    use crate::Catalog;

    fn batch(schema: &SchemaRef, v: i64) -> RecordBatch {
        RecordBatch::try_new(schema.clone(), vec![Arc::new(Int64Array::from(vec![v]))])
            .unwrap_or_else(|e| panic!("{e}"))
    }

    async fn scan_value(t: &LiveTable, state: &dyn Session) -> Vec<i64> {
        let plan = t
            .scan(state, None, &[], None)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let batches = collect(plan, state.task_ctx())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        batches
            .iter()
            .flat_map(|b| {
                let a = b.column(0).as_any().downcast_ref::<Int64Array>();
                a.map(|a| a.values().to_vec()).unwrap_or_default()
            })
            .collect()
    }

    #[tokio::test]
    async fn a_query_keeps_the_emission_it_first_saw() {
        let tz = slate_core::TzRules::from_name("Europe/London").unwrap_or_else(|e| panic!("{e}"));
        let catalog = Catalog::new(Arc::new(tz));
        let schema: SchemaRef =
            Arc::new(Schema::new(vec![Field::new("v", DataType::Int64, false)]));
        let live = catalog
            .add_live("latest", schema.clone())
            .unwrap_or_else(|e| panic!("{e}"));
        live.publish(vec![batch(&schema, 1)])
            .unwrap_or_else(|e| panic!("{e}"));
        let query = catalog.query_context(1 << 20).state();
        assert_eq!(scan_value(&live, &query).await, [1]);
        live.publish(vec![batch(&schema, 2)])
            .unwrap_or_else(|e| panic!("{e}"));
        // The same query scanning again: still emission 1; a new query: emission 2.
        assert_eq!(scan_value(&live, &query).await, [1]);
        let next = catalog.query_context(1 << 20).state();
        assert_eq!(scan_value(&live, &next).await, [2]);
        // An emission of other columns is refused, and the table keeps the last good one.
        let other: SchemaRef = Arc::new(Schema::new(vec![Field::new("w", DataType::Int64, false)]));
        assert!(live.publish(vec![batch(&other, 3)]).is_err());
        assert_eq!(live.snapshot().len(), 1);
    }
}

/// A Flight SQL server of live tables, running beside the task that publishes them (`slate
/// stream --serve`).
#[derive(Debug)]
pub struct LiveServer {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::result::Result<(), crate::ServeError>>,
    addr: std::net::SocketAddr,
}

impl LiveServer {
    /// Starts serving `tables` (name and schema; each empty until published) on `listener`,
    /// naive clocks read in `tz`. Returns the tables, in the order given, to publish through.
    pub async fn start(
        listener: tokio::net::TcpListener,
        opts: crate::ServeOptions,
        tz: Arc<slate_core::TzRules>,
        tables: &[(&str, SchemaRef)],
    ) -> std::result::Result<(Vec<LiveTable>, LiveServer), crate::ServeError> {
        let addr = listener
            .local_addr()
            .map_err(|e| crate::ServeError::Task(e.to_string()))?;
        let catalog = crate::Catalog::new(tz);
        let live = tables
            .iter()
            .map(|(name, schema)| catalog.add_live(name, schema.clone()))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(crate::serve(Arc::new(catalog), listener, opts, async {
            let _ = stopped.await;
        }));
        Ok((live, LiveServer { stop, task, addr }))
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> std::net::SocketAddr {
        self.addr
    }

    /// Serves until `shutdown` completes, then stops; or returns the server's own failure (a
    /// transport error) as soon as it ends by itself.
    pub async fn serve_until(
        self,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> std::result::Result<(), crate::ServeError> {
        let LiveServer { stop, mut task, .. } = self;
        let joined = |r: std::result::Result<_, tokio::task::JoinError>| {
            r.map_err(|e| crate::ServeError::Task(e.to_string()))?
        };
        tokio::select! {
            () = shutdown => {
                let _ = stop.send(());
                joined(task.await)
            }
            r = &mut task => joined(r),
        }
    }
}

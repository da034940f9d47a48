//! A table whose contents are replaced whole: the live `latest` scorecard of `slate stream`.

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

//! The fused scorecard aggregate: one operator in DataFusion's plan that does what the
//! scorecard's `AggregateExec` does (group by grain units and group columns, one `sla_hist` per
//! measure) in one pass per batch.
//!
//! Profiles of `slate run` put most of the time above the scan floor in work the general
//! aggregate does per measure and per row: each measure's status `CASE` evaluated into its own
//! array (string equality on Utf8View taking arrow's slow path), DataFusion's row-format
//! hashing of the Utf8View group keys, and one pass of `sla_hist` per measure. Here:
//! - group keys are small integers: a grain unit as it is, a string column's value interned
//!   once per distinct view (through a small cache of views) or dictionary value, and a row's
//!   key is packed into one `u64` (when each part fits in 20 bits) looked up in a small
//!   direct-mapped cache, then in one hash table;
//! - a status `CASE` is read per row from bitmaps of its conditions; `col = 'literal'` on a
//!   string column compares the 16-byte views (or the dictionary's values) directly, and any
//!   other condition or status is evaluated by DataFusion as before;
//! - each measure walks only the rows its `where` selects and adds them with `sla_hist`'s own
//!   per-row step (`udf::hist_agg::RowFold`), so a cell holds exactly what the aggregate's would;
//! - when measures start at different clocks, each measure's rows are grouped by its own
//!   start's unit, not by every start's unit at once as the aggregate groups them (see
//!   `StartKeys`): the output rows then carry one unit each, the others null, and every
//!   measure's cells are the same records.
//!
//! The operator's output is the aggregate's own (same schema: the group values and each
//! measure's encoded cell), so whatever reads a partial aggregate reads it unchanged; a reader
//! that keeps cells (the scorecard's cube) takes them as they are from
//! [`FusedScorecardExec::execute_cells`] instead.
//! [`fuse`] puts it in place of an aggregate it can replace and leaves any other plan as it
//! is: that plan, with DataFusion's own aggregate, is the fallback.

use std::collections::HashMap;
use std::collections::VecDeque;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BinaryBuilder, BooleanArray, Int32Array, Int64Array, RecordBatch,
    StringViewArray,
};
use datafusion::arrow::buffer::{BooleanBuffer, Buffer, NullBuffer};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{Result, ScalarValue};
use datafusion::error::DataFusionError;
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryReservation};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::Operator;
use datafusion::physical_expr::ScalarFunctionExpr;
use datafusion::physical_expr::expressions::{BinaryExpr, CaseExpr, Column, Literal};
use datafusion::physical_plan::aggregates::{AggregateExec, AggregateMode};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, PhysicalExpr, PlanProperties,
};
use futures::StreamExt;
use slate_core::policy::MeasureKind;
use slate_core::{MeasureCell, TzRules};

use crate::udf::{BucketUdf, RowFold, SlaHist};

/// Replaces every aggregate in `plan` that [`FusedScorecardExec::try_new`] can replace.
pub fn fuse(plan: Arc<dyn ExecutionPlan>) -> Result<Arc<dyn ExecutionPlan>> {
    plan.transform_up(|node| {
        let Some(agg) = node.downcast_ref::<AggregateExec>() else {
            return Ok(Transformed::no(node));
        };
        Ok(match FusedScorecardExec::try_new(agg) {
            Some(f) => Transformed::yes(Arc::new(f) as Arc<dyn ExecutionPlan>),
            None => Transformed::no(node),
        })
    })
    .map(|t| t.data)
}

/// The fused aggregate (see the module's documentation).
#[derive(Debug, Clone)]
pub struct FusedScorecardExec {
    input: Arc<dyn ExecutionPlan>,
    mode: AggregateMode,
    /// The aggregate's group expressions, in output order.
    keys: Vec<Arc<dyn PhysicalExpr>>,
    /// Conditions of the statuses, each once (a policy repeats `cancelled`).
    preds: Vec<Pred>,
    /// Statuses evaluated whole by DataFusion.
    others: Vec<Arc<dyn PhysicalExpr>>,
    measures: Vec<Measure>,
    properties: Arc<PlanProperties>,
    /// Rows between sweeps of idle groups' cells (see `Fold::sweep_idle`).
    sweep_rows: usize,
    /// When the measures start at more than one clock: each measure's rows are grouped by its
    /// own start's grain unit alone (see [`StartKeys`]).
    start_keys: Option<StartKeys>,
}

/// Keys that are grain units of start clocks (`sla_bucket(start)`), for policies whose measures
/// start at different clocks (the full 2008 promise: the call, a callback request, a
/// complaint, a survey...). DataFusion's aggregate groups every row by all of them at once,
/// and a record whose clocks fall in different months makes a group of its own: 176K groups
/// for 16K (month, borough, grade) on `slate gen --promises` data, 10M rows, each with a cell
/// per measure. Here a measure's rows are grouped by its own start's unit, the other units
/// null. Each measure's cell of a (unit, group) holds the same records either way: the cube
/// reads a measure's unit from its own start's key and skips empty cells
/// (`scorecard::Shape::add`), as a final aggregate's rows are read too.
#[derive(Debug, Clone)]
struct StartKeys {
    /// Indices of the keys that are start clocks' units.
    units: Vec<usize>,
    /// The unit keys some measure starts at, each once: a batch's rows are grouped once per
    /// such lane.
    lanes: Vec<usize>,
    /// Per measure, the index in `lanes` of its start's unit key.
    of_measure: Vec<usize>,
}

impl StartKeys {
    /// The start keys of `measures` under `keys`, when there are two or more and every measure
    /// starts at one of them.
    fn of(keys: &[Arc<dyn PhysicalExpr>], measures: &[Measure]) -> Option<Self> {
        let args: Vec<Option<&Arc<dyn PhysicalExpr>>> = keys.iter().map(bucket_arg).collect();
        let units: Vec<usize> = (0..keys.len()).filter(|&i| args[i].is_some()).collect();
        if units.len() < 2 || units.len() > LANES as usize {
            return None;
        }
        let mut lanes = Vec::new();
        let mut of_measure = Vec::with_capacity(measures.len());
        for m in measures {
            let key =
                (args.iter()).position(|a| a.is_some_and(|a| a.as_ref() == m.start.as_ref()))?;
            of_measure.push(lanes.iter().position(|&k| k == key).unwrap_or_else(|| {
                lanes.push(key);
                lanes.len() - 1
            }));
        }
        Some(StartKeys {
            units,
            lanes,
            of_measure,
        })
    }

    /// Columns of the key table: a start's unit with its lane folded in, then the other keys.
    fn table_width(&self, keys: usize) -> usize {
        1 + keys - self.units.len()
    }

    /// The keys of a batch's rows for the measures starting at unit key `key`: the unit as
    /// `unit * LANES + lane` (null stays null: a record with no start clock falls in no unit,
    /// whichever its measure), then the keys that are not units. Three parts, as a scorecard
    /// by two columns has, pack into one word (see [`Groups::of_batch`]).
    fn lane_keys(&self, keys: &[ArrayRef], key: usize) -> Result<Vec<ArrayRef>> {
        let lane = self
            .units
            .iter()
            .position(|&u| u == key)
            .expect("a unit key") as i64;
        let unit = cast(&keys[key], &DataType::Int64)?;
        let unit: Int64Array = unit
            .as_primitive::<datafusion::arrow::datatypes::Int64Type>()
            .unary(|u| u * LANES + lane);
        let mut out: Vec<ArrayRef> = vec![Arc::new(unit)];
        out.extend(
            (keys.iter().enumerate())
                .filter(|(i, _)| !self.units.contains(i))
                .map(|(_, a)| a.clone()),
        );
        Ok(out)
    }

    /// The aggregate's key values of groups of the key table (`values`: per table column, each
    /// group's value): every unit null but the group's own lane's.
    fn output_values(&self, keys: usize, values: &mut [Vec<ScalarValue>]) -> Vec<Vec<ScalarValue>> {
        let (lanes, rest) = values.split_first_mut().expect("a unit column");
        let mut rest = rest.iter_mut();
        (0..keys)
            .map(|i| match self.units.iter().position(|&u| u == i) {
                Some(lane) => (lanes.iter())
                    .map(|v| match v {
                        ScalarValue::Int64(Some(c)) if c.rem_euclid(LANES) == lane as i64 => {
                            ScalarValue::Int32(Some(c.div_euclid(LANES) as i32))
                        }
                        _ => ScalarValue::Int32(None),
                    })
                    .collect(),
                None => std::mem::take(rest.next().expect("a key column")),
            })
            .collect()
    }
}

/// Lanes a unit key can hold ([`StartKeys::lane_keys`]): more start clocks than this keep
/// DataFusion's grouping by all of them.
const LANES: i64 = 16;

/// The clock of `sla_bucket(clock)`.
fn bucket_arg(e: &Arc<dyn PhysicalExpr>) -> Option<&Arc<dyn PhysicalExpr>> {
    let f = e.downcast_ref::<ScalarFunctionExpr>()?;
    let any: &dyn std::any::Any = &**f.fun().inner();
    any.downcast_ref::<BucketUdf>()?;
    match f.args() {
        [clock] => Some(clock),
        _ => None,
    }
}

#[derive(Debug, Clone)]
struct Measure {
    tz: Arc<TzRules>,
    kind: MeasureKind,
    start: Arc<dyn PhysicalExpr>,
    stop: Arc<dyn PhysicalExpr>,
    status: Status,
}

/// A measure's status (NULL not applicable, `k >= 1` named exclusion `k`, 0 measured, a
/// share's -1/-2), as SQL's `CASE` gives it: a branch is taken only when its condition is TRUE.
#[derive(Debug, Clone)]
enum Status {
    Lit(Option<i32>),
    Case(Vec<(usize, Status)>, Box<Status>),
    /// `others[i]`, evaluated by DataFusion.
    Other(usize),
}

/// A condition; only where it is TRUE counts.
#[derive(Debug, Clone)]
enum Pred {
    /// `column = 'value'` on a string column (input column index).
    StrEq(usize, String),
    Other(Arc<dyn PhysicalExpr>),
}

impl FusedScorecardExec {
    /// The fused form of `agg`, when it is a scorecard's aggregate: partial or single mode,
    /// plain group expressions of integer, boolean, date or string types (dictionaries of
    /// strings too), and every aggregate an `sla_hist` without filter, order or `DISTINCT`.
    /// `None` for anything else, which keeps DataFusion's aggregate.
    pub fn try_new(agg: &AggregateExec) -> Option<Self> {
        if !matches!(agg.mode(), AggregateMode::Partial | AggregateMode::Single) {
            return None;
        }
        let group = agg.group_expr();
        if !group.is_single() || group.expr().is_empty() {
            return None;
        }
        let input_schema = agg.input().schema();
        let keys: Vec<Arc<dyn PhysicalExpr>> =
            group.expr().iter().map(|(e, _)| e.clone()).collect();
        for k in &keys {
            if !key_type_supported(&k.data_type(&input_schema).ok()?) {
                return None;
            }
        }
        if agg.filter_expr().iter().any(Option::is_some) || agg.aggr_expr().is_empty() {
            return None;
        }
        let mut fused = FusedScorecardExec {
            input: agg.input().clone(),
            mode: *agg.mode(),
            keys,
            preds: Vec::new(),
            others: Vec::new(),
            measures: Vec::new(),
            properties: agg.properties().clone(),
            sweep_rows: SWEEP_ROWS,
            start_keys: None,
        };
        for a in agg.aggr_expr() {
            let any: &dyn std::any::Any = &**a.fun().inner();
            let hist = any.downcast_ref::<SlaHist>()?;
            if a.is_distinct() || !a.order_bys().is_empty() {
                return None;
            }
            let [start, stop, status] = &a.expressions()[..] else {
                return None;
            };
            let status = fused.status(status, &input_schema)?;
            fused.measures.push(Measure {
                tz: hist.tz().clone(),
                kind: hist.kind().clone(),
                start: start.clone(),
                stop: stop.clone(),
                status,
            });
        }
        fused.start_keys = StartKeys::of(&fused.keys, &fused.measures);
        Some(fused)
    }

    fn status(&mut self, e: &Arc<dyn PhysicalExpr>, schema: &SchemaRef) -> Option<Status> {
        if let Some(l) = e.downcast_ref::<Literal>() {
            let v = match l.value() {
                v if v.is_null() => None,
                v => Some(i32::try_from(integer_of(v)?).ok()?),
            };
            return Some(Status::Lit(v));
        }
        if let Some(c) = e.downcast_ref::<CaseExpr>()
            && c.expr().is_none()
        {
            let mut whens = Vec::new();
            for (w, t) in c.when_then_expr() {
                let p = self.pred(w, schema);
                whens.push((p, self.status(t, schema)?));
            }
            let otherwise = match c.else_expr() {
                None => Status::Lit(None),
                Some(x) => self.status(x, schema)?,
            };
            return Some(Status::Case(whens, Box::new(otherwise)));
        }
        if !e.data_type(schema).ok()?.is_integer() {
            return None;
        }
        self.others.push(e.clone());
        Some(Status::Other(self.others.len() - 1))
    }

    fn pred(&mut self, e: &Arc<dyn PhysicalExpr>, schema: &SchemaRef) -> usize {
        let p =
            str_eq(e, schema).map_or_else(|| Pred::Other(e.clone()), |(c, v)| Pred::StrEq(c, v));
        let same = |q: &Pred| match (q, &p) {
            (Pred::StrEq(a, x), Pred::StrEq(b, y)) => a == b && x == y,
            (Pred::Other(a), Pred::Other(b)) => a.as_ref() == b.as_ref(),
            _ => false,
        };
        match self.preds.iter().position(same) {
            Some(i) => i,
            None => {
                self.preds.push(p);
                self.preds.len() - 1
            }
        }
    }

    /// The lane (see [`StartKeys`]) measure `m`'s rows are grouped in: 0 when all are grouped
    /// together.
    fn lane_of(&self, m: usize) -> usize {
        self.start_keys.as_ref().map_or(0, |sk| sk.of_measure[m])
    }

    /// Columns of a fold's key table: the keys, or with [`StartKeys`] the lanes' units in one.
    fn table_width(&self) -> usize {
        let k = self.keys.len();
        self.start_keys.as_ref().map_or(k, |sk| sk.table_width(k))
    }

    /// The mode of the aggregate it replaced.
    pub fn mode(&self) -> &AggregateMode {
        &self.mode
    }

    /// Sweeps idle groups' cells every `rows` rows of a partition instead of every 2^20 (the
    /// figures are the same; a test sweeps often).
    pub fn with_sweep_rows(mut self, rows: usize) -> Self {
        self.sweep_rows = rows.max(1);
        self
    }
}

/// `column = 'text'` (either side) on a string column: its index and the text.
fn str_eq(e: &Arc<dyn PhysicalExpr>, schema: &SchemaRef) -> Option<(usize, String)> {
    let b = e.downcast_ref::<BinaryExpr>()?;
    if *b.op() != Operator::Eq {
        return None;
    }
    let side = |c: &Arc<dyn PhysicalExpr>, l: &Arc<dyn PhysicalExpr>| {
        let c = c.downcast_ref::<Column>()?;
        let mut value = l.downcast_ref::<Literal>()?.value();
        if let ScalarValue::Dictionary(_, v) = value {
            value = v;
        }
        let text = match value {
            ScalarValue::Utf8(Some(s))
            | ScalarValue::Utf8View(Some(s))
            | ScalarValue::LargeUtf8(Some(s)) => s.clone(),
            _ => return None,
        };
        is_string(schema.fields().get(c.index())?.data_type()).then(|| (c.index(), text))
    };
    side(b.left(), b.right()).or_else(|| side(b.right(), b.left()))
}

fn is_string(t: &DataType) -> bool {
    match t {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => true,
        DataType::Dictionary(_, v) => matches!(
            **v,
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
        ),
        _ => false,
    }
}

fn key_type_supported(t: &DataType) -> bool {
    is_string(t) || int_key(t)
}

/// Types whose values are group keys as they are (cast to i64 exactly).
fn int_key(t: &DataType) -> bool {
    use DataType::*;
    matches!(
        t,
        Int8 | Int16 | Int32 | Int64 | UInt8 | UInt16 | UInt32 | Boolean | Date32 | Date64
    )
}

fn integer_of(v: &ScalarValue) -> Option<i64> {
    match v {
        ScalarValue::Int8(Some(x)) => Some(i64::from(*x)),
        ScalarValue::Int16(Some(x)) => Some(i64::from(*x)),
        ScalarValue::Int32(Some(x)) => Some(i64::from(*x)),
        ScalarValue::Int64(Some(x)) => Some(*x),
        ScalarValue::UInt8(Some(x)) => Some(i64::from(*x)),
        ScalarValue::UInt16(Some(x)) => Some(i64::from(*x)),
        ScalarValue::UInt32(Some(x)) => Some(i64::from(*x)),
        _ => None,
    }
}

impl DisplayAs for FusedScorecardExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "FusedScorecardExec: mode={:?}, keys={}, measures={}",
            self.mode,
            self.keys.len(),
            self.measures.len()
        )?;
        match &self.start_keys {
            Some(sk) => write!(f, ", each measure by its start's unit ({})", sk.units.len()),
            None => Ok(()),
        }
    }
}

impl ExecutionPlan for FusedScorecardExec {
    fn name(&self) -> &str {
        "FusedScorecardExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        let mut all: Vec<&Arc<dyn PhysicalExpr>> = self.keys.iter().collect();
        for m in &self.measures {
            all.push(&m.start);
            all.push(&m.stop);
        }
        for p in &self.preds {
            if let Pred::Other(e) = p {
                all.push(e);
            }
        }
        all.extend(&self.others);
        for e in all {
            if f(e)? == TreeNodeRecursion::Stop {
                return Ok(TreeNodeRecursion::Stop);
            }
        }
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if children.len() != 1 {
            return Err(DataFusionError::Internal(
                "FusedScorecardExec has one input".into(),
            ));
        }
        let me = Arc::unwrap_or_clone(self);
        Ok(Arc::new(FusedScorecardExec {
            input: children.swap_remove(0),
            ..me
        }))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let stream = self.fold_stream(partition, context, Fold::next_batch)?;
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            self.schema(),
            stream,
        )))
    }
}

impl FusedScorecardExec {
    /// Runs `partition` and hands on its groups with their cells as they are: what
    /// [`ExecutionPlan::execute`] gives, before the cells are encoded into the aggregate's
    /// state. A reader that keeps cells (the scorecard's cube) saves encoding and decoding
    /// every cell.
    pub fn execute_cells(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<futures::stream::BoxStream<'static, Result<FoldedCells>>> {
        Ok(Box::pin(self.fold_stream(
            partition,
            context,
            Fold::next_cells,
        )?))
    }

    /// The partition's fold as a stream of what `next` takes from it once the input is read
    /// (or whenever a partial aggregate has to hand on what it holds).
    fn fold_stream<T: Send + 'static>(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
        next: fn(&mut Fold) -> Result<Option<T>>,
    ) -> Result<impl futures::Stream<Item = Result<T>> + Send + 'static> {
        let input = self.input.execute(partition, context.clone())?;
        let reservation = MemoryConsumer::new(format!("FusedScorecardExec[{partition}]"))
            .register(context.memory_pool());
        let state = Fold {
            exec: Arc::new(self.clone()),
            input: Some(input),
            groups: Groups::new(self.table_width()),
            cells: vec![Vec::new(); self.measures.len()],
            out: VecDeque::new(),
            reservation,
            batch_size: context.session_config().batch_size(),
            heap_bytes: 0,
            rows_since_measure: 0,
            seen: Vec::new(),
            sweep: 0,
            rows_since_sweep: 0,
            group_bytes: Vec::new(),
            changed: Changed::default(),
        };
        Ok(futures::stream::unfold(state, move |mut s| async move {
            loop {
                match next(&mut s) {
                    Ok(Some(b)) => return Some((Ok(b), s)),
                    Ok(None) => {}
                    Err(e) => {
                        s.input = None;
                        s.out = VecDeque::new();
                        return Some((Err(e), s));
                    }
                }
                let input = s.input.as_mut()?;
                match input.next().await {
                    Some(Ok(batch)) => {
                        if let Err(e) = s.add(&batch) {
                            s.input = None;
                            return Some((Err(e), s));
                        }
                    }
                    Some(Err(e)) => {
                        s.input = None;
                        return Some((Err(e), s));
                    }
                    None => {
                        s.input = None;
                        if let Err(e) = s.emit() {
                            return Some((Err(e), s));
                        }
                    }
                }
            }
        }))
    }
}

/// Groups a fold hands on, with their cells (see [`FusedScorecardExec::execute_cells`]).
pub struct FoldedCells {
    /// The group columns, as the aggregate's output has them.
    pub groups: Vec<ArrayRef>,
    /// Per measure, each group's cell.
    pub cells: Vec<Vec<MeasureCell>>,
}

/// One partition's running aggregation.
struct Fold {
    exec: Arc<FusedScorecardExec>,
    input: Option<SendableRecordBatchStream>,
    groups: Groups,
    /// Per measure, one cell per group.
    cells: Vec<Vec<MeasureCell>>,
    /// Emitted groups not yet handed on, a batch of them taken (and encoded, for DataFusion's
    /// next stage) only when the reader asks for it: encoding every group at once held the
    /// cells and their encoded copies together at the peak.
    out: VecDeque<Drain>,
    reservation: MemoryReservation,
    batch_size: usize,
    heap_bytes: usize,
    rows_since_measure: usize,
    /// Per group, the number of the sweep (see [`Fold::sweep_idle`]) it was last given a row in.
    seen: Vec<u32>,
    sweep: u32,
    rows_since_sweep: usize,
    /// Per group, its cells' heap bytes when last measured; `heap_bytes` is their sum.
    group_bytes: Vec<usize>,
    /// Groups given a row or swept since the last measure: only their cells are measured
    /// again. Walking every cell instead (128 bytes each, tens of thousands of groups) every
    /// `groups` rows was a third of this operator's own time (issue 27, session 18).
    changed: Changed,
}

/// The groups changed since the last measure of the cells' bytes, each listed once.
#[derive(Default)]
struct Changed {
    /// Per group, the number of the measure it was last listed for ([`NOT_MARKED`]: never).
    marked: Vec<u32>,
    list: Vec<u32>,
    measure_no: u32,
}

/// The mark of a group never listed in [`Changed`].
const NOT_MARKED: u32 = u32::MAX;

impl Changed {
    /// Room for `groups` groups; new ones are unmarked.
    fn grow(&mut self, groups: usize) {
        self.marked.resize(groups, NOT_MARKED);
    }

    /// Lists group `g`, unless it is listed already.
    #[inline]
    fn mark(&mut self, g: usize) {
        if self.marked[g] != self.measure_no {
            self.marked[g] = self.measure_no;
            self.list.push(g as u32);
        }
    }

    /// The groups listed; a group marked from now on is listed for the next measure.
    fn drain(&mut self) -> std::vec::Drain<'_, u32> {
        // Never NOT_MARKED, which new groups carry.
        self.measure_no = (self.measure_no + 1) % NOT_MARKED;
        self.list.drain(..)
    }

    fn clear(&mut self) {
        self.marked.clear();
        self.list.clear();
    }
}

/// Rows of a partition between sweeps of idle groups' cells (about a year of 10M records over
/// ten years in two partitions).
const SWEEP_ROWS: usize = 1 << 20;

impl Fold {
    fn add(&mut self, batch: &RecordBatch) -> Result<()> {
        let n = batch.num_rows();
        if n == 0 {
            return Ok(());
        }
        let exec = self.exec.clone();
        let keys: Vec<ArrayRef> = exec
            .keys
            .iter()
            .map(|k| k.evaluate(batch)?.into_array(n))
            .collect::<Result<_>>()?;
        // Per lane (see `FusedScorecardExec::lane_of`), each row's group.
        let lanes: Vec<Vec<u32>> = match &exec.start_keys {
            None => vec![self.groups.of_batch(&keys)?],
            Some(sk) => {
                let mut lanes = Vec::with_capacity(sk.lanes.len());
                for &k in &sk.lanes {
                    let lane_keys = sk.lane_keys(&keys, k)?;
                    // After the first lane only the unit column changes.
                    let fresh = if lanes.is_empty() { lane_keys.len() } else { 1 };
                    lanes.push(self.groups.of_batch_again(&lane_keys, fresh)?);
                }
                lanes
            }
        };
        let total = self.groups.len();
        for c in &mut self.cells {
            c.resize_with(total, MeasureCell::default);
        }
        self.seen.resize(total, 0);
        self.changed.grow(total);
        for group_of in &lanes {
            for &g in group_of {
                let g = g as usize;
                self.seen[g] = self.sweep;
                self.changed.mark(g);
            }
        }
        let truth: Vec<BooleanBuffer> = exec
            .preds
            .iter()
            .map(|p| pred_truth(p, batch))
            .collect::<Result<_>>()?;
        let others: Vec<Int32Array> = exec
            .others
            .iter()
            .map(|e| {
                let a = e.evaluate(batch)?.into_array(n)?;
                Ok(cast(&a, &DataType::Int32)?.as_primitive().clone())
            })
            .collect::<Result<_>>()?;
        let at = Row {
            truth: &truth,
            others: &others,
        };
        for (mi, (m, cells)) in exec.measures.iter().zip(&mut self.cells).enumerate() {
            let group_of = &lanes[exec.lane_of(mi)];
            let start = m.start.evaluate(batch)?.into_array(n)?;
            let stop = m.stop.evaluate(batch)?.into_array(n)?;
            let mut fold = RowFold::new(&m.tz, &m.kind, &start, &stop)?;
            let mut one = |i: usize, status: &Status| {
                if let Some(code) = at.code(status, i) {
                    fold.add(&mut cells[group_of[i] as usize], i, code);
                }
            };
            match &m.status {
                // The usual shape, `CASE WHEN where THEN ... END`: only the rows `where`
                // selects are visited.
                Status::Case(whens, otherwise)
                    if whens.len() == 1 && matches!(**otherwise, Status::Lit(None)) =>
                {
                    let (p, then) = &whens[0];
                    truth[*p].set_indices().for_each(|i| one(i, then));
                }
                Status::Lit(None) => {}
                s => (0..n).for_each(|i| one(i, s)),
            }
            fold.finish()?;
        }
        self.rows_since_sweep += n;
        if self.rows_since_sweep >= exec.sweep_rows {
            self.sweep_idle();
        }
        self.account(n)?;
        Ok(())
    }

    /// Folds and shrinks the cells of the groups given no row since the last sweep. Records
    /// come roughly in time order, so a past month's cells are done long before the scan is,
    /// and each kept its unfolded buffer (on average as many bytes as its pairs) and its
    /// vector's slack to the end: at 100M records the sweeps cut peak memory by a fifth
    /// (issue 27, session 17). A group that is given rows again just grows again.
    fn sweep_idle(&mut self) {
        for (g, &seen) in self.seen.iter().enumerate() {
            if seen != self.sweep {
                for cells in &mut self.cells {
                    cells[g].hist.shrink();
                }
                self.changed.mark(g);
            }
        }
        self.sweep = self.sweep.wrapping_add(1);
        self.rows_since_sweep = 0;
    }

    /// Keeps the reservation at the cells' size; a partial aggregate that cannot grow hands
    /// on what it holds (the next stage merges it) and starts again, as DataFusion's does.
    fn account(&mut self, rows: usize) -> Result<()> {
        self.rows_since_measure = self.rows_since_measure.saturating_add(rows);
        let groups = self.groups.len();
        if self.rows_since_measure >= groups.max(1024) {
            self.group_bytes.resize(groups, 0);
            for g in self.changed.drain() {
                let g = g as usize;
                let now: usize = self.cells.iter().map(|c| c[g].heap_size()).sum();
                self.heap_bytes = self.heap_bytes - self.group_bytes[g] + now;
                self.group_bytes[g] = now;
            }
            debug_assert_eq!(
                self.heap_bytes,
                (self.cells.iter().flatten())
                    .map(MeasureCell::heap_size)
                    .sum::<usize>(),
                "the measured cells' bytes are every cell's"
            );
            self.rows_since_measure = 0;
        }
        let bytes = self.heap_bytes
            + self.rows_since_measure * 16 * self.cells.len()
            + groups * self.cells.len() * std::mem::size_of::<MeasureCell>()
            + self.groups.bytes();
        match self.reservation.try_resize(bytes) {
            Ok(()) => Ok(()),
            Err(e) if self.exec.mode != AggregateMode::Partial || groups == 0 => Err(e),
            Err(_) => self.emit(),
        }
    }

    /// Hands on every group (in batches of the session's size, see [`Fold::next_cells`]) and
    /// starts empty.
    fn emit(&mut self) -> Result<()> {
        let groups = std::mem::replace(&mut self.groups, Groups::new(self.exec.table_width()));
        let cells: Vec<Vec<MeasureCell>> = self.cells.iter_mut().map(std::mem::take).collect();
        self.seen.clear();
        self.group_bytes.clear();
        self.changed.clear();
        if groups.len() > 0 {
            self.out.push_back(Drain {
                groups,
                cells,
                from: 0,
            });
        }
        self.heap_bytes = 0;
        self.rows_since_measure = 0;
        self.reservation.free();
        Ok(())
    }

    /// The next batch of emitted groups with their cells, if any.
    fn next_cells(&mut self) -> Result<Option<FoldedCells>> {
        let Some(d) = self.out.front_mut() else {
            return Ok(None);
        };
        let schema = self.exec.schema();
        let total = d.groups.len();
        let (from, to) = (d.from, (d.from + self.batch_size.max(1)).min(total));
        let mut groups: Vec<ArrayRef> = Vec::new();
        let mut taken: Vec<Vec<ScalarValue>> = (d.groups.values.iter_mut())
            .map(|values| {
                (values[from..to].iter_mut())
                    .map(|v| std::mem::replace(v, ScalarValue::Null))
                    .collect()
            })
            .collect();
        if let Some(sk) = &self.exec.start_keys {
            taken = sk.output_values(self.exec.keys.len(), &mut taken);
        }
        for (j, values) in taken.into_iter().enumerate() {
            let a = ScalarValue::iter_to_array(values)?;
            let want = schema.field(j).data_type();
            groups.push(if a.data_type() == want {
                a
            } else {
                cast(&a, want)?
            });
        }
        // Taken, so that each cell's memory goes as it is handed on; folded, because readers
        // read a cell's entries many times (each rollup) and an unfolded one sorts each time;
        // shrunk, because the cube keeps it (kept buffers and slack raised peak memory 30%).
        let cells = (d.cells.iter_mut())
            .map(|c| {
                (c[from..to].iter_mut())
                    .map(|cell| {
                        let mut cell = std::mem::take(cell);
                        cell.hist.shrink();
                        cell
                    })
                    .collect()
            })
            .collect();
        d.from = to;
        if to >= total {
            self.out.pop_front();
        }
        Ok(Some(FoldedCells { groups, cells }))
    }

    /// [`Fold::next_cells`] as the aggregate's output batch: the cells encoded.
    fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        let Some(FoldedCells { mut groups, cells }) = self.next_cells()? else {
            return Ok(None);
        };
        let mut buf = Vec::new();
        for c in cells {
            let mut b = BinaryBuilder::with_capacity(c.len(), c.len() * 32);
            for cell in c {
                buf.clear();
                cell.encode(&mut buf);
                b.append_value(&buf);
            }
            groups.push(Arc::new(b.finish()));
        }
        Ok(Some(RecordBatch::try_new(self.exec.schema(), groups)?))
    }
}

/// Groups emitted by a [`Fold`], handed on a batch at a time.
struct Drain {
    groups: Groups,
    cells: Vec<Vec<MeasureCell>>,
    /// The first group not yet handed on.
    from: usize,
}

/// A batch's condition bitmaps and whole-evaluated statuses.
struct Row<'a> {
    truth: &'a [BooleanBuffer],
    others: &'a [Int32Array],
}

impl Row<'_> {
    #[inline]
    fn code(&self, s: &Status, i: usize) -> Option<i32> {
        match s {
            Status::Lit(v) => *v,
            Status::Case(whens, otherwise) => {
                for (p, then) in whens {
                    if self.truth[*p].value(i) {
                        return self.code(then, i);
                    }
                }
                self.code(otherwise, i)
            }
            Status::Other(j) => {
                let a = &self.others[*j];
                a.is_valid(i).then(|| a.value(i))
            }
        }
    }
}

/// Where `p` is TRUE in `batch` (NULL counts as not true).
fn pred_truth(p: &Pred, batch: &RecordBatch) -> Result<BooleanBuffer> {
    match p {
        Pred::StrEq(c, text) => Ok(str_eq_truth(batch.column(*c), text)),
        Pred::Other(e) => {
            let a = e.evaluate(batch)?.into_array(batch.num_rows())?;
            let b: &BooleanArray = a.as_boolean_opt().ok_or_else(|| {
                DataFusionError::Internal(format!("condition {e} is not boolean"))
            })?;
            Ok(true_bits(b.values().clone(), b.nulls()))
        }
    }
}

fn true_bits(values: BooleanBuffer, nulls: Option<&NullBuffer>) -> BooleanBuffer {
    match nulls {
        Some(n) => &values & n.inner(),
        None => values,
    }
}

/// `a = text` over a string column, by the array's own layout: Utf8View compares the 16-byte
/// views (a text of at most 12 bytes is the whole view), a dictionary its values once.
fn str_eq_truth(a: &ArrayRef, text: &str) -> BooleanBuffer {
    let n = a.len();
    let bits = match a.data_type() {
        DataType::Utf8View => {
            let v: &StringViewArray = a.as_string_view();
            // Sliced to the length so that the loops below need no bounds checks.
            let views = &v.views()[..n];
            if text.len() <= 4 {
                // Length and text in the low word: a 64-bit compare, which vectorises where
                // the 128-bit one does not (channels, grades and codes are this short).
                let want = inline_view(text) as u64;
                let mask = u64::MAX >> (32 - 8 * text.len());
                view_bits(views, move |w| w as u64 & mask == want)
            } else if text.len() <= 12 {
                // Padding is zero by the format; masked anyway, it costs nothing.
                let want = inline_view(text);
                let mask = match text.len() {
                    12 => u128::MAX,
                    l => (1u128 << (32 + 8 * l)) - 1,
                };
                view_bits(views, move |w| w & mask == want)
            } else {
                let (len, prefix) = (
                    text.len() as u128,
                    u128::from_le_bytes(pad16(&text.as_bytes()[..4])),
                );
                BooleanBuffer::collect_bool(n, |i| {
                    let w = views[i];
                    w & 0xffff_ffff == len
                        && (w >> 32) & 0xffff_ffff == prefix
                        && v.value(i) == text
                })
            }
        }
        DataType::Utf8 => {
            let v = a.as_string::<i32>();
            BooleanBuffer::collect_bool(n, |i| v.value(i) == text)
        }
        DataType::LargeUtf8 => {
            let v = a.as_string::<i64>();
            BooleanBuffer::collect_bool(n, |i| v.value(i) == text)
        }
        DataType::Dictionary(_, _) => {
            let d = a.as_any_dictionary();
            let values = str_eq_truth(d.values(), text);
            let values = true_bits(values, d.values().nulls());
            if d.values().is_empty() {
                BooleanBuffer::new_unset(n)
            } else {
                let keys = d.normalized_keys();
                BooleanBuffer::collect_bool(n, |i| values.value(keys[i]))
            }
        }
        _ => BooleanBuffer::new_unset(n),
    };
    true_bits(bits, a.nulls())
}

/// `f` of each view as bits, 64 to a word, by whole chunks: a loop without bounds checks,
/// where `collect_bool`'s indexed closure reloaded its captures and checked the index every
/// row (2.7% of a 10M-record run's CPU; 1.8% this way, session 18).
fn view_bits(views: &[u128], f: impl Fn(u128) -> bool) -> BooleanBuffer {
    let word = |chunk: &[u128]| {
        (chunk.iter().enumerate()).fold(0u64, |w, (b, &v)| w | (u64::from(f(v)) << b))
    };
    let chunks = views.chunks_exact(64);
    let rest = chunks.remainder();
    let mut words: Vec<u64> = chunks.map(word).collect();
    if !rest.is_empty() {
        words.push(word(rest));
    }
    BooleanBuffer::new(Buffer::from_vec(words), 0, views.len())
}

/// The Utf8View view of a text of at most 12 bytes: length in the low 32 bits, then the bytes.
fn inline_view(text: &str) -> u128 {
    let mut b = [0u8; 16];
    b[..4].copy_from_slice(&(text.len() as u32).to_le_bytes());
    b[4..4 + text.len()].copy_from_slice(text.as_bytes());
    u128::from_le_bytes(b)
}

fn pad16(bytes: &[u8]) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..bytes.len()].copy_from_slice(bytes);
    b
}

/// FxHash's step: group keys are a few small integers, hashed once per row.
#[derive(Default, Clone, Copy)]
struct FxHasher(u64);

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.write_u64(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.write_u64(u64::from_le_bytes(w));
        }
    }

    #[inline]
    fn write_u128(&mut self, x: u128) {
        self.write_u64(x as u64);
        self.write_u64((x >> 64) as u64);
    }

    #[inline]
    fn write_u64(&mut self, x: u64) {
        self.0 = (self.0.rotate_left(5) ^ x).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    #[inline]
    fn write_usize(&mut self, x: usize) {
        self.write_u64(x as u64);
    }

    fn finish(&self) -> u64 {
        // The multiply leaves low bits that depend only on the key's low bits, and hashbrown
        // picks buckets by the low bits: a packed key (borough id in its low bits) then
        // probed long chains. Folding the full product mixes every bit into both ends.
        let p = u128::from(self.0) * 0x9e37_79b9_7f4a_7c15;
        (p as u64) ^ ((p >> 64) as u64)
    }
}

type Fx = BuildHasherDefault<FxHasher>;

/// Bits of each key part in a packed key (see [`Groups::of_batch`]).
const PACK_BITS: u32 = 20;
/// Slots of [`Groups::recent`] (as a power of two): 64 KiB.
const RECENT_BITS: u32 = 12;
/// Most key parts a packed key holds (their null flags go in the top bits).
const PACK_MAX: usize = 3;

/// The groups seen so far: a row's key is one `u64` per group expression (an integer as it
/// is, a string as its interned id) and one of null flags.
struct Groups {
    /// Keys whose parts all fit in [`PACK_BITS`] (interned ids, months, small codes), packed
    /// into one word: the usual scorecard key, looked up without hashing a slice.
    packed: HashMap<u64, u32, Fx>,
    /// A direct-mapped cache in front of `packed`: a month's few hundred groups stay in it,
    /// looked up with one multiply and one compare (bit 63 of a packed key is never set, so
    /// `u64::MAX` marks an empty slot).
    recent: Box<[(u64, u32)]>,
    /// Every other key.
    index: HashMap<Box<[u64]>, u32, Fx>,
    /// Per group expression, each group's value (the output).
    values: Vec<Vec<ScalarValue>>,
    /// Per string column, text -> id.
    interned: Vec<HashMap<Box<[u8]>, u64, Fx>>,
    /// Per string column, a cache of Utf8View views -> id.
    views: Vec<ViewCache>,
    key_bytes: usize,
    /// Per-batch buffers, kept to save an allocation (and its zeroing) per batch.
    columns: Vec<Vec<u64>>,
}

impl Groups {
    fn new(k: usize) -> Self {
        Groups {
            packed: HashMap::default(),
            recent: vec![(u64::MAX, 0); 1 << RECENT_BITS].into_boxed_slice(),
            index: HashMap::default(),
            values: vec![Vec::new(); k],
            interned: (0..k).map(|_| HashMap::default()).collect(),
            views: (0..k).map(|_| ViewCache::default()).collect(),
            key_bytes: 0,
            columns: vec![Vec::new(); k],
        }
    }

    fn len(&self) -> usize {
        self.values.first().map_or(0, Vec::len)
    }

    /// Bytes held, roughly: keys, the table and the values.
    fn bytes(&self) -> usize {
        self.key_bytes + self.len() * (self.values.len() * 48 + 32)
    }

    /// Each row's group id, new groups added.
    fn of_batch(&mut self, keys: &[ArrayRef]) -> Result<Vec<u32>> {
        self.of_batch_again(keys, keys.len())
    }

    /// [`Groups::of_batch`] of keys whose columns from `fresh` on are the last call's arrays:
    /// their key parts are reused (a start lane's group columns are the batch's, read once for
    /// every lane; see [`StartKeys`]).
    fn of_batch_again(&mut self, keys: &[ArrayRef], fresh: usize) -> Result<Vec<u32>> {
        let k = keys.len();
        let n = keys.first().map_or(0, |a| a.len());
        let mut columns = std::mem::take(&mut self.columns);
        let mut nulls = Vec::with_capacity(k);
        for (j, a) in keys.iter().enumerate() {
            if j < fresh {
                self.key_column(j, a, &mut columns[j])?;
            }
            nulls.push(a.logical_nulls().filter(|b| b.null_count() > 0));
        }
        let mut key = vec![0u64; k + 1];
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            let (mut flags, mut packed) = (0u64, 0u64);
            let mut fits = k <= PACK_MAX;
            for (j, (column, nulls)) in columns.iter().zip(&nulls).enumerate() {
                let v = if nulls.as_ref().is_some_and(|b| b.is_null(i)) {
                    flags |= 1 << j;
                    0
                } else {
                    column[i]
                };
                key[j] = v;
                if j < PACK_MAX {
                    fits &= v < 1 << PACK_BITS;
                    packed |= v << (PACK_BITS as usize * j);
                }
            }
            key[k] = flags;
            let mut slot = None;
            let found = if fits {
                packed |= flags << (PACK_BITS as usize * PACK_MAX);
                let at =
                    (packed.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - RECENT_BITS)) as usize;
                let (held, id) = self.recent[at];
                if held == packed {
                    out.push(id);
                    continue;
                }
                slot = Some(at);
                self.packed.get(&packed)
            } else {
                self.index.get(&key[..])
            };
            let id = match found {
                Some(&id) => id,
                None => {
                    let id = u32::try_from(self.len()).map_err(|_| {
                        DataFusionError::ResourcesExhausted("more than 2^32 groups".into())
                    })?;
                    for (j, a) in keys.iter().enumerate() {
                        self.values[j].push(ScalarValue::try_from_array(a, i)?);
                    }
                    if fits {
                        self.key_bytes += 8 + 16;
                        self.packed.insert(packed, id);
                    } else {
                        self.key_bytes += (k + 1) * 8 + 16;
                        self.index.insert(key.as_slice().into(), id);
                    }
                    id
                }
            };
            if let Some(at) = slot {
                self.recent[at] = (packed, id);
            }
            out.push(id);
        }
        self.columns = columns;
        Ok(out)
    }

    /// Each row's key part of column `j` (nulls arbitrary), into `out`.
    fn key_column(&mut self, j: usize, a: &ArrayRef, out: &mut Vec<u64>) -> Result<()> {
        let n = a.len();
        out.clear();
        out.resize(n, 0);
        let mut set = |i: usize, v: u64| out[i] = v;
        match a.data_type() {
            DataType::Utf8View => {
                let v: &StringViewArray = a.as_string_view();
                let (interned, cache) = (&mut self.interned[j], &mut self.views[j]);
                cache.begin_array();
                // Zipped, with the null check only where there are nulls: the loop runs once
                // a row for every string key.
                let nulls = v.nulls().filter(|b| b.null_count() > 0);
                for (i, (&view, o)) in v.views().iter().zip(out.iter_mut()).enumerate() {
                    if nulls.is_some_and(|b| b.is_null(i)) {
                        continue;
                    }
                    *o = cache.get(view).unwrap_or_else(|| {
                        let id = intern(interned, v.value(i).as_bytes());
                        cache.put(view, id);
                        id
                    });
                }
            }
            DataType::Utf8 => {
                let v = a.as_string::<i32>();
                for i in 0..n {
                    if v.is_valid(i) {
                        set(i, intern(&mut self.interned[j], v.value(i).as_bytes()));
                    }
                }
            }
            DataType::LargeUtf8 => {
                let v = a.as_string::<i64>();
                for i in 0..n {
                    if v.is_valid(i) {
                        set(i, intern(&mut self.interned[j], v.value(i).as_bytes()));
                    }
                }
            }
            DataType::Dictionary(_, _) => {
                let d = a.as_any_dictionary();
                if d.values().is_empty() {
                    return Ok(());
                }
                let mut ids = Vec::new();
                self.key_column(j, d.values(), &mut ids)?;
                for (i, key) in d.normalized_keys().into_iter().enumerate() {
                    set(i, ids[key]);
                }
            }
            t if int_key(t) => {
                let v = cast(a, &DataType::Int64)?;
                let v: &Int64Array = v.as_primitive();
                for (i, x) in v.values().iter().enumerate() {
                    set(i, *x as u64);
                }
            }
            t => {
                return Err(DataFusionError::Internal(format!(
                    "FusedScorecardExec cannot group by {t}"
                )));
            }
        }
        Ok(())
    }
}

/// A direct-mapped cache of Utf8View views -> interned ids. A view of a text of at most 12
/// bytes is the text itself, so its entry holds for every array; a longer text's view names a
/// buffer and an offset of one array, so its entry holds for that array only and is dropped
/// when the next array begins ([`ViewCache::begin_array`]). Identical views are identical texts
/// within an array (a dictionary page decodes to views of its values), so a column of a few
/// dozen boroughs costs a multiply and a compare a row.
struct ViewCache {
    /// `(view, id)`; `u64::MAX` (never an id) marks an empty slot.
    slots: Vec<(u128, u64)>,
    /// Whether any slot may hold a long text's view, which the next array must not read.
    long: bool,
}

impl Default for ViewCache {
    fn default() -> Self {
        ViewCache {
            slots: vec![(0, u64::MAX); 1 << ViewCache::BITS],
            long: false,
        }
    }
}

impl ViewCache {
    const BITS: u32 = 10;

    #[inline]
    fn slot(view: u128) -> usize {
        let h = ((view as u64) ^ ((view >> 64) as u64)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        (h >> (64 - Self::BITS)) as usize
    }

    /// Whether `view` is a long text's (over 12 bytes: its length is the low 32 bits), naming a
    /// buffer and offset of one array rather than holding the text.
    #[inline]
    fn names_a_buffer(view: u128) -> bool {
        (view as u32) > 12
    }

    /// Drops the entries of long texts, whose views named the last array's buffers. Once per
    /// array (1024 slots, against a stamp compared on every row before).
    fn begin_array(&mut self) {
        if std::mem::take(&mut self.long) {
            for s in &mut self.slots {
                if Self::names_a_buffer(s.0) {
                    s.1 = u64::MAX;
                }
            }
        }
    }

    #[inline]
    fn get(&self, view: u128) -> Option<u64> {
        let (v, id) = self.slots[Self::slot(view)];
        (v == view && id != u64::MAX).then_some(id)
    }

    #[inline]
    fn put(&mut self, view: u128, id: u64) {
        self.long |= Self::names_a_buffer(view);
        self.slots[Self::slot(view)] = (view, id);
    }
}

fn intern(map: &mut HashMap<Box<[u8]>, u64, Fx>, text: &[u8]) -> u64 {
    if let Some(&id) = map.get(text) {
        return id;
    }
    let id = map.len() as u64;
    map.insert(text.into(), id);
    id
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int64Array, StringArray};

    #[test]
    fn a_long_texts_view_names_its_text_in_its_own_batch_only() {
        // Same length, same first four bytes, same buffer and offset: the same view bits in
        // two batches, for two different texts.
        let (a, b) = ("Kensington and Chelsea", "Kensington upon Thames");
        assert_eq!(a.len(), b.len());
        let (one, two) = (
            StringViewArray::from(vec![a, "Brent", a]),
            StringViewArray::from(vec![b, "Brent", b]),
        );
        assert_eq!(one.views()[0], two.views()[0], "the case under test");
        let mut g = Groups::new(1);
        let first = g.of_batch(&[Arc::new(one) as ArrayRef]).unwrap();
        let second = g.of_batch(&[Arc::new(two) as ArrayRef]).unwrap();
        assert_eq!(first[0], first[2]);
        assert_eq!(
            first[1], second[1],
            "inline texts keep their id across batches"
        );
        assert_ne!(
            first[0], second[0],
            "a stale view must not name another text"
        );
        assert_eq!(g.len(), 3);
        let texts: Vec<String> = g.values[0].iter().map(|v| v.to_string()).collect();
        assert_eq!(texts, [a, "Brent", b]);
    }

    #[test]
    fn text_equality_on_views_equals_comparing_the_strings() {
        let texts = [
            "",
            "I",
            "S",
            "999",
            "9990",
            "101",
            "abcd",
            "abcde",
            "abcdefghijkl",
            "abcdefghijklm",
            "Kensington and Chelsea",
            "Kensington upon Thames",
        ];
        let column: Vec<Option<&str>> = (0..200)
            .map(|i| (i % 7 != 3).then(|| texts[(i * 5 + i / 3) % texts.len()]))
            .collect();
        let plain = StringArray::from(column.clone());
        let view: ArrayRef = Arc::new(StringViewArray::from(column.clone()));
        for want in texts.iter().chain(&["J", "99", "abc", "Kensington"]) {
            let got = str_eq_truth(&view, want);
            let plain_got = str_eq_truth(&(Arc::new(plain.clone()) as ArrayRef), want);
            for (i, t) in column.iter().enumerate() {
                assert_eq!(got.value(i), *t == Some(*want), "{want:?} at row {i}");
                assert_eq!(plain_got.value(i), got.value(i));
            }
        }
    }

    /// A start lane's key table holds each row's unit with its lane folded in, and reads back
    /// as the aggregate's keys: the row's own start unit, the other units null, negative units
    /// (days before 1970) and the out-of-period unit included.
    #[test]
    fn lane_keys_read_back_as_the_aggregates_keys() {
        let sk = StartKeys {
            units: vec![0, 2],
            lanes: vec![0, 2],
            of_measure: vec![0, 1, 0],
        };
        let units = |v: Vec<Option<i32>>| Arc::new(Int32Array::from(v)) as ArrayRef;
        let keys: Vec<ArrayRef> = vec![
            units(vec![
                Some(-5),
                Some(crate::udf::OUTSIDE_PERIOD),
                None,
                Some(7),
            ]),
            Arc::new(StringArray::from(vec![
                Some("a"),
                None,
                Some("b"),
                Some("a"),
            ])),
            units(vec![Some(3), Some(-1), Some(i32::MAX), None]),
        ];
        for (key, lane) in [(0, 0), (2, 1)] {
            let table = sk.lane_keys(&keys, key).unwrap();
            assert_eq!(table.len(), sk.table_width(keys.len()));
            let mut values: Vec<Vec<ScalarValue>> = (table.iter())
                .map(|a| {
                    (0..4)
                        .map(|i| ScalarValue::try_from_array(a, i).unwrap())
                        .collect()
                })
                .collect();
            let out = sk.output_values(keys.len(), &mut values);
            for (i, column) in out.iter().enumerate() {
                let want: Vec<ScalarValue> = (0..4)
                    .map(|row| {
                        let v = ScalarValue::try_from_array(&keys[i], row).unwrap();
                        match i == key || !sk.units.contains(&i) {
                            true => v,
                            false => ScalarValue::Int32(None),
                        }
                    })
                    .collect();
                assert_eq!(column, &want, "lane {lane}, key column {i}");
            }
        }
    }

    #[test]
    fn packed_and_wide_keys_and_nulls_give_one_group_per_distinct_key() {
        // Small values pack into one word; a negative or large one takes the slice table.
        let ints = Int64Array::from(vec![
            Some(1),
            Some(-1),
            Some(1 << 40),
            None,
            Some(1),
            Some(-1),
            Some(1 << 40),
            None,
            Some(0),
        ]);
        let texts = StringArray::from(vec![
            Some("a"),
            Some("a"),
            Some("a"),
            Some("a"),
            Some("a"),
            Some("a"),
            Some("a"),
            Some("a"),
            None,
        ]);
        let keys: Vec<ArrayRef> = vec![Arc::new(ints), Arc::new(texts)];
        let mut g = Groups::new(2);
        let ids = g.of_batch(&keys).unwrap();
        assert_eq!(ids[..4], ids[4..8]);
        let mut distinct = ids.clone();
        distinct.sort_unstable();
        distinct.dedup();
        // (1,a) (-1,a) (2^40,a) (NULL,a) (0,NULL): NULL is not 0.
        assert_eq!(distinct.len(), 5);
        assert_eq!(
            g.of_batch(&keys).unwrap(),
            ids,
            "a second batch finds the same groups"
        );
        assert_eq!((g.packed.len(), g.index.len()), (3, 2));

        // More parts than a word holds: every key in the slice table.
        let small: ArrayRef = Arc::new(Int64Array::from(vec![1, 2, 1, 2]));
        let mut g = Groups::new(4);
        let ids = g
            .of_batch(&[small.clone(), small.clone(), small.clone(), small])
            .unwrap();
        assert_eq!(ids, [0, 1, 0, 1]);
        assert_eq!((g.packed.len(), g.index.len()), (0, 2));
    }
}

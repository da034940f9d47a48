//! `sla_bucket(ts)`: the grain unit (day, ISO week or month number) of a clock's local day.
//!
//! Days outside the run's period map to [`OUTSIDE_PERIOD`] so that the cube can count them
//! apart; a null clock maps to null (the record falls in no window). The function also counts
//! the rows it sees, which is how the CLI shows progress through an aggregation.

use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use datafusion::arrow::array::{ArrayRef, Int32Builder};
use datafusion::arrow::datatypes::DataType;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use slate_core::{Grain, TzRules};

use super::timestamps::Clock;

/// Bucket of records whose local day is outside the period.
pub const OUTSIDE_PERIOD: i32 = i32::MIN;

/// The `sla_bucket` scalar function for one zone, grain and period.
#[derive(Debug)]
pub struct BucketUdf {
    tz: Arc<TzRules>,
    grain: Grain,
    period: Option<(i32, i32)>,
    rows_seen: Arc<AtomicU64>,
    signature: Signature,
}

impl BucketUdf {
    /// A bucket function; `period` is `[first day, end day)` in local days.
    pub fn new(tz: Arc<TzRules>, grain: Grain, period: Option<(i32, i32)>) -> Self {
        BucketUdf {
            tz,
            grain,
            period,
            rows_seen: Arc::new(AtomicU64::new(0)),
            signature: Signature::any(1, Volatility::Immutable),
        }
    }

    /// Rows evaluated so far (shared with clones of the handle).
    pub fn rows_seen(&self) -> Arc<AtomicU64> {
        self.rows_seen.clone()
    }
}

impl PartialEq for BucketUdf {
    fn eq(&self, o: &Self) -> bool {
        self.tz.name() == o.tz.name() && self.grain == o.grain && self.period == o.period
    }
}
impl Eq for BucketUdf {}
impl Hash for BucketUdf {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (self.tz.name(), self.grain, self.period).hash(state);
    }
}

impl ScalarUDFImpl for BucketUdf {
    fn name(&self) -> &str {
        "sla_bucket"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match arg_types {
            [DataType::Timestamp(_, _) | DataType::Null] => Ok(DataType::Int32),
            other => Err(DataFusionError::Plan(format!(
                "sla_bucket takes a timestamp, got {other:?}"
            ))),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let clock = Clock::new(&arrays[0])?;
        let n = arrays[0].len();
        let mut out = Int32Builder::with_capacity(n);
        // Rows of a batch are close in time, so the last day's unit is remembered: the
        // calendar arithmetic of `unit_of_day` per row was a few percent of a whole run.
        let mut last: Option<(i32, i32)> = None;
        for i in 0..n {
            match clock.local_day(i, &self.tz) {
                None => out.append_null(),
                Some(day) => match self.period {
                    Some((from, to)) if day < from || day >= to => out.append_value(OUTSIDE_PERIOD),
                    _ => {
                        let unit = match last {
                            Some((d, u)) if d == day => u,
                            _ => self.grain.unit_of_day(day),
                        };
                        last = Some((day, unit));
                        out.append_value(unit);
                    }
                },
            }
        }
        self.rows_seen.fetch_add(n as u64, Ordering::Relaxed);
        Ok(ColumnarValue::Array(Arc::new(out.finish()) as ArrayRef))
    }
}

//! `sla_secs(start, stop)`: a duration in whole seconds, floored, exactly as `sla_hist` measures
//! one (naive clocks read as local time in the zone), or NULL where `sla_hist` would not measure
//! the record (a clock missing, stop before start). For figures that need only counts and sums
//! of durations (a mean wait, a count within a threshold): plain aggregates over it cost a
//! fraction of a histogram per group.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, Int64Array, Int64Builder};
use datafusion::arrow::datatypes::DataType;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use slate_core::TzRules;
use slate_core::hist::floor_secs;

use super::timestamps::Clock;

/// The `sla_secs` scalar function for one zone.
#[derive(Debug)]
pub struct SlaSecs {
    tz: Arc<TzRules>,
    signature: Signature,
}

impl SlaSecs {
    /// The function, naive clocks read in `tz`.
    pub fn new(tz: Arc<TzRules>) -> Self {
        SlaSecs {
            tz,
            signature: Signature::any(2, Volatility::Immutable),
        }
    }
}

impl PartialEq for SlaSecs {
    fn eq(&self, o: &Self) -> bool {
        self.tz.name() == o.tz.name()
    }
}
impl Eq for SlaSecs {}
impl Hash for SlaSecs {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.tz.name().hash(state);
    }
}

impl ScalarUDFImpl for SlaSecs {
    fn name(&self) -> &str {
        "sla_secs"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match arg_types {
            [a, b]
                if [a, b]
                    .iter()
                    .all(|t| matches!(t, DataType::Timestamp(..) | DataType::Null)) =>
            {
                Ok(DataType::Int64)
            }
            other => Err(DataFusionError::Plan(format!(
                "sla_secs takes two timestamps, got {other:?}"
            ))),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let [start, stop] = arrays.as_slice() else {
            return Err(DataFusionError::Internal(
                "sla_secs takes 2 arguments".into(),
            ));
        };
        Ok(ColumnarValue::Array(
            Arc::new(durations(start, stop, &self.tz)?) as ArrayRef,
        ))
    }
}

/// Row by row, the duration `sla_hist` would measure from `start` to `stop`, or null.
pub(crate) fn durations(start: &ArrayRef, stop: &ArrayRef, tz: &TzRules) -> Result<Int64Array> {
    let (start, stop) = (Clock::new(start)?, Clock::new(stop)?);
    // The same two paths as `sla_hist`'s update: raw readings in one unit through the
    // per-span zone cache, and the general path for what that cannot decide.
    let fast = (start.per_sec() == stop.per_sec()).then(|| start.per_sec());
    let (mut a_shift, mut b_shift) = (start.shifter(), stop.shifter());
    let (a_raw, b_raw) = (start.raw(), stop.raw());
    let n = a_raw.len();
    let mut out = Int64Builder::with_capacity(n);
    for i in 0..n {
        if a_raw.is_null(i) || b_raw.is_null(i) {
            out.append_null();
            continue;
        }
        if let Some(per_sec) = fast
            && let (Some(a), Some(b)) = (
                a_shift.instant(a_raw.value(i), per_sec, tz),
                b_shift.instant(b_raw.value(i), per_sec, tz),
            )
            && let Some(s) = Clock::fast_secs(a, b, per_sec)
        {
            out.append_option((s >= 0).then_some(s));
            continue;
        }
        match (start.instant_nanos(i, tz), stop.instant_nanos(i, tz)) {
            (Some((a, _)), Some((b, _))) if b >= a => out.append_value(floor_secs(a, b)),
            _ => out.append_null(),
        }
    }
    Ok(out.finish())
}

//! Reading clock columns of any timestamp unit as nanoseconds, with naive local readings
//! turned into instants.

use datafusion::arrow::array::{Array, ArrayRef, Int64Array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::error::{DataFusionError, Result};
use slate_core::{LocalResolution, TzRules};

const NANOS: i128 = 1_000_000_000;

/// Raw readings per second of a timestamp `unit`.
pub fn ticks_per_second(unit: TimeUnit) -> i64 {
    match unit {
        TimeUnit::Second => 1,
        TimeUnit::Millisecond => 1_000,
        TimeUnit::Microsecond => 1_000_000,
        TimeUnit::Nanosecond => 1_000_000_000,
    }
}

/// A clock column ready for per-row reads.
pub(crate) struct Clock {
    raw: Int64Array,
    per_sec: i128,
    /// `NANOS / per_sec`, computed once: an i128 division per row was ~3% of a run.
    nanos_per_unit: i128,
    naive: bool,
}

impl Clock {
    pub(crate) fn new(array: &ArrayRef) -> Result<Self> {
        let (unit, tz) = match array.data_type() {
            DataType::Timestamp(unit, tz) => (*unit, tz.clone()),
            DataType::Null => (TimeUnit::Second, Some("UTC".into())),
            other => {
                return Err(DataFusionError::Plan(format!(
                    "expected a timestamp column, got {other}"
                )));
            }
        };
        let raw = cast(array, &DataType::Int64)?;
        let raw = raw
            .as_any()
            .downcast_ref::<Int64Array>()
            .ok_or_else(|| DataFusionError::Internal("timestamp cast to Int64".into()))?
            .clone();
        let per_sec = i128::from(ticks_per_second(unit));
        Ok(Clock {
            raw,
            per_sec,
            nanos_per_unit: NANOS / per_sec,
            naive: tz.is_none(),
        })
    }

    /// The instant in nanoseconds since the epoch, and how a naive reading was resolved.
    #[inline]
    pub(crate) fn instant_nanos(&self, i: usize, tz: &TzRules) -> Option<(i128, LocalResolution)> {
        if self.raw.is_null(i) {
            return None;
        }
        let v = i128::from(self.raw.value(i));
        let nanos = v * self.nanos_per_unit;
        if !self.naive {
            return Some((nanos, LocalResolution::Exact));
        }
        let secs = nanos.div_euclid(NANOS) as i64;
        let sub = nanos.rem_euclid(NANOS);
        let (inst, res) = tz.local_to_instant(secs);
        Some((i128::from(inst) * NANOS + sub, res))
    }

    /// `floor((stop - start) s)` from two instants in one unit (zoned readings, or naive
    /// ones shifted by [`LocalShift`]), in i64; `None` when it would overflow (the i128
    /// path then decides).
    #[inline(always)]
    pub(crate) fn fast_secs(start: i64, stop: i64, per_sec: i64) -> Option<i64> {
        let d = stop.checked_sub(start)?;
        // A constant divisor compiles to a multiply and shifts; a variable one to a divide.
        Some(match per_sec {
            1_000_000 => d.div_euclid(1_000_000),
            1_000 => d.div_euclid(1_000),
            1_000_000_000 => d.div_euclid(1_000_000_000),
            _ => d.div_euclid(per_sec),
        })
    }

    /// The readings in the column's own unit.
    pub(crate) fn raw(&self) -> &Int64Array {
        &self.raw
    }

    /// Readings per second (1, 1e3, 1e6 or 1e9).
    pub(crate) fn per_sec(&self) -> i64 {
        self.per_sec as i64
    }

    /// Whether readings are naive local wall time (no zone in the type).
    pub(crate) fn is_naive(&self) -> bool {
        self.naive
    }

    /// A per-span cache that turns this clock's raw readings into instants in its own unit.
    pub(crate) fn shifter(&self) -> LocalShift {
        if self.naive {
            LocalShift {
                from: 0,
                until: 0,
                shift: 0,
                naive: true,
            }
        } else {
            LocalShift {
                from: i64::MIN,
                until: i64::MAX,
                shift: 0,
                naive: false,
            }
        }
    }
}

/// Raw readings `[from, until)` of a clock that are instants once `shift` is taken off:
/// for a zoned clock every reading with no shift, for a naive one a span of local wall time
/// under one UTC offset ([`TzRules::local_span`]), so that a naive reading costs two
/// comparisons instead of three zone-table searches and i128 arithmetic.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LocalShift {
    from: i64,
    until: i64,
    shift: i64,
    naive: bool,
}

impl LocalShift {
    /// Reading `v` (in units of `per_sec` a second) as an instant in the same unit, or
    /// `None` when it does not resolve exactly (ambiguous, skipped, outside the zone table):
    /// the caller then takes the general path, which counts such readings.
    #[inline]
    pub(crate) fn instant(&mut self, v: i64, per_sec: i64, tz: &TzRules) -> Option<i64> {
        if v >= self.from && v < self.until {
            return Some(v - self.shift);
        }
        self.refill(v, per_sec, tz)
    }

    #[cold]
    fn refill(&mut self, v: i64, per_sec: i64, tz: &TzRules) -> Option<i64> {
        if !self.naive {
            return Some(v);
        }
        let (offset, lo, hi) = tz.local_span(v.div_euclid(per_sec))?;
        let from = lo.checked_mul(per_sec)?;
        let until = hi.checked_mul(per_sec)?;
        let shift = i64::from(offset).checked_mul(per_sec)?;
        *self = LocalShift {
            from,
            until,
            shift,
            naive: true,
        };
        Some(v - shift)
    }
}

//! `sla_bucket(ts)`: the grain unit (day, ISO week or month number) of a clock's local day.
//!
//! Days outside the run's period map to [`OUTSIDE_PERIOD`] so that the cube can count them
//! apart; a null clock maps to null (the record falls in no window). The function also counts
//! the rows it sees, which is how the CLI shows progress through an aggregation, and the
//! first and last local days of the readings inside the period, which tell a report whether
//! the data covers its first and last windows wholly.

use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};

use datafusion::arrow::array::{Array, ArrayRef, Int32Array};
use datafusion::arrow::datatypes::DataType;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use slate_core::{Grain, TzRules};

use super::timestamps::Clock;

const SECS_PER_DAY: i64 = 86_400;

/// Bucket of records whose local day is outside the period.
pub const OUTSIDE_PERIOD: i32 = i32::MIN;

/// The `sla_bucket` scalar function for one zone, grain and period.
#[derive(Debug)]
pub struct BucketUdf {
    tz: Arc<TzRules>,
    grain: Grain,
    period: Option<(i32, i32)>,
    rows_seen: Arc<AtomicU64>,
    /// The least and greatest local day of a non-null reading inside the period.
    days: Arc<(AtomicI32, AtomicI32)>,
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
            days: Arc::new((AtomicI32::new(i32::MAX), AtomicI32::new(i32::MIN))),
            signature: Signature::any(1, Volatility::Immutable),
        }
    }

    /// The zone of local days (a cluster codec sends it, grain and period with the plan).
    pub fn tz(&self) -> &Arc<TzRules> {
        &self.tz
    }

    /// The grain.
    pub fn grain(&self) -> Grain {
        self.grain
    }

    /// The period, `[first day, end day)` in local days.
    pub fn period(&self) -> Option<(i32, i32)> {
        self.period
    }

    /// Rows evaluated so far (shared with clones of the handle).
    pub fn rows_seen(&self) -> Arc<AtomicU64> {
        self.rows_seen.clone()
    }

    /// The first and last local days of the non-null readings inside the period evaluated so
    /// far in this process (shared with clones of the handle; a cluster's executors evaluate
    /// their own copies, so there it stays empty).
    pub fn days_seen(&self) -> DaysSeen {
        DaysSeen(self.days.clone())
    }

    /// The local day of raw reading `v`.
    fn day_of(&self, clock: &Clock, v: i64) -> i32 {
        let secs = v.div_euclid(clock.per_sec());
        let offset = if clock.is_naive() {
            0
        } else {
            self.tz.offset_span(secs).0
        };
        (secs + i64::from(offset)).div_euclid(SECS_PER_DAY) as i32
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
        let raw = clock.raw();
        let mut span = Span::EMPTY;
        let values: Vec<i32> = raw
            .values()
            .iter()
            .map(|&v| {
                // Null slots hold arbitrary values: computed like any other, then masked.
                if !span.holds(v) {
                    span = self.span_of(&clock, v);
                }
                span.value
            })
            .collect();
        self.rows_seen
            .fetch_add(raw.len() as u64, Ordering::Relaxed);
        // The first and last local days of the readings inside the period: those of the
        // earliest and latest reading, since under one offset the local day only grows with
        // the instant. A clock put back across midnight within a day of either reading can
        // give a later instant an earlier day (or the reverse), so then the readings within a
        // day of it are looked at one by one.
        let inside = |i: usize| values[i] != OUTSIDE_PERIOD && raw.is_valid(i);
        let (mut lo, mut hi) = (i64::MAX, i64::MIN);
        for (i, &v) in raw.values().iter().enumerate() {
            if inside(i) {
                lo = lo.min(v);
                hi = hi.max(v);
            }
        }
        if lo <= hi {
            let per_sec = clock.per_sec();
            let day_raw = SECS_PER_DAY.saturating_mul(per_sec).unsigned_abs();
            let steady = |v: i64, forward: bool| {
                clock.is_naive() || {
                    let t = v.div_euclid(per_sec);
                    let (_, from, until) = self.tz.offset_span(t);
                    if forward {
                        until > t.saturating_add(SECS_PER_DAY)
                    } else {
                        from <= t.saturating_sub(SECS_PER_DAY)
                    }
                }
            };
            let near = |edge: i64| {
                raw.values()
                    .iter()
                    .enumerate()
                    .filter(move |&(i, &v)| inside(i) && v.abs_diff(edge) < day_raw)
                    .map(|(_, &v)| self.day_of(&clock, v))
            };
            let mut first = self.day_of(&clock, lo);
            let mut last = self.day_of(&clock, hi);
            if !steady(lo, true) {
                first = near(lo).fold(first, i32::min);
            }
            if !steady(hi, false) {
                last = near(hi).fold(last, i32::max);
            }
            self.days.0.fetch_min(first, Ordering::Relaxed);
            self.days.1.fetch_max(last, Ordering::Relaxed);
        }
        let out = Int32Array::new(values.into(), raw.nulls().cloned());
        Ok(ColumnarValue::Array(Arc::new(out) as ArrayRef))
    }
}

/// The days [`BucketUdf::days_seen`] reports.
#[derive(Debug, Clone)]
pub struct DaysSeen(Arc<(AtomicI32, AtomicI32)>);

impl DaysSeen {
    /// `(first, last)` local days (days since 1970-01-01, both included), if any reading
    /// inside the period was seen.
    pub fn get(&self) -> Option<(i32, i32)> {
        let (a, b) = (
            self.0.0.load(Ordering::Relaxed),
            self.0.1.load(Ordering::Relaxed),
        );
        (a <= b).then_some((a, b))
    }
}

/// Raw clock readings `[from, until)` that all have the same output, `value`.
///
/// Records come roughly in time order, so consecutive readings nearly always fall in the
/// same span and cost two comparisons; the time-zone search and calendar arithmetic run once
/// per span. Per-row conversion was a tenth of a scorecard's time.
#[derive(Debug, Clone, Copy)]
struct Span {
    from: i64,
    until: i64,
    value: i32,
}

impl Span {
    const EMPTY: Span = Span {
        from: 0,
        until: 0,
        value: 0,
    };

    #[inline]
    fn holds(&self, v: i64) -> bool {
        v >= self.from && v < self.until
    }
}

impl BucketUdf {
    /// The output for raw reading `v` and the widest span of readings sharing it: the days
    /// of its grain unit (or of its side of the period) under one UTC offset.
    fn span_of(&self, clock: &Clock, v: i64) -> Span {
        let per_sec = clock.per_sec();
        let secs = v.div_euclid(per_sec);
        let (offset, off_from, off_until) = if clock.is_naive() {
            (0, i64::MIN, i64::MAX)
        } else {
            self.tz.offset_span(secs)
        };
        let day = (secs + i64::from(offset)).div_euclid(SECS_PER_DAY) as i32;
        // Local days [lo, hi) with the same output.
        let (value, lo, hi) = match self.period {
            Some((from, _)) if day < from => (OUTSIDE_PERIOD, i32::MIN, from),
            Some((_, to)) if day >= to => (OUTSIDE_PERIOD, to, i32::MAX),
            period => {
                let unit = self.grain.unit_of_day(day);
                let (mut lo, mut hi) = (self.grain.first_day(unit), self.grain.first_day(unit + 1));
                if let Some((from, to)) = period {
                    (lo, hi) = (lo.max(from), hi.min(to));
                }
                (unit, lo, hi)
            }
        };
        // Under a fixed offset the local day only grows with the instant, so the days map to
        // one interval of UTC seconds; i128 keeps the far ends from overflowing.
        let to_raw = |day: i32| -> i128 {
            let secs = i128::from(day) * i128::from(SECS_PER_DAY) - i128::from(offset);
            secs.clamp(i128::from(off_from), i128::from(off_until)) * i128::from(per_sec)
        };
        let clamp = |x: i128| x.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64;
        let (from, until) = (clamp(to_raw(lo)), clamp(to_raw(hi)));
        if from <= v && v < until {
            Span { from, until, value }
        } else {
            // Zone rules outside the table: this reading only.
            Span {
                from: v,
                until: v.saturating_add(1),
                value,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Datelike, TimeZone};
    use datafusion::arrow::array::{
        AsArray, RecordBatch, TimestampMicrosecondArray, TimestampMillisecondArray,
        TimestampNanosecondArray, TimestampSecondArray,
    };
    use datafusion::arrow::datatypes::{Field, Int32Type, Schema};
    use datafusion::logical_expr::ScalarUDF;
    use datafusion::prelude::{SessionContext, col};
    use slate_core::calendar::day_of_ymd;

    /// splitmix64: a seeded stream without a rand dependency.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    /// The local day of a reading, straight from chrono-tz.
    fn local_day(secs: i64, naive: bool, tz: chrono_tz::Tz) -> i32 {
        let utc = DateTime::from_timestamp(secs, 0).unwrap();
        let date = if naive {
            utc.date_naive()
        } else {
            tz.from_utc_datetime(&utc.naive_utc()).date_naive()
        };
        day_of_ymd(date.year(), date.month(), date.day())
    }

    /// The expected output, straight from chrono-tz, one reading at a time.
    fn reference(
        secs: i64,
        naive: bool,
        tz: chrono_tz::Tz,
        grain: Grain,
        period: Option<(i32, i32)>,
    ) -> i32 {
        let day = local_day(secs, naive, tz);
        match period {
            Some((from, to)) if day < from || day >= to => OUTSIDE_PERIOD,
            _ => grain.unit_of_day(day),
        }
    }

    /// Readings in runs around DST changes and month ends, in and out of order, with nulls,
    /// in every unit, zoned and naive, against chrono-tz row by row.
    #[test]
    fn spans_agree_with_chrono_tz_row_by_row() {
        let mut rng = Rng(7);
        let zones = [
            chrono_tz::Europe::London,
            chrono_tz::America::Los_Angeles,
            chrono_tz::Australia::Lord_Howe, // 30-minute DST shift
            chrono_tz::America::Sao_Paulo,   // DST changes at midnight (until 2019)
            chrono_tz::UTC,
        ];
        // Around 2018-11-04 (Sao Paulo, midnight change), 2024-03-31 and 2024-10-27 (London),
        // plus far years the table does not cover.
        let centres = [
            1_541_300_400i64,
            1_711_846_800,
            1_729_990_800,
            4_200_000_000,
            -2_300_000_000,
        ];
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        for case in 0..60 {
            let tz = zones[case % zones.len()];
            let grain = [Grain::Day, Grain::Week, Grain::Month][case % 3];
            let naive = case % 4 == 3;
            let centre = centres[rng.below(centres.len() as u64) as usize];
            let period = match rng.below(3) {
                0 => None,
                _ => {
                    let d = (centre / 86_400) as i32;
                    let a = d - rng.below(40) as i32;
                    Some((a, a + 1 + rng.below(60) as i32))
                }
            };
            let mut secs: Vec<i64> = (0..2_000)
                .map(|_| centre + rng.below(90 * 86_400) as i64 - 45 * 86_400)
                .collect();
            if case % 2 == 0 {
                secs.sort_unstable();
            }
            let valid: Vec<bool> = (0..secs.len()).map(|_| rng.below(10) != 0).collect();
            let zone: Option<Arc<str>> = (!naive).then(|| "UTC".into());
            let opt = |per: i64| -> Vec<Option<i64>> {
                secs.iter()
                    .zip(&valid)
                    .map(|(&s, &ok)| ok.then_some(s * per + rng_sub(s, per)))
                    .collect()
            };
            let array: ArrayRef = match case % 4 {
                0 => Arc::new(TimestampSecondArray::from(opt(1)).with_timezone_opt(zone)),
                1 => Arc::new(TimestampMillisecondArray::from(opt(1_000)).with_timezone_opt(zone)),
                2 => Arc::new(
                    TimestampMicrosecondArray::from(opt(1_000_000)).with_timezone_opt(zone),
                ),
                _ => Arc::new(
                    TimestampNanosecondArray::from(opt(1_000_000_000)).with_timezone_opt(zone),
                ),
            };
            let schema = Arc::new(Schema::new(vec![Field::new(
                "ts",
                array.data_type().clone(),
                true,
            )]));
            let batch = RecordBatch::try_new(schema, vec![array]).unwrap();
            let ctx = SessionContext::new();
            let bucket = BucketUdf::new(Arc::new(TzRules::new(tz)), grain, period);
            let days = bucket.days_seen();
            let udf = ScalarUDF::new_from_impl(bucket);
            let got = rt.block_on(async {
                ctx.read_batch(batch)
                    .unwrap()
                    .select(vec![udf.call(vec![col("ts")])])
                    .unwrap()
                    .collect()
                    .await
                    .unwrap()
            });
            let got: Vec<Option<i32>> = got
                .iter()
                .flat_map(|b| {
                    b.column(0)
                        .as_primitive::<Int32Type>()
                        .iter()
                        .collect::<Vec<_>>()
                })
                .collect();
            for (i, (&s, &ok)) in secs.iter().zip(&valid).enumerate() {
                let want = ok.then(|| reference(s, naive, tz, grain, period));
                assert_eq!(
                    got[i], want,
                    "case {case}: {tz} {grain:?} naive={naive} period={period:?} secs={s}"
                );
            }
            // The first and last local days of the valid readings inside the period.
            let inside: Vec<i32> = secs
                .iter()
                .zip(&valid)
                .filter(|(_, ok)| **ok)
                .map(|(&s, _)| local_day(s, naive, tz))
                .filter(|d| period.is_none_or(|(f, t)| *d >= f && *d < t))
                .collect();
            let want = inside.iter().min().zip(inside.iter().max());
            assert_eq!(
                days.get(),
                want.map(|(a, b)| (*a, *b)),
                "case {case}: {tz} naive={naive} period={period:?}"
            );
        }
    }

    /// A sub-second part that never crosses into the next second.
    fn rng_sub(s: i64, per: i64) -> i64 {
        (s.rem_euclid(997) * 7919) % per
    }
}

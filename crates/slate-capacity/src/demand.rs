//! The demand profile from CAD history: per planning interval and channel, offered, answered and
//! abandoned calls, handling time, observed service level against a policy's answer measure, and
//! an estimate of caller patience. One DataFusion aggregation over the input: slate's exact
//! histograms (`sla_hist`) where percentiles are read, counts and sums of `sla_secs` elsewhere.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, Float64Array, Float64Builder, Int64Array, RecordBatch, StringBuilder,
    TimestampSecondBuilder, UInt32Builder,
};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Float64Type, Int64Type, Schema, SchemaRef, TimeUnit};
use chrono::NaiveDate;
use datafusion::error::DataFusionError;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use slate_core::calendar::{day_of_ymd, ymd_of_day};
use slate_core::policy::Measure;
use slate_core::schema;
use slate_core::{ParamMessage, TzRules};

use crate::error::{CapacityError, Result};
use crate::staffing::IntervalDemand;

/// How intervals are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Profile {
    /// A typical week: each interval of the week (Monday 00:00 first), averaged over the weeks
    /// of the period.
    HourOfWeek,
    /// Every interval of the calendar, as it happened.
    Calendar,
}

/// What to compute.
#[derive(Debug, Clone)]
pub struct DemandOptions {
    /// Interval length, seconds (divides a day).
    pub interval_s: i64,
    /// Interval layout.
    pub profile: Profile,
    /// Zone for local time (naive clocks are already local).
    pub tz: Arc<TzRules>,
    /// First local day (inclusive).
    pub from: Option<NaiveDate>,
    /// Last local day (exclusive).
    pub to: Option<NaiveDate>,
    /// The answer measure whose service level is observed (start, stop, where, threshold).
    pub measure: Measure,
    /// DataFusion partitions (default: cores).
    pub threads: Option<usize>,
    /// Read the inputs through this source mapping (a built-in name or a mapping TOML file),
    /// as `slate run --source` does; `None` reads canonical Parquet.
    pub source: Option<String>,
}

impl DemandOptions {
    /// The provenance of a demand profile (and the tables computed from it) with these options
    /// over `inputs`, for `policy` as named (`spec`): the zone, the interval, layout, period and
    /// measure, the policy's name, text and hash, and the input files as found. The caller adds
    /// the command line and its own settings (channel, shrinkage, what-ifs).
    pub fn provenance(
        &self,
        inputs: &[String],
        spec: &str,
        policy: &slate_core::SlaPolicy,
    ) -> Result<slate_io::Provenance> {
        let input = slate_engine::Input::open(inputs, self.source.as_deref(), None)?;
        let mut p = slate_io::Provenance::new();
        p.policy = Some(slate_io::provenance::PolicyInfo::of(spec, &policy.name));
        p.zone = Some(self.tz.name().to_string());
        p.source = input.mapping().map(|m| m.name.clone());
        p.inputs = input.provenance_inputs().to_vec();
        let s = &mut p.settings;
        s.insert("interval_s".into(), self.interval_s.to_string());
        s.insert(
            "profile".into(),
            match self.profile {
                Profile::HourOfWeek => "hour-of-week",
                Profile::Calendar => "calendar",
            }
            .into(),
        );
        s.insert("measure".into(), self.measure.id.clone());
        if let Some(d) = self.from {
            s.insert("from".into(), d.to_string());
        }
        if let Some(d) = self.to {
            s.insert("to".into(), d.to_string());
        }
        Ok(p)
    }
}

/// One interval of one channel.
#[derive(Debug, Clone, PartialEq)]
pub struct DemandRow {
    /// Channel (null when the record has none).
    pub channel: Option<String>,
    /// Interval label: `Mon 08:00` (hour-of-week) or `2024-03-01 08:00` (calendar, local).
    pub label: String,
    /// Hour-of-week: slot number from Monday 00:00; calendar: local start, seconds since 1970.
    pub slot: i64,
    /// How many times the interval occurs in the period (weeks for hour-of-week; 1 for calendar).
    pub occurrences: u32,
    /// Offered calls over all occurrences.
    pub offered_total: u64,
    /// Offered calls per occurrence.
    pub offered: f64,
    /// Answered calls per occurrence.
    pub answered: f64,
    /// Abandoned calls per occurrence (`None` without an `abandoned` column).
    pub abandoned: Option<f64>,
    /// Mean handling time (`call_answered` to `call_ended`), seconds.
    pub aht_mean_s: Option<f64>,
    /// Median handling time, seconds.
    pub aht_p50_s: Option<f64>,
    /// 90th percentile of handling time, seconds.
    pub aht_p90_s: Option<f64>,
    /// Mean wait of answered calls, seconds.
    pub asa_s: Option<f64>,
    /// Calls the answer measure measured.
    pub measured: u64,
    /// Of those, answered within its threshold.
    pub within: u64,
    /// `within / measured`.
    pub observed_sl: Option<f64>,
    /// Seconds waited by every caller who waited (answered and abandoned), for the patience
    /// estimate.
    pub wait_total_s: f64,
    /// Abandoned calls over all occurrences.
    pub abandoned_total: Option<u64>,
    /// Mean patience, seconds: total waiting time / abandonments, the maximum-likelihood
    /// estimate for exponential patience with answered calls as censored observations.
    pub patience_s: Option<f64>,
}

const DAY: i64 = 86_400;
const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// `capacity_slot(ts)`: a clock's planning interval (see [`Profile`]) in local time.
#[derive(Debug)]
struct SlotUdf {
    tz: Arc<TzRules>,
    interval_s: i64,
    profile: Profile,
    signature: Signature,
}

impl PartialEq for SlotUdf {
    fn eq(&self, o: &Self) -> bool {
        self.tz.name() == o.tz.name()
            && self.interval_s == o.interval_s
            && self.profile == o.profile
    }
}
impl Eq for SlotUdf {}
impl Hash for SlotUdf {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (self.tz.name(), self.interval_s, self.profile).hash(state);
    }
}

impl SlotUdf {
    fn slot(&self, local: i64) -> i64 {
        let start = local - local.rem_euclid(self.interval_s);
        match self.profile {
            Profile::Calendar => start,
            Profile::HourOfWeek => {
                // 1970-01-01 was a Thursday: day + 3 counts from a Monday.
                let weekday = (start.div_euclid(DAY) + 3).rem_euclid(7);
                (weekday * DAY + start.rem_euclid(DAY)) / self.interval_s
            }
        }
    }
}

impl ScalarUDFImpl for SlotUdf {
    fn name(&self) -> &str {
        "capacity_slot"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> datafusion::error::Result<DataType> {
        match arg_types {
            [DataType::Timestamp(_, _) | DataType::Null] => Ok(DataType::Int64),
            other => Err(DataFusionError::Plan(format!(
                "capacity_slot takes a timestamp, got {other:?}"
            ))),
        }
    }

    fn invoke_with_args(
        &self,
        args: ScalarFunctionArgs,
    ) -> datafusion::error::Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let zone = match arrays[0].data_type() {
            DataType::Timestamp(_, z) => z.clone(),
            _ => None,
        };
        let naive = zone.is_none();
        let per_sec = match arrays[0].data_type() {
            DataType::Timestamp(unit, _) => slate_engine::udf::ticks_per_second(*unit),
            _ => 1,
        };
        // The raw values: instants of a zoned clock, wall time of a naive one.
        let secs = cast(&arrays[0], &DataType::Int64)?;
        let secs = secs.as_primitive::<Int64Type>();
        // Calls come roughly in time order: the zone's offset is looked up once per span of
        // instants sharing it, not per row (a binary search per row was a fifth of the run).
        let (mut offset, mut from, mut until) = (0i32, 0i64, 0i64);
        let values: Vec<i64> = secs
            .values()
            .iter()
            .map(|&v| {
                // Null slots hold arbitrary values: computed like any other, then masked.
                let t = v.div_euclid(per_sec);
                let local = if naive {
                    t
                } else {
                    if !(from..until).contains(&t) {
                        (offset, from, until) = self.tz.offset_span(t);
                    }
                    t + i64::from(offset)
                };
                self.slot(local)
            })
            .collect();
        let out = Int64Array::new(values.into(), secs.nulls().cloned());
        Ok(ColumnarValue::Array(Arc::new(out) as ArrayRef))
    }
}

fn quote(c: &str) -> String {
    format!("\"{}\"", c.replace('"', "\"\""))
}

/// Computes the demand profile of Parquet `inputs`.
pub async fn demand_profile(inputs: &[String], opts: &DemandOptions) -> Result<Vec<DemandRow>> {
    check_options(opts)?;
    let input = slate_engine::Input::open(inputs, opts.source.as_deref(), None)?;
    let ctx = slate_engine::session(opts.tz.clone(), opts.threads);
    ctx.register_udf(ScalarUDF::new_from_impl(SlotUdf {
        tz: opts.tz.clone(),
        interval_s: opts.interval_s,
        profile: opts.profile,
        signature: Signature::any(1, Volatility::Immutable),
    }));
    let df = input.dataframe(&ctx).await?;
    let cols = QueueColumns::of(df.schema(), &opts.measure)?;
    ctx.register_table("input", df.into_view())?;
    let batches = ctx.sql(&profile_sql(opts, cols)).await?.collect().await?;
    let mut rows = Vec::new();
    for b in &batches {
        rows.extend(profile_rows(b, opts, cols)?);
    }
    Ok(rows)
}

/// Refuses an interval that does not divide a day and an empty period.
fn check_options(opts: &DemandOptions) -> Result<()> {
    if opts.interval_s <= 0 || DAY % opts.interval_s != 0 {
        return Err(CapacityError::Parameter(
            ParamMessage::new()
                .param("interval")
                .text(format!(" must divide a day (got {} s)", opts.interval_s)),
        ));
    }
    if let (Some(a), Some(b)) = (opts.from, opts.to)
        && a >= b
    {
        return Err(CapacityError::Parameter(
            ParamMessage::new()
                .param("from")
                .text(format!(" {a} must be before "))
                .param("to")
                .text(format!(" {b}")),
        ));
    }
    Ok(())
}

/// The optional call-queue columns the input has, after checking the ones capacity needs.
#[derive(Debug, Clone, Copy)]
struct QueueColumns {
    /// `call_ended`: handling times and the abandoned calls' waits.
    ended: bool,
    /// `abandoned`.
    abandoned: bool,
}

impl QueueColumns {
    /// Checks that `input` has the clocks and channel capacity needs, and the measure's clocks.
    fn of(input: &datafusion::common::DFSchema, m: &Measure) -> Result<Self> {
        let has = |c: &str, want: fn(&DataType) -> bool| -> Result<bool> {
            match input.field_with_unqualified_name(c) {
                Err(_) => Ok(false),
                Ok(f) if want(f.data_type()) => Ok(true),
                Ok(f) => Err(CapacityError::Invalid(format!(
                    "input column {c:?} is {}, not the expected type",
                    f.data_type()
                ))),
            }
        };
        let is_clock = |t: &DataType| matches!(t, DataType::Timestamp(_, _));
        for c in [schema::CALL_RECEIVED, schema::CALL_ANSWERED] {
            if !has(c, is_clock)? {
                return Err(CapacityError::Invalid(format!(
                    "input has no timestamp column {c:?}: capacity needs when calls came in and were answered"
                )));
            }
        }
        if !has(schema::CHANNEL, schema::is_text)? {
            return Err(CapacityError::Invalid(format!(
                "input has no text column {:?}",
                schema::CHANNEL
            )));
        }
        for (field, c) in [("start", &m.start), ("stop", &m.stop)] {
            if !has(c, is_clock)? {
                return Err(CapacityError::Invalid(format!(
                    "measure {:?}, field `{field}`: no timestamp column {c:?} in the input",
                    m.id
                )));
            }
        }
        Ok(QueueColumns {
            ended: has(schema::CALL_ENDED, is_clock)?,
            abandoned: has(schema::ABANDONED, |t| matches!(t, DataType::Boolean))?,
        })
    }
}

/// One query over the input: per channel and slot, the calls offered, answered and abandoned,
/// handling-time histograms, waits, and the answer measure's counts.
fn profile_sql(opts: &DemandOptions, cols: QueueColumns) -> String {
    let m = &opts.measure;
    let rcv = quote(schema::CALL_RECEIVED);
    let ans = quote(schema::CALL_ANSWERED);
    let ended = quote(schema::CALL_ENDED);
    let aband = quote(schema::ABANDONED);
    let mut filter = format!("{rcv} IS NOT NULL");
    if let Some(f) = opts.from {
        filter += &format!(" AND sla_bucket({rcv}) >= {}", day_of_ymd_naive(f));
    }
    if let Some(t) = opts.to {
        filter += &format!(" AND sla_bucket({rcv}) < {}", day_of_ymd_naive(t));
    }
    let excl: Vec<String> = m
        .exclusions
        .iter()
        .map(|e| format!("({})", e.where_sql))
        .collect();
    let inner = if excl.is_empty() {
        "0".to_string()
    } else {
        format!("CASE WHEN {} THEN 1 ELSE 0 END", excl.join(" OR "))
    };
    let status = match &m.where_sql {
        Some(w) => format!("CASE WHEN ({w}) THEN {inner} END"),
        None => inner,
    };
    let handle = if cols.ended {
        format!("sla_hist({ans}, {ended}, CASE WHEN {ans} IS NOT NULL THEN 0 END)")
    } else {
        "CAST(NULL AS BINARY)".into()
    };
    let (abandoned, wait_abandoned) = if cols.abandoned {
        (
            format!("CAST(sum(CASE WHEN {aband} THEN 1 ELSE 0 END) AS BIGINT)"),
            if cols.ended {
                format!("CASE WHEN {aband} THEN sla_secs({rcv}, {ended}) END")
            } else {
                "CAST(NULL AS BIGINT)".into()
            },
        )
    } else {
        ("CAST(NULL AS BIGINT)".into(), "CAST(NULL AS BIGINT)".into())
    };
    // Handling time needs its percentiles, so an exact histogram; the waits need a count and a
    // mean and the answer measure a count within its threshold, so plain aggregates over
    // `sla_secs` (the same durations `sla_hist` would measure) do: three histograms per slot
    // were most of a profile's cost. Means are sum / count in f64, as `hist_mean` reads them.
    // `sla_secs(rcv, ans)` and `m_secs` are written twice each: DataFusion's common-subexpression
    // pass computes each once per row, in a projection under the aggregate (checked with
    // EXPLAIN on DataFusion 55: `__common_expr_1`, `__common_expr_2`).
    let mean = |s: &str, n: &str| {
        format!("CASE WHEN {n} > 0 THEN CAST({s} AS DOUBLE) / CAST({n} AS DOUBLE) END")
    };
    let m_secs = format!(
        "CASE WHEN ({status}) = 0 THEN sla_secs({}, {}) END",
        quote(&m.start),
        quote(&m.stop)
    );
    format!(
        "WITH g AS (SELECT {ch} AS channel, capacity_slot({rcv}) AS slot, count(*) AS offered, \
         count({ans}) AS answered, {abandoned} AS abandoned, {handle} AS handle, \
         count(sla_secs({rcv}, {ans})) AS n_wa, sum(sla_secs({rcv}, {ans})) AS s_wa, \
         count({wait_abandoned}) AS n_wab, sum({wait_abandoned}) AS s_wab, \
         count({m_secs}) AS measured, count(CASE WHEN {m_secs} <= {threshold} THEN 1 END) AS within, \
         min(sla_bucket({rcv})) AS first_day, max(sla_bucket({rcv})) AS last_day \
         FROM input WHERE {filter} GROUP BY 1, 2) \
         SELECT channel, slot, offered, answered, abandoned, \
         hist_mean(handle) AS aht_mean, hist_quantile(handle, 0.5) AS aht_p50, \
         hist_quantile(handle, 0.9) AS aht_p90, \
         n_wa AS n_wait_answered, {mean_wa} AS wait_answered, \
         n_wab AS n_wait_abandoned, {mean_wab} AS wait_abandoned, \
         measured, within, \
         min(first_day) OVER () AS first_day, max(last_day) OVER () AS last_day \
         FROM g ORDER BY channel NULLS LAST, slot",
        ch = quote(schema::CHANNEL),
        threshold = m.threshold,
        mean_wa = mean("s_wa", "n_wa"),
        mean_wab = mean("s_wab", "n_wab"),
    )
}

/// The demand rows of one batch of [`profile_sql`]'s result.
fn profile_rows(
    b: &RecordBatch,
    opts: &DemandOptions,
    cols: QueueColumns,
) -> Result<Vec<DemandRow>> {
    let mut rows = Vec::new();
    let f64s = |i: usize| -> Result<Float64Array> {
        Ok(cast(b.column(i), &DataType::Float64)?
            .as_primitive::<Float64Type>()
            .clone())
    };
    let channel = cast(b.column(0), &DataType::Utf8)?;
    let channel = channel.as_string::<i32>();
    let slot = cast(b.column(1), &DataType::Int64)?;
    let slot = slot.as_primitive::<Int64Type>();
    let vals: Vec<Float64Array> = (2..16).map(f64s).collect::<Result<_>>()?;
    let get = |c: usize, i: usize| (!vals[c].is_null(i)).then(|| vals[c].value(i));
    for i in 0..b.num_rows() {
        let (Some(first), Some(last)) = (get(12, i), get(13, i)) else {
            continue;
        };
        let (first, last) = (first as i32, last as i32);
        let s = slot.value(i);
        let occurrences = match opts.profile {
            Profile::Calendar => 1,
            Profile::HourOfWeek => {
                let weekday = (s * opts.interval_s / DAY) as i32;
                weekday_count(first, opts.to.map_or(last + 1, day_of_ymd_naive), weekday).max(1)
            }
        };
        let per = f64::from(occurrences);
        let offered_total = get(0, i).unwrap_or(0.0) as u64;
        let abandoned_total = get(2, i).map(|v| v as u64);
        let wait_total_s = get(6, i).unwrap_or(0.0) * get(7, i).unwrap_or(0.0)
            + get(8, i).unwrap_or(0.0) * get(9, i).unwrap_or(0.0);
        let measured = get(10, i).unwrap_or(0.0) as u64;
        let within = get(11, i).unwrap_or(0.0) as u64;
        rows.push(DemandRow {
            channel: (!channel.is_null(i)).then(|| channel.value(i).to_string()),
            label: label(opts.profile, opts.interval_s, s),
            slot: s,
            occurrences,
            offered_total,
            offered: offered_total as f64 / per,
            answered: get(1, i).unwrap_or(0.0) / per,
            abandoned: abandoned_total.map(|a| a as f64 / per),
            aht_mean_s: get(3, i),
            aht_p50_s: get(4, i),
            aht_p90_s: get(5, i),
            asa_s: get(7, i),
            measured,
            within,
            observed_sl: (measured > 0).then(|| within as f64 / measured as f64),
            wait_total_s,
            patience_s: patience(abandoned_total, cols.ended, wait_total_s),
            abandoned_total,
        });
    }
    Ok(rows)
}

/// Up to `limit` observed handling times (seconds) of answered calls on `channel`, for the
/// simulation; empty when the input has no `call_ended`. The order (and, past `limit`, the
/// choice) follows a hash of the answer time, not the scan's partition timing, so a seeded
/// simulation gives the same figures on any number of threads.
pub async fn handling_sample(
    inputs: &[String],
    channel: &str,
    opts: &DemandOptions,
    limit: usize,
) -> Result<Vec<f64>> {
    let input = slate_engine::Input::open(inputs, opts.source.as_deref(), None)?;
    let ctx = slate_engine::session(opts.tz.clone(), opts.threads);
    let df = input.dataframe(&ctx).await?;
    if df
        .schema()
        .field_with_unqualified_name(schema::CALL_ENDED)
        .is_err()
    {
        return Ok(Vec::new());
    }
    ctx.register_table("input", df.into_view())?;
    let us = |c: &str| {
        format!(
            "CAST(arrow_cast({}, 'Timestamp(Microsecond, Some(\"UTC\"))') AS BIGINT)",
            quote(c)
        )
    };
    let sql = format!(
        "SELECT CAST({e} - {a} AS DOUBLE) / 1e6 AS h FROM input \
         WHERE {ch} = '{chv}' AND {e} IS NOT NULL AND {a} IS NOT NULL AND {e} >= {a} \
         ORDER BY {a} % 1000003, h LIMIT {limit}",
        e = us(schema::CALL_ENDED),
        a = us(schema::CALL_ANSWERED),
        ch = quote(schema::CHANNEL),
        chv = channel.replace('\'', "''"),
    );
    let mut out = Vec::new();
    for b in ctx.sql(&sql).await?.collect().await? {
        let col = cast(b.column(0), &DataType::Float64)?;
        out.extend(col.as_primitive::<Float64Type>().iter().flatten());
    }
    Ok(out)
}

fn patience(abandoned: Option<u64>, has_ended: bool, wait_total_s: f64) -> Option<f64> {
    match abandoned {
        Some(a) if a > 0 && has_ended => Some(wait_total_s / a as f64),
        _ => None,
    }
}

fn day_of_ymd_naive(d: NaiveDate) -> i32 {
    use chrono::Datelike;
    day_of_ymd(d.year(), d.month(), d.day())
}

/// Days in `[first, end)` that fall on `weekday` (0 = Monday).
fn weekday_count(first: i32, end: i32, weekday: i32) -> u32 {
    (first..end)
        .filter(|d| (d + 3).rem_euclid(7) == weekday)
        .count() as u32
}

/// The label of slot `s`.
pub fn label(profile: Profile, interval_s: i64, s: i64) -> String {
    match profile {
        Profile::HourOfWeek => {
            let start = s * interval_s;
            let day = (start / DAY) as usize;
            let sec = start % DAY;
            format!(
                "{} {:02}:{:02}",
                WEEKDAYS[day.min(6)],
                sec / 3600,
                sec % 3600 / 60
            )
        }
        Profile::Calendar => {
            let (y, m, d) = ymd_of_day(s.div_euclid(DAY) as i32);
            let sec = s.rem_euclid(DAY);
            format!(
                "{y:04}-{m:02}-{d:02} {:02}:{:02}",
                sec / 3600,
                sec % 3600 / 60
            )
        }
    }
}

/// Every hour-of-week slot's label, Monday 00:00 first.
pub fn week_labels(interval_s: i64) -> Vec<String> {
    (0..7 * DAY / interval_s)
        .map(|s| label(Profile::HourOfWeek, interval_s, s))
        .collect()
}

/// Whole-channel figures: offered-weighted handling time and the pooled patience estimate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChannelSummary {
    /// Offered calls over the period.
    pub offered_total: u64,
    /// Answered calls over the period.
    pub answered_total: u64,
    /// Abandoned calls over the period (`None` without an `abandoned` column).
    pub abandoned_total: Option<u64>,
    /// Mean handling time, seconds (weighted by answered calls; `None` when no answered call
    /// has an end, as when every call was abandoned).
    pub aht_mean_s: Option<f64>,
    /// Pooled mean patience, seconds.
    pub patience_s: Option<f64>,
    /// Observed service level of the answer measure.
    pub observed_sl: Option<f64>,
}

/// Pools the rows of one channel.
pub fn summarise(rows: &[&DemandRow]) -> ChannelSummary {
    let mut offered = 0;
    let mut answered = 0.0;
    let mut h_sum = 0.0;
    let mut h_n = 0.0;
    let mut wait = 0.0;
    let mut ab: Option<u64> = None;
    let mut measured = 0;
    let mut within = 0;
    let mut has_ended = false;
    for r in rows {
        offered += r.offered_total;
        answered += r.answered * f64::from(r.occurrences);
        if let Some(a) = r.aht_mean_s {
            let n = r.answered * f64::from(r.occurrences);
            h_sum += a * n;
            h_n += n;
            has_ended = true;
        }
        // A row's patience needs the `call_ended` of its abandoned calls: with every call
        // abandoned there is no handling time, but the column is there all the same.
        has_ended |= r.patience_s.is_some();
        wait += r.wait_total_s;
        if let Some(a) = r.abandoned_total {
            *ab.get_or_insert(0) += a;
        }
        measured += r.measured;
        within += r.within;
    }
    ChannelSummary {
        offered_total: offered,
        answered_total: answered.round() as u64,
        abandoned_total: ab,
        aht_mean_s: (h_n > 0.0).then(|| h_sum / h_n),
        patience_s: patience(ab, has_ended, wait),
        observed_sl: (measured > 0).then(|| within as f64 / measured as f64),
    }
}

/// The staffing input of one channel: every interval of the profile (hour-of-week intervals
/// with no calls get zero demand), with the interval's own mean handling time when it has one
/// and `fallback_aht` otherwise.
pub fn interval_demand(
    rows: &[&DemandRow],
    profile: Profile,
    interval_s: i64,
    fallback_aht: f64,
) -> Vec<IntervalDemand> {
    let of = |r: &DemandRow| IntervalDemand {
        label: r.label.clone(),
        offered: r.offered,
        aht: r.aht_mean_s.filter(|a| *a > 0.0).unwrap_or(fallback_aht),
    };
    match profile {
        Profile::Calendar => rows.iter().map(|r| of(r)).collect(),
        Profile::HourOfWeek => week_labels(interval_s)
            .into_iter()
            .map(|l| match rows.iter().find(|r| r.label == l) {
                Some(r) => of(r),
                None => IntervalDemand {
                    label: l,
                    offered: 0.0,
                    aht: fallback_aht,
                },
            })
            .collect(),
    }
}

/// The demand profile as Arrow: one row per interval and channel.
pub fn to_batch(rows: &[DemandRow], profile: Profile) -> Result<RecordBatch> {
    let schema = demand_schema(profile);
    let mut channel = StringBuilder::new();
    let mut interval = StringBuilder::new();
    let mut start = TimestampSecondBuilder::new();
    let mut occ = UInt32Builder::new();
    let f = || Float64Builder::with_capacity(rows.len());
    let mut nums: Vec<Float64Builder> = (0..12).map(|_| f()).collect();
    for r in rows {
        channel.append_option(r.channel.as_deref());
        interval.append_value(&r.label);
        match profile {
            Profile::Calendar => start.append_value(r.slot),
            Profile::HourOfWeek => start.append_null(),
        }
        occ.append_value(r.occurrences);
        for (b, v) in nums.iter_mut().zip([
            Some(r.offered_total as f64),
            Some(r.offered),
            Some(r.answered),
            r.abandoned,
            r.aht_mean_s,
            r.aht_p50_s,
            r.aht_p90_s,
            r.asa_s,
            Some(r.measured as f64),
            Some(r.within as f64),
            r.observed_sl,
            r.patience_s,
        ]) {
            b.append_option(v);
        }
    }
    let mut cols: Vec<ArrayRef> = vec![
        Arc::new(channel.finish()),
        Arc::new(interval.finish()),
        Arc::new(start.finish()),
        Arc::new(occ.finish()),
    ];
    cols.extend(nums.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
    Ok(RecordBatch::try_new(schema, cols)?)
}

/// The demand output's schema (`interval_start` is local wall time, null for hour-of-week).
pub fn demand_schema(_profile: Profile) -> SchemaRef {
    let mut fields = vec![
        Field::new("channel", DataType::Utf8, true),
        Field::new("interval", DataType::Utf8, false),
        Field::new(
            "interval_start",
            DataType::Timestamp(TimeUnit::Second, None),
            true,
        ),
        Field::new("occurrences", DataType::UInt32, false),
    ];
    for name in [
        "offered_total",
        "offered",
        "answered",
        "abandoned",
        "aht_mean_s",
        "aht_p50_s",
        "aht_p90_s",
        "asa_s",
        "measured",
        "within",
        "observed_sl",
        "patience_s",
    ] {
        fields.push(Field::new(name, DataType::Float64, true));
    }
    Arc::new(Schema::new(fields))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::{Load, Model};
    use slate_datagen::{CallQueue, GenConfig, sqrt_staffing, write_dataset_with};

    fn options(profile: Profile, measure: Measure) -> DemandOptions {
        DemandOptions {
            interval_s: 3600,
            profile,
            tz: Arc::new(TzRules::from_name("Europe/London").expect("zone")),
            from: None,
            to: None,
            measure,
            threads: Some(2),
            source: None,
        }
    }

    /// Generated queue data, read back: counts add up, and what the data shows agrees with
    /// Erlang A at the generator's staffing (the generator's handling times are log-normal
    /// and its staffing changes on the hour, so agreement is close, not exact).
    #[test]
    fn generated_queue_matches_the_model() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = GenConfig {
            rows: 300_000,
            years: 1,
            from: NaiveDate::from_ymd_opt(2024, 1, 1).expect("date"),
            ..GenConfig::default()
        };
        let tz = TzRules::from_name("Europe/London").expect("zone");
        let q = CallQueue { beta: 0.5 };
        write_dataset_with(&config, Some(&q), &tz, dir.path(), 2, false, &|_| {})
            .expect("generate");
        let policy = slate_core::SlaPolicy::builtin("mps-promise-2008").expect("policy");
        let measure = policy.measures[0].clone();
        let input = vec![dir.path().to_string_lossy().into_owned()];
        let rt = slate_engine::runtime(Some(2)).expect("runtime");
        let rows = rt
            .block_on(demand_profile(
                &input,
                &options(Profile::HourOfWeek, measure.clone()),
            ))
            .expect("demand");
        assert_eq!(rows.iter().map(|r| r.offered_total).sum::<u64>(), 300_000);
        let nines: Vec<&DemandRow> = rows
            .iter()
            .filter(|r| r.channel.as_deref() == Some("999"))
            .collect();
        assert_eq!(nines.len(), 168);
        // 2024 has 52 or 53 of each weekday.
        assert!(
            nines
                .iter()
                .all(|r| r.occurrences == 52 || r.occurrences == 53)
        );
        let s = summarise(&nines);
        let patience = s.patience_s.expect("patience");
        assert!((patience - 60.0).abs() < 6.0, "patience {patience}");
        let aht = s.aht_mean_s.expect("aht");
        // Log-normal, median 180 s, sigma 0.5: mean 204 s (floored to whole seconds).
        assert!((aht - 203.5).abs() < 4.0, "aht {aht}");
        // Predicted against observed, call-weighted over the week.
        let (mut pred, mut obs, mut w) = (0.0, 0.0, 0.0);
        for r in &nines {
            let load = Load::per(r.offered, 3600.0, aht).expect("load");
            let n = sqrt_staffing(load.erlangs(), q.beta);
            let p = Model::A { patience }
                .predict(load, n, 10.0)
                .expect("predict");
            pred += p.service_level * r.offered;
            obs += r.observed_sl.expect("observed") * r.offered;
            w += r.offered;
        }
        let (pred, obs) = (pred / w, obs / w);
        assert!((pred - obs).abs() < 0.03, "Erlang A {pred}, data {obs}");
        // Calendar profile: the same calls, one row per hour that had any.
        let cal = rt
            .block_on(demand_profile(&input, &options(Profile::Calendar, measure)))
            .expect("calendar");
        assert_eq!(cal.iter().map(|r| r.offered_total).sum::<u64>(), 300_000);
        assert!(cal.iter().all(|r| r.occurrences == 1));
        let batch = to_batch(&cal, Profile::Calendar).expect("batch");
        assert_eq!(batch.num_rows(), cal.len());
    }

    /// Every call abandoned: no handling time, but both columns are there and the patience
    /// is measured (it was once reported as "no call_ended column" and "no abandoned column").
    #[test]
    fn every_call_abandoned_gives_a_patience_and_no_handling_time() {
        let d = tempfile::tempdir().expect("tempdir");
        let mapping = d.path().join("acd.toml");
        std::fs::write(
            &mapping,
            "name = \"acd\"\ntz = \"Europe/London\"\n\
             [columns.incident_id]\nfrom = \"id\"\n[columns.channel]\nfrom = \"line\"\n\
             [columns.call_received]\nfrom = \"offered\"\n\
             [columns.call_answered]\nfrom = \"answered\"\n\
             [columns.call_ended]\nfrom = \"ended\"\n\
             [columns.abandoned]\nfrom = \"outcome\"\ntrue-values = [\"ABANDONED\"]\n",
        )
        .expect("mapping");
        let csv = d.path().join("calls.csv");
        std::fs::write(
            &csv,
            "id,line,offered,answered,ended,outcome\n\
             c1,999,2024-01-10 09:00:00,,2024-01-10 09:01:00,ABANDONED\n\
             c2,999,2024-01-10 09:10:00,,2024-01-10 09:12:00,ABANDONED\n",
        )
        .expect("csv");
        let policy = slate_core::SlaPolicy::builtin("mps-promise-2008").expect("policy");
        let mut opts = options(Profile::Calendar, policy.measures[0].clone());
        opts.source = Some(mapping.to_string_lossy().into_owned());
        let rt = slate_engine::runtime(Some(2)).expect("runtime");
        let rows = rt
            .block_on(demand_profile(&[csv.to_string_lossy().into_owned()], &opts))
            .expect("demand");
        let nines: Vec<&DemandRow> = rows
            .iter()
            .filter(|r| r.channel.as_deref() == Some("999"))
            .collect();
        let s = summarise(&nines);
        assert_eq!(
            (s.offered_total, s.answered_total, s.abandoned_total),
            (2, 0, Some(2))
        );
        assert_eq!(s.aht_mean_s, None);
        // Waited 60 s and 120 s, both hung up: a mean patience of 90 s.
        assert_eq!(s.patience_s, Some(90.0));
    }

    /// The demand profile against a naive loop over the same Parquet rows, local time from
    /// chrono-tz (not slate's zone tables or its functions): every count exactly and every
    /// mean and percentile to 1e-9, per channel and hour of the week, over a year with both
    /// clock changes. It also pins the period's first and last day (the weeks counted).
    #[test]
    fn demand_profile_equals_a_naive_loop() {
        use chrono::{Datelike, TimeZone, Timelike};
        use datafusion::arrow::array::{BooleanArray, StringArray};
        use std::collections::BTreeMap;

        let dir = tempfile::tempdir().expect("tempdir");
        let config = GenConfig {
            rows: 20_000,
            years: 1,
            from: NaiveDate::from_ymd_opt(2024, 1, 1).expect("date"),
            ..GenConfig::default()
        };
        let tz = TzRules::from_name("Europe/London").expect("zone");
        write_dataset_with(
            &config,
            Some(&CallQueue { beta: 0.5 }),
            &tz,
            dir.path(),
            2,
            false,
            &|_| {},
        )
        .expect("generate");
        let policy = slate_core::SlaPolicy::builtin("mps-promise-2008").expect("policy");
        let measure = policy.measures[0].clone();
        assert_eq!(measure.where_sql.as_deref(), Some("channel = '999'"));
        let input = vec![dir.path().to_string_lossy().into_owned()];
        let rt = slate_engine::runtime(Some(2)).expect("runtime");
        let rows = rt
            .block_on(demand_profile(
                &input,
                &options(Profile::HourOfWeek, measure),
            ))
            .expect("demand");

        #[derive(Default)]
        struct Cell {
            offered: u64,
            answered: u64,
            abandoned: u64,
            handle: Vec<i64>,
            wait_answered: Vec<i64>,
            wait_abandoned: Vec<i64>,
            measured: u64,
            within: u64,
        }
        let micros = |b: &RecordBatch, name: &str| -> Vec<Option<i64>> {
            let c = b.column_by_name(name).expect(name);
            let c = cast(
                c,
                &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            )
            .expect("cast");
            let c = cast(&c, &DataType::Int64).expect("cast");
            c.as_primitive::<Int64Type>().iter().collect()
        };
        let secs = |a: i64, b: i64| (b - a).div_euclid(1_000_000);
        let mut cells: BTreeMap<(Option<String>, i64), Cell> = BTreeMap::new();
        let (mut first, mut last) = (i64::MAX, i64::MIN);
        let files = slate_io::expand_inputs(&input).expect("files");
        for f in &files {
            for b in slate_io::parquet::read_file(f).expect("read") {
                let (rcv, ans, end) = (
                    micros(&b, "call_received"),
                    micros(&b, "call_answered"),
                    micros(&b, "call_ended"),
                );
                let ch = cast(
                    b.column_by_name("channel").expect("channel"),
                    &DataType::Utf8,
                )
                .expect("cast");
                let ch = ch.as_any().downcast_ref::<StringArray>().expect("text");
                let ab = b.column_by_name("abandoned").expect("abandoned");
                let ab = ab.as_any().downcast_ref::<BooleanArray>().expect("flag");
                for i in 0..b.num_rows() {
                    let Some(r) = rcv[i] else { continue };
                    let local = chrono_tz::Europe::London
                        .timestamp_micros(r)
                        .single()
                        .expect("instant")
                        .naive_local();
                    let day = i64::from(local.date().num_days_from_ce());
                    (first, last) = (first.min(day), last.max(day));
                    let slot = i64::from(local.weekday().num_days_from_monday()) * 24
                        + i64::from(local.hour());
                    let channel = (!ch.is_null(i)).then(|| ch.value(i).to_string());
                    let is999 = channel.as_deref() == Some("999");
                    let c = cells.entry((channel, slot)).or_default();
                    c.offered += 1;
                    if let Some(a) = ans[i] {
                        c.answered += 1;
                        if let Some(e) = end[i].filter(|&e| e >= a) {
                            c.handle.push(secs(a, e));
                        }
                        if a >= r {
                            c.wait_answered.push(secs(r, a));
                            if is999 {
                                c.measured += 1;
                                c.within += u64::from(secs(r, a) <= 10);
                            }
                        }
                    }
                    if ab.is_valid(i) && ab.value(i) {
                        c.abandoned += 1;
                        if let Some(e) = end[i].filter(|&e| e >= r) {
                            c.wait_abandoned.push(secs(r, e));
                        }
                    }
                }
            }
        }
        let mean = |v: &[i64]| {
            (!v.is_empty()).then(|| v.iter().map(|&x| x as f64).sum::<f64>() / v.len() as f64)
        };
        let quantile = |v: &[i64], p: f64| {
            let mut v = v.to_vec();
            v.sort_unstable();
            (!v.is_empty()).then(|| slate_testkit::oracle::naive_percentile(&v, p, false))
        };
        let close = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) => (a - b).abs() <= 1e-9 * a.abs().max(1.0),
            (a, b) => a == b,
        };
        assert_eq!(rows.len(), cells.len());
        assert_eq!(rows.iter().map(|r| r.offered_total).sum::<u64>(), 20_000);
        // Days from 0001-01-01 (chrono) to days from 1970-01-01 (slate): the weeks counted.
        let epoch = i64::from(
            NaiveDate::from_ymd_opt(1970, 1, 1)
                .expect("d")
                .num_days_from_ce(),
        );
        for r in &rows {
            let c = &cells[&(r.channel.clone(), r.slot)];
            let weekday = (r.slot / 24) as i32;
            let weeks = weekday_count((first - epoch) as i32, (last - epoch + 1) as i32, weekday);
            let at = format!("{:?} {}", r.channel, r.label);
            assert_eq!(r.occurrences, weeks.max(1), "{at}");
            let per = f64::from(r.occurrences);
            assert_eq!(r.offered_total, c.offered, "{at}");
            assert!(
                close(Some(r.answered * per), Some(c.answered as f64)),
                "{at}"
            );
            assert_eq!(r.abandoned_total, Some(c.abandoned), "{at}");
            assert!(close(r.aht_mean_s, mean(&c.handle)), "{at}");
            assert!(close(r.aht_p50_s, quantile(&c.handle, 0.5)), "{at}");
            assert!(close(r.aht_p90_s, quantile(&c.handle, 0.9)), "{at}");
            assert!(close(r.asa_s, mean(&c.wait_answered)), "{at}");
            let waited: i64 = c.wait_answered.iter().chain(&c.wait_abandoned).sum();
            assert!(close(Some(r.wait_total_s), Some(waited as f64)), "{at}");
            assert_eq!((r.measured, r.within), (c.measured, c.within), "{at}");
        }
    }

    #[test]
    fn slots_and_labels() {
        let tz = Arc::new(TzRules::from_name("Europe/London").expect("zone"));
        let u = SlotUdf {
            tz,
            interval_s: 900,
            profile: Profile::HourOfWeek,
            signature: Signature::any(1, Volatility::Immutable),
        };
        // 2024-03-04 was a Monday; 08:20 local is slot 33 of the week.
        let monday = i64::from(day_of_ymd(2024, 3, 4)) * DAY;
        assert_eq!(u.slot(monday + 8 * 3600 + 20 * 60), 33);
        assert_eq!(label(Profile::HourOfWeek, 900, 33), "Mon 08:15");
        assert_eq!(label(Profile::HourOfWeek, 3600, 167), "Sun 23:00");
        assert_eq!(week_labels(1800).len(), 336);
        assert_eq!(
            label(Profile::Calendar, 1800, monday + 9 * 3600),
            "2024-03-04 09:00"
        );
        // 2024-03-04 .. 2024-03-18: two Mondays, two Sundays.
        let first = day_of_ymd(2024, 3, 4);
        assert_eq!(weekday_count(first, first + 14, 0), 2);
        assert_eq!(weekday_count(first, first + 14, 6), 2);
        assert_eq!(weekday_count(first, first + 1, 6), 0);
    }
}

//! A scorecard and its ledger decoded, for the HTML report and the disparity statistics:
//! read back from their Arrow form (as [`crate::tables`] writes them, possibly after a
//! Parquet round trip) by front ends that start from files, or taken straight from
//! [`Scores`] by those that computed them ([`Card::from_scores`], [`Ledger::from_scores`]:
//! the same values, without building and decoding the tables).
//!
//! Columns are found by name, so extra columns are ignored and column order does not matter;
//! a missing or mistyped column is an [`Error::BadScorecard`] naming it.

use std::collections::HashMap;

use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Float64Type, Int32Type, Int64Type};
use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, SchemaRef};

use crate::calendar::ymd_of_day;
use crate::columns::{Layout, RowFigures, i64_of};
use crate::cube::{GroupKey, Scores};
use crate::error::{Error, Result};
use crate::policy::SlaPolicy;

/// A day (days since 1970-01-01) as `YYYY-MM-DD`.
pub fn day_text(day: i32) -> String {
    let (y, m, d) = ymd_of_day(day);
    format!("{y:04}-{m:02}-{d:02}")
}

/// One scorecard row.
#[derive(Debug, Clone, PartialEq)]
pub struct CardRow {
    /// First day of the window (days since 1970-01-01).
    pub start: i32,
    /// Day after the window.
    pub end: i32,
    /// `borough+grade`, `borough`, `grade`, `all`, ...
    pub level: String,
    /// Group values, one per [`Card::group_by`] column.
    pub groups: GroupKey,
    /// Measure id.
    pub measure: String,
    /// `duration`, `working_days`, `deadline` or `share` (the `kind` column, present when a
    /// policy has measures of other kinds than durations; `duration` without it).
    pub kind: String,
    /// The measure's threshold in seconds (none for working-day measures and shares).
    pub threshold_s: Option<i64>,
    /// The threshold of a working-day measure (the `threshold_wd` column).
    pub threshold_wd: Option<i64>,
    /// The measure's target, if it has one.
    pub target: Option<f64>,
    /// Records the measure applied to.
    pub n_eligible: i64,
    /// Records measured.
    pub n_measured: i64,
    /// Measured records within the threshold.
    pub n_within: i64,
    /// Records excluded.
    pub n_excluded: i64,
    /// `n_within / n_measured`.
    pub compliance: Option<f64>,
    /// Wilson 95% interval.
    pub ci: Option<(f64, f64)>,
    /// One value per [`Card::percentiles`] column.
    pub percentiles: Vec<Option<f64>>,
}

/// A whole scorecard.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Card {
    /// The window family (`month`, `rolling-12m`, ...); empty when there are no rows.
    pub window: String,
    /// Group-by columns: the columns between `level` and `measure`.
    pub group_by: Vec<String>,
    /// Percentile column names (`p50_s`, ..., and a working-day measure's `p50_wd`, ...), in
    /// file order.
    pub percentiles: Vec<String>,
    /// The rows, in file order.
    pub rows: Vec<CardRow>,
}

/// One ledger row.
#[derive(Debug, Clone, PartialEq)]
pub struct LedgerEntry {
    /// The window's first day and the day after it; `None` for records with no start clock.
    pub window: Option<(i32, i32)>,
    /// Level name.
    pub level: String,
    /// Group values.
    pub groups: GroupKey,
    /// Measure id.
    pub measure: String,
    /// Exclusion reason.
    pub reason: String,
    /// Records.
    pub count: i64,
}

/// A whole exclusions ledger.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Ledger {
    /// The window family; empty when there are no rows.
    pub window: String,
    /// Group-by columns.
    pub group_by: Vec<String>,
    /// The rows.
    pub rows: Vec<LedgerEntry>,
}

fn bad(what: &str, reason: impl Into<String>) -> Error {
    Error::BadScorecard {
        what: what.to_string(),
        reason: reason.into(),
    }
}

/// Column reader over one batch, by name.
struct Cols<'a> {
    what: &'a str,
    batch: &'a RecordBatch,
}

impl<'a> Cols<'a> {
    fn has(&self, name: &str) -> bool {
        self.batch.column_by_name(name).is_some()
    }

    fn col(&self, name: &str) -> Result<&'a dyn Array> {
        self.batch
            .column_by_name(name)
            .map(|c| c.as_ref())
            .ok_or_else(|| bad(self.what, format!("missing column `{name}`")))
    }

    fn strings(&self, name: &str) -> Result<Vec<Option<String>>> {
        let c = self.col(name)?;
        let out: Vec<Option<String>> = match c.data_type() {
            DataType::Utf8 => c
                .as_string::<i32>()
                .iter()
                .map(|v| v.map(Into::into))
                .collect(),
            DataType::LargeUtf8 => c
                .as_string::<i64>()
                .iter()
                .map(|v| v.map(Into::into))
                .collect(),
            DataType::Utf8View => c
                .as_string_view()
                .iter()
                .map(|v| v.map(Into::into))
                .collect(),
            DataType::Dictionary(k, v) if **k == DataType::Int32 && **v == DataType::Utf8 => {
                let d = c.as_dictionary::<Int32Type>();
                let values = d.values().as_string::<i32>();
                d.keys()
                    .iter()
                    .map(|k| {
                        let k = usize::try_from(k?).ok().filter(|k| *k < values.len())?;
                        Some(values.value(k).to_string())
                    })
                    .collect()
            }
            t => return Err(self.mistyped(name, t)),
        };
        Ok(out)
    }

    fn required_strings(&self, name: &str) -> Result<Vec<String>> {
        self.strings(name)?
            .into_iter()
            .map(|v| v.ok_or_else(|| bad(self.what, format!("column `{name}` has a null"))))
            .collect()
    }

    fn ints(&self, name: &str) -> Result<Vec<Option<i64>>> {
        let c = self.col(name)?;
        match c.data_type() {
            DataType::Int64 => Ok(c.as_primitive::<Int64Type>().iter().collect()),
            DataType::Int32 => Ok(c
                .as_primitive::<Int32Type>()
                .iter()
                .map(|v| v.map(i64::from))
                .collect()),
            t => Err(self.mistyped(name, t)),
        }
    }

    fn counts(&self, name: &str) -> Result<Vec<i64>> {
        self.ints(name)?
            .into_iter()
            .map(|v| match v {
                Some(v) if v >= 0 => Ok(v),
                _ => Err(bad(
                    self.what,
                    format!("column `{name}` has a null or negative count"),
                )),
            })
            .collect()
    }

    fn floats(&self, name: &str) -> Result<Vec<Option<f64>>> {
        let c = self.col(name)?;
        match c.data_type() {
            DataType::Float64 => Ok(c.as_primitive::<Float64Type>().iter().collect()),
            t => Err(self.mistyped(name, t)),
        }
    }

    fn dates(&self, name: &str) -> Result<Vec<Option<i32>>> {
        let c = self.col(name)?;
        match c.data_type() {
            DataType::Date32 => Ok(c.as_primitive::<Date32Type>().iter().collect()),
            t => Err(self.mistyped(name, t)),
        }
    }

    fn mistyped(&self, name: &str, t: &DataType) -> Error {
        bad(self.what, format!("column `{name}` has type {t}"))
    }
}

/// The group-by columns of a schema: those between `level` and `measure`.
fn group_columns(what: &str, schema: &SchemaRef) -> Result<Vec<String>> {
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    let pos = |n: &str| {
        names
            .iter()
            .position(|c| *c == n)
            .ok_or_else(|| bad(what, format!("missing column `{n}`")))
    };
    let (l, m) = (pos("level")?, pos("measure")?);
    if m <= l {
        return Err(bad(what, "column `measure` comes before `level`"));
    }
    Ok(names[l + 1..m].iter().map(|s| s.to_string()).collect())
}

fn one_family(what: &str, windows: &[String]) -> Result<String> {
    let first = windows.first().cloned().unwrap_or_default();
    match windows.iter().find(|w| **w != first) {
        Some(other) => Err(bad(
            what,
            format!("it mixes window families {first:?} and {other:?}"),
        )),
        None => Ok(first),
    }
}

impl Card {
    /// The scorecard of these scores, equal to reading back
    /// [`scorecard_batch`](crate::tables::scorecard_batch)`(scores, policy)`.
    pub fn from_scores(scores: &Scores, policy: &SlaPolicy) -> Self {
        let layout = Layout::of(policy);
        let level_names = scores.level_names();
        let rows: Vec<CardRow> = (scores.rows.iter())
            .map(|r| {
                let m = &policy.measures[r.measure];
                let f = RowFigures::of(r, m, &layout);
                CardRow {
                    start: r.window.0,
                    end: r.window.1,
                    level: level_names[r.level].clone(),
                    groups: r.groups.clone(),
                    measure: m.id.clone(),
                    kind: f.kind.to_string(),
                    threshold_s: f.threshold_s,
                    threshold_wd: f.threshold_wd,
                    target: f.target,
                    n_eligible: f.n_eligible,
                    n_measured: f.n_measured,
                    n_within: f.n_within,
                    n_excluded: f.n_excluded,
                    compliance: f.compliance,
                    ci: f.ci,
                    percentiles: f.pcts_s.into_iter().chain(f.pcts_wd).collect(),
                }
            })
            .collect();
        Card {
            // The family is read off the rows' `window` column, so a file without rows has
            // none.
            window: if rows.is_empty() {
                String::new()
            } else {
                scores.window.name().to_string()
            },
            group_by: scores.group_by.clone(),
            percentiles: layout.percentile_columns(),
            rows,
        }
    }

    /// Reads a scorecard from batches sharing one schema.
    pub fn from_batches(schema: &SchemaRef, batches: &[RecordBatch]) -> Result<Self> {
        const WHAT: &str = "scorecard";
        let group_by = group_columns(WHAT, schema)?;
        let percentiles: Vec<String> = schema
            .fields()
            .iter()
            .map(|f| f.name())
            .filter(|n| {
                n.starts_with('p')
                    && (n.ends_with("_s") || n.ends_with("_wd"))
                    && n.as_bytes().get(1).is_some_and(u8::is_ascii_digit)
            })
            .cloned()
            .collect();
        let mut card = Card {
            window: String::new(),
            group_by,
            percentiles,
            rows: Vec::new(),
        };
        let mut windows = Vec::new();
        for batch in batches {
            let c = Cols { what: WHAT, batch };
            windows.extend(c.required_strings("window")?);
            let start = c.dates("window_start")?;
            let end = c.dates("window_end")?;
            let level = c.required_strings("level")?;
            let groups: Vec<Vec<Option<String>>> = card
                .group_by
                .iter()
                .map(|g| c.strings(g))
                .collect::<Result<_>>()?;
            let measure = c.required_strings("measure")?;
            let threshold = c.ints("threshold_s")?;
            let kind = if c.has("kind") {
                c.required_strings("kind")?
            } else {
                vec!["duration".to_string(); threshold.len()]
            };
            // Only a policy with a working-day measure has this column.
            let threshold_wd = if c.has("threshold_wd") {
                c.ints("threshold_wd")?
            } else {
                vec![None; threshold.len()]
            };
            let target = c.floats("target")?;
            let n_eligible = c.counts("n_eligible")?;
            let n_measured = c.counts("n_measured")?;
            let n_within = c.counts("n_within")?;
            let n_excluded = c.counts("n_excluded")?;
            let compliance = c.floats("compliance")?;
            let ci_low = c.floats("ci_low")?;
            let ci_high = c.floats("ci_high")?;
            let pcts: Vec<Vec<Option<f64>>> = card
                .percentiles
                .iter()
                .map(|p| c.floats(p))
                .collect::<Result<_>>()?;
            for (i, (measure, level)) in measure.into_iter().zip(level).enumerate() {
                let (Some(s), Some(e)) = (start[i], end[i]) else {
                    return Err(bad(WHAT, "a row has no window_start or window_end"));
                };
                if n_within[i] > n_measured[i] {
                    return Err(bad(
                        WHAT,
                        format!("measure {measure:?}: n_within is larger than n_measured"),
                    ));
                }
                card.rows.push(CardRow {
                    start: s,
                    end: e,
                    level,
                    groups: groups.iter().map(|g| g[i].clone()).collect(),
                    measure,
                    kind: kind[i].clone(),
                    threshold_s: threshold[i],
                    threshold_wd: threshold_wd[i],
                    target: target[i],
                    n_eligible: n_eligible[i],
                    n_measured: n_measured[i],
                    n_within: n_within[i],
                    n_excluded: n_excluded[i],
                    compliance: compliance[i],
                    ci: ci_low[i].zip(ci_high[i]),
                    percentiles: pcts.iter().map(|p| p[i]).collect(),
                });
            }
        }
        card.window = one_family(WHAT, &windows)?;
        Ok(card)
    }

    /// Measure ids in order of first appearance.
    pub fn measures(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for r in &self.rows {
            if !out.contains(&r.measure) {
                out.push(r.measure.clone());
            }
        }
        out
    }

    /// Level names in order of first appearance.
    pub fn levels(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for r in &self.rows {
            if !out.contains(&r.level) {
                out.push(r.level.clone());
            }
        }
        out
    }
}

impl Ledger {
    /// The ledger of these scores, equal to reading back
    /// [`ledger_batch`](crate::tables::ledger_batch)`(scores, policy)`.
    pub fn from_scores(scores: &Scores, policy: &SlaPolicy) -> Self {
        let level_names = scores.level_names();
        let rows: Vec<LedgerEntry> = (scores.ledger.iter())
            .map(|r| {
                let m = &policy.measures[r.measure];
                LedgerEntry {
                    window: r.window,
                    level: level_names[r.level].clone(),
                    groups: r.groups.clone(),
                    measure: m.id.clone(),
                    reason: m.reason_name(r.reason).to_string(),
                    count: i64_of(r.count),
                }
            })
            .collect();
        Ledger {
            window: if rows.is_empty() {
                String::new()
            } else {
                scores.window.name().to_string()
            },
            group_by: scores.group_by.clone(),
            rows,
        }
    }

    /// Reads a ledger from batches sharing one schema.
    pub fn from_batches(schema: &SchemaRef, batches: &[RecordBatch]) -> Result<Self> {
        const WHAT: &str = "ledger";
        let group_by = group_columns(WHAT, schema)?;
        let mut rows = Vec::new();
        let mut windows = Vec::new();
        for batch in batches {
            let c = Cols { what: WHAT, batch };
            windows.extend(c.required_strings("window")?);
            let start = c.dates("window_start")?;
            let end = c.dates("window_end")?;
            let level = c.required_strings("level")?;
            let groups: Vec<Vec<Option<String>>> = group_by
                .iter()
                .map(|g| c.strings(g))
                .collect::<Result<_>>()?;
            let measure = c.required_strings("measure")?;
            let reason = c.required_strings("reason")?;
            let count = c.counts("count")?;
            for (i, ((measure, level), reason)) in
                measure.into_iter().zip(level).zip(reason).enumerate()
            {
                rows.push(LedgerEntry {
                    window: start[i].zip(end[i]),
                    level,
                    groups: groups.iter().map(|g| g[i].clone()).collect(),
                    measure,
                    reason,
                    count: count[i],
                });
            }
        }
        let window = one_family(WHAT, &windows)?;
        Ok(Ledger {
            window,
            group_by,
            rows,
        })
    }

    /// Checks that this ledger belongs to `card`: same window family and group-by columns,
    /// and for every scorecard row, the ledger's counts add up to its `n_excluded`. A ledger
    /// from another run (other data, policy, period or grouping) fails one of these.
    pub fn check_matches(&self, card: &Card) -> Result<()> {
        let mismatch = |reason: String| Error::LedgerMismatch(reason);
        if self.rows.is_empty() {
            return match card.rows.iter().find(|r| r.n_excluded > 0) {
                Some(r) => Err(mismatch(format!(
                    "the ledger is empty but the scorecard excludes {} records of measure {:?}",
                    r.n_excluded, r.measure
                ))),
                None => Ok(()),
            };
        }
        if !card.rows.is_empty() && self.window != card.window {
            return Err(mismatch(format!(
                "the scorecard has {:?} windows, the ledger {:?} windows",
                card.window, self.window
            )));
        }
        if self.group_by != card.group_by {
            return Err(mismatch(format!(
                "the scorecard groups by {:?}, the ledger by {:?}",
                card.group_by, self.group_by
            )));
        }
        type Key<'a> = (i32, &'a str, &'a [Option<String>], &'a str);
        let mut sums: HashMap<Key<'_>, i64> = HashMap::new();
        for e in &self.rows {
            if let Some((s, _)) = e.window {
                *sums
                    .entry((s, &e.level, &e.groups, &e.measure))
                    .or_default() += e.count;
            }
        }
        for r in &card.rows {
            let got = sums
                .remove(&(
                    r.start,
                    r.level.as_str(),
                    r.groups.as_slice(),
                    r.measure.as_str(),
                ))
                .unwrap_or(0);
            if got != r.n_excluded {
                return Err(mismatch(format!(
                    "measure {:?}, level {}, window starting {}: the scorecard excludes {} \
                     records, the ledger lists {got}",
                    r.measure,
                    r.level,
                    day_text(r.start),
                    r.n_excluded
                )));
            }
        }
        if let Some(((_, level, _, measure), n)) = sums.into_iter().find(|(_, n)| *n > 0) {
            return Err(mismatch(format!(
                "the ledger lists {n} exclusions of measure {measure:?}, level {level}, for a \
                 row the scorecard does not have"
            )));
        }
        Ok(())
    }
}

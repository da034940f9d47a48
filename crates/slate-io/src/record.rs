//! One source row to one canonical record, or the reason it is rejected; and records to Arrow.
//!
//! A row arrives as its fields by mapping slot (already trimmed text). Every check that can
//! fail does so here, before anything is appended, so a row is either wholly imported or wholly
//! rejected with the first problem found (columns are checked in canonical order).

use arrow::datatypes::SchemaRef;
use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime};
use slate_core::schema::{self, RecordBuilder};
use slate_core::{LocalResolution, Reading, TzRules};

use crate::mapping::{
    ClockRule, ClockSource, Codes, Combine, Mapping, OptionalRule, TextRule, TimeFormat,
    UnknownCode,
};

const MICROS: i64 = 1_000_000;

/// Why one row was rejected: the source column, its raw value and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Source column (header text), or empty for a whole-row problem.
    pub column: String,
    /// The raw value (a whole-row problem shows the row, shortened).
    pub value: String,
    /// Short category, the key of the summary's per-reason counts.
    pub kind: &'static str,
    /// Details (the expected format, the field count).
    pub detail: String,
}

impl Problem {
    pub(crate) fn new(
        column: &str,
        value: &str,
        kind: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Problem {
            column: column.to_string(),
            value: shorten(value),
            kind,
            detail: detail.into(),
        }
    }

    /// The reason as written to the rejects file: `kind: detail`, or the kind alone.
    pub fn reason(&self) -> String {
        if self.detail.is_empty() {
            self.kind.to_string()
        } else {
            format!("{}: {}", self.kind, self.detail)
        }
    }
}

/// Keeps rejects files readable when a whole broken row is the value.
fn shorten(s: &str) -> String {
    const MAX: usize = 200;
    if s.len() <= MAX {
        return s.to_string();
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

/// Readings of naive local times that were not exact.
///
/// `repeated` counts the clocks of records (a clock of an incident joined from several rows
/// counts once) whose reading names two instants, split by what the mapping's `ambiguous` rule
/// made of them (the tally the stream keeps too). `skipped` counts readings of imported rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LocalCounts {
    /// In a repeated hour (clocks went back), and what the rule made of them.
    pub repeated: slate_core::ambiguous::Tally,
    /// In a skipped hour (clocks went forward): moved forward by the gap.
    pub skipped: u64,
}

impl LocalCounts {
    fn note(&mut self, r: LocalResolution) {
        if r == LocalResolution::Skipped {
            self.skipped += 1;
        }
    }

    pub(crate) fn add(&mut self, o: LocalCounts) {
        self.repeated.merge(&o.repeated);
        self.skipped += o.skipped;
    }
}

/// Where a row came from: the file's index in the read, the 1-based row and line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Origin {
    pub(crate) file: usize,
    pub(crate) row: u64,
    pub(crate) line: Option<u64>,
}

/// A canonical record before it becomes Arrow.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Record {
    pub(crate) id: String,
    /// borough, grade, channel.
    pub(crate) texts: [Option<String>; 3],
    /// UTC microseconds, in [`schema::CLOCKS`] order; both readings of a local time in a
    /// repeated hour until the record is complete and its rule decides.
    pub(crate) clocks: [Option<Reading>; 6],
    pub(crate) cancelled: Option<bool>,
    /// The mapped optional columns, in [`Mapping::optional`] order.
    pub(crate) optional: Vec<OptionalValue>,
    pub(crate) keep: Vec<Option<String>>,
    /// The first row of the record, and any later rows joined into it.
    pub(crate) origin: Origin,
    pub(crate) more: Vec<Origin>,
}

/// The value of an optional column, of the column's kind.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum OptionalValue {
    Text(Option<String>),
    /// UTC microseconds (both readings until decided, as for the canonical clocks).
    Clock(Option<Reading>),
    Flag(Option<bool>),
}

impl Record {
    /// Joins a later row of the same incident into this record, column by column.
    pub(crate) fn combine(&mut self, other: Record, mapping: &Mapping) {
        for ((mine, theirs), rule) in self.texts.iter_mut().zip(other.texts).zip(&mapping.texts) {
            if let Some(rule) = rule {
                combine_text(mine, theirs, rule.combine);
            }
        }
        for ((mine, theirs), rule) in self
            .clocks
            .iter_mut()
            .zip(other.clocks)
            .zip(&mapping.clocks)
        {
            if let Some(rule) = rule {
                *mine = combine_reading(*mine, theirs, rule.combine);
            }
        }
        if self.cancelled.is_none() {
            self.cancelled = other.cancelled;
        }
        for ((mine, theirs), (_, rule)) in self
            .optional
            .iter_mut()
            .zip(other.optional)
            .zip(&mapping.optional)
        {
            match (mine, theirs, rule) {
                (OptionalValue::Text(a), OptionalValue::Text(b), OptionalRule::Text(r)) => {
                    combine_text(a, b, r.combine);
                }
                (OptionalValue::Clock(a), OptionalValue::Clock(b), OptionalRule::Clock(r)) => {
                    *a = combine_reading(*a, b, r.combine);
                }
                // Flags, like `cancelled`: the first row that says.
                (OptionalValue::Flag(a), OptionalValue::Flag(b), _) => {
                    if a.is_none() {
                        *a = b;
                    }
                }
                _ => unreachable!("values are built from the same rules"),
            }
        }
        for ((mine, theirs), (_, rule)) in self.keep.iter_mut().zip(other.keep).zip(&mapping.keep) {
            combine_text(mine, theirs, rule.combine);
        }
        self.more.push(other.origin);
        self.more.extend(other.more);
    }

    /// Every row the record was read from.
    pub(crate) fn origins(&self) -> impl Iterator<Item = Origin> + '_ {
        std::iter::once(self.origin).chain(self.more.iter().copied())
    }
}

/// Where a record's clocks sit for [`slate_core::ambiguous::resolve`]: the six lifecycle
/// clocks, then the mapping's optional clocks; which follow another (a duration after it);
/// and the order they keep (the lifecycle, and `call_ended` after `call_answered`).
#[derive(Debug)]
pub(crate) struct ClockLayout {
    /// For each optional column (in [`Mapping::optional`] order), its clock index, if a clock.
    optional: Vec<Option<usize>>,
    follows: Vec<Option<usize>>,
    pairs: Vec<(usize, usize)>,
    /// Reused per record.
    buf: Vec<Option<Reading>>,
}

impl ClockLayout {
    pub(crate) fn new(mapping: &Mapping) -> Self {
        let base = |rule: &ClockRule| match rule.source {
            ClockSource::After { base, .. } => Some(base),
            _ => None,
        };
        let mut follows: Vec<Option<usize>> = mapping
            .clocks
            .iter()
            .map(|r| r.as_ref().and_then(base))
            .collect();
        let mut optional = Vec::with_capacity(mapping.optional.len());
        let mut pairs = Vec::new();
        for (name, rule) in &mapping.optional {
            optional.push(match rule {
                OptionalRule::Clock(r) => {
                    let i = follows.len();
                    follows.push(base(r));
                    if *name == schema::CALL_ENDED {
                        pairs.push((slate_core::ambiguous::CALL_ENDED_AFTER, i));
                    }
                    Some(i)
                }
                _ => None,
            });
        }
        ClockLayout {
            optional,
            buf: vec![None; follows.len()],
            follows,
            pairs,
        }
    }

    /// Decides the record's readings under `rule` (in place unless it is to be excluded).
    pub(crate) fn decide(
        &mut self,
        rec: &mut Record,
        rule: slate_core::Ambiguous,
    ) -> slate_core::ambiguous::Resolved {
        let amb = |c: &Option<Reading>| c.is_some_and(Reading::is_ambiguous);
        let opt_amb = rec
            .optional
            .iter()
            .any(|v| matches!(v, OptionalValue::Clock(c) if amb(c)));
        if !rec.clocks.iter().any(amb) && !opt_amb {
            return Default::default();
        }
        self.buf[..6].copy_from_slice(&rec.clocks);
        for (v, i) in rec.optional.iter().zip(&self.optional) {
            if let (OptionalValue::Clock(c), Some(i)) = (v, i) {
                self.buf[*i] = *c;
            }
        }
        let out = slate_core::ambiguous::resolve(
            rule,
            slate_core::ambiguous::RecordClocks {
                readings: &mut self.buf,
                follows: &self.follows,
                chain: &slate_core::ambiguous::LIFECYCLE,
                pairs: &self.pairs,
            },
        );
        if !out.excluded {
            rec.clocks.copy_from_slice(&self.buf[..6]);
            for (v, i) in rec.optional.iter_mut().zip(&self.optional) {
                if let (OptionalValue::Clock(c), Some(i)) = (v, i) {
                    *c = self.buf[*i];
                }
            }
        }
        out
    }

    /// The record's first ambiguous clock, for a reject: its source column (as the mapping
    /// names it), canonical name and reading.
    pub(crate) fn first_ambiguous(
        rec: &Record,
        mapping: &Mapping,
    ) -> Option<(String, &'static str, Reading)> {
        let canonical = schema::CLOCKS
            .iter()
            .zip(mapping.clocks.iter())
            .zip(rec.clocks.iter())
            .map(|((n, r), c)| (*n, r.as_ref(), c));
        let optional = mapping
            .optional
            .iter()
            .zip(&rec.optional)
            .filter_map(|((n, r), v)| match (r, v) {
                (OptionalRule::Clock(r), OptionalValue::Clock(c)) => Some((*n, Some(r), c)),
                _ => None,
            });
        let column = |r: &ClockRule| {
            let slot = match &r.source {
                ClockSource::Stamp { slot, .. } | ClockSource::After { slot, .. } => *slot,
                ClockSource::DateTime { time, .. } => *time,
            };
            match &mapping.sources[slot] {
                crate::mapping::ColumnRef::Name(n) => n.clone(),
                other => other.to_string(),
            }
        };
        canonical.chain(optional).find_map(|(n, r, c)| {
            let c = c.filter(|c| c.is_ambiguous())?;
            Some((r.map(column).unwrap_or_default(), n, c))
        })
    }
}

/// Combines clock readings instant by instant: the earliest of the earlier readings and the
/// earliest of the later ones, so that reading every clock of the record as earlier (or as
/// later) and then combining gives the same as combining and then choosing.
fn combine_reading(a: Option<Reading>, b: Option<Reading>, how: Combine) -> Option<Reading> {
    match (a, b) {
        (Some(a), Some(b)) => Some(Reading {
            earlier: combine_opt(Some(a.earlier), Some(b.earlier), how)?,
            later: combine_opt(Some(a.later), Some(b.later), how)?,
        }),
        (a, b) => a.or(b),
    }
}

fn combine_opt<T: Ord>(a: Option<T>, b: Option<T>, how: Combine) -> Option<T> {
    match (a, b) {
        (None, b) => b,
        (a, None) => a,
        (Some(a), Some(b)) => Some(match how {
            Combine::First => a,
            Combine::Min => a.min(b),
            Combine::Max => a.max(b),
        }),
    }
}

fn combine_text(mine: &mut Option<String>, theirs: Option<String>, how: Combine) {
    let a = mine.take();
    *mine = combine_opt(a, theirs, how);
}

/// Converts rows of one mapping; `names` are the source columns' header texts, by slot.
pub(crate) struct Converter<'a> {
    mapping: &'a Mapping,
    tz: &'a TzRules,
    names: Vec<String>,
}

impl<'a> Converter<'a> {
    pub(crate) fn new(mapping: &'a Mapping, tz: &'a TzRules, names: Vec<String>) -> Self {
        Converter { mapping, tz, names }
    }

    /// A field's value, or `None` when it is null or one of the `missing` values.
    fn value<'f>(fields: &[Option<&'f str>], slot: usize, missing: &[String]) -> Option<&'f str> {
        fields[slot].filter(|v| !missing.iter().any(|m| m == v))
    }

    fn text(&self, rule: &TextRule, fields: &[Option<&str>]) -> Result<Option<String>, Problem> {
        let Some(v) = Self::value(fields, rule.slot, &rule.missing) else {
            return Ok(None);
        };
        match &rule.codes {
            None => Ok(Some(v.to_string())),
            Some(Codes { table, unknown }) => match table.get(v) {
                Some(c) => Ok(Some(c.clone())),
                None => match unknown {
                    UnknownCode::Reject => {
                        let mut known: Vec<&str> = table.keys().map(String::as_str).collect();
                        known.sort_unstable();
                        Err(Problem::new(
                            &self.names[rule.slot],
                            v,
                            "unknown code",
                            format!("not in the mapping's code table ({})", known.join(", ")),
                        ))
                    }
                    UnknownCode::Keep => Ok(Some(v.to_string())),
                    UnknownCode::Null => Ok(None),
                },
            },
        }
    }

    /// A local reading as UTC microseconds: both instants when it is in a repeated hour.
    fn local(&self, ndt: NaiveDateTime, counts: &mut LocalCounts) -> Reading {
        let (utc, res) = self.tz.local_readings(ndt.and_utc().timestamp());
        counts.note(res);
        let sub = i64::from(ndt.and_utc().timestamp_subsec_micros());
        Reading {
            earlier: utc.earlier * MICROS + sub,
            later: utc.later * MICROS + sub,
        }
    }

    fn stamp(
        &self,
        slot: usize,
        format: &TimeFormat,
        v: &str,
        counts: &mut LocalCounts,
    ) -> Result<Reading, Problem> {
        let bad = |expected: &str| {
            Problem::new(
                &self.names[slot],
                v,
                "bad timestamp",
                format!("expected {expected}"),
            )
        };
        match format {
            TimeFormat::Iso => match parse_iso(v) {
                Some((ndt, None)) => Ok(self.local(ndt, counts)),
                Some((ndt, Some(off))) => Ok(Reading::exact(
                    ndt.and_utc().timestamp_micros() - i64::from(off) * MICROS,
                )),
                None => Err(bad("ISO 8601 (YYYY-MM-DD hh:mm:ss[.f][Z|+hh:mm])")),
            },
            TimeFormat::Pattern {
                pattern,
                offset: false,
            } => NaiveDateTime::parse_from_str(v, pattern)
                .ok()
                .filter(|ndt| four_digit_year(ndt.year()))
                .map(|ndt| self.local(ndt, counts))
                .ok_or_else(|| bad(&format!("{pattern:?} with a four-digit year"))),
            TimeFormat::Pattern {
                pattern,
                offset: true,
            } => DateTime::parse_from_str(v, pattern)
                .ok()
                .filter(|d| four_digit_year(d.year()))
                .map(|d| Reading::exact(d.timestamp_micros()))
                .ok_or_else(|| bad(&format!("{pattern:?} with a four-digit year"))),
        }
    }

    /// Converts one row, given its fields by slot.
    pub(crate) fn convert(
        &self,
        fields: &[Option<&str>],
        origin: Origin,
        counts: &mut LocalCounts,
    ) -> Result<Record, Problem> {
        let m = self.mapping;
        let mut local = LocalCounts::default();
        let id = match self.text(&m.incident_id, fields)? {
            Some(id) => id,
            None => {
                let slot = m.incident_id.slot;
                return Err(Problem::new(
                    &self.names[slot],
                    fields[slot].unwrap_or(""),
                    "missing incident id",
                    "",
                ));
            }
        };
        let mut texts: [Option<String>; 3] = [None, None, None];
        for (t, rule) in texts.iter_mut().zip(&m.texts) {
            if let Some(rule) = rule {
                *t = self.text(rule, fields)?;
            }
        }
        let mut clocks: [Option<Reading>; 6] = [None; 6];
        // Durations count from a clock of the same row, so they are read second.
        for pass_after in [false, true] {
            for (ci, rule) in m.clocks.iter().enumerate() {
                let Some(rule) = rule else { continue };
                if let Some(v) = self.clock(rule, pass_after, fields, &clocks, &mut local)? {
                    clocks[ci] = v;
                }
            }
        }
        let cancelled = match &m.cancelled {
            None => None,
            Some(rule) => Self::value(fields, rule.slot, &rule.missing)
                .map(|v| rule.true_values.iter().any(|t| t.eq_ignore_ascii_case(v))),
        };
        // Optional columns after every canonical clock, so a duration may count from any.
        let mut optional = Vec::with_capacity(m.optional.len());
        for (_, rule) in &m.optional {
            optional.push(match rule {
                OptionalRule::Text(r) => OptionalValue::Text(self.text(r, fields)?),
                OptionalRule::Clock(r) => {
                    let after = matches!(r.source, ClockSource::After { .. });
                    OptionalValue::Clock(
                        self.clock(r, after, fields, &clocks, &mut local)?.flatten(),
                    )
                }
                OptionalRule::Flag(r) => OptionalValue::Flag(
                    Self::value(fields, r.slot, &r.missing)
                        .map(|v| r.true_values.iter().any(|t| t.eq_ignore_ascii_case(v))),
                ),
            });
        }
        let mut keep = Vec::with_capacity(m.keep.len());
        for (_, rule) in &m.keep {
            keep.push(self.text(rule, fields)?);
        }
        counts.add(local);
        Ok(Record {
            id,
            texts,
            clocks,
            cancelled,
            optional,
            keep,
            origin,
            more: Vec::new(),
        })
    }

    /// One clock of a row: `None` when the rule is not read in this pass (`pass_after`:
    /// durations, which count from `clocks` already read), else its value or null.
    fn clock(
        &self,
        rule: &ClockRule,
        pass_after: bool,
        fields: &[Option<&str>],
        clocks: &[Option<Reading>; 6],
        local: &mut LocalCounts,
    ) -> Result<Option<Option<Reading>>, Problem> {
        let get = |slot: usize| Self::value(fields, slot, &rule.missing);
        Ok(Some(match (&rule.source, pass_after) {
            (ClockSource::Stamp { slot, format }, false) => match get(*slot) {
                None => None,
                Some(v) => Some(self.stamp(*slot, format, v, local)?),
            },
            (
                ClockSource::DateTime {
                    date,
                    date_format,
                    time,
                    time_format,
                },
                false,
            ) => match (get(*date), get(*time)) {
                (None, None) => None,
                (None, Some(t)) => {
                    return Err(Problem::new(
                        &self.names[*time],
                        t,
                        "time without date",
                        format!("{} is missing", self.names[*date]),
                    ));
                }
                (Some(d), None) => {
                    return Err(Problem::new(
                        &self.names[*date],
                        d,
                        "date without time",
                        format!("{} is missing", self.names[*time]),
                    ));
                }
                (Some(d), Some(t)) => {
                    let day = NaiveDate::parse_from_str(d, date_format)
                        .ok()
                        .filter(|day| four_digit_year(day.year()))
                        .ok_or_else(|| {
                            Problem::new(
                                &self.names[*date],
                                d,
                                "bad timestamp",
                                format!("expected a date {date_format:?} with a four-digit year"),
                            )
                        })?;
                    let tod = NaiveTime::parse_from_str(t, time_format).map_err(|_| {
                        Problem::new(
                            &self.names[*time],
                            t,
                            "bad timestamp",
                            format!("expected a time {time_format:?}"),
                        )
                    })?;
                    Some(self.local(day.and_time(tod), local))
                }
            },
            (ClockSource::After { base, slot }, true) => match get(*slot) {
                None => None,
                Some(v) => {
                    let secs: f64 = v
                        .parse()
                        .ok()
                        .filter(|s: &f64| s.is_finite() && s.abs() < 1e12)
                        .ok_or_else(|| {
                            Problem::new(&self.names[*slot], v, "not a number", "expected seconds")
                        })?;
                    // A duration follows its base clock's reading.
                    clocks[*base].map(|b| b.plus((secs * MICROS as f64).round() as i64))
                }
            },
            _ => return Ok(None),
        }))
    }
}

/// Whether a year read by a pattern can have been written with four digits: `%Y` also reads
/// `24` (in `01/06/24`) as the year 24, which is a bad timestamp, not one 2,000 years ago.
fn four_digit_year(year: i32) -> bool {
    (1000..=9999).contains(&year)
}

/// Parses `YYYY-MM-DD[T ]hh:mm[:ss[.f]]` with an optional `Z`, `±hh:mm` or `±hhmm`; the offset
/// is returned in seconds east of UTC.
pub(crate) fn parse_iso(v: &str) -> Option<(NaiveDateTime, Option<i32>)> {
    let b = v.as_bytes();
    let num = |s: &[u8]| -> Option<u32> {
        if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
            return None;
        }
        s.iter().try_fold(0u32, |a, d| {
            a.checked_mul(10)?.checked_add(u32::from(d - b'0'))
        })
    };
    if b.len() < 16
        || b[4] != b'-'
        || b[7] != b'-'
        || !(b[10] == b'T' || b[10] == b' ')
        || b[13] != b':'
    {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(
        i32::try_from(num(&b[0..4])?).ok()?,
        num(&b[5..7])?,
        num(&b[8..10])?,
    )?;
    let (h, mi) = (num(&b[11..13])?, num(&b[14..16])?);
    let mut i = 16;
    let mut s = 0;
    let mut micros = 0u32;
    if b.get(i) == Some(&b':') {
        s = num(b.get(i + 1..i + 3)?)?;
        i += 3;
        if b.get(i) == Some(&b'.') {
            let start = i + 1;
            let mut end = start;
            while end < b.len() && b[end].is_ascii_digit() {
                end += 1;
            }
            if end == start {
                return None;
            }
            // Microseconds: pad or cut the fraction to six digits.
            let mut digits: Vec<u8> = b[start..end.min(start + 6)].to_vec();
            digits.resize(6, b'0');
            micros = num(&digits)?;
            i = end;
        }
    }
    let time = NaiveTime::from_hms_micro_opt(h, mi, s, micros)?;
    let ndt = date.and_time(time);
    let rest = &b[i..];
    let offset = match rest {
        [] => None,
        [b'Z'] | [b'z'] => Some(0),
        [sign @ (b'+' | b'-'), hh @ ..] => {
            let (oh, om) = match hh {
                [a, b2, b':', c, d] => (num(&[*a, *b2])?, num(&[*c, *d])?),
                [a, b2, c, d] => (num(&[*a, *b2])?, num(&[*c, *d])?),
                [a, b2] => (num(&[*a, *b2])?, 0),
                _ => return None,
            };
            let secs = i32::try_from(oh * 3600 + om * 60).ok()?;
            Some(if *sign == b'-' { -secs } else { secs })
        }
        _ => return None,
    };
    Some((ndt, offset))
}

/// The output schema of a mapping: canonical columns, the optional columns it maps (in
/// [`schema::OPTIONAL_COLUMNS`] order), then the kept ones as text.
pub fn output_schema(mapping: &Mapping) -> SchemaRef {
    let optional: Vec<&str> = mapping.optional.iter().map(|(n, _)| *n).collect();
    let keep: Vec<&str> = mapping.keep.iter().map(|(n, _)| n.as_str()).collect();
    schema::schema_with_text(&optional, &keep)
}

impl Record {
    /// Appends the record as a row of its mapping's [`output_schema`]; its readings are
    /// decided (`earlier == later`).
    pub(crate) fn append_to(&self, b: &mut RecordBuilder) {
        let [borough, grade, channel] = &self.texts;
        b.append_canonical(
            &self.id,
            [borough.as_deref(), grade.as_deref(), channel.as_deref()],
            self.clocks.map(|c| c.map(|c| c.earlier)),
            self.cancelled,
        );
        let mut col = schema::COLUMNS.len();
        for v in &self.optional {
            match v {
                OptionalValue::Text(v) => b.append_text(col, v.as_deref()),
                OptionalValue::Clock(v) => b.append_clock(col, v.map(|c| c.earlier)),
                OptionalValue::Flag(v) => b.append_flag(col, *v),
            }
            col += 1;
        }
        for k in &self.keep {
            b.append_text(col, k.as_deref());
            col += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ndt(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").unwrap()
    }

    #[test]
    fn iso_parser_reads_naive_and_offset_times() {
        assert_eq!(
            parse_iso("2023-05-01 12:34:56"),
            Some((ndt("2023-05-01 12:34:56"), None))
        );
        assert_eq!(
            parse_iso("2023-05-01T12:34:56Z"),
            Some((ndt("2023-05-01 12:34:56"), Some(0)))
        );
        assert_eq!(
            parse_iso("2023-05-01T12:34:56.25+01:00"),
            Some((ndt("2023-05-01 12:34:56.25"), Some(3600)))
        );
        assert_eq!(
            parse_iso("2023-05-01T12:34-0530"),
            Some((ndt("2023-05-01 12:34:00"), Some(-19800)))
        );
        for bad in [
            "2023-05-01",
            "2023-13-01 00:00:00",
            "2023-05-01 25:00:00",
            "2023-05-01 12:34:56 PM",
            "05/01/2023 12:34:56",
            "2023-05-01 12:34:56.",
        ] {
            assert_eq!(parse_iso(bad), None, "{bad}");
        }
    }

    #[test]
    fn combine_takes_first_min_max() {
        assert_eq!(combine_opt(Some(3), Some(1), Combine::Min), Some(1));
        assert_eq!(combine_opt(Some(3), Some(1), Combine::Max), Some(3));
        assert_eq!(combine_opt(Some(3), Some(1), Combine::First), Some(3));
        assert_eq!(combine_opt(None, Some(1), Combine::First), Some(1));
        assert_eq!(combine_opt::<i64>(None, None, Combine::Min), None);
    }

    #[test]
    fn long_values_are_shortened_on_a_char_boundary() {
        let s = "£".repeat(150);
        let p = Problem::new("c", &s, "too few fields", "");
        assert!(p.value.ends_with("...") && p.value.len() <= 203);
        assert_eq!(p.reason(), "too few fields");
    }
}

//! Source mappings: how one CAD export's columns become canonical records.
//!
//! A mapping is TOML in two layers, like a policy: [`MappingFile`] is what the user wrote
//! (serde, `Option`s, unknown fields rejected) and [`Mapping`] is what the reader runs, reached
//! only through `TryFrom`, whose errors name the field. Every source column a rule reads is
//! collected into [`Mapping::sources`] once, so a reader resolves the header to indices one time
//! per file and each row is then read by slot number.
//!
//! The rules, and why they look like this:
//! - Text columns are copied, optionally through a code table (`codes`); a value the table lacks
//!   is a reject by default, because a silently ungraded record would fall out of every
//!   per-grade figure.
//! - Clocks are a timestamp column with a `format`, a `date` and a `time` column, or a
//!   duration in `seconds` `after` another clock (LFB's attendance time). Times without an
//!   offset are local wall time in the mapping's `tz` (see [`slate_core::TzRules::local_to_instant`]
//!   for the ambiguous and skipped hours); times with an offset are instants. A record whose
//!   local times fall in a repeated hour is read by the mapping's `ambiguous` rule, decided
//!   once the record is complete ([`slate_core::ambiguous`]).
//! - `missing` values (per column, plus the mapping-wide list, which defaults to `[""]`) mean
//!   null, so a sentinel such as Seattle's `01/01/1900 12:00:00 AM` is "no arrival", not a
//!   response time of minus a century.
//! - `[incident] key` joins several rows (one per unit) into one record; each column's
//!   `combine` says how (clocks default to the earliest, text to the first non-null value).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::{Deserialize, Serialize};
use slate_core::schema;

use crate::error::{Error, Result};

/// Built-in mappings: name and TOML text.
pub const BUILTINS: [(&str, &str); 4] = [
    ("canonical", include_str!("mapping/builtin/canonical.toml")),
    ("lfb", include_str!("mapping/builtin/lfb.toml")),
    ("sffd", include_str!("mapping/builtin/sffd.toml")),
    (
        "seattle-spd",
        include_str!("mapping/builtin/seattle-spd.toml"),
    ),
];

/// Input rows an incident stays open for when `[incident] window-rows` is not given.
pub const DEFAULT_WINDOW_ROWS: u64 = 100_000;

/// A reference to a source column: by header name, or by 1-based position.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(untagged)]
pub enum ColumnRef {
    /// The header text (matched exactly, else after trimming, collapsing blanks and case).
    Name(String),
    /// The column's position, 1-based (for unnamed or duplicated headers).
    Index {
        /// 1-based position.
        index: usize,
    },
}

impl std::fmt::Display for ColumnRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ColumnRef::Name(n) => write!(f, "{n:?}"),
            ColumnRef::Index { index } => write!(f, "column #{index}"),
        }
    }
}

/// A mapping as written in TOML.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct MappingFile {
    /// Mapping name.
    pub name: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// IANA zone of times without an offset.
    pub tz: Option<String>,
    /// How local times in a repeated hour are read: `earlier`, `later`, `exclude` or
    /// `order` (the default; see [`slate_core::ambiguous`]).
    pub ambiguous: Option<String>,
    /// One-byte field delimiter (default `,`).
    pub delimiter: Option<String>,
    /// Values meaning "missing" in every column (default `[""]`).
    pub missing: Option<Vec<String>>,
    /// Several rows per incident.
    pub incident: Option<IncidentFile>,
    /// Canonical column name -> how to fill it.
    #[serde(default)]
    pub columns: BTreeMap<String, ColumnFile>,
    /// Extra output column name -> source column, kept as text (usable in policy `where`).
    #[serde(default)]
    pub keep: BTreeMap<String, ColumnRef>,
}

/// `[incident]` as written.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct IncidentFile {
    /// Rows with equal key are one incident.
    pub key: Option<ColumnRef>,
    /// An incident is complete once this many input rows have passed since its last row.
    pub window_rows: Option<u64>,
}

/// One `[columns.NAME]` table as written.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ColumnFile {
    /// Source column.
    pub from: Option<ColumnRef>,
    /// Timestamp format: `iso` (default) or a chrono strftime pattern.
    pub format: Option<String>,
    /// Source column holding the date of a clock split in two.
    pub date: Option<ColumnRef>,
    /// Pattern of `date` (default `%Y-%m-%d`).
    pub date_format: Option<String>,
    /// Source column holding the time of day of a clock split in two.
    pub time: Option<ColumnRef>,
    /// Pattern of `time` (default `%H:%M:%S`).
    pub time_format: Option<String>,
    /// Source column holding a duration in seconds (may be fractional) after `after`.
    pub seconds: Option<ColumnRef>,
    /// The canonical clock a `seconds` duration counts from.
    pub after: Option<String>,
    /// Code table: source value -> canonical value.
    pub codes: Option<BTreeMap<String, String>>,
    /// A value missing from `codes`: `reject` (default), `keep` or `null`.
    pub unknown_code: Option<String>,
    /// Extra values meaning "missing" in this column.
    pub missing: Option<Vec<String>>,
    /// Joining rows of one incident: `first`, `min` or `max`.
    pub combine: Option<String>,
    /// Text that means true for `cancelled` (default true/yes/y/1).
    pub true_values: Option<Vec<String>>,
}

/// How a clock or text column of several rows becomes one value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Combine {
    /// The first non-null value in input order.
    First,
    /// The smallest (earliest) value.
    Min,
    /// The largest (latest) value.
    Max,
}

/// What to do with a value a code table lacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnknownCode {
    /// Reject the row, naming the value.
    Reject,
    /// Keep the source value as it is.
    Keep,
    /// Store null.
    Null,
}

/// A code table.
#[derive(Debug, Clone, PartialEq)]
pub struct Codes {
    /// Source value -> canonical value.
    pub table: HashMap<String, String>,
    /// Values not in the table.
    pub unknown: UnknownCode,
}

/// A text column's rule.
#[derive(Debug, Clone, PartialEq)]
pub struct TextRule {
    /// Slot of the source column in [`Mapping::sources`].
    pub slot: usize,
    /// Optional code table.
    pub codes: Option<Codes>,
    /// Values meaning null.
    pub missing: Vec<String>,
    /// How rows of one incident combine.
    pub combine: Combine,
}

/// A timestamp pattern.
#[derive(Debug, Clone, PartialEq)]
pub enum TimeFormat {
    /// `YYYY-MM-DD[T ]hh:mm:ss[.f]`, optionally with `Z` or `±hh:mm`.
    Iso,
    /// A chrono pattern; `offset` when it parses a UTC offset (`%z`, `%:z`, `%#z`).
    Pattern {
        /// The pattern.
        pattern: String,
        /// Whether the pattern reads an offset.
        offset: bool,
    },
}

/// Where a clock's value comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum ClockSource {
    /// One column.
    Stamp {
        /// Slot of the column.
        slot: usize,
        /// Its format.
        format: TimeFormat,
    },
    /// A date column and a time-of-day column, local time.
    DateTime {
        /// Slot of the date.
        date: usize,
        /// Pattern of the date.
        date_format: String,
        /// Slot of the time.
        time: usize,
        /// Pattern of the time.
        time_format: String,
    },
    /// `base` clock plus a duration in seconds.
    After {
        /// Index of the base clock in [`schema::CLOCKS`].
        base: usize,
        /// Slot of the seconds column.
        slot: usize,
    },
}

/// A clock column's rule.
#[derive(Debug, Clone, PartialEq)]
pub struct ClockRule {
    /// The source.
    pub source: ClockSource,
    /// Values meaning null (checked on every source column of the clock).
    pub missing: Vec<String>,
    /// How rows of one incident combine.
    pub combine: Combine,
}

/// The `cancelled` flag's rule.
#[derive(Debug, Clone, PartialEq)]
pub struct FlagRule {
    /// Slot of the source column.
    pub slot: usize,
    /// Lower-case values meaning true; anything else not missing is false.
    pub true_values: Vec<String>,
    /// Values meaning null.
    pub missing: Vec<String>,
}

/// The rule of an optional canonical column, by the column's kind.
#[derive(Debug, Clone, PartialEq)]
pub enum OptionalRule {
    /// A text column (copied, optionally through codes).
    Text(TextRule),
    /// A clock (a timestamp, date and time, or seconds after a canonical clock).
    Clock(ClockRule),
    /// A flag (true values as for `cancelled`).
    Flag(FlagRule),
}

/// Several rows per incident.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentRule {
    /// An incident is complete once this many input rows have passed since its last row.
    pub window_rows: u64,
}

/// A validated mapping.
#[derive(Debug, Clone, PartialEq)]
pub struct Mapping {
    /// Mapping name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Zone of times without an offset.
    pub tz: String,
    /// How the local times of a record that fall in a repeated hour are read.
    pub ambiguous: slate_core::Ambiguous,
    /// Field delimiter.
    pub delimiter: u8,
    /// Every source column any rule reads; rules hold slots into this list.
    pub sources: Vec<ColumnRef>,
    /// `incident_id` (for a multi-row source, also the incident key).
    pub incident_id: TextRule,
    /// `borough`, `grade`, `channel`, in that order.
    pub texts: [Option<TextRule>; 3],
    /// The clocks, in [`schema::CLOCKS`] order.
    pub clocks: [Option<ClockRule>; 6],
    /// `cancelled`.
    pub cancelled: Option<FlagRule>,
    /// Optional canonical columns ([`schema::OPTIONAL_COLUMNS`]) the mapping fills, in that
    /// list's order: column name and rule. An optional column no rule targets is not output.
    pub optional: Vec<(&'static str, OptionalRule)>,
    /// Extra text columns: output name and rule.
    pub keep: Vec<(String, TextRule)>,
    /// Present when rows of one incident are to be joined.
    pub incident: Option<IncidentRule>,
}

/// The canonical text columns a mapping may fill besides `incident_id`.
pub const TEXT_COLUMNS: [&str; 3] = [schema::BOROUGH, schema::GRADE, schema::CHANNEL];

impl Mapping {
    /// Parses and validates mapping TOML; `origin` names it in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<Self> {
        let file: MappingFile = toml::from_str(text).map_err(|e| Error::MappingSyntax {
            origin: origin.to_string(),
            reason: e.to_string(),
        })?;
        Mapping::try_from(file)
    }

    /// A built-in mapping by name, or a TOML file.
    pub fn load(spec: &str) -> Result<Self> {
        if let Some(text) = builtin_text(spec) {
            return Self::from_toml(text, spec);
        }
        let path = Path::new(spec);
        // Capped and regular files only, like policies: `--source /dev/zero` is an error.
        match crate::textfile::read_text_file(path) {
            Ok(text) => Self::from_toml(&text, spec),
            Err(e) if path.exists() => Err(Error::MappingSyntax {
                origin: spec.to_string(),
                reason: e.to_string(),
            }),
            Err(_) => Err(Error::UnknownMapping(
                spec.to_string(),
                builtin_names().join(", "),
            )),
        }
    }

    /// A copy reading naive times in another zone (`--tz`).
    pub fn with_tz(mut self, tz: &str) -> Self {
        tz.clone_into(&mut self.tz);
        self
    }

    /// A copy reading local times in a repeated hour by another rule.
    pub fn with_ambiguous(mut self, rule: slate_core::Ambiguous) -> Self {
        self.ambiguous = rule;
        self
    }

    /// Output names of the kept extra columns.
    pub fn keep_names(&self) -> Vec<&str> {
        self.keep.iter().map(|(n, _)| n.as_str()).collect()
    }

    /// Whether this is the identity mapping (`canonical`), whose Parquet input needs no import.
    pub fn is_canonical(&self) -> bool {
        self.name == "canonical"
    }
}

/// The TOML text of a built-in mapping.
pub fn builtin_text(name: &str) -> Option<&'static str> {
    BUILTINS.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

/// Names of the built-in mappings.
pub fn builtin_names() -> Vec<&'static str> {
    BUILTINS.iter().map(|(n, _)| *n).collect()
}

/// Collects source columns into slots while rules are validated.
struct Slots(Vec<ColumnRef>);

impl Slots {
    fn of(&mut self, c: &ColumnRef) -> usize {
        match self.0.iter().position(|x| x == c) {
            Some(i) => i,
            None => {
                self.0.push(c.clone());
                self.0.len() - 1
            }
        }
    }
}

impl TryFrom<MappingFile> for Mapping {
    type Error = Error;

    fn try_from(file: MappingFile) -> Result<Self> {
        let name = file.name.clone().unwrap_or_else(|| "unnamed".to_string());
        let mut r = Rules {
            global_missing: file.missing.clone().unwrap_or_else(|| vec![String::new()]),
            name,
            file: &file,
            slots: Slots(Vec::new()),
        };
        let tz = file
            .tz
            .clone()
            .unwrap_or_else(|| schema::DEFAULT_TZ.to_string());
        slate_core::TzRules::from_name(&tz).map_err(|e| r.bad("tz", e.to_string()))?;
        let ambiguous = match file.ambiguous.as_deref() {
            None => slate_core::Ambiguous::default(),
            Some(a) => a.parse().map_err(|e| r.bad("ambiguous", e))?,
        };
        let delimiter = r.delimiter()?;
        r.check_targets()?;
        let (incident_id, incident) = r.incident()?;
        let mut texts: [Option<TextRule>; 3] = [None, None, None];
        for (t, name) in texts.iter_mut().zip(TEXT_COLUMNS) {
            if let Some(c) = file.columns.get(name) {
                *t = Some(r.text_rule(&format!("columns.{name}"), c)?);
            }
        }
        let mut clocks: [Option<ClockRule>; 6] = Default::default();
        for (ci, name) in schema::CLOCKS.iter().enumerate() {
            if let Some(c) = file.columns.get(*name) {
                clocks[ci] = Some(r.clock_rule(name, c)?);
            }
        }
        let cancelled = match file.columns.get(schema::CANCELLED) {
            None => None,
            Some(c) => Some(r.flag_rule(schema::CANCELLED, c)?),
        };
        // Optional columns, by kind, in the list's order (the order of the output columns).
        let mut optional = Vec::new();
        for spec in &schema::OPTIONAL_COLUMNS {
            let Some(c) = file.columns.get(spec.name) else {
                continue;
            };
            let rule = match spec.kind {
                schema::ColumnKind::Text => {
                    OptionalRule::Text(r.text_rule(&format!("columns.{}", spec.name), c)?)
                }
                schema::ColumnKind::Clock => OptionalRule::Clock(r.clock_rule(spec.name, c)?),
                schema::ColumnKind::Flag => OptionalRule::Flag(r.flag_rule(spec.name, c)?),
            };
            optional.push((spec.name, rule));
        }
        let mut keep = Vec::new();
        for (k, from) in &file.keep {
            if k.is_empty() {
                return Err(r.bad("keep", "an output column needs a name".into()));
            }
            let c = ColumnFile {
                from: Some(from.clone()),
                ..Default::default()
            };
            keep.push((k.clone(), r.text_rule(&format!("keep.{k}"), &c)?));
        }
        let Rules { name, slots, .. } = r;
        Ok(Mapping {
            name,
            description: file.description.unwrap_or_default(),
            tz,
            ambiguous,
            delimiter,
            sources: slots.0,
            incident_id,
            texts,
            clocks,
            cancelled,
            optional,
            keep,
            incident,
        })
    }
}

/// What [`Mapping::try_from`] builds the rules with: the file, the mapping's name for errors,
/// the missing-value markers of every column, and the source columns read so far.
struct Rules<'a> {
    name: String,
    file: &'a MappingFile,
    global_missing: Vec<String>,
    slots: Slots,
}

impl Rules<'_> {
    fn bad(&self, field: &str, reason: String) -> Error {
        Error::InvalidMapping {
            mapping: self.name.clone(),
            field: field.to_string(),
            reason,
        }
    }

    fn delimiter(&self) -> Result<u8> {
        match self.file.delimiter.as_deref() {
            None => Ok(b','),
            Some(d) if d.len() == 1 => Ok(d.as_bytes()[0]),
            Some("\\t") => Ok(b'\t'),
            Some(d) => Err(self.bad("delimiter", format!("{d:?} is not one ASCII character"))),
        }
    }

    /// `[columns]` names canonical columns only, `[keep]` none.
    fn check_targets(&self) -> Result<()> {
        let is_target = |k: &str| {
            schema::COLUMNS.iter().any(|c| c.name == k) || schema::optional_column(k).is_some()
        };
        for k in self.file.keep.keys() {
            if is_target(k) {
                return Err(self.bad(
                    &format!("keep.{k}"),
                    "is a canonical column; map it under [columns]".into(),
                ));
            }
        }
        for k in self.file.columns.keys() {
            if !is_target(k) {
                let names: Vec<&str> = schema::COLUMNS.iter().map(|c| c.name).collect();
                let optional: Vec<&str> = schema::OPTIONAL_COLUMNS.iter().map(|c| c.name).collect();
                return Err(self.bad(
                    &format!("columns.{k}"),
                    format!(
                        "is not a canonical column (one of {}; optional: {}); use [keep] for extra columns",
                        names.join(", "),
                        optional.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }

    fn combine_of(&self, field: &str, c: &Option<String>, default: Combine) -> Result<Combine> {
        match c.as_deref() {
            None => Ok(default),
            Some("first") => Ok(Combine::First),
            Some("min") => Ok(Combine::Min),
            Some("max") => Ok(Combine::Max),
            Some(o) => Err(self.bad(
                &format!("{field}.combine"),
                format!("{o:?}: use first, min or max"),
            )),
        }
    }

    fn missing_of(&self, c: &ColumnFile) -> Vec<String> {
        let mut m = self.global_missing.clone();
        m.extend(c.missing.iter().flatten().cloned());
        m
    }

    /// Refuses keys of `c` that do not apply to its kind of column.
    fn only(&self, field: &str, c: &ColumnFile, allowed: &[&str]) -> Result<()> {
        let set: [(&str, bool); 12] = [
            ("from", c.from.is_some()),
            ("format", c.format.is_some()),
            ("date", c.date.is_some()),
            ("date-format", c.date_format.is_some()),
            ("time", c.time.is_some()),
            ("time-format", c.time_format.is_some()),
            ("seconds", c.seconds.is_some()),
            ("after", c.after.is_some()),
            ("codes", c.codes.is_some()),
            ("unknown-code", c.unknown_code.is_some()),
            ("true-values", c.true_values.is_some()),
            ("combine", c.combine.is_some()),
        ];
        for (k, present) in set {
            if present && !allowed.contains(&k) {
                return Err(self.bad(
                    &format!("{field}.{k}"),
                    "does not apply to this column".into(),
                ));
            }
        }
        Ok(())
    }

    fn text_rule(&mut self, field: &str, c: &ColumnFile) -> Result<TextRule> {
        self.only(field, c, &["from", "codes", "unknown-code", "combine"])?;
        let Some(from) = &c.from else {
            return Err(self.bad(
                &format!("{field}.from"),
                "is required (the source column)".into(),
            ));
        };
        let codes = match &c.codes {
            None => {
                if c.unknown_code.is_some() {
                    return Err(self.bad(
                        &format!("{field}.unknown-code"),
                        "needs a `codes` table".into(),
                    ));
                }
                None
            }
            Some(t) => Some(Codes {
                table: t.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                unknown: match c.unknown_code.as_deref() {
                    None | Some("reject") => UnknownCode::Reject,
                    Some("keep") => UnknownCode::Keep,
                    Some("null") => UnknownCode::Null,
                    Some(o) => {
                        return Err(self.bad(
                            &format!("{field}.unknown-code"),
                            format!("{o:?}: use reject, keep or null"),
                        ));
                    }
                },
            }),
        };
        Ok(TextRule {
            slot: self.slots.of(from),
            codes,
            missing: self.missing_of(c),
            combine: self.combine_of(field, &c.combine, Combine::First)?,
        })
    }

    /// `incident_id` (the column, else the incident key) and the `[incident]` rule.
    fn incident(&mut self) -> Result<(TextRule, Option<IncidentRule>)> {
        let key = self.file.incident.as_ref().and_then(|i| i.key.clone());
        let id_file = match (self.file.columns.get(schema::INCIDENT_ID).cloned(), &key) {
            (Some(c), _) => c,
            (None, Some(k)) => ColumnFile {
                from: Some(k.clone()),
                ..Default::default()
            },
            (None, None) => {
                return Err(self.bad(
                    "columns.incident_id",
                    "is required (the incident's unique id)".into(),
                ));
            }
        };
        let incident_id = self.text_rule("columns.incident_id", &id_file)?;
        if let Some(k) = &key
            && id_file.from.as_ref() != Some(k)
        {
            return Err(self.bad(
                "incident.key",
                "must be the column mapped to incident_id".into(),
            ));
        }
        let incident = match &self.file.incident {
            None => None,
            Some(i) => {
                if i.key.is_none() {
                    return Err(self.bad("incident.key", "is required in [incident]".into()));
                }
                let window_rows = i.window_rows.unwrap_or(DEFAULT_WINDOW_ROWS);
                if window_rows == 0 {
                    return Err(self.bad("incident.window-rows", "must be at least 1".into()));
                }
                Some(IncidentRule { window_rows })
            }
        };
        Ok((incident_id, incident))
    }

    /// A clock's rule; required and optional clocks are read alike.
    fn clock_rule(&mut self, name: &str, c: &ColumnFile) -> Result<ClockRule> {
        let field = format!("columns.{name}");
        let source = if let Some(from) = &c.from {
            self.only(&field, c, &["from", "format", "combine"])?;
            let format = match c.format.as_deref() {
                None | Some("iso") => TimeFormat::Iso,
                Some(p) => {
                    check_pattern(p).map_err(|r| self.bad(&format!("{field}.format"), r))?;
                    TimeFormat::Pattern {
                        pattern: p.to_string(),
                        offset: p.contains("%z") || p.contains("%:z") || p.contains("%#z"),
                    }
                }
            };
            ClockSource::Stamp {
                slot: self.slots.of(from),
                format,
            }
        } else if let (Some(d), Some(t)) = (&c.date, &c.time) {
            self.only(
                &field,
                c,
                &["date", "date-format", "time", "time-format", "combine"],
            )?;
            let date_format = c.date_format.clone().unwrap_or_else(|| "%Y-%m-%d".into());
            let time_format = c.time_format.clone().unwrap_or_else(|| "%H:%M:%S".into());
            check_pattern(&date_format)
                .map_err(|r| self.bad(&format!("{field}.date-format"), r))?;
            check_pattern(&time_format)
                .map_err(|r| self.bad(&format!("{field}.time-format"), r))?;
            ClockSource::DateTime {
                date: self.slots.of(d),
                date_format,
                time: self.slots.of(t),
                time_format,
            }
        } else if let Some(s) = &c.seconds {
            self.only(&field, c, &["seconds", "after", "combine"])?;
            ClockSource::After {
                base: self.seconds_base(&field, c.after.as_ref())?,
                slot: self.slots.of(s),
            }
        } else {
            return Err(self.bad(
                &field,
                "needs `from`, or `date` and `time`, or `seconds` and `after`".into(),
            ));
        };
        Ok(ClockRule {
            source,
            missing: self.missing_of(c),
            combine: self.combine_of(&field, &c.combine, Combine::Min)?,
        })
    }

    /// The canonical clock a `seconds` clock counts from: mapped, and not itself a duration.
    fn seconds_base(&self, field: &str, after: Option<&String>) -> Result<usize> {
        let Some(after) = after else {
            return Err(self.bad(
                &format!("{field}.after"),
                "is required with `seconds` (the clock it counts from)".into(),
            ));
        };
        let Some(base) = schema::CLOCKS.iter().position(|x| x == after) else {
            return Err(self.bad(
                &format!("{field}.after"),
                format!("{after:?} is not a canonical clock"),
            ));
        };
        match self.file.columns.get(after.as_str()) {
            Some(b) if b.seconds.is_none() => Ok(base),
            Some(_) => Err(self.bad(
                &format!("{field}.after"),
                format!("{after:?} is itself a duration; chains are not supported"),
            )),
            None => Err(self.bad(
                &format!("{field}.after"),
                format!("{after:?} is not mapped"),
            )),
        }
    }

    fn flag_rule(&mut self, name: &str, c: &ColumnFile) -> Result<FlagRule> {
        let field = format!("columns.{name}");
        self.only(&field, c, &["from", "true-values"])?;
        let Some(from) = &c.from else {
            return Err(self.bad(
                &format!("{field}.from"),
                "is required (the source column)".into(),
            ));
        };
        Ok(FlagRule {
            slot: self.slots.of(from),
            true_values: c
                .true_values
                .clone()
                .unwrap_or_else(|| ["true", "yes", "y", "1"].map(String::from).to_vec())
                .iter()
                .map(|s| s.to_lowercase())
                .collect(),
            missing: self.missing_of(c),
        })
    }
}

/// Rejects a chrono pattern chrono itself cannot use.
fn check_pattern(p: &str) -> std::result::Result<(), String> {
    use chrono::format::{Item, StrftimeItems};
    if p.is_empty() {
        return Err("is empty".into());
    }
    if StrftimeItems::new(p).any(|i| matches!(i, Item::Error)) {
        return Err(format!("{p:?} is not a valid chrono strftime pattern"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_parse_and_name_their_zones() {
        for (name, _) in BUILTINS {
            let m = Mapping::load(name).unwrap();
            assert_eq!(m.name, name);
        }
        assert_eq!(Mapping::load("sffd").unwrap().tz, "America/Los_Angeles");
        assert!(Mapping::load("sffd").unwrap().incident.is_some());
        assert_eq!(Mapping::load("lfb").unwrap().tz, "Europe/London");
        let e = Mapping::load("nope").unwrap_err().to_string();
        assert!(e.contains("lfb") && e.contains("seattle-spd"), "{e}");
    }

    fn err_of(toml: &str) -> String {
        Mapping::from_toml(toml, "test").unwrap_err().to_string()
    }

    #[test]
    fn rejections_name_the_field() {
        let id = "[columns.incident_id]\nfrom = \"id\"\n";
        assert!(err_of("name = \"x\"\n").contains("columns.incident_id"));
        let e = err_of(&format!(
            "{id}[columns.arrived]\nfrom = \"a\"\nformat = \"%Q\"\n"
        ));
        assert!(e.contains("columns.arrived.format"), "{e}");
        let e = err_of(&format!("{id}[columns.arrived]\nseconds = \"s\"\n"));
        assert!(e.contains("columns.arrived.after"), "{e}");
        let e = err_of(&format!(
            "{id}[columns.arrived]\nseconds = \"s\"\nafter = \"call_received\"\n"
        ));
        assert!(e.contains("not mapped"), "{e}");
        let e = err_of(&format!(
            "{id}[columns.grade]\nfrom = \"g\"\nunknown-code = \"keep\"\n"
        ));
        assert!(e.contains("needs a `codes` table"), "{e}");
        let e = err_of(&format!(
            "{id}[columns.grade]\nfrom = \"g\"\nformat = \"%Y\"\n"
        ));
        assert!(e.contains("columns.grade.format"), "{e}");
        let e = err_of(&format!("{id}[columns.priority]\nfrom = \"p\"\n"));
        assert!(e.contains("use [keep]"), "{e}");
        let e = err_of(&format!("{id}[keep]\nborough = \"b\"\n"));
        assert!(e.contains("keep.borough"), "{e}");
        let e = err_of(&format!("tz = \"Mars/Base\"\n{id}"));
        assert!(e.contains("`tz`"), "{e}");
        let e = err_of(&format!("{id}bogus = 1\n"));
        assert!(e.contains("unknown field"), "{e}");
        let e = err_of("[incident]\nkey = \"k\"\n[columns.incident_id]\nfrom = \"other\"\n");
        assert!(e.contains("incident.key"), "{e}");
    }

    #[test]
    fn slots_are_shared_and_index_refs_parse() {
        let m = Mapping::from_toml(
            "[columns.incident_id]\nfrom = { index = 1 }\n[columns.grade]\nfrom = \"P\"\n[keep]\npriority = \"P\"\n",
            "t",
        )
        .unwrap();
        assert_eq!(
            m.sources,
            vec![ColumnRef::Index { index: 1 }, ColumnRef::Name("P".into())]
        );
        assert_eq!(m.keep[0].1.slot, 1);
        // The key alone names incident_id.
        let m = Mapping::from_toml("[incident]\nkey = \"Call Number\"\nwindow-rows = 10\n", "t")
            .unwrap();
        assert_eq!(m.sources, vec![ColumnRef::Name("Call Number".into())]);
        assert_eq!(m.incident, Some(IncidentRule { window_rows: 10 }));
    }
}

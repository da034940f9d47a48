//! SLA policies: what the user wrote ([`PolicyFile`]) and what slate runs ([`SlaPolicy`]).
//!
//! A policy file becomes an [`SlaPolicy`] only through `TryFrom`, which checks every field and
//! names the measure and field it rejects. Column names and SQL predicates are checked by the
//! engine against the input's schema, before any data is read.

use std::collections::HashSet;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::duration::parse_duration_secs;
use crate::error::{Error, Result};
use crate::hist::Exclusion;
use crate::workdays::WorkCalendar;

/// Percentiles reported when a measure names none.
pub const DEFAULT_PERCENTILES: [f64; 4] = [0.5, 0.9, 0.95, 0.99];

/// Built-in policies: name and TOML text.
pub const BUILTINS: [(&str, &str); 4] = [
    (
        "mps-promise-2008",
        include_str!("policies/mps-promise-2008.toml"),
    ),
    (
        "policing-pledge-2008",
        include_str!("policies/policing-pledge-2008.toml"),
    ),
    (
        "mps-promise-2008-full",
        include_str!("policies/mps-promise-2008-full.toml"),
    ),
    (
        "policing-pledge-2008-full",
        include_str!("policies/policing-pledge-2008-full.toml"),
    ),
];

/// A policy as written in TOML.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PolicyFile {
    /// Policy name.
    pub name: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// The measures.
    #[serde(default)]
    pub measure: Vec<MeasureFile>,
}

/// A measure as written in TOML.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct MeasureFile {
    /// Unique id within the policy.
    pub id: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// `duration` (the default), `deadline` or `share`.
    pub kind: Option<String>,
    /// Start clock column (for a share, the clock that places a record in a window).
    pub start: Option<String>,
    /// Stop clock column.
    pub stop: Option<String>,
    /// SQL predicate selecting the records the measure applies to.
    #[serde(rename = "where")]
    pub where_sql: Option<String>,
    /// Threshold such as `15m`, or `2wd` (working days, with `calendar`).
    pub threshold: Option<String>,
    /// Working-day calendar of a `wd` threshold: a built-in name or a TOML file.
    pub calendar: Option<String>,
    /// Deadline column of a `deadline` measure.
    pub deadline: Option<String>,
    /// How late after the deadline still counts as kept (`deadline` measures), e.g. `15m`.
    pub grace: Option<String>,
    /// SQL predicate: a success of a `share` measure.
    pub success: Option<String>,
    /// Share of records that should be within the threshold.
    pub target: Option<f64>,
    /// Percentiles to report, each in 0..=1.
    pub percentiles: Option<Vec<f64>>,
    /// Named exclusions, checked in order.
    pub exclude: Option<Vec<ExclusionFile>>,
}

/// A named exclusion as written in TOML.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ExclusionFile {
    /// The ledger's reason text.
    pub reason: Option<String>,
    /// SQL predicate; a record matching it is excluded with this reason.
    #[serde(rename = "where")]
    pub where_sql: Option<String>,
}

/// A validated policy.
#[derive(Debug, Clone, PartialEq)]
pub struct SlaPolicy {
    /// Policy name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// The measures, in file order.
    pub measures: Vec<Measure>,
}

/// What a measure counts, and so the unit of its values and threshold.
#[derive(Debug, Clone, PartialEq)]
pub enum MeasureKind {
    /// Whole seconds from start to stop, floored; within when at most the threshold.
    Duration,
    /// Working days of a calendar from the start's local date to the stop's (see
    /// [`crate::workdays`]); within when at most the threshold.
    WorkingDays(Arc<WorkCalendar>),
    /// Lateness: whole seconds from the deadline (the measure's `start`) to the stop, floored,
    /// negative when early; within (kept) when at most the grace.
    Deadline,
    /// A share: each record is a success (value 0) or not (value 1) by a SQL predicate; the
    /// threshold is 0, so compliance is the share of successes.
    Share {
        /// The success predicate.
        success_sql: String,
    },
}

impl MeasureKind {
    /// The `kind` word of a policy file.
    pub fn word(&self) -> &'static str {
        match self {
            MeasureKind::Duration | MeasureKind::WorkingDays(_) => "duration",
            MeasureKind::Deadline => "deadline",
            MeasureKind::Share { .. } => "share",
        }
    }

    /// Whether values are working days (the scorecard's `_wd` columns) rather than seconds.
    pub fn is_working_days(&self) -> bool {
        matches!(self, MeasureKind::WorkingDays(_))
    }
}

/// A validated measure.
#[derive(Debug, Clone, PartialEq)]
pub struct Measure {
    /// Unique id within the policy.
    pub id: String,
    /// Free text.
    pub description: String,
    /// What the measure counts.
    pub kind: MeasureKind,
    /// Start clock column; for a deadline measure, the deadline column (it places a record in
    /// a window and lateness is counted from it).
    pub start: String,
    /// Stop clock column; for a share, the same as `start`.
    pub stop: String,
    /// SQL predicate selecting the records the measure applies to; `None` means all.
    pub where_sql: Option<String>,
    /// Threshold in the measure's unit (seconds, working days, or 0 for a share); a value at
    /// most this is within.
    pub threshold: i64,
    /// Target share within the threshold; `None` means reported, not judged.
    pub target: Option<f64>,
    /// Percentiles to report, ascending, each in 0..=1.
    pub percentiles: Vec<f64>,
    /// Named exclusions, checked in order before the built-in ones.
    pub exclusions: Vec<NamedExclusion>,
}

/// A validated named exclusion.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedExclusion {
    /// The ledger's reason text.
    pub reason: String,
    /// SQL predicate.
    pub where_sql: String,
}

impl Measure {
    /// The ledger's text for a reason of this measure. The built-in reasons keep their slots
    /// across kinds and take the kind's words: a deadline measure's missing start is a missing
    /// deadline, a share's missing stop is an outcome the `success` predicate could not tell.
    pub fn reason_name(&self, reason: Exclusion) -> &str {
        match (reason, &self.kind) {
            (Exclusion::Named(i), _) => &self.exclusions[i].reason,
            (Exclusion::MissingStart, MeasureKind::Deadline) => "missing_deadline",
            (Exclusion::MissingStop, MeasureKind::Share { .. }) => "missing_outcome",
            (other, _) => other.builtin_name().unwrap_or("unknown"),
        }
    }

    /// The promise in a line: `call_received -> arrived within 12m`,
    /// `... within 2 working days (england-and-wales)`, `arrived by appointment_due + 15m`,
    /// `share of satisfied`.
    pub fn rule(&self) -> String {
        use crate::duration::format_duration_secs as d;
        match &self.kind {
            MeasureKind::Duration => {
                format!(
                    "{} -> {} within {}",
                    self.start,
                    self.stop,
                    d(self.threshold)
                )
            }
            MeasureKind::WorkingDays(c) => format!(
                "{} -> {} within {} working day{} ({})",
                self.start,
                self.stop,
                self.threshold,
                if self.threshold == 1 { "" } else { "s" },
                c.name()
            ),
            MeasureKind::Deadline => {
                format!("{} by {} + {}", self.stop, self.start, d(self.threshold))
            }
            MeasureKind::Share { success_sql } => format!("share of {success_sql}"),
        }
    }

    /// The unit of values and threshold: `s`, `wd` or `share`.
    pub fn unit(&self) -> &'static str {
        match self.kind {
            MeasureKind::Duration | MeasureKind::Deadline => "s",
            MeasureKind::WorkingDays(_) => "wd",
            MeasureKind::Share { .. } => "share",
        }
    }

    /// Every reason of this measure, in checking order.
    pub fn reasons(&self) -> impl Iterator<Item = Exclusion> + '_ {
        (0..self.exclusions.len())
            .map(Exclusion::Named)
            .chain(Exclusion::BUILTIN)
    }
}

impl SlaPolicy {
    /// Parses and validates policy TOML; `origin` names it in errors. Its calendars must be
    /// built-in ones: slate-core reads no files, so a policy naming a calendar file is read with
    /// [`SlaPolicy::from_toml_with`] and a reader of files (slate-io's `policy` module).
    pub fn from_toml(text: &str, origin: &str) -> Result<Self> {
        Self::from_toml_with(text, origin, &builtin_calendar)
    }

    /// [`SlaPolicy::from_toml`], with `calendar` giving the working-day calendar a measure
    /// names (each name asked for once).
    pub fn from_toml_with(
        text: &str,
        origin: &str,
        calendar: &dyn Fn(&str) -> Result<WorkCalendar>,
    ) -> Result<Self> {
        let file: PolicyFile = toml::from_str(text).map_err(|e| Error::PolicySyntax {
            origin: origin.to_string(),
            reason: e.to_string(),
        })?;
        validate(file, calendar)
    }

    /// A built-in policy by name.
    pub fn builtin(name: &str) -> Result<Self> {
        let text = builtin_text(name).ok_or_else(|| Error::UnknownBuiltin(name.to_string()))?;
        Self::from_toml(text, &format!("builtin:{name}"))
    }

    /// Every column the policy reads as a clock.
    pub fn clock_columns(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for m in &self.measures {
            for c in [m.start.as_str(), m.stop.as_str()] {
                if !out.contains(&c) {
                    out.push(c);
                }
            }
        }
        out
    }
}

/// The TOML text of a built-in policy.
pub fn builtin_text(name: &str) -> Option<&'static str> {
    BUILTINS.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

impl TryFrom<PolicyFile> for SlaPolicy {
    type Error = Error;

    fn try_from(file: PolicyFile) -> Result<Self> {
        validate(file, &builtin_calendar)
    }
}

/// Working-day calendars by the text a policy names them with, so measures that share one
/// share its table.
type Calendars = Vec<(String, Arc<WorkCalendar>)>;

/// The calendar a policy names when no files may be read: a built-in one.
fn builtin_calendar(spec: &str) -> Result<WorkCalendar> {
    if crate::workdays::BUILTIN_CALENDARS.contains(&spec) {
        return WorkCalendar::builtin(spec);
    }
    Err(Error::InvalidCalendar {
        origin: spec.to_string(),
        reason: "not a built-in calendar, and this policy was read without access to files".into(),
    })
}

fn load_calendar(
    spec: &str,
    calendar: &dyn Fn(&str) -> Result<WorkCalendar>,
    loaded: &mut Calendars,
) -> Result<Arc<WorkCalendar>> {
    if let Some((_, c)) = loaded.iter().find(|(s, _)| s == spec) {
        return Ok(c.clone());
    }
    let cal = Arc::new(calendar(spec)?);
    loaded.push((spec.to_string(), cal.clone()));
    Ok(cal)
}

fn validate(
    file: PolicyFile,
    calendar: &dyn Fn(&str) -> Result<WorkCalendar>,
) -> Result<SlaPolicy> {
    let mut calendars: Calendars = Vec::new();
    let name = file.name.unwrap_or_else(|| "unnamed".to_string());
    if file.measure.is_empty() {
        return Err(Check {
            policy: &name,
            label: String::new(),
        }
        .bad("measure", "a policy needs at least one [[measure]]".into()));
    }
    let mut seen = HashSet::new();
    let mut measures = Vec::with_capacity(file.measure.len());
    for (i, m) in file.measure.into_iter().enumerate() {
        let id = m.id.clone().unwrap_or_default();
        let check = Check {
            policy: &name,
            label: if id.is_empty() {
                format!("#{}", i + 1)
            } else {
                id.clone()
            },
        };
        check.id(&id, &mut seen)?;
        measures.push(check.measure(id, m, calendar, &mut calendars)?);
    }
    Ok(SlaPolicy {
        name,
        description: file.description.unwrap_or_default(),
        measures,
    })
}

/// The checks of one `[[measure]]` of a policy, each error naming the policy, the measure
/// (its id, or `#N` without one) and the field.
struct Check<'a> {
    policy: &'a str,
    label: String,
}

/// A measure's kind, start and stop columns and threshold, as its kind reads them.
type KindParts = (MeasureKind, String, String, i64);

impl Check<'_> {
    fn bad(&self, field: &str, reason: String) -> Error {
        Error::InvalidPolicy {
            policy: self.policy.to_string(),
            measure: self.label.clone(),
            field: field.to_string(),
            reason,
        }
    }

    fn id(&self, id: &str, seen: &mut HashSet<String>) -> Result<()> {
        if id.is_empty() {
            return Err(self.bad("id", "is required".into()));
        }
        if !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(self.bad("id", "use letters, digits, '_' and '-' only".into()));
        }
        if !seen.insert(id.to_string()) {
            return Err(self.bad("id", "duplicate measure id".into()));
        }
        Ok(())
    }

    /// A required timestamp column.
    fn clock(&self, v: Option<String>, field: &str) -> Result<String> {
        match v {
            Some(s) if !s.trim().is_empty() => Ok(s.trim().to_string()),
            _ => Err(self.bad(field, "is required (a timestamp column)".into())),
        }
    }

    /// A field this kind of measure must not have.
    fn absent(&self, v: &Option<String>, field: &str, why: &str) -> Result<()> {
        match v {
            Some(_) => Err(self.bad(field, why.to_string())),
            None => Ok(()),
        }
    }

    fn duration(&self, v: Option<String>, field: &str) -> Result<Option<i64>> {
        v.map(|t| parse_duration_secs(&t).map_err(|e| self.bad(field, e.to_string())))
            .transpose()
    }

    fn measure(
        &self,
        id: String,
        m: MeasureFile,
        calendar: &dyn Fn(&str) -> Result<WorkCalendar>,
        calendars: &mut Calendars,
    ) -> Result<Measure> {
        let (kind, start, stop, threshold) =
            match m.kind.as_deref().map(str::trim).unwrap_or("duration") {
                "duration" => self.duration_kind(&m, calendar, calendars)?,
                "deadline" => self.deadline_kind(&m)?,
                "share" => self.share_kind(&m)?,
                other => {
                    return Err(self.bad(
                        "kind",
                        format!("{other:?} is not a kind: use duration, deadline or share"),
                    ));
                }
            };
        if let Some(t) = m.target
            && !(t > 0.0 && t <= 1.0)
        {
            return Err(self.bad("target", format!("{t} is not a share in (0, 1]")));
        }
        let mut percentiles = match kind {
            MeasureKind::Share { .. } => Vec::new(),
            _ => m
                .percentiles
                .unwrap_or_else(|| DEFAULT_PERCENTILES.to_vec()),
        };
        if let Some(p) = percentiles.iter().find(|p| !(0.0..=1.0).contains(*p)) {
            return Err(self.bad("percentiles", format!("{p} is not in [0, 1]")));
        }
        percentiles.sort_by(f64::total_cmp);
        percentiles.dedup();
        let where_sql = match m.where_sql {
            Some(w) if w.trim().is_empty() => {
                return Err(self.bad("where", "is empty; omit it to measure every record".into()));
            }
            other => other,
        };
        Ok(Measure {
            id,
            description: m.description.unwrap_or_default(),
            kind,
            start,
            stop,
            where_sql,
            threshold,
            target: m.target,
            percentiles,
            exclusions: self.exclusions(m.exclude.unwrap_or_default())?,
        })
    }

    fn duration_kind(
        &self,
        m: &MeasureFile,
        calendar: &dyn Fn(&str) -> Result<WorkCalendar>,
        calendars: &mut Calendars,
    ) -> Result<KindParts> {
        let start = self.clock(m.start.clone(), "start")?;
        let stop = self.clock(m.stop.clone(), "stop")?;
        if start == stop {
            return Err(self.bad("stop", "must differ from start".into()));
        }
        let deadline_only = "only a kind = \"deadline\" measure has one";
        for (v, f, why) in [
            (&m.deadline, "deadline", deadline_only),
            (&m.grace, "grace", deadline_only),
            (
                &m.success,
                "success",
                "only a kind = \"share\" measure has one",
            ),
        ] {
            self.absent(v, f, why)?;
        }
        let Some(t) = m.threshold.clone() else {
            return Err(self.bad(
                "threshold",
                "is required (e.g. \"15m\", or \"2wd\" with a calendar)".into(),
            ));
        };
        let Some(n) = t.trim().strip_suffix("wd") else {
            self.absent(
                &m.calendar,
                "calendar",
                "a calendar goes with a working-day threshold such as \"2wd\"",
            )?;
            let secs = self.duration(Some(t), "threshold")?.unwrap_or(0);
            return Ok((MeasureKind::Duration, start, stop, secs));
        };
        let n: i64 = n.trim().parse().ok().filter(|n| *n >= 0).ok_or_else(|| {
            self.bad(
                "threshold",
                format!("{t:?}: working days are a whole number, e.g. \"2wd\""),
            )
        })?;
        let Some(spec) = m.calendar.as_deref().map(str::trim) else {
            return Err(self.bad(
                "calendar",
                format!(
                    "a working-day threshold ({t:?}) needs a calendar: one of {} or a calendar file (.toml)",
                    crate::workdays::BUILTIN_CALENDARS.join(", ")
                ),
            ));
        };
        let cal = load_calendar(spec, calendar, calendars)
            .map_err(|e| self.bad("calendar", e.to_string()))?;
        Ok((MeasureKind::WorkingDays(cal), start, stop, n))
    }

    fn deadline_kind(&self, m: &MeasureFile) -> Result<KindParts> {
        self.absent(
            &m.start,
            "start",
            "a deadline measure is placed in the window of its deadline and counts lateness from it: omit start",
        )?;
        for (v, f, why) in [
            (
                &m.threshold,
                "threshold",
                "a deadline measure is within when stop <= deadline + grace: use grace",
            ),
            (
                &m.calendar,
                "calendar",
                "working days go with a duration measure",
            ),
            (
                &m.success,
                "success",
                "only a kind = \"share\" measure has one",
            ),
        ] {
            self.absent(v, f, why)?;
        }
        let deadline = self.clock(m.deadline.clone(), "deadline")?;
        let stop = self.clock(m.stop.clone(), "stop")?;
        if deadline == stop {
            return Err(self.bad("stop", "must differ from deadline".into()));
        }
        let grace = self.duration(m.grace.clone(), "grace")?.unwrap_or(0);
        Ok((MeasureKind::Deadline, deadline, stop, grace))
    }

    fn share_kind(&self, m: &MeasureFile) -> Result<KindParts> {
        for (v, f) in [
            (&m.stop, "stop"),
            (&m.threshold, "threshold"),
            (&m.calendar, "calendar"),
            (&m.deadline, "deadline"),
            (&m.grace, "grace"),
        ] {
            self.absent(
                v,
                f,
                "a share measure has a start (its window clock) and a success predicate only",
            )?;
        }
        if m.percentiles.as_ref().is_some_and(|p| !p.is_empty()) {
            return Err(self.bad("percentiles", "a share has no percentiles".into()));
        }
        let start = self.clock(m.start.clone(), "start")?;
        let success_sql = match &m.success {
            Some(s) if !s.trim().is_empty() => s.clone(),
            _ => {
                return Err(self.bad(
                    "success",
                    "is required (a true/false SQL predicate, e.g. \"satisfied\")".into(),
                ));
            }
        };
        Ok((MeasureKind::Share { success_sql }, start.clone(), start, 0))
    }

    /// The named exclusions, in order: each with a reason of its own and a predicate.
    fn exclusions(&self, list: Vec<ExclusionFile>) -> Result<Vec<NamedExclusion>> {
        let mut reasons = HashSet::new();
        let mut exclusions = Vec::new();
        for (j, e) in list.into_iter().enumerate() {
            let field = format!("exclude[{j}]");
            let reason = e.reason.unwrap_or_default();
            if reason.trim().is_empty() {
                return Err(self.bad(&field, "needs a reason".into()));
            }
            if Exclusion::BUILTIN
                .iter()
                .any(|b| b.builtin_name() == Some(reason.as_str()))
            {
                return Err(self.bad(&field, format!("{reason:?} is a built-in reason")));
            }
            if !reasons.insert(reason.clone()) {
                return Err(self.bad(&field, format!("duplicate reason {reason:?}")));
            }
            let where_sql = match e.where_sql {
                Some(w) if !w.trim().is_empty() => w,
                _ => return Err(self.bad(&field, "needs a where predicate".into())),
            };
            exclusions.push(NamedExclusion { reason, where_sql });
        }
        Ok(exclusions)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_parse() {
        for (name, _) in BUILTINS {
            let p = SlaPolicy::builtin(name).unwrap();
            assert_eq!(p.name, name);
            assert!(p.measures.len() >= 4, "{name}");
        }
        let mps = SlaPolicy::builtin("mps-promise-2008").unwrap();
        let i = &mps.measures[2];
        assert_eq!(
            (i.id.as_str(), i.threshold, i.target),
            ("attend_I_12m", 720, Some(0.75))
        );
        assert_eq!(i.percentiles, DEFAULT_PERCENTILES.to_vec());
        assert!(SlaPolicy::builtin("nope").is_err());
    }

    fn err_of(toml: &str) -> String {
        SlaPolicy::from_toml(toml, "test").unwrap_err().to_string()
    }

    #[test]
    fn rejections_name_the_measure_and_field() {
        let base = "[[measure]]\nid = \"a\"\nstart = \"call_received\"\nstop = \"arrived\"\n";
        let e = err_of(&format!("{base}threshold = \"15q\"\n"));
        assert!(e.contains("\"a\"") && e.contains("`threshold`"), "{e}");
        let e = err_of(&format!(
            "{base}threshold = \"15m\"\n{base}threshold = \"1m\"\n"
        ));
        assert!(e.contains("duplicate measure id"), "{e}");
        let e = err_of(&format!("{base}threshold = \"15m\"\ntarget = 1.5\n"));
        assert!(e.contains("`target`"), "{e}");
        let e = err_of(&format!(
            "{base}threshold = \"15m\"\npercentiles = [0.5, 2]\n"
        ));
        assert!(e.contains("`percentiles`"), "{e}");
        let e = err_of(&format!("{base}threshold = \"15m\"\nbogus = 1\n"));
        assert!(e.contains("unknown field"), "{e}");
        let e = err_of(&format!(
            "{base}threshold = \"15m\"\nexclude = [{{ reason = \"missing_stop\", where = \"x\" }}]\n"
        ));
        assert!(e.contains("built-in reason"), "{e}");
        let e = err_of("name = \"x\"\n");
        assert!(e.contains("at least one"), "{e}");
    }

    /// Issue 12's rejections: each names the measure and the field.
    #[test]
    fn working_day_deadline_and_share_rejections() {
        let base = "[[measure]]\nid = \"a\"\nstart = \"call_received\"\nstop = \"closed\"\n";
        let e = err_of(&format!("{base}threshold = \"2wd\"\n"));
        assert!(
            e.contains("\"a\"") && e.contains("`calendar`") && e.contains("needs a calendar"),
            "{e}"
        );
        let e = err_of(&format!(
            "{base}threshold = \"2wd\"\ncalendar = \"atlantis\"\n"
        ));
        assert!(e.contains("`calendar`") && e.contains("atlantis"), "{e}");
        let e = err_of(&format!(
            "{base}threshold = \"2wd\"\ncalendar = \"missing-file.toml\"\n"
        ));
        assert!(
            e.contains("`calendar`") && e.contains("missing-file.toml"),
            "{e}"
        );
        let e = err_of(&format!(
            "{base}threshold = \"1.5wd\"\ncalendar = \"scotland\"\n"
        ));
        assert!(
            e.contains("`threshold`") && e.contains("whole number"),
            "{e}"
        );
        let e = err_of(&format!(
            "{base}threshold = \"2h\"\ncalendar = \"scotland\"\n"
        ));
        assert!(e.contains("`calendar`"), "{e}");
        let e = err_of(&format!("{base}kind = \"sometimes\"\n"));
        assert!(e.contains("`kind`") && e.contains("sometimes"), "{e}");
        let e = err_of(
            "[[measure]]\nid = \"k\"\nkind = \"deadline\"\nstart = \"call_received\"\ndeadline = \"appointment_due\"\nstop = \"arrived\"\n",
        );
        assert!(e.contains("\"k\"") && e.contains("`start`"), "{e}");
        let e = err_of("[[measure]]\nid = \"k\"\nkind = \"deadline\"\nstop = \"arrived\"\n");
        assert!(e.contains("`deadline`") && e.contains("required"), "{e}");
        let e = err_of("[[measure]]\nid = \"s\"\nkind = \"share\"\nstart = \"surveyed\"\n");
        assert!(e.contains("`success`") && e.contains("required"), "{e}");
        let e = err_of(
            "[[measure]]\nid = \"s\"\nkind = \"share\"\nstart = \"surveyed\"\nsuccess = \"satisfied\"\nthreshold = \"1m\"\n",
        );
        assert!(e.contains("`threshold`"), "{e}");
    }

    #[test]
    fn kinds_parse_with_their_units() {
        let p = SlaPolicy::builtin("mps-promise-2008-full").unwrap();
        let by_id = |id: &str| p.measures.iter().find(|m| m.id == id).unwrap();
        let ack = by_id("acknowledge_dissatisfaction_2wd");
        assert!(
            matches!(&ack.kind, MeasureKind::WorkingDays(c) if c.name() == "england-and-wales")
        );
        assert_eq!((ack.threshold, ack.unit()), (2, "wd"));
        let kept = by_id("appointment_kept");
        assert_eq!(
            (
                kept.kind.clone(),
                kept.start.as_str(),
                kept.threshold,
                kept.unit()
            ),
            (MeasureKind::Deadline, "appointment_due", 900, "s")
        );
        assert_eq!(
            kept.reason_name(Exclusion::MissingStart),
            "missing_deadline"
        );
        let sat = by_id("satisfied");
        assert!(
            matches!(&sat.kind, MeasureKind::Share { success_sql } if success_sql == "satisfied")
        );
        assert_eq!(
            (sat.stop.as_str(), sat.threshold, sat.percentiles.len()),
            ("surveyed", 0, 0)
        );
        assert_eq!(sat.reason_name(Exclusion::MissingStop), "missing_outcome");
        assert_eq!(
            by_id("collision_contact_10wd").rule(),
            "collision_reported -> collision_contacted within 10 working days (england-and-wales)"
        );
    }
}

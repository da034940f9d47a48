//! SLA policies: what the user wrote ([`PolicyFile`]) and what slate runs ([`SlaPolicy`]).
//!
//! A policy file becomes an [`SlaPolicy`] only through `TryFrom`, which checks every field and
//! names the measure and field it rejects. Column names and SQL predicates are checked by the
//! engine against the input's schema, before any data is read.

use std::collections::HashSet;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::duration::parse_duration_secs;
use crate::error::{Error, Result};
use crate::hist::Exclusion;

/// Percentiles reported when a measure names none.
pub const DEFAULT_PERCENTILES: [f64; 4] = [0.5, 0.9, 0.95, 0.99];

/// Built-in policies: name and TOML text.
pub const BUILTINS: [(&str, &str); 2] = [
    (
        "mps-promise-2008",
        include_str!("policies/mps-promise-2008.toml"),
    ),
    (
        "policing-pledge-2008",
        include_str!("policies/policing-pledge-2008.toml"),
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
    /// Start clock column.
    pub start: Option<String>,
    /// Stop clock column.
    pub stop: Option<String>,
    /// SQL predicate selecting the records the measure applies to.
    #[serde(rename = "where")]
    pub where_sql: Option<String>,
    /// Threshold such as `15m`.
    pub threshold: Option<String>,
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

/// A validated measure.
#[derive(Debug, Clone, PartialEq)]
pub struct Measure {
    /// Unique id within the policy.
    pub id: String,
    /// Free text.
    pub description: String,
    /// Start clock column.
    pub start: String,
    /// Stop clock column.
    pub stop: String,
    /// SQL predicate selecting the records the measure applies to; `None` means all.
    pub where_sql: Option<String>,
    /// Threshold in whole seconds; a duration at most this is within.
    pub threshold_secs: i64,
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
    /// The ledger's text for a reason of this measure.
    pub fn reason_name(&self, reason: Exclusion) -> &str {
        match reason {
            Exclusion::Named(i) => &self.exclusions[i].reason,
            other => other.builtin_name().unwrap_or("unknown"),
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
    /// Parses and validates policy TOML; `origin` names it in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<Self> {
        let file: PolicyFile = toml::from_str(text).map_err(|e| Error::PolicySyntax {
            origin: origin.to_string(),
            reason: e.to_string(),
        })?;
        SlaPolicy::try_from(file)
    }

    /// Loads `builtin:NAME` or a TOML file path.
    pub fn load(spec: &str) -> Result<Self> {
        if let Some(name) = spec.strip_prefix("builtin:") {
            return Self::builtin(name);
        }
        let text = std::fs::read_to_string(Path::new(spec)).map_err(|e| Error::PolicySyntax {
            origin: spec.to_string(),
            reason: e.to_string(),
        })?;
        Self::from_toml(&text, spec)
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
        let name = file.name.unwrap_or_else(|| "unnamed".to_string());
        let bad = |measure: &str, field: &str, reason: String| Error::InvalidPolicy {
            policy: name.clone(),
            measure: measure.to_string(),
            field: field.to_string(),
            reason,
        };
        if file.measure.is_empty() {
            return Err(bad(
                "",
                "measure",
                "a policy needs at least one [[measure]]".into(),
            ));
        }
        let mut seen = HashSet::new();
        let mut measures = Vec::with_capacity(file.measure.len());
        for (i, m) in file.measure.into_iter().enumerate() {
            let id = m.id.unwrap_or_default();
            let label = if id.is_empty() {
                format!("#{}", i + 1)
            } else {
                id.clone()
            };
            if id.is_empty() {
                return Err(bad(&label, "id", "is required".into()));
            }
            if !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                return Err(bad(
                    &label,
                    "id",
                    "use letters, digits, '_' and '-' only".into(),
                ));
            }
            if !seen.insert(id.clone()) {
                return Err(bad(&label, "id", "duplicate measure id".into()));
            }
            let clock = |v: Option<String>, field: &str| -> Result<String> {
                match v {
                    Some(s) if !s.trim().is_empty() => Ok(s.trim().to_string()),
                    _ => Err(bad(
                        &label,
                        field,
                        "is required (a timestamp column)".into(),
                    )),
                }
            };
            let start = clock(m.start, "start")?;
            let stop = clock(m.stop, "stop")?;
            if start == stop {
                return Err(bad(&label, "stop", "must differ from start".into()));
            }
            let threshold_secs = match m.threshold {
                None => {
                    return Err(bad(
                        &label,
                        "threshold",
                        "is required (e.g. \"15m\")".into(),
                    ));
                }
                Some(t) => {
                    parse_duration_secs(&t).map_err(|e| bad(&label, "threshold", e.to_string()))?
                }
            };
            if let Some(t) = m.target
                && !(t > 0.0 && t <= 1.0)
            {
                return Err(bad(
                    &label,
                    "target",
                    format!("{t} is not a share in (0, 1]"),
                ));
            }
            let mut percentiles = m
                .percentiles
                .unwrap_or_else(|| DEFAULT_PERCENTILES.to_vec());
            if let Some(p) = percentiles.iter().find(|p| !(0.0..=1.0).contains(*p)) {
                return Err(bad(&label, "percentiles", format!("{p} is not in [0, 1]")));
            }
            percentiles.sort_by(f64::total_cmp);
            percentiles.dedup();
            let where_sql = match m.where_sql {
                Some(w) if w.trim().is_empty() => {
                    return Err(bad(
                        &label,
                        "where",
                        "is empty; omit it to measure every record".into(),
                    ));
                }
                other => other,
            };
            let mut reasons = HashSet::new();
            let mut exclusions = Vec::new();
            for (j, e) in m.exclude.unwrap_or_default().into_iter().enumerate() {
                let field = format!("exclude[{j}]");
                let reason = e.reason.unwrap_or_default();
                if reason.trim().is_empty() {
                    return Err(bad(&label, &field, "needs a reason".into()));
                }
                if Exclusion::BUILTIN
                    .iter()
                    .any(|b| b.builtin_name() == Some(reason.as_str()))
                {
                    return Err(bad(
                        &label,
                        &field,
                        format!("{reason:?} is a built-in reason"),
                    ));
                }
                if !reasons.insert(reason.clone()) {
                    return Err(bad(&label, &field, format!("duplicate reason {reason:?}")));
                }
                let where_sql = match e.where_sql {
                    Some(w) if !w.trim().is_empty() => w,
                    _ => return Err(bad(&label, &field, "needs a where predicate".into())),
                };
                exclusions.push(NamedExclusion { reason, where_sql });
            }
            measures.push(Measure {
                id,
                description: m.description.unwrap_or_default(),
                start,
                stop,
                where_sql,
                threshold_secs,
                target: m.target,
                percentiles,
                exclusions,
            });
        }
        Ok(SlaPolicy {
            name,
            description: file.description.unwrap_or_default(),
            measures,
        })
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
            assert_eq!(p.measures.len(), 4);
        }
        let mps = SlaPolicy::load("builtin:mps-promise-2008").unwrap();
        let i = &mps.measures[2];
        assert_eq!(
            (i.id.as_str(), i.threshold_secs, i.target),
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
}

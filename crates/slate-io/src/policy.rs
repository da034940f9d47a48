//! Policies and working-day calendars read from files: slate-core parses them and reads none.
//!
//! A policy is `builtin:NAME` or a TOML file; a calendar it names is a built-in one or a TOML
//! file, looked for beside the policy file first, then from the working directory. Files are
//! read with [`crate::textfile::read_text_file`] (regular files, 16 MiB at most).

use std::path::Path;

use slate_core::workdays::{BUILTIN_CALENDARS, WorkCalendar};
use slate_core::{Error, Result, SlaPolicy};

use crate::textfile::read_text_file;

/// Loads `builtin:NAME` or a policy TOML file, with the calendar files it names.
pub fn load(spec: &str) -> Result<SlaPolicy> {
    if let Some(name) = spec.strip_prefix("builtin:") {
        return SlaPolicy::builtin(name);
    }
    let text = read_text_file(Path::new(spec)).map_err(|e| Error::PolicySyntax {
        origin: spec.to_string(),
        reason: e.to_string(),
    })?;
    from_toml_in(&text, spec, Path::new(spec).parent())
}

/// The TOML text of `builtin:NAME` or of a policy file, as it reads now; `None` when it cannot
/// be read.
pub fn text(spec: &str) -> Option<String> {
    match spec.strip_prefix("builtin:") {
        Some(name) => slate_core::policy::builtin_text(name).map(str::to_string),
        None => read_text_file(Path::new(spec)).ok(),
    }
}

/// Parses policy TOML (`origin` names it in errors), reading the calendar files it names from
/// `dir` (the policy file's folder) when they are there, else from the working directory.
pub fn from_toml_in(text: &str, origin: &str, dir: Option<&Path>) -> Result<SlaPolicy> {
    SlaPolicy::from_toml_with(text, origin, &|spec| calendar(spec, dir))
}

/// A built-in calendar by name, or a calendar TOML file (beside `dir` first).
pub fn calendar(spec: &str, dir: Option<&Path>) -> Result<WorkCalendar> {
    if BUILTIN_CALENDARS.contains(&spec) {
        return WorkCalendar::builtin(spec);
    }
    let beside = dir
        .filter(|d| !d.as_os_str().is_empty())
        .map(|d| d.join(spec))
        .filter(|p| p.is_file());
    let path = beside.unwrap_or_else(|| Path::new(spec).to_path_buf());
    let origin = path.to_string_lossy().into_owned();
    let text = read_text_file(&path).map_err(|e| {
        if spec.ends_with(".toml") || e.kind() != std::io::ErrorKind::NotFound {
            Error::InvalidCalendar {
                origin: origin.clone(),
                reason: e.to_string(),
            }
        } else {
            Error::UnknownCalendar(spec.to_string())
        }
    })?;
    WorkCalendar::from_toml(&text, &origin)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use slate_core::policy::MeasureKind;

    const MEASURE: &str = "[[measure]]\nid = \"a\"\nstart = \"complaint_received\"\nstop = \"complaint_acknowledged\"\nthreshold = \"2wd\"\n";

    #[test]
    fn a_calendar_file_beside_the_policy_file_is_found_from_there() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("service.toml"),
            "name = \"service\"\nbase = \"england-and-wales\"\nclosed = [\"2024-12-24\"]\n",
        )
        .unwrap();
        let policy = dir.path().join("policy.toml");
        std::fs::write(&policy, format!("{MEASURE}calendar = \"service.toml\"\n")).unwrap();
        let p = load(&policy.to_string_lossy()).unwrap();
        assert!(
            matches!(&p.measures[0].kind, MeasureKind::WorkingDays(c) if c.name() == "service")
        );
        // Without files, the same text is refused by name, not read.
        let e = SlaPolicy::from_toml(&format!("{MEASURE}calendar = \"service.toml\"\n"), "t")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("service.toml") && e.contains("not a built-in calendar"),
            "{e}"
        );
        let e = load("builtin:nope").unwrap_err().to_string();
        assert!(e.contains("nope"), "{e}");
        let e = calendar("wales", None).unwrap_err().to_string();
        assert!(e.contains("england-and-wales"), "{e}");
    }

    /// Issue 24: a policy or calendar "file" that is a device, or past 16 MiB, is refused with
    /// an error naming it, before anything is read.
    #[test]
    fn policy_and_calendar_files_are_read_with_a_size_cap() {
        let e = load("/dev/zero").unwrap_err().to_string();
        assert!(
            e.contains("/dev/zero") && e.contains("not a regular file"),
            "{e}"
        );
        for cal in ["/dev/zero", "/dev/zero.toml"] {
            let e = from_toml_in(&format!("{MEASURE}calendar = \"{cal}\"\n"), "t", None)
                .unwrap_err()
                .to_string();
            assert!(e.contains("`calendar`") && e.contains(cal), "{e}");
        }
        let e = from_toml_in(&format!("{MEASURE}calendar = \"/dev/zero\"\n"), "t", None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a regular file"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big.toml");
        std::fs::File::create(&big)
            .unwrap()
            .set_len(crate::textfile::MAX_TEXT_FILE_BYTES + 1)
            .unwrap();
        let e = load(&big.to_string_lossy()).unwrap_err().to_string();
        assert!(e.contains("big.toml") && e.contains("16 MiB"), "{e}");
        let e = from_toml_in(
            &format!("{MEASURE}calendar = \"{}\"\n", big.display()),
            "t",
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("big.toml") && e.contains("16 MiB"), "{e}");
    }
}

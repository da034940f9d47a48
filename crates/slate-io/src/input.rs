//! Expanding `--input` arguments (files, directories, globs) into a sorted list of data files.
//!
//! There is one rule for what is data, whichever command reads:
//! - a file named on the command line (or matched by a glob) is always read;
//! - a directory (or a glob that matches one) is walked, hive folders such as
//!   `year=2020/month=01/` included, for the files of the kind being read ([`DataKind`]):
//!   `.parquet` for a canonical dataset, also `.csv`/`.tsv` for a mapped source (`--source`);
//! - in a walk, names starting with `.` or `_` are never data: writers' temporary files and
//!   checksums (`.part-0.parquet.tmp`, `.part-0.parquet.crc`), job markers and metadata
//!   (`_SUCCESS`, `_metadata`, `_delta_log/`), and slate's own `_rejects.csv`. This is the
//!   convention Spark, Hive and pyarrow's datasets follow, so a directory one of them reads as
//!   a dataset is the same dataset to slate. Other files (README.md, notes.csv in a Parquet
//!   dataset) are skipped because of their extension.
//!
//! An `s3://bucket/prefix/` input is walked by the same rule ([`is_walked_data`], used by
//! [`crate::object`]): object storage has no folders, only keys, so the rule is applied to the
//! key's part below the prefix.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result, io_err};

/// Which files a directory walk takes as data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataKind {
    /// Canonical records: Parquet only.
    Parquet,
    /// A CAD export read through a mapping: CSV, TSV or Parquet.
    Source,
}

impl DataKind {
    pub(crate) fn accepts(self, name: &str) -> bool {
        let ext = Path::new(name)
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        matches!(
            (self, ext.as_deref()),
            (_, Some("parquet")) | (DataKind::Source, Some("csv" | "tsv"))
        )
    }

    pub(crate) fn describe(self) -> &'static str {
        match self {
            DataKind::Parquet => ".parquet",
            DataKind::Source => ".csv, .tsv or .parquet",
        }
    }
}

/// Expands `--input` arguments into data files of `kind` (see the module docs for the rule).
/// The result is sorted and free of duplicates, so runs are reproducible.
pub fn expand(args: &[String], kind: DataKind) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for arg in args {
        if crate::object::is_object_url(arg) {
            // Object storage is listed by `crate::object`, for the commands that read it.
            return Err(Error::ObjectUrl {
                url: arg.clone(),
                reason: "this command reads local files only (`slate run`, `validate` and \
                         `capacity` read s3:// inputs)"
                    .into(),
            });
        }
        let p = Path::new(arg);
        if p.is_dir() {
            walk_dir(p, kind, &mut out)?;
        } else if p.exists() {
            out.push(p.to_path_buf());
        } else if arg.contains(['*', '?', '[']) {
            let paths = glob::glob(arg).map_err(|e| Error::Glob {
                pattern: arg.clone(),
                reason: e.to_string(),
            })?;
            let before = out.len();
            for entry in paths {
                let path = entry.map_err(|e| Error::Io {
                    path: e.path().to_path_buf(),
                    source: std::io::Error::other(e.error().to_string()),
                })?;
                if path.is_dir() {
                    walk(&path, kind, &mut out)?;
                } else {
                    out.push(path);
                }
            }
            if out.len() == before {
                return Err(Error::NoInput(arg.clone()));
            }
        } else {
            return Err(Error::NoInput(arg.clone()));
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// [`expand`] for canonical Parquet datasets.
pub fn expand_inputs(args: &[String]) -> Result<Vec<PathBuf>> {
    expand(args, DataKind::Parquet)
}

/// Walks a directory named on the command line; finding no data in it is an error that says
/// what was looked for and, for a Parquet walk over CSV files, how to read them.
fn walk_dir(dir: &Path, kind: DataKind, out: &mut Vec<PathBuf>) -> Result<()> {
    let before = out.len();
    walk(dir, kind, out)?;
    if out.len() > before {
        return Ok(());
    }
    let mut hint = String::new();
    if kind == DataKind::Parquet {
        let mut other = Vec::new();
        walk(dir, DataKind::Source, &mut other)?;
        if !other.is_empty() {
            hint = format!(
                "; it holds {} CSV/TSV file(s): read them with --source NAME|FILE.toml (see `slate import --help`)",
                other.len()
            );
        }
    }
    Err(Error::EmptyDir {
        dir: dir.to_path_buf(),
        looked_for: kind.describe(),
        hint,
    })
}

/// Whether a path names a Parquet file (by extension, any case).
pub fn is_parquet(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("parquet"))
}

/// Whether a file or folder name is never data: it starts with `.` or `_` (see the module docs).
pub fn is_not_data(name: &str) -> bool {
    name.starts_with('.') || name.starts_with('_')
}

/// Whether a file found by a walk is data, given its path below the walked directory
/// (`/`-separated): no folder or name on the way starts with `.` or `_`, and the name has the
/// kind's extension. The directory walk ([`expand`]) applies the same rule as it descends.
pub fn is_walked_data(relative: &str, kind: DataKind) -> bool {
    let mut parts = relative.split('/').filter(|p| !p.is_empty()).peekable();
    while let Some(part) = parts.next() {
        if is_not_data(part) {
            return false;
        }
        if parts.peek().is_none() {
            return kind.accepts(part);
        }
    }
    false
}

fn walk(dir: &Path, kind: DataKind, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in std::fs::read_dir(dir).map_err(io_err(dir))? {
        let path = entry.map_err(io_err(dir))?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if is_not_data(name) {
            continue;
        }
        if path.is_dir() {
            walk(&path, kind, out)?;
        } else if kind.accepts(name) {
            out.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(p: &Path) {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, b"x").unwrap();
    }

    #[test]
    fn a_dataset_directory_holds_only_its_data_files() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        let part = root.join("year=2020/month=01/part-0.parquet");
        let upper = root.join("year=2020/month=02/PART-1.PARQUET");
        let export = root.join("exports/calls.csv");
        for junk in [
            "year=2020/month=01/.part-1.parquet.tmp",
            "year=2020/month=01/.part-0.parquet.crc",
            "_SUCCESS",
            "_metadata",
            "_delta_log/000.json",
            "_rejects.csv",
            "README.md",
            "notes.txt",
        ] {
            touch(&root.join(junk));
        }
        for f in [&part, &upper, &export] {
            touch(f);
        }
        let arg = root.to_string_lossy().to_string();
        let parquet = expand(std::slice::from_ref(&arg), DataKind::Parquet).unwrap();
        assert_eq!(parquet, vec![part.clone(), upper.clone()]);
        let source = expand(std::slice::from_ref(&arg), DataKind::Source).unwrap();
        assert_eq!(source, vec![export.clone(), part.clone(), upper.clone()]);
        // The rule object storage keys are walked by picks the same files.
        for kind in [DataKind::Parquet, DataKind::Source] {
            let walked = expand(std::slice::from_ref(&arg), kind).unwrap();
            let mut keys = Vec::new();
            for e in glob::glob(&format!("{arg}/**/*")).unwrap() {
                let p = e.unwrap();
                if p.is_file() {
                    keys.push(p);
                }
            }
            keys.retain(|p| {
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().to_string();
                is_walked_data(&rel, kind)
            });
            keys.sort();
            assert_eq!(keys, walked, "{kind:?}");
        }
        // A glob matching directories walks them by the same rule; one matching files keeps them.
        let g = format!("{arg}/year=*");
        assert_eq!(expand(&[g], DataKind::Parquet).unwrap().len(), 2);
        let g = format!("{arg}/year=*/month=*/*.parquet");
        assert_eq!(expand(&[g], DataKind::Parquet).unwrap(), vec![part]);
        // A file named on the command line is read whatever its name.
        let named = export.to_string_lossy().to_string();
        assert_eq!(expand(&[named], DataKind::Parquet).unwrap(), vec![export]);
    }

    #[test]
    fn empty_and_missing_inputs_say_what_was_looked_for() {
        let d = tempfile::tempdir().unwrap();
        let err = expand_inputs(&[format!("{}/nope", d.path().display())]).unwrap_err();
        assert!(err.to_string().contains("no such file"), "{err}");
        touch(&d.path().join("calls.csv"));
        let arg = d.path().to_string_lossy().to_string();
        let err = expand_inputs(std::slice::from_ref(&arg))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("no .parquet files") && err.contains("--source"),
            "{err}"
        );
        assert_eq!(expand(&[arg], DataKind::Source).unwrap().len(), 1);
        let empty = tempfile::tempdir().unwrap();
        let err = expand(
            &[empty.path().to_string_lossy().to_string()],
            DataKind::Source,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("no .csv, .tsv or .parquet files"), "{err}");
    }
}

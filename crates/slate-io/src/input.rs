//! Expanding `--input` arguments (files, directories, globs) into a sorted list of files.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result, io_err};

/// Expands paths: a file is kept, a directory is walked for `.parquet` files (hive-style
/// `year=YYYY/month=MM/` partitions included), a glob is matched. The result is sorted and
/// free of duplicates, so runs are reproducible.
pub fn expand_inputs(args: &[String]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for arg in args {
        let p = Path::new(arg);
        if p.is_dir() {
            let before = out.len();
            walk(p, &mut out)?;
            if out.len() == before {
                return Err(Error::EmptyDir(p.to_path_buf()));
            }
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
                    walk(&path, &mut out)?;
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

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    walk_files(dir, &|name| name.ends_with(".parquet"), out)
}

/// Walks a directory tree for the files whose name `keep` accepts, skipping hidden and
/// temporary files (`.x`, `._x`, `.x.tmp`, `_x`): writers' leftovers, not data.
pub(crate) fn walk_files(
    dir: &Path,
    keep: &dyn Fn(&str) -> bool,
    out: &mut Vec<PathBuf>,
) -> Result<()> {
    for entry in std::fs::read_dir(dir).map_err(io_err(dir))? {
        let path = entry.map_err(io_err(dir))?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with('.') || name.starts_with('_') {
            continue;
        }
        if path.is_dir() {
            walk_files(&path, keep, out)?;
        } else if keep(name) {
            out.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_dirs_globs_and_files() {
        let d = tempfile::tempdir().unwrap();
        let sub = d.path().join("year=2020/month=01");
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(sub.join("part-0.parquet"), b"x").unwrap();
        std::fs::write(sub.join(".part-1.parquet.tmp"), b"x").unwrap();
        std::fs::write(d.path().join("notes.txt"), b"x").unwrap();
        let root = d.path().to_string_lossy().to_string();
        let files = expand_inputs(std::slice::from_ref(&root)).unwrap();
        assert_eq!(files, vec![sub.join("part-0.parquet")]);
        let g = format!("{root}/year=*/month=*/*.parquet");
        assert_eq!(expand_inputs(&[g]).unwrap().len(), 1);
        let err = expand_inputs(&[format!("{root}/nope")]).unwrap_err();
        assert!(err.to_string().contains("no such file"), "{err}");
        let empty = tempfile::tempdir().unwrap();
        let err = expand_inputs(&[empty.path().to_string_lossy().to_string()]).unwrap_err();
        assert!(err.to_string().contains("no .parquet"), "{err}");
    }
}

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
//! Each real file is read once, whatever names reach it: a file named twice, a folder and a
//! file in it, a symbolic link and its target, and hard links are read under one name, and a
//! symbolic link back to a folder that holds it (a loop) is not followed; [`expand_noted`]
//! says which names were left out ([`InputNote`]), so a caller can tell the user.
//!
//! An `s3://bucket/prefix/` input is walked by the same rule ([`is_walked_data`], in
//! [`crate::location`], which [`crate::object`] uses too): object storage has no folders, only
//! keys, so the rule is applied to the key's part below the prefix.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result, io_err};
use crate::location::Location;
pub use crate::location::{DataKind, is_not_data, is_walked_data};

/// Something [`expand_noted`] found and handled that the reader should be told: the files are
/// still each read once, but a name the user gave (or a link in a folder) was not followed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputNote {
    /// A symbolic link to a folder that holds the link (a loop): not followed, since walking
    /// it would read the folder's files again and again.
    Loop {
        /// The link.
        link: PathBuf,
        /// The folder it leads back to, as walked.
        target: PathBuf,
    },
    /// A file or folder reached a second time, under another name (named twice, a symbolic
    /// link and its target, a hard link, a folder and a file in it): read once, as `read`.
    SameFile {
        /// The name it is read as.
        read: PathBuf,
        /// The other name, not read.
        also: PathBuf,
    },
}

impl std::fmt::Display for InputNote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InputNote::Loop { link, target } => write!(
                f,
                "{}: a symbolic link back to {}, which holds it (a loop): not followed, \
                 its files are read once",
                link.display(),
                target.display()
            ),
            InputNote::SameFile { read, also } if read == also => {
                write!(f, "{} is named twice: read once", read.display())
            }
            InputNote::SameFile { read, also } => write!(
                f,
                "{} is {} under another name: read once",
                also.display(),
                read.display()
            ),
        }
    }
}

/// The data files of some inputs, each real file once, and what was skipped to make it so.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expanded {
    /// The data files, sorted.
    pub files: Vec<PathBuf>,
    /// Loops not followed and second names not read, in the order found.
    pub notes: Vec<InputNote>,
}

/// Expands `--input` arguments into data files of `kind` (see the module docs for the rule).
/// The result is sorted and free of duplicates, so runs are reproducible; see [`expand_noted`]
/// for what was left out to make each file appear once.
pub fn expand(args: &[String], kind: DataKind) -> Result<Vec<PathBuf>> {
    Ok(expand_noted(args, kind)?.files)
}

/// [`expand`], with the notes: every real file is read once, however many names reach it (a
/// file named twice, a folder and a file in it, a symbolic link and its target, hard links),
/// and a symbolic link back to a folder that holds it is not followed. Each name left out is
/// an [`InputNote`].
pub fn expand_noted(args: &[String], kind: DataKind) -> Result<Expanded> {
    let mut walk = Walk::new(kind);
    for arg in args {
        if let Location::Object { .. } = Location::parse(arg)? {
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
            walk_dir(p, &mut walk)?;
        } else if p.exists() {
            walk.files.push(p.to_path_buf());
        } else if arg.contains(['*', '?', '[']) {
            let paths = glob::glob(arg).map_err(|e| Error::Glob {
                pattern: arg.clone(),
                reason: e.to_string(),
            })?;
            let before = walk.files.len();
            let mut dirs = Vec::new();
            for entry in paths {
                let path = entry.map_err(|e| Error::Io {
                    path: e.path().to_path_buf(),
                    source: std::io::Error::other(e.error().to_string()),
                })?;
                if path.is_dir() {
                    dirs.push(path);
                } else {
                    walk.files.push(path);
                }
            }
            // The glob's matches are sorted: walk the shallowest first, so a folder reached
            // again inside one (through a link) is noted under its longer name.
            dirs.sort_by_key(|d| d.components().count());
            for d in dirs {
                walk.dir(&d)?;
            }
            if walk.files.len() == before {
                return Err(Error::NoInput(arg.clone()));
            }
        } else {
            return Err(Error::NoInput(arg.clone()));
        }
    }
    walk.finish()
}

/// [`expand`] for canonical Parquet datasets.
pub fn expand_inputs(args: &[String]) -> Result<Vec<PathBuf>> {
    expand(args, DataKind::Parquet)
}

/// Identity of a file or folder, whatever name reaches it: device and inode on Unix, the
/// canonical path elsewhere.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum FileKey {
    #[cfg(unix)]
    Inode(u64, u64),
    #[cfg(not(unix))]
    Path(PathBuf),
}

#[cfg(unix)]
fn file_key(path: &Path) -> Result<FileKey> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).map_err(io_err(path))?;
    Ok(FileKey::Inode(m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn file_key(path: &Path) -> Result<FileKey> {
    Ok(FileKey::Path(
        std::fs::canonicalize(path).map_err(io_err(path))?,
    ))
}

/// A walk over the inputs: the files found, the folders walked (by identity, with the name
/// first walked) and the folders on the way down (a link to one of them is a loop).
struct Walk {
    kind: DataKind,
    files: Vec<PathBuf>,
    walked: std::collections::HashMap<FileKey, PathBuf>,
    above: Vec<FileKey>,
    notes: Vec<InputNote>,
}

impl Walk {
    fn new(kind: DataKind) -> Self {
        Walk {
            kind,
            files: Vec::new(),
            walked: std::collections::HashMap::new(),
            above: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// Walks `dir` once: not again under another name, and not through a link back up.
    fn dir(&mut self, dir: &Path) -> Result<()> {
        let key = file_key(dir)?;
        if let Some(first) = self.walked.get(&key) {
            let note = if self.above.contains(&key) {
                InputNote::Loop {
                    link: dir.to_path_buf(),
                    target: first.clone(),
                }
            } else {
                InputNote::SameFile {
                    read: first.clone(),
                    also: dir.to_path_buf(),
                }
            };
            self.notes.push(note);
            return Ok(());
        }
        self.walked.insert(key.clone(), dir.to_path_buf());
        self.above.push(key);
        let mut entries = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io_err(dir))? {
            entries.push(entry.map_err(io_err(dir))?.path());
        }
        // A fixed order, so which of two names is read does not depend on the file system;
        // symbolic links last, so a folder reached both ways is read under its own name.
        entries.sort_by_cached_key(|p| (p.is_symlink(), p.clone()));
        for path in entries {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if is_not_data(name) {
                continue;
            }
            if path.is_dir() {
                self.dir(&path)?;
            } else if self.kind.accepts(name) {
                self.files.push(path);
            }
        }
        self.above.pop();
        Ok(())
    }

    /// The files sorted, each real file once: under its shortest name (fewest folders, then
    /// first in sort order), so a file a `**` glob also reached through a link loop keeps its
    /// own name.
    fn finish(mut self) -> Result<Expanded> {
        let mut names = std::mem::take(&mut self.files);
        names.sort_by(|a, b| {
            (a.components().count(), a.as_path()).cmp(&(b.components().count(), b.as_path()))
        });
        let mut seen: std::collections::HashMap<FileKey, PathBuf> =
            std::collections::HashMap::new();
        let mut files = Vec::with_capacity(names.len());
        for f in names {
            match seen.entry(file_key(&f)?) {
                std::collections::hash_map::Entry::Occupied(e) => {
                    self.notes.push(InputNote::SameFile {
                        read: e.get().clone(),
                        also: f,
                    });
                }
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(f.clone());
                    files.push(f);
                }
            }
        }
        files.sort();
        Ok(Expanded {
            files,
            notes: self.notes,
        })
    }
}

/// Walks a directory named on the command line; finding no data in it is an error that says
/// what was looked for and, for a Parquet walk over CSV files, how to read them.
fn walk_dir(dir: &Path, walk: &mut Walk) -> Result<()> {
    let before = walk.files.len();
    // A folder walked already (named twice) is noted, not empty: its files were found then.
    let again = walk.walked.contains_key(&file_key(dir)?);
    walk.dir(dir)?;
    if again || walk.files.len() > before {
        return Ok(());
    }
    let mut hint = slate_core::ParamMessage::new();
    if walk.kind == DataKind::Parquet {
        let mut other = Walk::new(DataKind::Source);
        other.dir(dir)?;
        if !other.files.is_empty() {
            hint = hint
                .text(format!(
                    "; it holds {} CSV/TSV file(s): read them through a source mapping, ",
                    other.files.len()
                ))
                .param("source")
                .text(" NAME|FILE.toml (see `slate import --help`)");
        }
    }
    Err(Error::EmptyDir {
        dir: dir.to_path_buf(),
        looked_for: walk.kind.describe(),
        hint,
    })
}

/// Whether a path names a Parquet file (by extension, any case).
pub fn is_parquet(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("parquet"))
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
            err.contains("no .parquet files") && err.contains("`source` NAME|FILE.toml"),
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

    /// The tester's loop: `d/sub/loop -> ..` once made a run read its one file 41 times.
    #[cfg(unix)]
    #[test]
    fn a_symlink_loop_is_walked_once_and_noted() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("d");
        let file = root.join("sub/part-0.parquet");
        touch(&file);
        std::os::unix::fs::symlink("..", root.join("sub/loop")).unwrap();
        let arg = root.to_string_lossy().to_string();
        let got = expand_noted(std::slice::from_ref(&arg), DataKind::Parquet).unwrap();
        assert_eq!(got.files, vec![file.clone()]);
        assert_eq!(
            got.notes,
            vec![InputNote::Loop {
                link: root.join("sub/loop"),
                target: root.clone(),
            }]
        );
        let text = got.notes[0].to_string();
        assert!(text.contains("sub/loop") && text.contains("loop"), "{text}");
        // A glob with `**` follows the link as deep as the system allows; still one file.
        let glob = format!("{arg}/**/*.parquet");
        assert_eq!(expand(&[glob], DataKind::Parquet).unwrap(), vec![file]);
    }

    #[cfg(unix)]
    #[test]
    fn a_file_reached_by_two_names_is_read_once_and_noted() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        let a = root.join("data/a.parquet");
        touch(&a);
        // A link to a file, a link to a folder beside it, and a hard link.
        std::os::unix::fs::symlink("a.parquet", root.join("data/b.parquet")).unwrap();
        std::fs::create_dir_all(root.join("other")).unwrap();
        std::os::unix::fs::symlink("../data", root.join("other/data")).unwrap();
        std::fs::hard_link(&a, root.join("data/c.parquet")).unwrap();
        let s = |p: &Path| p.to_string_lossy().to_string();
        let got = expand_noted(&[s(root)], DataKind::Parquet).unwrap();
        assert_eq!(got.files, vec![a.clone()]);
        assert_eq!(got.notes.len(), 3, "{:?}", got.notes);
        assert!(got.notes.contains(&InputNote::SameFile {
            read: root.join("data"),
            also: root.join("other/data"),
        }));
        assert!(got.notes.contains(&InputNote::SameFile {
            read: a.clone(),
            also: root.join("data/b.parquet"),
        }));
        // The same file named twice, or a folder and a file in it.
        for args in [vec![s(&a), s(&a)], vec![s(&root.join("data")), s(&a)]] {
            let got = expand_noted(&args, DataKind::Parquet).unwrap();
            assert_eq!(got.files, vec![a.clone()], "{args:?}");
            assert!(
                got.notes.contains(&InputNote::SameFile {
                    read: a.clone(),
                    also: a.clone(),
                }),
                "{args:?}: {:?}",
                got.notes
            );
        }
        // A folder named twice (the second time through a link) is walked once, not
        // reported empty.
        let twice = [s(&root.join("data")), s(&root.join("other/data"))];
        let got = expand_noted(&twice, DataKind::Parquet).unwrap();
        assert_eq!(got.files, vec![a.clone()]);
        assert_eq!(
            got.notes[0].to_string(),
            format!(
                "{} is {} under another name: read once",
                root.join("other/data").display(),
                root.join("data").display()
            )
        );
    }
}

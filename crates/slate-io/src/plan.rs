//! One plan for a command's files: what it reads and what it writes, resolved before any work.
//!
//! A command declares its inputs ([`OutputPlan::reads`]) and outputs ([`OutputPlan::writes`],
//! [`OutputPlan::writes_dir`]) and calls [`OutputPlan::check`] before it reads a record. The
//! check resolves every path as the file system will (symbolic links followed, `..` and relative
//! paths made absolute, a directory input walked for every file under it, hard links compared by
//! inode) and refuses, naming both paths:
//! - an output that is an input (`run --input x.parquet --out x.parquet`);
//! - two outputs that are the same file (`--out a.parquet --ledger a.parquet`);
//! - an output directory that holds an input (`import --input d --out d --force`);
//! - an output that exists and is not a regular file (a device such as `/dev/full`, a fifo, a
//!   directory): the rename that commits an output would replace the node itself.
//!
//! Outputs are then staged ([`OutputPlan::put_batches`], [`OutputPlan::put_bytes`]): written in
//! full under a hidden temporary name beside the file they replace, and synced. Only
//! [`OutputPlan::commit`] renames them into place, all together, so a failure while writing any
//! of them (a full disk, an encoding error) leaves every earlier output as it was and no
//! temporary file behind: a new scorecard never stands beside an old ledger. An output named by
//! a symbolic link is written to the link's target; the link stays. Object storage outputs
//! (`s3://`) are uploaded at commit, before the local renames, one atomic PUT each.
//!
//! Every table the plan writes carries the plan's [`Provenance`] (see [`crate::provenance`]),
//! stamped with the output's role and the time: in a Parquet or IPC file's metadata, and for a
//! CSV file in a sidecar `FILE.provenance.json` that is declared, checked, staged and committed
//! with it, so an input or another output of that name is refused, not overwritten.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;

use crate::error::{Error, Result, io_err};
use crate::format::Format;
use crate::location::object_url;
use crate::output::{encode_to, stage_local, write_err};
use crate::provenance::{Provenance, sidecar_path};

/// A command's inputs and outputs, checked against each other and written together.
#[derive(Debug, Default)]
pub struct OutputPlan {
    inputs: Vec<Declared>,
    outputs: Vec<Output>,
    checked: bool,
    provenance: Provenance,
}

#[derive(Debug)]
struct Declared {
    role: String,
    path: PathBuf,
}

#[derive(Debug)]
struct Output {
    role: String,
    /// As the user gave it: what messages show.
    path: PathBuf,
    dir: bool,
    table: bool,
    /// The role of the CSV table this is the provenance sidecar of.
    sidecar_of: Option<String>,
    /// Where the bytes go (links followed); set by `check`.
    real: Option<PathBuf>,
    staged: Option<Staged>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    File,
    Table,
    Dir,
}

#[derive(Debug)]
enum Staged {
    Local(PathBuf),
    Object(Vec<u8>),
}

/// One table's encoding, resolved from the plan so that it can run on another thread.
struct Encoding {
    role: String,
    format: Format,
    /// The path as declared, for messages.
    shown: PathBuf,
    /// Where the file goes (`None`: object storage).
    target: Option<PathBuf>,
    provenance: Provenance,
}

impl Encoding {
    /// Encodes `batches` and stages them: a temporary file beside the target, or the bytes of
    /// an object to upload at commit.
    fn run(&self, schema: SchemaRef, batches: &[RecordBatch]) -> Result<Staged> {
        let json = self.provenance.to_json();
        let meta = (self.format != Format::Csv).then_some(json.as_str());
        let (format, shown) = (self.format, &self.shown);
        Ok(match &self.target {
            None => {
                let mut bytes = Vec::new();
                encode_to(format, shown, schema, batches, meta, &mut bytes)?;
                Staged::Object(bytes)
            }
            Some(real) => Staged::Local(stage_local(real, shown, |file| {
                encode_to(format, shown, schema, batches, meta, file)
            })?),
        })
    }
}

/// A file as the file system knows it: its canonical path and, on Unix, its device and inode
/// (two names of one file, through a hard link, are the same file).
#[derive(Debug, Clone)]
struct FileId {
    path: PathBuf,
    inode: Option<(u64, u64)>,
}

impl FileId {
    fn of(path: &Path) -> std::io::Result<Self> {
        let path = std::fs::canonicalize(path)?;
        let inode = inode(&path);
        Ok(Self { path, inode })
    }

    fn same(&self, other: &FileId) -> bool {
        self.path == other.path || (self.inode.is_some() && self.inode == other.inode)
    }
}

#[cfg(unix)]
fn inode(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn inode(_: &Path) -> Option<(u64, u64)> {
    None
}

impl OutputPlan {
    /// An empty plan.
    pub fn new() -> Self {
        Self::default()
    }

    /// Declares an input: a file, a directory (every file under it), or a glob; an object
    /// storage URL or a path that does not exist is not a file an output could replace and is
    /// left to the reader. `role` names it in messages ("input", "policy", "scorecard").
    pub fn reads(&mut self, role: &str, path: impl AsRef<Path>) -> &mut Self {
        self.inputs.push(Declared {
            role: role.to_string(),
            path: path.as_ref().to_path_buf(),
        });
        self
    }

    /// Declares an output file, written with [`put_bytes`](Self::put_bytes) under the same
    /// `role`.
    pub fn writes(&mut self, role: &str, path: impl AsRef<Path>) -> &mut Self {
        self.push_output(role, path.as_ref(), Kind::File)
    }

    /// Declares a table output, written with [`put_batches`](Self::put_batches) under the same
    /// `role`: its extension must name a format slate writes. A CSV table's provenance sidecar
    /// is declared with it.
    pub fn writes_table(&mut self, role: &str, path: impl AsRef<Path>) -> &mut Self {
        let path = path.as_ref();
        self.push_output(role, path, Kind::Table);
        if Format::from_path(path).ok() == Some(Format::Csv) {
            self.push_output(
                &format!("{role} provenance"),
                &sidecar_path(path),
                Kind::File,
            );
            if let Some(o) = self.outputs.last_mut() {
                o.sidecar_of = Some(role.to_string());
            }
        }
        self
    }

    /// What every table this plan writes records of its making; the command fills it in
    /// (the command line, the policy, the inputs...) before the tables are put.
    pub fn provenance_mut(&mut self) -> &mut Provenance {
        &mut self.provenance
    }

    /// The provenance tables get (see [`provenance_mut`](Self::provenance_mut)).
    pub fn provenance(&self) -> &Provenance {
        &self.provenance
    }

    /// Declares an output directory that the caller fills itself (a dataset): it must not hold
    /// an input, and must be a directory or a new path.
    pub fn writes_dir(&mut self, role: &str, path: impl AsRef<Path>) -> &mut Self {
        self.push_output(role, path.as_ref(), Kind::Dir)
    }

    fn push_output(&mut self, role: &str, path: &Path, kind: Kind) -> &mut Self {
        self.outputs.push(Output {
            role: role.to_string(),
            path: path.to_path_buf(),
            dir: kind == Kind::Dir,
            table: kind == Kind::Table,
            sidecar_of: None,
            real: None,
            staged: None,
        });
        self.checked = false;
        self
    }

    /// Resolves every declared path and refuses a collision or an output that is not a
    /// regular file (or a directory, for [`writes_dir`](Self::writes_dir)) or a new path.
    pub fn check(&mut self) -> Result<()> {
        let mut outs = Vec::with_capacity(self.outputs.len());
        for o in &mut self.outputs {
            if let Some(url) = object_url(&o.path) {
                crate::object::output_key(url)?;
            }
            if o.table {
                Format::from_path(&o.path)?;
            }
            if object_url(&o.path).is_some() {
                outs.push(None);
                continue;
            }
            let real = resolve(&o.path).map_err(|reason| Error::Output {
                role: o.role.clone(),
                path: o.path.clone(),
                reason,
            })?;
            if let Ok(meta) = std::fs::metadata(&real) {
                let wrong = if o.dir {
                    (!meta.is_dir()).then(|| format!("{} is not a directory", kind_of(&meta)))
                } else {
                    (!meta.is_file()).then(|| format!("it is {}", kind_of(&meta)))
                };
                if let Some(what) = wrong {
                    return Err(Error::Output {
                        role: o.role.clone(),
                        path: o.path.clone(),
                        reason: format!(
                            "{what}; outputs are written only to regular files or new paths"
                        ),
                    });
                }
            }
            let id = FileId {
                inode: inode(&real),
                path: real.clone(),
            };
            o.real = Some(real);
            outs.push(Some(id));
        }
        for (i, a) in self.outputs.iter().enumerate() {
            for (j, b) in self.outputs.iter().enumerate().skip(i + 1) {
                let same = match (&outs[i], &outs[j]) {
                    (Some(x), Some(y)) => x.same(y),
                    (None, None) => a.path == b.path,
                    _ => false,
                };
                if same {
                    return Err(Error::SameOutput {
                        a_role: a.role.clone(),
                        a: a.path.clone(),
                        b_role: b.role.clone(),
                        b: b.path.clone(),
                    });
                }
            }
        }
        for input in &self.inputs {
            for file in input_files(&input.path) {
                for (o, id) in self.outputs.iter().zip(&outs) {
                    let Some(id) = id else { continue };
                    let hit = if o.dir {
                        file.path.starts_with(&id.path)
                    } else {
                        file.same(id)
                    };
                    if hit {
                        return Err(Error::OutputIsInput {
                            role: o.role.clone(),
                            path: o.path.clone(),
                            input_role: input.role.clone(),
                            input: display_input(&input.path, &file.path),
                            dir: o.dir,
                        });
                    }
                }
            }
        }
        for input in &self.inputs {
            // An output inside an input directory would be read as data by the next read of
            // that directory (a scorecard as records, rejects as an export).
            let Ok(dir) = std::fs::canonicalize(&input.path) else {
                continue;
            };
            if !dir.is_dir() {
                continue;
            }
            for (o, id) in self.outputs.iter().zip(&outs) {
                if let Some(id) = id
                    && id.path.starts_with(&dir)
                {
                    return Err(Error::Output {
                        role: o.role.clone(),
                        path: o.path.clone(),
                        reason: format!(
                            "it lies inside the {} directory {}, where the next read would take \
                             it as data; write it elsewhere",
                            input.role,
                            input.path.display()
                        ),
                    });
                }
            }
        }
        self.checked = true;
        Ok(())
    }

    /// Stages the output declared as `role`: `batches` encoded in the format its extension
    /// names with the plan's provenance (a CSV file's in its sidecar), under a temporary name
    /// until [`commit`](Self::commit).
    pub fn put_batches(
        &mut self,
        role: &str,
        schema: SchemaRef,
        batches: &[RecordBatch],
    ) -> Result<()> {
        let job = self.encoding(role)?;
        let staged = job.run(schema, batches);
        self.staged(job, staged)
    }

    /// Stages several tables as [`put_batches`](Self::put_batches) does, `(role, batch)` each,
    /// encoded at the same time on threads of their own: a run's scorecard and ledger took a
    /// core one after the other while the other core idled, a tenth of a 10M-record run's wall
    /// time (issue 27, session 18). On an error the tables that were written stay staged, as
    /// after a failed [`put_batches`](Self::put_batches): the first error is returned, and
    /// dropping the plan without a commit removes them.
    pub fn put_tables(&mut self, tables: &[(&str, &RecordBatch)]) -> Result<()> {
        let jobs = (tables.iter())
            .map(|(role, _)| self.encoding(role))
            .collect::<Result<Vec<_>>>()?;
        let staged: Vec<Result<Staged>> = std::thread::scope(|s| {
            let running: Vec<_> = (jobs.iter().zip(tables))
                .map(|(job, (_, batch))| {
                    s.spawn(move || job.run(batch.schema(), std::slice::from_ref(*batch)))
                })
                .collect();
            (running.into_iter())
                .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect()
        });
        let mut first_error = None;
        for (job, staged) in jobs.into_iter().zip(staged) {
            // Every table staged is recorded, so that an error drops its temporary file.
            if let Err(e) = self.staged(job, staged) {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// What encoding the output `role` takes: its format, target and stamped provenance.
    fn encoding(&self, role: &str) -> Result<Encoding> {
        let (o, target) = self.target(role)?;
        Ok(Encoding {
            role: role.to_string(),
            format: Format::from_path(&o.path)?,
            shown: o.path.clone(),
            target,
            provenance: self.provenance.stamped(role),
        })
    }

    /// Records what `job` staged, and stages its sidecar.
    fn staged(&mut self, job: Encoding, staged: Result<Staged>) -> Result<()> {
        self.replace_staged(&job.role, staged?);
        let sidecar = self
            .outputs
            .iter()
            .find(|o| o.sidecar_of.as_deref() == Some(job.role.as_str()))
            .map(|o| o.role.clone());
        if let Some(side) = sidecar {
            self.put_bytes(&side, job.provenance.to_json_pretty().as_bytes())?;
        }
        Ok(())
    }

    /// Stages the output declared as `role` with `bytes` as its whole content.
    pub fn put_bytes(&mut self, role: &str, bytes: &[u8]) -> Result<()> {
        let (o, target) = self.target(role)?;
        let shown = o.path.clone();
        let staged = match target {
            None => Staged::Object(bytes.to_vec()),
            Some(real) => Staged::Local(stage_local(&real, &shown, |mut file| {
                use std::io::Write;
                file.write_all(bytes).map_err(|e| write_err(&shown, e))
            })?),
        };
        self.replace_staged(role, staged);
        Ok(())
    }

    /// Puts every staged output in place: uploads first (the step most likely to fail), then
    /// one rename each. Returns the outputs committed, as declared.
    pub fn commit(&mut self) -> Result<Vec<PathBuf>> {
        let mut done = Vec::new();
        for o in &mut self.outputs {
            if matches!(o.staged, Some(Staged::Object(_)))
                && let Some(Staged::Object(bytes)) = o.staged.take()
            {
                let url = object_url(&o.path).expect("object outputs have URLs");
                crate::object::put(url, bytes)?;
                done.push(o.path.clone());
            }
        }
        for o in &mut self.outputs {
            if let Some(Staged::Local(tmp)) = o.staged.take() {
                let real = o.real.as_ref().expect("staged outputs are resolved");
                if let Err(e) = std::fs::rename(&tmp, real) {
                    let _ = std::fs::remove_file(&tmp);
                    return Err(io_err(&o.path)(e));
                }
                done.push(o.path.clone());
            }
        }
        Ok(done)
    }

    /// The declared output and where it goes (`None`: object storage).
    fn target(&self, role: &str) -> Result<(&Output, Option<PathBuf>)> {
        let o = self
            .outputs
            .iter()
            .find(|o| o.role == role && !o.dir)
            .ok_or_else(|| Error::Output {
                role: role.to_string(),
                path: PathBuf::new(),
                reason: "not declared before the run (a bug in slate)".into(),
            })?;
        if object_url(&o.path).is_some() {
            return Ok((o, None));
        }
        match (&o.real, self.checked) {
            (Some(real), true) => Ok((o, Some(real.clone()))),
            _ => Err(Error::Output {
                role: role.to_string(),
                path: o.path.clone(),
                reason: "not checked before the run (a bug in slate)".into(),
            }),
        }
    }

    fn replace_staged(&mut self, role: &str, staged: Staged) {
        if let Some(o) = self.outputs.iter_mut().find(|o| o.role == role && !o.dir)
            && let Some(Staged::Local(old)) = o.staged.replace(staged)
        {
            let _ = std::fs::remove_file(old);
        }
    }
}

impl Drop for OutputPlan {
    /// Outputs staged but never committed (an error came first) leave no temporary file.
    fn drop(&mut self) {
        for o in &mut self.outputs {
            if let Some(Staged::Local(tmp)) = o.staged.take() {
                let _ = std::fs::remove_file(tmp);
            }
        }
    }
}

/// Where writing to `path` puts the bytes: the canonical path when it exists (links followed),
/// else its nearest existing ancestor's canonical path joined with the rest.
fn resolve(path: &Path) -> std::result::Result<PathBuf, String> {
    match std::fs::canonicalize(path) {
        Ok(p) => return Ok(p),
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.to_string()),
        Err(_) => {}
    }
    if path.symlink_metadata().is_ok() {
        return Err(
            "a symbolic link to a path that does not exist; name the target instead".into(),
        );
    }
    let abs = std::path::absolute(path).map_err(|e| e.to_string())?;
    let mut tail = Vec::new();
    let mut cur = abs.as_path();
    loop {
        match std::fs::canonicalize(cur) {
            Ok(base) => {
                let mut out = base;
                for part in tail.iter().rev() {
                    out.push(part);
                }
                return Ok(out);
            }
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.to_string()),
            Err(_) => {}
        }
        match (cur.parent(), cur.file_name()) {
            (Some(parent), Some(name)) => {
                tail.push(name.to_os_string());
                cur = parent;
            }
            _ => return Err("cannot be resolved to a file system path".into()),
        }
    }
}

/// Every file an input names: itself, every file under a directory (each real directory walked
/// once, so a link loop ends), or a glob's matches.
fn input_files(path: &Path) -> Vec<FileId> {
    if object_url(path).is_some() {
        return Vec::new();
    }
    let mut out = Vec::new();
    if path.exists() {
        walk(path, &mut HashSet::new(), &mut out);
    } else if let Some(pattern) = path.to_str().filter(|s| s.contains(['*', '?', '[']))
        && let Ok(paths) = glob::glob(pattern)
    {
        for p in paths.flatten() {
            walk(&p, &mut HashSet::new(), &mut out);
        }
    }
    out
}

fn walk(path: &Path, seen: &mut HashSet<PathBuf>, out: &mut Vec<FileId>) {
    let Ok(id) = FileId::of(path) else { return };
    if !path.is_dir() {
        out.push(id);
        return;
    }
    if !seen.insert(id.path.clone()) {
        return;
    }
    // The directory itself counts: an output directory equal to an input directory holds it.
    out.push(id);
    if let Ok(entries) = std::fs::read_dir(path) {
        for e in entries.flatten() {
            walk(&e.path(), seen, out);
        }
    }
}

/// The input as the user named it, and the file under it when that is another path.
fn display_input(given: &Path, file: &Path) -> String {
    match std::fs::canonicalize(given) {
        Ok(g) if g == file => given.display().to_string(),
        _ => format!("{} (via {})", file.display(), given.display()),
    }
}

fn kind_of(meta: &std::fs::Metadata) -> &'static str {
    let t = meta.file_type();
    if t.is_dir() {
        return "a directory";
    }
    if t.is_file() {
        return "a regular file";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
        if t.is_fifo() {
            return "a fifo";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    "not a regular file"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::temp_path;
    use arrow::array::Int64Array;
    use arrow::datatypes::{DataType, Field, Schema};
    use std::sync::Arc;

    fn batch(values: Vec<i64>) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![Field::new("a", DataType::Int64, false)]));
        RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(values))]).unwrap()
    }

    fn checked(f: impl FnOnce(&mut OutputPlan)) -> Result<OutputPlan> {
        let mut p = OutputPlan::new();
        f(&mut p);
        p.check().map(|()| p)
    }

    #[test]
    fn an_output_that_is_an_input_is_refused_by_any_name() {
        let d = tempfile::tempdir().unwrap();
        let data = d.path().join("data.parquet");
        std::fs::write(&data, b"records").unwrap();
        std::fs::create_dir(d.path().join("sub")).unwrap();
        let dotted = d.path().join("sub/../data.parquet");
        let e = checked(|p| {
            p.reads("input", &data).writes("scorecard", &dotted);
        })
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("scorecard output") && e.contains("data.parquet"),
            "{e}"
        );
        // A hard link and a symbolic link are the same file.
        let hard = d.path().join("hard.parquet");
        std::fs::hard_link(&data, &hard).unwrap();
        let soft = d.path().join("soft.parquet");
        std::os::unix::fs::symlink(&data, &soft).unwrap();
        for out in [&hard, &soft] {
            assert!(
                checked(|p| {
                    p.reads("input", &data).writes("ledger", out);
                })
                .is_err(),
                "{}",
                out.display()
            );
        }
        // A file under an input directory, and one a glob matches.
        assert!(
            checked(|p| {
                p.reads("input", d.path()).writes("scorecard", &data);
            })
            .is_err()
        );
        let glob = format!("{}/*.parquet", d.path().display());
        assert!(
            checked(|p| {
                p.reads("input", &glob).writes("scorecard", &data);
            })
            .is_err()
        );
        assert_eq!(std::fs::read(&data).unwrap(), b"records");
        // Another name in the same directory is fine.
        checked(|p| {
            p.reads("input", &data)
                .writes("scorecard", d.path().join("card.parquet"));
        })
        .unwrap();
    }

    #[test]
    fn two_outputs_may_not_be_one_file_and_an_output_dir_may_not_hold_an_input() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("same.parquet");
        let e = checked(|p| {
            p.writes("scorecard", &out).writes("ledger", &out);
        })
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("scorecard output") && e.contains("ledger output"),
            "{e}"
        );
        let ds = d.path().join("imp1");
        std::fs::create_dir_all(ds.join("year=2024")).unwrap();
        std::fs::write(ds.join("year=2024/part-0.parquet"), b"x").unwrap();
        let e = checked(|p| {
            p.reads("input", &ds).writes_dir("dataset", &ds);
        })
        .unwrap_err()
        .to_string();
        assert!(e.contains("dataset directory"), "{e}");
    }

    #[cfg(unix)]
    #[test]
    fn devices_fifos_and_directories_are_not_outputs() {
        let d = tempfile::tempdir().unwrap();
        for (target, what) in [
            (PathBuf::from("/dev/null"), "a character device"),
            (d.path().to_path_buf(), "a directory"),
        ] {
            let e = checked(|p| {
                p.writes("report", &target);
            })
            .unwrap_err()
            .to_string();
            assert!(e.contains(what), "{e}");
        }
    }

    #[test]
    fn a_symlinked_output_is_written_through_and_the_link_stays() {
        let d = tempfile::tempdir().unwrap();
        let real = d.path().join("real.csv");
        std::fs::write(&real, b"old").unwrap();
        let link = d.path().join("link.csv");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let mut p = checked(|p| {
            p.writes_table("scorecard", &link);
        })
        .unwrap();
        let b = batch(vec![7]);
        p.put_batches("scorecard", b.schema(), &[b]).unwrap();
        p.commit().unwrap();
        assert!(link.symlink_metadata().unwrap().file_type().is_symlink());
        assert_eq!(std::fs::read_to_string(&real).unwrap(), "a\n7\n");
    }

    /// A directory holding an old scorecard and an old ledger (`ledger` names it), and a
    /// checked plan that writes over both.
    fn over_old_outputs(ledger: &str) -> (tempfile::TempDir, PathBuf, PathBuf, OutputPlan) {
        let d = tempfile::tempdir().unwrap();
        let card = d.path().join("card.parquet");
        let ledger = d.path().join(ledger);
        std::fs::write(&card, b"old card").unwrap();
        std::fs::write(&ledger, b"old ledger").unwrap();
        let p = checked(|p| {
            p.writes_table("scorecard", &card)
                .writes_table("ledger", &ledger);
        })
        .unwrap();
        (d, card, ledger, p)
    }

    /// The old outputs as they were, and nothing else beside them.
    fn assert_untouched(d: &Path, card: &Path, ledger: &Path) {
        assert_eq!(std::fs::read(card).unwrap(), b"old card");
        assert_eq!(std::fs::read(ledger).unwrap(), b"old ledger");
        let names: Vec<_> = std::fs::read_dir(d).unwrap().flatten().collect();
        assert_eq!(names.len(), 2, "{names:?}");
    }

    #[test]
    fn a_failed_output_leaves_the_earlier_ones_and_no_temporary_file() {
        let (d, card, ledger, mut p) = over_old_outputs("card.exclusions.parquet");
        let good = batch(vec![1, 2]);
        p.put_batches("scorecard", good.schema(), std::slice::from_ref(&good))
            .unwrap();
        assert!(temp_path(&card).exists());
        // A batch that does not match the declared schema fails mid-write, as a full disk would.
        let other = Arc::new(Schema::new(vec![Field::new("z", DataType::Utf8, false)]));
        let e = p
            .put_batches("ledger", other, std::slice::from_ref(&good))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("could not write") && !e.contains("readable"),
            "{e}"
        );
        assert!(!temp_path(&ledger).exists());
        drop(p); // the run ends with the error: nothing committed
        assert_untouched(d.path(), &card, &ledger);
    }

    #[test]
    fn tables_staged_together_fail_together_and_leave_no_temporary_file() {
        let (d, card, ledger, mut p) = over_old_outputs("card.csv");
        let good = batch(vec![1, 2]);
        // CSV has no form for a list: this table fails while the other is written.
        let lists =
            arrow::array::ListArray::from_iter_primitive::<arrow::datatypes::Int64Type, _, _>([
                Some(vec![Some(1)]),
            ]);
        let nested = RecordBatch::try_from_iter([("l", Arc::new(lists) as _)]).unwrap();
        let e = p
            .put_tables(&[("scorecard", &good), ("ledger", &nested)])
            .unwrap_err()
            .to_string();
        assert!(e.contains("card.csv"), "{e}");
        drop(p); // the run ends with the error: nothing committed
        assert_untouched(d.path(), &card, &ledger);
    }

    #[test]
    fn new_paths_resolve_under_their_nearest_existing_directory() {
        let d = tempfile::tempdir().unwrap();
        let target = d.path().join("a/b/c.parquet");
        let r = resolve(&target).unwrap();
        assert_eq!(
            r,
            std::fs::canonicalize(d.path())
                .unwrap()
                .join("a/b/c.parquet")
        );
        let mut p = checked(|p| {
            p.writes_table("scorecard", &target);
        })
        .unwrap();
        let b = batch(vec![3]);
        p.put_batches("scorecard", b.schema(), &[b]).unwrap();
        assert_eq!(p.commit().unwrap(), vec![target.clone()]);
        assert!(target.is_file());
    }

    #[test]
    fn every_table_carries_the_provenance_a_csv_in_a_sidecar_committed_with_it() {
        let d = tempfile::tempdir().unwrap();
        let outs = ["card.parquet", "card.arrow", "card.csv"].map(|n| d.path().join(n));
        let mut p = checked(|p| {
            for (i, o) in outs.iter().enumerate() {
                p.writes_table(&format!("table{i}"), o);
            }
        })
        .unwrap();
        p.provenance_mut().command = Some("slate run --out card.parquet".into());
        p.provenance_mut().zone = Some("Europe/London".into());
        let b = batch(vec![1, 2]);
        // Staged together, encoded on threads of their own.
        p.put_tables(&[("table0", &b), ("table1", &b), ("table2", &b)])
            .unwrap();
        let side = d.path().join("card.csv.provenance.json");
        assert!(!side.exists(), "the sidecar waits for the commit");
        // Three tables and the sidecar, committed together.
        assert_eq!(p.commit().unwrap().len(), 4);
        for (i, o) in outs.iter().enumerate() {
            let got = crate::provenance::read(o).unwrap();
            assert_eq!(got.output.as_deref(), Some(format!("table{i}").as_str()));
            assert_eq!(got.zone.as_deref(), Some("Europe/London"));
            assert!(got.written_at.is_some());
        }
        // The data is as before: the CSV has no comment lines, Parquet and IPC the same rows.
        assert_eq!(std::fs::read_to_string(&outs[2]).unwrap(), "a\n1\n2\n");
        let back = crate::parquet::read_file(&outs[0]).unwrap();
        assert_eq!(back[0].columns(), b.columns());
        let ipc = std::fs::File::open(&outs[1]).unwrap();
        let r = arrow::ipc::reader::FileReader::try_new(ipc, None).unwrap();
        let got: Vec<RecordBatch> = r.map(|b| b.unwrap()).collect();
        assert_eq!(got[0].columns(), b.columns());
    }

    #[test]
    fn a_csv_sidecar_is_checked_like_any_output() {
        let d = tempfile::tempdir().unwrap();
        let csv = d.path().join("x.csv");
        let side = d.path().join("x.csv.provenance.json");
        std::fs::write(&side, b"an input").unwrap();
        let e = checked(|p| {
            p.reads("policy", &side).writes_table("scorecard", &csv);
        })
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("scorecard provenance output") && e.contains("refusing"),
            "{e}"
        );
        let e = checked(|p| {
            p.writes_table("scorecard", &csv).writes("report", &side);
        })
        .unwrap_err()
        .to_string();
        assert!(e.contains("same file"), "{e}");
        assert_eq!(std::fs::read(&side).unwrap(), b"an input");
    }
}

//! `slate import`: a mapped source written as canonical, partitioned Parquet plus a rejects file.
//!
//! Output layout: `DIR/year=YYYY/month=MM/part-N.parquet`, partitioned by the local month of
//! `call_received` in the mapping's zone (`year=unknown/month=unknown` when it is null), and a
//! rejects CSV (`DIR/_rejects.csv` by default) with the columns
//! `file,row,line,column,value,reason`.
//!
//! Memory stays bounded whatever the input's size: records arrive in batches, each partition
//! has one open Parquet writer whose row group is flushed to disk once it holds
//! [`FLUSH_BYTES`], and at most [`MAX_OPEN`] partitions are open at once (the least recently
//! used is closed, and a later record of its month starts the next `part-N`). Every file is
//! written under a hidden temporary name and renamed when complete.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use arrow::array::{AsArray, RecordBatch, UInt32Array};
use arrow::compute::take_record_batch;
use arrow::datatypes::{SchemaRef, TimestampMicrosecondType};
use parquet::arrow::ArrowWriter;
use parquet::file::metadata::KeyValue;
use slate_core::calendar::ymd_of_day;
use slate_core::{TzRules, schema};

use crate::error::{Error, Result, io_err};
use crate::mapping::Mapping;
use crate::output::{
    parquet_properties, prepare_output_dir, sweep_stale_temps, temp_path, write_err, write_with,
};
use crate::plan::OutputPlan;
use crate::provenance::{InputFile, METADATA_KEY, Provenance, sidecar_path};
use crate::record::output_schema;
use crate::source::{ImportSummary, Reject, SourceSink, read_source};

/// The rejects file's default name in the output directory (replaced by `--force`). The
/// leading `_` marks it as not data, to slate and to every reader that follows the Spark/pyarrow
/// convention, so the directory stays a Parquet dataset (see [`crate::input`]).
pub const REJECTS_FILE: &str = "_rejects.csv";
/// The name before 0.2, still replaced by `--force`.
const OLD_REJECTS_FILE: &str = "rejects.csv";
/// The default rejects file's provenance sidecar (also replaced by `--force`).
const REJECTS_SIDECAR: &str = "_rejects.csv.provenance.json";

/// In-progress row-group bytes after which a partition's writer flushes.
pub const FLUSH_BYTES: usize = 16 << 20;
/// Partitions with an open writer at once.
pub const MAX_OPEN: usize = 24;

/// Options of [`import`].
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Output directory.
    pub out_dir: PathBuf,
    /// Rejects file; `None`: `out_dir/_rejects.csv`.
    pub rejects: Option<PathBuf>,
    /// Replace earlier `year=*` partitions and `_rejects.csv` in a non-empty `out_dir`.
    pub force: bool,
    /// Records per batch.
    pub batch_rows: usize,
    /// What the dataset's parts and the rejects file (in its sidecar) record of their making;
    /// the import adds the mapping, its zone and the inputs. `None`: nothing.
    pub provenance: Option<Provenance>,
}

/// What [`import`] wrote.
#[derive(Debug, Clone)]
pub struct ImportReport {
    /// The accounting.
    pub summary: ImportSummary,
    /// Parquet files written, sorted.
    pub parts: Vec<PathBuf>,
    /// The rejects file.
    pub rejects: PathBuf,
}

/// Imports `files` through `mapping` into `opts.out_dir`; `progress` gets input bytes read.
pub fn import(
    files: &[PathBuf],
    mapping: &Mapping,
    opts: &ImportOptions,
    progress: &mut dyn FnMut(u64),
) -> Result<ImportReport> {
    let rejects_path = opts
        .rejects
        .clone()
        .unwrap_or_else(|| opts.out_dir.join(REJECTS_FILE));
    // Before anything is removed or written: the dataset and the rejects file must not be, or
    // hold, an input (`--force` would otherwise delete the records it is about to read).
    let provenance = opts.provenance.clone().map(|mut p| {
        p.source = Some(mapping.name.clone());
        p.zone.get_or_insert_with(|| mapping.tz.clone());
        p.inputs = files.iter().map(|f| InputFile::local(f, None)).collect();
        p
    });
    let mut plan = OutputPlan::new();
    for f in files {
        plan.reads("input", f);
    }
    plan.writes_dir("dataset", &opts.out_dir)
        .writes("rejects", &rejects_path);
    if provenance.is_some() {
        plan.writes("rejects provenance", sidecar_path(&rejects_path));
    }
    plan.check()?;
    prepare_output_dir(
        &opts.out_dir,
        opts.force,
        &[REJECTS_FILE, OLD_REJECTS_FILE, REJECTS_SIDECAR],
    )?;
    let tz = TzRules::from_name(&mapping.tz).map_err(|e| Error::InvalidMapping {
        mapping: mapping.name.clone(),
        field: "tz".into(),
        reason: e.to_string(),
    })?;
    let mut sink = ImportSink {
        parts: Partitions::new(
            opts.out_dir.clone(),
            output_schema(mapping),
            tz,
            provenance.clone(),
        ),
        rejects: RejectsWriter::create(&rejects_path)?,
        progress,
    };
    let summary = read_source(files, mapping, opts.batch_rows, &mut sink)?;
    let parts = sink.parts.finish()?;
    sink.rejects.finish()?;
    if let Some(p) = &provenance {
        // Rows read are known now: the rejects say of how many rows they are the rejects.
        let mut p = p.stamped("rejects");
        p.rows_read = Some(summary.input_rows);
        let side = sidecar_path(&rejects_path);
        write_with(&side, |mut f| {
            f.write_all(p.to_json_pretty().as_bytes())
                .map_err(|e| write_err(&side, e))
        })?;
    }
    Ok(ImportReport {
        summary,
        parts,
        rejects: rejects_path,
    })
}

struct ImportSink<'a> {
    parts: Partitions,
    rejects: RejectsWriter,
    progress: &'a mut dyn FnMut(u64),
}

impl SourceSink for ImportSink<'_> {
    fn batch(&mut self, batch: RecordBatch) -> Result<()> {
        self.parts.write(&batch)
    }

    fn reject(&mut self, reject: &Reject) -> Result<()> {
        self.rejects.write(reject)
    }

    fn progress(&mut self, bytes: u64) {
        (self.progress)(bytes);
    }
}

/// The rejects CSV, written as rows are rejected (never held in memory), under a temporary
/// name until [`RejectsWriter::finish`].
pub struct RejectsWriter {
    path: PathBuf,
    /// Where the file goes: `path` with a symbolic link followed (the link stays).
    target: PathBuf,
    tmp: PathBuf,
    w: Option<csv::Writer<BufWriter<File>>>,
}

impl RejectsWriter {
    /// Starts the file at `path` (its directory is created).
    pub fn create(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        }
        let target = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        sweep_stale_temps(&target);
        let tmp = temp_path(&target);
        let file = File::create(&tmp).map_err(io_err(&tmp))?;
        let mut w = RejectsWriter {
            path: path.to_path_buf(),
            target,
            tmp,
            w: Some(csv::Writer::from_writer(BufWriter::new(file))),
        };
        w.record(["file", "row", "line", "column", "value", "reason"])?;
        Ok(w)
    }

    /// Appends one rejected row.
    pub fn write(&mut self, r: &Reject) -> Result<()> {
        let line = r.line.map(|l| l.to_string()).unwrap_or_default();
        self.record([
            r.file.as_str(),
            &r.row.to_string(),
            &line,
            &r.problem.column,
            &r.problem.value,
            &r.problem.reason(),
        ])
    }

    fn record<'a>(&mut self, fields: impl IntoIterator<Item = &'a str>) -> Result<()> {
        let w = self.w.as_mut().expect("the writer lives until finish");
        w.write_record(fields).map_err(|e| write_err(&self.path, e))
    }

    /// Flushes and renames the file into place.
    pub fn finish(mut self) -> Result<()> {
        let mut w = self.w.take().expect("the writer lives until finish");
        w.flush().map_err(|e| write_err(&self.path, e))?;
        drop(w);
        std::fs::rename(&self.tmp, &self.target).map_err(|e| {
            let _ = std::fs::remove_file(&self.tmp);
            io_err(&self.path)(e)
        })
    }
}

impl Drop for RejectsWriter {
    /// A read that failed before [`RejectsWriter::finish`] leaves no temporary file.
    fn drop(&mut self) {
        if self.w.is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Local (year, month) of `call_received`; `None` when it is null.
type MonthKey = Option<(i32, u32)>;

struct OpenPart {
    writer: ArrowWriter<File>,
    tmp: PathBuf,
    path: PathBuf,
    last_used: u64,
}

struct Partitions {
    dir: PathBuf,
    schema: SchemaRef,
    tz: TzRules,
    open: HashMap<MonthKey, OpenPart>,
    next_part: HashMap<MonthKey, usize>,
    written: Vec<PathBuf>,
    tick: u64,
    provenance: Option<Provenance>,
}

impl Partitions {
    fn new(dir: PathBuf, schema: SchemaRef, tz: TzRules, provenance: Option<Provenance>) -> Self {
        Partitions {
            dir,
            schema,
            tz,
            open: HashMap::new(),
            next_part: HashMap::new(),
            written: Vec::new(),
            tick: 0,
            provenance,
        }
    }

    fn pq_err(path: &Path) -> impl FnOnce(parquet::errors::ParquetError) -> Error + '_ {
        move |source| write_err(path, source)
    }

    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        let idx = self
            .schema
            .index_of(schema::CALL_RECEIVED)
            .map_err(|source| Error::Arrow {
                path: self.dir.clone(),
                source,
            })?;
        let received = batch.column(idx).as_primitive::<TimestampMicrosecondType>();
        let mut groups: BTreeMap<MonthKey, Vec<u32>> = BTreeMap::new();
        for (i, v) in received.iter().enumerate() {
            let key = v.map(|us| {
                let (y, m, _) = ymd_of_day(self.tz.local_day(us.div_euclid(1_000_000)));
                (y, m)
            });
            groups.entry(key).or_default().push(i as u32);
        }
        for (key, rows) in groups {
            let part = if rows.len() == batch.num_rows() {
                batch.clone()
            } else {
                take_record_batch(batch, &UInt32Array::from(rows)).map_err(|source| {
                    Error::Arrow {
                        path: self.dir.clone(),
                        source,
                    }
                })?
            };
            self.write_part(key, &part)?;
        }
        Ok(())
    }

    fn write_part(&mut self, key: MonthKey, part: &RecordBatch) -> Result<()> {
        self.tick += 1;
        if !self.open.contains_key(&key) {
            if self.open.len() >= MAX_OPEN
                && let Some(lru) = self
                    .open
                    .iter()
                    .min_by_key(|(_, p)| p.last_used)
                    .map(|(k, _)| *k)
                && let Some(p) = self.open.remove(&lru)
            {
                self.close(p)?;
            }
            let sub = match key {
                Some((y, m)) => self
                    .dir
                    .join(format!("year={y:04}"))
                    .join(format!("month={m:02}")),
                None => self.dir.join("year=unknown").join("month=unknown"),
            };
            std::fs::create_dir_all(&sub).map_err(io_err(&sub))?;
            let n = self.next_part.entry(key).or_insert(0);
            let path = sub.join(format!("part-{n}.parquet"));
            *n += 1;
            sweep_stale_temps(&path);
            let tmp = temp_path(&path);
            let file = File::create(&tmp).map_err(io_err(&tmp))?;
            let writer =
                ArrowWriter::try_new(file, self.schema.clone(), Some(parquet_properties()))
                    .map_err(Self::pq_err(&path))?;
            self.open.insert(
                key,
                OpenPart {
                    writer,
                    tmp,
                    path,
                    last_used: 0,
                },
            );
        }
        let tick = self.tick;
        let p = self
            .open
            .get_mut(&key)
            .expect("the partition's writer was opened just above");
        p.last_used = tick;
        p.writer.write(part).map_err(Self::pq_err(&p.path))?;
        if p.writer.in_progress_size() >= FLUSH_BYTES {
            p.writer.flush().map_err(Self::pq_err(&p.path))?;
        }
        Ok(())
    }

    fn close(&mut self, mut p: OpenPart) -> Result<()> {
        if let Some(prov) = &self.provenance {
            p.writer.append_key_value_metadata(KeyValue::new(
                METADATA_KEY.to_string(),
                prov.stamped("dataset part").to_json(),
            ));
        }
        let closed = p
            .writer
            .close()
            .map_err(Self::pq_err(&p.path))
            .and_then(|_| std::fs::rename(&p.tmp, &p.path).map_err(io_err(&p.path)));
        if let Err(e) = closed {
            let _ = std::fs::remove_file(&p.tmp);
            return Err(e);
        }
        self.written.push(p.path);
        Ok(())
    }

    fn finish(mut self) -> Result<Vec<PathBuf>> {
        let open: Vec<OpenPart> = self.open.drain().map(|(_, p)| p).collect();
        let mut first_err = None;
        for p in open {
            if let Err(e) = self.close(p) {
                first_err.get_or_insert(e);
            }
        }
        if let Some(e) = first_err {
            return Err(e);
        }
        let mut written = std::mem::take(&mut self.written);
        written.sort();
        Ok(written)
    }
}

impl Drop for Partitions {
    /// An import that failed (a full disk, an unreadable input) leaves no temporary part.
    fn drop(&mut self) {
        for p in self.open.values() {
            let _ = std::fs::remove_file(&p.tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_a_non_empty_dir_unless_forced_and_keeps_foreign_files() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("year=2020/month=01")).unwrap();
        std::fs::write(d.path().join("_rejects.csv"), "x").unwrap();
        std::fs::write(d.path().join("rejects.csv"), "x").unwrap();
        std::fs::write(d.path().join("notes.txt"), "keep me").unwrap();
        let ours = [REJECTS_FILE, OLD_REJECTS_FILE];
        let e = prepare_output_dir(d.path(), false, &ours)
            .unwrap_err()
            .to_string();
        assert!(e.contains("not empty"), "{e}");
        prepare_output_dir(d.path(), true, &ours).unwrap();
        assert!(!d.path().join("year=2020").exists());
        assert!(!d.path().join("_rejects.csv").exists());
        assert!(!d.path().join("rejects.csv").exists());
        assert!(d.path().join("notes.txt").exists());
    }
}

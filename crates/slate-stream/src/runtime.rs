//! The pipeline: a source task feeding batches of updates (Rust values, not Arrow: the
//! processor reads them as they are) over a bounded channel (the bound is the back-pressure) to the processor, which applies them, emits on the watermark's schedule,
//! writes each emission and checkpoints.
//!
//! Emissions are written by the processor before it checkpoints, so a checkpoint never claims
//! an emission that is not on disk. Emission times depend only on event time, so a restart from
//! a checkpoint re-creates exactly the emissions that followed it, under the same file names.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arrow::array::{ArrayRef, BooleanArray, Int64Array, RecordBatch, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use slate_core::ambiguous::Tally;
use slate_core::cube::Scores;
use slate_core::tables::{ledger_batch, scorecard_batch};
use slate_io::Provenance;
use tokio::sync::mpsc;

use crate::checkpoint::{Checkpoints, SourceProgress, StateLock};
use crate::clock::Clock;
use crate::error::{Error, Result, io};
use crate::feed::{Batcher, Chunk, Skip};
use crate::source::{
    Reject, Replay, TextClocks, is_update_file, parse_json_update, read_update_file,
};
use crate::spec::{SinkSpec, SourceSpec};
use crate::state::{Emission, LateUpdate, Processor, StreamConfig};

/// How to run.
#[derive(Debug, Clone)]
pub struct RunSpec {
    /// The source.
    pub source: SourceSpec,
    /// The sink.
    pub sink: SinkSpec,
    /// Checkpoint directory; `None`: no durability.
    pub state_dir: Option<PathBuf>,
    /// Wall time between checkpoints.
    pub checkpoint_every: Duration,
    /// Source idle this long: the watermark follows the wall clock.
    pub idle: Option<Duration>,
    /// Updates per batch.
    pub batch_size: usize,
    /// Channel capacity in batches.
    pub channel_capacity: usize,
    /// Wall clock.
    pub clock: Arc<dyn Clock>,
    /// Called after each emission is written, with the whole current scorecard and ledger
    /// (what `latest.parquet` holds): `slate stream --serve` publishes them as tables.
    pub on_latest: Option<LatestHook>,
    /// What every file written records of its making (see `slate_io::provenance`), stamped
    /// per file with its role, the time and the updates read so far; `None`: nothing.
    pub provenance: Option<Provenance>,
}

/// A function given each emission's whole current scorecard and ledger.
pub type LatestFn = dyn Fn(&RecordBatch, &RecordBatch) + Send + Sync;

/// A callback given each emission's whole current scorecard and ledger.
#[derive(Clone)]
pub struct LatestHook(pub Arc<LatestFn>);

impl std::fmt::Debug for LatestHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LatestHook")
    }
}

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Updates consumed (in total, across restarts).
    pub updates: u64,
    /// Emissions written (in total).
    pub emissions: u64,
    /// Incidents still open at the end.
    pub open: usize,
    /// Late updates dropped.
    pub late_dropped: usize,
    /// Late updates applied as revisions.
    pub late_revised: u64,
    /// Lines or rows the source could not read, and updates the `ambiguous` rule excluded
    /// (counted again by a restart, which reads the source from its start).
    pub rejects: Vec<Reject>,
    /// What the `ambiguous` rule decided for the text updates this run read (a restart reads
    /// the source from its start, so these count the whole input read so far).
    pub ambiguous: slate_core::ambiguous::Tally,
    /// Whether the run resumed from a checkpoint.
    pub resumed: bool,
    /// When resumed, what could not be checked against the checkpoint (a pipe on standard
    /// input has no identity: only its length is checked against the position).
    pub unverified: Option<String>,
    /// Most incidents open at once (sampled after each batch).
    pub max_open: usize,
    /// Most grain units whose settled cells were held at once (sampled after each emission):
    /// with a revise horizon, the windows still open for revision, not the history.
    pub max_held_units: usize,
    /// Most settled records (revise mode) or ids (drop mode) held at once, likewise.
    pub max_held_settled: usize,
    /// Wall time from the start of each numbered emission's computation to its files
    /// written, in milliseconds: the delay from the watermark crossing an emission point to
    /// the figures being readable. The files are written on another thread while the next
    /// updates are applied, so with the source far ahead this includes waiting for the
    /// writer behind earlier emissions.
    pub emission_ms: Vec<f64>,
}

/// Name of emission `seq`.
pub fn emission_path(out: &Path, seq: u64) -> PathBuf {
    out.join("emissions")
        .join(format!("emission-{seq:08}.parquet"))
}

/// The emission schema: the scorecard's plus `final`, `revision` and `watermark`.
fn with_flags(batch: &RecordBatch, e: &Emission) -> Result<RecordBatch> {
    let mut fields: Vec<Field> = batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields.push(Field::new("final", DataType::Boolean, false));
    fields.push(Field::new("revision", DataType::Int64, false));
    fields.push(Field::new(
        "watermark",
        DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        false,
    ));
    let mut cols: Vec<ArrayRef> = batch.columns().to_vec();
    cols.push(Arc::new(BooleanArray::from(
        e.flags.iter().map(|f| f.0).collect::<Vec<_>>(),
    )));
    cols.push(Arc::new(Int64Array::from(
        e.flags.iter().map(|f| i64::from(f.1)).collect::<Vec<_>>(),
    )));
    cols.push(Arc::new(
        TimestampMicrosecondArray::from(vec![e.watermark_us; e.flags.len()]).with_timezone("UTC"),
    ));
    let schema: SchemaRef = Arc::new(Schema::new(fields));
    RecordBatch::try_new(schema, cols).map_err(|e| Error::Pipeline(e.to_string()))
}

/// Directory of the current scorecard, one Parquet file per window.
pub const LATEST_DIR: &str = "latest";
/// Directory of the current exclusions ledger, one Parquet file per window (`none.parquet`:
/// records with no start clock).
pub const LATEST_LEDGER_DIR: &str = "latest.exclusions";

/// A window's file name: `START_END.parquet` (local dates, end exclusive); `none.parquet` for
/// the ledger of records with no start clock.
fn window_file(w: Option<(i32, i32)>) -> String {
    match w {
        None => "none.parquet".into(),
        Some((a, b)) => format!("{}_{}.parquet", date_of(a), date_of(b)),
    }
}

fn date_of(day: i32) -> chrono::NaiveDate {
    chrono::NaiveDate::from_num_days_from_ce_opt(day + 719_163).unwrap_or_default()
}

/// The window a file of [`window_file`] holds (`Some(None)`: the no-start ledger).
fn window_of_file(path: &Path) -> Option<Option<(i32, i32)>> {
    let stem = path.file_name()?.to_str()?.strip_suffix(".parquet")?;
    if stem == "none" {
        return Some(None);
    }
    let (a, b) = stem.split_once('_')?;
    let day = |s: &str| {
        let d = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
        Some(chrono::Datelike::num_days_from_ce(&d) - 719_163)
    };
    Some(Some((day(a)?, day(b)?)))
}

/// A window (`None`: the no-start ledger) and its file.
type WindowFile = (Option<(i32, i32)>, PathBuf);

/// The window files in a directory, in scorecard order (the no-start ledger first).
fn window_files(dir: &Path) -> Result<Vec<WindowFile>> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for e in entries {
        let path = e.map_err(io(dir))?.path();
        if let Some(w) = window_of_file(&path) {
            out.push((w, path));
        }
    }
    out.sort();
    Ok(out)
}

/// Writes `batch` to `path` through a temporary name beside it, renamed when complete, with
/// `prov` in its metadata; a failed write (a full disk) leaves no temporary file
/// (`slate_io::output::write_table` removes it).
fn write_file(path: &Path, batch: &RecordBatch, prov: Option<&Provenance>) -> Result<()> {
    Ok(slate_io::output::write_table(
        path,
        batch.schema(),
        std::slice::from_ref(batch),
        prov,
    )?)
}

/// Writes `batch` to `path`, or removes the file when the batch has no rows.
fn write_or_remove(path: &Path, batch: &RecordBatch, prov: Option<&Provenance>) -> Result<()> {
    if batch.num_rows() == 0 {
        match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(path)(e)),
            _ => Ok(()),
        }
    } else {
        write_file(path, batch, prov)
    }
}

/// Concatenates the window files of `dir` into one file (`latest.parquet` at the end of a
/// finite source).
fn concat_windows(
    dir: &Path,
    to: &Path,
    empty: &RecordBatch,
    prov: Option<&Provenance>,
) -> Result<()> {
    let mut batches = Vec::new();
    for (_, f) in window_files(dir)? {
        batches.extend(slate_io::parquet::read_file(&f)?);
    }
    let schema = empty.schema();
    let all = arrow::compute::concat_batches(&schema, std::iter::once(empty).chain(&batches))
        .map_err(|e| Error::Pipeline(e.to_string()))?;
    write_file(to, &all, prov)
}

/// Per-window batches of the current scorecard and ledger, kept only for `on_latest`.
type HookWindows = std::collections::BTreeMap<Option<(i32, i32)>, (RecordBatch, RecordBatch)>;

/// What the sink needs of the processor at an emission, taken on the processor's thread so
/// that the files can be written on another while the processor goes on.
struct View {
    /// Updates read so far (the provenance's `rows_read`).
    position: u64,
    /// Windows were last frozen at this watermark ([`StreamConfig::frozen_at`]).
    frozen_wm: i64,
    /// The late ledger, when it changed since the last view.
    late: Option<Vec<LateUpdate>>,
    /// Scores with no rows, of the stream's shape: for the hook, and at the end.
    empty: Option<Scores>,
}

struct Sink {
    cfg: StreamConfig,
    spec: SinkSpec,
    on_latest: Option<LatestHook>,
    ipc: Option<arrow::ipc::writer::StreamWriter<std::io::Stdout>>,
    hook_windows: HookWindows,
    /// Emissions numbered after this are stale (written after the checkpoint resumed from):
    /// removed before the first write, so a run refused before it writes (a checkpoint
    /// position beyond the source) leaves the output as it was.
    stale_after: Option<u64>,
    provenance: Option<Provenance>,
}

impl Sink {
    /// A sink; with a hook and a directory, frozen windows' batches come back from their files
    /// (a restarted processor no longer holds their cells).
    fn new(
        spec: SinkSpec,
        on_latest: Option<LatestHook>,
        provenance: Option<Provenance>,
        p: &Processor,
    ) -> Result<Self> {
        let mut hook_windows = HookWindows::new();
        if let (Some(_), SinkSpec::Dir(out)) = (&on_latest, &spec) {
            let policy = &p.config().policy;
            let shape = p.empty_scores();
            let read = |dir: &str, w: Option<(i32, i32)>, empty: &RecordBatch| {
                let f = out.join(dir).join(window_file(w));
                if !f.exists() {
                    return Ok(empty.clone());
                }
                let b = slate_io::parquet::read_file(&f)?;
                arrow::compute::concat_batches(&empty.schema(), &b)
                    .map_err(|e| Error::Pipeline(e.to_string()))
            };
            let (card0, ledger0) = (
                scorecard_batch(&shape, policy)?,
                ledger_batch(&shape, policy)?,
            );
            let mut frozen: Vec<Option<(i32, i32)>> = Vec::new();
            for d in [LATEST_DIR, LATEST_LEDGER_DIR] {
                for (w, _) in window_files(&out.join(d))? {
                    if w.is_some_and(|w| p.is_frozen(w)) && !frozen.contains(&w) {
                        frozen.push(w);
                    }
                }
            }
            for w in frozen {
                let card = read(LATEST_DIR, w, &card0)?;
                let ledger = read(LATEST_LEDGER_DIR, w, &ledger0)?;
                hook_windows.insert(w, (card, ledger));
            }
        }
        Ok(Sink {
            cfg: p.config().clone(),
            spec,
            on_latest,
            ipc: None,
            hook_windows,
            stale_after: Some(p.state.seq),
            provenance,
        })
    }

    /// The provenance of the file `role` written now, after the updates read so far.
    fn stamp(&self, role: &str, v: &View) -> Option<Provenance> {
        self.provenance.as_ref().map(|prov| {
            let mut s = prov.stamped(role);
            s.rows_read = Some(v.position);
            s
        })
    }

    /// Removes the stale emissions, once.
    fn remove_stale(&mut self) -> Result<()> {
        if let (Some(seq), SinkSpec::Dir(out)) = (self.stale_after.take(), &self.spec) {
            remove_after(out, seq)?;
        }
        Ok(())
    }

    fn write(&mut self, v: &View, e: &Emission) -> Result<()> {
        self.remove_stale()?;
        let policy = &self.cfg.policy;
        let frozen = |w| self.cfg.frozen_at(w, v.frozen_wm);
        if let Some(seq) = e.seq {
            let batch = with_flags(&scorecard_batch(&e.scores, policy)?, e)?;
            match &self.spec {
                SinkSpec::Dir(out) => {
                    let path = emission_path(out, seq);
                    let dir = path.parent().expect("has a parent");
                    std::fs::create_dir_all(dir).map_err(io(dir))?;
                    write_file(&path, &batch, self.stamp("emission", v).as_ref())?;
                }
                SinkSpec::IpcStdout => {
                    if self.ipc.is_none() {
                        // The stream's schema message carries the provenance of its start.
                        let mut schema = batch.schema().as_ref().clone();
                        if let Some(prov) = self.stamp("emission stream", v) {
                            schema.metadata.insert(
                                slate_io::provenance::METADATA_KEY.to_string(),
                                prov.to_json(),
                            );
                        }
                        let w =
                            arrow::ipc::writer::StreamWriter::try_new(std::io::stdout(), &schema)
                                .map_err(|e| Error::Pipeline(e.to_string()))?;
                        self.ipc = Some(w);
                    }
                    let w = self.ipc.as_mut().expect("created above");
                    w.write(&batch)
                        .map_err(|e| Error::Pipeline(e.to_string()))?;
                    w.flush().map_err(|e| Error::Pipeline(e.to_string()))?;
                }
            }
        }
        if let SinkSpec::Dir(out) = &self.spec {
            // The current figures, per window: only the windows that changed are written, so
            // an emission's cost does not grow with the history behind it.
            let (cards, ledgers) = (out.join(LATEST_DIR), out.join(LATEST_LEDGER_DIR));
            for d in [&cards, &ledgers] {
                std::fs::create_dir_all(d).map_err(io(d))?;
                if e.full {
                    // Every window not frozen is in `changed`: others are stale.
                    for (w, f) in window_files(d)? {
                        if w.is_none_or(|w| !frozen(w)) {
                            std::fs::remove_file(&f).map_err(io(&f))?;
                        }
                    }
                }
            }
            let card_prov = self.stamp("latest scorecard", v);
            let ledger_prov = self.stamp("latest ledger", v);
            for (w, r) in &e.changed {
                let name = window_file(*w);
                write_or_remove(
                    &cards.join(&name),
                    &scorecard_batch(r, policy)?,
                    card_prov.as_ref(),
                )?;
                write_or_remove(
                    &ledgers.join(&name),
                    &ledger_batch(r, policy)?,
                    ledger_prov.as_ref(),
                )?;
            }
            if let Some(late) = &v.late {
                write_late(out, late, self.stamp("late updates", v).as_ref())?;
            }
        }
        if let Some(hook) = &self.on_latest {
            if e.full {
                self.hook_windows.retain(|w, _| w.is_some_and(frozen));
            }
            for (w, r) in &e.changed {
                let card = scorecard_batch(r, policy)?;
                let ledger = ledger_batch(r, policy)?;
                if card.num_rows() == 0 && ledger.num_rows() == 0 {
                    self.hook_windows.remove(w);
                } else {
                    self.hook_windows.insert(*w, (card, ledger));
                }
            }
            let shape = v
                .empty
                .as_ref()
                .expect("a view for a hook carries the shape");
            let (card0, ledger0) = (
                scorecard_batch(shape, policy)?,
                ledger_batch(shape, policy)?,
            );
            let cat = |first: &RecordBatch, rest: Vec<&RecordBatch>| {
                arrow::compute::concat_batches(&first.schema(), std::iter::once(first).chain(rest))
                    .map_err(|e| Error::Pipeline(e.to_string()))
            };
            let latest = cat(&card0, self.hook_windows.values().map(|v| &v.0).collect())?;
            let ledger = cat(&ledger0, self.hook_windows.values().map(|v| &v.1).collect())?;
            (hook.0)(&latest, &ledger);
        }
        Ok(())
    }

    /// The end of a finite source: `latest.parquet` and `latest.exclusions.parquet` as whole
    /// files, from the window files.
    fn finish(&mut self, v: &View) -> Result<()> {
        self.remove_stale()?;
        if let SinkSpec::Dir(out) = &self.spec {
            let policy = &self.cfg.policy;
            let shape = v.empty.as_ref().expect("the last view carries the shape");
            concat_windows(
                &out.join(LATEST_DIR),
                &out.join("latest.parquet"),
                &scorecard_batch(shape, policy)?,
                self.stamp("latest scorecard", v).as_ref(),
            )?;
            concat_windows(
                &out.join(LATEST_LEDGER_DIR),
                &out.join("latest.exclusions.parquet"),
                &ledger_batch(shape, policy)?,
                self.stamp("latest ledger", v).as_ref(),
            )?;
            let late = v.late.as_deref().unwrap_or_default();
            write_late(out, late, self.stamp("late updates", v).as_ref())?;
        }
        Ok(())
    }
}

/// A job for the [`Writer`]'s thread.
enum Job {
    /// Write an emission; the instant its computation began, for its latency.
    Write(View, Box<Emission>, std::time::Instant),
    /// The end of a finite source: the whole `latest` files.
    Finish(View),
    /// Answer once every job before this one is done.
    Sync(std::sync::mpsc::Sender<()>),
}

/// The sink on a thread of its own. Writing the emission and window files (Parquet encoding,
/// fsync, rename) was a fifth of the processor thread's time in a replay; here it overlaps
/// with the next updates. Jobs run in order; [`Writer::sync`] waits for those sent so far,
/// so a checkpoint never claims an emission whose files are not yet written. A failed write
/// stops the thread, and the next call returns its error.
struct Writer {
    tx: Option<std::sync::mpsc::SyncSender<Job>>,
    /// Returns, at the end, the milliseconds from the start of each numbered emission's
    /// computation to its files written (queueing included).
    thread: Option<std::thread::JoinHandle<Result<Vec<f64>>>>,
    /// The late ledger's length in the last view that carried it.
    late_sent: Option<usize>,
    hook: bool,
}

impl Writer {
    /// Emissions queued at most before the processor waits for the writer: enough to ride
    /// out one slow write, few enough that the memory they hold stays small.
    const QUEUE: usize = 4;

    fn spawn(mut sink: Sink) -> Result<Self> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Job>(Self::QUEUE);
        let hook = sink.on_latest.is_some();
        let thread = std::thread::Builder::new()
            .name("slate-sink".into())
            .spawn(move || {
                let mut latency = Vec::new();
                for job in rx {
                    match job {
                        Job::Write(v, e, t0) => {
                            let started = t0.elapsed();
                            sink.write(&v, &e)?;
                            if e.seq.is_some() {
                                let ms = t0.elapsed().as_secs_f64() * 1e3;
                                latency.push(ms);
                                tracing::debug!(
                                    seq = e.seq,
                                    until_written_ms = ms,
                                    until_writing_ms = started.as_secs_f64() * 1e3,
                                    "emission written"
                                );
                            }
                        }
                        Job::Finish(v) => sink.finish(&v)?,
                        Job::Sync(done) => {
                            let _ = done.send(());
                        }
                    }
                }
                Ok(latency)
            })
            .map_err(|e| Error::Pipeline(format!("cannot start the output writer: {e}")))?;
        Ok(Writer {
            tx: Some(tx),
            thread: Some(thread),
            late_sent: None,
            hook,
        })
    }

    fn view(&mut self, p: &Processor, last: bool) -> View {
        let n = p.state.late.len();
        let late = (last || self.late_sent != Some(n)).then(|| p.state.late.clone());
        self.late_sent = Some(n);
        View {
            position: p.state.position,
            frozen_wm: p.frozen_wm(),
            late,
            empty: (last || self.hook).then(|| p.empty_scores()),
        }
    }

    fn send(&mut self, job: Job) -> Result<()> {
        match &self.tx {
            Some(tx) if tx.send(job).is_ok() => Ok(()),
            _ => Err(self.failure()),
        }
    }

    /// Closes the queue and waits for the thread: its latencies, or what stopped it.
    fn join(&mut self) -> Result<Vec<f64>> {
        self.tx = None;
        match self.thread.take().map(std::thread::JoinHandle::join) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(Error::Pipeline("the output writer panicked".into())),
            None => Err(Error::Pipeline("the output writer stopped".into())),
        }
    }

    /// The error that stopped the thread.
    fn failure(&mut self) -> Error {
        match self.join() {
            Err(e) => e,
            Ok(_) => Error::Pipeline("the output writer stopped".into()),
        }
    }

    /// Queues an emission (computed from `t0` on).
    fn write(&mut self, p: &Processor, e: Emission, t0: std::time::Instant) -> Result<()> {
        let v = self.view(p, false);
        self.send(Job::Write(v, Box::new(e), t0))
    }

    /// Waits until everything queued so far is written.
    fn sync(&mut self) -> Result<()> {
        let (done, wait) = std::sync::mpsc::channel();
        self.send(Job::Sync(done))?;
        wait.recv().map_err(|_| self.failure())
    }

    /// Writes the end's files, waits for the thread and returns the emissions' latencies.
    fn finish(mut self, p: &Processor) -> Result<Vec<f64>> {
        let v = self.view(p, true);
        self.send(Job::Finish(v))?;
        self.join()
    }
}

impl Drop for Writer {
    /// An early return (an error of the source or the processor) still lets the queued
    /// emissions finish, so the files on disk match what was emitted.
    fn drop(&mut self) {
        let _ = self.join();
    }
}

fn write_late(out: &Path, late: &[LateUpdate], prov: Option<&Provenance>) -> Result<()> {
    let ids: Vec<&str> = late.iter().map(|l| l.incident_id.as_str()).collect();
    let reasons: Vec<&str> = late.iter().map(|l| l.reason.as_str()).collect();
    let ts: TimestampMicrosecondArray = late.iter().map(|l| l.event_us).collect::<Vec<_>>().into();
    let schema = Arc::new(Schema::new(vec![
        Field::new("incident_id", DataType::Utf8, false),
        Field::new(
            "event_time",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            true,
        ),
        Field::new("reason", DataType::Utf8, false),
    ]));
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(arrow::array::StringArray::from(ids)),
            Arc::new(ts.with_timezone("UTC")),
            Arc::new(arrow::array::StringArray::from(reasons)),
        ],
    )
    .map_err(|e| Error::Pipeline(e.to_string()))?;
    write_file(&out.join("late.parquet"), &batch, prov)
}

/// Removes emissions numbered after `seq`: written after the checkpoint a restart resumes
/// from, they will be written again, and must not linger if the rerun makes fewer.
fn remove_after(out: &Path, seq: u64) -> Result<()> {
    let dir = out.join("emissions");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(());
    };
    for e in entries {
        let path = e.map_err(io(&dir))?.path();
        let n = path
            .file_stem()
            .and_then(|s| s.to_str())
            .and_then(|s| s.strip_prefix("emission-"))
            .and_then(|s| s.parse::<u64>().ok());
        if n.is_some_and(|n| n > seq) {
            std::fs::remove_file(&path).map_err(io(&path))?;
        }
    }
    Ok(())
}

/// Runs a stream to the end of a finite source (or forever on a live one).
///
/// With a state directory, the stream holds its lock until it returns (a second stream on it
/// fails at once), resumes from its checkpoint only when that is intact and was written with
/// the same settings over the same input, and fails if the source holds fewer updates than
/// the checkpoint's position.
pub async fn run_stream(cfg: StreamConfig, spec: RunSpec) -> Result<Summary> {
    let (_lock, checkpoints) = match &spec.state_dir {
        Some(d) => (
            Some(StateLock::acquire(d)?),
            Some(Checkpoints::new(d, &cfg, &spec.source)?),
        ),
        None => (None, None),
    };
    let restored = match &checkpoints {
        Some(c) => c.load()?,
        None => None,
    };
    let resumed = restored.is_some();
    let (state, mut progress) = restored.unwrap_or_default();
    let mut summary = Summary {
        resumed,
        unverified: (checkpoints.as_ref())
            .filter(|_| resumed)
            .and_then(Checkpoints::unverified),
        ..Default::default()
    };
    let mut p = Processor::new(cfg.clone(), state)?;
    if p.state.done {
        summary.updates = p.state.position;
        summary.emissions = p.state.seq;
        return Ok(summary);
    }
    let (tx, mut rx) = mpsc::channel::<Chunk>(spec.channel_capacity.max(1));
    let (rej_tx, mut rej_rx) = mpsc::unbounded_channel::<Reject>();
    // A seeking source starts where the checkpoint's progress says; the others are read again
    // from their start, skipping what the checkpoint's state already holds.
    let seeks = matches!(spec.source, SourceSpec::Kafka(_));
    let skip = Skip {
        left: if seeks { 0 } else { p.state.position },
        position: p.state.position,
        checkpoint: checkpoints.as_ref().map(Checkpoints::path),
    };
    let source = spawn_source(
        spec.source.clone(),
        TextClocks::new(cfg.opts.tz.clone(), cfg.ambiguous),
        skip,
        progress.clone().unwrap_or_default(),
        spec.batch_size.max(1),
        tx,
        rej_tx,
    );
    let mut writer = Writer::spawn(Sink::new(
        spec.sink.clone(),
        spec.on_latest.clone(),
        spec.provenance.clone(),
        &p,
    )?)?;
    let clock = spec.clock.clone();
    let mut last_checkpoint = clock.now_us();
    let mut last_activity = clock.now_us();
    loop {
        let next = match spec.idle {
            Some(idle) => match tokio::time::timeout(idle, rx.recv()).await {
                Ok(b) => b,
                Err(_) => {
                    let now = clock.now_us();
                    p.advance_idle(now - last_activity);
                    last_activity = now;
                    let t0 = std::time::Instant::now();
                    if p.emission_due()
                        && let Some(e) = p.emit().await?
                    {
                        writer.write(&p, e, t0)?;
                    }
                    continue;
                }
            },
            None => rx.recv().await,
        };
        let Some((batch, at)) = next else { break };
        if at.is_some() {
            progress = at;
        }
        last_activity = clock.now_us();
        for u in batch {
            p.apply(u).await?;
        }
        summary.max_open = summary.max_open.max(p.open_incidents());
        p.advance_watermark();
        if p.emission_due() {
            let t0 = std::time::Instant::now();
            if let Some(e) = p.emit().await? {
                writer.write(&p, e, t0)?;
            }
            summary.max_held_units = summary.max_held_units.max(p.held_units());
            summary.max_held_settled = summary.max_held_settled.max(p.held_settled());
        }
        let now = clock.now_us();
        if let Some(c) = &checkpoints
            && now - last_checkpoint >= spec.checkpoint_every.as_micros() as i64
        {
            // The checkpoint claims every emission so far: their files first.
            writer.sync()?;
            c.save(p.snapshot(), progress.as_ref())?;
            last_checkpoint = now;
        }
    }
    summary.ambiguous = source.await.map_err(|e| Error::Pipeline(e.to_string()))??;
    if let Some(at) = &progress {
        summary.rejects.extend(at.rejects.iter().cloned());
    }
    while let Ok(r) = rej_rx.try_recv() {
        summary.rejects.push(r);
    }
    // The finite source ended: settle everything and emit the final figures.
    p.finish();
    let t0 = std::time::Instant::now();
    if let Some(e) = p.emit().await? {
        writer.write(&p, e, t0)?;
    }
    summary.emission_ms = writer.finish(&p)?;
    if let Some(c) = &checkpoints {
        c.save(p.snapshot(), progress.as_ref())?;
    }
    summary.updates = p.state.position;
    summary.emissions = p.state.seq;
    summary.open = p.open_incidents();
    summary.late_dropped = p.state.late.len();
    summary.late_revised = p.state.revised;
    Ok(summary)
}

fn spawn_source(
    spec: SourceSpec,
    mut clocks: TextClocks,
    skip: Skip,
    progress: SourceProgress,
    size: usize,
    tx: mpsc::Sender<Chunk>,
    rejects: mpsc::UnboundedSender<Reject>,
) -> tokio::task::JoinHandle<Result<Tally>> {
    // Sources decode files and block on stdin: they run on the blocking pool.
    tokio::task::spawn_blocking(move || {
        let mut out = Batcher::new(tx, size, skip);
        match spec {
            SourceSpec::Replay { inputs, speed } => {
                let mut first: Option<(i64, std::time::Instant)> = None;
                for u in Replay::new(&inputs, clocks.tz.clone())? {
                    let u = u?;
                    if let (Some(speed), Some(t)) = (speed, u.event_us()) {
                        let (t0, w0) = *first.get_or_insert((t, std::time::Instant::now()));
                        let due = Duration::from_secs_f64(((t - t0).max(0) as f64 / 1e6) / speed);
                        let elapsed = w0.elapsed();
                        if due > elapsed {
                            out.flush();
                            std::thread::sleep(due - elapsed);
                        }
                    }
                    if !out.push(u) {
                        return Ok(clocks.tally);
                    }
                }
            }
            SourceSpec::Stdin(format) => {
                use std::io::BufRead;
                let mut reader = std::io::BufReader::with_capacity(1 << 16, std::io::stdin());
                let mut line = String::new();
                let mut n = 0u64;
                // CSV: the first line names the columns of every row after it.
                let mut header: Option<Vec<String>> = None;
                loop {
                    line.clear();
                    let read = reader.read_line(&mut line).map_err(io(Path::new("-")))?;
                    if read == 0 {
                        break;
                    }
                    n += 1;
                    if format == crate::spec::TextFormat::Csv && header.is_none() {
                        header = Some(crate::source::csv_fields(line.trim_end()));
                    } else if !line.trim().is_empty() {
                        let parsed = match &header {
                            Some(h) => {
                                crate::source::parse_csv_update(h, line.trim_end(), &mut clocks)
                            }
                            None => parse_json_update(line.trim_end(), &mut clocks),
                        };
                        match parsed {
                            Ok(u) => {
                                if !out.push(u) {
                                    return Ok(clocks.tally);
                                }
                            }
                            Err(reason) => {
                                let _ = rejects.send(Reject {
                                    file: "-".into(),
                                    row: n,
                                    reason,
                                });
                            }
                        }
                    }
                    // Nothing more buffered: the next read may block, so hand over what we have.
                    if reader.buffer().is_empty() && !out.flush() {
                        return Ok(clocks.tally);
                    }
                }
            }
            SourceSpec::Dir { path, once } => {
                let mut done: std::collections::BTreeSet<PathBuf> = Default::default();
                loop {
                    let mut files: Vec<PathBuf> = std::fs::read_dir(&path)
                        .map_err(io(&path))?
                        .filter_map(|e| e.ok().map(|e| e.path()))
                        .filter(|p| is_update_file(p) && !done.contains(p))
                        .collect();
                    files.sort();
                    for f in files {
                        let (ups, rej) = read_update_file(&f, &mut clocks)?;
                        for r in rej {
                            let _ = rejects.send(r);
                        }
                        for u in ups {
                            if !out.push(u) {
                                return Ok(clocks.tally);
                            }
                        }
                        out.flush();
                        done.insert(f);
                    }
                    // Every file there has been read: a position beyond them is not this input's.
                    out.check_position()?;
                    if once {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(200));
                    if out.tx.is_closed() {
                        return Ok(clocks.tally);
                    }
                }
            }
            SourceSpec::Kafka(k) => {
                crate::kafka::read(&k, progress, size, &mut clocks, &mut out)?;
                return Ok(clocks.tally);
            }
        }
        out.check_position()?;
        out.flush();
        Ok(clocks.tally)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_write_leaves_no_temporary_file() {
        let d = tempfile::tempdir().unwrap();
        // The target's name is taken by a directory: the file is written, the rename fails.
        let path = d.path().join("emission-00000001.parquet");
        std::fs::create_dir_all(path.join("x")).unwrap();
        let batch = RecordBatch::try_new(
            Arc::new(Schema::new(vec![Field::new("a", DataType::Int64, false)])),
            vec![Arc::new(Int64Array::from(vec![1, 2, 3]))],
        )
        .unwrap();
        assert!(write_file(&path, &batch, None).is_err());
        let left: Vec<_> = std::fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            left,
            vec![std::ffi::OsString::from("emission-00000001.parquet")]
        );
    }
}

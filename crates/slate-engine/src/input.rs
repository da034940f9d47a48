//! What a run reads: a canonical Parquet dataset, or a CAD export read through a source
//! mapping, scanned directly (no staging copy).
//!
//! Canonical Parquet is scanned by DataFusion itself (projection, parallel row groups). A
//! mapped source (`--source lfb`, a mapping file, or CSV named on the command line) is read by
//! [`slate_io::read_source`] on a blocking thread and handed to DataFusion as a streaming
//! table, so the aggregation runs while the CSV is parsed and nothing is written to disk.
//! Every row is imported or rejected with a reason; the reader's [`ImportSummary`] is
//! available once the scan has finished ([`Input::summary`]).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::catalog::streaming::StreamingTable;
use datafusion::datasource::file_format::parquet::transform_schema_to_view;
use datafusion::error::DataFusionError;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_plan::stream::RecordBatchReceiverStreamBuilder;
use datafusion::physical_plan::streaming::PartitionStream;
use datafusion::prelude::{DataFrame, ParquetReadOptions, SessionContext};
use slate_io::input::InputNote;
use slate_io::provenance::InputFile;
use slate_io::source::DEFAULT_BATCH_ROWS;
use slate_io::{DataKind, ImportSummary, Mapping, Reject, RejectsWriter, SourceSink};

use crate::error::{Error, Result};

/// The input of a run or a validation.
#[derive(Debug)]
pub struct Input {
    files: Vec<PathBuf>,
    kind: Kind,
    notes: Vec<InputNote>,
    /// Each file as found (size, modification time or ETag, footer rows), for provenance.
    facts: Vec<InputFile>,
}

#[derive(Debug)]
enum Kind {
    /// Canonical Parquet, with per-file schemas and the rows from the footers.
    Parquet { schemas: Vec<SchemaRef>, rows: u64 },
    /// Read through a mapping.
    Mapped(Arc<MappedSource>),
}

impl Input {
    /// Resolves `--input` arguments. Without `source`, a directory is a Parquet dataset and
    /// only `.parquet` files in it are read (see [`slate_io::input`]); a CSV file named
    /// directly is read with the `canonical` mapping. With `source` (a built-in mapping name or
    /// a TOML file), directories are walked for CSV, TSV and Parquet files, all read through
    /// the mapping. `rejects` keeps the rejected rows of a mapped read as CSV.
    pub fn open(args: &[String], source: Option<&str>, rejects: Option<PathBuf>) -> Result<Self> {
        Self::open_with(args, source, rejects, None, None)
    }

    /// [`Input::open`], reading local times in a repeated hour by `ambiguous` instead of the
    /// mapping's own `ambiguous` rule, and local times in zone `tz` instead of the mapping's
    /// `tz`. Both apply to what is read through a mapping; canonical Parquet is scanned as it
    /// is (see [`Input::mapping`]).
    pub fn open_with(
        args: &[String],
        source: Option<&str>,
        rejects: Option<PathBuf>,
        ambiguous: Option<slate_core::Ambiguous>,
        tz: Option<&str>,
    ) -> Result<Self> {
        let kind = if source.is_some() {
            DataKind::Source
        } else {
            DataKind::Parquet
        };
        let (urls, paths): (Vec<String>, Vec<String>) = args
            .iter()
            .cloned()
            .partition(|a| slate_io::object::is_object_url(a));
        if !urls.is_empty() {
            return Self::open_objects(&urls, &paths, kind);
        }
        let slate_io::input::Expanded { files, notes } = slate_io::expand_noted(args, kind)?;
        if let Some(r) = &rejects {
            // The rejects file must not be, or lie inside, what is read.
            let mut plan = slate_io::OutputPlan::new();
            for a in args {
                plan.reads("input", a);
            }
            plan.writes("rejects", r).check()?;
        }
        let mut mapping = Mapping::load(source.unwrap_or("canonical"))?;
        if let Some(rule) = ambiguous {
            mapping = mapping.with_ambiguous(rule);
        }
        // The zone's table (~8 ms to build; `TzRules::from_name` keeps it for the run) is built
        // on its own thread while the footers are read. A bad zone is still the error shown.
        let zone = tz.map(|z| {
            let z = z.to_owned();
            std::thread::spawn(move || slate_core::TzRules::from_name(&z).map(drop))
        });
        let parquet =
            mapping.is_canonical() && files.iter().all(|f| slate_io::input::is_parquet(f));
        let footers = parquet.then(|| {
            (files.iter())
                .map(|f| slate_io::parquet::read_schema(f))
                .collect::<slate_io::Result<Vec<_>>>()
        });
        if let (Some(z), Some(zone)) = (tz, zone) {
            zone.join()
                .unwrap_or_else(|e| std::panic::resume_unwind(e))?;
            mapping = mapping.with_tz(z);
        }
        if let Some(footers) = footers {
            let mut schemas = Vec::with_capacity(files.len());
            let mut facts = Vec::with_capacity(files.len());
            let mut rows = 0;
            for (f, (s, n)) in files.iter().zip(footers?) {
                schemas.push(s);
                facts.push(InputFile::local(f, Some(n)));
                rows += n;
            }
            return Ok(Input {
                files,
                kind: Kind::Parquet { schemas, rows },
                notes,
                facts,
            });
        }
        Ok(Input {
            notes,
            // Rows per file of a mapped source are not counted; the summary has the total.
            facts: files.iter().map(|f| InputFile::local(f, None)).collect(),
            kind: Kind::Mapped(Arc::new(MappedSource {
                files: files.clone(),
                schema: slate_io::record::output_schema(&mapping),
                mapping,
                rejects,
                summary: Arc::new(Mutex::new(None)),
            })),
            files,
        })
    }

    /// A Parquet dataset with files on object storage (`s3://`), and perhaps local ones too.
    /// An object's "path" is its URL, which is what DataFusion is given to read it.
    fn open_objects(urls: &[String], paths: &[String], kind: DataKind) -> Result<Self> {
        let mut found: Vec<(PathBuf, SchemaRef, InputFile)> =
            slate_io::object::expand_objects(urls, kind)?
                .into_iter()
                .map(|o| (PathBuf::from(o.url), o.schema, o.facts))
                .collect();
        let mut notes = Vec::new();
        if !paths.is_empty() {
            let local = slate_io::expand_noted(paths, kind)?;
            notes = local.notes;
            for f in local.files {
                let (s, n) = slate_io::parquet::read_schema(&f)?;
                let facts = InputFile::local(&f, Some(n));
                found.push((f, s, facts));
            }
        }
        found.sort_by(|a, b| a.0.cmp(&b.0));
        let rows = found.iter().map(|f| f.2.rows.unwrap_or(0)).sum();
        let mut files = Vec::with_capacity(found.len());
        let mut schemas = Vec::with_capacity(found.len());
        let mut facts = Vec::with_capacity(found.len());
        for (f, s, i) in found {
            files.push(f);
            schemas.push(s);
            facts.push(i);
        }
        Ok(Input {
            files,
            kind: Kind::Parquet { schemas, rows },
            notes,
            facts,
        })
    }

    /// What finding the files left out so that each real file is read once: symbolic-link
    /// loops not followed, second names of a file not read (see [`slate_io::input::InputNote`]).
    pub fn notes(&self) -> &[InputNote] {
        &self.notes
    }

    /// The data files, sorted (an object's URL as its path).
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// The data files as found, for an output's provenance: size and modification time (an
    /// object's ETag), and rows from a Parquet footer (a mapped source's are counted only in
    /// total, see [`Input::summary`]).
    pub fn provenance_inputs(&self) -> &[InputFile] {
        &self.facts
    }

    /// Input rows when known before reading (Parquet footers); `None` for a mapped source.
    pub fn rows(&self) -> Option<u64> {
        match &self.kind {
            Kind::Parquet { rows, .. } => Some(*rows),
            Kind::Mapped(_) => None,
        }
    }

    /// The mapping of a mapped source.
    pub fn mapping(&self) -> Option<&Mapping> {
        match &self.kind {
            Kind::Parquet { .. } => None,
            Kind::Mapped(m) => Some(&m.mapping),
        }
    }

    /// Where a mapped source's rejected rows were written, if asked.
    pub fn rejects_path(&self) -> Option<&PathBuf> {
        match &self.kind {
            Kind::Parquet { .. } => None,
            Kind::Mapped(m) => m.rejects.as_ref(),
        }
    }

    /// A mapped source's accounting (`input rows = imported + rejected`), once scanned.
    pub fn summary(&self) -> Option<ImportSummary> {
        match &self.kind {
            Kind::Parquet { .. } => None,
            Kind::Mapped(m) => m.summary.lock().ok().and_then(|s| s.clone()),
        }
    }

    /// Where a mapped source's scan leaves its accounting.
    pub(crate) fn summary_slot(&self) -> Option<SummarySlot> {
        match &self.kind {
            Kind::Parquet { .. } => None,
            Kind::Mapped(m) => Some(m.summary.clone()),
        }
    }

    /// Each Parquet file's schema, in file order (empty for a mapped source, whose schema is
    /// the mapping's).
    pub(crate) fn parquet_schemas(&self) -> &[SchemaRef] {
        match &self.kind {
            Kind::Parquet { schemas, .. } => schemas,
            Kind::Mapped(_) => &[],
        }
    }

    /// The input as a DataFrame of `ctx`. Files of a Parquet dataset with different columns
    /// are read under their merged schema (a column a file lacks reads as null; see
    /// [`Input::missing_columns`]).
    pub async fn dataframe(&self, ctx: &SessionContext) -> Result<DataFrame> {
        Ok(match &self.kind {
            Kind::Parquet { schemas, .. } => {
                let paths: Vec<String> = self
                    .files
                    .iter()
                    .map(|p| p.to_string_lossy().into_owned())
                    .collect();
                // Given several paths, DataFusion infers the schema from the first alone, and a
                // column only later files have could not be named at all. Text is read as
                // views when the session says so, as DataFusion's own inference does.
                let mut schema = merged_schema(&self.files, schemas)?;
                if ctx
                    .state()
                    .config_options()
                    .execution
                    .parquet
                    .schema_force_view_types
                {
                    schema = transform_schema_to_view(&schema);
                }
                ctx.read_parquet(
                    paths,
                    ParquetReadOptions::default()
                        .file_extension("")
                        .schema(&schema),
                )
                .await?
            }
            Kind::Mapped(m) => {
                let table = StreamingTable::try_new(
                    m.schema.clone(),
                    vec![m.clone() as Arc<dyn PartitionStream>],
                )?;
                ctx.read_table(Arc::new(table))?
            }
        })
    }

    /// For each Parquet file lacking some of `columns` (which the merged schema has), the
    /// file and the columns it lacks: they read as null there.
    pub fn missing_columns(&self, columns: &[String]) -> Vec<(PathBuf, Vec<String>)> {
        self.files
            .iter()
            .zip(self.parquet_schemas())
            .filter_map(|(f, s)| {
                let lacks: Vec<String> = columns
                    .iter()
                    .filter(|c| s.field_with_name(c).is_err())
                    .cloned()
                    .collect();
                (!lacks.is_empty()).then(|| (f.clone(), lacks))
            })
            .collect()
    }
}

/// One schema for a dataset's files: every column of every file, in the order first seen,
/// nullable (a file without it reads null there) and without metadata (pyarrow's `pandas`
/// metadata differs per file and would make equal columns unequal). Types must agree, up to
/// widenings DataFusion casts exactly (see [`unify`]); otherwise the error names both files.
fn merged_schema(files: &[PathBuf], schemas: &[SchemaRef]) -> Result<Schema> {
    let mut fields: Vec<(Field, usize)> = Vec::new();
    for (i, schema) in schemas.iter().enumerate() {
        for f in schema.fields() {
            match fields.iter_mut().find(|(g, _)| g.name() == f.name()) {
                None => fields.push((Field::new(f.name(), f.data_type().clone(), true), i)),
                Some((g, first)) => {
                    let t = unify(g.data_type(), f.data_type()).ok_or_else(|| {
                        Error::SchemaConflict {
                            column: f.name().clone(),
                            first: files[*first].clone(),
                            first_type: g.data_type().to_string(),
                            other: files[i].clone(),
                            other_type: f.data_type().to_string(),
                        }
                    })?;
                    *g = Field::new(f.name(), t, true);
                }
            }
        }
    }
    Ok(Schema::new(
        fields.into_iter().map(|(f, _)| f).collect::<Vec<_>>(),
    ))
}

/// A type both `a` and `b` read as without loss: equal types; text in any encoding (plain,
/// large, view, dictionary) as plain text; signed integers as the wider; timestamps of one
/// zone (or none) at the finer unit. `None` for anything else (a naive clock beside a zoned
/// one, text beside numbers): guessing there could shift every clock or id silently.
fn unify(a: &DataType, b: &DataType) -> Option<DataType> {
    use DataType::*;
    fn text(t: &DataType) -> bool {
        match t {
            Utf8 | LargeUtf8 | Utf8View => true,
            Dictionary(_, v) => text(v),
            _ => false,
        }
    }
    fn int_width(t: &DataType) -> Option<u8> {
        match t {
            Int8 => Some(1),
            Int16 => Some(2),
            Int32 => Some(4),
            Int64 => Some(8),
            _ => None,
        }
    }
    fn fineness(u: &TimeUnit) -> u8 {
        match u {
            TimeUnit::Second => 0,
            TimeUnit::Millisecond => 1,
            TimeUnit::Microsecond => 2,
            TimeUnit::Nanosecond => 3,
        }
    }
    if a == b {
        return Some(a.clone());
    }
    if text(a) && text(b) {
        return Some(Utf8);
    }
    if let (Some(x), Some(y)) = (int_width(a), int_width(b)) {
        return Some(if x >= y { a.clone() } else { b.clone() });
    }
    match (a, b) {
        (Timestamp(ua, za), Timestamp(ub, zb)) if za == zb => {
            Some(if fineness(ua) >= fineness(ub) {
                a.clone()
            } else {
                b.clone()
            })
        }
        _ => None,
    }
}

/// A mapped scan's accounting, set when it has read every file.
pub(crate) type SummarySlot = Arc<Mutex<Option<ImportSummary>>>;

/// A mapped source as one DataFusion partition: each execution reads the files again.
#[derive(Debug)]
struct MappedSource {
    files: Vec<PathBuf>,
    mapping: Mapping,
    schema: SchemaRef,
    rejects: Option<PathBuf>,
    summary: SummarySlot,
}

impl PartitionStream for MappedSource {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn execute(&self, _ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        // Two batches in flight: the parser runs ahead of the aggregation by at most that.
        let mut builder = RecordBatchReceiverStreamBuilder::new(self.schema.clone(), 2);
        let mut sink = ChannelSink {
            tx: builder.tx(),
            rejects: None,
        };
        let files = self.files.clone();
        let mapping = self.mapping.clone();
        let rejects = self.rejects.clone();
        let summary = self.summary.clone();
        builder.spawn_blocking(move || {
            let io = |e: slate_io::Error| DataFusionError::External(Box::new(e));
            sink.rejects = rejects
                .as_deref()
                .map(RejectsWriter::create)
                .transpose()
                .map_err(io)?;
            let s = slate_io::read_source(&files, &mapping, DEFAULT_BATCH_ROWS, &mut sink)
                .map_err(|e| match e {
                    // The aggregation stopped reading (an error elsewhere, or a cancelled run).
                    slate_io::Error::Io { source, .. }
                        if source.kind() == std::io::ErrorKind::BrokenPipe =>
                    {
                        DataFusionError::Execution("the scan was stopped".into())
                    }
                    e => io(e),
                })?;
            if let Some(w) = sink.rejects.take() {
                w.finish().map_err(io)?;
            }
            if let Ok(mut slot) = summary.lock() {
                *slot = Some(s);
            }
            Ok(())
        });
        builder.build()
    }
}

/// Hands a mapped read's batches to the scan and its rejects to the rejects file.
struct ChannelSink {
    tx: tokio::sync::mpsc::Sender<datafusion::error::Result<RecordBatch>>,
    rejects: Option<RejectsWriter>,
}

impl SourceSink for ChannelSink {
    fn batch(&mut self, batch: RecordBatch) -> slate_io::Result<()> {
        self.tx
            .blocking_send(Ok(batch))
            .map_err(|_| slate_io::Error::Io {
                path: PathBuf::from("<scan>"),
                source: std::io::ErrorKind::BrokenPipe.into(),
            })
    }

    fn reject(&mut self, reject: &Reject) -> slate_io::Result<()> {
        match &mut self.rejects {
            Some(w) => w.write(reject),
            None => Ok(()),
        }
    }
}

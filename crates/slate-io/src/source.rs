//! Reading a source (CSV or Parquet files plus a [`Mapping`]) as canonical record batches,
//! with every input row either imported or rejected with a reason.
//!
//! CSV is read by the `csv` crate's streaming reader one record at a time into a reused
//! buffer, and each field is typed by the mapping (never guessed), so memory does not grow with
//! the file: it is one batch of records (`batch_rows`), plus, for a multi-row source, the
//! incidents still open (the `[incident]` window, see `Grouper` and
//! `docs/using-your-own-data.md`). Parquet exports are read batch by batch with their mapped
//! columns cast to text, then go through the same conversion as CSV.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::DataType;
use slate_core::ambiguous::AMBIGUOUS_REASON;
use slate_core::schema::RecordBuilder;
use slate_core::{Ambiguous, TzRules};

use crate::error::{Error, Result, io_err};
use crate::input::is_parquet;
use crate::mapping::{ColumnRef, Mapping};
use crate::record::{ClockLayout, Converter, LocalCounts, Origin, Problem, Record, output_schema};

/// Records per batch handed to the sink.
pub const DEFAULT_BATCH_ROWS: usize = 65_536;

/// One rejected input row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    /// The source file.
    pub file: String,
    /// 1-based data row number in the file (the header is not a row).
    pub row: u64,
    /// 1-based line where the row starts (the header is line 1); `None` for Parquet.
    pub line: Option<u64>,
    /// What was wrong.
    pub problem: Problem,
}

/// What a read accounted for: `input_rows == imported_rows + rejected_rows`, always.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportSummary {
    /// Files read.
    pub files: usize,
    /// Data rows read (header excluded; blank lines are not rows).
    pub input_rows: u64,
    /// Rows that became (part of) a canonical record.
    pub imported_rows: u64,
    /// Rows rejected, each with a reason.
    pub rejected_rows: u64,
    /// Canonical records written: `imported_rows` unless rows were joined per incident.
    pub records: u64,
    /// Naive local readings that were ambiguous (and what the mapping's rule made of them)
    /// or skipped.
    pub local: LocalCounts,
    /// Rejected rows by reason category.
    pub reasons: BTreeMap<String, u64>,
    /// The rule that read local times in a repeated hour (the mapping's `ambiguous`).
    pub ambiguous: Ambiguous,
}

impl ImportSummary {
    /// The accounting line: `N input rows = I imported + R rejected`.
    pub fn accounting(&self) -> String {
        format!(
            "{} input rows = {} imported + {} rejected",
            self.input_rows, self.imported_rows, self.rejected_rows
        )
    }

    /// The accounting line, then how rows were joined, why rows were rejected, and how local
    /// times in `tz` were resolved: what `import`, `run --source` and `validate --source` print.
    pub fn describe(&self, tz: &str) -> Vec<String> {
        let mut lines = vec![self.accounting()];
        if self.records != self.imported_rows {
            lines.push(format!(
                "  {} rows joined into {} incidents ([incident] key)",
                self.imported_rows, self.records
            ));
        }
        if self.rejected_rows > 0 {
            let reasons: Vec<String> = self
                .reasons
                .iter()
                .map(|(k, n)| format!("{k} {n}"))
                .collect();
            lines.push(format!("  rejected by reason: {}", reasons.join(", ")));
        }
        lines.push(format!(
            "  local times ({tz}): {} ambiguous ({}), {} skipped (moved forward by the gap)",
            self.local.repeated.ambiguous,
            self.local.repeated.describe(self.ambiguous, "records"),
            self.local.skipped
        ));
        lines
    }

    /// Whether the accounting identity holds.
    pub fn balances(&self) -> bool {
        self.input_rows == self.imported_rows + self.rejected_rows
    }
}

/// Where the rows and rejects of a read go.
pub trait SourceSink {
    /// A batch of canonical records (the mapping's [`crate::record::output_schema`]).
    fn batch(&mut self, batch: RecordBatch) -> Result<()>;
    /// A rejected row.
    fn reject(&mut self, reject: &Reject) -> Result<()>;
    /// Bytes of input consumed since the last call (for a progress bar).
    fn progress(&mut self, _bytes: u64) {}
}

/// Compares header text loosely: no BOM, trimmed, runs of blanks as one space, any case.
fn normalise(h: &str) -> String {
    h.trim_start_matches('\u{feff}')
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// Finds each mapped source column in a header: an exact match, else the one header equal
/// after [`normalise`]; by position for `{ index = N }`. Errors list the header.
pub(crate) fn resolve(
    headers: &[String],
    sources: &[ColumnRef],
) -> std::result::Result<Vec<usize>, String> {
    let listing = || {
        let shown: Vec<String> = headers.iter().map(|h| format!("{h:?}")).collect();
        format!("the header is {}", shown.join(", "))
    };
    sources
        .iter()
        .map(|s| match s {
            ColumnRef::Index { index } => {
                if *index >= 1 && *index <= headers.len() {
                    Ok(index - 1)
                } else {
                    Err(format!(
                        "column #{index} does not exist: the file has {} columns",
                        headers.len()
                    ))
                }
            }
            ColumnRef::Name(name) => {
                let exact: Vec<usize> = (0..headers.len())
                    .filter(|&i| headers[i] == *name)
                    .collect();
                let hits = if exact.is_empty() {
                    let n = normalise(name);
                    (0..headers.len())
                        .filter(|&i| normalise(&headers[i]) == n)
                        .collect()
                } else {
                    exact
                };
                match hits.as_slice() {
                    [i] => Ok(*i),
                    [] => Err(format!("no column {name:?}; {}", listing())),
                    _ => Err(format!(
                        "column {name:?} appears {} times; map it by position with {{ index = N }}",
                        hits.len()
                    )),
                }
            }
        })
        .collect()
}

/// Joins the rows of one incident (`[incident] key`) in bounded memory.
///
/// The rule: an incident is complete, and written, once `window_rows` input rows have passed
/// since its most recent row. Memory is therefore bounded by the incidents seen in the last
/// `window_rows` rows, whatever the file's size. A row whose incident was already written is
/// rejected ("incident already written") as long as the id is among the last `window_rows`
/// written incidents; a straggler further away than that cannot be recognised without
/// unbounded memory and becomes a second record with the same `incident_id`, which
/// `slate validate` reports as a duplicate id. Sort the export by the key to rule both out.
pub(crate) struct Grouper {
    window: u64,
    open: HashMap<String, (Record, u64)>,
    /// (row sequence, key) of every row pushed, oldest first; stale entries are skipped.
    queue: VecDeque<(u64, String)>,
    written: HashSet<String>,
    written_order: VecDeque<String>,
}

impl Grouper {
    pub(crate) fn new(window: u64) -> Self {
        Grouper {
            window,
            open: HashMap::new(),
            queue: VecDeque::new(),
            written: HashSet::new(),
            written_order: VecDeque::new(),
        }
    }

    /// Adds the row with sequence number `seq`; completed incidents go to `out`. The inner
    /// error rejects this row; the outer one is a failure of `out`.
    pub(crate) fn push(
        &mut self,
        seq: u64,
        rec: Record,
        mapping: &Mapping,
        out: &mut dyn FnMut(Record) -> Result<()>,
    ) -> Result<std::result::Result<(), Problem>> {
        // First write what this row completes: incidents whose last row is `window` rows back.
        let window = self.window;
        self.evict(|last| last + window <= seq, out)?;
        let key = rec.id.clone();
        if let Some((open, last)) = self.open.get_mut(&key) {
            open.combine(rec, mapping);
            *last = seq;
        } else if self.written.contains(&key) {
            return Ok(Err(Problem::new(
                "",
                &key,
                "incident already written",
                format!(
                    "its earlier rows are more than {} rows before this one; sort the file by the incident key or raise [incident] window-rows",
                    self.window
                ),
            )));
        } else {
            self.open.insert(key.clone(), (rec, seq));
        }
        self.queue.push_back((seq, key));
        Ok(Ok(()))
    }

    fn evict(
        &mut self,
        due: impl Fn(u64) -> bool,
        out: &mut dyn FnMut(Record) -> Result<()>,
    ) -> Result<()> {
        while let Some((s, _)) = self.queue.front() {
            if !due(*s) {
                break;
            }
            let Some((s, key)) = self.queue.pop_front() else {
                break;
            };
            if self.open.get(&key).is_some_and(|(_, last)| *last == s) {
                if let Some((rec, _)) = self.open.remove(&key) {
                    out(rec)?;
                }
                self.written.insert(key.clone());
                self.written_order.push_back(key);
                while self.written_order.len() as u64 > self.window {
                    if let Some(old) = self.written_order.pop_front() {
                        self.written.remove(&old);
                    }
                }
            }
        }
        Ok(())
    }

    /// Writes every incident still open, in the order of their last rows.
    pub(crate) fn finish(&mut self, out: &mut dyn FnMut(Record) -> Result<()>) -> Result<()> {
        self.evict(|_| true, out)
    }
}

/// State shared across the files of one read.
struct Reading<'a> {
    mapping: &'a Mapping,
    tz: TzRules,
    grouper: Option<Grouper>,
    seq: u64,
    out: Emitter<'a>,
}

/// Where finished records go: the rule decides their readings, then they are appended to
/// the batch or, excluded, become rejects.
struct Emitter<'a> {
    mapping: &'a Mapping,
    files: &'a [PathBuf],
    tz: TzRules,
    layout: ClockLayout,
    builder: RecordBuilder,
    batch_rows: usize,
    summary: ImportSummary,
}

impl Emitter<'_> {
    fn flush(&mut self, sink: &mut dyn SourceSink) -> Result<()> {
        if !self.builder.is_empty() {
            let batch = self.builder.finish().map_err(|source| Error::Arrow {
                path: PathBuf::from("<import>"),
                source,
            })?;
            sink.batch(batch)?;
        }
        Ok(())
    }

    fn reject(
        &mut self,
        sink: &mut dyn SourceSink,
        origin: Origin,
        problem: Problem,
    ) -> Result<()> {
        self.summary.rejected_rows += 1;
        *self
            .summary
            .reasons
            .entry(problem.kind.to_string())
            .or_default() += 1;
        sink.reject(&Reject {
            file: self.files[origin.file].display().to_string(),
            row: origin.row,
            line: origin.line,
            problem,
        })
    }

    /// Decides one finished record's readings and appends it, handing a batch to `sink` each
    /// time `batch_rows` are buffered; or, excluded by the rule, rejects each of its rows
    /// (they were counted imported). The one path by which records leave the reader.
    fn emit(&mut self, mut r: Record, sink: &mut dyn SourceSink) -> Result<()> {
        let first = ClockLayout::first_ambiguous(&r, self.mapping);
        let decided = self.layout.decide(&mut r, self.mapping.ambiguous);
        self.summary.local.repeated.add(&decided);
        if decided.excluded {
            let Some((column, clock, reading)) = first else {
                unreachable!("a record is excluded only for an ambiguous clock")
            };
            let local = reading.earlier.div_euclid(1_000_000);
            let local = local + i64::from(self.tz.offset_at(local));
            let shown = chrono::DateTime::from_timestamp(local, 0)
                .map(|d| d.naive_utc().to_string())
                .unwrap_or_default();
            let rows = 1 + r.more.len();
            let detail = format!(
                "{clock} occurs twice in {} (clocks went back) and ambiguous = exclude{}",
                self.tz.name(),
                if rows > 1 {
                    format!("; incident {} of {rows} rows", r.id)
                } else {
                    String::new()
                }
            );
            for o in r.origins().collect::<Vec<_>>() {
                self.summary.imported_rows -= 1;
                let p = Problem::new(&column, &shown, AMBIGUOUS_REASON, detail.clone());
                self.reject(sink, o, p)?;
            }
            return Ok(());
        }
        r.append_to(&mut self.builder);
        self.summary.records += 1;
        if self.builder.len() >= self.batch_rows {
            self.flush(sink)?;
        }
        Ok(())
    }
}

impl Reading<'_> {
    /// One row's fields by slot, or the problem that rejects it.
    fn row(
        &mut self,
        conv: &Converter<'_>,
        fields: std::result::Result<&[Option<&str>], Problem>,
        sink: &mut dyn SourceSink,
        row: u64,
        line: Option<u64>,
    ) -> Result<()> {
        self.out.summary.input_rows += 1;
        self.seq += 1;
        let origin = Origin {
            file: self.out.summary.files,
            row,
            line,
        };
        let mut local = LocalCounts::default();
        let rec = match fields.and_then(|f| conv.convert(f, origin, &mut local)) {
            Ok(r) => r,
            Err(p) => return self.out.reject(sink, origin, p),
        };
        // Counted imported now: emitting may reject it (and rows joined with it) again.
        self.out.summary.imported_rows += 1;
        let out = &mut self.out;
        let mut emit = |r: Record| out.emit(r, sink);
        let pushed = match &mut self.grouper {
            None => emit(rec).map(Ok)?,
            Some(g) => g.push(self.seq, rec, self.mapping, &mut emit)?,
        };
        match pushed {
            Ok(()) => {
                self.out.summary.local.add(local);
                Ok(())
            }
            Err(p) => {
                self.out.summary.imported_rows -= 1;
                self.out.reject(sink, origin, p)
            }
        }
    }
}

/// Reads `files` through `mapping`, handing canonical batches and rejects to `sink`.
/// Fails only on what makes a whole file unreadable (I/O, a mapped column missing from the
/// header); a bad row is a [`Reject`].
pub fn read_source(
    files: &[PathBuf],
    mapping: &Mapping,
    batch_rows: usize,
    sink: &mut dyn SourceSink,
) -> Result<ImportSummary> {
    let tz = TzRules::from_name(&mapping.tz).map_err(|e| Error::InvalidMapping {
        mapping: mapping.name.clone(),
        field: "tz".into(),
        reason: e.to_string(),
    })?;
    let mut r = Reading {
        mapping,
        tz: tz.clone(),
        grouper: mapping
            .incident
            .as_ref()
            .map(|i| Grouper::new(i.window_rows)),
        seq: 0,
        out: Emitter {
            mapping,
            files,
            tz,
            layout: ClockLayout::new(mapping),
            // Room for a batch, within reason: only the first batch has it (Arrow's builders
            // start empty after each finish).
            builder: RecordBuilder::new(output_schema(mapping), batch_rows.clamp(1, 8192))
                .expect("an output schema is of the canonical family"),
            batch_rows: batch_rows.max(1),
            summary: ImportSummary {
                ambiguous: mapping.ambiguous,
                ..ImportSummary::default()
            },
        },
    };
    for f in files {
        if is_parquet(f) {
            read_parquet(f, &mut r, sink)?;
        } else {
            read_csv(f, &mut r, sink)?;
        }
        r.out.summary.files += 1;
    }
    if let Some(mut g) = r.grouper.take() {
        let out = &mut r.out;
        g.finish(&mut |rec: Record| out.emit(rec, sink))?;
    }
    r.out.flush(sink)?;
    debug_assert!(r.out.summary.balances());
    Ok(r.out.summary)
}

fn read_csv(path: &Path, r: &mut Reading<'_>, sink: &mut dyn SourceSink) -> Result<()> {
    let file = File::open(path).map_err(io_err(path))?;
    let csv_err = |source| Error::Csv {
        path: path.to_path_buf(),
        source,
    };
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(r.mapping.delimiter)
        // Rows with too few or too many fields are rejects with a reason, not a failed file.
        .flexible(true)
        .from_reader(BufReader::with_capacity(1 << 20, file));
    let headers: Vec<String> = rdr
        .byte_headers()
        .map_err(csv_err)?
        .iter()
        .map(|h| String::from_utf8_lossy(h).into_owned())
        .collect();
    let idx = resolve(&headers, &r.mapping.sources).map_err(|reason| Error::SourceColumn {
        path: path.to_path_buf(),
        reason,
    })?;
    let names: Vec<String> = idx.iter().map(|&i| headers[i].clone()).collect();
    let mapping = r.mapping;
    let tz = r.tz.clone();
    let conv = Converter::new(mapping, &tz, names.clone());
    let mut rec = csv::ByteRecord::new();
    let mut row = 0u64;
    let mut last_byte = 0u64;
    let delim = char::from(mapping.delimiter).to_string();
    loop {
        if !rdr.read_byte_record(&mut rec).map_err(csv_err)? {
            break;
        }
        row += 1;
        let line = rec.position().map(|p| p.line());
        let whole = || {
            let parts: Vec<String> = rec
                .iter()
                .map(|f| String::from_utf8_lossy(f).into_owned())
                .collect();
            parts.join(&delim)
        };
        let checked: std::result::Result<(), Problem> = if rec.len() < headers.len() {
            Err(Problem::new(
                "",
                &whole(),
                "too few fields",
                format!("{} of {}", rec.len(), headers.len()),
            ))
        } else if rec.len() > headers.len() {
            Err(Problem::new(
                "",
                &whole(),
                "too many fields",
                format!("{} of {}", rec.len(), headers.len()),
            ))
        } else {
            Ok(())
        };
        let mut fields: Vec<Option<&str>> = Vec::with_capacity(idx.len());
        let mut problem = checked.err();
        if problem.is_none() {
            for (slot, &i) in idx.iter().enumerate() {
                match std::str::from_utf8(&rec[i]) {
                    Ok(s) => fields.push(Some(s.trim())),
                    Err(_) => {
                        problem = Some(Problem::new(
                            &names[slot],
                            &String::from_utf8_lossy(&rec[i]),
                            "invalid UTF-8",
                            "",
                        ));
                        break;
                    }
                }
            }
        }
        let input = match problem {
            Some(p) => Err(p),
            None => Ok(fields.as_slice()),
        };
        r.row(&conv, input, sink, row, line)?;
        if row.is_multiple_of(8192) {
            let b = rdr.position().byte();
            sink.progress(b - last_byte);
            last_byte = b;
        }
    }
    sink.progress(rdr.position().byte().saturating_sub(last_byte));
    Ok(())
}

fn read_parquet(path: &Path, r: &mut Reading<'_>, sink: &mut dyn SourceSink) -> Result<()> {
    let (schema, _) = crate::parquet::read_schema(path)?;
    let headers: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    let idx = resolve(&headers, &r.mapping.sources).map_err(|reason| Error::SourceColumn {
        path: path.to_path_buf(),
        reason,
    })?;
    let names: Vec<String> = idx.iter().map(|&i| headers[i].clone()).collect();
    let mapping = r.mapping;
    let tz = r.tz.clone();
    let conv = Converter::new(mapping, &tz, names);
    let arrow_err = |source| Error::Arrow {
        path: path.to_path_buf(),
        source,
    };
    let size = std::fs::metadata(path).map_err(io_err(path))?.len();
    let mut row = 0u64;
    for batch in crate::parquet::open(path, 8192)? {
        let batch = batch.map_err(arrow_err)?;
        // Every mapped column as text, so one conversion serves CSV and Parquet alike.
        let cols = idx
            .iter()
            .map(|&i| arrow::compute::cast(batch.column(i), &DataType::Utf8))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(arrow_err)?;
        let texts: Vec<&arrow::array::StringArray> =
            cols.iter().map(|c| c.as_string::<i32>()).collect();
        let mut fields: Vec<Option<&str>> = Vec::with_capacity(texts.len());
        for i in 0..batch.num_rows() {
            row += 1;
            fields.clear();
            fields.extend(
                texts
                    .iter()
                    .map(|t| t.is_valid(i).then(|| t.value(i).trim())),
            );
            r.row(&conv, Ok(fields.as_slice()), sink, row, None)?;
        }
    }
    sink.progress(size);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_resolve_exactly_then_loosely() {
        let h: Vec<String> = [
            "",
            "Call Number",
            "Neighborhood  District",
            "Notional Cost (£)",
            "\u{feff}Id",
        ]
        .map(String::from)
        .to_vec();
        let refs = [
            ColumnRef::Index { index: 1 },
            ColumnRef::Name("Neighborhood  District".into()),
            ColumnRef::Name("neighborhood district".into()),
            ColumnRef::Name("Notional Cost (£)".into()),
            ColumnRef::Name("Id".into()),
        ];
        assert_eq!(resolve(&h, &refs).unwrap(), vec![0, 2, 2, 3, 4]);
        let e = resolve(&h, &[ColumnRef::Name("Battalion".into())]).unwrap_err();
        assert!(
            e.contains("no column \"Battalion\"") && e.contains("\"Call Number\""),
            "{e}"
        );
        let e = resolve(&h, &[ColumnRef::Index { index: 9 }]).unwrap_err();
        assert!(e.contains("5 columns"), "{e}");
        let dup: Vec<String> = ["a", "A"].map(String::from).to_vec();
        assert!(resolve(&dup, &[ColumnRef::Name("a".into())]).is_ok());
        assert!(
            resolve(&dup, &[ColumnRef::Name(" a ".into())])
                .unwrap_err()
                .contains("2 times")
        );
    }

    /// `%Y` also reads `24` as the year 24: a pattern's date needs a four-digit year.
    #[test]
    fn a_pattern_date_with_a_short_year_is_a_reject() {
        struct Count(u64, Vec<Reject>);
        impl SourceSink for Count {
            fn batch(&mut self, b: RecordBatch) -> Result<()> {
                self.0 += b.num_rows() as u64;
                Ok(())
            }
            fn reject(&mut self, r: &Reject) -> Result<()> {
                self.1.push(r.clone());
                Ok(())
            }
        }
        let m = Mapping::from_toml(
            "[columns.incident_id]\nfrom = \"id\"\n\
             [columns.call_received]\nfrom = \"in\"\nformat = \"%d/%m/%Y %H:%M\"\n\
             [columns.call_answered]\ndate = \"d\"\ntime = \"t\"\ndate-format = \"%d/%m/%Y\"\n",
            "test",
        )
        .unwrap();
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("in.csv");
        std::fs::write(
            &f,
            "id,in,d,t\n\
             a,01/06/2024 10:00,01/06/2024,10:00:05\n\
             b,01/06/24 10:00,01/06/2024,10:00:05\n\
             c,01/06/2024 10:00,01/06/24,10:00:05\n",
        )
        .unwrap();
        let mut sink = Count(0, Vec::new());
        let s = read_source(&[f], &m, 1024, &mut sink).unwrap();
        assert_eq!((sink.0, s.rejected_rows), (1, 2), "{:?}", sink.1);
        for (r, column) in sink.1.iter().zip(["in", "d"]) {
            assert_eq!(
                (r.problem.column.as_str(), r.problem.kind),
                (column, "bad timestamp")
            );
            assert!(r.problem.detail.contains("four-digit year"), "{r:?}");
        }
    }
}

//! Feed sources: a replay of historical Parquet, NDJSON lines (stdin), and a directory into
//! which NDJSON, CSV and Parquet files keep arriving. Every source yields updates in a
//! deterministic order for the same input, so a restart can skip what was already consumed.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::path::{Path, PathBuf};

use arrow::array::{ArrayRef, AsArray, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, TimeUnit};
use chrono::{DateTime, NaiveDateTime};
use slate_core::ambiguous::{
    AMBIGUOUS_REASON, CALL_ENDED_AFTER, LIFECYCLE, Reading, RecordClocks, Tally, resolve,
};
use slate_core::schema::{self, ColumnKind};
use slate_core::{Ambiguous, TzRules};

use crate::error::{Error, Result, io};
use crate::update::{
    ALL_CLOCKS, CALL_ENDED_AT, N_CLOCKS, Update, clock_index, from_batch, kind_of, set_flag,
    set_text, split_record,
};

/// Reads a record batch whose clocks may be naive local time into records with UTC clocks.
/// A naive reading in a repeated hour is the earlier instant, clock by clock, as `slate run`
/// reads naive Parquet, so that a replay gives the batch figures.
pub fn records_of_batch(batch: &RecordBatch, tz: &TzRules) -> Result<Vec<Update>> {
    let schema = batch.schema();
    let mut cols: Vec<ArrayRef> = Vec::with_capacity(batch.num_columns());
    let mut fields = Vec::with_capacity(batch.num_columns());
    for (f, c) in schema.fields().iter().zip(batch.columns()) {
        if let DataType::Timestamp(_, None) = f.data_type() {
            // Naive: local wall time in the zone, resolved by the documented rule.
            let us =
                cast(c, &DataType::Timestamp(TimeUnit::Microsecond, None)).map_err(arrow_err)?;
            let us = us.as_primitive::<arrow::datatypes::TimestampMicrosecondType>();
            let inst: arrow::array::TimestampMicrosecondArray = us.unary_opt(|v| {
                let (secs, sub) = (v.div_euclid(1_000_000), v.rem_euclid(1_000_000));
                Some(tz.local_to_instant(secs).0 * 1_000_000 + sub)
            });
            let utc = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
            fields.push(f.as_ref().clone().with_data_type(utc));
            cols.push(std::sync::Arc::new(inst.with_timezone("UTC")));
        } else {
            fields.push(f.as_ref().clone());
            cols.push(c.clone());
        }
    }
    let fixed = RecordBatch::try_new(
        std::sync::Arc::new(arrow::datatypes::Schema::new(fields)),
        cols,
    )
    .map_err(arrow_err)?;
    from_batch(&fixed).map_err(arrow_err)
}

fn arrow_err(e: arrow::error::ArrowError) -> Error {
    Error::Pipeline(e.to_string())
}

struct Pending {
    t: i64,
    seq: u64,
    u: Update,
}

impl PartialEq for Pending {
    fn eq(&self, o: &Self) -> bool {
        (self.t, self.seq) == (o.t, o.seq)
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Pending {
    // Reversed: BinaryHeap is a max-heap and we want the earliest update first.
    fn cmp(&self, o: &Self) -> Ordering {
        (o.t, o.seq).cmp(&(self.t, self.seq))
    }
}

/// Historical Parquet turned into the feed that produced it, in event-time order.
///
/// Records are read in file order (files sorted by name, which for `slate gen` output is time
/// order, and rows in `call_received` order within a file); each record is split into one
/// update per clock, held in a heap, and released once no later-read record can precede it.
/// Memory holds the updates of incidents still open at the replay's current time.
pub struct Replay {
    files: Vec<PathBuf>,
    tz: std::sync::Arc<TzRules>,
    file: usize,
    reader: Option<parquet_reader::Reader>,
    records: std::collections::VecDeque<Update>,
    heap: BinaryHeap<Pending>,
    seq: u64,
}

mod parquet_reader {
    pub(crate) type Reader = parquet::arrow::arrow_reader::ParquetRecordBatchReader;
}

impl Replay {
    /// A replay of Parquet inputs (files, directories, globs).
    pub fn new(inputs: &[String], tz: std::sync::Arc<TzRules>) -> Result<Self> {
        Ok(Replay {
            files: slate_io::expand_inputs(inputs)?,
            tz,
            file: 0,
            reader: None,
            records: Default::default(),
            heap: BinaryHeap::new(),
            seq: 0,
        })
    }

    fn next_record(&mut self) -> Result<Option<Update>> {
        loop {
            if let Some(r) = self.records.pop_front() {
                return Ok(Some(r));
            }
            if self.reader.is_none() {
                let Some(path) = self.files.get(self.file) else {
                    return Ok(None);
                };
                self.reader = Some(slate_io::parquet::open(path, 8192)?);
                self.file += 1;
            }
            let reader = self.reader.as_mut().expect("opened above");
            match reader.next() {
                Some(batch) => {
                    let batch = batch.map_err(arrow_err)?;
                    self.records.extend(records_of_batch(&batch, &self.tz)?);
                }
                None => self.reader = None,
            }
        }
    }
}

impl Iterator for Replay {
    type Item = Result<Update>;

    fn next(&mut self) -> Option<Result<Update>> {
        loop {
            // Read records until the earliest pending update cannot be preceded by an unread one.
            let head = self.heap.peek().map(|p| p.t);
            let next = match self.next_record_peek() {
                Ok(n) => n,
                Err(e) => return Some(Err(e)),
            };
            match (head, next) {
                (Some(h), Some(first)) if h <= first => return self.heap.pop().map(|p| Ok(p.u)),
                (Some(_), None) => return self.heap.pop().map(|p| Ok(p.u)),
                (None, None) => return None,
                _ => {
                    let r = self.records.pop_front().expect("peeked");
                    for (t, u) in split_record(&r) {
                        self.seq += 1;
                        self.heap.push(Pending {
                            t,
                            seq: self.seq,
                            u,
                        });
                    }
                }
            }
        }
    }
}

impl Replay {
    /// The first update time of the next unread record, reading ahead as needed.
    fn next_record_peek(&mut self) -> Result<Option<i64>> {
        if self.records.is_empty() {
            match self.next_record()? {
                Some(r) => self.records.push_front(r),
                None => return Ok(None),
            }
        }
        Ok(self
            .records
            .front()
            .map(|r| first_event_us(r).unwrap_or(i64::MIN)))
    }
}

/// A record's earliest event clock: the time of the first update [`split_record`] makes of it.
fn first_event_us(r: &Update) -> Option<i64> {
    (r.all_clocks().iter().enumerate())
        .filter(|&(k, _)| crate::update::is_event_clock(k))
        .filter_map(|(_, c)| *c)
        .min()
}

/// How text updates (NDJSON, CSV) read naive clocks: local time in `tz`; the readings of a
/// repeated hour are carried as both instants until the update is read, then decided for the
/// update as a whole by `ambiguous` (the CAD lifecycle order, and `call_ended` not before
/// `call_answered`, as [`slate_core::ambiguous::resolve`] decides a record). `tally` counts
/// what the rule decided.
#[derive(Debug, Clone)]
pub struct TextClocks {
    /// The zone naive clocks are read in.
    pub tz: std::sync::Arc<TzRules>,
    /// The rule for readings in a repeated hour.
    pub ambiguous: Ambiguous,
    /// What the rule decided so far.
    pub tally: Tally,
}

impl TextClocks {
    /// Naive clocks read in `tz`, a repeated hour's readings decided by `ambiguous`.
    pub fn new(tz: std::sync::Arc<TzRules>, ambiguous: Ambiguous) -> Self {
        TextClocks {
            tz,
            ambiguous,
            tally: Tally::default(),
        }
    }
}

/// Parses one NDJSON update. Clocks are RFC 3339 with an offset (instants), naive
/// `YYYY-MM-DD[T ]HH:MM:SS[.f]` (local time, see [`TextClocks`]), or integers (microseconds
/// since the epoch). An update the rule excludes is an error whose reason starts with
/// [`AMBIGUOUS_REASON`].
pub fn parse_json_update(
    line: &str,
    clocks: &mut TextClocks,
) -> std::result::Result<Update, String> {
    let fields: json::Fields<'_> = match serde_json::from_str(line) {
        Ok(f) => f,
        // Valid JSON of another type (a number, an array...).
        Err(e) if e.is_data() => return Err("not a JSON object".into()),
        Err(e) => return Err(format!("not JSON: {e}")),
    };
    if let Some((k, kind)) = fields.0.iter().find_map(|(k, v)| match v {
        json::Value::Nested(kind) => Some((k, kind)),
        json::Value::Text(_) => None,
    }) {
        return Err(format!("{k}: unexpected value ({kind})"));
    }
    update_of_fields(
        fields.0.iter().map(|(k, v)| match v {
            json::Value::Text(t) => (k.as_ref(), t.as_deref()),
            json::Value::Nested(_) => unreachable!("refused above"),
        }),
        clocks,
    )
}

/// An NDJSON line read as `(key, text)` pairs straight from the line: texts without escapes
/// are borrowed, not copied, and no `serde_json::Value` tree is built (parsing through one
/// cost an allocation per key and per value, a third of the NDJSON source's time).
mod json {
    use std::borrow::Cow;
    use std::fmt;

    use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

    /// The object's members in line order.
    pub(super) struct Fields<'a>(pub(super) Vec<(Cow<'a, str>, Value<'a>)>);

    /// A member's value: scalars as the text a CSV field would hold (`null` is `None`).
    pub(super) enum Value<'a> {
        Text(Option<Cow<'a, str>>),
        /// An array or object, which no column holds.
        Nested(&'static str),
    }

    struct Key<'a>(Cow<'a, str>);

    impl<'de> Deserialize<'de> for Fields<'de> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Fields<'de>;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a JSON object")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Fields<'de>, A::Error> {
                    let mut out = Vec::with_capacity(m.size_hint().unwrap_or(8));
                    while let Some(Key(k)) = m.next_key()? {
                        out.push((k, m.next_value()?));
                    }
                    Ok(Fields(out))
                }
            }
            d.deserialize_map(V)
        }
    }

    impl<'de> Deserialize<'de> for Key<'de> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Key<'de>;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a key")
                }
                fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Key<'de>, E> {
                    Ok(Key(Cow::Borrowed(s)))
                }
                fn visit_str<E>(self, s: &str) -> Result<Key<'de>, E> {
                    Ok(Key(Cow::Owned(s.to_owned())))
                }
                fn visit_string<E>(self, s: String) -> Result<Key<'de>, E> {
                    Ok(Key(Cow::Owned(s)))
                }
            }
            d.deserialize_str(V)
        }
    }

    impl<'de> Deserialize<'de> for Value<'de> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            fn text<'a, E>(s: String) -> Result<Value<'a>, E> {
                Ok(Value::Text(Some(Cow::Owned(s))))
            }
            impl<'de> Visitor<'de> for V {
                type Value = Value<'de>;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a JSON value")
                }
                fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Value<'de>, E> {
                    Ok(Value::Text(Some(Cow::Borrowed(s))))
                }
                fn visit_str<E>(self, s: &str) -> Result<Value<'de>, E> {
                    text(s.to_owned())
                }
                fn visit_string<E>(self, s: String) -> Result<Value<'de>, E> {
                    text(s)
                }
                fn visit_bool<E>(self, b: bool) -> Result<Value<'de>, E> {
                    text(b.to_string())
                }
                fn visit_i64<E>(self, n: i64) -> Result<Value<'de>, E> {
                    text(n.to_string())
                }
                fn visit_u64<E>(self, n: u64) -> Result<Value<'de>, E> {
                    text(n.to_string())
                }
                fn visit_f64<E>(self, n: f64) -> Result<Value<'de>, E> {
                    // Written as `serde_json` writes the number (`1.5`, `1e300`).
                    let n = serde_json::Number::from_f64(n).map(|n| Cow::Owned(n.to_string()));
                    Ok(Value::Text(n))
                }
                fn visit_unit<E>(self) -> Result<Value<'de>, E> {
                    Ok(Value::Text(None))
                }
                fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Value<'de>, A::Error> {
                    while s.next_element::<IgnoredAny>()?.is_some() {}
                    Ok(Value::Nested("an array"))
                }
                fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Value<'de>, A::Error> {
                    while m.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                    Ok(Value::Nested("an object"))
                }
            }
            d.deserialize_any(V)
        }
    }
}

/// Builds an update from `(column, text)` pairs (NDJSON keys or CSV headers): any canonical
/// or optional column.
pub fn update_of_fields<'a>(
    fields: impl Iterator<Item = (&'a str, Option<&'a str>)>,
    clocks: &mut TextClocks,
) -> std::result::Result<Update, String> {
    let mut u = Update::default();
    let mut has_id = false;
    let mut readings: [Option<Reading>; N_CLOCKS] = [None; N_CLOCKS];
    // The clocks as written, for the reject under `exclude`.
    let mut texts: [Option<&str>; N_CLOCKS] = [None; N_CLOCKS];
    for (k, v) in fields {
        let v = v.filter(|s| !s.is_empty());
        if k == schema::INCIDENT_ID {
            u.id = v.ok_or("incident_id is empty")?.to_string();
            has_id = true;
            continue;
        }
        match kind_of(k) {
            Some(ColumnKind::Text) => set_text(&mut u, k, v),
            Some(ColumnKind::Flag) => {
                let flag = match v {
                    None => None,
                    Some("true" | "1" | "t" | "TRUE" | "True") => Some(true),
                    Some("false" | "0" | "f" | "FALSE" | "False") => Some(false),
                    Some(other) => return Err(format!("{k}: {other:?} is not true/false")),
                };
                set_flag(&mut u, k, flag);
            }
            Some(ColumnKind::Clock) => {
                let i = clock_index(k).expect("every clock column is an update clock");
                readings[i] = v
                    .map(|s| parse_clock(s, &clocks.tz).map_err(|e| format!("{k}: {e}")))
                    .transpose()?;
                texts[i] = v;
            }
            None => return Err(format!("unknown column {k:?}")),
        }
    }
    if !has_id {
        return Err("incident_id is missing".into());
    }
    // As `run --source` decides a record: the lifecycle in order, `call_ended` not before
    // `call_answered`.
    let decided = resolve(
        clocks.ambiguous,
        RecordClocks {
            readings: &mut readings,
            follows: &[None; N_CLOCKS],
            chain: &LIFECYCLE,
            pairs: &[(CALL_ENDED_AFTER, CALL_ENDED_AT)],
        },
    );
    clocks.tally.add(&decided);
    if decided.excluded {
        // The first ambiguous clock (`resolve` left the readings as read).
        let i = (0..N_CLOCKS)
            .find(|&i| readings[i].is_some_and(Reading::is_ambiguous))
            .expect("an excluded update has an ambiguous reading");
        let (clock, text) = (ALL_CLOCKS[i], texts[i].unwrap_or_default());
        return Err(format!(
            "{AMBIGUOUS_REASON}: {clock} {text:?} occurs twice (clocks went back); \
             the update is not read under ambiguous = exclude"
        ));
    }
    for (i, r) in readings.iter().enumerate() {
        if let Some(r) = r {
            u.set_clock(i, Some(r.earlier));
        }
    }
    Ok(u)
}

/// A clock's text as microseconds since the epoch: both instants when it is a naive reading
/// in a repeated hour.
fn parse_clock(s: &str, tz: &TzRules) -> std::result::Result<Reading, String> {
    if let Ok(n) = s.parse::<i64>() {
        return Ok(Reading::exact(n));
    }
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Ok(Reading::exact(d.timestamp_micros()));
    }
    // Four digits of year, so `24-06-01 10:00:00` is not read as the year 24.
    let four_digit_year = s
        .get(..5)
        .is_some_and(|y| y.ends_with('-') && y.bytes().take(4).all(|b| b.is_ascii_digit()));
    for f in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if !four_digit_year {
            break;
        }
        if let Ok(n) = NaiveDateTime::parse_from_str(s, f) {
            let us = n.and_utc().timestamp_micros();
            let (secs, sub) = (us.div_euclid(1_000_000), us.rem_euclid(1_000_000));
            let (r, _) = tz.local_readings(secs);
            return Ok(Reading {
                earlier: r.earlier * 1_000_000 + sub,
                later: r.later * 1_000_000 + sub,
            });
        }
    }
    Err(format!(
        "{s:?} is not a timestamp (RFC 3339, YYYY-MM-DD HH:MM:SS or microseconds)"
    ))
}

/// A line or row a source could not read, with where it was.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Reject {
    /// File (`-` for stdin; `TOPIC[PARTITION]@OFFSET` for a Kafka message).
    pub file: String,
    /// 1-based line or row (of the file, or of the message).
    pub row: u64,
    /// Why.
    pub reason: String,
}

/// Reads a directory file's updates: `.ndjson`/`.jsonl` lines, `.csv` rows with canonical
/// headers, or `.parquet` rows. Unreadable lines (and updates the `ambiguous` rule excludes)
/// are returned as rejects, never dropped. Naive Parquet clocks are read clock by clock as
/// the earlier instant, as [`records_of_batch`] does.
pub fn read_update_file(
    path: &Path,
    clocks: &mut TextClocks,
) -> Result<(Vec<Update>, Vec<Reject>)> {
    let name = path.display().to_string();
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    let mut ups = Vec::new();
    let mut rejects = Vec::new();
    match ext {
        "ndjson" | "jsonl" => {
            let text = std::fs::read_to_string(path).map_err(io(path))?;
            read_ndjson(&text, &name, clocks, &mut ups, &mut rejects);
        }
        "csv" => {
            let text = std::fs::read_to_string(path).map_err(io(path))?;
            read_csv(&text, &name, clocks, &mut ups, &mut rejects);
        }
        "parquet" => {
            for batch in slate_io::parquet::read_file(path)? {
                ups.extend(records_of_batch(&batch, &clocks.tz)?);
            }
        }
        _ => {}
    }
    Ok((ups, rejects))
}

/// Reads NDJSON text (a file, or a Kafka message): one update per non-empty line; a line that
/// cannot be read is a reject naming `name` and its 1-based line.
pub fn read_ndjson(
    text: &str,
    name: &str,
    clocks: &mut TextClocks,
    ups: &mut Vec<Update>,
    rejects: &mut Vec<Reject>,
) {
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match parse_json_update(line, clocks) {
            Ok(u) => ups.push(u),
            Err(reason) => rejects.push(Reject {
                file: name.to_string(),
                row: i as u64 + 1,
                reason,
            }),
        }
    }
}

/// Reads CSV text (a file, or a Kafka message) whose first line is a header of canonical
/// column names: one update per row; a row that cannot be read is a reject naming `name` and
/// its 1-based line.
pub fn read_csv(
    text: &str,
    name: &str,
    clocks: &mut TextClocks,
    ups: &mut Vec<Update>,
    rejects: &mut Vec<Reject>,
) {
    // The csv crate, as the mapped reader uses: quoted fields (a comma or a line break inside
    // quotes) are one field and lose their quotes. Rows of another length are rejects, named
    // by the line they start on.
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(text.as_bytes());
    let reject = |rejects: &mut Vec<Reject>, row: u64, reason: String| {
        rejects.push(Reject {
            file: name.to_string(),
            row,
            reason,
        })
    };
    let header: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(|c| c.trim().to_string()).collect(),
        Err(e) => return reject(rejects, 1, format!("unreadable header: {e}")),
    };
    let mut record = csv::StringRecord::new();
    loop {
        let row = reader.position().line();
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                reject(rejects, row, format!("unreadable CSV row: {e}"));
                if reader.position().line() == row {
                    break; // nothing consumed: the rest cannot be read
                }
                continue;
            }
        }
        let row = record.position().map_or(row, |p| p.line());
        if record.len() != header.len() {
            reject(
                rejects,
                row,
                format!("{} fields, header has {}", record.len(), header.len()),
            );
            continue;
        }
        match update_of_fields(
            header
                .iter()
                .map(String::as_str)
                .zip(record.iter().map(|v| Some(v.trim()))),
            clocks,
        ) {
            Ok(u) => ups.push(u),
            Err(reason) => reject(rejects, row, reason),
        }
    }
}

/// The fields of one CSV line (quotes as the csv crate reads them), trimmed.
pub fn csv_fields(line: &str) -> Vec<String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(line.as_bytes());
    let mut record = csv::StringRecord::new();
    match reader.read_record(&mut record) {
        Ok(true) => record.iter().map(|f| f.trim().to_string()).collect(),
        _ => Vec::new(),
    }
}

/// One update from a CSV line under `header` (standard input's rows, one per line).
pub fn parse_csv_update(
    header: &[String],
    line: &str,
    clocks: &mut TextClocks,
) -> std::result::Result<Update, String> {
    let vals = csv_fields(line);
    if vals.len() != header.len() {
        return Err(format!(
            "{} fields, header has {}",
            vals.len(),
            header.len()
        ));
    }
    update_of_fields(
        header
            .iter()
            .map(String::as_str)
            .zip(vals.iter().map(|v| Some(v.as_str()))),
        clocks,
    )
}

/// Whether a directory entry is an update file the directory source reads: by extension, and
/// never a name slate's input rule calls not data (`.x` being written, `_x` metadata).
pub fn is_update_file(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    !slate_io::input::is_not_data(name)
        && matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("ndjson" | "jsonl" | "csv" | "parquet")
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_updates_parse_every_clock_form() {
        let tz = TzRules::from_name("Europe/London").unwrap();
        let tz = &mut TextClocks::new(std::sync::Arc::new(tz), Ambiguous::Order);
        let u = parse_json_update(
            r#"{"incident_id": "a1", "grade": "I", "call_received": "2024-07-01T10:00:00Z", "arrived": "2024-07-01 11:05:00", "closed": 5, "cancelled": false}"#,
            tz,
        )
        .unwrap();
        assert_eq!(u.id, "a1");
        assert_eq!(u.clocks[0], Some(1_719_828_000_000_000));
        // 11:05 BST is 10:05Z.
        assert_eq!(u.clocks[4], Some(1_719_828_000_000_000 + 300_000_000));
        assert_eq!(u.clocks[5], Some(5));
        assert_eq!(u.cancelled, Some(false));
        for bad in [
            r#"{"grade": "I"}"#,
            r#"{"incident_id": "x", "arrived": "soon"}"#,
            r#"{"incident_id": "x", "ward": "y"}"#,
            r#"{"incident_id": "x", "arrived": "24-07-01 11:05:00"}"#,
            r#"{"incident_id": "x", "arrived": "24-07-01T11:05:00Z"}"#,
            "nope",
        ] {
            assert!(parse_json_update(bad, tz).is_err(), "{bad}");
        }
        // Each refusal says why; escaped texts read as their characters.
        let why = |line: &str| parse_json_update(line, &mut tz.clone()).unwrap_err();
        assert!(why("nope").starts_with("not JSON: "), "{}", why("nope"));
        assert_eq!(why("[1, 2]"), "not a JSON object");
        assert_eq!(
            why(r#"{"incident_id": "x", "borough": [1]}"#),
            "borough: unexpected value (an array)"
        );
        assert_eq!(
            why(r#"{"incident_id": "x", "borough": {"a": 1}}"#),
            "borough: unexpected value (an object)"
        );
        let u = parse_json_update(
            r#"{"incident_id": "a\"1", "borough": "Kensington \u0026 Chelsea", "grade": null, "channel": 999, "cancelled": 1}"#,
            tz,
        )
        .unwrap();
        assert_eq!(u.id, "a\"1");
        assert_eq!(u.borough.as_deref(), Some("Kensington & Chelsea"));
        assert_eq!((u.grade, u.channel.as_deref()), (None, Some("999")));
        assert_eq!(u.cancelled, Some(true));
    }

    /// Every optional column reads from NDJSON, and an update written as a line reads back
    /// as itself; `call_ended` in the repeated hour is decided after `call_answered`.
    #[test]
    fn json_updates_carry_the_optional_columns() {
        let tz = std::sync::Arc::new(TzRules::from_name("Europe/London").unwrap());
        let c = &mut TextClocks::new(tz, Ambiguous::Order);
        let u = parse_json_update(
            r#"{"incident_id": "p1", "surveyed": "2024-07-01T10:00:00Z", "satisfied": false,
                "respondent_group": "White", "appointment_due": 7, "abandoned": "1"}"#,
            c,
        )
        .unwrap();
        let o = u.optional.as_deref().unwrap();
        assert_eq!(o.clocks[9], Some(1_719_828_000_000_000));
        assert_eq!(o.clocks[2], Some(7));
        assert_eq!(
            (o.satisfied, o.abandoned, o.respondent_group.as_deref()),
            (Some(false), Some(true), Some("White"))
        );
        assert_eq!(u.event_us(), Some(1_719_828_000_000_000));
        assert_eq!(parse_json_update(&u.to_json_line(), c).unwrap(), u);
        let plain = parse_json_update(r#"{"incident_id": "p2", "closed": 9}"#, c).unwrap();
        assert!(plain.optional.is_none());
        assert_eq!(parse_json_update(&plain.to_json_line(), c).unwrap(), plain);
        let bad = parse_json_update(r#"{"incident_id": "x", "satisfied": "maybe"}"#, c);
        assert!(bad.unwrap_err().starts_with("satisfied:"));
        // Answered 01:50 in the first pass (00:50Z); the call ended 01:10, which keeps order
        // only in the second pass (01:10Z).
        let line = r#"{"incident_id": "q", "call_answered": "2024-10-27T00:50:00Z", "call_ended": "2024-10-27 01:10:00"}"#;
        let u = parse_json_update(line, c).unwrap();
        let z = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().timestamp_micros();
        assert_eq!(u.clock(CALL_ENDED_AT), Some(z("2024-10-27T01:10:00Z")));
    }

    /// London, 27 Oct 2024: 01:00-01:59 happens at 00:xxZ (BST) and again at 01:xxZ (GMT).
    #[test]
    fn each_rule_decides_an_update_in_the_repeated_hour() {
        let z = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().timestamp_micros();
        // Created 01:50, arrived 01:10: only created in the first pass and arrived in the
        // second keep order.
        let line = r#"{"incident_id": "r", "incident_created": "2024-10-27 01:50:00", "arrived": "2024-10-27 01:10:00", "closed": "2024-10-27T02:30:00Z"}"#;
        let tz = std::sync::Arc::new(TzRules::from_name("Europe/London").unwrap());
        let read = |rule| {
            let mut c = TextClocks::new(tz.clone(), rule);
            (parse_json_update(line, &mut c), c.tally)
        };
        let (u, t) = read(Ambiguous::Earlier);
        let u = u.unwrap();
        assert_eq!(u.clocks[2], Some(z("2024-10-27T00:50:00Z")));
        assert_eq!(u.clocks[4], Some(z("2024-10-27T00:10:00Z")));
        assert_eq!((t.ambiguous, t.earlier, t.later), (2, 2, 0));
        let (u, t) = read(Ambiguous::Later);
        assert_eq!(u.unwrap().clocks[4], Some(z("2024-10-27T01:10:00Z")));
        assert_eq!((t.ambiguous, t.later), (2, 2));
        let (u, t) = read(Ambiguous::Order);
        let u = u.unwrap();
        // Closest together in order: created 00:50Z, arrived 01:10Z.
        assert_eq!(u.clocks[2], Some(z("2024-10-27T00:50:00Z")));
        assert_eq!(u.clocks[4], Some(z("2024-10-27T01:10:00Z")));
        assert_eq!((t.earlier, t.later, t.unordered), (1, 1, 0));
        let (u, t) = read(Ambiguous::Exclude);
        let e = u.unwrap_err();
        assert!(
            e.starts_with("ambiguous_local_time: incident_created \"2024-10-27 01:50:00\""),
            "{e}"
        );
        assert_eq!((t.ambiguous, t.excluded, t.excluded_records), (2, 2, 1));
    }

    #[test]
    fn an_excluded_csv_row_is_a_reject_not_a_drop() {
        let dir = std::env::temp_dir().join(format!("slate-amb-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("u.csv");
        std::fs::write(
            &f,
            "incident_id,incident_created,arrived\n\
             a,2024-11-03 01:20:00,2024-11-03 01:40:00\n\
             b,2024-11-03 03:20:00,2024-11-03 03:40:00\n",
        )
        .unwrap();
        let tz = std::sync::Arc::new(TzRules::from_name("America/New_York").unwrap());
        let mut c = TextClocks::new(tz, Ambiguous::Exclude);
        let (ups, rej) = read_update_file(&f, &mut c).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(ups.len(), 1);
        assert_eq!(ups[0].id, "b");
        assert_eq!(rej.len(), 1);
        assert_eq!(rej[0].row, 2);
        assert!(
            rej[0].reason.starts_with(AMBIGUOUS_REASON),
            "{}",
            rej[0].reason
        );
        assert_eq!(c.tally.excluded_records, 1);
    }

    #[test]
    fn csv_updates_read_quoted_fields_as_the_mapped_reader_does() {
        let tz = std::sync::Arc::new(TzRules::from_name("Europe/London").unwrap());
        // A quoted borough with a comma, a quoted plain one, a row split by a quoted line break,
        // and a row with a field too many.
        let text = "incident_id,borough,incident_created,arrived\n\
                    a,\"Kensington, Chelsea\",2024-03-01T10:00:00Z,2024-03-01T10:07:00Z\n\
                    b,\"Camden\",2024-03-01T11:00:00Z,\n\
                    c,\"Tower\nHamlets\",2024-03-01T12:00:00Z,\n\
                    d,Hackney,2024-03-01T13:00:00Z,,extra\n";
        let mut c = TextClocks::new(tz.clone(), Ambiguous::Order);
        let (mut ups, mut rejects) = (Vec::new(), Vec::new());
        read_csv(text, "u.csv", &mut c, &mut ups, &mut rejects);
        let boroughs: Vec<(&str, Option<&str>)> = ups
            .iter()
            .map(|u| (u.id.as_str(), u.borough.as_deref()))
            .collect();
        assert_eq!(
            boroughs,
            vec![
                ("a", Some("Kensington, Chelsea")),
                ("b", Some("Camden")),
                ("c", Some("Tower\nHamlets"))
            ]
        );
        assert_eq!(rejects.len(), 1);
        // Named by the line the row starts on (c's row spans lines 4 and 5).
        assert_eq!(rejects[0].row, 6);
        assert_eq!(rejects[0].reason, "5 fields, header has 4");
        // Standard input reads a row per line with the same quoting rules.
        let header = csv_fields("incident_id, borough ,incident_created");
        assert_eq!(header, vec!["incident_id", "borough", "incident_created"]);
        let mut c = TextClocks::new(tz, Ambiguous::Order);
        let u = parse_csv_update(
            &header,
            "e,\"Kensington, Chelsea\",2024-03-01T10:00:00Z",
            &mut c,
        )
        .unwrap();
        assert_eq!(u.borough.as_deref(), Some("Kensington, Chelsea"));
        assert_eq!(
            parse_csv_update(&header, "f,Camden", &mut c).unwrap_err(),
            "2 fields, header has 3"
        );
    }
}

//! Writing record batches as Parquet, Arrow IPC or CSV, chosen by file extension.
//!
//! Files are written to a temporary name beside the target and renamed when complete, so a
//! reader (a BI tool polling the file) never sees half a file, and a failed write leaves no
//! temporary file. A command's own outputs go through [`crate::plan::OutputPlan`], which also
//! checks them against its inputs and commits them together. A target that is an object
//! storage URL (`s3://bucket/key`) is encoded in memory (slate's outputs are summaries, not
//! records) and uploaded in one PUT, which is atomic too.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;

use crate::error::{Error, Result, io_err};
use crate::format::Format;
use crate::location::object_url;
use crate::provenance::{METADATA_KEY, Provenance, sidecar_path};

/// Writer properties for slate's Parquet: zstd level 1 and row groups of up to 1M rows.
pub fn parquet_properties() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(1).expect("1 is a valid zstd level"),
        ))
        .set_max_row_group_row_count(Some(1 << 20))
        .build()
}

/// `props` with dictionary encoding off for every column that is not text. A result's numbers
/// (counts, rates, percentiles) are mostly distinct: dictionary-encoding them hashed every
/// value into a dictionary that was then about the size of the plain column.
fn without_number_dictionaries(
    mut props: parquet::file::properties::WriterPropertiesBuilder,
    schema: &arrow::datatypes::Schema,
) -> parquet::file::properties::WriterPropertiesBuilder {
    use arrow::datatypes::DataType;
    for f in schema.fields() {
        let text = matches!(
            f.data_type(),
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Dictionary(..)
        );
        if !text {
            props = props.set_column_dictionary_enabled(
                parquet::schema::types::ColumnPath::from(f.name().as_str()),
                false,
            );
        }
    }
    props
}

/// Readies a directory for partitioned output (`slate gen`, `slate import`): creates it, or,
/// when it holds anything, refuses unless `force` and then removes only slate's own output,
/// the `year=*/` partitions and the files named in `ours`. Anything else is left alone.
pub fn prepare_output_dir(out: &Path, force: bool, ours: &[&str]) -> Result<()> {
    if !out.exists() {
        return std::fs::create_dir_all(out).map_err(io_err(out));
    }
    let entries: Vec<_> = std::fs::read_dir(out)
        .map_err(io_err(out))?
        .collect::<std::result::Result<_, _>>()
        .map_err(io_err(out))?;
    if entries.is_empty() {
        return Ok(());
    }
    if !force {
        let also: String = ours.iter().map(|f| format!(" and {f}")).collect();
        let message = slate_core::ParamMessage::new()
            .text("directory is not empty (pass ")
            .param("force")
            .text(format!(" to replace its year=*/ partitions{also})"));
        return Err(Error::NotEmpty(out.to_path_buf(), message));
    }
    for e in entries {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("year=") {
            std::fs::remove_dir_all(e.path()).map_err(io_err(e.path()))?;
        } else if ours.contains(&name.as_ref()) {
            std::fs::remove_file(e.path()).map_err(io_err(e.path()))?;
        }
    }
    Ok(())
}

/// Below this many bytes of Arrow data a Parquet file is written with Snappy, not zstd: each
/// zstd column chunk allocates and zeroes a fresh compression context, which made writing the
/// stream's few-thousand-row emissions (three files every emission) cost milliseconds each.
const SMALL_PARQUET_BYTES: usize = 4 << 20;

/// Writes batches sharing `schema` to `path` in the format its extension names; `path` may be
/// an `s3://` URL. No provenance: for tests and data that is not a result (`slate gen`).
pub fn write_batches(path: &Path, schema: SchemaRef, batches: &[RecordBatch]) -> Result<()> {
    write_table(path, schema, batches, None)
}

/// [`write_batches`] with `provenance` in the file's metadata (a CSV file's in its sidecar,
/// written after it; see [`crate::provenance`]).
pub fn write_table(
    path: &Path,
    schema: SchemaRef,
    batches: &[RecordBatch],
    provenance: Option<&Provenance>,
) -> Result<()> {
    let format = Format::from_path(path)?;
    let meta = provenance.map(Provenance::to_json);
    let meta = meta.as_deref();
    if let Some(url) = object_url(path) {
        let mut bytes = Vec::new();
        encode_to(format, path, schema, batches, meta, &mut bytes)?;
        crate::object::put(url, bytes)?;
    } else {
        write_with(path, |file| {
            encode_to(format, path, schema, batches, meta, file)
        })?;
    }
    match provenance {
        Some(p) if format == Format::Csv => {
            let side = sidecar_path(path);
            let json = p.to_json_pretty().into_bytes();
            match object_url(&side) {
                Some(url) => crate::object::put(url, json),
                None => write_with(&side, |mut f| {
                    f.write_all(&json).map_err(|e| write_err(&side, e))
                }),
            }
        }
        _ => Ok(()),
    }
}

/// Writes the local file `path` through a temporary name beside it: `fill` writes the content,
/// which is synced and renamed onto `path`. Any failure leaves no temporary file.
pub fn write_with(path: &Path, fill: impl FnOnce(&std::fs::File) -> Result<()>) -> Result<()> {
    let tmp = stage_local(path, path, fill)?;
    rename_into_place(&tmp, path)
}

/// Renames a staged temporary file onto `path`; a failed rename leaves no temporary file.
fn rename_into_place(tmp: &Path, path: &Path) -> Result<()> {
    std::fs::rename(tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(tmp);
        io_err(path)(e)
    })
}

/// Encodes `batches` in `format` into `sink`, with `meta` (provenance JSON) under
/// [`METADATA_KEY`] in a Parquet or IPC file (a CSV file has nowhere to hold it); `path` only
/// names the target in errors, which are write errors ([`Error::Write`]): a full disk is not
/// "an unreadable file".
pub(crate) fn encode_to<W: Write + Send>(
    format: Format,
    path: &Path,
    schema: SchemaRef,
    batches: &[RecordBatch],
    meta: Option<&str>,
    sink: W,
) -> Result<()> {
    let arrow_err = |source: arrow::error::ArrowError| write_err(path, source);
    // In the Arrow schema too: an IPC file's schema message carries it, and in Parquet the
    // stored Arrow schema does, which is where pyarrow's `read_table(f).schema.metadata` looks
    // (the key-value metadata is where `read_metadata(f).metadata` and DuckDB look).
    let (schema, batches) = match meta {
        None => (schema, std::borrow::Cow::Borrowed(batches)),
        Some(m) => {
            let mut md = schema.metadata().clone();
            md.insert(METADATA_KEY.to_string(), m.to_string());
            let schema = Arc::new(schema.as_ref().clone().with_metadata(md));
            let batches = batches
                .iter()
                .map(|b| b.clone().with_schema(schema.clone()))
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(arrow_err)?;
            (schema, std::borrow::Cow::Owned(batches))
        }
    };
    let batches = batches.as_ref();
    match format {
        Format::Parquet => {
            let bytes: usize = batches.iter().map(|b| b.get_array_memory_size()).sum();
            let props = if bytes < SMALL_PARQUET_BYTES {
                WriterProperties::builder().set_compression(Compression::SNAPPY)
            } else {
                parquet_properties().into_builder()
            };
            let props = without_number_dictionaries(props, &schema)
                .set_key_value_metadata(
                    meta.map(|m| vec![KeyValue::new(METADATA_KEY.to_string(), m.to_string())]),
                )
                .build();
            let mut w =
                ArrowWriter::try_new(sink, schema, Some(props)).map_err(|e| write_err(path, e))?;
            for b in batches {
                w.write(b).map_err(|e| write_err(path, e))?;
            }
            w.close().map_err(|e| write_err(path, e))?;
        }
        Format::Ipc => {
            let mut w = arrow::ipc::writer::FileWriter::try_new(BufWriter::new(sink), &schema)
                .map_err(arrow_err)?;
            for b in batches {
                w.write(b).map_err(arrow_err)?;
            }
            w.finish().map_err(arrow_err)?;
        }
        Format::Csv => {
            let mut buf = BufWriter::new(sink);
            let mut w = arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(&mut buf);
            if batches.is_empty() {
                // A header alone still tells the reader the columns.
                let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
                drop(w);
                writeln!(buf, "{}", names.join(",")).map_err(|e| write_err(path, e))?;
            } else {
                for b in batches {
                    w.write(b).map_err(arrow_err)?;
                }
                drop(w);
            }
            buf.flush().map_err(|e| write_err(path, e))?;
        }
    }
    Ok(())
}

/// `dir/.name.PID.tmp` beside `path`: hidden, so directory readers skip it, and this
/// process's own, so two processes writing the same output never write into one temporary
/// file (the last rename wins whole; a shared name could rename a file another is still
/// writing).
pub fn temp_path(path: &Path) -> PathBuf {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("out");
    path.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}

/// How long a dead process's temporary file is left before [`sweep_stale_temps`] removes it.
const STALE_TEMP_AGE: std::time::Duration = std::time::Duration::from_secs(600);

/// Removes the `.NAME.PID.tmp` files beside `path` that a killed process left (a `kill -9`
/// while writing NAME skips the cleanup, and later runs, having other PIDs, would never write
/// over them): those whose process is gone and which have not changed for ten minutes. Only
/// where the process table can be read (`/proc`); elsewhere they are left, hidden, for the
/// user. The age keeps a live writer's file on a shared file system from another host's run,
/// whose PID this machine cannot see.
pub(crate) fn sweep_stale_temps(path: &Path) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return;
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let prefix = format!(".{name}.");
    for e in entries.flatten() {
        let file = e.file_name();
        let Some(pid) = (file.to_str())
            .and_then(|f| f.strip_prefix(&prefix))
            .and_then(|r| r.strip_suffix(".tmp"))
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        let idle = (e.metadata().and_then(|m| m.modified()).ok())
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age >= STALE_TEMP_AGE);
        if pid != std::process::id() && idle && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// `x.parquet` -> `x.exclusions.parquet`: where the ledger goes beside a scorecard.
pub fn sibling_path(path: &Path, infix: &str) -> PathBuf {
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("out");
    match path.extension().and_then(|e| e.to_str()) {
        Some(ext) => path.with_file_name(format!("{stem}.{infix}.{ext}")),
        None => path.with_file_name(format!("{stem}.{infix}")),
    }
}

/// Writes a temporary file beside `real` with `fill` and syncs it; on any failure the temporary
/// file is removed and the error names `shown`.
pub(crate) fn stage_local(
    real: &Path,
    shown: &Path,
    fill: impl FnOnce(&std::fs::File) -> Result<()>,
) -> Result<PathBuf> {
    if let Some(dir) = real.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    }
    sweep_stale_temps(real);
    let tmp = temp_path(real);
    let file = std::fs::File::create(&tmp).map_err(io_err(&tmp))?;
    let written = fill(&file).and_then(|()| file.sync_all().map_err(|e| write_err(shown, e)));
    if let Err(e) = written {
        drop(file);
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(tmp)
}

pub(crate) fn write_err(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Write {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_names_are_hidden_and_this_processes_own() {
        let t = temp_path(Path::new("/out/card.parquet"));
        let name = t.file_name().unwrap().to_str().unwrap();
        assert_eq!(name, format!(".card.parquet.{}.tmp", std::process::id()));
        assert_eq!(t.parent(), Some(Path::new("/out")));
    }
    #[test]
    fn a_killed_writers_temporary_file_is_swept_and_live_ones_are_not() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("card.parquet");
        let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        let temp = |pid: &str, old: bool| {
            let p = d.path().join(format!(".card.parquet.{pid}.tmp"));
            let f = std::fs::File::create(&p).unwrap();
            if old {
                f.set_modified(hour_ago).unwrap();
            }
            p
        };
        // PIDs above the kernel's limit (2^22) never run.
        let dead_old = temp("4194305", true);
        let dead_fresh = temp("4194306", false);
        let live_old = temp("1", true); // init: always running
        let other_output = temp_path(&d.path().join("card.parquet.1"));
        std::fs::write(&other_output, b"").unwrap();
        write_with(&out, |mut f| {
            f.write_all(b"x").map_err(|e| write_err(&out, e))
        })
        .unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), b"x");
        if Path::new("/proc/self").exists() {
            assert!(
                !dead_old.exists(),
                "a dead process's old temporary file is swept"
            );
        }
        assert!(
            dead_fresh.exists(),
            "a recent one may be another host's live write"
        );
        assert!(live_old.exists(), "a running process's file is its own");
        assert!(
            other_output.exists(),
            "another output's temporary file is not this one's"
        );
    }

    use arrow::array::{Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};

    #[test]
    fn text_columns_are_dictionary_encoded_and_number_columns_are_not() {
        use arrow::array::Float64Array;
        use parquet::file::reader::{FileReader, SerializedFileReader};
        let schema = Arc::new(Schema::new(vec![
            Field::new("borough", DataType::Utf8, false),
            Field::new("n", DataType::Int64, false),
            Field::new("p90_s", DataType::Float64, true),
        ]));
        let rows = 1000;
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from_iter_values(
                    (0..rows).map(|i| ["Camden", "Hackney"][i % 2]),
                )),
                Arc::new(Int64Array::from_iter_values(
                    (0..rows as i64).map(|i| i % 3),
                )),
                Arc::new(Float64Array::from_iter(
                    (0..rows).map(|i| Some(i as f64 / 7.0)),
                )),
            ],
        )
        .unwrap();
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("card.parquet");
        let file = std::fs::File::create(&path).unwrap();
        encode_to(
            Format::Parquet,
            &path,
            schema,
            std::slice::from_ref(&batch),
            None,
            file,
        )
        .unwrap();
        let reader = SerializedFileReader::new(std::fs::File::open(&path).unwrap()).unwrap();
        let group = reader.metadata().row_group(0);
        let dictionary: Vec<bool> = (group.columns().iter())
            .map(|c| c.dictionary_page_offset().is_some())
            .collect();
        assert_eq!(dictionary, [true, false, false], "borough, n, p90_s");
        let back: Vec<RecordBatch> =
            parquet::arrow::arrow_reader::ParquetRecordBatchReader::try_new(
                std::fs::File::open(&path).unwrap(),
                1024,
            )
            .unwrap()
            .collect::<std::result::Result<_, _>>()
            .unwrap();
        assert_eq!(back, [batch]);
    }

    #[test]
    fn writes_every_format_and_reads_parquet_back() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("a", DataType::Int64, false),
            Field::new("b", DataType::Utf8, true),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from(vec![1, 2])),
                Arc::new(StringArray::from(vec![Some("x"), None])),
            ],
        )
        .unwrap();
        let d = tempfile::tempdir().unwrap();
        for name in ["o.parquet", "o.arrow", "o.csv"] {
            let p = d.path().join(name);
            write_batches(&p, schema.clone(), std::slice::from_ref(&batch)).unwrap();
            assert!(p.metadata().unwrap().len() > 0);
            assert!(!temp_path(&p).exists());
        }
        let csv = std::fs::read_to_string(d.path().join("o.csv")).unwrap();
        assert_eq!(csv, "a,b\n1,x\n2,\n");
        let back = crate::parquet::read_file(&d.path().join("o.parquet")).unwrap();
        assert_eq!(back, vec![batch]);
        assert!(write_batches(&d.path().join("o.xlsx"), schema, &[]).is_err());
        assert_eq!(
            sibling_path(Path::new("/t/x.parquet"), "exclusions"),
            PathBuf::from("/t/x.exclusions.parquet")
        );
    }
}

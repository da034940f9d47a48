//! Reading Parquet files outside DataFusion: schemas for validation, batches for the stream.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};

use crate::error::{Error, Result, io_err};
use crate::provenance::METADATA_KEY;

fn builder(path: &Path) -> Result<ParquetRecordBatchReaderBuilder<File>> {
    let file = File::open(path).map_err(io_err(path))?;
    ParquetRecordBatchReaderBuilder::try_new(file).map_err(|source| Error::Parquet {
        path: path.to_path_buf(),
        source,
    })
}

/// A file's Arrow schema and row count, from its footer only. The schema has no provenance:
/// it says what made the file, not what the data is (see [`without_provenance`]).
pub fn read_schema(path: &Path) -> Result<(SchemaRef, u64)> {
    let b = builder(path)?;
    let rows = b.metadata().file_metadata().num_rows().max(0) as u64;
    Ok((without_provenance(b.schema()), rows))
}

/// `schema` without slate's provenance key, which the Parquet reader copies from the file's
/// key-value metadata into the schema's: two files of equal data then have equal schemas
/// whichever run wrote them (read it with [`crate::provenance::read`]).
pub fn without_provenance(schema: &SchemaRef) -> SchemaRef {
    if !schema.metadata().contains_key(METADATA_KEY) {
        return schema.clone();
    }
    let mut md = schema.metadata().clone();
    md.remove(METADATA_KEY);
    Arc::new(schema.as_ref().clone().with_metadata(md))
}

/// A streaming reader over a file's batches.
pub fn open(path: &Path, batch_size: usize) -> Result<ParquetRecordBatchReader> {
    builder(path)?
        .with_batch_size(batch_size)
        .build()
        .map_err(|source| Error::Parquet {
            path: path.to_path_buf(),
            source,
        })
}

/// Every batch of a file (for small files and tests), under its schema without provenance.
pub fn read_file(path: &Path) -> Result<Vec<RecordBatch>> {
    let err = |source| Error::Arrow {
        path: path.to_path_buf(),
        source,
    };
    let reader = open(path, 8192)?;
    let schema = without_provenance(&arrow::array::RecordBatchReader::schema(&reader));
    reader
        .map(|b| b.and_then(|b| b.with_schema(schema.clone())).map_err(err))
        .collect()
}

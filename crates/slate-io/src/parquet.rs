//! Reading Parquet files outside DataFusion: schemas for validation, batches for the stream.

use std::fs::File;
use std::path::Path;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};

use crate::error::{Error, Result, io_err};

fn builder(path: &Path) -> Result<ParquetRecordBatchReaderBuilder<File>> {
    let file = File::open(path).map_err(io_err(path))?;
    ParquetRecordBatchReaderBuilder::try_new(file).map_err(|source| Error::Parquet {
        path: path.to_path_buf(),
        source,
    })
}

/// A file's Arrow schema and row count, from its footer only.
pub fn read_schema(path: &Path) -> Result<(SchemaRef, u64)> {
    let b = builder(path)?;
    let rows = b.metadata().file_metadata().num_rows().max(0) as u64;
    Ok((b.schema().clone(), rows))
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

/// Every batch of a file (for small files and tests).
pub fn read_file(path: &Path) -> Result<Vec<RecordBatch>> {
    open(path, 8192)?
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|source| Error::Arrow {
            path: path.to_path_buf(),
            source,
        })
}

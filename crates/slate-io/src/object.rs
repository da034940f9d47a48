//! Inputs and outputs on object storage: `--input s3://bucket/prefix/`, `--out s3://bucket/key`.
//!
//! The store is DataFusion's own `object_store` (Amazon S3 or anything that speaks its API),
//! configured from the usual AWS environment variables: `AWS_ENDPOINT_URL` (or
//! `AWS_ENDPOINT`), `AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//! `AWS_SESSION_TOKEN`, and `AWS_ALLOW_HTTP=true` for a plain-HTTP endpoint. Every process
//! that reads the data (the client, a cluster's scheduler and executors) builds its store the
//! same way, from its own environment ([`s3_store`]).
//!
//! What is data under a prefix follows the local walker's rule ([`is_walked_data`]); a URL
//! naming one object is always read, as a file named on the command line is.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use arrow::datatypes::SchemaRef;
use futures::{FutureExt, StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::{BackoffConfig, ObjectMeta, ObjectStore, ObjectStoreExt, RetryConfig};
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions};
use parquet::errors::ParquetError;
use parquet::file::metadata::{FooterTail, ParquetMetaDataReader};

use crate::error::{Error, Result, object_err};
use crate::location::{DataKind, is_walked_data};
pub use crate::location::{S3_SCHEME, is_object_url, split_url};

/// One Parquet object found under the inputs: its URL, and from its footer its schema and rows.
#[derive(Debug, Clone)]
pub struct ObjectFile {
    /// `s3://bucket/key`.
    pub url: String,
    /// The footer's Arrow schema.
    pub schema: SchemaRef,
    /// The footer's row count.
    pub rows: u64,
    /// What the store says of the object (size, modification time, ETag), for provenance.
    pub facts: crate::provenance::InputFile,
}

/// An S3 store for `bucket`, configured from the `AWS_*` environment (see the module docs).
/// Transient failures are retried twice within 10 s, not the client's default ten times over
/// three minutes, so an endpoint that does not answer is an error in seconds (with the
/// client's 5 s connect timeout; `AWS_CONNECT_TIMEOUT` changes it). A refused request (no such
/// bucket, credentials refused) is not retried.
pub fn s3_store(bucket: &str) -> Result<Arc<dyn ObjectStore>> {
    let store = AmazonS3Builder::from_env()
        .with_bucket_name(bucket)
        .with_retry(RetryConfig {
            backoff: BackoffConfig::default(),
            max_retries: 2,
            retry_timeout: Duration::from_secs(10),
        })
        .build()
        .map_err(object_err(&format!("s3://{bucket}")))?;
    Ok(Arc::new(store))
}

/// Expands `s3://` inputs into the Parquet objects they hold, each with its footer's schema
/// and rows, sorted by URL and free of duplicates. A URL ending in `/` (or naming a bucket) is
/// a prefix walked by the local rule; one naming an existing object is that object; otherwise
/// it is taken as a prefix. Globs are not expanded on object storage.
pub fn expand_objects(args: &[String], kind: DataKind) -> Result<Vec<ObjectFile>> {
    if kind != DataKind::Parquet {
        return Err(Error::ObjectUrl {
            url: args.first().cloned().unwrap_or_default(),
            reason: "object storage holds canonical Parquet datasets only; \
                     import a mapped source to Parquet first (slate import)"
                .into(),
        });
    }
    block_on(async {
        let mut found: Vec<(Arc<dyn ObjectStore>, String, ObjectMeta)> = Vec::new();
        for arg in args {
            if arg.contains(['*', '?', '[']) {
                return Err(Error::ObjectUrl {
                    url: arg.clone(),
                    reason: "globs are not expanded on object storage; name a prefix ending in /"
                        .into(),
                });
            }
            let (bucket, key) = split_url(arg)?;
            let store = s3_store(bucket)?;
            let before = found.len();
            for meta in list(store.as_ref(), arg, key, kind).await? {
                let url = format!("s3://{bucket}/{}", meta.location);
                found.push((store.clone(), url, meta));
            }
            if found.len() == before {
                return Err(Error::EmptyDir {
                    dir: PathBuf::from(arg),
                    looked_for: kind.describe(),
                    hint: slate_core::ParamMessage::new(),
                });
            }
        }
        found.sort_by(|a, b| a.1.cmp(&b.1));
        found.dedup_by(|a, b| a.1 == b.1);
        // Footers are small and far away: read several at a time.
        let reads: Vec<_> = found
            .into_iter()
            .map(|(store, url, meta)| footer(store, url, meta).boxed())
            .collect();
        let mut files: Vec<ObjectFile> = futures::stream::iter(reads)
            .buffer_unordered(16)
            .try_collect()
            .await?;
        files.sort_by(|a, b| a.url.cmp(&b.url));
        Ok(files)
    })
}

/// The data objects `arg` names: the object `key` if it exists and does not end in `/`, else
/// every object below `key/` that the walker's rule takes as data.
async fn list(
    store: &dyn ObjectStore,
    arg: &str,
    key: &str,
    kind: DataKind,
) -> Result<Vec<ObjectMeta>> {
    let err = object_err(arg);
    let trimmed = key.trim_end_matches('/');
    let prefix = (!trimmed.is_empty()).then(|| ObjectPath::from(trimmed));
    if let Some(p) = prefix.as_ref().filter(|_| !key.ends_with('/')) {
        match store.head(p).await {
            Ok(meta) => return Ok(vec![meta]),
            Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(err.clone()(e)),
        }
    }
    let all: Vec<ObjectMeta> = store
        .list(prefix.as_ref())
        .try_collect()
        .await
        .map_err(err)?;
    let skip = prefix
        .as_ref()
        .map_or(0, |p| AsRef::<str>::as_ref(p).len() + 1);
    Ok(all
        .into_iter()
        .filter(|m| {
            let loc = m.location.as_ref();
            loc.get(skip..)
                .is_some_and(|relative| is_walked_data(relative, kind))
        })
        .collect())
}

/// Bucket and key of an output URL, which must name an object (not a prefix).
pub fn output_key(url: &str) -> Result<(&str, &str)> {
    let (bucket, key) = split_url(url)?;
    if key.is_empty() || key.ends_with('/') {
        return Err(Error::ObjectUrl {
            url: url.to_string(),
            reason: "an output needs an object key: s3://bucket/path/name.ext".into(),
        });
    }
    Ok((bucket, key))
}

/// Writes `bytes` as the object at `url` (`s3://bucket/key`), replacing any object there. An
/// S3 PUT is atomic: a reader sees the old object or the whole new one, as with the local
/// writer's rename.
pub fn put(url: &str, bytes: Vec<u8>) -> Result<()> {
    let (bucket, key) = output_key(url)?;
    let store = s3_store(bucket)?;
    let location = ObjectPath::from(key);
    block_on(async move {
        store
            .put(&location, bytes.into())
            .await
            .map_err(object_err(url))?;
        Ok(())
    })
}

/// How much of an object's end the first request reads: the footer of CAD data is a few KiB,
/// so one request usually has it all (DataFusion's scan guesses the same for its own reads).
const FOOTER_GUESS: u64 = 64 * 1024;

/// Schema and rows from an object's footer, read as the local reader reads a file's (the same
/// decoding, the same Arrow schema); an unreadable footer is named by URL.
async fn footer(store: Arc<dyn ObjectStore>, url: String, meta: ObjectMeta) -> Result<ObjectFile> {
    let corrupt = |source| Error::Parquet {
        path: PathBuf::from(&url),
        source,
    };
    let unreadable = object_err(&url);
    let size = meta.size;
    let too_small = || {
        corrupt(ParquetError::General(
            "too small for a Parquet footer".into(),
        ))
    };
    let mut tail = store
        .get_range(&meta.location, size.saturating_sub(FOOTER_GUESS)..size)
        .await
        .map_err(unreadable.clone())?;
    let last: &[u8; 8] = tail
        .len()
        .checked_sub(8)
        .and_then(|i| tail[i..].try_into().ok())
        .ok_or_else(too_small)?;
    let need = FooterTail::try_new(last)
        .map_err(corrupt)?
        .metadata_length() as u64
        + 8;
    if need > size {
        return Err(too_small());
    }
    if need > tail.len() as u64 {
        tail = store
            .get_range(&meta.location, size - need..size)
            .await
            .map_err(unreadable)?;
    }
    let end = tail.len() - 8;
    let metadata = ParquetMetaDataReader::decode_metadata(&tail[end + 8 - need as usize..end])
        .map_err(corrupt)?;
    let arrow = ArrowReaderMetadata::try_new(Arc::new(metadata), ArrowReaderOptions::new())
        .map_err(corrupt)?;
    let rows = arrow.metadata().file_metadata().num_rows().max(0) as u64;
    Ok(ObjectFile {
        facts: crate::provenance::InputFile {
            path: url.clone(),
            bytes: Some(meta.size),
            modified: Some(
                meta.last_modified
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            ),
            etag: meta.e_tag.clone(),
            rows: Some(rows),
        },
        rows,
        schema: arrow.schema().clone(),
        url,
    })
}

/// Runs `fut` to completion on a runtime of its own, on a thread of its own: callers are
/// synchronous, and may themselves be inside a runtime (where blocking on another panics).
fn block_on<T: Send>(fut: impl Future<Output = Result<T>> + Send) -> Result<T> {
    std::thread::scope(|s| {
        s.spawn(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| Error::Io {
                    path: PathBuf::from("s3://"),
                    source: e,
                })?
                .block_on(fut)
        })
        .join()
        .unwrap_or_else(|p| std::panic::resume_unwind(p))
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn urls() {
        assert!(is_object_url("s3://b/p/"));
        assert!(!is_object_url("/data/s3/x.parquet"));
        assert_eq!(split_url("s3://b/p/q/").unwrap(), ("b", "p/q/"));
        assert_eq!(split_url("s3://b").unwrap(), ("b", ""));
        assert!(split_url("s3:///k").is_err());
    }
}

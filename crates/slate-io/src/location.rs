//! Where data lives and what counts as data there: a local path or an object in a bucket
//! ([`Location`]), and the one rule for which files a walk takes ([`DataKind`],
//! [`is_walked_data`]). A leaf: the local walker ([`crate::input`]) and the object-store lister
//! ([`crate::object`]) both use it, and neither uses the other.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The URL scheme slate reads objects from.
pub const S3_SCHEME: &str = "s3";

/// Where an input or output lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A local file, folder or glob.
    Local(PathBuf),
    /// An object, or a prefix of objects, in a bucket (`s3://bucket/key`).
    Object {
        /// The bucket.
        bucket: String,
        /// The key or prefix, without a leading `/` (empty: the whole bucket).
        key: String,
    },
}

impl Location {
    /// Reads an `--input` or output argument: `s3://bucket/key` is an object (an error when it
    /// names no bucket), anything else a local path.
    pub fn parse(arg: &str) -> Result<Location> {
        if is_object_url(arg) {
            let (bucket, key) = split_url(arg)?;
            Ok(Location::Object {
                bucket: bucket.to_string(),
                key: key.to_string(),
            })
        } else {
            Ok(Location::Local(PathBuf::from(arg)))
        }
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Local(p) => write!(f, "{}", p.display()),
            Location::Object { bucket, key } => write!(f, "{S3_SCHEME}://{bucket}/{key}"),
        }
    }
}

/// Whether an argument names object storage rather than a local path.
pub fn is_object_url(arg: &str) -> bool {
    arg.starts_with("s3://")
}

/// Bucket and key (without a leading `/`) of an `s3://` URL.
pub fn split_url(url: &str) -> Result<(&str, &str)> {
    let rest = url.strip_prefix("s3://").ok_or_else(|| Error::ObjectUrl {
        url: url.to_string(),
        reason: "not an s3://bucket/key URL".into(),
    })?;
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(Error::ObjectUrl {
            url: url.to_string(),
            reason: "no bucket: expected s3://bucket/prefix/".into(),
        });
    }
    Ok((bucket, key))
}

/// Which files a directory walk takes as data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataKind {
    /// Canonical records: Parquet only.
    Parquet,
    /// A CAD export read through a mapping: CSV, TSV or Parquet.
    Source,
}

impl DataKind {
    pub(crate) fn accepts(self, name: &str) -> bool {
        let ext = Path::new(name)
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        matches!(
            (self, ext.as_deref()),
            (_, Some("parquet")) | (DataKind::Source, Some("csv" | "tsv"))
        )
    }

    pub(crate) fn describe(self) -> &'static str {
        match self {
            DataKind::Parquet => ".parquet",
            DataKind::Source => ".csv, .tsv or .parquet",
        }
    }
}

/// Whether a file or folder name is never data: it starts with `.` or `_` (see the module docs).
pub fn is_not_data(name: &str) -> bool {
    name.starts_with('.') || name.starts_with('_')
}

/// Whether a file found by a walk is data, given its path below the walked directory
/// (`/`-separated): no folder or name on the way starts with `.` or `_`, and the name has the
/// kind's extension. The directory walk ([`crate::input::expand`]) applies the same rule as it descends.
pub fn is_walked_data(relative: &str, kind: DataKind) -> bool {
    let mut parts = relative.split('/').filter(|p| !p.is_empty()).peekable();
    while let Some(part) = parts.next() {
        if is_not_data(part) {
            return false;
        }
        if parts.peek().is_none() {
            return kind.accepts(part);
        }
    }
    false
}

/// The URL when `path` names object storage rather than a local file.
pub fn object_url(path: &Path) -> Option<&str> {
    path.to_str().filter(|s| is_object_url(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_local_paths_or_objects() {
        assert_eq!(
            Location::parse("/data/s3/x.parquet").unwrap(),
            Location::Local(PathBuf::from("/data/s3/x.parquet"))
        );
        let o = Location::parse("s3://b/p/x.parquet").unwrap();
        assert_eq!(
            o,
            Location::Object {
                bucket: "b".into(),
                key: "p/x.parquet".into()
            }
        );
        assert_eq!(o.to_string(), "s3://b/p/x.parquet");
        assert!(Location::parse("s3:///key").is_err());
    }
}

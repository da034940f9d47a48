//! What made an output: written into every table slate writes, read back by `slate info`.
//!
//! A [`Provenance`] is filled in by the command (its command line; the policy, zone, window,
//! groups and percentile method of the run; the inputs with their sizes, modification times or
//! ETags and rows read) and attached by [`crate::plan::OutputPlan`] to every table it writes,
//! with the output's role and the time it was written:
//! - Parquet: the file's key-value metadata under [`METADATA_KEY`], which pyarrow
//!   (`pq.read_metadata(f).metadata`), DuckDB (`parquet_kv_metadata`) and Polars read;
//! - Arrow IPC: the schema's metadata under the same key;
//! - CSV: a sidecar `FILE.provenance.json` ([`sidecar_path`]), staged and committed with the
//!   CSV, since a comment header would make the file something other than CSV.
//!
//! The value is JSON ([`Provenance::to_json`]) so any tool can read it without slate.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result, io_err};
use crate::format::Format;
use crate::location::object_url;

/// The key of the provenance in Parquet key-value metadata and Arrow schema metadata.
pub const METADATA_KEY: &str = "slate.provenance";

/// What a CSV output's sidecar adds to its name.
pub const SIDECAR_SUFFIX: &str = ".provenance.json";

/// The sidecar holding a CSV output's provenance: `x.csv` -> `x.csv.provenance.json`.
pub fn sidecar_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(SIDECAR_SUFFIX);
    PathBuf::from(s)
}

/// Where an output's figures came from and what made it. Fields a command does not know (a
/// table computed from another table has no zone) are absent, not guessed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// slate's version.
    pub slate_version: String,
    /// The output this is (`scorecard`, `ledger`, `disparity`...), set by the plan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// When the output was written (RFC 3339, UTC), set by the plan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub written_at: Option<String>,
    /// The command line that wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// The policy the figures follow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<PolicyInfo>,
    /// Zone of the calendar windows (IANA name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// Window family (`month`, `week`...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<String>,
    /// Group columns, in order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_by: Option<Vec<String>>,
    /// Percentile definition (`linear`, `nearest-rank`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percentile_method: Option<String>,
    /// The source mapping the inputs were read through, when not canonical Parquet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Other settings of the command that shape the figures (a period, a channel, a what-if),
    /// by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub settings: BTreeMap<String, String>,
    /// The files read, in the order read.
    #[serde(default)]
    pub inputs: Vec<InputFile>,
    /// Records read, over all inputs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows_read: Option<u64>,
}

impl Default for Provenance {
    fn default() -> Self {
        Self::new()
    }
}

/// A policy as the figures used it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyInfo {
    /// As named to the command (`builtin:NAME` or a file).
    pub spec: String,
    /// The policy's own name.
    pub name: String,
    /// SHA-256 of its text, hex: equal hashes, the same policy text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Its TOML text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

impl PolicyInfo {
    /// The policy named `spec` (`builtin:NAME` or a file) whose own name is `name`: its text
    /// from the built-in table or the file, and the text's hash. A text that cannot be read
    /// again (the file was removed since) leaves both absent.
    pub fn of(spec: &str, name: &str) -> Self {
        let text = crate::policy::text(spec);
        Self {
            spec: spec.to_string(),
            name: name.to_string(),
            sha256: text.as_deref().map(sha256_hex),
            text,
        }
    }
}

/// Lower-case hex SHA-256 of `text`.
pub fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A file an output was computed from.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct InputFile {
    /// Path or URL as read.
    pub path: String,
    /// Size in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    /// Last modification (RFC 3339, UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified: Option<String>,
    /// The object's ETag (object storage).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// Rows read from it, when known per file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<u64>,
}

impl InputFile {
    /// A local file with its size and modification time from the file system (absent when it
    /// cannot be read: the record says what is known, and the read itself reports the error).
    pub fn local(path: &Path, rows: Option<u64>) -> Self {
        let meta = std::fs::metadata(path).ok();
        Self {
            path: path.display().to_string(),
            bytes: meta.as_ref().map(std::fs::Metadata::len),
            modified: meta
                .and_then(|m| m.modified().ok())
                .map(|t| rfc3339(chrono::DateTime::<chrono::Utc>::from(t))),
            etag: None,
            rows,
        }
    }
}

fn rfc3339(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

impl Provenance {
    /// This slate's version and nothing else yet.
    pub fn new() -> Self {
        Self {
            slate_version: env!("CARGO_PKG_VERSION").to_string(),
            output: None,
            written_at: None,
            command: None,
            policy: None,
            zone: None,
            window: None,
            group_by: None,
            percentile_method: None,
            source: None,
            settings: BTreeMap::new(),
            inputs: Vec::new(),
            rows_read: None,
        }
    }

    /// This provenance for the output `role`, written now.
    pub fn stamped(&self, role: &str) -> Self {
        Self {
            output: Some(role.to_string()),
            written_at: Some(rfc3339(chrono::Utc::now())),
            ..self.clone()
        }
    }

    /// Compact JSON, as stored in metadata.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("provenance serialises")
    }

    /// Indented JSON, as in a sidecar and `slate info --json`.
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self).expect("provenance serialises")
    }

    /// Reads the JSON of [`to_json`](Self::to_json); `path` names the file in errors.
    pub fn from_json(path: &Path, text: &str) -> Result<Self> {
        serde_json::from_str(text).map_err(|e| Error::Provenance {
            path: path.to_path_buf(),
            reason: format!("its {METADATA_KEY} is not slate's provenance JSON: {e}"),
        })
    }

    /// What it says, one `label: value` line each, for people. The policy text is last,
    /// indented.
    pub fn describe(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut line = |k: &str, v: &str| out.push(format!("{k:<18} {v}"));
        if let Some(o) = &self.output {
            line("output", o);
        }
        line("slate version", &self.slate_version);
        if let Some(w) = &self.written_at {
            line("written at", w);
        }
        if let Some(c) = &self.command {
            line("command", c);
        }
        if let Some(p) = &self.policy {
            let same = if p.spec.ends_with(&p.name) {
                p.spec.clone()
            } else {
                format!("{} ({})", p.name, p.spec)
            };
            line("policy", &same);
            if let Some(h) = &p.sha256 {
                line("policy sha256", h);
            }
        }
        for (k, v) in [
            ("zone", &self.zone),
            ("window", &self.window),
            ("percentile method", &self.percentile_method),
            ("source mapping", &self.source),
        ] {
            if let Some(v) = v {
                line(k, v);
            }
        }
        if let Some(g) = &self.group_by {
            line(
                "group by",
                &if g.is_empty() {
                    "none".to_string()
                } else {
                    g.join(", ")
                },
            );
        }
        for (k, v) in &self.settings {
            line(k, v);
        }
        if let Some(r) = self.rows_read {
            line("rows read", &r.to_string());
        }
        line("inputs", &self.inputs.len().to_string());
        for i in &self.inputs {
            let mut facts = Vec::new();
            if let Some(b) = i.bytes {
                facts.push(format!("{b} bytes"));
            }
            if let Some(m) = &i.modified {
                facts.push(format!("modified {m}"));
            }
            if let Some(e) = &i.etag {
                facts.push(format!("ETag {e}"));
            }
            if let Some(r) = i.rows {
                facts.push(format!("{r} rows"));
            }
            out.push(if facts.is_empty() {
                format!("  {}", i.path)
            } else {
                format!("  {} ({})", i.path, facts.join(", "))
            });
        }
        if let Some(t) = self.policy.as_ref().and_then(|p| p.text.as_ref()) {
            out.push("policy text".to_string());
            out.extend(t.lines().map(|l| format!("  {l}")));
        }
        out
    }
}

/// The provenance of an output slate wrote: from a Parquet file's key-value metadata, an Arrow
/// IPC file's schema metadata, or a CSV file's sidecar. A file without it (written by another
/// tool, or by a slate before provenance) is an error saying so.
pub fn read(path: &Path) -> Result<Provenance> {
    if object_url(path).is_some() {
        return Err(Error::Provenance {
            path: path.to_path_buf(),
            reason: "provenance is read from local files; copy the object here first".into(),
        });
    }
    let missing = |what: &str| Error::Provenance {
        path: path.to_path_buf(),
        reason: format!(
            "{what}: it was not written by slate (or by a slate older than provenance)"
        ),
    };
    match Format::from_path(path)? {
        Format::Parquet => {
            let file = File::open(path).map_err(io_err(path))?;
            let meta = parquet::file::metadata::ParquetMetaDataReader::new()
                .parse_and_finish(&file)
                .map_err(|source| Error::Parquet {
                    path: path.to_path_buf(),
                    source,
                })?;
            let value = meta
                .file_metadata()
                .key_value_metadata()
                .and_then(|kv| kv.iter().find(|k| k.key == METADATA_KEY))
                .and_then(|k| k.value.clone())
                .ok_or_else(|| missing(&format!("no {METADATA_KEY} key-value metadata")))?;
            Provenance::from_json(path, &value)
        }
        Format::Ipc => {
            let file = File::open(path).map_err(io_err(path))?;
            let reader = arrow::ipc::reader::FileReader::try_new(file, None).map_err(|source| {
                Error::Arrow {
                    path: path.to_path_buf(),
                    source,
                }
            })?;
            let value = reader
                .schema()
                .metadata()
                .get(METADATA_KEY)
                .cloned()
                .ok_or_else(|| missing(&format!("no {METADATA_KEY} schema metadata")))?;
            Provenance::from_json(path, &value)
        }
        Format::Csv => {
            let side = sidecar_path(path);
            if !path.exists() {
                return Err(io_err(path)(std::io::ErrorKind::NotFound.into()));
            }
            let text = match std::fs::read_to_string(&side) {
                Ok(t) => t,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(missing(&format!(
                        "no sidecar {} beside it",
                        side.file_name().map_or_else(
                            || side.display().to_string(),
                            |n| n.to_string_lossy().into_owned()
                        )
                    )));
                }
                Err(e) => return Err(io_err(&side)(e)),
            };
            Provenance::from_json(&side, &text)
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn round_trips_through_json_and_describes_itself() {
        let mut p = Provenance::new();
        p.command = Some("slate run -i d --out x.parquet".into());
        p.policy = Some(PolicyInfo::of(
            "builtin:mps-promise-2008",
            "mps-promise-2008",
        ));
        p.zone = Some("Europe/London".into());
        p.group_by = Some(vec!["borough".into()]);
        p.inputs.push(InputFile {
            path: "d/a.parquet".into(),
            bytes: Some(10),
            rows: Some(3),
            ..InputFile::default()
        });
        let s = p.stamped("scorecard");
        let back = Provenance::from_json(Path::new("x"), &s.to_json()).unwrap();
        assert_eq!(back, s);
        let policy = s.policy.as_ref().unwrap();
        let text = slate_core::policy::builtin_text("mps-promise-2008").unwrap();
        assert_eq!(policy.text.as_deref(), Some(text));
        assert_eq!(policy.sha256.as_deref().map(str::len), Some(64));
        let lines = s.describe().join("\n");
        assert!(lines.contains("output             scorecard"), "{lines}");
        assert!(
            lines.contains("  d/a.parquet (10 bytes, 3 rows)"),
            "{lines}"
        );
        assert!(
            Provenance::from_json(Path::new("x"), "{}")
                .unwrap_err()
                .to_string()
                .contains("slate_version")
        );
    }

    #[test]
    fn the_hash_is_sha256() {
        // `printf abc | sha256sum`
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn a_file_slate_did_not_write_says_so() {
        let d = tempfile::tempdir().unwrap();
        let csv = d.path().join("x.csv");
        std::fs::write(&csv, "a\n1\n").unwrap();
        let e = read(&csv).unwrap_err().to_string();
        assert!(
            e.contains("no sidecar x.csv.provenance.json") && e.contains("not written by slate"),
            "{e}"
        );
        let schema = std::sync::Arc::new(arrow::datatypes::Schema::new(vec![
            arrow::datatypes::Field::new("a", arrow::datatypes::DataType::Int64, false),
        ]));
        for name in ["x.parquet", "x.arrow"] {
            let f = d.path().join(name);
            crate::write_batches(&f, schema.clone(), &[]).unwrap();
            let e = read(&f).unwrap_err().to_string();
            assert!(e.contains("no slate.provenance"), "{e}");
        }
        assert!(matches!(
            read(&d.path().join("x.txt")),
            Err(Error::UnknownFormat(_))
        ));
    }
}

//! Checkpoints and the state directory: what a restart may trust.
//!
//! A checkpoint proves what it is. Its first line carries the format, a CRC-32 of the JSON
//! after it and that JSON's length, so a damaged or truncated file is refused (naming it),
//! never resumed and never taken for "no checkpoint". The JSON holds the settings' fingerprint
//! and the source's identity (replayed files with their sizes and modification times), so a
//! state directory is only resumed over the input and settings that wrote it; the source checks
//! the position against what it holds ([`crate::runtime`]). The state directory is locked for
//! the life of a stream: an OS advisory lock that the kernel releases when the process ends,
//! however it ends.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use crate::error::{Error, Result, io};
use crate::spec::SourceSpec;
use crate::state::{State, StreamConfig};

/// The checkpoint's file name in the state directory.
pub const CHECKPOINT: &str = "checkpoint.json";
/// The lock file's name in the state directory; it holds the locking process's id.
pub const LOCK: &str = "lock";
/// The first word of a checkpoint's header line, and the format it is followed by.
const MAGIC: &str = "slate-checkpoint";
const FORMAT: u32 = 2;

/// The settings a checkpoint is only valid for.
fn fingerprint(cfg: &StreamConfig) -> String {
    format!(
        "{}|{}|{:?}|{}|{}|{}|{:?}|{:?}|{}|{:?}|ambiguous={}",
        cfg.policy.name,
        cfg.opts.window,
        cfg.opts.group_by,
        cfg.opts.tz.name(),
        cfg.lateness_us,
        cfg.settle_us,
        cfg.late,
        cfg.opts.method,
        cfg.emit_every_us,
        cfg.revise_horizon_us,
        cfg.ambiguous
    )
}

/// A file as a checkpoint remembers it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct FileId {
    /// Canonical path (`None` for standard input).
    path: Option<String>,
    size: u64,
    /// Modification time: seconds and nanoseconds since the epoch.
    mtime: (i64, u32),
}

impl FileId {
    fn of(path: Option<String>, meta: &std::fs::Metadata) -> Self {
        let mtime = match meta.modified().map(|t| t.duration_since(UNIX_EPOCH)) {
            Ok(Ok(d)) => (
                i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
                d.subsec_nanos(),
            ),
            Ok(Err(before)) => (
                -i64::try_from(before.duration().as_secs()).unwrap_or(i64::MAX),
                before.duration().subsec_nanos(),
            ),
            Err(_) => (0, 0),
        };
        FileId {
            path,
            size: meta.len(),
            mtime,
        }
    }

    fn describe(&self) -> String {
        let when = chrono::DateTime::from_timestamp(self.mtime.0, self.mtime.1)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true))
            .unwrap_or_else(|| format!("{}.{:09}", self.mtime.0, self.mtime.1));
        format!("{} bytes, modified {when}", self.size)
    }
}

/// What a stream reads, as far as it can be identified.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub(crate) enum SourceId {
    /// Replayed files, in reading order.
    Replay {
        /// The files.
        files: Vec<FileId>,
    },
    /// A watched directory: files keep arriving, so only the directory is named; the position
    /// is checked against the files present.
    Dir {
        /// Canonical path.
        path: String,
    },
    /// Standard input: a regular file redirected in is identified by size and modification
    /// time; a pipe cannot be identified, only its length checked against the position.
    Stdin {
        /// The redirected file (`None`: a pipe or terminal).
        file: Option<FileId>,
    },
    /// A Kafka topic: the checkpoint's offsets are checked against each partition's range.
    Kafka {
        /// The topic.
        topic: String,
    },
}

fn canonical(p: &Path) -> String {
    std::fs::canonicalize(p)
        .unwrap_or_else(|_| p.to_path_buf())
        .display()
        .to_string()
}

impl SourceId {
    /// The identity of `spec`'s source now.
    pub(crate) fn of(spec: &SourceSpec) -> Result<Self> {
        Ok(match spec {
            SourceSpec::Replay { inputs, .. } => {
                let mut files = Vec::new();
                for f in slate_io::expand_inputs(inputs)? {
                    let meta = std::fs::metadata(&f).map_err(io(&f))?;
                    files.push(FileId::of(Some(canonical(&f)), &meta));
                }
                SourceId::Replay { files }
            }
            SourceSpec::Dir { path, .. } => SourceId::Dir {
                path: canonical(path),
            },
            SourceSpec::Stdin(_) => SourceId::Stdin { file: stdin_file() },
            SourceSpec::Kafka(k) => SourceId::Kafka {
                topic: k.topic.clone(),
            },
        })
    }

    fn describe(&self) -> String {
        match self {
            SourceId::Replay { files } => match files.first().and_then(|f| f.path.as_deref()) {
                Some(first) if files.len() > 1 => {
                    format!("a replay of {} files ({first}, ...)", files.len())
                }
                Some(first) => format!("a replay of {first}"),
                None => "a replay of no files".into(),
            },
            SourceId::Dir { path } => format!("the watched directory {path}"),
            SourceId::Stdin { file: Some(_) } => "standard input from a file".into(),
            SourceId::Stdin { file: None } => "standard input from a pipe or a device".into(),
            SourceId::Kafka { topic } => format!("the Kafka topic {topic}"),
        }
    }

    /// Why a checkpoint of source `self` cannot be resumed over source `now`, if it cannot.
    fn mismatch(&self, now: &SourceId) -> Option<String> {
        match (self, now) {
            (SourceId::Replay { files: was }, SourceId::Replay { files: is }) => {
                let paths = |f: &[FileId]| f.iter().map(|f| f.path.clone()).collect::<Vec<_>>();
                if paths(was) != paths(is) {
                    return Some(format!(
                        "written for another input ({}; this run reads {})",
                        self.describe(),
                        now.describe()
                    ));
                }
                was.iter().zip(is).find(|(a, b)| a != b).map(|(a, b)| {
                    format!(
                        "input {} changed since the checkpoint was written ({} then, {} now)",
                        a.path.as_deref().unwrap_or("-"),
                        a.describe(),
                        b.describe()
                    )
                })
            }
            (SourceId::Stdin { file: Some(a) }, SourceId::Stdin { file: Some(b) }) if a != b => {
                Some(format!(
                    "written for another input (standard input was a file of {}, now {})",
                    a.describe(),
                    b.describe()
                ))
            }
            // A pipe cannot be identified: its length is checked against the position.
            (SourceId::Stdin { .. }, SourceId::Stdin { .. }) => None,
            (a, b) if a != b => Some(format!(
                "written for another input ({}; this run reads {})",
                a.describe(),
                b.describe()
            )),
            _ => None,
        }
    }
}

/// Standard input's identity when it is a regular file.
#[cfg(unix)]
fn stdin_file() -> Option<FileId> {
    use std::os::fd::AsFd;
    let fd = std::io::stdin().as_fd().try_clone_to_owned().ok()?;
    let meta = File::from(fd).metadata().ok()?;
    meta.is_file().then(|| FileId::of(None, &meta))
}

/// Standard input's identity: not available here.
#[cfg(not(unix))]
fn stdin_file() -> Option<FileId> {
    None
}

/// Where a source that seeks (Kafka) stands after the updates a state holds: written in the
/// same checkpoint as the state, so a restart seeks to it and neither loses nor repeats a
/// message.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SourceProgress {
    /// Partition: the next offset to read.
    pub offsets: std::collections::BTreeMap<i32, i64>,
    /// The messages read so far that held unreadable updates (never read again).
    pub rejects: Vec<crate::source::Reject>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Checkpoint {
    fingerprint: String,
    source: SourceId,
    state: State,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    progress: Option<SourceProgress>,
}

/// A state directory's checkpoints for one run: its settings and its source's identity.
pub(crate) struct Checkpoints {
    dir: PathBuf,
    fingerprint: String,
    source: SourceId,
}

impl Checkpoints {
    /// Checkpoints in `dir` for settings `cfg` and source `source`.
    pub(crate) fn new(dir: &Path, cfg: &StreamConfig, source: &SourceSpec) -> Result<Self> {
        Ok(Checkpoints {
            dir: dir.to_path_buf(),
            fingerprint: fingerprint(cfg),
            source: SourceId::of(source)?,
        })
    }

    /// What about the source cannot be checked against a checkpoint.
    pub(crate) fn unverified(&self) -> Option<String> {
        matches!(self.source, SourceId::Stdin { file: None }).then(|| {
            "standard input is a pipe or a device, whose content cannot be identified: only that it \
             holds at least the checkpoint's position is checked"
                .to_string()
        })
    }

    /// The checkpoint's path.
    pub(crate) fn path(&self) -> PathBuf {
        self.dir.join(CHECKPOINT)
    }

    /// The checkpointed state; `None` only when there is no checkpoint file at all. A damaged
    /// checkpoint, or one of other settings or another input, is an error.
    pub(crate) fn load(&self) -> Result<Option<(State, Option<SourceProgress>)>> {
        let path = self.path();
        let bad = |reason: String| Error::Checkpoint {
            path: path.display().to_string(),
            reason,
        };
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(&path)(e)),
        };
        let body = verified_body(&bytes).map_err(bad)?;
        let cp: Checkpoint =
            serde_json::from_slice(body).map_err(|e| bad(format!("unreadable: {e}")))?;
        if cp.fingerprint != self.fingerprint {
            return Err(bad(format!(
                "written with other settings ({}); use a new state directory",
                cp.fingerprint
            )));
        }
        if let Some(why) = cp.source.mismatch(&self.source) {
            return Err(bad(format!("{why}; use a new state directory")));
        }
        Ok(Some((cp.state, cp.progress)))
    }

    /// Writes a checkpoint atomically: temporary file, fsync, rename, fsync of the directory.
    /// A failed write removes its temporary file. `progress`: where a seeking source stands.
    pub(crate) fn save(&self, state: State, progress: Option<&SourceProgress>) -> Result<()> {
        let dir = &self.dir;
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let cp = Checkpoint {
            fingerprint: self.fingerprint.clone(),
            source: self.source.clone(),
            state,
            progress: progress.cloned(),
        };
        let body = serde_json::to_vec(&cp).map_err(|e| Error::Pipeline(e.to_string()))?;
        let header = format!(
            "{MAGIC} {FORMAT} crc32={:08x} len={}\n",
            crc32(&body),
            body.len()
        );
        let path = self.path();
        slate_io::output::write_with(&path, |mut f| {
            f.write_all(header.as_bytes())
                .and_then(|()| f.write_all(&body))
                .map_err(|e| slate_io::Error::Write {
                    path: path.clone(),
                    reason: e.to_string(),
                })
        })?;
        File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
    }
}

/// CRC-32 (IEEE 802.3, as zlib and PNG): a checkpoint is read once per restart and written
/// every few seconds, so a table-driven loop is fast enough and saves a dependency whose
/// features would rebuild DataFusion's compression stack.
fn crc32(bytes: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut t = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 == 1 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
                k += 1;
            }
            t[i] = c;
            i += 1;
        }
        t
    };
    !bytes.iter().fold(!0u32, |c, &b| {
        TABLE[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8)
    })
}

/// The JSON of a checkpoint file whose header's length and checksum hold.
fn verified_body(bytes: &[u8]) -> std::result::Result<&[u8], String> {
    if bytes.first() == Some(&b'{') {
        return Err(
            "written by an older slate, without a checksum; use a new state directory".into(),
        );
    }
    let split = bytes.iter().position(|&b| b == b'\n');
    let (header, body) = match split {
        Some(i) => (&bytes[..i], &bytes[i + 1..]),
        None => (bytes, &bytes[bytes.len()..]),
    };
    let header = std::str::from_utf8(header).unwrap_or("");
    let mut words = header.split(' ');
    let (magic, format, crc, len) = (words.next(), words.next(), words.next(), words.next());
    let crc = crc
        .and_then(|c| c.strip_prefix("crc32="))
        .and_then(|c| u32::from_str_radix(c, 16).ok());
    let len = len
        .and_then(|l| l.strip_prefix("len="))
        .and_then(|l| l.parse::<usize>().ok());
    let (Some(MAGIC), Some(format), Some(crc), Some(len), None) =
        (magic, format, crc, len, words.next())
    else {
        return Err(format!(
            "not a slate checkpoint (damaged or empty: {} bytes, no valid header line); \
             it was not used: restore it, or use a new state directory",
            bytes.len()
        ));
    };
    if format != FORMAT.to_string() {
        return Err(format!(
            "checkpoint format {format}, this slate reads format {FORMAT}; use a new state directory"
        ));
    }
    if body.len() != len {
        return Err(format!(
            "damaged: {} bytes where the header says {len} (truncated or appended to); \
             it was not used: restore it, or use a new state directory",
            body.len()
        ));
    }
    let actual = crc32(body);
    if actual != crc {
        return Err(format!(
            "damaged: checksum mismatch (header crc32={crc:08x}, contents crc32={actual:08x}); \
             it was not used: restore it, or use a new state directory"
        ));
    }
    Ok(body)
}

/// Loads the checkpoint in `dir` written for settings `cfg` and source `source`; `None` when
/// there is none. A damaged checkpoint, or one of other settings or another input, is an error.
pub fn load_checkpoint(
    dir: &Path,
    cfg: &StreamConfig,
    source: &SourceSpec,
) -> Result<Option<State>> {
    Ok(Checkpoints::new(dir, cfg, source)?.load()?.map(|(s, _)| s))
}

/// Writes `state` as the checkpoint in `dir` for settings `cfg` and source `source`.
pub fn save_checkpoint(
    dir: &Path,
    cfg: &StreamConfig,
    source: &SourceSpec,
    state: State,
) -> Result<()> {
    Checkpoints::new(dir, cfg, source)?.save(state, None)
}

/// An exclusive lock on a state directory, held while a stream runs: an OS advisory lock
/// (`flock`) on `DIR/lock`, which the kernel releases when the process ends, even by SIGKILL.
/// The file holds the holder's process id, for the error a second stream gets.
#[derive(Debug)]
pub(crate) struct StateLock {
    _file: File,
}

impl StateLock {
    /// Locks `dir` (creating it), or fails at once when another stream holds it.
    pub(crate) fn acquire(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let path = dir.join(LOCK);
        // Not truncated on open: the holder's id must stay readable until we hold the lock.
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io(&path))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                let holder = match text.trim() {
                    "" => "another process".to_string(),
                    pid => format!("process {pid}"),
                };
                return Err(Error::Locked {
                    dir: dir.display().to_string(),
                    holder,
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(&path)(e)),
        }
        file.set_len(0).map_err(io(&path))?;
        writeln!(file, "{}", std::process::id()).map_err(io(&path))?;
        file.flush().map_err(io(&path))?;
        Ok(StateLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_is_the_ieee_crc() {
        assert_eq!(crc32(b""), 0);
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn a_failed_checkpoint_write_leaves_no_temporary_file() {
        let d = tempfile::tempdir().unwrap();
        // The checkpoint's name is taken by a directory: the rename fails.
        std::fs::create_dir_all(d.path().join(CHECKPOINT).join("x")).unwrap();
        let cps = Checkpoints {
            dir: d.path().to_path_buf(),
            fingerprint: "f".into(),
            source: SourceId::Dir { path: "d".into() },
        };
        assert!(cps.save(State::default(), None).is_err());
        let left: Vec<_> = std::fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, vec![std::ffi::OsString::from(CHECKPOINT)]);
    }

    #[test]
    fn a_checkpoint_round_trips_and_any_damage_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let cps = Checkpoints {
            dir: d.path().to_path_buf(),
            fingerprint: "f".into(),
            source: SourceId::Dir { path: "d".into() },
        };
        assert!(cps.load().unwrap().is_none());
        let mut s = State::default();
        s.position = 12345;
        cps.save(s.clone(), None).unwrap();
        let (back, progress) = cps.load().unwrap().unwrap();
        assert_eq!((back.position, progress), (12345, None));
        // A seeking source's offsets and rejects come back with the state they were saved with.
        let at = SourceProgress {
            offsets: [(0, 7), (2, 40)].into(),
            rejects: vec![crate::source::Reject {
                file: "cad[2]@39".into(),
                row: 1,
                reason: "not JSON".into(),
            }],
        };
        cps.save(s.clone(), Some(&at)).unwrap();
        assert_eq!(cps.load().unwrap().unwrap().1, Some(at));
        cps.save(s, None).unwrap();
        let good = std::fs::read(cps.path()).unwrap();
        let at = good.windows(5).position(|w| w == b"12345").unwrap();
        let mut cases: Vec<(Vec<u8>, &str)> = vec![
            (Vec::new(), "not a slate checkpoint"),
            (good[..good.len() - 1].to_vec(), "truncated"),
            (b"{\"fingerprint\":\"f\"}".to_vec(), "older slate"),
        ];
        let mut digit = good.clone();
        digit[at + 4] = b'6';
        cases.push((digit, "checksum mismatch"));
        for (bytes, want) in cases {
            std::fs::write(cps.path(), &bytes).unwrap();
            let e = cps.load().unwrap_err().to_string();
            assert!(
                e.contains(want) && e.contains(&cps.path().display().to_string()),
                "{e}"
            );
        }
    }
}

//! Reading the small text files a user names (policies, calendars, a token) with a size cap.
//!
//! A policy naming `calendar = "/dev/zero"` would otherwise be read until memory runs out, and a
//! FIFO would block the reader for ever. Only regular files are read, and at most
//! [`MAX_TEXT_FILE_BYTES`] of them.

use std::io::Read;
use std::path::Path;

/// The largest policy, calendar or token file slate reads: 16 MiB (real ones are a few KB).
pub const MAX_TEXT_FILE_BYTES: u64 = 16 << 20;

/// Reads a regular file of at most [`MAX_TEXT_FILE_BYTES`] as UTF-8 text. The error says what
/// is wrong; the caller names the file.
pub fn read_text_file(path: &Path) -> std::io::Result<String> {
    // `metadata` follows symbolic links and opens nothing, so a FIFO is refused unopened.
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file (devices, pipes and directories are not read)",
        ));
    }
    let too_big = |n: u64| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "{n} bytes or more; slate reads files of this kind up to {MAX_TEXT_FILE_BYTES} bytes (16 MiB)"
            ),
        )
    };
    if meta.len() > MAX_TEXT_FILE_BYTES {
        return Err(too_big(meta.len()));
    }
    // The file may grow after `metadata` (or report no size, as /proc files do): read one byte
    // past the cap at most.
    let mut text = String::new();
    std::fs::File::open(path)?
        .take(MAX_TEXT_FILE_BYTES + 1)
        .read_to_string(&mut text)?;
    if text.len() as u64 > MAX_TEXT_FILE_BYTES {
        return Err(too_big(text.len() as u64));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_and_files_over_the_cap_are_refused() {
        let e = read_text_file(Path::new("/dev/zero"))
            .err()
            .map(|e| e.to_string());
        assert!(e.is_some_and(|e| e.contains("not a regular file")));
        let dir = std::env::temp_dir().join(format!("slate-textfile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let big = dir.join("big.toml");
        // A sparse file just over the cap: no 16 MiB written.
        std::fs::File::create(&big)
            .unwrap()
            .set_len(MAX_TEXT_FILE_BYTES + 1)
            .unwrap();
        let e = read_text_file(&big).err().map(|e| e.to_string());
        assert!(e.is_some_and(|e| e.contains("16777217 bytes") && e.contains("16 MiB")));
        let ok = dir.join("ok.toml");
        std::fs::write(&ok, "name = \"x\"\n").unwrap();
        assert_eq!(read_text_file(&ok).unwrap(), "name = \"x\"\n");
        assert!(read_text_file(&dir).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

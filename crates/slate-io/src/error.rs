//! Errors of the I/O crate; each names the file it concerns.

use std::path::PathBuf;

/// An I/O failure, with the path it happened on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file system refused.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A Parquet file is unreadable, truncated or not Parquet.
    #[error("{}: not a readable Parquet file: {source}", path.display())]
    Parquet {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: parquet::errors::ParquetError,
    },
    /// Arrow failed on a file's data.
    #[error("{}: {source}", path.display())]
    Arrow {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: arrow::error::ArrowError,
    },
    /// Writing an output failed (a full disk, a refused write, data the format cannot hold).
    #[error("{}: could not write: {reason}", path.display())]
    Write {
        /// The output.
        path: PathBuf,
        /// The cause.
        reason: String,
    },
    /// An output cannot be written where it is named.
    #[error("the {role} output {}: {reason}", path.display())]
    Output {
        /// What the output is (scorecard, ledger, report...).
        role: String,
        /// The output as named.
        path: PathBuf,
        /// Why not.
        reason: String,
    },
    /// Two outputs of one command are the same file.
    #[error("the {a_role} output {} and the {b_role} output {} are the same file: name them apart", a.display(), b.display())]
    SameOutput {
        /// The first output's role.
        a_role: String,
        /// The first output.
        a: PathBuf,
        /// The second output's role.
        b_role: String,
        /// The second output.
        b: PathBuf,
    },
    /// An output would replace or delete an input.
    #[error(
        "the {role} {} {} {} the {input_role} {input}: refusing to replace an input; write it elsewhere",
        if *dir { "directory" } else { "output" },
        path.display(),
        if *dir { "holds" } else { "is" }
    )]
    OutputIsInput {
        /// What the output is.
        role: String,
        /// The output as named.
        path: PathBuf,
        /// What the input is.
        input_role: String,
        /// The input (and the file under it that collides).
        input: String,
        /// Whether the output is a directory.
        dir: bool,
    },
    /// An input path matched nothing.
    #[error("{0}: no such file, directory or matching glob")]
    NoInput(String),
    /// An input directory held no file of a readable kind.
    #[error("{}: no {looked_for} files found{hint}", dir.display())]
    EmptyDir {
        /// The directory.
        dir: PathBuf,
        /// The extensions looked for.
        looked_for: &'static str,
        /// What else is there and how to read it, or empty.
        hint: slate_core::ParamMessage,
    },
    /// The output extension is not one slate writes.
    #[error("{}: unknown output format; use .parquet, .arrow (IPC) or .csv", .0.display())]
    UnknownFormat(PathBuf),
    /// A source mapping is not valid TOML or has unknown fields.
    #[error("mapping {origin}: {reason}")]
    MappingSyntax {
        /// Where the mapping came from (file path or built-in name).
        origin: String,
        /// The parser's message.
        reason: String,
    },
    /// A mapping field is missing or has a value slate cannot use.
    #[error("mapping {mapping:?}, field `{field}`: {reason}")]
    InvalidMapping {
        /// Name of the mapping.
        mapping: String,
        /// The offending field, e.g. `columns.arrived.format`.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No built-in mapping has that name and no such file exists.
    #[error("{0:?} is neither a built-in source mapping ({1}) nor a readable .toml file")]
    UnknownMapping(String, String),
    /// A source file lacks a column its mapping names (every row would fail, so the file does).
    #[error("{}: {reason}", path.display())]
    SourceColumn {
        /// The file.
        path: PathBuf,
        /// What is missing or ambiguous, with the file's header.
        reason: String,
    },
    /// The CSV reader failed on a file (I/O, not a malformed row: those are rejects).
    #[error("{}: {source}", path.display())]
    Csv {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: csv::Error,
    },
    /// An output directory already holds files.
    #[error("{}: {}", .0.display(), .1)]
    NotEmpty(PathBuf, slate_core::ParamMessage),
    /// Object storage could not be listed or read (no such bucket, refused credentials, no
    /// answer from the endpoint).
    #[error("{url}: object storage: {reason}")]
    Object {
        /// The `s3://` URL being read.
        url: String,
        /// The store's error, on one line. A string, not a source: each of the store's error
        /// layers repeats the one below it, server response included, so a chain would print
        /// it five times.
        reason: String,
    },
    /// An object storage URL slate does not read.
    #[error("{url}: {reason}")]
    ObjectUrl {
        /// The URL.
        url: String,
        /// Why not.
        reason: String,
    },
    /// A file's provenance cannot be read: it has none, or not slate's.
    #[error("{}: no slate provenance: {reason}", path.display())]
    Provenance {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A bad glob pattern.
    #[error("bad glob {pattern:?}: {reason}")]
    Glob {
        /// The pattern.
        pattern: String,
        /// Why.
        reason: String,
    },
}

impl Error {
    /// The whole message of an error that names request parameters (`force`, `source`), for a
    /// front end to render with its own names for them.
    pub fn param_message(&self) -> Option<slate_core::ParamMessage> {
        match self {
            Error::EmptyDir {
                dir,
                looked_for,
                hint,
            } if *hint != slate_core::ParamMessage::new() => Some(
                slate_core::ParamMessage::new()
                    .text(format!("{}: no {looked_for} files found", dir.display()))
                    .append(hint.clone()),
            ),
            Error::NotEmpty(dir, message) => Some(
                slate_core::ParamMessage::new()
                    .text(format!("{}: ", dir.display()))
                    .append(message.clone()),
            ),
            _ => None,
        }
    }
}

/// Result with the I/O [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An object store error about `url`.
pub(crate) fn object_err(url: &str) -> impl FnOnce(object_store::Error) -> Error + Clone + use<> {
    let url = url.to_string();
    move |e| Error::Object {
        url,
        reason: one_line(&e.to_string()),
    }
}

/// A store error on one line, an S3 error document (`<Error><Code>NoSuchBucket</Code>
/// <Message>...`) shown as its code and message.
fn one_line(text: &str) -> String {
    let tag = |name: &str| {
        let open = format!("<{name}>");
        let start = text.find(&open)? + open.len();
        let len = text[start..].find(&format!("</{name}>"))?;
        Some(&text[start..start + len])
    };
    let head = text.split("<?xml").next().unwrap_or(text);
    let mut line = head.split_whitespace().collect::<Vec<_>>().join(" ");
    if let (Some(code), Some(message)) = (tag("Code"), tag("Message")) {
        line = format!("{} {code}: {message}", line.trim_end_matches(':'));
    }
    line
}

pub(crate) fn io_err(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io { path, source }
}

#[cfg(test)]
mod tests {
    use super::one_line;

    #[test]
    fn a_store_error_is_one_line_with_the_s3_code() {
        let text = "Generic S3 error: Error performing list request: Server returned non-2xx \
                    status code: 404 Not Found: <?xml version=\"1.0\"?>\n<Error><Code>NoSuchBucket\
                    </Code><Message>The specified bucket does not exist</Message></Error>";
        assert_eq!(
            one_line(text),
            "Generic S3 error: Error performing list request: Server returned non-2xx status \
             code: 404 Not Found NoSuchBucket: The specified bucket does not exist"
        );
        assert_eq!(one_line("tcp connect\n error"), "tcp connect error");
    }
}

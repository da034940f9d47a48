//! What a stream reads and where it writes: plain descriptions, checked and acted on by the
//! runtime ([`crate::runtime`]) and recorded in checkpoints ([`crate::checkpoint`]). A leaf, so
//! that neither of those, nor the Kafka source, needs the other to name a source.

use std::path::PathBuf;

/// Where updates come from.
#[derive(Debug, Clone)]
pub enum SourceSpec {
    /// Historical Parquet replayed in event-time order; `speed` is event seconds per wall
    /// second (`None`: as fast as possible).
    Replay {
        /// Inputs (files, directories, globs).
        inputs: Vec<String>,
        /// Speed-up.
        speed: Option<f64>,
    },
    /// Updates on standard input: NDJSON lines, or a CSV header line then one row per line.
    Stdin(TextFormat),
    /// A directory polled for new NDJSON, CSV and Parquet files (read in name order).
    Dir {
        /// The directory.
        path: PathBuf,
        /// Stop once the files present have been read.
        once: bool,
    },
    /// Every partition of a Kafka topic ([`crate::kafka`]).
    Kafka(KafkaSpec),
}

/// Where emissions go.
#[derive(Debug, Clone)]
pub enum SinkSpec {
    /// `DIR/emissions/emission-NNNNNNNN.parquet`, `DIR/latest.parquet` (+ `.exclusions`),
    /// `DIR/late.parquet`.
    Dir(PathBuf),
    /// An Arrow IPC stream of emission batches on standard output.
    IpcStdout,
}

/// How a message's text is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TextFormat {
    /// One JSON object per line.
    #[default]
    Ndjson,
    /// A header line of canonical column names, then one row per line.
    Csv,
}

/// A Kafka topic to read.
#[derive(Debug, Clone)]
pub struct KafkaSpec {
    /// Bootstrap brokers, `host:port[,host:port...]`.
    pub brokers: String,
    /// The topic; every partition is read.
    pub topic: String,
    /// A consumer group to commit the offsets read to, for monitoring only.
    pub group: Option<String>,
    /// The messages' text.
    pub format: TextFormat,
    /// Stop once every partition's end offset as of the start has been read (a catch-up run);
    /// partitions created after the start are not read.
    pub exit_at_end: bool,
    /// Further librdkafka client properties (`security.protocol`, `sasl.*`, ...), set after
    /// slate's own.
    pub properties: Vec<(String, String)>,
}

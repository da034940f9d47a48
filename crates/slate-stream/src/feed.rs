//! The source side of the channel: updates sent to the processor in batches, with where a
//! seeking source stands after them, skipping what a restart's checkpoint already holds. Every
//! source (replay, directory, standard input, Kafka) writes through a [`Batcher`].

use std::path::PathBuf;

use tokio::sync::mpsc;

use crate::checkpoint::SourceProgress;
use crate::error::{Error, Result};
use crate::update::Update;

/// The updates a restart skips: those consumed before its checkpoint.
pub(crate) struct Skip {
    /// Still to skip.
    pub(crate) left: u64,
    /// The checkpoint's position.
    pub(crate) position: u64,
    /// The checkpoint, for the error when the source holds fewer updates than its position.
    pub(crate) checkpoint: Option<PathBuf>,
}

/// What the source sends the processor: a batch of updates and, from a seeking source, where
/// it stands after them (checkpointed with the state that applied them).
pub(crate) type Chunk = (Vec<Update>, Option<SourceProgress>);

/// Sends updates in batches, skipping those consumed before a restart.
pub(crate) struct Batcher {
    pub(crate) tx: mpsc::Sender<Chunk>,
    buf: Vec<Update>,
    size: usize,
    skip: Skip,
}

impl Batcher {
    /// A batcher of `size` updates per chunk sent on `tx`, skipping what `skip` says.
    pub(crate) fn new(tx: mpsc::Sender<Chunk>, size: usize, skip: Skip) -> Self {
        Batcher {
            tx,
            buf: Vec::new(),
            size,
            skip,
        }
    }

    /// Queues an update; false when the receiver is gone.
    pub(crate) fn push(&mut self, u: Update) -> bool {
        if self.skip.left > 0 {
            self.skip.left -= 1;
            return true;
        }
        self.buf.push(u);
        if self.buf.len() >= self.size {
            return self.flush();
        }
        true
    }

    pub(crate) fn flush(&mut self) -> bool {
        if self.buf.is_empty() {
            return true;
        }
        let batch = std::mem::replace(&mut self.buf, Vec::with_capacity(self.size));
        self.tx.blocking_send((batch, None)).is_ok()
    }

    /// Queues a whole message's updates, sent only by [`Batcher::send_at`].
    #[cfg_attr(not(feature = "kafka"), allow(dead_code))] // the Kafka source
    pub(crate) fn queue(&mut self, ups: Vec<Update>) {
        self.buf.extend(ups);
    }

    /// The checkpoint's position: updates applied before this run.
    /// The checkpoint's file, for errors about it (`-`: none).
    #[cfg_attr(not(feature = "kafka"), allow(dead_code))] // the Kafka source
    pub(crate) fn checkpoint(&self) -> String {
        (self.skip.checkpoint.as_deref()).map_or_else(|| "-".into(), |p| p.display().to_string())
    }

    #[cfg_attr(not(feature = "kafka"), allow(dead_code))] // the Kafka source
    pub(crate) fn position(&self) -> u64 {
        self.skip.position
    }

    /// Updates queued and not yet sent.
    #[cfg_attr(not(feature = "kafka"), allow(dead_code))] // the Kafka source
    pub(crate) fn queued(&self) -> usize {
        self.buf.len()
    }

    /// Sends the queued updates with where the source stands after them (even none: the
    /// progress alone moves the checkpoint past rejected messages); false when the receiver
    /// is gone.
    #[cfg_attr(not(feature = "kafka"), allow(dead_code))] // the Kafka source
    pub(crate) fn send_at(&mut self, at: SourceProgress) -> bool {
        let batch = std::mem::replace(&mut self.buf, Vec::with_capacity(self.size));
        self.tx.blocking_send((batch, Some(at))).is_ok()
    }

    /// Fails when the source, having given all it holds, gave fewer updates than the
    /// checkpoint's position: the checkpoint was not written over this input, and resuming
    /// would silently skip what it holds.
    pub(crate) fn check_position(&self) -> Result<()> {
        if self.skip.left == 0 {
            return Ok(());
        }
        Err(Error::Checkpoint {
            path: (self.skip.checkpoint.as_deref())
                .map_or_else(|| "-".into(), |p| p.display().to_string()),
            reason: format!(
                "position {} is beyond the source, which holds {} updates; \
                 the checkpoint was not written over this input: use a new state directory",
                self.skip.position,
                self.skip.position - self.skip.left
            ),
        })
    }
}

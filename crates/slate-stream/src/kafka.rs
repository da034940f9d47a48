//! The Kafka source: every partition of a topic, read by slate itself (manual assignment, no
//! consumer-group rebalancing), with exactly-once results.
//!
//! - **Offsets.** What the processor has applied is described by one offset per partition (the
//!   next to read), sent with each batch and written in the same checkpoint as the state
//!   ([`crate::checkpoint::SourceProgress`]). A restart seeks every partition there: no message
//!   is lost or applied twice, whenever the process died. A consumer group, when named, only
//!   receives commits of the offsets handed to the processor, for monitoring lag; slate never
//!   reads them back.
//! - **Order.** Each partition is read in offset order; partitions are merged by event time
//!   (the message whose earliest update is earliest goes first, ties by partition), waiting for
//!   every partition that may still hold a message. Over messages already in the topic the
//!   order is therefore a function of the topic alone, so a restarted run makes the same
//!   emissions as an uninterrupted one; a live partition that has caught up is not waited for
//!   (its next message joins the merge when it arrives).
//! - **Messages.** A message is NDJSON text (one update per line) or CSV text (a header line,
//!   then one update per row), read by the same functions as standard input and the watched
//!   directory. A message that cannot be read is a reject named `TOPIC[PARTITION]@OFFSET` with
//!   its line, kept with the offsets (so a restart neither loses nor repeats it).
//! - **Failures.** An unreachable broker is reported within seconds and retried with backoff;
//!   the stream resumes when it returns. A checkpoint offset outside a partition's range (the
//!   topic was recreated, or retention deleted unread messages) is an error naming both.
//! - **New partitions** are found every few seconds and read from their start.

#[cfg(feature = "kafka")]
pub(crate) use client::read;
/// The Kafka client (librdkafka), for tests that host its mock cluster.
#[cfg(feature = "kafka")]
pub use rdkafka;

/// Without the `kafka` feature there is no client: the source fails, saying so.
#[cfg(not(feature = "kafka"))]
pub(crate) fn read(
    _spec: &crate::spec::KafkaSpec,
    _start: crate::checkpoint::SourceProgress,
    _batch: usize,
    _clocks: &mut crate::source::TextClocks,
    _out: &mut crate::feed::Batcher,
) -> crate::Result<()> {
    Err(crate::Error::Unsupported(
        "this slate was built without Kafka (the `kafka` cargo feature)".into(),
    ))
}

#[cfg(feature = "kafka")]
mod client {
    use std::collections::{BTreeMap, VecDeque};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use rdkafka::client::ClientContext;
    use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
    use rdkafka::consumer::base_consumer::PartitionQueue;
    use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext};
    use rdkafka::error::{KafkaError, KafkaResult, RDKafkaErrorCode};
    use rdkafka::message::{BorrowedMessage, Message};
    use rdkafka::{Offset, TopicPartitionList};

    use crate::checkpoint::SourceProgress;
    use crate::error::{Error, Result};
    use crate::feed::Batcher;
    use crate::source::{Reject, TextClocks, read_csv, read_ndjson};
    use crate::spec::{KafkaSpec, TextFormat};
    use crate::update::Update;

    /// How long a metadata or watermark request may take before the broker is called
    /// unreachable.
    const ASK: Duration = Duration::from_secs(3);
    /// How often the topic is asked for new partitions, and offsets committed to the group.
    const REFRESH: Duration = Duration::from_secs(5);
    /// Longest wait between retries of an unreachable broker.
    const MAX_BACKOFF: Duration = Duration::from_secs(30);
    /// What librdkafka may prefetch over all partitions, in KiB, shared out among them as
    /// `queued.max.messages.kbytes` (its default, 64 MiB for each partition, held a whole
    /// 482-partition topic in memory); `--kafka-set queued.max.messages.kbytes=N` overrides.
    const PREFETCH_KIB: usize = 128 * 1024;
    /// The least prefetch a partition gets, in KiB, however many partitions share the budget
    /// (librdkafka always fetches at least one message).
    const MIN_PARTITION_KIB: usize = 256;

    /// librdkafka's logs and errors, through `tracing` (the `slate` command prints warnings).
    struct Context;

    impl ClientContext for Context {
        fn log(&self, level: RDKafkaLogLevel, fac: &str, msg: &str) {
            match level {
                RDKafkaLogLevel::Emerg
                | RDKafkaLogLevel::Alert
                | RDKafkaLogLevel::Critical
                | RDKafkaLogLevel::Error
                | RDKafkaLogLevel::Warning => tracing::warn!("kafka: {fac}: {msg}"),
                _ => tracing::debug!("kafka: {fac}: {msg}"),
            }
        }

        fn error(&self, error: KafkaError, reason: &str) {
            // A partition's end is news, not an error: the merge hears of it through `poll`.
            if error.rdkafka_error_code() != Some(RDKafkaErrorCode::PartitionEOF) {
                tracing::warn!("kafka: {error}: {reason}");
            }
        }
    }

    impl ConsumerContext for Context {}

    type Client = Arc<BaseConsumer<Context>>;
    /// One partition's messages, apart from the others' (see [`read`]).
    type Queue = PartitionQueue<Context>;

    fn kafka_err(spec: &KafkaSpec, what: &str) -> impl FnOnce(KafkaError) -> Error {
        let at = format!("Kafka {} (topic {})", spec.brokers, spec.topic);
        let what = what.to_string();
        move |e| Error::Pipeline(format!("{at}: {what}: {e}"))
    }

    /// A client prefetching at most `partition_kib` KiB for each partition.
    fn connect(spec: &KafkaSpec, partition_kib: usize) -> Result<Client> {
        let mut cfg = ClientConfig::new();
        cfg.set("bootstrap.servers", &spec.brokers)
            // slate's checkpoint holds the offsets: nothing is committed or stored behind its back.
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            // A partition's end is reported, so a caught-up partition is not waited for.
            .set("enable.partition.eof", "true")
            // An offset that is no longer there (retention) is an error, never a silent jump.
            .set("auto.offset.reset", "error")
            .set("reconnect.backoff.max.ms", "10000")
            .set("queued.max.messages.kbytes", partition_kib.to_string())
            // A partition whose prefetch was full is fetched again soon after slate takes its
            // messages (librdkafka's default waits a second, which stalled the event-time merge
            // on that partition for a second at a time).
            .set("fetch.queue.backoff.ms", "10");
        // librdkafka assigns partitions only within a group; without `--group` the name is
        // never joined nor committed to (offsets are given explicitly).
        cfg.set("group.id", spec.group.as_deref().unwrap_or("slate-stream"));
        for (k, v) in &spec.properties {
            cfg.set(k, v);
        }
        cfg.set_log_level(RDKafkaLogLevel::Warning);
        cfg.create_with_context(Context)
            .map(Arc::new)
            .map_err(kafka_err(spec, "cannot create the client"))
    }

    /// Each partition's share of [`PREFETCH_KIB`].
    fn partition_kib(partitions: usize) -> usize {
        (PREFETCH_KIB / partitions.max(1)).clamp(MIN_PARTITION_KIB, 64 * 1024)
    }

    /// The topic's partitions, retried with backoff while no broker answers (a warning names
    /// the brokers each time); `None` when the processor has gone.
    fn partitions(c: &Client, spec: &KafkaSpec, out: &Batcher) -> Result<Option<Vec<i32>>> {
        let mut backoff = Duration::from_secs(1);
        loop {
            let err = match c.fetch_metadata(Some(&spec.topic), ASK) {
                Ok(md) => {
                    let Some(t) = md.topics().iter().find(|t| t.name() == spec.topic) else {
                        return Err(Error::Pipeline(format!(
                            "Kafka {}: no topic {}",
                            spec.brokers, spec.topic
                        )));
                    };
                    match t.error() {
                        None => {
                            let mut ps: Vec<i32> = t.partitions().iter().map(|p| p.id()).collect();
                            ps.sort_unstable();
                            return Ok(Some(ps));
                        }
                        Some(e) => {
                            let code = RDKafkaErrorCode::from(e);
                            if code == RDKafkaErrorCode::UnknownTopicOrPartition {
                                return Err(Error::Pipeline(format!(
                                    "Kafka {}: topic {} does not exist",
                                    spec.brokers, spec.topic
                                )));
                            }
                            format!("topic {}: {code}", spec.topic)
                        }
                    }
                }
                Err(e) => format!("no broker answered within {} s ({e})", ASK.as_secs()),
            };
            tracing::warn!(
                "Kafka brokers {} unreachable: {err}; retrying in {} s",
                spec.brokers,
                backoff.as_secs()
            );
            std::thread::sleep(backoff);
            if out.tx.is_closed() {
                return Ok(None);
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// A message read and parsed, waiting for its turn in the merge.
    struct Parsed {
        offset: i64,
        /// Earliest event time of its updates (`i64::MIN` when it has none: it goes at once).
        key: i64,
        ups: Vec<Update>,
        rejects: Vec<Reject>,
    }

    #[derive(Default)]
    struct Partition {
        queue: VecDeque<Parsed>,
        /// The broker said there is nothing more for now (and no message came since).
        at_end: bool,
        /// With `exit_at_end`: the end offset as of the start.
        end: Option<i64>,
        /// A message or end came through the partition's own queue since it was assigned.
        own_queue: bool,
        /// The next offset to hand over.
        next: i64,
    }

    impl Partition {
        fn finished(&self) -> bool {
            self.end.is_some_and(|e| self.next >= e)
        }

        /// Whether the merge must wait for this partition before choosing.
        fn waits(&self) -> bool {
            !self.finished() && self.queue.is_empty() && !self.at_end
        }
    }

    fn parse(
        spec: &KafkaSpec,
        partition: i32,
        offset: i64,
        payload: Option<&[u8]>,
        clocks: &mut TextClocks,
    ) -> Parsed {
        let name = format!("{}[{partition}]@{offset}", spec.topic);
        let (mut ups, mut rejects) = (Vec::new(), Vec::new());
        let reject = |reason: &str| Reject {
            file: name.clone(),
            row: 1,
            reason: reason.to_string(),
        };
        match payload.map(std::str::from_utf8) {
            None => rejects.push(reject("empty message")),
            Some(Err(e)) => rejects.push(reject(&format!("not UTF-8 text: {e}"))),
            Some(Ok(text)) if text.trim().is_empty() => rejects.push(reject("empty message")),
            Some(Ok(text)) => match spec.format {
                TextFormat::Ndjson => read_ndjson(text, &name, clocks, &mut ups, &mut rejects),
                TextFormat::Csv => read_csv(text, &name, clocks, &mut ups, &mut rejects),
            },
        }
        let key = ups
            .iter()
            .filter_map(Update::event_us)
            .min()
            .unwrap_or(i64::MIN);
        Parsed {
            offset,
            key,
            ups,
            rejects,
        }
    }

    /// Checks a checkpoint's offset against the partition's range now.
    fn check_offset(
        spec: &KafkaSpec,
        checkpoint: &str,
        p: i32,
        at: i64,
        (low, high): (i64, i64),
    ) -> Result<()> {
        let why = if at > high {
            format!(
                "beyond its end offset {high}: the topic is not the one the checkpoint was written over"
            )
        } else if at < low {
            format!(
                "before its first offset {low}: messages {at}..{low} were deleted (retention) before slate read them"
            )
        } else {
            return Ok(());
        };
        Err(Error::Checkpoint {
            path: checkpoint.to_string(),
            reason: format!(
                "Kafka topic {} partition {p}: checkpoint offset {at} is {why}; use a new state directory",
                spec.topic
            ),
        })
    }

    /// How long to wait for a partition the merge is waiting for.
    const WAIT: Duration = Duration::from_millis(100);
    /// How long to wait when no partition is waited for (live, every partition caught up):
    /// the delay before a quiet partition's next message is looked for.
    const IDLE: Duration = Duration::from_millis(20);

    /// Reads the topic from `start` and sends its updates, at most about `batch` per batch,
    /// each batch with the offsets after it. Returns when the processor has gone or, with
    /// `exit_at_end`, once every partition's end as of the start has been read.
    ///
    /// Each partition's messages come through a queue of its own (librdkafka's partition
    /// queues), and one is taken only when the merge holds none of that partition: slate holds
    /// at most one parsed message a partition, and the rest waits in librdkafka's prefetch,
    /// bounded by `queued.max.messages.kbytes`. (Through one shared queue slate took whatever
    /// arrived while it waited for one partition: the whole topic, on a catch-up.)
    pub(crate) fn read(
        spec: &KafkaSpec,
        start: SourceProgress,
        batch: usize,
        clocks: &mut TextClocks,
        out: &mut Batcher,
    ) -> Result<()> {
        // The partition count sets each partition's share of the prefetch, so a first client
        // only asks for it.
        let Some(ids) = partitions(&connect(spec, MIN_PARTITION_KIB)?, spec, out)? else {
            return Ok(());
        };
        let c = connect(spec, partition_kib(ids.len()))?;
        let mut progress = start;
        let mut parts: BTreeMap<i32, Partition> = BTreeMap::new();
        let mut queues: BTreeMap<i32, Queue> = BTreeMap::new();
        let checkpoint = out.checkpoint();
        let assign = Assign {
            c: &c,
            spec,
            checkpoint: &checkpoint,
        };
        assign.add(&ids, &progress, &mut parts, &mut queues, clocks)?;
        let mut refreshed = Instant::now();
        let mut sent = progress.clone();
        // Updates sent (before this run too). The processor emits after whole batches, so
        // batches end where this count crosses a multiple of `batch` (at the end of that
        // message): the same places whether or not the run was restarted.
        let mut total = out.position();
        let batch = batch.max(1) as u64;
        let mut last_commit = BTreeMap::new();
        loop {
            // Hand over messages in merge order while no partition must be waited for.
            while !parts.values().any(Partition::waits) {
                let Some((&p, _)) = parts
                    .iter()
                    .filter(|(_, s)| !s.finished() && !s.queue.is_empty())
                    .min_by_key(|(p, s)| (s.queue.front().map(|m| m.key), **p))
                else {
                    break;
                };
                let s = parts.get_mut(&p).expect("chosen above");
                let m = s.queue.pop_front().expect("not empty");
                s.next = m.offset + 1;
                progress.offsets.insert(p, s.next);
                progress.rejects.extend(m.rejects);
                out.queue(m.ups);
                let queued = out.queued() as u64;
                if (total + queued) / batch > total / batch {
                    if !out.send_at(progress.clone()) {
                        return Ok(());
                    }
                    total += queued;
                    sent = progress.clone();
                }
            }
            // The end of a catch-up: every partition read to its end as of the start (or to
            // its last message, when only transaction markers follow).
            let end = spec.exit_at_end
                && parts
                    .values()
                    .all(|s| s.finished() || (s.at_end && s.queue.is_empty()));
            // Live, with nothing more to hand over now: send what is queued, so a quiet topic's
            // updates are not held back (a catch-up keeps its batches where they fall).
            if (end || !spec.exit_at_end) && sent != progress {
                total += out.queued() as u64;
                if !out.send_at(progress.clone()) {
                    return Ok(());
                }
                sent = progress.clone();
            }
            if end {
                return Ok(());
            }
            if out.tx.is_closed() {
                return Ok(());
            }
            if refreshed.elapsed() >= REFRESH {
                refreshed = Instant::now();
                if !spec.exit_at_end
                    && let Ok(md) = c.fetch_metadata(Some(&spec.topic), ASK)
                    && let Some(t) = md.topics().iter().find(|t| t.name() == spec.topic)
                {
                    let new: Vec<i32> = t
                        .partitions()
                        .iter()
                        .map(|p| p.id())
                        .filter(|p| !parts.contains_key(p))
                        .collect();
                    if !new.is_empty() {
                        tracing::warn!(
                            "Kafka topic {}: new partitions {new:?}, read from their start",
                            spec.topic
                        );
                        assign.add(&new, &progress, &mut parts, &mut queues, clocks)?;
                    }
                }
                commit(&c, spec, &progress, &mut last_commit);
            }
            // The consumer's own queue: its events (errors, commits), served by polling it.
            let mut got = false;
            while let Some(r) = c.poll(Duration::ZERO) {
                got = true;
                take(spec, &mut parts, r, Via::Consumer, clocks)?;
            }
            // One message of each partition the merge holds none of.
            for (p, q) in &queues {
                let s = &parts[p];
                if s.queue.is_empty()
                    && !s.finished()
                    && let Some(r) = q.poll(Duration::ZERO)
                {
                    got = true;
                    take(spec, &mut parts, r, Via::Own, clocks)?;
                }
            }
            if !got {
                // Nothing had come: wait for a partition the merge waits for, or a moment.
                let waited = parts.iter().find(|(_, s)| s.waits()).map(|(p, _)| *p);
                let r = match waited.and_then(|p| queues.get(&p)) {
                    Some(q) => q.poll(WAIT).map(|r| (r, Via::Own)),
                    None => c.poll(IDLE).map(|r| (r, Via::Consumer)),
                };
                if let Some((r, via)) = r {
                    take(spec, &mut parts, r, via, clocks)?;
                }
            }
        }
    }

    /// Which queue a poll read.
    #[derive(Clone, Copy, PartialEq, Eq)]
    enum Via {
        /// A partition's own queue.
        Own,
        /// The consumer's queue (events; a partition's messages only if librdkafka did not
        /// keep them apart, see [`Assign::add`]).
        Consumer,
    }

    /// Takes what a poll returned into its partition's queue: a message, parsed; a partition's
    /// end; an error that stops the reading, or one that is only reported.
    fn take(
        spec: &KafkaSpec,
        parts: &mut BTreeMap<i32, Partition>,
        polled: KafkaResult<BorrowedMessage<'_>>,
        via: Via,
        clocks: &mut TextClocks,
    ) -> Result<()> {
        match polled {
            Ok(m) => {
                let p = m.partition();
                let Some(s) = parts.get_mut(&p) else {
                    return Ok(());
                };
                // A partition's messages in two queues could come out of offset order, and the
                // older ones would then be taken for repeats and skipped: stop instead (a
                // restart resumes from the checkpoint, losing nothing).
                match via {
                    Via::Own => s.own_queue = true,
                    Via::Consumer if s.own_queue => {
                        return Err(Error::Pipeline(format!(
                            "Kafka topic {} partition {p}: offset {} came through the \
                             consumer's queue after the partition's own; restart the stream \
                             (it resumes from its checkpoint)",
                            spec.topic,
                            m.offset()
                        )));
                    }
                    Via::Consumer => {}
                }
                // A message before the next offset was already handed over (a fetch repeated
                // after a reconnect): never twice.
                if m.offset() < s.next || s.queue.back().is_some_and(|q| m.offset() <= q.offset) {
                    return Ok(());
                }
                if s.end.is_some_and(|e| m.offset() >= e) {
                    s.at_end = true;
                    return Ok(());
                }
                s.at_end = false;
                let parsed = parse(spec, p, m.offset(), m.payload(), clocks);
                s.queue.push_back(parsed);
            }
            Err(KafkaError::PartitionEOF(p)) => {
                if let Some(s) = parts.get_mut(&p) {
                    s.at_end = true;
                    s.own_queue |= via == Via::Own;
                }
            }
            Err(e) => {
                let code = e.rdkafka_error_code();
                if matches!(
                    code,
                    Some(RDKafkaErrorCode::AutoOffsetReset | RDKafkaErrorCode::OffsetOutOfRange)
                ) || matches!(e, KafkaError::MessageConsumptionFatal(_))
                {
                    return Err(kafka_err(spec, "reading stopped")(e));
                }
                tracing::warn!("Kafka {} topic {}: {e}", spec.brokers, spec.topic);
            }
        }
        Ok(())
    }

    /// The client and names that assigning partitions needs.
    struct Assign<'a> {
        c: &'a Client,
        spec: &'a KafkaSpec,
        checkpoint: &'a str,
    }

    impl Assign<'_> {
        /// Adds partitions `ids` at the progress's offsets (their start when it has none),
        /// after checking those offsets against each partition's range, and assigns every
        /// partition again (incremental assignment needs a consumer group): each is fetched
        /// again from the next offset to hand over, its queue dropped and split off again.
        fn add(
            &self,
            ids: &[i32],
            progress: &SourceProgress,
            parts: &mut BTreeMap<i32, Partition>,
            queues: &mut BTreeMap<i32, Queue>,
            clocks: &mut TextClocks,
        ) -> Result<()> {
            let (c, spec) = (self.c, self.spec);
            for &p in ids {
                let range = c
                    .fetch_watermarks(&spec.topic, p, ASK)
                    .map_err(kafka_err(spec, &format!("partition {p}'s offsets")))?;
                let next = match progress.offsets.get(&p) {
                    Some(&at) => {
                        check_offset(spec, self.checkpoint, p, at, range)?;
                        at
                    }
                    None => {
                        // A first read starts at the oldest message the broker still holds;
                        // say when that is not the topic's first, so no figure silently lacks
                        // them.
                        if range.0 > 0 {
                            tracing::warn!(
                                "Kafka topic {} partition {p}: the broker holds offsets {} to {}; \
                                 the {} messages before were deleted (retention) before this \
                                 stream read them, so their updates are not in its figures",
                                spec.topic,
                                range.0,
                                range.1,
                                range.0
                            );
                        }
                        range.0
                    }
                };
                parts.insert(
                    p,
                    Partition {
                        end: spec.exit_at_end.then_some(range.1),
                        next,
                        ..Default::default()
                    },
                );
            }
            let mut tpl = TopicPartitionList::new();
            for (&p, s) in parts.iter_mut() {
                s.queue.clear();
                s.at_end = false;
                s.own_queue = false;
                tpl.add_partition_offset(&spec.topic, p, Offset::Offset(s.next))
                    .map_err(kafka_err(spec, "assignment"))?;
            }
            // Each partition's queue is split off before the assignment starts its fetch, so
            // none of its messages reach the consumer's queue (librdkafka does not forward a
            // queue the application has forwarded, and the split is such a forwarding). The
            // client's documentation says an assignment ends earlier splits: split again after.
            let split = |queues: &mut BTreeMap<i32, Queue>| -> Result<()> {
                queues.clear();
                for &p in parts.keys() {
                    let q = c.split_partition_queue(&spec.topic, p).ok_or_else(|| {
                        Error::Pipeline(format!(
                            "Kafka {}: topic {} partition {p}: no queue of its own",
                            spec.brokers, spec.topic
                        ))
                    })?;
                    queues.insert(p, q);
                }
                Ok(())
            };
            split(queues)?;
            c.assign(&tpl).map_err(kafka_err(spec, "assignment"))?;
            split(queues)?;
            // The consumer's queue now holds events only; serve them.
            while let Some(r) = c.poll(Duration::ZERO) {
                take(spec, parts, r, Via::Consumer, clocks)?;
            }
            Ok(())
        }
    }

    /// Commits the offsets handed over to the consumer group, if one is named (monitoring
    /// only: slate resumes from its checkpoint).
    fn commit(
        c: &Client,
        spec: &KafkaSpec,
        progress: &SourceProgress,
        last: &mut BTreeMap<i32, i64>,
    ) {
        if spec.group.is_none() {
            return;
        }
        if *last == progress.offsets {
            return;
        }
        let mut tpl = TopicPartitionList::new();
        for (&p, &o) in &progress.offsets {
            let _ = tpl.add_partition_offset(&spec.topic, p, Offset::Offset(o));
        }
        match c.commit(&tpl, CommitMode::Async) {
            Ok(()) => *last = progress.offsets.clone(),
            Err(e) => tracing::warn!("Kafka group commit (monitoring only): {e}"),
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn spec() -> KafkaSpec {
            KafkaSpec {
                brokers: "b".into(),
                topic: "cad".into(),
                group: None,
                format: TextFormat::Ndjson,
                exit_at_end: false,
                properties: Vec::new(),
            }
        }

        #[test]
        fn a_checkpoint_offset_outside_the_partition_is_refused() {
            assert!(check_offset(&spec(), "s/checkpoint.json", 0, 5, (0, 5)).is_ok());
            assert!(check_offset(&spec(), "s/checkpoint.json", 0, 2, (2, 9)).is_ok());
            let e = check_offset(&spec(), "s/checkpoint.json", 1, 10, (0, 5))
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("partition 1") && e.contains("beyond its end offset 5"),
                "{e}"
            );
            assert!(e.starts_with("checkpoint s/checkpoint.json: "), "{e}");
            let e = check_offset(&spec(), "s/checkpoint.json", 0, 1, (3, 9))
                .unwrap_err()
                .to_string();
            assert!(e.contains("messages 1..3 were deleted"), "{e}");
        }

        #[test]
        fn a_message_is_read_by_the_text_parsers_and_its_bad_lines_are_rejects() {
            let tz = std::sync::Arc::new(slate_core::TzRules::from_name("UTC").unwrap());
            let mut clocks = TextClocks::new(tz, slate_core::Ambiguous::Order);
            let text = "{\"incident_id\": \"a\", \"call_received\": 20}\nnope\n{\"incident_id\": \"b\", \"arrived\": 10}";
            let m = parse(&spec(), 2, 41, Some(text.as_bytes()), &mut clocks);
            assert_eq!(m.ups.len(), 2);
            assert_eq!(m.key, 10);
            assert_eq!(m.rejects.len(), 1);
            assert_eq!(
                (m.rejects[0].file.as_str(), m.rejects[0].row),
                ("cad[2]@41", 2)
            );
            let csv = KafkaSpec {
                format: TextFormat::Csv,
                ..spec()
            };
            let m = parse(
                &csv,
                0,
                0,
                Some(b"incident_id,arrived\nx,5\ny"),
                &mut clocks,
            );
            assert_eq!((m.ups.len(), m.rejects.len(), m.key), (1, 1, 5));
            for payload in [None, Some(&b""[..]), Some(&b"\xff"[..])] {
                let m = parse(&spec(), 0, 7, payload, &mut clocks);
                assert_eq!((m.ups.len(), m.rejects.len(), m.key), (0, 1, i64::MIN));
            }
        }
    }
}

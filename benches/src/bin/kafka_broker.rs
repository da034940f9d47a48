//! `kafka-broker FILE.ndjson [--topic cad] [--lines 1000]`: a Kafka-protocol broker on a
//! loopback port holding a whole NDJSON update file, for `scripts/bench-stream`'s Kafka row.
//!
//! It is librdkafka's mock cluster, the broker slate's Kafka tests use. The mock keeps at most
//! 5 MiB per partition (hard-coded in `rdkafka_mock.c`) and deletes older messages, and it
//! cannot create topics over the protocol, so this program creates the topic itself with
//! enough partitions that each holds under half the cap, publishes the file in messages of
//! `--lines` consecutive lines (time-contiguous, as a CAD system batches its changes) to the
//! partitions in turn, checks that every partition still starts at offset 0 (nothing
//! deleted), prints the bootstrap address on standard output and serves until killed. slate's
//! Kafka source merges the partitions back by event time.

use std::io::{BufRead, Write};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use slate_stream::kafka::rdkafka::ClientConfig;
use slate_stream::kafka::rdkafka::mocking::MockCluster;
use slate_stream::kafka::rdkafka::producer::{BaseProducer, BaseRecord, Producer};

/// The mock broker's per-partition cap (`rdkafka_mock.c`: `max_size`).
const MOCK_PARTITION_BYTES: u64 = 5 * 1024 * 1024;

fn main() -> Result<()> {
    let usage = "usage: kafka-broker FILE.ndjson [--topic cad] [--lines 1000]";
    let (mut file, mut topic, mut lines) = (None, "cad".to_string(), 1000usize);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--topic" => topic = args.next().context(usage)?,
            "--lines" => lines = args.next().context(usage)?.parse().context(usage)?,
            _ if file.is_none() && !a.starts_with('-') => file = Some(a),
            other => bail!("unknown argument {other:?}; {usage}"),
        }
    }
    let file = file.context(usage)?;
    let size = std::fs::metadata(&file)
        .with_context(|| file.clone())?
        .len();
    let partitions = size.div_ceil(MOCK_PARTITION_BYTES / 2).max(1) as i32;
    let cluster = MockCluster::new(1)?;
    cluster.create_topic(&topic, partitions, 1)?;
    let brokers = cluster.bootstrap_servers();
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("linger.ms", "20")
        .set("message.max.bytes", "10000000")
        .create()?;
    let t0 = Instant::now();
    let reader = std::io::BufReader::new(std::fs::File::open(&file).with_context(|| file.clone())?);
    let (mut buf, mut in_buf, mut n) = (Vec::new(), 0usize, 0i64);
    let send = |buf: &[u8], n: i64| {
        let p = (n % i64::from(partitions)) as i32;
        while producer
            .send(BaseRecord::<(), [u8]>::to(&topic).payload(buf).partition(p))
            .is_err()
        {
            producer.poll(Duration::from_millis(10));
        }
        producer.poll(Duration::ZERO);
    };
    for line in reader.split(b'\n') {
        buf.extend_from_slice(&line.with_context(|| file.clone())?);
        buf.push(b'\n');
        in_buf += 1;
        if in_buf == lines {
            send(&buf, n);
            (n, in_buf) = (n + 1, 0);
            buf.clear();
        }
    }
    if in_buf > 0 {
        send(&buf, n);
        n += 1;
    }
    producer.flush(Duration::from_secs(300))?;
    for p in 0..partitions {
        let (low, _) = producer
            .client()
            .fetch_watermarks(&topic, p, Duration::from_secs(10))?;
        if low != 0 {
            bail!("partition {p}: the broker deleted {low} messages (retention)");
        }
    }
    eprintln!(
        "published {n} messages over {partitions} partitions in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    writeln!(std::io::stdout().lock(), "{brokers}")?;
    std::io::stdout().flush()?;
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

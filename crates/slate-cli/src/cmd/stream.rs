//! `slate stream`.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use clap::{Args, ValueEnum};
use slate_core::Ambiguous;
use slate_core::duration::parse_duration_secs;
use slate_stream::clock::SystemClock;
use slate_stream::spec::{KafkaSpec, TextFormat};
use slate_stream::{LateMode, RunSpec, SinkSpec, SourceSpec, StreamConfig, run_stream};

use crate::Outcome;
use crate::args::{ScorecardArgs, TzArgs};

/// Late-update handling on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum Late {
    /// Apply the update and emit a new revision of its windows.
    Revise,
    /// Keep the final figures and count the update in DIR/late.parquet.
    Drop,
}

/// The text of Kafka messages.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum KafkaFormat {
    /// One JSON update per line.
    Ndjson,
    /// A header line, then one update per row.
    Csv,
}

/// Arguments of `slate stream`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["replay", "stdin", "watch", "kafka"])))]
pub(crate) struct StreamArgs {
    /// Replay historical Parquet (files, directories, globs) in event-time order. A directory is
    /// a dataset: only its .parquet files are read, and names starting with `.` or `_` are not
    /// data (as for `run`).
    #[arg(long, num_args = 1.., value_name = "PATH")]
    pub(crate) replay: Vec<String>,
    /// Read updates from standard input: NDJSON lines, or CSV with --format csv.
    #[arg(long)]
    pub(crate) stdin: bool,
    /// Poll a directory for new .ndjson, .csv and .parquet update files (read in name order;
    /// writers should create them under a hidden name and rename; names starting with `.` or
    /// `_` are never read).
    #[arg(long, value_name = "DIR")]
    pub(crate) watch: Option<PathBuf>,
    /// With --watch: stop after the files already there.
    #[arg(long)]
    pub(crate) once: bool,
    /// Read every partition of a Kafka topic from these bootstrap brokers (host:port,...);
    /// the offsets read are checkpointed with the state (needs the `kafka` build feature).
    #[arg(long, value_name = "BROKERS", requires = "topic")]
    pub(crate) kafka: Option<String>,
    /// With --kafka: the topic.
    #[arg(long, value_name = "TOPIC", requires = "kafka")]
    pub(crate) topic: Option<String>,
    /// With --kafka: a consumer group to commit the offsets read to, for monitoring lag only
    /// (slate resumes from its own checkpoint and reads every partition itself).
    #[arg(long, value_name = "GROUP", requires = "kafka")]
    pub(crate) group: Option<String>,
    /// With --stdin or --kafka: the updates' text, NDJSON (a JSON update per line) or CSV (a
    /// header line of canonical column names, then one update per row).
    #[arg(long, value_enum, default_value = "ndjson")]
    pub(crate) format: KafkaFormat,
    /// With --kafka: stop once every partition's end offset as of the start has been read.
    #[arg(long, requires = "kafka")]
    pub(crate) exit_at_end: bool,
    /// With --kafka: a librdkafka client property (security.protocol, sasl.username, ...),
    /// repeatable.
    #[arg(long, value_name = "KEY=VALUE", requires = "kafka")]
    pub(crate) kafka_set: Vec<String>,
    /// Replay speed: event seconds per wall second (default: as fast as possible).
    #[arg(long)]
    pub(crate) speed: Option<f64>,
    /// Output directory (emissions/, latest.parquet, latest.exclusions.parquet, late.parquet),
    /// or `-` for an Arrow IPC stream of emissions on standard output.
    #[arg(long, short)]
    pub(crate) out: String,
    /// Policy: builtin:NAME or a TOML file.
    #[arg(long, short, default_value = "builtin:mps-promise-2008")]
    pub(crate) policy: String,
    #[command(flatten)]
    pub(crate) scorecard: ScorecardArgs,
    /// How far behind the largest event time the watermark runs (out-of-order tolerance).
    #[arg(long, default_value = "1h")]
    pub(crate) lateness: String,
    /// How long incidents may stay open: a window is final once the watermark passes its end
    /// plus this; incidents still without a stop then count as missing_stop.
    #[arg(long, default_value = "7d")]
    pub(crate) settle: String,
    /// Provisional results each time the watermark advances this much.
    #[arg(long, default_value = "1d")]
    pub(crate) emit_every: String,
    /// When the source is idle this long, the watermark follows the wall clock.
    #[arg(long)]
    pub(crate) idle: Option<String>,
    /// Updates arriving after their window is final.
    #[arg(long, value_enum, default_value = "revise")]
    pub(crate) late: Late,
    /// How long after a window is final a late update still revises it (`none`: forever).
    /// Later updates go to DIR/late.parquet ("past revise horizon"), and the window's cells and
    /// the settled records that fed it leave memory: memory then follows the open incidents
    /// and the windows still open for revision, not the length of the history.
    #[arg(long, default_value = "90d")]
    pub(crate) revise_horizon: String,
    /// Checkpoint directory: a restart resumes from it.
    #[arg(long, value_name = "DIR")]
    pub(crate) state: Option<PathBuf>,
    /// Wall time between checkpoints.
    #[arg(long, default_value = "5s")]
    pub(crate) checkpoint_every: String,
    /// Updates per batch.
    #[arg(long, default_value_t = 8192)]
    pub(crate) batch_size: usize,
    /// Also serve the live scorecard over Arrow Flight SQL on this address (e.g.
    /// 127.0.0.1:50051): tables `latest` and `latest_exclusions`, each query seeing one whole
    /// emission. After a finite source ends the server stays up until Ctrl-C.
    #[cfg(feature = "serve")]
    #[arg(long, value_name = "ADDR")]
    pub(crate) serve: Option<std::net::SocketAddr>,
    /// With --serve: the file holding the bearer token clients must send (as `slate serve`).
    #[cfg(feature = "serve")]
    #[arg(long, value_name = "FILE", requires = "serve")]
    pub(crate) token_file: Option<PathBuf>,
    /// With --serve: listen on a non-loopback address without a token.
    #[cfg(feature = "serve")]
    #[arg(long, requires = "serve")]
    pub(crate) allow_no_token: bool,
    /// How naive local times in NDJSON/CSV updates that fall in a repeated hour (clocks went
    /// back) are read: `earlier` or `later` instant, `exclude` the update (rejected, reason
    /// ambiguous_local_time), or `order`: per update, the readings that keep its clocks in
    /// lifecycle order, closest together (earlier where none does). Naive clocks in Parquet
    /// (--replay, or .parquet files in --watch) are read as the earlier instant, as `slate run`
    /// reads them.
    #[arg(long, value_name = "earlier|later|exclude|order", value_parser = |s: &str| s.parse::<Ambiguous>())]
    pub(crate) ambiguous: Option<Ambiguous>,
    #[command(flatten)]
    pub(crate) tz: TzArgs,
}

/// What the stream's files record of their making: the options' provenance, this command
/// line, the sources and the stream's own settings.
fn provenance(a: &StreamArgs, cfg: &StreamConfig) -> slate_io::Provenance {
    let mut p = cfg.opts.provenance_without_input(&a.policy, &cfg.policy);
    p.command = Some(crate::args::command_line());
    if !a.replay.is_empty() {
        // What the replay will read, as found now; the replay itself reports what it cannot.
        p.inputs = match slate_io::expand_noted(&a.replay, slate_io::DataKind::Parquet) {
            Ok(found) => found
                .files
                .iter()
                .map(|f| slate_io::provenance::InputFile::local(f, None))
                .collect(),
            Err(_) => a
                .replay
                .iter()
                .map(|r| slate_io::provenance::InputFile {
                    path: r.clone(),
                    ..Default::default()
                })
                .collect(),
        };
    } else if let Some(w) = &a.watch {
        p.settings.insert("watch".into(), w.display().to_string());
    } else if let (Some(b), Some(t)) = (&a.kafka, &a.topic) {
        p.settings.insert("kafka".into(), b.clone());
        p.settings.insert("topic".into(), t.clone());
    } else {
        p.settings.insert("source".into(), "standard input".into());
    }
    for (k, v) in [
        ("lateness", &a.lateness),
        ("settle", &a.settle),
        ("emit_every", &a.emit_every),
        ("revise_horizon", &a.revise_horizon),
    ] {
        p.settings.insert(k.into(), v.clone());
    }
    p.settings
        .insert("late".into(), format!("{:?}", a.late).to_lowercase());
    p
}

fn secs(flag: &str, v: &str) -> Result<i64> {
    parse_duration_secs(v).map_err(|e| anyhow::anyhow!("--{flag}: {e}"))
}

pub(crate) fn run(a: StreamArgs) -> Result<Outcome> {
    check_outputs(&a)?;
    let cfg = config(&a)?;
    if let (Some(rule), false) = (a.ambiguous, a.replay.is_empty()) {
        writeln!(
            std::io::stderr().lock(),
            "warning: --ambiguous {rule} applies to NDJSON and CSV updates (--stdin, --watch); \
             naive clocks in replayed Parquet are read as the earlier instant, as `slate run` reads them"
        )?;
    }
    if matches!(a.format, KafkaFormat::Csv) && !a.stdin && a.kafka.is_none() {
        anyhow::bail!(
            "--format applies to --stdin and --kafka (a replay reads Parquet; a watched \
             directory reads .csv, .ndjson and .parquet files by their extension)"
        );
    }
    let sink = if a.out == "-" {
        SinkSpec::IpcStdout
    } else {
        SinkSpec::Dir(PathBuf::from(&a.out))
    };
    let spec = RunSpec {
        source: source_spec(&a)?,
        sink,
        state_dir: a.state.clone(),
        checkpoint_every: Duration::from_secs(
            secs("checkpoint-every", &a.checkpoint_every)?.max(0) as u64,
        ),
        idle: a
            .idle
            .as_deref()
            .map(|v| secs("idle", v))
            .transpose()?
            .map(|s| Duration::from_secs(s.max(1) as u64)),
        batch_size: a.batch_size,
        channel_capacity: 8,
        clock: Arc::new(SystemClock),
        on_latest: None,
        provenance: Some(provenance(&a, &cfg)),
    };
    let rt = slate_engine::runtime(None)?;
    #[cfg(feature = "serve")]
    let (spec, server) = match a.serve {
        Some(addr) => {
            let (hook, server) = rt.block_on(live_server(
                addr,
                a.token_file.as_deref(),
                a.allow_no_token,
                &cfg,
            ))?;
            (
                RunSpec {
                    on_latest: Some(hook),
                    ..spec
                },
                Some(server),
            )
        }
        None => (spec, None),
    };
    let rule = cfg.ambiguous;
    let t0 = std::time::Instant::now();
    let s = rt.block_on(run_stream(cfg, spec))?;
    print_summary(&a, &s, t0.elapsed().as_secs_f64(), rule)?;
    #[cfg(feature = "serve")]
    if let Some(server) = server {
        writeln!(
            std::io::stderr(),
            "stream ended; still serving `latest` (Ctrl-C stops)"
        )?;
        rt.block_on(server.serve_until(async {
            let _ = tokio::signal::ctrl_c().await;
        }))?;
    }
    Ok(Outcome::Ok)
}

/// The output directory must not hold, or lie inside, what the stream reads.
fn check_outputs(a: &StreamArgs) -> Result<()> {
    if a.out != "-" {
        let mut plan = slate_io::OutputPlan::new();
        for r in &a.replay {
            plan.reads("replay input", r);
        }
        if let Some(w) = &a.watch {
            plan.reads("watched", w);
        }
        plan.reads("policy", &a.policy);
        plan.writes_dir("stream", &a.out).check()?;
    }
    Ok(())
}

/// The stream's settings from its flags.
fn config(a: &StreamArgs) -> Result<StreamConfig> {
    let policy = slate_io::policy::load(&a.policy)?;
    let tz = a.tz.rules()?;
    Ok(StreamConfig {
        policy,
        opts: a.scorecard.options(tz, None, None, Some(1)),
        lateness_us: secs("lateness", &a.lateness)? * 1_000_000,
        settle_us: secs("settle", &a.settle)? * 1_000_000,
        emit_every_us: secs("emit-every", &a.emit_every)?.max(1) * 1_000_000,
        late: match a.late {
            Late::Revise => LateMode::Revise,
            Late::Drop => LateMode::Drop,
        },
        revise_horizon_us: match a.revise_horizon.trim() {
            "none" => None,
            v => Some(secs("revise-horizon", v)? * 1_000_000),
        },
        ambiguous: a.ambiguous.unwrap_or_default(),
    })
}

/// Where the updates come from: a replay, a watched directory, Kafka or standard input.
fn source_spec(a: &StreamArgs) -> Result<SourceSpec> {
    Ok(if !a.replay.is_empty() {
        SourceSpec::Replay {
            inputs: a.replay.clone(),
            speed: a.speed,
        }
    } else if let Some(dir) = &a.watch {
        SourceSpec::Dir {
            path: dir.clone(),
            once: a.once,
        }
    } else if let Some(brokers) = &a.kafka {
        if !cfg!(feature = "kafka") {
            anyhow::bail!(
                "--kafka: this slate was built without Kafka; build it with `cargo install --path crates/slate-cli --features kafka`"
            );
        }
        let properties = a
            .kafka_set
            .iter()
            .map(|kv| match kv.split_once('=') {
                Some((k, v)) => Ok((k.trim().to_string(), v.to_string())),
                None => Err(anyhow::anyhow!("--kafka-set {kv:?}: expected KEY=VALUE")),
            })
            .collect::<Result<Vec<_>>>()?;
        SourceSpec::Kafka(KafkaSpec {
            brokers: brokers.clone(),
            topic: a.topic.clone().unwrap_or_default(),
            group: a.group.clone(),
            format: match a.format {
                KafkaFormat::Ndjson => TextFormat::Ndjson,
                KafkaFormat::Csv => TextFormat::Csv,
            },
            exit_at_end: a.exit_at_end,
            properties,
        })
    } else {
        SourceSpec::Stdin(match a.format {
            KafkaFormat::Ndjson => TextFormat::Ndjson,
            KafkaFormat::Csv => TextFormat::Csv,
        })
    })
}

/// The run's figures on standard error.
fn print_summary(
    a: &StreamArgs,
    s: &slate_stream::Summary,
    secs: f64,
    rule: Ambiguous,
) -> Result<()> {
    let mut err = std::io::stderr().lock();
    writeln!(
        err,
        "{}{} updates, {} emissions in {secs:.2} s; open incidents {}; late updates: {} revised, {} dropped; {} unreadable lines{}",
        match (s.resumed, &s.unverified) {
            (true, Some(note)) => format!("resumed from checkpoint ({note}); "),
            (true, None) => "resumed from checkpoint; ".to_string(),
            (false, _) => String::new(),
        },
        s.updates,
        s.emissions,
        s.open,
        s.late_revised,
        s.late_dropped,
        s.rejects.len(),
        if a.replay.is_empty() {
            format!(
                "; {} ambiguous local times ({})",
                s.ambiguous.ambiguous,
                s.ambiguous.describe(rule, "updates")
            )
        } else {
            String::new()
        }
    )?;
    if !s.emission_ms.is_empty() {
        let mut ms = s.emission_ms.clone();
        ms.sort_by(f64::total_cmp);
        let pct = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
        writeln!(
            err,
            "{:.0} updates/s; most incidents open at once {}; emission ms (computed to written): median {:.1}, p90 {:.1}, p99 {:.1}, max {:.1}; most held at once: {} units of settled cells, {} settled records",
            s.updates as f64 / secs.max(1e-9),
            s.max_open,
            pct(0.5),
            pct(0.9),
            pct(0.99),
            ms[ms.len() - 1],
            s.max_held_units,
            s.max_held_settled
        )?;
    }
    for r in s.rejects.iter().take(20) {
        writeln!(err, "  rejected {}:{}: {}", r.file, r.row, r.reason)?;
    }
    drop(err);
    Ok(())
}

/// Starts serving the live `latest` scorecard and ledger of a stream on `addr`; returns the hook
/// the stream publishes each emission through, and the running server.
#[cfg(feature = "serve")]
async fn live_server(
    addr: std::net::SocketAddr,
    token_file: Option<&std::path::Path>,
    allow_no_token: bool,
    cfg: &slate_stream::StreamConfig,
) -> Result<(slate_stream::LatestHook, slate_serve::LiveServer)> {
    use anyhow::Context as _;
    let token = token_file.map(slate_serve::read_token_file).transpose()?;
    slate_serve::check_bind(&addr, token.is_some(), allow_no_token)?;
    let group_by = &cfg.opts.group_by;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("listening on {addr}"))?;
    let opts = slate_serve::ServeOptions {
        token,
        ..slate_serve::ServeOptions::default()
    };
    let secured = opts.token.is_some();
    let (tables, server) = slate_serve::LiveServer::start(
        listener,
        opts,
        cfg.opts.tz.clone(),
        &[
            (
                "latest",
                slate_core::tables::scorecard_schema(&cfg.policy, group_by),
            ),
            (
                "latest_exclusions",
                slate_core::tables::ledger_schema(group_by),
            ),
        ],
    )
    .await?;
    writeln!(
        std::io::stderr(),
        "slate stream: Flight SQL on grpc://{} ({}); tables: latest, latest_exclusions",
        server.local_addr(),
        if secured {
            "bearer token required"
        } else {
            "no token: loopback only"
        },
    )?;
    let hook = slate_stream::LatestHook(std::sync::Arc::new(move |card, led| {
        for (table, batch) in tables.iter().zip([card, led]) {
            if let Err(e) = table.publish(vec![batch.clone()]) {
                tracing::warn!("not served: {e}");
            }
        }
    }));
    Ok((hook, server))
}

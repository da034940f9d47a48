//! slate on an Apache DataFusion Ballista 55 cluster.
//!
//! A scorecard is one aggregation (see `slate_engine::scorecard`). On a cluster the client
//! plans it as usual in a Ballista remote context ([`remote_context`]); the scheduler splits it
//! into stages: per input partition a partial `sla_hist` aggregate on an executor, a hash
//! shuffle of the partial states (one `Binary` cell per group, so Arrow IPC bytes), and the
//! final merge. The client reads back a few thousand merged cells and builds the cube, the
//! scorecard and the ledger itself, exactly as `slate run` does on one machine.
//!
//! - [`serve_scheduler`] and [`run_executor`]: Ballista's own scheduler and executor with
//!   slate's functions registered (`override_session_builder`, `override_function_registry`)
//!   and slate's codecs ([`codec`]), which carry the per-run parameters of `sla_bucket` and
//!   `sla_hist*` that a lookup by name would lose.
//! - Ballista has no authentication: the commands bind to loopback unless told otherwise.
//!
//! This crate is the only one that depends on Ballista; the engine does not.

pub mod codec;

use std::collections::HashMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ballista_core::RuntimeProducer;
use ballista_core::extension::{SessionConfigExt, SessionStateExt};
use ballista_core::registry::BallistaFunctionRegistry;
use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::{create_scheduler, start_grpc_service_with_listener};
use datafusion::execution::SessionState;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::logical_expr::ScalarUDF;
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion_proto::protobuf::{LogicalPlanNode, PhysicalPlanNode};
use slate_core::TzRules;

/// What can go wrong starting or reaching a cluster.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A `df://HOST:PORT` address that is not one.
    #[error("{0:?} is not a cluster address: expected df://HOST:PORT")]
    BadAddress(String),
    /// Nothing answers at the scheduler's address.
    #[error("cannot reach the cluster scheduler at {url}: {reason}")]
    Unreachable {
        /// The address asked for.
        url: String,
        /// Why (refused, timed out, no such host).
        reason: String,
    },
    /// Ballista's own error.
    #[error("cluster: {0}")]
    Ballista(#[from] ballista_core::error::BallistaError),
    /// DataFusion's.
    #[error("cluster: {0}")]
    DataFusion(#[from] datafusion::error::DataFusionError),
    /// Binding or other I/O.
    #[error("cluster: {0}")]
    Io(#[from] std::io::Error),
    /// A request the cluster cannot run (the message names the parameter).
    #[error("{0}")]
    Parameter(slate_core::ParamMessage),
    /// Planning the scorecard failed.
    #[error(transparent)]
    Engine(#[from] slate_engine::Error),
}

impl Error {
    /// The whole message of an error that names request parameters (`cluster`), for a front
    /// end to render with its own names for them.
    pub fn param_message(&self) -> Option<slate_core::ParamMessage> {
        match self {
            Error::Parameter(m) => Some(m.clone()),
            _ => None,
        }
    }
}

/// A result of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// How long a client waits for the scheduler's port to answer before giving up.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Plans a scorecard in a remote context of the cluster at `url`: the aggregation runs on its
/// executors.
pub async fn plan(
    url: &str,
    input: &slate_engine::Input,
    policy: &slate_core::SlaPolicy,
    opts: &slate_engine::ScorecardOptions,
) -> Result<slate_engine::Plan> {
    if input.mapping().is_some() {
        return Err(Error::Parameter(
            slate_core::ParamMessage::new().param("cluster").text(
                " reads canonical Parquet that every executor can read; convert a mapped \
                     source with `slate import` first",
            ),
        ));
    }
    let ctx = remote_context(url, opts.tz.clone(), opts.threads).await?;
    Ok(slate_engine::Plan::in_context(&ctx, input, policy, opts).await?)
}

/// What a failed run on the cluster at `url` says before Ballista's own message: the cluster,
/// and the stage that failed. A failed job's message from the scheduler names its stage
/// ("Job failed due to stage 2 failed: ..."); any other failure came after the job, while the
/// client read the final stage's output from the executors.
pub fn failure_context(url: &str, error: &str) -> String {
    let lower = error.to_ascii_lowercase();
    let stage = lower.match_indices("stage ").find_map(|(i, m)| {
        let digits: String = lower[i + m.len()..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        (!digits.is_empty()).then_some(digits)
    });
    match stage {
        Some(n) => format!("the run on the cluster at {url} failed in stage {n}"),
        None if lower.contains("job ") && lower.contains(" failed") => {
            format!("the run on the cluster at {url} failed (Ballista named no stage)")
        }
        None => format!(
            "the run on the cluster at {url} failed in its final stage, reading the results \
             from the executors"
        ),
    }
}

/// slate's functions ([`slate_engine::udf::functions`], the list a session registers) with
/// default parameters, for lookups by name: the parameterised ones travel by value through
/// [`codec`]. `existing`: the registry's own scalar functions.
fn functions(
    existing: &HashMap<String, Arc<ScalarUDF>>,
) -> datafusion::common::Result<slate_engine::udf::Functions> {
    let utc = Arc::new(
        TzRules::from_name("UTC")
            .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))?,
    );
    Ok(slate_engine::udf::functions(utc, existing))
}

/// Puts slate's functions into a registry's maps under their names and aliases, in place of
/// DataFusion's of the same names (`list_repeat` is `array_repeat`'s alias: left alone, it
/// would still be DataFusion's uncapped function).
fn add_functions(
    ours: slate_engine::udf::Functions,
    scalars: &mut HashMap<String, Arc<ScalarUDF>>,
    aggregates: &mut HashMap<String, Arc<datafusion::logical_expr::AggregateUDF>>,
) {
    for f in ours.scalars {
        let f = Arc::new(f);
        for name in std::iter::once(f.name()).chain(f.aliases().iter().map(String::as_str)) {
            scalars.insert(name.to_string(), f.clone());
        }
    }
    for f in ours.aggregates {
        let f = Arc::new(f);
        for name in std::iter::once(f.name()).chain(f.aliases().iter().map(String::as_str)) {
            aggregates.insert(name.to_string(), f.clone());
        }
    }
}

/// The scheduler's session: Ballista's default, with slate's functions.
fn session_builder(config: SessionConfig) -> datafusion::common::Result<SessionState> {
    let state = ballista_core::utils::default_session_builder(config)?;
    // The scheduler lists and plans the scan, so it needs the same stores as the executors.
    let state = SessionStateBuilder::new_from_existing(state)
        .with_runtime_env(slate_engine::store::runtime_env())
        .build();
    let ours = functions(state.scalar_functions())?;
    // Ours replace DataFusion's of the same name (the capped string functions).
    let mut udfs = state.scalar_functions().clone();
    let mut udafs = state.aggregate_functions().clone();
    add_functions(ours, &mut udfs, &mut udafs);
    Ok(SessionStateBuilder::new_from_existing(state)
        .with_scalar_functions(udfs.into_values().collect())
        .with_aggregate_functions(udafs.into_values().collect())
        .build())
}

/// Scheduler settings beyond the address.
#[derive(Debug, Clone)]
pub struct SchedulerOptions {
    /// Seconds without a heartbeat before an executor is taken for dead and its tasks are
    /// given to others (Ballista's default: 180).
    pub executor_timeout_secs: u64,
}

impl Default for SchedulerOptions {
    fn default() -> Self {
        SchedulerOptions {
            executor_timeout_secs: 180,
        }
    }
}

/// Runs a scheduler on a bound listener until the process ends.
pub async fn serve_scheduler(
    listener: tokio::net::TcpListener,
    opts: &SchedulerOptions,
) -> Result<()> {
    let addr = listener.local_addr()?;
    let (logical, physical) = codec::codecs();
    let mut config = SchedulerConfig::default()
        .with_hostname(addr.ip().to_string())
        .with_port(addr.port())
        .with_override_session_builder(Arc::new(session_builder));
    config.bind_host = addr.ip().to_string();
    config.executor_timeout_seconds = opts.executor_timeout_secs;
    config.override_logical_codec = Some(logical);
    config.override_physical_codec = Some(physical);
    config.validate()?;
    let cluster = BallistaCluster::new_from_config(&config).await?;
    let scheduler =
        create_scheduler::<LogicalPlanNode, PhysicalPlanNode>(cluster, Arc::new(config)).await?;
    start_grpc_service_with_listener(listener, scheduler).await?;
    Ok(())
}

/// An executor's settings.
#[derive(Debug, Clone)]
pub struct ExecutorOptions {
    /// The scheduler's host and port.
    pub scheduler: (String, u16),
    /// Address of the executor's Arrow Flight service (shuffle reads, results).
    pub bind: SocketAddr,
    /// Port of its gRPC service (on the same host).
    pub grpc_port: u16,
    /// Host name others reach it by, when not the bind address.
    pub external_host: Option<String>,
    /// Tasks at once.
    pub slots: usize,
    /// Where shuffle files go (a temporary directory when `None`).
    pub work_dir: Option<PathBuf>,
    /// Seconds between heartbeats to the scheduler.
    pub heartbeat_secs: u64,
}

/// Runs an executor until the process ends or the scheduler stops it.
pub async fn run_executor(opts: &ExecutorOptions) -> Result<()> {
    let mut registry = BallistaFunctionRegistry::default();
    let ours = functions(&registry.scalar_functions)?;
    add_functions(
        ours,
        &mut registry.scalar_functions,
        &mut registry.aggregate_functions,
    );
    let (logical, physical) = codec::codecs();
    // Ballista's default runtime, plus slate's object stores (`s3://` inputs). One registry
    // for the process, so a bucket's store (and its connections) is built once.
    let stores = slate_engine::store::object_stores();
    let spill = opts.work_dir.clone();
    let runtime: RuntimeProducer = Arc::new(move |_| {
        let mut b = RuntimeEnvBuilder::new().with_object_store_registry(stores.clone());
        if let Some(dir) = &spill {
            b = b.with_temp_file_path(dir.clone());
        }
        b.build_arc()
    });
    let config = ExecutorProcessConfig {
        bind_host: opts.bind.ip().to_string(),
        external_host: opts.external_host.clone(),
        port: opts.bind.port(),
        grpc_port: opts.grpc_port,
        scheduler_host: opts.scheduler.0.clone(),
        scheduler_port: opts.scheduler.1,
        scheduler_connect_timeout_seconds: CONNECT_TIMEOUT.as_secs() as u16,
        vcores: opts.slots.max(1),
        work_dir: opts
            .work_dir
            .as_ref()
            .map(|d| d.to_string_lossy().into_owned()),
        print_thread_info: false,
        executor_heartbeat_interval_seconds: opts.heartbeat_secs.max(1),
        override_function_registry: Some(Arc::new(registry)),
        override_logical_codec: Some(logical),
        override_physical_codec: Some(physical),
        override_runtime_producer: Some(runtime),
        ..ExecutorProcessConfig::default()
    };
    start_executor_process(Arc::new(config)).await?;
    Ok(())
}

/// `HOST:PORT` of a `df://HOST:PORT` address (the port defaults to Ballista's 50050).
pub fn parse_address(url: &str) -> Result<(String, u16)> {
    let bad = || Error::BadAddress(url.to_string());
    let rest = url.strip_prefix("df://").ok_or_else(bad)?;
    let rest = rest.trim_end_matches('/');
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) => (h, p.parse::<u16>().map_err(|_| bad())?),
        None => (rest, 50050),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() || host.contains('/') {
        return Err(bad());
    }
    Ok((host.to_string(), port))
}

/// Fails fast, naming the address, when nothing listens at the scheduler's port (Ballista's
/// client would otherwise retry for a long while).
pub async fn probe(url: &str) -> Result<()> {
    let (host, port) = parse_address(url)?;
    let unreachable = |reason: String| Error::Unreachable {
        url: url.to_string(),
        reason,
    };
    let addrs: Vec<SocketAddr> = (host.as_str(), port)
        .to_socket_addrs()
        .map_err(|e| unreachable(e.to_string()))?
        .collect();
    let mut last = String::from("no address");
    for a in addrs {
        match tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(a)).await {
            Ok(Ok(_)) => return Ok(()),
            Ok(Err(e)) => last = e.to_string(),
            Err(_) => last = format!("no answer in {} s", CONNECT_TIMEOUT.as_secs()),
        }
    }
    Err(unreachable(last))
}

/// A context whose queries run on the cluster at `url` (`df://HOST:PORT`): slate's session
/// (functions, scan settings, `partitions` target partitions) with slate's codecs, upgraded
/// by Ballista. Checks first that the scheduler answers.
pub async fn remote_context(
    url: &str,
    tz: Arc<TzRules>,
    partitions: Option<usize>,
) -> Result<SessionContext> {
    probe(url).await?;
    let (host, port) = parse_address(url)?;
    let base = slate_engine::session(tz, partitions).state();
    let (logical, physical) = codec::codecs();
    let config = base
        .config()
        .clone()
        .with_ballista_logical_extension_codec(logical)
        .with_ballista_physical_extension_codec(physical)
        .with_ballista_job_name("slate run");
    let state = SessionStateBuilder::new_from_existing(base)
        .with_config(config)
        .build()
        .upgrade_for_ballista(format!("http://{host}:{port}"))?;
    Ok(SessionContext::new_with_state(state))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// The scheduler and executors find a plan's functions by name: every function a slate
    /// session has (`sla_secs`, the capped string functions, `slate_string_concat` ...) must be
    /// theirs too, and the capped ones in place of DataFusion's.
    #[test]
    fn the_cluster_knows_every_function_a_session_has() {
        let tz = Arc::new(TzRules::from_name("Europe/London").unwrap());
        let session = slate_engine::session(tz, None).state();
        let scheduler = session_builder(SessionConfig::new()).unwrap();
        let mut executor = BallistaFunctionRegistry::default();
        let ours = functions(&executor.scalar_functions).unwrap();
        add_functions(
            ours,
            &mut executor.scalar_functions,
            &mut executor.aggregate_functions,
        );
        let kind = |f: &ScalarUDF| {
            format!("{:?}", f.inner())
                .split([' ', '(', '{'])
                .next()
                .map(str::to_owned)
        };
        let plain = SessionContext::new().state();
        for (name, f) in session.scalar_functions() {
            if plain.scalar_functions().get(name).map(|p| kind(p)) == Some(kind(f)) {
                continue; // DataFusion's own, as every session has it
            }
            for (who, theirs) in [
                ("scheduler", scheduler.scalar_functions()),
                ("executor", &executor.scalar_functions),
            ] {
                let Some(t) = theirs.get(name) else {
                    // Ballista's executor registry leaves out some of DataFusion's list
                    // functions (`array_resize`): a plan using one fails by name there, and
                    // there is no uncapped version to run.
                    let default = BallistaFunctionRegistry::default();
                    assert!(
                        who == "executor" && !default.scalar_functions.contains_key(name),
                        "the {who} lacks {name}"
                    );
                    continue;
                };
                assert_eq!(kind(t), kind(f), "the {who}'s {name}");
            }
        }
        for name in session.aggregate_functions().keys() {
            assert!(scheduler.aggregate_functions().contains_key(name), "{name}");
        }
        assert!(scheduler.scalar_functions().contains_key("sla_secs"));
    }

    #[test]
    fn a_failure_names_the_cluster_and_the_stage() {
        let url = "df://127.0.0.1:7";
        let job = "Execution error: Job abc failed: Job failed due to stage 2 failed: Task 3 in \
                   Stage 2 failed 4 times";
        assert_eq!(
            failure_context(url, job),
            "the run on the cluster at df://127.0.0.1:7 failed in stage 2"
        );
        let fetch = "Execution error: Error fetching partition: connection refused";
        let c = failure_context(url, fetch);
        assert!(c.contains(url) && c.contains("final stage"), "{c}");
        let c = failure_context(url, "Job abc failed: executor lost");
        assert!(c.contains(url) && c.contains("no stage"), "{c}");
    }

    #[test]
    fn addresses() {
        assert_eq!(
            parse_address("df://127.0.0.1:50050").unwrap(),
            ("127.0.0.1".into(), 50050)
        );
        assert_eq!(
            parse_address("df://sched").unwrap(),
            ("sched".into(), 50050)
        );
        assert_eq!(parse_address("df://[::1]:7").unwrap(), ("::1".into(), 7));
        for bad in ["127.0.0.1:50050", "df://", "df://h:port", "http://h:1"] {
            assert!(parse_address(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn an_unreachable_scheduler_is_named() {
        // A port that was free a moment ago: nothing listens there.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("df://127.0.0.1:{port}");
        let e = remote_context(&url, Arc::new(TzRules::from_name("UTC").unwrap()), None)
            .await
            .err()
            .unwrap();
        assert!(matches!(e, Error::Unreachable { .. }), "{e}");
        assert!(e.to_string().contains(&url), "{e}");
    }
}

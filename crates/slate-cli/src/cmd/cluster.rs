//! `slate cluster scheduler|executor` (`slate run --cluster` plans through `slate_cluster::plan`).

#[cfg(feature = "cluster")]
pub(crate) use commands::{ClusterArgs, run};

#[cfg(feature = "cluster")]
mod commands {
    use std::io::Write;
    use std::net::SocketAddr;
    use std::path::PathBuf;

    use anyhow::{Context, Result, bail};
    use clap::{Args, Subcommand};

    use crate::Outcome;

    /// Arguments of `slate cluster`.
    #[derive(Debug, Args)]
    pub(crate) struct ClusterArgs {
        #[command(subcommand)]
        command: ClusterCommand,
    }

    #[derive(Debug, Subcommand)]
    enum ClusterCommand {
        /// Run a scheduler: executors register with it, and `slate run --cluster
        /// df://HOST:PORT` sends it the aggregation.
        Scheduler(SchedulerArgs),
        /// Run an executor: it takes tasks from the scheduler (reading the inputs at the paths
        /// the client names, so use a shared filesystem) and serves their results.
        Executor(ExecutorArgs),
    }

    #[derive(Debug, Args)]
    struct SchedulerArgs {
        /// Address to listen on (port 0: any free port, printed).
        #[arg(long, default_value = "127.0.0.1:50050")]
        bind: SocketAddr,
        /// Allow an address other than loopback. Ballista has no authentication: anyone who
        /// reaches the port can run queries that read any file the executors can. Keep the
        /// cluster on a private network.
        #[arg(long)]
        allow_remote: bool,
        /// Seconds without a heartbeat before an executor is taken for dead and its tasks run
        /// elsewhere.
        #[arg(long, default_value_t = 180)]
        executor_timeout: u64,
    }

    #[derive(Debug, Args)]
    struct ExecutorArgs {
        /// The scheduler: HOST:PORT (or df://HOST:PORT).
        #[arg(long)]
        scheduler: String,
        /// Address of the executor's data service (shuffle and results); its task service
        /// takes the next port unless --grpc-port says otherwise.
        #[arg(long, default_value = "127.0.0.1:50051")]
        bind: SocketAddr,
        /// Port of the task service.
        #[arg(long)]
        grpc_port: Option<u16>,
        /// Host name the scheduler and clients reach this executor by (default: the bind
        /// address).
        #[arg(long)]
        external_host: Option<String>,
        /// Tasks at once (default: the machine's cores).
        #[arg(long)]
        slots: Option<usize>,
        /// Directory for shuffle files (default: a temporary directory).
        #[arg(long)]
        work_dir: Option<PathBuf>,
        /// Seconds between heartbeats to the scheduler.
        #[arg(long, default_value_t = 60)]
        heartbeat: u64,
        /// Allow an address other than loopback (see `slate cluster scheduler --help`).
        #[arg(long)]
        allow_remote: bool,
    }

    fn check_bind(bind: &SocketAddr, allow_remote: bool) -> Result<()> {
        if !bind.ip().is_loopback() && !allow_remote {
            bail!(
                "{bind} is not a loopback address: Ballista has no authentication, so binding \
                 elsewhere needs --allow-remote (keep the cluster on a private network)"
            );
        }
        Ok(())
    }

    fn runtime() -> Result<tokio::runtime::Runtime> {
        // Ballista's own binaries use 32 MiB stacks: plans are decoded recursively.
        Ok(tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_stack_size(32 * 1024 * 1024)
            .build()?)
    }

    /// Runs `slate cluster ...` until the process is stopped.
    pub(crate) fn run(a: ClusterArgs) -> Result<Outcome> {
        match a.command {
            ClusterCommand::Scheduler(s) => {
                check_bind(&s.bind, s.allow_remote)?;
                runtime()?.block_on(async {
                    let listener = tokio::net::TcpListener::bind(s.bind)
                        .await
                        .with_context(|| format!("binding the scheduler to {}", s.bind))?;
                    let addr = listener.local_addr()?;
                    writeln!(
                        std::io::stderr(),
                        "slate cluster scheduler on df://{addr}; start executors with \
                         `slate cluster executor --scheduler {addr}`"
                    )?;
                    let opts = slate_cluster::SchedulerOptions {
                        executor_timeout_secs: s.executor_timeout,
                    };
                    slate_cluster::serve_scheduler(listener, &opts).await?;
                    Ok(Outcome::Ok)
                })
            }
            ClusterCommand::Executor(e) => {
                check_bind(&e.bind, e.allow_remote)?;
                let url = if e.scheduler.starts_with("df://") {
                    e.scheduler.clone()
                } else {
                    format!("df://{}", e.scheduler)
                };
                let scheduler = slate_cluster::parse_address(&url)?;
                let grpc_port = match e.grpc_port {
                    Some(p) => p,
                    None => e.bind.port().checked_add(1).with_context(|| {
                        format!("--bind {}: no next port for the task service", e.bind)
                    })?,
                };
                let slots = e
                    .slots
                    .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
                let opts = slate_cluster::ExecutorOptions {
                    scheduler,
                    bind: e.bind,
                    grpc_port,
                    external_host: e.external_host,
                    slots,
                    work_dir: e.work_dir,
                    heartbeat_secs: e.heartbeat,
                };
                runtime()?.block_on(async {
                    slate_cluster::probe(&url).await?;
                    writeln!(
                        std::io::stderr(),
                        "slate cluster executor on {} ({slots} slots), scheduler {url}",
                        e.bind
                    )?;
                    slate_cluster::run_executor(&opts).await?;
                    Ok(Outcome::Ok)
                })
            }
        }
    }
}

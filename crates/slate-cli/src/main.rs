//! `slate`: Computer-Aided-Dispatch records in, SLA scorecards out.
//!
//! Thin adapters over the library crates: argument parsing, progress, and errors for people.

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod args;
mod cmd;
mod progress;
mod source;
mod table;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// slate turns CAD records into SLA scorecards: how often each promise was kept, per window,
/// borough and grade, with exact percentiles, confidence intervals and an exclusions ledger.
#[derive(Debug, Parser)]
#[command(name = "slate", version, about, long_about = None, propagate_version = true)]
#[command(
    after_help = "Exit codes: 0 success; 1 validate found problems in the data; 2 error (bad \
arguments, unreadable input, bad policy).\nLogging: RUST_LOG=slate=debug."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Generate realistic synthetic CAD records as partitioned Parquet.
    Gen(cmd::gen_data::GenArgs),
    /// Check input files against the canonical schema and report what is in them.
    Validate(cmd::validate::ValidateArgs),
    /// Import a CAD export (CSV or Parquet + a source mapping) as canonical, partitioned Parquet
    /// and a rejects file; every input row is imported or rejected with a reason.
    Import(cmd::import::ImportArgs),
    /// Compute a scorecard: compliance, percentiles and exclusions per window and group.
    Run(cmd::run::RunArgs),
    /// Compute scorecards over a live feed of updates (or a replay), with watermarks, late data
    /// and crash recovery.
    Stream(cmd::stream::StreamArgs),
    /// Write the HTML report of a scorecard (and its ledger): one self-contained file with the
    /// headline, trends, funnel plots, exclusions and provenance.
    Report(cmd::report::ReportArgs),
    /// Capacity planning: demand per interval from history, call handlers needed (Erlang C and
    /// A), a roster's predicted service level, what-if, and a simulation check.
    Capacity(cmd::capacity::CapacityArgs),
    /// Serve the records and scorecards to BI tools over Arrow Flight SQL (read-only), with
    /// slate's SQL functions and `scorecard(...)`.
    #[cfg(feature = "serve")]
    Serve(cmd::serve::ServeArgs),
    /// Run a Ballista cluster scheduler or executor with slate's functions (for `slate run
    /// --cluster`).
    #[cfg(feature = "cluster")]
    Cluster(cmd::cluster::ClusterArgs),
    /// Print what made an output: slate's version, the command, the policy, zone, window,
    /// groups and inputs recorded in a Parquet, Arrow IPC or CSV file slate wrote.
    Info(cmd::info::InfoArgs),
    /// List or print SLA policies.
    Policy(cmd::policy::PolicyArgs),
    /// Generate a small dataset and show a scorecard: the two-minute tour.
    Demo(cmd::demo::DemoArgs),
}

/// Exit status of a command that ran to the end.
pub(crate) enum Outcome {
    /// Nothing to report.
    Ok,
    /// The command ran but found problems (validate).
    Findings,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match cli.command {
        Command::Gen(a) => cmd::gen_data::run(a),
        Command::Validate(a) => cmd::validate::run(a),
        Command::Import(a) => cmd::import::run(a),
        Command::Run(a) => cmd::run::run(a),
        Command::Stream(a) => cmd::stream::run(a),
        Command::Report(a) => cmd::report::run(a),
        Command::Capacity(a) => cmd::capacity::run(a),
        #[cfg(feature = "serve")]
        Command::Serve(a) => cmd::serve::run(a),
        #[cfg(feature = "cluster")]
        Command::Cluster(a) => cmd::cluster::run(a),
        Command::Info(a) => cmd::info::run(a),
        Command::Policy(a) => cmd::policy::run(a),
        Command::Demo(a) => cmd::demo::run(a),
    };
    match result {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::Findings) => ExitCode::from(1),
        Err(e) => {
            if is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            let mut err = std::io::stderr().lock();
            let mut chain = e.chain().map(args::flagged);
            let _ = write!(err, "error: {}", chain.next().unwrap_or_default());
            for cause in chain {
                let _ = write!(err, "\n  caused by: {cause}");
            }
            let _ = writeln!(err);
            ExitCode::from(2)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

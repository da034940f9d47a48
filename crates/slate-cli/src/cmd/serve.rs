//! `slate serve`: records and scorecards over Arrow Flight SQL (see `slate_serve`).

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use slate_core::duration::parse_duration_secs;
use slate_serve::{Catalog, ScorecardCacheLimits, ServeOptions, SpillOptions};

use crate::Outcome;
use crate::args::TzArgs;
use crate::source::SourceArgs;

/// Arguments of `slate serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// The records, served as table `records` with `scorecard(...)` over them: Parquet files,
    /// directories or globs, as for `run`.
    #[arg(long, short, num_args = 1..)]
    pub(crate) input: Vec<String>,
    /// A scorecard to serve, `[NAME=]FILE` (.parquet or .arrow; repeatable). The table is NAME
    /// (default: the file name without extension, lower-case, `-` and `.` as `_`); its ledger
    /// (FILE.exclusions.EXT), when present, is served as NAME_exclusions.
    #[arg(long, value_name = "[NAME=]FILE")]
    pub(crate) scorecard: Vec<String>,
    /// A policy `scorecard(...)` accepts by its name, besides the built-in ones (builtin:NAME
    /// or a TOML file; repeatable). Clients cannot name files.
    #[arg(long, short)]
    pub(crate) policy: Vec<String>,
    /// Address to listen on. Port 0 picks a free port (printed on standard error).
    #[arg(long, default_value = "127.0.0.1:50051")]
    pub(crate) bind: SocketAddr,
    /// A file holding the bearer token clients must send (first line; at least 16 characters).
    #[arg(long, value_name = "FILE")]
    pub(crate) token_file: Option<PathBuf>,
    /// Listen on a non-loopback address without a token (only behind other access control).
    #[arg(long)]
    pub(crate) allow_no_token: bool,
    /// Memory one query may use for aggregations, sorts, joins and scorecard(...) (e.g. 512M,
    /// 2G). Strings built by functions are capped apart: 1 MiB per value, 64 MiB per batch.
    #[arg(long, default_value = "1G", value_parser = parse_bytes)]
    pub(crate) query_memory: usize,
    /// A query still running after this is cancelled, scorecard(...) included (e.g. 30s, 5m).
    #[arg(long, default_value = "5m")]
    pub(crate) query_timeout: String,
    /// Queries that execute at once; more wait for a slot.
    #[arg(long, default_value_t = 16)]
    pub(crate) max_concurrent: usize,
    /// Where sorts, joins and aggregations past --query-memory spill (an existing directory;
    /// default: the system's temporary directory, $TMPDIR or /tmp).
    #[arg(long, value_name = "DIR")]
    pub(crate) spill_dir: Option<PathBuf>,
    /// Disk all running queries' spill files may take together (e.g. 2G); a query that
    /// would write more fails.
    #[arg(long, default_value = "10G", value_parser = parse_bytes)]
    pub(crate) spill_limit: usize,
    /// Memory the cache of scorecard(...) results may hold (oldest dropped first; a larger
    /// result is not cached).
    #[arg(long, default_value = "256M", value_parser = parse_bytes)]
    pub(crate) scorecard_cache: usize,
    /// scorecard(...) results kept in the cache at most.
    #[arg(long, default_value_t = 32)]
    pub(crate) scorecard_cache_entries: usize,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub(crate) threads: Option<usize>,
    #[command(flatten)]
    pub(crate) tz: TzArgs,
    #[command(flatten)]
    pub(crate) source: SourceArgs,
}

/// `512M`, `2G`, `1048576`: bytes (K, M, G are powers of 1024).
fn parse_bytes(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let (num, mult) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let m: usize = match c.to_ascii_uppercase() {
                'K' => 1 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                _ => return Err(format!("{s:?}: use a number of bytes or K, M, G")),
            };
            (&t[..i], m)
        }
        _ => (t, 1),
    };
    let n: usize = num
        .trim()
        .parse()
        .map_err(|_| format!("{s:?}: use a number of bytes or K, M, G"))?;
    match n.checked_mul(mult) {
        Some(b) if b > 0 => Ok(b),
        _ => Err(format!("{s:?}: out of range")),
    }
}

/// The table name a file is served under by default.
fn table_name(path: &Path) -> String {
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("table");
    let mut name: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        name.insert(0, 't');
    }
    name
}

pub(crate) fn run(a: ServeArgs) -> Result<Outcome> {
    if a.input.is_empty() && a.scorecard.is_empty() {
        bail!("nothing to serve: pass --input DATA and/or --scorecard FILE");
    }
    let token = a
        .token_file
        .as_deref()
        .map(slate_serve::read_token_file)
        .transpose()?;
    slate_serve::check_bind(&a.bind, token.is_some(), a.allow_no_token)?;
    let timeout = parse_duration_secs(&a.query_timeout)
        .map_err(|e| anyhow::anyhow!("--query-timeout: {e}"))?;
    if timeout <= 0 {
        bail!("--query-timeout must be positive");
    }
    let policies = a
        .policy
        .iter()
        .map(|p| slate_io::policy::load(p))
        .collect::<Result<Vec<_>, _>>()?;
    let opts = ServeOptions {
        token,
        memory_limit: a.query_memory,
        query_timeout: Duration::from_secs(timeout as u64),
        max_concurrent: a.max_concurrent.max(1),
    };
    let spill = SpillOptions {
        dir: a.spill_dir.clone(),
        limit_bytes: a.spill_limit as u64,
    };
    let catalog = Catalog::with_spill(a.tz.rules()?, &spill)
        .context("--spill-dir")?
        .with_scorecard_cache(ScorecardCacheLimits {
            entries: a.scorecard_cache_entries,
            bytes: a.scorecard_cache,
        });
    let rt = slate_engine::runtime(a.threads)?;
    rt.block_on(async {
        if !a.input.is_empty() {
            let input = a.source.open(&a.input, a.tz.tz.as_deref())?;
            catalog.add_records(&input, policies).await?;
        }
        for spec in &a.scorecard {
            let (name, file) = match spec.split_once('=') {
                Some((n, f)) if !n.contains(['/', '\\']) => (n.to_string(), PathBuf::from(f)),
                _ => (table_name(Path::new(spec)), PathBuf::from(spec)),
            };
            let rows = catalog
                .add_file(&name, &file)
                .await
                .with_context(|| format!("serving {}", file.display()))?;
            tracing::info!("serving {} as {name} ({rows} rows)", file.display());
            let ledger = slate_io::output::sibling_path(&file, "exclusions");
            if ledger.exists() {
                catalog
                    .add_file(&format!("{name}_exclusions"), &ledger)
                    .await
                    .with_context(|| format!("serving {}", ledger.display()))?;
            }
        }
        let listener = tokio::net::TcpListener::bind(a.bind)
            .await
            .with_context(|| format!("listening on {}", a.bind))?;
        let addr = listener.local_addr()?;
        writeln!(
            std::io::stderr(),
            "slate serve: Flight SQL on grpc://{addr} ({}); tables: {}; Ctrl-C stops",
            if opts.token.is_some() {
                "bearer token required"
            } else {
                "no token: loopback only"
            },
            catalog.table_names().join(", ")
        )?;
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        slate_serve::serve(Arc::new(catalog), listener, opts, shutdown).await?;
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(Outcome::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_sizes_and_table_names() {
        assert_eq!(parse_bytes("512M"), Ok(512 << 20));
        assert_eq!(parse_bytes("2g"), Ok(2 << 30));
        assert_eq!(parse_bytes("4096"), Ok(4096));
        assert!(parse_bytes("0").is_err());
        assert!(parse_bytes("12X").is_err());
        assert_eq!(
            table_name(Path::new("out/scorecard-monthly.parquet")),
            "scorecard_monthly"
        );
        assert_eq!(table_name(Path::new("2024.card.arrow")), "t2024_card");
    }
}

//! `slate import`: a CAD export through a source mapping into a canonical Parquet dataset.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use slate_io::source::DEFAULT_BATCH_ROWS;
use slate_io::{ImportOptions, ImportReport, Mapping};

use crate::source::write_summary;

use crate::Outcome;

/// Arguments of `slate import`.
#[derive(Debug, Args)]
pub(crate) struct ImportArgs {
    /// Source mapping: a built-in name (canonical, lfb, sffd, seattle-spd) or a TOML file.
    #[arg(long, short, value_name = "NAME|FILE.toml")]
    pub(crate) source: String,
    /// CSV or Parquet files, directories or globs, read in sorted order.
    #[arg(long, short, required = true, num_args = 1..)]
    pub(crate) input: Vec<String>,
    /// Output directory: DIR/year=YYYY/month=MM/part-N.parquet.
    #[arg(long, short)]
    pub(crate) out: PathBuf,
    /// Rejects file (CSV: file,row,line,column,value,reason); default DIR/_rejects.csv (the `_` keeps it out of the dataset).
    #[arg(long, value_name = "FILE")]
    pub(crate) rejects: Option<PathBuf>,
    /// Zone of times without an offset (IANA name); default: the mapping's `tz`.
    #[arg(long, value_name = "ZONE")]
    pub(crate) tz: Option<String>,
    #[command(flatten)]
    pub(crate) ambiguous: crate::source::AmbiguousArgs,
    /// Replace earlier year=*/ partitions and _rejects.csv in a non-empty DIR.
    #[arg(long)]
    pub(crate) force: bool,
}

fn bytes_bar(total: u64) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("importing [{bar:30}] {binary_bytes}/{binary_total_bytes} ({binary_bytes_per_sec}, {eta} left)")
            .expect("static template is valid")
            .progress_chars("=> "),
    );
    bar
}

fn load_mapping(spec: &str, tz: Option<&str>) -> Result<Mapping> {
    let m = Mapping::load(spec)?;
    Ok(match tz {
        Some(z) => {
            slate_core::TzRules::from_name(z)?;
            m.with_tz(z)
        }
        None => m,
    })
}

fn run_import(files: &[PathBuf], mapping: &Mapping, opts: &ImportOptions) -> Result<ImportReport> {
    let total: u64 = files
        .iter()
        .filter_map(|f| f.metadata().ok())
        .map(|m| m.len())
        .sum();
    let bar = bytes_bar(total);
    let report = slate_io::import(files, mapping, opts, &mut |b| bar.inc(b));
    bar.finish_and_clear();
    Ok(report?)
}

pub(crate) fn run(a: ImportArgs) -> Result<Outcome> {
    let mut mapping = load_mapping(&a.source, a.tz.as_deref())?;
    if let Some(rule) = a.ambiguous.ambiguous {
        mapping = mapping.with_ambiguous(rule);
    }
    let slate_io::input::Expanded { files, notes } =
        slate_io::expand_noted(&a.input, slate_io::DataKind::Source)?;
    crate::source::write_notes(&mut std::io::stderr().lock(), &notes)?;
    let opts = ImportOptions {
        out_dir: a.out.clone(),
        rejects: a.rejects.clone(),
        force: a.force,
        batch_rows: DEFAULT_BATCH_ROWS,
        provenance: Some(slate_io::Provenance {
            command: Some(crate::args::command_line()),
            ..slate_io::Provenance::new()
        }),
    };
    let t0 = Instant::now();
    let report = run_import(&files, &mapping, &opts)
        .with_context(|| format!("importing into {}", a.out.display()))?;
    let secs = t0.elapsed().as_secs_f64();
    let mut out = std::io::stdout().lock();
    write_summary(&mut out, &mapping.tz, &report.summary)?;
    writeln!(
        out,
        "  wrote {} Parquet files to {} and the rejects to {} in {secs:.2} s ({:.0} rows/s)",
        report.parts.len(),
        a.out.display(),
        report.rejects.display(),
        report.summary.input_rows as f64 / secs.max(1e-9)
    )?;
    Ok(Outcome::Ok)
}

//! `slate import`, and `--source` for `run` and `validate` (import to a temporary directory,
//! then the normal Parquet path).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use slate_io::source::DEFAULT_BATCH_ROWS;
use slate_io::{ImportOptions, ImportReport, ImportSummary, Mapping};

use crate::Outcome;

/// The `--source` option shared by `run` and `validate`.
#[derive(Debug, Clone, Args)]
pub(crate) struct SourceArgs {
    /// How to read the input: `canonical` (slate's own columns; Parquet is read directly), a
    /// built-in mapping (`lfb`, `sffd`, `seattle-spd`) or a mapping TOML file. Other sources
    /// are imported to a temporary directory first (see `slate import`).
    #[arg(long, default_value = "canonical", value_name = "NAME|FILE.toml")]
    pub(crate) source: String,
    /// With a mapped source: write the rejected rows here (CSV) instead of discarding the list.
    #[arg(long, value_name = "FILE")]
    pub(crate) rejects: Option<PathBuf>,
}

impl Default for SourceArgs {
    fn default() -> Self {
        SourceArgs {
            source: "canonical".into(),
            rejects: None,
        }
    }
}

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
    /// Rejects file (CSV: file,row,line,column,value,reason); default DIR/rejects.csv.
    #[arg(long, value_name = "FILE")]
    pub(crate) rejects: Option<PathBuf>,
    /// Zone of times without an offset (IANA name); default: the mapping's `tz`.
    #[arg(long, value_name = "ZONE")]
    pub(crate) tz: Option<String>,
    /// Replace earlier year=*/ partitions and rejects.csv in a non-empty DIR.
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

/// Writes the import's accounting, reasons and local-time resolutions.
fn write_summary(w: &mut dyn Write, mapping: &Mapping, s: &ImportSummary) -> Result<()> {
    writeln!(w, "{}", s.accounting())?;
    if s.records != s.imported_rows {
        writeln!(
            w,
            "  {} rows joined into {} incidents ([incident] key)",
            s.imported_rows, s.records
        )?;
    }
    if s.rejected_rows > 0 {
        let reasons: Vec<String> = s.reasons.iter().map(|(k, n)| format!("{k} {n}")).collect();
        writeln!(w, "  rejected by reason: {}", reasons.join(", "))?;
    }
    writeln!(
        w,
        "  local times ({}): {} ambiguous (read as the earlier instant), {} skipped (moved forward by the gap)",
        mapping.tz, s.local.ambiguous, s.local.skipped
    )?;
    Ok(())
}

pub(crate) fn run(a: ImportArgs) -> Result<Outcome> {
    let mapping = load_mapping(&a.source, a.tz.as_deref())?;
    let files = slate_io::expand_source_inputs(&a.input)?;
    let opts = ImportOptions {
        out_dir: a.out.clone(),
        rejects: a.rejects.clone(),
        force: a.force,
        batch_rows: DEFAULT_BATCH_ROWS,
    };
    let t0 = Instant::now();
    let report = run_import(&files, &mapping, &opts)
        .with_context(|| format!("importing into {}", a.out.display()))?;
    let secs = t0.elapsed().as_secs_f64();
    let mut out = std::io::stdout().lock();
    write_summary(&mut out, &mapping, &report.summary)?;
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

/// A mapped source imported for `run` or `validate`; the directory lives as long as this.
pub(crate) struct Staged {
    _dir: tempfile::TempDir,
    /// The canonical Parquet directory, as an `--input` argument.
    pub(crate) data: String,
    pub(crate) mapping: Mapping,
    pub(crate) report: ImportReport,
    kept_rejects: bool,
}

impl Staged {
    /// The import's summary lines, for the command's own summary.
    pub(crate) fn write_summary(&self, w: &mut dyn Write) -> Result<()> {
        write!(w, "source {}: ", self.mapping.name)?;
        write_summary(w, &self.mapping, &self.report.summary)?;
        if self.report.summary.rejected_rows > 0 {
            if self.kept_rejects {
                writeln!(w, "  rejects written to {}", self.report.rejects.display())?;
            } else {
                writeln!(
                    w,
                    "  pass --rejects FILE (or use `slate import`) to keep the rejected rows"
                )?;
            }
        }
        Ok(())
    }
}

/// Imports the input into a temporary directory unless it is canonical Parquet already.
pub(crate) fn stage(src: &SourceArgs, inputs: &[String]) -> Result<Option<Staged>> {
    let mapping = load_mapping(&src.source, None)?;
    let files = slate_io::expand_source_inputs(inputs)?;
    let is_parquet = |p: &Path| {
        p.extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("parquet"))
    };
    if mapping.is_canonical() && files.iter().all(|f| is_parquet(f)) {
        return Ok(None);
    }
    let dir = tempfile::Builder::new()
        .prefix("slate-import-")
        .tempdir()
        .context("creating a temporary directory for the import")?;
    let data = dir.path().join("data");
    let opts = ImportOptions {
        out_dir: data.clone(),
        rejects: Some(
            src.rejects
                .clone()
                .unwrap_or_else(|| dir.path().join("rejects.csv")),
        ),
        force: false,
        batch_rows: DEFAULT_BATCH_ROWS,
    };
    let report = run_import(&files, &mapping, &opts)
        .with_context(|| format!("importing with source {}", mapping.name))?;
    if report.parts.is_empty() {
        let mut err = std::io::stderr().lock();
        write_summary(&mut err, &mapping, &report.summary)?;
        anyhow::bail!(
            "no rows could be imported with source {} ({} rejected; see {})",
            mapping.name,
            report.summary.rejected_rows,
            if src.rejects.is_some() {
                report.rejects.display().to_string()
            } else {
                "--rejects FILE".into()
            }
        );
    }
    Ok(Some(Staged {
        _dir: dir,
        data: data.to_string_lossy().into_owned(),
        mapping,
        report,
        kept_rejects: src.rejects.is_some(),
    }))
}

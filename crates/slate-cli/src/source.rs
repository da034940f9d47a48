//! The `--source` option of the commands that read inputs (`run`, `validate`, `serve`): they
//! scan a mapped source directly through `slate_engine::Input`, never through `slate import`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use slate_core::Ambiguous;
use slate_io::ImportSummary;

/// The `--source` option shared by the commands that read inputs.
#[derive(Debug, Clone, Default, Args)]
pub(crate) struct SourceArgs {
    /// Read the input as a CAD export through a source mapping: a built-in one (`lfb`, `sffd`,
    /// `seattle-spd`, `canonical`) or a mapping TOML file. Directories are then searched for
    /// .csv, .tsv and .parquet files. Without it, the input is canonical: a directory is a
    /// Parquet dataset (only .parquet files are data; names starting with `.` or `_` are
    /// skipped) and a CSV file is read only when named.
    #[arg(long, value_name = "NAME|FILE.toml")]
    pub(crate) source: Option<String>,
    /// With a mapped source: write the rejected rows here (CSV) instead of only counting them.
    #[arg(long, value_name = "FILE")]
    pub(crate) rejects: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) ambiguous: AmbiguousArgs,
}

/// The `--ambiguous` option of the commands that read local clock times through a mapping.
#[derive(Debug, Clone, Default, Args)]
pub(crate) struct AmbiguousArgs {
    /// How local times that fall in a repeated hour (clocks went back) are read: `earlier`
    /// or `later` instant, `exclude` the record (a reject, reason ambiguous_local_time), or
    /// `order`: per record, the readings that keep its clocks in lifecycle order, closest
    /// together (earlier where none does). Default: the mapping's `ambiguous`, else `order`.
    #[arg(long, value_name = "earlier|later|exclude|order", value_parser = parse_ambiguous)]
    pub(crate) ambiguous: Option<Ambiguous>,
}

fn parse_ambiguous(s: &str) -> std::result::Result<Ambiguous, String> {
    s.parse()
}

impl SourceArgs {
    /// The input these arguments and `--input` describe; what was left out so that each file
    /// is read once (loops, second names) is said on stderr.
    /// `tz`: the `--tz` flag, which overrides a mapping's zone for its naive times (as for
    /// `slate import`).
    pub(crate) fn open(&self, inputs: &[String], tz: Option<&str>) -> Result<slate_engine::Input> {
        let input = slate_engine::Input::open_with(
            inputs,
            self.source.as_deref(),
            self.rejects.clone(),
            self.ambiguous.ambiguous,
            tz,
        )?;
        write_notes(&mut std::io::stderr().lock(), input.notes())?;
        if let (Some(rule), None) = (self.ambiguous.ambiguous, input.mapping()) {
            writeln!(
                std::io::stderr().lock(),
                "warning: --ambiguous {rule} applies to inputs read through a mapping (--source, or CSV); \
                 naive clocks in canonical Parquet are read as the earlier instant"
            )?;
        }
        Ok(input)
    }
}

/// Most input notes written one by one; the rest are counted (a `**` glob through a link
/// loop reaches each file dozens of times).
const MAX_NOTES: usize = 10;

/// Writes what expanding the inputs left out, as warnings.
pub(crate) fn write_notes(w: &mut dyn Write, notes: &[slate_io::input::InputNote]) -> Result<()> {
    for n in notes.iter().take(MAX_NOTES) {
        writeln!(w, "warning: {n}")?;
    }
    if notes.len() > MAX_NOTES {
        writeln!(
            w,
            "warning: and {} more names left out (link loops, or files already read under another name)",
            notes.len() - MAX_NOTES
        )?;
    }
    Ok(())
}

/// Writes a mapped read's accounting lines (see `ImportSummary::describe`).
pub(crate) fn write_summary(w: &mut dyn Write, tz: &str, s: &ImportSummary) -> Result<()> {
    for line in s.describe(tz) {
        writeln!(w, "{line}")?;
    }
    Ok(())
}

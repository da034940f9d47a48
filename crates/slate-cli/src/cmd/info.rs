//! `slate info`: what made an output (its provenance).

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use crate::Outcome;

/// Arguments of `slate info`.
#[derive(Debug, Args)]
pub(crate) struct InfoArgs {
    /// A table slate wrote: Parquet, Arrow IPC, or CSV (read from its FILE.provenance.json).
    pub(crate) file: PathBuf,
    /// Print the provenance as JSON, as stored.
    #[arg(long)]
    pub(crate) json: bool,
}

pub(crate) fn run(a: InfoArgs) -> Result<Outcome> {
    let p = slate_io::provenance::read(&a.file)?;
    let mut out = std::io::stdout().lock();
    if a.json {
        writeln!(out, "{}", p.to_json_pretty())?;
    } else {
        for line in p.describe() {
            writeln!(out, "{line}")?;
        }
    }
    Ok(Outcome::Ok)
}

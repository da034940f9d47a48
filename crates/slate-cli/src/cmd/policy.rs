//! `slate policy list|show`.

use std::io::Write;

use anyhow::Result;
use clap::{Args, Subcommand};
use slate_core::SlaPolicy;
use slate_core::policy::{BUILTINS, builtin_text};

use crate::Outcome;

/// Arguments of `slate policy`.
#[derive(Debug, Args)]
pub(crate) struct PolicyArgs {
    #[command(subcommand)]
    command: PolicyCommand,
}

#[derive(Debug, Subcommand)]
enum PolicyCommand {
    /// List the built-in policies.
    List,
    /// Print a policy's TOML (a built-in name, `builtin:NAME`, or a file, which is checked).
    Show {
        /// Policy name or file.
        name: String,
    },
}

pub(crate) fn run(a: PolicyArgs) -> Result<Outcome> {
    let mut out = std::io::stdout().lock();
    match a.command {
        PolicyCommand::List => {
            for (name, _) in BUILTINS {
                let p = SlaPolicy::builtin(name)?;
                writeln!(out, "builtin:{name}\n    {}", p.description)?;
                for m in &p.measures {
                    let target = m.target.map_or("reported".to_string(), |t| {
                        format!("target {:.0}%", t * 100.0)
                    });
                    writeln!(out, "    - {:<16} {} ({target})", m.id, m.rule())?;
                }
            }
        }
        PolicyCommand::Show { name } => {
            let bare = name.strip_prefix("builtin:").unwrap_or(&name);
            match builtin_text(bare) {
                Some(text) => write!(out, "{text}")?,
                None => {
                    let path = std::path::Path::new(&name);
                    let text = slate_io::textfile::read_text_file(path).map_err(|e| {
                        anyhow::anyhow!(
                            "{name:?} is neither a built-in policy nor a readable file: {e}"
                        )
                    })?;
                    slate_io::policy::from_toml_in(&text, &name, path.parent())?;
                    write!(out, "{text}")?;
                }
            }
        }
    }
    Ok(Outcome::Ok)
}

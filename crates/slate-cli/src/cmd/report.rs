//! `slate report`, and the report and disparity outputs of `slate run` and `slate demo`.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use slate_core::card::Card;
use slate_core::tables::disparity_batch;

use crate::args::{OdArg, command_line, page_provenance};
use slate_io::OutputPlan;
use slate_report::InputFile;

use crate::Outcome;

/// Arguments of `slate report`.
#[derive(Debug, Clone, Args)]
pub(crate) struct ReportArgs {
    /// The scorecard (Parquet, as `slate run --out` writes it).
    #[arg(long, required = true)]
    pub(crate) scorecard: PathBuf,
    /// Its exclusions ledger (default: NAME.exclusions.parquet beside the scorecard, when it
    /// exists). A ledger from another run is an error.
    #[arg(long)]
    pub(crate) ledger: Option<PathBuf>,
    /// The HTML file to write.
    #[arg(long, short, required = true)]
    pub(crate) out: PathBuf,
    /// The policy the scorecard was computed with, to print in the provenance section.
    #[arg(long)]
    pub(crate) policy: Option<String>,
    /// Also write the disparity table (Parquet, Arrow IPC or CSV by extension).
    #[arg(long)]
    pub(crate) disparity: Option<PathBuf>,
    /// Allowance for over-dispersion in the disparity table.
    #[arg(long, value_enum, default_value = "none")]
    pub(crate) overdispersion: OdArg,
}

/// A Parquet file's schema and batches.
fn read_parquet(path: &Path) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    if slate_io::Format::from_path(path).ok() != Some(slate_io::Format::Parquet) {
        bail!("{} is not a .parquet file", path.display());
    }
    let (schema, _) = slate_io::parquet::read_schema(path)?;
    let batches = slate_io::parquet::read_file(path)?;
    Ok((schema, batches))
}

/// The disparity table's provenance: the scorecard's own (its policy, zone, window, inputs'
/// command), with this command and the scorecard and ledger as its inputs.
fn derived_provenance(
    a: &ReportArgs,
    card: &Card,
    inputs: Vec<slate_io::provenance::InputFile>,
    policy: Option<slate_io::provenance::PolicyInfo>,
) -> slate_io::Provenance {
    let mut p = slate_io::provenance::read(&a.scorecard).unwrap_or_default();
    p.slate_version = slate_io::Provenance::new().slate_version;
    if let Some(c) = p.command.take() {
        p.settings.insert("scorecard command".into(), c);
    }
    p.command = Some(command_line());
    p.window.get_or_insert_with(|| card.window.clone());
    p.group_by.get_or_insert_with(|| card.group_by.clone());
    if policy.is_some() {
        p.policy = policy;
    }
    p.rows_read = inputs.first().and_then(|i| i.rows);
    p.inputs = inputs;
    p.settings.insert(
        "overdispersion".into(),
        format!("{:?}", a.overdispersion).to_lowercase(),
    );
    p
}

pub(crate) fn run(a: ReportArgs) -> Result<Outcome> {
    let ledger_path = a.ledger.clone().or_else(|| {
        let p = slate_io::output::sibling_path(&a.scorecard, "exclusions");
        p.exists().then_some(p)
    });
    // The page and the table are checked against the inputs now and written together.
    let mut outputs = OutputPlan::new();
    outputs.reads("scorecard", &a.scorecard);
    if let Some(p) = &ledger_path {
        outputs.reads("ledger", p);
    }
    if let Some(p) = &a.policy {
        outputs.reads("policy", p);
    }
    outputs.writes("report", &a.out);
    if let Some(p) = &a.disparity {
        outputs.writes_table("disparity", p);
    }
    outputs.check()?;
    let (schema, batches) = read_parquet(&a.scorecard)
        .with_context(|| format!("reading the scorecard {}", a.scorecard.display()))?;
    let ledger = ledger_path
        .as_ref()
        .map(|p| read_parquet(p).with_context(|| format!("reading the ledger {}", p.display())))
        .transpose()?;
    let rows = |b: &[RecordBatch]| b.iter().map(|b| b.num_rows() as u64).sum::<u64>();
    let mut prov = page_provenance();
    prov.inputs.push(InputFile {
        path: a.scorecard.display().to_string(),
        rows: Some(rows(&batches)),
    });
    if let (Some(p), Some((_, b))) = (&ledger_path, &ledger) {
        prov.inputs.push(InputFile {
            path: p.display().to_string(),
            rows: Some(rows(b)),
        });
    }
    // Loaded and read once: the page and the disparity table's provenance show the same text.
    let mut policy_info = None;
    if let Some(p) = &a.policy {
        let policy = slate_io::policy::load(p).context("reading --policy")?;
        let info = slate_io::provenance::PolicyInfo::of(p, &policy.name);
        prov.policy = Some(p.clone());
        prov.policy_text = info.text.clone();
        prov.policy_name = Some(policy.name);
        prov.policy_description = Some(policy.description);
        policy_info = Some(info);
    }
    let card = Card::from_batches(&schema, &batches)
        .with_context(|| format!("reading the scorecard {}", a.scorecard.display()))?;
    let ledger = ledger
        .map(|(s, b)| slate_core::card::Ledger::from_batches(&s, &b))
        .transpose()
        .context("reading the ledger")?;
    let html = slate_report::render(&card, ledger.as_ref(), &prov)?;
    outputs.put_bytes("report", html.as_bytes())?;
    let facts = prov
        .inputs
        .iter()
        .map(|i| slate_io::provenance::InputFile::local(Path::new(&i.path), i.rows))
        .collect();
    *outputs.provenance_mut() = derived_provenance(&a, &card, facts, policy_info);
    let disparity = a
        .disparity
        .as_ref()
        .map(|_| disparity_batch(&card, a.overdispersion.into()))
        .transpose()?;
    if let Some(batch) = &disparity {
        outputs.put_batches("disparity", batch.schema(), std::slice::from_ref(batch))?;
    }
    outputs.commit()?;
    let mut err = std::io::stderr().lock();
    if let (Some(p), Some(batch)) = (&a.disparity, &disparity) {
        writeln!(err, "wrote {} ({} rows)", p.display(), batch.num_rows())?;
    }
    writeln!(
        err,
        "wrote {} ({} KB){}",
        a.out.display(),
        html.len().div_ceil(1024),
        if card.rows.is_empty() {
            "; the scorecard has no rows: the report says so"
        } else {
            ""
        }
    )?;
    Ok(Outcome::Ok)
}

//! `slate demo`: generate a small dataset, score it, show the yearly totals.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use chrono::NaiveDate;
use clap::Args;
use slate_core::WindowKind;
use slate_core::tables::scorecard_batch;

use crate::Outcome;
use crate::args::OdArg;
use crate::args::TzArgs;
use crate::args::{Method, ScorecardArgs};
use crate::cmd::gen_data::{self, GenArgs};
use crate::cmd::run::{self, RunArgs};

/// Arguments of `slate demo`.
#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Working directory for the generated data and the scorecard.
    #[arg(long, default_value = "slate-demo")]
    pub(crate) dir: PathBuf,
    /// Records to generate (three years).
    #[arg(long, default_value_t = 300_000)]
    pub(crate) rows: u64,
}

pub(crate) fn run(a: DemoArgs) -> Result<Outcome> {
    let data = a.dir.join("data");
    let mut err = std::io::stderr().lock();
    writeln!(
        err,
        "1/2 slate gen --rows {} --years 3 --dirty-rate 0.002 --out {}",
        a.rows,
        data.display()
    )?;
    drop(err);
    gen_data::run(GenArgs {
        rows: a.rows,
        out: data.clone(),
        seed: 42,
        from: NaiveDate::from_ymd_opt(2022, 1, 1).expect("valid date"),
        years: 3,
        dirty_rate: 0.002,
        force: true,
        call_queue: false,
        promises: false,
        staffing_beta: 1.0,
        threads: None,
        tz: TzArgs::named(slate_core::schema::DEFAULT_TZ),
    })?;
    let out = a.dir.join("scorecard-monthly.parquet");
    let report = a.dir.join("report.html");
    writeln!(
        std::io::stderr(),
        "2/2 slate run --input {} --policy builtin:mps-promise-2008 --window month --out {} --report {}",
        data.display(),
        out.display(),
        report.display()
    )?;
    let monthly = RunArgs {
        input: vec![data.to_string_lossy().into_owned()],
        policy: "builtin:mps-promise-2008".into(),
        scorecard: ScorecardArgs {
            window: WindowKind::Month,
            by: vec!["borough".into(), "grade".into()],
            percentile_method: Method::Linear,
            no_rollups: false,
        },
        from: None,
        to: None,
        out: Some(out),
        ledger: None,
        report: Some(report.clone()),
        disparity: None,
        overdispersion: OdArg::None,
        max_rows: 0,
        explain: false,
        no_fused: false,
        threads: None,
        cluster: None,
        tz: TzArgs::named(slate_core::schema::DEFAULT_TZ),
        source: Default::default(),
    };
    // The yearly view of the whole force fits a screen: same run, year windows, no groups.
    let yearly = RunArgs {
        scorecard: ScorecardArgs {
            window: WindowKind::Year,
            by: vec![],
            ..monthly.scorecard.clone()
        },
        out: None,
        report: None,
        ..monthly.clone()
    };
    run::run(monthly)?;
    let policy = slate_io::policy::load(&yearly.policy)?;
    let input = yearly.source.open(&yearly.input, None)?;
    if let Some((card, _)) = run::compute(&yearly, &input, &policy)? {
        let batch = scorecard_batch(&card.scores, &policy)?;
        let mut out = std::io::stdout().lock();
        writeln!(out, "\nmps-promise-2008, whole force, by year:")?;
        crate::table::print_scorecard(&mut out, &batch, &[], 0)?;
        writeln!(
            out,
            "\nThe monthly scorecard per borough and grade (with rollups) is in {}/scorecard-monthly.parquet,\n\
             its exclusions ledger beside it. Try: slate run --input {} --window quarter --by grade",
            a.dir.display(),
            data.display()
        )?;
    }
    // Last, so it is the line a newcomer sees: the page to open.
    writeln!(
        std::io::stdout(),
        "\nThe report (open it in a browser, or print it): {}",
        std::path::absolute(&report).unwrap_or(report).display()
    )?;
    Ok(Outcome::Ok)
}

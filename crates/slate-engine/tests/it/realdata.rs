//! The real public samples in `../shared/realdata`: the engine, reading each through its
//! built-in mapping (slate-io) into a scorecard, must reproduce every figure of the sample's DuckDB sanity CSV, for every group row
//! including the rollups (empty group columns). The sanity CSVs are the independent oracle;
//! nothing here hard-codes an expected figure.
//!
//! The samples are not in this repository: CI clones it beside a `shared/` folder. If the folder
//! is missing these tests fail, saying where they looked.

// Test helpers outside #[test] fns are not covered by clippy's allow-unwrap-in-tests.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use slate_core::cube::GroupKey;
use slate_core::{MeasureCell, PercentileMethod, SlaPolicy, Summary, TzRules, WindowKind};
use slate_engine::{ScorecardOptions, run_scorecard};
use slate_io::source::DEFAULT_BATCH_ROWS;
use slate_io::{ImportOptions, ImportSummary, Mapping};
use slate_testkit::paths::{fixtures, realdata};

/// How one sanity CSV's columns are read.
struct Sample {
    dir: &'static str,
    csv: &'static str,
    sanity: &'static str,
    mapping: &'static str,
    policy: &'static str,
    /// Sanity columns of the groups: borough, then grade.
    groups: [&'static str; 2],
    /// Sanity column -> the slate figure it is compared with.
    figures: &'static [(&'static str, Figure)],
}

/// A figure of measure `m` (index in the policy).
#[derive(Debug, Clone, Copy)]
enum Figure {
    /// Rows the measure applies to.
    Eligible(usize),
    /// Rows measured.
    Measured(usize),
    /// Mean duration, rounded to 0.1.
    Mean(usize),
    /// Percentile, linear (DuckDB quantile_cont), rounded to 0.1.
    Linear(usize, f64),
    /// Percentile, nearest rank (DuckDB quantile_disc).
    Nearest(usize, f64),
    /// Percent within the measure's threshold, rounded to 0.01.
    PctWithin(usize),
}

const LFB: Sample = Sample {
    dir: "lfb-incidents-2023-sample",
    csv: "lfb_incidents_2023_sample10k.csv",
    sanity: "sanity_lfb_by_borough_group.csv",
    mapping: "lfb",
    policy: "lfb.toml",
    groups: ["borough", "grp"],
    figures: &[
        ("n", Figure::Eligible(0)),
        ("n_timed", Figure::Measured(0)),
        ("mean_s", Figure::Mean(0)),
        ("p50_cont_s", Figure::Linear(0, 0.5)),
        ("p50_disc_s", Figure::Nearest(0, 0.5)),
        ("p90_cont_s", Figure::Linear(0, 0.9)),
        ("p90_disc_s", Figure::Nearest(0, 0.9)),
        ("pct_le_360s", Figure::PctWithin(0)),
        ("pct_le_600s", Figure::PctWithin(1)),
    ],
};

const SFFD: Sample = Sample {
    dir: "sffd-calls-2017w1",
    csv: "Fire_Department_Calls_for_Service.csv",
    sanity: "sanity_sffd_by_battalion_priority.csv",
    mapping: "sffd",
    policy: "sffd.toml",
    groups: ["battalion", "final_priority"],
    figures: &[
        ("n_calls", Figure::Eligible(0)),
        ("n_onscene", Figure::Measured(0)),
        ("p50_cont_s", Figure::Linear(0, 0.5)),
        ("p50_disc_s", Figure::Nearest(0, 0.5)),
        ("p90_cont_s", Figure::Linear(0, 0.9)),
        ("p90_disc_s", Figure::Nearest(0, 0.9)),
        ("pct_le_600s", Figure::PctWithin(0)),
        ("pct_le_1200s", Figure::PctWithin(1)),
        ("p50_rcv_to_dispatch_s", Figure::Linear(2, 0.5)),
    ],
};

const SEATTLE: Sample = Sample {
    dir: "seattle-spd-calls-sample",
    csv: "Call_Data_Subset.csv",
    sanity: "sanity_seattle_by_precinct_priority.csv",
    mapping: "seattle-spd",
    policy: "seattle-spd.toml",
    groups: ["precinct", "priority"],
    figures: &[
        ("n_calls", Figure::Eligible(0)),
        ("n_arrived", Figure::Measured(0)),
        ("p50_cont_s", Figure::Linear(0, 0.5)),
        ("p50_disc_s", Figure::Nearest(0, 0.5)),
        ("p90_cont_s", Figure::Linear(0, 0.9)),
        ("p90_disc_s", Figure::Nearest(0, 0.9)),
        ("pct_le_420s", Figure::PctWithin(0)),
        ("pct_le_900s", Figure::PctWithin(1)),
    ],
};

/// Imports a sample into `out` with its built-in mapping.
fn import_sample(s: &Sample, out: &Path) -> ImportSummary {
    let file = realdata().join(s.dir).join(s.csv);
    let mapping = Mapping::load(s.mapping).unwrap();
    let opts = ImportOptions {
        out_dir: out.to_path_buf(),
        rejects: None,
        force: false,
        batch_rows: DEFAULT_BATCH_ROWS,
        provenance: None,
    };
    let report = slate_io::import(&[file], &mapping, &opts, &mut |_| {}).unwrap();
    assert!(report.summary.balances(), "{}", report.summary.accounting());
    report.summary
}

/// Every (level mask, group) of the rollup lattice over borough x grade, merged across all
/// windows: the figures for the whole sample, as the sanity CSVs group it.
fn merged_cells(
    cube: &slate_core::Cube,
    n_measures: usize,
) -> HashMap<(u32, GroupKey), Vec<MeasureCell>> {
    let mut out: HashMap<(u32, GroupKey), Vec<MeasureCell>> = HashMap::new();
    for (_unit, groups, cells) in cube.cells() {
        for mask in 0..4u32 {
            let key: GroupKey = groups
                .iter()
                .enumerate()
                .map(|(i, g)| {
                    if mask & (1 << i) != 0 {
                        g.clone()
                    } else {
                        None
                    }
                })
                .collect();
            let slot = out
                .entry((mask, key))
                .or_insert_with(|| vec![MeasureCell::default(); n_measures]);
            for (s, c) in slot.iter_mut().zip(cells) {
                s.merge(c);
            }
        }
    }
    out
}

fn figure(f: Figure, cells: &[MeasureCell], policy: &SlaPolicy) -> Option<f64> {
    let summary = |m: usize, method| {
        let measure = &policy.measures[m];
        Summary::of(
            &cells[m].hist,
            measure.threshold,
            &measure.percentiles,
            method,
        )
    };
    let pct = |m: usize, p: f64, method| {
        let i = policy.measures[m]
            .percentiles
            .iter()
            .position(|q| *q == p)
            .expect("the sanity policy asks for this percentile");
        summary(m, method).percentiles[i]
    };
    match f {
        Figure::Eligible(m) => Some(cells[m].n_eligible() as f64),
        Figure::Measured(m) => Some(cells[m].hist.count() as f64),
        Figure::Mean(m) => summary(m, PercentileMethod::Linear).mean_s,
        Figure::Linear(m, p) => pct(m, p, PercentileMethod::Linear),
        Figure::Nearest(m, p) => pct(m, p, PercentileMethod::NearestRank),
        Figure::PctWithin(m) => summary(m, PercentileMethod::Linear)
            .compliance
            .map(|c| 100.0 * c),
    }
}

/// Half a unit of the last decimal the CSV shows (it rounds), plus float noise.
fn tolerance(text: &str) -> f64 {
    let decimals = text.split_once('.').map_or(0, |(_, d)| d.len());
    0.5 * 10f64.powi(-(decimals as i32)) + 1e-9
}

fn check_sample(s: &Sample) {
    let dir = tempfile::tempdir().unwrap();
    let summary = import_sample(s, dir.path());
    assert_eq!(summary.rejected_rows, 0, "{:?}", summary.reasons);
    let mapping = Mapping::load(s.mapping).unwrap();
    let policy =
        slate_io::policy::load(fixtures().join("realdata").join(s.policy).to_str().unwrap())
            .unwrap();
    let opts = ScorecardOptions {
        window: WindowKind::Year,
        group_by: vec!["borough".into(), "grade".into()],
        tz: Arc::new(TzRules::from_name(&mapping.tz).unwrap()),
        from: None,
        to: None,
        method: PercentileMethod::Linear,
        rollups: true,
        threads: Some(2),
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let card = rt
        .block_on(async {
            run_scorecard(&[dir.path().to_string_lossy().into_owned()], &policy, &opts).await
        })
        .unwrap();
    let cells = merged_cells(&card.cube, policy.measures.len());

    let sanity = realdata().join(s.dir).join(s.sanity);
    let mut rdr = csv::Reader::from_path(&sanity).unwrap();
    let header: Vec<String> = rdr.headers().unwrap().iter().map(String::from).collect();
    // Every column of the sanity file is either a group or a compared figure.
    for h in &header {
        assert!(
            s.groups.contains(&h.as_str()) || s.figures.iter().any(|(c, _)| c == h),
            "{}: column {h:?} is not compared",
            sanity.display()
        );
    }
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let mut failures = Vec::new();
    let mut seen: BTreeMap<(u32, GroupKey), ()> = BTreeMap::new();
    let mut rows = 0;
    for rec in rdr.records() {
        let rec = rec.unwrap();
        rows += 1;
        let g: Vec<&str> = s.groups.iter().map(|c| &rec[col(c)]).collect();
        let mask = u32::from(!g[0].is_empty()) | (u32::from(!g[1].is_empty()) << 1);
        let key: GroupKey = g
            .iter()
            .map(|v| (!v.is_empty()).then(|| v.to_string()))
            .collect();
        let label = format!("{}={:?} {}={:?}", s.groups[0], g[0], s.groups[1], g[1]);
        seen.insert((mask, key.clone()), ());
        let Some(c) = cells.get(&(mask, key)) else {
            failures.push(format!("{label}: no such group in slate's output"));
            continue;
        };
        for (name, f) in s.figures {
            let text = &rec[col(name)];
            let expected: f64 = text.parse().unwrap();
            match figure(*f, c, &policy) {
                Some(got) if (got - expected).abs() <= tolerance(text) => {}
                got => failures.push(format!(
                    "{label}: {name} is {text} in the sanity file, slate has {got:?}"
                )),
            }
        }
    }
    // And slate has no group the sanity file lacks.
    for ((mask, key), c) in &cells {
        if c[0].n_eligible() > 0 && !seen.contains_key(&(*mask, key.clone())) {
            failures.push(format!(
                "slate has group {key:?} (level {mask}) that the sanity file lacks"
            ));
        }
    }
    assert!(rows > 0, "{} has no rows", sanity.display());
    assert!(
        failures.is_empty(),
        "{} of {rows} sanity rows differ:\n{}",
        s.dir,
        failures.join("\n")
    );
}

#[test]
fn lfb_sample_reproduces_its_sanity_figures() {
    check_sample(&LFB);
}

#[test]
fn sffd_sample_reproduces_its_sanity_figures() {
    check_sample(&SFFD);
}

#[test]
fn seattle_sample_reproduces_its_sanity_figures() {
    check_sample(&SEATTLE);
}

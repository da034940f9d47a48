//! `slate capacity`: demand from history, staffing by Erlang C and A, roster checks, what-if
//! and a simulation check.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use chrono::NaiveDate;
use clap::{Args, ValueEnum};
use slate_capacity::demand::{self, DemandOptions, DemandRow, Profile};
use slate_capacity::output::{roster_batch, staffing_batch};
use slate_capacity::queue::{Load, Model, Target};
use slate_capacity::sim::{
    Arrivals, Handling, PeriodArrivals, PeriodConfig, PeriodResult, SimConfig, SimResult, simulate,
    simulate_period,
};
use slate_capacity::staffing::{
    self, IntervalDemand, Plan, RosterRow, StaffingRow, Totals, WhatIf, evaluate_roster,
};
use slate_core::duration::parse_duration_secs;

use crate::Outcome;
use crate::args::{TzArgs, parse_date};
use slate_io::OutputPlan;

/// Interval layouts on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum ProfileArg {
    /// A typical week (Monday 00:00 first), averaged over the weeks of the period.
    HourOfWeek,
    /// Every interval as it happened.
    Calendar,
}

/// Arguments of `slate capacity`.
#[derive(Debug, Clone, Args)]
pub(crate) struct CapacityArgs {
    /// Parquet files, directories or globs of CAD history.
    #[arg(long, short, required = true, num_args = 1..)]
    pub(crate) input: Vec<String>,
    /// Read the input as a CAD or call-handling export through a source mapping (a built-in
    /// name or a mapping TOML file), as `slate run --source` does, without importing it first.
    #[arg(long, value_name = "NAME|FILE.toml")]
    pub(crate) source: Option<String>,
    /// Policy whose answer measure gives the target and the threshold.
    #[arg(long, short, default_value = "builtin:mps-promise-2008")]
    pub(crate) policy: String,
    /// The policy's answer measure.
    #[arg(long, default_value = "answer_999_10s")]
    pub(crate) measure: String,
    /// Channel to staff for.
    #[arg(long, default_value = "999")]
    pub(crate) channel: String,
    /// Planning interval: 15m, 30m or 1h.
    #[arg(long, default_value = "1h", value_parser = parse_interval)]
    pub(crate) interval: i64,
    /// Interval layout.
    #[arg(long, value_enum, default_value = "hour-of-week")]
    pub(crate) profile: ProfileArg,
    /// First local day (inclusive), YYYY-MM-DD.
    #[arg(long, value_parser = parse_date)]
    pub(crate) from: Option<NaiveDate>,
    /// Last local day (exclusive), YYYY-MM-DD.
    #[arg(long, value_parser = parse_date)]
    pub(crate) to: Option<NaiveDate>,
    /// Write the demand profile (Parquet, Arrow or CSV by extension).
    #[arg(long, value_name = "FILE")]
    pub(crate) out: Option<PathBuf>,
    /// Write the staffing table (Parquet, Arrow or CSV by extension).
    #[arg(long, value_name = "FILE")]
    pub(crate) staffing: Option<PathBuf>,
    /// Share of paid time not on the phones (breaks, training, absence), e.g. 0.3.
    #[arg(long, default_value_t = 0.0, value_name = "SHARE")]
    pub(crate) shrinkage: f64,
    /// Mean handling time when the data has no `call_ended` (e.g. 240s, 4m).
    #[arg(long, value_name = "DURATION")]
    pub(crate) handling_time: Option<String>,
    /// Mean caller patience for Erlang A (default: estimated from abandoned calls).
    #[arg(long, value_name = "DURATION")]
    pub(crate) patience: Option<String>,
    /// What-if: offered calls times a factor (x1.10, +10%).
    #[arg(long, value_name = "FACTOR")]
    pub(crate) demand: Option<String>,
    /// Erlang A staffing also keeps abandoned calls at or below this share (e.g. 0.05).
    #[arg(long, value_name = "SHARE")]
    pub(crate) max_abandon: Option<f64>,
    /// What-if: change in mean handling time (+20s, -15s, +1m).
    #[arg(long, value_name = "CHANGE", allow_hyphen_values = true)]
    pub(crate) aht: Option<String>,
    /// What-if: another service-level target (the policy's is the base), e.g. 0.95.
    #[arg(long, value_name = "SHARE")]
    pub(crate) target: Option<f64>,
    /// Evaluate a roster: CSV `interval,agents` (rostered staff, before shrinkage) with the
    /// profile's interval labels (`Mon 08:00` or `2024-03-01 08:00`).
    #[arg(long, value_name = "CSV")]
    pub(crate) roster: Option<PathBuf>,
    /// Write the roster's predicted figures (Parquet, Arrow or CSV by extension).
    #[arg(long, value_name = "FILE", requires = "roster")]
    pub(crate) roster_out: Option<PathBuf>,
    /// Check the Erlang C staffing with a seeded queue simulation (observed handling times,
    /// exponential patience) and report both.
    #[arg(long)]
    pub(crate) simulate: bool,
    /// Simulation seed.
    #[arg(long, default_value_t = 42)]
    pub(crate) seed: u64,
    /// Write the capacity page (self-contained HTML): demand against staff per interval.
    #[arg(long, value_name = "FILE")]
    pub(crate) report: Option<PathBuf>,
    /// DataFusion partitions (default: all cores).
    #[arg(long)]
    pub(crate) threads: Option<usize>,
    #[command(flatten)]
    pub(crate) tz: TzArgs,
}

fn parse_interval(s: &str) -> Result<i64, String> {
    match s {
        "15m" => Ok(900),
        "30m" => Ok(1800),
        "1h" | "60m" => Ok(3600),
        _ => Err(format!("{s:?}: expected 15m, 30m or 1h")),
    }
}

fn seconds(flag: &str, s: &str) -> Result<f64> {
    let v = parse_duration_secs(s).with_context(|| format!("{flag} {s:?}"))?;
    anyhow::ensure!(v > 0, "{flag} {s:?} must be longer than 0 s");
    Ok(v as f64)
}

pub(crate) fn run(a: CapacityArgs) -> Result<Outcome> {
    anyhow::ensure!(
        (0.0..1.0).contains(&a.shrinkage),
        "--shrinkage {} is not a share in [0, 1)",
        a.shrinkage
    );
    if let Some(t) = a.target {
        anyhow::ensure!(
            t > 0.0 && t < 1.0,
            "--target {t} is not a share between 0 and 1"
        );
    }
    if let Some(m) = a.max_abandon {
        anyhow::ensure!(
            m > 0.0 && m < 1.0,
            "--max-abandon {m} is not a share between 0 and 1"
        );
    }
    // Every output is checked against the inputs and the others before the scan, and all are
    // written together at the end.
    let mut outputs = OutputPlan::new();
    for i in &a.input {
        outputs.reads("input", i);
    }
    outputs.reads("policy", &a.policy);
    if let Some(p) = &a.roster {
        outputs.reads("roster", p);
    }
    if let Some(p) = &a.out {
        outputs.writes_table("demand profile", p);
    }
    if let Some(p) = &a.staffing {
        outputs.writes_table("staffing", p);
    }
    if let Some(p) = &a.roster_out {
        outputs.writes_table("roster figures", p);
    }
    if let Some(p) = &a.report {
        outputs.writes("capacity page", p);
    }
    outputs.check()?;
    let mut wrote = Vec::new();
    let policy = slate_io::policy::load(&a.policy)?;
    let Some(measure) = policy.measures.iter().find(|m| m.id == a.measure).cloned() else {
        let ids: Vec<&str> = policy.measures.iter().map(|m| m.id.as_str()).collect();
        bail!(
            "--measure {:?}: policy {:?} has no such measure (it has {})",
            a.measure,
            policy.name,
            ids.join(", ")
        );
    };
    let Some(base_share) = measure.target else {
        bail!(
            "measure {:?} has no target; give one in the policy",
            measure.id
        );
    };
    let handling_time = a
        .handling_time
        .as_deref()
        .map(|s| seconds("--handling-time", s))
        .transpose()?;
    let patience_flag = a
        .patience
        .as_deref()
        .map(|s| seconds("--patience", s))
        .transpose()?;
    let what_if = WhatIf {
        demand_factor: a
            .demand
            .as_deref()
            .map(staffing::parse_demand_factor)
            .transpose()?
            .unwrap_or(1.0),
        aht_delta: a
            .aht
            .as_deref()
            .map(staffing::parse_aht_delta)
            .transpose()?
            .unwrap_or(0.0),
        target_share: a.target,
    };
    let profile = match a.profile {
        ProfileArg::HourOfWeek => Profile::HourOfWeek,
        ProfileArg::Calendar => Profile::Calendar,
    };
    let opts = DemandOptions {
        interval_s: a.interval,
        profile,
        tz: a.tz.rules()?,
        from: a.from,
        to: a.to,
        measure: measure.clone(),
        threads: a.threads,
        source: a.source.clone(),
    };
    *outputs.provenance_mut() = provenance(&a, &opts, &policy)?;
    let rt = slate_engine::runtime(a.threads)?;
    let t0 = std::time::Instant::now();
    let rows = rt.block_on(demand::demand_profile(&a.input, &opts))?;
    let elapsed = t0.elapsed().as_secs_f64();
    let mut err = std::io::stderr().lock();
    writeln!(
        err,
        "demand profile: {} intervals x channels in {elapsed:.2} s",
        rows.len()
    )?;
    if let Some(path) = &a.out {
        let batch = demand::to_batch(&rows, profile)?;
        outputs.put_batches(
            "demand profile",
            batch.schema(),
            std::slice::from_ref(&batch),
        )?;
        wrote.push(path.clone());
    }
    let mine: Vec<&DemandRow> = rows
        .iter()
        .filter(|r| r.channel.as_deref() == Some(a.channel.as_str()))
        .collect();
    if mine.is_empty() {
        let mut channels: Vec<&str> = rows.iter().filter_map(|r| r.channel.as_deref()).collect();
        channels.dedup();
        bail!(
            "--channel {:?}: no calls on that channel in the input (channels: {})",
            a.channel,
            channels.join(", ")
        );
    }
    let summary = demand::summarise(&mine);
    let aht = match (handling_time, summary.aht_mean_s) {
        (Some(h), _) => h,
        (None, Some(h)) => h,
        (None, None) if summary.answered_total == 0 => bail!(
            "channel {}: none of its {} calls was answered, so handling time cannot be measured: give --handling-time (e.g. 240s)",
            a.channel,
            summary.offered_total
        ),
        (None, None) => bail!(
            "no answered call on channel {} has a call_ended time (the input has no call_ended column, or it is empty), so handling time is unknown: give --handling-time (e.g. 240s)",
            a.channel
        ),
    };
    let patience = patience_flag.or(summary.patience_s);
    let period_calls = summary.offered_total;
    writeln!(
        err,
        "channel {}: {} calls; mean handling time {:.0} s{}; patience {}; observed {} {}",
        a.channel,
        period_calls,
        aht,
        if handling_time.is_some() {
            " (--handling-time)"
        } else {
            ""
        },
        match (patience, patience_flag) {
            (Some(p), Some(_)) => format!("{p:.0} s (--patience)"),
            (Some(p), None) => format!("{p:.0} s (estimated from abandoned calls)"),
            (None, _) => format!(
                "unknown ({}; Erlang A skipped; --patience sets it)",
                match summary.abandoned_total {
                    None => "no abandoned column",
                    Some(0) => "no abandoned calls",
                    Some(_) => "abandoned calls have no call_ended time",
                }
            ),
        },
        measure.id,
        summary
            .observed_sl
            .map_or("n/a".into(), |s| format!("{:.1}%", 100.0 * s)),
    )?;
    let demand = demand::interval_demand(&mine, profile, a.interval, aht);
    // A handling-time flag replaces the data's per-interval means.
    let demand: Vec<IntervalDemand> = match handling_time {
        Some(h) => demand
            .into_iter()
            .map(|d| IntervalDemand { aht: h, ..d })
            .collect(),
        None => demand,
    };
    let plan = Plan {
        interval_s: a.interval as f64,
        target: Target {
            share: base_share,
            within: measure.threshold as f64,
            max_asa: None,
            max_abandon: a.max_abandon,
        },
        patience,
        shrinkage: a.shrinkage,
    };
    let t1 = std::time::Instant::now();
    let table = staffing::staffing(&demand, &plan)?;
    writeln!(
        err,
        "staffing: {} intervals in {:.3} s",
        table.len(),
        t1.elapsed().as_secs_f64()
    )?;
    let scenario = if what_if.is_identity() {
        None
    } else {
        let (d2, p2) = what_if.apply(&demand, &plan);
        Some(staffing::staffing(&d2, &p2)?)
    };
    let sample = if a.simulate {
        rt.block_on(demand::handling_sample(
            &a.input, &a.channel, &opts, 200_000,
        ))?
    } else {
        Vec::new()
    };
    let sims = if a.simulate {
        Some(simulate_table(
            &table,
            &demand,
            &plan,
            sample.clone(),
            a.seed,
        )?)
    } else {
        None
    };
    if let Some(path) = &a.staffing {
        let batch = staffing_batch(&table, scenario.as_deref(), sims.as_deref())?;
        outputs.put_batches("staffing", batch.schema(), std::slice::from_ref(&batch))?;
        wrote.push(path.clone());
    }
    drop(err);
    let mut out = std::io::stdout().lock();
    print_staffing(
        &mut out,
        &table,
        scenario.as_deref(),
        sims.as_deref(),
        &plan,
        &what_if,
        profile,
    )?;
    let mut roster_rows = None;
    if let Some(path) = &a.roster {
        let agents = staffing::read_roster(path, &demand)?;
        let model = match patience {
            Some(p) => Model::A { patience: p },
            None => Model::C,
        };
        let (rrows, totals) = evaluate_roster(&demand, &agents, &plan, model)?;
        print_roster(&mut out, &rrows, &totals, &plan, model, profile)?;
        let period = if a.simulate {
            let sim = simulate_roster(&rrows, &demand, &plan, &sample, profile, a.seed)?;
            print_period(&mut out, &rrows, &sim, &totals, profile)?;
            Some(sim)
        } else {
            None
        };
        if let Some(p) = &a.roster_out {
            let batch = roster_batch(&rrows, period.as_ref())?;
            outputs.put_batches(
                "roster figures",
                batch.schema(),
                std::slice::from_ref(&batch),
            )?;
            wrote.push(p.clone());
        }
        roster_rows = Some(rrows);
    }
    if let Some(path) = &a.report {
        let page = capacity_page(
            &a,
            &table,
            roster_rows.as_deref(),
            &mine,
            &plan,
            &measure.id,
            patience,
        );
        outputs.put_bytes(
            "capacity page",
            slate_report::render_capacity(&page).as_bytes(),
        )?;
        wrote.push(path.clone());
    }
    outputs.commit()?;
    let mut err = std::io::stderr().lock();
    for path in wrote {
        writeln!(err, "wrote {}", path.display())?;
    }
    Ok(Outcome::Ok)
}

/// The capacity page's figures: the staffing table, the roster's figures and the service
/// level observed in each interval of the history.
fn capacity_page(
    a: &CapacityArgs,
    table: &[StaffingRow],
    roster: Option<&[RosterRow]>,
    observed: &[&DemandRow],
    plan: &Plan,
    measure: &str,
    patience: Option<f64>,
) -> slate_report::CapacityPage {
    let seen: std::collections::HashMap<&str, Option<f64>> = observed
        .iter()
        .map(|r| (r.label.as_str(), r.observed_sl))
        .collect();
    let rows = table
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let rr = roster.and_then(|x| x.get(i));
            slate_report::CapacityRow {
                label: r.label.clone(),
                offered: r.offered,
                aht_s: r.aht,
                agents_c: r.erlang_c.agents,
                agents_a: r.erlang_a.map(|p| p.agents),
                staff_needed: r.rostered_a.unwrap_or(r.rostered_c),
                rostered: rr.map(|x| x.agents),
                on_phones: rr.map(|x| x.prediction.agents),
                roster_sl: rr.map(|x| x.prediction.service_level),
                roster_abandon: rr.map(|x| x.prediction.p_abandon),
                observed_sl: seen.get(r.label.as_str()).copied().flatten(),
            }
        })
        .collect();
    let mut provenance = crate::cmd::report::provenance();
    provenance.inputs = a
        .input
        .iter()
        .map(|p| slate_report::InputFile {
            path: p.clone(),
            rows: None,
        })
        .collect();
    provenance.policy = Some(a.policy.clone());
    provenance.tz = Some(a.tz.name(None).to_string());
    slate_report::CapacityPage {
        channel: a.channel.clone(),
        measure: measure.to_string(),
        target: plan.target.share,
        within_s: plan.target.within,
        interval_s: plan.interval_s,
        profile: match a.profile {
            ProfileArg::HourOfWeek => "hour-of-week".into(),
            ProfileArg::Calendar => "calendar".into(),
        },
        shrinkage: plan.shrinkage,
        patience_s: patience,
        rows,
        provenance,
    }
}

/// What the capacity tables record of their making: the demand options' provenance with this
/// command line and the settings that shape the staffing.
fn provenance(
    a: &CapacityArgs,
    opts: &DemandOptions,
    policy: &slate_core::SlaPolicy,
) -> Result<slate_io::Provenance> {
    let mut p = opts.provenance(&a.input, &a.policy, policy)?;
    p.command = Some(crate::cmd::report::command_line());
    let shown = |v: Option<f64>| v.map(|x| x.to_string());
    for (k, v) in [
        ("channel", Some(a.channel.clone())),
        ("shrinkage", Some(a.shrinkage.to_string())),
        ("handling_time", a.handling_time.clone()),
        ("patience", a.patience.clone()),
        ("demand", a.demand.clone()),
        ("aht", a.aht.clone()),
        ("target", shown(a.target)),
        ("max_abandon", shown(a.max_abandon)),
        ("roster", a.roster.as_ref().map(|r| r.display().to_string())),
        ("seed", a.simulate.then(|| a.seed.to_string())),
    ] {
        if let Some(v) = v {
            p.settings.insert(k.into(), v);
        }
    }
    Ok(p)
}

/// Simulates each interval at its Erlang C staffing: Poisson arrivals at the interval's rate,
/// handling times drawn from the data (exponential with the interval's mean without them),
/// exponential patience when known.
fn simulate_table(
    table: &[StaffingRow],
    demand: &[IntervalDemand],
    plan: &Plan,
    sample: Vec<f64>,
    seed: u64,
) -> Result<Vec<Option<SimResult>>> {
    table
        .iter()
        .zip(demand)
        .enumerate()
        .map(|(i, (row, d))| {
            if d.offered <= 0.0 {
                return Ok(None);
            }
            let handling = if sample.is_empty() {
                Handling::Exponential { mean: d.aht }
            } else {
                Handling::Empirical(sample.clone())
            };
            let load = Load::per(d.offered, plan.interval_s, d.aht)?;
            // About 2,000 calls per replication, at least 10 intervals' worth.
            let horizon = (2000.0 / load.rate).max(10.0 * plan.interval_s);
            Ok(Some(simulate(&SimConfig {
                agents: row.erlang_c.agents,
                arrivals: Arrivals::Poisson { rate: load.rate },
                handling,
                patience: plan.patience,
                within: plan.target.within,
                horizon,
                warmup: horizon / 10.0,
                replications: 10,
                seed: seed ^ i as u64,
            })?))
        })
        .collect()
}

/// Simulates the roster over the whole period with the queue carried across interval
/// boundaries: Poisson arrivals at each interval's rate, handling times drawn from the data,
/// exponential patience. A typical week is cyclic, so it is run twice and the second pass
/// measured (Monday 00:00 starts with Sunday night's queue); a calendar starts empty.
fn simulate_roster(
    rows: &[RosterRow],
    demand: &[IntervalDemand],
    plan: &Plan,
    sample: &[f64],
    profile: Profile,
    seed: u64,
) -> Result<PeriodResult> {
    let handling = if sample.is_empty() {
        // No handling times in the data: exponential at the call-weighted mean.
        let calls: f64 = demand.iter().map(|d| d.offered).sum();
        let mean = demand.iter().map(|d| d.offered * d.aht).sum::<f64>() / calls.max(1e-9);
        Handling::Exponential { mean }
    } else {
        Handling::Empirical(sample.to_vec())
    };
    Ok(simulate_period(&PeriodConfig {
        interval_s: plan.interval_s,
        agents: rows.iter().map(|r| r.prediction.agents).collect(),
        arrivals: PeriodArrivals::Rates {
            step_s: plan.interval_s,
            rates: demand.iter().map(|d| d.offered / plan.interval_s).collect(),
        },
        handling,
        patience: plan.patience,
        within: plan.target.within,
        warmup_periods: u32::from(matches!(profile, Profile::HourOfWeek)),
        replications: 10,
        seed,
    })?)
}

fn print_period(
    out: &mut impl Write,
    rows: &[RosterRow],
    sim: &PeriodResult,
    totals: &Totals,
    profile: Profile,
) -> Result<()> {
    writeln!(
        out,
        "Roster simulated over the whole period (queue carried across intervals, 10 replications):"
    )?;
    writeln!(
        out,
        "{:<12} {:>9} {:>8} {:>8} {:>9} {:>9} {:>8} {:>8}",
        "day", "calls", "SL model", "SL sim", "ASA model", "ASA sim", "ab model", "ab sim"
    )?;
    for (d, idx) in &day_groups(rows.iter().map(|r| r.label.as_str()), profile) {
        let part: Vec<RosterRow> = idx.iter().map(|&i| rows[i].clone()).collect();
        // Agent-hours are not shown here, so the interval length does not matter.
        let t = staffing::totals(&part, 3600.0);
        // The simulation's day: its intervals' means weighted by their simulated calls.
        let (mut calls, mut answered, mut within, mut wait, mut aband) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for &i in idx {
            let s = &sim.intervals[i];
            // NaN figures (nothing measured in the interval) weigh nothing.
            let fin = |v: f64| if v.is_finite() { v } else { 0.0 };
            let ans = s.offered * (1.0 - fin(s.p_abandon.mean));
            calls += s.offered;
            answered += ans;
            within += ans * fin(s.service_level.mean);
            wait += ans * fin(s.asa.mean);
            aband += s.offered * fin(s.p_abandon.mean);
        }
        let r = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
        writeln!(
            out,
            "{:<12} {:>9.1} {:>7.1}% {:>7.1}% {:>9.1} {:>9.1} {:>7.2}% {:>7.2}%",
            d,
            t.offered,
            100.0 * t.service_level,
            100.0 * r(within, answered),
            t.asa,
            r(wait, answered),
            100.0 * t.p_abandon,
            100.0 * r(aband, calls)
        )?;
    }
    let w = &sim.whole;
    writeln!(
        out,
        "{:<12} {:>9.1} {:>7.1}% {:>7.1}% {:>9.1} {:>9.1} {:>7.2}% {:>7.2}%",
        "total",
        totals.offered,
        100.0 * totals.service_level,
        100.0 * w.service_level.mean,
        totals.asa,
        w.asa.mean,
        100.0 * totals.p_abandon,
        100.0 * w.p_abandon.mean
    )?;
    writeln!(
        out,
        "  simulated whole period: service level {:.1}% +- {:.1}, ASA {:.1} s +- {:.1}, abandoned {:.2}% +- {:.2} (95% intervals over the replications)",
        100.0 * w.service_level.mean,
        100.0 * w.service_level.half_width,
        w.asa.mean,
        w.asa.half_width,
        100.0 * w.p_abandon.mean,
        100.0 * w.p_abandon.half_width
    )?;
    Ok(())
}

/// The day part of an interval label (`Mon` of `Mon 08:00`, the date of a calendar label).
fn day_of(label: &str, _profile: Profile) -> String {
    label.split(' ').next().unwrap_or("").to_string()
}

/// The days of interval `labels` in order of appearance, each with the indices of its
/// intervals: what every per-day table (staffing, roster, simulation) groups by.
fn day_groups<'a>(
    labels: impl Iterator<Item = &'a str>,
    profile: Profile,
) -> Vec<(String, Vec<usize>)> {
    let mut out: Vec<(String, Vec<usize>)> = Vec::new();
    for (i, label) in labels.enumerate() {
        let d = day_of(label, profile);
        match out.iter_mut().find(|(day, _)| *day == d) {
            Some((_, idx)) => idx.push(i),
            None => out.push((d, vec![i])),
        }
    }
    out
}

fn print_staffing(
    out: &mut impl Write,
    table: &[StaffingRow],
    scenario: Option<&[StaffingRow]>,
    sims: Option<&[Option<SimResult>]>,
    plan: &Plan,
    what_if: &WhatIf,
    profile: Profile,
) -> Result<()> {
    let hours = plan.interval_s / 3600.0;
    writeln!(
        out,
        "Staffing for {:.0}% answered within {:.0} s ({}), shrinkage {:.0}%:",
        100.0 * plan.target.share,
        plan.target.within,
        if plan.patience.is_some() {
            "Erlang C and Erlang A"
        } else {
            "Erlang C"
        },
        100.0 * plan.shrinkage
    )?;
    writeln!(
        out,
        "{:<12} {:>9} {:>8} {:>8} {:>10} {:>8} {:>10} {:>8} {:>8} {:>9}",
        "day",
        "calls",
        "peak C",
        "peak A",
        "agent-h C",
        "SL C",
        "agent-h A",
        "SL A",
        "aband A",
        "rostered"
    )?;
    let mut week = (0.0, 0.0, 0.0, 0.0);
    for (d, idx) in &day_groups(table.iter().map(|r| r.label.as_str()), profile) {
        let rows: Vec<&StaffingRow> = idx.iter().map(|&i| &table[i]).collect();
        let calls: f64 = rows.iter().map(|r| r.offered).sum();
        let peak_c = rows.iter().map(|r| r.erlang_c.agents).max().unwrap_or(0);
        let peak_a = rows
            .iter()
            .filter_map(|r| r.erlang_a.map(|p| p.agents))
            .max();
        let h_c: f64 = rows
            .iter()
            .map(|r| f64::from(r.erlang_c.agents) * hours)
            .sum();
        let h_a: f64 = rows
            .iter()
            .filter_map(|r| r.erlang_a.map(|p| f64::from(p.agents) * hours))
            .sum();
        let rost: f64 = rows
            .iter()
            .map(|r| f64::from(r.rostered_a.unwrap_or(r.rostered_c)) * hours)
            .sum();
        let wsum = |f: &dyn Fn(&StaffingRow) -> Option<f64>| -> Option<f64> {
            let mut num = 0.0;
            let mut den = 0.0;
            for r in &rows {
                num += f(r)? * r.offered;
                den += r.offered;
            }
            (den > 0.0).then(|| num / den)
        };
        let sl_c = wsum(&|r| Some(r.erlang_c.service_level));
        let sl_a = wsum(&|r| r.erlang_a.map(|p| p.service_level));
        let ab_a = wsum(&|r| r.erlang_a.map(|p| p.p_abandon));
        let pct = |v: Option<f64>| v.map_or("-".into(), |v| format!("{:.1}%", 100.0 * v));
        writeln!(
            out,
            "{:<12} {:>9.1} {:>8} {:>8} {:>10.1} {:>8} {:>10} {:>8} {:>8} {:>9.1}",
            d,
            calls,
            peak_c,
            peak_a.map_or("-".into(), |p| p.to_string()),
            h_c,
            pct(sl_c),
            if peak_a.is_some() {
                format!("{h_a:.1}")
            } else {
                "-".into()
            },
            pct(sl_a),
            pct(ab_a),
            rost
        )?;
        week.0 += calls;
        week.1 += h_c;
        week.2 += h_a;
        week.3 += rost;
    }
    writeln!(
        out,
        "{:<12} {:>9.1} {:>8} {:>8} {:>10.1} {:>8} {:>10} {:>8} {:>8} {:>9.1}",
        "total",
        week.0,
        "",
        "",
        week.1,
        "",
        if plan.patience.is_some() {
            format!("{:.1}", week.2)
        } else {
            "-".into()
        },
        "",
        "",
        week.3
    )?;
    if let Some(s) = scenario {
        let h = |rows: &[StaffingRow], a: bool| -> f64 {
            rows.iter()
                .map(|r| {
                    let n = if a {
                        r.erlang_a.map_or(0, |p| p.agents)
                    } else {
                        r.erlang_c.agents
                    };
                    f64::from(n) * hours
                })
                .sum()
        };
        let mut what = Vec::new();
        if what_if.demand_factor != 1.0 {
            what.push(format!("demand x{:.2}", what_if.demand_factor));
        }
        if what_if.aht_delta != 0.0 {
            what.push(format!("handling time {:+.0} s", what_if.aht_delta));
        }
        if let Some(t) = what_if.target_share {
            what.push(format!("target {:.0}%", 100.0 * t));
        }
        let (bc, sc) = (h(table, false), h(s, false));
        write!(
            out,
            "What-if ({}): Erlang C agent-hours {:.1} -> {:.1} ({:+.1}, {:+.1}%)",
            what.join(", "),
            bc,
            sc,
            sc - bc,
            100.0 * (sc - bc) / bc.max(1e-9)
        )?;
        if plan.patience.is_some() {
            let (ba, sa) = (h(table, true), h(s, true));
            write!(
                out,
                "; Erlang A {:.1} -> {:.1} ({:+.1}, {:+.1}%)",
                ba,
                sa,
                sa - ba,
                100.0 * (sa - ba) / ba.max(1e-9)
            )?;
        }
        let peak = |rows: &[StaffingRow]| rows.iter().map(|r| r.erlang_c.agents).max().unwrap_or(0);
        writeln!(out, "; peak Erlang C agents {} -> {}", peak(table), peak(s))?;
    }
    if let Some(sims) = sims {
        let mut n = 0;
        let mut covered = 0;
        let mut worst: Option<(f64, &str, f64, f64)> = None;
        let mut num = (0.0, 0.0, 0.0);
        for (r, s) in table.iter().zip(sims) {
            let Some(s) = s else { continue };
            n += 1;
            // The model at the staffing that was simulated (Erlang C's agents), with the
            // simulation's own assumptions: Erlang A when callers abandon, else Erlang C.
            let model = match plan.patience {
                Some(patience) => Model::A { patience }.predict(
                    Load::per(r.offered, plan.interval_s, r.aht)?,
                    r.erlang_c.agents,
                    plan.target.within,
                )?,
                None => r.erlang_c,
            };
            if s.service_level.covers(model.service_level) {
                covered += 1;
            }
            let gap = model.service_level - s.service_level.mean;
            if worst.is_none_or(|w| gap.abs() > w.0.abs()) {
                worst = Some((gap, &r.label, model.service_level, s.service_level.mean));
            }
            num.0 += r.offered * s.service_level.mean;
            num.1 += r.offered * model.service_level;
            num.2 += r.offered;
        }
        writeln!(
            out,
            "Simulation at the Erlang C staffing ({} intervals, 10 replications each): service level {:.1}% simulated vs {:.1}% by the model ({}); the model's figure is inside the simulation's 95% interval in {covered} of {n} intervals",
            n,
            100.0 * num.0 / num.2.max(1e-9),
            100.0 * num.1 / num.2.max(1e-9),
            if plan.patience.is_some() {
                "Erlang A"
            } else {
                "Erlang C"
            }
        )?;
        if let Some((gap, label, m, s)) = worst {
            writeln!(
                out,
                "  largest gap: {label}: model {:.1}%, simulated {:.1}% ({:+.1} points)",
                100.0 * m,
                100.0 * s,
                -100.0 * gap
            )?;
        }
    }
    Ok(())
}

fn print_roster(
    out: &mut impl Write,
    rows: &[RosterRow],
    totals: &Totals,
    plan: &Plan,
    model: Model,
    profile: Profile,
) -> Result<()> {
    writeln!(
        out,
        "Roster ({}, shrinkage {:.0}%):",
        match model {
            Model::C => "Erlang C".to_string(),
            Model::A { patience } => format!("Erlang A, patience {patience:.0} s"),
        },
        100.0 * plan.shrinkage
    )?;
    writeln!(
        out,
        "{:<12} {:>9} {:>10} {:>8} {:>8} {:>8} {:>8}",
        "day", "calls", "agent-h", "SL", "ASA s", "aband", "worst"
    )?;
    for (d, idx) in &day_groups(rows.iter().map(|r| r.label.as_str()), profile) {
        let part: Vec<RosterRow> = idx.iter().map(|&i| rows[i].clone()).collect();
        let t = staffing::totals(&part, plan.interval_s);
        let worst = part
            .iter()
            .filter(|r| r.offered > 0.0)
            .min_by(|a, b| {
                a.prediction
                    .service_level
                    .total_cmp(&b.prediction.service_level)
            })
            .map_or("-".into(), |r| {
                format!("{:.0}%", 100.0 * r.prediction.service_level)
            });
        writeln!(
            out,
            "{:<12} {:>9.1} {:>10.1} {:>7.1}% {:>8.1} {:>7.2}% {:>8}",
            d,
            t.offered,
            t.agent_hours,
            100.0 * t.service_level,
            t.asa,
            100.0 * t.p_abandon,
            worst
        )?;
    }
    writeln!(
        out,
        "{:<12} {:>9.1} {:>10.1} {:>7.1}% {:>8.1} {:>7.2}%",
        "total",
        totals.offered,
        totals.agent_hours,
        100.0 * totals.service_level,
        totals.asa,
        100.0 * totals.p_abandon
    )?;
    Ok(())
}

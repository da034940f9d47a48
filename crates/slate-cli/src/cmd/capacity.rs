//! `slate capacity`: demand from history, staffing by Erlang C and A, roster checks, what-if
//! and a simulation check. The plan is `slate_capacity::plan::CapacityRequest`'s; this module
//! turns the flags into a request and prints and writes the plan.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use chrono::NaiveDate;
use clap::{Args, ValueEnum};
use slate_capacity::demand::{self, Profile};
use slate_capacity::output::{roster_batch, staffing_batch};
use slate_capacity::plan::{CapacityPlan, CapacityRequest, Origin, RosterPlan};
use slate_capacity::queue::Model;
use slate_capacity::sim::PeriodResult;
use slate_capacity::staffing::{self, WhatIf};
use slate_core::duration::parse_duration_secs;

use crate::Outcome;
use crate::args::{TzArgs, command_line, page_provenance, parse_date};
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
    #[arg(long, value_name = "DURATION", value_parser = parse_seconds)]
    pub(crate) handling_time: Option<f64>,
    /// Mean caller patience for Erlang A (default: estimated from abandoned calls).
    #[arg(long, value_name = "DURATION", value_parser = parse_seconds)]
    pub(crate) patience: Option<f64>,
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

/// A duration in seconds (`240s`, `4m`); the request checks that it is positive.
fn parse_seconds(s: &str) -> Result<f64, String> {
    parse_duration_secs(s)
        .map(|v| v as f64)
        .map_err(|e| e.to_string())
}

/// The request these arguments describe.
fn request(a: &CapacityArgs) -> Result<CapacityRequest> {
    let policy = slate_io::policy::load(&a.policy)?;
    let mut r = CapacityRequest::new(a.input.clone(), a.policy.clone(), policy);
    r.measure = a.measure.clone();
    r.channel = a.channel.clone();
    r.interval_s = a.interval;
    r.profile = match a.profile {
        ProfileArg::HourOfWeek => Profile::HourOfWeek,
        ProfileArg::Calendar => Profile::Calendar,
    };
    r.tz = a.tz.rules()?;
    r.from = a.from;
    r.to = a.to;
    r.threads = a.threads;
    r.source = a.source.clone();
    r.shrinkage = a.shrinkage;
    r.handling_time = a.handling_time;
    r.patience = a.patience;
    r.what_if = WhatIf {
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
    r.max_abandon = a.max_abandon;
    r.roster = a.roster.clone();
    r.simulate = a.simulate.then_some(a.seed);
    Ok(r)
}

pub(crate) fn run(a: CapacityArgs) -> Result<Outcome> {
    let request = request(&a)?;
    request.validate()?;
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
    let mut provenance = request.provenance()?;
    provenance.command = Some(command_line());
    *outputs.provenance_mut() = provenance;
    let rt = slate_engine::runtime(a.threads)?;
    let plan = rt.block_on(request.execute())?;
    let mut err = std::io::stderr().lock();
    writeln!(
        err,
        "demand profile: {} intervals x channels in {:.2} s",
        plan.demand_rows.len(),
        plan.demand_secs
    )?;
    print_channel(&mut err, &plan)?;
    writeln!(
        err,
        "staffing: {} intervals in {:.3} s",
        plan.table.len(),
        plan.staffing_secs
    )?;
    drop(err);
    let mut wrote = Vec::new();
    if let Some(path) = &a.out {
        let batch = demand::to_batch(&plan.demand_rows, plan.profile)?;
        outputs.put_batches(
            "demand profile",
            batch.schema(),
            std::slice::from_ref(&batch),
        )?;
        wrote.push(path.clone());
    }
    if let Some(path) = &a.staffing {
        let batch = staffing_batch(
            &plan.table,
            plan.scenario.as_deref(),
            plan.simulation.as_deref(),
        )?;
        outputs.put_batches("staffing", batch.schema(), std::slice::from_ref(&batch))?;
        wrote.push(path.clone());
    }
    let mut out = std::io::stdout().lock();
    print_staffing(&mut out, &plan, &request.what_if)?;
    if let Some(roster) = &plan.roster {
        print_roster(&mut out, &plan, roster)?;
        if let Some(sim) = &roster.period {
            print_period(&mut out, &plan, roster, sim)?;
        }
        if let Some(p) = &a.roster_out {
            let batch = roster_batch(&roster.rows, roster.period.as_ref())?;
            outputs.put_batches(
                "roster figures",
                batch.schema(),
                std::slice::from_ref(&batch),
            )?;
            wrote.push(p.clone());
        }
    }
    if let Some(path) = &a.report {
        let page = capacity_page(&a, &plan);
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

/// The channel's pooled figures and where the handling time and patience came from.
fn print_channel(err: &mut impl Write, plan: &CapacityPlan) -> Result<()> {
    let (aht, aht_origin) = plan.handling_time;
    writeln!(
        err,
        "channel {}: {} calls; mean handling time {:.0} s{}; patience {}; observed {} {}",
        plan.channel,
        plan.summary.offered_total,
        aht,
        if aht_origin == Origin::Given {
            " (--handling-time)"
        } else {
            ""
        },
        match plan.patience {
            Ok((p, Origin::Given)) => format!("{p:.0} s (--patience)"),
            Ok((p, Origin::Measured)) => format!("{p:.0} s (estimated from abandoned calls)"),
            Err(why) => format!(
                "unknown ({}; Erlang A skipped; --patience sets it)",
                why.describe()
            ),
        },
        plan.measure.id,
        plan.summary
            .observed_sl
            .map_or("n/a".into(), |s| format!("{:.1}%", 100.0 * s)),
    )?;
    Ok(())
}

/// The capacity page: the plan's intervals beside the history's observed service level, and
/// its whole-period figures.
fn capacity_page(a: &CapacityArgs, plan: &CapacityPlan) -> slate_report::CapacityPage {
    let seen: std::collections::HashMap<&str, Option<f64>> = plan
        .channel_rows()
        .map(|r| (r.label.as_str(), r.observed_sl))
        .collect();
    let roster = plan.roster.as_ref().map(|r| r.rows.as_slice());
    let rows = plan
        .table
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
    let s = plan.summary_figures();
    let mut provenance = page_provenance();
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
        channel: plan.channel.clone(),
        measure: plan.measure.id.clone(),
        target: plan.plan.target.share,
        within_s: plan.plan.target.within,
        interval_s: plan.plan.interval_s,
        profile: match a.profile {
            ProfileArg::HourOfWeek => "hour-of-week".into(),
            ProfileArg::Calendar => "calendar".into(),
        },
        shrinkage: plan.plan.shrinkage,
        patience_s: plan.plan.patience,
        rows,
        summary: slate_report::CapacitySummary {
            calls: s.calls,
            hours_c: s.hours_c,
            hours_a: s.hours_a,
            staff_hours: s.staff_hours,
            rostered_hours: s.rostered_hours,
            roster_sl: s.roster_sl,
            observed_sl: s.observed_sl,
        },
        provenance,
    }
}

fn print_period(
    out: &mut impl Write,
    plan: &CapacityPlan,
    roster: &RosterPlan,
    sim: &PeriodResult,
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
    for d in plan.period_days() {
        let t = d.model;
        writeln!(
            out,
            "{:<12} {:>9.1} {:>7.1}% {:>7.1}% {:>9.1} {:>9.1} {:>7.2}% {:>7.2}%",
            d.day,
            t.offered,
            100.0 * t.service_level,
            100.0 * d.simulated_sl,
            t.asa,
            d.simulated_asa,
            100.0 * t.p_abandon,
            100.0 * d.simulated_abandon
        )?;
    }
    let (totals, w) = (&roster.totals, &sim.whole);
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

fn print_staffing(out: &mut impl Write, plan: &CapacityPlan, what_if: &WhatIf) -> Result<()> {
    let p = &plan.plan;
    writeln!(
        out,
        "Staffing for {:.0}% answered within {:.0} s ({}), shrinkage {:.0}%:",
        100.0 * p.target.share,
        p.target.within,
        if p.patience.is_some() {
            "Erlang C and Erlang A"
        } else {
            "Erlang C"
        },
        100.0 * p.shrinkage
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
    let pct = |v: Option<f64>| v.map_or("-".into(), |v| format!("{:.1}%", 100.0 * v));
    let hours = |v: Option<f64>| v.map_or("-".into(), |h| format!("{h:.1}"));
    for d in plan.staffing_days() {
        writeln!(
            out,
            "{:<12} {:>9.1} {:>8} {:>8} {:>10.1} {:>8} {:>10} {:>8} {:>8} {:>9.1}",
            d.day,
            d.calls,
            d.peak_c,
            d.peak_a.map_or("-".into(), |p| p.to_string()),
            d.hours_c,
            pct(d.sl_c),
            hours(d.hours_a),
            pct(d.sl_a),
            pct(d.abandon_a),
            d.rostered_hours
        )?;
    }
    let t = plan.staffing_total();
    writeln!(
        out,
        "{:<12} {:>9.1} {:>8} {:>8} {:>10.1} {:>8} {:>10} {:>8} {:>8} {:>9.1}",
        "total",
        t.calls,
        "",
        "",
        t.hours_c,
        "",
        hours(t.hours_a),
        "",
        "",
        t.rostered_hours
    )?;
    if let Some(c) = plan.what_if_change() {
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
        let (bc, sc) = c.hours_c;
        write!(
            out,
            "What-if ({}): Erlang C agent-hours {:.1} -> {:.1} ({:+.1}, {:+.1}%)",
            what.join(", "),
            bc,
            sc,
            sc - bc,
            100.0 * (sc - bc) / bc.max(1e-9)
        )?;
        if let Some((ba, sa)) = c.hours_a {
            write!(
                out,
                "; Erlang A {:.1} -> {:.1} ({:+.1}, {:+.1}%)",
                ba,
                sa,
                sa - ba,
                100.0 * (sa - ba) / ba.max(1e-9)
            )?;
        }
        writeln!(
            out,
            "; peak Erlang C agents {} -> {}",
            c.peak_c.0, c.peak_c.1
        )?;
    }
    if let Some(c) = &plan.simulation_check {
        writeln!(
            out,
            "Simulation at the Erlang C staffing ({} intervals, 10 replications each): service level {:.1}% simulated vs {:.1}% by the model ({}); the model's figure is inside the simulation's 95% interval in {} of {} intervals",
            c.intervals,
            100.0 * c.simulated_sl,
            100.0 * c.model_sl,
            if p.patience.is_some() {
                "Erlang A"
            } else {
                "Erlang C"
            },
            c.covered,
            c.intervals
        )?;
        if let Some((label, m, s)) = &c.largest_gap {
            writeln!(
                out,
                "  largest gap: {label}: model {:.1}%, simulated {:.1}% ({:+.1} points)",
                100.0 * m,
                100.0 * s,
                100.0 * (s - m)
            )?;
        }
    }
    Ok(())
}

fn print_roster(out: &mut impl Write, plan: &CapacityPlan, roster: &RosterPlan) -> Result<()> {
    writeln!(
        out,
        "Roster ({}, shrinkage {:.0}%):",
        match roster.model {
            Model::C => "Erlang C".to_string(),
            Model::A { patience } => format!("Erlang A, patience {patience:.0} s"),
        },
        100.0 * plan.plan.shrinkage
    )?;
    writeln!(
        out,
        "{:<12} {:>9} {:>10} {:>8} {:>8} {:>8} {:>8}",
        "day", "calls", "agent-h", "SL", "ASA s", "aband", "worst"
    )?;
    for (d, t, worst) in plan.roster_days() {
        writeln!(
            out,
            "{:<12} {:>9.1} {:>10.1} {:>7.1}% {:>8.1} {:>7.2}% {:>8}",
            d,
            t.offered,
            t.agent_hours,
            100.0 * t.service_level,
            t.asa,
            100.0 * t.p_abandon,
            worst.map_or("-".into(), |w| format!("{:.0}%", 100.0 * w))
        )?;
    }
    let totals = &roster.totals;
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

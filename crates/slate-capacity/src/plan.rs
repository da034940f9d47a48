//! A whole capacity plan as one request: [`CapacityRequest`] validates its parameters, scans
//! the history once for the demand profile, staffs every interval (Erlang C, and Erlang A when
//! a patience is known), applies a what-if, evaluates a roster and checks the models with the
//! simulation, and returns every figure as a [`CapacityPlan`]. The CLI, `slate serve` or a
//! notebook set the request's parameters and show the plan; none of them decides anything
//! (the shape of delta-rs's operation builders).
//!
//! ```no_run
//! # async fn example() -> slate_capacity::Result<()> {
//! use slate_capacity::plan::CapacityRequest;
//! let policy = slate_core::SlaPolicy::builtin("mps-promise-2008").expect("built-in");
//! let mut request = CapacityRequest::new(
//!     vec!["queue-data/".into()],
//!     "builtin:mps-promise-2008".into(),
//!     policy,
//! );
//! request.shrinkage = 0.3;
//! request.simulate = Some(42);
//! let plan = request.execute().await?;
//! for day in plan.staffing_days() {
//!     println!("{}: {:.1} agent-hours (Erlang C)", day.day, day.hours_c);
//! }
//! # Ok(())
//! # }
//! ```

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use chrono::NaiveDate;
use slate_core::{Measure, ParamMessage, SlaPolicy, TzRules};

use crate::demand::{self, ChannelSummary, DemandOptions, DemandRow, Profile};
use crate::error::{CapacityError, Result};
use crate::queue::{Load, Model, Target};
use crate::sim::{
    Arrivals, Handling, PeriodArrivals, PeriodConfig, PeriodResult, SimConfig, SimResult, simulate,
    simulate_period,
};
use crate::staffing::{self, IntervalDemand, Plan, RosterRow, StaffingRow, Totals, WhatIf};

/// Observed handling times kept for the simulation (enough for a stable empirical draw).
const HANDLING_SAMPLE: usize = 200_000;
/// Replications of every simulation.
const REPLICATIONS: u32 = 10;

/// Everything a capacity plan is computed from. Every field is public; [`CapacityRequest::new`]
/// gives the defaults (the 999 channel's 10-second answer measure, hourly intervals of a typical
/// week, no shrinkage, no what-if, no roster, no simulation).
#[derive(Debug, Clone)]
pub struct CapacityRequest {
    /// Parquet files, directories or globs of CAD history (or exports read through `source`).
    pub inputs: Vec<String>,
    /// The policy as named by the caller (a `builtin:` name or a file), for provenance.
    pub policy_spec: String,
    /// The policy whose `measure` gives the target and the threshold.
    pub policy: SlaPolicy,
    /// The policy's answer measure.
    pub measure: String,
    /// The channel to staff for.
    pub channel: String,
    /// Planning interval, seconds (divides a day).
    pub interval_s: i64,
    /// Interval layout.
    pub profile: Profile,
    /// Zone for local time.
    pub tz: Arc<TzRules>,
    /// First local day (inclusive).
    pub from: Option<NaiveDate>,
    /// Last local day (exclusive).
    pub to: Option<NaiveDate>,
    /// DataFusion partitions (default: cores).
    pub threads: Option<usize>,
    /// Read the inputs through this source mapping; `None` reads canonical Parquet.
    pub source: Option<String>,
    /// Share of paid time not on the phones, in [0, 1).
    pub shrinkage: f64,
    /// Mean handling time, seconds, instead of the data's (required when the data has none).
    pub handling_time: Option<f64>,
    /// Mean caller patience, seconds, instead of the estimate from abandoned calls.
    pub patience: Option<f64>,
    /// The what-if scenario (identity: none).
    pub what_if: WhatIf,
    /// Erlang A staffing also keeps abandoned calls at or below this share.
    pub max_abandon: Option<f64>,
    /// A roster CSV (`interval,agents`) to evaluate.
    pub roster: Option<PathBuf>,
    /// Check the models with a seeded queue simulation (the seed).
    pub simulate: Option<u64>,
}

/// Where the handling time or the patience of a plan came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The request gave it.
    Given,
    /// Measured in the history (handling time: answered calls' `call_answered` to
    /// `call_ended`; patience: seconds waited by everyone who waited, over abandoned calls).
    Measured,
}

/// Why a plan has no patience (so no Erlang A).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoPatience {
    /// The input has no `abandoned` column.
    NoAbandonedColumn,
    /// No call on the channel was abandoned.
    NoAbandonedCalls,
    /// Abandoned calls have no `call_ended` time, so their waits are unknown.
    NoEndTimes,
}

impl NoPatience {
    /// Why, in a few words.
    pub fn describe(self) -> &'static str {
        match self {
            NoPatience::NoAbandonedColumn => "no abandoned column",
            NoPatience::NoAbandonedCalls => "no abandoned calls",
            NoPatience::NoEndTimes => "abandoned calls have no call_ended time",
        }
    }
}

/// A roster's figures.
#[derive(Debug, Clone, PartialEq)]
pub struct RosterPlan {
    /// The model the roster was evaluated with (Erlang A when a patience is known).
    pub model: Model,
    /// Per interval, in the demand's order.
    pub rows: Vec<RosterRow>,
    /// Call-weighted over the whole period.
    pub totals: Totals,
    /// The roster simulated over the whole period with the queue carried across intervals.
    pub period: Option<PeriodResult>,
}

/// The simulation at the Erlang C staffing against the model at the same staffing.
#[derive(Debug, Clone, PartialEq)]
pub struct SimulationCheck {
    /// Intervals simulated (those with calls).
    pub intervals: usize,
    /// Of those, intervals whose model figure lies inside the simulation's 95% interval.
    pub covered: usize,
    /// Service level simulated, weighted by offered calls.
    pub simulated_sl: f64,
    /// Service level by the model, weighted by offered calls.
    pub model_sl: f64,
    /// The interval where model and simulation differ most: label, model, simulated.
    pub largest_gap: Option<(String, f64, f64)>,
}

/// One day (or the whole period) of a staffing table.
#[derive(Debug, Clone, PartialEq)]
pub struct StaffingDay {
    /// The day (`Mon`, or a date), or `total`.
    pub day: String,
    /// Offered calls.
    pub calls: f64,
    /// Most Erlang C agents in an interval of the day.
    pub peak_c: u32,
    /// Most Erlang A agents in an interval of the day (with a patience).
    pub peak_a: Option<u32>,
    /// Erlang C agent-hours on the phones.
    pub hours_c: f64,
    /// Erlang C service level, weighted by offered calls.
    pub sl_c: Option<f64>,
    /// Erlang A agent-hours on the phones (with a patience).
    pub hours_a: Option<f64>,
    /// Erlang A service level, weighted by offered calls.
    pub sl_a: Option<f64>,
    /// Erlang A abandonment, weighted by offered calls.
    pub abandon_a: Option<f64>,
    /// Staff-hours to roster after shrinkage (Erlang A's when known, else Erlang C's).
    pub rostered_hours: f64,
}

/// The what-if scenario against the base plan.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WhatIfChange {
    /// Erlang C agent-hours: base, scenario.
    pub hours_c: (f64, f64),
    /// Erlang A agent-hours: base, scenario (with a patience).
    pub hours_a: Option<(f64, f64)>,
    /// Most Erlang C agents in an interval: base, scenario.
    pub peak_c: (u32, u32),
}

/// One day of the roster simulated over the whole period: the model's figures and the
/// simulation's.
#[derive(Debug, Clone, PartialEq)]
pub struct PeriodDay {
    /// The day.
    pub day: String,
    /// The model's call-weighted figures.
    pub model: Totals,
    /// Simulated service level (answered calls within the threshold, of answered).
    pub simulated_sl: f64,
    /// Simulated average speed of answer, seconds.
    pub simulated_asa: f64,
    /// Simulated share of offered calls abandoned.
    pub simulated_abandon: f64,
}

/// The whole-period figures of a plan (what the capacity page's summary shows).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlanSummary {
    /// Offered calls.
    pub calls: f64,
    /// Erlang C agent-hours on the phones.
    pub hours_c: f64,
    /// Erlang A agent-hours on the phones (with a patience).
    pub hours_a: Option<f64>,
    /// Staff-hours to roster after shrinkage.
    pub staff_hours: f64,
    /// Staff-hours of the roster.
    pub rostered_hours: Option<f64>,
    /// The roster's service level by the model (answered calls within the threshold, of
    /// answered calls).
    pub roster_sl: Option<f64>,
    /// The service level observed in the history (measured records within the threshold).
    pub observed_sl: Option<f64>,
}

/// Every figure of a capacity plan.
#[derive(Debug, Clone)]
pub struct CapacityPlan {
    /// The answer measure staffed for.
    pub measure: Measure,
    /// The channel staffed for.
    pub channel: String,
    /// The interval layout.
    pub profile: Profile,
    /// The demand profile of every channel.
    pub demand_rows: Vec<DemandRow>,
    /// The staffed channel's pooled figures.
    pub summary: ChannelSummary,
    /// Mean handling time used, seconds, and where it came from.
    pub handling_time: (f64, Origin),
    /// Mean patience used, seconds, and where it came from; or why there is none.
    pub patience: std::result::Result<(f64, Origin), NoPatience>,
    /// The staffing input: every interval's offered calls and handling time.
    pub demand: Vec<IntervalDemand>,
    /// The staffing parameters.
    pub plan: Plan,
    /// The staffing table.
    pub table: Vec<StaffingRow>,
    /// The what-if scenario's staffing table.
    pub scenario: Option<Vec<StaffingRow>>,
    /// Each interval simulated at its Erlang C staffing (`None` for an interval without calls).
    pub simulation: Option<Vec<Option<SimResult>>>,
    /// The simulation against the model.
    pub simulation_check: Option<SimulationCheck>,
    /// The roster's figures.
    pub roster: Option<RosterPlan>,
    /// Seconds spent on the demand profile (the scan).
    pub demand_secs: f64,
    /// Seconds spent staffing.
    pub staffing_secs: f64,
}

fn share_param(name: &'static str, v: f64, what: &str) -> CapacityError {
    CapacityError::Parameter(
        ParamMessage::new()
            .param(name)
            .text(format!(" {v} is not a share {what}")),
    )
}

impl CapacityRequest {
    /// A request with the defaults for `inputs` and `policy` (named `policy_spec`).
    pub fn new(inputs: Vec<String>, policy_spec: String, policy: SlaPolicy) -> Self {
        CapacityRequest {
            inputs,
            policy_spec,
            policy,
            measure: "answer_999_10s".into(),
            channel: "999".into(),
            interval_s: 3600,
            profile: Profile::HourOfWeek,
            tz: Arc::new(
                TzRules::from_name(slate_core::schema::DEFAULT_TZ).expect("the default zone"),
            ),
            from: None,
            to: None,
            threads: None,
            source: None,
            shrinkage: 0.0,
            handling_time: None,
            patience: None,
            what_if: WhatIf::default(),
            max_abandon: None,
            roster: None,
            simulate: None,
        }
    }

    /// The policy's measure, or an error naming the ones it has.
    pub fn resolve_measure(&self) -> Result<&Measure> {
        self.policy
            .measures
            .iter()
            .find(|m| m.id == self.measure)
            .ok_or_else(|| {
                let ids: Vec<&str> = self.policy.measures.iter().map(|m| m.id.as_str()).collect();
                CapacityError::Parameter(ParamMessage::new().param("measure").text(format!(
                    " {:?}: policy {:?} has no such measure (it has {})",
                    self.measure,
                    self.policy.name,
                    ids.join(", ")
                )))
            })
    }

    /// Checks every parameter that can be checked before the scan.
    pub fn validate(&self) -> Result<()> {
        staffing::check_interval_and_shrinkage(self.interval_s as f64, self.shrinkage)?;
        if let Some(t) = self.what_if.target_share
            && !(t > 0.0 && t < 1.0)
        {
            return Err(share_param("target", t, "between 0 and 1"));
        }
        if let Some(m) = self.max_abandon
            && !(m > 0.0 && m < 1.0)
        {
            return Err(share_param("max_abandon", m, "between 0 and 1"));
        }
        for (name, v) in [
            ("handling_time", self.handling_time),
            ("patience", self.patience),
        ] {
            if let Some(v) = v
                && !(v > 0.0 && v.is_finite())
            {
                return Err(CapacityError::Parameter(
                    ParamMessage::new()
                        .param(name)
                        .text(format!(" {v} s must be longer than 0 s")),
                ));
            }
        }
        let measure = self.resolve_measure()?;
        if measure.target.is_none() {
            return Err(CapacityError::Invalid(format!(
                "measure {:?} has no target; give one in the policy",
                measure.id
            )));
        }
        Ok(())
    }

    /// The demand profile's options.
    pub fn demand_options(&self) -> Result<DemandOptions> {
        Ok(DemandOptions {
            interval_s: self.interval_s,
            profile: self.profile,
            tz: self.tz.clone(),
            from: self.from,
            to: self.to,
            measure: self.resolve_measure()?.clone(),
            threads: self.threads,
            source: self.source.clone(),
        })
    }

    /// What the plan's tables record of their making: the demand profile's provenance (zone,
    /// interval, layout, period, measure, policy, input files) and the settings that shape the
    /// staffing. The caller adds its command line.
    pub fn provenance(&self) -> Result<slate_io::Provenance> {
        let mut p =
            self.demand_options()?
                .provenance(&self.inputs, &self.policy_spec, &self.policy)?;
        let shown = |v: Option<f64>| v.map(|x| x.to_string());
        let w = &self.what_if;
        for (k, v) in [
            ("channel", Some(self.channel.clone())),
            ("shrinkage", Some(self.shrinkage.to_string())),
            ("handling_time_s", shown(self.handling_time)),
            ("patience_s", shown(self.patience)),
            (
                "demand_factor",
                (w.demand_factor != 1.0).then(|| w.demand_factor.to_string()),
            ),
            (
                "aht_delta_s",
                (w.aht_delta != 0.0).then(|| w.aht_delta.to_string()),
            ),
            ("target", shown(w.target_share)),
            ("max_abandon", shown(self.max_abandon)),
            (
                "roster",
                self.roster.as_ref().map(|r| r.display().to_string()),
            ),
            ("seed", self.simulate.map(|s| s.to_string())),
        ] {
            if let Some(v) = v {
                p.settings.insert(k.into(), v);
            }
        }
        Ok(p)
    }

    /// Validates, scans the history and computes every figure of the plan.
    pub async fn execute(&self) -> Result<CapacityPlan> {
        self.validate()?;
        let measure = self.resolve_measure()?.clone();
        let opts = self.demand_options()?;
        let t0 = Instant::now();
        let demand_rows = demand::demand_profile(&self.inputs, &opts).await?;
        let demand_secs = t0.elapsed().as_secs_f64();
        let mine: Vec<&DemandRow> = demand_rows
            .iter()
            .filter(|r| r.channel.as_deref() == Some(self.channel.as_str()))
            .collect();
        if mine.is_empty() {
            let mut channels: Vec<&str> = demand_rows
                .iter()
                .filter_map(|r| r.channel.as_deref())
                .collect();
            channels.dedup();
            return Err(CapacityError::Parameter(
                ParamMessage::new().param("channel").text(format!(
                    " {:?}: no calls on that channel in the input (channels: {})",
                    self.channel,
                    channels.join(", ")
                )),
            ));
        }
        let summary = demand::summarise(&mine);
        let handling_time = match (self.handling_time, summary.aht_mean_s) {
            (Some(h), _) => (h, Origin::Given),
            (None, Some(h)) => (h, Origin::Measured),
            (None, None) if summary.answered_total == 0 => {
                return Err(CapacityError::Parameter(
                    ParamMessage::new()
                        .text(format!(
                            "channel {}: none of its {} calls was answered, so handling time \
                             cannot be measured: give ",
                            self.channel, summary.offered_total
                        ))
                        .param("handling_time")
                        .text(" (e.g. 240s)"),
                ));
            }
            (None, None) => {
                return Err(CapacityError::Parameter(
                    ParamMessage::new()
                        .text(format!(
                            "no answered call on channel {} has a call_ended time (the input \
                             has no call_ended column, or it is empty), so handling time is \
                             unknown: give ",
                            self.channel
                        ))
                        .param("handling_time")
                        .text(" (e.g. 240s)"),
                ));
            }
        };
        let patience = match (self.patience, summary.patience_s) {
            (Some(p), _) => Ok((p, Origin::Given)),
            (None, Some(p)) => Ok((p, Origin::Measured)),
            (None, None) => Err(match summary.abandoned_total {
                None => NoPatience::NoAbandonedColumn,
                Some(0) => NoPatience::NoAbandonedCalls,
                Some(_) => NoPatience::NoEndTimes,
            }),
        };
        let patience_s = patience.ok().map(|p| p.0);
        let demand = demand::interval_demand(&mine, self.profile, self.interval_s, handling_time.0);
        // A given handling time replaces the data's per-interval means.
        let demand: Vec<IntervalDemand> = match self.handling_time {
            Some(h) => demand
                .into_iter()
                .map(|d| IntervalDemand { aht: h, ..d })
                .collect(),
            None => demand,
        };
        let plan = Plan {
            interval_s: self.interval_s as f64,
            target: Target {
                share: measure.target.expect("validated: the measure has a target"),
                within: measure.threshold as f64,
                max_asa: None,
                max_abandon: self.max_abandon,
            },
            patience: patience_s,
            shrinkage: self.shrinkage,
        };
        let t1 = Instant::now();
        let table = staffing::staffing(&demand, &plan)?;
        let staffing_secs = t1.elapsed().as_secs_f64();
        let scenario = if self.what_if.is_identity() {
            None
        } else {
            let (d2, p2) = self.what_if.apply(&demand, &plan);
            Some(staffing::staffing(&d2, &p2)?)
        };
        let sample = match self.simulate {
            Some(_) => {
                demand::handling_sample(&self.inputs, &self.channel, &opts, HANDLING_SAMPLE).await?
            }
            None => Vec::new(),
        };
        let simulation = match self.simulate {
            Some(seed) => Some(simulate_table(&table, &demand, &plan, &sample, seed)?),
            None => None,
        };
        let simulation_check = match &simulation {
            Some(sims) => Some(simulation_check(&table, sims, &plan)?),
            None => None,
        };
        let roster = match &self.roster {
            Some(path) => {
                let agents = staffing::read_roster(path, &demand)?;
                let model = match patience_s {
                    Some(patience) => Model::A { patience },
                    None => Model::C,
                };
                let (rows, totals) = staffing::evaluate_roster(&demand, &agents, &plan, model)?;
                let period = match self.simulate {
                    Some(seed) => Some(simulate_roster(
                        &rows,
                        &demand,
                        &plan,
                        &sample,
                        self.profile,
                        seed,
                    )?),
                    None => None,
                };
                Some(RosterPlan {
                    model,
                    rows,
                    totals,
                    period,
                })
            }
            None => None,
        };
        Ok(CapacityPlan {
            measure,
            channel: self.channel.clone(),
            profile: self.profile,
            demand_rows,
            summary,
            handling_time,
            patience,
            demand,
            plan,
            table,
            scenario,
            simulation,
            simulation_check,
            roster,
            demand_secs,
            staffing_secs,
        })
    }
}

impl CapacityPlan {
    /// The staffed channel's rows of the demand profile.
    pub fn channel_rows(&self) -> impl Iterator<Item = &DemandRow> {
        self.demand_rows
            .iter()
            .filter(|r| r.channel.as_deref() == Some(self.channel.as_str()))
    }

    /// The staffing table day by day, in order.
    pub fn staffing_days(&self) -> Vec<StaffingDay> {
        day_groups(self.table.iter().map(|r| r.label.as_str()))
            .into_iter()
            .map(|(day, idx)| {
                let rows: Vec<&StaffingRow> = idx.iter().map(|&i| &self.table[i]).collect();
                staffing_day(day, &rows, self.plan.interval_s)
            })
            .collect()
    }

    /// The staffing table over the whole period (peaks and service levels are per day only:
    /// they are left at zero and `None` here).
    pub fn staffing_total(&self) -> StaffingDay {
        let days = self.staffing_days();
        StaffingDay {
            day: "total".into(),
            calls: days.iter().map(|d| d.calls).sum(),
            peak_c: 0,
            peak_a: None,
            hours_c: days.iter().map(|d| d.hours_c).sum(),
            sl_c: None,
            hours_a: self
                .plan
                .patience
                .map(|_| days.iter().filter_map(|d| d.hours_a).sum()),
            sl_a: None,
            abandon_a: None,
            rostered_hours: days.iter().map(|d| d.rostered_hours).sum(),
        }
    }

    /// The what-if scenario against the base plan.
    pub fn what_if_change(&self) -> Option<WhatIfChange> {
        let s = self.scenario.as_deref()?;
        let hours = |rows: &[StaffingRow], a: bool| -> f64 {
            rows.iter()
                .map(|r| {
                    let n = if a {
                        r.erlang_a.map_or(0, |p| p.agents)
                    } else {
                        r.erlang_c.agents
                    };
                    f64::from(n) * self.plan.interval_s / 3600.0
                })
                .sum()
        };
        let peak = |rows: &[StaffingRow]| rows.iter().map(|r| r.erlang_c.agents).max().unwrap_or(0);
        Some(WhatIfChange {
            hours_c: (hours(&self.table, false), hours(s, false)),
            hours_a: self
                .plan
                .patience
                .map(|_| (hours(&self.table, true), hours(s, true))),
            peak_c: (peak(&self.table), peak(s)),
        })
    }

    /// The roster's figures day by day: the call-weighted totals and the worst interval's
    /// service level (of intervals with calls).
    pub fn roster_days(&self) -> Vec<(String, Totals, Option<f64>)> {
        let Some(r) = &self.roster else {
            return Vec::new();
        };
        day_groups(r.rows.iter().map(|x| x.label.as_str()))
            .into_iter()
            .map(|(day, idx)| {
                let part: Vec<RosterRow> = idx.iter().map(|&i| r.rows[i].clone()).collect();
                let t = staffing::totals(&part, self.plan.interval_s);
                let worst = part
                    .iter()
                    .filter(|x| x.offered > 0.0)
                    .map(|x| x.prediction.service_level)
                    .min_by(f64::total_cmp);
                (day, t, worst)
            })
            .collect()
    }

    /// The roster simulated over the period, day by day, beside the model's figures.
    pub fn period_days(&self) -> Vec<PeriodDay> {
        let Some(RosterPlan {
            rows,
            period: Some(sim),
            ..
        }) = &self.roster
        else {
            return Vec::new();
        };
        day_groups(rows.iter().map(|r| r.label.as_str()))
            .into_iter()
            .map(|(day, idx)| {
                let part: Vec<RosterRow> = idx.iter().map(|&i| rows[i].clone()).collect();
                // Agent-hours are not shown here, so the interval length does not matter.
                let model = staffing::totals(&part, 3600.0);
                // The simulation's day: its intervals' means weighted by their simulated calls.
                let (mut calls, mut answered, mut within, mut wait, mut aband) =
                    (0.0, 0.0, 0.0, 0.0, 0.0);
                for &i in &idx {
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
                PeriodDay {
                    day,
                    model,
                    simulated_sl: r(within, answered),
                    simulated_asa: r(wait, answered),
                    simulated_abandon: r(aband, calls),
                }
            })
            .collect()
    }

    /// The whole-period figures.
    pub fn summary_figures(&self) -> PlanSummary {
        let total = self.staffing_total();
        let hours = self.plan.interval_s / 3600.0;
        let roster = self.roster.as_ref();
        PlanSummary {
            calls: total.calls,
            hours_c: total.hours_c,
            hours_a: total.hours_a,
            staff_hours: total.rostered_hours,
            rostered_hours: roster
                .map(|r| r.rows.iter().map(|x| f64::from(x.agents) * hours).sum()),
            roster_sl: roster.map(|r| r.totals.service_level),
            observed_sl: self.summary.observed_sl,
        }
    }
}

fn staffing_day(day: String, rows: &[&StaffingRow], interval_s: f64) -> StaffingDay {
    let hours = interval_s / 3600.0;
    let peak_a = rows
        .iter()
        .filter_map(|r| r.erlang_a.map(|p| p.agents))
        .max();
    // Weighted by offered calls; `None` when a row lacks the figure or nothing was offered.
    let wsum = |f: &dyn Fn(&StaffingRow) -> Option<f64>| -> Option<f64> {
        let mut num = 0.0;
        let mut den = 0.0;
        for r in rows {
            num += f(r)? * r.offered;
            den += r.offered;
        }
        (den > 0.0).then(|| num / den)
    };
    StaffingDay {
        day,
        calls: rows.iter().map(|r| r.offered).sum(),
        peak_c: rows.iter().map(|r| r.erlang_c.agents).max().unwrap_or(0),
        peak_a,
        hours_c: rows
            .iter()
            .map(|r| f64::from(r.erlang_c.agents) * hours)
            .sum(),
        sl_c: wsum(&|r| Some(r.erlang_c.service_level)),
        hours_a: peak_a.map(|_| {
            rows.iter()
                .filter_map(|r| r.erlang_a.map(|p| f64::from(p.agents) * hours))
                .sum()
        }),
        sl_a: wsum(&|r| r.erlang_a.map(|p| p.service_level)),
        abandon_a: wsum(&|r| r.erlang_a.map(|p| p.p_abandon)),
        rostered_hours: rows
            .iter()
            .map(|r| f64::from(r.rostered_a.unwrap_or(r.rostered_c)) * hours)
            .sum(),
    }
}

/// The day part of an interval label (`Mon` of `Mon 08:00`, the date of a calendar label).
fn day_of(label: &str) -> &str {
    label.split(' ').next().unwrap_or("")
}

/// The days of interval `labels` in order of appearance, each with the indices of its
/// intervals: what every per-day table (staffing, roster, simulation) groups by.
pub fn day_groups<'a>(labels: impl Iterator<Item = &'a str>) -> Vec<(String, Vec<usize>)> {
    let mut out: Vec<(String, Vec<usize>)> = Vec::new();
    for (i, label) in labels.enumerate() {
        let d = day_of(label);
        match out.iter_mut().find(|(day, _)| day == d) {
            Some((_, idx)) => idx.push(i),
            None => out.push((d.to_string(), vec![i])),
        }
    }
    out
}

/// Compares each simulated interval with the model at the staffing that was simulated (Erlang
/// C's agents), under the simulation's own assumptions: Erlang A when callers abandon, else
/// Erlang C.
fn simulation_check(
    table: &[StaffingRow],
    sims: &[Option<SimResult>],
    plan: &Plan,
) -> Result<SimulationCheck> {
    let mut n = 0;
    let mut covered = 0;
    let mut worst: Option<(f64, &str, f64, f64)> = None;
    let (mut sim_num, mut model_num, mut den) = (0.0, 0.0, 0.0);
    for (r, s) in table.iter().zip(sims) {
        let Some(s) = s else { continue };
        n += 1;
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
        sim_num += r.offered * s.service_level.mean;
        model_num += r.offered * model.service_level;
        den += r.offered;
    }
    Ok(SimulationCheck {
        intervals: n,
        covered,
        simulated_sl: sim_num / den.max(1e-9),
        model_sl: model_num / den.max(1e-9),
        largest_gap: worst.map(|(_, label, m, s)| (label.to_string(), m, s)),
    })
}

/// Simulates each interval at its Erlang C staffing: Poisson arrivals at the interval's rate,
/// handling times drawn from the data (exponential with the interval's mean without them),
/// exponential patience when known.
fn simulate_table(
    table: &[StaffingRow],
    demand: &[IntervalDemand],
    plan: &Plan,
    sample: &[f64],
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
                Handling::Empirical(sample.to_vec())
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
                replications: REPLICATIONS,
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
    simulate_period(&PeriodConfig {
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
        replications: REPLICATIONS,
        seed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_group_labels_in_order_of_appearance() {
        let labels = ["Mon 00:00", "Mon 01:00", "Tue 00:00", "Mon 02:00"];
        assert_eq!(
            day_groups(labels.into_iter()),
            vec![("Mon".into(), vec![0, 1, 3]), ("Tue".into(), vec![2])]
        );
        let cal = ["2024-03-01 08:00", "2024-03-01 09:00", "2024-03-02 00:00"];
        assert_eq!(day_groups(cal.into_iter()).len(), 2);
    }

    #[test]
    fn bad_parameters_are_named_before_any_scan() {
        let policy = slate_core::SlaPolicy::builtin("mps-promise-2008").expect("built-in");
        let base = CapacityRequest::new(
            vec!["/no/such/input".into()],
            "builtin:mps-promise-2008".into(),
            policy,
        );
        let err = |f: &dyn Fn(&mut CapacityRequest)| {
            let mut r = base.clone();
            f(&mut r);
            let e = r.validate().expect_err("invalid");
            e.param_message()
                .map(|m| m.render(&|p| format!("<{p}>")))
                .unwrap_or_else(|| e.to_string())
        };
        assert!(err(&|r| r.shrinkage = 1.0).starts_with("<shrinkage>"));
        assert!(err(&|r| r.what_if.target_share = Some(1.5)).starts_with("<target> 1.5"));
        assert!(err(&|r| r.max_abandon = Some(0.0)).starts_with("<max_abandon> 0"));
        assert!(err(&|r| r.handling_time = Some(0.0)).starts_with("<handling_time> 0 s"));
        assert!(err(&|r| r.patience = Some(-1.0)).starts_with("<patience> -1 s"));
        let m = err(&|r| r.measure = "nope".into());
        assert!(m.starts_with("<measure> \"nope\": policy"), "{m}");
        assert!(m.contains("answer_999_10s"), "{m}");
        base.validate().expect("the defaults are valid");
    }
}

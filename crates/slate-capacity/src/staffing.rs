//! Staffing tables: agents needed per interval for a service-level target (Erlang C and
//! Erlang A), rostered staff after shrinkage, a roster's predicted figures, and what-if
//! scenarios. Pure: no I/O, no DataFusion.

use std::path::Path;

use slate_core::ParamMessage;

use crate::error::{CapacityError, Result};
use crate::queue::{Load, Model, Prediction, Target, agents_needed};

/// Demand of one planning interval.
#[derive(Debug, Clone, PartialEq)]
pub struct IntervalDemand {
    /// Label of the interval (`Mon 08:00` for hour-of-week, a local date-time for calendar).
    pub label: String,
    /// Offered calls in the interval (a mean over weeks for an hour-of-week profile).
    pub offered: f64,
    /// Mean handling time, seconds.
    pub aht: f64,
}

/// Planning options.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Plan {
    /// Interval length, seconds.
    pub interval_s: f64,
    /// The target.
    pub target: Target,
    /// Mean patience, seconds, for Erlang A (`None`: Erlang A is not computed).
    pub patience: Option<f64>,
    /// Share of paid time not available for calls (breaks, training, absence), in [0, 1).
    pub shrinkage: f64,
}

/// One row of a staffing table.
#[derive(Debug, Clone, PartialEq)]
pub struct StaffingRow {
    /// Interval label.
    pub label: String,
    /// Offered calls.
    pub offered: f64,
    /// Mean handling time, seconds.
    pub aht: f64,
    /// Offered load, Erlangs.
    pub erlangs: f64,
    /// Erlang C: agents needed and their figures.
    pub erlang_c: Prediction,
    /// Erlang C agents grossed up for shrinkage.
    pub rostered_c: u32,
    /// Erlang A: agents needed and their figures (when a patience is known).
    pub erlang_a: Option<Prediction>,
    /// Erlang A agents grossed up for shrinkage.
    pub rostered_a: Option<u32>,
}

/// Staff to roster so that `agents` are on the phones after `shrinkage`.
pub fn rostered(agents: u32, shrinkage: f64) -> u32 {
    // A tiny tolerance so 10 / (1 - 0.2) stays 13 rather than 13.000000000000002 -> 14.
    (f64::from(agents) / (1.0 - shrinkage) - 1e-9)
        .ceil()
        .max(0.0) as u32
}

fn check_plan(plan: &Plan) -> Result<()> {
    check_interval_and_shrinkage(plan.interval_s, plan.shrinkage)
}

/// The plan's own parameters: a shrinkage in [0, 1) and a positive interval.
pub(crate) fn check_interval_and_shrinkage(interval_s: f64, shrinkage: f64) -> Result<()> {
    if !(0.0..1.0).contains(&shrinkage) {
        return Err(CapacityError::Parameter(
            ParamMessage::new()
                .param("shrinkage")
                .text(format!(" must be in [0, 1) (got {shrinkage})")),
        ));
    }
    if interval_s.is_nan() || interval_s <= 0.0 {
        return Err(CapacityError::Invalid(format!(
            "interval must be > 0 s (got {interval_s})"
        )));
    }
    Ok(())
}

/// The staffing table for `demand`.
pub fn staffing(demand: &[IntervalDemand], plan: &Plan) -> Result<Vec<StaffingRow>> {
    check_plan(plan)?;
    demand
        .iter()
        .map(|d| {
            let load = Load::per(d.offered, plan.interval_s, d.aht)
                .map_err(|e| CapacityError::Invalid(format!("interval {}: {e}", d.label)))?;
            let in_interval = |e| match e {
                CapacityError::Invalid(m) => {
                    CapacityError::Invalid(format!("interval {}: {m}", d.label))
                }
                e => e,
            };
            let c = agents_needed(Model::C, load, plan.target).map_err(in_interval)?;
            let a = match plan.patience {
                Some(patience) => Some(
                    agents_needed(Model::A { patience }, load, plan.target).map_err(in_interval)?,
                ),
                None => None,
            };
            Ok(StaffingRow {
                label: d.label.clone(),
                offered: d.offered,
                aht: d.aht,
                erlangs: load.erlangs(),
                rostered_c: rostered(c.agents, plan.shrinkage),
                erlang_c: c,
                rostered_a: a.map(|p| rostered(p.agents, plan.shrinkage)),
                erlang_a: a,
            })
        })
        .collect()
}

/// What a roster gives in one interval.
#[derive(Debug, Clone, PartialEq)]
pub struct RosterRow {
    /// Interval label.
    pub label: String,
    /// Offered calls.
    pub offered: f64,
    /// Agents on the phones (after shrinkage).
    pub agents: u32,
    /// The model's figures.
    pub prediction: Prediction,
}

/// Call-weighted totals over a set of intervals (a day, a week).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Totals {
    /// Offered calls.
    pub offered: f64,
    /// Share of answered calls answered within the threshold.
    pub service_level: f64,
    /// Average speed of answer of answered calls, seconds.
    pub asa: f64,
    /// Share of offered calls abandoned.
    pub p_abandon: f64,
    /// Agent-hours rostered (before shrinkage).
    pub agent_hours: f64,
}

/// Evaluates a roster: `agents[i]` staff rostered for `demand[i]` (shrinkage applies, so
/// `agents * (1 - shrinkage)` rounded down are on the phones).
pub fn evaluate_roster(
    demand: &[IntervalDemand],
    agents: &[u32],
    plan: &Plan,
    model: Model,
) -> Result<(Vec<RosterRow>, Totals)> {
    check_plan(plan)?;
    if demand.len() != agents.len() {
        return Err(CapacityError::Invalid(format!(
            "roster has {} intervals, demand has {}",
            agents.len(),
            demand.len()
        )));
    }
    let mut rows = Vec::with_capacity(demand.len());
    for (d, &rostered) in demand.iter().zip(agents) {
        let on_phones = (f64::from(rostered) * (1.0 - plan.shrinkage) + 1e-9).floor() as u32;
        let load = Load::per(d.offered, plan.interval_s, d.aht)
            .map_err(|e| CapacityError::Invalid(format!("interval {}: {e}", d.label)))?;
        let prediction = model.predict(load, on_phones, plan.target.within)?;
        rows.push(RosterRow {
            label: d.label.clone(),
            offered: d.offered,
            agents: rostered,
            prediction,
        });
    }
    let totals = totals(&rows, plan.interval_s);
    Ok((rows, totals))
}

/// Call-weighted totals of roster rows.
pub fn totals(rows: &[RosterRow], interval_s: f64) -> Totals {
    let mut offered = 0.0;
    let mut answered = 0.0;
    let mut within = 0.0;
    let mut wait = 0.0;
    let mut abandoned = 0.0;
    let mut hours = 0.0;
    for r in rows {
        let p = &r.prediction;
        let ans = r.offered * (1.0 - p.p_abandon);
        offered += r.offered;
        answered += ans;
        within += ans * p.service_level;
        // An interval with no answered calls adds nothing (and no infinite ASA).
        if ans > 0.0 {
            wait += ans * p.asa;
        }
        abandoned += r.offered * p.p_abandon;
        hours += f64::from(r.agents) * interval_s / 3600.0;
    }
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
    Totals {
        offered,
        service_level: ratio(within, answered),
        asa: ratio(wait, answered),
        p_abandon: ratio(abandoned, offered),
        agent_hours: hours,
    }
}

/// A what-if scenario applied to the demand and the target.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WhatIf {
    /// Multiplies offered calls (`--demand x1.10` is 1.10).
    pub demand_factor: f64,
    /// Seconds added to the mean handling time (`--aht +20s`).
    pub aht_delta: f64,
    /// A new target share (`--target 0.95`), if changed.
    pub target_share: Option<f64>,
}

impl Default for WhatIf {
    /// No change.
    fn default() -> Self {
        WhatIf {
            demand_factor: 1.0,
            aht_delta: 0.0,
            target_share: None,
        }
    }
}

impl WhatIf {
    /// Whether the scenario changes anything.
    pub fn is_identity(&self) -> bool {
        self.demand_factor == 1.0 && self.aht_delta == 0.0 && self.target_share.is_none()
    }

    /// The demand and plan of the scenario.
    pub fn apply(&self, demand: &[IntervalDemand], plan: &Plan) -> (Vec<IntervalDemand>, Plan) {
        let d = demand
            .iter()
            .map(|d| IntervalDemand {
                label: d.label.clone(),
                offered: d.offered * self.demand_factor,
                aht: d.aht + self.aht_delta,
            })
            .collect();
        let mut p = *plan;
        if let Some(s) = self.target_share {
            p.target.share = s;
        }
        (d, p)
    }
}

/// Parses `--demand x1.10` (also `1.10`, `+10%`, `-5%`).
pub fn parse_demand_factor(s: &str) -> Result<f64> {
    let t = s.trim();
    let bad = || {
        CapacityError::Parameter(ParamMessage::new().param("demand").text(format!(
            " {s:?}: expected a factor such as x1.10, 1.1 or +10%"
        )))
    };
    let v = if let Some(p) = t.strip_suffix('%') {
        1.0 + p
            .trim_start_matches('+')
            .parse::<f64>()
            .map_err(|_| bad())?
            / 100.0
    } else {
        t.trim_start_matches(['x', 'X'])
            .parse::<f64>()
            .map_err(|_| bad())?
    };
    if !(v.is_finite() && v >= 0.0) {
        return Err(bad());
    }
    Ok(v)
}

/// Parses `--aht +20s` (also `-15s`, `+1m`, `20`).
pub fn parse_aht_delta(s: &str) -> Result<f64> {
    let t = s.trim();
    let bad = || {
        CapacityError::Parameter(ParamMessage::new().param("aht").text(format!(
            " {s:?}: expected a change such as +20s, -15s or +1m"
        )))
    };
    let (sign, rest) = match t.strip_prefix('-') {
        Some(r) => (-1.0, r),
        None => (1.0, t.trim_start_matches('+')),
    };
    let secs = if let Some(m) = rest.strip_suffix('m') {
        m.parse::<f64>().map_err(|_| bad())? * 60.0
    } else {
        rest.trim_end_matches('s')
            .parse::<f64>()
            .map_err(|_| bad())?
    };
    if !secs.is_finite() {
        return Err(bad());
    }
    Ok(sign * secs)
}

/// Reads a roster CSV: a header, then `interval,agents` lines. `interval` is matched against the
/// demand's labels; returns agents in the demand's order (intervals missing from the roster are
/// an error naming the first one).
pub fn read_roster(path: &Path, demand: &[IntervalDemand]) -> Result<Vec<u32>> {
    let err = |message: String| CapacityError::Roster {
        path: path.display().to_string(),
        message,
    };
    let text = slate_io::textfile::read_text_file(path).map_err(|e| err(e.to_string()))?;
    parse_roster(&text, demand).map_err(err)
}

fn parse_roster(text: &str, demand: &[IntervalDemand]) -> std::result::Result<Vec<u32>, String> {
    let mut by_label = std::collections::HashMap::new();
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    match lines.next() {
        Some((_, h)) if h.to_ascii_lowercase().replace(' ', "") == "interval,agents" => {}
        Some((_, h)) => {
            return Err(format!(
                "line 1: expected the header `interval,agents`, got {h:?}"
            ));
        }
        None => return Err("empty file".into()),
    }
    for (i, line) in lines {
        let Some((label, agents)) = line.rsplit_once(',') else {
            return Err(format!(
                "line {}: expected `interval,agents`, got {line:?}",
                i + 1
            ));
        };
        let label = label.trim().trim_matches('"').to_string();
        let agents: u32 = agents.trim().parse().map_err(|_| {
            format!(
                "line {}: agents {:?} is not a whole number >= 0",
                i + 1,
                agents.trim()
            )
        })?;
        if by_label.insert(label.clone(), agents).is_some() {
            return Err(format!("line {}: interval {label:?} appears twice", i + 1));
        }
    }
    // A line for an interval the demand does not have (a typo, `Mon 8:00` for `Mon 08:00`, a
    // calendar label on an hour-of-week profile) would otherwise be dropped without a word.
    let mut unknown: Vec<&String> = by_label
        .keys()
        .filter(|l| !demand.iter().any(|d| &d.label == *l))
        .collect();
    if !unknown.is_empty() {
        unknown.sort();
        return Err(format!(
            "{} interval label(s) the demand profile does not have: {}; its intervals are {}",
            unknown.len(),
            quoted_list(&unknown, 10),
            quoted_list(&demand.iter().map(|d| &d.label).collect::<Vec<_>>(), 6),
        ));
    }
    demand
        .iter()
        .map(|d| {
            by_label
                .get(&d.label)
                .copied()
                .ok_or_else(|| format!("no line for interval {:?}", d.label))
        })
        .collect()
}

/// `"a", "b", ... and N more` (at most `max` shown).
fn quoted_list(items: &[&String], max: usize) -> String {
    let mut text = items
        .iter()
        .take(max)
        .map(|s| format!("{s:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > max {
        text += &format!(" ... and {} more", items.len() - max);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(share: f64) -> Plan {
        Plan {
            interval_s: 1800.0,
            target: Target {
                share,
                within: 20.0,
                max_asa: None,
                max_abandon: None,
            },
            patience: Some(300.0),
            shrinkage: 0.3,
        }
    }

    fn demand() -> Vec<IntervalDemand> {
        vec![
            IntervalDemand {
                label: "Mon 08:00".into(),
                offered: 100.0,
                aht: 180.0,
            },
            IntervalDemand {
                label: "Mon 08:30".into(),
                offered: 360.0,
                aht: 240.0,
            },
        ]
    }

    #[test]
    fn staffing_matches_reference_values() {
        let rows = staffing(&demand(), &plan(0.9)).expect("staffing");
        // 10 Erlangs, 20 s: 14 agents give 0.8884 < 0.9, 15 give 0.9415.
        assert_eq!(rows[0].erlang_c.agents, 15);
        assert_eq!(rows[0].rostered_c, 22); // 15 / 0.7 = 21.4
        let a = rows[0].erlang_a.expect("erlang a");
        // Abandonment relieves the queue: never more agents than Erlang C.
        assert!(a.agents <= 15 && a.service_level >= 0.9);
        assert!(rows[1].erlang_c.agents > 48);
    }

    #[test]
    fn roster_totals_weight_by_calls() {
        let d = demand();
        let p = plan(0.9);
        let (rows, t) = evaluate_roster(&d, &[20, 79], &p, Model::C).expect("roster");
        // 20 rostered at 30% shrinkage = 14 on the phones.
        assert_eq!(rows[0].prediction.agents, 14);
        assert!((rows[0].prediction.service_level - 0.8884).abs() < 5e-5);
        assert_eq!(rows[1].prediction.agents, 55);
        let want = (100.0 * rows[0].prediction.service_level
            + 360.0 * rows[1].prediction.service_level)
            / 460.0;
        assert!((t.service_level - want).abs() < 1e-12);
        assert_eq!(t.agent_hours, 99.0 * 0.5);
        assert!(evaluate_roster(&d, &[1], &p, Model::C).is_err());
    }

    #[test]
    fn what_if_raises_staff() {
        let d = demand();
        let p = plan(0.9);
        let w = WhatIf {
            demand_factor: parse_demand_factor("x1.10").expect("factor"),
            aht_delta: parse_aht_delta("+20s").expect("aht"),
            target_share: Some(0.95),
        };
        let (d2, p2) = w.apply(&d, &p);
        let base = staffing(&d, &p).expect("base");
        let more = staffing(&d2, &p2).expect("what-if");
        for (b, m) in base.iter().zip(&more) {
            assert!(m.erlang_c.agents > b.erlang_c.agents);
        }
        assert!((d2[0].offered - 110.0).abs() < 1e-9);
        assert_eq!(d2[0].aht, 200.0);
    }

    /// `--demand x1e9` once searched for staff without end; now it is an error at once.
    #[test]
    fn a_load_past_the_agent_limit_is_an_error_not_an_endless_search() {
        let d = demand();
        let p = plan(0.9);
        let w = WhatIf {
            demand_factor: parse_demand_factor("x1e9").expect("factor"),
            aht_delta: 0.0,
            target_share: None,
        };
        let (d2, p2) = w.apply(&d, &p);
        let t0 = std::time::Instant::now();
        let e = staffing(&d2, &p2).expect_err("too big").to_string();
        assert!(t0.elapsed().as_secs() < 5, "{:?}", t0.elapsed());
        assert!(
            e.starts_with(
                "interval Mon 08:00: offered load 1.000e10 Erlangs needs more than 10000 agents"
            ),
            "{e}"
        );
        // Just under the limit the search is bounded too, and ends in an error or an answer.
        let mut big = d.clone();
        big[0].offered = 9_999.0 * 1800.0 / 180.0;
        assert!(staffing(&big[..1], &plan(0.9)).is_err());
    }

    #[test]
    fn parsers() {
        assert_eq!(parse_demand_factor("1.1").expect("f"), 1.1);
        assert!((parse_demand_factor("+10%").expect("f") - 1.1).abs() < 1e-12);
        assert!((parse_demand_factor("-5%").expect("f") - 0.95).abs() < 1e-12);
        assert!(parse_demand_factor("lots").is_err());
        assert_eq!(parse_aht_delta("-15s").expect("a"), -15.0);
        assert_eq!(parse_aht_delta("+1m").expect("a"), 60.0);
        assert!(parse_aht_delta("soon").is_err());
        assert_eq!(rostered(10, 0.2), 13);
        assert_eq!(rostered(10, 0.0), 10);
    }

    #[test]
    fn roster_parsing() {
        let d = demand();
        assert_eq!(
            parse_roster("interval,agents\nMon 08:30,80\nMon 08:00, 20\n", &d).expect("roster"),
            vec![20, 80]
        );
        let e = parse_roster("interval,agents\nMon 08:00,x\n", &d).expect_err("bad");
        assert!(e.contains("line 2"), "{e}");
        let e = parse_roster("interval,agents\nMon 08:00,3\n", &d).expect_err("missing");
        assert!(e.contains("Mon 08:30"), "{e}");
        assert!(parse_roster("when,who\n", &d).is_err());
        // A line for an interval the profile does not have is named, not ignored.
        let e = parse_roster(
            "interval,agents\nMon 08:00,20\nMon 08:30,80\nMon 8:30,3\nTue 25:00,1\n",
            &d,
        )
        .expect_err("unknown labels");
        assert_eq!(
            e,
            "2 interval label(s) the demand profile does not have: \"Mon 8:30\", \"Tue 25:00\"; \
             its intervals are \"Mon 08:00\", \"Mon 08:30\""
        );
    }
}

//! Arrow forms of staffing tables and roster evaluations, for Parquet/Arrow/CSV output.

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Builder, RecordBatch, StringBuilder, UInt32Builder};
use arrow::datatypes::{DataType, Field, Schema};

use crate::error::Result;
use crate::sim::{IntervalSim, PeriodResult, SimResult};
use crate::staffing::{RosterRow, StaffingRow};

struct Columns {
    fields: Vec<Field>,
    cols: Vec<ArrayRef>,
}

impl Columns {
    fn new() -> Self {
        Columns {
            fields: Vec::new(),
            cols: Vec::new(),
        }
    }

    fn text(&mut self, name: &str, v: impl Iterator<Item = String>) {
        let mut b = StringBuilder::new();
        v.for_each(|s| b.append_value(s));
        self.fields.push(Field::new(name, DataType::Utf8, false));
        self.cols.push(Arc::new(b.finish()));
    }

    fn f64(&mut self, name: &str, v: impl Iterator<Item = Option<f64>>) {
        let mut b = Float64Builder::new();
        // Infinite ASA (load at or above the agents) is written as null, not as a number.
        v.for_each(|x| b.append_option(x.filter(|x| x.is_finite())));
        self.fields.push(Field::new(name, DataType::Float64, true));
        self.cols.push(Arc::new(b.finish()));
    }

    fn u32(&mut self, name: &str, v: impl Iterator<Item = Option<u32>>) {
        let mut b = UInt32Builder::new();
        v.for_each(|x| b.append_option(x));
        self.fields.push(Field::new(name, DataType::UInt32, true));
        self.cols.push(Arc::new(b.finish()));
    }

    fn finish(self) -> Result<RecordBatch> {
        Ok(RecordBatch::try_new(
            Arc::new(Schema::new(self.fields)),
            self.cols,
        )?)
    }
}

/// The staffing table; `what_if` (same intervals) adds the scenario's agents and the change;
/// `sim` (same intervals) adds what the simulation measured at the Erlang C staffing.
pub fn staffing_batch(
    rows: &[StaffingRow],
    what_if: Option<&[StaffingRow]>,
    sim: Option<&[Option<SimResult>]>,
) -> Result<RecordBatch> {
    let mut c = Columns::new();
    c.text("interval", rows.iter().map(|r| r.label.clone()));
    c.f64("offered", rows.iter().map(|r| Some(r.offered)));
    c.f64("aht_s", rows.iter().map(|r| Some(r.aht)));
    c.f64("erlangs", rows.iter().map(|r| Some(r.erlangs)));
    c.u32("agents_c", rows.iter().map(|r| Some(r.erlang_c.agents)));
    c.u32("rostered_c", rows.iter().map(|r| Some(r.rostered_c)));
    c.f64("sl_c", rows.iter().map(|r| Some(r.erlang_c.service_level)));
    c.f64("p_wait_c", rows.iter().map(|r| Some(r.erlang_c.p_wait)));
    c.f64("asa_c_s", rows.iter().map(|r| Some(r.erlang_c.asa)));
    c.f64(
        "occupancy_c",
        rows.iter().map(|r| Some(r.erlang_c.occupancy)),
    );
    if rows.iter().any(|r| r.erlang_a.is_some()) {
        let a = |f: fn(&crate::queue::Prediction) -> f64| {
            rows.iter().map(move |r| r.erlang_a.as_ref().map(f))
        };
        c.u32(
            "agents_a",
            rows.iter().map(|r| r.erlang_a.map(|p| p.agents)),
        );
        c.u32("rostered_a", rows.iter().map(|r| r.rostered_a));
        c.f64("sl_a", a(|p| p.service_level));
        // Of all offered calls (abandoned ones count as not answered in time).
        c.f64("sl_offered_a", a(|p| p.answered_within_of_offered));
        c.f64("asa_a_s", a(|p| p.asa));
        c.f64("abandon_a", a(|p| p.p_abandon));
        c.f64("occupancy_a", a(|p| p.occupancy));
    }
    if let Some(w) = what_if {
        c.u32("whatif_agents_c", w.iter().map(|r| Some(r.erlang_c.agents)));
        c.f64(
            "whatif_change_c",
            w.iter()
                .zip(rows)
                .map(|(w, r)| Some(f64::from(w.erlang_c.agents) - f64::from(r.erlang_c.agents))),
        );
        if w.iter().any(|r| r.erlang_a.is_some()) {
            c.u32(
                "whatif_agents_a",
                w.iter().map(|r| r.erlang_a.map(|p| p.agents)),
            );
            c.f64(
                "whatif_change_a",
                w.iter()
                    .zip(rows)
                    .map(|(w, r)| match (w.erlang_a, r.erlang_a) {
                        (Some(w), Some(r)) => Some(f64::from(w.agents) - f64::from(r.agents)),
                        _ => None,
                    }),
            );
        }
    }
    if let Some(s) = sim {
        let col = |f: fn(&SimResult) -> f64| s.iter().map(move |r| r.as_ref().map(f));
        c.f64("sim_sl", col(|r| r.service_level.mean));
        c.f64("sim_sl_ci", col(|r| r.service_level.half_width));
        c.f64("sim_asa_s", col(|r| r.asa.mean));
        c.f64("sim_abandon", col(|r| r.p_abandon.mean));
    }
    c.finish()
}

/// A roster's predicted figures per interval; `sim` adds what the whole-period simulation
/// measured (`sim_sl`, its 95% half-width `sim_sl_ci`, `sim_asa_s`, `sim_abandon`).
pub fn roster_batch(rows: &[RosterRow], sim: Option<&PeriodResult>) -> Result<RecordBatch> {
    let mut c = Columns::new();
    c.text("interval", rows.iter().map(|r| r.label.clone()));
    c.f64("offered", rows.iter().map(|r| Some(r.offered)));
    c.u32("rostered", rows.iter().map(|r| Some(r.agents)));
    c.u32("on_phones", rows.iter().map(|r| Some(r.prediction.agents)));
    c.f64("sl", rows.iter().map(|r| Some(r.prediction.service_level)));
    c.f64("asa_s", rows.iter().map(|r| Some(r.prediction.asa)));
    c.f64("abandon", rows.iter().map(|r| Some(r.prediction.p_abandon)));
    c.f64(
        "occupancy",
        rows.iter().map(|r| Some(r.prediction.occupancy)),
    );
    if let Some(s) = sim {
        // An interval where no call was answered in any replication has no service level.
        let col = |f: fn(&IntervalSim) -> f64| {
            s.intervals
                .iter()
                .map(move |i| Some(f(i)).filter(|v| v.is_finite()))
        };
        c.f64("sim_offered", col(|i| i.offered));
        c.f64("sim_sl", col(|i| i.service_level.mean));
        c.f64("sim_sl_ci", col(|i| i.service_level.half_width));
        c.f64("sim_asa_s", col(|i| i.asa.mean));
        c.f64("sim_abandon", col(|i| i.p_abandon.mean));
    }
    c.finish()
}

//! The capacity page: demand against staff by interval (hour of week, or every interval of a
//! calendar), written by `slate capacity --report`. Same frame as the scorecard report (strict
//! CSP, inline CSS, hand-written SVG, a data table behind every chart); the figures arrive as
//! plain rows so this crate needs nothing of the capacity crate.

use std::fmt::Write;

use crate::Provenance;
use crate::html::{TAIL, count, dur, esc, exact, head, opct, pct};
use crate::svg::{self, Frame};
use crate::ticks;

/// One planning interval.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CapacityRow {
    /// Interval label (`Mon 08:00`, or `2024-03-01 08:00` for a calendar).
    pub label: String,
    /// Offered calls in the interval (mean per occurrence for hour of week).
    pub offered: f64,
    /// Mean handling time used, seconds.
    pub aht_s: f64,
    /// Agents on the phones needed by Erlang C.
    pub agents_c: u32,
    /// Agents on the phones needed by Erlang A (when patience is known).
    pub agents_a: Option<u32>,
    /// Staff to roster after shrinkage, by Erlang A when known, else Erlang C.
    pub staff_needed: u32,
    /// Rostered staff of `--roster`.
    pub rostered: Option<u32>,
    /// The roster's agents on the phones (after shrinkage).
    pub on_phones: Option<u32>,
    /// The roster's predicted service level (share of answered calls within the threshold).
    pub roster_sl: Option<f64>,
    /// The roster's predicted abandonment.
    pub roster_abandon: Option<f64>,
    /// Service level observed in the history.
    pub observed_sl: Option<f64>,
}

/// Everything the capacity page shows.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CapacityPage {
    /// Channel staffed for.
    pub channel: String,
    /// The policy's answer measure.
    pub measure: String,
    /// Target share of answered calls within `within_s`.
    pub target: f64,
    /// Answer threshold, seconds.
    pub within_s: f64,
    /// Interval length, seconds.
    pub interval_s: f64,
    /// `hour-of-week` or `calendar`.
    pub profile: String,
    /// Shrinkage share.
    pub shrinkage: f64,
    /// Mean caller patience used by Erlang A, seconds.
    pub patience_s: Option<f64>,
    /// The intervals, in time order.
    pub rows: Vec<CapacityRow>,
    /// The whole period's figures.
    pub summary: CapacitySummary,
    /// Where the figures came from.
    pub provenance: Provenance,
}

/// The whole period's figures, as the capacity plan computed them (the page shows them; it
/// does not weigh the rows again).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct CapacitySummary {
    /// Offered calls.
    pub calls: f64,
    /// Erlang C agent-hours on the phones.
    pub hours_c: f64,
    /// Erlang A agent-hours on the phones (when patience is known).
    pub hours_a: Option<f64>,
    /// Staff-hours to roster after shrinkage.
    pub staff_hours: f64,
    /// Staff-hours of the roster (with a roster).
    pub rostered_hours: Option<f64>,
    /// The roster's service level by the model: answered calls within the threshold, of
    /// answered calls.
    pub roster_sl: Option<f64>,
    /// Observed service level: measured calls within the threshold, of measured calls.
    pub observed_sl: Option<f64>,
}

/// The capacity page as one self-contained HTML document.
pub fn render_capacity(p: &CapacityPage) -> String {
    let title = format!("Capacity: demand against staff, channel {}", p.channel);
    let mut o = head(&title);
    let _ = writeln!(
        o,
        "<header><h1>{}</h1><p class=\"sub\">{} intervals of {} ({}); target {} of answered \
         calls within {} ({}); shrinkage {}{}. Generated {} by slate {}.</p>\n\
         <nav aria-label=\"Sections\"><a href=\"#summary\">Summary</a><a href=\"#demand\">Demand\
         </a><a href=\"#staff\">Staff</a><a href=\"#service\">Service level</a><a \
         href=\"#intervals\">Every interval</a><a href=\"#provenance\">Provenance</a></nav>\
         </header>\n<main>",
        esc(&title),
        p.rows.len(),
        dur(p.interval_s),
        esc(&p.profile),
        pct(p.target),
        dur(p.within_s),
        esc(&p.measure),
        pct(p.shrinkage),
        p.patience_s.map_or(String::new(), |s| format!(
            "; mean patience {} (Erlang A)",
            dur(s)
        )),
        esc(&p.provenance.generated_at),
        esc(&p.provenance.version),
    );
    if p.rows.iter().all(|r| r.offered <= 0.0) {
        let _ = writeln!(
            o,
            "<section id=\"no-data\"><h2>No data</h2><div class=\"empty\"><p>No calls on \
             channel {} in the period.</p></div></section>",
            esc(&p.channel)
        );
    }
    summary(&mut o, p);
    let xt = x_ticks(&p.rows);
    let n = p.rows.len() as f64;
    demand_section(&mut o, p, &xt, n);
    staff_section(&mut o, p, &xt, n);
    service_section(&mut o, p, &xt, n);
    intervals(&mut o, p);
    provenance(&mut o, &p.provenance);
    o.push_str("</main>\n");
    o.push_str(TAIL);
    o
}

/// The demand chart: offered calls per interval, with its data table.
fn demand_section(o: &mut String, p: &CapacityPage, xt: &[(f64, String)], n: f64) {
    let _ = writeln!(
        o,
        "<section id=\"demand\"><h2>Demand</h2><figure><figcaption id=\"fig-demand\">Offered \
         calls per interval</figcaption>"
    );
    let top = p.rows.iter().map(|r| r.offered).fold(0.0, f64::max);
    let ya = ticks::linear(0.0, top, 5, ticks::number);
    let f = Frame::new(0.0, n, 0.0, ya.hi);
    svg::open(o, "fig-demand");
    svg::axes(o, &f, &ya.ticks, xt);
    svg::line(o, &f, "value", &steps(&p.rows, |r| Some(r.offered)));
    let _ = writeln!(o, "</svg>");
    data_table(
        o,
        "Data table: offered calls",
        p,
        &["Offered", "Handling"],
        |r| vec![num(r.offered, 1), num(r.aht_s, 0)],
    );
    let _ = writeln!(o, "</figure></section>");
}

/// The staff chart: agents on the phones by Erlang C and A, and the roster's.
fn staff_section(o: &mut String, p: &CapacityPage, xt: &[(f64, String)], n: f64) {
    let has_a = p.rows.iter().any(|r| r.agents_a.is_some());
    let has_roster = p.rows.iter().any(|r| r.rostered.is_some());
    let _ = writeln!(
        o,
        "<section id=\"staff\"><h2>Staff</h2><figure><figcaption id=\"fig-staff\">Agents on the \
         phones needed for the target: Erlang C{}{}</figcaption>",
        if has_a { ", Erlang A" } else { "" },
        if has_roster {
            ", and the roster's agents on the phones"
        } else {
            ""
        }
    );
    let top = p
        .rows
        .iter()
        .map(|r| r.agents_c.max(r.on_phones.unwrap_or(0)))
        .max()
        .unwrap_or(0);
    let ya = ticks::counts(0.0, f64::from(top), 5);
    let f = Frame::new(0.0, n, 0.0, ya.hi);
    svg::open(o, "fig-staff");
    svg::axes(o, &f, &ya.ticks, xt);
    let mut legend = Vec::new();
    svg::line(
        o,
        &f,
        "p90",
        &steps(&p.rows, |r| Some(f64::from(r.agents_c))),
    );
    legend.push(("p90", "Erlang C"));
    if has_a {
        svg::line(o, &f, "p50", &steps(&p.rows, |r| r.agents_a.map(f64::from)));
        legend.push(("p50", "Erlang A"));
    }
    if has_roster {
        svg::line(
            o,
            &f,
            "roster",
            &steps(&p.rows, |r| r.on_phones.map(f64::from)),
        );
        legend.push(("roster", "roster"));
    }
    svg::legend(o, &legend);
    let _ = writeln!(o, "</svg>");
    data_table(
        o,
        "Data table: agents",
        p,
        &[
            "Erlang C",
            "Erlang A",
            "Staff to roster",
            "Rostered",
            "On the phones",
        ],
        |r| {
            vec![
                Cell::int(r.agents_c),
                Cell::oint(r.agents_a),
                Cell::int(r.staff_needed),
                Cell::oint(r.rostered),
                Cell::oint(r.on_phones),
            ]
        },
    );
    let _ = writeln!(o, "</figure></section>");
}

/// The service-level chart: observed, the roster's by the model, and the target.
fn service_section(o: &mut String, p: &CapacityPage, xt: &[(f64, String)], n: f64) {
    let has_roster = p.rows.iter().any(|r| r.rostered.is_some());
    let _ = writeln!(
        o,
        "<section id=\"service\"><h2>Service level</h2><figure><figcaption id=\"fig-sl\">Share \
         of answered calls answered within {}: observed in the history{}, and the target ({})\
         </figcaption>",
        dur(p.within_s),
        if has_roster {
            ", predicted for the roster"
        } else {
            ""
        },
        pct(p.target)
    );
    let lo = p
        .rows
        .iter()
        .flat_map(|r| [r.observed_sl, r.roster_sl])
        .flatten()
        .fold(p.target, f64::min);
    // The legend sits above the plot, so the axis can end at 100%.
    let ya = ticks::percent(lo, 1.0, 5);
    let f = Frame::new(0.0, n, ya.lo, ya.hi);
    svg::open(o, "fig-sl");
    svg::axes(o, &f, &ya.ticks, xt);
    svg::hline(
        o,
        &f,
        "target",
        p.target,
        &format!("target {}", pct(p.target)),
    );
    svg::line(o, &f, "value", &steps(&p.rows, |r| r.observed_sl));
    let mut legend = vec![("value", "observed")];
    if has_roster {
        svg::line(o, &f, "roster", &steps(&p.rows, |r| r.roster_sl));
        legend.push(("roster", "roster (model)"));
    }
    svg::legend(o, &legend);
    let _ = writeln!(o, "</svg>");
    data_table(
        o,
        "Data table: service level",
        p,
        &["Observed", "Roster (model)", "Roster abandoned"],
        |r| {
            vec![
                Cell::share(r.observed_sl),
                Cell::share(r.roster_sl),
                Cell::share(r.roster_abandon),
            ]
        },
    );
    let _ = writeln!(o, "</figure></section>");
}

fn summary(o: &mut String, p: &CapacityPage) {
    let f = &p.summary;
    let row = |o: &mut String, id: &str, name: &str, v: Option<f64>, text: String| {
        let _ = writeln!(
            o,
            "<tr data-figure=\"{id}\"><th scope=\"row\">{name}</th><td data-value=\"{}\">{text}\
             </td></tr>",
            v.map_or(String::new(), exact)
        );
    };
    let _ = writeln!(
        o,
        "<section id=\"summary\"><h2>Summary</h2><table id=\"capacity-summary\"><thead><tr><th \
         scope=\"col\">Figure</th><th scope=\"col\">Value</th></tr></thead><tbody>"
    );
    let h = |v: f64| format!("{v:.1}");
    row(o, "calls", "Offered calls", Some(f.calls), h(f.calls));
    row(
        o,
        "agent_hours_c",
        "Agent-hours on the phones, Erlang C",
        Some(f.hours_c),
        h(f.hours_c),
    );
    if let Some(a) = f.hours_a {
        row(
            o,
            "agent_hours_a",
            "Agent-hours on the phones, Erlang A",
            Some(a),
            h(a),
        );
    }
    row(
        o,
        "staff_hours",
        "Staff-hours to roster (after shrinkage)",
        Some(f.staff_hours),
        h(f.staff_hours),
    );
    if let Some(r) = f.rostered_hours {
        row(o, "rostered_hours", "Staff-hours rostered", Some(r), h(r));
        row(
            o,
            "roster_sl",
            "Roster's service level (model, of answered calls)",
            f.roster_sl,
            opct(f.roster_sl),
        );
    }
    row(
        o,
        "observed_sl",
        "Observed service level (of measured calls)",
        f.observed_sl,
        opct(f.observed_sl),
    );
    let _ = writeln!(o, "</tbody></table></section>");
}

/// A table cell: its text and the exact value for `data-value`.
struct Cell {
    text: String,
    value: Option<String>,
}

impl Cell {
    fn int(n: u32) -> Cell {
        Cell {
            text: count(i64::from(n)),
            value: Some(n.to_string()),
        }
    }
    fn oint(n: Option<u32>) -> Cell {
        n.map_or_else(Cell::none, Cell::int)
    }
    fn share(v: Option<f64>) -> Cell {
        v.map_or_else(Cell::none, |v| Cell {
            text: pct(v),
            value: Some(exact(v)),
        })
    }
    fn none() -> Cell {
        Cell {
            text: "\u{2013}".into(),
            value: None,
        }
    }
}

fn num(v: f64, digits: usize) -> Cell {
    Cell {
        text: format!("{v:.digits$}"),
        value: Some(exact(v)),
    }
}

fn data_table(
    o: &mut String,
    summary: &str,
    p: &CapacityPage,
    heads: &[&str],
    cells: impl Fn(&CapacityRow) -> Vec<Cell>,
) {
    let _ = write!(
        o,
        "<details><summary>{}</summary><table><thead><tr><th scope=\"col\">Interval</th>",
        esc(summary)
    );
    for h in heads {
        let _ = write!(o, "<th scope=\"col\">{}</th>", esc(h));
    }
    let _ = writeln!(o, "</tr></thead><tbody>");
    for r in &p.rows {
        let _ = write!(o, "<tr><td>{}</td>", esc(&r.label));
        for c in cells(r) {
            cell(o, &c, None);
        }
        let _ = writeln!(o, "</tr>");
    }
    let _ = writeln!(o, "</tbody></table></details>");
}

fn cell(o: &mut String, c: &Cell, class: Option<&str>) {
    let class = class.map_or(String::new(), |k| format!(" class=\"{k}\""));
    match &c.value {
        Some(v) => {
            let _ = write!(o, "<td{class} data-value=\"{v}\">{}</td>", c.text);
        }
        None => {
            let _ = write!(o, "<td{class}>{}</td>", c.text);
        }
    }
}

/// Every interval in one table, each cell with its exact value: what a test or a reader
/// copying figures checks against the Parquet output.
fn intervals(o: &mut String, p: &CapacityPage) {
    let _ = writeln!(
        o,
        "<section id=\"intervals\"><h2>Every interval</h2><table id=\"capacity-intervals\">\
         <thead><tr><th scope=\"col\">Interval</th><th scope=\"col\">Offered</th><th \
         scope=\"col\">Erlang C</th><th scope=\"col\">Erlang A</th><th scope=\"col\">Staff to \
         roster</th><th scope=\"col\">Rostered</th><th scope=\"col\">Roster SL</th><th \
         scope=\"col\">Observed SL</th></tr></thead><tbody>"
    );
    for r in &p.rows {
        let _ = write!(
            o,
            "<tr data-interval=\"{}\"><td>{}</td>",
            esc(&r.label),
            esc(&r.label)
        );
        cell(o, &num(r.offered, 1), Some("offered"));
        cell(o, &Cell::int(r.agents_c), Some("agents_c"));
        cell(o, &Cell::oint(r.agents_a), Some("agents_a"));
        cell(o, &Cell::int(r.staff_needed), Some("staff"));
        cell(o, &Cell::oint(r.rostered), Some("rostered"));
        cell(o, &Cell::share(r.roster_sl), Some("roster_sl"));
        cell(o, &Cell::share(r.observed_sl), Some("observed_sl"));
        let _ = writeln!(o, "</tr>");
    }
    let _ = writeln!(o, "</tbody></table></section>");
}

fn provenance(o: &mut String, p: &Provenance) {
    let _ = writeln!(o, "<section id=\"provenance\"><h2>Provenance</h2><dl>");
    if let Some(c) = &p.command {
        let _ = writeln!(o, "<dt>Command</dt><dd><code>{}</code></dd>", esc(c));
    }
    for f in &p.inputs {
        let _ = writeln!(o, "<dt>Input</dt><dd>{}</dd>", esc(&f.path));
    }
    if let Some(pol) = &p.policy {
        let _ = writeln!(o, "<dt>Policy</dt><dd>{}</dd>", esc(pol));
    }
    if let Some(tz) = &p.tz {
        let _ = writeln!(o, "<dt>Zone</dt><dd>{}</dd>", esc(tz));
    }
    let _ = writeln!(
        o,
        "<dt>slate</dt><dd>{}</dd><dt>Generated</dt><dd>{}</dd></dl></section>",
        esc(&p.version),
        esc(&p.generated_at)
    );
}

/// A value as a step: flat over its interval `[i, i + 1)`; missing values break the line.
fn steps(rows: &[CapacityRow], f: impl Fn(&CapacityRow) -> Option<f64>) -> Vec<(f64, f64)> {
    // Intervals without calls have figures (0 agents), so gaps are rare; a line simply joins
    // the defined values around one.
    let mut pts = Vec::with_capacity(rows.len() * 2);
    for (i, r) in rows.iter().enumerate() {
        if let Some(v) = f(r) {
            pts.push((i as f64, v));
            pts.push((i as f64 + 1.0, v));
        }
    }
    pts
}

/// Ticks at the start of each day (labels whose time is 00:00), at most eight, every 1, 2
/// or 7 days (or a multiple of 7).
fn x_ticks(rows: &[CapacityRow]) -> Vec<(f64, String)> {
    let days: Vec<(f64, String)> = rows
        .iter()
        .enumerate()
        .filter(|(_, r)| r.label.ends_with(" 00:00"))
        .map(|(i, r)| (i as f64, r.label.trim_end_matches(" 00:00").to_string()))
        .collect();
    let step = ticks::window_step(days.len(), 8, &[1, 2, 7]);
    days.into_iter().step_by(step).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page() -> CapacityPage {
        let rows = (0..48)
            .map(|i| CapacityRow {
                label: format!("{} {:02}:00", if i < 24 { "Mon" } else { "Tue" }, i % 24),
                offered: f64::from(i % 24) + 0.5,
                aht_s: 200.0,
                agents_c: 2 + (i % 24) / 4,
                agents_a: Some(1 + (i % 24) / 4),
                staff_needed: 3 + (i % 24) / 3,
                rostered: Some(5),
                on_phones: Some(3),
                roster_sl: Some(0.9),
                roster_abandon: Some(0.01),
                observed_sl: Some(0.93),
            })
            .collect();
        CapacityPage {
            channel: "999".into(),
            measure: "answer_999_10s".into(),
            target: 0.9,
            within_s: 10.0,
            interval_s: 3600.0,
            profile: "hour-of-week".into(),
            shrinkage: 0.3,
            patience_s: Some(60.0),
            rows,
            summary: CapacitySummary {
                calls: 1000.0,
                hours_c: 216.0,
                hours_a: Some(168.0),
                staff_hours: 300.0,
                rostered_hours: Some(240.0),
                roster_sl: Some(0.9),
                observed_sl: Some(0.93),
            },
            provenance: Provenance {
                version: "0".into(),
                generated_at: "now".into(),
                ..Default::default()
            },
        }
    }

    #[test]
    fn the_page_has_charts_tables_and_exact_figures() {
        let html = render_capacity(&page());
        for id in ["fig-demand", "fig-staff", "fig-sl", "capacity-intervals"] {
            assert!(html.contains(&format!("id=\"{id}\"")), "{id}");
        }
        // Every chart is labelled by its caption and has a data table.
        assert_eq!(html.matches("aria-labelledby=").count(), 3);
        assert_eq!(html.matches("<details>").count(), 3);
        // Ticks at day starts.
        assert!(html.contains(">Mon</text>") && html.contains(">Tue</text>"));
        // The summary shows the plan's own figures.
        assert!(html.contains("<tr data-figure=\"agent_hours_c\"><th scope=\"row\">Agent-hours on the phones, Erlang C</th><td data-value=\"216.0\">216.0</td>"), "{html}");
        assert!(html.contains(
            "<tr data-interval=\"Mon 05:00\"><td>Mon 05:00</td><td class=\"offered\" data-value=\"5.5\">5.5</td><td class=\"agents_c\" data-value=\"3\">3</td>"
        ));
        // Nothing that loads anything.
        assert!(!html.contains("<script") && !html.contains("http:") && !html.contains("https:"));
    }

    #[test]
    fn no_calls_says_so_and_escapes_labels() {
        let mut p = page();
        for r in &mut p.rows {
            r.offered = 0.0;
        }
        p.channel = "<9>".into();
        let html = render_capacity(&p);
        assert!(html.contains("No calls on channel &lt;9&gt;"));
        assert!(!html.contains("<9>"));
    }
}

//! The page's sections, each from the decoded scorecard, a [`Card`].

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write;

use slate_core::calendar::{day_of_ymd, ymd_of_day};
use slate_core::card::{Card, CardRow, Ledger, day_text};
use slate_core::cube::ALL_LEVEL;
use slate_core::disparity::{
    FunnelLimits, FunnelPosition, GroupTest, Overdispersion, funnel_limits, group_tests,
};
use slate_core::stats::wilson_95;

use crate::Provenance;
use crate::html::{TAIL, count, dur, esc, exact, head, opct, pct, pts, window_label};
use crate::svg::{self, Frame, PointLabel};
use crate::ticks;

/// Whole-force figures of one measure in one window.
#[derive(Debug, Clone)]
struct Force {
    n_eligible: i64,
    n_measured: i64,
    n_within: i64,
    n_excluded: i64,
    compliance: Option<f64>,
    ci: Option<(f64, f64)>,
    target: Option<f64>,
    threshold: String,
    /// The measure's kind (`duration`, `working_days`, `deadline`, `share`).
    kind: String,
    /// One per card percentile column (none when summed from a finer level).
    pcts: Vec<Option<f64>>,
}

/// A verdict that respects the interval.
fn verdict(ci: Option<(f64, f64)>, target: Option<f64>) -> (&'static str, &'static str) {
    match (ci, target) {
        (_, None) => ("no target", "none"),
        (None, _) => ("no data", "none"),
        (Some((lo, _)), Some(t)) if lo >= t => ("met", "met"),
        (Some((_, hi)), Some(t)) if hi < t => ("not met", "not-met"),
        _ => ("not distinguishable from the target", "unsure"),
    }
}

pub(crate) struct Page<'a> {
    card: &'a Card,
    ledger: Option<&'a Ledger>,
    prov: &'a Provenance,
    measures: Vec<String>,
    /// Distinct windows, by start.
    windows: Vec<(i32, i32)>,
    force: HashMap<(i32, &'a str), Force>,
    /// The level the whole-force figures and ledger totals are read at.
    force_level: String,
    /// Index into `windows` of the headline window.
    headline: Option<usize>,
    /// Per window, `(verb phrase, why)` when it is partial (`None`: complete):
    /// ("is partial", "records from 2025-08-24") or ("looks incomplete", "12% of ...").
    partial: Vec<Option<(&'static str, String)>>,
    out: String,
}

impl<'a> Page<'a> {
    pub(crate) fn new(card: &'a Card, ledger: Option<&'a Ledger>, prov: &'a Provenance) -> Self {
        let measures = card.measures();
        let windows: Vec<(i32, i32)> = card
            .rows
            .iter()
            .map(|r| (r.start, r.end))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let levels = card.levels();
        // The whole force: the `all` rollup when there is one, else any level summed (each
        // level partitions the records); percentiles cannot be summed, so they stay empty.
        let has_all = levels.iter().any(|l| l == ALL_LEVEL);
        let force_level = if has_all {
            ALL_LEVEL.to_string()
        } else {
            levels.first().cloned().unwrap_or_default()
        };
        let mut force: HashMap<(i32, &str), Force> = HashMap::new();
        for r in card.rows.iter().filter(|r| r.level == force_level) {
            let f = force.entry((r.start, r.measure.as_str())).or_insert(Force {
                n_eligible: 0,
                n_measured: 0,
                n_within: 0,
                n_excluded: 0,
                compliance: None,
                ci: None,
                target: r.target,
                threshold: threshold_text(r),
                kind: r.kind.clone(),
                pcts: vec![None; card.percentiles.len()],
            });
            f.n_eligible += r.n_eligible;
            f.n_measured += r.n_measured;
            f.n_within += r.n_within;
            f.n_excluded += r.n_excluded;
            if has_all {
                f.compliance = r.compliance;
                f.ci = r.ci;
                f.pcts = r.percentiles.clone();
            }
        }
        if !has_all {
            for f in force.values_mut() {
                let (k, n) = (f.n_within.max(0) as u64, f.n_measured.max(0) as u64);
                f.compliance = (n > 0).then(|| k as f64 / n as f64);
                f.ci = wilson_95(k, n);
            }
        }
        // A window is partial when the days the records span do not wholly cover it (the
        // data starts or ends inside it). Without those days (a scorecard read from a file), a
        // last window with under half the median size of the earlier ones looks incomplete.
        let mut partial: Vec<Option<(&'static str, String)>> = vec![None; windows.len()];
        match prov.data_days {
            Some((first, last)) => {
                for (p, w) in partial.iter_mut().zip(&windows) {
                    let from = (first > w.0).then(|| format!("records from {}", day_text(first)));
                    let to = (last + 1 < w.1).then(|| format!("records to {}", day_text(last)));
                    *p = match (from, to) {
                        (None, None) => None,
                        (a, b) => Some((
                            "is partial",
                            a.into_iter().chain(b).collect::<Vec<_>>().join(", "),
                        )),
                    };
                }
            }
            None if windows.len() >= 4 => {
                let size = |w: &(i32, i32)| -> i64 {
                    measures
                        .iter()
                        .filter_map(|m| force.get(&(w.0, m.as_str())))
                        .map(|f| f.n_eligible)
                        .sum()
                };
                let mut earlier: Vec<i64> = windows[..windows.len() - 1].iter().map(size).collect();
                earlier.sort_unstable();
                let median = earlier[earlier.len() / 2] as f64;
                let share = size(&windows[windows.len() - 1]) as f64 / median.max(1.0);
                if share < 0.5 {
                    partial[windows.len() - 1] = Some((
                        "looks incomplete",
                        format!("{:.0}% of the records of a usual window", share * 100.0),
                    ));
                }
            }
            None => {}
        }
        // The headline is the latest complete window (the latest of all when none is).
        let headline = (0..windows.len())
            .rev()
            .find(|&i| partial[i].is_none())
            .or(windows.len().checked_sub(1));
        Page {
            card,
            ledger,
            prov,
            measures,
            windows,
            force,
            force_level,
            headline,
            partial,
            out: String::new(),
        }
    }

    fn label(&self, w: (i32, i32)) -> String {
        window_label(&self.card.window, w.0, w.1)
    }

    /// The title, from the policy's own name: never its file's path (the page is sent to
    /// people who have no use for where it lay on the analyst's disk).
    fn title(&self) -> String {
        match self.prov.policy_name.as_deref().filter(|n| !n.is_empty()) {
            Some(n) => format!("SLA scorecard: {n}"),
            None => "SLA scorecard".to_string(),
        }
    }

    /// Why window `i` is partial, in a few words ("partial: records from 2025-08-24").
    fn partial_text(&self, i: usize) -> Option<String> {
        self.partial[i]
            .as_ref()
            .map(|(verb, why)| format!("{}: {why}", verb.trim_start_matches("is ")))
    }

    /// Why window `i` is partial, as a note for a table cell (empty when complete).
    fn partial_note(&self, i: usize) -> String {
        self.partial_text(i).map_or(String::new(), |p| {
            format!("<br><span class=\"partial-note\">{}</span>", esc(&p))
        })
    }

    /// A table row's opening tag for window `i`: partial windows carry their note.
    fn window_tr(&self, i: usize) -> String {
        self.partial_text(i).map_or("<tr>".to_string(), |p| {
            format!("<tr class=\"partial\" data-partial=\"{}\">", esc(&p))
        })
    }

    /// Shades the partial windows of a window-indexed chart.
    fn shade_partial(&mut self, frame: &Frame) -> bool {
        let mut any = false;
        for i in 0..self.windows.len() {
            if let Some(p) = self.partial_text(i) {
                let title = format!("{}: {p}", self.label(self.windows[i]));
                svg::shade(&mut self.out, frame, i as f64 - 0.5, i as f64 + 0.5, &title);
                any = true;
            }
        }
        any
    }

    /// The sentence saying which windows are partial and why, for the page's header.
    fn coverage_sentence(&self) -> String {
        let marked: Vec<String> = self
            .windows
            .iter()
            .zip(&self.partial)
            .filter_map(|(w, p)| {
                p.as_ref().map(|(verb, why)| {
                    format!(
                        "<strong>{}</strong> ({}{})",
                        esc(&self.label(*w)),
                        if *verb == "is partial" {
                            ""
                        } else {
                            "looks incomplete: "
                        },
                        esc(why)
                    )
                })
            })
            .collect();
        if marked.is_empty() {
            return String::new();
        }
        let span = self.prov.data_days.map_or(String::new(), |(a, b)| {
            format!("The records run from {} to {}. ", day_text(a), day_text(b))
        });
        format!(
            "<p class=\"note coverage\">{span}Partial window{}: {}; shaded in the charts, \
             marked in the tables, and not used as the headline.</p>",
            if marked.len() > 1 { "s" } else { "" },
            marked.join("; ")
        )
    }

    pub(crate) fn render(mut self) -> String {
        self.out = head(&self.title());
        let _ = writeln!(self.out, "<header><h1>{}</h1>", esc(&self.title()));
        if let Some(d) = self
            .prov
            .policy_description
            .as_deref()
            .filter(|d| !d.is_empty())
        {
            let _ = writeln!(self.out, "<p class=\"lede\">{}</p>", esc(d));
        }
        match self.headline {
            None => {
                let _ = writeln!(
                    self.out,
                    "<p class=\"sub\">Generated {} by slate {}.</p></header>\n<main>\n\
                     <section id=\"no-data\"><h2>No data</h2><div class=\"empty\"><p>This \
                     scorecard has no rows: no record fell in any window. Check the inputs, \
                     the policy's measures and the <code>--from</code>/<code>--to</code> \
                     period below.</p></div></section>",
                    esc(&self.prov.generated_at),
                    esc(&self.prov.version)
                );
                self.exclusions();
            }
            Some(h) => {
                let (first, last) = (self.windows[0], self.windows[self.windows.len() - 1]);
                let coverage = self.coverage_sentence();
                // The groups section exists only when the card has group columns.
                let groups = self.card.group_by.first().map_or(String::new(), |g| {
                    format!("<a href=\"#groups\">{} compared</a>", esc(&capital(g)))
                });
                let _ = writeln!(
                    self.out,
                    "<p class=\"sub\">{} windows from {} to {} ({} windows). Headline window: \
                     <strong>{}</strong>. Generated {} by slate {}.</p>\n{}\
                     <nav aria-label=\"Sections\"><a href=\"#headline\">Headline</a><a \
                     href=\"#trends\">Trends</a>{}<a \
                     href=\"#exclusions\">What was left out</a><a \
                     href=\"#provenance\">Provenance</a></nav></header>\n<main>",
                    esc(&self.card.window),
                    esc(&self.label(first)),
                    esc(&self.label(last)),
                    self.windows.len(),
                    esc(&self.label(self.windows[h])),
                    esc(&self.prov.generated_at),
                    esc(&self.prov.version),
                    coverage,
                    groups
                );
                self.headline_section(h);
                self.trends();
                self.groups(h);
                self.exclusions();
            }
        }
        self.provenance();
        self.out.push_str("</main>\n");
        self.out.push_str(TAIL);
        self.out
    }

    /// The same window a year earlier, if the card has it.
    fn year_before(&self, w: (i32, i32)) -> Option<(i32, i32)> {
        let start = if self.card.window == "week" {
            w.0 - 364 // the same ISO week a year earlier starts on a Monday too
        } else {
            let (y, m, d) = ymd_of_day(w.0);
            day_of_ymd(y - 1, m, d)
        };
        self.windows.iter().copied().find(|c| c.0 == start)
    }

    fn headline_section(&mut self, h: usize) {
        let w = self.windows[h];
        let before = self.year_before(w);
        let o = &mut self.out;
        let _ = writeln!(
            o,
            "<section id=\"headline\"><h2>Headline: {}</h2>",
            esc(&window_label(&self.card.window, w.0, w.1))
        );
        let last = self.windows.len() - 1;
        if h < last {
            let (verb, why) = self.partial[last].clone().unwrap_or_default();
            let _ = writeln!(
                o,
                "<p class=\"note\">The latest window, {}, {verb} ({}), so the headline is the \
                 latest complete window; the latest is in the trends, marked.</p>",
                esc(&window_label(
                    &self.card.window,
                    self.windows[last].0,
                    self.windows[last].1
                )),
                esc(&why),
            );
        } else if let Some((verb, why)) = &self.partial[h] {
            let _ = writeln!(
                o,
                "<p class=\"note\">No window is complete: the headline window {verb} ({}).</p>",
                esc(why)
            );
        }
        let _ = writeln!(
            o,
            "<div class=\"scroll\"><table id=\"headline-table\"><caption class=\"note\">Whole force, {}. Verdicts \
             respect uncertainty: <em>met</em> when the whole 95% interval is at or above the \
             target, <em>not met</em> when it is wholly below, <em>not distinguishable from the \
             target</em> when it straddles it.</caption>\n<thead><tr><th scope=\"col\">Measure</th>\
             <th scope=\"col\">Target</th><th scope=\"col\">Compliance</th><th scope=\"col\">95% \
             interval</th><th scope=\"col\">Verdict</th><th scope=\"col\">{}</th><th \
             scope=\"col\">Change</th><th scope=\"col\">Measured</th></tr></thead><tbody>",
            esc(&window_label(&self.card.window, w.0, w.1)),
            before.map_or_else(
                || "A year earlier".to_string(),
                |b| {
                    let partial = self
                        .windows
                        .iter()
                        .position(|w| *w == b)
                        .is_some_and(|i| self.partial[i].is_some());
                    format!(
                        "{}{}",
                        esc(&window_label(&self.card.window, b.0, b.1)),
                        if partial { " (partial)" } else { "" }
                    )
                }
            )
        );
        for m in &self.measures {
            let Some(f) = self.force.get(&(w.0, m.as_str())) else {
                continue;
            };
            let (text, class) = verdict(f.ci, f.target);
            let prior = before.and_then(|b| self.force.get(&(b.0, m.as_str())));
            let change = match (f.compliance, prior.and_then(|p| p.compliance)) {
                (Some(now), Some(then)) => {
                    let p = prior.and_then(|p| {
                        slate_core::disparity::two_proportion_z(
                            f.n_within as u64,
                            f.n_measured as u64,
                            p.n_within as u64,
                            p.n_measured as u64,
                        )
                        .map(slate_core::disparity::two_sided_p)
                    });
                    let sig = p.map_or(String::new(), |p| {
                        if p < 0.001 {
                            " (p &lt; 0.001)".to_string()
                        } else {
                            format!(" (p = {p:.3})")
                        }
                    });
                    format!("{}{sig}", pts(now - then))
                }
                _ => "\u{2013}".to_string(),
            };
            let ci = f.ci.map_or_else(
                || "\u{2013}".to_string(),
                |(lo, hi)| format!("{}\u{2013}{}", pct(lo), pct(hi)),
            );
            let _ = writeln!(
                o,
                "<tr data-measure=\"{m}\"><th scope=\"row\">{m}<br><span class=\"note\">{}</span></th><td class=\"target\">{}</td><td class=\"compliance\" \
                 data-value=\"{}\">{}</td><td class=\"ci\" data-low=\"{}\" data-high=\"{}\">{ci}</td>\
                 <td class=\"verdict {class}\">{text}</td><td>{}</td><td>{change}</td>\
                 <td class=\"measured\" data-value=\"{}\">{}</td></tr>",
                f.threshold,
                opct(f.target),
                f.compliance.map_or(String::new(), exact),
                opct(f.compliance),
                f.ci.map_or(String::new(), |c| exact(c.0)),
                f.ci.map_or(String::new(), |c| exact(c.1)),
                opct(prior.and_then(|p| p.compliance)),
                f.n_measured,
                count(f.n_measured),
                m = esc(m),
            );
        }
        let _ = writeln!(o, "</tbody></table></div></section>");
    }

    /// x ticks: window labels every calendar-round number of windows (months by 1, 2, 3, 6
    /// or 12, falling on the same months each year; weeks by 1, 2, 4, 13, 26 or 52), as many
    /// as fit side by side.
    fn window_ticks(&self) -> Vec<(f64, String)> {
        let n = self.windows.len();
        let family = self.card.window.as_str();
        // Weeks are labelled by their Monday: "week of" on every tick would crowd the axis.
        let label = |w: (i32, i32)| {
            if family == "week" {
                day_text(w.0)
            } else {
                self.label(w)
            }
        };
        let steps: &[usize] = match family {
            "month" | "rolling-12m" => &[1, 2, 3, 6, 12],
            "quarter" => &[1, 2, 4],
            "week" => &[1, 2, 4, 13, 26, 52],
            "day" => &[1, 7, 14, 28],
            _ => &[1, 2, 5, 10],
        };
        let widest = self
            .windows
            .iter()
            .map(|w| svg::text_width(&label(*w), 11.0))
            .fold(0.0, f64::max);
        let room = svg::W - 72.0;
        let target = ((room / (widest + 16.0)).floor() as usize).clamp(1, 8);
        let step = ticks::window_step(n, target, steps);
        // Month-based windows: start at a month that is a multiple of the step (January,
        // July...), so that each year's labels fall on the same months.
        let months_per_window = match family {
            "month" | "rolling-12m" => 1,
            "quarter" => 3,
            _ => 0,
        };
        let offset = if months_per_window > 0 && (12 / months_per_window) % step == 0 {
            (0..step.min(n))
                .find(|&i| {
                    let (_, m, _) = ymd_of_day(self.windows[i].0);
                    ((m as usize - 1) / months_per_window).is_multiple_of(step)
                })
                .unwrap_or(0)
        } else {
            0
        };
        (offset..n)
            .step_by(step)
            .map(|i| (i as f64, label(self.windows[i])))
            .collect()
    }

    fn trends(&mut self) {
        let _ = writeln!(self.out, "<section id=\"trends\"><h2>Trends</h2>");
        // Seconds for durations and lateness, working days for working-day measures: a measure
        // has values in one of the two, so `have` below keeps one pair.
        let pcols: Vec<(usize, &str)> = ["p50_s", "p90_s", "p50_wd", "p90_wd"]
            .iter()
            .filter_map(|p| {
                self.card
                    .percentiles
                    .iter()
                    .position(|c| c == p)
                    .map(|i| (i, *p))
            })
            .collect();
        for (mi, m) in self.measures.clone().iter().enumerate() {
            let series: Vec<(usize, (i32, i32), Force)> = self
                .windows
                .iter()
                .enumerate()
                .filter_map(|(i, w)| {
                    self.force
                        .get(&(w.0, m.as_str()))
                        .map(|f| (i, *w, f.clone()))
                })
                .collect();
            let target = series.iter().find_map(|s| s.2.target);
            let _ = writeln!(self.out, "<h3>{}</h3>", esc(m));
            // Compliance with its Wilson band and the target.
            let id = format!("trend-{mi}");
            let _ = writeln!(
                self.out,
                "<figure><figcaption id=\"{id}\">{}: compliance by window, with its 95% interval \
                 (band){}</figcaption>",
                esc(m),
                target.map_or(String::new(), |t| format!(" and the target ({})", pct(t)))
            );
            let mut lo = target.unwrap_or(1.0);
            let mut hi = target.unwrap_or(0.0);
            for (_, _, f) in &series {
                if let Some((a, b)) = f.ci {
                    lo = lo.min(a);
                    hi = hi.max(b);
                }
            }
            let ya = ticks::percent(lo, hi, 5);
            let frame = Frame::new(-0.5, self.windows.len() as f64 - 0.5, ya.lo, ya.hi);
            svg::open(&mut self.out, &id);
            let xt = self.window_ticks();
            svg::axes(&mut self.out, &frame, &ya.ticks, &xt);
            let shaded = self.shade_partial(&frame);
            let band: Vec<(f64, f64, f64)> = series
                .iter()
                .filter_map(|(i, _, f)| f.ci.map(|c| (*i as f64, c.0, c.1)))
                .collect();
            svg::band(&mut self.out, &frame, "band", &band);
            if let Some(t) = target {
                svg::hline(
                    &mut self.out,
                    &frame,
                    "target",
                    t,
                    &format!("target {}", pct(t)),
                );
            }
            let pts: Vec<(f64, f64)> = series
                .iter()
                .filter_map(|(i, _, f)| f.compliance.map(|c| (*i as f64, c)))
                .collect();
            svg::line(&mut self.out, &frame, "value", &pts);
            let mut legend = vec![("value", "compliance")];
            if target.is_some() {
                legend.push(("target", "target"));
            }
            if shaded {
                legend.push(("partial", "partial window"));
            }
            svg::legend(&mut self.out, &legend);
            let _ = writeln!(self.out, "</svg>");
            let _ = writeln!(
                self.out,
                "<details><summary>Data table: compliance of {}</summary><div class=\"scroll\"><table><thead><tr><th \
                 scope=\"col\">Window</th><th scope=\"col\">Compliance</th><th scope=\"col\">95% \
                 interval</th><th scope=\"col\">Measured</th><th scope=\"col\">Within</th></tr>\
                 </thead><tbody>",
                esc(m)
            );
            for (i, w, f) in &series {
                let _ = writeln!(
                    self.out,
                    "{}<td>{}{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    self.window_tr(*i),
                    esc(&self.label(*w)),
                    self.partial_note(*i),
                    opct(f.compliance),
                    f.ci.map_or("\u{2013}".into(), |c| format!(
                        "{}\u{2013}{}",
                        pct(c.0),
                        pct(c.1)
                    )),
                    count(f.n_measured),
                    count(f.n_within)
                );
            }
            let _ = writeln!(self.out, "</tbody></table></div></details></figure>");
            // Percentiles over time.
            let have: Vec<(usize, &str)> = pcols
                .iter()
                .copied()
                .filter(|(pi, _)| {
                    series
                        .iter()
                        .any(|s| s.2.pcts.get(*pi).copied().flatten().is_some())
                })
                .collect();
            if have.is_empty() {
                continue;
            }
            let wd = have.iter().any(|(_, p)| p.ends_with("_wd"));
            let fmt = |v: f64| if wd { format!("{v} wd") } else { dur(v) };
            let names: Vec<String> = have
                .iter()
                .map(|(_, p)| p.trim_end_matches("_wd").trim_end_matches("_s").to_string())
                .collect();
            let id = format!("pct-{mi}");
            let _ = writeln!(
                self.out,
                "<figure><figcaption id=\"{id}\">{}: {} of the measured {} by window \
                 ({})</figcaption>",
                esc(m),
                names.join(" and "),
                match series.first().map(|s| s.2.kind.as_str()) {
                    _ if wd => "working days",
                    Some("deadline") => "lateness (negative: early)",
                    _ => "durations",
                },
                series
                    .first()
                    .map_or(String::new(), |s| s.2.threshold.clone())
            );
            let vals = series.iter().flat_map(|s| {
                have.iter()
                    .filter_map(|(pi, _)| s.2.pcts.get(*pi).copied().flatten())
            });
            let (low, high) = vals.fold((0.0f64, 0.0f64), |(l, h), v| (l.min(v), h.max(v)));
            let ya = if wd {
                ticks::linear(low, high, 5, |v, d| format!("{} wd", ticks::number(v, d)))
            } else {
                ticks::duration(low, high, 5)
            };
            let frame = Frame::new(-0.5, self.windows.len() as f64 - 0.5, ya.lo, ya.hi);
            svg::open(&mut self.out, &id);
            let xt = self.window_ticks();
            svg::axes(&mut self.out, &frame, &ya.ticks, &xt);
            let shaded = self.shade_partial(&frame);
            let mut legend: Vec<(&str, &str)> = Vec::new();
            for (k, ((pi, _), name)) in have.iter().zip(&names).enumerate() {
                let class = if k == 0 { name.as_str() } else { "p90" };
                let pts: Vec<(f64, f64)> = series
                    .iter()
                    .filter_map(|(i, _, f)| {
                        f.pcts.get(*pi).copied().flatten().map(|v| (*i as f64, v))
                    })
                    .collect();
                svg::line(&mut self.out, &frame, class, &pts);
                legend.push((class, name));
            }
            if shaded {
                legend.push(("partial", "partial window"));
            }
            svg::legend(&mut self.out, &legend);
            let _ = writeln!(self.out, "</svg>");
            let _ = write!(
                self.out,
                "<details><summary>Data table: percentiles of {}</summary><div class=\"scroll\"><table><thead><tr><th \
                 scope=\"col\">Window</th>",
                esc(m)
            );
            for n in &names {
                let _ = write!(self.out, "<th scope=\"col\">{}</th>", esc(n));
            }
            let _ = writeln!(self.out, "</tr></thead><tbody>");
            for (i, w, f) in &series {
                let _ = write!(
                    self.out,
                    "{}<td>{}{}</td>",
                    self.window_tr(*i),
                    esc(&self.label(*w)),
                    self.partial_note(*i)
                );
                for (pi, _) in &have {
                    let v = f.pcts.get(*pi).copied().flatten();
                    let _ = write!(self.out, "<td>{}</td>", v.map_or("\u{2013}".into(), fmt));
                }
                let _ = writeln!(self.out, "</tr>");
            }
            let _ = writeln!(self.out, "</tbody></table></div></details></figure>");
        }
        let _ = writeln!(self.out, "</section>");
    }

    fn group_name(row: &CardRow) -> String {
        let parts: Vec<&str> = row.groups.iter().filter_map(|g| g.as_deref()).collect();
        if parts.is_empty() {
            "(none)".to_string()
        } else {
            parts.join(" / ")
        }
    }

    fn groups(&mut self, h: usize) {
        let w = self.windows[h];
        let by = self.card.group_by.clone();
        let Some(first) = by.first() else {
            return;
        };
        let _ = writeln!(
            self.out,
            "<section id=\"groups\"><h2>{} compared: {}</h2>\n<p class=\"note\">Funnel plots: \
             each dot is a {first}'s compliance against the number measured; the centre line is \
             the rate over all of them, and the funnels are the 95% and 99.8% limits within \
             which a {first} whose true rate equals the centre would fall (exact binomial with \
             continuity adjustment, Spiegelhalter 2005). {}s outside the 95% limits are \
             named.</p>",
            esc(&capital(first)),
            esc(&self.label(w)),
            esc(&capital(first)),
        );
        let tests = group_tests(self.card, Overdispersion::None);
        for (mi, m) in self.measures.clone().iter().enumerate() {
            let set: Vec<&GroupTest> = tests
                .iter()
                .filter(|t| t.row.start == w.0 && t.row.measure == *m && t.row.level == *first)
                .filter(|t| t.row.n_measured > 0)
                .collect();
            if !set.is_empty() {
                self.funnel(&format!("funnel-{mi}"), m, first, w, &set);
            }
        }
        if by.len() >= 2 {
            self.heatmap(w, &by[0], &by[1]);
        }
        let _ = writeln!(self.out, "</section>");
    }

    /// One measure's funnel plot of the groups in `set` (window `w`), the groups outside the
    /// 95% limits named, and its data table.
    fn funnel(&mut self, id: &str, m: &str, first: &str, w: (i32, i32), set: &[&GroupTest]) {
        let centre = set[0].centre;
        let _ = writeln!(
            self.out,
            "<h3>{}</h3><figure><figcaption id=\"{id}\">{}: compliance of each {} against \
             the number measured, {}; centre {}</figcaption>",
            esc(m),
            esc(m),
            esc(first),
            esc(&self.label(w)),
            pct(centre)
        );
        let (named, unlabelled) = self.funnel_plot(id, centre, set);
        if !unlabelled.is_empty() {
            let _ = writeln!(
                self.out,
                "<p class=\"note\">Too crowded to label in the plot: {}.</p>",
                unlabelled.join(", ")
            );
        }
        if named.is_empty() {
            let _ = writeln!(
                self.out,
                "<p class=\"outliers\">No {first} is outside the 95% limits.</p>"
            );
        } else {
            let list: Vec<String> = named
                .iter()
                .map(|(n, y, c, p)| {
                    format!(
                        "{} ({}, {} measured; {})",
                        esc(n),
                        pct(*y),
                        count(*c),
                        p.name()
                    )
                })
                .collect();
            let _ = writeln!(
                self.out,
                "<p class=\"outliers\">Outside the 95% limits: {}.</p>",
                list.join("; ")
            );
        }
        let _ = writeln!(
            self.out,
            "<details><summary>Data table: {} by {}</summary><div class=\"scroll\"><table><thead><tr><th \
             scope=\"col\">{}</th><th scope=\"col\">Measured</th><th \
             scope=\"col\">Compliance</th><th scope=\"col\">95% limits</th><th \
             scope=\"col\">99.8% limits</th><th scope=\"col\">Position</th></tr></thead><tbody>",
            esc(m),
            esc(first),
            esc(&capital(first))
        );
        for t in set {
            let y = t.row.n_within as f64 / t.row.n_measured as f64;
            let l = t.limits;
            let _ = writeln!(
                self.out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&Self::group_name(t.row)),
                count(t.row.n_measured),
                pct(y),
                l.map_or("\u{2013}".into(), |l| format!(
                    "{}\u{2013}{}",
                    pct(l.lo95),
                    pct(l.hi95)
                )),
                l.map_or("\u{2013}".into(), |l| format!(
                    "{}\u{2013}{}",
                    pct(l.lo998),
                    pct(l.hi998)
                )),
                l.map_or("\u{2013}", |l| l.position(y).name())
            );
        }
        let _ = writeln!(self.out, "</tbody></table></div></details></figure>");
    }

    /// The funnel's SVG: limits on a geometric grid of n, the centre line, a dot per group,
    /// outliers labelled where there is room. Returns the outliers (name, rate, measured,
    /// position) and the names too crowded to label.
    #[allow(clippy::type_complexity)]
    fn funnel_plot(
        &mut self,
        id: &str,
        centre: f64,
        set: &[&GroupTest],
    ) -> (Vec<(String, f64, i64, FunnelPosition)>, Vec<String>) {
        let max_n = set.iter().map(|t| t.row.n_measured).max().unwrap_or(1) as f64;
        let min_n = set
            .iter()
            .map(|t| t.row.n_measured)
            .min()
            .unwrap_or(1)
            .max(1) as u64;
        let ys = set
            .iter()
            .map(|t| t.row.n_within as f64 / t.row.n_measured as f64);
        let (mut lo, mut hi) = (centre, centre);
        for y in ys {
            lo = lo.min(y);
            hi = hi.max(y);
        }
        if let Some(l) = funnel_limits(centre, min_n) {
            lo = lo.min(l.lo998);
            hi = hi.max(l.hi998);
        }
        // The range covers every group's point (widened to round ticks, never beyond 0 and
        // 100%): an outlier drawn at the edge would hide how far out it is.
        let ya = ticks::percent(lo, hi, 5);
        let xa = ticks::counts(0.0, max_n, 6);
        let frame = Frame::new(0.0, xa.hi, ya.lo, ya.hi);
        svg::open(&mut self.out, id);
        svg::axes(&mut self.out, &frame, &ya.ticks, &xa.ticks);
        // Limits on a geometric grid of n: they change fastest at small n.
        let n0 = (min_n as f64 * 0.5).max(2.0);
        let grid: Vec<u64> = (0..=80)
            .map(|i| (n0 * (frame.x1 / n0).powf(i as f64 / 80.0)).round() as u64)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let lims: Vec<(f64, FunnelLimits)> = grid
            .iter()
            .filter_map(|&n| funnel_limits(centre, n).map(|l| (n as f64, l)))
            .collect();
        let inside = |v: f64| v >= frame.y0 && v <= frame.y1;
        for (class, pick) in [
            (
                "l998",
                (|l: &slate_core::disparity::FunnelLimits| l.lo998) as fn(&_) -> f64,
            ),
            ("l998", |l| l.hi998),
            ("l95", |l| l.lo95),
            ("l95", |l| l.hi95),
        ] {
            let pts: Vec<(f64, f64)> = lims
                .iter()
                .map(|(n, l)| (*n, pick(l)))
                .filter(|p| inside(p.1))
                .collect();
            svg::line(&mut self.out, &frame, class, &pts);
        }
        let centre_label = svg::hline(
            &mut self.out,
            &frame,
            "centre",
            centre,
            &format!("centre {}", pct(centre)),
        );
        let mut named = Vec::new();
        let mut labels: Vec<(f64, PointLabel)> = Vec::new();
        let mut avoid = vec![centre_label];
        for t in set {
            let y = t.row.n_within as f64 / t.row.n_measured as f64;
            let pos = t.limits.map_or(FunnelPosition::Inside, |l| l.position(y));
            let class = match pos {
                FunnelPosition::Above95 | FunnelPosition::Above998 => "dot hi",
                FunnelPosition::Below95 | FunnelPosition::Below998 => "dot lo",
                FunnelPosition::Inside => "dot",
            };
            let (cx, cy) = (frame.x(t.row.n_measured as f64), frame.y(y));
            let name = Self::group_name(t.row);
            let _ = write!(
                self.out,
                "<circle class=\"{class}\" cx=\"{cx:.1}\" cy=\"{cy:.1}\" r=\"{}\"><title>{}: \
                 {} of {}</title></circle>",
                svg::DOT_R,
                esc(&name),
                pct(y),
                count(t.row.n_measured)
            );
            if pos.is_outlier() {
                labels.push((
                    (y - centre).abs(),
                    PointLabel {
                        x: cx,
                        y: cy,
                        text: name.clone(),
                    },
                ));
                named.push((name, y, t.row.n_measured, pos));
            } else {
                avoid.push(svg::Rect {
                    x0: cx - svg::DOT_R,
                    y0: cy - svg::DOT_R,
                    x1: cx + svg::DOT_R,
                    y1: cy + svg::DOT_R,
                });
            }
        }
        // The farthest from the centre are placed first, so they get the nearest places.
        labels.sort_by(|a, b| b.0.total_cmp(&a.0));
        let labels: Vec<PointLabel> = labels.into_iter().map(|l| l.1).collect();
        let placed = svg::place_labels(&labels, frame.area(), &avoid);
        svg::draw_labels(&mut self.out, &labels, &placed);
        let unlabelled: Vec<String> = labels
            .iter()
            .zip(&placed)
            .filter(|(_, p)| p.is_none())
            .map(|(l, _)| esc(&l.text))
            .collect();
        svg::legend(
            &mut self.out,
            &[("l95", "95% limits"), ("l998", "99.8% limits")],
        );
        let _ = writeln!(self.out, "</svg>");
        (named, unlabelled)
    }

    /// One table: rows are the first group column's values, columns the (measure, second
    /// column value) pairs that have data; each cell coloured by its verdict.
    fn heatmap(&mut self, w: (i32, i32), a: &str, b: &str) {
        let level = format!("{a}+{b}");
        let rows: Vec<&CardRow> = self
            .card
            .rows
            .iter()
            .filter(|r| r.start == w.0 && r.level == level && r.n_measured > 0)
            .collect();
        if rows.is_empty() {
            return;
        }
        let key = |r: &CardRow, i: usize| {
            r.groups
                .get(i)
                .cloned()
                .flatten()
                .unwrap_or_else(|| "(none)".into())
        };
        let ai = self.card.group_by.iter().position(|g| g == a).unwrap_or(0);
        let bi = self.card.group_by.iter().position(|g| g == b).unwrap_or(1);
        let row_keys: BTreeSet<String> = rows.iter().map(|r| key(r, ai)).collect();
        let mut cols: Vec<(String, String)> = Vec::new();
        for m in &self.measures {
            let vals: BTreeSet<String> = rows
                .iter()
                .filter(|r| r.measure == *m)
                .map(|r| key(r, bi))
                .collect();
            cols.extend(vals.into_iter().map(|v| (m.clone(), v)));
        }
        let cells: HashMap<(String, &str, String), &CardRow> = rows
            .iter()
            .map(|r| ((key(r, ai), r.measure.as_str(), key(r, bi)), *r))
            .collect();
        let _ = writeln!(
            self.out,
            "<h3>{a} \u{00d7} {b}</h3><figure><figcaption id=\"heatmap\">Compliance by {a} and {b}, \
             {}: green met, amber not distinguishable from the target, red not met (by the \
             95% interval), grey no target</figcaption><div class=\"scroll\"><table class=\"heat\"><thead><tr><th \
             scope=\"col\" rowspan=\"2\">{}</th>",
            esc(&self.label(w)),
            esc(&capital(a)),
            a = esc(a),
            b = esc(b)
        );
        let mut spans: Vec<(String, usize)> = Vec::new();
        for (m, _) in &cols {
            match spans.last_mut() {
                Some((last, n)) if last == m => *n += 1,
                _ => spans.push((m.clone(), 1)),
            }
        }
        for (m, n) in &spans {
            let _ = write!(
                self.out,
                "<th scope=\"colgroup\" colspan=\"{n}\">{}</th>",
                esc(m)
            );
        }
        let _ = write!(self.out, "</tr><tr>");
        for (_, v) in &cols {
            let _ = write!(self.out, "<th scope=\"col\">{} {}</th>", esc(b), esc(v));
        }
        let _ = writeln!(self.out, "</tr></thead><tbody>");
        for rk in &row_keys {
            let _ = write!(self.out, "<tr><th scope=\"row\">{}</th>", esc(rk));
            for (m, v) in &cols {
                match cells.get(&(rk.clone(), m.as_str(), v.clone())) {
                    Some(r) => {
                        let (text, class) = verdict(r.ci, r.target);
                        let _ = write!(
                            self.out,
                            "<td class=\"h-{class}\" title=\"{text}, {} measured\">{}</td>",
                            count(r.n_measured),
                            opct(r.compliance)
                        );
                    }
                    None => {
                        let _ = write!(self.out, "<td>\u{2013}</td>");
                    }
                }
            }
            let _ = writeln!(self.out, "</tr>");
        }
        let _ = writeln!(self.out, "</tbody></table></div></figure>");
    }

    fn exclusions(&mut self) {
        let _ = writeln!(
            self.out,
            "<section id=\"exclusions\"><h2>What was left out</h2>"
        );
        let rolling = self.card.window.starts_with("rolling");
        let h = self.headline.map(|h| self.windows[h]);
        // Per measure: eligible = measured + excluded, in the headline window and overall.
        let mut totals: BTreeMap<usize, [i64; 6]> = BTreeMap::new();
        for ((start, m), f) in &self.force {
            let Some(mi) = self.measures.iter().position(|x| x.as_str() == *m) else {
                continue;
            };
            let t = totals.entry(mi).or_default();
            if Some(*start) == h.map(|w| w.0) {
                t[0] += f.n_eligible;
                t[1] += f.n_measured;
                t[2] += f.n_excluded;
            }
            t[3] += f.n_eligible;
            t[4] += f.n_measured;
            t[5] += f.n_excluded;
        }
        if let Some(rows) = self.prov.rows_read {
            let _ = writeln!(
                self.out,
                "<p>Records read: <strong>{}</strong>.</p>",
                count(rows as i64)
            );
        }
        if !totals.is_empty() {
            let all = if rolling {
                "All windows (rolling windows overlap: a record counts in up to twelve)"
            } else {
                "All windows"
            };
            let _ = writeln!(
                self.out,
                "<div class=\"scroll\"><table id=\"accounts\"><caption class=\"note\">Records each measure applied to \
                 (eligible) = measured + excluded.</caption><thead><tr><th scope=\"col\" \
                 rowspan=\"2\">Measure</th><th scope=\"colgroup\" colspan=\"3\">{}</th><th \
                 scope=\"colgroup\" colspan=\"3\">{all}</th></tr><tr><th scope=\"col\">Eligible</th>\
                 <th scope=\"col\">Measured</th><th scope=\"col\">Excluded</th><th \
                 scope=\"col\">Eligible</th><th scope=\"col\">Measured</th><th \
                 scope=\"col\">Excluded</th></tr></thead><tbody>",
                h.map_or("Headline window".into(), |w| esc(&self.label(w)))
            );
            for (mi, t) in &totals {
                let _ = write!(
                    self.out,
                    "<tr><th scope=\"row\">{}</th>",
                    esc(&self.measures[*mi])
                );
                for v in t {
                    let _ = write!(self.out, "<td>{}</td>", count(*v));
                }
                let _ = writeln!(self.out, "</tr>");
            }
            let _ = writeln!(self.out, "</tbody></table></div>");
        }
        match self.ledger {
            None => {
                let _ = writeln!(
                    self.out,
                    "<p class=\"note\">No exclusions ledger was given, so the reasons are not \
                     shown (pass <code>--ledger</code>).</p>"
                );
            }
            Some(ledger) => {
                // reason -> measure -> [headline window, all windows, no window]
                let mut by: BTreeMap<&str, BTreeMap<&str, [i64; 3]>> = BTreeMap::new();
                for e in ledger.rows.iter().filter(|e| e.level == self.force_level) {
                    let c = by
                        .entry(&e.reason)
                        .or_default()
                        .entry(&e.measure)
                        .or_default();
                    match e.window {
                        Some(win) => {
                            if Some(win.0) == h.map(|w| w.0) {
                                c[0] += e.count;
                            }
                            c[1] += e.count;
                        }
                        None => c[2] += e.count,
                    }
                }
                if by.is_empty() {
                    let _ = writeln!(self.out, "<p>Nothing was excluded.</p>");
                } else {
                    let _ = writeln!(
                        self.out,
                        "<div class=\"scroll\"><table id=\"ledger\"><caption class=\"note\">Exclusions by reason and \
                         measure. Records with no start clock fall in no window.</caption><thead>\
                         <tr><th scope=\"col\">Reason</th><th scope=\"col\">Measure</th><th \
                         scope=\"col\">{}</th><th scope=\"col\">All windows</th><th \
                         scope=\"col\">In no window</th></tr></thead><tbody>",
                        h.map_or("Headline window".into(), |w| esc(&self.label(w)))
                    );
                    for (reason, ms) in &by {
                        for (m, c) in ms {
                            let _ = writeln!(
                                self.out,
                                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                                esc(reason),
                                esc(m),
                                count(c[0]),
                                count(c[1]),
                                count(c[2])
                            );
                        }
                    }
                    let _ = writeln!(self.out, "</tbody></table></div>");
                }
            }
        }
        let _ = writeln!(self.out, "</section>");
    }

    fn provenance(&mut self) {
        let p = self.prov;
        let unknown = "<span class=\"none\">not recorded</span>".to_string();
        let o = &mut self.out;
        let _ = writeln!(o, "<section id=\"provenance\"><h2>Provenance</h2><dl>");
        let mut item = |k: &str, v: String| {
            let _ = writeln!(o, "<dt>{k}</dt><dd>{v}</dd>");
        };
        item("Generated", esc(&p.generated_at));
        item("slate version", esc(&p.version));
        item(
            "Command",
            p.command.as_deref().map_or(unknown.clone(), |c| {
                format!("<code>{}</code>", esc(&shown_command(c)))
            }),
        );
        let inputs: Vec<String> = p
            .inputs
            .iter()
            .map(|i| {
                let path = esc(&shown_path(&i.path));
                match i.rows {
                    Some(r) => format!("<code>{path}</code> ({} rows)", count(r as i64)),
                    None => format!("<code>{path}</code>"),
                }
            })
            .collect();
        item(
            "Inputs",
            if inputs.is_empty() {
                unknown.clone()
            } else {
                inputs.join("<br>")
            },
        );
        item(
            "Records read",
            p.rows_read.map_or(unknown.clone(), |r| count(r as i64)),
        );
        let policy = match (p.policy_name.as_deref(), p.policy.as_deref()) {
            (Some(n), Some(s)) => format!("{} (<code>{}</code>)", esc(n), esc(&shown_path(s))),
            (Some(n), None) => esc(n),
            (None, Some(s)) => format!("<code>{}</code>", esc(&shown_path(s))),
            (None, None) => unknown.clone(),
        };
        item("Policy", policy);
        item("Zone", p.tz.as_deref().map_or(unknown.clone(), esc));
        let windows = match (self.windows.first(), self.windows.last()) {
            (Some(a), Some(b)) => format!(
                "{} ({} windows, {} to {}, days {} to {})",
                esc(&self.card.window),
                self.windows.len(),
                esc(&window_label(&self.card.window, a.0, a.1)),
                esc(&window_label(&self.card.window, b.0, b.1)),
                day_text(a.0),
                day_text(b.1 - 1)
            ),
            _ => "none".to_string(),
        };
        item("Windows", windows);
        item(
            "Groups",
            if self.card.group_by.is_empty() {
                "none (whole force)".into()
            } else {
                esc(&self.card.group_by.join(", "))
            },
        );
        item("Scorecard rows", count(self.card.rows.len() as i64));
        item(
            "Ledger rows",
            self.ledger
                .map_or("no ledger given".into(), |l| count(l.rows.len() as i64)),
        );
        let _ = writeln!(o, "</dl>");
        if let Some(t) = &p.policy_text {
            let _ = writeln!(o, "<h3>Policy text</h3><pre>{}</pre>", esc(t));
        }
        let _ = writeln!(o, "</section>");
    }
}

/// A path as the page shows it. The page is meant to be sent, so an absolute local path
/// shows only its last component (`…/policy.toml`): where a file lay on the analyst's disk
/// means nothing to the reader and can say more than intended. Relative paths, `builtin:`
/// names and URLs stay as given.
pub(crate) fn shown_path(p: &str) -> String {
    let b = p.as_bytes();
    let drive =
        b.len() > 2 && b[0].is_ascii_alphabetic() && b[1] == b':' && matches!(b[2], b'/' | b'\\');
    if !(p.starts_with('/') || p.starts_with('\\') || p.starts_with('~') || drive) {
        return p.to_string();
    }
    let name = p
        .trim_end_matches(['/', '\\'])
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or_default();
    format!("\u{2026}/{name}")
}

/// A command line with each absolute path (a word, or the value of `--flag=value`) shown as
/// [`shown_path`] shows it.
fn shown_command(c: &str) -> String {
    c.split(' ')
        .map(|w| match w.split_once('=') {
            Some((k, v)) if k.starts_with("--") => format!("{k}={}", shown_path(v)),
            _ => shown_path(w),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn capital(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// The promise's rule in words: "within 12 min", "within 2 working days", "by the deadline
/// + 15 min", "share of successes".
fn threshold_text(r: &CardRow) -> String {
    match (r.kind.as_str(), r.threshold_s, r.threshold_wd) {
        ("share", _, _) => "share of successes".into(),
        ("deadline", Some(s), _) => format!("by the deadline + {}", dur(s as f64)),
        (_, Some(s), _) => format!("within {}", dur(s as f64)),
        (_, None, Some(1)) => "within 1 working day".into(),
        (_, None, Some(n)) => format!("within {n} working days"),
        _ => String::new(),
    }
}

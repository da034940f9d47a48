//! The scorecard people read: one self-contained HTML file from a decoded scorecard and its
//! exclusions ledger ([`slate_core::card`]: read back from their Arrow form, see
//! `slate_core::tables`, or taken straight from the scores).
//!
//! The page has a headline (every measure for the latest complete window, with a verdict
//! that respects the Wilson interval and the change against the same window a year
//! earlier), trends, funnel plots comparing boroughs (Spiegelhalter's exact binomial limits,
//! from [`slate_core::disparity`]), a borough x grade heatmap, the exclusions, and the
//! provenance of the figures. It loads nothing from anywhere: a Content-Security-Policy meta
//! tag forbids every fetch and script, the styles are inline and use system fonts, and it
//! prints on A4.
//!
//! **Why SVG written by hand** rather than `plotters`: the charts are a few lines, bands,
//! dots and labels, which take a hundred lines of `write!`; the output is small (a 10-year
//! monthly report stays a few hundred kilobytes), has stable CSS classes the print and
//! screen styles can restyle, text that stays text (selectable, searchable, read by screen
//! readers), and `role`/`aria` attributes where we want them. `plotters`' SVG backend would
//! add a dependency tree and either system fonts or text drawn as paths for no gain here.
//!
//! No DataFusion, no I/O: the caller reads the files and writes the string.

mod capacity;
mod html;
mod page;
mod svg;
mod ticks;

pub use capacity::{CapacityPage, CapacityRow, CapacitySummary, render_capacity};

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use slate_core::card::{Card, Ledger};

/// A file the figures came from.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct InputFile {
    /// Path or URL as given.
    pub path: String,
    /// Rows in it, when known.
    pub rows: Option<u64>,
}

/// Where the figures came from, for the provenance section. Every field is optional except
/// the version and time, so a report from a bare scorecard file says what it does not know.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Provenance {
    /// The inputs: records for `slate run`, the scorecard file for `slate report`.
    pub inputs: Vec<InputFile>,
    /// Records read.
    pub rows_read: Option<u64>,
    /// Policy name or origin (`builtin:mps-promise-2008`, a file).
    pub policy: Option<String>,
    /// The policy's own `name`, the page's title.
    pub policy_name: Option<String>,
    /// The policy's `description`, shown under the title.
    pub policy_description: Option<String>,
    /// The first and last local days (days since 1970-01-01, both included) on which a
    /// measure's start clock falls inside the period: windows these days do not wholly cover
    /// are marked partial. `None` when not known (a scorecard read back from a file): then a
    /// last window with under half the usual records is marked as looking incomplete.
    pub data_days: Option<(i32, i32)>,
    /// The policy's TOML text.
    pub policy_text: Option<String>,
    /// Zone of the calendar windows.
    pub tz: Option<String>,
    /// The command line that produced the figures.
    pub command: Option<String>,
    /// slate's version.
    pub version: String,
    /// When the report was made (any readable timestamp).
    pub generated_at: String,
}

/// Why no report could be made.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The scorecard or ledger is malformed, or the ledger is from another run.
    #[error(transparent)]
    Input(#[from] slate_core::Error),
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The report for a scorecard and, optionally, its ledger, both as Arrow batches. A ledger
/// that does not belong to the scorecard is an error; an empty scorecard gives a page that
/// says there is no data.
pub fn render_batches(
    scorecard: (&SchemaRef, &[RecordBatch]),
    ledger: Option<(&SchemaRef, &[RecordBatch])>,
    provenance: &Provenance,
) -> Result<String> {
    let card = Card::from_batches(scorecard.0, scorecard.1)?;
    let ledger = ledger
        .map(|(s, b)| Ledger::from_batches(s, b))
        .transpose()?;
    render(&card, ledger.as_ref(), provenance)
}

/// The report for a decoded scorecard: read back (see [`render_batches`]) or made by
/// [`Card::from_scores`].
pub fn render(card: &Card, ledger: Option<&Ledger>, provenance: &Provenance) -> Result<String> {
    if let Some(l) = ledger {
        l.check_matches(card)?;
    }
    Ok(page::Page::new(card, ledger, provenance).render())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Arc;

    use arrow_array::{ArrayRef, Date32Array, Float64Array, Int64Array, StringArray};
    use arrow_schema::{DataType, Field, Schema};
    use slate_core::stats::wilson_95;

    use super::*;

    /// (month start day, level, borough, measure, target, measured, within, excluded)
    type Spec<'a> = (
        i32,
        &'a str,
        Option<&'a str>,
        &'a str,
        Option<f64>,
        i64,
        i64,
        i64,
    );

    fn scorecard(rows: &[Spec<'_>]) -> (SchemaRef, RecordBatch) {
        let s = |f: &dyn Fn(&Spec<'_>) -> Option<String>| -> ArrayRef {
            Arc::new(StringArray::from(rows.iter().map(f).collect::<Vec<_>>()))
        };
        let i = |f: &dyn Fn(&Spec<'_>) -> i64| -> ArrayRef {
            Arc::new(Int64Array::from(rows.iter().map(f).collect::<Vec<_>>()))
        };
        let fl = |f: &dyn Fn(&Spec<'_>) -> Option<f64>| -> ArrayRef {
            Arc::new(Float64Array::from(rows.iter().map(f).collect::<Vec<_>>()))
        };
        let ci = |r: &Spec<'_>| wilson_95(r.6 as u64, r.5 as u64);
        let cols: Vec<(&str, ArrayRef)> = vec![
            ("window", s(&|_| Some("month".into()))),
            (
                "window_start",
                Arc::new(Date32Array::from(
                    rows.iter().map(|r| r.0).collect::<Vec<_>>(),
                )),
            ),
            (
                "window_end",
                Arc::new(Date32Array::from(
                    rows.iter().map(|r| r.0 + 30).collect::<Vec<_>>(),
                )),
            ),
            ("level", s(&|r| Some(r.1.into()))),
            ("borough", s(&|r| r.2.map(Into::into))),
            ("measure", s(&|r| Some(r.3.into()))),
            ("threshold_s", i(&|_| 600)),
            ("target", fl(&|r| r.4)),
            ("n_eligible", i(&|r| r.5 + r.7)),
            ("n_measured", i(&|r| r.5)),
            ("n_within", i(&|r| r.6)),
            ("n_excluded", i(&|r| r.7)),
            (
                "compliance",
                fl(&|r| (r.5 > 0).then(|| r.6 as f64 / r.5 as f64)),
            ),
            ("ci_low", fl(&|r| ci(r).map(|c| c.0))),
            ("ci_high", fl(&|r| ci(r).map(|c| c.1))),
            ("p50_s", fl(&|r| Some(300.0 + r.0 as f64 % 7.0))),
            ("p90_s", fl(&|_| Some(700.0))),
        ];
        let schema = Arc::new(Schema::new(
            cols.iter()
                .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
                .collect::<Vec<_>>(),
        ));
        let batch =
            RecordBatch::try_new(schema.clone(), cols.into_iter().map(|c| c.1).collect()).unwrap();
        (schema, batch)
    }

    /// (month start day, level, borough, measure, reason, count)
    type Entry<'a> = (i32, &'a str, Option<&'a str>, &'a str, &'a str, i64);

    fn ledger(rows: &[Entry<'_>]) -> (SchemaRef, RecordBatch) {
        let schema = Arc::new(Schema::new(vec![
            Field::new("window", DataType::Utf8, false),
            Field::new("window_start", DataType::Date32, true),
            Field::new("window_end", DataType::Date32, true),
            Field::new("level", DataType::Utf8, false),
            Field::new("borough", DataType::Utf8, true),
            Field::new("measure", DataType::Utf8, false),
            Field::new("reason", DataType::Utf8, false),
            Field::new("count", DataType::Int64, false),
        ]));
        let cols: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(vec!["month"; rows.len()])),
            Arc::new(Date32Array::from(
                rows.iter().map(|r| r.0).collect::<Vec<_>>(),
            )),
            Arc::new(Date32Array::from(
                rows.iter().map(|r| r.0 + 30).collect::<Vec<_>>(),
            )),
            Arc::new(StringArray::from(
                rows.iter().map(|r| r.1).collect::<Vec<_>>(),
            )),
            Arc::new(StringArray::from(
                rows.iter().map(|r| r.2).collect::<Vec<_>>(),
            )),
            Arc::new(StringArray::from(
                rows.iter().map(|r| r.3).collect::<Vec<_>>(),
            )),
            Arc::new(StringArray::from(
                rows.iter().map(|r| r.4).collect::<Vec<_>>(),
            )),
            Arc::new(Int64Array::from(
                rows.iter().map(|r| r.5).collect::<Vec<_>>(),
            )),
        ];
        (schema.clone(), RecordBatch::try_new(schema, cols).unwrap())
    }

    const MAR_2023: i32 = 19417; // 2023-03-01
    const MAR_2024: i32 = 19783; // 2024-03-01

    /// Two months a year apart; three measures whose intervals sit above, below and across
    /// their targets; boroughs with one clear outlier.
    fn sample() -> Vec<Spec<'static>> {
        let mut rows = Vec::new();
        for start in [MAR_2023, MAR_2024] {
            rows.push((start, "all", None, "answer", Some(0.80), 1000, 870, 3));
            rows.push((start, "all", None, "attend", Some(0.90), 1000, 820, 0));
            rows.push((start, "all", None, "close", Some(0.87), 1000, 870, 0));
            for (b, n, k) in [
                ("Camden", 250, 245),
                ("Hackney", 250, 200),
                ("Brent", 250, 210),
                ("Ealing", 250, 215),
            ] {
                rows.push((
                    start,
                    "borough",
                    Some(b),
                    "answer",
                    Some(0.80),
                    n,
                    k,
                    if b == "Camden" { 3 } else { 0 },
                ));
            }
        }
        rows
    }

    fn prov() -> Provenance {
        Provenance {
            version: "0.1.0".into(),
            generated_at: "2026-12-02 04:00 UTC".into(),
            ..Provenance::default()
        }
    }

    #[test]
    fn headline_verdicts_respect_the_interval() {
        let (s, b) = scorecard(&sample());
        let (ls, lb) = ledger(&[
            (MAR_2023, "all", None, "answer", "cancelled", 3),
            (
                MAR_2023,
                "borough",
                Some("Camden"),
                "answer",
                "cancelled",
                3,
            ),
            (MAR_2024, "all", None, "answer", "cancelled", 3),
            (
                MAR_2024,
                "borough",
                Some("Camden"),
                "answer",
                "cancelled",
                3,
            ),
        ]);
        let html = render_batches((&s, &[b]), Some((&ls, &[lb])), &prov()).unwrap();
        let row = |m: &str| {
            let start = html.find(&format!("<tr data-measure=\"{m}\">")).unwrap();
            html[start..start + html[start..].find("</tr>").unwrap()].to_string()
        };
        // 870/1000: Wilson [0.8477, 0.8894]: above 0.80, below 0.90, across 0.87.
        assert!(
            row("answer").contains("verdict met\">met<"),
            "{}",
            row("answer")
        );
        assert!(row("attend").contains("not met"));
        assert!(row("close").contains("not distinguishable from the target"));
        assert!(row("answer").contains("data-value=\"0.87\""));
        assert!(row("answer").contains("+0.0 pts"));
        // Hackney (80%) is far below Camden (98%): both are outside and named.
        assert!(
            html.contains("Outside the 95% limits: Camden"),
            "outliers not named"
        );
        assert!(html.contains("Hackney (80.0%"));
        // Nothing fetched, nothing run.
        assert!(html.contains("Content-Security-Policy"));
        assert!(!html.contains("<script") && !html.contains("http:") && !html.contains("https:"));
        assert!(!html.contains(" src="));
        for id in ["headline", "trends", "groups", "exclusions", "provenance"] {
            assert!(html.contains(&format!("<section id=\"{id}\">")), "{id}");
        }
        assert!(html.contains("<td>cancelled</td><td>answer</td><td>3</td><td>6</td><td>0</td>"));
    }

    #[test]
    fn the_title_is_the_policys_name_and_no_absolute_path_is_shown() {
        let (s, b) = scorecard(&sample());
        let file = "/home/analyst/exports/secret/alexandria.toml";
        let sent = Provenance {
            policy: Some(file.into()),
            policy_text: Some("name = \"alexandria-dispatch\"".into()),
            policy_name: Some("alexandria-dispatch".into()),
            policy_description: Some("Dispatch within 2 minutes <90%>".into()),
            command: Some(format!(
                "slate run --input /srv/cad/imp --policy {file} --report=/home/analyst/r.html \
                 --out card.parquet"
            )),
            inputs: vec![InputFile {
                path: "/srv/cad/imp/year=2025/part-0.parquet".into(),
                rows: Some(10),
            }],
            ..prov()
        };
        let html = render_batches((&s, &[b]), None, &sent).unwrap();
        assert!(html.contains("<title>SLA scorecard: alexandria-dispatch</title>"));
        assert!(html.contains("<h1>SLA scorecard: alexandria-dispatch</h1>"));
        assert!(html.contains("<p class=\"lede\">Dispatch within 2 minutes &lt;90%&gt;</p>"));
        for leak in [file, "/home/analyst", "/srv/cad"] {
            assert!(!html.contains(leak), "the page shows {leak}");
        }
        // Relative paths as typed; absolute ones by their last component.
        assert!(html.contains("--policy \u{2026}/alexandria.toml"));
        assert!(html.contains("--report=\u{2026}/r.html --out card.parquet"));
        assert!(html.contains("\u{2026}/part-0.parquet"));
        assert!(html.contains("alexandria-dispatch (<code>\u{2026}/alexandria.toml</code>)"));
        // Without a policy name: a plain title.
        let html = render_batches((&s, &[scorecard(&sample()).1]), None, &prov()).unwrap();
        assert!(html.contains("<title>SLA scorecard</title>"));
    }

    #[test]
    fn windows_the_records_do_not_wholly_cover_are_marked_partial() {
        const JAN: i32 = 19723; // 2024-01-01
        const FEB: i32 = 19754;
        const MAR: i32 = 19783;
        let rows: Vec<Spec<'_>> = [JAN, FEB, MAR]
            .into_iter()
            .map(|m| (m, "all", None, "answer", Some(0.8), 500, 420, 0))
            .collect();
        let (s, b) = scorecard(&rows);
        let page = |days| {
            let prov = Provenance {
                data_days: days,
                ..prov()
            };
            render_batches((&s, std::slice::from_ref(&b)), None, &prov).unwrap()
        };
        // The records start on 15 January and end on 10 March: January and March partial,
        // February the headline.
        let html = page(Some((JAN + 14, MAR + 9)));
        assert!(html.contains("<h2>Headline: 2024-02</h2>"), "headline");
        assert!(html.contains("The records run from 2024-01-15 to 2024-03-10."));
        assert!(
            html.contains(
                "<tr class=\"partial\" data-partial=\"partial: records from 2024-01-15\">"
            )
        );
        assert!(
            html.contains("<tr class=\"partial\" data-partial=\"partial: records to 2024-03-10\">")
        );
        assert!(html.contains("The latest window, 2024-03, is partial (records to 2024-03-10)"));
        // Shaded in both charts of the measure (compliance, percentiles), with a legend entry.
        assert_eq!(
            html.matches("<rect class=\"partial\" x=").count(),
            2 * 2 + 2
        );
        assert_eq!(html.matches("partial window</text>").count(), 2);
        // Records on every day of the three windows (each `[start, start + 30)` here): none.
        let html = page(Some((JAN, MAR + 29)));
        assert!(!html.contains("class=\"partial"), "nothing is partial");
        assert!(!html.contains("Partial window"));
        assert!(html.contains("<h2>Headline: 2024-03</h2>"));
        // Only the first window partial: the latest is the headline.
        let html = page(Some((JAN + 1, MAR + 29)));
        assert!(html.contains("<h2>Headline: 2024-03</h2>"));
        assert_eq!(html.matches("<tr class=\"partial\"").count(), 2);
    }

    #[test]
    fn an_empty_scorecard_gives_a_no_data_page() {
        let (s, _) = scorecard(&[]);
        let html = render_batches((&s, &[]), None, &prov()).unwrap();
        assert!(html.contains("<h2>No data</h2>"));
        assert!(html.contains("<section id=\"provenance\">"));
    }

    #[test]
    fn bad_input_is_a_clear_error() {
        let (s, b) = scorecard(&sample());
        let cut = b.project(&[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11]).unwrap(); // no n_within
        let err = render_batches((&cut.schema(), &[cut]), None, &prov()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "not a slate scorecard: missing column `n_within`"
        );
        // A ledger whose counts do not add up to the scorecard's exclusions.
        let (ls, lb) = ledger(&[(MAR_2024, "all", None, "answer", "cancelled", 5)]);
        let err = render_batches((&s, &[b]), Some((&ls, &[lb])), &prov()).unwrap_err();
        assert!(err.to_string().contains("is it from another run?"), "{err}");
    }
}
